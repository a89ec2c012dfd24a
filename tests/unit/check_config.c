/* Unit tests: stubresd's configuration (src/daemon/cfg.c) and state file
 * (src/daemon/state.c): every key's default, good and bad values, the
 * error texts naming file:line and key, and the state file round trip. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "acl.h"
#include "cfg.h"
#include "state.h"
#include "check-main.h"

static char tmpdir[256];
static char ca_path[300];
static char resolv_path[300];

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "%s/check_config.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", tmpdir);
    FILE *f = fopen(ca_path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("not really a PEM, but readable\n", f);
    fclose(f);
    /* A resolv.conf naming a loopback upstream, never the machine's. */
    snprintf(resolv_path, sizeof(resolv_path), "%s/resolv.conf", tmpdir);
    f = fopen(resolv_path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("# test\nnameserver 127.0.0.1\nnameserver 127.0.0.53\n", f);
    fclose(f);
}

static void teardown(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    char p[600];

    while (d != NULL && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", tmpdir, de->d_name);
        unlink(p);
    }
    if (d != NULL)
        closedir(d);
    rmdir(tmpdir);
}

static const char *write_file(const char *name, const char *text)
{
    static char path[600];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* A cfg whose upstreams never leave loopback. */
static cfg_t *test_cfg(void)
{
    char err[512];
    cfg_t *c = cfg_new();
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(cfg_set(c, "resolv_conf", resolv_path, NULL, false, err, sizeof(err)), CFG_OK);
    return c;
}

/* ---- every key ---- */

typedef struct kv {
    const char *name;
    const char *good;  /* NULL: special (see below) */
    const char *canon; /* what cfg_get gives back for good */
    const char *bad;   /* NULL: nothing is refused */
} kv_t;

static const kv_t cases[] = {
    {"listen", "127.0.0.1:5300 [::1]", "127.0.0.1:5300, [::1]:53", "127.0.0.1:99999"},
    {"allow", "10.0.0.0/8, ::1", "10.0.0.0/8, ::1/128", "10.0.0.0/33"},
    {"user", "root", "root", "bad user!"},
    {"threads", "4", "4", "0"},
    {"control", "/tmp/x.sock", "/tmp/x.sock", "relative.sock"},
    {"control_group", "root", "root", "bad group!"},
    {"metrics", "127.0.0.1:9153", "127.0.0.1:9153", "localhost:9153"},
    {"state_file", "/var/lib/x/runtime.conf", "/var/lib/x/runtime.conf", "runtime.conf"},
    {"servers", "udp://127.0.0.1:5353, tcp://[::1]", "udp://127.0.0.1:5353, tcp://[::1]:53",
     "ftp://127.0.0.1"},
    {"strategy", "round-robin", "round-robin", "random"},
    {"ca_file", NULL, NULL, "/nonexistent/ca.pem"},
    {"bootstrap", "127.0.0.1:5353", "127.0.0.1:5353", "dns.example"},
    {"doh_method", "json", "json", "put"},
    {"timeout", "1.5", "1.5", "0"},
    {"cache_size", "4M", "4M", "12X"},
    {"min_ttl", "60", "60", "-1"},
    {"max_ttl", "1h", "3600", "0"},
    {"negative_ttl", "300", "300", "1.5"},
    {"serve_stale", "yes", "true", "maybe"},
    {"prefetch", "on", "true", "2"},
    {"prefetch_popular", "100", "100", "-1"},
    {"prefetch_rate", "5", "5", "0"},
    {"cache_file", "/var/lib/x/cache", "/var/lib/x/cache", "cache"},
    {"cache_save_interval", "1m", "60", "-1"},
    {"network_watch", "off", "false", "sometimes"},
    {"shared_cache", "redis://:s3cret@127.0.0.1:6380/2", "redis://:*****@127.0.0.1:6380/2",
     "redis://cache.example.net:6379"},
    {"shared_cache_timeout", "20ms", "0.02", "0"},
    {"log_level", "debug", "debug", "verbose"},
    {"query_log", "stderr", "stderr", "relative.log"},
    {"resolv_conf", "/etc/resolv.conf", "/etc/resolv.conf", "resolv.conf"},
    {"portal_resolv_conf", "/run/NetworkManager/no-stub-resolv.conf",
     "/run/NetworkManager/no-stub-resolv.conf", "no-stub-resolv.conf"},
    {"local", "nas.home.arpa A 192.168.1.10, t.home.arpa 60 in txt \"a, b\"",
     "nas.home.arpa IN A 192.168.1.10, t.home.arpa 60 IN TXT \"a, b\"",
     "nas.home.arpa A 300.1.1.1"},
    {"local_ttl", "1h", "3600", "-1"},
    {"hosts", "/etc/hosts, /tmp/more.hosts", "/etc/hosts, /tmp/more.hosts", "hosts.txt"},
    {"special_names", "false", "false", "sometimes"},
    {"forward", "Corp.Example 10.8.0.1,10.8.0.2",
     "corp.example udp://10.8.0.1:53 udp://10.8.0.2:53", ". udp://10.8.0.1"},
    {"block", "/etc/hosts.block, /etc/ads.txt", "/etc/hosts.block, /etc/ads.txt", "ads.txt"},
    {"block_answer", "nxdomain", "nxdomain", "drop"},
    {"block_names", "ads.example, *.tracker.example", "ads.example, *.tracker.example",
     "bad..name"},
    {"servfail_ttl", "10", "10", "301"},
    {"stale_max", "3600", "3600", "x"},
    {"tcp_idle_timeout", "2500ms", "2.5", "50ms"},
    {"tcp_max_clients", "100", "100", "0"},
    {"tcp_max_pipeline", "16", "16", "1025"},
    {"max_inflight", "1000", "1000", "15"},
    {"max_udp_size", "1232", "1232", "65535"},
    {"cookies", "off", "false", "sometimes"},
    {"case_randomization", "no", "false", "0x20"},
    {"tls_cert", "/etc/ssl/dns/fullchain.pem", "/etc/ssl/dns/fullchain.pem", "fullchain.pem"},
    {"tls_key", "/etc/ssl/dns/privkey.pem", "/etc/ssl/dns/privkey.pem", "privkey.pem"},
    {"tls_max_clients", "50", "50", "0"},
    {"tls_idle_timeout", "45", "45", "50ms"},
    {"dns_server", "127.0.0.1", "127.0.0.1", "bad server"},
    {"dns_port", "5353", "5353", "65536"},
    {"protocol", "2", "tls", "quic"},
    {"recursive", "False", "false", "nah"},
    {"local_host", "127.0.0.1", "127.0.0.1", "127.0.0.1:53"},
    {"UseIDNs", "True", "true", "sometimes"},
    {"DelayHostResolution", "1", "true", "-"},
    {"DontFragment", "Yes", "true", "y"},
    {"LocalPort", "0", "0", "70000"},
    {"MaxPacketSize", "4096", "4096", "511"},
    {"QOSDSCPValue", "46", "46", "64"},
    {"ShareLocalPort", "true", "true", "t"},
    {"UseConnection", "true", "true", "oui"},
    {"UseIPv6", "0", "false", "no!"},
    {"AbsoluteTimeout", "true", "true", "absolutely"},
    {"FirewallData", "anything at all", "anything at all", NULL},
    {"InBufferSize", "64K", "64K", "2G"},
    {"OutBufferSize", "65536", "64K", "-5"},
    {"CodePage", "1252", "1252", "0"},
    {"MaskSensitive", "false", "false", "nope"},
    {"ProcessIdleEvents", "false", "false", "idle"},
    {"SelectWaitMillis", "100", "100", "x"},
    {"UseInternalSecurityAPI", "false", "false", "internal"},
    {"LogLevel", "3", "3", "4"},
};

static const kv_t *case_of(const char *name)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (strcasecmp(cases[i].name, name) == 0)
            return &cases[i];
    return NULL;
}

START_TEST(test_every_key_is_tested)
{
    for (size_t i = 0; i < cfg_nkeys(); i++)
        if (cfg_key_settable(i))
            ck_assert_msg(case_of(cfg_key_name(i)) != NULL, "key %s has no test case",
                          cfg_key_name(i));
}
END_TEST

START_TEST(test_defaults)
{
    cfg_t *c = cfg_new();
    char v[CFG_VALUE_MAX + 64], err[512];

    ck_assert_ptr_nonnull(c);
    for (size_t i = 0; i < cfg_nkeys(); i++) {
        if (!cfg_key_settable(i))
            continue;
        ck_assert_int_eq(cfg_get(c, cfg_key_name(i), v, sizeof(v), err, sizeof(err)), CFG_OK);
        if (strcmp(cfg_key_name(i), "dns_port") == 0)
            ck_assert_str_eq(v, "53"); /* 0 reads as the protocol's port */
        else
            ck_assert_msg(strcmp(v, cfg_key_default(i)) == 0, "%s: default '%s', read '%s'",
                          cfg_key_name(i), cfg_key_default(i), v);
    }
    /* The documented defaults (stubresd.conf(5)). */
    ck_assert_uint_eq(c->nlisten, 2);
    ck_assert_uint_eq(c->threads, 1);
    ck_assert_int_eq(c->strategy, STRATEGY_FAILOVER);
    ck_assert_str_eq(c->control, "/run/stubresd/control.sock");
    ck_assert_str_eq(c->metrics, "");
    ck_assert_str_eq(c->resolv_conf, "/etc/resolv.conf");
    ck_assert_uint_eq(c->max_packet_size, 1232);
    ck_assert(c->recursive);
    ck_assert(c->network_watch);
    cfg_unref(c);
}
END_TEST

START_TEST(test_good_and_bad_values)
{
    char v[CFG_VALUE_MAX + 64], err[1024];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const kv_t *k = &cases[i];
        cfg_t *c = test_cfg();
        const char *good = k->good != NULL ? k->good : ca_path;
        const char *canon = k->canon != NULL ? k->canon : ca_path;

        ck_assert_msg(cfg_set(c, k->name, good, NULL, false, err, sizeof(err)) == CFG_OK,
                      "%s = %s: %s", k->name, good, err);
        ck_assert_int_eq(cfg_get(c, k->name, v, sizeof(v), err, sizeof(err)), CFG_OK);
        ck_assert_msg(strcmp(v, canon) == 0, "%s: expected '%s', got '%s'", k->name, canon, v);
        if (k->bad != NULL) {
            cfg_status_t st = cfg_set(c, k->name, k->bad, NULL, false, err, sizeof(err));
            ck_assert_msg(st == CFG_EINVAL, "%s = %s accepted", k->name, k->bad);
            /* The error names the setting, the value and what is accepted,
             * and the old value stays. */
            ck_assert_msg(strncmp(err, k->name, strlen(k->name)) == 0, "%s", err);
            ck_assert_msg(strstr(err, "expected") != NULL, "%s", err);
            ck_assert_int_eq(cfg_get(c, k->name, v, sizeof(v), err, sizeof(err)), CFG_OK);
            ck_assert_msg(strcmp(v, canon) == 0, "%s changed by a bad value", k->name);
        }
        cfg_unref(c);
    }
}
END_TEST

START_TEST(test_error_texts)
{
    cfg_t *c = test_cfg();
    char err[1024], v[256];

    ck_assert_int_eq(cfg_set(c, "strategy", "fast", NULL, false, err, sizeof(err)), CFG_EINVAL);
    ck_assert_str_eq(err, "strategy: bad value 'fast': expected failover, round-robin or fastest");
    ck_assert_int_eq(cfg_set(c, "timeout", "x", "f.conf:7", false, err, sizeof(err)), CFG_EINVAL);
    ck_assert_msg(
        strncmp(err, "f.conf:7: timeout: bad value 'x': expected a number of seconds", 61) == 0,
        "%s", err);
    ck_assert_int_eq(cfg_set(c, "nosuch", "1", NULL, false, err, sizeof(err)), CFG_EUNKNOWN);
    ck_assert_str_eq(err, "unknown setting 'nosuch'");
    ck_assert_int_eq(cfg_set(c, "nosuch", "1", "f.conf:3", false, err, sizeof(err)), CFG_EUNKNOWN);
    ck_assert_str_eq(err, "f.conf:3: unknown key 'nosuch'");
    /* Windows-only settings, per-query properties, read-only ones. */
    ck_assert_int_eq(cfg_set(c, "UseDNSAPIDLL", "false", NULL, false, err, sizeof(err)),
                     CFG_EUNSUPPORTED);
    ck_assert_str_eq(err, "UseDNSAPIDLL: not supported on this platform");
    ck_assert_int_eq(cfg_get(c, "SourceMacAddress", v, sizeof(v), err, sizeof(err)),
                     CFG_EUNSUPPORTED);
    ck_assert_str_eq(err, "SourceMacAddress: not supported on this platform");
    ck_assert_int_eq(cfg_get(c, "QOSTrafficType", v, sizeof(v), err, sizeof(err)),
                     CFG_EUNSUPPORTED);
    ck_assert_int_eq(cfg_get(c, "CaptureIPPacketInfo", v, sizeof(v), err, sizeof(err)),
                     CFG_EUNSUPPORTED);
    ck_assert_int_eq(cfg_get(c, "DestinationAddress", v, sizeof(v), err, sizeof(err)),
                     CFG_EUNSUPPORTED);
    ck_assert_int_eq(cfg_get(c, "SourceIPAddress", v, sizeof(v), err, sizeof(err)),
                     CFG_EUNSUPPORTED);
    ck_assert_int_eq(cfg_set(c, "query_type", "1", NULL, false, err, sizeof(err)), CFG_ENOTDAEMON);
    ck_assert_int_eq(cfg_set(c, "BuildInfo", "x", NULL, false, err, sizeof(err)), CFG_EREADONLY);
    ck_assert_str_eq(err, "BuildInfo: read-only");
    ck_assert_int_eq(cfg_get(c, "BuildInfo", v, sizeof(v), err, sizeof(err)), CFG_OK);
    ck_assert_msg(strstr(v, "stubresd") != NULL, "%s", v);
    ck_assert_int_eq(cfg_get(c, "LicenseInfo", v, sizeof(v), err, sizeof(err)), CFG_OK);
    /* Keys that need a restart, at run time. */
    ck_assert_int_eq(cfg_set(c, "listen", "127.0.0.1:53", NULL, true, err, sizeof(err)),
                     CFG_ERESTART);
    ck_assert_msg(strncmp(err, "listen: cannot be changed while stubresd runs", 45) == 0, "%s",
                  err);
    ck_assert_int_eq(cfg_set(c, "timeout", "3", NULL, true, err, sizeof(err)), CFG_OK);
    cfg_unref(c);
}
END_TEST

/* shared_cache's password is never shown back nor in an error; the
 * settings keep it (the state file re-applies it at start). */
START_TEST(test_secret_redacted)
{
    static const struct {
        const char *in, *shown;
    } shown[] = {
        {"redis://:s3cret@127.0.0.1:6379/0", "redis://:*****@127.0.0.1:6379/0"},
        {"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
        {"redis+unix://:s3cret%40x@/run/redis/sock?db=2",
         "redis+unix://:*****@/run/redis/sock?db=2"},
        {"redis+unix:///run/redis/sock", "redis+unix:///run/redis/sock"},
        {"", ""},
    };
    cfg_t *c = test_cfg();
    char v[256], err[1024];

    for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
        cfg_redact("shared_cache", shown[i].in, v, sizeof(v));
        ck_assert_str_eq(v, shown[i].shown);
        ck_assert_int_eq(cfg_set(c, "shared_cache", shown[i].in, NULL, true, err, sizeof(err)),
                         CFG_OK);
        ck_assert_int_eq(cfg_get(c, "shared_cache", v, sizeof(v), err, sizeof(err)), CFG_OK);
        ck_assert_str_eq(v, shown[i].shown);
        ck_assert_str_eq(c->shared_cache, shown[i].in);
    }
    /* Other keys are shown as they are. */
    cfg_redact("dns_server", "https://u:p@127.0.0.1/dns-query", v, sizeof(v));
    ck_assert_str_eq(v, "https://u:p@127.0.0.1/dns-query");
    /* Refused values: the error names the value without the password. */
    ck_assert_int_eq(cfg_set(c, "shared_cache", "redis://:s3cret@cache.example:6379", NULL, true,
                             err, sizeof(err)),
                     CFG_EINVAL);
    ck_assert_msg(strstr(err, "bad value 'redis://:*****@cache.example:6379'") != NULL, "%s", err);
    ck_assert_int_eq(cfg_set(c, "shared_cache", "redis://user:s3cret@127.0.0.1", "f.conf:3", false,
                             err, sizeof(err)),
                     CFG_EINVAL);
    ck_assert_msg(strstr(err, "s3cret") == NULL, "%s", err);
    ck_assert_int_eq(cfg_set(c, "shared_cache", "redis://:s3cret", NULL, true, err, sizeof(err)),
                     CFG_EINVAL);
    ck_assert_msg(strstr(err, "s3cret") == NULL, "%s", err);
    cfg_unref(c);
}
END_TEST

START_TEST(test_names_and_aliases)
{
    cfg_t *c = test_cfg();
    char err[512], v[64];

    /* The class's config names, any case; the seed's numbers for enums. */
    ck_assert_int_eq(cfg_set(c, "DoHMethod", "1", NULL, false, err, sizeof(err)), CFG_OK);
    ck_assert_int_eq(cfg_get(c, "doh_method", v, sizeof(v), err, sizeof(err)), CFG_OK);
    ck_assert_str_eq(v, "get");
    ck_assert_int_eq(cfg_set(c, "dohmethod", "JSON", NULL, false, err, sizeof(err)), CFG_OK);
    ck_assert_int_eq(c->doh_method, 2);
    ck_assert_int_eq(cfg_set(c, "LocalHost", "::1", NULL, false, err, sizeof(err)), CFG_OK);
    ck_assert_str_eq(c->local_host, "::1");
    ck_assert_int_eq(cfg_set(c, "TIMEOUT", "250ms", NULL, false, err, sizeof(err)), CFG_OK);
    ck_assert_uint_eq(c->timeout_ms, 250);
    ck_assert_int_eq(cfg_set(c, "protocol", "https", NULL, false, err, sizeof(err)), CFG_OK);
    ck_assert_int_eq(cfg_get(c, "dns_port", v, sizeof(v), err, sizeof(err)), CFG_OK);
    ck_assert_str_eq(v, "443");
    cfg_unref(c);
}
END_TEST

START_TEST(test_parsers)
{
    uint64_t v;
    bool b;

    ck_assert_int_eq(cfg_parse_size("0", &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(cfg_parse_size("16k", &v), 0);
    ck_assert_uint_eq(v, 16384);
    ck_assert_int_eq(cfg_parse_size("2MB", &v), 0);
    ck_assert_uint_eq(v, 2u << 20);
    ck_assert_int_eq(cfg_parse_size("1G", &v), 0);
    ck_assert_uint_eq(v, 1u << 30);
    ck_assert_int_eq(cfg_parse_size("", &v), -1);
    ck_assert_int_eq(cfg_parse_size("1.5M", &v), -1);
    ck_assert_int_eq(cfg_parse_size("-1", &v), -1);
    ck_assert_int_eq(cfg_parse_size("99999999999999999999", &v), -1);
    ck_assert_int_eq(cfg_parse_size("17179869184G", &v), -1); /* overflows */
    ck_assert_int_eq(cfg_parse_duration_ms("2", &v), 0);
    ck_assert_uint_eq(v, 2000);
    ck_assert_int_eq(cfg_parse_duration_ms("0.25", &v), 0);
    ck_assert_uint_eq(v, 250);
    ck_assert_int_eq(cfg_parse_duration_ms("1.001s", &v), 0);
    ck_assert_uint_eq(v, 1001);
    ck_assert_int_eq(cfg_parse_duration_ms("1500ms", &v), 0);
    ck_assert_uint_eq(v, 1500);
    ck_assert_int_eq(cfg_parse_duration_ms("2m", &v), 0);
    ck_assert_uint_eq(v, 120000);
    ck_assert_int_eq(cfg_parse_duration_ms("1d", &v), 0);
    ck_assert_uint_eq(v, 86400000);
    ck_assert_int_eq(cfg_parse_duration_ms("0.0001", &v), -1);
    ck_assert_int_eq(cfg_parse_duration_ms("1.", &v), -1);
    ck_assert_int_eq(cfg_parse_duration_ms(".5", &v), -1);
    ck_assert_int_eq(cfg_parse_duration_ms("5 s", &v), -1);
    ck_assert_int_eq(cfg_parse_duration_ms("5w", &v), -1);
    ck_assert_int_eq(cfg_parse_bool("YES", &b), 0);
    ck_assert(b);
    ck_assert_int_eq(cfg_parse_bool("0", &b), 0);
    ck_assert(!b);
    ck_assert_int_eq(cfg_parse_bool("", &b), -1);
}
END_TEST

/* acl_match against one source address given as text. */
static bool allowed(const acl_t *acl, const char *ip)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strchr(ip, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        ck_assert_int_eq(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        ck_assert_int_eq(inet_pton(AF_INET, ip, &s4->sin_addr), 1);
    }
    return acl_match(acl, (struct sockaddr *)&ss);
}

START_TEST(test_acl_match)
{
    acl_t acl = {0, NULL};
    char err[256];

    ck_assert_int_eq(acl_parse("127.0.0.0/8, ::1, 10.16.0.0/12, 192.0.2.7, 2001:db8::/33", &acl,
                               err, sizeof(err)),
                     0);
    ck_assert(allowed(&acl, "127.0.0.1"));
    ck_assert(allowed(&acl, "127.255.255.255"));
    ck_assert(!allowed(&acl, "128.0.0.1"));
    ck_assert(!allowed(&acl, "126.255.255.255"));
    ck_assert(allowed(&acl, "10.16.0.0"));
    ck_assert(allowed(&acl, "10.31.255.255"));
    ck_assert(!allowed(&acl, "10.32.0.0"));
    ck_assert(!allowed(&acl, "10.15.255.255"));
    ck_assert(allowed(&acl, "192.0.2.7"));
    ck_assert(!allowed(&acl, "192.0.2.6"));
    ck_assert(!allowed(&acl, "192.0.2.8"));
    ck_assert(allowed(&acl, "::1"));
    ck_assert(!allowed(&acl, "::2"));
    ck_assert(allowed(&acl, "2001:db8:7fff::1"));
    ck_assert(!allowed(&acl, "2001:db8:8000::1"));
    /* IPv4-mapped sources are IPv4 */
    ck_assert(allowed(&acl, "::ffff:127.0.0.1"));
    ck_assert(allowed(&acl, "::ffff:10.20.0.1"));
    ck_assert(!allowed(&acl, "::ffff:11.0.0.1"));
    acl_clear(&acl);

    ck_assert_int_eq(acl_parse("any", &acl, err, sizeof(err)), 0);
    ck_assert(allowed(&acl, "203.0.113.9"));
    ck_assert(allowed(&acl, "2001:db8::9"));
    acl_clear(&acl);

    ck_assert_int_eq(acl_parse("0.0.0.0/0", &acl, err, sizeof(err)), 0);
    ck_assert(allowed(&acl, "203.0.113.9"));
    ck_assert(!allowed(&acl, "2001:db8::9"));
    acl_clear(&acl);

    ck_assert_int_eq(acl_parse("::/0", &acl, err, sizeof(err)), 0);
    ck_assert(!allowed(&acl, "203.0.113.9"));
    ck_assert(allowed(&acl, "2001:db8::9"));
    acl_clear(&acl);
}
END_TEST

/* ---- files ---- */

START_TEST(test_file_ok)
{
    cfg_errors_t errs = {0};
    cfg_t *c = test_cfg();
    char text[2048];
    const char *p;

    snprintf(text, sizeof(text),
             "# comment\n"
             "; another\n"
             "\n"
             "listen = 127.0.0.1:5300\n"
             "  servers = udp://127.0.0.1:5353\n"
             "servers = tcp://127.0.0.1:5353   ; a second line adds to the list\n"
             "[stubresd]\n"
             "cache_size = 1M\n"
             "MaxPacketSize = 1400\n"
             "resolv_conf = %s\n",
             resolv_path);
    p = write_file("ok.conf", text);
    ck_assert_int_eq(cfg_load_file(c, p, false, &errs, NULL, NULL), 0);
    ck_assert_uint_eq(errs.n, 0);
    ck_assert_uint_eq(c->nservers, 2);
    ck_assert_str_eq(c->servers[1], "tcp://127.0.0.1:5353");
    ck_assert_uint_eq(c->cache_size, 1u << 20);
    ck_assert_uint_eq(c->max_packet_size, 1400);
    ck_assert_int_eq(cfg_check(c, &errs), 0);
    /* A later file replaces a list rather than adding to it. */
    p = write_file("more.conf", "servers = udp://127.0.0.2\n");
    ck_assert_int_eq(cfg_load_file(c, p, false, &errs, NULL, NULL), 0);
    ck_assert_uint_eq(c->nservers, 1);
    cfg_errors_clear(&errs);
    cfg_unref(c);
}
END_TEST

START_TEST(test_file_errors_name_file_line_key)
{
    cfg_errors_t errs = {0};
    cfg_t *c = test_cfg();
    char expect[1024], longline[CFG_VALUE_MAX + 700];
    const char *p;

    p = write_file("bad.conf", "listen = 127.0.0.1:5300\n"
                               "timeout = soon\n"
                               "nosuchkey = 1\n"
                               "just words\n"
                               "UseDNSAPIDLL = false\n"
                               "[other]\n"
                               "threads = 2\n"
                               "strategy = fastest\n");
    ck_assert_int_ne(cfg_load_file(c, p, false, &errs, NULL, NULL), 0);
    ck_assert_uint_eq(errs.n, 6);
    snprintf(expect, sizeof(expect), "%s:2: timeout: bad value 'soon': expected", p);
    ck_assert_msg(strncmp(errs.msg[0], expect, strlen(expect)) == 0, "%s", errs.msg[0]);
    snprintf(expect, sizeof(expect), "%s:3: unknown key 'nosuchkey'", p);
    ck_assert_str_eq(errs.msg[1], expect);
    snprintf(expect, sizeof(expect), "%s:4: 'just words': expected key = value", p);
    ck_assert_str_eq(errs.msg[2], expect);
    snprintf(expect, sizeof(expect), "%s:5: UseDNSAPIDLL: not supported on this platform", p);
    ck_assert_str_eq(errs.msg[3], expect);
    snprintf(expect, sizeof(expect), "%s:7: threads: unknown section [other]", p);
    ck_assert_msg(strncmp(errs.msg[4], expect, strlen(expect)) == 0, "%s", errs.msg[4]);
    cfg_errors_clear(&errs);

    /* A line longer than any value is refused, not split. */
    memset(longline, 'a', sizeof(longline) - 1);
    memcpy(longline, "servers = ", 10);
    longline[sizeof(longline) - 2] = '\n';
    longline[sizeof(longline) - 1] = '\0';
    p = write_file("long.conf", longline);
    ck_assert_int_ne(cfg_load_file(c, p, false, &errs, NULL, NULL), 0);
    snprintf(expect, sizeof(expect), "%s:1: line longer than", p);
    ck_assert_msg(strncmp(errs.msg[0], expect, strlen(expect)) == 0, "%s", errs.msg[0]);
    cfg_errors_clear(&errs);

    /* A missing file. */
    snprintf(expect, sizeof(expect), "%s/missing.conf", tmpdir);
    ck_assert_int_ne(cfg_load_file(c, expect, false, &errs, NULL, NULL), 0);
    ck_assert_msg(strstr(errs.msg[0], "cannot open") != NULL, "%s", errs.msg[0]);
    cfg_errors_clear(&errs);
    ck_assert_int_eq(cfg_load_file(c, expect, true, &errs, NULL, NULL), 0);
    cfg_unref(c);
}
END_TEST

START_TEST(test_checks_across_keys)
{
    cfg_errors_t errs = {0};
    cfg_t *c = test_cfg();
    char text[1024];
    const char *p;

    snprintf(text, sizeof(text), "min_ttl = 600\nmax_ttl = 300\nresolv_conf = %s\n", resolv_path);
    p = write_file("ttl.conf", text);
    ck_assert_int_eq(cfg_load_file(c, p, false, &errs, NULL, NULL), 0);
    ck_assert_int_ne(cfg_check(c, &errs), 0);
    snprintf(text, sizeof(text), "%s:2: max_ttl: 300 is below min_ttl (600)", p);
    ck_assert_str_eq(errs.msg[0], text);
    cfg_errors_clear(&errs);
    cfg_unref(c);

    /* Encrypted and plaintext upstreams never mix. */
    c = test_cfg();
    char err[1024];
    ck_assert_int_eq(cfg_set(c, "servers", "tls://127.0.0.1 udp://127.0.0.1:5353", NULL, false, err,
                             sizeof(err)),
                     CFG_EINVAL);
    ck_assert_msg(strstr(err, "cannot be mixed") != NULL, "%s", err);
    ck_assert_uint_eq(c->nservers, 0);

    /* Never ourselves: an upstream on a listen address. */
    ck_assert_int_eq(cfg_set(c, "listen", "127.0.0.1:5300", NULL, false, err, sizeof(err)), CFG_OK);
    ck_assert_int_eq(
        cfg_set(c, "servers", "udp://127.0.0.1:5300", "x.conf:9", false, err, sizeof(err)), CFG_OK);
    ck_assert_int_ne(cfg_check(c, &errs), 0);
    ck_assert_str_eq(errs.msg[0],
                     "x.conf:9: servers: udp://127.0.0.1:5300 is stubresd's own listen address");
    cfg_errors_clear(&errs);

    /* Nothing configured, resolv.conf names only ourselves. */
    ck_assert_int_eq(cfg_set(c, "servers", "", NULL, false, err, sizeof(err)), CFG_OK);
    ck_assert_int_eq(
        cfg_set(c, "listen", "127.0.0.1:53, 127.0.0.53:53", NULL, false, err, sizeof(err)), CFG_OK);
    ck_assert_int_ne(cfg_check(c, &errs), 0);
    ck_assert_msg(strstr(errs.msg[0], "resolv_conf: ") == errs.msg[0], "%s", errs.msg[0]);
    cfg_errors_clear(&errs);
    cfg_unref(c);
}
END_TEST

/* listen: tls:// and https:// entries beside plain addresses. */
START_TEST(test_encrypted_listen)
{
    cfg_errors_t errs = {0};
    cfg_t *c = test_cfg();
    char err[1024], v[1024];

    ck_assert_int_eq(cfg_set(c, "listen",
                             "127.0.0.1:5300, TLS://127.0.0.1 https://[::1]:8443/q, "
                             "https://127.0.0.1, tls://[::1]:8853",
                             NULL, false, err, sizeof(err)),
                     CFG_OK);
    ck_assert_int_eq(cfg_get(c, "listen", v, sizeof(v), err, sizeof(err)), CFG_OK);
    ck_assert_str_eq(v, "127.0.0.1:5300, tls://127.0.0.1:853, https://[::1]:8443/q, "
                        "https://127.0.0.1:443/dns-query, tls://[::1]:8853");
    ck_assert_uint_eq(c->nlisten, 1);
    ck_assert_uint_eq(c->ntls_listen, 4);
    ck_assert(!c->tls_listen[0].https);
    ck_assert(c->tls_listen[1].https);
    ck_assert_str_eq(c->tls_listen[1].path, "/q");
    ck_assert_str_eq(c->tls_listen[2].path, "/dns-query");
    ck_assert_str_eq(c->tls_listen[3].name, "tls://[::1]:8853");

    /* Only encrypted listeners: allowed. */
    ck_assert_int_eq(cfg_set(c, "listen", "tls://127.0.0.1:8853", NULL, false, err, sizeof(err)),
                     CFG_OK);
    ck_assert_uint_eq(c->nlisten, 0);
    ck_assert_uint_eq(c->ntls_listen, 1);

    /* Refused, leaving the value as it was. */
    static const char *const bad[] = {
        "tls://dns.example",         /* not numeric */
        "tls://127.0.0.1:70000",     /* no such port */
        "quic://127.0.0.1",          /* no such scheme */
        "https://127.0.0.1/q?x=1",   /* a query string is no path */
        "https://127.0.0.1/a#b",     /* nor a fragment */
        "tls://127.0.0.1/dns-query", /* a path on tls:// */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(cfg_set(c, "listen", bad[i], NULL, false, err, sizeof(err)) == CFG_EINVAL,
                      "accepted %s", bad[i]);
        ck_assert_msg(strstr(err, "listen: ") == err, "%s", err);
    }
    ck_assert_uint_eq(c->ntls_listen, 1);
    ck_assert_str_eq(c->tls_listen[0].name, "tls://127.0.0.1:8853");

    /* A tls:// listener needs tls_cert and tls_key, and says so. */
    ck_assert_int_eq(cfg_set(c, "servers", "udp://127.0.0.9", NULL, false, err, sizeof(err)),
                     CFG_OK);
    ck_assert_int_ne(cfg_check(c, &errs), 0);
    ck_assert_uint_eq(errs.n, 2);
    ck_assert_str_eq(errs.msg[0], "tls_cert: listen has tls://127.0.0.1:8853, which needs a "
                                  "certificate: write tls_cert = /path/to/fullchain.pem (the PEM "
                                  "chain, leaf first, e.g. an ACME client's fullchain.pem)");
    ck_assert_msg(strstr(errs.msg[1], "tls_key: ") == errs.msg[1], "%s", errs.msg[1]);
    cfg_errors_clear(&errs);
    ck_assert_int_eq(cfg_set(c, "tls_cert", resolv_path, NULL, false, err, sizeof(err)), CFG_OK);
    ck_assert_int_eq(cfg_set(c, "tls_key", "/nonexistent/key.pem", NULL, false, err, sizeof(err)),
                     CFG_OK);
    ck_assert_int_ne(cfg_check(c, &errs), 0);
    ck_assert_uint_eq(errs.n, 1);
    ck_assert_str_eq(errs.msg[0], "tls_key: /nonexistent/key.pem cannot be read: No such file or "
                                  "directory");
    cfg_errors_clear(&errs);
    /* Without encrypted listeners the keys are not needed. */
    ck_assert_int_eq(cfg_set(c, "listen", "127.0.0.1:5300", NULL, false, err, sizeof(err)), CFG_OK);
    ck_assert_int_eq(cfg_check(c, &errs), 0);

    /* Never ourselves: a DoT upstream on our own tls:// listener. */
    ck_assert_int_eq(
        cfg_set(c, "listen", "127.0.0.1:5300, tls://127.0.0.1:8853", NULL, false, err, sizeof(err)),
        CFG_OK);
    ck_assert_int_eq(cfg_set(c, "tls_key", resolv_path, NULL, false, err, sizeof(err)), CFG_OK);
    ck_assert_int_eq(
        cfg_set(c, "servers", "tls://127.0.0.1:8853", "x.conf:9", false, err, sizeof(err)), CFG_OK);
    ck_assert_int_ne(cfg_check(c, &errs), 0);
    ck_assert_str_eq(errs.msg[0],
                     "x.conf:9: servers: tls://127.0.0.1:8853 is stubresd's own listen address");
    cfg_errors_clear(&errs);
    ck_assert_int_eq(cfg_set(c, "servers", "udp://127.0.0.9", NULL, false, err, sizeof(err)),
                     CFG_OK);

    /* A copy has them too. */
    ck_assert_int_eq(cfg_set(c, "listen", "127.0.0.1:5300, https://127.0.0.1:8443", NULL, false,
                             err, sizeof(err)),
                     CFG_OK);
    cfg_t *d = cfg_dup(c);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(d->ntls_listen, 1);
    ck_assert_str_eq(d->tls_listen[0].name, "https://127.0.0.1:8443/dns-query");
    cfg_unref(d);
    cfg_unref(c);
}
END_TEST

START_TEST(test_servers_and_dns_server_replace_each_other)
{
    cfg_t *c = test_cfg();
    char err[512];

    ck_assert_int_eq(cfg_set(c, "servers", "udp://127.0.0.1:5353", NULL, false, err, sizeof(err)),
                     CFG_OK);
    ck_assert_int_eq(cfg_set(c, "dns_server", "127.0.0.2", NULL, false, err, sizeof(err)), CFG_OK);
    ck_assert_uint_eq(c->nservers, 0);
    ck_assert_int_eq(cfg_set(c, "servers", "udp://127.0.0.3", NULL, false, err, sizeof(err)),
                     CFG_OK);
    ck_assert_str_eq(c->dns_server, "");
    cfg_unref(c);
}
END_TEST

START_TEST(test_dup_is_deep)
{
    cfg_t *c = test_cfg(), *d;
    char err[512];

    ck_assert_int_eq(cfg_set(c, "servers", "udp://127.0.0.1:5353", NULL, false, err, sizeof(err)),
                     CFG_OK);
    ck_assert_int_eq(cfg_set(c, "timeout", "0.5", "f:1", false, err, sizeof(err)), CFG_OK);
    d = cfg_dup(c);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(d->timeout_ms, 500);
    ck_assert_str_eq(d->servers[0], "udp://127.0.0.1:5353");
    ck_assert_str_eq(d->where[cfg_key_index("timeout")], "f:1");
    ck_assert_int_eq(cfg_set(d, "timeout", "3", NULL, false, err, sizeof(err)), CFG_OK);
    ck_assert_uint_eq(c->timeout_ms, 500);
    cfg_unref(c);
    cfg_unref(d);
}
END_TEST

/* ---- the state file ---- */

/* A run-time change, saved, read back and applied on top of file. */
static cfg_t *apply_state(const char *path, const cfg_t *file, const char *config_id,
                          size_t *dropped, state_t **out)
{
    cfg_errors_t errs = {0};
    cfg_t *c = cfg_dup(file);
    state_t *st = state_new(path);

    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(state_read(st, &errs), 0);
    *dropped = state_apply(st, file, config_id, c);
    cfg_errors_clear(&errs);
    if (out != NULL)
        *out = st;
    else
        state_free(st);
    return c;
}

/* test_cfg() with key = value from line 1 of a file. */
static cfg_t *file_with(const char *key, const char *value)
{
    char err[512];
    cfg_t *file = test_cfg();

    ck_assert_msg(cfg_set(file, key, value, "f:1", false, err, sizeof(err)) == CFG_OK, "%s: %s",
                  key, err);
    return file;
}

/* A state file at path, for /etc/x.conf, that set servers to value at
 * time 100 over file's. */
static void save_servers_state(const char *path, const cfg_t *file, const char *value)
{
    char err[512];
    state_t *st = state_new(path);

    ck_assert_int_eq(state_set_config(st, "/etc/x.conf"), 0);
    ck_assert_msg(state_set(st, file, "servers", value, 100, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(state_save(st, err, sizeof(err)) == 0, "%s", err);
    state_free(st);
}

START_TEST(test_state_round_trip)
{
    char path[600], err[512];
    cfg_errors_t errs = {0};
    state_t *st;
    cfg_t *file, *c;
    size_t dropped;
    state_override_t o;

    snprintf(path, sizeof(path), "%s/runtime.conf", tmpdir);
    file = test_cfg();
    ck_assert_int_eq(cfg_set(file, "timeout", "1", "f:1", false, err, sizeof(err)), CFG_OK);
    st = state_new(path);
    ck_assert_int_eq(state_set_config(st, "/etc/x.conf"), 0);
    ck_assert_int_eq(state_set(st, file, "timeout", "3", 100, err, sizeof(err)), 0);
    ck_assert_int_eq(state_set(st, file, "servers", "udp://127.0.0.1:5353, tcp://127.0.0.1:5353",
                               100, err, sizeof(err)),
                     0);
    ck_assert_int_eq(state_set(st, file, "timeout", "4", 200, err, sizeof(err)), 0); /* replaces */
    ck_assert_int_eq(state_set(st, file, "FirewallData", "a ; b", 200, err, sizeof(err)), -1);
    /* The file's own value overrides nothing: no entry. */
    ck_assert_int_eq(state_set(st, file, "strategy", "failover", 200, err, sizeof(err)), 0);
    ck_assert_int_eq(state_save(st, err, sizeof(err)), 0);
    ck_assert_uint_eq(state_count(st), 2);
    state_get(st, 0, &o);
    ck_assert_str_eq(o.key, "servers");
    ck_assert_str_eq(o.file_value, "");
    state_get(st, 1, &o);
    ck_assert_str_eq(o.key, "timeout");
    ck_assert_str_eq(o.value, "4");
    ck_assert_str_eq(o.file_value, "1");
    ck_assert_int_eq(o.since, 200);
    state_free(st);

    /* Nothing but the file itself is left in the directory. */
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    while ((d != NULL) && (de = readdir(d)) != NULL)
        ck_assert_msg(strstr(de->d_name, ".tmp.") == NULL, "left over: %s", de->d_name);
    closedir(d);

    /* Applied after the same config file, it wins over it. */
    c = apply_state(path, file, "/etc/x.conf", &dropped, &st);
    ck_assert_uint_eq(dropped, 0);
    ck_assert_uint_eq(c->timeout_ms, 4000);
    ck_assert_uint_eq(c->nservers, 2);
    ck_assert_uint_eq(state_count(st), 2);
    /* dns_server set later replaces servers in the state too. */
    ck_assert_int_eq(state_set(st, file, "dns_server", "127.0.0.9", 300, err, sizeof(err)), 0);
    ck_assert_uint_eq(state_count(st), 2);
    state_free(st);
    cfg_unref(c);

    /* The same state for another config file: the file wins. */
    c = apply_state(path, file, "/etc/other.conf", &dropped, NULL);
    ck_assert_uint_eq(dropped, 2);
    ck_assert_uint_eq(c->timeout_ms, 1000);
    ck_assert_uint_eq(c->nservers, 0);
    cfg_unref(c);

    /* The operator edited timeout in the file since: that entry goes,
     * servers (unchanged in the file) stays. */
    ck_assert_int_eq(cfg_set(file, "timeout", "2", "f:1", false, err, sizeof(err)), CFG_OK);
    c = apply_state(path, file, "/etc/x.conf", &dropped, &st);
    ck_assert_uint_eq(dropped, 1);
    ck_assert_uint_eq(c->timeout_ms, 2000);
    ck_assert_uint_eq(c->nservers, 2);
    ck_assert_uint_eq(state_count(st), 1);
    state_free(st);
    cfg_unref(c);
    cfg_unref(file);

    /* The downgrade this guards against: servers changed at run time to
     * a plaintext upstream, then the file edited to DoT. The file's DoT
     * upstream is in force, not the old udp:// one. */
    file = file_with("servers", "udp://127.0.0.9:5300");
    save_servers_state(path, file, "udp://127.0.0.9:5301");
    ck_assert_int_eq(cfg_set(file, "servers", "tls://127.0.0.9:8530#dot.example.test", "f:1",
                             false, err, sizeof(err)),
                     CFG_OK);
    c = apply_state(path, file, "/etc/x.conf", &dropped, NULL);
    ck_assert_uint_eq(dropped, 1);
    ck_assert_str_eq(c->text[cfg_key_index("servers")], "tls://127.0.0.9:8530#dot.example.test");
    cfg_unref(c);
    /* ... and a file that names its upstream by dns_server instead
     * counts as a change of the upstream too. */
    cfg_unref(file);
    file = file_with("servers", "udp://127.0.0.9:5300");
    save_servers_state(path, file, "udp://127.0.0.9:5301");
    cfg_unref(file);
    file = file_with("dns_server", "127.0.0.9");
    c = apply_state(path, file, "/etc/x.conf", &dropped, NULL);
    ck_assert_uint_eq(dropped, 1);
    ck_assert_uint_eq(c->nservers, 0);
    ck_assert_str_eq(c->dns_server, "127.0.0.9");
    cfg_unref(c);
    cfg_unref(file);

    /* A state file of an older stubresd (no record of the values it
     * replaced) is not trusted: every entry is dropped. */
    file = test_cfg();
    write_file("runtime.conf", "servers = udp://127.0.0.9:5300\ntimeout = 3\n");
    c = apply_state(path, file, "/etc/x.conf", &dropped, &st);
    ck_assert_uint_eq(dropped, 2);
    ck_assert_uint_eq(state_count(st), 0);
    ck_assert_uint_eq(c->nservers, 0);
    state_free(st);
    cfg_unref(c);

    /* A value that is refused now (edited by hand) is dropped too. */
    write_file("runtime.conf", "config_file = /etc/x.conf\ntimeout = never\ntimeout.file = 2\n");
    c = apply_state(path, file, "/etc/x.conf", &dropped, NULL);
    ck_assert_uint_eq(dropped, 1);
    ck_assert_uint_eq(c->timeout_ms, 2000);
    cfg_unref(c);

    /* A state file that went bad names itself, its line and the key. */
    write_file("runtime.conf", "timeout = 3\nbogus = 1\ntimeout.since = soon\n");
    st = state_new(path);
    ck_assert_int_ne(state_read(st, &errs), 0);
    char expect[700];
    snprintf(expect, sizeof(expect), "%s:2: bogus: unknown setting", path);
    ck_assert_msg(strncmp(errs.msg[0], expect, strlen(expect)) == 0, "%s", errs.msg[0]);
    snprintf(expect, sizeof(expect), "%s:3: timeout.since: 'soon' is not a time", path);
    ck_assert_msg(strncmp(errs.msg[1], expect, strlen(expect)) == 0, "%s", errs.msg[1]);
    cfg_errors_clear(&errs);
    state_free(st);

    /* A later value that cannot be kept (a CR inside) drops the earlier
     * entry: it no longer says what is in force (found by fuzz_config:
     * corpus/config/regress-state-unkeepable-value). Nor one that begins
     * with ';' (written as "FirewallData = ;c" it would read back as "":
     * corpus/config/regress-state-leading-semicolon). A ';' inside a word
     * is kept. */
    st = state_new(path);
    ck_assert_int_eq(state_set(st, file, "FirewallData", "b", 1, err, sizeof(err)), 0);
    ck_assert_int_eq(state_set(st, file, "FirewallData", "x\ry", 1, err, sizeof(err)), -1);
    ck_assert_uint_eq(state_count(st), 0);
    ck_assert_int_eq(state_set(st, file, "FirewallData", "b", 1, err, sizeof(err)), 0);
    ck_assert_int_eq(state_set(st, file, "FirewallData", ";c", 1, err, sizeof(err)), -1);
    ck_assert_uint_eq(state_count(st), 0);
    ck_assert_int_eq(state_set(st, file, "FirewallData", "b;c", 1, err, sizeof(err)), 0);
    ck_assert_uint_eq(state_count(st), 1);
    ck_assert(state_remove(st, "firewalldata"));
    ck_assert(!state_remove(st, "firewalldata"));
    state_free(st);
    cfg_unref(file);

    /* An unwritable place: an error naming state_file, nothing written. */
    file = test_cfg();
    st = state_new("/nonexistent-dir/runtime.conf");
    ck_assert_int_eq(state_set(st, file, "timeout", "3", 1, err, sizeof(err)), 0);
    ck_assert_int_eq(state_save(st, err, sizeof(err)), -1);
    ck_assert_msg(strncmp(err, "state_file: ", 12) == 0, "%s", err);
    state_free(st);
    cfg_unref(file);

    /* No path: nothing to do. */
    st = state_new("");
    ck_assert_int_eq(state_save(st, err, sizeof(err)), 0);
    state_free(st);
}
END_TEST

/* The shipped etc/stubresd.conf lists every key, commented, with the
 * default the code really has, and loads as it is (all comments). */
START_TEST(test_shipped_config)
{
    FILE *f = fopen(ETC_CONF, "r");
    char line[1024];
    bool seen[512] = {false};
    cfg_errors_t errs = {0};
    cfg_t *c;

    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        char key[128];
        int off = 0;
        line[strcspn(line, "\n")] = '\0';
        if (sscanf(line, "# %127s =%n", key, &off) != 1 || off == 0)
            continue;
        int i = cfg_key_index(key);
        ck_assert_msg(i >= 0, "etc/stubresd.conf: unknown key %s", key);
        const char *v = line + off;
        while (*v == ' ')
            v++;
        ck_assert_msg(strcmp(v, cfg_key_default((size_t)i)) == 0,
                      "etc/stubresd.conf: %s = '%s', but the default is '%s'", key, v,
                      cfg_key_default((size_t)i));
        seen[i] = true;
    }
    fclose(f);
    for (size_t i = 0; i < cfg_nkeys(); i++)
        if (cfg_key_settable(i))
            ck_assert_msg(seen[i], "etc/stubresd.conf lacks %s", cfg_key_name(i));
    c = cfg_new();
    ck_assert_int_eq(cfg_load_file(c, ETC_CONF, false, &errs, NULL, NULL), 0);
    cfg_unref(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    add_tcase(s, "keys", setup, teardown,
              TESTS(test_every_key_is_tested, test_defaults, test_good_and_bad_values,
                    test_error_texts, test_secret_redacted, test_names_and_aliases, test_parsers,
                    test_acl_match, test_shipped_config));
    add_tcase(s, "files", setup, teardown,
              TESTS(test_file_ok, test_file_errors_name_file_line_key, test_checks_across_keys,
                    test_encrypted_listen, test_servers_and_dns_server_replace_each_other,
                    test_dup_is_deep, test_state_round_trip));
    return run_suite(s);
}
