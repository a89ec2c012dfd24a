/* Unit tests: the answer cache (src/daemon/cache.c).
 *
 * The upstream responses come from tests/unit/data/cache/gen.py
 * (dnspython); the many-names tests build simple A responses by hand. The
 * clock is a parameter of every call, so expiry is tested without
 * sleeping. Every malloc/calloc/realloc of the statically linked code is
 * counted through the linker's --wrap (Makefile.am) to show that a hit
 * allocates nothing. */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <stubres/wire.h>

#include "cache.h"
#include "lib-internal.h"
#include "check-main.h"

/* ---- allocation counter (ld --wrap) ---- */

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

/* ---- helpers ---- */

#define T0 1000u

static cache_cfg_t default_cfg(void)
{
    cache_cfg_t cfg = {
        .max_bytes = 1u << 20,
        .min_ttl = 0,
        .max_ttl = 86400,
        .negative_ttl = 3600,
        .servfail_ttl = 5,
        .serve_stale = false,
        .stale_max = 3600,
        .stale_reply_ttl = 30,
        .prefetch = false,
        .shards = 0,
    };
    return cfg;
}

static sr_msg_t *msg_file(const char *name)
{
    char path[512];
    uint8_t buf[65536];
    snprintf(path, sizeof(path), "%s/cache/%s.bin", TEST_DATA_DIR, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    sr_msg_t *m = sr_msg_new();
    ck_assert_ptr_nonnull(m);
    ck_assert_msg(sr_msg_parse(m, buf, n, 0) == SR_OK, "%s: %s", name, sr_msg_error(m));
    return m;
}

static size_t file_len(const char *name)
{
    sr_msg_t *m = msg_file(name);
    size_t len;
    sr_msg_wire(m, &len);
    sr_msg_free(m);
    return len;
}

/* Store a response under its own question. */
static bool store_msg(cache_t *c, const sr_msg_t *m, bool do_bit, bool cd, uint32_t now)
{
    size_t qlen = 0;
    const uint8_t *qn = sr_msg_qname_wire(m, &qlen);
    return cache_store(c, qn, qlen, sr_msg_qtype(m), sr_msg_qclass(m), do_bit, cd, m, now);
}

static bool store_file(cache_t *c, const char *name, uint32_t now)
{
    sr_msg_t *m = msg_file(name);
    bool ok = store_msg(c, m, false, false, now);
    sr_msg_free(m);
    return ok;
}

/* A client's question: owns the name buffer the query points to. */
typedef struct tq {
    cache_query_t q;
    uint8_t name[SR_NAME_MAX_WIRE];
} tq_t;

static void tq_init(tq_t *t, const char *name, uint16_t qtype)
{
    size_t len = 0;
    memset(t, 0, sizeof(*t));
    ck_assert_int_eq(sr_name_from_text(name, t->name, sizeof(t->name), &len), SR_OK);
    t->q.id = 0xBEEF;
    t->q.flags = SR_FLAG_RD;
    t->q.qname = t->name;
    t->q.qname_len = len;
    t->q.qtype = qtype;
    t->q.qclass = SR_CLASS_IN;
    t->q.max_len = 512;
}

static void tq_edns(tq_t *t, bool do_bit, uint16_t size)
{
    t->q.edns = true;
    t->q.do_bit = do_bit;
    t->q.max_len = size;
}

typedef struct reply {
    cache_result_t res;
    uint8_t buf[65536 + 64];
    size_t len;
    sr_msg_t *m;
} reply_t;

static reply_t *reply_new(void)
{
    reply_t *r = calloc(1, sizeof(*r));
    ck_assert_ptr_nonnull(r);
    r->m = sr_msg_new();
    ck_assert_ptr_nonnull(r->m);
    return r;
}

static void reply_free(reply_t *r)
{
    if (r == NULL)
        return;
    sr_msg_free(r->m);
    free(r);
}

/* Look up and, on anything but a miss, parse the reply. */
static cache_result_t ask(cache_t *c, const tq_t *t, uint32_t now, bool allow_stale, reply_t *r)
{
    r->res = cache_lookup(c, &t->q, now, allow_stale, r->buf, sizeof(r->buf), &r->len);
    if (r->res != CACHE_MISS) {
        ck_assert_uint_gt(r->len, 0);
        ck_assert_msg(sr_msg_parse(r->m, r->buf, r->len, 0) == SR_OK, "reply does not parse: %s",
                      sr_msg_error(r->m));
    } else {
        ck_assert_uint_eq(r->len, 0);
    }
    return r->res;
}

static const sr_rr_t *rr_at(const reply_t *r, size_t i)
{
    const sr_rr_t *rr = sr_msg_rr(r->m, i);
    ck_assert_ptr_nonnull(rr);
    return rr;
}

/* What most tests work on: the default settings, a cache made with them,
 * a reply and a question. */
typedef struct cx {
    cache_cfg_t cfg;
    cache_t *c;
    reply_t *r;
    tq_t t;
} cx_t;

static cx_t *cx_open(void)
{
    cx_t *x = calloc(1, sizeof(*x));

    ck_assert_ptr_nonnull(x);
    x->cfg = default_cfg();
    x->c = cache_new(&x->cfg);
    x->r = reply_new();
    return x;
}

static void cx_close(cx_t *x)
{
    reply_free(x->r);
    cache_free(x->c);
    free(x);
}

/* t asked at now (no stale answers): a hit whose RR i has TTL ttl. */
static void hit_ttl(cache_t *c, const tq_t *t, uint32_t now, reply_t *r, size_t i, uint32_t ttl)
{
    ck_assert_msg(ask(c, t, now, false, r) == CACHE_HIT, "T0%+ld: not a hit", (long)now - T0);
    ck_assert_msg(rr_at(r, i)->ttl == ttl, "T0%+ld: RR %zu has TTL %u, want %u", (long)now - T0, i,
                  (unsigned)rr_at(r, i)->ttl, (unsigned)ttl);
}

/* t asked at now (no stale answers): a miss. */
static void miss_at(cache_t *c, const tq_t *t, uint32_t now, reply_t *r)
{
    ck_assert_msg(ask(c, t, now, false, r) == CACHE_MISS, "T0%+ld: not a miss", (long)now - T0);
}

static const char *field0(const sr_rr_t *rr)
{
    ck_assert_uint_gt(rr->field_count, 0);
    return rr->fields[0].value;
}

/* A NOERROR response with one A record for name (for the many-names
 * tests): header, question, one answer compressed against it. */
static sr_msg_t *msg_a(const char *name, uint32_t ttl, uint32_t addr)
{
    uint8_t pkt[512];
    size_t qlen = 0, off;
    ck_assert_int_eq(sr_name_from_text(name, pkt + 12, 255, &qlen), SR_OK);
    memset(pkt, 0, 12);
    sr_put16(pkt, 7);
    sr_put16(pkt + 2, 0x8180);
    sr_put16(pkt + 4, 1);
    sr_put16(pkt + 6, 1);
    off = 12 + qlen;
    sr_put16(pkt + off, SR_TYPE_A);
    sr_put16(pkt + off + 2, SR_CLASS_IN);
    off += 4;
    sr_put16(pkt + off, 0xC00C);
    sr_put16(pkt + off + 2, SR_TYPE_A);
    sr_put16(pkt + off + 4, SR_CLASS_IN);
    sr_put32(pkt + off + 6, ttl);
    sr_put16(pkt + off + 10, 4);
    sr_put32(pkt + off + 12, addr);
    off += 16;
    sr_msg_t *m = sr_msg_new();
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(sr_msg_parse(m, pkt, off, 0), SR_OK);
    return m;
}

/* A SERVFAIL response to name/A. */
static sr_msg_t *msg_servfail(const char *name)
{
    uint8_t pkt[512];
    size_t qlen = 0;
    ck_assert_int_eq(sr_name_from_text(name, pkt + 12, 255, &qlen), SR_OK);
    memset(pkt, 0, 12);
    sr_put16(pkt + 2, 0x8182);
    sr_put16(pkt + 4, 1);
    sr_put16(pkt + 12 + qlen, SR_TYPE_A);
    sr_put16(pkt + 12 + qlen + 2, SR_CLASS_IN);
    sr_msg_t *m = sr_msg_new();
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(sr_msg_parse(m, pkt, 12 + qlen + 4, 0), SR_OK);
    return m;
}

static bool store_a(cache_t *c, const char *name, uint32_t ttl, uint32_t addr, uint32_t now)
{
    sr_msg_t *m = msg_a(name, ttl, addr);
    bool ok = store_msg(c, m, false, false, now);
    sr_msg_free(m);
    return ok;
}

static cache_stats_t stats_of(const cache_t *c)
{
    cache_stats_t st;
    cache_stats(c, &st);
    return st;
}

/* ---- tests ---- */

START_TEST(test_hit_counts_ttl_down)
{
    cx_t *x = cx_open();

    tq_init(&x->t, "www.example.test", SR_TYPE_A);
    miss_at(x->c, &x->t, T0, x->r);
    ck_assert(store_file(x->c, "a_www", T0));

    ck_assert_int_eq(ask(x->c, &x->t, T0, false, x->r), CACHE_HIT);
    ck_assert_uint_eq(sr_msg_rr_count(x->r->m), 2);
    ck_assert_uint_eq(rr_at(x->r, 0)->ttl, 300);
    /* dnspython writes the RRset in its own order: compare as a set. */
    ck_assert(strcmp(field0(rr_at(x->r, 0)), field0(rr_at(x->r, 1))) != 0);
    ck_assert(strcmp(field0(rr_at(x->r, 0)), "192.0.2.1") == 0 ||
              strcmp(field0(rr_at(x->r, 0)), "192.0.2.2") == 0);
    ck_assert(strcmp(field0(rr_at(x->r, 1)), "192.0.2.1") == 0 ||
              strcmp(field0(rr_at(x->r, 1)), "192.0.2.2") == 0);

    hit_ttl(x->c, &x->t, T0 + 100, x->r, 0, 200);
    ck_assert_uint_eq(rr_at(x->r, 1)->ttl, 200);
    hit_ttl(x->c, &x->t, T0 + 299, x->r, 0, 1);
    /* A clock that reads a little behind the storing thread's. */
    hit_ttl(x->c, &x->t, T0 - 3, x->r, 0, 300);

    /* At T0 + 300 the TTL would be 0: expired, dropped. */
    miss_at(x->c, &x->t, T0 + 300, x->r);
    cache_stats_t st = stats_of(x->c);
    ck_assert_uint_eq(st.expired, 1);
    ck_assert_uint_eq(st.entries, 0);
    ck_assert_uint_eq(st.bytes, 0);
    miss_at(x->c, &x->t, T0 + 300, x->r);

    cx_close(x);
}
END_TEST

START_TEST(test_question_case_preserved)
{
    cx_t *x = cx_open();

    ck_assert(store_file(x->c, "a_www", T0));
    /* 0x20-style mixed case: the question comes back byte for byte, and
     * so do the answer owners, which are compressed against it. */
    tq_init(&x->t, "wWw.EXAMPLE.tEst", SR_TYPE_A);
    ck_assert_int_eq(ask(x->c, &x->t, T0, false, x->r), CACHE_HIT);
    ck_assert_mem_eq(x->r->buf + 12, x->t.name, x->t.q.qname_len);
    ck_assert_str_eq(sr_msg_qname(x->r->m), "wWw.EXAMPLE.tEst");
    ck_assert_str_eq(rr_at(x->r, 0)->name, "wWw.EXAMPLE.tEst");

    /* A response stored under a mixed-case question answers lowercase. */
    ck_assert(store_file(x->c, "a_www_mixed", T0));
    ck_assert_uint_eq(stats_of(x->c).entries, 1); /* same key: replaced */
    tq_init(&x->t, "www.example.test", SR_TYPE_A);
    ck_assert_int_eq(ask(x->c, &x->t, T0, false, x->r), CACHE_HIT);
    ck_assert_str_eq(sr_msg_qname(x->r->m), "www.example.test");
    ck_assert_str_eq(rr_at(x->r, 0)->name, "www.example.test");

    cx_close(x);
}
END_TEST

/* Only ASCII letters fold (RFC 4343): the bytes next to them ('@', '[',
 * '`', '{') and their images above 0x80 do not. Both the word-at-a-time
 * path (names of 8 bytes and more) and the byte path (shorter) are hit. */
START_TEST(test_case_folding_exact)
{
    static const char *const pairs[][2] = {
        /* stored, asked: hit */
        {"AbCxYz.Example.TEST", "aBcXyZ.eXAMPLE.test"},
        {"Az", "aZ"},
        {"\\192Q\\255.\\000z.test", "\\192q\\255.\\000Z.TEST"},
    };
    static const char *const misses[][2] = {
        /* stored, asked: must miss (0x20 apart, but not letters) */
        {"x@x.example.test", "x`x.example.test"},
        {"x[x.example.test", "x{x.example.test"},
        {"x\\193x.example.test", "x\\225x.example.test"},
        {"a@", "a`"},
        {"a\\193", "a\\225"},
        {"a]^_", "a}~\\127"},
    };
    cache_cfg_t cfg = default_cfg();
    cache_t *c = cache_new(&cfg);
    reply_t *r = reply_new();
    tq_t t;

    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        ck_assert(store_a(c, pairs[i][0], 300, 1, T0));
        tq_init(&t, pairs[i][1], SR_TYPE_A);
        ck_assert_msg(ask(c, &t, T0, false, r) == CACHE_HIT, "%s", pairs[i][1]);
        ck_assert_mem_eq(r->buf + 12, t.name, t.q.qname_len);
    }
    for (size_t i = 0; i < sizeof(misses) / sizeof(misses[0]); i++) {
        ck_assert(store_a(c, misses[i][0], 300, 1, T0));
        tq_init(&t, misses[i][1], SR_TYPE_A);
        ck_assert_msg(ask(c, &t, T0, false, r) == CACHE_MISS, "%s", misses[i][1]);
    }
    reply_free(r);
    cache_free(c);
}
END_TEST

START_TEST(test_header_patched)
{
    cx_t *x = cx_open();

    ck_assert(store_file(x->c, "a_www", T0)); /* upstream: AA, AD, ID 0x1234 */
    tq_init(&x->t, "www.example.test", SR_TYPE_A);
    x->t.q.id = 0x4321;
    ck_assert_int_eq(ask(x->c, &x->t, T0, false, x->r), CACHE_HIT);
    uint16_t f = sr_msg_flags(x->r->m);
    ck_assert_uint_eq(sr_msg_id(x->r->m), 0x4321);
    ck_assert(f & SR_FLAG_QR);
    ck_assert(f & SR_FLAG_RA);
    ck_assert(f & SR_FLAG_RD);
    ck_assert(!(f & SR_FLAG_AA)); /* we are not authoritative */
    ck_assert(!(f & SR_FLAG_AD)); /* the client asked for neither AD nor DO */
    ck_assert(!(f & SR_FLAG_CD));
    ck_assert(!(f & SR_FLAG_TC));
    ck_assert_uint_eq(sr_msg_opcode(x->r->m), 0);
    ck_assert_uint_eq(sr_msg_rcode(x->r->m), 0);

    /* RD is copied, also when clear. */
    x->t.q.flags = 0;
    ck_assert_int_eq(ask(x->c, &x->t, T0, false, x->r), CACHE_HIT);
    ck_assert(!(sr_msg_flags(x->r->m) & SR_FLAG_RD));

    /* AD set by the client: AD (RFC 6840 5.8). */
    x->t.q.flags = SR_FLAG_RD | SR_FLAG_AD;
    ck_assert_int_eq(ask(x->c, &x->t, T0, false, x->r), CACHE_HIT);
    ck_assert(sr_msg_flags(x->r->m) & SR_FLAG_AD);

    /* CD is part of the key, and copied. */
    x->t.q.flags = SR_FLAG_RD | SR_FLAG_CD;
    miss_at(x->c, &x->t, T0, x->r);
    sr_msg_t *m = msg_file("a_www");
    ck_assert(store_msg(x->c, m, false, true, T0));
    sr_msg_free(m);
    ck_assert_int_eq(ask(x->c, &x->t, T0, false, x->r), CACHE_HIT);
    ck_assert(sr_msg_flags(x->r->m) & SR_FLAG_CD);
    ck_assert(sr_msg_flags(x->r->m) & SR_FLAG_RD);

    /* DO is part of the key; a DO client gets AD when upstream set it. */
    tq_init(&x->t, "www.example.test", SR_TYPE_AAAA);
    tq_edns(&x->t, true, 1232);
    miss_at(x->c, &x->t, T0, x->r);
    m = msg_file("aaaa_www_do");
    ck_assert(store_msg(x->c, m, true, false, T0));
    sr_msg_free(m);
    ck_assert_int_eq(ask(x->c, &x->t, T0, false, x->r), CACHE_HIT);
    ck_assert(sr_msg_flags(x->r->m) & SR_FLAG_AD);
    ck_assert(sr_msg_edns(x->r->m)->do_bit);
    tq_edns(&x->t, false, 1232);
    miss_at(x->c, &x->t, T0, x->r);

    cx_close(x);
}
END_TEST

START_TEST(test_edns_only_when_client_sent_opt)
{
    cx_t *x = cx_open();

    ck_assert(store_file(x->c, "mx_glue", T0)); /* upstream had an OPT */
    tq_init(&x->t, "example.test", SR_TYPE_MX);
    ck_assert_int_eq(ask(x->c, &x->t, T0, false, x->r), CACHE_HIT);
    ck_assert(!sr_msg_edns(x->r->m)->present);
    ck_assert_uint_eq(sr_msg_section_count(x->r->m, SR_SECTION_ANSWER), 1);
    ck_assert_uint_eq(sr_msg_section_count(x->r->m, SR_SECTION_AUTHORITY), 1);
    ck_assert_uint_eq(sr_msg_section_count(x->r->m, SR_SECTION_ADDITIONAL), 2);
    ck_assert_uint_eq(sr_get16(x->r->buf + 10), 2);

    tq_edns(&x->t, false, 4096);
    ck_assert_int_eq(ask(x->c, &x->t, T0, false, x->r), CACHE_HIT);
    const sr_edns_t *e = sr_msg_edns(x->r->m);
    ck_assert(e->present);
    ck_assert_uint_eq(e->udp_size, CACHE_EDNS_UDP_SIZE);
    ck_assert_uint_eq(e->version, 0);
    ck_assert(!e->do_bit);
    ck_assert_uint_eq(e->opt_count, 0);
    ck_assert_uint_eq(sr_get16(x->r->buf + 10), 3);
    ck_assert_uint_eq(sr_msg_section_count(x->r->m, SR_SECTION_ADDITIONAL), 2);

    /* An upstream without EDNS, a client with it: we still add ours. */
    ck_assert(store_file(x->c, "a_noedns", T0));
    tq_init(&x->t, "noedns.example.test", SR_TYPE_A);
    tq_edns(&x->t, false, 1232);
    ck_assert_int_eq(ask(x->c, &x->t, T0, false, x->r), CACHE_HIT);
    ck_assert(sr_msg_edns(x->r->m)->present);
    ck_assert_uint_eq(sr_msg_rr_count(x->r->m), 1);

    cx_close(x);
}
END_TEST

START_TEST(test_truncation)
{
    cx_t *x = cx_open();

    ck_assert(store_file(x->c, "a_big", T0)); /* 40 A records, > 512 bytes */
    tq_init(&x->t, "big.example.test", SR_TYPE_A);
    ck_assert_int_eq(ask(x->c, &x->t, T0, false, x->r), CACHE_HIT);
    ck_assert(sr_msg_flags(x->r->m) & SR_FLAG_TC);
    ck_assert_uint_eq(x->r->len, 12 + x->t.q.qname_len + 4);
    ck_assert_uint_eq(sr_msg_rr_count(x->r->m), 0);
    ck_assert_uint_eq(sr_msg_qdcount(x->r->m), 1);
    ck_assert_uint_eq(sr_msg_qtype(x->r->m), SR_TYPE_A);
    ck_assert_uint_eq(sr_msg_id(x->r->m), 0xBEEF);

    /* EDNS with room: the whole answer. */
    tq_edns(&x->t, false, 1232);
    ck_assert_int_eq(ask(x->c, &x->t, T0, false, x->r), CACHE_HIT);
    ck_assert(!(sr_msg_flags(x->r->m) & SR_FLAG_TC));
    ck_assert_uint_eq(sr_msg_rr_count(x->r->m), 40);

    /* An EDNS size below 512 counts as 512 (RFC 6891 6.2.3); the TC reply
     * keeps the OPT. */
    tq_edns(&x->t, false, 100);
    ck_assert_int_eq(ask(x->c, &x->t, T0, false, x->r), CACHE_HIT);
    ck_assert(sr_msg_flags(x->r->m) & SR_FLAG_TC);
    ck_assert(sr_msg_edns(x->r->m)->present);
    ck_assert_uint_eq(x->r->len, 12 + x->t.q.qname_len + 4 + 11);
    ck_assert_uint_eq(sr_get16(x->r->buf + 6), 0);
    ck_assert_uint_eq(sr_get16(x->r->buf + 10), 1);

    /* TCP: fits max_len, but not the caller's buffer: a miss, not TC. */
    x->t.q.max_len = 65535;
    size_t len = 99;
    ck_assert_int_eq(cache_lookup(x->c, &x->t.q, T0, false, x->r->buf, 600, &len), CACHE_MISS);
    ck_assert_uint_eq(len, 0);
    /* Not even room for the truncated reply. */
    x->t.q.max_len = 512;
    ck_assert_int_eq(cache_lookup(x->c, &x->t.q, T0, false, x->r->buf, 20, &len), CACHE_MISS);

    cx_close(x);
}
END_TEST

START_TEST(test_ttl_clamp)
{
    cache_cfg_t cfg = default_cfg();
    cfg.min_ttl = 60;
    cfg.max_ttl = 3600;
    cache_t *c = cache_new(&cfg);
    reply_t *r = reply_new();
    tq_t t;

    ck_assert(store_file(c, "a_short", T0)); /* TTL 5 */
    tq_init(&t, "short.example.test", SR_TYPE_A);
    hit_ttl(c, &t, T0, r, 0, 60);
    hit_ttl(c, &t, T0 + 59, r, 0, 1);
    miss_at(c, &t, T0 + 60, r);

    ck_assert(store_file(c, "a_long", T0)); /* TTL 1000000 */
    tq_init(&t, "long.example.test", SR_TYPE_A);
    hit_ttl(c, &t, T0, r, 0, 3600);
    miss_at(c, &t, T0 + 3600, r);

    /* max_ttl 0 caches nothing positive (the limits are literal). */
    cfg.max_ttl = 0;
    cfg.min_ttl = 0;
    cache_set_cfg(c, &cfg);
    ck_assert(!store_file(c, "a_www", T0));

    reply_free(r);
    cache_free(c);
}
END_TEST

START_TEST(test_rrset_ttls_equalised)
{
    cx_t *x = cx_open();

    /* TTLs 100 and 50 in one RRset: both 50 (RFC 2181 5.2). */
    ck_assert(store_file(x->c, "a_ttls_unequal", T0));
    tq_init(&x->t, "ttls.example.test", SR_TYPE_A);
    hit_ttl(x->c, &x->t, T0 + 10, x->r, 0, 40);
    ck_assert_uint_eq(rr_at(x->r, 1)->ttl, 40);
    miss_at(x->c, &x->t, T0 + 50, x->r);

    /* Different RRsets keep their own TTLs; the entry lives as long as
     * the shortest. */
    ck_assert(store_file(x->c, "cname_chain", T0)); /* CNAME 600, A 60 */
    tq_init(&x->t, "alias.example.test", SR_TYPE_A);
    ck_assert_int_eq(ask(x->c, &x->t, T0 + 10, false, x->r), CACHE_HIT);
    ck_assert_uint_eq(sr_msg_rr_count(x->r->m), 2);
    ck_assert_uint_eq(rr_at(x->r, 0)->type, SR_TYPE_CNAME);
    ck_assert_uint_eq(rr_at(x->r, 0)->ttl, 590);
    ck_assert_str_eq(field0(rr_at(x->r, 0)), "cdn.example.net");
    ck_assert_uint_eq(rr_at(x->r, 1)->type, SR_TYPE_A);
    ck_assert_uint_eq(rr_at(x->r, 1)->ttl, 50);
    miss_at(x->c, &x->t, T0 + 60, x->r);

    cx_close(x);
}
END_TEST

START_TEST(test_negative_nxdomain)
{
    cx_t *x = cx_open();

    /* SOA TTL 900, MINIMUM 300: 300 (RFC 2308 5). */
    ck_assert(store_file(x->c, "nxdomain", T0));
    tq_init(&x->t, "NX.example.test", SR_TYPE_A);
    ck_assert_int_eq(ask(x->c, &x->t, T0, false, x->r), CACHE_HIT);
    ck_assert_uint_eq(sr_msg_rcode(x->r->m), 3);
    ck_assert_uint_eq(sr_msg_section_count(x->r->m, SR_SECTION_ANSWER), 0);
    ck_assert_uint_eq(sr_msg_section_count(x->r->m, SR_SECTION_AUTHORITY), 1);
    ck_assert_uint_eq(rr_at(x->r, 0)->type, SR_TYPE_SOA);
    ck_assert_uint_eq(rr_at(x->r, 0)->ttl, 300);
    hit_ttl(x->c, &x->t, T0 + 299, x->r, 0, 1);
    miss_at(x->c, &x->t, T0 + 300, x->r);

    /* Capped by negative_ttl; min_ttl does not raise negative TTLs. */
    x->cfg.negative_ttl = 100;
    x->cfg.min_ttl = 1000;
    cache_set_cfg(x->c, &x->cfg);
    ck_assert(store_file(x->c, "nxdomain", T0));
    hit_ttl(x->c, &x->t, T0, x->r, 0, 100);
    miss_at(x->c, &x->t, T0 + 100, x->r);

    /* negative_ttl 0: no negative caching. */
    x->cfg.negative_ttl = 0;
    cache_set_cfg(x->c, &x->cfg);
    ck_assert(!store_file(x->c, "nxdomain", T0));

    cx_close(x);
}
END_TEST

START_TEST(test_negative_nodata)
{
    cx_t *x = cx_open();

    /* SOA TTL 60, MINIMUM 3600: 60. */
    ck_assert(store_file(x->c, "nodata", T0));
    tq_init(&x->t, "www.example.test", SR_TYPE_TXT);
    ck_assert_int_eq(ask(x->c, &x->t, T0 + 20, false, x->r), CACHE_HIT);
    ck_assert_uint_eq(sr_msg_rcode(x->r->m), 0);
    ck_assert_uint_eq(sr_msg_section_count(x->r->m, SR_SECTION_ANSWER), 0);
    ck_assert_uint_eq(rr_at(x->r, 0)->type, SR_TYPE_SOA);
    ck_assert_uint_eq(rr_at(x->r, 0)->ttl, 40);
    miss_at(x->c, &x->t, T0 + 60, x->r);

    /* NODATA at the end of a CNAME chain: CNAME 600, SOA 120 / MINIMUM
     * 240. Nothing in the answer outlives the negative TTL (120). */
    ck_assert(store_file(x->c, "nodata_cname", T0));
    tq_init(&x->t, "alias.example.test", SR_TYPE_AAAA);
    ck_assert_int_eq(ask(x->c, &x->t, T0, false, x->r), CACHE_HIT);
    ck_assert_uint_eq(rr_at(x->r, 0)->type, SR_TYPE_CNAME);
    ck_assert_uint_eq(rr_at(x->r, 0)->ttl, 120);
    ck_assert_uint_eq(rr_at(x->r, 1)->type, SR_TYPE_SOA);
    ck_assert_uint_eq(rr_at(x->r, 1)->ttl, 120);
    miss_at(x->c, &x->t, T0 + 120, x->r);

    cx_close(x);
}
END_TEST

START_TEST(test_negative_without_soa_not_cached)
{
    cache_cfg_t cfg = default_cfg();
    cache_t *c = cache_new(&cfg);

    /* RFC 2308 5: "Negative responses without SOA records SHOULD NOT be
     * cached" - and we do not, not even briefly. */
    ck_assert(!store_file(c, "nxdomain_nosoa", T0));
    ck_assert(!store_file(c, "nodata_nosoa", T0));
    ck_assert_uint_eq(stats_of(c).entries, 0);
    cache_free(c);
}
END_TEST

START_TEST(test_servfail_remembered)
{
    cx_t *x = cx_open();

    ck_assert(store_file(x->c, "servfail", T0));
    tq_init(&x->t, "fail.example.test", SR_TYPE_A);
    tq_edns(&x->t, false, 1232);
    ck_assert_int_eq(ask(x->c, &x->t, T0 + 4, false, x->r), CACHE_HIT);
    ck_assert_uint_eq(sr_msg_rcode(x->r->m), 2);
    ck_assert_uint_eq(sr_msg_rr_count(x->r->m), 0);
    ck_assert(sr_msg_edns(x->r->m)->present);
    miss_at(x->c, &x->t, T0 + 5, x->r);

    /* A failure without a response (timeouts) is remembered the same. */
    tq_init(&x->t, "down.example.test", SR_TYPE_A);
    ck_assert(cache_store_failure(x->c, x->t.name, x->t.q.qname_len, SR_TYPE_A, SR_CLASS_IN, false,
                                  false, T0));
    ck_assert_int_eq(ask(x->c, &x->t, T0 + 1, false, x->r), CACHE_HIT);
    ck_assert_uint_eq(sr_msg_rcode(x->r->m), 2);
    ck_assert_str_eq(sr_msg_qname(x->r->m), "down.example.test");

    /* A failure does not replace fresh data (a failed prefetch). */
    ck_assert(store_file(x->c, "a_www", T0));
    tq_init(&x->t, "www.example.test", SR_TYPE_A);
    ck_assert(!cache_store_failure(x->c, x->t.name, x->t.q.qname_len, SR_TYPE_A, SR_CLASS_IN, false,
                                   false, T0 + 10));
    ck_assert_int_eq(ask(x->c, &x->t, T0 + 11, false, x->r), CACHE_HIT);
    ck_assert_uint_eq(sr_msg_rcode(x->r->m), 0);

    /* servfail_ttl 0: not remembered. */
    x->cfg.servfail_ttl = 0;
    cache_set_cfg(x->c, &x->cfg);
    ck_assert(!store_file(x->c, "servfail", T0 + 100));

    cx_close(x);
}
END_TEST

START_TEST(test_not_stored)
{
    cache_cfg_t cfg = default_cfg();
    cache_t *c = cache_new(&cfg);
    uint8_t name[SR_NAME_MAX_WIRE];
    size_t nlen = 0;

    ck_assert(!store_file(c, "truncated", T0));
    ck_assert(!store_file(c, "refused", T0));

    /* The question differs from the key: name, type or class. */
    sr_msg_t *m = msg_file("a_www");
    ck_assert_int_eq(sr_name_from_text("other.example.test", name, sizeof(name), &nlen), SR_OK);
    ck_assert(!cache_store(c, name, nlen, SR_TYPE_A, SR_CLASS_IN, false, false, m, T0));
    ck_assert_int_eq(sr_name_from_text("WWW.example.test", name, sizeof(name), &nlen), SR_OK);
    ck_assert(!cache_store(c, name, nlen, SR_TYPE_AAAA, SR_CLASS_IN, false, false, m, T0));
    ck_assert(!cache_store(c, name, nlen, SR_TYPE_A, 3, false, false, m, T0));
    ck_assert(cache_store(c, name, nlen, SR_TYPE_A, SR_CLASS_IN, false, false, m, T0));
    sr_msg_free(m);

    /* A query (QR=0) is no answer. */
    uint8_t pkt[512];
    size_t plen = 0;
    sr_query_opts_t qo = {.id = 1, .rd = true};
    ck_assert_int_eq(
        sr_query_build(pkt, sizeof(pkt), &plen, name, nlen, SR_TYPE_A, SR_CLASS_IN, &qo), SR_OK);
    m = sr_msg_new();
    ck_assert_int_eq(sr_msg_parse(m, pkt, plen, 0), SR_OK);
    ck_assert(!cache_store(c, name, nlen, SR_TYPE_A, SR_CLASS_IN, false, false, m, T0));
    sr_msg_free(m);

    /* Bad arguments. */
    ck_assert(!cache_store(NULL, name, nlen, SR_TYPE_A, SR_CLASS_IN, false, false, NULL, T0));
    ck_assert(!cache_store(c, name, 0, SR_TYPE_A, SR_CLASS_IN, false, false, NULL, T0));
    ck_assert_uint_eq(stats_of(c).entries, 1);
    cache_free(c);
}
END_TEST

START_TEST(test_opt_in_the_middle)
{
    cx_t *x = cx_open();

    /* The image ends where the OPT record began: what followed it goes. */
    ck_assert(store_file(x->c, "opt_middle", T0));
    tq_init(&x->t, "optmid.example.test", SR_TYPE_MX);
    ck_assert_int_eq(ask(x->c, &x->t, T0, false, x->r), CACHE_HIT);
    ck_assert_uint_eq(sr_msg_rr_count(x->r->m), 1);
    ck_assert_uint_eq(sr_get16(x->r->buf + 10), 0);
    ck_assert_str_eq(sr_rr_field(rr_at(x->r, 0), "EXCHANGE"), "optmid.example.test");

    cx_close(x);
}
END_TEST

START_TEST(test_render_fresh)
{
    uint8_t out[2048];
    reply_t *r = reply_new();
    cache_cfg_t cfg = default_cfg();
    cache_t *c = cache_new(&cfg);
    tq_t t;

    /* cache_render makes exactly what a hit at the time of storing does. */
    sr_msg_t *m = msg_file("mx_glue");
    tq_init(&t, "ExAmple.Test", SR_TYPE_MX);
    tq_edns(&t, true, 1232);
    t.q.id = 77;
    size_t n = cache_render(m, &t.q, out, sizeof(out));
    ck_assert_uint_gt(n, 0);
    ck_assert(store_msg(c, m, true, false, T0));
    ck_assert_int_eq(ask(c, &t, T0, false, r), CACHE_HIT);
    ck_assert_uint_eq(n, r->len);
    ck_assert_mem_eq(out, r->buf, n);

    /* Truncation the same way. */
    sr_msg_free(m);
    m = msg_file("a_big");
    tq_init(&t, "big.example.test", SR_TYPE_A);
    n = cache_render(m, &t.q, out, sizeof(out));
    ck_assert_uint_eq(n, 12 + t.q.qname_len + 4);
    ck_assert(sr_get16(out + 2) & SR_FLAG_TC);

    /* REFUSED passes through with its RCODE (fresh responses are not
     * filtered; only the cache is). */
    sr_msg_free(m);
    m = msg_file("refused");
    tq_init(&t, "www.example.test", SR_TYPE_A);
    n = cache_render(m, &t.q, out, sizeof(out));
    ck_assert_uint_gt(n, 0);
    ck_assert_uint_eq(sr_get16(out + 2) & 0xF, 5);

    /* A truncated upstream answer stays truncated. */
    sr_msg_free(m);
    m = msg_file("truncated");
    tq_init(&t, "tc.example.test", SR_TYPE_A);
    n = cache_render(m, &t.q, out, sizeof(out));
    ck_assert_uint_gt(n, 0);
    ck_assert(sr_get16(out + 2) & SR_FLAG_TC);
    sr_msg_free(m);
    m = msg_file("refused");
    tq_init(&t, "www.example.test", SR_TYPE_A);

    /* A different question: refused. */
    tq_init(&t, "xyz.example.test", SR_TYPE_A);
    ck_assert_uint_eq(cache_render(m, &t.q, out, sizeof(out)), 0);
    sr_msg_free(m);

    /* No question (a FORMERR): the client's question, the RCODE. */
    static const uint8_t formerr[12] = {0x12, 0x34, 0x81, 0x81};
    m = sr_msg_new();
    ck_assert_int_eq(sr_msg_parse(m, formerr, sizeof(formerr), 0), SR_OK);
    n = cache_render(m, &t.q, out, sizeof(out));
    ck_assert_uint_eq(n, 12 + t.q.qname_len + 4);
    ck_assert_int_eq(sr_msg_parse(r->m, out, n, 0), SR_OK);
    ck_assert_uint_eq(sr_msg_rcode(r->m), 1);
    ck_assert_str_eq(sr_msg_qname(r->m), "xyz.example.test");
    ck_assert_uint_eq(sr_msg_id(r->m), 0xBEEF);
    sr_msg_free(m);

    ck_assert_uint_eq(cache_render(NULL, &t.q, out, sizeof(out)), 0);
    reply_free(r);
    cache_free(c);
}
END_TEST

START_TEST(test_lru_eviction)
{
    cache_cfg_t cfg = default_cfg();
    char name[64];
    reply_t *r = reply_new();
    tq_t t;

    cfg.max_bytes = 4096;
    cfg.shards = 1; /* one LRU list: the order is exact */
    cache_t *c = cache_new(&cfg);
    ck_assert(store_a(c, "n000.example.test", 300, 0, T0));
    size_t one = stats_of(c).bytes;
    size_t fit = cfg.max_bytes / one;
    ck_assert_uint_gt(fit, 4);
    for (unsigned i = 1; i < fit; i++) {
        snprintf(name, sizeof(name), "n%03u.example.test", i);
        ck_assert(store_a(c, name, 300, i, T0));
    }
    ck_assert_uint_eq(stats_of(c).entries, fit);
    ck_assert_uint_eq(stats_of(c).evictions, 0);

    /* Touch n0: n1 is now the least recently used. */
    tq_init(&t, "n000.example.test", SR_TYPE_A);
    ck_assert_int_eq(ask(c, &t, T0, false, r), CACHE_HIT);
    ck_assert(store_a(c, "new1.example.test", 300, 99, T0));
    cache_stats_t st = stats_of(c);
    ck_assert_uint_le(st.bytes, cfg.max_bytes);
    ck_assert_uint_eq(st.evictions, 1);
    ck_assert_int_eq(ask(c, &t, T0, false, r), CACHE_HIT);
    tq_init(&t, "n001.example.test", SR_TYPE_A);
    miss_at(c, &t, T0, r);
    tq_init(&t, "n002.example.test", SR_TYPE_A);
    ck_assert_int_eq(ask(c, &t, T0, false, r), CACHE_HIT);

    /* Many more: always within budget. */
    for (unsigned i = 0; i < 500; i++) {
        snprintf(name, sizeof(name), "more%u.example.test", i);
        ck_assert(store_a(c, name, 300, i, T0));
        ck_assert_uint_le(stats_of(c).bytes, cfg.max_bytes);
    }
    ck_assert_uint_ge(stats_of(c).evictions, 500);

    /* An entry bigger than the whole budget is not stored. */
    cfg.max_bytes = 300;
    cache_set_cfg(c, &cfg);
    ck_assert(!store_file(c, "a_big", T0));
    ck_assert_uint_le(stats_of(c).bytes, 300);

    reply_free(r);
    cache_free(c);
}
END_TEST

START_TEST(test_set_cfg_shrinks)
{
    cache_cfg_t cfg = default_cfg();
    char name[64];
    cfg.shards = 4;
    cache_t *c = cache_new(&cfg);

    for (unsigned i = 0; i < 2000; i++) {
        snprintf(name, sizeof(name), "host%u.example.test", i);
        ck_assert(store_a(c, name, 300, i, T0));
    }
    cache_stats_t st = stats_of(c);
    ck_assert_uint_eq(st.entries, 2000);
    ck_assert_uint_eq(st.evictions, 0);
    ck_assert_uint_eq(st.inserts, 2000);

    cfg.max_bytes = 32 * 1024;
    cache_set_cfg(c, &cfg);
    st = stats_of(c);
    ck_assert_uint_le(st.bytes, cfg.max_bytes);
    ck_assert_uint_lt(st.entries, 2000);
    ck_assert_uint_eq(st.evictions, 2000 - st.entries);

    /* 0 turns the cache off. */
    cfg.max_bytes = 0;
    cache_set_cfg(c, &cfg);
    st = stats_of(c);
    ck_assert_uint_eq(st.entries, 0);
    ck_assert_uint_eq(st.bytes, 0);
    ck_assert(!store_a(c, "x.example.test", 300, 1, T0));
    cache_free(c);

    /* A cache made with max_bytes 0. */
    c = cache_new(&cfg);
    ck_assert_ptr_nonnull(c);
    ck_assert(!store_file(c, "a_www", T0));
    cache_free(c);
}
END_TEST

START_TEST(test_flush)
{
    cache_cfg_t cfg = default_cfg();
    cache_t *c = cache_new(&cfg);
    reply_t *r = reply_new();
    uint8_t name[SR_NAME_MAX_WIRE];
    size_t nlen = 0;
    tq_t t;

    ck_assert(store_file(c, "a_www", T0));
    ck_assert(store_file(c, "nodata", T0)); /* www.example.test TXT */
    sr_msg_t *m = msg_file("aaaa_www_do");
    ck_assert(store_msg(c, m, true, false, T0));
    sr_msg_free(m);
    ck_assert(store_file(c, "mx_glue", T0));
    ck_assert(store_file(c, "nxdomain", T0));
    ck_assert_uint_eq(stats_of(c).entries, 5);

    /* By name, case-insensitively: every type and key bit of it. */
    ck_assert_int_eq(sr_name_from_text("WWW.Example.TEST", name, sizeof(name), &nlen), SR_OK);
    ck_assert_uint_eq(cache_flush(c, name, nlen), 3);
    ck_assert_uint_eq(stats_of(c).entries, 2);
    tq_init(&t, "www.example.test", SR_TYPE_A);
    miss_at(c, &t, T0, r);
    tq_init(&t, "example.test", SR_TYPE_MX);
    ck_assert_int_eq(ask(c, &t, T0, false, r), CACHE_HIT);
    ck_assert_uint_eq(cache_flush(c, name, nlen), 0);

    /* All. */
    ck_assert_uint_eq(cache_flush(c, NULL, 0), 2);
    cache_stats_t st = stats_of(c);
    ck_assert_uint_eq(st.entries, 0);
    ck_assert_uint_eq(st.bytes, 0);
    miss_at(c, &t, T0, r);
    ck_assert_uint_eq(cache_flush(NULL, NULL, 0), 0);

    reply_free(r);
    cache_free(c);
}
END_TEST

/* cache_flush_below: a name and everything below it, on label
 * boundaries, in any case (stubresctl cache flush NAME --subtree, and a
 * forward rule that changed). */
START_TEST(test_flush_below)
{
    cache_cfg_t cfg = default_cfg();
    cache_t *c = cache_new(&cfg);
    reply_t *r = reply_new();
    uint8_t name[SR_NAME_MAX_WIRE];
    size_t nlen = 0;
    tq_t t;

    ck_assert(store_file(c, "a_www", T0));
    ck_assert(store_file(c, "nodata", T0));  /* www.example.test TXT */
    ck_assert(store_file(c, "mx_glue", T0)); /* example.test MX */
    ck_assert_uint_eq(stats_of(c).entries, 3);

    /* Not on a label boundary: nothing. */
    ck_assert_int_eq(sr_name_from_text("ww.example.test", name, sizeof(name), &nlen), SR_OK);
    ck_assert_uint_eq(cache_flush_below(c, name, nlen), 0);
    ck_assert_int_eq(sr_name_from_text("xample.test", name, sizeof(name), &nlen), SR_OK);
    ck_assert_uint_eq(cache_flush_below(c, name, nlen), 0);
    /* The name itself and what is below it, not its parent. */
    ck_assert_int_eq(sr_name_from_text("WWW.Example.TEST", name, sizeof(name), &nlen), SR_OK);
    ck_assert_uint_eq(cache_flush_below(c, name, nlen), 2);
    tq_init(&t, "example.test", SR_TYPE_MX);
    ck_assert_int_eq(ask(c, &t, T0, false, r), CACHE_HIT);
    /* The parent takes the rest. */
    ck_assert_int_eq(sr_name_from_text("TEST", name, sizeof(name), &nlen), SR_OK);
    ck_assert_uint_eq(cache_flush_below(c, name, nlen), 1);
    ck_assert_uint_eq(stats_of(c).entries, 0);

    reply_free(r);
    cache_free(c);
}
END_TEST

typedef struct lines {
    char *v[16];
    size_t n;
} lines_t;

static void collect(void *arg, const char *line)
{
    lines_t *l = arg;
    ck_assert_uint_lt(l->n, 16);
    l->v[l->n++] = strdup(line);
}

static bool has_line(const lines_t *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return true;
    return false;
}

START_TEST(test_dump)
{
    cache_cfg_t cfg = default_cfg();
    cfg.serve_stale = true;
    cache_t *c = cache_new(&cfg);
    lines_t l = {{NULL}, 0};

    ck_assert(store_file(c, "a_www_mixed", T0));
    ck_assert(store_file(c, "nxdomain", T0));
    ck_assert(store_file(c, "cname_chain", T0));
    ck_assert(store_file(c, "servfail", T0));
    ck_assert(store_file(c, "a_short", T0 - 100)); /* stale, kept */
    cache_dump(c, T0 + 13, collect, &l);
    ck_assert_uint_eq(l.n, 5);
    ck_assert_msg(has_line(&l, "www.example.test A IN NOERROR 287 "
                               "www.example.test 287 A 192.0.2.1 "
                               "www.example.test 287 A 192.0.2.2"),
                  "%s", l.v[0]);
    ck_assert(has_line(&l, "nx.example.test A IN NXDOMAIN 287"));
    ck_assert(has_line(&l, "alias.example.test A IN NOERROR 47 "
                           "alias.example.test 587 CNAME cdn.example.net "
                           "cdn.example.net 47 A 198.51.100.7"));
    ck_assert(has_line(&l, "fail.example.test A IN SERVFAIL 0"));
    ck_assert(has_line(&l, "short.example.test A IN NOERROR 0 "
                           "short.example.test 0 A 192.0.2.5"));
    for (size_t i = 0; i < l.n; i++)
        free(l.v[i]);
    cache_dump(NULL, T0, collect, &l);
    cache_free(c);
}
END_TEST

/* A name spelt by TTL bytes (a compression pointer into an earlier TTL
 * field) would change as the TTL counts down, one that takes a pointer
 * from the question's letters would change with the client's case: such
 * responses are not stored. Bytes that merely look like such a pointer (an A record of
 * 192.43.0.1 is "c0 2b ...", and 0x2b is a TTL byte here) do not stop
 * an ordinary answer from being stored. */
START_TEST(test_names_spelt_by_ttls)
{
    /* x.test A: answer 1 "x.test 256 A 192.0.2.1" (TTL 00 00 01 00 at
     * offset 30); answer 2's owner points at offset 32, whose bytes
     * "01 00" then "00" (RDLENGTH) spell the name "\000." today and "."
     * once the TTL is 255. */
    static const uint8_t spelt[] = {
        0x00, 0x01, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 1,    'x',
        4,    't',  'e',  's',  't',  0,    0x00, 0x01, 0x00, 0x01, 0xC0, 0x0C, 0x00, 0x01,
        0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x04, 192,  0,    2,    1,    0xC0, 0x20,
        0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2C, 0x00, 0x04, 192,  0,    2,    2};
    /* x.test A 300 192.43.0.1: "c0 2b" at offset 36 looks like a pointer
     * to offset 43, the TTL's last byte. */
    static const uint8_t lookalike[] = {0x00, 0x01, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
                                        0x00, 0x00, 1,    'x',  4,    't',  'e',  's',  't',  0,
                                        0x00, 0x01, 0x00, 0x01, 0xC0, 0x0C, 0x00, 0x01, 0x00, 0x01,
                                        0x00, 0x00, 0x01, 0x2C, 0x00, 0x04, 192,  43,   0,    1};
    cache_cfg_t cfg = default_cfg();
    cache_t *c = cache_new(&cfg);
    reply_t *r = reply_new();
    sr_msg_t *m = sr_msg_new();
    tq_t t;

    ck_assert_int_eq(sr_msg_parse(m, spelt, sizeof(spelt), 0), SR_OK);
    ck_assert_str_eq(sr_msg_rr(m, 1)->name, "\\000");
    ck_assert(!store_msg(c, m, false, false, T0));
    ck_assert_uint_eq(stats_of(c).entries, 0);

    ck_assert_int_eq(sr_msg_parse(m, lookalike, sizeof(lookalike), 0), SR_OK);
    ck_assert(store_msg(c, m, false, false, T0));
    tq_init(&t, "X.test", SR_TYPE_A);
    hit_ttl(c, &t, T0 + 44, r, 0, 256);
    ck_assert_str_eq(field0(rr_at(r, 0)), "192.43.0.1");

    /* A pointer whose low byte is a letter of the question: the owner of
     * the answer points at offset 100 of the question name, where the
     * bytes c0 61 ('a') point at 97, a root label. A client asking with
     * 'A' there would turn it into a pointer to 65, into a label. */
    uint8_t q[200];
    size_t o = 12;
    memset(q, 0, sizeof(q));
    sr_put16(q + 2, 0x8180);
    sr_put16(q + 4, 1);
    sr_put16(q + 6, 1);
    q[o++] = 63;
    memset(q + o, 'a', 63);
    o += 63;
    q[o++] = 40; /* offset 76: content 77..116 */
    memset(q + o, 'b', 40);
    q[97] = 0x00;
    q[100] = 0xC0;
    q[101] = 'a';
    o += 40;
    q[o++] = 0; /* root at 117 */
    sr_put16(q + o, SR_TYPE_A);
    sr_put16(q + o + 2, SR_CLASS_IN);
    o += 4;
    ck_assert_uint_eq(o, 122);
    sr_put16(q + o, 0xC064); /* owner: pointer to 100 */
    sr_put16(q + o + 2, SR_TYPE_A);
    sr_put16(q + o + 4, SR_CLASS_IN);
    sr_put32(q + o + 6, 300);
    sr_put16(q + o + 10, 4);
    sr_put32(q + o + 12, 0xC0000201);
    o += 16;
    ck_assert_int_eq(sr_msg_parse(m, q, o, 0), SR_OK);
    ck_assert_str_eq(sr_msg_rr(m, 0)->name, ".");
    ck_assert(!store_msg(c, m, false, false, T0));
    ck_assert_uint_eq(stats_of(c).entries, 1);
    /* Rendered fresh for a client asking in other case, it keeps the
     * upstream's question bytes, and parses. */
    uint8_t out[512];
    tq_t qt;
    memcpy(qt.name, q + 12, 106);
    memset(&qt.q, 0, sizeof(qt.q));
    qt.name[89] = 'A'; /* message offset 101 */
    qt.q.qname = qt.name;
    qt.q.qname_len = 106;
    qt.q.qtype = SR_TYPE_A;
    qt.q.qclass = SR_CLASS_IN;
    qt.q.max_len = 512;
    size_t n = cache_render(m, &qt.q, out, sizeof(out));
    ck_assert_uint_gt(n, 0);
    ck_assert_uint_eq(out[12 + 89], 'a');
    ck_assert_int_eq(sr_msg_parse(r->m, out, n, 0), SR_OK);

    /* A name that runs on past the records into the OPT record (and the
     * bytes after it): x.test A, answer 2's owner points at the last
     * RDATA byte of answer 1, 63, a label that reaches offset 103. */
    uint8_t p[104];
    memset(p, 0, sizeof(p));
    static const uint8_t head[] = {
        0x00, 0x01, 0x81, 0x80, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 1,    'x',
        4,    't',  'e',  's',  't',  0,    0x00, 0x01, 0x00, 0x01, 0xC0, 0x0C, 0x00, 0x01,
        0x00, 0x01, 0x00, 0x00, 0x01, 0x2C, 0x00, 0x04, 192,  0,    2,    63,   0xC0, 39,
        0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2C, 0x00, 0x04, 192,  0,    2,    64,
        0x00, 0x00, 0x29, 0x04, 0xD0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    memcpy(p, head, sizeof(head));
    ck_assert_int_eq(sr_msg_parse(m, p, sizeof(p), 0), SR_OK);
    ck_assert(!store_msg(c, m, false, false, T0));
    tq_init(&qt, "x.test", SR_TYPE_A);
    ck_assert_uint_eq(cache_render(m, &qt.q, out, sizeof(out)), 0);
    ck_assert_uint_eq(stats_of(c).entries, 1);

    sr_msg_free(m);
    reply_free(r);
    cache_free(c);
}
END_TEST

/* CHAOS class and bad arguments. */
START_TEST(test_chaos_and_bad_args)
{
    static const uint8_t vb[] = {0x00, 0x07, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
                                 0x00, 0x00, 7,    'v',  'e',  'r',  's',  'i',  'o',  'n',
                                 4,    'b',  'i',  'n',  'd',  0,    0x00, 0x10, 0x00, 0x03,
                                 0xC0, 0x0C, 0x00, 0x10, 0x00, 0x03, 0x00, 0x00, 0x00, 0x3C,
                                 0x00, 0x08, 7,    's',  't',  'u',  'b',  'r',  'e',  's'};
    cache_cfg_t cfg = default_cfg();
    cache_t *c = cache_new(&cfg);
    reply_t *r = reply_new();
    lines_t l = {{NULL}, 0};
    tq_t t;

    sr_msg_t *m = sr_msg_new();
    ck_assert_int_eq(sr_msg_parse(m, vb, sizeof(vb), 0), SR_OK);
    ck_assert(store_msg(c, m, false, false, T0));
    sr_msg_free(m);
    tq_init(&t, "VERSION.bind", SR_TYPE_TXT);
    miss_at(c, &t, T0, r); /* class IN */
    t.q.qclass = 3;
    ck_assert_int_eq(ask(c, &t, T0 + 10, false, r), CACHE_HIT);
    ck_assert_uint_eq(sr_msg_qclass(r->m), 3);
    ck_assert_uint_eq(rr_at(r, 0)->ttl, 50);
    cache_dump(c, T0 + 10, collect, &l);
    ck_assert_uint_eq(l.n, 1);
    ck_assert_str_eq(l.v[0], "version.bind TXT CH NOERROR 50 "
                             "version.bind 50 TXT stubres");
    free(l.v[0]);

    ck_assert_ptr_null(cache_new(NULL));
    cache_set_cfg(NULL, &cfg);
    cache_set_cfg(c, NULL);
    cache_free(NULL);
    size_t len = 7;
    ck_assert_int_eq(cache_lookup(NULL, &t.q, T0, false, r->buf, 100, &len), CACHE_MISS);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(cache_lookup(c, NULL, T0, false, r->buf, 100, &len), CACHE_MISS);
    ck_assert_int_eq(cache_lookup(c, &t.q, T0, false, NULL, 100, &len), CACHE_MISS);
    t.q.qname_len = 256;
    ck_assert_int_eq(cache_lookup(c, &t.q, T0, false, r->buf, 100, &len), CACHE_MISS);
    ck_assert_uint_eq(cache_flush(c, t.name, 0), 0);
    ck_assert(!cache_store_failure(c, t.name, 0, 1, 1, false, false, T0));
    ck_assert_uint_eq(cache_render(NULL, NULL, NULL, 0), 0);
    cache_dump(c, T0, NULL, NULL);
    ck_assert_uint_eq(stats_of(c).entries, 1);

    reply_free(r);
    cache_free(c);
}
END_TEST

START_TEST(test_serve_stale)
{
    cache_cfg_t cfg = default_cfg();
    cfg.serve_stale = true;
    cfg.stale_max = 600;
    cfg.stale_reply_ttl = 30;
    cache_t *c = cache_new(&cfg);
    reply_t *r = reply_new();
    tq_t t;

    ck_assert(store_file(c, "a_www", T0)); /* TTL 300 */
    tq_init(&t, "www.example.test", SR_TYPE_A);
    /* Expired: a miss (ask upstream), but the entry is kept ... */
    miss_at(c, &t, T0 + 300, r);
    ck_assert_uint_eq(stats_of(c).entries, 1);
    /* ... and answers with TTL 30 when the upstreams fail. */
    ck_assert_int_eq(ask(c, &t, T0 + 400, true, r), CACHE_STALE);
    ck_assert_uint_eq(sr_msg_rr_count(r->m), 2);
    ck_assert_uint_eq(rr_at(r, 0)->ttl, 30);
    ck_assert_uint_eq(rr_at(r, 1)->ttl, 30);
    ck_assert_uint_eq(stats_of(c).stale_hits, 1);

    /* RFC 8767 4: after a failure, stale answers for servfail_ttl without
     * asking again; then a miss again. */
    ck_assert(cache_store_failure(c, t.name, t.q.qname_len, SR_TYPE_A, SR_CLASS_IN, false, false,
                                  T0 + 450));
    ck_assert_int_eq(ask(c, &t, T0 + 451, false, r), CACHE_STALE);
    ck_assert_uint_eq(rr_at(r, 0)->ttl, 30);
    miss_at(c, &t, T0 + 455, r);
    /* A SERVFAIL response works the same way. */
    sr_msg_t *m = msg_servfail("www.example.test");
    ck_assert(store_msg(c, m, false, false, T0 + 460));
    sr_msg_free(m);
    ck_assert_int_eq(ask(c, &t, T0 + 461, false, r), CACHE_STALE);
    ck_assert_uint_eq(sr_msg_rcode(r->m), 0);
    miss_at(c, &t, T0 + 465, r);

    /* Past stale_max: gone. */
    ck_assert_int_eq(ask(c, &t, T0 + 899, true, r), CACHE_STALE);
    ck_assert_int_eq(ask(c, &t, T0 + 900, true, r), CACHE_MISS);
    ck_assert_uint_eq(stats_of(c).entries, 0);

    /* Without serve_stale nothing stale is served. */
    cfg.serve_stale = false;
    cache_set_cfg(c, &cfg);
    ck_assert(store_file(c, "a_www", T0));
    ck_assert_int_eq(ask(c, &t, T0 + 300, true, r), CACHE_MISS);
    ck_assert_uint_eq(stats_of(c).entries, 0);

    reply_free(r);
    cache_free(c);
}
END_TEST

START_TEST(test_prefetch)
{
    cache_cfg_t cfg = default_cfg();
    cfg.prefetch = true;
    cache_t *c = cache_new(&cfg);
    reply_t *r = reply_new();
    tq_t t;

    ck_assert(store_file(c, "a_www", T0)); /* TTL 300: prefetch in the
                                              last 30 s */
    tq_init(&t, "www.example.test", SR_TYPE_A);
    ck_assert_int_eq(ask(c, &t, T0 + 10, false, r), CACHE_HIT);
    ck_assert_int_eq(ask(c, &t, T0 + 269, false, r), CACHE_HIT);
    ck_assert_int_eq(ask(c, &t, T0 + 270, false, r), CACHE_HIT_PREFETCH);
    ck_assert_uint_eq(rr_at(r, 0)->ttl, 30);
    /* Once. */
    ck_assert_int_eq(ask(c, &t, T0 + 280, false, r), CACHE_HIT);
    /* The refreshed entry may be prefetched again. */
    ck_assert(store_file(c, "a_www", T0 + 281));
    ck_assert_int_eq(ask(c, &t, T0 + 282, false, r), CACHE_HIT);
    ck_assert_int_eq(ask(c, &t, T0 + 560, false, r), CACHE_HIT_PREFETCH);

    /* Unpopular: the first hit near expiry is not reported. */
    ck_assert(store_file(c, "nxdomain", T0));
    tq_init(&t, "nx.example.test", SR_TYPE_A);
    ck_assert_int_eq(ask(c, &t, T0 + 295, false, r), CACHE_HIT);
    ck_assert_int_eq(ask(c, &t, T0 + 296, false, r), CACHE_HIT_PREFETCH);

    /* Off: never. */
    cfg.prefetch = false;
    cache_set_cfg(c, &cfg);
    ck_assert(store_file(c, "nxdomain", T0));
    ck_assert_int_eq(ask(c, &t, T0 + 295, false, r), CACHE_HIT);
    ck_assert_int_eq(ask(c, &t, T0 + 296, false, r), CACHE_HIT);
    ck_assert_uint_eq(stats_of(c).hits, 10);

    reply_free(r);
    cache_free(c);
}
END_TEST

START_TEST(test_stats)
{
    cx_t *x = cx_open();
    cache_stats_t st;

    st = stats_of(x->c);
    ck_assert_uint_eq(st.hits + st.misses + st.entries + st.bytes, 0);
    tq_init(&x->t, "www.example.test", SR_TYPE_A);
    ask(x->c, &x->t, T0, false, x->r);
    ck_assert(store_file(x->c, "a_www", T0));
    ck_assert(store_file(x->c, "a_www", T0)); /* replaces */
    ck_assert(store_file(x->c, "nxdomain", T0));
    ask(x->c, &x->t, T0, false, x->r);
    ask(x->c, &x->t, T0, false, x->r);
    ask(x->c, &x->t, T0 + 300, false, x->r);
    st = stats_of(x->c);
    ck_assert_uint_eq(st.hits, 2);
    ck_assert_uint_eq(st.misses, 2);
    ck_assert_uint_eq(st.inserts, 3);
    ck_assert_uint_eq(st.expired, 1);
    ck_assert_uint_eq(st.entries, 1);
    ck_assert_uint_eq(st.evictions, 0);
    ck_assert_uint_gt(st.bytes, file_len("nxdomain"));

    /* The budget: at most 300 bytes per entry beyond its wire size. */
    ck_assert_uint_le(st.bytes, file_len("nxdomain") + 300);
    cache_stats(NULL, &st);
    ck_assert_uint_eq(st.entries, 0);
    cache_stats(x->c, NULL);

    cx_close(x);
}
END_TEST

/* ---- prefetch_popular (cache_popular_due) ---- */

#define POP_KEYS 64

/* cache_popular_due at now (ms: one clock step of a second each call, so
 * the bucket refills unless told otherwise); the names it hands out,
 * space-separated, into names. */
static size_t due_names(cache_t *c, uint32_t now, uint64_t now_ms, char *names, size_t cap,
                        uint64_t *limited)
{
    cache_key_t keys[POP_KEYS];
    uint64_t lim = 0;
    size_t n = cache_popular_due(c, now, now_ms, keys, POP_KEYS, &lim);
    names[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char text[SR_NAME_MAX_TEXT];
        ck_assert_int_eq(sr_name_to_text(keys[i].name, keys[i].name_len, text, sizeof(text)),
                         SR_OK);
        ck_assert_uint_eq(keys[i].qtype, SR_TYPE_A);
        ck_assert_uint_eq(keys[i].qclass, SR_CLASS_IN);
        if (strlen(names) + strlen(text) + 2 < cap) {
            strcat(names, names[0] ? " " : "");
            strcat(names, text);
        }
    }
    if (limited != NULL)
        *limited = lim;
    return n;
}

static void ask_n(cache_t *c, const char *name, unsigned n, uint32_t now, reply_t *r)
{
    tq_t t;
    tq_init(&t, name, SR_TYPE_A);
    for (unsigned i = 0; i < n; i++)
        ck_assert_int_ne(ask(c, &t, now, false, r), CACHE_MISS);
}

static cache_cfg_t popular_cfg(unsigned n, unsigned rate)
{
    cache_cfg_t cfg = default_cfg();
    cfg.prefetch_popular = n;
    cfg.prefetch_rate = rate;
    return cfg;
}

START_TEST(test_popular_top_n)
{
    cache_cfg_t cfg = popular_cfg(2, 100);
    cfg.shards = 4;
    cache_t *c = cache_new(&cfg);
    reply_t *r = reply_new();
    char names[1024];

    /* TTL 300: due in the last 30 s. Asked 9, 6, 4 and 1 times. */
    ck_assert(store_a(c, "a.test", 300, 1, T0));
    ck_assert(store_a(c, "b.test", 300, 2, T0));
    ck_assert(store_a(c, "c.test", 300, 3, T0));
    ck_assert(store_a(c, "d.test", 300, 4, T0));
    ask_n(c, "a.test", 9, T0 + 1, r);
    ask_n(c, "b.test", 6, T0 + 1, r);
    ask_n(c, "c.test", 4, T0 + 1, r);
    ask_n(c, "d.test", 1, T0 + 1, r);
    /* Not yet in the window. */
    ck_assert_uint_eq(due_names(c, T0 + 269, 1000, names, sizeof(names), NULL), 0);
    /* In it: the two most asked, each once. */
    ck_assert_uint_eq(due_names(c, T0 + 270, 2000, names, sizeof(names), NULL), 2);
    ck_assert_msg(strstr(names, "a.test") && strstr(names, "b.test"), "due: %s", names);
    ck_assert_uint_eq(due_names(c, T0 + 271, 3000, names, sizeof(names), NULL), 0);
    /* A hit on a handed-out entry is not reported again by prefetch. */
    cfg.prefetch = true;
    cache_set_cfg(c, &cfg);
    tq_t t;
    tq_init(&t, "a.test", SR_TYPE_A);
    ck_assert_int_eq(ask(c, &t, T0 + 272, false, r), CACHE_HIT);

    /* The refresh (a new entry) keeps a.test's place; nobody asks for it
     * during its TTL: not refreshed again. b.test's refresh is asked for
     * once: refreshed again. */
    ck_assert(store_a(c, "a.test", 300, 1, T0 + 280));
    ck_assert(store_a(c, "b.test", 300, 2, T0 + 280));
    ask_n(c, "b.test", 1, T0 + 300, r);
    ck_assert_uint_eq(due_names(c, T0 + 560, 4000, names, sizeof(names), NULL), 1);
    ck_assert_str_eq(names, "b.test");
    /* Gone from the cache: gone from the list. */
    ck_assert_uint_eq(cache_flush(c, NULL, 0), 4);
    ck_assert_uint_eq(due_names(c, T0 + 575, 5000, names, sizeof(names), NULL), 0);

    /* Off: nothing, and set back on, the counts start again. */
    cfg = popular_cfg(0, 100);
    cache_set_cfg(c, &cfg);
    ck_assert(store_a(c, "a.test", 300, 1, T0));
    ask_n(c, "a.test", 5, T0 + 1, r);
    ck_assert_uint_eq(due_names(c, T0 + 290, 6000, names, sizeof(names), NULL), 0);
    cfg = popular_cfg(2, 100);
    cache_set_cfg(c, &cfg);
    ck_assert_uint_eq(due_names(c, T0 + 290, 7000, names, sizeof(names), NULL), 0);
    ask_n(c, "a.test", 2, T0 + 291, r);
    ck_assert_uint_eq(due_names(c, T0 + 292, 8000, names, sizeof(names), NULL), 1);

    reply_free(r);
    cache_free(c);
}
END_TEST

/* Short TTLs: due in the last 2 s; SERVFAIL never. */
START_TEST(test_popular_window)
{
    cache_cfg_t cfg = popular_cfg(10, 100);
    cache_t *c = cache_new(&cfg);
    reply_t *r = reply_new();
    char names[1024];

    ck_assert(store_a(c, "short.test", 5, 1, T0));
    ask_n(c, "short.test", 3, T0, r);
    ck_assert_uint_eq(due_names(c, T0 + 2, 1000, names, sizeof(names), NULL), 0);
    ck_assert_uint_eq(due_names(c, T0 + 3, 2000, names, sizeof(names), NULL), 1);
    ck_assert(store_a(c, "gone.test", 5, 1, T0));
    ask_n(c, "gone.test", 3, T0, r);
    /* Expired: too late. */
    ck_assert_uint_eq(due_names(c, T0 + 5, 3000, names, sizeof(names), NULL), 0);

    cache_flush(c, NULL, 0);
    sr_msg_t *m = msg_servfail("sf.test");
    ck_assert(store_msg(c, m, false, false, T0));
    sr_msg_free(m);
    ask_n(c, "sf.test", 3, T0, r);
    ck_assert_uint_eq(due_names(c, T0 + 4, 4000, names, sizeof(names), NULL), 0);

    reply_free(r);
    cache_free(c);
}
END_TEST

/* The counts halve every POP_HALVE_S (60 s): a name asked much an hour
 * ago gives way to one asked a little now. */
START_TEST(test_popular_decay)
{
    cache_cfg_t cfg = popular_cfg(1, 100);
    cfg.shards = 1;
    cache_t *c = cache_new(&cfg);
    reply_t *r = reply_new();
    char names[1024];
    uint64_t ms = 1000;

    ck_assert_uint_eq(due_names(c, T0, ms, names, sizeof(names), NULL), 0);
    ck_assert(store_a(c, "old.test", 86400, 1, T0));
    ask_n(c, "old.test", 200, T0, r);
    /* Six halvings: 200 -> 3. */
    for (uint32_t t = T0 + 60; t <= T0 + 360; t += 60)
        ck_assert_uint_eq(due_names(c, t, ms += 1000, names, sizeof(names), NULL), 0);
    ck_assert(store_a(c, "new.test", 10, 2, T0 + 360));
    ask_n(c, "new.test", 4, T0 + 360, r);
    ck_assert_uint_eq(due_names(c, T0 + 368, ms += 1000, names, sizeof(names), NULL), 1);
    ck_assert_str_eq(names, "new.test");

    /* Without the decay, old.test would have kept the one place. */
    cache_free(c);
    c = cache_new(&cfg);
    ck_assert(store_a(c, "old.test", 86400, 1, T0));
    ask_n(c, "old.test", 200, T0, r);
    ck_assert(store_a(c, "new.test", 10, 2, T0 + 50));
    ask_n(c, "new.test", 4, T0 + 50, r);
    ck_assert_uint_eq(due_names(c, T0 + 58, ms += 1000, names, sizeof(names), NULL), 0);

    reply_free(r);
    cache_free(c);
}
END_TEST

/* prefetch_rate: a bucket of rate tokens a second, at most one second's
 * worth; a name without a token waits and is counted. */
START_TEST(test_popular_rate_limited)
{
    cache_cfg_t cfg = popular_cfg(100, 2);
    cache_t *c = cache_new(&cfg);
    reply_t *r = reply_new();
    char names[4096], name[32];
    uint64_t limited = 0;

    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof(name), "n%d.test", i);
        ck_assert(store_a(c, name, 100, (uint32_t)i, T0));
        ask_n(c, name, 3, T0, r);
    }
    ck_assert_uint_eq(due_names(c, T0 + 90, 100000, names, sizeof(names), &limited), 2);
    ck_assert_uint_eq(limited, 8);
    /* The same instant: no token. */
    ck_assert_uint_eq(due_names(c, T0 + 90, 100000, names, sizeof(names), &limited), 0);
    ck_assert_uint_eq(limited, 8);
    /* Half a second: one. */
    ck_assert_uint_eq(due_names(c, T0 + 90, 100500, names, sizeof(names), &limited), 1);
    ck_assert_uint_eq(limited, 7);
    /* A long pause fills the bucket to one second's worth only. */
    ck_assert_uint_eq(due_names(c, T0 + 91, 200000, names, sizeof(names), &limited), 2);
    ck_assert_uint_eq(limited, 5);
    /* Several callers share the bucket (one per worker). */
    ck_assert_uint_eq(due_names(c, T0 + 91, 200250, names, sizeof(names), &limited), 0);
    ck_assert_uint_eq(due_names(c, T0 + 91, 200500, names, sizeof(names), &limited), 1);
    /* At most max per call; the rest stay due. */
    cache_key_t one;
    ck_assert_uint_eq(cache_popular_due(c, T0 + 92, 300000, &one, 1, NULL), 1);
    ck_assert_uint_eq(cache_popular_due(c, T0 + 92, 300000, &one, 1, NULL), 1);
    ck_assert_uint_eq(cache_popular_due(c, T0 + 92, 300000, &one, 1, NULL), 0);

    reply_free(r);
    cache_free(c);
}
END_TEST

/* Bounded memory and nothing allocated per hit: 20,000 names asked with
 * prefetch_popular on; the list never holds more than prefetch_popular
 * names. */
START_TEST(test_popular_bounded)
{
    cache_cfg_t cfg = popular_cfg(50, 100000);
    cfg.max_bytes = 64u << 20;
    cache_t *c = cache_new(&cfg);
    uint8_t out[512];
    size_t len = 0;
    char name[32];
    static tq_t t[2000];

    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof(name), "h%d.test", i);
        ck_assert(store_a(c, name, 100, (uint32_t)i, T0));
        tq_init(&t[i], name, SR_TYPE_A);
    }
    unsigned misses = 0;
    unsigned long before = atomic_load(&alloc_calls);
    for (int round = 0; round < 10; round++)
        for (int i = 0; i < 2000; i++)
            for (int k = 0; k <= (i < 100 ? 3 : 0); k++)
                misses +=
                    cache_lookup(c, &t[i].q, T0 + 1, false, out, sizeof(out), &len) == CACHE_MISS;
    ck_assert_uint_eq(atomic_load(&alloc_calls) - before, 0);
    ck_assert_uint_eq(misses, 0);
    /* All due at T0 + 95: only the 50 most asked, all among h0..h99. */
    cache_key_t keys[200];
    size_t n = cache_popular_due(c, T0 + 95, 1000, keys, 200, NULL);
    ck_assert_uint_eq(n, 50);
    for (size_t i = 0; i < n; i++) {
        char text[SR_NAME_MAX_TEXT];
        ck_assert_int_eq(sr_name_to_text(keys[i].name, keys[i].name_len, text, sizeof(text)),
                         SR_OK);
        ck_assert_msg(atoi(text + 1) < 100, "%s is not among the most asked", text);
    }
    cache_free(c);
}
END_TEST

START_TEST(test_hit_allocates_nothing)
{
    cache_cfg_t cfg = default_cfg();
    cfg.prefetch = true;
    cfg.serve_stale = true;
    cache_t *c = cache_new(&cfg);
    uint8_t out[2048];
    size_t len = 0;
    tq_t t1, t2, t3;

    ck_assert(store_file(c, "a_www", T0));
    ck_assert(store_file(c, "a_big", T0));
    ck_assert(store_file(c, "nxdomain", T0));
    tq_init(&t1, "WWW.example.test", SR_TYPE_A);
    tq_edns(&t1, false, 1232);
    tq_init(&t2, "big.example.test", SR_TYPE_A); /* truncated */
    tq_init(&t3, "nx.example.test", SR_TYPE_A);

    /* No ck_assert inside the loop: Check's own bookkeeping allocates. */
    unsigned misses = 0, stale = 0;
    unsigned long before = atomic_load(&alloc_calls);
    for (uint32_t i = 0; i < 1000; i++) {
        uint32_t now = T0 + (i % 300);
        misses += cache_lookup(c, &t1.q, now, false, out, sizeof(out), &len) == CACHE_MISS;
        misses += cache_lookup(c, &t2.q, now, false, out, sizeof(out), &len) == CACHE_MISS;
        misses += cache_lookup(c, &t3.q, now, false, out, sizeof(out), &len) == CACHE_MISS;
        stale += cache_lookup(c, &t1.q, T0 + 400, true, out, sizeof(out), &len) == CACHE_STALE;
    }
    unsigned long allocs = atomic_load(&alloc_calls) - before;
    ck_assert_uint_eq(allocs, 0);
    ck_assert_uint_eq(misses, 0);
    ck_assert_uint_eq(stale, 1000);

    /* And the counter does count: a store allocates. */
    ck_assert(store_file(c, "mx_glue", T0));
    ck_assert_uint_gt(atomic_load(&alloc_calls) - before, 0);
    cache_free(c);
}
END_TEST

START_TEST(test_allocation_failures)
{
    cache_cfg_t cfg = default_cfg();
    sr_msg_t *m = msg_file("a_www");
    reply_t *r = reply_new();
    tq_t t;
    tq_init(&t, "www.example.test", SR_TYPE_A);

    /* cache_new fails cleanly at every allocation. */
    for (long n = 0; n < 200; n++) {
        sr_alloc_fail_after(n);
        cache_t *c = cache_new(&cfg);
        sr_alloc_fail_after(-1);
        if (c != NULL) {
            cache_free(c);
            break;
        }
    }
    cache_t *c = cache_new(&cfg);
    ck_assert_ptr_nonnull(c);
    sr_alloc_fail_after(0);
    ck_assert(!store_msg(c, m, false, false, T0));
    ck_assert(
        !cache_store_failure(c, t.name, t.q.qname_len, SR_TYPE_A, SR_CLASS_IN, false, false, T0));
    sr_alloc_fail_after(-1);
    ck_assert(store_msg(c, m, false, false, T0));
    /* Lookups work with every allocation failing. */
    sr_alloc_fail_after(0);
    ck_assert_int_eq(cache_lookup(c, &t.q, T0, false, r->buf, sizeof(r->buf), &r->len), CACHE_HIT);
    sr_alloc_fail_after(-1);
    /* A failed bucket-array growth only makes chains longer. */
    char name[64];
    for (unsigned i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "g%u.example.test", i);
        sr_msg_t *a = msg_a(name, 300, i);
        sr_alloc_fail_after(1); /* the entry, not the growth */
        bool ok = store_msg(c, a, false, false, T0);
        sr_alloc_fail_after(-1);
        ck_assert(ok);
        sr_msg_free(a);
    }
    tq_init(&t, "g42.example.test", SR_TYPE_A);
    ck_assert_int_eq(ask(c, &t, T0, false, r), CACHE_HIT);

    sr_msg_free(m);
    reply_free(r);
    cache_free(c);
}
END_TEST

/* ---- concurrency ---- */

#define CONC_THREADS 4
#define CONC_NAMES 300
#define CONC_OPS 20000

typedef struct conc {
    cache_t *c;
    sr_msg_t *msgs[CONC_NAMES];
    tq_t q[CONC_NAMES];
    unsigned seed;
    unsigned long hits;
} conc_t;

typedef struct conc_arg {
    conc_t *shared;
    unsigned seed;
    unsigned long hits;
    bool bad;
} conc_arg_t;

static void *conc_worker(void *p)
{
    conc_arg_t *a = p;
    conc_t *s = a->shared;
    uint8_t out[1024];
    unsigned x = a->seed;

    for (unsigned i = 0; i < CONC_OPS; i++) {
        x = x * 1103515245u + 12345u;
        unsigned k = (x >> 8) % CONC_NAMES;
        uint32_t now = T0 + i / 100;
        size_t len = 0;
        switch ((x >> 20) % 8) {
        case 0: store_msg(s->c, s->msgs[k], false, false, now); break;
        case 1:
            if ((x >> 24) % 16 == 0)
                cache_flush(s->c, s->q[k].name, s->q[k].q.qname_len);
            else
                cache_store_failure(s->c, s->q[k].name, s->q[k].q.qname_len, SR_TYPE_AAAA,
                                    SR_CLASS_IN, false, false, now);
            break;
        default:
            if (cache_lookup(s->c, &s->q[k].q, now, (x & 1) != 0, out, sizeof(out), &len) !=
                CACHE_MISS) {
                a->hits++;
                /* The answer is the one stored for this name. */
                if (len < 4 || sr_get32(out + len - 4) != k)
                    a->bad = true;
            }
            break;
        }
    }
    return NULL;
}

START_TEST(test_concurrency)
{
    cache_cfg_t cfg = default_cfg();
    conc_t *s = calloc(1, sizeof(*s));
    pthread_t th[CONC_THREADS];
    conc_arg_t args[CONC_THREADS];
    char name[64];

    cfg.max_bytes = 24 * 1024; /* small: evictions under contention */
    cfg.shards = 4;
    cfg.serve_stale = true;
    cfg.prefetch = true;
    s->c = cache_new(&cfg);
    for (unsigned i = 0; i < CONC_NAMES; i++) {
        snprintf(name, sizeof(name), "c%u.example.test", i);
        s->msgs[i] = msg_a(name, 30 + i % 50, i);
        tq_init(&s->q[i], name, SR_TYPE_A);
    }
    for (unsigned i = 0; i < CONC_THREADS; i++) {
        args[i] = (conc_arg_t){.shared = s, .seed = 77 + i};
        ck_assert_int_eq(pthread_create(&th[i], NULL, conc_worker, &args[i]), 0);
    }
    /* Settings change while the workers run. */
    for (unsigned i = 0; i < 50; i++) {
        cfg.max_bytes = (i % 2) ? 24 * 1024 : 12 * 1024;
        cache_set_cfg(s->c, &cfg);
        cache_stats_t st;
        cache_stats(s->c, &st);
    }
    unsigned long hits = 0;
    for (unsigned i = 0; i < CONC_THREADS; i++) {
        pthread_join(th[i], NULL);
        ck_assert(!args[i].bad);
        hits += args[i].hits;
    }
    cache_stats_t st = stats_of(s->c);
    ck_assert_uint_gt(hits, 0);
    ck_assert_uint_eq(st.hits + st.stale_hits, hits);
    ck_assert_uint_le(st.bytes, cfg.max_bytes);
    for (unsigned i = 0; i < CONC_NAMES; i++)
        sr_msg_free(s->msgs[i]);
    cache_free(s->c);
    free(s);
}
END_TEST

/* ---- the cache file ---- */

#define WALL 1700000000

/* A cache file's bytes holding www.example.test A (TTL 300 stored at T0,
 * saved at T0+10 and wall time WALL), long.example.test A (TTL 3600), an
 * NXDOMAIN and a DO entry. */
static uint8_t *file_of_three(size_t *len)
{
    cache_cfg_t cfg = default_cfg();
    cache_t *c = cache_new(&cfg);
    size_t n = 0;
    ck_assert(store_a(c, "www.example.test", 300, 0xC0000201, T0));
    ck_assert(store_a(c, "long.example.test", 3600, 0xC0000202, T0));
    ck_assert(store_file(c, "nxdomain", T0));
    sr_msg_t *m = msg_file("aaaa_www_do");
    ck_assert(store_msg(c, m, true, false, T0));
    sr_msg_free(m);
    uint8_t *buf = cache_file_snapshot(c, T0 + 10, WALL, len, &n);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(n, 4);
    cache_free(c);
    return buf;
}

/* Saved, then read back into a new cache whose clock is elsewhere (a
 * reboot): the same answers, TTLs counted down by the time that passed. */
START_TEST(test_file_round_trip)
{
    cache_cfg_t cfg = default_cfg();
    cache_t *c = cache_new(&cfg);
    reply_t *r = reply_new();
    char err[256];
    size_t len = 0, loaded = 0;
    tq_t t;
    uint8_t *buf = file_of_three(&len);

    ck_assert_int_eq(cache_file_load_buf(c, buf, len, 5, WALL + 20, &loaded, err, sizeof(err)), 0);
    ck_assert_uint_eq(loaded, 4);
    tq_init(&t, "www.example.test", SR_TYPE_A);
    hit_ttl(c, &t, 5, r, 0, 270);
    hit_ttl(c, &t, 15, r, 0, 260);
    ck_assert_str_eq(field0(rr_at(r, 0)), "192.0.2.1");
    tq_init(&t, "www.example.test", SR_TYPE_AAAA);
    tq_edns(&t, true, 1232);
    ck_assert_int_eq(ask(c, &t, 5, false, r), CACHE_HIT);
    cache_free(c);

    /* Read after the A record expired: it is dropped, the rest stays. */
    c = cache_new(&cfg);
    ck_assert_int_eq(cache_file_load_buf(c, buf, len, 5, WALL + 300, &loaded, err, sizeof(err)),
                     0);
    tq_init(&t, "www.example.test", SR_TYPE_A);
    miss_at(c, &t, 5, r);
    tq_init(&t, "long.example.test", SR_TYPE_A);
    hit_ttl(c, &t, 5, r, 0, 3600 - 10 - 300);
    ck_assert_uint_eq(stats_of(c).entries, loaded);
    ck_assert_uint_ge(loaded, 1);
    ck_assert_uint_lt(loaded, 4);

    sr_free(buf);
    reply_free(r);
    cache_free(c);
}
END_TEST

/* With serve_stale, an entry read back after it expired is kept while it
 * expired less than stale_max ago: a miss for a plain lookup, stale when
 * the upstreams fail; without serve_stale, past stale_max, or where the
 * cache's clock does not reach back to its expiry, it is dropped. An entry
 * saved inside its serve-stale window goes to the file as well. */
START_TEST(test_file_serve_stale)
{
    cache_cfg_t cfg = default_cfg();
    cache_t *c;
    reply_t *r = reply_new();
    char err[256];
    size_t len = 0, len2 = 0, loaded = 0, n = 0;
    tq_t t;
    uint8_t *buf = file_of_three(&len);

    /* www.example.test A expired at WALL + 290; read at WALL + 300.
     * Without serve_stale: only the entries still fresh. */
    size_t fresh = 0;
    c = cache_new(&cfg);
    ck_assert_int_eq(
        cache_file_load_buf(c, buf, len, T0 + 5000, WALL + 300, &fresh, err, sizeof(err)), 0);
    ck_assert_uint_lt(fresh, 4);
    tq_init(&t, "www.example.test", SR_TYPE_A);
    ck_assert_int_eq(ask(c, &t, T0 + 5000, true, r), CACHE_MISS);
    cache_free(c);

    cfg.serve_stale = true;
    cfg.stale_max = 3600;
    c = cache_new(&cfg);
    ck_assert_int_eq(
        cache_file_load_buf(c, buf, len, T0 + 5000, WALL + 300, &loaded, err, sizeof(err)), 0);
    ck_assert_uint_eq(loaded, 4);
    tq_init(&t, "www.example.test", SR_TYPE_A);
    miss_at(c, &t, T0 + 5000, r);
    ck_assert_int_eq(ask(c, &t, T0 + 5000, true, r), CACHE_STALE);
    ck_assert_str_eq(field0(rr_at(r, 0)), "192.0.2.1");
    /* Saved again while stale, read back elsewhere: still stale. */
    uint8_t *again = cache_file_snapshot(c, T0 + 5000, WALL + 300, &len2, &n);
    ck_assert_ptr_nonnull(again);
    ck_assert_uint_eq(n, 4);
    cache_free(c);
    c = cache_new(&cfg);
    ck_assert_int_eq(
        cache_file_load_buf(c, again, len2, T0 + 100, WALL + 400, &loaded, err, sizeof(err)), 0);
    ck_assert_uint_eq(loaded, 4);
    ck_assert_int_eq(ask(c, &t, T0 + 100, true, r), CACHE_STALE);
    /* ... until stale_max after its expiry. */
    ck_assert_int_eq(ask(c, &t, T0 + 100 + 3600 - 110, true, r), CACHE_MISS);
    cache_free(c);
    sr_free(again);

    /* The clock does not reach back to the expiry (a fresh boot): dropped,
     * rather than served longer than stale_max. */
    c = cache_new(&cfg);
    ck_assert_int_eq(cache_file_load_buf(c, buf, len, 5, WALL + 300, &loaded, err, sizeof(err)),
                     0);
    ck_assert_uint_eq(loaded, fresh);
    ck_assert_int_eq(ask(c, &t, 5, true, r), CACHE_MISS);
    cache_free(c);

    /* Expired stale_max or longer ago: dropped. */
    cfg.stale_max = 5;
    c = cache_new(&cfg);
    ck_assert_int_eq(
        cache_file_load_buf(c, buf, len, T0 + 5000, WALL + 300, &loaded, err, sizeof(err)), 0);
    ck_assert_uint_lt(loaded, 4);
    ck_assert_int_eq(ask(c, &t, T0 + 5000, true, r), CACHE_MISS);

    sr_free(buf);
    reply_free(r);
    cache_free(c);
}
END_TEST

/* Every damaged shape is refused as a whole and leaves the cache as it
 * was: empty, truncated anywhere, a flipped byte, another version, random
 * bytes. */
START_TEST(test_file_corrupt)
{
    cache_cfg_t cfg = default_cfg();
    cache_t *c = cache_new(&cfg);
    char err[256];
    size_t len = 0, loaded = 0;
    uint8_t *buf = file_of_three(&len);
    uint8_t *copy = malloc(len);

    ck_assert_ptr_nonnull(copy);
    ck_assert_int_eq(cache_file_load_buf(c, buf, 0, 5, WALL, &loaded, err, sizeof(err)), -1);
    for (size_t cut = 1; cut < len; cut++) {
        ck_assert_int_eq(cache_file_load_buf(c, buf, cut, 5, WALL, &loaded, err, sizeof(err)),
                         -1);
        ck_assert_uint_eq(loaded, 0);
    }
    for (size_t i = 0; i < len; i++) {
        memcpy(copy, buf, len);
        copy[i] ^= 0x40;
        ck_assert_msg(cache_file_load_buf(c, copy, len, 5, WALL, &loaded, err, sizeof(err)) == -1,
                      "byte %zu flipped: accepted", i);
    }
    memcpy(copy, buf, len);
    sr_put32(copy + 8, 2);
    ck_assert_int_eq(cache_file_load_buf(c, copy, len, 5, WALL, &loaded, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "version"));
    srand(7);
    for (int round = 0; round < 100; round++) {
        for (size_t i = 0; i < len; i++)
            copy[i] = (uint8_t)rand();
        ck_assert_int_eq(cache_file_load_buf(c, copy, len, 5, WALL, &loaded, err, sizeof(err)),
                         -1);
    }
    ck_assert_uint_eq(stats_of(c).entries, 0);

    free(copy);
    sr_free(buf);
    cache_free(c);
}
END_TEST

/* A file from a larger cache fills a smaller one to its cache_size and
 * no further. */
START_TEST(test_file_bounded_by_cache_size)
{
    cache_cfg_t cfg = default_cfg();
    cache_t *big = cache_new(&cfg);
    char err[256], name[64];
    size_t len = 0, n = 0, loaded = 0;

    for (unsigned i = 0; i < 2000; i++) {
        snprintf(name, sizeof(name), "host%u.example.test", i);
        ck_assert(store_a(big, name, 300, i, T0));
    }
    uint8_t *buf = cache_file_snapshot(big, T0, WALL, &len, &n);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(n, 2000);
    cfg.max_bytes = 64u * 1024u;
    cache_t *small = cache_new(&cfg);
    ck_assert_int_eq(cache_file_load_buf(small, buf, len, 5, WALL, &loaded, err, sizeof(err)), 0);
    cache_stats_t st = stats_of(small);
    ck_assert_uint_gt(loaded, 0);
    ck_assert_uint_lt(loaded, 2000);
    ck_assert_uint_le(st.bytes, cfg.max_bytes);
    ck_assert_uint_le(st.entries, loaded);

    sr_free(buf);
    cache_free(big);
    cache_free(small);
}
END_TEST

/* Written atomically at mode 0600, read back; a missing file says so. */
START_TEST(test_file_write_read)
{
    cache_cfg_t cfg = default_cfg();
    cache_t *c = cache_new(&cfg);
    char dir[] = "/tmp/check_cache.XXXXXX", path[64], err[256];
    size_t len = 0, loaded = 0;
    struct stat st;
    uint8_t *buf = file_of_three(&len);

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/cache", dir);
    ck_assert_int_eq(cache_file_load(c, path, 5, WALL, &loaded, err, sizeof(err)), 1);
    ck_assert_int_eq(cache_file_write(path, buf, len, err, sizeof(err)), 0);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    ck_assert_uint_eq((size_t)st.st_size, len);
    ck_assert_int_eq(cache_file_load(c, path, 5, WALL, &loaded, err, sizeof(err)), 0);
    ck_assert_uint_eq(loaded, 4);
    unlink(path);
    rmdir(dir);
    sr_free(buf);
    cache_free(c);
}
END_TEST

/* 100,000 entries saved and loaded: the times are printed (not
 * asserted). */
START_TEST(test_file_timing)
{
    cache_cfg_t cfg = default_cfg();
    char name[64], err[256];
    size_t len = 0, n = 0, loaded = 0;
    struct timespec a, b, d;

    cfg.max_bytes = 64u << 20;
    cache_t *c = cache_new(&cfg);
    for (unsigned i = 0; i < 100000; i++) {
        snprintf(name, sizeof(name), "host%u.example.test", i);
        ck_assert(store_a(c, name, 300, i, T0));
    }
    /* CPU time: the figure that does not depend on what else runs. */
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    uint8_t *buf = cache_file_snapshot(c, T0, WALL, &len, &n);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    ck_assert_uint_eq(n, 100000);
    cache_t *c2 = cache_new(&cfg);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &d);
    ck_assert_int_eq(cache_file_load_buf(c2, buf, len, 5, WALL, &loaded, err, sizeof(err)), 0);
    struct timespec e;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &e);
    ck_assert_uint_eq(loaded, 100000);
    printf("cache file: 100000 entries, %zu bytes: snapshot %.1f ms, load %.1f ms (CPU time)\n",
           len, (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6,
           (double)(e.tv_sec - d.tv_sec) * 1e3 + (double)(e.tv_nsec - d.tv_nsec) / 1e6);
    sr_free(buf);
    cache_free(c);
    cache_free(c2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = add_tcase(
        s, "core", NULL, NULL,
        TESTS(test_hit_counts_ttl_down, test_question_case_preserved, test_case_folding_exact,
              test_header_patched, test_edns_only_when_client_sent_opt, test_truncation,
              test_ttl_clamp, test_rrset_ttls_equalised, test_negative_nxdomain,
              test_negative_nodata, test_negative_without_soa_not_cached, test_servfail_remembered,
              test_not_stored, test_opt_in_the_middle, test_render_fresh, test_lru_eviction,
              test_set_cfg_shrinks, test_flush, test_flush_below, test_dump,
              test_names_spelt_by_ttls, test_chaos_and_bad_args, test_serve_stale, test_prefetch,
              test_popular_top_n, test_popular_window, test_popular_decay,
              test_popular_rate_limited, test_popular_bounded, test_stats,
              test_hit_allocates_nothing, test_allocation_failures, test_concurrency,
              test_file_round_trip, test_file_serve_stale, test_file_corrupt,
              test_file_bounded_by_cache_size,
              test_file_write_read, test_file_timing));
    tcase_set_timeout(tc, 60);
    return run_suite(s);
}
