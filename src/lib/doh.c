/* DNS-over-HTTPS (RFC 8484) transport: the sr_doh_ops module.
 *
 * One libcurl multi handle per upstream, driven by the upstream's libevent
 * event_base (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION feed
 * curl_multi_socket_action). Queries are easy handles on it: HTTP/2 with
 * every query a stream of one connection (CURLPIPE_MULTIPLEX, PIPEWAIT so
 * a burst waits for the first connection instead of opening more), and the
 * connection kept for later queries.
 *
 * What libcurl is not allowed to do on its own:
 *  - resolve a name: the server's address comes from the generic code
 *    (sr_upstream_resolve(): bootstrap DNS or an IP literal, done before
 *    ops->send) and is forced with CURLOPT_CONNECT_TO for every host and
 *    port; sockets to anything else are refused;
 *  - judge the certificate: curl's checks are off and the verdict is the
 *    shared sr_tls_authenticate_ex() (chain, name, pins, then the
 *    on_ssl_server_authentication event), taken after the handshake and
 *    before any request is written (CURLOPT_PREREQFUNCTION);
 *  - follow redirects, use a proxy from the environment, or speak anything
 *    but https.
 *
 * Re-entrancy: user code runs from our completion loop and, through on_log
 * and the TLS events, from inside curl callbacks. Nothing here calls a
 * curl_multi_* function from inside a curl callback (adds and removals are
 * deferred to an event); no transfer is freed while we are on the stack;
 * event handlers hold the upstream (sr_upstream_hold), so a free from a
 * user callback waits until they return, and the rare free from a path
 * that holds nothing (on_log inside a removal) leaves a zombie that the
 * last of our frames tears down. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "doh-internal.h"
#include "upstream-internal.h"

typedef struct doh_up doh_up_t;
typedef struct doh_xfer doh_xfer_t;
typedef struct doh_sock doh_sock_t;

/* Where a doh_xfer is. */
enum doh_where {
    DOH_WAITING, /* not yet in the multi: its add is deferred (send ran
                    inside a curl callback) */
    DOH_ACTIVE,  /* in the multi, owned by a query */
    DOH_DEAD,    /* detached inside a curl callback: still in the multi
                    until the deferred event removes it */
};

/* One query's HTTP transfer. */
struct doh_xfer {
    doh_up_t *d;
    sr_xfer_t *x; /* NULL once detached */
    CURL *easy;
    char *url;     /* GET and JSON: this query's URL */
    uint8_t *body; /* the response body */
    size_t blen;
    size_t bcap;
    size_t bmax;             /* cap on the body */
    uint16_t sent_id;        /* the DNS ID on the wire (0, RFC 8484 4.1) */
    bool too_big;            /* the body passed bmax */
    bool nomem;              /* the body could not grow */
    sr_status_t auth_status; /* the certificate was rejected with this */
    bool past_prereq;        /* prereq_cb ran: it had a connection */
    bool doomed;             /* waited for a connection that was rejected:
                                fails with auth_status */
    bool spent;              /* options changed for this transfer only
                                (FORBID_REUSE): not kept as a spare */
    bool notimp;             /* JSON API, class not IN: answered NOTIMP
                                from the loop, never sent */
    enum doh_where where;
    char errbuf[CURL_ERROR_SIZE];
    doh_xfer_t *next, *prev;
};

/* A socket curl asked us to watch. */
struct doh_sock {
    doh_up_t *d;
    curl_socket_t fd;
    struct event *ev;
    doh_sock_t *next, *prev;
};

/* The module's state of one upstream. */
struct doh_up {
    sr_upstream_t *up; /* NULL once fini ran (zombie) */
    struct event_base *base;
    CURLM *multi;
    CURLSH *share;          /* TLS sessions across connections */
    struct event *timer;    /* curl's timeout */
    struct event *deferred; /* work that must not run inside curl */
    char *url;              /* the URL with the effective port */
    long port;
    sr_doh_method_t method;
    struct curl_slist *headers;    /* Accept (+ Content-Type for POST) */
    struct curl_slist *connect_to; /* "::ADDR:PORT", at the first send */
    sr_msg_t *qmsg;                /* JSON: parses the query for DO */
    char *sni;                     /* tls_name when it is a host name */
    doh_sock_t *socks;
    doh_xfer_t *lists[3]; /* by enum doh_where */
    doh_xfer_t *spare;    /* finished transfers kept for reuse (next) */
    unsigned nspare;
    int busy;             /* our frames on the stack */
    int in_curl;          /* inside a curl_multi_* call */
    bool zombie;          /* fini ran while busy */
    char useragent[48];
};

/* Finished transfers kept, easy handle and body buffer included, for the
 * next queries: curl_easy_init, thirty setopts and the buffers per query
 * were a tenth of a DoH query's instructions (callgrind). */
#define DOH_SPARE_MAX 64

/* ---- process-wide set-up ---- */

static pthread_once_t doh_once = PTHREAD_ONCE_INIT;
static CURLcode doh_global_rc = CURLE_FAILED_INIT;
static int doh_ssl_idx = -1; /* SSL ex_data slot: the verdict on a connection */
static int doh_ctx_idx = -1; /* SSL_CTX ex_data slot: the doh_up_t */

/* curl_global_init is not thread-safe in every libcurl build, and the
 * daemon may create upstreams from several threads: run it once. Never
 * cleaned up: its allocations are reachable globals, not leaks. */
static void doh_global_init(void)
{
    doh_global_rc = curl_global_init(CURL_GLOBAL_SSL);
    doh_ssl_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    doh_ctx_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* The verdict stored on a connection's SSL object: absent (not yet
 * judged), accepted, or the class error it was rejected with. */
#define DOH_VERDICT_ACCEPTED ((intptr_t)1)

/* ---- lists ---- */

/* Put dx on list w. */
static void xfer_link(doh_up_t *d, doh_xfer_t *dx, enum doh_where w)
{
    dx->where = w;
    dx->prev = NULL;
    dx->next = d->lists[w];
    if (dx->next != NULL)
        dx->next->prev = dx;
    d->lists[w] = dx;
}

/* Take dx off its list. */
static void xfer_unlink(doh_up_t *d, doh_xfer_t *dx)
{
    SR_LIST_UNLINK(d->lists[dx->where], dx);
}

/* ---- logging ---- */

/* on_ssl_status with the server's address (d->up must be set). */
static void ssl_status(doh_up_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void ssl_status(doh_up_t *d, const char *fmt, ...)
{
    sr_upstream_t *up = d->up;
    char msg[256];
    va_list ap;

    if (up == NULL || up->ev.on_ssl_status == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    up->ev.on_ssl_status(up->ev.arg, up->addr_text, (uint16_t)d->port, msg);
}

/* Log n bytes of a body at level 3: text for JSON, hex for DNS messages
 * (at most 4 KiB of it). */
static void log_body(doh_up_t *d, const char *type, const char *data, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t show = n > 4096 ? 4096 : n;
    char *buf;

    if (d->method == SR_DOH_JSON) {
        sr_upstream_log(d->up, 3, type, "%.*s%s", (int)show, data, show < n ? " ..." : "");
        return;
    }
    buf = sr_malloc(2 * show + 1);
    if (buf == NULL)
        return;
    for (size_t i = 0; i < show; i++) {
        buf[2 * i] = hex[(unsigned char)data[i] >> 4];
        buf[2 * i + 1] = hex[(unsigned char)data[i] & 0xf];
    }
    buf[2 * show] = '\0';
    sr_upstream_log(d->up, 3, type, "%s%s (%zu bytes)", buf, show < n ? " ..." : "", n);
    sr_free(buf);
}

/* CURLOPT_DEBUGFUNCTION (level 3 only): headers and bodies as on_log
 * types, curl's own messages as "Info". */
static int debug_cb(CURL *easy, curl_infotype type, char *data, size_t size, void *arg)
{
    doh_xfer_t *dx = arg;
    doh_up_t *d = dx->d;
    const char *ltype;
    char *text;
    size_t n = 0;

    if (d->up == NULL)
        return 0;
    switch (type) {
    case CURLINFO_TEXT: ltype = "Info"; break;
    case CURLINFO_HEADER_OUT: ltype = "RequestHeaders"; break;
    case CURLINFO_HEADER_IN: ltype = "ResponseHeaders"; break;
    case CURLINFO_DATA_OUT: log_body(d, "RequestBody", data, size); return 0;
    case CURLINFO_DATA_IN: log_body(d, "ResponseBody", data, size); return 0;
    default: return 0; /* TLS records */
    }
    /* One log line per block, lines ending in LF: HTTP's CRs dropped. */
    text = sr_malloc(size + 1);
    if (text == NULL)
        return 0;
    for (size_t i = 0; i < size; i++) {
        if (data[i] != '\r')
            text[n++] = data[i];
    }
    while (n > 0 && text[n - 1] == '\n')
        n--;
    text[n] = '\0';
    if (n > 0)
        sr_upstream_log(d->up, 3, ltype, "%s", text);
    sr_free(text);
    return 0;
}

/* ---- curl -> libevent ---- */

static void drive(doh_up_t *d, curl_socket_t fd, int action);

/* A watched socket is ready. */
static void sock_event_cb(evutil_socket_t fd, short what, void *arg)
{
    doh_sock_t *ds = arg;
    int action = 0;

    if (what & EV_READ)
        action |= CURL_CSELECT_IN;
    if (what & EV_WRITE)
        action |= CURL_CSELECT_OUT;
    /* ds may be freed inside curl: only d from here on. */
    drive(ds->d, fd, action);
}

/* Stop watching a socket and free its record. */
static void sock_free(doh_up_t *d, doh_sock_t *ds)
{
    event_free(ds->ev);
    SR_LIST_UNLINK(d->socks, ds);
    sr_free(ds);
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what curl wants. */
static int socket_cb(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
    doh_up_t *d = arg;
    doh_sock_t *ds = sockp;
    short events = EV_PERSIST;

    if (what == CURL_POLL_REMOVE) {
        if (ds != NULL)
            sock_free(d, ds);
        return 0;
    }
    if (ds == NULL) {
        ds = sr_calloc(1, sizeof(*ds));
        if (ds == NULL)
            return -1;
        ds->d = d;
        ds->fd = s;
        ds->ev = event_new(d->base, s, EV_PERSIST, sock_event_cb, ds);
        if (ds->ev == NULL) {
            sr_free(ds);
            return -1;
        }
        ds->next = d->socks;
        if (ds->next != NULL)
            ds->next->prev = ds;
        d->socks = ds;
        curl_multi_assign(d->multi, s, ds);
    } else {
        event_del(ds->ev);
    }
    if (what & CURL_POLL_IN)
        events |= EV_READ;
    if (what & CURL_POLL_OUT)
        events |= EV_WRITE;
    if (event_assign(ds->ev, d->base, s, events, sock_event_cb, ds) != 0 ||
        event_add(ds->ev, NULL) != 0)
        return -1;
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: when curl wants to be called without activity.
 * Never calls into curl itself: a 0 ms timeout fires from the loop. */
static int timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
    doh_up_t *d = arg;
    struct timeval tv;

    if (timeout_ms < 0) {
        evtimer_del(d->timer);
        return 0;
    }
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    return evtimer_add(d->timer, &tv) == 0 ? 0 : -1;
}

/* curl's timeout expired. */
static void timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
    drive(arg, CURL_SOCKET_TIMEOUT, 0);
}

/* ---- TLS and sockets (curl callbacks) ---- */

/* CURLOPT_OPENSOCKETFUNCTION: the connection socket, with the upstream's
 * socket settings (bind address, DSCP, buffers). Only the resolved server
 * address is allowed: whatever curl would connect to otherwise must not
 * be reached. */
static curl_socket_t opensocket_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
    doh_up_t *d = arg;
    sr_upstream_t *up = d->up;
    const struct sockaddr *want;
    sr_status_t status;
    int fd;

    if (up == NULL || purpose != CURLSOCKTYPE_IPCXN)
        return CURL_SOCKET_BAD;
    want = (const struct sockaddr *)&up->addr;
    if (addr->family != want->sa_family ||
        (addr->family == AF_INET &&
         memcmp(&((const struct sockaddr_in *)&addr->addr)->sin_addr,
                &((const struct sockaddr_in *)want)->sin_addr, sizeof(struct in_addr)) != 0) ||
        (addr->family == AF_INET6 &&
         memcmp(&((const struct sockaddr_in6 *)&addr->addr)->sin6_addr,
                &((const struct sockaddr_in6 *)want)->sin6_addr, sizeof(struct in6_addr)) != 0)) {
        sr_upstream_log(up, 1, "Info",
                        "refusing a connection to an address that is not "
                        "the server's");
        return CURL_SOCKET_BAD;
    }
    fd = sr_socket_open(up, SOCK_STREAM, &status);
    if (fd < 0) {
        sr_upstream_log(up, 1, "Info", "socket: %s", sr_strerror(status));
        return CURL_SOCKET_BAD;
    }
    up->stats.connections++;
    ssl_status(d, "connecting to %s port %ld", up->addr_text, d->port);
    return fd;
}

/* SSL info callback: at the start of a handshake, SNI (RFC 6066 3) is
 * tls_name when that is a host name, as DoT sends it; curl would send the
 * URL's host, or nothing at all for an address literal. */
static void info_cb(const SSL *ssl, int where, int ret)
{
    doh_up_t *d;

    if ((where & SSL_CB_HANDSHAKE_START) == 0)
        return;
    d = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), doh_ctx_idx);
    if (d == NULL || d->sni == NULL)
        return;
    /* The callback gets a const SSL; setting the name before the
     * ClientHello is written is what SSL_set_tlsext_host_name is for. */
    SSL_set_tlsext_host_name((SSL *)ssl, d->sni);
}

/* CURLOPT_SSL_CTX_FUNCTION: the trust anchors the verdict needs. curl's
 * own verification is off (we judge after the handshake), but OpenSSL
 * still verifies the chain with SSL_VERIFY_NONE and keeps the result for
 * SSL_get_verify_result(), so the store must hold our anchors. */
static CURLcode ssl_ctx_cb(CURL *easy, void *sslctx, void *arg)
{
    doh_up_t *d = arg;
    SSL_CTX *ctx = sslctx;
    sr_upstream_t *up = d->up;

    if (up == NULL)
        return CURLE_ABORTED_BY_CALLBACK;
    if (up->ssl_ctx != NULL) {
        /* The store sr_tls_ctx_new() loaded once: DoT and DoH trust the
         * same anchors and ca_file is not re-read per connection. */
        SSL_CTX_set1_cert_store(ctx, SSL_CTX_get_cert_store(up->ssl_ctx));
    } else if (up->cfg.ca_file != NULL && up->cfg.ca_file[0] != '\0') {
        if (SSL_CTX_load_verify_locations(ctx, up->cfg.ca_file, NULL) != 1)
            return CURLE_SSL_CACERT_BADFILE;
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        return CURLE_SSL_CACERT_BADFILE;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    if (d->sni != NULL) {
        SSL_CTX_set_ex_data(ctx, doh_ctx_idx, d);
        SSL_CTX_set_info_callback(ctx, info_cb);
    }
    /* No SSL_CTX_set_read_ahead(): it would save a recv per TLS record,
     * but bytes it buffers inside OpenSSL raise no socket event, and
     * curl's socket interface then leaves streams waiting until their
     * timeout (tried: 10% of queries timed out). */
    /* RFC 8484 5.2 / RFC 8310 8: no TLS below 1.2. */
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    return CURLE_OK;
}

static void defer(doh_up_t *d);

/* A new connection was rejected: every query still waiting for a
 * connection (it went into the multi with this one, or before it) shares
 * its fate, as DoT fails the queries queued on a rejected connection,
 * instead of each opening a connection of its own and asking again. The
 * deferred event completes them (we are inside curl here). */
static void doom_waiting(doh_up_t *d, doh_xfer_t *self, sr_status_t why)
{
    for (int w = DOH_WAITING; w <= DOH_ACTIVE; w++) {
        for (doh_xfer_t *dx = d->lists[w]; dx != NULL; dx = dx->next) {
            if (dx != self && dx->x != NULL && !dx->past_prereq) {
                dx->doomed = true;
                dx->auth_status = why;
            }
        }
    }
    defer(d);
}

/* CURLOPT_PREREQFUNCTION: called once the connection (TLS included) is
 * up and before the request goes out, for new and reused connections
 * alike. A new connection is counted and judged once; its verdict stays
 * on the SSL object, so streams multiplexed onto it later follow it. */
static int prereq_cb(void *arg, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
    doh_xfer_t *dx = arg;
    doh_up_t *d = dx->d;
    struct curl_tlssessioninfo *ti = NULL;
    intptr_t verdict;
    sr_status_t why;
    SSL *ssl;
    bool ok;

    dx->past_prereq = true;
    if (d->up == NULL || dx->x == NULL)
        return CURL_PREREQFUNC_ABORT;
    if (dx->doomed)
        goto reject;
    if (curl_easy_getinfo(dx->easy, CURLINFO_TLS_SSL_PTR, &ti) != CURLE_OK || ti == NULL ||
        ti->backend != CURLSSLBACKEND_OPENSSL || ti->internals == NULL) {
        dx->auth_status = SR_E_SSL_LIBRARY;
        return CURL_PREREQFUNC_ABORT;
    }
    ssl = ti->internals;
    verdict = (intptr_t)SSL_get_ex_data(ssl, doh_ssl_idx);
    if (verdict == 0) {
        const unsigned char *alpn = NULL;
        unsigned alpn_len = 0;
        bool resumed = SSL_session_reused(ssl) == 1;

        if (resumed)
            d->up->stats.tls_resumed++;
        else
            d->up->stats.tls_handshakes++;
        SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
        ssl_status(d, "handshake complete: %s, %s, ALPN %.*s%s", SSL_get_version(ssl),
                   SSL_get_cipher_name(ssl), (int)alpn_len, alpn != NULL ? (const char *)alpn : "",
                   resumed ? ", resumed" : "");
        /* User code runs in here (on_ssl_server_authentication); the
         * upstream is held, but the query may be cancelled. */
        why = SR_E_SSL_CERT_VERIFY;
        ok = sr_tls_authenticate_ex(d->up, ssl, &why);
        verdict = ok ? DOH_VERDICT_ACCEPTED : (intptr_t)why;
        SSL_set_ex_data(ssl, doh_ssl_idx, (void *)verdict);
        if (!ok) {
            /* Nothing more goes out on a rejected connection. */
            int fd = SSL_get_fd(ssl);
            if (fd >= 0)
                shutdown(fd, SHUT_RDWR);
            doom_waiting(d, dx, (sr_status_t)verdict);
        }
        if (d->up == NULL || d->up->dying || dx->x == NULL)
            return CURL_PREREQFUNC_ABORT;
    }
    if (verdict != DOH_VERDICT_ACCEPTED) {
        dx->auth_status = (sr_status_t)verdict;
    reject:
        /* curl would keep the connection for the next query, which would
         * then fail on the stored verdict without a new handshake or a new
         * on_ssl_server_authentication: close it when the last stream on
         * it ends, as DoT closes a rejected connection. */
        curl_easy_setopt(dx->easy, CURLOPT_FORBID_REUSE, 1L);
        dx->spent = true;
        return CURL_PREREQFUNC_ABORT;
    }
    sr_xfer_touch(dx->x);
    return CURL_PREREQFUNC_OK;
}

/* CURLOPT_WRITEFUNCTION: collect the body, up to its cap. */
static size_t write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
    doh_xfer_t *dx = arg;
    size_t n = size * nmemb;

    /* A detached query's stream is reset (a write error aborts only this
     * stream; the connection stays for the others). */
    if (dx->x == NULL || dx->d->up == NULL)
        return 0;
    if (n > dx->bmax - dx->blen) {
        dx->too_big = true;
        return 0;
    }
    if (n > dx->bcap - dx->blen) {
        size_t ncap = dx->bcap != 0 ? dx->bcap : 1024;
        uint8_t *nb;
        while (ncap - dx->blen < n)
            ncap *= 2;
        if (ncap > dx->bmax)
            ncap = dx->bmax;
        nb = sr_realloc(dx->body, ncap);
        if (nb == NULL) {
            dx->nomem = true;
            return 0;
        }
        dx->body = nb;
        dx->bcap = ncap;
    }
    memcpy(dx->body + dx->blen, data, n);
    dx->blen += n;
    sr_xfer_touch(dx->x);
    return n;
}

/* ---- transfers ---- */

/* Free a transfer that is in no multi and on no list. */
static void xfer_free(doh_xfer_t *dx)
{
    if (dx == NULL)
        return;
    curl_easy_cleanup(dx->easy); /* accepts NULL */
    sr_free(dx->url);
    sr_free(dx->body);
    sr_free(dx);
}

/* Keep a transfer that is in no multi and on no list as a spare, or free
 * it. */
static void xfer_recycle(doh_up_t *d, doh_xfer_t *dx)
{
    if (dx == NULL)
        return;
    if (d->up == NULL || dx->easy == NULL || dx->spent || d->nspare >= DOH_SPARE_MAX) {
        xfer_free(dx);
        return;
    }
    dx->x = NULL;
    sr_free(dx->url);
    dx->url = NULL;
    dx->next = d->spare;
    d->spare = dx;
    d->nspare++;
}

/* Take dx out of the multi (outside curl callbacks only), off its list,
 * and keep it as a spare or free it. */
static void xfer_remove(doh_up_t *d, doh_xfer_t *dx)
{
    xfer_unlink(d, dx);
    if (dx->where != DOH_WAITING) {
        d->in_curl++;
        curl_multi_remove_handle(d->multi, dx->easy);
        d->in_curl--;
    }
    xfer_recycle(d, dx);
}

/* Ask for the deferred event to run soon. */
static void defer(doh_up_t *d)
{
    event_active(d->deferred, EV_TIMEOUT, 0);
}

/* Put a waiting transfer into the multi. */
static sr_status_t xfer_start(doh_up_t *d, doh_xfer_t *dx)
{
    CURLMcode mc;

    /* A URL whose host is an address literal needs no lookup, and the
     * socket callback refuses any other address anyway: curl then skips
     * parsing the CONNECT_TO list for every transfer. */
    if (!d->up->host_is_ip)
        curl_easy_setopt(dx->easy, CURLOPT_CONNECT_TO, d->connect_to);
    xfer_unlink(d, dx);
    d->in_curl++;
    mc = curl_multi_add_handle(d->multi, dx->easy);
    d->in_curl--;
    if (mc != CURLM_OK) {
        xfer_link(d, dx, DOH_WAITING);
        return mc == CURLM_OUT_OF_MEMORY ? SR_E_NOMEM : SR_E_INVAL;
    }
    xfer_link(d, dx, DOH_ACTIVE);
    return SR_OK;
}

/* The class error of a failed transfer, with a detail. One table for the
 * plain cases; the socket and TLS ones look further. */
static sr_status_t map_curl(doh_xfer_t *dx, CURLcode rc, const char **why)
{
    static const struct {
        CURLcode rc;
        sr_status_t status;
    } table[] = {
        {CURLE_UNSUPPORTED_PROTOCOL, SR_E_PROTONOSUPPORT},
        {CURLE_URL_MALFORMAT, SR_E_BAD_ADDRESS},
        {CURLE_COULDNT_RESOLVE_HOST, SR_E_HOST_NOT_FOUND},
        {CURLE_COULDNT_RESOLVE_PROXY, SR_E_HOST_NOT_FOUND},
        {CURLE_COULDNT_CONNECT, SR_E_CONNREFUSED},
        {CURLE_WEIRD_SERVER_REPLY, SR_E_FORMERR},
        {CURLE_HTTP2, SR_E_CONNRESET},
        {CURLE_HTTP2_STREAM, SR_E_CONNRESET},
        {CURLE_PARTIAL_FILE, SR_E_CONNRESET},
        {CURLE_HTTP_RETURNED_ERROR, SR_E_NO_RECOVERY},
        {CURLE_OUT_OF_MEMORY, SR_E_NOMEM},
        {CURLE_OPERATION_TIMEDOUT, SR_E_TIMEDOUT},
        {CURLE_RANGE_ERROR, SR_E_FORMERR},
        {CURLE_SSL_CONNECT_ERROR, SR_E_SSL_HANDSHAKE},
        {CURLE_TOO_MANY_REDIRECTS, SR_E_NO_RECOVERY},
        {CURLE_GOT_NOTHING, SR_E_CONNRESET},
        {CURLE_SSL_ENGINE_NOTFOUND, SR_E_SSL_LIBRARY},
        {CURLE_SSL_ENGINE_SETFAILED, SR_E_SSL_LIBRARY},
        {CURLE_SEND_ERROR, SR_E_CONNRESET},
        {CURLE_RECV_ERROR, SR_E_CONNRESET},
        {CURLE_SSL_CERTPROBLEM, SR_E_SSL_CREDENTIALS},
        {CURLE_SSL_CIPHER, SR_E_SSL_HANDSHAKE},
        {CURLE_PEER_FAILED_VERIFICATION, SR_E_SSL_CERT_VERIFY},
        {CURLE_BAD_CONTENT_ENCODING, SR_E_FORMERR},
        {CURLE_FILESIZE_EXCEEDED, SR_E_MSGSIZE},
        {CURLE_SSL_SHUTDOWN_FAILED, SR_E_SSL_HANDSHAKE},
        {CURLE_AGAIN, SR_E_WOULDBLOCK},
        {CURLE_SSL_CRL_BADFILE, SR_E_SSL_CERT_STORE},
        {CURLE_SSL_ISSUER_ERROR, SR_E_SSL_CHAIN_VERIFY},
        {CURLE_SSL_CACERT_BADFILE, SR_E_SSL_CERT_STORE},
        {CURLE_SSL_PINNEDPUBKEYNOTMATCH, SR_E_SSL_CERT_VERIFY},
        {CURLE_SSL_INVALIDCERTSTATUS, SR_E_SSL_CERT_VERIFY},
        {CURLE_SSL_CLIENTCERT, SR_E_SSL_CLIENT_CERT},
        {CURLE_UNRECOVERABLE_POLL, SR_E_NO_RECOVERY},
    };
    sr_status_t status = SR_E_NO_RECOVERY;
    long oserr = 0;

    *why = dx->errbuf[0] != '\0' ? dx->errbuf : curl_easy_strerror(rc);
    switch (rc) {
    case CURLE_ABORTED_BY_CALLBACK:
        if (dx->auth_status == SR_E_SSL_LIBRARY) {
            *why = "no OpenSSL connection to authenticate";
            return dx->auth_status;
        }
        if (dx->auth_status != SR_OK) {
            /* the verdict's reason, kept by the upstream */
            *why = dx->d != NULL && dx->d->up != NULL && dx->d->up->tls_reject[0] != '\0'
                       ? dx->d->up->tls_reject
                       : "the server's certificate was not accepted";
            return dx->auth_status;
        }
        return SR_E_CONNABORTED;
    case CURLE_WRITE_ERROR:
        if (dx->too_big) {
            *why = "response body too large";
            return SR_E_MSGSIZE;
        }
        return dx->nomem ? SR_E_NOMEM : SR_E_CONNABORTED;
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
        /* The socket's errno says more (refused, unreachable, reset). */
        curl_easy_getinfo(dx->easy, CURLINFO_OS_ERRNO, &oserr);
        if (oserr != 0)
            return sr_status_from_errno((int)oserr);
        break;
    default: break;
    }
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (table[i].rc == rc) {
            status = table[i].status;
            break;
        }
    }
    return status;
}

/* The HTTP version curl used, for logs. */
static const char *http_version_name(long v)
{
    switch (v) {
    case CURL_HTTP_VERSION_1_0: return "HTTP/1.0";
    case CURL_HTTP_VERSION_1_1: return "HTTP/1.1";
    case CURL_HTTP_VERSION_2_0: return "HTTP/2";
    case CURL_HTTP_VERSION_3: return "HTTP/3";
    default: return "HTTP";
    }
}

/* Whether the DO bit is set in the query q (its OPT record, RFC 3225). */
static bool query_do_bit(doh_up_t *d, const uint8_t *q, size_t qlen)
{
    const sr_edns_t *edns;

    if (sr_msg_parse(d->qmsg, q, qlen, SR_PARSE_NO_FIELDS) != SR_OK)
        return false;
    edns = sr_msg_edns(d->qmsg);
    return edns->present && edns->do_bit;
}

/* A transfer finished (completion loop, outside curl): check HTTP status,
 * media type and body, turn the body into a DNS message and offer it. */
/* The response body as a wire message for dx's query into *msg (the
 * caller frees it): converted from the JSON API, or taken as it is after
 * its Content-Type and size were checked. SR_OK, or an error with detail. */
static sr_status_t take_body(doh_up_t *d, doh_xfer_t *dx, const char *ctype, uint8_t **msg,
                             size_t *mlen, char *detail, size_t cap)
{
    sr_xfer_t *x = dx->x;
    sr_status_t status = SR_OK;

    if (d->method == SR_DOH_JSON) {
        sr_doh_question_t q = {x->wire_id, x->qname, x->qname_len, x->qtype, x->qclass};

        if (!sr_doh_media_type_is(ctype, "application/dns-json") &&
            !sr_doh_media_type_is(ctype, "application/json")) {
            snprintf(detail, cap, "Content-Type %.60s is not JSON",
                     ctype != NULL ? ctype : "(none)");
            status = SR_E_FORMERR;
        } else {
            status = sr_doh_json_to_wire((const char *)dx->body, dx->blen, &q, msg, mlen, detail,
                                         cap);
        }
    } else if (!sr_doh_media_type_is(ctype, "application/dns-message")) {
        snprintf(detail, cap, "Content-Type %.60s is not application/dns-message",
                 ctype != NULL ? ctype : "(none)");
        status = SR_E_FORMERR;
    } else if (dx->blen < SR_HEADER_LEN) {
        snprintf(detail, cap, "body of %zu bytes is no DNS message", dx->blen);
        status = SR_E_MSG_TOO_SHORT;
    } else {
        /* Take the body: the generic code may detach (and free dx)
         * before it is done with the bytes. We sent ID 0 (RFC 8484 4.1);
         * the generic matching wants the wire ID it assigned. */
        *msg = dx->body;
        *mlen = dx->blen;
        dx->body = NULL;
        dx->blen = dx->bcap = 0;
        if (sr_get16(*msg) == dx->sent_id)
            sr_put16(*msg, x->wire_id);
    }
    return status;
}

static void xfer_done(doh_up_t *d, doh_xfer_t *dx, CURLcode rc)
{
    sr_xfer_t *x = dx->x;
    sr_status_t status = SR_OK;
    char detail[SR_DOH_DETAIL_MAX];
    const char *why = NULL;
    const char *ctype = NULL;
    uint8_t *msg = NULL;
    size_t mlen = 0;
    long code = 0, ver = 0;

    detail[0] = '\0';
    if (x == NULL)
        return; /* detached; the deferred event removes it */
    curl_easy_getinfo(dx->easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(dx->easy, CURLINFO_HTTP_VERSION, &ver);
    curl_easy_getinfo(dx->easy, CURLINFO_CONTENT_TYPE, &ctype);
    x->http_status = (int)code;
    if (dx->doomed) {
        status = dx->auth_status;
        snprintf(detail, sizeof(detail),
                 "the server's certificate was not "
                 "accepted");
        goto done;
    }
    if (rc != CURLE_OK) {
        status = map_curl(dx, rc, &why);
        snprintf(detail, sizeof(detail), "%.150s", why);
        goto done;
    }
    sr_upstream_log(d->up, 1, "Info", "%s %ld, %s, %zu bytes", http_version_name(ver), code,
                    ctype != NULL ? ctype : "no Content-Type", dx->blen);
    if (code < 200 || code > 299) {
        /* No redirects are followed (RFC 8484 names one URI template; a
         * 3xx to elsewhere is not an answer). */
        const char *loc = NULL;
        curl_easy_getinfo(dx->easy, CURLINFO_REDIRECT_URL, &loc);
        if (code >= 300 && code < 400 && loc != NULL)
            snprintf(detail, sizeof(detail), "HTTP %ld (redirect to %.80s not followed)", code,
                     loc);
        else
            snprintf(detail, sizeof(detail), "HTTP %ld", code);
        status = SR_E_NO_RECOVERY;
        goto done;
    }
    status = take_body(d, dx, ctype, &msg, &mlen, detail, sizeof(detail));
    if (status != SR_OK)
        goto done;
    /* Over HTTP nothing else will arrive for this query: a reply that does
     * not match it ends it. */
    if (!sr_xfer_offer(x, msg, mlen)) {
        snprintf(detail, sizeof(detail), "response does not match the query (ID or question)");
        status = SR_E_FORMERR;
        goto done;
    }

done:
    /* dx outlives user code while we are busy (see doh_detach), so
     * dx->x tells whether x is still ours to complete. */
    if (dx->x != NULL && !d->zombie) {
        if (d->up != NULL)
            sr_upstream_log(d->up, 1, "Info", "query failed: [%d] %s", (int)status, detail);
        sr_xfer_complete(x, status, NULL, 0, detail);
    }
    sr_free(msg);
}

/* Hand every finished transfer to xfer_done. */
static void check_done(doh_up_t *d)
{
    CURLMsg *m;
    int left;

    /* Bounded: each message is read once, and completions only remove. */
    while (!d->zombie && (m = curl_multi_info_read(d->multi, &left)) != NULL) {
        doh_xfer_t *dx = NULL;
        CURLcode rc;

        if (m->msg != CURLMSG_DONE)
            continue;
        rc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&dx);
        if (dx != NULL)
            xfer_done(d, dx, rc);
    }
}

/* Free everything of d (no query refers to it any more). */
static void destroy(doh_up_t *d)
{
    for (int w = 0; w < 3; w++) {
        while (d->lists[w] != NULL)
            xfer_remove(d, d->lists[w]);
    }
    while (d->spare != NULL) {
        doh_xfer_t *dx = d->spare;
        d->spare = dx->next;
        xfer_free(dx);
    }
    /* May report sockets as removed through socket_cb. */
    if (d->multi != NULL)
        curl_multi_cleanup(d->multi);
    while (d->socks != NULL)
        sock_free(d, d->socks);
    if (d->share != NULL)
        curl_share_cleanup(d->share);
    sr_event_free(d->timer);
    sr_event_free(d->deferred);
    curl_slist_free_all(d->headers);
    curl_slist_free_all(d->connect_to);
    sr_msg_free(d->qmsg);
    sr_free(d->sni);
    sr_free(d->url);
    sr_free(d);
}

/* Enter one of our frames; returns the upstream held (NULL for a zombie
 * or a dying upstream: do nothing then). */
static sr_upstream_t *enter(doh_up_t *d)
{
    d->busy++;
    if (d->up == NULL || d->up->dying)
        return NULL;
    sr_upstream_hold(d->up);
    return d->up;
}

/* Leave a frame entered with enter(); d may be freed on return. */
static void leave(doh_up_t *d, sr_upstream_t *up)
{
    d->busy--;
    if (up != NULL) {
        /* May run upstream_destroy(), hence doh_fini() and destroy(d). */
        sr_upstream_release(up);
    } else if (d->zombie && d->busy == 0) {
        destroy(d);
    }
}

/* Let curl act on fd (or its timeout), then complete what finished. */
/* TCP_CORK on (1) or off (0) on every connection of d. */
static void cork(doh_up_t *d, int on)
{
    for (doh_sock_t *ds = d->socks; ds != NULL; ds = ds->next)
        (void)setsockopt(ds->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
}

static void drive(doh_up_t *d, curl_socket_t fd, int action)
{
    sr_upstream_t *up = enter(d);
    int running = 0;

    /* libcurl 7.88 writes every HTTP/2 frame of every stream with a send()
     * of its own (a request is two TLS records and two sends): corked,
     * the frames written during one call leave in full segments when it
     * returns, so the server reads a burst of requests at once instead of
     * a packet each, and loopback carries a fraction of the packets. */
    cork(d, 1);
    d->in_curl++;
    curl_multi_socket_action(d->multi, fd, action, &running);
    d->in_curl--;
    cork(d, 0);
    if (up != NULL)
        check_done(d);
    leave(d, up);
}

/* "::ADDR:PORT" for CURLOPT_CONNECT_TO: every host and port of every
 * request goes to the address the generic code resolved, so curl never
 * looks a name up (and a literal needs no lookup). */
static sr_status_t make_connect_to(doh_up_t *d)
{
    char addr[INET6_ADDRSTRLEN];
    char spec[INET6_ADDRSTRLEN + 32];
    struct curl_slist *l;
    bool v6 = d->up->addr.ss_family == AF_INET6;

    if (!d->up->resolved || (d->up->addr.ss_family != AF_INET && !v6))
        return SR_E_NO_SERVER;
    sr_addr_text((const struct sockaddr *)&d->up->addr, addr, sizeof(addr), NULL);
    /* A zone index (fe80::1%eth0) has no place in curl's syntax. */
    addr[strcspn(addr, "%")] = '\0';
    snprintf(spec, sizeof(spec), v6 ? "::[%s]:%ld" : "::%s:%ld", addr, d->port);
    l = curl_slist_append(NULL, spec);
    if (l == NULL)
        return SR_E_NOMEM;
    curl_slist_free_all(d->connect_to);
    d->connect_to = l;
    return SR_OK;
}

/* Answer x NOTIMP without asking: the JSON API has no class parameter
 * and serves IN data only, so its answer to a CH or HS question would be
 * IN data labelled with the other class. Completes (and so frees) x. */
static void xfer_notimp(sr_xfer_t *x)
{
    sr_doh_question_t q;
    uint8_t *msg = NULL;
    size_t mlen = 0;
    sr_status_t status;

    q.id = x->wire_id;
    q.qname = x->qname;
    q.qname_len = x->qname_len;
    q.qtype = x->qtype;
    q.qclass = x->qclass;
    status = sr_doh_json_notimp(&q, &msg, &mlen);
    if (status != SR_OK)
        sr_xfer_complete(x, status, NULL, 0, "cannot make the NOTIMP answer");
    else if (!sr_xfer_offer(x, msg, mlen))
        sr_xfer_complete(x, SR_E_FORMERR, NULL, 0, "NOTIMP answer does not match the query");
    sr_free(msg);
}

/* Deferred work, from the loop: removals of transfers detached while we
 * were busy, and adds of transfers sent from inside a curl callback. */
static void deferred_cb(evutil_socket_t fd, short what, void *arg)
{
    doh_up_t *d = arg;
    sr_upstream_t *up = enter(d);

    /* Only when this is our only frame: see doh_detach. */
    while (d->lists[DOH_DEAD] != NULL && d->busy == 1 && d->in_curl == 0)
        xfer_remove(d, d->lists[DOH_DEAD]);
    /* Each round completes one doomed query, which clears its mark. */
    while (up != NULL && !up->dying) {
        doh_xfer_t *dx = NULL;
        for (int w = DOH_WAITING; w <= DOH_ACTIVE && dx == NULL; w++) {
            for (dx = d->lists[w]; dx != NULL; dx = dx->next)
                if (dx->doomed && dx->x != NULL)
                    break;
        }
        if (dx == NULL)
            break;
        dx->doomed = false;
        sr_xfer_complete(dx->x, dx->auth_status, NULL, 0,
                         "the server's certificate was not accepted");
    }
    /* Each round starts one transfer or completes (and so frees) it. */
    while (up != NULL && !up->dying && d->lists[DOH_WAITING] != NULL) {
        doh_xfer_t *dx = d->lists[DOH_WAITING];
        if (dx->notimp) {
            xfer_notimp(dx->x);
            continue;
        }
        sr_status_t status = xfer_start(d, dx);
        if (status != SR_OK)
            sr_xfer_complete(dx->x, status, NULL, 0, "cannot start the HTTP transfer");
    }
    leave(d, up);
}

/* ---- the ops ---- */

/* The URL as requested, with the port the generic code settled on made
 * explicit when the URL has none (cfg.port or 443). https only. */
static sr_status_t parse_url(doh_up_t *d, const sr_upstream_t *up)
{
    sr_status_t status = SR_OK;
    CURLU *u = NULL;
    char *scheme = NULL, *port = NULL, *full = NULL;

    d->port = up->port != 0 ? up->port : 443;
    if (up->url == NULL) {
        status = SR_E_NO_SERVER;
        goto done;
    }
    u = curl_url();
    if (u == NULL) {
        status = SR_E_NOMEM;
        goto done;
    }
    if (curl_url_set(u, CURLUPART_URL, up->url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
        status = SR_E_BAD_ADDRESS;
        goto done;
    }
    /* RFC 8484 5: DoH is HTTPS; plain HTTP would show every query. */
    if (strcmp(scheme, "https") != 0) {
        status = SR_E_PROTONOSUPPORT;
        goto done;
    }
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK && d->port != 443) {
        char pbuf[8];
        snprintf(pbuf, sizeof(pbuf), "%ld", d->port);
        if (curl_url_set(u, CURLUPART_PORT, pbuf, 0) != CURLUE_OK) {
            status = SR_E_BAD_ADDRESS;
            goto done;
        }
    }
    if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK) {
        status = SR_E_BAD_ADDRESS;
        goto done;
    }
    d->url = sr_strdup(full);
    if (d->url == NULL)
        status = SR_E_NOMEM;

done:
    curl_free(scheme);
    curl_free(port);
    curl_free(full);
    curl_url_cleanup(u);
    return status;
}

/* ops->init: the multi handle and what every query shares. */
static sr_status_t doh_init(sr_upstream_t *up)
{
    sr_status_t status = SR_OK;
    doh_up_t *d = NULL;
    long maxconn;
    const char *accept;

    pthread_once(&doh_once, doh_global_init);
    if (doh_global_rc != CURLE_OK || doh_ssl_idx < 0 || doh_ctx_idx < 0) {
        status = SR_E_SSL_LIBRARY;
        goto done;
    }
    /* The trust store of every connection, loaded once (DoT does the
     * same): an unreadable ca_file fails sr_upstream_new() with 271. */
    if (up->ssl_ctx == NULL) {
        status = sr_tls_ctx_new(&up->cfg, &up->ssl_ctx);
        if (status != SR_OK)
            goto done;
    }
    d = sr_calloc(1, sizeof(*d));
    if (d == NULL) {
        status = SR_E_NOMEM;
        goto done;
    }
    d->up = up;
    d->base = up->base;
    d->method = up->cfg.doh_method;
    if (d->method != SR_DOH_POST && d->method != SR_DOH_GET && d->method != SR_DOH_JSON) {
        status = SR_E_INVAL;
        goto done;
    }
    status = parse_url(d, up);
    if (status != SR_OK)
        goto done;
    if (up->cfg.tls_name != NULL && up->cfg.tls_name[0] != '\0') {
        unsigned char a[sizeof(struct in6_addr)];
        if (inet_pton(AF_INET, up->cfg.tls_name, a) != 1 &&
            inet_pton(AF_INET6, up->cfg.tls_name, a) != 1) {
            d->sni = sr_strdup(up->cfg.tls_name);
            if (d->sni == NULL) {
                status = SR_E_NOMEM;
                goto done;
            }
        }
    }
    snprintf(d->useragent, sizeof(d->useragent), "stubresd/%s", PACKAGE_VERSION);
    d->timer = evtimer_new(d->base, timer_event_cb, d);
    d->deferred = event_new(d->base, -1, 0, deferred_cb, d);
    d->multi = curl_multi_init();
    d->share = curl_share_init();
    d->qmsg = sr_msg_new();
    if (d->timer == NULL || d->deferred == NULL || d->multi == NULL || d->share == NULL ||
        d->qmsg == NULL) {
        status = SR_E_NOMEM;
        goto done;
    }
    /* One connection carries every query as HTTP/2 streams (RFC 8484 5.2
     * recommends HTTP/2): max_pipeline of them at once, the rest queued
     * inside curl until a stream ends. max_connections (TCP/DoT) does not
     * apply: a second connection would only split the multiplexing. The
     * event loop is single-threaded: the share needs no lock callbacks. */
    maxconn = 1;
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(d->multi, CURLMOPT_MAX_HOST_CONNECTIONS, maxconn);
    curl_multi_setopt(d->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, maxconn);
    curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, maxconn);
    curl_multi_setopt(d->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, (long)up->cfg.max_pipeline);
    curl_share_setopt(d->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);

    accept = d->method == SR_DOH_JSON ? "Accept: application/dns-json"
                                      : "Accept: application/dns-message";
    d->headers = curl_slist_append(NULL, accept);
    if (d->headers != NULL && d->method == SR_DOH_POST) {
        struct curl_slist *l =
            curl_slist_append(d->headers, "Content-Type: application/dns-message");
        /* No "Expect: 100-continue" round trip before a small body. */
        if (l != NULL)
            l = curl_slist_append(l, "Expect:");
        if (l == NULL) {
            status = SR_E_NOMEM;
            goto done;
        }
    }
    if (d->headers == NULL) {
        status = SR_E_NOMEM;
        goto done;
    }
    up->tp = d;
    d = NULL;

done:
    if (d != NULL)
        destroy(d);
    return status;
}

/* ops->fini: close everything now, or once our last frame is left. */
static void doh_fini(sr_upstream_t *up)
{
    doh_up_t *d = up->tp;

    if (d == NULL)
        return;
    up->tp = NULL;
    d->up = NULL;
    if (d->busy > 0 || d->in_curl > 0)
        d->zombie = true;
    else
        destroy(d);
}

/* A new transfer with every option that is the same for all the queries
 * of d (they stay on its easy handle when it is kept as a spare). */
static doh_xfer_t *xfer_new(doh_up_t *d)
{
    const sr_upstream_cfg_t *cfg = &d->up->cfg;
    doh_xfer_t *dx = sr_calloc(1, sizeof(*dx));
    CURL *e;
    long idle_s;

    if (dx == NULL)
        return NULL;
    dx->d = d;
    e = dx->easy = curl_easy_init();
    if (e == NULL) {
        sr_free(dx);
        return NULL;
    }
    switch (d->method) {
    case SR_DOH_POST:
        curl_easy_setopt(e, CURLOPT_URL, d->url);
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        dx->bmax = SR_DOH_WIRE_MAX;
        break;
    case SR_DOH_GET: dx->bmax = SR_DOH_WIRE_MAX; break;
    case SR_DOH_JSON: dx->bmax = SR_DOH_JSON_MAX; break;
    }
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)dx);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, dx->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    /* "" disables proxies even when http(s)_proxy is in the environment. */
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, d->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, d->useragent);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)dx->bmax);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, dx);
    curl_easy_setopt(e, CURLOPT_SHARE, d->share);
    idle_s = cfg->idle_timeout_ms > 0 ? (cfg->idle_timeout_ms + 999) / 1000 : 10;
    curl_easy_setopt(e, CURLOPT_MAXAGE_CONN, idle_s);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, opensocket_cb);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, d);
    /* The verdict on the certificate is ours (prereq_cb), not curl's. */
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
    curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, d);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, prereq_cb);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, dx);
    if (cfg->log_level >= 3) {
        curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
        curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, debug_cb);
        curl_easy_setopt(e, CURLOPT_DEBUGDATA, dx);
    }
    return dx;
}

/* A spare transfer, made ready for a new query, or a new one. */
static doh_xfer_t *xfer_get(doh_up_t *d)
{
    doh_xfer_t *dx = d->spare;

    if (dx == NULL)
        return xfer_new(d);
    d->spare = dx->next;
    d->nspare--;
    dx->next = dx->prev = NULL;
    dx->blen = 0;
    dx->too_big = false;
    dx->nomem = false;
    dx->auth_status = SR_OK;
    dx->past_prereq = false;
    dx->doomed = false;
    dx->notimp = false;
    dx->errbuf[0] = '\0';
    return dx;
}

/* The per-query part of a transfer's options. */
static sr_status_t xfer_setup(doh_up_t *d, doh_xfer_t *dx, sr_xfer_t *x)
{
    sr_status_t status = SR_OK;
    CURL *e = dx->easy;
    uint8_t qbuf[512]; /* room for any query the daemon makes, padded */
    uint8_t *q = qbuf;

    /* RFC 8484 4.1: ID 0 in every request, for HTTP caches; we put the
     * wire ID back into the response. */
    dx->sent_id = (x->flags & SR_XFER_KEEP_ID) ? x->wire_id : 0;
    if (d->method != SR_DOH_JSON) {
        if (x->qlen > sizeof(qbuf) && (q = sr_malloc(x->qlen)) == NULL)
            return SR_E_NOMEM;
        memcpy(q, x->q, x->qlen);
        if (x->qlen >= 2)
            sr_put16(q, dx->sent_id);
    }
    switch (d->method) {
    case SR_DOH_POST:
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)x->qlen);
        /* Copied: the query may be detached while curl still sends. */
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, (char *)q);
        break;
    case SR_DOH_GET:
        status = sr_doh_url_get(d->url, q, x->qlen, &dx->url);
        if (status != SR_OK)
            goto done;
        curl_easy_setopt(e, CURLOPT_URL, dx->url);
        break;
    case SR_DOH_JSON:
        status = sr_doh_url_json(d->url, x->qname, x->qname_len, x->qtype,
                                 query_do_bit(d, x->q, x->qlen),
                                 x->qlen >= 4 && (sr_get16(x->q + 2) & SR_FLAG_CD) != 0, &dx->url);
        if (status != SR_OK)
            goto done;
        curl_easy_setopt(e, CURLOPT_URL, dx->url);
        break;
    }
    sr_upstream_log(d->up, 1, "Info", "%s %s", d->method == SR_DOH_POST ? "POST" : "GET",
                    dx->url != NULL ? dx->url : d->url);
done:
    if (q != qbuf)
        sr_free(q);
    return status;
}

/* ops->send: a transfer for x (up->addr is valid: upstream.c resolves
 * first), into the multi now, or from the loop when curl is on the stack. */
static sr_status_t doh_send(sr_upstream_t *up, sr_xfer_t *x)
{
    sr_status_t status = SR_OK;
    doh_up_t *d = up->tp;
    doh_xfer_t *dx = NULL;

    d->busy++;
    if (d->connect_to == NULL) {
        status = make_connect_to(d);
        if (status != SR_OK)
            goto done;
    }
    dx = xfer_get(d);
    if (dx == NULL) {
        status = SR_E_NOMEM;
        goto done;
    }
    dx->x = x;
    if (d->method == SR_DOH_JSON && x->qclass != SR_CLASS_IN) {
        /* No request: deferred_cb answers NOTIMP (see xfer_notimp). */
        dx->notimp = true;
        xfer_link(d, dx, DOH_WAITING);
        defer(d);
        x->tp = dx;
        dx = NULL;
        goto done;
    }
    status = xfer_setup(d, dx, x);
    if (status != SR_OK)
        goto done;
    xfer_link(d, dx, DOH_WAITING);
    /* curl refuses a multi call from inside its own callbacks. */
    if (d->in_curl > 0) {
        defer(d);
    } else if ((status = xfer_start(d, dx)) != SR_OK) {
        xfer_unlink(d, dx);
        goto done;
    }
    x->tp = dx;
    dx = NULL;

done:
    xfer_recycle(d, dx);
    d->busy--;
    if (d->zombie && d->busy == 0)
        destroy(d);
    return status;
}

/* ops->detach: forget x. The transfer is freed at once when we are idle;
 * while we are on the stack it waits for the deferred event, so that code
 * of ours holding it across user callbacks finds dx->x == NULL instead of
 * freed memory, and curl never sees a removal from inside a callback. */
static void doh_detach(sr_upstream_t *up, sr_xfer_t *x)
{
    doh_xfer_t *dx = x->tp;
    doh_up_t *d;

    if (dx == NULL)
        return;
    d = dx->d;
    x->tp = NULL;
    dx->x = NULL;
    if (dx->where == DOH_WAITING) {
        /* Not in the multi, and nothing of ours holds it across a call. */
        xfer_unlink(d, dx);
        xfer_recycle(d, dx);
    } else if (d->busy > 0 || d->in_curl > 0) {
        xfer_unlink(d, dx);
        xfer_link(d, dx, DOH_DEAD);
        defer(d);
    } else {
        d->busy++;
        xfer_remove(d, dx);
        d->busy--;
        if (d->zombie && d->busy == 0)
            destroy(d);
    }
}

const sr_transport_ops_t sr_doh_ops =
    SR_TRANSPORT_OPS("https", doh_init, doh_fini, doh_send, doh_detach);
