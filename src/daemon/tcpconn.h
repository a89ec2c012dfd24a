/* stubresd: client TCP connections (RFC 7766), plain or TLS.
 *
 * Messages are framed by a 2-byte length (RFC 1035 4.2.2). A client may
 * send many queries on one connection; each is answered as soon as its
 * answer is known, in any order (RFC 7766 6.2.1.1). Everything a client
 * can grow is bounded: queries in flight per connection (reading pauses
 * at tcp_max_pipeline), unsent output (reading pauses while the output
 * plus a largest message per query in flight reaches TCPCONN_MAX_OUTPUT,
 * unless the thread's TCPCONN_SHARED allowance covers one more),
 * connections per thread (at the cap an idle connection is closed, else
 * the one whose output waits longest for its reader, else the new one),
 * idle time (tcp_idle_timeout), the time a client takes to read what was
 * queued for it (tcp_idle_timeout again, not restarted by partial reads)
 * and messages handled per read event (so one busy connection cannot
 * starve the others). */
#ifndef STUBRESD_TCPCONN_H
#define STUBRESD_TCPCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "forwarder.h"

struct bufferevent;
struct event;
struct tlsconn;
struct event_base;

/* Unsent reply bytes, counting each query in flight as a largest
 * message, at which a connection stops being read. */
#define TCPCONN_MAX_OUTPUT (256 * 1024)
/* The largest message with its length prefix. */
#define TCPCONN_MAX_MSG (65535 + 2)
/* Need beyond TCPCONN_MAX_OUTPUT that a thread's connections may borrow
 * together (a lone client can have 64 large answers in flight). */
#define TCPCONN_SHARED (4 * 1024 * 1024)
/* Messages handled per read event before yielding to other clients. */
#define TCPCONN_BURST 32

/* A set is plain TCP, or TLS (tls:// and https:// listeners: DNS over TLS,
 * RFC 7858, and the connections the DoH module serves). A TLS set has the
 * same framing, pipelining and bounds, with tls_max_clients and
 * tls_idle_timeout; the handshake must end within tls_idle_timeout, and a
 * connection still in its handshake is the first to go at the cap. Its
 * answers to padded queries are padded (RFC 8467). */

struct tcpconn;

/* One thread's client TCP connections and what they share. The worker
 * embeds it: tcpconn_set_init() fills it in, the worker sets max_conns
 * (and changes it with new settings); the rest is tcpconn.c's. */
typedef struct tcp_set {
    struct event_base *base;
    fwd_ctx_t *fwd;     /* the thread's query path: settings, drain, stats */
    unsigned max_conns; /* this thread's share of tcp_max_clients */
    /* A connection was freed: the worker sees whether its drain is over. */
    void (*freed)(void *arg);
    void *arg;
    bool tls;              /* a TLS set (tcpconn_set_init_tls) */
    uint8_t *buf;          /* scratch for one TCP reply (64 KiB) */
    uint8_t *padbuf;       /* TLS: scratch for one padded reply */
    struct tcpconn *conns; /* open connections, oldest first */
    unsigned nconns;
    size_t loans; /* bytes of TCPCONN_SHARED the connections hold */
} tcp_set_t;

typedef struct tcpconn {
    tcp_set_t *set;
    struct bufferevent *bev; /* plain TCP; NULL once closed */
    struct tlsconn *tc;      /* TLS (tlsconn.h); NULL once closed */
    struct sockaddr_storage peer;
    socklen_t peerlen;
    unsigned inflight; /* queries waiting for an upstream */
    bool eof;          /* the client closed its side */
    bool ending;       /* https: the session ended; close once output is out */
    bool in_cb;        /* inside one of our callbacks */
    bool paused;       /* reading stopped for back-pressure */
    bool handshaking;  /* TLS: the handshake is not done yet */
    bool https;        /* TLS: came to an https:// listener */
    const char *path;  /* https: the listener's path (the listener's) */
    void *sess;        /* https: the DoH module's session, or NULL */
    uint64_t last_active_us;
    uint64_t partial_since_us;   /* when the incomplete message began; 0: none */
    uint64_t out_total;          /* bytes ever queued for the client */
    uint64_t mark_total;         /* out_total at the mark: must drain by */
    uint64_t mark_us;            /* ... tcp_idle_timeout after this; 0: none */
    struct event *drain_ev;      /* fires then (drain_cb) */
    size_t loan;                 /* need above TCPCONN_MAX_OUTPUT, recorded */
    struct tcpconn *next, *prev; /* the set's list */
} tcpconn_t;

/* An empty set on base for the query path fwd; freed(arg) is called
 * whenever a connection is freed. Returns 0, or -1 out of memory. */
int tcpconn_set_init(tcp_set_t *set, struct event_base *base, fwd_ctx_t *fwd,
                     void (*freed)(void *arg), void *arg);
/* A TLS set: as tcpconn_set_init(), for tls:// and https:// listeners. */
int tcpconn_set_init_tls(tcp_set_t *set, struct event_base *base, fwd_ctx_t *fwd,
                         void (*freed)(void *arg), void *arg);
/* A connection was accepted on the set's thread. Its queries go to the
 * forwarder with a sink of this file's, which answers them on the
 * connection and counts those in flight upstream. */
void tcpconn_accept(tcp_set_t *set, int fd, const struct sockaddr *sa, int salen);
/* The same on a TLS set: the handshake first (tlslisten.h); https: came
 * to an https:// listener with request path path (kept by the caller for
 * the connection's life). */
void tcpconn_accept_tls(tcp_set_t *set, int fd, const struct sockaddr *sa, int salen, bool https,
                        const char *path);

/* For the DoH module (tlslisten.h, tls_https_ops_t), on an https://
 * connection: queue bytes for the client (nothing once it is closed); a
 * query went upstream (the connection lives on until its release); the
 * query is done. */
void tcpconn_https_write(tcpconn_t *c, const uint8_t *data, size_t len);
void tcpconn_https_hold(tcpconn_t *c);
void tcpconn_https_release(tcpconn_t *c);
/* Stop reading every connection of the set (drain); connections close
 * when their answers are out. */
void tcpconn_drain_all(tcp_set_t *set);
/* Close and free every connection of the set (at exit). */
void tcpconn_free_all(tcp_set_t *set);
/* Free the set's buffer (after tcpconn_free_all). Accepts a set that
 * tcpconn_set_init() never filled in (zeroed). */
void tcpconn_set_fini(tcp_set_t *set);
/* True when no connection of the set has unsent output or queries in
 * flight. */
bool tcpconn_all_idle(const tcp_set_t *set);

#endif
