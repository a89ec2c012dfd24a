/* libFuzzer target: the DoH server (src/daemon/dohserv.c): nghttp2's
 * server session with stubresd's callbacks, and the mapping of HTTP
 * requests to DNS queries (paths, methods, media types, the dns=,
 * name= and type= parameters, base64url, bodies, header and body
 * limits, stream resets) and of answers back (wire, padded, JSON).
 *
 * The input is two bytes of options, then what a client sends: the
 * HTTP/2 preface and frames (seeds: make-dohserv-corpus.py). The bytes go
 * to one session in chunks; a fake forwarder, as check_dohserv.c's,
 * answers each query at once, holds it, or drops it, by its ID; held
 * queries are let go between chunks and at the end (in order or not,
 * before or after the session is freed), with a reply built for them.
 *
 * Checks: every query reaching the forwarder is a whole DNS message
 * that fwd_parse_query does not drop; the session counts in flight
 * exactly the queries held and not yet let go, and so does the
 * transport (hold/unhold, after the session is freed too); the server's first bytes
 * are a SETTINGS frame; after the session is freed, the late releases
 * touch nothing of it (ASan), and nothing leaks. */
#include "config.h"

#include <string.h>

#include <stubres/wire.h>

#include "dohserv.h"
#include "forwarder.h"
#include "fuzz.h"

#define MAX_HELD 256

static fwd_client_t held[MAX_HELD];
static uint8_t held_q[MAX_HELD][512];
static size_t held_len[MAX_HELD];
static size_t nheld, outstanding;
static fwd_ctx_t fake_fx;
static uint8_t scratch[65536];
static bool blocked, first_out;
static long transport_holds; /* what the transport was told is in flight */

static void t_hold(void *arg)
{
    (void)arg;
    transport_holds++;
}

static void t_unhold(void *arg)
{
    (void)arg;
    FUZZ_CHECK(transport_holds > 0);
    transport_holds--;
}

/* A reply to the query q: fwd_error_reply's (the question echoed, an OPT
 * when the query had one) with RCODE NOERROR or SERVFAIL. */
static size_t reply_to(const uint8_t *q, size_t len, uint8_t *out, size_t cap)
{
    fwd_qinfo_t qi;

    if (fwd_parse_query(q, len, &qi) == FWD_DROP)
        return 0;
    return fwd_error_reply(&qi, q, (qi.id & 1) ? 0 : 2, 1232, out, cap);
}

static void fake_query(fwd_ctx_t *fx, const uint8_t *pkt, size_t len, const fwd_client_t *c,
                       uint8_t *out, size_t cap)
{
    fwd_qinfo_t qi;
    (void)fx;

    FUZZ_CHECK(len >= 12 && len <= 65535);
    FUZZ_CHECK(fwd_parse_query(pkt, len, &qi) != FWD_DROP);
    FUZZ_CHECK(c->conn != NULL && c->sink != NULL && !c->sink->datagram);
    if (qi.id & 2) {
        if (nheld == MAX_HELD || len > sizeof(held_q[0]))
            return; /* dropped: 503 */
        held[nheld] = *c;
        memcpy(held_q[nheld], pkt, len);
        held_len[nheld] = len;
        nheld++;
        outstanding++;
        c->sink->hold(c);
        return;
    }
    if (qi.id & 4)
        return; /* dropped */
    c->sink->send(c, out, reply_to(pkt, len, out, cap));
}

/* Let go of held query i (once). */
static void release(size_t i)
{
    static uint8_t out[2048];
    size_t n;

    if (held_len[i] == 0)
        return;
    n = reply_to(held_q[i], held_len[i], out, sizeof(out));
    held_len[i] = 0;
    outstanding--;
    held[i].sink->release(&held[i], (held_q[i][0] & 8) ? NULL : out, n);
}

static ssize_t fake_send(void *arg, const uint8_t *d, size_t n)
{
    (void)arg;
    if (first_out) {
        /* The server's connection preface is a SETTINGS frame (RFC 9113
         * 3.4): type 4 on stream 0. */
        FUZZ_CHECK(n >= 9 && d[3] == 4 && (d[5] | d[6] | d[7] | d[8]) == 0);
        first_out = false;
    }
    if (blocked)
        return 0;
    return (ssize_t)(n > 100 ? n - 100 : n); /* sometimes short writes */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dohserv_conf_t conf;
    dohserv_t *s;
    uint8_t flags, chunk;
    size_t off = 2, next = 0;

    if (size < 2)
        return 0;
    flags = data[0];
    chunk = data[1];
    nheld = outstanding = 0;
    transport_holds = 0;
    blocked = false;
    first_out = true;
    memset(&conf, 0, sizeof(conf));
    conf.path = (flags & 0x40) ? "/q" : NULL;
    conf.max_streams = (flags & 0x80) ? 4 : 0;
    conf.query = fake_query;
    conf.fwd = &fake_fx;
    conf.buf = scratch;
    conf.send = fake_send;
    conf.hold = t_hold;
    conf.unhold = t_unhold;
    s = dohserv_new(&conf, NULL, 0);
    if (s == NULL)
        return 0;
    while (off < size) {
        size_t n = chunk == 0 ? size - off : chunk;
        if (n > size - off)
            n = size - off;
        if (dohserv_recv(s, data + off, n) != 0)
            break;
        off += n;
        FUZZ_CHECK(dohserv_inflight(s) == outstanding);
        if (flags & 4)
            blocked = !blocked;
        if ((flags & 1) && next < nheld)
            release((flags & 2) ? nheld - 1 - next++ : next++);
        FUZZ_CHECK(dohserv_inflight(s) == outstanding);
    }
    blocked = false;
    if (flags & 8) {
        dohserv_free(s);
        s = NULL;
    } else {
        dohserv_flush(s);
        (void)dohserv_want_read(s);
        (void)dohserv_finished(s);
    }
    for (size_t i = 0; i < nheld; i++)
        release((flags & 2) ? nheld - 1 - i : i);
    if (s != NULL) {
        FUZZ_CHECK(dohserv_inflight(s) == 0);
        dohserv_free(s);
    }
    /* Every hold the transport heard of ended, after the session too. */
    FUZZ_CHECK(transport_holds == 0);
    return 0;
}
