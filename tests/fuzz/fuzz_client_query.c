/* libFuzzer target: the daemon's handling of client queries end to end,
 * without sockets: fwd_query() of src/daemon/forwarder.c (parse, allow
 * list, opcode and EDNS decisions, cache lookup, answer building) with a
 * real cache, settings and upstream pool, and the rest of the path that
 * follows a cache miss (coalescing, attempts, upstream answers cached and
 * rendered for every waiting client, SERVFAIL and stale answers when the
 * upstreams fail, prefetch).
 *
 * The input is a program: a few bytes of settings (which upstreams could
 * be made, which transfers cannot start), then operations -
 * a client query over UDP or TCP from an allowed or a refused address
 * (built from fuzzer choices: name and case, type, class, flags, opcode,
 * EDNS size, version and DO, extra records; or raw bytes), a response
 * stored in the cache, an outcome for one of the upstream queries in
 * flight (timeout, error, a response built for its question or raw
 * bytes), time passing, a change of settings, the start of a drain.
 *
 * What is outside the forwarder is what its context (fwd_ctx_t) and the
 * clients' sinks (fwd_sink_t) point to, set up here as worker.c,
 * listener.c and tcpconn.c set them up in the daemon: two sinks (a UDP
 * one, a TCP one) that check every reply, the transport (a query is only
 * recorded, and the fuzzer later completes it) and the clocks, so a run
 * is deterministic and nothing leaves the process.
 *
 * Every reply sent, at once or later, must parse with sr_msg_parse, carry
 * QR and the client's ID, echo the client's question byte for byte when
 * the client sent a readable one (or carry none), carry an OPT only when
 * the client sent one, and fit the client's limit (512 bytes without
 * EDNS, its EDNS size capped by max_udp_size, 65535 over TCP). A query
 * that is itself a response (QR=1) is never answered; no query gets two
 * replies; every query held for upstream (sink->hold) is let go exactly
 * once (sink->release), and none is answered at once as well; the forwarder never cancels a
 * transfer that has finished nor hears back from one it cancelled. */
#include "config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <stubres/upstream.h>
#include <stubres/wire.h>

#include "cache.h"
#include "cfg.h"
#include "daemon.h"
#include "forwarder.h"
#include "fuzz.h"
#include "lib-internal.h"
#include "../pktbuild.h"
#include "log.h"
#include "pool.h"
#include "stats.h"

/* Client queries and upstream transfers of one input at most. */
#define MAX_QUERIES 256
#define MAX_XFERS 256
#define NUPSTREAMS 3

/* ---- reading the input ---- */

/* Up to n bytes of the input as they are. */
static const uint8_t *take(fz_t *f, size_t n, size_t *got)
{
    if (n > f->len - f->off)
        n = f->len - f->off;
    const uint8_t *p = f->p + f->off;
    f->off += n;
    *got = n;
    return p;
}

/* ---- names, types ---- */

static const uint8_t N0[] = {3,   'w', 'w', 'w', 7,   'e', 'x', 'a', 'm',
                             'p', 'l', 'e', 4,   't', 'e', 's', 't', 0};
static const uint8_t N1[] = {1,   'a', 1,   'b', 7,   'e', 'x', 'a', 'm',
                             'p', 'l', 'e', 4,   't', 'e', 's', 't', 0};
static const uint8_t N2[] = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0};
/* Bytes next to the letters and above ASCII, which must not fold. */
static const uint8_t N3[] = {4, '@', 'Z', 0xC1, '[', 4, 't', 'E', 's', 't', 0};
static const uint8_t N4[] = {0};
/* 255 bytes: the longest name there is (three labels of 63, one of 61). */
static uint8_t N5[SR_NAME_MAX_WIRE];

static const struct {
    const uint8_t *w;
    size_t len;
} NAMES[] = {{N0, sizeof(N0)}, {N1, sizeof(N1)}, {N2, sizeof(N2)},
             {N3, sizeof(N3)}, {N4, sizeof(N4)}, {N5, sizeof(N5)}};
#define NNAMES (sizeof(NAMES) / sizeof(NAMES[0]))

static const uint16_t QTYPES[] = {SR_TYPE_A,   SR_TYPE_AAAA, SR_TYPE_MX, SR_TYPE_TXT, SR_TYPE_CNAME,
                                  SR_TYPE_ANY, SR_TYPE_SOA,  41,         251,         252};
#define NQTYPES (sizeof(QTYPES) / sizeof(QTYPES[0]))

static void init_names(void)
{
    size_t o = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t l = i < 3 ? 63 : 61;
        N5[o++] = l;
        memset(N5 + o, i % 2 ? 'L' : 'l', l);
        o += l;
    }
    N5[o++] = 0;
    FUZZ_CHECK(o == sizeof(N5));
}

/* Copy name k, flipping the case of letters where the mask says. */
static size_t name_variant(size_t k, uint32_t mask, uint8_t *out)
{
    size_t n = NAMES[k].len;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = NAMES[k].w[i];
        if ((mask >> (i & 31u)) & 1u) {
            if (c >= 'a' && c <= 'z')
                c = (uint8_t)(c - 32);
            else if (c >= 'A' && c <= 'Z')
                c = (uint8_t)(c + 32);
        }
        out[i] = c;
    }
    return n;
}

/* ---- building messages ---- */

static uint32_t pick_ttl(fz_t *f)
{
    static const uint32_t v[] = {0, 1, 5, 30, 300, 3600, 86400, 0x80000000u};
    uint8_t c = u8(f);
    return c >= 8 * 24 ? u16(f) : v[c % 8];
}

/* One record owned by the question (a pointer to offset 12). */
static void b_record(tpkt_t *b, fz_t *f, uint16_t type, int section)
{
    uint8_t r[256];
    tpkt_u16(b, 0xC00C);
    switch (type) {
    case SR_TYPE_AAAA:
        tpkt_u16(b, type);
        tpkt_u16(b, SR_CLASS_IN);
        tpkt_u32(b, pick_ttl(f));
        tpkt_u16(b, 16);
        for (int i = 0; i < 16; i++)
            r[i] = u8(f);
        tpkt_put(b, r, 16);
        break;
    case SR_TYPE_TXT: { /* long strings make answers that must truncate */
        size_t n = u8(f);
        tpkt_u16(b, type);
        tpkt_u16(b, SR_CLASS_IN);
        tpkt_u32(b, pick_ttl(f));
        tpkt_u16(b, (uint16_t)(n + 1));
        r[0] = (uint8_t)n;
        memset(r + 1, 't', n);
        tpkt_put(b, r, n + 1);
        break;
    }
    case SR_TYPE_MX:
        tpkt_u16(b, type);
        tpkt_u16(b, SR_CLASS_IN);
        tpkt_u32(b, pick_ttl(f));
        tpkt_u16(b, 4);
        tpkt_u16(b, u16(f));
        tpkt_u16(b, 0xC00C);
        break;
    case SR_TYPE_SOA:
        tpkt_u16(b, type);
        tpkt_u16(b, SR_CLASS_IN);
        tpkt_u32(b, pick_ttl(f));
        tpkt_u16(b, 2 + 1 + 20);
        tpkt_u16(b, 0xC00C);
        tpkt_put(b, "", 1);
        for (int i = 0; i < 4; i++)
            tpkt_u32(b, 3600);
        tpkt_u32(b, pick_ttl(f));
        break;
    case SR_TYPE_CNAME: {
        size_t k = u8(f) % NNAMES;
        uint8_t t[SR_NAME_MAX_WIRE];
        size_t n = name_variant(k, 0, t);
        tpkt_u16(b, type);
        tpkt_u16(b, SR_CLASS_IN);
        tpkt_u32(b, pick_ttl(f));
        tpkt_u16(b, (uint16_t)n);
        tpkt_put(b, t, n);
        break;
    }
    default:
        tpkt_u16(b, SR_TYPE_A);
        tpkt_u16(b, SR_CLASS_IN);
        tpkt_u32(b, pick_ttl(f));
        tpkt_u16(b, 4);
        for (int i = 0; i < 4; i++)
            r[i] = u8(f);
        tpkt_put(b, r, 4);
        break;
    }
    b->count[section]++;
}

/* A response to (qname, qtype, qclass) with ID id, from fuzzer choices:
 * an answer, a CNAME, NXDOMAIN or NODATA with an SOA, SERVFAIL and other
 * failures, TC, a wrong question, QR=0, or raw records. */
static void build_response(fz_t *f, uint16_t id, const uint8_t *qname, size_t qlen, uint16_t qtype,
                           uint16_t qclass, tpkt_t *b)
{
    uint8_t kind = u8(f), opts = u8(f);
    uint16_t flags = 0x8180; /* QR RD RA */
    unsigned rcode = 0;

    if (opts & 1)
        flags |= SR_FLAG_AA;
    if (opts & 2)
        flags |= SR_FLAG_AD;
    tpkt_put(b, qname, qlen);
    tpkt_u16(b, qtype);
    tpkt_u16(b, qclass);
    switch (kind % 10) {
    case 0:
    case 1:
    case 2: {
        unsigned n = 1 + u8(f) % 16;
        uint16_t t = qtype == SR_TYPE_ANY || qtype == SR_TYPE_CNAME ? SR_TYPE_A : qtype;
        for (unsigned i = 0; i < n; i++)
            b_record(b, f, t, 0);
        break;
    }
    case 3:
        b_record(b, f, SR_TYPE_CNAME, 0);
        if (opts & 4)
            b_record(b, f, qtype, 0);
        break;
    case 4:
        rcode = 3;
        b_record(b, f, SR_TYPE_SOA, 1);
        break;
    case 5:
        if (opts & 4)
            b_record(b, f, SR_TYPE_SOA, 1);
        break;
    case 6: {
        static const unsigned rc[] = {2, 5, 1, 4};
        rcode = rc[(opts >> 3) & 3];
        break;
    }
    case 7: flags |= SR_FLAG_TC; break;
    case 8: { /* a question or header the forwarder must not believe */
        uint8_t v = (opts >> 3) & 3;
        if (v == 0)
            sr_put16(b->d.p + b->d.len - 4, (uint16_t)(qtype + 1));
        else if (v == 1)
            flags &= (uint16_t)~SR_FLAG_QR;
        else if (v == 2)
            flags |= 0x2800; /* opcode 5 */
        else
            b->d.p[SR_HEADER_LEN + qlen - 2] ^= 0x01; /* a different name */
        b_record(b, f, qtype, 0);
        break;
    }
    default: { /* raw records after the question */
        size_t n;
        const uint8_t *p = take(f, u8(f), &n);
        b->count[0] = u8(f) % 4;
        b->count[1] = u8(f) % 4;
        b->count[2] = u8(f) % 4;
        tpkt_put(b, p, n);
        break;
    }
    }
    if (opts & 0x20) { /* an OPT record: size, extended RCODE bits, DO */
        tpkt_put(b, "", 1);
        tpkt_u16(b, 41);
        tpkt_u16(b, u16(f));
        tpkt_u32(b, (opts & 0x40) ? 0x01008000u : 0x8000u);
        tpkt_u16(b, 0);
        b->count[2]++;
    }
    sr_put16(b->d.p, id);
    sr_put16(b->d.p + 2, (uint16_t)(flags | rcode));
    sr_put16(b->d.p + 4, 1);
    sr_put16(b->d.p + 6, b->count[0]);
    sr_put16(b->d.p + 8, b->count[1]);
    sr_put16(b->d.p + 10, b->count[2]);
}

/* ---- the world outside the forwarder ---- */

/* One client query: what its replies must match. */
typedef struct query {
    uint16_t id;
    bool tcp;
    bool is_response; /* QR=1: must never be answered */
    bool has_question;
    uint8_t question[SR_NAME_MAX_WIRE + 4];
    size_t question_len;
    bool edns;
    size_t limit;
    unsigned replies;
    unsigned holds; /* counted in flight (sink->hold), not yet let go */
} query_t;

/* One upstream transfer the forwarder started. */
typedef struct xfer {
    bool live;
    sr_xfer_cb cb;
    void *arg;
    uint8_t q[SR_HEADER_LEN + SR_NAME_MAX_WIRE + 4 + 11];
    size_t qlen;
} xfer_t;

static struct {
    query_t q[MAX_QUERIES];
    size_t nq;
    char conns[MAX_QUERIES]; /* TCP query i comes on connection conns + i */
    xfer_t x[MAX_XFERS];
    size_t nx;
    uint32_t now;
    uint64_t now_us;
    uint8_t start_fails; /* bit k % 8: the k-th transfer cannot start */
    unsigned starts;
    sr_msg_t *reply;
    unsigned max_udp_size; /* settings now in force */
} g;

static char g_ups[NUPSTREAMS];

/* The client's limit and what it sent, read with a scanner of its own
 * (as lenient as the forwarder about names it only skips, so it finds
 * every OPT the forwarder finds). */
static void scan_query(query_t *q, const uint8_t *p, size_t len)
{
    size_t off = SR_HEADER_LEN, total = 0;

    q->id = len >= 2 ? sr_get16(p) : 0;
    q->is_response = len >= 3 && (p[2] & 0x80) != 0;
    q->limit = q->tcp ? 65535 : 512;
    if (len < SR_HEADER_LEN)
        return;
    uint16_t qd = sr_get16(p + 4), ar = sr_get16(p + 10);
    if (qd != 1)
        return;
    /* The question: labels only (a query has nothing to point back to). */
    for (;;) {
        if (off >= len)
            return;
        uint8_t l = p[off];
        total += 1u + l;
        if (l > 63 || total > SR_NAME_MAX_WIRE || off + 1 + l > len)
            return;
        off += 1u + l;
        if (l == 0)
            break;
    }
    if (off + 4 > len)
        return;
    q->has_question = true;
    q->question_len = off + 4 - SR_HEADER_LEN;
    memcpy(q->question, p + SR_HEADER_LEN, q->question_len);
    off += 4;
    /* The additional records, for an OPT. */
    for (unsigned i = 0; i < ar && i < 4; i++) {
        for (;;) {
            if (off >= len)
                return;
            uint8_t l = p[off];
            if ((l & 0xC0) == 0xC0) {
                off += 2;
                break;
            }
            if (l > 63)
                return;
            off += 1u + l;
            if (l == 0)
                break;
        }
        if (off + 10 > len)
            return;
        uint16_t type = sr_get16(p + off), cls = sr_get16(p + off + 2);
        uint16_t rdlen = sr_get16(p + off + 8);
        if (type == 41 && !q->edns) {
            q->edns = true;
            if (!q->tcp) {
                size_t size = cls < g.max_udp_size ? cls : g.max_udp_size;
                q->limit = size < 512 ? 512 : size;
            }
        }
        off += 10u + rdlen;
    }
}

/* FUZZ_TRACE=1 in the environment: one line per query and reply, to see
 * what an input does. */
static bool trace(void)
{
    static int on = -1;
    if (on < 0)
        on = getenv("FUZZ_TRACE") != NULL;
    return on != 0;
}

/* A reply to query i, sent at once or later. */
static void check_reply(size_t i, const uint8_t *buf, size_t n)
{
    FUZZ_CHECK(i < g.nq);
    query_t *q = &g.q[i];
    if (trace())
        fprintf(stderr, "  reply to %zu: %zu bytes, rcode %u%s, %u records\n", i, n,
                n >= 4 ? buf[3] & 0xFu : 99u, n >= 4 && (buf[2] & 2) ? ", TC" : "",
                n >= 12 ? (unsigned)(sr_get16(buf + 6) + sr_get16(buf + 8)) : 0u);
    FUZZ_CHECK(!q->is_response);
    FUZZ_CHECK(q->replies == 0);
    q->replies++;
    FUZZ_CHECK(n >= SR_HEADER_LEN && n <= q->limit);
    sr_status_t st = sr_msg_parse(g.reply, buf, n, 0);
    if (st != SR_OK)
        fprintf(stderr, "reply to query %zu does not parse: %s\n", i, sr_msg_error(g.reply));
    FUZZ_CHECK(st == SR_OK);
    FUZZ_CHECK(sr_msg_id(g.reply) == q->id);
    FUZZ_CHECK(sr_msg_flags(g.reply) & SR_FLAG_QR);
    if (q->has_question) {
        FUZZ_CHECK(sr_msg_qdcount(g.reply) == 1);
        FUZZ_CHECK(n >= SR_HEADER_LEN + q->question_len);
        FUZZ_CHECK(memcmp(buf + SR_HEADER_LEN, q->question, q->question_len) == 0);
    } else {
        FUZZ_CHECK(sr_msg_qdcount(g.reply) == 0);
    }
    if (!q->edns)
        FUZZ_CHECK(!sr_msg_edns(g.reply)->present);
}

static const fwd_sink_t udp_sink, tcp_sink;

/* The client of a reply: query i came over UDP with fd i, or over TCP on
 * connection conns[i]. */
static size_t client_index(const fwd_client_t *c)
{
    size_t i;
    if (c->conn != NULL) {
        FUZZ_CHECK((char *)c->conn >= g.conns && (char *)c->conn < g.conns + MAX_QUERIES);
        i = (size_t)((char *)c->conn - g.conns);
        FUZZ_CHECK(c->sink == &tcp_sink);
    } else {
        FUZZ_CHECK(c->fd >= 0 && c->sink == &udp_sink);
        i = (size_t)c->fd;
    }
    FUZZ_CHECK(i < g.nq && g.q[i].tcp == (c->sink == &tcp_sink));
    return i;
}

static void sink_send(const fwd_client_t *c, const uint8_t *msg, size_t len)
{
    size_t i = client_index(c);
    /* A query held for upstream is answered through release(). */
    FUZZ_CHECK(g.q[i].holds == 0);
    check_reply(i, msg, len);
}

static void sink_hold(const fwd_client_t *c)
{
    g.q[client_index(c)].holds++;
}

static void sink_release(const fwd_client_t *c, const uint8_t *msg, size_t len)
{
    size_t i = client_index(c);
    /* Only a query counted in flight is answered later. */
    FUZZ_CHECK(g.q[i].holds > 0);
    g.q[i].holds--;
    if (msg != NULL)
        check_reply(i, msg, len);
}

static const fwd_sink_t udp_sink = {.name = "udp",
                                    .datagram = true,
                                    .max_size = 4096, /* LISTENER_UDP_TX */
                                    .send = sink_send,
                                    .hold = sink_hold,
                                    .release = sink_release};
static const fwd_sink_t tcp_sink = {.name = "tcp",
                                    .datagram = false,
                                    .max_size = 65535,
                                    .send = sink_send,
                                    .hold = sink_hold,
                                    .release = sink_release};

/* The transport: a query is only recorded, and the fuzzer later
 * completes it (upstream_event). */
static sr_xfer_t *fake_query(sr_upstream_t *up, const uint8_t *q, size_t qlen, unsigned flags,
                             int timeout_ms, sr_xfer_cb cb, void *arg, sr_status_t *status)
{
    (void)flags;
    FUZZ_CHECK(up != NULL && (char *)up >= g_ups && (char *)up < g_ups + NUPSTREAMS);
    FUZZ_CHECK(timeout_ms > 0 && cb != NULL);
    /* The forwarder's query is one the transport accepts. */
    FUZZ_CHECK(qlen >= SR_HEADER_LEN && qlen <= sizeof(g.x[0].q));
    FUZZ_CHECK(sr_msg_parse(g.reply, q, qlen, 0) == SR_OK && sr_msg_qdcount(g.reply) == 1);
    /* Now and then the transport cannot even start. */
    if (g.nx >= MAX_XFERS || (g.start_fails >> (g.starts++ % 8)) & 1u) {
        *status = SR_E_NOMEM;
        return NULL;
    }
    xfer_t *x = &g.x[g.nx++];
    x->live = true;
    x->cb = cb;
    x->arg = arg;
    memcpy(x->q, q, qlen);
    x->qlen = qlen;
    return (sr_xfer_t *)x;
}

static void fake_cancel(sr_xfer_t *handle)
{
    xfer_t *x = (xfer_t *)handle;
    FUZZ_CHECK(x >= g.x && x < g.x + g.nx);
    /* A finished transfer is gone: cancelling it would be a use after
     * free in the real transport. */
    FUZZ_CHECK(x->live);
    x->live = false;
}

static uint32_t fake_now_s(void)
{
    return g.now;
}

static uint64_t fake_now_us(void)
{
    return g.now_us;
}

static void fake_finished(void *arg)
{
    (void)arg;
}

/* ---- operations ---- */

static const char *const SOURCES[] = {"127.0.0.1",        "::1",        "10.1.2.3", "198.51.100.7",
                                      "::ffff:127.0.0.1", "2001:db8::5"};
#define NSOURCES (sizeof(SOURCES) / sizeof(SOURCES[0]))

static void client(fwd_ctx_t *fx, fz_t *f, uint8_t *out)
{
    uint8_t pkt[4096];
    size_t len = 0;
    uint8_t how = u8(f), src = u8(f);

    if (g.nq >= MAX_QUERIES)
        return;
    if (how & 1) { /* raw bytes */
        const uint8_t *p = take(f, u16(f) % sizeof(pkt), &len);
        memcpy(pkt, p, len);
    } else {
        tpkt_t pb, *b = &pb;
        uint8_t qn[SR_NAME_MAX_WIRE];
        uint8_t fl = u8(f), ed = u8(f);
        size_t k = u8(f) % NNAMES;
        size_t ql = name_variant(k, u32(f), qn);
        uint16_t qtype = (fl & 0x80) ? u16(f) : QTYPES[u8(f) % NQTYPES];
        tpkt_init(b, 8192, true);
        tpkt_put(b, qn, ql);
        tpkt_u16(b, qtype);
        tpkt_u16(b, (fl & 0x40) ? 3 : SR_CLASS_IN);
        uint16_t ar = 0;
        if (ed & 1) { /* OPT: size, version, DO */
            static const uint16_t sizes[] = {512, 1232, 4096, 65535, 100, 1400, 0, 2048};
            tpkt_put(b, "", 1);
            tpkt_u16(b, 41);
            tpkt_u16(b, sizes[(ed >> 1) & 7]);
            tpkt_u32(b, (uint32_t)(((ed & 0x10) ? 1u : 0u) << 16 | ((ed & 0x20) ? 0x8000u : 0u)));
            tpkt_u16(b, 0);
            ar++;
        }
        if (ed & 0x40) { /* extra records: junk a query may carry, or not */
            size_t n;
            const uint8_t *p = take(f, u8(f) % 64, &n);
            tpkt_put(b, p, n);
            ar = (uint16_t)(ar + 1 + (u8(f) & 7));
        }
        uint16_t flags = (uint16_t)(((fl & 1) ? SR_FLAG_RD : 0) | ((fl & 2) ? SR_FLAG_CD : 0) |
                                    ((fl & 4) ? SR_FLAG_AD : 0));
        if ((fl & 0x18) == 0x18)
            flags |= (uint16_t)((u8(f) & 0xF) << 11); /* an opcode */
        if ((fl & 0x38) == 0x30)
            flags |= SR_FLAG_QR;
        sr_put16(b->d.p, u16(f));
        sr_put16(b->d.p + 2, flags);
        sr_put16(b->d.p + 4, (fl & 0x38) == 0x20 ? 2 : 1);
        sr_put16(b->d.p + 6, 0);
        sr_put16(b->d.p + 8, 0);
        sr_put16(b->d.p + 10, ar);
        len = b->d.len < sizeof(pkt) ? b->d.len : sizeof(pkt);
        memcpy(pkt, b->d.p, len);
        tpkt_free(b);
    }

    size_t i = g.nq++;
    query_t *q = &g.q[i];
    memset(q, 0, sizeof(*q));
    q->tcp = (how & 2) != 0;
    if (q->tcp && len < SR_HEADER_LEN) {
        g.nq--; /* tcpconn.c closes such a connection */
        return;
    }
    scan_query(q, pkt, len);

    fwd_client_t c;
    memset(&c, 0, sizeof(c));
    c.sink = q->tcp ? &tcp_sink : &udp_sink;
    c.fd = q->tcp ? -1 : (int)i;
    c.conn = q->tcp ? &g.conns[i] : NULL;
    const char *a = SOURCES[src % NSOURCES];
    if (strchr(a, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&c.peer;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)(40000 + (src >> 4)));
        FUZZ_CHECK(inet_pton(AF_INET6, a, &s6->sin6_addr) == 1);
        c.peerlen = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&c.peer;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)(40000 + (src >> 4)));
        FUZZ_CHECK(inet_pton(AF_INET, a, &s4->sin_addr) == 1);
        c.peerlen = sizeof(*s4);
    }
    /* An exact-size copy, so ASan sees any read past the query. */
    uint8_t *exact = malloc(len ? len : 1);
    FUZZ_CHECK(exact != NULL);
    memcpy(exact, pkt, len);
    size_t cap = q->tcp ? 65535 : udp_sink.max_size;
    if (trace())
        fprintf(stderr, "query %zu: %zu bytes over %s from %s, limit %zu%s\n", i, len,
                q->tcp ? "TCP" : "UDP", a, q->limit, q->edns ? ", EDNS" : "");
    fwd_query(fx, exact, len, &c, out, cap);
    free(exact);
}

/* A response in the cache, as if an upstream had answered earlier. */
static void prefill(fwd_ctx_t *fx, fz_t *f, sr_msg_t *m)
{
    tpkt_t pb, *b = &pb;
    uint8_t qn[SR_NAME_MAX_WIRE];
    uint8_t o = u8(f);
    size_t k = u8(f) % NNAMES;
    size_t ql = name_variant(k, u32(f), qn);
    uint16_t qtype = QTYPES[u8(f) % NQTYPES];

    tpkt_init(b, 8192, true);
    if (o & 1) { /* raw bytes, stored under their own question */
        size_t n;
        const uint8_t *p = take(f, u16(f) % 2048, &n);
        if (sr_msg_parse(m, p, n, 0) == SR_OK && sr_msg_qdcount(m) == 1) {
            size_t rl;
            const uint8_t *rq = sr_msg_qname_wire(m, &rl);
            memcpy(qn, rq, rl);
            cache_store(fx->cache, qn, rl, sr_msg_qtype(m), sr_msg_qclass(m), (o & 2) != 0,
                        (o & 4) != 0, m, g.now);
        }
    } else {
        build_response(f, u16(f), qn, ql, qtype, SR_CLASS_IN, b);
        if (!b->bad && sr_msg_parse(m, b->d.p, b->d.len, 0) == SR_OK)
            cache_store(fx->cache, qn, ql, qtype, SR_CLASS_IN, (o & 2) != 0, (o & 4) != 0, m,
                        g.now);
    }
    tpkt_free(b);
}

/* The outcome of one upstream transfer in flight. */
static void upstream_event(fz_t *f)
{
    size_t live[MAX_XFERS], n = 0;
    for (size_t i = 0; i < g.nx; i++)
        if (g.x[i].live)
            live[n++] = i;
    uint8_t pick = u8(f), what = u8(f);
    if (n == 0)
        return;
    xfer_t *x = &g.x[live[pick % n]];
    if (trace())
        fprintf(stderr, "upstream transfer %zu: outcome %u\n", (size_t)(x - g.x), what % 4u);
    sr_xfer_info_t info;
    memset(&info, 0, sizeof(info));
    info.proto = SR_PROTO_UDP;
    info.rtt_us = 1000u * (1u + (what >> 4));
    info.detail = "";
    x->live = false; /* finished before the callback, as the transport does */
    switch (what % 4) {
    case 0: x->cb(x->arg, SR_E_TIMEDOUT, NULL, 0, &info); break;
    case 1: x->cb(x->arg, SR_E_CONNREFUSED, NULL, 0, &info); break;
    case 2: { /* a response built for the question it asked */
        tpkt_t pb, *b = &pb;
        tpkt_init(b, 8192, true);
        /* The question as sent (names never compressed in our queries);
         * an OPT after it is not part of the question. */
        uint8_t qn[SR_NAME_MAX_WIRE];
        size_t o = SR_HEADER_LEN, wl;
        FUZZ_CHECK(sr_name_unpack(x->q, x->qlen, &o, qn, &wl) == SR_OK);
        build_response(f, sr_get16(x->q), qn, wl, sr_get16(x->q + o), sr_get16(x->q + o + 2), b);
        if (trace())
            fprintf(stderr, "  response of %zu bytes: %s\n", b->d.len,
                    sr_msg_parse(g.reply, b->d.p, b->d.len, 0) == SR_OK ? "parses"
                                                                        : sr_msg_error(g.reply));
        if (b->bad)
            x->cb(x->arg, SR_E_TIMEDOUT, NULL, 0, &info);
        else
            x->cb(x->arg, SR_OK, b->d.p, b->d.len, &info);
        tpkt_free(b);
        break;
    }
    default: { /* raw bytes */
        size_t len;
        const uint8_t *p = take(f, u16(f) % 4096, &len);
        uint8_t *exact = malloc(len ? len : 1);
        FUZZ_CHECK(exact != NULL);
        memcpy(exact, p, len);
        x->cb(x->arg, SR_OK, exact, len, &info);
        free(exact);
        break;
    }
    }
}

/* Settings from fuzzer choices, on top of the defaults. */
static cfg_t *make_cfg(fz_t *f)
{
    static const char *const allow[] = {"loopback", "loopback, 10.0.0.0/8", "any", "::1/128"};
    static const char *const udp[] = {"512", "1232", "4096", "1400"};
    static const char *const ttl[] = {"0", "60", "3600", "86400"};
    cfg_t *c = cfg_new();
    char err[1024];
    uint8_t a = u8(f), b = u8(f);

    FUZZ_CHECK(c != NULL);
#define SET(k, v) FUZZ_CHECK(cfg_set(c, k, v, NULL, false, err, sizeof(err)) == CFG_OK)
    SET("servers", (a & 3) == 0   ? "udp://192.0.2.1"
                   : (a & 3) == 1 ? "udp://192.0.2.1 udp://192.0.2.2"
                                  : "udp://192.0.2.1 udp://192.0.2.2 udp://192.0.2.3");
    SET("strategy", (a & 4) ? "round-robin" : "failover");
    SET("bootstrap", "192.0.2.53");
    SET("allow", allow[(a >> 3) & 3]);
    SET("max_udp_size", udp[(a >> 5) & 3]);
    SET("serve_stale", (b & 1) ? "true" : "false");
    SET("prefetch", (b & 2) ? "true" : "false");
    SET("min_ttl", ttl[(b >> 2) & 1]);
    SET("max_ttl", ttl[2 + ((b >> 3) & 1)]);
    SET("servfail_ttl", (b & 0x10) ? "0" : "5");
    SET("cache_size", (b & 0x20) ? "4K" : "4M");
    SET("max_inflight", (b & 0x40) ? "16" : "4096");
    SET("recursive", (b & 0x80) ? "false" : "true");
#undef SET
    return c;
}

/* The forwarder's context as worker.c sets it up, with this file's
 * transport and clocks, settings from the input and upstreams that
 * could or could not be made. */
static fwd_ctx_t *ctx_new(fz_t *f)
{
    char err[1024];
    fwd_ctx_t *fx = calloc(1, sizeof(*fx));
    stats_thread_t *stats = calloc(1, sizeof(*stats));

    FUZZ_CHECK(fx != NULL && stats != NULL);
    fx->stats = stats;
    fx->rnd = 0x9E3779B9u;
    fx->now_s = fake_now_s;
    fx->now_us = fake_now_us;
    fx->query = fake_query;
    fx->cancel = fake_cancel;
    fx->finished = fake_finished;
    fx->cfg = make_cfg(f);
    g.max_udp_size = fx->cfg->max_udp_size;
    cache_cfg_t cc = daemon_cache_cfg(fx->cfg);
    fx->cache = cache_new(&cc);
    fx->table = fwd_table_new(1);
    fx->msg = sr_msg_new();
    fx->out = malloc(65536);
    pool_t *pool = pool_new(fx->cfg, NULL, err, sizeof(err));
    pool_inst_t *pi = calloc(1, sizeof(*pi));
    FUZZ_CHECK(fx->cache && fx->table && fx->msg && fx->out && pool && pi);
    pi->pool = pool;
    pi->users = 1; /* the worker's */
    for (size_t i = 0; i < pool->n; i++) {
        /* Now and then an upstream that could not be made. */
        pi->ups[i] = (u8(f) & 0x1F) == 0x1F ? NULL : (sr_upstream_t *)&g_ups[i];
        pi->up_status[i] = pi->ups[i] != NULL ? SR_OK : SR_E_NOMEM;
    }
    fx->pool = pi;
    return fx;
}

/* The end of the worker: what is in flight is dropped (held clients let
 * go), as fwd_table_free does at exit. */
static void ctx_free(fwd_ctx_t *fx)
{
    pool_inst_t *pi = fx->pool;

    fwd_table_free(fx->table);
    for (size_t i = 0; i < g.nx; i++)
        FUZZ_CHECK(!g.x[i].live);
    for (size_t i = 0; i < g.nq; i++)
        FUZZ_CHECK(g.q[i].holds == 0);
    FUZZ_CHECK(pi->users == 1);
    pool_unref(pi->pool);
    free(pi);
    cache_free(fx->cache);
    cfg_unref(fx->cfg);
    sr_msg_free(fx->msg);
    free(fx->out);
    free(fx->stats);
    free(fx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_t f = {data, size, 0};

    if (g.reply == NULL) {
        log_init("fuzz_client_query", true, LOG_LEVEL_ERROR);
        init_names();
        g.reply = sr_msg_new();
        FUZZ_CHECK(g.reply != NULL);
    }
    memset(g.q, 0, sizeof(g.q));
    g.nq = 0;
    g.nx = 0;
    g.now = 100000;
    g.now_us = (uint64_t)g.now * 1000000u;
    g.starts = 0;

    fwd_ctx_t *fx = ctx_new(&f);
    g.start_fails = u8(&f);
    sr_msg_t *m = sr_msg_new();
    uint8_t *out = malloc(65536);
    FUZZ_CHECK(m != NULL && out != NULL);

    while (f.off < f.len) {
        uint8_t op = u8(&f);
        switch (op % 10) {
        case 0:
        case 1:
        case 2: client(fx, &f, out); break;
        case 3:
        case 4: prefill(fx, &f, m); break;
        case 5:
        case 6: upstream_event(&f); break;
        case 7: { /* time passes */
            static const uint32_t steps[] = {0, 1, 5, 29, 30, 31, 300, 3600, 90000};
            uint8_t s = u8(&f);
            uint32_t d = steps[s % 9];
            g.now += d;
            g.now_us += (uint64_t)d * 1000000u + (s >> 4) * 100000u;
            break;
        }
        case 8: { /* new settings, as worker_update() hands them over */
            cfg_t *c = make_cfg(&f);
            cfg_unref(fx->cfg);
            fx->cfg = c;
            g.max_udp_size = c->max_udp_size;
            cache_cfg_t ncc = daemon_cache_cfg(c);
            cache_set_cfg(fx->cache, &ncc);
            break;
        }
        default:
            if ((op & 0xF0) == 0xF0)
                fx->draining = true; /* a drain: misses get SERVFAIL */
            break;
        }
    }
    ctx_free(fx);
    sr_msg_free(m);
    free(out);
    return 0;
}
