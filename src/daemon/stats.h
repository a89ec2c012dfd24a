/* stubresd: statistics.
 *
 * Each worker thread counts into its own stats_thread_t (single writer:
 * a relaxed load and store, no locked instruction on the hot path); a
 * reader sums the threads. Upstream counters live in the pool, cache
 * counters in the cache. stats_json() builds the `stats` reply of the
 * control socket (stubresctl(8)), stats_prometheus() the /metrics text. */
#ifndef STUBRESD_STATS_H
#define STUBRESD_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

#include "cache.h"
#include "pool.h"

/* RCODEs counted one by one (0..23: through BADCOOKIE, RFC 7873); others
 * in the last slot. */
#define STATS_RCODES 24

typedef atomic_uint_fast64_t stat_t;

typedef struct stats_thread {
    stat_t queries_udp; /* queries read (header readable) */
    stat_t queries_tcp;
    stat_t queries_tls; /* DNS over TLS (tls:// listeners) */
    stat_t queries_https;
    stat_t responses[STATS_RCODES + 1]; /* replies sent, by RCODE */
    stat_t cache_hits;
    stat_t cache_misses;
    stat_t cache_stale;      /* stale answers (serve_stale) */
    stat_t prefetches;       /* upstream refreshes started by prefetch */
    stat_t coalesced;        /* queries that joined one in flight */
    stat_t upstream_queries; /* upstream attempts started */
    stat_t local_errors;     /* queries failed for want of descriptors or buffers here */
    stat_t local_answers;    /* answered from local records and hosts files */
    stat_t local_special;    /* answered as special-use names */
    stat_t dropped;          /* queries dropped (garbage, overload) */
    stat_t malformed;        /* FORMERR sent or header unreadable */
    stat_t refused_acl;      /* REFUSED for a source outside allow (and
                                TLS connections closed for it) */
    stat_t truncated;        /* UDP replies sent with TC=1 */
    stat_t tcp_accepted;
    stat_t tcp_refused; /* connections closed at the cap */
    stat_t tcp_clients; /* gauge: open client connections */
    stat_t inflight;    /* gauge: upstream queries in flight */
    stat_t waiting;     /* gauge: client queries waiting */
    stat_t blocked;     /* answered as blocked (block lists, CNAME cloaking) */

    /* Client TLS connections (tls:// and https:// listeners): accepted,
     * closed at tls_max_clients, open (a gauge), handshakes that failed
     * or timed out. */
    stat_t tls_accepted;
    stat_t tls_refused;
    stat_t tls_clients;
    stat_t tls_handshake_failed;
} stats_thread_t;

/* Add one to a counter of the calling thread's own stats. */
#define STAT_INC(s, f) STAT_ADD(s, f, 1)
#define STAT_ADD(s, f, n)                                                                          \
    atomic_store_explicit(&(s)->f, atomic_load_explicit(&(s)->f, memory_order_relaxed) + (n),      \
                          memory_order_relaxed)
#define STAT_SET(s, f, v) atomic_store_explicit(&(s)->f, (v), memory_order_relaxed)
#define STAT_GET(s, f) ((uint64_t)atomic_load_explicit(&(s)->f, memory_order_relaxed))

/* The sum over threads, in plain numbers. */
typedef struct stats_totals {
    uint64_t queries_udp, queries_tcp, queries_tls, queries_https;
    uint64_t responses[STATS_RCODES + 1];
    uint64_t cache_hits, cache_misses, cache_stale, prefetches, coalesced;
    uint64_t upstream_queries, local_errors, dropped, malformed, refused_acl, truncated;
    uint64_t local_answers, local_special;
    uint64_t tcp_accepted, tcp_refused, tcp_clients, inflight, waiting;
    uint64_t tls_accepted, tls_refused, tls_clients, tls_handshake_failed;
    uint64_t blocked;
} stats_totals_t;

void stats_sum(stats_thread_t *const *threads, size_t n, stats_totals_t *out);

/* Count one reply of rcode (extended RCODEs allowed). */
void stats_count_rcode(stats_thread_t *s, unsigned rcode);

/* The stats reply: {"ok": true, "uptime_s": ..., "queries": ..., ...}.
 * pool may be NULL. New reference. */
json_t *stats_json(const stats_totals_t *t, const cache_stats_t *cs, pool_t *pool,
                   uint64_t uptime_s, unsigned threads);

/* One upstream's entry of the "upstreams" array (also used by status). */
json_t *stats_upstream_json(pool_server_t *s, uint64_t now_us, bool detail);

#endif
