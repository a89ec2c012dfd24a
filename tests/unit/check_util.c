/* Unit tests: the shared helpers of src/lib/util.c: port text, the
 * host/port split, IP literals with and without a port, their text, the
 * monotonic clock and random bytes. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include "check-main.h"
#include "lib-internal.h"

/* ------------------------------------------------------------ ports */

static const struct {
    const char *text;
    size_t n; /* 0: strlen(text) */
    bool allow_zero;
    int rc;
    uint16_t port;
} PORT_CASES[] = {
    {"53", 0, false, 0, 53},
    {"65535", 0, false, 0, 65535},
    {"1", 0, false, 0, 1},
    {"000053", 0, false, 0, 53}, /* leading zeros, as strtoul took them */
    {"0", 0, true, 0, 0},
    {"5353/x", 2, false, 0, 53}, /* only the n bytes given count */
    {"0", 0, false, -1, 0},
    {"00", 0, false, -1, 0},
    {"65536", 0, false, -1, 0},
    {"99999999999999999999999", 0, true, -1, 0},
    {"", 0, false, -1, 0},
    {"5a", 0, false, -1, 0},
    {"+5", 0, false, -1, 0},
    {"-1", 0, true, -1, 0},
    {" 5", 0, false, -1, 0},
    {"5 ", 0, false, -1, 0},
};

START_TEST(test_port_parse)
{
    for (size_t i = 0; i < sizeof(PORT_CASES) / sizeof(PORT_CASES[0]); i++) {
        const char *t = PORT_CASES[i].text;
        size_t n = PORT_CASES[i].n ? PORT_CASES[i].n : strlen(t);
        uint16_t port = 4242;
        int rc = sr_port_parse(t, n, PORT_CASES[i].allow_zero, &port);
        ck_assert_msg(rc == PORT_CASES[i].rc, "'%s': rc %d", t, rc);
        /* A failure leaves the caller's default alone. */
        ck_assert_uint_eq(port, rc == 0 ? PORT_CASES[i].port : 4242);
    }
}
END_TEST

/* ------------------------------------------------------- host:port */

static const struct {
    const char *text;
    const char *stop;
    int rc;
    const char *host; /* NULL: the scan fails */
    const char *port; /* NULL: no ":PORT" */
    const char *end;  /* what follows */
} SCAN_CASES[] = {
    {"192.0.2.1", "", 0, "192.0.2.1", NULL, ""},
    {"192.0.2.1:53", "", 0, "192.0.2.1", "53", ""},
    {"dns.example:853", "", 0, "dns.example", "853", ""},
    {"[2001:db8::1]:5353", "", 0, "2001:db8::1", "5353", ""},
    {"[::1]", "", 0, "::1", NULL, ""},
    {"::1", "", 0, "::1", NULL, ""},
    {"2001:db8::1:53", "", 0, "2001:db8::1:53", NULL, ""}, /* bare: taken whole */
    {"[]:53", "", 0, "", "53", ""},
    {":53", "", 0, "", "53", ""},
    {"host:", "", 0, "host", "", ""},
    {"[::1]x", "", 0, "::1", NULL, "x"},
    {"[::1]:53]", "", 0, "::1", "53]", ""},
    {"h.example:443/dns-query", "/#", 0, "h.example", "443", "/dns-query"},
    {"h.example#auth", "/#", 0, "h.example", NULL, "#auth"},
    {"::1/x:y", "/#", 0, "::1", NULL, "/x:y"},
    {"[::1]:853#auth", "/#", 0, "::1", "853", "#auth"},
    {"[::1", "", -1, NULL, NULL, NULL},
    {"[", "/#", -1, NULL, NULL, NULL},
};

START_TEST(test_hostport_scan)
{
    for (size_t i = 0; i < sizeof(SCAN_CASES) / sizeof(SCAN_CASES[0]); i++) {
        const char *t = SCAN_CASES[i].text;
        sr_hostport_t hp;
        int rc = sr_hostport_scan(t, SCAN_CASES[i].stop, &hp);
        ck_assert_msg(rc == SCAN_CASES[i].rc, "'%s': rc %d", t, rc);
        if (rc != 0)
            continue;
        ck_assert_msg(hp.host_len == strlen(SCAN_CASES[i].host) &&
                          memcmp(hp.host, SCAN_CASES[i].host, hp.host_len) == 0,
                      "'%s': host '%.*s'", t, (int)hp.host_len, hp.host);
        if (SCAN_CASES[i].port == NULL) {
            ck_assert_msg(hp.port == NULL, "'%s': a port", t);
        } else {
            ck_assert_msg(hp.port != NULL, "'%s': no port", t);
            ck_assert_msg(hp.port_len == strlen(SCAN_CASES[i].port) &&
                              memcmp(hp.port, SCAN_CASES[i].port, hp.port_len) == 0,
                          "'%s': port '%.*s'", t, (int)hp.port_len, hp.port);
        }
        ck_assert_str_eq(hp.end, SCAN_CASES[i].end);
    }
}
END_TEST

/* ----------------------------------------------------- IP literals */

static const struct {
    const char *text;
    bool allow_zero;
    int family; /* 0: rejected */
    const char *ip;
    uint16_t port; /* the default is 53 */
} IPPORT_CASES[] = {
    {"127.0.0.1", false, AF_INET, "127.0.0.1", 53},
    {"192.0.2.1:5353", false, AF_INET, "192.0.2.1", 5353},
    {"::1", false, AF_INET6, "::1", 53},
    {"[::1]", false, AF_INET6, "::1", 53},
    {"[2001:db8::1]:853", false, AF_INET6, "2001:db8::1", 853},
    {"2001:db8::1:53", false, AF_INET6, "2001:db8::1:53", 53},
    {"[::ffff:192.0.2.1]:53", false, AF_INET6, "::ffff:192.0.2.1", 53},
    {"0.0.0.0:0", true, AF_INET, "0.0.0.0", 0},
    {"[::]:0", true, AF_INET6, "::", 0},
    {"127.0.0.1:0", false, 0, NULL, 0},
    {"127.0.0.1:65536", false, 0, NULL, 0},
    {"127.0.0.1:", false, 0, NULL, 0},
    {"127.0.0.1:53x", false, 0, NULL, 0},
    {"127.1", false, 0, NULL, 0}, /* inet_aton shorthand: not an address here */
    {"1.2.3.4.5", false, 0, NULL, 0},
    {"localhost:53", false, 0, NULL, 0},
    {"[::1", false, 0, NULL, 0},
    {"[::1]x", false, 0, NULL, 0},
    {"[::1]53", false, 0, NULL, 0},
    {"[]:53", false, 0, NULL, 0},
    {"[127.0.0.1]:53", false, AF_INET, "127.0.0.1", 53},
    {":53", false, 0, NULL, 0},
    {"", false, 0, NULL, 0},
    {"fe80::1%1", false, 0, NULL, 0}, /* zones: sr_addr_parse only */
    {"[0000:0000:0000:0000:0000:0000:0000:0000:1]", false, 0, NULL, 0}, /* too long */
};

START_TEST(test_ipport_parse)
{
    for (size_t i = 0; i < sizeof(IPPORT_CASES) / sizeof(IPPORT_CASES[0]); i++) {
        const char *t = IPPORT_CASES[i].text;
        struct sockaddr_storage ss;
        socklen_t len = 0;
        char ip[INET6_ADDRSTRLEN];
        int rc = sr_ipport_parse(t, 53, IPPORT_CASES[i].allow_zero, &ss, &len);
        if (IPPORT_CASES[i].family == 0) {
            ck_assert_msg(rc == -1, "'%s' accepted", t);
            ck_assert_int_eq(ss.ss_family, 0);
            continue;
        }
        ck_assert_msg(rc == 0, "'%s' rejected", t);
        ck_assert_int_eq(ss.ss_family, IPPORT_CASES[i].family);
        ck_assert_uint_eq(len, IPPORT_CASES[i].family == AF_INET ? sizeof(struct sockaddr_in)
                                                                 : sizeof(struct sockaddr_in6));
        ck_assert_str_eq(sr_ip_format((struct sockaddr *)&ss, ip, sizeof(ip)), IPPORT_CASES[i].ip);
        ck_assert_uint_eq(sr_sockaddr_port((struct sockaddr *)&ss), IPPORT_CASES[i].port);
    }
    ck_assert_int_eq(
        sr_ipport_parse(NULL, 53, false, &(struct sockaddr_storage){0}, &(socklen_t){0}), -1);
}
END_TEST

START_TEST(test_ip_parse)
{
    struct sockaddr_storage ss;
    socklen_t len;

    ck_assert_int_eq(sr_ip_parse("198.51.100.7", 853, &ss, &len), 0);
    ck_assert_int_eq(ss.ss_family, AF_INET);
    ck_assert_uint_eq(sr_sockaddr_port((struct sockaddr *)&ss), 853);
    ck_assert_int_eq(sr_ip_parse("2001:db8::7", 0, &ss, &len), 0);
    ck_assert_int_eq(ss.ss_family, AF_INET6);
    ck_assert_int_eq(sr_ip_parse("[::1]", 53, &ss, &len), -1);
    ck_assert_int_eq(sr_ip_parse("192.0.2.1:53", 53, &ss, &len), -1);
    ck_assert_int_eq(sr_ip_parse("", 53, &ss, &len), -1);
}
END_TEST

START_TEST(test_addr_parse_zone)
{
    struct sockaddr_storage ss;
    socklen_t len;

    /* The transports' parser: numeric only, but zones are allowed. */
    ck_assert_int_eq(sr_addr_parse("127.0.0.1", 53, &ss, &len), SR_OK);
    ck_assert_int_eq(ss.ss_family, AF_INET);
    ck_assert_uint_eq(sr_sockaddr_port((struct sockaddr *)&ss), 53);
    ck_assert_int_eq(sr_addr_parse("fe80::1%1", 853, &ss, &len), SR_OK);
    ck_assert_int_eq(ss.ss_family, AF_INET6);
    ck_assert_uint_eq(((struct sockaddr_in6 *)&ss)->sin6_scope_id, 1);
    ck_assert_int_eq(sr_addr_parse("localhost", 53, &ss, &len), SR_E_BAD_ADDRESS);
    ck_assert_int_eq(sr_addr_parse("", 53, &ss, &len), SR_E_BAD_ADDRESS);
    ck_assert_int_eq(sr_addr_parse(NULL, 53, &ss, &len), SR_E_BAD_ADDRESS);
}
END_TEST

START_TEST(test_ip_format)
{
    struct sockaddr_storage ss;
    char out[INET6_ADDRSTRLEN], small[4] = "xyz";

    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_UNIX;
    ck_assert_str_eq(sr_ip_format((struct sockaddr *)&ss, out, sizeof(out)), "?");
    ck_assert_uint_eq(sr_sockaddr_port((struct sockaddr *)&ss), 0);
    /* No room at all: out is left alone. */
    ck_assert_ptr_eq(sr_ip_format((struct sockaddr *)&ss, small, 0), small);
    ck_assert_str_eq(small, "xyz");
    /* Too little room: an empty string, never a cut address. */
    ck_assert_int_eq(sr_ipport_parse("192.0.2.100", 53, false, &ss, &(socklen_t){0}), 0);
    ck_assert_str_eq(sr_ip_format((struct sockaddr *)&ss, small, sizeof(small)), "");
}
END_TEST

/* ------------------------------------------- clocks and randomness */

START_TEST(test_clocks)
{
    uint64_t a = sr_now_us(), b = sr_now_us();
    uint32_t s1 = sr_now_coarse_s(), s2 = sr_now_coarse_s();
    struct timespec ts;

    ck_assert_uint_ge(b, a);
    ck_assert_uint_ge(s2, s1);
    /* The same clock as CLOCK_MONOTONIC, in microseconds. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ck_assert_uint_ge((uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u, b);
    ck_assert_uint_ge((uint64_t)ts.tv_sec, s2);
}
END_TEST

START_TEST(test_random)
{
    uint8_t a[32], b[32], zero[32] = {0};
    uint16_t first = sr_random16();
    bool differs = false;

    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    ck_assert(sr_random_bytes(a, sizeof(a)));
    ck_assert(sr_random_bytes(b, sizeof(b)));
    /* 2^-256 chances each of a false failure. */
    ck_assert(memcmp(a, zero, sizeof(a)) != 0);
    ck_assert(memcmp(a, b, sizeof(a)) != 0);
    ck_assert(sr_random_bytes(a, 0));
    /* 300 draws cross a refill of the per-thread pool. */
    for (int i = 0; i < 300; i++)
        differs |= sr_random16() != first;
    ck_assert(differs);
}
END_TEST

/* Entries in dir other than . and .. */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

START_TEST(test_write_atomic)
{
    char dir[] = "/tmp/check_util.XXXXXX", path[64], missing[80], got[32] = {0};
    struct stat sb;
    FILE *f;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/f", dir);
    ck_assert_int_eq(sr_write_atomic(path, 0640, "first", 5), 0);
    ck_assert_int_eq(sr_write_atomic(path, 0600, "second", 6), 0);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fread(got, 1, sizeof(got) - 1, f), 6);
    fclose(f);
    ck_assert_str_eq(got, "second");
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    ck_assert_int_eq(dir_entries(dir), 1); /* no temporary file left */
    /* A directory that is not there: -1, errno says why, nothing left. */
    snprintf(missing, sizeof(missing), "%s/no/f", dir);
    errno = 0;
    ck_assert_int_eq(sr_write_atomic(missing, 0600, "x", 1), -1);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_int_eq(sr_write_atomic(path, 0600, "", 0), 0);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_size, 0);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("util");
    add_tcase(s, "addresses", NULL, NULL,
              TESTS(test_port_parse, test_hostport_scan, test_ipport_parse, test_ip_parse,
                    test_addr_parse_zone, test_ip_format));
    add_tcase(s, "clock-random", NULL, NULL, TESTS(test_clocks, test_random));
    add_tcase(s, "files", NULL, NULL, TESTS(test_write_atomic));
    return run_suite(s);
}
