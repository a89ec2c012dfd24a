/* stubresd: the query path.
 *
 * For every query: read header and question with the bounds-checked
 * cursor (never trusting a count or length the packet gives), check the
 * source against `allow`, answer from the cache when it can, otherwise
 * join an identical query already in flight or start one: upstreams are
 * tried in the pool's order until one answers (a timeout, SERVFAIL,
 * REFUSED, transport error or unbelievable response moves on to the
 * next), the answer is cached and rendered for every client waiting for
 * it, and SERVFAIL goes to them when every attempt failed. */
#ifndef STUBRESD_FORWARDER_H
#define STUBRESD_FORWARDER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <stubres/upstream.h>

#include "acl.h"
#include "blocklist.h"
#include "cache.h"
#include "cfg.h"
#include "pool.h"
#include "stats.h"

struct fwd_table;
struct fwd_client;

/* What a stream sink counts its queries as (stats, metrics). */
typedef enum fwd_transport {
    FWD_XPORT_PLAIN = 0, /* udp or tcp, by the sink's datagram flag */
    FWD_XPORT_TLS,       /* DNS over TLS (RFC 7858) */
    FWD_XPORT_HTTPS,     /* DNS over HTTPS (RFC 8484) */
} fwd_transport_t;

/* How replies get back to clients of one transport: the forwarder never
 * knows whether a client came over UDP or TCP (or, later, DoT or DoH);
 * listener.c and tcpconn.c fill these in. Every reply goes through
 * send() or release(); batching is the sink's own business (the UDP sink
 * gathers the replies of one recvmmsg batch, and those that come from
 * upstream during one loop pass, into one sendmmsg each). */
typedef struct fwd_sink {
    const char *name; /* "udp", "tcp": the query log */
    /* Datagrams: a reply fits the client's EDNS size (512 bytes without
     * EDNS, RFC 1035 4.2.1) capped by max_udp_size, truncated (TC) when it
     * does not; its queries and truncations count as UDP. A stream
     * carries any reply up to max_size. */
    bool datagram;
    uint16_t max_size; /* the largest reply the transport carries */
    /* The reply to a query answered at once (cache, error). */
    void (*send)(const struct fwd_client *c, const uint8_t *msg, size_t len);
    /* c's query went upstream: a release() follows, exactly once. */
    void (*hold)(const struct fwd_client *c);
    /* The end of a hold: the late reply (len may be 0: nothing to say),
     * or msg NULL when the worker ends with the query still in flight. */
    void (*release)(const struct fwd_client *c, const uint8_t *msg, size_t len);
    void *ctx; /* the sink's own (the UDP batch) */
    /* What its queries count as. */
    fwd_transport_t transport;
} fwd_sink_t;

/* Where a reply goes. The forwarder reads sink and peer (allow list,
 * query log, spotting a retransmission); the rest is the sink's. */
typedef struct fwd_client {
    const fwd_sink_t *sink;
    void *conn; /* stream sinks: the connection (a retransmission is
                   one with the same connection and ID) */
    int fd;     /* datagram sinks: the socket the query came in on */
    struct sockaddr_storage peer;
    socklen_t peerlen;
    bool has_local; /* UDP on a wildcard socket: reply from */
    int local_ifindex;
    struct sockaddr_storage local; /* ... the address the query came to */
    /* Encrypted sinks: the query had EDNS Padding, so must the reply
     * (RFC 8467 4.1). */
    bool padded;
} fwd_client_t;

/* What the forwarder works with: one per worker (thread), set up by
 * worker.c, which owns the references and swaps cfg and pool between
 * queries; the forwarder knows nothing else of the worker. */
typedef struct fwd_ctx {
    cache_t *cache;          /* shared, thread-safe */
    cfg_t *cfg;              /* current settings (a reference) */
    pool_inst_t *pool;       /* current upstreams (one user held) */
    struct fwdrules_inst *rules; /* forward rules and their upstreams, or NULL */
    struct portal *portal;       /* the captive-portal pass, or NULL (off) */
    pool_inst_t *portal_pool;    /* its nameservers (one user held), or NULL */
    stats_thread_t *stats;   /* the thread's counters */
    struct fwd_table *table; /* queries in flight upstream */
    blocklist_t *block;      /* shared block lists (NULL: none) */
    bl_view_t block_view;    /* the snapshot this worker uses */
    sr_msg_t *msg;           /* scratch for upstream responses */
    uint8_t *out;            /* scratch for one late reply (64 KiB) */
    bool draining;           /* nothing new goes upstream */
    uint32_t rnd;            /* xorshift state (spreading probes) */
    /* Clocks: monotonic seconds for the cache, microseconds for the pool
     * and the query log. */
    uint32_t (*now_s)(void);
    uint64_t (*now_us)(void);
    /* The transport (sr_upstream_query, sr_xfer_cancel in the daemon). */
    sr_xfer_t *(*query)(sr_upstream_t *up, const uint8_t *q, size_t qlen, unsigned flags,
                        int timeout_ms, sr_xfer_cb cb, void *arg, sr_status_t *status);
    void (*cancel)(sr_xfer_t *x);
    /* A query in flight finished: the worker sees whether its drain is
     * over. */
    void (*finished)(void *arg);
    void *arg;
} fwd_ctx_t;

/* What the parser found in a query. Pointers point into the packet. */
typedef struct fwd_qinfo {
    uint16_t id;
    uint16_t flags;
    unsigned opcode;
    bool has_question;    /* the question parsed (for echoing) */
    const uint8_t *qname; /* uncompressed wire form, as sent */
    size_t qname_len;
    uint16_t qtype, qclass;
    size_t question_end;
    bool edns;
    uint16_t edns_size;
    bool do_bit;
    uint8_t edns_version;
} fwd_qinfo_t;

/* The parser's verdict. */
typedef enum fwd_verdict {
    FWD_OK = 0, /* a query to answer */
    FWD_DROP,   /* no header, or a response: say nothing */
    FWD_FORMERR,
    FWD_NOTIMP,  /* opcode other than QUERY */
    FWD_REFUSED, /* zone transfers: not a stub's business */
    FWD_BADVERS, /* EDNS version other than 0 (RFC 6891 6.1.3) */
} fwd_verdict_t;

/* Parse a query packet. Only reads inside pkt[0..len). */
fwd_verdict_t fwd_parse_query(const uint8_t *pkt, size_t len, fwd_qinfo_t *qi);

/* Build an error reply (rcode FORMERR, NOTIMP, REFUSED, SERVFAIL or
 * BADVERS=16) to the query qi parsed from pkt: the client's ID, opcode,
 * RD and CD, QR and RA set, its question when it had a readable one, an
 * OPT record when it had EDNS. Returns the length (0 if cap is short). */
size_t fwd_error_reply(const fwd_qinfo_t *qi, const uint8_t *pkt, unsigned rcode, uint16_t udp_size,
                       uint8_t *out, size_t cap);

/* Handle one query from client. An answer known at once (cache hit,
 * error) is rendered into out (cap bytes) and handed to the client's
 * sink->send(); one that must come from upstream is held (sink->hold)
 * and released later with the answer (sink->release); a dropped query
 * gets neither. */
void fwd_query(fwd_ctx_t *fx, const uint8_t *pkt, size_t len, const fwd_client_t *client,
               uint8_t *out, size_t cap);

/* A random number from fx->rnd (xorshift32): only for spreading probes,
 * never for anything an attacker must not guess (IDs come from the
 * transport's RAND). */
uint32_t fwd_random(fwd_ctx_t *fx);

/* The table of queries in flight of one worker. */
struct fwd_table;
struct fwd_table *fwd_table_new(uint32_t seed);
/* Cancel everything in flight and free: every client held is released
 * without an answer (sink->release with NULL). */
void fwd_table_free(struct fwd_table *t);
/* Number of distinct upstream queries in flight. */
size_t fwd_table_count(const struct fwd_table *t);

#endif
