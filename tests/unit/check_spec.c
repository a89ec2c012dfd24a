/* Unit tests: upstream specs (src/daemon/spec.c): one spec's text, the
 * list the upstream keys ask for (servers, else dns_server, else the
 * nameservers of resolv_conf, never stubresd itself, never mixed), and
 * the bootstrap nameserver. */
#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acl.h"
#include "check-main.h"
#include "spec.h"

static char resolv_path[300];
static struct sockaddr_storage listen_ss[2];
static spec_t specs[SPEC_MAX];
static char err[1024];

/* resolv_path: a file of its own holding text. */
static void write_resolv(const char *text)
{
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    int fd;

    snprintf(resolv_path, sizeof(resolv_path), "%s/check_spec.XXXXXX", dir);
    fd = mkstemp(resolv_path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void setup(void)
{
    write_resolv("search example.test\nnameserver 127.0.0.1\nnameserver ::1\n"
                 "nameserver 127.0.0.53\nnameserver bogus\n");
}

static void teardown(void)
{
    unlink(resolv_path);
}

/* Keys with no upstream set, the test's resolv.conf, and stubresd
 * listening on a (and b, if given). */
static spec_keys_t keys_listening(const char *a, const char *b)
{
    const char *addrs[2] = {a, b};
    spec_keys_t k = {.dns_server = "", .resolv_conf = resolv_path, .listen = listen_ss};
    socklen_t len;

    for (size_t i = 0; i < 2 && addrs[i] != NULL; i++) {
        ck_assert_int_eq(addr_parse(addrs[i], 53, false, &listen_ss[i], &len), 0);
        k.nlisten++;
    }
    return k;
}

/* spec_list of servers (NULL-terminated), stubresd on 127.0.0.1:5300. */
static int list_servers(bool use_idns, char *const *servers)
{
    spec_keys_t k = keys_listening("127.0.0.1:5300", NULL);

    k.servers = servers;
    while (servers[k.nservers] != NULL)
        k.nservers++;
    k.use_idns = use_idns;
    return spec_list(&k, specs, err, sizeof(err));
}

/* ---- one spec ---- */

START_TEST(test_spec_good)
{
    static const struct {
        const char *in, *name;
        sr_proto_t proto;
    } good[] = {
        {"udp://127.0.0.1", "udp://127.0.0.1:53", SR_PROTO_UDP},
        {"127.0.0.1:5353", "udp://127.0.0.1:5353", SR_PROTO_UDP},
        {"UDP://127.0.0.1:1", "udp://127.0.0.1:1", SR_PROTO_UDP},
        {"tcp://[::1]:5353", "tcp://[::1]:5353", SR_PROTO_TCP},
        {"tcp://::1", "tcp://[::1]:53", SR_PROTO_TCP},
        {"tls://127.0.0.1", "tls://127.0.0.1:853", SR_PROTO_TLS},
        {"tls://127.0.0.1:8853#dns.example.test", "tls://127.0.0.1:8853#dns.example.test",
         SR_PROTO_TLS},
        {"tls://dns.example.test#dns.example.test", "tls://dns.example.test:853#dns.example.test",
         SR_PROTO_TLS},
        {"https://127.0.0.1:8443/dns-query", "https://127.0.0.1:8443/dns-query", SR_PROTO_HTTPS},
        {"https://dns.example.test", "https://dns.example.test:443/dns-query", SR_PROTO_HTTPS},
        {"https://[::1]/resolve", "https://[::1]:443/resolve", SR_PROTO_HTTPS},
        {"udp://ns1.example.test.", "udp://ns1.example.test:53", SR_PROTO_UDP},
    };
    spec_t s;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ck_assert_msg(spec_parse(good[i].in, &s, err, sizeof(err)) == 0, "%s: %s", good[i].in, err);
        ck_assert_str_eq(s.name, good[i].name);
        ck_assert_int_eq(s.proto, good[i].proto);
    }
    ck_assert_int_eq(spec_parse("tls://127.0.0.1:853#auth.example", &s, err, sizeof(err)), 0);
    ck_assert_str_eq(s.host, "127.0.0.1");
    ck_assert_str_eq(s.auth, "auth.example");
    ck_assert_uint_eq(s.port, 853);
    ck_assert(spec_encrypted(&s));
    ck_assert(spec_host_ascii(&s));
    ck_assert_int_eq(spec_parse("udp://b\xc3\xbc"
                                "cher.example",
                                &s, err, sizeof(err)),
                     0);
    ck_assert(!spec_encrypted(&s));
    ck_assert(!spec_host_ascii(&s));
    ck_assert_uint_eq(spec_default_port(SR_PROTO_UDP), 53);
    ck_assert_uint_eq(spec_default_port(SR_PROTO_TCP), 53);
    ck_assert_uint_eq(spec_default_port(SR_PROTO_TLS), 853);
    ck_assert_uint_eq(spec_default_port(SR_PROTO_HTTPS), 443);
}
END_TEST

START_TEST(test_spec_bad)
{
    static const char *const bad[] = {
        "",
        "ftp://127.0.0.1",
        "udp://",
        "udp://127.0.0.1:0",
        "udp://127.0.0.1:65536",
        "udp://127.0.0.1:port",
        "udp://[::1",
        "udp://127.0.0.1#auth",
        "tcp://127.0.0.1/path",
        "tls://127.0.0.1#bad name",
        "https://127.0.0.1/a b",
        "udp://-bad-.example",
        "udp://bad..example",
        "udp://127.0.0.1:53:54",
        "udp://[::1]x",
    };
    spec_t s;
    char longer[1100];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(spec_parse(bad[i], &s, err, sizeof(err)) != 0, "'%s' accepted", bad[i]);
        ck_assert_msg(err[0] != '\0', "no error text for '%s'", bad[i]);
    }
    ck_assert_int_eq(spec_parse("gopher://x", &s, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "expected udp://HOST[:PORT]") != NULL, "%s", err);
    ck_assert_int_eq(spec_parse("udp://[]", &s, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "'udp://[]': bad address; expected udp://HOST[:PORT], tcp://HOST[:PORT], "
                          "tls://HOST[:PORT][#AUTH_NAME] or https://HOST[:PORT]/PATH");
    ck_assert_int_eq(spec_parse("tls://127.0.0.1#-x", &s, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "'tls://127.0.0.1#-x': bad authentication name '-x'");
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    ck_assert_int_eq(spec_parse(longer, &s, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "is too long") != NULL, "%s", err);
}
END_TEST

/* ---- the list the keys ask for ---- */

START_TEST(test_list_servers_first)
{
    char *servers[] = {"udp://127.0.0.2", "tcp://127.0.0.3:5353"};
    spec_keys_t k = keys_listening("127.0.0.1:5300", NULL);

    k.servers = servers;
    k.nservers = 2;
    k.dns_server = "127.0.0.9"; /* servers come first */
    ck_assert_int_eq(spec_list(&k, specs, err, sizeof(err)), 2);
    ck_assert_str_eq(specs[1].name, "tcp://127.0.0.3:5353");
}
END_TEST

START_TEST(test_list_dns_server)
{
    spec_keys_t k = keys_listening("127.0.0.1:5300", NULL);

    k.dns_server = "127.0.0.2";
    k.protocol = SR_PROTO_TLS;
    k.dns_port = 8853;
    ck_assert_int_eq(spec_list(&k, specs, err, sizeof(err)), 1);
    ck_assert_str_eq(specs[0].name, "tls://127.0.0.2:8853");
    k.dns_server = "::1";
    k.protocol = SR_PROTO_TCP;
    k.dns_port = 0;
    ck_assert_int_eq(spec_list(&k, specs, err, sizeof(err)), 1);
    ck_assert_str_eq(specs[0].name, "tcp://[::1]:53");
    k.dns_server = "https://127.0.0.1:8443/dns-query";
    k.protocol = SR_PROTO_HTTPS;
    ck_assert_int_eq(spec_list(&k, specs, err, sizeof(err)), 1);
    ck_assert_int_eq(specs[0].proto, SR_PROTO_HTTPS);
    k.dns_server = "127.0.0.1";
    ck_assert_int_eq(spec_list(&k, specs, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "dns_server: protocol https needs an https://HOST/PATH URL");
}
END_TEST

/* resolv.conf: every nameserver but ourselves and the unparsable. */
START_TEST(test_list_resolv_conf)
{
    spec_keys_t k = keys_listening("127.0.0.1:5300", NULL);

    ck_assert_int_eq(spec_list(&k, specs, err, sizeof(err)), 3);
    ck_assert_str_eq(specs[0].name, "udp://127.0.0.1:53");
    ck_assert_str_eq(specs[1].name, "udp://[::1]:53");
    ck_assert_str_eq(specs[2].name, "udp://127.0.0.53:53");
    k.protocol = SR_PROTO_TLS;
    ck_assert_int_eq(spec_list(&k, specs, err, sizeof(err)), 3);
    ck_assert_str_eq(specs[0].name, "tls://127.0.0.1:853");
    k.protocol = SR_PROTO_HTTPS;
    ck_assert_int_eq(spec_list(&k, specs, err, sizeof(err)), -1);
    ck_assert_str_eq(err, "protocol: https needs dns_server or servers set to a URL");

    k = keys_listening("127.0.0.1:53", "[::1]:53");
    ck_assert_int_eq(spec_list(&k, specs, err, sizeof(err)), 1);
    ck_assert_str_eq(specs[0].name, "udp://127.0.0.53:53");
    /* Listening on the wildcard address covers every loopback address. */
    k = keys_listening("0.0.0.0:53", "[::]:53");
    ck_assert_int_eq(spec_list(&k, specs, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "other than stubresd itself") != NULL, "%s", err);
    ck_assert_msg(strncmp(err, "resolv_conf: ", 13) == 0, "%s", err);

    k = keys_listening("127.0.0.1:5300", NULL);
    k.resolv_conf = "/nonexistent/resolv.conf";
    ck_assert_int_eq(spec_list(&k, specs, err, sizeof(err)), -1);
    ck_assert_msg(strncmp(err, "resolv_conf: ", 13) == 0, "%s", err);
    ck_assert_msg(strstr(err, "cannot be read") != NULL, "%s", err);
}
END_TEST

START_TEST(test_list_refusals)
{
    char *self[] = {"tcp://127.0.0.1:5300", NULL};
    char *mixed[] = {"tls://127.0.0.2#a.test", "udp://127.0.0.3", NULL};
    char *idn[] = {"udp://b\xc3\xbc"
                   "cher.example",
                   NULL};
    char *bad[] = {"udp://127.0.0.2", "ftp://127.0.0.3", NULL};

    /* Never ourselves. */
    ck_assert_int_eq(list_servers(false, self), -1);
    ck_assert_str_eq(err, "servers: tcp://127.0.0.1:5300 is stubresd's own listen address");
    /* Never encrypted and plaintext together. */
    ck_assert_int_eq(list_servers(false, mixed), -1);
    ck_assert_str_eq(err, "servers: encrypted and plaintext upstreams cannot be mixed");
    /* A non-ASCII host only with UseIDNs. */
    ck_assert_int_eq(list_servers(false, idn), -1);
    ck_assert_msg(strstr(err, "is not ASCII (set UseIDNs = true") != NULL, "%s", err);
    ck_assert_int_eq(list_servers(true, idn), 1);
    /* A bad item names the key. */
    ck_assert_int_eq(list_servers(false, bad), -1);
    ck_assert_msg(strncmp(err, "servers: 'ftp://127.0.0.3': unknown scheme 'ftp'", 48) == 0, "%s",
                  err);
}
END_TEST

/* The nameserver lines as libc reads them: scope ids dropped, names and
 * other lines skipped. */
START_TEST(test_list_resolv_conf_lines)
{
    spec_keys_t k;

    unlink(resolv_path);
    write_resolv("; comment\nnameserver fe80::1%eth0\nnameserver\nnameserver ns.example\n"
                 "options edns0\nnameserver 192.0.2.1 # trailing\n");
    k = keys_listening("127.0.0.1:53", NULL);
    ck_assert_int_eq(spec_list(&k, specs, err, sizeof(err)), 2);
    ck_assert_str_eq(specs[0].name, "udp://[fe80::1]:53");
    ck_assert_str_eq(specs[1].name, "udp://192.0.2.1:53");
}
END_TEST

START_TEST(test_first_nameserver)
{
    char buf[64];
    spec_keys_t k = keys_listening("127.0.0.1:5300", NULL);

    /* Another port on the same address is not ourselves. */
    ck_assert_str_eq(spec_first_nameserver(&k, buf, sizeof(buf)), "127.0.0.1");
    k = keys_listening("127.0.0.1:53", NULL);
    ck_assert_str_eq(spec_first_nameserver(&k, buf, sizeof(buf)), "::1");
    k.resolv_conf = "/nonexistent/resolv.conf";
    ck_assert_ptr_null(spec_first_nameserver(&k, buf, sizeof(buf)));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("spec");
    add_tcase(s, "parse", NULL, NULL, TESTS(test_spec_good, test_spec_bad));
    add_tcase(s, "list", setup, teardown,
              TESTS(test_list_servers_first, test_list_dns_server, test_list_resolv_conf,
                    test_list_refusals, test_list_resolv_conf_lines, test_first_nameserver));
    return run_suite(s);
}
