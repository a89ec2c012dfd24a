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
    uint8_t *q; /* the query as sent: wire ID, padded */
    size_t qlen;
    uint16_t caller_id; /* restored into the response */
    uint16_t wire_id;
    uint8_t qname[SR_NAME_MAX_WIRE]; /* question, for matching replies */
    size_t qname_len;
    uint16_t qtype;
    uint16_t qclass;
    unsigned flags; /* SR_XFER_* */
    int timeout_ms;
    sr_xfer_cb cb;
    void *arg;
    struct event *timer; /* the query's timeout */
    uint64_t sent_us;    /* monotonic, when first sent */
    unsigned ignored;    /* mismatched replies seen */
    sr_proto_t proto;    /* what carries it now (TCP after fallback) */
    int http_status;
    void *tp;               /* the protocol module's per-query state */
    sr_xfer_t *next, *prev; /* the upstream's in-flight list */
    /* generic bookkeeping, owned by upstream.c */
    bool done;                /* completed or cancelled: no callback any more */
    bool sent;                /* handed to ops->send: ops->detach is due */
    bool waiting_resolve;     /* held back until the server name resolves */
    sr_status_t early_status; /* a failure to deliver from the loop */
    const char *early_detail; /* static text for early_status */
    uint64_t touched_us;      /* last progress (inactivity timeouts) */
    sr_xfer_t *child;         /* TC fallback: the TCP query carrying x */
    /* DNS Cookies and 0x20, plain UDP only (guard.c) */
    size_t qcap;               /* capacity of q */
    size_t opt_rdlen_off;      /* q's OPT RDLENGTH field (cookie_off != 0) */
    size_t cookie_off;         /* q's COOKIE option; 0: none sent */
    bool cased;                /* q's question is in random case */
    bool badcookie_retried;    /* asked again after BADCOOKIE */
    bool case_fallback;        /* asked again without 0x20 */
    bool cookie_ok;            /* the answer had our client cookie */
    unsigned cookie_missing;   /* replies ignored for lacking a cookie */
    unsigned cookie_mismatches;
    unsigned case_mismatches;
};

/* What a protocol module implements. */
typedef struct sr_transport_ops {
    const char *name;
    /* Set up the module's state (up->tp) after the generic part of up. */
    sr_status_t (*init)(sr_upstream_t *up);
    /* Free the module's state: close connections; do not complete xfers. */
    void (*fini)(sr_upstream_t *up);
    /* Start sending x (x->q is final, up->addr valid). Errors may be
     * returned here (upstream.c then fails x from the loop) or delivered
     * later through sr_xfer_complete() from an event handler; never call
     * sr_xfer_complete() from inside send. */
    sr_status_t (*send)(sr_upstream_t *up, sr_xfer_t *x);
    /* Forget x (timeout, cancel or completion): drop it from queues and
     * free x->tp; connections stay for other queries. Called once for
     * every x handed to send, even when send failed (x->tp may be NULL).
     * Never runs callbacks. */
    void (*detach)(sr_upstream_t *up, sr_xfer_t *x);
    /* Send x->q again now (it changed: new ID, cookie or case), as the
     * same query; NULL where queries are never rewritten (all but UDP). */
    void (*resend)(sr_upstream_t *up, sr_xfer_t *x);
} sr_transport_ops_t;

/* A transport's table, one row: its fields in the order above. */
#define SR_TRANSPORT_OPS(name_, init_, fini_, send_, detach_)                                      \
    {                                                                                              \
        .name = (name_), .init = (init_), .fini = (fini_), .send = (send_), .detach = (detach_)    \
    }

/* Completion of sr_upstream_resolve(). */
typedef void (*sr_resolve_cb)(sr_upstream_t *up, sr_status_t status, void *arg);

/* One upstream. */
struct sr_upstream {
    struct event_base *base;
    sr_upstream_cfg_t cfg; /* with strings owned by the upstream */
    sr_upstream_events_t ev;
    const sr_transport_ops_t *ops;
    void *tp;                     /* the protocol module's state */
    char *name;                   /* "udp://127.0.0.1:53" */
    char *host;                   /* host part of server (no brackets) */
    char *url;                    /* DoH: the URL */
    struct sockaddr_storage addr; /* resolved server address */
    socklen_t addrlen;
    bool resolved;            /* addr is valid */
    char addr_text[64];       /* numeric form of addr */
    SSL_CTX *ssl_ctx;         /* TLS: shared by all connections */
    SSL_SESSION *ssl_session; /* TLS: for resumption */
    sr_xfer_t *inflight;      /* list head */
    size_t ninflight;
    sr_upstream_stats_t stats;
    sr_upstream_t *fallback; /* UDP: the TCP upstream for TC retries */
    /* generic bookkeeping, owned by upstream.c */
    uint16_t port;            /* server port (also inside addr) */
    bool host_is_ip;          /* host is an address literal (no SNI) */
    int hold;                 /* handlers running on up (sr_upstream_hold) */
    bool dying;               /* sr_upstream_free() called during a hold */
    bool resolving;           /* a bootstrap lookup is in flight */
    sr_upstream_t *bootstrap; /* the UDP upstream resolving host */
    sr_xfer_t *bootstrap_xfer;
    uint16_t bootstrap_qtype;   /* A or AAAA being asked */
    sr_status_t resolve_status; /* outcome handed to resolve_done */
    struct event *resolve_ev;   /* delivers resolve_done from the loop */
    sr_resolve_cb resolve_done;
    void *resolve_arg;
    uint8_t (*pins)[32]; /* decoded cfg.spki_pins (SHA-256) */
    size_t npins;
    char tls_reject[256]; /* why the last certificate was rejected: the
                             failure detail of the queries it fails */
    /* DNS Cookies and 0x20 (guard.c) */
    uint8_t client_cookie[8];  /* keyed hash of a secret and the server */
    uint8_t server_cookie[32]; /* the last one the server gave */
    size_t server_cookie_len;  /* 0: none yet */
    bool cookie_seen;          /* the server does cookies: a reply without
                                  one is not believed */
    unsigned case_strikes;     /* queries in a row whose reply changed the
                                  question's case */
    bool case_off;             /* the server does not preserve case */
};

/* Queries in a row whose reply changed the question's case before 0x20
 * is given up for a server (unbound asks again without it, too). Three,
 * not one: a single such reply may be a forgery with the right ID and
 * port, and must not switch the defence off for good. */
#define SR_GUARD_CASE_STRIKES 3

struct sr_msg_shape; /* codec-internal.h */

/* Why guard.c does not believe a reply (compared by address). */
extern const char sr_why_cookie[];
extern const char sr_why_no_cookie[];
extern const char sr_why_badcookie[];
extern const char sr_why_case[];

/* Compute up's client cookie (RFC 7873 4.1: a keyed hash of a secret of
 * this process and the server's address and port). */
void sr_guard_init(sr_upstream_t *up);
/* x->q (capacity x->qcap) as it goes to a plain UDP server: the COOKIE
 * option added to its OPT record (if it has one, as its last record, and
 * no cookie of the caller's), the question in random case. shape is
 * sr_msg_check()'s of q. */
void sr_guard_prepare(sr_upstream_t *up, sr_xfer_t *x, const struct sr_msg_shape *shape);
/* Judge a reply whose ID and question matched x case-insensitively
 * (qname: its question name, plain; NULL for a FORMERR or NOTIMP
 * without a question): NULL when believed (the server
 * cookie is then learned), else one of the sr_why_* texts. shape: the
 * reply's sr_msg_check() (NULL for a TC=1 reply, whose records were not
 * walked: only TCP follows it, which is not blind-spoofable). */
const char *sr_guard_check(sr_xfer_t *x, const uint8_t *resp, const uint8_t *qname,
                           const struct sr_msg_shape *shape);
/* Rewrite x->q after a reply of sr_why_badcookie (the new server cookie)
 * or sr_why_case (the caller's case back): with a new wire ID. */
void sr_guard_rewrite(sr_xfer_t *x);
/* The caller's case back into an answer's question (x->cased). */
void sr_guard_restore_case(const sr_xfer_t *x, uint8_t *resp, size_t len);

extern const sr_transport_ops_t sr_udp_ops;
extern const sr_transport_ops_t sr_tcp_ops;
extern const sr_transport_ops_t sr_tls_ops;
extern const sr_transport_ops_t sr_doh_ops;

/* A reply arrived for x (UDP: on x's own socket, from the server's
 * address; TCP/TLS: the module looked x up by ID among its pipeline).
 * Checks ID, QR, opcode, question (RFC 5452 9.1) and the message's
 * structure; a mismatch or a malformed reply is counted and logged and
 * returns false (the caller keeps waiting); a match completes x, or for a
 * TC=1 UDP answer with tcp_fallback hands it to TCP, and returns true:
 * do not touch x afterwards either way. */
bool sr_xfer_offer(sr_xfer_t *x, const uint8_t *resp, size_t len);
/* The same for a reply the caller has already passed through
 * sr_msg_check() (with question_only for TC=1). */
bool sr_xfer_offer_checked(sr_xfer_t *x, const uint8_t *resp, size_t len);

/* Finish x with an error (or, with SR_OK, with resp, whose ID is replaced
 * by the caller's: written into resp itself, which the caller must not
 * need afterwards), detach it, run its callback and free it. From an event
 * handler only; up is held around the callback. */
void sr_xfer_complete(sr_xfer_t *x, sr_status_t status, const uint8_t *resp, size_t len,
                      const char *detail);

/* Restart x's timeout (inactivity timeouts: called on progress). Cheap:
 * it records the time, and the timer looks at it when it fires. */
void sr_xfer_touch(sr_xfer_t *x);

/* Count and log (level 2) a reply that cannot be believed for x (x NULL:
 * a reply that matches no query, e.g. an unknown ID on a TCP connection).
 * The wait goes on. */
void sr_xfer_ignore(sr_upstream_t *up, sr_xfer_t *x, const char *why);

/* Finish x with status from the event loop (never from the current call
 * stack): for failures found inside sr_upstream_query() or ops->send. */
void sr_xfer_fail_soon(sr_xfer_t *x, sr_status_t status, const char *detail);

/* Re-entrancy guard. Every event handler of a module that may complete
 * queries brackets its work with hold/release: a user callback may then
 * call sr_upstream_free() safely (the free is deferred until the outermost
 * release). After a completion check up->dying and stop touching module
 * state when it is set. release returns true when it freed up. */
void sr_upstream_hold(sr_upstream_t *up);
bool sr_upstream_release(sr_upstream_t *up);

/* Split "host", "host:port", "[v6]", "[v6]:port" or a bare IPv6 literal
 * into host (brackets removed) and port (left alone when absent). */
sr_status_t sr_hostport_split(const char *spec, char *host, size_t cap, uint16_t *port);
/* Numeric form of an address ("192.0.2.1", "::1") and its port. */
void sr_addr_text(const struct sockaddr *sa, char *out, size_t cap, uint16_t *port);

/* Log through the upstream's on_log if level <= cfg.log_level. */
void sr_upstream_log(const sr_upstream_t *up, int level, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* TLS: a client SSL_CTX for cfg (TLS 1.2+, trust from ca_file or the
 * system store); SR_E_SSL_CERT_STORE when ca_file cannot be loaded. */
sr_status_t sr_tls_ctx_new(const sr_upstream_cfg_t *cfg, SSL_CTX **out);
/* TLS: after a handshake, the verdict on the peer's certificate (chain,
 * name, pins) passed through on_ssl_server_authentication. Returns true
 * when the connection may be used. */
bool sr_tls_authenticate(sr_upstream_t *up, SSL *ssl);
/* The same, also giving the class code of a rejection: 275 (chain),
 * 280 (name, pin, or the handler said no), 282 (no certificate). */
bool sr_tls_authenticate_ex(sr_upstream_t *up, SSL *ssl, sr_status_t *why);
/* TLS: a client SSL for a new connection of up: SNI (host names only),
 * the name or address the certificate must match, the session to resume. */
SSL *sr_tls_ssl_new(sr_upstream_t *up, sr_status_t *status);
/* TLS: decode cfg.spki_pins into up->pins (SR_E_INVAL on a bad pin). */
sr_status_t sr_tls_pins_parse(sr_upstream_t *up, const char *pins);

/* Open a socket for up (type SOCK_DGRAM or SOCK_STREAM), non-blocking,
 * close-on-exec, with the socket settings of cfg applied and bound to
 * local_host/local_port when set. Returns the fd or -1 with *status. */
int sr_socket_open(const sr_upstream_t *up, int type, sr_status_t *status);

#endif
