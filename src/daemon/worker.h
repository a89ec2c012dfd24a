/* stubresd: one event loop (thread) serving clients.
 *
 * A worker owns an event_base, its listening sockets, its client TCP
 * connections, its table of queries in flight upstream and its own
 * sr_upstream_t objects (a pool_inst_t). Everything it touches on the
 * query path is its own or read-only (cfg_t, pool_t) or thread-safe (the
 * cache, the pool's health), so the query path takes no lock but the
 * cache shard's. The main thread talks to it only through a mailbox:
 * new settings, and stop, under w->mu, with an eventfd to wake the loop;
 * so the event_base needs no libevent locking (EVENT_BASE_FLAG_NOLOCK)
 * and nothing but the worker's own thread may touch it. */
#ifndef STUBRESD_WORKER_H
#define STUBRESD_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <stubres/wire.h>

#include "cache.h"
#include "cfg.h"
#include "forwarder.h"
#include "listener.h"
#include "pool.h"
#include "stats.h"
#include "tcpconn.h"

struct event_base;
struct event;

typedef struct worker {
    unsigned id;
    unsigned nthreads; /* all workers, for shares of caps */
    pthread_t thread;
    bool started;
    struct event_base *base;
    /* The query path's context: cache, settings (fwd.cfg), upstreams,
     * queries in flight, the drain flag (fwd.draining), clocks. */
    fwd_ctx_t fwd;
    stats_thread_t stats;
    listen_sock_t *socks; /* this thread's listening sockets */
    size_t nsocks;
    tcp_set_t tcp; /* client TCP connections (tcpconn.c's) */
    tcp_set_t tls; /* client TLS connections (tls://, https://) */
    /* the mailbox */
    pthread_mutex_t mu;
    int wake_fd; /* eventfd: the main thread's doorbell */
    struct event *mbox_ev;
    cfg_t *new_cfg; /* pending settings (references) */
    pool_t *new_pool;
    struct fwdrules *new_rules; /* pending forward rules (a reference) */
    bool stop_req;
    unsigned drain_ms; /* how long a drain may take */
    struct event *drain_ev;
    udp_batch_t *udp; /* UDP batch headers and buffers, the UDP sink */
} worker_t;

/* A worker for thread id with cfg and pool (references taken), sockets
 * (borrowed; they outlive the worker) and the shared cache. */
worker_t *worker_new(unsigned id, unsigned nthreads, cache_t *cache, cfg_t *cfg, pool_t *pool,
                     listen_sock_t *socks, size_t nsocks);
/* Run it in its own thread. Returns 0 or -1. */
int worker_start(worker_t *w);
/* From the main thread: use cfg and pool from the next query on (queries
 * in flight finish with what they started with). References taken. */
void worker_update(worker_t *w, cfg_t *cfg, pool_t *pool);
/* From the main thread: use the forward rules r (a reference is taken)
 * from the next query on; before worker_start, at once. */
void worker_update_forward(worker_t *w, struct fwdrules *r);
/* From the main thread: stop reading queries, finish those in flight
 * (at most drain_ms), then end the thread. */
void worker_stop(worker_t *w, unsigned drain_ms);
/* Wait for the thread and free the worker. Accepts NULL. */
void worker_join_free(worker_t *w);

/* Inside the worker: monotonic seconds for the cache. */
uint32_t worker_now_s(void);

#endif
