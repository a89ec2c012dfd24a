/* stubresd: one event loop (thread) serving clients (see worker.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "forwarder.h"
#include "fwdrules.h"
#include "util.h" /* addresses, clocks, randomness */
#include "listener.h"
#include "log.h"
#include "shcache.h"
#include "tcpconn.h"
#include "worker.h"

uint32_t worker_now_s(void)
{
    return sr_now_coarse_s();
}

/* prefetch_popular: how often a worker looks for names to refresh, and
 * how many it takes at a time (the rest wait for the next look). */
#define POPULAR_TICK_MS 500
#define POPULAR_BATCH 16

static void popular_tick(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    cache_key_t keys[POPULAR_BATCH];
    uint64_t limited = 0;

    (void)fd;
    (void)what;
    size_t n = cache_popular_due(w->fwd.cache, w->fwd.now_s(), w->fwd.now_us() / 1000, keys,
                                 POPULAR_BATCH, &limited);
    for (size_t i = 0; i < n; i++)
        fwd_prefetch_popular(&w->fwd, &keys[i]);
    if (limited > 0)
        STAT_ADD(&w->stats, popular_rate_limited, limited);
}

/* The timer runs only while prefetch_popular is on: an idle laptop is
 * not woken for nothing. */
static void popular_arm(worker_t *w)
{
    struct timeval tv = {0, POPULAR_TICK_MS * 1000};
    bool on = w->fwd.cfg->prefetch_popular > 0 && w->fwd.cache != NULL;

    if (w->popular_ev == NULL)
        return;
    if (on && !evtimer_pending(w->popular_ev, NULL))
        evtimer_add(w->popular_ev, &tv);
    else if (!on)
        evtimer_del(w->popular_ev);
}

static unsigned conn_share(unsigned max, unsigned nthreads)
{
    unsigned s = (max + nthreads - 1) / nthreads;
    return s ? s : 1;
}

/* Apply settings posted by the main thread. */
static void apply(worker_t *w, cfg_t *cfg, pool_t *pool, unsigned nthreads)
{
    if (cfg != NULL) {
        cfg_unref(w->fwd.cfg);
        w->fwd.cfg = cfg;
        w->tcp.max_conns = conn_share(cfg->tcp_max_clients, nthreads);
        w->tls.max_conns = conn_share(cfg->tls_max_clients, nthreads);
        popular_arm(w);
        shc_configure(w->fwd.shc, cfg->shared_cache, cfg->shared_cache_timeout_ms);
    }
    if (pool != NULL) {
        if (w->fwd.pool == NULL || w->fwd.pool->pool != pool) {
            pool_inst_t *pi = pool_inst_new(pool, w->base);
            if (pi != NULL) {
                /* Queries in flight keep the old instance alive until
                 * they finish: a server change drops nothing. */
                pool_inst_release(w->fwd.pool);
                w->fwd.pool = pi;
            } else {
                log_warnx("thread %u: out of memory; keeping the old upstreams", w->id);
            }
        }
        pool_unref(pool);
    }
}

/* Use the forward rules r (the reference is the worker's now). */
static void apply_rules(worker_t *w, fwdrules_t *r)
{
    fwdrules_inst_t *ri;

    if (r == NULL)
        return;
    ri = fwdrules_inst_new(r, w->base);
    if (ri != NULL) {
        /* Queries in flight keep their rule's instance alive. */
        fwdrules_inst_free(w->fwd.rules);
        w->fwd.rules = ri;
    } else {
        log_warnx("thread %u: out of memory; keeping the old forward rules", w->id);
    }
    fwdrules_unref(r);
}

static void drain_timeout(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    (void)fd;
    (void)what;
    log_notice("thread %u: %zu queries still in flight at the end of the drain", w->id,
               fwd_table_count(w->fwd.table));
    event_base_loopexit(w->base, NULL);
}

/* Check whether a drain has finished. */
static void worker_drain_check(worker_t *w)
{
    /* cleanup() frees the connections left at the end of a drain (a
     * client that reads none of its answers) after the table: the loop
     * has ended already, there is nothing to check. */
    if (w->fwd.table == NULL)
        return;
    if (w->fwd.draining && fwd_table_count(w->fwd.table) == 0 && tcpconn_all_idle(&w->tcp) &&
        tcpconn_all_idle(&w->tls))
        event_base_loopexit(w->base, NULL);
}

/* The drain hook of the forwarder (a query in flight finished) and of
 * the TCP connections (one was freed). */
static void drain_hook(void *arg)
{
    worker_drain_check(arg);
}

static void begin_drain(worker_t *w, unsigned drain_ms)
{
    struct timeval tv = {drain_ms / 1000, (drain_ms % 1000) * 1000};

    if (w->fwd.draining)
        return;
    w->fwd.draining = true;
    listener_pause(w->socks, w->nsocks);
    tcpconn_drain_all(&w->tcp);
    tcpconn_drain_all(&w->tls);
    w->drain_ev = evtimer_new(w->base, drain_timeout, w);
    if (w->drain_ev != NULL)
        evtimer_add(w->drain_ev, &tv);
    worker_drain_check(w);
}

static void mbox_cb(evutil_socket_t fd, short what, void *arg)
{
    worker_t *w = arg;
    cfg_t *cfg;
    pool_t *pool;
    fwdrules_t *rules;
    bool stop;
    unsigned drain_ms;
    uint64_t tick;

    (void)what;
    /* Reset the eventfd's count: every post is read below at once. */
    if (read(fd, &tick, sizeof(tick)) < 0 && errno != EAGAIN)
        log_debug("thread %u: mailbox read: %s", w->id, strerror(errno));
    pthread_mutex_lock(&w->mu);
    cfg = w->new_cfg;
    pool = w->new_pool;
    rules = w->new_rules;
    stop = w->stop_req;
    drain_ms = w->drain_ms;
    w->new_cfg = NULL;
    w->new_pool = NULL;
    w->new_rules = NULL;
    pthread_mutex_unlock(&w->mu);

    apply(w, cfg, pool, w->nthreads);
    apply_rules(w, rules);
    if (stop)
        begin_drain(w, drain_ms);
}

/* The worker's event_base without libevent's locking: no other thread
 * ever touches it (the main thread posts through the mailbox and its
 * eventfd), and a locked base costs two lock/unlock pairs per wake-up. */
static struct event_base *new_base(void)
{
    struct event_config *ec = event_config_new();
    struct event_base *b = NULL;

    if (ec == NULL)
        return NULL;
    if (event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK) == 0)
        b = event_base_new_with_config(ec);
    event_config_free(ec);
    return b;
}

/* Wake the worker's loop for its mailbox (any thread). */
static void post(worker_t *w)
{
    uint64_t one = 1;
    /* A full counter (never, at 2^64 - 1) would already wake it. */
    if (write(w->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_warn("thread %u: mailbox", w->id);
}

worker_t *worker_new(unsigned id, unsigned nthreads, cache_t *cache, cfg_t *cfg, pool_t *pool,
                     listen_sock_t *socks, size_t nsocks)
{
    worker_t *w = calloc(1, sizeof(*w));

    if (w == NULL)
        return NULL;
    w->id = id;
    w->nthreads = nthreads;
    w->fwd.cache = cache;
    w->fwd.stats = &w->stats;
    w->fwd.now_s = worker_now_s;
    w->fwd.now_us = pool_now_us;
    w->fwd.query = sr_upstream_query;
    w->fwd.cancel = sr_xfer_cancel;
    w->fwd.finished = drain_hook;
    w->fwd.arg = w;
    w->socks = socks;
    w->nsocks = nsocks;
    pthread_mutex_init(&w->mu, NULL);
    if (!sr_random_bytes(&w->fwd.rnd, sizeof(w->fwd.rnd)) || w->fwd.rnd == 0)
        w->fwd.rnd = 0x9e3779b9u ^ id;
    w->wake_fd = -1;
    w->base = new_base();
    w->fwd.table = fwd_table_new(fwd_random(&w->fwd));
    w->fwd.msg = sr_msg_new();
    w->fwd.out = malloc(65536);
    w->udp = w->base != NULL ? listener_batch_new(w->base) : NULL;
    w->fwd.shc = w->base != NULL ? shc_new(w->base, &w->stats) : NULL;
    w->fwd.shc_buf = malloc(SHC_VALUE_MAX);
    if (w->base == NULL || w->fwd.table == NULL || w->fwd.msg == NULL || w->fwd.out == NULL ||
        w->udp == NULL || w->fwd.shc == NULL || w->fwd.shc_buf == NULL ||
        tcpconn_set_init(&w->tcp, w->base, &w->fwd, drain_hook, w) != 0 ||
        tcpconn_set_init_tls(&w->tls, w->base, &w->fwd, drain_hook, w) != 0)
        goto fail;
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake_fd < 0)
        goto fail;
    w->mbox_ev = event_new(w->base, w->wake_fd, EV_READ | EV_PERSIST, mbox_cb, w);
    if (w->mbox_ev == NULL || event_add(w->mbox_ev, NULL) != 0)
        goto fail;
    w->popular_ev = event_new(w->base, -1, EV_PERSIST, popular_tick, w);
    if (w->popular_ev == NULL)
        goto fail;
    cfg_ref(cfg);
    w->fwd.cfg = cfg;
    popular_arm(w);
    w->tcp.max_conns = conn_share(cfg->tcp_max_clients, nthreads);
    w->tls.max_conns = conn_share(cfg->tls_max_clients, nthreads);
    shc_configure(w->fwd.shc, cfg->shared_cache, cfg->shared_cache_timeout_ms);
    w->fwd.pool = pool_inst_new(pool, w->base);
    if (w->fwd.pool == NULL)
        goto fail;
    if (listener_attach(w->base, &w->fwd, w->udp, &w->tcp, &w->tls, socks, nsocks) != 0)
        goto fail;
    return w;
fail:
    worker_join_free(w);
    return NULL;
}

/* Free what the thread owns; runs on the thread at its end (or on the
 * main thread for a worker that never started). */
static void cleanup(worker_t *w)
{
    /* In-flight queries hold TCP connections: let go of them first. */
    fwd_table_free(w->fwd.table);
    w->fwd.table = NULL;
    /* After the table: no query waits on it any more. */
    shc_free(w->fwd.shc);
    w->fwd.shc = NULL;
    tcpconn_free_all(&w->tcp);
    tcpconn_free_all(&w->tls);
    listener_detach(w->socks, w->nsocks);
    /* Replies still queued go out before the loop's events go. */
    listener_batch_free(w->udp);
    w->udp = NULL;
    pool_inst_release(w->fwd.pool);
    w->fwd.pool = NULL;
    if (w->fwd.portal_pool != NULL)
        pool_inst_release(w->fwd.portal_pool);
    w->fwd.portal_pool = NULL;
    fwdrules_inst_free(w->fwd.rules);
    w->fwd.rules = NULL;
    if (w->drain_ev != NULL)
        event_free(w->drain_ev);
    w->drain_ev = NULL;
    if (w->mbox_ev != NULL)
        event_free(w->mbox_ev);
    w->mbox_ev = NULL;
    if (w->popular_ev != NULL)
        event_free(w->popular_ev);
    w->popular_ev = NULL;
    if (w->base != NULL)
        event_base_free(w->base);
    w->base = NULL;
}

static void *run(void *arg)
{
    worker_t *w = arg;
    event_base_dispatch(w->base);
    cleanup(w);
    return NULL;
}

int worker_start(worker_t *w)
{
    if (pthread_create(&w->thread, NULL, run, w) != 0)
        return -1;
    w->started = true;
    return 0;
}

void worker_update(worker_t *w, cfg_t *cfg, pool_t *pool)
{
    pthread_mutex_lock(&w->mu);
    if (cfg != NULL) {
        cfg_ref(cfg);
        cfg_unref(w->new_cfg);
        w->new_cfg = cfg;
    }
    if (pool != NULL) {
        pool_ref(pool);
        pool_unref(w->new_pool);
        w->new_pool = pool;
    }
    pthread_mutex_unlock(&w->mu);
    post(w);
}

void worker_update_forward(worker_t *w, fwdrules_t *r)
{
    fwdrules_ref(r);
    if (!w->started) {
        /* Not running yet: no query may miss the rules. */
        apply_rules(w, r);
        return;
    }
    pthread_mutex_lock(&w->mu);
    fwdrules_unref(w->new_rules);
    w->new_rules = r;
    pthread_mutex_unlock(&w->mu);
    post(w);
}

void worker_stop(worker_t *w, unsigned drain_ms)
{
    pthread_mutex_lock(&w->mu);
    w->stop_req = true;
    w->drain_ms = drain_ms;
    pthread_mutex_unlock(&w->mu);
    post(w);
}

void worker_join_free(worker_t *w)
{
    if (w == NULL)
        return;
    if (w->started)
        pthread_join(w->thread, NULL);
    else
        cleanup(w);
    cfg_unref(w->new_cfg);
    pool_unref(w->new_pool);
    fwdrules_unref(w->new_rules);
    cfg_unref(w->fwd.cfg);
    blocklist_view_release(&w->fwd.block_view);
    sr_msg_free(w->fwd.msg);
    free(w->fwd.out);
    free(w->fwd.shc_buf);
    tcpconn_set_fini(&w->tcp);
    tcpconn_set_fini(&w->tls);
    if (w->wake_fd >= 0)
        close(w->wake_fd);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
