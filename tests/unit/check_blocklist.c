/* Unit tests of the block lists (src/daemon/blocklist.c): the three line
 * formats, comments and bad lines, matching on label boundaries and
 * case-insensitively, file:line for `block check`, the shared holder's
 * snapshots, the rendered answers and CNAME cloaking. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <stubres/wire.h>

#include "blocklist.h"
#include "check-main.h"
#include "pktbuild.h"

static bool blocked(const bl_table_t *t, const char *text)
{
    uint8_t wire[SR_NAME_MAX_WIRE];
    size_t len = 0;

    ck_assert_int_eq(sr_name_from_text(text, wire, sizeof(wire), &len), SR_OK);
    return bl_table_match(t, wire, len, NULL);
}

static bl_table_t *parse(const char *text)
{
    bl_table_t *t = bl_table_parse("list", text, strlen(text));
    ck_assert_ptr_nonnull(t);
    return t;
}

START_TEST(test_formats)
{
    bl_table_t *t = parse("# a comment\n"
                          "! an adblock comment\n"
                          "\n"
                          "plain.example\n"
                          "0.0.0.0 hosts1.example hosts2.example # two names, a comment\n"
                          "127.0.0.1\thosts3.example\r\n"
                          ":: hosts4.example\n"
                          "::1 hosts5.example\n"
                          "||adblock.example^\n"
                          "*.wild.example\n"
                          "trailing.dot.example.\n"
                          "   spaced.example   \n");
    const char *yes[] = {"plain.example",   "hosts1.example", "hosts2.example",
                         "hosts3.example",  "hosts4.example", "hosts5.example",
                         "adblock.example", "wild.example",   "trailing.dot.example",
                         "spaced.example"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        ck_assert_msg(blocked(t, yes[i]), "%s is not blocked", yes[i]);
    ck_assert_uint_eq(bl_table_count(t), 10);
    ck_assert_uint_eq(bl_table_file_names(t, 0), 10);
    bl_table_unref(t);
}
END_TEST

START_TEST(test_bad_lines)
{
    /* None of these is a name, a blocking hosts line or ||NAME^. */
    bl_table_t *t =
        parse("this is not a rule\n"
              "||modifiers.example^$third-party\n"
              "||noend.example\n"
              "@@||exception.example^\n"
              ".\n"
              "bad..name.example\n"
              "slash/name.example\n"
              "0.0.0.0 bad!name.example\n"
              "a,b.example\n"
              ",\n"
              " , ,\n"
              "x0123456789012345678901234567890123456789012345678901234567890123.example\n"
              "ok.example\n");
    ck_assert_uint_eq(bl_table_count(t), 1);
    ck_assert(blocked(t, "ok.example"));
    ck_assert(!blocked(t, "modifiers.example"));
    ck_assert(!blocked(t, "exception.example"));
    ck_assert(!blocked(t, "example"));
    bl_table_unref(t);
}
END_TEST

START_TEST(test_hosts_own_entries)
{
    /* The head of a hosts-format list (StevenBlack's): its own host's
     * names, other addresses: not blocks, and no warnings. */
    bl_table_t *t = parse("127.0.0.1 localhost\n"
                          "127.0.0.1 localhost.localdomain\n"
                          "127.0.0.1 local\n"
                          "255.255.255.255 broadcasthost\n"
                          "::1 localhost ip6-localhost ip6-loopback\n"
                          "fe80::1%lo0 localhost\n"
                          "ff02::1 ip6-allnodes\n"
                          "0.0.0.0 0.0.0.0\n"
                          "0.0.0.0 ads.example\n");
    ck_assert_uint_eq(bl_table_count(t), 1);
    ck_assert(!blocked(t, "localhost"));
    ck_assert(!blocked(t, "local"));
    ck_assert(!blocked(t, "ip6-allnodes"));
    ck_assert(blocked(t, "ads.example"));
    bl_table_unref(t);
}
END_TEST

START_TEST(test_suffix_matching)
{
    bl_table_t *t = parse("ads.example\nTracker.Example.Org\n");

    ck_assert(blocked(t, "ads.example"));
    ck_assert(blocked(t, "x.ads.example"));
    ck_assert(blocked(t, "a.b.c.ads.example."));
    /* Label boundaries: neither a longer label nor the parent. */
    ck_assert(!blocked(t, "bads.example"));
    ck_assert(!blocked(t, "ads.example.com"));
    ck_assert(!blocked(t, "example"));
    ck_assert(!blocked(t, "ads"));
    /* Case, either side. */
    ck_assert(blocked(t, "ADS.EXAMPLE"));
    ck_assert(blocked(t, "www.tracker.example.org"));
    ck_assert(blocked(t, "WWW.TrAcKeR.eXaMpLe.OrG"));
    bl_table_unref(t);
}
END_TEST

START_TEST(test_escaped_dots)
{
    /* One label "ads.example" (an escaped dot, RFC 1035 5.1) is not the
     * two labels "ads" "example", nor below them. */
    bl_table_t *t = parse("ads.example\n");
    ck_assert(!blocked(t, "ads\\.example"));
    ck_assert(!blocked(t, "www.ads\\.example"));
    ck_assert(blocked(t, "ads\\.example.ads.example"));
    bl_table_unref(t);
}
END_TEST

START_TEST(test_where)
{
    char dir[] = "/tmp/check_blocklist.XXXXXX", a[64], b[64], files[160], err[512];
    bl_where_t w;
    uint8_t wire[SR_NAME_MAX_WIRE];
    size_t len;
    FILE *f;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(a, sizeof(a), "%s/a.txt", dir);
    snprintf(b, sizeof(b), "%s/b.txt", dir);
    f = fopen(a, "w");
    fputs("# list a\none.example\n\ntwo.example\n", f);
    fclose(f);
    f = fopen(b, "w");
    fputs("||three.example^\njunk junk\none.example\n0.0.0.0 four.example\n", f);
    fclose(f);
    snprintf(files, sizeof(files), "%s, %s", a, b);

    bl_table_t *t = bl_table_load(files, NULL, err, sizeof(err));
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(bl_table_nfiles(t), 2);
    ck_assert_str_eq(bl_table_file(t, 1), b);
    /* one.example counts for the file that listed it first. */
    ck_assert_uint_eq(bl_table_file_names(t, 0), 2);
    ck_assert_uint_eq(bl_table_file_names(t, 1), 2);
    struct {
        const char *name;
        unsigned file, line;
    } cases[] = {{"one.example", 0, 2},
                 {"x.two.example", 0, 4},
                 {"three.example", 1, 1},
                 {"www.four.example", 1, 4}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(sr_name_from_text(cases[i].name, wire, sizeof(wire), &len), SR_OK);
        ck_assert(bl_table_match(t, wire, len, &w));
        ck_assert_uint_eq(w.file, cases[i].file);
        ck_assert_uint_eq(w.line, cases[i].line);
    }
    bl_table_unref(t);

    /* A list that cannot be read fails the load and says which. */
    unlink(b);
    ck_assert_ptr_null(bl_table_load(files, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, b) != NULL && strstr(err, "No such file") != NULL, "%s", err);
    ck_assert_ptr_null(bl_table_load("/", NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, "not a regular file") != NULL, "%s", err);
    unlink(a);
    rmdir(dir);
}
END_TEST

START_TEST(test_many)
{
    /* 30,000 names: every one found, none of their neighbours, and the
     * memory per name what blocklist.c's header says. */
    size_t n = 30000, cap = n * 32, off = 0;
    char *text = malloc(cap), name[64];
    uint8_t wire[SR_NAME_MAX_WIRE];
    size_t len;

    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(text + off, cap - off, "0.0.0.0 ad%zu.example%zu.com\n", i, i % 7);
    bl_table_t *t = bl_table_parse("big", text, off);
    ck_assert_uint_eq(bl_table_count(t), n);
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "www.ad%zu.example%zu.com", i, i % 7);
        ck_assert_int_eq(sr_name_from_text(name, wire, sizeof(wire), &len), SR_OK);
        ck_assert(bl_table_match(t, wire, len, NULL));
        snprintf(name, sizeof(name), "ad%zu.example%zu.com", i, (i + 1) % 7);
        ck_assert_int_eq(sr_name_from_text(name, wire, sizeof(wire), &len), SR_OK);
        ck_assert(!bl_table_match(t, wire, len, NULL));
    }
    ck_assert_msg(bl_table_bytes(t) / n < 64, "%zu bytes a name", bl_table_bytes(t) / n);
    bl_table_unref(t);
    free(text);
}
END_TEST

START_TEST(test_holder)
{
    char err[512], by[512];
    bl_view_t v = {0};
    blocklist_t *b = blocklist_new();
    uint8_t wire[SR_NAME_MAX_WIRE];
    size_t len;

    ck_assert_ptr_nonnull(b);
    /* Nothing listed: no snapshot at all (the query path's fast case). */
    ck_assert_ptr_null(blocklist_view(b, &v));
    ck_assert_int_eq(blocklist_set_names(b, "Added.Example, other.example", err, sizeof(err)), 0);
    const bl_snap_t *s = blocklist_view(b, &v);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(sr_name_from_text("x.added.example", wire, sizeof(wire), &len), SR_OK);
    ck_assert(bl_snap_match(s, wire, len));
    ck_assert(blocklist_check(b, wire, len, by, sizeof(by)));
    ck_assert_str_eq(by, "block add");
    /* The view keeps its snapshot until the next look. */
    ck_assert_int_eq(blocklist_set_names(b, "", err, sizeof(err)), 0);
    ck_assert(bl_snap_match(s, wire, len));
    ck_assert_ptr_null(blocklist_view(b, &v));
    ck_assert(!blocklist_check(b, wire, len, by, sizeof(by)));
    ck_assert_int_eq(blocklist_set_names(b, "bad..name", err, sizeof(err)), -1);
    /* A file that cannot be read: -1 at start, nothing changes. */
    ck_assert_int_eq(blocklist_load(b, "/nonexistent/list", true, err, sizeof(err)), -1);
    ck_assert_ptr_null(blocklist_view(b, &v));
    /* In the background: the view sees it once it is in force. */
    ck_assert_int_eq(blocklist_load(b, "", false, err, sizeof(err)), 0);
    blocklist_view_release(&v);
    blocklist_free(b);
}
END_TEST

static cache_query_t query(const uint8_t *qname, size_t len, uint16_t qtype, bool edns)
{
    cache_query_t q;
    memset(&q, 0, sizeof(q));
    q.id = 0x1234;
    q.flags = SR_FLAG_RD;
    q.qname = qname;
    q.qname_len = len;
    q.qtype = qtype;
    q.qclass = SR_CLASS_IN;
    q.edns = edns;
    q.do_bit = edns;
    q.max_len = 512;
    return q;
}

START_TEST(test_answers)
{
    static const uint8_t qname[] = "\3AdS\7ExAmPlE";
    uint8_t out[512];
    sr_msg_t *m = sr_msg_new();
    bl_table_t *files = NULL;
    char err[128];
    blocklist_t *b = blocklist_new();
    bl_view_t v = {0};
    size_t n;

    ck_assert_int_eq(blocklist_set_names(b, "ads.example", err, sizeof(err)), 0);
    const bl_snap_t *s = blocklist_view(b, &v);

    /* null, A, with EDNS: 0.0.0.0, the client's case, the OPT back. */
    cache_query_t q = query(qname, sizeof(qname), SR_TYPE_A, true);
    n = blocklist_answer(s, BLOCK_NULL, &q, out, sizeof(out));
    ck_assert_uint_gt(n, 0);
    ck_assert_int_eq(sr_msg_parse(m, out, n, 0), SR_OK);
    ck_assert_uint_eq(sr_msg_id(m), 0x1234);
    ck_assert_uint_eq(sr_msg_rcode(m), 0);
    ck_assert(sr_msg_flags(m) & SR_FLAG_RD);
    ck_assert_str_eq(sr_msg_qname(m), "AdS.ExAmPlE");
    ck_assert_uint_eq(sr_msg_section_count(m, SR_SECTION_ANSWER), 1);
    ck_assert_str_eq(sr_msg_rr(m, 0)->name, "AdS.ExAmPlE");
    ck_assert_uint_eq(sr_msg_rr(m, 0)->ttl, BLOCK_TTL);
    ck_assert_str_eq(sr_rr_field(sr_msg_rr(m, 0), "ADDRESS"), "0.0.0.0");
    ck_assert(sr_msg_edns(m)->present && sr_msg_edns(m)->do_bit);
    /* AAAA: ::. */
    q = query(qname, sizeof(qname), SR_TYPE_AAAA, false);
    n = blocklist_answer(s, BLOCK_NULL, &q, out, sizeof(out));
    ck_assert_int_eq(sr_msg_parse(m, out, n, 0), SR_OK);
    ck_assert_str_eq(sr_rr_field(sr_msg_rr(m, 0), "ADDRESS"), "::");
    ck_assert(!sr_msg_edns(m)->present);
    /* Other types: NODATA; nxdomain and refused: that RCODE, no record. */
    q = query(qname, sizeof(qname), SR_TYPE_MX, false);
    n = blocklist_answer(s, BLOCK_NULL, &q, out, sizeof(out));
    ck_assert_int_eq(sr_msg_parse(m, out, n, 0), SR_OK);
    ck_assert_uint_eq(sr_msg_rcode(m), 0);
    ck_assert_uint_eq(sr_msg_rr_count(m), 0);
    q = query(qname, sizeof(qname), SR_TYPE_A, false);
    n = blocklist_answer(s, BLOCK_NXDOMAIN, &q, out, sizeof(out));
    ck_assert_int_eq(sr_msg_parse(m, out, n, 0), SR_OK);
    ck_assert_uint_eq(sr_msg_rcode(m), 3);
    ck_assert_uint_eq(sr_msg_rr_count(m), 0);
    n = blocklist_answer(s, BLOCK_REFUSED, &q, out, sizeof(out));
    ck_assert_int_eq(sr_msg_parse(m, out, n, 0), SR_OK);
    ck_assert_uint_eq(sr_msg_rcode(m), 5);
    /* Too small a buffer, and names not listed: nothing. */
    ck_assert_uint_eq(blocklist_answer(s, BLOCK_NULL, &q, out, 20), 0);
    static const uint8_t other[] = "\3www\7example";
    q = query(other, sizeof(other), SR_TYPE_A, false);
    ck_assert_uint_eq(blocklist_answer(s, BLOCK_NULL, &q, out, sizeof(out)), 0);
    ck_assert_uint_eq(blocklist_answer(NULL, BLOCK_NULL, &q, out, sizeof(out)), 0);

    /* The hit path allocates nothing: with every allocation failing, a
     * blocked answer still comes out. */
    q = query(qname, sizeof(qname), SR_TYPE_A, true);
    sr_alloc_fail_after(0);
    n = blocklist_answer(s, BLOCK_NULL, &q, out, sizeof(out));
    sr_alloc_fail_after(-1);
    ck_assert_uint_gt(n, 0);

    (void)files;
    blocklist_view_release(&v);
    blocklist_free(b);
    sr_msg_free(m);
}
END_TEST

/* A response for www.site.example whose answer is a CNAME chain through
 * mid (listed or not) to the end. */
static void cloak_msg(sr_msg_t *m, tpkt_t *p, const char *mid)
{
    uint8_t q[SR_NAME_MAX_WIRE], mw[SR_NAME_MAX_WIRE], end[SR_NAME_MAX_WIRE];
    size_t ql, ml, el;

    sr_name_from_text("www.site.example", q, sizeof(q), &ql);
    sr_name_from_text(mid, mw, sizeof(mw), &ml);
    sr_name_from_text("edge.cdn.example", end, sizeof(end), &el);
    tpkt_init(p, 512, true);
    tpkt_put(p, q, ql);
    tpkt_u16(p, SR_TYPE_A);
    tpkt_u16(p, SR_CLASS_IN);
    p->count[0] = 1;
    tpkt_rr(p, 1, q, ql, SR_TYPE_CNAME, SR_CLASS_IN, 300, (uint16_t)ml);
    tpkt_put(p, mw, ml);
    tpkt_rr(p, 1, mw, ml, SR_TYPE_CNAME, SR_CLASS_IN, 300, (uint16_t)el);
    tpkt_put(p, end, el);
    tpkt_rr(p, 1, end, el, SR_TYPE_A, SR_CLASS_IN, 300, 4);
    tpkt_u32(p, 0x0A000001);
    tpkt_header(p, 1, SR_FLAG_QR | SR_FLAG_RD | SR_FLAG_RA);
    ck_assert(!p->bad);
    ck_assert_int_eq(sr_msg_parse(m, p->d.p, p->d.len, SR_PARSE_NO_FIELDS), SR_OK);
}

START_TEST(test_cloaking)
{
    char err[128];
    blocklist_t *b = blocklist_new();
    bl_view_t v = {0};
    sr_msg_t *m = sr_msg_new();
    tpkt_t p;

    ck_assert_int_eq(blocklist_set_names(b, "tracker.example", err, sizeof(err)), 0);
    const bl_snap_t *s = blocklist_view(b, &v);
    /* A CNAME target that is listed, or below a listed name. */
    cloak_msg(m, &p, "metrics.tracker.example");
    ck_assert(blocklist_cloaked(s, m));
    tpkt_free(&p);
    /* A chain through names not listed. */
    cloak_msg(m, &p, "www.site-cdn.example");
    ck_assert(!blocklist_cloaked(s, m));
    ck_assert(!blocklist_cloaked(NULL, m));
    tpkt_free(&p);
    /* The chain's last owner listed. */
    ck_assert_int_eq(blocklist_set_names(b, "cdn.example", err, sizeof(err)), 0);
    s = blocklist_view(b, &v);
    cloak_msg(m, &p, "www.site-cdn.example");
    ck_assert(blocklist_cloaked(s, m));
    tpkt_free(&p);
    blocklist_view_release(&v);
    blocklist_free(b);
    sr_msg_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("blocklist");
    add_tcase(s, "parse", NULL, NULL,
              TESTS(test_formats, test_bad_lines, test_hosts_own_entries, test_where));
    /* test_many takes a fraction of a second of CPU; a shared machine
     * stretches that. */
    tcase_set_timeout(add_tcase(s, "match", NULL, NULL,
                                TESTS(test_suffix_matching, test_escaped_dots, test_many)),
                      60);
    add_tcase(s, "holder", NULL, NULL, TESTS(test_holder, test_answers, test_cloaking));
    return run_suite(s);
}
