/* Unit tests: sr_resolv_conf_server() (src/lib/resolvconf.c). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stubres/upstream.h>

#include "check-main.h"

static char path[64];

static void write_file(const char *text)
{
    FILE *f;
    snprintf(path, sizeof(path), "/tmp/stubres-rc-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
}

static void teardown(void)
{
    if (path[0] != '\0')
        unlink(path);
    path[0] = '\0';
    unsetenv("STUBRES_RESOLV_CONF");
}

static const char *first(const char *text, sr_status_t expect)
{
    static char out[128];
    write_file(text);
    ck_assert_int_eq(sr_resolv_conf_server(path, out, sizeof(out)), expect);
    unlink(path);
    path[0] = '\0';
    return out;
}

START_TEST(test_plain)
{
    ck_assert_str_eq(first("nameserver 192.0.2.53\n", SR_OK), "192.0.2.53");
    ck_assert_str_eq(first("nameserver 192.0.2.53", SR_OK), "192.0.2.53"); /* no newline */
    ck_assert_str_eq(first("nameserver\t 192.0.2.1  \r\nnameserver 192.0.2.2\n", SR_OK),
                     "192.0.2.1");
}
END_TEST

START_TEST(test_comments_and_junk)
{
    ck_assert_str_eq(first("# generated\n"
                           "; nameserver 192.0.2.9\n"
                           "#nameserver 192.0.2.8\n"
                           "search example.test\n"
                           "options ndots:2 edns0\n"
                           "nameservers 192.0.2.7\n"
                           "nameserver\n"
                           "nameserver not-an-address\n"
                           "  nameserver 192.0.2.3 # trailing comment\n",
                           SR_OK),
                     "192.0.2.3");
    ck_assert_str_eq(first("nameserver 192.0.2.4;comment\n", SR_OK), "192.0.2.4");
}
END_TEST

START_TEST(test_ipv6)
{
    ck_assert_str_eq(first("nameserver ::1\n", SR_OK), "::1");
    ck_assert_str_eq(first("nameserver 2001:db8::53\n", SR_OK), "2001:db8::53");
    /* a link-local address keeps its zone */
    ck_assert_str_eq(first("nameserver fe80::1%lo\n", SR_OK), "fe80::1%lo");
    /* brackets are not resolv.conf syntax */
    ck_assert_str_eq(first("nameserver [::1]\nnameserver 127.0.0.2\n", SR_OK), "127.0.0.2");
}
END_TEST

START_TEST(test_none)
{
    char out[64];
    first("", SR_E_NO_SERVER);
    first("# nothing\nsearch example.test\n", SR_E_NO_SERVER);
    ck_assert_int_eq(first("domain x\n", SR_E_NO_SERVER)[0], '\0');
    ck_assert_int_eq(sr_resolv_conf_server("/nonexistent/resolv.conf", out, sizeof(out)), 224);
}
END_TEST

START_TEST(test_long_lines)
{
    char text[4096];
    /* An over-long line whose tail looks like a nameserver line. */
    memset(text, 'x', 1500);
    strcpy(text + 1500, " nameserver 192.0.2.66\nnameserver 192.0.2.5\n");
    memcpy(text, "search ", 7);
    ck_assert_str_eq(first(text, SR_OK), "192.0.2.5");
}
END_TEST

START_TEST(test_small_buffer)
{
    char out[4];
    write_file("nameserver 192.0.2.53\n");
    ck_assert_int_eq(sr_resolv_conf_server(path, out, sizeof(out)), SR_E_NOBUFS);
}
END_TEST

START_TEST(test_environment)
{
    char out[64];
    write_file("nameserver 127.0.0.53\n");
    setenv("STUBRES_RESOLV_CONF", path, 1);
    ck_assert_int_eq(sr_resolv_conf_server(NULL, out, sizeof(out)), SR_OK);
    ck_assert_str_eq(out, "127.0.0.53");
    /* an explicit path wins over the environment */
    ck_assert_int_eq(sr_resolv_conf_server("/nonexistent", out, sizeof(out)), SR_E_NO_SERVER);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("resolvconf");
    add_tcase(s, "parse", NULL, teardown,
              TESTS(test_plain, test_comments_and_junk, test_ipv6, test_none, test_long_lines,
                    test_small_buffer, test_environment));
    return run_suite(s);
}
