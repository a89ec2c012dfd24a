/* libstubres: asynchronous transport to one upstream DNS server.
 *
 * An sr_upstream_t is one server reached over UDP, TCP, DNS-over-TLS
 * (RFC 7858) or DNS-over-HTTPS (RFC 8484, plus the JSON API), driven by a
 * libevent event_base the caller owns. Many queries may be in flight at
 * once: TCP and TLS connections are reused and pipelined (answers matched
 * out of order, RFC 7766), DoH streams are multiplexed over HTTP/2.
 *
 * The transport owns the wire ID: unless SR_XFER_KEEP_ID is given it sends
 * an unpredictable ID (OpenSSL RAND), and it believes a response only when
 * its ID, its source address/port (UDP) and its question match the query
 * (RFC 5452); anything else is counted, logged at level 2, and ignored
 * while the wait goes on. The callback then sees the response with the
 * caller's original ID restored.
 *
 * The DNS class object (dns.h) and the daemon both sit on this API. */
#ifndef STUBRES_UPSTREAM_H
#define STUBRES_UPSTREAM_H

#include <stubres/common.h>
#include <stubres/error.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;

/* The reference's protocol property. */
typedef enum sr_proto {
    SR_PROTO_UDP = 0,
    SR_PROTO_TCP = 1,
    SR_PROTO_TLS = 2,
    SR_PROTO_HTTPS = 3,
} sr_proto_t;

/* The reference's DoHMethod setting. */
typedef enum sr_doh_method {
    SR_DOH_POST = 0, /* POST application/dns-message */
    SR_DOH_GET = 1,  /* GET ?dns=BASE64URL (no padding) */
    SR_DOH_JSON = 2, /* GET ?name=&type=, Accept: application/dns-json */
} sr_doh_method_t;

/* Parameters of the on_ssl_server_authentication event. The handler may
 * change accept; every pointer is valid only during the call. */
typedef struct sr_tls_auth {
    const char *remote_address; /* numeric address of the server */
    uint16_t remote_port;
    const uint8_t *cert_der;    /* the leaf certificate, DER */
    size_t cert_der_len;
    const char *cert_encoded;   /* the same, base64 */
    const char *cert_subject;   /* one-line RFC 2253 form */
    const char *cert_issuer;
    const char *status;         /* "OK", or why verification failed */
    bool accept;                /* in: the verdict; out: the decision */
} sr_tls_auth_t;

/* Callbacks of an upstream; any may be NULL. They run on the event loop. */
typedef struct sr_upstream_events {
    /* on_log: level 1 Info, 2 Verbose, 3 Debug; type "Info",
     * "RequestHeaders", "ResponseHeaders", "RequestBody", "ResponseBody". */
    void (*on_log)(void *arg, int level, const char *type, const char *msg);
    void (*on_ssl_server_authentication)(void *arg, sr_tls_auth_t *auth);
    void (*on_ssl_status)(void *arg, const char *remote_address,
                          uint16_t remote_port, const char *msg);
    void *arg;
} sr_upstream_events_t;

/* How to reach one upstream. Strings are copied by sr_upstream_new(). */
typedef struct sr_upstream_cfg {
    sr_proto_t proto;
    /* An IP address literal or a host name; for SR_PROTO_HTTPS the URL
     * ("https://host[:port]/path"). A host name is resolved through
     * bootstrap (never through the system resolver, which may be stubresd
     * itself). */
    const char *server;
    uint16_t port;              /* 0: 53, 853 for TLS, 443 (or the URL's) */
    const char *bootstrap;      /* address[:port] of a DNS server for
                                   resolving host names; NULL: the first
                                   nameserver of resolv_conf */
    const char *resolv_conf;    /* NULL: $STUBRES_RESOLV_CONF or
                                   /etc/resolv.conf */
    /* TLS (DoT and DoH) */
    const char *tls_name;       /* name the certificate must match (DoT
                                   default: the host of server; an IP is
                                   matched against IP SANs) */
    const char *ca_file;        /* trust anchors (PEM); NULL: system store */
    const char *spki_pins;      /* comma-separated base64 SHA-256 SPKI pins
                                   (RFC 7858 4.2); NULL: none */
    bool insecure;              /* accept any certificate */
    sr_doh_method_t doh_method;
    /* sockets (the reference's UDP/socket config settings) */
    const char *local_host;     /* bind address; NULL or "": any */
    uint16_t local_port;        /* bind port; 0: a fresh random port per
                                   UDP query */
    bool use_ipv6;              /* prefer IPv6 when resolving names */
    bool use_connection;        /* connected UDP socket */
    bool share_local_port;      /* SO_REUSEPORT (and SO_REUSEADDR) */
    bool dont_fragment;         /* IP_MTU_DISCOVER = IP_PMTUDISC_DO */
    int dscp;                   /* 0..63, 0: leave alone (IP_TOS/TCLASS) */
    int in_buffer_size;         /* SO_RCVBUF, 0: system default */
    int out_buffer_size;        /* SO_SNDBUF, 0: system default */
    uint16_t max_packet_size;   /* largest UDP datagram accepted; 0: 4096 */
    bool tcp_fallback;          /* UDP answer with TC=1: retry over TCP */
    bool absolute_timeout;      /* timeout counts from the send, not from
                                   the last activity (TCP/TLS/HTTPS) */
    int idle_timeout_ms;        /* close idle TCP/TLS connections; 0: 10 s */
    int max_connections;        /* TCP/TLS connections to keep; 0: 2 */
    int max_pipeline;           /* queries in flight per connection; 0: 128 */
    int log_level;              /* 0..3 as the reference's LogLevel */
    int spread_pipeline;        /* TCP/TLS: open another connection of the
                                   pool (up to max_connections) once every
                                   connection carries this many queries; a
                                   server works through one connection's
                                   queries largely in order, so a deep
                                   pipeline goes faster over two. 0: only
                                   when the queue overflows max_pipeline */
    int udp_tries;              /* UDP: 0 re-sends the datagram after 2, 4,
                                   8, 16, 16... s while the timeout lasts
                                   (RFC 1035 4.2.1); N > 0 sends it N times,
                                   timeout_ms / N apart, as dig's +tries
                                   (a TC=1 retry over TCP then gets one such
                                   try) */
    /* Poisoning defences of plain UDP (other protocols ignore them) */
    bool cookies;               /* DNS Cookies (RFC 7873, RFC 9018): a
                                   client cookie in every query with an
                                   OPT record, the server cookie learned
                                   and sent back; a reply with another
                                   client cookie is ignored, and so is one
                                   without a cookie once the server has
                                   shown that it does cookies */
    bool case_randomization;    /* 0x20 (draft-vixie-dnsext-dns0x20): the
                                   question's letters in random case; a
                                   reply whose question differs in case is
                                   ignored. A server that does not preserve
                                   case is asked again without it, and
                                   after 3 such queries in a row never
                                   again with it. The callback sees the
                                   caller's own case */
} sr_upstream_cfg_t;

typedef struct sr_upstream sr_upstream_t;
typedef struct sr_xfer sr_xfer_t;

/* What happened to one query, given to its callback. */
typedef struct sr_xfer_info {
    sr_proto_t proto;           /* what answered (TCP after a fallback) */
    bool truncated;             /* the answer has TC=1 */
    uint64_t rtt_us;            /* send to answer */
    int http_status;            /* DoH: the HTTP status, else 0 */
    unsigned ignored;           /* mismatched replies ignored meanwhile */
    const char *detail;         /* why it failed, for logs ("" if none) */
    uint16_t wire_id;           /* the ID the query carried on the wire */
    unsigned cookie_mismatches; /* UDP replies ignored meanwhile: wrong
                                   or missing client cookie */
    unsigned case_mismatches;   /* UDP replies ignored meanwhile: the
                                   question's case differed (0x20) */
    bool case_fallback;         /* asked again without 0x20 */
    bool cookie;                /* the answer carried our client cookie
                                   and a server cookie */
} sr_xfer_info_t;

/* Called exactly once per query, from the event loop (never from inside
 * sr_upstream_query), unless the query was cancelled. On success status
 * is SR_OK and resp/len hold the whole response (wire form, caller's ID),
 * valid during the call only; otherwise resp is NULL. */
typedef void (*sr_xfer_cb)(void *arg, sr_status_t status, const uint8_t *resp,
                           size_t len, const sr_xfer_info_t *info);

/* Flags of sr_upstream_query(). */
#define SR_XFER_KEEP_ID 0x1u /* send the caller's ID unchanged */

/* A new upstream on base. NULL on error with *status set (SR_E_BAD_ADDRESS
 * for an unparsable server, SR_E_SSL_CERT_STORE when ca_file cannot be
 * read, SR_E_INVAL for a malformed pin, SR_E_NOMEM, ...). Nothing is
 * connected until the first query. server may carry a port ("[::1]:5353",
 * "127.0.0.1:5353"), which wins over cfg.port, and for TLS the daemon's
 * "tls://HOST[:PORT][#AUTH_NAME]" form. For TCP and TLS, SIGPIPE is set
 * to SIG_IGN if it is SIG_DFL: libevent writes without MSG_NOSIGNAL, and a
 * server resetting a connection must not kill the program. */
SR_API sr_upstream_t *sr_upstream_new(struct event_base *base,
                                      const sr_upstream_cfg_t *cfg,
                                      const sr_upstream_events_t *events,
                                      sr_status_t *status);

/* Free the upstream, closing its connections. Queries still in flight are
 * dropped without their callbacks. Accepts NULL. */
SR_API void sr_upstream_free(sr_upstream_t *up);

/* Send the query q (a whole DNS message, copied) and wait at most
 * timeout_ms (<= 0: the reference's default, 60 s) for its answer; q must
 * hold exactly one question. Over UDP the same datagram is sent again
 * after 2, 4, 8, 16, 16... s while the timeout lasts (RFC 1035 4.2.1), or
 * as cfg.udp_tries says. For TLS and HTTPS the query is padded to a
 * multiple of 128 bytes (RFC 8467), adding an OPT record if it has none.
 * Returns a handle for sr_xfer_cancel(), or NULL with *status set when the
 * query cannot even be started (malformed q, SR_E_NOMEM). */
SR_API sr_xfer_t *sr_upstream_query(sr_upstream_t *up, const uint8_t *q,
                                    size_t qlen, unsigned flags,
                                    int timeout_ms, sr_xfer_cb cb, void *arg,
                                    sr_status_t *status);

/* Cancel a query in flight; its callback will not run. */
SR_API void sr_xfer_cancel(sr_xfer_t *x);

/* Number of queries in flight. */
SR_API size_t sr_upstream_inflight(const sr_upstream_t *up);

/* Counters of an upstream since sr_upstream_new(). */
typedef struct sr_upstream_stats {
    uint64_t queries;           /* sent (a TCP fallback counts again) */
    uint64_t responses;         /* believed answers */
    uint64_t timeouts;
    uint64_t errors;            /* everything else that failed a query */
    uint64_t ignored;           /* mismatched replies (RFC 5452) */
    uint64_t connections;       /* TCP/TLS connections opened */
    uint64_t tls_handshakes;    /* full handshakes */
    uint64_t tls_resumed;       /* handshakes resumed from a session */
    uint64_t tcp_fallbacks;
    uint64_t cookies;           /* answers with a valid server cookie */
    uint64_t cookie_mismatches; /* replies ignored: wrong or missing client
                                   cookie (RFC 7873 5.3) */
    uint64_t case_mismatches;   /* replies ignored: question case differed */
    uint64_t case_fallbacks;    /* queries asked again without 0x20 */
} sr_upstream_stats_t;

SR_API void sr_upstream_stats(const sr_upstream_t *up, sr_upstream_stats_t *out);

/* A one-line description, e.g. "tls://127.0.0.1:853#dns.example.test". */
SR_API const char *sr_upstream_name(const sr_upstream_t *up);

/* The first "nameserver" address of a resolv.conf file (path NULL: as
 * resolv_conf above) into out. SR_E_NO_SERVER when there is none. */
SR_API sr_status_t sr_resolv_conf_server(const char *path, char *out,
                                         size_t cap);

#ifdef __cplusplus
}
#endif
#endif
