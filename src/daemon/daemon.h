/* stubresd: the running daemon, as the main thread sees it.
 *
 * Holds the top-level objects (settings, state file, upstream pool,
 * cache, workers, control socket, metrics) and carries out run-time
 * changes: `config NAME=VALUE`, `server SPEC...`, `reload` and SIGHUP all
 * end in daemon_publish(), which builds what changed and hands it to the
 * workers; queries in flight finish with what they started with. The
 * control commands are implemented here (control.c only moves lines). */
#ifndef STUBRESD_DAEMON_H
#define STUBRESD_DAEMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "blocklist.h"
#include "cache.h"
#include "cfg.h"
#include "control.h"
#include "ctlproto.h"
#include "listener.h"
#include "metrics.h"
#include "pool.h"
#include "state.h"
#include "worker.h"

struct event_base;

typedef struct daemon {
    struct event_base *base; /* the main thread's loop */
    char *config_path;
    cfg_t *cfg;      /* settings in force (file + state) */
    cfg_t *file_cfg; /* the config file's settings alone (last start or reload) */
    state_t *state;  /* what operators changed at run time */
    pool_t *pool;    /* upstreams in force */
    struct fwdrules *fwdrules; /* forward rules in force (fwdrules.h) */
    struct portal *portal;     /* the captive-portal pass (portal.h), NULL: off */
    struct event *rc_timer;    /* once a second: has resolv_conf changed? */
    cache_t *cache;
    blocklist_t *block; /* the block lists in force (NULL before start) */
    listener_set_t listeners;
    worker_t **workers;
    unsigned nworkers;
    control_t *control;
    metrics_t *metrics;
    struct event *hosts_ev; /* checks the hosts files once a second */
    struct netwatch *netwatch; /* network_watch (netwatch.h), NULL when off */
    uint64_t network_changes;  /* changes acted on (netlink, suspend, control) */
    uint64_t start_us;
    bool stopping;
    /* ---- cache_file (cachefile.c) ---- */
    struct event *cf_timer; /* every cache_save_interval */
    pthread_t cf_thread;    /* the timed save's writer */
    bool cf_thread_on;      /* ... not joined yet */
    size_t cf_loaded;       /* entries read back at start */
    size_t cf_saved;        /* entries in the last snapshot written */
    /* ---- start-up (startup.c) ---- */
    uid_t uid;            /* user's uid, (uid_t)-1 without user = */
    gid_t gid;            /* user's primary group */
    gid_t cgid;           /* control_group, (gid_t)-1 without one */
    size_t dropped;       /* state entries the config file overruled */
    bool check_transport; /* daemon_check: also build and validate the pool */
} daemon_t;

/* ---- cache_file (cachefile.c) ---- */

/* Read cache_file into the cache (before the workers start); a missing or
 * bad file is logged, never an error. */
void daemon_cache_load(daemon_t *d);
/* Snapshot the cache and write cache_file: from a thread of its own when
 * background (the result is logged), else here. *entries: how many. 0, or
 * -1 with err. */
int daemon_cache_save(daemon_t *d, bool background, size_t *entries, char *err, size_t errcap);
/* Start the cache_save_interval timer (nothing without cache_file). */
int daemon_cache_timer(daemon_t *d);
/* Stop the timer and wait for a save in progress. */
void daemon_cache_stop(daemon_t *d);

/* ---- the daemon's life, in the order main() calls it (startup.c) ---- */

/* Read and check the configuration and the state file (daemon_load).
 * NULL with errs (naming file, line and key) on a bad configuration. */
daemon_t *daemon_new(const char *config_path, cfg_errors_t *errs);
/* The accounts the configuration names; with d->check_transport, the
 * upstreams as the transports would take them (CA file, DoH URL). */
int daemon_check(daemon_t *d, char *err, size_t errcap);
/* Every socket (DNS, control, metrics), the query log and the state
 * file's directory, while the process may still bind port 53. */
int daemon_bind(daemon_t *d, char *err, size_t errcap);
/* Drop root for user = (priv.c); write the state file when loading it
 * dropped entries. */
int daemon_drop_root(daemon_t *d, char *err, size_t errcap);
/* The main loop's base, cache, pool, worker threads, control socket and
 * metrics. */
int daemon_start(daemon_t *d, char *err, size_t errcap);
/* After the main loop: stop taking commands and queries, let the queries
 * in flight finish (at most daemon_drain_ms). */
void daemon_drain(daemon_t *d);
/* Undo whatever of the above was done. Accepts NULL. */
void daemon_free(daemon_t *d);

/* Load the config file and the state file into a new cfg_t and check it.
 * *file_cfg receives the config file's settings alone, *st the state
 * (state file path from the config) holding the run-time changes that
 * still apply; *dropped counts those that no longer did (logged; the
 * caller saves the state when it can). Returns NULL with errors in errs;
 * only the config file's errors are fatal. */
cfg_t *daemon_load(const char *path, cfg_t **file_cfg, state_t **st, size_t *dropped,
                   cfg_errors_t *errs);

/* Write d's state file; a failure is logged. 0 or -1. */
int daemon_save_state(daemon_t *d);

/* The cache settings of c. */
cache_cfg_t daemon_cache_cfg(const cfg_t *c);

/* Put c (a reference is taken) in force: a new pool when upstream
 * settings changed (pool may be given, already built), cache limits, log
 * level, query log; then every worker. Returns 0 or -1 with err (nothing
 * changed). */
int daemon_publish(daemon_t *d, cfg_t *c, pool_t *pool, char *err, size_t errcap);

/* Build c->localdata from c's local answer keys (hosts files read now;
 * their bad lines are logged). 0, or -1 with err. */
int daemon_local_build(cfg_t *c, char *err, size_t errcap);
/* Watch the hosts files from the main loop: a changed one is read again
 * (at most once a second). */
int daemon_watch_hosts(daemon_t *d);
/* The forward rules of c, built and checked (their upstreams validated on
 * d->base); *out NULL when they send the same names to the same upstreams
 * as those in force. 0, or -1 with err. */
int daemon_forward_build(daemon_t *d, const cfg_t *c, struct fwdrules **out, char *err,
                         size_t errcap);
/* Put the rules r in force (the reference is taken over): the cached
 * answers at and below the domain of every rule added, changed or
 * removed are dropped, then every worker gets them. */
void daemon_forward_install(daemon_t *d, struct fwdrules *r);

/* The network changed (why: "netlink", "suspend", "control"): new
 * upstream connections (host names resolved again through bootstrap),
 * health backoff forgotten, resolv_conf read again where servers or
 * forward rules come from it; queries in flight retry on the new
 * connections. Logged and counted. 0, or -1 with err (the upstreams in
 * force stay). */
int daemon_network_changed(daemon_t *d, const char *why, char *err, size_t errcap);
/* Start network_watch when the settings ask for it. 0 (a netlink
 * socket that cannot be made is logged, not fatal), or -1. */
int daemon_watch_network(daemon_t *d);

/* Re-read the config file (SIGHUP, `reload`). 0, or -1 with err (the
 * running settings stay). */
int daemon_reload(daemon_t *d, char *err, size_t errcap);

/* The control handler (control_handler_fn). */
json_t *daemon_command(void *arg, const ctl_request_t *req);

/* Metrics callbacks. */
void daemon_metrics_collect(void *arg, metrics_snapshot_t *snap);
void daemon_metrics_release(void *arg, metrics_snapshot_t *snap);
/* A scrape from sa is allowed when sa is inside `allow`. */
bool daemon_metrics_allowed(void *arg, const struct sockaddr *sa);

/* How long a drain may take with c: every attempt of a query, plus a
 * second. */
unsigned daemon_drain_ms(const cfg_t *c);

#endif
