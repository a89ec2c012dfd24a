/* stubresd: the Prometheus text endpoint.
 *
 * GET /metrics on the `metrics` address (off unless configured) answers
 * with the counters in the Prometheus text exposition format (version
 * 0.0.4), on the main thread. The listening socket is opened before
 * privileges are dropped.
 *
 * A scrape is one small GET, so the server is a small one of our own
 * rather than evhttp, which (libevent 2.1) has no connection limit: 1,100
 * idle connections used up the descriptors the resolver needs for its
 * upstream sockets. Here a client outside `allow` is closed at accept,
 * at most METRICS_MAX_CONNS connections are open (a newcomer displaces
 * the oldest), each is answered and closed or else closed at its
 * deadline, and an accept error pauses accepting for a second. */
#ifndef STUBRESD_METRICS_H
#define STUBRESD_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cache.h"
#include "pool.h"
#include "stats.h"

struct event_base;
struct evbuffer;

typedef struct metrics metrics_t;

/* Open scrape connections at most. */
#define METRICS_MAX_CONNS 16
/* Seconds a connection may take from accept to the end of the reply. */
#define METRICS_DEADLINE_S 5
/* Bytes of request head read at most (request line and header fields). */
#define METRICS_REQ_MAX 8192

/* What a scrape reports, gathered by the caller. */
typedef struct metrics_snapshot {
    stats_totals_t totals;
    cache_stats_t cache;
    uint64_t cache_max_bytes;
    pool_t *pool; /* borrowed; may be NULL */
    uint64_t uptime_s;
    unsigned threads;
    bool portal_open;      /* a captive-portal pass is open */
    uint64_t portal_names; /* names asked through the current or last pass */
} metrics_snapshot_t;

/* Fill a snapshot (a callback into the daemon). */
typedef void (*metrics_collect_fn)(void *arg, metrics_snapshot_t *snap);
/* Drop the snapshot's references. */
typedef void (*metrics_release_fn)(void *arg, metrics_snapshot_t *snap);
/* May a client at sa scrape (the `allow` networks)? */
typedef bool (*metrics_allow_fn)(void *arg, const struct sockaddr *sa);

/* Bind the endpoint's socket ("ADDR[:PORT]", port 9153 by default).
 * NULL with err. */
metrics_t *metrics_open(const char *addr, char *err, size_t errcap);
/* Serve on base. 0 or -1. */
int metrics_start(metrics_t *m, struct event_base *base, metrics_collect_fn collect,
                  metrics_release_fn release, metrics_allow_fn allowed, void *arg);
void metrics_free(metrics_t *m);

/* The exposition text of snap, appended to out. */
void metrics_format(struct evbuffer *out, const metrics_snapshot_t *snap);

/* What a request head asks for. */
typedef struct metrics_route {
    int code;  /* 200 (the metrics), 400, 404 or 405 */
    bool head; /* HEAD: the reply without its body */
} metrics_route_t;
/* Route the request line ("GET /metrics HTTP/1.1", without its line
 * end). The header fields after it mean nothing here and are not read. */
void metrics_route(const char *line, metrics_route_t *r);

#endif
