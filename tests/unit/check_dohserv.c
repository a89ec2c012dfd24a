/* Unit tests: stubresd's DoH server (src/daemon/dohserv.c), with no
 * sockets: an HTTP/2 client made with nghttp2's client API talks to a
 * session in memory, and a fake forwarder answers its DNS queries at once
 * (names beginning "hit") or holds them until a test releases them, in
 * any order. What the client sees is checked: status, content-type,
 * cache-control, the body as DNS or as JSON, which stream gets which
 * answer, RST_STREAM and GOAWAY. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <nghttp2/nghttp2.h>

#include <stubres/wire.h>

#include "check-main.h"
#include "doh-internal.h" /* sr_base64url_encode */
#include "dohserv.h"
#include "forwarder.h"
#include "lib-internal.h" /* sr_get16, sr_put16 */

/* ---- byte pipes between client and server ---- */

typedef struct pipebuf {
    uint8_t *p;
    size_t len, cap;
} pipebuf_t;

static void pipe_add(pipebuf_t *b, const uint8_t *d, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
}

/* ---- the fake forwarder ---- */

#define MAX_HELD 512

typedef struct held {
    fwd_client_t client;
    uint8_t q[512];
    size_t qlen;
} held_t;

static held_t held[MAX_HELD];
static size_t nheld;
static unsigned nqueries;
static const void *conns[MAX_HELD]; /* client.conn of every query */
static uint8_t lastq[512];          /* the last query asked */
static size_t lastqlen;
static fwd_ctx_t fake_fx;
static uint8_t scratch[65536];

/* An answer to query q: its header and question, QR and RA, two A records
 * (TTL 300 and 120) and, when the query had EDNS, an OPT. */
static size_t make_answer(const uint8_t *q, size_t qlen, uint8_t *out)
{
    fwd_qinfo_t qi;
    size_t n;

    ck_assert_int_eq(fwd_parse_query(q, qlen, &qi), FWD_OK);
    memcpy(out, q, qi.question_end);
    out[2] |= 0x80;
    out[3] = 0x80;
    sr_put16(out + 4, 1);
    sr_put16(out + 6, 2);
    sr_put16(out + 8, 0);
    sr_put16(out + 10, qi.edns ? 1 : 0);
    n = qi.question_end;
    for (int i = 0; i < 2; i++) {
        static const uint8_t rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 192, 0, 2, 0};
        memcpy(out + n, rr, sizeof(rr));
        sr_put16(out + n + 8, i == 0 ? 300 : 120);
        out[n + 15] = (uint8_t)(1 + i);
        n += sizeof(rr);
    }
    if (qi.edns) {
        static const uint8_t opt[] = {0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0};
        memcpy(out + n, opt, sizeof(opt));
        n += sizeof(opt);
    }
    return n;
}

static void fake_query(fwd_ctx_t *fx, const uint8_t *pkt, size_t len, const fwd_client_t *c,
                       uint8_t *out, size_t cap)
{
    (void)fx;
    (void)cap;
    ck_assert_uint_lt(nqueries, MAX_HELD);
    conns[nqueries++] = c->conn;
    ck_assert_uint_le(len, sizeof(lastq));
    memcpy(lastq, pkt, len);
    lastqlen = len;
    ck_assert_int_eq(c->peer.ss_family, AF_INET);
    if (len > 13 && memcmp(pkt + 13, "hit", 3) == 0) {
        c->sink->send(c, out, make_answer(pkt, len, out));
        return;
    }
    if (len > 13 && memcmp(pkt + 13, "drop", 4) == 0)
        return; /* overload: nothing */
    ck_assert_uint_lt(nheld, MAX_HELD);
    ck_assert_uint_le(len, sizeof(held[0].q));
    held[nheld].client = *c;
    memcpy(held[nheld].q, pkt, len);
    held[nheld].qlen = len;
    nheld++;
    c->sink->hold(c);
}

/* Let go of held query i with its answer. */
static void release(size_t i)
{
    uint8_t out[1024];
    size_t n = make_answer(held[i].q, held[i].qlen, out);
    held[i].client.sink->release(&held[i].client, out, n);
    held[i].qlen = 0;
}

/* ---- the client ---- */

#define MAX_STREAMS 8192

typedef struct resp {
    int status;
    char ctype[64];
    char cache[64];
    pipebuf_t body;
    bool closed;
    uint32_t error; /* RST_STREAM code */
    unsigned order; /* when it closed */
} resp_t;

typedef struct body_src {
    const uint8_t *p;
    size_t len, off;
} body_src_t;

/* The bodies being sent (a reset stream's is never read to its end). */
static body_src_t srcs[64];
static size_t nsrcs;
static nghttp2_session *cli;
static dohserv_t *srv;
static pipebuf_t c2s, s2c;
static resp_t resp[MAX_STREAMS];
static unsigned closed_count;
static bool got_goaway;
static uint32_t goaway_code;
static bool srv_blocked;
static int srv_wakes;

static resp_t *resp_of(int32_t id)
{
    ck_assert_int_gt(id, 0);
    ck_assert_int_lt(id / 2, MAX_STREAMS);
    return &resp[id / 2];
}

static ssize_t cli_send(nghttp2_session *s, const uint8_t *d, size_t n, int flags, void *arg)
{
    (void)s;
    (void)flags;
    (void)arg;
    pipe_add(&c2s, d, n);
    return (ssize_t)n;
}

static int cli_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                      const uint8_t *value, size_t vl, uint8_t flags, void *arg)
{
    resp_t *r = resp_of(f->hd.stream_id);
    (void)s;
    (void)nl;
    (void)vl;
    (void)flags;
    (void)arg;
    if (strcmp((const char *)name, ":status") == 0)
        r->status = atoi((const char *)value);
    else if (strcmp((const char *)name, "content-type") == 0)
        snprintf(r->ctype, sizeof(r->ctype), "%s", value);
    else if (strcmp((const char *)name, "cache-control") == 0)
        snprintf(r->cache, sizeof(r->cache), "%s", value);
    return 0;
}

static int cli_data(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *d, size_t n,
                    void *arg)
{
    (void)s;
    (void)flags;
    (void)arg;
    pipe_add(&resp_of(id)->body, d, n);
    return 0;
}

static int cli_close(nghttp2_session *s, int32_t id, uint32_t code, void *arg)
{
    resp_t *r = resp_of(id);
    (void)s;
    (void)arg;
    r->closed = true;
    r->error = code;
    r->order = ++closed_count;
    return 0;
}

static int cli_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *arg)
{
    (void)s;
    (void)arg;
    if (f->hd.type == NGHTTP2_GOAWAY) {
        got_goaway = true;
        goaway_code = f->goaway.error_code;
    }
    return 0;
}

static ssize_t srv_send(void *arg, const uint8_t *d, size_t n)
{
    (void)arg;
    if (srv_blocked)
        return 0;
    pipe_add(&s2c, d, n);
    return (ssize_t)n;
}

static void srv_wake(void *arg)
{
    (void)arg;
    srv_wakes++;
}

static dohserv_conf_t conf(void)
{
    dohserv_conf_t c;
    memset(&c, 0, sizeof(c));
    c.path = "/dns-query";
    c.query = fake_query;
    c.fwd = &fake_fx;
    c.buf = scratch;
    c.send = srv_send;
    c.wake = srv_wake;
    return c;
}

static void setup(void)
{
    nghttp2_session_callbacks *cbs;
    struct sockaddr_in peer;
    dohserv_conf_t cf = conf();

    memset(resp, 0, sizeof(resp));
    memset(held, 0, sizeof(held));
    nheld = nqueries = closed_count = nsrcs = 0;
    got_goaway = srv_blocked = false;
    goaway_code = 0;
    srv_wakes = 0;
    memset(&peer, 0, sizeof(peer));
    peer.sin_family = AF_INET;
    peer.sin_addr.s_addr = htonl(0x7f000001);
    srv = dohserv_new(&cf, (struct sockaddr *)&peer, sizeof(peer));
    ck_assert_ptr_nonnull(srv);
    ck_assert_int_eq(nghttp2_session_callbacks_new(&cbs), 0);
    nghttp2_session_callbacks_set_send_callback(cbs, cli_send);
    nghttp2_session_callbacks_set_on_header_callback(cbs, cli_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, cli_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, cli_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, cli_frame_recv);
    ck_assert_int_eq(nghttp2_session_client_new(&cli, cbs, NULL), 0);
    nghttp2_session_callbacks_del(cbs);
    ck_assert_int_eq(nghttp2_submit_settings(cli, NGHTTP2_FLAG_NONE, NULL, 0), 0);
}

static void teardown(void)
{
    nghttp2_session_del(cli);
    dohserv_free(srv);
    srv = NULL;
    /* Queries still held come back to a freed session: let go quietly. */
    for (size_t i = 0; i < nheld; i++)
        if (held[i].qlen > 0)
            release(i);
    for (size_t i = 0; i < MAX_STREAMS; i++)
        free(resp[i].body.p);
    free(c2s.p);
    free(s2c.p);
    memset(&c2s, 0, sizeof(c2s));
    memset(&s2c, 0, sizeof(s2c));
}

/* Move bytes both ways until neither side has anything to say. Returns
 * dohserv_recv's last result. */
static int pump(void)
{
    int rc = 0;

    for (int i = 0; i < 1000; i++) {
        ck_assert_int_eq(nghttp2_session_send(cli), 0);
        if (c2s.len == 0 && s2c.len == 0)
            break;
        if (c2s.len > 0) {
            size_t n = c2s.len;
            c2s.len = 0;
            rc = dohserv_recv(srv, c2s.p, n);
        }
        if (s2c.len > 0) {
            size_t n = s2c.len;
            s2c.len = 0;
            ck_assert_int_ge(nghttp2_session_mem_recv(cli, s2c.p, n), 0);
        }
    }
    return rc;
}

/* ---- requests ---- */

static ssize_t body_read(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *arg)
{
    body_src_t *b = src->ptr;
    size_t n = b->len - b->off;
    (void)s;
    (void)id;
    (void)arg;
    if (n > length)
        n = length;
    memcpy(buf, b->p + b->off, n);
    b->off += n;
    if (b->off == b->len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

#define HDR(n, v)                                                                                  \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), strlen(n), strlen(v), NGHTTP2_NV_FLAG_NONE                 \
    }

/* Submit a request; extra headers (name, value pairs, NULL-ended) after
 * the pseudo-headers; body NULL: none. Returns the stream ID. */
static int32_t request(const char *method, const char *path, const uint8_t *body, size_t blen,
                       const char *const *extra)
{
    nghttp2_nv nva[16] = {HDR(":method", method), HDR(":scheme", "https"),
                          HDR(":authority", "dns.test"), HDR(":path", path)};
    size_t n = 4;
    nghttp2_data_provider prd;
    int32_t id;

    for (; extra != NULL && *extra != NULL; extra += 2)
        nva[n++] = (nghttp2_nv)HDR(extra[0], extra[1]);
    if (body != NULL) {
        body_src_t *b = &srcs[nsrcs++];
        ck_assert_uint_lt(nsrcs, sizeof(srcs) / sizeof(srcs[0]));
        b->p = body;
        b->off = 0;
        b->len = blen;
        prd.source.ptr = b;
        prd.read_callback = body_read;
    }
    id = nghttp2_submit_request(cli, NULL, nva, n, body != NULL ? &prd : NULL, NULL);
    ck_assert_int_gt(id, 0);
    return id;
}

/* A query for name (presentation) type A, ID 0 as RFC 8484 4.1 asks;
 * padded to 128-byte blocks when pad. */
static size_t query(const char *name, bool pad, uint8_t *out, size_t cap)
{
    uint8_t wire[SR_NAME_MAX_WIRE];
    size_t wlen, len;
    sr_query_opts_t o;

    memset(&o, 0, sizeof(o));
    o.rd = true;
    if (pad) {
        o.edns_size = 1232;
        o.pad_block = 128;
    }
    ck_assert_int_eq(sr_name_from_text(name, wire, sizeof(wire), &wlen), SR_OK);
    ck_assert_int_eq(sr_query_build(out, cap, &len, wire, wlen, SR_TYPE_A, SR_CLASS_IN, &o), SR_OK);
    return len;
}

/* GET /dns-query?dns=<base64url of the query for name>. */
static int32_t get_wire(const char *name)
{
    uint8_t q[512];
    char b64[800], path[900];
    size_t n = query(name, false, q, sizeof(q));

    ck_assert_int_eq(sr_base64url_encode(q, n, b64, sizeof(b64), NULL), SR_OK);
    snprintf(path, sizeof(path), "/dns-query?dns=%s", b64);
    return request("GET", path, NULL, 0,
                   (const char *const[]){"accept", "application/dns-message", NULL});
}

/* The body of a 200 answer, parsed; its question name must be name. */
static sr_msg_t *answer_of(int32_t id, const char *name)
{
    resp_t *r = resp_of(id);
    sr_msg_t *m = sr_msg_new();

    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->ctype, "application/dns-message");
    ck_assert_int_eq(sr_msg_parse(m, r->body.p, r->body.len, 0), SR_OK);
    ck_assert_str_eq(sr_msg_qname(m), name);
    return m;
}

/* ---- tests ---- */

START_TEST(test_settings)
{
    pump();
    ck_assert_uint_eq(
        nghttp2_session_get_remote_settings(cli, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS),
        DOHSERV_MAX_STREAMS);
    ck_assert_uint_eq(
        nghttp2_session_get_remote_settings(cli, NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE),
        DOHSERV_MAX_HEADERS);
    ck_assert(!dohserv_finished(srv));
}
END_TEST

START_TEST(test_get)
{
    int32_t id = get_wire("hit.example.test");
    sr_msg_t *m;

    pump();
    m = answer_of(id, "hit.example.test");
    ck_assert_uint_eq(sr_msg_id(m), 0);
    ck_assert_uint_eq(sr_msg_section_count(m, SR_SECTION_ANSWER), 2);
    /* RFC 8484 5.1: no longer than the smallest TTL. */
    ck_assert_str_eq(resp_of(id)->cache, "max-age=120");
    sr_msg_free(m);
}
END_TEST

START_TEST(test_post)
{
    uint8_t q[512];
    size_t n = query("hit.post.test", false, q, sizeof(q));
    int32_t id = request("POST", "/dns-query", q, n,
                         (const char *const[]){"content-type", "application/dns-message", NULL});
    sr_msg_t *m;

    pump();
    m = answer_of(id, "hit.post.test");
    ck_assert_str_eq(resp_of(id)->cache, "max-age=120");
    sr_msg_free(m);
}
END_TEST

/* A JSON answer: the shape of Google's and Cloudflare's /resolve. */
static json_t *json_of(int32_t id)
{
    resp_t *r = resp_of(id);
    json_error_t err;
    json_t *j;

    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->ctype, "application/dns-json");
    ck_assert_str_eq(r->cache, "max-age=120");
    j = json_loadb((const char *)r->body.p, r->body.len, 0, &err);
    ck_assert_msg(j != NULL, "not JSON: %s", err.text);
    return j;
}

START_TEST(test_json_resolve)
{
    int32_t id = request("GET", "/resolve?name=hit.json.test&type=A", NULL, 0, NULL);
    json_t *j, *a;

    pump();
    j = json_of(id);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "Status")), 0);
    ck_assert(json_is_false(json_object_get(j, "TC")));
    ck_assert(json_is_true(json_object_get(j, "RD")));
    ck_assert(json_is_true(json_object_get(j, "RA")));
    ck_assert(json_is_false(json_object_get(j, "AD")));
    ck_assert(json_is_false(json_object_get(j, "CD")));
    a = json_array_get(json_object_get(j, "Question"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(a, "name")), "hit.json.test.");
    ck_assert_int_eq(json_integer_value(json_object_get(a, "type")), 1);
    a = json_object_get(j, "Answer");
    ck_assert_uint_eq(json_array_size(a), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 0), "name")),
                     "hit.json.test.");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(a, 0), "type")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(a, 0), "TTL")), 300);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 1), "data")), "192.0.2.2");
    ck_assert_ptr_null(json_object_get(j, "Authority")); /* none: left out, as Google does */
    json_decref(j);
}
END_TEST

/* The same at the RFC 8484 path with Accept: application/dns-json, a
 * type by number, a UTF-8 name (percent-encoded) asked in its A-label
 * form, and the library's JSON client reading the answer back. */
START_TEST(test_json_accept)
{
    int32_t id = request("GET", "/dns-query?name=hit.b%C3%BCcher.test&type=28", NULL, 0,
                         (const char *const[]){"accept", "application/dns-json", NULL});
    uint8_t qn[SR_NAME_MAX_WIRE], *wire = NULL;
    size_t qlen, wlen;
    sr_doh_question_t q;
    json_t *j;

    pump();
    j = json_of(id);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(j, "Question"), 0), "name")),
                     "hit.xn--bcher-kva.test.");
    json_decref(j);
    ck_assert_int_eq(sr_name_from_text("hit.xn--bcher-kva.test", qn, sizeof(qn), &qlen), SR_OK);
    q = (sr_doh_question_t){0, qn, qlen, 28, SR_CLASS_IN};
    /* The fake answers A records whatever the type: the converter only
     * checks the Question. */
    ck_assert_int_eq(sr_doh_json_to_wire((const char *)resp_of(id)->body.p, resp_of(id)->body.len,
                                         &q, &wire, &wlen, NULL, 0),
                     SR_OK);
    sr_free(wire);
}
END_TEST

START_TEST(test_json_flags)
{
    int32_t id = request("GET", "/resolve?name=hit.flags.test&do=1&cd=true", NULL, 0, NULL);
    fwd_qinfo_t qi;

    pump();
    ck_assert_int_eq(resp_of(id)->status, 200);
    /* The query the forwarder got: DO in an OPT record, CD set. */
    ck_assert_uint_eq(nqueries, 1);
    ck_assert_int_eq(fwd_parse_query(lastq, lastqlen, &qi), FWD_OK);
    ck_assert(qi.edns && qi.do_bit);
    ck_assert(qi.flags & SR_FLAG_CD);
    ck_assert(qi.flags & SR_FLAG_RD);
    ck_assert_uint_eq(qi.id, 0);
}
END_TEST

/* Every HTTP error code, each with what provokes it. */
START_TEST(test_errors)
{
    uint8_t q[512], resp_msg[512];
    size_t n = query("hit.err.test", false, q, sizeof(q));
    static uint8_t big[70000];
    char hdr[9000];
    int32_t id_nodns, id_b64, id_resp, id_404, id_405, id_405b, id_413, id_413cl, id_415, id_431,
        id_noname, id_badtype;

    memcpy(resp_msg, q, n);
    resp_msg[2] |= 0x80; /* a response is not a query */
    memset(hdr, 'a', sizeof(hdr) - 1);
    hdr[sizeof(hdr) - 1] = '\0';
    id_nodns = request("GET", "/dns-query", NULL, 0, NULL);
    id_b64 = request("GET", "/dns-query?dns=AAAA*AAA", NULL, 0, NULL);
    id_resp = request("POST", "/dns-query", resp_msg, n,
                      (const char *const[]){"content-type", "application/dns-message", NULL});
    id_404 = request("GET", "/other?dns=AAAA", NULL, 0, NULL);
    id_405 = request("PUT", "/dns-query", q, n,
                     (const char *const[]){"content-type", "application/dns-message", NULL});
    id_405b = request("POST", "/resolve?name=x.test", q, n,
                      (const char *const[]){"content-type", "application/dns-message", NULL});
    id_413 = request("POST", "/dns-query", big, sizeof(big),
                     (const char *const[]){"content-type", "application/dns-message", NULL});
    id_413cl = request("POST", "/dns-query", big, sizeof(big),
                       (const char *const[]){"content-type", "application/dns-message",
                                             "content-length", "70000", NULL});
    id_415 = request("POST", "/dns-query", q, n,
                     (const char *const[]){"content-type", "text/plain", NULL});
    id_431 = request("GET", "/dns-query?dns=AAAA", NULL, 0,
                     (const char *const[]){"x-filler", hdr, NULL});
    id_noname = request("GET", "/resolve?type=A", NULL, 0, NULL);
    id_badtype = request("GET", "/resolve?name=x.test&type=NOSUCH", NULL, 0, NULL);
    pump();
    ck_assert_int_eq(resp_of(id_nodns)->status, 400);
    ck_assert_int_eq(resp_of(id_b64)->status, 400);
    ck_assert_int_eq(resp_of(id_resp)->status, 400);
    ck_assert_int_eq(resp_of(id_404)->status, 404);
    ck_assert_int_eq(resp_of(id_405)->status, 405);
    ck_assert_int_eq(resp_of(id_405b)->status, 405);
    ck_assert_int_eq(resp_of(id_413)->status, 413);
    ck_assert_int_eq(resp_of(id_413cl)->status, 413);
    ck_assert_int_eq(resp_of(id_415)->status, 415);
    ck_assert_int_eq(resp_of(id_431)->status, 431);
    ck_assert_int_eq(resp_of(id_noname)->status, 400);
    ck_assert_int_eq(resp_of(id_badtype)->status, 400);
    ck_assert_str_eq(resp_of(id_415)->ctype, "text/plain");
    ck_assert_str_eq(resp_of(id_415)->cache, ""); /* errors are not cached */
    ck_assert_uint_eq(nqueries, 0);               /* none reached the forwarder */
    /* The connection serves on after all of them. */
    int32_t id = get_wire("hit.after.test");
    pump();
    sr_msg_free(answer_of(id, "hit.after.test"));
    ck_assert(!got_goaway);
}
END_TEST

/* A query the forwarder drops (overload) gets 503, not silence. */
START_TEST(test_dropped)
{
    int32_t id = get_wire("drop.test");
    pump();
    ck_assert_int_eq(resp_of(id)->status, 503);
}
END_TEST

/* Streams are answered as their answers come, in any order, each with its
 * own; two streams asking with the same ID are two clients. */
START_TEST(test_out_of_order)
{
    int32_t a = get_wire("one.test"), b = get_wire("two.test"), c = get_wire("three.test");

    pump();
    ck_assert_uint_eq(nheld, 3);
    ck_assert_uint_eq(dohserv_inflight(srv), 3);
    ck_assert_ptr_ne(conns[0], conns[1]);
    ck_assert_ptr_ne(conns[1], conns[2]);
    ck_assert(!resp_of(a)->closed && !resp_of(b)->closed && !resp_of(c)->closed);
    release(2);
    ck_assert_int_gt(srv_wakes, 0);
    pump();
    ck_assert(resp_of(c)->closed && !resp_of(a)->closed);
    release(0);
    pump();
    release(1);
    pump();
    ck_assert_uint_eq(resp_of(c)->order, 1);
    ck_assert_uint_eq(resp_of(a)->order, 2);
    ck_assert_uint_eq(resp_of(b)->order, 3);
    sr_msg_free(answer_of(a, "one.test"));
    sr_msg_free(answer_of(b, "two.test"));
    sr_msg_free(answer_of(c, "three.test"));
    ck_assert_uint_eq(dohserv_inflight(srv), 0);
}
END_TEST

/* RFC 8467 4.1: a padded query gets an answer padded to 468 bytes. */
START_TEST(test_padding)
{
    uint8_t q[512];
    size_t n = query("hit.pad.test", true, q, sizeof(q));
    int32_t id = request("POST", "/dns-query", q, n,
                         (const char *const[]){"content-type", "application/dns-message", NULL});
    int32_t id2 = get_wire("hit.nopad.test");
    sr_msg_t *m;

    pump();
    m = answer_of(id, "hit.pad.test");
    ck_assert_uint_eq(resp_of(id)->body.len % 468, 0);
    ck_assert(sr_msg_edns(m)->present);
    sr_msg_free(m);
    m = answer_of(id2, "hit.nopad.test");
    ck_assert_uint_ne(resp_of(id2)->body.len % 468, 0);
    sr_msg_free(m);
}
END_TEST

/* A stream reset while its query is upstream: the late answer goes
 * nowhere, the rest carry on. Resets beyond the streams allowed open
 * refuse new streams until answers come. */
START_TEST(test_reset_held)
{
    int32_t ids[DOHSERV_MAX_STREAMS], extra, after;
    char name[32];

    for (int i = 0; i < DOHSERV_MAX_STREAMS; i++) {
        snprintf(name, sizeof(name), "held%d.test", i);
        ids[i] = get_wire(name);
    }
    pump();
    ck_assert_uint_eq(nheld, DOHSERV_MAX_STREAMS);
    for (int i = 0; i < DOHSERV_MAX_STREAMS; i++)
        nghttp2_submit_rst_stream(cli, NGHTTP2_FLAG_NONE, ids[i], NGHTTP2_CANCEL);
    pump();
    ck_assert_uint_eq(dohserv_inflight(srv), DOHSERV_MAX_STREAMS);
    extra = get_wire("hit.extra.test");
    pump();
    ck_assert(resp_of(extra)->closed);
    ck_assert_uint_eq(resp_of(extra)->error, NGHTTP2_REFUSED_STREAM);
    for (size_t i = 0; i < nheld; i++)
        release(i);
    pump();
    ck_assert_uint_eq(dohserv_inflight(srv), 0);
    after = get_wire("hit.later.test");
    pump();
    sr_msg_free(answer_of(after, "hit.later.test"));
}
END_TEST

/* A POST reset before its body ends: nothing is asked, nothing is owed
 * (the request body is not counted as answer bytes). */
START_TEST(test_reset_mid_body)
{
    uint8_t q[512];
    size_t n = query("hit.partial.test", false, q, sizeof(q));
    int32_t id;

    pump();
    id = nghttp2_submit_headers(cli, NGHTTP2_FLAG_NONE, -1, NULL,
                                (nghttp2_nv[]){HDR(":method", "POST"), HDR(":scheme", "https"),
                                               HDR(":authority", "dns.test"),
                                               HDR(":path", "/dns-query"),
                                               HDR("content-type", "application/dns-message")},
                                5, NULL);
    ck_assert_int_gt(id, 0);
    pump();
    /* Half the query as a DATA frame without END_STREAM, then a reset. */
    uint8_t fr[9 + 512];
    fr[0] = 0, fr[1] = 0, fr[2] = (uint8_t)(n / 2), fr[3] = 0, fr[4] = 0;
    sr_put32(fr + 5, (uint32_t)id);
    memcpy(fr + 9, q, n / 2);
    ck_assert_int_eq(dohserv_recv(srv, fr, 9 + n / 2), 0);
    nghttp2_submit_rst_stream(cli, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    pump();
    ck_assert_uint_eq(nqueries, 0);
    ck_assert(dohserv_want_read(srv));
    int32_t after = get_wire("hit.after.test");
    pump();
    sr_msg_free(answer_of(after, "hit.after.test"));
}
END_TEST

/* Rapid reset (CVE-2023-44487): streams opened and reset without end get
 * the connection closed. */
START_TEST(test_rst_flood)
{
    int i;

    for (i = 0; i < 5000 && !got_goaway; i++) {
        int32_t id = get_wire("hit.flood.test");
        /* Out first: a reset of a request not yet sent only cancels it. */
        ck_assert_int_eq(nghttp2_session_send(cli), 0);
        nghttp2_submit_rst_stream(cli, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
        if (i % 50 == 49)
            pump();
    }
    pump();
    ck_assert(got_goaway);
    /* Past the burst, not at once: a client resetting a few is fine. */
    ck_assert_int_gt(i, DOHSERV_RST_BURST);
    ck_assert(dohserv_finished(srv));
}
END_TEST

/* A client that does not read: past DOHSERV_MAX_OUTPUT of answers the
 * transport is told to stop reading, and to read again once they are
 * out. */
START_TEST(test_backpressure)
{
    uint8_t big[16384];
    int streams = 0;

    pump();
    srv_blocked = true;
    memset(big, 0, sizeof(big));
    /* Held queries answered with 16 KiB each while nothing is written. */
    for (int i = 0; i < 40; i++) {
        get_wire("held.big.test");
        streams++;
    }
    pump();
    ck_assert_uint_eq(nheld, (size_t)streams);
    for (size_t i = 0; i < nheld; i++) {
        size_t len = make_answer(held[i].q, held[i].qlen, big);
        /* Pad the answer with an unknown record to 16 KiB. */
        memset(big + len, 0, 11);
        big[len + 2] = 99; /* type 99 */
        big[len + 4] = 1;
        sr_put16(big + len + 9, (uint16_t)(sizeof(big) - len - 11));
        sr_put16(big + 10, 1);
        held[i].client.sink->release(&held[i].client, big, sizeof(big));
        held[i].qlen = 0;
    }
    ck_assert(!dohserv_want_read(srv));
    srv_blocked = false;
    ck_assert_int_eq(dohserv_flush(srv), 0);
    pump(); /* the client reads, and opens its flow-control windows */
    ck_assert(dohserv_want_read(srv));
    for (int i = 0; i < streams; i++) {
        ck_assert_int_eq(resp[i].status, 200);
        ck_assert_uint_eq(resp[i].body.len, sizeof(big));
    }
}
END_TEST

/* Bytes that are not HTTP/2: the session fails and says so. */
START_TEST(test_garbage)
{
    static const uint8_t junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    dohserv_conf_t cf = conf();
    dohserv_t *s = dohserv_new(&cf, NULL, 0);

    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(dohserv_recv(s, junk, sizeof(junk) - 1), -1);
    ck_assert(dohserv_finished(s));
    dohserv_free(s);
}
END_TEST

/* Bad HTTP/2 after the preface (DATA on stream 0, RFC 9113 6.1): the
 * session says it has ended, and the GOAWAY that says why was handed to
 * send() for the transport to write before it closes. */
START_TEST(test_bad_frame_goaway)
{
    static const uint8_t bad[] = {0, 0, 1, NGHTTP2_DATA, 0, 0, 0, 0, 0, 'x'};

    pump();
    ck_assert(!got_goaway);
    ck_assert_int_eq(dohserv_recv(srv, bad, sizeof(bad)), -1);
    ck_assert(dohserv_finished(srv));
    ck_assert_uint_gt(s2c.len, 0);
    /* The client may take the rest as an error of its own; what counts
     * is that the GOAWAY arrived first. */
    (void)nghttp2_session_mem_recv(cli, s2c.p, s2c.len);
    ck_assert(got_goaway);
    ck_assert_uint_eq(goaway_code, NGHTTP2_PROTOCOL_ERROR);
}
END_TEST

/* base64url both ways, and what the decoder refuses. */
START_TEST(test_base64url)
{
    uint8_t in[300], out[300];
    char b64[500];
    size_t n, got;

    for (size_t len = 0; len < sizeof(in); len += 7) {
        for (size_t i = 0; i < len; i++)
            in[i] = (uint8_t)(i * 37 + len);
        ck_assert_int_eq(sr_base64url_encode(in, len, b64, sizeof(b64), &n), SR_OK);
        ck_assert_int_eq(sr_base64url_decode(b64, n, out, sizeof(out), &got), SR_OK);
        ck_assert_uint_eq(got, len);
        ck_assert_mem_eq(out, in, len);
    }
    ck_assert_int_eq(sr_base64url_decode("_-8", 3, out, sizeof(out), &got), SR_OK);
    ck_assert_uint_eq(got, 2);
    ck_assert_uint_eq(out[0], 0xff);
    ck_assert_uint_eq(out[1], 0xef);
    ck_assert_int_eq(sr_base64url_decode("AAAAA", 5, out, sizeof(out), &got), SR_E_FORMERR);
    ck_assert_int_eq(sr_base64url_decode("AA+A", 4, out, sizeof(out), &got), SR_E_FORMERR);
    ck_assert_int_eq(sr_base64url_decode("AA==", 4, out, sizeof(out), &got), SR_E_FORMERR);
    ck_assert_int_eq(sr_base64url_decode("AA A", 4, out, sizeof(out), &got), SR_E_FORMERR);
    ck_assert_int_eq(sr_base64url_decode("AAAA", 4, out, 2, &got), SR_E_NOBUFS);
}
END_TEST

/* The JSON form of records: data as master-file text (a byte that is not
 * ASCII as \DDD, which a JSON string holds), an NXDOMAIN with its SOA
 * under Authority, and the converter of the DoH client reading all of it
 * back to the same records; without text fields, RFC 3597's form. */
START_TEST(test_wire_to_json)
{
    static const uint8_t msg[] = {0, 0, 0x81, 0x83, 0, 1, 0, 1, 0, 1, 0, 0,
                                  /* question: x.test TXT */
                                  1, 'x', 4, 't', 'e', 's', 't', 0, 0, 16, 0, 1,
                                  /* x.test TXT 60 "\255" */
                                  0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 2, 1, 0xff,
                                  /* test SOA 30 a.test. b.test. 1 2 3 4 5 */
                                  0xc0, 14, 0, 6, 0, 1, 0, 0, 0, 30, 0, 28, 1, 'a', 0xc0, 14, 1,
                                  'b', 0xc0, 14, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0,
                                  0, 0, 5};
    sr_msg_t *m = sr_msg_new(), *back = sr_msg_new();
    uint8_t qn[] = {1, 'x', 4, 't', 'e', 's', 't', 0}, *wire = NULL;
    sr_doh_question_t q = {0, qn, sizeof(qn), 16, SR_CLASS_IN};
    char *json = NULL;
    size_t len, wlen;
    json_t *j;

    ck_assert_int_eq(sr_msg_parse(m, msg, sizeof(msg), 0), SR_OK);
    ck_assert_int_eq(sr_doh_wire_to_json(m, &json, &len), SR_OK);
    j = json_loads(json, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "Status")), 3);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(json_object_get(j, "Answer"), 0), "data")),
        "\"\\255\"");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(j, "Authority"), 0), "data")),
                     "a.test b.test 1 2 3 4 5"); /* sr_rr_text: no trailing dots */
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(j, "Authority"), 0), "name")),
                     "test.");
    json_decref(j);
    ck_assert_int_eq(sr_doh_json_to_wire(json, len, &q, &wire, &wlen, NULL, 0), SR_OK);
    ck_assert_int_eq(sr_msg_parse(back, wire, wlen, 0), SR_OK);
    ck_assert_uint_eq(sr_msg_rcode(back), 3);
    ck_assert_uint_eq(sr_msg_rr(back, 0)->rdlength, 2);
    ck_assert_mem_eq(sr_msg_rr(back, 0)->rdata, "\x01\xff", 2);
    ck_assert_uint_eq(sr_msg_rr(back, 1)->ttl, 30);
    sr_free(wire);
    sr_free(json);
    ck_assert_int_eq(sr_msg_parse(m, msg, sizeof(msg), SR_PARSE_NO_FIELDS), SR_OK);
    ck_assert_int_eq(sr_doh_wire_to_json(m, &json, &len), SR_OK);
    ck_assert_ptr_nonnull(strstr(json, "\"data\":\"\\\\# 2 01FF\""));
    sr_free(json);
    sr_msg_free(m);
    sr_msg_free(back);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dohserv");

    add_tcase(s, "requests", setup, teardown,
              TESTS(test_settings, test_get, test_post, test_json_resolve, test_json_accept,
                    test_json_flags, test_errors, test_dropped, test_padding));
    add_tcase(s, "streams", setup, teardown,
              TESTS(test_out_of_order, test_reset_held, test_reset_mid_body, test_rst_flood,
                    test_backpressure));
    add_tcase(s, "codec", setup, teardown, TESTS(test_garbage, test_bad_frame_goaway, test_base64url,
                                                         test_wire_to_json));
    return run_suite(s);
}
