/* stubresd: the daemon's life from start to exit (see daemon.h).
 *
 * main() calls these in order, each step finished before the next begins:
 * daemon_new (read and check the whole configuration: a bad one stops
 * here, naming file, line and key, never a half-started daemon) ->
 * daemon_bind (every socket, while root may still bind port 53) ->
 * daemon_drop_root -> (detach) -> daemon_start (cache, pool, workers,
 * control and metrics on the main loop) -> the main loop ->
 * daemon_drain -> daemon_free. Each returns 0 or -1 with err, and
 * daemon_free undoes whatever was done, whichever step failed. */
#include "config.h"

#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "daemon.h"
#include "netwatch.h"
#include "fwdrules.h"
#include "portal.h"
#include "log.h"
#include "priv.h"
#include "tlslisten.h"
#include "dohserv.h"

daemon_t *daemon_new(const char *config_path, cfg_errors_t *errs)
{
    daemon_t *d = calloc(1, sizeof(*d));

    if (d == NULL) {
        cfg_errors_add(errs, "out of memory");
        return NULL;
    }
    d->uid = (uid_t)-1;
    d->gid = (gid_t)-1;
    d->cgid = (gid_t)-1;
    /* https:// listeners serve DNS over HTTPS with the DoH module. */
    tlslisten_set_https_ops(&dohserv_https_ops);
    d->cfg = daemon_load(config_path, &d->file_cfg, &d->state, &d->dropped, errs);
    d->config_path = strdup(config_path);
    if (d->cfg == NULL || d->config_path == NULL) {
        if (d->cfg != NULL)
            cfg_errors_add(errs, "out of memory");
        daemon_free(d);
        return NULL;
    }
    /* The local answers now, so that -t reports what is wrong in them. */
    char err[1024];
    if (daemon_local_build(d->cfg, err, sizeof(err)) != 0) {
        cfg_errors_add(errs, "%s", err);
        daemon_free(d);
        return NULL;
    }
    return d;
}

int daemon_check(daemon_t *d, char *err, size_t errcap)
{
    const cfg_t *c = d->cfg;
    struct event_base *b;
    pool_t *p;
    int ok;

    if (c->user[0] != '\0' && priv_lookup(c->user, &d->uid, &d->gid, err, errcap) != 0)
        return -1;
    if (c->control_group[0] != '\0' && priv_group(c->control_group, &d->cgid, err, errcap) != 0)
        return -1;
    /* The certificate and its key load and match. */
    if (c->ntls_listen > 0 && tlslisten_check(c, err, errcap) != 0)
        return -1;
    if (!d->check_transport)
        return 0;
    /* The transport's own checks too (CA file, DoH URL), as -t promises. */
    evthread_use_pthreads();
    b = event_base_new();
    p = pool_new(c, NULL, err, errcap);
    ok = p != NULL && b != NULL && pool_validate(p, b, err, errcap) == 0;
    if (ok) {
        /* The forward rules' upstreams alike; a plaintext rule beside
         * encrypted servers is allowed, and said. */
        fwdrules_t *r = fwdrules_new(c, NULL, err, errcap);
        ok = r != NULL;
        for (size_t i = 0; ok && i < r->n; i++)
            ok = pool_validate(r->rule[i].pool, b, err, errcap) == 0;
        if (ok)
            fwdrules_warn_plaintext(r, p, c->path);
        fwdrules_unref(r);
    }
    pool_unref(p);
    if (b != NULL)
        event_base_free(b);
    return ok ? 0 : -1;
}

/* The directory of the state file must be the daemon user's to write. */
static void prepare_state_dir(const daemon_t *d, bool chown_it)
{
    char *copy;

    /* cache_file's directory likewise (it usually is the same). */
    if (d->cfg->cache_file[0] != '\0' && (copy = strdup(d->cfg->cache_file)) != NULL) {
        if (priv_mkdir(dirname(copy), 0750, chown_it ? d->uid : (uid_t)-1,
                       chown_it ? d->gid : (gid_t)-1) != 0)
            log_warn("cache_file: cannot create or hand over %s", d->cfg->cache_file);
        free(copy);
    }
    if (d->cfg->state_file[0] == '\0')
        return;
    copy = strdup(d->cfg->state_file);
    if (copy == NULL)
        return;
    if (priv_mkdir(dirname(copy), 0750, chown_it ? d->uid : (uid_t)-1,
                   chown_it ? d->gid : (gid_t)-1) != 0)
        log_warn("state_file: cannot create or hand over %s", d->cfg->state_file);
    free(copy);
}

int daemon_bind(daemon_t *d, char *err, size_t errcap)
{
    const cfg_t *c = d->cfg;
    bool root_for_user = d->uid != (uid_t)-1 && geteuid() == 0;

    if (listener_open(c, &d->listeners, err, errcap) != 0)
        return -1;
    /* Read while still root: a key is often root's alone. */
    if (c->ntls_listen > 0 && tlslisten_load(c, err, errcap) != 0)
        return -1;
    if (c->control[0] != '\0') {
        d->control = control_open(c->control, d->uid, d->cgid, err, errcap);
        if (d->control == NULL)
            return -1;
    }
    if (c->metrics[0] != '\0') {
        d->metrics = metrics_open(c->metrics, err, errcap);
        if (d->metrics == NULL)
            return -1;
    }
    /* A query log root creates is the daemon user's, to reopen later. */
    if (root_for_user)
        log_query_owner(d->uid, d->gid);
    if (log_query_open(c->query_log, err, errcap) != 0)
        return -1;
    prepare_state_dir(d, root_for_user);
    return 0;
}

int daemon_drop_root(daemon_t *d, char *err, size_t errcap)
{
    char *copy;

    if (priv_drop(d->cfg->user, err, errcap) != 0)
        return -1;
    if (state_path(d->state)[0] == '\0')
        return 0;
    copy = strdup(state_path(d->state));
    if (copy != NULL && access(dirname(copy), W_OK) != 0)
        log_warnx("state_file: %s is not writable: changes made at run time will not survive a "
                  "restart",
                  state_path(d->state));
    else if (d->dropped > 0)
        daemon_save_state(d); /* the changes the config file overruled */
    free(copy);
    return 0;
}

static int start_workers(daemon_t *d, char *err, size_t errcap)
{
    unsigned n = d->cfg->threads;

    d->workers = calloc(n, sizeof(*d->workers));
    if (d->workers == NULL) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    for (unsigned i = 0; i < n; i++) {
        d->workers[i] =
            worker_new(i, n, d->cache, d->cfg, d->pool, d->listeners.socks[i], d->listeners.n);
        if (d->workers[i] == NULL) {
            snprintf(err, errcap, "thread %u: cannot set up", i);
            return -1;
        }
        d->workers[i]->fwd.block = d->block;
        if (d->portal != NULL) {
            d->workers[i]->fwd.portal = d->portal;
            d->workers[i]->fwd.portal_pool = pool_inst_new(d->portal->pool, d->workers[i]->base);
            if (d->workers[i]->fwd.portal_pool == NULL) {
                snprintf(err, errcap, "thread %u: cannot set up", i);
                return -1;
            }
        }
        d->nworkers++;
    }
    return 0;
}

/* Once a second: a forward rule's `resolvconf` follows resolv_conf (a VPN
 * coming up or going down rewrites it). One stat(2) when a rule uses it,
 * nothing otherwise. */
static void resolvconf_tick(evutil_socket_t fd, short what, void *arg)
{
    daemon_t *d = arg;
    fwdrules_t *r = NULL;
    char err[1024];

    (void)fd;
    (void)what;
    if (d->stopping || !fwdrules_resolvconf_changed(d->fwdrules, d->cfg->resolv_conf))
        return;
    log_notice("resolv_conf %s changed: the forward rules' resolvconf upstreams are read again",
               d->cfg->resolv_conf);
    if (daemon_forward_build(d, d->cfg, &r, err, sizeof(err)) != 0)
        log_warnx("%s; the forward rules in force stay", err);
    else if (r != NULL)
        daemon_forward_install(d, r);
}

int daemon_start(daemon_t *d, char *err, size_t errcap)
{
    cache_cfg_t cc = daemon_cache_cfg(d->cfg);
    const struct timeval second = {1, 0};
    fwdrules_t *rules = NULL;

    d->start_us = pool_now_us();
    d->base = event_base_new();
    if (d->base == NULL) {
        snprintf(err, errcap, "libevent: cannot create an event base");
        return -1;
    }
    d->cache = cache_new(&cc);
    if (d->cache == NULL) {
        snprintf(err, errcap, "cache: out of memory");
        return -1;
    }
    daemon_cache_load(d);
    d->block = blocklist_new();
    if (d->block == NULL) {
        snprintf(err, errcap, "block lists: out of memory");
        return -1;
    }
    blocklist_set_cache(d->block, d->cache);
    /* Before the first answer, so that no listed name leaks at start; a
     * list that cannot be read is no reason not to answer. */
    char berr[1024];
    if (blocklist_set_names(d->block, d->cfg->block_names, berr, sizeof(berr)) != 0 ||
        blocklist_load(d->block, d->cfg->block, true, berr, sizeof(berr)) != 0)
        log_warnx("block lists: %s; answering without them", berr);
    err[0] = '\0';
    d->portal = portal_new(d->cfg, err, errcap);
    if (d->portal == NULL && err[0] != '\0')
        return -1;
    d->pool = pool_new(d->cfg, NULL, err, errcap);
    if (d->pool == NULL || daemon_forward_build(d, d->cfg, &rules, err, errcap) != 0 ||
        start_workers(d, err, errcap) != 0) {
        fwdrules_unref(rules);
        return -1;
    }
    daemon_forward_install(d, rules); /* before the workers start */
    fwdrules_warn_plaintext(d->fwdrules, d->pool, NULL);
    d->rc_timer = event_new(d->base, -1, EV_PERSIST, resolvconf_tick, d);
    if (d->rc_timer == NULL || event_add(d->rc_timer, &second) != 0) {
        snprintf(err, errcap, "libevent: cannot add a timer");
        return -1;
    }
    if (daemon_cache_timer(d) != 0) {
        snprintf(err, errcap, "libevent: cannot add a timer");
        return -1;
    }
    if (daemon_watch_hosts(d) != 0) {
        snprintf(err, errcap, "libevent: cannot watch the hosts files");
        return -1;
    }
    if (daemon_watch_network(d) != 0) {
        snprintf(err, errcap, "network_watch: out of memory");
        return -1;
    }
    if (d->control != NULL && control_start(d->control, d->base, daemon_command, d) != 0) {
        snprintf(err, errcap, "control: cannot listen");
        return -1;
    }
    if (d->metrics != NULL &&
        metrics_start(d->metrics, d->base, daemon_metrics_collect, daemon_metrics_release,
                      daemon_metrics_allowed, d) != 0) {
        snprintf(err, errcap, "metrics: cannot serve");
        return -1;
    }
    for (unsigned i = 0; i < d->nworkers; i++)
        if (worker_start(d->workers[i]) != 0) {
            snprintf(err, errcap, "thread %u: cannot start", i);
            return -1;
        }
    return 0;
}

void daemon_drain(daemon_t *d)
{
    /* No new queries and no more commands; the ones in flight get their
     * answers. */
    control_free(d->control);
    d->control = NULL;
    for (unsigned i = 0; i < d->nworkers; i++)
        worker_stop(d->workers[i], daemon_drain_ms(d->cfg));
    /* After the drain: the answers of the last queries are in it. */
    if (d->cfg->cache_file[0] != '\0' && d->cache != NULL) {
        char err[1024];
        size_t n;
        if (daemon_cache_save(d, false, &n, err, sizeof(err)) != 0)
            log_warnx("%s", err);
        else
            log_notice("cache_file %s: %zu entries saved", d->cfg->cache_file, n);
    }
}

void daemon_free(daemon_t *d)
{
    if (d == NULL)
        return;
    for (unsigned i = 0; i < d->nworkers; i++)
        worker_join_free(d->workers[i]);
    free(d->workers);
    daemon_cache_stop(d);
    if (d->rc_timer != NULL)
        event_free(d->rc_timer);
    fwdrules_unref(d->fwdrules);
    control_free(d->control);
    metrics_free(d->metrics);
    if (d->hosts_ev != NULL)
        event_free(d->hosts_ev);
    netwatch_free(d->netwatch);
    listener_close(&d->listeners);
    tlslisten_free();
    pool_unref(d->pool);
    blocklist_free(d->block); /* its loader may be emptying the cache */
    portal_free(d->portal);
    cache_free(d->cache);
    state_free(d->state);
    cfg_unref(d->file_cfg);
    cfg_unref(d->cfg);
    free(d->config_path);
    if (d->base != NULL)
        event_base_free(d->base);
    free(d);
}
