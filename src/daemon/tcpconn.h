/* stubresd: client TCP connections (RFC 7766).
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

struct worker;
struct bufferevent;
struct event;

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

typedef struct tcpconn {
    struct worker *w;
    struct bufferevent *bev; /* NULL once closed */
    struct sockaddr_storage peer;
    socklen_t peerlen;
    unsigned inflight; /* queries waiting for an upstream */
    bool eof;          /* the client closed its side */
    bool in_cb;        /* inside one of our callbacks */
    bool paused;       /* reading stopped for back-pressure */
    uint64_t last_active_us;
    uint64_t partial_since_us;   /* when the incomplete message began; 0: none */
    uint64_t out_total;          /* bytes ever queued for the client */
    uint64_t mark_total;         /* out_total at the mark: must drain by */
    uint64_t mark_us;            /* ... tcp_idle_timeout after this; 0: none */
    struct event *drain_ev;      /* fires then (drain_cb) */
    size_t loan;                 /* need above TCPCONN_MAX_OUTPUT, recorded */
    struct tcpconn *next, *prev; /* the worker's list */
} tcpconn_t;

/* A connection was accepted on thread w. Its queries go to the
 * forwarder with a sink of this file's, which answers them on the
 * connection and counts those in flight upstream. */
void tcpconn_accept(struct worker *w, int fd, const struct sockaddr *sa, int salen);
/* Stop reading every connection of w (drain); connections close when
 * their answers are out. */
void tcpconn_drain_all(struct worker *w);
/* Close and free every connection of w (at exit). */
void tcpconn_free_all(struct worker *w);
/* True when no connection of w has unsent output or queries in flight. */
bool tcpconn_all_idle(struct worker *w);

#endif
