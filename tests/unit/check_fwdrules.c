/* Unit tests: forward rules (src/daemon/fwdrules.c): one rule's text
 * (domain, specs, resolvconf, the root refused), and which rule a query
 * name matches (the longest suffix, on label boundaries, in any case,
 * escaped dots inside a label), as the `forward` key stores them. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "check-main.h"
#include "fwdrules.h"

static char canon[CFG_VALUE_MAX + 1], err[1024];
static fwdrule_t rule;

/* The rules of texts, which must parse. */
static fwdrules_t *rules_of(const char *const *texts, size_t n)
{
    fwdrules_t *r = fwdrules_parse((char *const *)texts, n, err, sizeof(err));
    ck_assert_msg(r != NULL, "%s", err);
    return r;
}

/* The domain of the rule matching name (presentation form), or "-". */
static const char *match(const fwdrules_t *r, const char *name)
{
    uint8_t wire[SR_NAME_MAX_WIRE];
    size_t len = 0;
    int i;

    ck_assert_int_eq(sr_name_from_text(name, wire, sizeof(wire), &len), SR_OK);
    i = fwdrules_match(r, wire, len);
    ck_assert(fwdrules_covers(r, wire, len) == (i >= 0));
    return i >= 0 ? r->rule[i].name : "-";
}

START_TEST(test_parse_good)
{
    ck_assert_int_eq(fwdrule_parse("Corp.Example. 10.8.0.1, udp://10.8.0.2:5353", &rule, canon,
                                   sizeof(canon), err, sizeof(err)),
                     0);
    ck_assert_str_eq(canon, "corp.example udp://10.8.0.1:53 udp://10.8.0.2:5353");
    ck_assert_str_eq(rule.name, "corp.example");
    ck_assert_uint_eq(rule.domain_len, 14);
    ck_assert(!rule.resolvconf);

    ck_assert_int_eq(fwdrule_parse("cluster.local  tcp://10.96.0.10 ResolvConf", &rule, canon,
                                   sizeof(canon), err, sizeof(err)),
                     0);
    ck_assert_str_eq(canon, "cluster.local tcp://10.96.0.10:53 resolvconf");
    ck_assert(rule.resolvconf);

    /* An escaped dot is part of a label, kept escaped in the text. */
    ck_assert_int_eq(fwdrule_parse("a\\.b.example tls://192.0.2.1#dns.example", &rule, canon,
                                   sizeof(canon), err, sizeof(err)),
                     0);
    ck_assert_str_eq(canon, "a\\.b.example tls://192.0.2.1:853#dns.example");
    ck_assert_uint_eq(rule.domain[0], 3); /* "a.b" is one label */
}
END_TEST

START_TEST(test_parse_bad)
{
    static const struct {
        const char *text, *why;
    } bad[] = {
        {". udp://10.8.0.1", "servers"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example 10.8.0.1",
         "not a domain name"},
        {"", "DOMAIN SPEC"},
        {"corp.example", "no upstream"},
        {"corp..example 10.8.0.1", "not a domain name"},
        {"corp.example ftp://10.8.0.1", "unknown scheme"},
        {"corp.example tls://10.8.0.1 udp://10.8.0.2", "cannot be mixed"},
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(fwdrule_parse(bad[i].text, &rule, canon, sizeof(canon), err, sizeof(err)) ==
                          -1,
                      "'%s' parsed", bad[i].text);
        ck_assert_msg(strstr(err, bad[i].why) != NULL, "'%s': %s", bad[i].text, err);
    }
    /* `.` tells where the upstreams of every name are set. */
    fwdrule_parse(". udp://10.8.0.1", &rule, canon, sizeof(canon), err, sizeof(err));
    ck_assert_msg(strstr(err, "servers = ") != NULL, "%s", err);
}
END_TEST

START_TEST(test_two_rules_one_domain)
{
    static const char *const texts[] = {"corp.example udp://10.8.0.1:53",
                                        "CORP.example. udp://10.8.0.2:53"};

    ck_assert_ptr_null(fwdrules_parse((char *const *)texts, 2, err, sizeof(err)));
    ck_assert_msg(strstr(err, "two rules") != NULL, "%s", err);
}
END_TEST

START_TEST(test_longest_suffix)
{
    static const char *const texts[] = {
        "example udp://10.0.0.1:53",
        "corp.example udp://10.0.0.2:53",
        "dev.corp.example udp://10.0.0.3:53",
    };
    fwdrules_t *r = rules_of(texts, 3);

    ck_assert_str_eq(match(r, "example"), "example");
    ck_assert_str_eq(match(r, "www.example"), "example");
    ck_assert_str_eq(match(r, "corp.example"), "corp.example");
    ck_assert_str_eq(match(r, "mail.corp.example"), "corp.example");
    ck_assert_str_eq(match(r, "dev.corp.example"), "dev.corp.example");
    ck_assert_str_eq(match(r, "a.b.dev.corp.example"), "dev.corp.example");
    ck_assert_str_eq(match(r, "example.org"), "-");
    ck_assert_str_eq(match(r, "."), "-");
    fwdrules_unref(r);

    /* The order given does not matter. */
    static const char *const reversed[] = {texts[2], texts[1], texts[0]};
    r = rules_of(reversed, 3);
    ck_assert_str_eq(match(r, "mail.corp.example"), "corp.example");
    ck_assert_str_eq(match(r, "x.dev.corp.example"), "dev.corp.example");
    ck_assert_str_eq(match(r, "x.example"), "example");
    fwdrules_unref(r);
}
END_TEST

START_TEST(test_label_boundaries)
{
    static const char *const texts[] = {"corp.example udp://10.0.0.2:53"};
    fwdrules_t *r = rules_of(texts, 1);

    ck_assert_str_eq(match(r, "notcorp.example"), "-");
    ck_assert_str_eq(match(r, "xcorp.example"), "-");
    ck_assert_str_eq(match(r, "corp.example.org"), "-");
    ck_assert_str_eq(match(r, "orp.example"), "-");
    ck_assert_str_eq(match(r, "example"), "-");
    /* A label holding "corp.example" with its dot escaped is one label,
     * not the domain. */
    ck_assert_str_eq(match(r, "x\\.corp.example"), "-");
    ck_assert_str_eq(match(r, "x.corp\\.example"), "-");
    ck_assert_str_eq(match(r, "a.corp.example"), "corp.example");
    fwdrules_unref(r);
}
END_TEST

START_TEST(test_case)
{
    static const char *const texts[] = {"Corp.EXAMPLE udp://10.0.0.2:53"};
    fwdrules_t *r = rules_of(texts, 1);

    ck_assert_str_eq(r->rule[0].name, "corp.example");
    ck_assert_str_eq(match(r, "WWW.CORP.EXAMPLE"), "corp.example");
    ck_assert_str_eq(match(r, "wWw.cOrP.eXaMpLe"), "corp.example");
    ck_assert_str_eq(match(r, "corp.example"), "corp.example");
    fwdrules_unref(r);
}
END_TEST

START_TEST(test_escaped_dots)
{
    static const char *const texts[] = {"a\\.b.example udp://10.0.0.1:53",
                                        "b.example udp://10.0.0.2:53"};
    fwdrules_t *r = rules_of(texts, 2);

    /* "a\.b.example" is the labels "a.b" and "example". */
    ck_assert_str_eq(match(r, "a\\.b.example"), "a\\.b.example");
    ck_assert_str_eq(match(r, "x.A\\.B.example"), "a\\.b.example");
    /* "a.b.example" is three labels: below b.example, not a\.b.example. */
    ck_assert_str_eq(match(r, "a.b.example"), "b.example");
    ck_assert_str_eq(match(r, "a\\.b\\.example"), "-");
    fwdrules_unref(r);
}
END_TEST

START_TEST(test_none)
{
    uint8_t wire[SR_NAME_MAX_WIRE];
    size_t len = 0;
    fwdrules_t *r = fwdrules_parse(NULL, 0, err, sizeof(err));

    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(sr_name_from_text("corp.example", wire, sizeof(wire), &len), SR_OK);
    ck_assert_int_eq(fwdrules_match(r, wire, len), -1);
    ck_assert(!fwdrules_covers(r, wire, len));
    ck_assert(!fwdrules_covers(NULL, wire, len));
    fwdrules_unref(r);
}
END_TEST

/* The `forward` key: repeated lines of a file are rules, kept in their
 * canonical text; a bad rule names itself. */
START_TEST(test_cfg_key)
{
    cfg_t *c = cfg_new();
    char out[CFG_VALUE_MAX + 1];

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(cfg_set(c, "forward", "corp.example 10.8.0.1; Home.Arpa udp://192.168.1.1",
                             NULL, true, err, sizeof(err)),
                     CFG_OK);
    ck_assert_uint_eq(c->nforward, 2);
    ck_assert_int_eq(cfg_get(c, "forward", out, sizeof(out), err, sizeof(err)), CFG_OK);
    ck_assert_str_eq(out, "corp.example udp://10.8.0.1:53; home.arpa udp://192.168.1.1:53");
    ck_assert_int_eq(
        cfg_set(c, "forward", ". udp://10.8.0.1", "/etc/stubresd.conf:7", false, err, sizeof(err)),
        CFG_EINVAL);
    ck_assert_msg(strstr(err, "/etc/stubresd.conf:7: forward") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "servers") != NULL, "%s", err);
    ck_assert_uint_eq(c->nforward, 2); /* unchanged */
    ck_assert_int_eq(cfg_set(c, "forward", "", NULL, true, err, sizeof(err)), CFG_OK);
    ck_assert_uint_eq(c->nforward, 0);
    cfg_unref(c);
}
END_TEST

/* A config file: one rule a line; a bad line is named with file, line
 * and what is wrong with that rule alone. */
START_TEST(test_cfg_file)
{
    char path[] = "/tmp/check_fwdrules.XXXXXX";
    const char *text = "forward = corp.example 10.8.0.1\n"
                       "forward = cluster.local udp://10.96.0.10\n"
                       "forward = lab.example ftp://10.9.0.1\n";
    int fd = mkstemp(path);
    cfg_errors_t errs = {0};
    cfg_t *c = cfg_new();

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    ck_assert_int_ne(cfg_load_file(c, path, false, &errs, NULL, NULL), 0);
    ck_assert_uint_eq(errs.n, 1);
    ck_assert_msg(strstr(errs.msg[0], ":3: forward: bad value 'lab.example ftp://10.9.0.1'") !=
                      NULL,
                  "%s", errs.msg[0]);
    ck_assert_msg(strstr(errs.msg[0], "unknown scheme 'ftp'") != NULL, "%s", errs.msg[0]);
    cfg_errors_clear(&errs);
    cfg_unref(c);

    /* Without the bad line: two rules. */
    c = cfg_new();
    fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, 72), 72);
    close(fd);
    ck_assert_int_eq(cfg_load_file(c, path, false, &errs, NULL, NULL), 0);
    ck_assert_uint_eq(c->nforward, 2);
    ck_assert_str_eq(c->forward[1], "cluster.local udp://10.96.0.10:53");
    cfg_unref(c);
    unlink(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fwdrules");
    add_tcase(s, "parse", NULL, NULL,
              TESTS(test_parse_good, test_parse_bad, test_two_rules_one_domain, test_cfg_key,
                    test_cfg_file));
    add_tcase(
        s, "match", NULL, NULL,
        TESTS(test_longest_suffix, test_label_boundaries, test_case, test_escaped_dots, test_none));
    return run_suite(s);
}
