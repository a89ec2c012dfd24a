/* Unit tests: stubresd's forwarder (src/daemon/forwarder.c). The query
 * parser: which crafted packets are dropped, answered FORMERR, NOTIMP,
 * REFUSED or BADVERS, and what those replies hold. The query path, with
 * no sockets: queries go in through fwd_query() from a fake client whose
 * sink records every reply, hold and release; a fake transport records
 * the queries sent upstream and answers them when a test says. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <stubres/upstream.h>
#include <stubres/wire.h>

#include "cfg.h"
#include "daemon.h"
#include "forwarder.h"
#include "localdata.h"
#include "check-main.h"
#include "lib-internal.h" /* sr_get16, sr_put16, sr_put32 */

/* A query for www.example.test A with id 0x1234, RD, plus extra bytes. */
static size_t make_query(uint8_t *p, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
                         uint16_t ar)
{
    static const uint8_t q[] = {3,   'w', 'w', 'w', 7,   'e', 'x', 'a', 'm', 'p', 'l',
                                'e', 4,   't', 'e', 's', 't', 0,   0,   1,   0,   1};
    p[0] = 0x12;
    p[1] = 0x34;
    p[2] = (uint8_t)(flags >> 8);
    p[3] = (uint8_t)flags;
    p[4] = 0, p[5] = (uint8_t)qd;
    p[6] = 0, p[7] = (uint8_t)an;
    p[8] = 0, p[9] = (uint8_t)ns;
    p[10] = 0, p[11] = (uint8_t)ar;
    memcpy(p + 12, q, sizeof(q));
    return 12 + sizeof(q);
}

/* An OPT record: size, version, DO. */
static size_t add_opt(uint8_t *p, size_t off, uint16_t size, uint8_t version, bool do_bit,
                      uint8_t owner)
{
    p[off++] = owner; /* 0: root */
    p[off++] = 0;
    p[off++] = 41;
    p[off++] = (uint8_t)(size >> 8);
    p[off++] = (uint8_t)size;
    p[off++] = 0; /* extended RCODE */
    p[off++] = version;
    p[off++] = do_bit ? 0x80 : 0;
    p[off++] = 0;
    p[off++] = 0; /* RDLENGTH */
    p[off++] = 0;
    return off;
}

START_TEST(test_good_query)
{
    uint8_t p[512];
    fwd_qinfo_t qi;
    size_t n = make_query(p, 0x0100, 1, 0, 0, 1);

    n = add_opt(p, n, 4096, 0, true, 0);
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_OK);
    ck_assert_uint_eq(qi.id, 0x1234);
    ck_assert_uint_eq(qi.qtype, 1);
    ck_assert_uint_eq(qi.qclass, 1);
    ck_assert_uint_eq(qi.qname_len, 18);
    ck_assert(qi.edns);
    ck_assert(qi.do_bit);
    ck_assert_uint_eq(qi.edns_size, 4096);
    /* A small EDNS size counts as 512 (RFC 6891 6.2.5). */
    n = make_query(p, 0x0100, 1, 0, 0, 1);
    n = add_opt(p, n, 100, 0, false, 0);
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_OK);
    ck_assert_uint_eq(qi.edns_size, 512);
    /* Trailing bytes after the message are tolerated. */
    n = make_query(p, 0x0100, 1, 0, 0, 0);
    ck_assert_int_eq(fwd_parse_query(p, n + 5, &qi), FWD_OK);
    ck_assert(!qi.edns);
}
END_TEST

START_TEST(test_dropped)
{
    uint8_t p[512];
    fwd_qinfo_t qi;
    size_t n = make_query(p, 0x0100, 1, 0, 0, 0);

    for (size_t len = 0; len < 12; len++)
        ck_assert_int_eq(fwd_parse_query(p, len, &qi), FWD_DROP);
    /* A response (QR=1) is never answered: that could loop. */
    n = make_query(p, 0x8100, 1, 0, 0, 0);
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_DROP);
}
END_TEST

START_TEST(test_formerr)
{
    uint8_t p[512];
    fwd_qinfo_t qi;
    size_t n;

    /* No question, two questions. */
    n = make_query(p, 0x0100, 0, 0, 0, 0);
    ck_assert_int_eq(fwd_parse_query(p, 12, &qi), FWD_FORMERR);
    ck_assert(!qi.has_question);
    n = make_query(p, 0x0100, 2, 0, 0, 0);
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_FORMERR);
    /* Answer or authority records in a query. */
    n = make_query(p, 0x0100, 1, 1, 0, 0);
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_FORMERR);
    ck_assert(qi.has_question); /* still echoed */
    n = make_query(p, 0x0100, 1, 0, 1, 0);
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_FORMERR);
    /* The question cut short, at every length. */
    n = make_query(p, 0x0100, 1, 0, 0, 0);
    for (size_t len = 12; len < n; len++)
        ck_assert_int_eq(fwd_parse_query(p, len, &qi), FWD_FORMERR);
    /* A compression pointer in the question (nothing to point back to). */
    n = make_query(p, 0x0100, 1, 0, 0, 0);
    p[12] = 0xC0;
    p[13] = 12;
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_FORMERR);
    /* A label over 63 bytes, and a name over 255 bytes. */
    n = make_query(p, 0x0100, 1, 0, 0, 0);
    p[12] = 64;
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_FORMERR);
    memset(p + 12, 0, 300);
    for (size_t off = 12; off < 12 + 5 * 60; off += 60)
        p[off] = 59;
    ck_assert_int_eq(fwd_parse_query(p, 12 + 5 * 60 + 5, &qi), FWD_FORMERR);
    /* Two OPT records; an OPT not owned by the root; an OPT cut short. */
    n = make_query(p, 0x0100, 1, 0, 0, 2);
    n = add_opt(p, n, 1232, 0, false, 0);
    n = add_opt(p, n, 1232, 0, false, 0);
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_FORMERR);
    n = make_query(p, 0x0100, 1, 0, 0, 1);
    size_t o = n;
    p[o++] = 1, p[o++] = 'x';
    o = add_opt(p, o, 1232, 0, false, 0);
    ck_assert_int_eq(fwd_parse_query(p, o, &qi), FWD_FORMERR);
    n = make_query(p, 0x0100, 1, 0, 0, 1);
    o = add_opt(p, n, 1232, 0, false, 0);
    ck_assert_int_eq(fwd_parse_query(p, o - 1, &qi), FWD_FORMERR);
    /* An RDLENGTH past the end. */
    p[o - 1] = 9;
    ck_assert_int_eq(fwd_parse_query(p, o, &qi), FWD_FORMERR);
    /* Too many additional records. */
    n = make_query(p, 0x0100, 1, 0, 0, 5);
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_FORMERR);
    /* A question for OPT. */
    n = make_query(p, 0x0100, 1, 0, 0, 0);
    p[n - 3] = 41;
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_FORMERR);
}
END_TEST

/* An additional record's owner is read with the codec's one name skip:
 * a pointer back into the question is fine, one forward or into the
 * header is malformed (RFC 1035 4.1.4), whatever the record's type. */
START_TEST(test_additional_owner_pointer)
{
    static const uint8_t rr[] = {0, 250, 0, 255, 0, 0, 0, 0, 0, 0}; /* TSIG head, no RDATA */
    static const uint8_t targets[] = {12, 200, 4};
    uint8_t p[512];
    fwd_qinfo_t qi;

    for (size_t i = 0; i < sizeof(targets); i++) {
        size_t n = make_query(p, 0x0100, 1, 0, 0, 1);
        p[n++] = 0xC0;
        p[n++] = targets[i];
        memcpy(p + n, rr, sizeof(rr));
        n += sizeof(rr);
        ck_assert_int_eq(fwd_parse_query(p, n, &qi), (i == 0 ? FWD_OK : FWD_FORMERR));
        ck_assert(qi.has_question);
    }
}
END_TEST

START_TEST(test_other_verdicts)
{
    uint8_t p[512];
    fwd_qinfo_t qi;
    size_t n;

    /* Opcodes other than QUERY: NOTIMP (NOTIFY = 4, UPDATE = 5, IQUERY = 1). */
    for (unsigned op = 1; op < 16; op++) {
        n = make_query(p, (uint16_t)(0x0100 | (op << 11)), 1, 0, 0, 0);
        ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_NOTIMP);
        ck_assert_uint_eq(qi.opcode, op);
    }
    /* AXFR, IXFR. */
    n = make_query(p, 0x0100, 1, 0, 0, 0);
    p[n - 3] = 252;
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_REFUSED);
    p[n - 3] = 251;
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_REFUSED);
    /* EDNS version 1 (RFC 6891 6.1.3). */
    n = make_query(p, 0x0100, 1, 0, 0, 1);
    n = add_opt(p, n, 1232, 1, false, 0);
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_BADVERS);
}
END_TEST

START_TEST(test_error_replies)
{
    uint8_t p[512], out[512];
    fwd_qinfo_t qi;
    size_t n, r;

    /* FORMERR keeps ID, RD and the question; QR and RA set. */
    n = make_query(p, 0x0110, 1, 1, 0, 0); /* RD, CD */
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_FORMERR);
    r = fwd_error_reply(&qi, p, 1, 1232, out, sizeof(out));
    ck_assert_uint_eq(r, 12 + 22);
    ck_assert_uint_eq(out[0], 0x12);
    ck_assert_uint_eq(out[1], 0x34);
    ck_assert_uint_eq(out[2], 0x81);            /* QR, RD */
    ck_assert_uint_eq(out[3], 0x80 | 0x10 | 1); /* RA, CD, FORMERR */
    ck_assert_uint_eq(out[5], 1);               /* QDCOUNT */
    ck_assert_uint_eq(out[7] + out[9] + out[11], 0);
    ck_assert_mem_eq(out + 12, p + 12, 22);
    /* No question to echo: a header only. */
    make_query(p, 0x0100, 0, 0, 0, 0);
    ck_assert_int_eq(fwd_parse_query(p, 12, &qi), FWD_FORMERR);
    ck_assert_uint_eq(fwd_error_reply(&qi, p, 1, 1232, out, sizeof(out)), 12);
    ck_assert_uint_eq(out[5], 0);
    /* NOTIMP keeps the opcode, and sets none of RD, RA, CD (defined for
     * QUERY only), whatever the query had. */
    n = make_query(p, 0x2100 | 0x0200 | 0x0080 | 0x0040 | 0x0020 | 0x0010, 1, 0, 0, 0);
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_NOTIMP);
    r = fwd_error_reply(&qi, p, 4, 1232, out, sizeof(out));
    ck_assert_uint_eq(out[2], 0x80 | 0x20);
    ck_assert_uint_eq(out[3], 4);
    /* BADVERS (16): the upper bits in the OPT record. */
    n = make_query(p, 0x0100, 1, 0, 0, 1);
    n = add_opt(p, n, 1232, 1, true, 0);
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_BADVERS);
    r = fwd_error_reply(&qi, p, 16, 1232, out, sizeof(out));
    ck_assert_uint_eq(r, 12 + 22 + 11);
    ck_assert_uint_eq(out[3] & 0xF, 0);
    ck_assert_uint_eq(out[11], 1); /* ARCOUNT: the OPT */
    ck_assert_uint_eq(out[12 + 22 + 2], 41);
    ck_assert_uint_eq(out[12 + 22 + 5], 1);    /* 16 >> 4 */
    ck_assert_uint_eq(out[12 + 22 + 7], 0x80); /* DO copied */
    /* Too small a buffer: nothing. */
    ck_assert_uint_eq(fwd_error_reply(&qi, p, 16, 1232, out, 20), 0);
}
END_TEST

START_TEST(test_random_garbage)
{
    /* Whatever arrives, the parser stays inside the packet (ASan checks
     * the reads: every packet is an exact-size heap copy). */
    uint32_t x = 2463534242u;
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)(x % 300);
        uint8_t *p = malloc(len ? len : 1);
        fwd_qinfo_t qi;
        uint8_t out[600];
        for (size_t k = 0; k < len; k++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            p[k] = (uint8_t)x;
        }
        if (len > 12 && (i & 1)) {
            /* Often a plausible header, so the deeper paths run too. */
            p[2] &= 0x01;
            p[4] = 0, p[5] = 1;
            p[6] = p[8] = p[7] = p[9] = 0;
            p[10] = 0, p[11] &= 3;
        }
        fwd_verdict_t v = fwd_parse_query(p, len, &qi);
        if (v != FWD_DROP && v != FWD_OK)
            ck_assert_uint_ge(fwd_error_reply(&qi, p, 1, 1232, out, sizeof(out)), 12);
        if (qi.has_question)
            ck_assert(qi.qname >= p && qi.qname + qi.qname_len <= p + len);
        free(p);
        x = x * 1103515245u + 12345u;
    }
}
END_TEST

/* ---- the query path through a fake sink ---- */

/* What the sink saw. */
static struct {
    unsigned sends, holds, releases;
    uint8_t last[65536]; /* the last reply, sent or released */
    size_t last_len;
    const void *last_conn;
    /* the fake transport: the one query in flight upstream */
    unsigned queries;
    uint8_t q[600];
    size_t qlen;
    sr_xfer_cb cb;
    void *cb_arg;
    unsigned finished;
} t;

static void rec(const fwd_client_t *c, const uint8_t *msg, size_t len)
{
    ck_assert_uint_le(len, sizeof(t.last));
    memcpy(t.last, msg, len);
    t.last_len = len;
    t.last_conn = c->conn;
}

static void fake_send(const fwd_client_t *c, const uint8_t *msg, size_t len)
{
    t.sends++;
    rec(c, msg, len);
}

static void fake_hold(const fwd_client_t *c)
{
    (void)c;
    t.holds++;
}

static void fake_release(const fwd_client_t *c, const uint8_t *msg, size_t len)
{
    t.releases++;
    ck_assert_uint_le(t.releases, t.holds);
    if (msg != NULL)
        rec(c, msg, len);
}

static const fwd_sink_t dgram_sink = {"udp",     true,         4096, fake_send,
                                      fake_hold, fake_release, NULL, FWD_XPORT_PLAIN};
static const fwd_sink_t stream_sink = {"tcp",     false,        65535, fake_send,
                                       fake_hold, fake_release, NULL,  FWD_XPORT_PLAIN};

static sr_xfer_t *fake_query(sr_upstream_t *up, const uint8_t *q, size_t qlen, unsigned flags,
                             int timeout_ms, sr_xfer_cb cb, void *arg, sr_status_t *status)
{
    (void)up, (void)flags, (void)timeout_ms, (void)status;
    ck_assert_uint_le(qlen, sizeof(t.q));
    t.queries++;
    memcpy(t.q, q, qlen);
    t.qlen = qlen;
    t.cb = cb;
    t.cb_arg = arg;
    return (sr_xfer_t *)&t.cb; /* any non-NULL handle */
}

static void fake_cancel(sr_xfer_t *x)
{
    (void)x;
    t.cb = NULL;
}

static uint32_t fake_now_s(void)
{
    return 1000;
}

static uint64_t fake_now_us(void)
{
    return 1000u * 1000000u;
}

static void fake_finished(void *arg)
{
    (void)arg;
    t.finished++;
}

static char fake_up; /* the one upstream's sr_upstream_t */

/* A forwarder context as worker.c sets one up, with the fakes above, a
 * real cache and settings (one upstream, max_udp_size 1232). */
static fwd_ctx_t *ctx_new(void)
{
    fwd_ctx_t *fx = calloc(1, sizeof(*fx));
    pool_inst_t *pi = calloc(1, sizeof(*pi));
    char err[256];

    memset(&t, 0, sizeof(t));
    ck_assert(fx != NULL && pi != NULL);
    fx->cfg = cfg_new();
    ck_assert(cfg_set(fx->cfg, "servers", "udp://192.0.2.1", NULL, false, err, sizeof(err)) ==
              CFG_OK);
    ck_assert(cfg_set(fx->cfg, "max_udp_size", "1232", NULL, false, err, sizeof(err)) == CFG_OK);
    cache_cfg_t cc = daemon_cache_cfg(fx->cfg);
    fx->cache = cache_new(&cc);
    fx->stats = calloc(1, sizeof(*fx->stats));
    fx->table = fwd_table_new(1);
    fx->msg = sr_msg_new();
    fx->out = malloc(65536);
    pi->pool = pool_new(fx->cfg, NULL, err, sizeof(err));
    ck_assert(fx->cache && fx->stats && fx->table && fx->msg && fx->out && pi->pool);
    pi->ups[0] = (sr_upstream_t *)&fake_up;
    pi->users = 1;
    fx->pool = pi;
    fx->rnd = 1;
    fx->now_s = fake_now_s;
    fx->now_us = fake_now_us;
    fx->query = fake_query;
    fx->cancel = fake_cancel;
    fx->finished = fake_finished;
    return fx;
}

static void ctx_free(fwd_ctx_t *fx)
{
    fwd_table_free(fx->table);
    ck_assert_uint_eq(fx->pool->users, 1);
    pool_unref(fx->pool->pool);
    free(fx->pool);
    cache_free(fx->cache);
    cfg_unref(fx->cfg);
    sr_msg_free(fx->msg);
    free(fx->out);
    free((void *)fx->stats);
    free(fx);
}

/* A client on 127.0.0.1 of sink, on connection conn (streams). */
static fwd_client_t client_of(const fwd_sink_t *sink, void *conn)
{
    fwd_client_t c;
    struct sockaddr_in *sin = (struct sockaddr_in *)&c.peer;

    memset(&c, 0, sizeof(c));
    c.sink = sink;
    c.conn = conn;
    c.fd = conn != NULL ? -1 : 3;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(53000);
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c.peerlen = sizeof(*sin);
    return c;
}

/* www.example.test with its case as a client might send it. */
static const uint8_t MIXED[] = {3,   'w', 'W', 'w', 7,   'E', 'x', 'A', 'm',
                                'p', 'L', 'e', 4,   't', 'E', 'S', 't', 0};

/* A query for name A with id and an OPT of edns_size (0: none). */
static size_t query_for(uint8_t *p, uint16_t id, const uint8_t *name, size_t nlen,
                        uint16_t edns_size)
{
    memset(p, 0, SR_HEADER_LEN);
    sr_put16(p, id);
    sr_put16(p + 2, SR_FLAG_RD);
    sr_put16(p + 4, 1);
    sr_put16(p + 10, edns_size ? 1 : 0);
    memcpy(p + SR_HEADER_LEN, name, nlen);
    size_t off = SR_HEADER_LEN + nlen;
    sr_put16(p + off, SR_TYPE_A);
    sr_put16(p + off + 2, SR_CLASS_IN);
    off += 4;
    return edns_size ? add_opt(p, off, edns_size, 0, false, 0) : off;
}

/* A response to the question of query q (qlen bytes, its name
 * uncompressed) with n A records 192.0.2.k, TTL 300. */
static size_t response_to(uint8_t *r, const uint8_t *q, size_t qlen, unsigned n)
{
    size_t qend = SR_HEADER_LEN;

    while (q[qend] != 0)
        qend += 1u + q[qend];
    qend += 1 + 4;
    ck_assert_uint_le(qend, qlen);
    memcpy(r, q, qend);
    sr_put16(r + 2, SR_FLAG_QR | SR_FLAG_RD | SR_FLAG_RA);
    sr_put16(r + 6, (uint16_t)n);
    sr_put16(r + 8, 0);
    sr_put16(r + 10, 0);
    size_t off = qend;
    for (unsigned k = 0; k < n; k++) {
        sr_put16(r + off, 0xC00C);
        sr_put16(r + off + 2, SR_TYPE_A);
        sr_put16(r + off + 4, SR_CLASS_IN);
        sr_put32(r + off + 6, 300);
        sr_put16(r + off + 10, 4);
        r[off + 12] = 192, r[off + 13] = 0, r[off + 14] = 2, r[off + 15] = (uint8_t)k;
        off += 16;
    }
    return off;
}

/* Put www.example.test A with n records in fx's cache. */
static void cache_fill(fwd_ctx_t *fx, unsigned n)
{
    uint8_t q[600], r[4096];
    size_t ql = query_for(q, 1, MIXED, sizeof(MIXED), 0);
    size_t rl = response_to(r, q, ql, n);

    ck_assert(sr_msg_parse(fx->msg, r, rl, 0) == SR_OK);
    ck_assert(cache_store(fx->cache, MIXED, sizeof(MIXED), SR_TYPE_A, SR_CLASS_IN, false, false,
                          fx->msg, fake_now_s()));
}

/* The reply recorded last: the client's ID, its question as it wrote it,
 * an rcode and a count of answers. */
static void assert_reply(uint16_t id, unsigned rcode, unsigned ancount)
{
    sr_msg_t *m = sr_msg_new();

    ck_assert(m != NULL);
    ck_assert_uint_ge(t.last_len, SR_HEADER_LEN + sizeof(MIXED) + 4);
    ck_assert(sr_msg_parse(m, t.last, t.last_len, 0) == SR_OK);
    ck_assert_uint_eq(sr_msg_id(m), id);
    ck_assert(sr_msg_flags(m) & SR_FLAG_QR);
    ck_assert_uint_eq(sr_msg_rcode(m), rcode);
    ck_assert_uint_eq(sr_msg_qdcount(m), 1);
    ck_assert_uint_eq(sr_msg_section_count(m, SR_SECTION_ANSWER), ancount);
    ck_assert_mem_eq(t.last + SR_HEADER_LEN, MIXED, sizeof(MIXED)); /* 0x20 case kept */
    sr_msg_free(m);
}

START_TEST(test_sink_cache_hit)
{
    fwd_ctx_t *fx = ctx_new();
    fwd_client_t c = client_of(&dgram_sink, NULL);
    uint8_t q[600], out[4096];
    size_t ql = query_for(q, 0xBEEF, MIXED, sizeof(MIXED), 1232);

    cache_fill(fx, 2);
    fwd_query(fx, q, ql, &c, out, sizeof(out));
    /* Answered at once, through the sink, rendered where it was told. */
    ck_assert_uint_eq(t.sends, 1);
    ck_assert_uint_eq(t.holds, 0);
    ck_assert_uint_eq(t.queries, 0);
    ck_assert_mem_eq(t.last, out, t.last_len);
    assert_reply(0xBEEF, 0, 2);
    ck_assert_uint_eq(STAT_GET(fx->stats, cache_hits), 1);
    ck_assert_uint_eq(STAT_GET(fx->stats, queries_udp), 1);
    ck_assert_uint_eq(STAT_GET(fx->stats, queries_tcp), 0);
    ctx_free(fx);
}
END_TEST

START_TEST(test_sink_miss_held_then_replied)
{
    fwd_ctx_t *fx = ctx_new();
    int conn1, conn2; /* two TCP connections */
    fwd_client_t c1 = client_of(&stream_sink, &conn1), c2 = client_of(&stream_sink, &conn2);
    uint8_t q[600], out[65535], r[4096];
    size_t ql = query_for(q, 0x0101, MIXED, sizeof(MIXED), 0);

    fwd_query(fx, q, ql, &c1, out, sizeof(out));
    /* Nothing to say yet: held, one query upstream. */
    ck_assert_uint_eq(t.sends, 0);
    ck_assert_uint_eq(t.holds, 1);
    ck_assert_uint_eq(t.releases, 0);
    ck_assert_uint_eq(t.queries, 1);
    ck_assert_uint_eq(fwd_table_count(fx->table), 1);
    /* The same question from another client waits for the same answer;
     * the first client asking again is not counted twice. */
    sr_put16(q, 0x0202);
    fwd_query(fx, q, ql, &c2, out, sizeof(out));
    sr_put16(q, 0x0101);
    fwd_query(fx, q, ql, &c1, out, sizeof(out));
    ck_assert_uint_eq(t.holds, 2);
    ck_assert_uint_eq(t.queries, 1);

    /* The upstream answers (its own ID, the question in its case). */
    size_t rl = response_to(r, t.q, t.qlen, 1);
    sr_xfer_info_t info;
    memset(&info, 0, sizeof(info));
    info.detail = "";
    t.cb(t.cb_arg, SR_OK, r, rl, &info);
    ck_assert_uint_eq(t.releases, 2);
    ck_assert_uint_eq(t.sends, 0);
    ck_assert_uint_eq(t.finished, 1);
    ck_assert_uint_eq(fwd_table_count(fx->table), 0);
    ck_assert_ptr_eq(t.last_conn, &conn2); /* in the order they came */
    assert_reply(0x0202, 0, 1);
    ck_assert_uint_eq(STAT_GET(fx->stats, queries_tcp), 3);

    /* Now cached: the next one is answered at once. */
    fwd_query(fx, q, ql, &c1, out, sizeof(out));
    ck_assert_uint_eq(t.sends, 1);
    assert_reply(0x0101, 0, 1);
    ctx_free(fx);
}
END_TEST

START_TEST(test_sink_release_at_exit)
{
    fwd_ctx_t *fx = ctx_new();
    fwd_client_t c = client_of(&dgram_sink, NULL);
    uint8_t q[600], out[4096];
    size_t ql = query_for(q, 0x0303, MIXED, sizeof(MIXED), 0);

    fwd_query(fx, q, ql, &c, out, sizeof(out));
    ck_assert_uint_eq(t.holds, 1);
    /* The worker ends with the query in flight: the client is let go
     * without an answer, and the transfer cancelled. */
    fwd_table_free(fx->table);
    fx->table = fwd_table_new(1);
    ck_assert_uint_eq(t.releases, 1);
    ck_assert_uint_eq(t.sends, 0);
    ck_assert_ptr_null(t.cb);
    ctx_free(fx);
}
END_TEST

START_TEST(test_sink_formerr)
{
    fwd_ctx_t *fx = ctx_new();
    fwd_client_t c = client_of(&dgram_sink, NULL);
    uint8_t q[600], out[4096];
    size_t ql = query_for(q, 0x0404, MIXED, sizeof(MIXED), 0);

    /* An answer section in a query: FORMERR, with the question echoed. */
    sr_put16(q + 6, 1);
    fwd_query(fx, q, ql, &c, out, sizeof(out));
    ck_assert_uint_eq(t.sends, 1);
    ck_assert_uint_eq(t.holds, 0);
    ck_assert_uint_eq(t.queries, 0);
    assert_reply(0x0404, 1, 0);
    ck_assert_uint_eq(STAT_GET(fx->stats, malformed), 1);
    /* A response (QR) is never answered. */
    sr_put16(q + 2, SR_FLAG_QR);
    fwd_query(fx, q, ql, &c, out, sizeof(out));
    ck_assert_uint_eq(t.sends, 1);
    ck_assert_uint_eq(STAT_GET(fx->stats, dropped), 1);
    ctx_free(fx);
}
END_TEST

/* Is the recorded reply truncated (TC)? */
static bool last_tc(void)
{
    return (sr_get16(t.last + 2) & SR_FLAG_TC) != 0;
}

START_TEST(test_sink_truncation)
{
    fwd_ctx_t *fx = ctx_new();
    fwd_client_t u = client_of(&dgram_sink, NULL);
    int conn;
    fwd_client_t s = client_of(&stream_sink, &conn);
    uint8_t q[600], out[65535];
    size_t ql;

    cache_fill(fx, 60); /* 994 bytes with its question */
    /* A datagram without EDNS: 512 bytes at most (RFC 1035 4.2.1), TC. */
    ql = query_for(q, 0x0505, MIXED, sizeof(MIXED), 0);
    fwd_query(fx, q, ql, &u, out, sizeof(out));
    ck_assert_uint_eq(t.sends, 1);
    ck_assert_uint_le(t.last_len, 512);
    ck_assert(last_tc());
    ck_assert_uint_eq(STAT_GET(fx->stats, truncated), 1);
    /* With EDNS 4096, under max_udp_size (1232): whole. */
    ql = query_for(q, 0x0606, MIXED, sizeof(MIXED), 4096);
    fwd_query(fx, q, ql, &u, out, sizeof(out));
    ck_assert(!last_tc());
    assert_reply(0x0606, 0, 60);
    /* With max_udp_size 512 the EDNS size is capped: TC again. */
    char err[256];
    ck_assert(cfg_set(fx->cfg, "max_udp_size", "512", NULL, false, err, sizeof(err)) == CFG_OK);
    fwd_query(fx, q, ql, &u, out, sizeof(out));
    ck_assert_uint_le(t.last_len, 512);
    ck_assert(last_tc());
    ck_assert_uint_eq(STAT_GET(fx->stats, truncated), 2);
    /* Over a stream, without EDNS: whole, not counted as truncated. */
    ql = query_for(q, 0x0707, MIXED, sizeof(MIXED), 0);
    fwd_query(fx, q, ql, &s, out, sizeof(out));
    ck_assert_uint_eq(t.sends, 4);
    ck_assert(!last_tc());
    assert_reply(0x0707, 0, 60);
    ck_assert_uint_eq(STAT_GET(fx->stats, truncated), 2);
    ctx_free(fx);
}
END_TEST

/* A local CNAME whose target is not local: the target from upstream
 * (the client held meanwhile), then the CNAME followed by the target's
 * records, not authoritative; the second time from the cache. */
START_TEST(test_sink_local_cname_upstream)
{
    static const uint8_t HOME[] = {3,   'W', 'w', 'W', 4,   'h', 'o', 'm',
                                   'e', 4,   'a', 'r', 'p', 'a', 0};
    const char *recs[] = {"www.home.arpa CNAME www.example.test."};
    local_src_t src = {.records = recs, .nrecords = 1, .local_ttl = 300};
    fwd_ctx_t *fx = ctx_new();
    int conn;
    fwd_client_t c = client_of(&stream_sink, &conn), d = client_of(&dgram_sink, NULL);
    uint8_t q[600], out[65535], r[4096];
    char err[256];
    size_t ql = query_for(q, 0x0404, HOME, sizeof(HOME), 0);
    sr_msg_t *m = sr_msg_new();

    fx->cfg->localdata = localdata_new(&src, err, sizeof(err));
    ck_assert(fx->cfg->localdata != NULL && m != NULL);
    fwd_query(fx, q, ql, &c, out, sizeof(out));
    ck_assert_uint_eq(t.sends, 0);
    ck_assert_uint_eq(t.holds, 1);
    ck_assert_uint_eq(t.queries, 1);
    size_t rl = response_to(r, t.q, t.qlen, 2);
    ck_assert(sr_name_equal(r + SR_HEADER_LEN, sizeof(MIXED), MIXED, sizeof(MIXED)));
    sr_xfer_info_t info;
    memset(&info, 0, sizeof(info));
    info.detail = "";
    t.cb(t.cb_arg, SR_OK, r, rl, &info);
    ck_assert_uint_eq(t.releases, 1);
    ck_assert_ptr_eq(t.last_conn, &conn);
    for (int round = 0; round < 2; round++) {
        ck_assert(sr_msg_parse(m, t.last, t.last_len, 0) == SR_OK);
        ck_assert_uint_eq(sr_msg_id(m), 0x0404);
        ck_assert_uint_eq(sr_msg_rcode(m), 0);
        ck_assert(!(sr_msg_flags(m) & SR_FLAG_AA)); /* the tail is not ours */
        ck_assert_mem_eq(t.last + SR_HEADER_LEN, HOME, sizeof(HOME)); /* 0x20 case kept */
        ck_assert_uint_eq(sr_msg_section_count(m, SR_SECTION_ANSWER), 3);
        ck_assert_uint_eq(sr_msg_rr(m, 0)->type, SR_TYPE_CNAME);
        ck_assert_uint_eq(sr_msg_rr(m, 1)->type, SR_TYPE_A);
        ck_assert_uint_eq(sr_msg_rr(m, 2)->type, SR_TYPE_A);
        /* Again over UDP: from the cache, nothing upstream. */
        fwd_query(fx, q, ql, &d, out, sizeof(out));
    }
    ck_assert_uint_eq(t.sends, 2);
    ck_assert_uint_eq(t.queries, 1);
    sr_msg_free(m);
    ctx_free(fx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("forwarder");
    add_tcase(s, "parse", NULL, NULL,
              TESTS(test_good_query, test_dropped, test_formerr, test_additional_owner_pointer,
                    test_other_verdicts,
                    test_error_replies, test_random_garbage));
    add_tcase(s, "sink", NULL, NULL,
              TESTS(test_sink_cache_hit, test_sink_miss_held_then_replied,
                    test_sink_release_at_exit, test_sink_formerr, test_sink_truncation,
                    test_sink_local_cname_upstream));
    return run_suite(s);
}
