/* stubresd: the Prometheus text endpoint.
 *
 * GET /metrics on the `metrics` address (off unless configured) answers
 * with the counters in the Prometheus text exposition format (version
 * 0.0.4), served by libevent's evhttp on the main thread. The listening
 * socket is opened before privileges are dropped. */
#ifndef STUBRESD_METRICS_H
#define STUBRESD_METRICS_H

#include <stdint.h>

#include "cache.h"
#include "pool.h"
#include "stats.h"

struct event_base;
struct evbuffer;

typedef struct metrics metrics_t;

/* What a scrape reports, gathered by the caller. */
typedef struct metrics_snapshot {
    stats_totals_t totals;
    cache_stats_t cache;
    uint64_t cache_max_bytes;
    pool_t *pool; /* borrowed; may be NULL */
    uint64_t uptime_s;
    unsigned threads;
} metrics_snapshot_t;

/* Fill a snapshot (a callback into the daemon). */
typedef void (*metrics_collect_fn)(void *arg, metrics_snapshot_t *snap);
/* Drop the snapshot's references. */
typedef void (*metrics_release_fn)(void *arg, metrics_snapshot_t *snap);

/* Bind the endpoint's socket ("ADDR[:PORT]", port 9153 by default).
 * NULL with err. */
metrics_t *metrics_open(const char *addr, char *err, size_t errcap);
/* Serve on base. 0 or -1. */
int metrics_start(metrics_t *m, struct event_base *base, metrics_collect_fn collect,
                  metrics_release_fn release, void *arg);
void metrics_free(metrics_t *m);

/* The exposition text of snap, appended to out. */
void metrics_format(struct evbuffer *out, const metrics_snapshot_t *snap);

#endif
