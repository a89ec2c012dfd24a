/* libstubres internals: the transport layer behind upstream.h.
 *
 * upstream.c owns the generic part of every query (ID assignment, padding,
 * timeouts, matching a reply to its query, completion, counters); each
 * protocol module (udp.c, stream.c for TCP and TLS, doh.c) implements the
 * ops below and calls back into upstream.c when bytes arrive. */
#ifndef STUBRES_UPSTREAM_INTERNAL_H
#define STUBRES_UPSTREAM_INTERNAL_H

#include <sys/socket.h>
#include <sys/types.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include <stubres/upstream.h>
#include <stubres/wire.h>

#include "lib-internal.h"

/* One query in flight. */
struct sr_xfer {
    sr_upstream_t *up;
    uint8_t *q;                 /* the query as sent: wire ID, padded */
    size_t qlen;
    uint16_t caller_id;         /* restored into the response */
    uint16_t wire_id;
    uint8_t qname[SR_NAME_MAX_WIRE]; /* question, for matching replies */
    size_t qname_len;
    uint16_t qtype;
    uint16_t qclass;
    unsigned flags;             /* SR_XFER_* */
    int timeout_ms;
    sr_xfer_cb cb;
    void *arg;
    struct event *timer;        /* the query's timeout */
    uint64_t sent_us;           /* monotonic, when first sent */
    unsigned ignored;           /* mismatched replies seen */
    sr_proto_t proto;           /* what carries it now (TCP after fallback) */
    int http_status;
    void *tp;                   /* the protocol module's per-query state */
    sr_xfer_t *next, *prev;     /* the upstream's in-flight list */
};

/* What a protocol module implements. */
typedef struct sr_transport_ops {
    const char *name;
    /* Set up the module's state (up->tp) after the generic part of up. */
    sr_status_t (*init)(sr_upstream_t *up);
    /* Free the module's state: close connections; do not complete xfers. */
    void (*fini)(sr_upstream_t *up);
    /* Start sending x (x->q is final). Errors may be returned here or
     * delivered later through sr_xfer_complete(). */
    sr_status_t (*send)(sr_upstream_t *up, sr_xfer_t *x);
    /* Forget x (timeout, cancel or completion): drop it from queues and
     * free x->tp; connections stay for other queries. */
    void (*detach)(sr_upstream_t *up, sr_xfer_t *x);
} sr_transport_ops_t;

/* One upstream. */
struct sr_upstream {
    struct event_base *base;
    sr_upstream_cfg_t cfg;      /* with strings owned by the upstream */
    sr_upstream_events_t ev;
    const sr_transport_ops_t *ops;
    void *tp;                   /* the protocol module's state */
    char *name;                 /* "udp://127.0.0.1:53" */
    char *host;                 /* host part of server (no brackets) */
    char *url;                  /* DoH: the URL */
    struct sockaddr_storage addr; /* resolved server address */
    socklen_t addrlen;
    bool resolved;              /* addr is valid */
    char addr_text[64];         /* numeric form of addr */
    SSL_CTX *ssl_ctx;           /* TLS: shared by all connections */
    SSL_SESSION *ssl_session;   /* TLS: for resumption */
    sr_xfer_t *inflight;        /* list head */
    size_t ninflight;
    sr_upstream_stats_t stats;
    sr_upstream_t *fallback;    /* UDP: the TCP upstream for TC retries */
};

extern const sr_transport_ops_t sr_udp_ops;
extern const sr_transport_ops_t sr_tcp_ops;
extern const sr_transport_ops_t sr_tls_ops;
extern const sr_transport_ops_t sr_doh_ops;

/* A reply arrived for the query that carries wire ID id (UDP: on x's own
 * socket; TCP/TLS: the module looks x up by ID among its pipeline).
 * Checks ID and question (RFC 5452); a mismatch is counted and logged and
 * returns false (the caller keeps waiting); a match completes x (x is
 * freed: do not touch it afterwards) and returns true. */
bool sr_xfer_offer(sr_xfer_t *x, const uint8_t *resp, size_t len);

/* Finish x with an error (or, with SR_OK, with resp), run its callback and
 * free it. */
void sr_xfer_complete(sr_xfer_t *x, sr_status_t status, const uint8_t *resp,
                      size_t len, const char *detail);

/* Restart x's timeout (inactivity timeouts: called on progress). */
void sr_xfer_touch(sr_xfer_t *x);

/* Log through the upstream's on_log if level <= cfg.log_level. */
void sr_upstream_log(const sr_upstream_t *up, int level, const char *type,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* TLS: a client SSL_CTX for cfg (TLS 1.2+, trust from ca_file or the
 * system store); SR_E_SSL_CERT_STORE when ca_file cannot be loaded. */
sr_status_t sr_tls_ctx_new(const sr_upstream_cfg_t *cfg, SSL_CTX **out);
/* TLS: after a handshake, the verdict on the peer's certificate (chain,
 * name, pins) passed through on_ssl_server_authentication. Returns true
 * when the connection may be used. */
bool sr_tls_authenticate(sr_upstream_t *up, SSL *ssl);

/* Monotonic microseconds. */
uint64_t sr_now_us(void);
/* Unpredictable 16-bit value (OpenSSL RAND_bytes). */
uint16_t sr_random16(void);

/* Open a socket for up (type SOCK_DGRAM or SOCK_STREAM), non-blocking,
 * close-on-exec, with the socket settings of cfg applied and bound to
 * local_host/local_port when set. Returns the fd or -1 with *status. */
int sr_socket_open(const sr_upstream_t *up, int type, sr_status_t *status);

/* Resolve up->host into up->addr (a literal at once; a name through the
 * bootstrap server); calls done(up, status, arg) from the event loop. */
typedef void (*sr_resolve_cb)(sr_upstream_t *up, sr_status_t status, void *arg);
sr_status_t sr_upstream_resolve(sr_upstream_t *up, sr_resolve_cb done, void *arg);

/* RFC 8467 padding: make q (length *len, capacity cap) a multiple of block,
 * adding an OPT record when it has none or a padding option to it. */
sr_status_t sr_query_pad(uint8_t *q, size_t *len, size_t cap, uint16_t block);

#endif
