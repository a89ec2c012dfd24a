/* stubresd: the upstream pool.
 *
 * The upstreams of the list spec.c makes of the config (the `servers`
 * specs, or the class properties dns_server/dns_port/protocol, or the
 * nameservers of resolv_conf), the choice of an upstream for each query
 * (failover, round-robin, fastest), and the health of each upstream: one
 * that fails or times out is marked down with an exponential backoff and
 * probed again later; when every one is down the best of them is still
 * tried. An encrypted pool (DoT/DoH) never contains a plaintext upstream,
 * so a failing encrypted upstream is never replaced by a plaintext one.
 *
 * A pool_t is built by the main thread and shared read-only by the
 * workers; the health and counters of its servers are shared (a mutex per
 * server, atomics for counters). Each worker reaches the servers through
 * its own sr_upstream_t objects, a pool_inst_t, on its own event_base. */
#ifndef STUBRESD_POOL_H
#define STUBRESD_POOL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stubres/upstream.h>

#include "cfg.h"
#include "spec.h"

/* Most upstreams in one pool (bit masks of tried upstreams are 64 bits). */
#define POOL_MAX_SERVERS SPEC_MAX
/* Buckets of the RTT histograms: upper bounds in milliseconds; the last
 * bucket (+Inf) is implicit. */
#define POOL_RTT_BUCKETS 12
extern const double pool_rtt_bounds_ms[POOL_RTT_BUCKETS];

/* Health and counters of one upstream, shared by all workers. */
typedef struct pool_server {
    atomic_int refs;
    spec_t spec;
    sr_upstream_cfg_t ucfg; /* strings point into the server's storage */
    char *strings;          /* owned storage of the ucfg strings */
    pthread_mutex_t mu;     /* guards the health fields below */
    bool healthy;
    unsigned fails;         /* consecutive failures */
    uint64_t down_until_us; /* not to be tried before (monotonic) */
    uint32_t backoff_ms;    /* current backoff */
    double rtt_ms;          /* moving average of the RTT (EWMA 1/8) */
    bool rtt_known;
    atomic_uint_fast64_t queries, responses, errors, timeouts, servfails;
    atomic_uint_fast64_t rtt_hist[POOL_RTT_BUCKETS + 1];
    atomic_uint_fast64_t rtt_sum_us;
    /* udp:// only: answers with a valid server cookie; replies dropped
     * for a wrong or missing client cookie, or for a question in another
     * case than sent (0x20); queries asked again without 0x20 */
    atomic_uint_fast64_t cookies, cookie_mismatches, case_mismatches, case_fallbacks;
} pool_server_t;

/* One generation of the upstream list. */
typedef struct pool {
    atomic_int refs;
    int strategy;   /* enum cfg_strategy */
    bool encrypted; /* every upstream is DoT/DoH */
    size_t n;
    pool_server_t *servers[POOL_MAX_SERVERS];
    atomic_uint rr;         /* round-robin position */
    uint64_t upstream_hash; /* cfg_upstream_hash() of the cfg it was built from */
    char *source;           /* the query log's source: NULL ("upstream") for servers,
                               "forward:DOMAIN" for a forward rule's pool (owned) */
} pool_t;

/* Build the pool cfg asks for. Servers whose spec appears in old keep
 * their health and counters. NULL with err on error. */
pool_t *pool_new(const cfg_t *cfg, const pool_t *old, char *err, size_t errcap);
/* Build a pool of the n upstreams specs (a forward rule's), with the
 * settings of cfg, as pool_new does. */
pool_t *pool_new_specs(const cfg_t *cfg, const spec_t *specs, int n, const pool_t *old, char *err,
                       size_t errcap);
void pool_ref(pool_t *p);
void pool_unref(pool_t *p);
/* True when the settings of cfg that shape upstreams equal those p was
 * built from (so p can stay, connections and all). */
bool pool_matches(const pool_t *p, const cfg_t *cfg);

/* Pick an upstream for the next attempt of a query, at monotonic time now
 * (us). tried has bit i set for upstreams this query already used; they
 * are taken again only when every upstream was tried. Returns an index,
 * or -1 when the pool is empty. rnd is any random value (probes). */
int pool_pick(pool_t *p, uint64_t tried, uint64_t now_us, uint32_t rnd);

/* What happened to an attempt. */
typedef enum pool_outcome {
    POOL_OK,       /* an answer (NOERROR, NXDOMAIN, ...) */
    POOL_SERVFAIL, /* it answered SERVFAIL or REFUSED: try another */
    POOL_TIMEOUT,  /* no answer in time */
    POOL_ERROR,    /* transport error, bad certificate, bad response */
} pool_outcome_t;

/* Record an attempt's outcome (rtt_us for POOL_OK/POOL_SERVFAIL). */
void pool_report(pool_server_t *s, pool_outcome_t o, uint64_t rtt_us, uint64_t now_us);
/* Forget what the failures taught (after a network change): every
 * server of p is healthy and may be tried at once; RTTs and counters stay. */
void pool_forget_health(pool_t *p);
/* Count a query sent to s. */
void pool_count_query(pool_server_t *s);
/* Add what a query's info says of cookies and 0x20 to s's counters. */
void pool_count_guard(pool_server_t *s, const sr_xfer_info_t *info);

/* A snapshot of one server's health for status/stats. */
typedef struct pool_health {
    bool healthy;
    unsigned fails;
    double rtt_ms;
    double retry_in_s; /* when down: seconds until the next try */
} pool_health_t;
void pool_server_health(pool_server_t *s, uint64_t now_us, pool_health_t *h);

/* A worker's connections to the servers of one pool. */
typedef struct pool_inst {
    pool_t *pool;
    sr_upstream_t *ups[POOL_MAX_SERVERS]; /* NULL when it could not be made */
    sr_status_t up_status[POOL_MAX_SERVERS];
    unsigned users; /* queries in flight using it, + 1 if current */
} pool_inst_t;

/* Make the sr_upstream_t objects of p on base (one per server). */
pool_inst_t *pool_inst_new(pool_t *p, struct event_base *base);
/* Drop one user; frees when none is left (closing its connections). */
void pool_inst_release(pool_inst_t *pi);

/* Try to build every upstream of p on base and free them again: the
 * transport's own checks (CA file, URL), for a reply before a change is
 * applied. Returns 0, or -1 with err. */
int pool_validate(pool_t *p, struct event_base *base, char *err, size_t errcap);

/* Monotonic clock in microseconds. */
uint64_t pool_now_us(void);

#endif
