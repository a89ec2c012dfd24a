/* Unit tests of localdata.c: record parsing, name matching (case, escaped
 * dots, label boundaries), the replies (AA, TTL, NODATA, CNAME, PTR,
 * special-use names, truncation, the client's case) and a lookup that
 * allocates nothing. */
#include "config.h"

#include <check.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stubres/wire.h>

#include "check-main.h"
#include "localdata.h"

/* The lookup must not allocate: every malloc, calloc and realloc of the
 * statically linked code is counted (--wrap). */
void *__real_malloc(size_t n);
void *__real_calloc(size_t nmemb, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t nmemb, size_t size);
void *__wrap_realloc(void *p, size_t n);

static atomic_ulong alloc_calls;

void *__wrap_malloc(size_t n)
{
    atomic_fetch_add(&alloc_calls, 1);
    return __real_malloc(n);
}

void *__wrap_calloc(size_t nmemb, size_t size)
{
    atomic_fetch_add(&alloc_calls, 1);
    return __real_calloc(nmemb, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    atomic_fetch_add(&alloc_calls, 1);
    return __real_realloc(p, n);
}

static char warnings[4096];
static unsigned nwarnings;

static void on_warn(void *arg, const char *msg)
{
    (void)arg;
    nwarnings++;
    strncat(warnings, msg, sizeof(warnings) - strlen(warnings) - 2);
    strcat(warnings, "\n");
}

static localdata_t *build(const char *const *recs, size_t n, const char *hosts, bool special)
{
    char err[512] = "";
    local_src_t src = {
        .records = recs,
        .nrecords = n,
        .local_ttl = 300,
        .hosts = hosts,
        .special_names = special,
        .warn = on_warn,
    };
    localdata_t *ld = localdata_new(&src, err, sizeof(err));
    ck_assert_msg(ld != NULL, "localdata_new: %s", err);
    return ld;
}

/* A reply to (name, type) from ld, parsed into m; the source. */
typedef struct reply {
    local_source_t src;
    uint8_t buf[4096];
    size_t len;
    sr_msg_t *m;
} reply_t;

static void ask_q(const localdata_t *ld, const char *name, uint16_t type, bool edns,
                  uint16_t max_len, reply_t *r)
{
    uint8_t qname[SR_NAME_MAX_WIRE];
    size_t ql;
    cache_query_t q;

    ck_assert_int_eq(sr_name_from_text(name, qname, sizeof(qname), &ql), SR_OK);
    memset(&q, 0, sizeof(q));
    q.id = 0x1234;
    q.flags = SR_FLAG_RD;
    q.qname = qname;
    q.qname_len = ql;
    q.qtype = type;
    q.qclass = SR_CLASS_IN;
    q.edns = edns;
    q.max_len = max_len;
    r->src = localdata_answer(ld, &q, NULL, NULL, r->buf, sizeof(r->buf), &r->len);
    if (r->m == NULL)
        r->m = sr_msg_new();
    if (r->src != LOCAL_NONE) {
        ck_assert_uint_gt(r->len, 0);
        ck_assert_int_eq(sr_msg_parse(r->m, r->buf, r->len, 0), SR_OK);
        ck_assert_uint_eq(((unsigned)r->buf[0] << 8) | r->buf[1], 0x1234);
    }
}

static void ask(const localdata_t *ld, const char *name, uint16_t type, reply_t *r)
{
    ask_q(ld, name, type, true, 1232, r);
}

/* The answer section as "owner TTL TYPE" joined by "; " (fields are the
 * codec's). */
static const char *answers(reply_t *r, char *out, size_t cap)
{
    size_t off = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sr_msg_section_count(r->m, SR_SECTION_ANSWER); i++) {
        const sr_rr_t *rr = sr_msg_rr(r->m, i);
        char tb[16];
        off += (size_t)snprintf(out + off, cap - off, "%s%s %u %s", i ? "; " : "", rr->name,
                                rr->ttl, sr_type_name(rr->type, tb));
        for (size_t f = 0; f < rr->field_count; f++)
            off += (size_t)snprintf(out + off, cap - off, " %s", rr->fields[f].value);
    }
    return out;
}

START_TEST(test_parse_record)
{
    local_rec_t *r = malloc(sizeof(*r));
    char canon[600], err[300];

    ck_assert_int_eq(
        local_rec_parse("nas.home.arpa A 192.168.1.10", r, canon, sizeof(canon), err, sizeof(err)),
        0);
    ck_assert_str_eq(canon, "nas.home.arpa IN A 192.168.1.10");
    ck_assert(!r->has_ttl);
    ck_assert_uint_eq(r->rdlen, 4);
    /* TTL and class either way round, any case. */
    ck_assert_int_eq(
        local_rec_parse("Mx.Lan in 60 mx 10 mail.lan.", r, canon, sizeof(canon), err, sizeof(err)),
        0);
    ck_assert_str_eq(canon, "Mx.Lan 60 IN MX 10 mail.lan.");
    ck_assert_uint_eq(r->ttl, 60);
    ck_assert_int_eq(
        local_rec_parse("a\\.b.lan 5 TXT \"x y\"", r, canon, sizeof(canon), err, sizeof(err)), 0);
    ck_assert_uint_eq(r->name[0], 3); /* one label "a.b" */
    /* What is wrong, said. */
    ck_assert_int_eq(local_rec_parse("x.lan A 1.2.3", r, NULL, 0, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "is not A RDATA") != NULL, "%s", err);
    ck_assert_int_eq(local_rec_parse("x.lan CH A 1.2.3.4", r, NULL, 0, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "only class IN") != NULL, "%s", err);
    ck_assert_int_eq(local_rec_parse("x.lan BOGUS 1", r, NULL, 0, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "not a record type") != NULL, "%s", err);
    ck_assert_int_eq(local_rec_parse("x.lan OPT \\# 0", r, NULL, 0, err, sizeof(err)), -1);
    ck_assert_int_eq(local_rec_parse("x.lan ANY 1.2.3.4", r, NULL, 0, err, sizeof(err)), -1);
    ck_assert_int_eq(local_rec_parse("x.lan 99999999999 A 1.2.3.4", r, NULL, 0, err, sizeof(err)),
                     -1);
    ck_assert_int_eq(local_rec_parse("x..lan A 1.2.3.4", r, NULL, 0, err, sizeof(err)), -1);
    ck_assert_int_eq(local_rec_parse("x.lan A", r, NULL, 0, err, sizeof(err)), -1);
    ck_assert_int_eq(local_rec_parse("", r, NULL, 0, err, sizeof(err)), -1);
    free(r);
}
END_TEST

static int collect(void *arg, const char *rec)
{
    char *out = arg;
    strcat(out, "[");
    strcat(out, rec);
    strcat(out, "]");
    return 0;
}

START_TEST(test_split)
{
    char out[512] = "";
    ck_assert_int_eq(local_split("a A 1.2.3.4, b TXT \"x, y\" z,  c TXT a\\, b", collect, out), 0);
    ck_assert_str_eq(out, "[a A 1.2.3.4][b TXT \"x, y\" z][c TXT a\\, b]");
}
END_TEST

START_TEST(test_match_case_and_boundaries)
{
    static const char *const recs[] = {"nas.lan A 192.168.1.10", "a\\.b.lan A 10.9.9.9"};
    localdata_t *ld = build(recs, 2, "", false);
    reply_t r = {0};
    char buf[512];

    ask(ld, "NaS.LAN", SR_TYPE_A, &r);
    ck_assert_int_eq(r.src, LOCAL_LOCAL);
    ck_assert_str_eq(answers(&r, buf, sizeof(buf)), "NaS.LAN 300 A 192.168.1.10");
    /* The client's case in the question and the owner (0x20). */
    ck_assert(memcmp(r.buf + 12, "\x03NaS\x03LAN", 8) == 0);
    ck_assert(sr_msg_flags(r.m) & SR_FLAG_AA);
    ck_assert(sr_msg_flags(r.m) & SR_FLAG_RD);
    ck_assert(sr_msg_flags(r.m) & SR_FLAG_RA);
    /* Label boundaries: neither a name below nor one that ends the same. */
    ask(ld, "x.nas.lan", SR_TYPE_A, &r);
    ck_assert_int_eq(r.src, LOCAL_NONE);
    ask(ld, "mynas.lan", SR_TYPE_A, &r);
    ck_assert_int_eq(r.src, LOCAL_NONE);
    ask(ld, "lan", SR_TYPE_A, &r);
    ck_assert_int_eq(r.src, LOCAL_NONE);
    /* An escaped dot is a byte of a label, not a boundary. */
    ask(ld, "a\\.b.lan", SR_TYPE_A, &r);
    ck_assert_int_eq(r.src, LOCAL_LOCAL);
    ask(ld, "a.b.lan", SR_TYPE_A, &r);
    ck_assert_int_eq(r.src, LOCAL_NONE);
    ask(ld, "b.lan", SR_TYPE_A, &r);
    ck_assert_int_eq(r.src, LOCAL_NONE);
    sr_msg_free(r.m);
    localdata_unref(ld);
}
END_TEST

START_TEST(test_nodata_ttl_cname_ptr)
{
    static const char *const recs[] = {
        "nas.lan A 192.168.1.10",           "nas.lan 60 AAAA fd00::10",
        "nas.lan A 192.168.1.11",           "www.lan CNAME nas.lan.",
        "far.lan CNAME elsewhere.example.", "loop1.lan CNAME loop2.lan.",
        "loop2.lan CNAME loop1.lan.",       "11.1.168.192.in-addr.arpa PTR given.lan.",
    };
    localdata_t *ld = build(recs, sizeof(recs) / sizeof(recs[0]), "", false);
    reply_t r = {0};
    char buf[512];

    ask(ld, "nas.lan", SR_TYPE_A, &r);
    ck_assert_str_eq(answers(&r, buf, sizeof(buf)),
                     "nas.lan 300 A 192.168.1.10; nas.lan 300 A 192.168.1.11");
    ask(ld, "nas.lan", SR_TYPE_AAAA, &r);
    ck_assert_str_eq(answers(&r, buf, sizeof(buf)), "nas.lan 60 AAAA fd00::10");
    /* NODATA: NOERROR, AA, nothing in the answer. */
    ask(ld, "nas.lan", SR_TYPE_MX, &r);
    ck_assert_int_eq(r.src, LOCAL_LOCAL);
    ck_assert_uint_eq(sr_msg_rcode(r.m), 0);
    ck_assert(sr_msg_flags(r.m) & SR_FLAG_AA);
    ck_assert_uint_eq(sr_msg_section_count(r.m, SR_SECTION_ANSWER), 0);
    /* A CNAME and its target's records. */
    ask(ld, "WWW.lan", SR_TYPE_AAAA, &r);
    ck_assert_str_eq(answers(&r, buf, sizeof(buf)),
                     "WWW.lan 300 CNAME nas.lan; nas.lan 60 AAAA fd00::10");
    ask(ld, "www.lan", SR_TYPE_CNAME, &r);
    ck_assert_str_eq(answers(&r, buf, sizeof(buf)), "www.lan 300 CNAME nas.lan");
    /* A target elsewhere: the CNAME alone; a loop ends. */
    ask(ld, "far.lan", SR_TYPE_A, &r);
    ck_assert_str_eq(answers(&r, buf, sizeof(buf)), "far.lan 300 CNAME elsewhere.example");
    ask(ld, "loop1.lan", SR_TYPE_A, &r);
    ck_assert_int_eq(r.src, LOCAL_LOCAL);
    ck_assert_uint_le(sr_msg_section_count(r.m, SR_SECTION_ANSWER), 8);
    /* The PTR of an address, unless one is given. */
    ask(ld, "10.1.168.192.in-addr.arpa", SR_TYPE_PTR, &r);
    ck_assert_str_eq(answers(&r, buf, sizeof(buf)), "10.1.168.192.in-addr.arpa 300 PTR nas.lan");
    ask(ld, "11.1.168.192.in-addr.arpa", SR_TYPE_PTR, &r);
    ck_assert_str_eq(answers(&r, buf, sizeof(buf)), "11.1.168.192.in-addr.arpa 300 PTR given.lan");
    ask(ld, "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa", SR_TYPE_PTR,
        &r);
    ck_assert_str_eq(answers(&r, buf, sizeof(buf)),
                     "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa 60 "
                     "PTR nas.lan");
    sr_msg_free(r.m);
    localdata_unref(ld);
}
END_TEST

START_TEST(test_cname_beside_data_refused)
{
    static const char *const recs[] = {"x.lan CNAME y.lan.", "x.lan A 1.2.3.4"};
    char err[512];
    local_src_t src = {.records = recs, .nrecords = 2, .local_ttl = 300};
    localdata_t *ld = localdata_new(&src, err, sizeof(err));
    ck_assert_ptr_null(ld);
    ck_assert_msg(strstr(err, "x.lan: a CNAME must be the only record") != NULL, "%s", err);
}
END_TEST

static char tmpdir[256];

static const char *write_hosts(const char *name, const char *text)
{
    static char path[400];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

START_TEST(test_hosts)
{
    static const char *const recs[] = {"both.lan A 10.0.0.1"};
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_localdata.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    const char *p = write_hosts("hosts", "# comment\n"
                                         "192.168.1.20 printer.lan printer # trailing\n"
                                         "192.168.1.20 second.lan\n"
                                         "192.168.1.20 second.lan\n"
                                         "fd00::20\tprinter.lan\n"
                                         "10.0.0.2 both.lan\n"
                                         "not-an-address x.lan\n"
                                         "10.0.0.3 bad..name good.lan\n"
                                         "0.0.0.0 blocked.lan\n");
    warnings[0] = '\0';
    nwarnings = 0;
    localdata_t *ld = build(recs, 1, p, false);
    reply_t r = {0};
    char buf[512];

    ck_assert_uint_eq(nwarnings, 2);
    ck_assert_msg(strstr(warnings, "/hosts:7: 'not-an-address' is not an IP address") != NULL, "%s",
                  warnings);
    ck_assert_msg(strstr(warnings, "/hosts:8: 'bad..name' is not a host name") != NULL, "%s",
                  warnings);
    ask(ld, "PRINTER", SR_TYPE_A, &r);
    ck_assert_int_eq(r.src, LOCAL_HOSTS);
    ck_assert_str_eq(answers(&r, buf, sizeof(buf)), "PRINTER 300 A 192.168.1.20");
    ask(ld, "printer.lan", SR_TYPE_AAAA, &r);
    ck_assert_str_eq(answers(&r, buf, sizeof(buf)), "printer.lan 300 AAAA fd00::20");
    ask(ld, "good.lan", SR_TYPE_A, &r);
    ck_assert_int_eq(r.src, LOCAL_HOSTS);
    /* The first name of an address answers its PTR (as glibc does). */
    ask(ld, "20.1.168.192.in-addr.arpa", SR_TYPE_PTR, &r);
    ck_assert_str_eq(answers(&r, buf, sizeof(buf)),
                     "20.1.168.192.in-addr.arpa 300 PTR printer.lan");
    /* local wins over hosts for a name. */
    ask(ld, "both.lan", SR_TYPE_A, &r);
    ck_assert_int_eq(r.src, LOCAL_LOCAL);
    ck_assert_str_eq(answers(&r, buf, sizeof(buf)), "both.lan 300 A 10.0.0.1");
    /* Repeated lines are one record. */
    ask(ld, "second.lan", SR_TYPE_A, &r);
    ck_assert_str_eq(answers(&r, buf, sizeof(buf)), "second.lan 300 A 192.168.1.20");
    /* No PTR for 0.0.0.0. */
    ask(ld, "0.0.0.0.in-addr.arpa", SR_TYPE_PTR, &r);
    ck_assert_int_eq(r.src, LOCAL_NONE);
    /* A change is seen. */
    ck_assert(!localdata_hosts_changed(ld));
    /* A rewrite of another size is seen whatever the clock's granularity. */
    write_hosts("hosts", "192.168.1.30 printer.lan\n");
    ck_assert(localdata_hosts_changed(ld));
    sr_msg_free(r.m);
    localdata_unref(ld);
    unlink(p);
    rmdir(tmpdir);
}
END_TEST

/* Thousands of names on one address (a block list in hosts format): one
 * PTR, the first name's; the build looks back one record per record. */
START_TEST(test_many_names_one_address)
{
    size_t n = 20000, len = 0;
    char *text = malloc(n * 32);
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(text + len, "127.0.0.1 ad%05zu.example\n", i);
    local_src_t src = {.local_ttl = 300, .hosts_text = text, .hosts_text_len = len};
    char err[256], buf[512];
    localdata_t *ld = localdata_new(&src, err, sizeof(err));
    reply_t r = {0};

    ck_assert_ptr_nonnull(ld);
    ck_assert_uint_eq(localdata_names(ld), n + 1);
    ask(ld, "1.0.0.127.in-addr.arpa", SR_TYPE_PTR, &r);
    ck_assert_str_eq(answers(&r, buf, sizeof(buf)),
                     "1.0.0.127.in-addr.arpa 300 PTR ad00000.example");
    ask(ld, "AD19999.example", SR_TYPE_A, &r);
    ck_assert_int_eq(r.src, LOCAL_HOSTS);
    sr_msg_free(r.m);
    localdata_unref(ld);
    free(text);
}
END_TEST

START_TEST(test_special_names)
{
    localdata_t *ld = build(NULL, 0, "", true);
    reply_t r = {0};
    char buf[512];

    ask(ld, "localhost", SR_TYPE_A, &r);
    ck_assert_int_eq(r.src, LOCAL_SPECIAL);
    ck_assert_str_eq(answers(&r, buf, sizeof(buf)), "localhost 300 A 127.0.0.1");
    ask(ld, "Foo.LocalHost", SR_TYPE_AAAA, &r);
    ck_assert_str_eq(answers(&r, buf, sizeof(buf)), "Foo.LocalHost 300 AAAA ::1");
    ask(ld, "foo.localhost", SR_TYPE_MX, &r);
    ck_assert_uint_eq(sr_msg_rcode(r.m), 0);
    ck_assert_uint_eq(sr_msg_section_count(r.m, SR_SECTION_ANSWER), 0);
    ask(ld, "1.0.0.127.in-addr.arpa", SR_TYPE_PTR, &r);
    ck_assert_str_eq(answers(&r, buf, sizeof(buf)), "1.0.0.127.in-addr.arpa 300 PTR localhost");
    static const char *const nx[] = {
        "invalid",
        "x.invalid",
        "printer.local",
        "local",
        "x.home.arpa",
        "home.arpa",
        "3.2.1.10.in-addr.arpa",
        "10.in-addr.arpa",
        "1.1.16.172.in-addr.arpa",
        "9.9.31.172.in-addr.arpa",
        "1.1.168.192.in-addr.arpa",
        "2.0.254.169.in-addr.arpa",
        "2.0.0.127.in-addr.arpa",
        "1.d.f.ip6.arpa",
        "0.8.e.f.ip6.arpa",
        "b.e.f.ip6.arpa",
    };
    for (size_t i = 0; i < sizeof(nx) / sizeof(nx[0]); i++) {
        ask(ld, nx[i], SR_TYPE_PTR, &r);
        ck_assert_msg(r.src == LOCAL_SPECIAL, "%s", nx[i]);
        ck_assert_msg(sr_msg_rcode(r.m) == 3, "%s: rcode %u", nx[i], sr_msg_rcode(r.m));
        ck_assert(sr_msg_flags(r.m) & SR_FLAG_AA);
        /* The zone's SOA, for negative caching downstream (RFC 2308). */
        ck_assert_uint_eq(sr_msg_section_count(r.m, SR_SECTION_AUTHORITY), 1);
        ck_assert_uint_eq(sr_msg_rr(r.m, 0)->type, SR_TYPE_SOA);
    }
    ask(ld, "x.home.arpa", SR_TYPE_A, &r);
    ck_assert_str_eq(sr_msg_rr(r.m, 0)->name, "home.arpa");
    /* Not special: neighbours on label boundaries. */
    static const char *const not [] = {
        "localhost.example",
        "xlocalhost",
        "notlocal",
        "home.arpa.example",
        "myhome.arpa",
        "1.1.15.172.in-addr.arpa",
        "1.1.32.172.in-addr.arpa",
        "1.1.169.192.in-addr.arpa",
        "110.in-addr.arpa",
        "1.c.f.ip6.arpa",
        "c.e.f.ip6.arpa",
        "arpa",
        "in-addr.arpa",
        "example.com",
    };
    for (size_t i = 0; i < sizeof(not ) / sizeof(not [0]); i++) {
        ask(ld, not [i], SR_TYPE_A, &r);
        ck_assert_msg(r.src == LOCAL_NONE, "%s answered", not [i]);
    }
    sr_msg_free(r.m);
    localdata_unref(ld);

    /* Off: nothing. */
    ld = build(NULL, 0, "", false);
    ask(ld, "localhost", SR_TYPE_A, &r);
    ck_assert_int_eq(r.src, LOCAL_NONE);
    ask(ld, "x.home.arpa", SR_TYPE_A, &r);
    ck_assert_int_eq(r.src, LOCAL_NONE);
    localdata_unref(ld);
    r.m = NULL;
}
END_TEST

static bool cover_home(void *arg, const uint8_t *qname, size_t len)
{
    (void)arg;
    return len > 11 && memcmp(qname + len - 11,
                              "\x04home\x04"
                              "arpa",
                              11) == 0;
}

START_TEST(test_covered_and_local_first)
{
    static const char *const recs[] = {"nas.home.arpa A 192.168.1.10", "localhost A 127.0.0.2"};
    localdata_t *ld = build(recs, 2, "", true);
    reply_t r = {0};
    char buf[512];
    uint8_t qn[64];
    size_t ql;
    cache_query_t q = {.id = 1, .qtype = SR_TYPE_A, .qclass = SR_CLASS_IN, .max_len = 512};

    /* local covers a name of a special zone; the rest of the zone stays
     * NXDOMAIN. */
    ask(ld, "nas.home.arpa", SR_TYPE_A, &r);
    ck_assert_int_eq(r.src, LOCAL_LOCAL);
    ask(ld, "localhost", SR_TYPE_A, &r);
    ck_assert_str_eq(answers(&r, buf, sizeof(buf)), "localhost 300 A 127.0.0.2");
    ask(ld, "other.home.arpa", SR_TYPE_A, &r);
    ck_assert_int_eq(r.src, LOCAL_SPECIAL);
    /* A `forward` rule's predicate takes the name out of the special step. */
    sr_name_from_text("other.home.arpa", qn, sizeof(qn), &ql);
    q.qname = qn;
    q.qname_len = ql;
    size_t n;
    ck_assert_int_eq(localdata_answer(ld, &q, cover_home, NULL, r.buf, sizeof(r.buf), &n),
                     LOCAL_NONE);
    /* Class other than IN: not ours. */
    q.qclass = 3;
    ck_assert_int_eq(localdata_answer(ld, &q, NULL, NULL, r.buf, sizeof(r.buf), &n), LOCAL_NONE);
    sr_msg_free(r.m);
    localdata_unref(ld);
}
END_TEST

START_TEST(test_truncation_and_edns)
{
    /* 40 TXT records of 200 bytes: over 512 bytes. */
    char **recs = calloc(40, sizeof(char *));
    for (int i = 0; i < 40; i++) {
        recs[i] = malloc(300);
        snprintf(recs[i], 300, "big.lan TXT \"%02d%0198d\"", i, 0);
    }
    localdata_t *ld = build((const char *const *)recs, 40, "", false);
    reply_t r = {0};

    ask_q(ld, "big.lan", SR_TYPE_TXT, false, 512, &r);
    ck_assert(sr_msg_flags(r.m) & SR_FLAG_TC);
    ck_assert_uint_eq(sr_msg_section_count(r.m, SR_SECTION_ANSWER), 0);
    ck_assert(!sr_msg_edns(r.m)->present);
    ask_q(ld, "big.lan", SR_TYPE_A, true, 4096, &r); /* NODATA fits */
    ck_assert(!(sr_msg_flags(r.m) & SR_FLAG_TC));
    ck_assert(sr_msg_edns(r.m)->present);
    /* Too big for the scratch buffer here (4 KiB) too: TC, never cut. */
    ask_q(ld, "big.lan", SR_TYPE_TXT, true, 65535, &r);
    ck_assert(sr_msg_flags(r.m) & SR_FLAG_TC);
    for (int i = 0; i < 40; i++)
        free(recs[i]);
    free(recs);
    sr_msg_free(r.m);
    localdata_unref(ld);
}
END_TEST

START_TEST(test_answer_allocates_nothing)
{
    static const char *const recs[] = {"nas.lan A 192.168.1.10", "www.lan CNAME nas.lan."};
    localdata_t *ld = build(recs, 2, "", true);
    uint8_t out[1500], qn[64];
    size_t ql, n;
    cache_query_t q = {
        .id = 1, .qtype = SR_TYPE_A, .qclass = SR_CLASS_IN, .max_len = 1232, .edns = true};
    static const char *const names[] = {"nas.lan", "WWW.lan", "x.home.arpa", "localhost",
                                        "example.com"};

    for (size_t i = 0; i < 5; i++) {
        sr_name_from_text(names[i], qn, sizeof(qn), &ql);
        q.qname = qn;
        q.qname_len = ql;
        unsigned long before = atomic_load(&alloc_calls);
        local_source_t s = localdata_answer(ld, &q, NULL, NULL, out, sizeof(out), &n);
        ck_assert_uint_eq(atomic_load(&alloc_calls) - before, 0);
        ck_assert_int_eq(s == LOCAL_NONE, i == 4);
    }
    localdata_unref(ld);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("localdata");
    add_tcase(s, "parse", NULL, NULL, TESTS(test_parse_record, test_split));
    add_tcase(s, "match", NULL, NULL,
              TESTS(test_match_case_and_boundaries, test_nodata_ttl_cname_ptr,
                    test_cname_beside_data_refused, test_hosts, test_many_names_one_address,
                    test_special_names, test_covered_and_local_first, test_truncation_and_edns,
                    test_answer_allocates_nothing));
    return run_suite(s);
}
