/* stubresd: the DNS-over-HTTPS server (see dohserv.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nghttp2/nghttp2.h>

#include <stubres/wire.h>

#include "doh-internal.h" /* base64url, the JSON API form, media types */
#include "dohserv.h"
#include "forwarder.h"
#include "tcpconn.h"
#include "tlslisten.h"

/* The largest DNS message (RFC 1035 4.2.2), and so the largest body. */
#define DOHSERV_MAX_BODY 65535
/* Body bytes read and dropped after a 413 before the stream is reset. */
#define DOHSERV_MAX_DISCARD (1024 * 1024)

enum { M_NONE, M_GET, M_POST, M_OTHER };

/* One request and, later, its response. Lives from the request's first
 * HEADERS until nghttp2 closes the stream, and beyond while the forwarder
 * holds its query (the forwarder's client points to it). */
typedef struct dohs_stream {
    dohserv_t *sess; /* NULL once the session is freed */
    struct dohs_stream *next, *prev;
    int32_t id;
    uint8_t method;
    bool closed;   /* nghttp2 closed the stream (done, or reset) */
    bool held;     /* the forwarder holds its query */
    bool answered; /* a response was submitted */
    bool req_done; /* the request ended (END_STREAM) */
    bool hdr_over; /* headers over DOHSERV_MAX_HEADERS */
    bool ctype_ok; /* content-type: application/dns-message */
    bool accept_json;
    bool json;                 /* answer in the JSON API form */
    bool padded;               /* the query was padded: so is the answer */
    void (*unhold)(void *arg); /* the transport's, at the hold's end */
    void *arg;
    uint64_t clen; /* content-length, UINT64_MAX: none */
    size_t hdr_bytes;
    size_t discarded; /* body bytes read after the response */
    char *path;
    uint8_t *body; /* the request body (POST), then the response's */
    size_t body_len, body_cap, body_off;
    fwd_client_t client;
} dohs_stream_t;

struct dohserv {
    nghttp2_session *h2;
    dohserv_conf_t conf;
    struct sockaddr_storage peer;
    socklen_t peerlen;
    dohs_stream_t *streams; /* open streams and those reset while held */
    unsigned held;          /* streams whose query the forwarder holds */
    unsigned orphans;       /* ... of them, reset by the client */
    size_t pending;         /* response body bytes not yet sent */
    unsigned depth;         /* inside nghttp2: no send from here */
    unsigned unholds;       /* releases the transport is yet to hear of */
    bool failed;            /* a fatal error: nothing more to do */
    sr_msg_t *msg;          /* scratch for parsing answers */
};

static const fwd_sink_t doh_sink;

/* ---- streams ---- */

static void stream_unlink(dohserv_t *s, dohs_stream_t *st)
{
    if (st->prev != NULL)
        st->prev->next = st->next;
    else if (s->streams == st)
        s->streams = st->next;
    if (st->next != NULL)
        st->next->prev = st->prev;
    st->next = st->prev = NULL;
}

static void stream_free(dohs_stream_t *st)
{
    free(st->path);
    free(st->body);
    free(st);
}

/* ---- responses ---- */

static ssize_t body_read_cb(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length,
                            uint32_t *flags, nghttp2_data_source *src, void *arg)
{
    dohs_stream_t *st = src->ptr;
    dohserv_t *s = arg;
    size_t n = st->body_len - st->body_off;
    (void)h2;
    (void)id;

    if (n > length)
        n = length;
    memcpy(buf, st->body + st->body_off, n);
    st->body_off += n;
    s->pending -= n;
    if (st->body_off == st->body_len)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

#define NV(n, v)                                                                                   \
    {                                                                                              \
        (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE             \
    }

/* Submit the response to st: status, the body (taken: malloc'd, freed
 * with the stream), its media type, and cache-control when max_age is not
 * negative. */
static void respond(dohs_stream_t *st, int status, const char *ctype, uint8_t *body, size_t len,
                    long max_age)
{
    dohserv_t *s = st->sess;
    char sbuf[8], lbuf[24], abuf[32];
    nghttp2_data_provider prd;

    if (st->answered || st->closed) {
        free(body);
        return;
    }
    st->answered = true;
    free(st->body);
    st->body = body;
    st->body_len = body != NULL ? len : 0;
    st->body_cap = st->body_len;
    st->body_off = 0;
    snprintf(sbuf, sizeof(sbuf), "%d", status);
    snprintf(lbuf, sizeof(lbuf), "%zu", st->body_len);
    snprintf(abuf, sizeof(abuf), "max-age=%ld", max_age);
    nghttp2_nv nva[] = {NV(":status", sbuf), NV("content-type", ctype), NV("content-length", lbuf),
                        NV("cache-control", abuf)};
    prd.source.ptr = st;
    prd.read_callback = body_read_cb;
    s->pending += st->body_len;
    if (nghttp2_submit_response(s->h2, st->id, nva, max_age >= 0 ? 4 : 3, &prd) != 0) {
        s->pending -= st->body_len;
        st->body_len = 0;
    }
}

/* An HTTP error, with its reason as a line of text for whoever reads it
 * with curl. */
static void respond_error(dohs_stream_t *st, int status, const char *why)
{
    size_t n = strlen(why);
    uint8_t *body = malloc(n + 1);

    if (body != NULL) {
        memcpy(body, why, n);
        body[n] = '\n';
    }
    respond(st, status, "text/plain", body, body != NULL ? n + 1 : 0, -1);
}

/* The freshness lifetime of an answer (RFC 8484 5.1): its smallest TTL,
 * OPT aside (and 0 without records: nothing says how long it holds). */
static long min_ttl(const sr_msg_t *m)
{
    size_t n = sr_msg_rr_count(m);
    uint32_t min = UINT32_MAX;

    for (size_t i = 0; i < n; i++) {
        const sr_rr_t *rr = sr_msg_rr(m, i);
        if (rr->ttl < min)
            min = rr->ttl;
    }
    return n == 0 ? 0 : (long)(min > INT32_MAX ? INT32_MAX : min);
}

/* The DNS answer to st's query: as it is (padded when the query was) or
 * as JSON. msg NULL or len 0: there is none (502). */
static void answer(dohs_stream_t *st, const uint8_t *msg, size_t len)
{
    dohserv_t *s = st->sess;
    uint8_t *body = NULL;
    size_t blen = 0;
    char *json = NULL;

    if (st->answered || st->closed)
        return;
    if (msg == NULL || len == 0) {
        respond_error(st, 502, "no answer");
        return;
    }
    if (s->msg == NULL && (s->msg = sr_msg_new()) == NULL) {
        respond_error(st, 500, "out of memory");
        return;
    }
    if (sr_msg_parse(s->msg, msg, len, st->json ? 0 : SR_PARSE_NO_FIELDS) != SR_OK) {
        respond_error(st, 502, "the answer does not parse");
        return;
    }
    if (st->json) {
        if (sr_doh_wire_to_json(s->msg, &json, &blen) != SR_OK) {
            respond_error(st, 500, "out of memory");
            return;
        }
        /* sr_free is free (alloc.c): the body is freed with the stream. */
        respond(st, 200, "application/dns-json", (uint8_t *)json, blen, min_ttl(s->msg));
        return;
    }
    /* Room for the padding: a block, and an OPT record to carry it. */
    body = malloc(len + (st->padded ? TLSLISTEN_PAD_BLOCK + 16 : 0));
    if (body == NULL) {
        respond_error(st, 500, "out of memory");
        return;
    }
    blen = st->padded ? tlslisten_pad(msg, len, body, len + TLSLISTEN_PAD_BLOCK + 16) : 0;
    if (blen == 0) { /* unpadded, or no room in 65535 bytes: as it came */
        memcpy(body, msg, len);
        blen = len;
    }
    respond(st, 200, "application/dns-message", body, blen, min_ttl(s->msg));
}

/* ---- the sink the forwarder answers streams through ---- */

static void doh_send(const fwd_client_t *c, const uint8_t *msg, size_t len)
{
    answer(c->conn, msg, len);
}

static void doh_hold(const fwd_client_t *c)
{
    dohs_stream_t *st = c->conn;
    dohserv_t *s = st->sess;

    st->held = true;
    s->held++;
    st->unhold = s->conf.unhold;
    st->arg = s->conf.arg;
    if (s->conf.hold != NULL)
        s->conf.hold(s->conf.arg);
}

static void doh_release(const fwd_client_t *c, const uint8_t *msg, size_t len)
{
    dohs_stream_t *st = c->conn;
    dohserv_t *s = st->sess;

    st->held = false;
    if (s == NULL) { /* the session is gone */
        if (st->unhold != NULL)
            st->unhold(st->arg);
        stream_free(st);
        return;
    }
    s->held--;
    if (st->closed) { /* reset by the client while upstream */
        s->orphans--;
        stream_unlink(s, st);
        stream_free(st);
    } else {
        answer(st, msg, len);
        if (s->depth == 0 && dohserv_flush(s) != 0)
            s->failed = true;
    }
    if (s->depth > 0) {
        /* Inside dohserv_recv (an answer that came at once after all):
         * the transport hears of it when that returns. */
        s->unholds++;
        return;
    }
    if (s->conf.wake != NULL)
        s->conf.wake(s->conf.arg);
    /* Last: the transport may close the connection, and free s, on it. */
    if (s->conf.unhold != NULL)
        s->conf.unhold(s->conf.arg);
}

static const fwd_sink_t doh_sink = {
    .name = "https",
    .datagram = false,
    .max_size = 65535,
    .send = doh_send,
    .hold = doh_hold,
    .release = doh_release,
    .ctx = NULL,
    .transport = FWD_XPORT_HTTPS,
};

/* ---- requests ---- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The value of parameter key in the query string q (after '?'),
 * percent-decoded and NUL-terminated into out. 1: found; 0: absent; -1:
 * malformed, too long for out, or given twice (two readers taking
 * different ones is how smuggling starts). */
static int query_param(const char *q, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    int found = 0;

    while (q != NULL && *q != '\0') {
        const char *end = strchr(q, '&');
        size_t n = end != NULL ? (size_t)(end - q) : strlen(q);
        if (n > klen && strncmp(q, key, klen) == 0 && q[klen] == '=') {
            size_t o = 0;
            if (found)
                return -1;
            found = 1;
            for (size_t i = klen + 1; i < n; i++) {
                char c = q[i];
                if (c == '%') {
                    int hi = i + 2 < n ? hexval(q[i + 1]) : -1;
                    int lo = hi >= 0 ? hexval(q[i + 2]) : -1;
                    if (lo < 0)
                        return -1;
                    c = (char)(hi << 4 | lo);
                    i += 2;
                } else if (c == '+') {
                    c = ' ';
                }
                if (c == '\0' || o + 1 >= cap)
                    return -1;
                out[o++] = c;
            }
            out[o] = '\0';
        } else if (n == klen && strncmp(q, key, klen) == 0) {
            if (found)
                return -1;
            found = 1;
            out[0] = '\0';
        }
        q = end != NULL ? end + 1 : NULL;
    }
    return found;
}

/* A do= or cd= flag: absent, empty, 0 and false are false. */
static bool flag_param(const char *q, const char *key, bool *bad)
{
    char v[8];
    int r = query_param(q, key, v, sizeof(v));

    if (r < 0)
        *bad = true;
    if (r <= 0 || v[0] == '\0')
        return false;
    return strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0;
}

/* The JSON API's question (name=, type=, do=, cd=) as a DNS query into
 * out. 0, or -1 with *why set. */
static int json_query(const char *q, uint8_t *out, size_t cap, size_t *len, const char **why)
{
    char name[SR_NAME_MAX_TEXT], ace[SR_NAME_MAX_TEXT], tname[24];
    uint8_t wire[SR_NAME_MAX_WIRE];
    size_t wlen;
    sr_query_opts_t opts;
    bool bad = false;
    int type = SR_TYPE_A, r;

    r = query_param(q, "name", name, sizeof(name));
    if (r <= 0 || name[0] == '\0') {
        *why = r < 0 ? "bad name parameter" : "no name parameter";
        return -1;
    }
    /* Names as the library takes them: IDNA2008 A-labels for UTF-8. */
    if (sr_name_idn(name, ace, sizeof(ace)) != SR_OK ||
        sr_name_from_text(ace, wire, sizeof(wire), &wlen) != SR_OK) {
        *why = "name is not a domain name";
        return -1;
    }
    r = query_param(q, "type", tname, sizeof(tname));
    if (r < 0 || (r > 0 && (type = sr_type_from_name(tname)) < 1) || type > 65535) {
        *why = "unknown type";
        return -1;
    }
    memset(&opts, 0, sizeof(opts));
    opts.rd = true;
    opts.cd = flag_param(q, "cd", &bad);
    opts.do_bit = flag_param(q, "do", &bad);
    opts.edns_size = opts.do_bit ? 1232 : 0; /* DO lives in OPT */
    if (bad) {
        *why = "bad do or cd parameter";
        return -1;
    }
    if (sr_query_build(out, cap, len, wire, wlen, (uint16_t)type, SR_CLASS_IN, &opts) != SR_OK) {
        *why = "name is not a domain name";
        return -1;
    }
    return 0;
}

/* Hand the DNS query q to the forwarder for st. */
static void ask(dohserv_t *s, dohs_stream_t *st, const uint8_t *q, size_t len)
{
    fwd_qinfo_t qi;

    if (len < SR_HEADER_LEN || fwd_parse_query(q, len, &qi) == FWD_DROP) {
        /* No header, or a response: the forwarder would say nothing. */
        respond_error(st, 400, "not a DNS query");
        return;
    }
    st->padded = !st->json && tlslisten_query_padded(q, len);
    st->client.sink = &doh_sink;
    st->client.conn = st;
    st->client.fd = -1;
    st->client.peer = s->peer;
    st->client.peerlen = s->peerlen;
    s->conf.query(s->conf.fwd, q, len, &st->client, s->conf.buf, DOHSERV_MAX_BODY);
    if (!st->answered && !st->held && !st->closed)
        respond_error(st, 503, "overloaded; try again"); /* dropped */
}

/* A whole request: check it, then ask. */
static void handle_request(dohserv_t *s, dohs_stream_t *st)
{
    const char *q, *why = NULL;
    size_t plen, qlen;
    bool at_doh, at_json;
    uint8_t *wire = NULL;
    int r;

    st->req_done = true;
    if (st->answered)
        return; /* 413 or 431 went already */
    if (st->path == NULL) {
        respond_error(st, 400, "no path");
        return;
    }
    q = strchr(st->path, '?');
    plen = q != NULL ? (size_t)(q - st->path) : strlen(st->path);
    if (q != NULL)
        q++;
    at_doh = plen == strlen(s->conf.path) && strncmp(st->path, s->conf.path, plen) == 0;
    at_json = plen == strlen(DOHSERV_JSON_PATH) && strncmp(st->path, DOHSERV_JSON_PATH, plen) == 0;
    if (!at_doh && !at_json) {
        respond_error(st, 404, "not found");
        return;
    }
    if (st->method != M_GET && (st->method != M_POST || at_json)) {
        respond_error(st, 405, "method not allowed");
        return;
    }
    st->json = at_json || st->accept_json;
    if (st->method == M_POST) {
        if (!st->ctype_ok) {
            respond_error(st, 415, "POST wants content-type: application/dns-message");
            return;
        }
        /* The query is the forwarder's to read until it returns, and an
         * answer given at once replaces the stream's body: hand it over. */
        wire = st->body;
        qlen = st->body_len;
        st->body = NULL;
        st->body_len = st->body_cap = 0;
        ask(s, st, wire, qlen);
        free(wire);
        return;
    }
    /* GET: a wire query in dns=, else (JSON) a question in name=. The
     * buffers hold any DNS message. */
    wire = malloc(DOHSERV_MAX_BODY);
    if (wire == NULL) {
        respond_error(st, 500, "out of memory");
        return;
    }
    char *b64 = malloc(DOHSERV_MAX_HEADERS);
    r = b64 != NULL ? query_param(q, "dns", b64, DOHSERV_MAX_HEADERS) : -1;
    if (r > 0) {
        if (sr_base64url_decode(b64, strlen(b64), wire, DOHSERV_MAX_BODY, &qlen) != SR_OK)
            why = "dns parameter is not base64url";
    } else if (r == 0 && st->json) {
        if (json_query(q, wire, DOHSERV_MAX_BODY, &qlen, &why) != 0 && why == NULL)
            why = "bad question";
    } else {
        why = r < 0 ? "bad dns parameter" : "no dns parameter";
    }
    free(b64);
    if (why != NULL)
        respond_error(st, 400, why);
    else
        ask(s, st, wire, qlen);
    free(wire);
}

/* ---- nghttp2's callbacks ---- */

static ssize_t send_cb(nghttp2_session *h2, const uint8_t *data, size_t length, int flags,
                       void *arg)
{
    dohserv_t *s = arg;
    ssize_t n = s->conf.send(s->conf.arg, data, length);
    (void)h2;
    (void)flags;

    if (n < 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return n == 0 ? NGHTTP2_ERR_WOULDBLOCK : n;
}

static int begin_headers_cb(nghttp2_session *h2, const nghttp2_frame *frame, void *arg)
{
    dohserv_t *s = arg;
    dohs_stream_t *st;

    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    /* Streams reset while their queries are upstream are not open as far
     * as nghttp2 counts, and cost as much: as many as may be open. */
    if (s->orphans >= s->conf.max_streams) {
        nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                  NGHTTP2_REFUSED_STREAM);
        return 0;
    }
    st = calloc(1, sizeof(*st));
    if (st == NULL) {
        nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                  NGHTTP2_REFUSED_STREAM);
        return 0;
    }
    st->sess = s;
    st->id = frame->hd.stream_id;
    st->clen = UINT64_MAX;
    st->next = s->streams;
    if (s->streams != NULL)
        s->streams->prev = st;
    s->streams = st;
    nghttp2_session_set_stream_user_data(h2, st->id, st);
    return 0;
}

/* Whether an Accept value lists application/dns-json. */
static bool accepts_json(const char *v)
{
    char item[64];

    while (*v != '\0') {
        size_t n = strcspn(v, ",");
        if (n < sizeof(item)) {
            memcpy(item, v, n);
            item[n] = '\0';
            if (sr_doh_media_type_is(item, "application/dns-json"))
                return true;
        }
        v += n;
        if (*v == ',')
            v++;
    }
    return false;
}

static int header_cb(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *arg)
{
    dohs_stream_t *st = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
    const char *n = (const char *)name, *v = (const char *)value;
    (void)flags;
    (void)arg;

    if (st == NULL || frame->hd.type != NGHTTP2_HEADERS ||
        frame->headers.cat != NGHTTP2_HCAT_REQUEST || st->hdr_over)
        return 0;
    st->hdr_bytes += namelen + valuelen + 32;
    if (st->hdr_bytes > DOHSERV_MAX_HEADERS) {
        st->hdr_over = true;
        free(st->path);
        st->path = NULL;
        return 0;
    }
    /* nghttp2 hands names lower-cased (HTTP/2 requires it) and both
     * NUL-terminated. */
    if (strcmp(n, ":method") == 0) {
        st->method = strcmp(v, "GET") == 0 ? M_GET : strcmp(v, "POST") == 0 ? M_POST : M_OTHER;
    } else if (strcmp(n, ":path") == 0) {
        free(st->path);
        st->path = strndup(v, valuelen);
    } else if (strcmp(n, "content-type") == 0) {
        st->ctype_ok = sr_doh_media_type_is(v, "application/dns-message");
    } else if (strcmp(n, "accept") == 0) {
        st->accept_json = st->accept_json || accepts_json(v);
    } else if (strcmp(n, "content-length") == 0) {
        char *end;
        unsigned long long cl = strtoull(v, &end, 10);
        st->clen = end != v && *end == '\0' ? cl : UINT64_MAX;
    }
    return 0;
}

static int data_chunk_cb(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *arg)
{
    dohs_stream_t *st = nghttp2_session_get_stream_user_data(h2, id);
    (void)flags;
    (void)arg;

    if (st == NULL)
        return 0;
    if (st->answered) {
        /* Answered (413) before the body ended: the rest is read and
         * dropped (flow control credits it back), up to a point, then
         * the stream is reset (RFC 9113 8.1). Not at once: curl 7.88
         * drops a response whose stream is reset while it uploads. */
        st->discarded += len;
        if (st->discarded > DOHSERV_MAX_DISCARD && st->discarded - len <= DOHSERV_MAX_DISCARD)
            nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, id, NGHTTP2_NO_ERROR);
        return 0;
    }
    if (len > DOHSERV_MAX_BODY - st->body_len) {
        respond_error(st, 413, "body over 65535 bytes");
        return 0;
    }
    if (st->body_len + len > st->body_cap) {
        size_t cap = st->body_cap < 512 ? 512 : st->body_cap * 2;
        if (cap > DOHSERV_MAX_BODY)
            cap = DOHSERV_MAX_BODY;
        if (cap < st->body_len + len)
            cap = st->body_len + len;
        uint8_t *nb = realloc(st->body, cap);
        if (nb == NULL) {
            respond_error(st, 500, "out of memory");
            return 0;
        }
        st->body = nb;
        st->body_cap = cap;
    }
    memcpy(st->body + st->body_len, data, len);
    st->body_len += len;
    return 0;
}

static int frame_recv_cb(nghttp2_session *h2, const nghttp2_frame *frame, void *arg)
{
    dohserv_t *s = arg;
    dohs_stream_t *st;

    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    st = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
    if (st == NULL)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        /* Known too big before the body: say so at once. */
        if (st->hdr_over)
            respond_error(st, 431, "request headers too large");
        else if (st->clen != UINT64_MAX && st->clen > DOHSERV_MAX_BODY)
            respond_error(st, 413, "body over 65535 bytes");
    }
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
        handle_request(s, st);
    return 0;
}

static int stream_close_cb(nghttp2_session *h2, int32_t id, uint32_t error_code, void *arg)
{
    dohserv_t *s = arg;
    dohs_stream_t *st = nghttp2_session_get_stream_user_data(h2, id);
    (void)error_code;

    if (st == NULL)
        return 0;
    nghttp2_session_set_stream_user_data(h2, id, NULL);
    st->closed = true;
    if (st->answered) /* the body is the response's: what was never sent */
        s->pending -= st->body_len - st->body_off;
    st->body_off = st->body_len;
    if (st->held) {
        /* The forwarder's client points here until it lets go. */
        s->orphans++;
        free(st->body);
        st->body = NULL;
        st->body_len = st->body_cap = st->body_off = 0;
        return 0;
    }
    stream_unlink(s, st);
    stream_free(st);
    return 0;
}

/* ---- the session ---- */

dohserv_t *dohserv_new(const dohserv_conf_t *conf, const struct sockaddr *peer, socklen_t peerlen)
{
    nghttp2_session_callbacks *cbs = NULL;
    nghttp2_option *opt = NULL;
    dohserv_t *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->conf = *conf;
    if (s->conf.path == NULL)
        s->conf.path = DOHSERV_PATH;
    if (s->conf.max_streams == 0)
        s->conf.max_streams = DOHSERV_MAX_STREAMS;
    if (peer != NULL && peerlen > 0 && (size_t)peerlen <= sizeof(s->peer)) {
        memcpy(&s->peer, peer, (size_t)peerlen);
        s->peerlen = peerlen;
    }
    if (nghttp2_session_callbacks_new(&cbs) != 0 || nghttp2_option_new(&opt) != 0)
        goto fail;
    nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, begin_headers_cb);
    nghttp2_session_callbacks_set_on_header_callback(cbs, header_cb);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, data_chunk_cb);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, frame_recv_cb);
    nghttp2_session_callbacks_set_on_stream_close_callback(cbs, stream_close_cb);
#if HAVE_DECL_NGHTTP2_OPTION_SET_STREAM_RESET_RATE_LIMIT
    /* Rapid reset (CVE-2023-44487): open and reset streams without end. */
    nghttp2_option_set_stream_reset_rate_limit(opt, DOHSERV_RST_BURST, DOHSERV_RST_RATE);
#endif
    /* Closed streams are not kept for priority: they would be memory a
     * client grows by opening streams. */
    nghttp2_option_set_no_closed_streams(opt, 1);
    if (nghttp2_session_server_new2(&s->h2, cbs, s, opt) != 0)
        goto fail;
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, s->conf.max_streams},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, DOHSERV_MAX_HEADERS},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    if (nghttp2_submit_settings(s->h2, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0)
        goto fail;
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    return s;
fail:
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_session_del(s->h2);
    free(s);
    return NULL;
}

void dohserv_free(dohserv_t *s)
{
    if (s == NULL)
        return;
    /* nghttp2_session_del closes no stream through our callbacks. */
    while (s->streams != NULL) {
        dohs_stream_t *st = s->streams;
        stream_unlink(s, st);
        if (st->held)
            st->sess = NULL; /* freed when the forwarder lets go */
        else
            stream_free(st);
    }
    nghttp2_session_del(s->h2);
    sr_msg_free(s->msg);
    free(s);
}

int dohserv_recv(dohserv_t *s, const uint8_t *data, size_t len)
{
    void (*unhold)(void *arg) = s->conf.unhold;
    void *arg = s->conf.arg;
    unsigned unholds;
    int rc = -1;

    if (!s->failed) {
        s->depth++;
        if (nghttp2_session_mem_recv(s->h2, data, len) < 0) {
            /* Still hand over what nghttp2 queued (a GOAWAY saying why). */
            (void)nghttp2_session_send(s->h2);
            s->failed = true;
        }
        s->depth--;
        rc = s->failed ? -1 : dohserv_flush(s);
        if (rc == 0 && dohserv_finished(s))
            rc = -1; /* a GOAWAY (bad HTTP/2): nothing more to read */
    }
    unholds = s->unholds;
    s->unholds = 0;
    /* Last, as in doh_release: these may free s. */
    while (unhold != NULL && unholds-- > 0)
        unhold(arg);
    return rc;
}

int dohserv_flush(dohserv_t *s)
{
    int rc;

    if (s->failed)
        return -1;
    s->depth++;
    rc = nghttp2_session_send(s->h2);
    s->depth--;
    if (rc != 0) {
        s->failed = true;
        return -1;
    }
    return 0;
}

bool dohserv_want_read(const dohserv_t *s)
{
    return s->pending < DOHSERV_MAX_OUTPUT;
}

bool dohserv_finished(const dohserv_t *s)
{
    return s->failed || (!nghttp2_session_want_read(s->h2) && !nghttp2_session_want_write(s->h2));
}

unsigned dohserv_inflight(const dohserv_t *s)
{
    return s->held;
}

/* ---- the https:// listeners' hook (tlslisten.h) ---- */

static ssize_t https_send(void *arg, const uint8_t *data, size_t len)
{
    tcpconn_https_write(arg, data, len);
    return (ssize_t)len;
}

static void https_hold(void *arg)
{
    tcpconn_https_hold(arg);
}

static void https_unhold(void *arg)
{
    tcpconn_https_release(arg);
}

static void *https_open(struct tcpconn *conn, fwd_ctx_t *fwd, const char *path)
{
    dohserv_conf_t conf;
    dohserv_t *s;

    memset(&conf, 0, sizeof(conf));
    conf.path = path != NULL && path[0] != '\0' ? path : NULL;
    conf.query = fwd_query;
    conf.fwd = fwd;
    conf.buf = conn->set->buf; /* the TLS set's: used only within input */
    conf.send = https_send;
    conf.hold = https_hold;
    conf.unhold = https_unhold;
    conf.arg = conn;
    s = dohserv_new(&conf, (const struct sockaddr *)&conn->peer, conn->peerlen);
    if (s != NULL && dohserv_flush(s) != 0) { /* the server's SETTINGS */
        dohserv_free(s);
        s = NULL;
    }
    return s;
}

static int https_input(void *sess, const uint8_t *data, size_t len)
{
    return dohserv_recv(sess, data, len); /* may have freed sess */
}

static bool https_want_read(const void *sess)
{
    return dohserv_want_read(sess);
}

static void https_close(void *sess)
{
    dohserv_free(sess);
}

const tls_https_ops_t dohserv_https_ops = {
    .open = https_open,
    .input = https_input,
    .want_read = https_want_read,
    .close = https_close,
};
