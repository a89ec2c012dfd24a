/* Unit tests: the query engine over UDP and TCP (upstream.c, udp.c,
 * stream.c, sock.c) against an in-process fake server on 127.0.0.1. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <stubres/upstream.h>
#include <stubres/wire.h>

#include "lib-internal.h" /* sr_alloc_fail_after */
#include "xport-helpers.h"
#include "check-main.h"

static struct event_base *base;
static fake_t *fake;

static void setup(void)
{
    /* Never the machine's resolv.conf (tests/README: loopback only). */
    setenv("STUBRES_RESOLV_CONF", "/nonexistent/resolv.conf", 1);
    base = event_base_new();
    fake = fake_new(base, NULL);
    ck_assert_ptr_nonnull(fake);
}

static void teardown(void)
{
    fake_free(fake);
    event_base_free(base);
}

static sr_upstream_t *mk(sr_proto_t proto)
{
    sr_upstream_cfg_t cfg;
    sr_status_t st;
    upstream_cfg_init(&cfg, proto, fake_port(fake));
    sr_upstream_t *up = sr_upstream_new(base, &cfg, NULL, &st);
    ck_assert_int_eq(st, SR_OK);
    ck_assert_ptr_nonnull(up);
    return up;
}

/* ---- fake behaviours ---- */

static void h_drop(fake_req_t *r, void *arg)
{
    (void)r;
    (void)arg;
}

static void h_wrong_id_first(fake_req_t *r, void *arg)
{
    uint8_t out[512];
    size_t len = make_answer(r->q, r->qlen, out, sizeof(out), 0, 1);
    (void)arg;
    out[0] ^= 0x55;
    fake_reply(r, out, len);
    out[0] ^= 0x55;
    fake_reply(r, out, len);
}

static void h_wrong_question_first(fake_req_t *r, void *arg)
{
    uint8_t q2[512], out[512];
    size_t len;
    (void)arg;
    /* Same ID, other type: not our question. */
    memcpy(q2, r->q, r->qlen);
    q2[r->qlen - 3] = 28;
    len = make_answer(q2, r->qlen, out, sizeof(out), 0, 1);
    fake_reply(r, out, len);
    /* Same ID, other name. */
    memcpy(q2, r->q, r->qlen);
    q2[14] ^= 0x01;
    len = make_answer(q2, r->qlen, out, sizeof(out), 0, 1);
    fake_reply(r, out, len);
    /* Ours, with the name's case changed (RFC 4343: the same name). */
    len = make_answer(r->q, r->qlen, out, sizeof(out), 0, 1);
    for (size_t i = 13; i < 20; i++)
        if (out[i] >= 'a' && out[i] <= 'z')
            out[i] = (uint8_t)(out[i] - 32);
    fake_reply(r, out, len);
}

static void h_other_port_first(fake_req_t *r, void *arg)
{
    uint8_t out[512];
    size_t len = make_answer(r->q, r->qlen, out, sizeof(out), 0, 1);
    (void)arg;
    fake_send_udp_from_other_port(r, out, len);
    fake_reply(r, out, len);
}

static void h_garbage(fake_req_t *r, void *arg)
{
    uint8_t out[512];
    static const uint8_t junk[] = {1, 2, 3, 4, 5};
    size_t len = make_answer(r->q, r->qlen, out, sizeof(out), 0, 1);
    (void)arg;
    fake_reply(r, junk, sizeof(junk));
    /* Right ID and question, but the answer record runs off the end. */
    fake_reply(r, out, len - 3);
}

static void h_truncated_udp(fake_req_t *r, void *arg)
{
    uint8_t out[512];
    size_t len;
    (void)arg;
    if (r->stream) {
        fake_reply_answer(r, 3);
        return;
    }
    len = make_answer(r->q, r->qlen, out, sizeof(out), 0x0200, 0);
    fake_reply(r, out, len);
}

static void h_big(fake_req_t *r, void *arg)
{
    (void)arg;
    fake_reply_answer(r, 60);
}

/* ---- UDP ---- */

static uint16_t seen_ids[64];
static int nseen;

static void h_record_id(fake_req_t *r, void *arg)
{
    (void)arg;
    if (nseen < 64)
        seen_ids[nseen++] = get16(r->q);
    fake_reply_answer(r, 1);
}

START_TEST(test_random_and_kept_ids)
{
    xfer_result_t r[16];
    sr_upstream_t *up = mk(SR_PROTO_UDP);
    int distinct = 0;
    uint8_t q[512];
    size_t qlen;
    sr_status_t st;

    memset(r, 0, sizeof(r));
    nseen = 0;
    fake_set_cb(fake, h_record_id, NULL);
    for (int i = 0; i < 8; i++)
        ask_query(up, 7, "id.example.test", 2000, &r[i]);
    for (int i = 0; i < 8; i++) {
        ck_assert(run_until(base, &r[i].done, 1, 2000));
        ck_assert_int_eq(r[i].status, SR_OK);
        ck_assert_uint_eq(get16(r[i].resp), 7); /* the caller's ID back */
    }
    ck_assert_int_eq(nseen, 8);
    for (int i = 0; i < 8; i++)
        distinct += seen_ids[i] != 7;
    ck_assert_int_ge(distinct, 7); /* 1 in 65536 to be 7 by chance */
    /* SR_XFER_KEEP_ID: the caller's ID goes on the wire. */
    qlen = make_query(q, sizeof(q), 4242, "keep.example.test", 1);
    ck_assert_ptr_nonnull(
        sr_upstream_query(up, q, qlen, SR_XFER_KEEP_ID, 2000, xfer_on_done, &r[8], &st));
    ck_assert(run_until(base, &r[8].done, 1, 2000));
    ck_assert_uint_eq(seen_ids[8], 4242);
    sr_upstream_free(up);
}
END_TEST

/* Lose the first copy of every query. */
static void h_drop_first(fake_req_t *r, void *arg)
{
    int *n = arg;
    if ((*n)++ > 0)
        fake_reply_answer(r, 1);
}

/* ---- DNS Cookies and 0x20 (guard.c) ---- */

/* A name of 40 letters: its random case equals the caller's with
 * probability 2^-40. */
#define GUARD_NAME "abcdefghijklmnopqrst.uvwxyzabcdefghijklmnopqrst.test"

static uint8_t guard_q[2][512]; /* the last two queries the fake saw */
static size_t guard_qlen[2];

/* The query's COOKIE option data, or NULL. */
static const uint8_t *query_cookie(const uint8_t *q, size_t qlen, size_t *len)
{
    /* header, question, then the OPT record last: 11 bytes + options */
    size_t off = 12;
    while (q[off] != 0)
        off += (size_t)q[off] + 1;
    off += 5 + 11; /* root, type, class; the OPT record's fixed part */
    while (off + 4 <= qlen) {
        if (get16(q + off) == 10) {
            *len = get16(q + off + 2);
            return q + off + 4;
        }
        off += 4 + get16(q + off + 2);
    }
    return NULL;
}

/* mode 0: lowercase the question (a server that does not preserve case);
 * 1: answer with the cookie (client + 8-byte server cookie "SERVERCK");
 * 2: first a reply with a wrong client cookie, then the right one. */
static void h_guard(fake_req_t *r, void *arg)
{
    int mode = *(int *)arg;
    uint8_t out[600];
    size_t len = make_answer(r->q, r->qlen, out, 512, 0, 1), clen = 0;
    const uint8_t *c = query_cookie(r->q, r->qlen, &clen);

    memcpy(guard_q[0], guard_q[1], sizeof(guard_q[0]));
    guard_qlen[0] = guard_qlen[1];
    memcpy(guard_q[1], r->q, r->qlen);
    guard_qlen[1] = r->qlen;
    if (mode == 0) {
        for (size_t i = 12; i < 12 + sizeof(GUARD_NAME); i++)
            if (out[i] >= 'A' && out[i] <= 'Z')
                out[i] = (uint8_t)(out[i] + 32);
        fake_reply(r, out, len);
        return;
    }
    /* an OPT with the cookie after the answer */
    static const uint8_t opt[] = {0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 20, 0, 10, 0, 16};
    memcpy(out + len, opt, sizeof(opt));
    memcpy(out + len + sizeof(opt), c != NULL ? c : (const uint8_t *)"????????", 8);
    memcpy(out + len + sizeof(opt) + 8, "SERVERCK", 8);
    out[11] = 1; /* ARCOUNT */
    if (mode == 2) {
        out[len + sizeof(opt)] ^= 0xff; /* another client cookie */
        fake_reply(r, out, len + sizeof(opt) + 16);
        out[len + sizeof(opt)] ^= 0xff;
    }
    fake_reply(r, out, len + sizeof(opt) + 16);
}

/* An A query for GUARD_NAME with an OPT record (where the cookie goes). */
static void ask_guarded(sr_upstream_t *up, uint16_t id, xfer_result_t *res)
{
    uint8_t q[512];
    size_t n = make_query(q, sizeof(q), id, GUARD_NAME, 1);
    static const uint8_t opt[] = {0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0};
    sr_status_t st;

    memcpy(q + n, opt, sizeof(opt));
    q[11] = 1;
    ck_assert_ptr_nonnull(sr_upstream_query(up, q, n + sizeof(opt), 0, 5000, xfer_on_done, res,
                                            &st));
}

START_TEST(test_udp_guard)
{
    sr_upstream_cfg_t cfg;
    sr_status_t st;
    sr_upstream_stats_t s;
    xfer_result_t *r = calloc(4, sizeof(*r));
    int mode = 0;
    size_t clen = 0;
    const uint8_t *c;

    upstream_cfg_init(&cfg, SR_PROTO_UDP, fake_port(fake));
    cfg.cookies = true;
    cfg.case_randomization = true;
    sr_upstream_t *up = sr_upstream_new(base, &cfg, NULL, &st);
    ck_assert_ptr_nonnull(up);
    fake_set_cb(fake, h_guard, &mode);

    /* 0x20 towards a server that lowercases: the reply is ignored, the
     * query asked again in the caller's case, and that answer taken. */
    ask_guarded(up, 1, &r[0]);
    ck_assert(run_until(base, &r[0].done, 1, 5000));
    ck_assert_int_eq(r[0].status, SR_OK);
    ck_assert_int_eq(fake_queries(fake), 2);
    ck_assert(memcmp(guard_q[0] + 12, guard_q[1] + 12, sizeof(GUARD_NAME)) != 0);
    ck_assert_uint_eq(r[0].info.case_mismatches, 1);
    ck_assert(r[0].info.case_fallback);
    ck_assert_mem_eq(r[0].resp + 13, "abcdefghijklmnopqrst", 20); /* the caller's case */
    ck_assert_uint_ne(get16(guard_q[0]), get16(guard_q[1]));     /* a new wire ID */
    /* Both went with a client cookie only: nothing learned yet. */
    c = query_cookie(guard_q[1], guard_qlen[1], &clen);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(clen, 8);

    /* Cookies: the server cookie is learned and sent back. */
    mode = 1;
    ask_guarded(up, 2, &r[1]);
    ck_assert(run_until(base, &r[1].done, 1, 5000));
    ck_assert_int_eq(r[1].status, SR_OK);
    ck_assert(r[1].info.cookie);
    ask_guarded(up, 3, &r[2]);
    ck_assert(run_until(base, &r[2].done, 1, 5000));
    c = query_cookie(guard_q[1], guard_qlen[1], &clen);
    ck_assert_uint_eq(clen, 16);
    ck_assert_mem_eq(c + 8, "SERVERCK", 8);

    /* A reply with another client cookie is ignored; the right one taken. */
    mode = 2;
    ask_guarded(up, 4, &r[3]);
    ck_assert(run_until(base, &r[3].done, 1, 5000));
    ck_assert_int_eq(r[3].status, SR_OK);
    ck_assert_uint_eq(r[3].info.cookie_mismatches, 1);
    sr_upstream_stats(up, &s);
    ck_assert_uint_eq(s.cookie_mismatches, 1);
    ck_assert_uint_eq(s.case_fallbacks, 1);
    ck_assert_uint_eq(s.cookies, 3);
    sr_upstream_free(up);
    free(r);
}
END_TEST

START_TEST(test_udp_1000_concurrent)
{
    enum { N = 1000 };
    xfer_result_t *r = calloc(N, sizeof(*r));
    sr_upstream_t *up = mk(SR_PROTO_UDP);
    sr_upstream_stats_t s;
    int ok = 0;

    for (int i = 0; i < N; i++) {
        char name[64];
        snprintf(name, sizeof(name), "q%d.example.test", i);
        ask_query(up, (uint16_t)i, name, 10000, &r[i]);
    }
    ck_assert_int_eq(sr_upstream_inflight(up), N);
    for (int i = 0; i < N; i++) {
        ck_assert(run_until(base, &r[i].done, 1, 10000));
        ok += r[i].status == SR_OK && get16(r[i].resp) == (uint16_t)i;
    }
    ck_assert_int_eq(ok, N);
    sr_upstream_stats(up, &s);
    ck_assert_uint_eq(s.responses, N);
    ck_assert_int_eq(sr_upstream_inflight(up), 0);
    sr_upstream_free(up);
    free(r);
}
END_TEST

START_TEST(test_ipv6)
{
    static const sr_proto_t protos[] = {SR_PROTO_UDP, SR_PROTO_TCP};
    fake_t *f6 = fake_new_at(base, NULL, true);
    char server[64];

    if (f6 == NULL)
        return; /* no ::1 on this machine */
    fake_set_cb(f6, h_other_port_first, NULL);
    for (size_t i = 0; i < 2; i++) {
        xfer_result_t r = {0};
        sr_upstream_cfg_t cfg;
        sr_status_t st;
        sr_upstream_t *up;

        /* brackets and a port in the server string, as the daemon writes */
        snprintf(server, sizeof(server), "[::1]:%u", fake_port(f6));
        upstream_cfg_init(&cfg, protos[i], 0);
        cfg.server = server;
        up = sr_upstream_new(base, &cfg, NULL, &st);
        ck_assert_ptr_nonnull(up);
        ask_query(up, 18, "www.example.test", 2000, &r);
        ck_assert(run_until(base, &r.done, 1, 2000));
        ck_assert_int_eq(r.status, SR_OK);
        /* UDP: the reply from the other port of ::1 was not believed */
        ck_assert_uint_eq(r.info.ignored, protos[i] == SR_PROTO_UDP ? 1 : 0);
        sr_upstream_free(up);
    }
    fake_free(f6);
}
END_TEST

/* ---- TCP ---- */

struct held {
    int n;
    fake_req_t reqs[16];
};

static void reply_to(fake_req_t *saved, int n)
{
    uint8_t out[512];
    size_t len = make_answer(saved->q, saved->qlen, out, sizeof(out), 0, n);
    fake_reply(saved, out, len);
}

/* Hold 10 queries, then answer them in reverse order (RFC 7766 7). */
static void h_reverse(fake_req_t *r, void *arg)
{
    struct held *h = arg;
    h->reqs[h->n++] = *r;
    if (h->n == 10)
        for (int i = 9; i >= 0; i--)
            reply_to(&h->reqs[i], 1);
}

START_TEST(test_tcp_pipelining_out_of_order)
{
    static struct held h;
    xfer_result_t r[10];
    sr_upstream_t *up = mk(SR_PROTO_TCP);
    sr_upstream_stats_t s;

    memset(r, 0, sizeof(r));
    h.n = 0;
    fake_set_cb(fake, h_reverse, &h);
    for (int i = 0; i < 10; i++) {
        char name[32];
        snprintf(name, sizeof(name), "p%d.example.test", i);
        ask_query(up, (uint16_t)(100 + i), name, 3000, &r[i]);
    }
    for (int i = 0; i < 10; i++) {
        ck_assert(run_until(base, &r[i].done, 1, 3000));
        ck_assert_int_eq(r[i].status, SR_OK);
        ck_assert_uint_eq(get16(r[i].resp), 100 + i);
        ck_assert_int_eq(r[i].resp[13], 'p');
        ck_assert_int_eq(r[i].resp[14], '0' + i);
        ck_assert_int_eq(r[i].info.proto, SR_PROTO_TCP);
    }
    ck_assert_int_eq(fake_accepts(fake), 1);
    sr_upstream_stats(up, &s);
    ck_assert_uint_eq(s.connections, 1);
    ck_assert_uint_eq(s.responses, 10);
    sr_upstream_free(up);
}
END_TEST

/* Many queries over TCP, and the connections the pool opened for them:
 * queued beyond max_pipeline; spread_pipeline, where a deep pipeline
 * opens the pool's second connection and without it one connection
 * carries everything up to max_pipeline. */
static const struct pipeline_case {
    const char *name;
    int n;
    const char *qname;
    int max_pipeline; /* 0: the default */
    int spread;
    unsigned want_conns;
    int want_accepts; /* -1: not checked */
} PIPELINE_CASES[] = {
    {"300 queries, pipeline 16, 2 connections", 300, "same.example.test", 16, 0, 2, 2},
    {"40 queries, no spread_pipeline", 40, "spread.example.test", 0, 0, 1, -1},
    {"40 queries, spread_pipeline 8", 40, "spread.example.test", 0, 8, 2, -1},
};

START_TEST(test_tcp_pipeline)
{
    const struct pipeline_case *c = &PIPELINE_CASES[_i];
    xfer_result_t *r = calloc((size_t)c->n, sizeof(*r));
    sr_upstream_cfg_t cfg;
    sr_upstream_t *up;
    sr_upstream_stats_t s;
    sr_status_t st;

    ck_assert_ptr_nonnull(r);
    upstream_cfg_init(&cfg, SR_PROTO_TCP, fake_port(fake));
    cfg.max_pipeline = c->max_pipeline;
    cfg.max_connections = 2;
    cfg.spread_pipeline = c->spread;
    up = sr_upstream_new(base, &cfg, NULL, &st);
    ck_assert_msg(up != NULL, "%s: %d", c->name, st);
    ask_many(up, c->n, c->qname, 5000, r);
    expect_answered(base, r, c->n, 5000);
    sr_upstream_stats(up, &s);
    ck_assert_msg(s.connections == c->want_conns, "%s: %u connections", c->name,
                  (unsigned)s.connections);
    if (c->want_accepts >= 0)
        ck_assert_msg(fake_accepts(fake) == c->want_accepts, "%s: the fake accepted %d", c->name,
                      fake_accepts(fake));
    sr_upstream_free(up);
    free(r);
}
END_TEST

/* First connection: half an answer, then close. Later ones: answer. */
static void h_close_mid_message(fake_req_t *r, void *arg)
{
    uint8_t out[512];
    size_t len;
    (void)arg;
    if (fake_conn_serial(r->conn) == 1) {
        len = make_answer(r->q, r->qlen, out, sizeof(out), 0, 1);
        uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};
        fake_send_raw(r, hdr, 2);
        fake_send_raw(r, out, 7);
        fake_conn_close(r->conn);
        return;
    }
    fake_reply_answer(r, 1);
}

static void h_close_always(fake_req_t *r, void *arg)
{
    (void)arg;
    fake_conn_close(r->conn);
}

/* First connection: a frame of length 0, then one of length 5. */
static void h_framing_garbage(fake_req_t *r, void *arg)
{
    int *variant = arg;
    (void)arg;
    if (fake_conn_serial(r->conn) == 1) {
        static const uint8_t zero[] = {0, 0, 1, 2, 3};
        static const uint8_t five[] = {0, 5, 1, 2, 3, 4, 5};
        if (*variant == 0)
            fake_send_raw(r, zero, sizeof(zero));
        else
            fake_send_raw(r, five, sizeof(five));
        return;
    }
    fake_reply_answer(r, 1);
}

START_TEST(test_tcp_idle_close_and_reconnect)
{
    xfer_result_t r = {0}, r2 = {0};
    sr_upstream_cfg_t cfg;
    sr_upstream_t *up;
    sr_upstream_stats_t s;
    sr_status_t st;

    upstream_cfg_init(&cfg, SR_PROTO_TCP, fake_port(fake));
    cfg.idle_timeout_ms = 200;
    up = sr_upstream_new(base, &cfg, NULL, &st);
    ask_query(up, 24, "www.example.test", 2000, &r);
    ck_assert(run_until(base, &r.done, 1, 2000));
    ck_assert_int_eq(r.status, SR_OK);
    ck_assert_int_eq(fake_open_conns(fake), 1);
    run_for(base, 600);
    ck_assert_int_eq(fake_open_conns(fake), 0); /* we closed it */
    ask_query(up, 25, "www.example.test", 2000, &r2);
    ck_assert(run_until(base, &r2.done, 1, 2000));
    ck_assert_int_eq(r2.status, SR_OK);
    sr_upstream_stats(up, &s);
    ck_assert_uint_eq(s.connections, 2);
    sr_upstream_free(up);
}
END_TEST

START_TEST(test_tcp_connection_reuse)
{
    xfer_result_t r[3];
    sr_upstream_t *up = mk(SR_PROTO_TCP);
    sr_upstream_stats_t s;

    memset(r, 0, sizeof(r));
    for (int i = 0; i < 3; i++) {
        ask_query(up, (uint16_t)(30 + i), "www.example.test", 2000, &r[i]);
        ck_assert(run_until(base, &r[i].done, 1, 2000));
        ck_assert_int_eq(r[i].status, SR_OK);
    }
    sr_upstream_stats(up, &s);
    ck_assert_uint_eq(s.connections, 1);
    sr_upstream_free(up);
}
END_TEST

/* The answer arrives in four pieces, 150 ms apart. */
struct trickle {
    fake_req_t req;
    uint8_t frame[600];
    size_t len, sent;
    struct event *ev;
};

static void trickle_cb(evutil_socket_t fd, short what, void *arg)
{
    struct trickle *t = arg;
    size_t piece = (t->len + 3) / 4;
    struct timeval tv = {0, 150000};
    (void)fd;
    (void)what;
    if (piece > t->len - t->sent)
        piece = t->len - t->sent;
    fake_send_raw(&t->req, t->frame + t->sent, piece);
    t->sent += piece;
    if (t->sent < t->len)
        evtimer_add(t->ev, &tv);
}

static void h_trickle(fake_req_t *r, void *arg)
{
    struct trickle *t = arg;
    size_t len;
    struct timeval tv = {0, 150000};
    t->req = *r;
    len = make_answer(r->q, r->qlen, t->frame + 2, sizeof(t->frame) - 2, 0, 20);
    t->frame[0] = (uint8_t)(len >> 8);
    t->frame[1] = (uint8_t)len;
    t->len = len + 2;
    t->sent = 0;
    evtimer_add(t->ev, &tv);
}

START_TEST(test_tcp_inactivity_vs_absolute_timeout)
{
    static struct trickle t;
    xfer_result_t r = {0};
    sr_upstream_cfg_t cfg;
    sr_upstream_t *up;
    sr_status_t st;

    t.ev = evtimer_new(base, trickle_cb, &t);
    fake_set_cb(fake, h_trickle, &t);
    upstream_cfg_init(&cfg, SR_PROTO_TCP, fake_port(fake));
    cfg.absolute_timeout = _i == 1;
    up = sr_upstream_new(base, &cfg, NULL, &st);
    /* 4 x 150 ms of trickling against a 400 ms timeout */
    ask_query(up, 28, "slow.example.test", 400, &r);
    ck_assert(run_until(base, &r.done, 1, 3000));
    if (_i == 0)
        ck_assert_int_eq(r.status, SR_OK); /* progress kept it alive */
    else
        ck_assert_int_eq(r.status, SR_E_TIMEDOUT);
    sr_upstream_free(up);
    event_free(t.ev);
}
END_TEST

/* ---- lifetime ---- */

START_TEST(test_cancel)
{
    xfer_result_t r[3];
    sr_upstream_t *udp = mk(SR_PROTO_UDP), *tcp;
    sr_upstream_cfg_t cfg;
    sr_status_t st;
    sr_xfer_t *x;

    memset(r, 0, sizeof(r));
    fake_set_cb(fake, h_drop, NULL);
    x = ask_query(udp, 40, "www.example.test", 300, &r[0]);
    sr_xfer_cancel(x);
    ck_assert_int_eq(sr_upstream_inflight(udp), 0);
    /* TCP: one cancelled while queued, one once on the wire. */
    upstream_cfg_init(&cfg, SR_PROTO_TCP, fake_port(fake));
    tcp = sr_upstream_new(base, &cfg, NULL, &st);
    x = ask_query(tcp, 41, "www.example.test", 300, &r[1]);
    sr_xfer_cancel(x);
    /* Long enough that a stalled machine cannot time it out before the
     * cancel below. */
    x = ask_query(tcp, 42, "www.example.test", 10000, &r[2]);
    run_for(base, 100);
    ck_assert_int_eq(fake_queries(fake), 2); /* UDP one + TCP 42 */
    sr_xfer_cancel(x);
    run_for(base, 500);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(r[i].done, 0);
    ck_assert_int_eq(sr_upstream_inflight(tcp), 0);
    sr_upstream_free(udp);
    sr_upstream_free(tcp);
}
END_TEST

START_TEST(test_free_with_queries_in_flight)
{
    xfer_result_t r[10];
    sr_upstream_t *udp = mk(SR_PROTO_UDP), *tcp = mk(SR_PROTO_TCP);

    memset(r, 0, sizeof(r));
    fake_set_cb(fake, h_drop, NULL);
    /* A timeout far beyond the 50 ms the loop runs, so that a stalled
     * machine cannot let one expire before the free. */
    for (int i = 0; i < 5; i++) {
        ask_query(udp, (uint16_t)i, "www.example.test", 10000, &r[i]);
        ask_query(tcp, (uint16_t)i, "www.example.test", 10000, &r[5 + i]);
    }
    run_for(base, 50);
    sr_upstream_free(udp);
    sr_upstream_free(tcp);
    run_for(base, 500);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(r[i].done, 0);
    /* Freeing before the loop ever ran, too. */
    tcp = mk(SR_PROTO_TCP);
    ask_query(tcp, 1, "www.example.test", 300, &r[0]);
    sr_upstream_free(tcp);
    run_for(base, 100);
    ck_assert_int_eq(r[0].done, 0);
}
END_TEST

struct freer {
    sr_upstream_t *up;
    int calls;
    sr_xfer_t *other;
    bool cancel_other;
};

static void on_done_free(void *arg, sr_status_t status, const uint8_t *resp, size_t len,
                         const sr_xfer_info_t *info)
{
    struct freer *f = arg;
    (void)status;
    (void)resp;
    (void)len;
    (void)info;
    f->calls++;
    if (f->cancel_other)
        sr_xfer_cancel(f->other);
    else
        sr_upstream_free(f->up);
}

/* Hold 3 queries, then answer all in one burst. */
static void h_burst3(fake_req_t *r, void *arg)
{
    struct held *h = arg;
    h->reqs[h->n++] = *r;
    if (h->n == 3)
        for (int i = 0; i < 3; i++)
            reply_to(&h->reqs[i], 1);
}

START_TEST(test_callback_frees_upstream)
{
    static struct held h;
    struct freer fr = {0};
    uint8_t q[512];
    size_t qlen;
    sr_status_t st;

    h.n = 0;
    fake_set_cb(fake, h_burst3, &h);
    fr.up = _i == 0 ? mk(SR_PROTO_TCP) : mk(SR_PROTO_UDP);
    for (int i = 0; i < 3; i++) {
        qlen = make_query(q, sizeof(q), (uint16_t)i, "www.example.test", 1);
        ck_assert_ptr_nonnull(sr_upstream_query(fr.up, q, qlen, 0, 2000, on_done_free, &fr, &st));
    }
    /* The first answer frees the upstream; the others never call back. */
    run_for(base, 500);
    ck_assert_int_eq(fr.calls, 1);
}
END_TEST

START_TEST(test_callback_cancels_other)
{
    static struct held h;
    struct freer fr = {0};
    xfer_result_t r = {0};
    uint8_t q[512];
    size_t qlen;
    sr_status_t st;
    sr_upstream_t *up = mk(SR_PROTO_TCP);

    h.n = 0;
    fake_set_cb(fake, h_burst3, &h);
    fr.cancel_other = true;
    qlen = make_query(q, sizeof(q), 1, "www.example.test", 1);
    ck_assert_ptr_nonnull(sr_upstream_query(up, q, qlen, 0, 2000, on_done_free, &fr, &st));
    fr.other = ask_query(up, 2, "www.example.test", 2000, &r);
    ask_query(up, 3, "www.example.test", 2000, &r);
    ck_assert(run_until(base, &r.done, 1, 2000));
    run_for(base, 100);
    ck_assert_int_eq(fr.calls, 1);
    ck_assert_int_eq(r.done, 1); /* only the third; the second was cancelled */
    ck_assert_uint_eq(get16(r.resp), 3);
    sr_upstream_free(up);
}
END_TEST

/* ---- set-up errors ---- */

START_TEST(test_bad_queries)
{
    xfer_result_t r = {0};
    sr_upstream_t *up = mk(SR_PROTO_UDP);
    uint8_t q[512];
    size_t qlen = make_query(q, sizeof(q), 1, "www.example.test", 1);
    sr_status_t st;

    ck_assert_ptr_null(sr_upstream_query(up, q, 5, 0, 100, xfer_on_done, &r, &st));
    ck_assert_int_eq(st, SR_E_MSG_TOO_SHORT);
    q[5] = 2; /* two questions */
    ck_assert_ptr_null(sr_upstream_query(up, q, qlen, 0, 100, xfer_on_done, &r, &st));
    ck_assert_int_eq(st, SR_E_FORMERR);
    q[5] = 1;
    ck_assert_ptr_null(sr_upstream_query(up, q, qlen - 2, 0, 100, xfer_on_done, &r, &st));
    ck_assert_int_eq(st, SR_E_FORMERR);
    q[12] = 0xc0; /* a pointer in the question */
    ck_assert_ptr_null(sr_upstream_query(up, q, qlen, 0, 100, xfer_on_done, &r, &st));
    ck_assert_int_eq(st, SR_E_FORMERR);
    run_for(base, 50);
    ck_assert_int_eq(r.done, 0);
    sr_upstream_free(up);
}
END_TEST

START_TEST(test_names_and_addresses)
{
    static const struct {
        sr_proto_t proto;
        const char *server;
        uint16_t port;
        const char *tls_name;
        const char *name;
    } ok[] = {
        {SR_PROTO_UDP, "127.0.0.1", 0, NULL, "udp://127.0.0.1:53"},
        {SR_PROTO_TCP, "127.0.0.1", 5353, NULL, "tcp://127.0.0.1:5353"},
        {SR_PROTO_UDP, "127.0.0.1:5300", 0, NULL, "udp://127.0.0.1:5300"},
        {SR_PROTO_UDP, "::1", 0, NULL, "udp://[::1]:53"},
        {SR_PROTO_UDP, "[::1]", 0, NULL, "udp://[::1]:53"},
        {SR_PROTO_UDP, "[::1]:5353", 0, NULL, "udp://[::1]:5353"},
        {SR_PROTO_TLS, "::1", 0, "name", "tls://[::1]:853#name"},
        {SR_PROTO_TLS, "tls://127.0.0.1:8853#dns.test", 0, NULL, "tls://127.0.0.1:8853#dns.test"},
        {SR_PROTO_TLS, "dns.example", 0, NULL, "tls://dns.example:853"},
        {SR_PROTO_TCP, "fe80::1%lo", 0, NULL, "tcp://[fe80::1%lo]:53"},
    };
    static const struct {
        sr_proto_t proto;
        const char *server;
        sr_status_t st;
    } bad[] = {
        {SR_PROTO_UDP, "", SR_E_NO_SERVER},
        {SR_PROTO_UDP, "1.2.3.4:99999", SR_E_BAD_ADDRESS},
        {SR_PROTO_UDP, "[::1", SR_E_BAD_ADDRESS},
        {SR_PROTO_UDP, "bad host", SR_E_BAD_ADDRESS},
        {SR_PROTO_UDP, "a..b", SR_E_BAD_ADDRESS},
        {SR_PROTO_UDP, "tcp://127.0.0.1", SR_E_BAD_ADDRESS},
        {SR_PROTO_UDP, "127.0.0.1#name", SR_E_BAD_ADDRESS},
        {SR_PROTO_TCP, "127.0.0.1:", SR_E_BAD_ADDRESS},
    };
    sr_upstream_cfg_t cfg;
    sr_status_t st;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        memset(&cfg, 0, sizeof(cfg));
        cfg.proto = ok[i].proto;
        cfg.server = ok[i].server;
        cfg.port = ok[i].port;
        cfg.tls_name = ok[i].tls_name;
        cfg.insecure = true;
        sr_upstream_t *up = sr_upstream_new(base, &cfg, NULL, &st);
        ck_assert_msg(up != NULL, "%s: %d", ok[i].server, st);
        ck_assert_str_eq(sr_upstream_name(up), ok[i].name);
        sr_upstream_free(up);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&cfg, 0, sizeof(cfg));
        cfg.proto = bad[i].proto;
        cfg.server = bad[i].server;
        ck_assert_ptr_null(sr_upstream_new(base, &cfg, NULL, &st));
        ck_assert_msg(st == bad[i].st, "%s: %d", bad[i].server, st);
    }
    ck_assert_str_eq(sr_upstream_name(NULL), "");
}
END_TEST

/* Bootstrap: dns.test -> 127.0.0.1, then the query itself. */
static void h_bootstrap(fake_req_t *r, void *arg)
{
    uint8_t out[512];
    size_t len;
    int *mode = arg;
    if (r->qlen > 20 && memcmp(r->q + 12, "\3dns\4test", 10) == 0) {
        len = make_answer(r->q, r->qlen, out, sizeof(out), *mode == 1 ? 3 : 0, *mode == 1 ? 0 : 1);
        if (*mode != 1) {
            out[len - 4] = 127;
            out[len - 3] = 0;
            out[len - 2] = 0;
            out[len - 1] = 1;
        }
        fake_reply(r, out, len);
        return;
    }
    fake_reply_answer(r, 1);
}

/* Bootstrap answers built by hand: which address record is the host's.
 * The fake listens on 127.0.0.1 only; 127.0.0.2 stands for an attacker's
 * address (nothing answers there). Owners "" are a pointer to the
 * question (dns.test). */
struct boot_rec {
    const char *owner;
    uint16_t type;
    const char *data; /* CNAME: the target; A: the address */
};

struct boot_case {
    const char *what;
    struct boot_rec rr[12];
    sr_status_t want;      /* of the query through the upstream */
    const char *want_addr; /* the address taken, when want is SR_OK */
    int chain;             /* > 0: rr is a chain of this many CNAMEs from
                            * dns.test (c1.test, c2.test, ...), then
                            * cN.test A 127.0.0.1 */
};

static const struct boot_case BOOT_CASES[] = {
    {"an unrelated owner first",
     {{"other.test", SR_TYPE_A, "127.0.0.2"}, {"", SR_TYPE_A, "127.0.0.1"}},
     SR_OK,
     "127.0.0.1",
     0},
    {"only an unrelated owner", {{"other.test", SR_TYPE_A, "127.0.0.1"}}, SR_E_NO_DATA, NULL, 0},
    {"a CNAME chain, its records out of order, names in other cases",
     {{"other.test", SR_TYPE_A, "127.0.0.2"},
      {"REAL.test", SR_TYPE_A, "127.0.0.1"},
      {"alias.test", SR_TYPE_A, "127.0.0.2"},
      {"Alias.Test", SR_TYPE_CNAME, "real.TEST"},
      {"", SR_TYPE_CNAME, "alias.test"}},
     SR_OK,
     "127.0.0.1",
     0},
    {"a CNAME loop",
     {{"", SR_TYPE_CNAME, "a.test"},
      {"a.test", SR_TYPE_CNAME, "DNS.test"},
      {"", SR_TYPE_A, "127.0.0.1"},
      {"a.test", SR_TYPE_A, "127.0.0.1"}},
     SR_E_FORMERR,
     NULL,
     0},
    {"a chain of 8 CNAMEs", {{NULL}}, SR_OK, "127.0.0.1", 8},
    {"a chain of 9 CNAMEs", {{NULL}}, SR_E_FORMERR, NULL, 9},
};

static size_t put_boot_name(uint8_t *out, const char *text)
{
    size_t len;
    if (text[0] == '\0') {
        out[0] = 0xc0;
        out[1] = 12;
        return 2;
    }
    ck_assert_int_eq(sr_name_from_text(text, out, SR_NAME_MAX_WIRE, &len), SR_OK);
    return len;
}

/* The bootstrap's questions get the case's records (whatever the type
 * asked); the query itself goes through. */
static void h_boot_case(fake_req_t *r, void *arg)
{
    const struct boot_case *given = arg;
    struct boot_case chain;
    const struct boot_case *c = given;
    static char names[10][16];
    uint8_t out[1024];
    size_t len = r->qlen, n = 0;

    if (!(r->qlen > 20 && memcmp(r->q + 12, "\3dns\4test", 10) == 0)) {
        fake_reply_answer(r, 1);
        return;
    }
    if (given->chain > 0) {
        ck_assert_int_lt(given->chain, (int)(sizeof(names) / sizeof(names[0])));
        memset(&chain, 0, sizeof(chain));
        for (int i = 0; i <= given->chain; i++) {
            snprintf(names[i], sizeof(names[i]), "c%d.test", i + 1);
            chain.rr[i].owner = i == 0 ? "" : names[i - 1];
            chain.rr[i].type = i < given->chain ? SR_TYPE_CNAME : SR_TYPE_A;
            chain.rr[i].data = i < given->chain ? names[i] : "127.0.0.1";
        }
        c = &chain;
    }
    ck_assert_uint_le(r->qlen, 300);
    memcpy(out, r->q, r->qlen);
    out[2] = 0x81; /* QR, RD */
    out[3] = 0x80; /* RA */
    for (; n < sizeof(c->rr) / sizeof(c->rr[0]) && c->rr[n].owner != NULL; n++) {
        const struct boot_rec *rec = &c->rr[n];
        len += put_boot_name(out + len, rec->owner);
        out[len++] = 0;
        out[len++] = (uint8_t)rec->type;
        memcpy(out + len, "\0\1\0\0\1\0", 6); /* IN, TTL 256 */
        len += 6;
        size_t rdlen_at = len, rdlen;
        len += 2;
        if (rec->type == SR_TYPE_CNAME) {
            rdlen = put_boot_name(out + len, rec->data);
        } else {
            ck_assert_int_eq(inet_pton(AF_INET, rec->data, out + len), 1);
            rdlen = 4;
        }
        out[rdlen_at] = 0;
        out[rdlen_at + 1] = (uint8_t)rdlen;
        len += rdlen;
    }
    out[6] = 0;
    out[7] = (uint8_t)n;
    fake_reply(r, out, len);
}

static char boot_resolved[128];
static void on_boot_log(void *arg, int level, const char *type, const char *msg)
{
    const char *is = strstr(msg, " is ");
    (void)arg;
    (void)level;
    (void)type;
    if (strstr(msg, "dns.test is ") != NULL)
        snprintf(boot_resolved, sizeof(boot_resolved), "%s", is + 4);
}

/* Only the address owned by the end of the CNAME chain from the host
 * name is taken; a loop or a chain of more than 8 fails. */
START_TEST(test_bootstrap_address_owner)
{
    const struct boot_case *c = &BOOT_CASES[_i];
    xfer_result_t r = {0};
    sr_upstream_cfg_t cfg;
    sr_upstream_events_t ev = {.on_log = on_boot_log};
    sr_upstream_t *up;
    char boot[64];
    sr_status_t st;

    boot_resolved[0] = '\0';
    fake_set_cb(fake, h_boot_case, (void *)c);
    snprintf(boot, sizeof(boot), "127.0.0.1:%u", fake_port(fake));
    upstream_cfg_init(&cfg, SR_PROTO_UDP, fake_port(fake));
    cfg.server = "dns.test";
    cfg.bootstrap = boot;
    cfg.log_level = 2;
    up = sr_upstream_new(base, &cfg, &ev, &st);
    ck_assert_ptr_nonnull(up);
    ask_query(up, 52, "www.example.test", 2000, &r);
    ck_assert(run_until(base, &r.done, 1, 3000));
    ck_assert_msg(r.status == c->want, "%s: status %d, want %d", c->what, r.status, c->want);
    if (c->want == SR_OK) {
        ck_assert_str_eq(boot_resolved, c->want_addr);
        ck_assert_uint_eq(get16(r.resp), 52);
        ck_assert_int_eq(fake_queries(fake), 2);
    } else {
        ck_assert_msg(boot_resolved[0] == '\0', "%s: took %s", c->what, boot_resolved);
        /* The query never went out; an answer without the host's
         * address was also asked for the other family. */
        ck_assert_int_eq(fake_queries(fake), c->want == SR_E_NO_DATA ? 2 : 1);
    }
    sr_upstream_free(up);
}
END_TEST

static int log_lines;
static void on_log(void *arg, int level, const char *type, const char *msg)
{
    (void)arg;
    (void)level;
    (void)type;
    (void)msg;
    log_lines++;
}

START_TEST(test_logging_levels)
{
    xfer_result_t r = {0};
    sr_upstream_cfg_t cfg;
    sr_upstream_events_t ev = {.on_log = on_log};
    sr_upstream_t *up;
    sr_status_t st;

    fake_set_cb(fake, h_wrong_id_first, NULL);
    upstream_cfg_init(&cfg, SR_PROTO_UDP, fake_port(fake));
    cfg.log_level = 1;
    log_lines = 0;
    up = sr_upstream_new(base, &cfg, &ev, &st);
    ask_query(up, 60, "www.example.test", 2000, &r);
    ck_assert(run_until(base, &r.done, 1, 2000));
    ck_assert_int_eq(log_lines, 0); /* mismatches log at level 2 */
    sr_upstream_free(up);
    cfg.log_level = 2;
    r.done = 0;
    up = sr_upstream_new(base, &cfg, &ev, &st);
    ask_query(up, 61, "www.example.test", 2000, &r);
    ck_assert(run_until(base, &r.done, 1, 2000));
    ck_assert_int_ge(log_lines, 1);
    sr_upstream_free(up);
}
END_TEST

/* Every allocation of the library failing in turn: NULL with SR_E_NOMEM
 * or a query that fails cleanly, never a crash or a leak (ASan). */
START_TEST(test_allocation_failures)
{
    sr_proto_t proto = _i == 0 ? SR_PROTO_UDP : SR_PROTO_TCP;
    int completed = 0;

    for (long n = 0; n < 60; n++) {
        xfer_result_t r = {0};
        sr_upstream_cfg_t cfg;
        sr_upstream_t *up;
        sr_status_t st = SR_OK;
        uint8_t q[512];
        size_t qlen = make_query(q, sizeof(q), 1, "www.example.test", 1);

        upstream_cfg_init(&cfg, proto, fake_port(fake));
        cfg.tcp_fallback = true;
        sr_alloc_fail_after(n);
        up = sr_upstream_new(base, &cfg, NULL, &st);
        if (up == NULL) {
            sr_alloc_fail_after(-1);
            ck_assert_int_eq(st, SR_E_NOMEM);
            continue;
        }
        if (sr_upstream_query(up, q, qlen, 0, 500, xfer_on_done, &r, &st) == NULL)
            ck_assert_int_eq(st, SR_E_NOMEM);
        else
            run_until(base, &r.done, 1, 1000);
        sr_alloc_fail_after(-1);
        ck_assert_int_le(r.done, 1);
        completed += r.done == 1 && r.status == SR_OK;
        sr_upstream_free(up);
    }
    ck_assert_int_gt(completed, 0); /* n large enough: it works */
}
END_TEST

/* ---- one query, as a table ---- */

static void t_fallback(sr_upstream_cfg_t *cfg, int variant)
{
    (void)variant;
    cfg->tcp_fallback = true;
}

/* variant 1: with the TCP fallback */
static void t_max_packet_512(sr_upstream_cfg_t *cfg, int variant)
{
    cfg->max_packet_size = 512;
    cfg->tcp_fallback = variant == 1;
}

/* variant 1: a local address of the wrong family */
static void t_socket_options(sr_upstream_cfg_t *cfg, int variant)
{
    cfg->local_host = variant == 0 ? "127.0.0.1" : "::1";
    cfg->dont_fragment = true;
    cfg->dscp = 46;
    cfg->in_buffer_size = 65536;
    cfg->out_buffer_size = 65536;
    cfg->share_local_port = true;
    cfg->use_connection = true;
}

/* The host name dns.test, resolved through the fake as the bootstrap. */
static void t_bootstrap(sr_upstream_cfg_t *cfg, int variant)
{
    static char boot[64];
    (void)variant;
    snprintf(boot, sizeof(boot), "127.0.0.1:%u", fake_port(fake));
    cfg->server = "dns.test";
    cfg->bootstrap = boot;
}

/* $STUBRES_RESOLV_CONF points at nothing: no server to ask. */
static void t_no_bootstrap(sr_upstream_cfg_t *cfg, int variant)
{
    (void)variant;
    cfg->server = "dns.test";
    cfg->port = 53;
}

struct upstream_case {
    sr_proto_t proto;
    xq_case_t q;
};

/* XQ_ROW: name, cfg tweak, the fake's behaviour, its variant, query ID,
 * qname, timeout, wait; then what must come of it. */

#define EQ XQ_EQ
#define GE XQ_GE

static const struct upstream_case UPSTREAM_CASES[] = {
    /* UDP */
    {SR_PROTO_UDP, XQ_ROW("an answer, no connection", NULL, NULL, 0, 0x1234, NULL, 2000, 2000,
                          EQ(XQ_INFLIGHT_ASKED, 1), EQ(XQ_STATUS, SR_OK), EQ(XQ_ID, 0x1234),
                          EQ(XQ_ANCOUNT, 1), EQ(XQ_PROTO, SR_PROTO_UDP), EQ(XQ_TRUNCATED, 0),
                          EQ(XQ_IGNORED, 0), EQ(XQ_INFLIGHT_DONE, 0), EQ(XQ_S_QUERIES, 1),
                          EQ(XQ_S_RESPONSES, 1), EQ(XQ_S_IGNORED, 0), EQ(XQ_S_CONNECTIONS, 0))},
    {SR_PROTO_UDP, XQ_ROW("a wrong ID, then the right one", NULL, h_wrong_id_first, 0, 99, NULL,
                          2000, 2000, EQ(XQ_STATUS, SR_OK), EQ(XQ_ID, 99), EQ(XQ_IGNORED, 1),
                          EQ(XQ_S_IGNORED, 1), EQ(XQ_S_RESPONSES, 1))},
    /* The believed one is the upper-cased echo of our question. */
    {SR_PROTO_UDP, XQ_ROW("wrong questions, then the right one", NULL, h_wrong_question_first, 0, 5,
                          NULL, 2000, 2000, EQ(XQ_STATUS, SR_OK), EQ(XQ_IGNORED, 2),
                          EQ(XQ_QNAME0, 'W'), EQ(XQ_S_IGNORED, 2))},
    {SR_PROTO_UDP, XQ_ROW("a reply from another port is ignored", NULL, h_other_port_first, 0, 6,
                          NULL, 2000, 2000, EQ(XQ_STATUS, SR_OK), EQ(XQ_IGNORED, 1))},
    {SR_PROTO_UDP, XQ_ROW("garbage, then a timeout", NULL, h_garbage, 0, 8, NULL, 300, 3000,
                          EQ(XQ_STATUS, SR_E_TIMEDOUT), EQ(XQ_STATUS, 10060), EQ(XQ_IGNORED, 2),
                          EQ(XQ_HAS_DETAIL, 1), EQ(XQ_S_TIMEOUTS, 1), EQ(XQ_S_IGNORED, 2),
                          EQ(XQ_S_RESPONSES, 0))},
    {SR_PROTO_UDP,
     XQ_ROW("TC without the fallback", NULL, h_truncated_udp, 0, 9, "big.example.test", 2000, 2000,
            EQ(XQ_STATUS, SR_OK), EQ(XQ_TRUNCATED, 1), EQ(XQ_PROTO, SR_PROTO_UDP), EQ(XQ_TC, 1),
            EQ(XQ_S_FALLBACKS, 0), EQ(XQ_S_CONNECTIONS, 0))},
    {SR_PROTO_UDP,
     XQ_ROW("TC with the fallback", t_fallback, h_truncated_udp, 0, 10, "big.example.test", 2000,
            3000, EQ(XQ_STATUS, SR_OK), EQ(XQ_TRUNCATED, 0), EQ(XQ_PROTO, SR_PROTO_TCP),
            EQ(XQ_ID, 10), EQ(XQ_ANCOUNT, 3), EQ(XQ_S_FALLBACKS, 1), EQ(XQ_S_QUERIES, 2),
            EQ(XQ_S_RESPONSES, 1), EQ(XQ_S_CONNECTIONS, 1), EQ(XQ_F_ACCEPTS, 1))},
    {SR_PROTO_UDP,
     XQ_ROW("a datagram over max_packet_size", t_max_packet_512, h_big, 0, 11, "big.example.test",
            2000, 2000, EQ(XQ_STATUS, SR_OK), EQ(XQ_TRUNCATED, 1), EQ(XQ_ANCOUNT, 0))},
    /* With the fallback the whole answer comes over TCP. */
    {SR_PROTO_UDP, XQ_ROW("a datagram over max_packet_size, with the fallback", t_max_packet_512,
                          h_big, 1, 12, "big.example.test", 2000, 3000, EQ(XQ_STATUS, SR_OK),
                          EQ(XQ_PROTO, SR_PROTO_TCP), EQ(XQ_ANCOUNT, 60))},
    /* The same query, once more, after 2 s. */
    {SR_PROTO_UDP, XQ_ROW("the first copy lost: retransmission", NULL, h_drop_first, 0, 17, NULL,
                          5000, 5000, EQ(XQ_STATUS, SR_OK), EQ(XQ_ID, 17), EQ(XQ_F_QUERIES, 2),
                          GE(XQ_RTT_US, 1900000), EQ(XQ_S_QUERIES, 1))},
    {SR_PROTO_UDP, XQ_ROW("socket options", t_socket_options, NULL, 0, 15, NULL, 2000, 2000,
                          EQ(XQ_STATUS, SR_OK))},
    /* A local address of the wrong family cannot be used. */
    {SR_PROTO_UDP, XQ_ROW("socket options, local address of the wrong family", t_socket_options,
                          NULL, 1, 16, NULL, 2000, 2000, EQ(XQ_STATUS, SR_E_AFNOSUPPORT))},
    /* TCP */
    {SR_PROTO_TCP,
     XQ_ROW("closed mid-message: resent on a new connection", NULL, h_close_mid_message, 0, 21,
            NULL, 3000, 3000, EQ(XQ_STATUS, SR_OK), EQ(XQ_ID, 21), EQ(XQ_S_CONNECTIONS, 2),
            EQ(XQ_S_QUERIES, 1), EQ(XQ_F_ACCEPTS, 2))},
    {SR_PROTO_TCP,
     XQ_ROW("closed twice: fails", NULL, h_close_always, 0, 22, NULL, 3000, 3000,
            EQ(XQ_STATUS, SR_E_CONNRESET), EQ(XQ_S_CONNECTIONS, 2), EQ(XQ_S_ERRORS, 1))},
    {SR_PROTO_TCP, XQ_ROW("a frame of length 0", NULL, h_framing_garbage, 0, 23, NULL, 3000, 3000,
                          EQ(XQ_STATUS, SR_OK), EQ(XQ_S_CONNECTIONS, 2))},
    {SR_PROTO_TCP, XQ_ROW("a frame shorter than a header", NULL, h_framing_garbage, 1, 23, NULL,
                          3000, 3000, EQ(XQ_STATUS, SR_OK), EQ(XQ_S_CONNECTIONS, 2))},
    /* host names */
    {SR_PROTO_UDP, XQ_ROW("a host name via the bootstrap", t_bootstrap, h_bootstrap, 0, 50, NULL,
                          2000, 3000, EQ(XQ_STATUS, SR_OK), EQ(XQ_ID, 50), EQ(XQ_F_QUERIES, 2))},
    {SR_PROTO_UDP, XQ_ROW("a host name the bootstrap does not know", t_bootstrap, h_bootstrap, 1,
                          50, NULL, 2000, 3000, EQ(XQ_STATUS, SR_E_HOST_NOT_FOUND))},
    {SR_PROTO_TCP, XQ_ROW("a host name via the bootstrap", t_bootstrap, h_bootstrap, 2, 50, NULL,
                          2000, 3000, EQ(XQ_STATUS, SR_OK), EQ(XQ_ID, 50), EQ(XQ_F_QUERIES, 2))},
    {SR_PROTO_UDP, XQ_ROW("a host name without a bootstrap", t_no_bootstrap, NULL, 0, 51, NULL,
                          2000, 2000, EQ(XQ_STATUS, SR_E_NO_SERVER))},
};

START_TEST(test_one_query)
{
    xq_env_t env = {.base = base, .fake = fake};
    xq_run(&env, &UPSTREAM_CASES[_i].q, UPSTREAM_CASES[_i].proto);
}
END_TEST

/* The rows every protocol passes alike, over UDP and TCP (check_tls runs
 * them over TLS). */
START_TEST(test_every_proto)
{
    static const sr_proto_t protos[] = {SR_PROTO_UDP, SR_PROTO_TCP};
    xq_env_t env = {.base = base, .fake = fake};
    xq_run(&env, &XQ_EVERY_PROTO[_i / 2], protos[_i % 2]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("upstream");
    TCase *tc = add_tcase(s, "one query", setup, teardown, NULL);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_one_query, 0,
                        (int)(sizeof(UPSTREAM_CASES) / sizeof(UPSTREAM_CASES[0])));
    tcase_add_loop_test(tc, test_every_proto, 0, 2 * XQ_EVERY_PROTO_N);
    tc = add_tcase(s, "udp", setup, teardown,
                   TESTS(test_random_and_kept_ids, test_udp_1000_concurrent, test_ipv6, test_udp_guard));
    tcase_set_timeout(tc, 60);
    tc = add_tcase(s, "tcp", setup, teardown,
                   TESTS(test_tcp_pipelining_out_of_order, test_tcp_idle_close_and_reconnect,
                         test_tcp_connection_reuse));
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_tcp_inactivity_vs_absolute_timeout, 0, 2);
    tcase_add_loop_test(tc, test_tcp_pipeline, 0,
                        (int)(sizeof(PIPELINE_CASES) / sizeof(PIPELINE_CASES[0])));
    tc = add_tcase(s, "lifetime", setup, teardown,
                   TESTS(test_cancel, test_free_with_queries_in_flight, test_callback_cancels_other,
                         test_bad_queries, test_names_and_addresses, test_logging_levels));
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_callback_frees_upstream, 0, 2);
    tcase_add_loop_test(tc, test_bootstrap_address_owner, 0,
                        (int)(sizeof(BOOT_CASES) / sizeof(BOOT_CASES[0])));
    tcase_add_loop_test(tc, test_allocation_failures, 0, 2);
    return run_suite(s);
}
