/* stubresd: run-time changes and control commands (see daemon.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <stubres/wire.h>

#include "daemon.h"
#include "localdata.h"
#include "fwdrules.h"
#include "portal.h"
#include "log.h"
#include "netwatch.h"
#include "stats.h"
#include "tlslisten.h"

/* The config file's path as the state file records it: absolute, so a
 * relative -c and an absolute one name the same file. */
static void config_id(const char *path, char *out, size_t cap)
{
    char *real = realpath(path, NULL);
    snprintf(out, cap, "%s", real != NULL ? real : path);
    free(real);
}

static void drop_all(state_t *st)
{
    state_override_t o;
    while (state_count(st) > 0) {
        state_get(st, 0, &o);
        state_remove(st, o.key);
    }
}

cfg_t *daemon_load(const char *path, cfg_t **file_cfg, state_t **st, size_t *dropped,
                   cfg_errors_t *errs)
{
    cfg_t *file = cfg_new(), *c = NULL;
    state_t *s = NULL;
    cfg_errors_t serrs = {0};
    char id[4096];

    *st = NULL;
    *file_cfg = NULL;
    *dropped = 0;
    if (file == NULL) {
        cfg_errors_add(errs, "out of memory");
        return NULL;
    }
    if (cfg_load_file(file, path, false, errs, NULL, NULL) != 0) {
        /* What the rest of the file names is checked all the same, so
         * that one run lists every error. */
        cfg_check_names(file, errs);
        cfg_check_paths(file, errs);
        goto fail;
    }
    s = state_new(file->state_file);
    c = cfg_dup(file);
    if (s == NULL || c == NULL) {
        cfg_errors_add(errs, "out of memory");
        goto fail;
    }
    /* What operators changed at run time wins over the file while the
     * file still says what it said then. A state file that cannot be
     * read is no reason to refuse to start: the file's settings hold. */
    if (state_read(s, &serrs) != 0) {
        for (size_t i = 0; i < serrs.n; i++)
            log_warnx("%s", serrs.msg[i]);
        log_warnx("state_file %s: not applied; the config file's settings are in force",
                  state_path(s));
        drop_all(s);
        *dropped = 1;
    }
    config_id(path, id, sizeof(id));
    *dropped += state_apply(s, file, id, c);
    cfg_errors_clear(&serrs);
    if (state_count(s) > 0 && cfg_check(c, &serrs) != 0) {
        for (size_t i = 0; i < serrs.n; i++)
            log_warnx("%s", serrs.msg[i]);
        log_warnx("state_file %s: the run-time changes do not fit %s; all dropped, the config "
                  "file's settings are in force",
                  state_path(s), path);
        *dropped += state_count(s);
        drop_all(s);
        cfg_unref(c);
        c = cfg_dup(file);
        if (c == NULL) {
            cfg_errors_add(errs, "out of memory");
            goto fail;
        }
    }
    if (cfg_check(c, errs) != 0) {
        cfg_check_paths(c, errs);
        goto fail;
    }
    cfg_errors_clear(&serrs);
    *st = s;
    *file_cfg = file;
    return c;
fail:
    cfg_errors_clear(&serrs);
    state_free(s);
    cfg_unref(c);
    cfg_unref(file);
    return NULL;
}

cache_cfg_t daemon_cache_cfg(const cfg_t *c)
{
    cache_cfg_t cc;

    memset(&cc, 0, sizeof(cc));
    cc.max_bytes = (size_t)c->cache_size;
    cc.min_ttl = c->min_ttl;
    cc.max_ttl = c->max_ttl;
    cc.negative_ttl = c->negative_ttl;
    cc.servfail_ttl = c->servfail_ttl;
    cc.serve_stale = c->serve_stale;
    cc.stale_max = c->stale_max;
    cc.stale_reply_ttl = 30; /* RFC 8767 4 */
    cc.prefetch = c->prefetch;
    cc.prefetch_popular = c->prefetch_popular;
    cc.prefetch_rate = c->prefetch_rate;
    return cc;
}

unsigned daemon_drain_ms(const cfg_t *c)
{
    uint64_t ms = (uint64_t)c->timeout_ms * 4 + 1000;
    return ms > 30000 ? 30000 : (unsigned)ms;
}

static void local_warn(void *arg, const char *msg)
{
    (void)arg;
    log_warnx("%s", msg);
}

int daemon_local_build(cfg_t *c, char *err, size_t errcap)
{
    local_src_t src = {
        .records = (const char *const *)c->local,
        .nrecords = c->nlocal,
        .local_ttl = c->local_ttl,
        .hosts = c->hosts,
        .special_names = c->special_names,
        .warn = local_warn,
    };
    localdata_t *ld = localdata_new(&src, err, errcap);

    if (ld == NULL)
        return -1;
    localdata_unref(c->localdata);
    c->localdata = ld;
    return 0;
}

/* Whether a and b have the same local answer keys. */
static bool same_local_keys(const cfg_t *a, const cfg_t *b)
{
    static const char *const names[] = {"local", "local_ttl", "hosts", "special_names"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        int k = cfg_key_index(names[i]);
        const char *x = a->text[k] != NULL ? a->text[k] : "";
        const char *y = b->text[k] != NULL ? b->text[k] : "";
        if (strcmp(x, y) != 0)
            return false;
    }
    return true;
}

/* Do a and b send the same names to the same upstreams, reached alike? */
static bool forward_same(const fwdrules_t *a, const fwdrules_t *b)
{
    if (a == NULL || b == NULL || a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        int j = fwdrules_find(b, a->rule[i].domain, a->rule[i].domain_len);
        if (j < 0 || !fwdrules_same_rule(a, i, b, (size_t)j) ||
            a->rule[i].pool->upstream_hash != b->rule[j].pool->upstream_hash)
            return false;
    }
    return true;
}

static void hosts_tick(evutil_socket_t fd, short what, void *arg)
{
    daemon_t *d = arg;
    char err[1024];
    cfg_t *c;

    (void)fd;
    (void)what;
    if (!localdata_hosts_changed(d->cfg->localdata))
        return;
    c = cfg_dup(d->cfg);
    if (c == NULL || daemon_local_build(c, err, sizeof(err)) != 0 ||
        daemon_publish(d, c, NULL, err, sizeof(err)) != 0)
        log_warnx("hosts: %s", c == NULL ? "out of memory" : err);
    else
        log_notice("hosts: read %s again", c->hosts);
    cfg_unref(c);
}

int daemon_watch_hosts(daemon_t *d)
{
    struct timeval one = {1, 0};

    d->hosts_ev = event_new(d->base, -1, EV_PERSIST, hosts_tick, d);
    return d->hosts_ev != NULL && event_add(d->hosts_ev, &one) == 0 ? 0 : -1;
}

int daemon_network_changed(daemon_t *d, const char *why, char *err, size_t errcap)
{
    fwdrules_t *rules;
    pool_t *pool;

    d->network_changes++;
    log_notice("network changed (%s): reconnecting to the upstreams", why);
    /* A new pool of the same servers (resolv_conf read now when they come
     * from it): the workers make new upstream objects, which connect and
     * resolve their host names again on the next query. */
    pool = pool_new(d->cfg, d->pool, err, errcap);
    if (pool == NULL)
        return -1;
    pool_forget_health(pool);
    if (pool_validate(pool, d->base, err, errcap) != 0 ||
        daemon_publish(d, d->cfg, pool, err, errcap) != 0) {
        pool_unref(pool);
        return -1;
    }
    pool_unref(pool);
    /* The forward rules likewise (`resolvconf` read now), even when they
     * send the same names to the same upstreams. */
    rules = fwdrules_new(d->cfg, d->fwdrules, err, errcap);
    if (rules == NULL)
        return -1;
    for (size_t i = 0; i < rules->n; i++) {
        pool_forget_health(rules->rule[i].pool);
        if (pool_validate(rules->rule[i].pool, d->base, err, errcap) != 0) {
            fwdrules_unref(rules);
            return -1;
        }
    }
    daemon_forward_install(d, rules);
    return 0;
}

static void network_cb(void *arg, const char *why)
{
    daemon_t *d = arg;
    char err[1024];

    if (daemon_network_changed(d, why, err, sizeof(err)) != 0)
        log_warnx("network changed (%s): %s; keeping the upstreams", why, err);
}

int daemon_watch_network(daemon_t *d)
{
    char err[512];

    if (!d->cfg->network_watch)
        return 0;
    d->netwatch = netwatch_new(d->base, network_cb, d, err, sizeof(err));
    return d->netwatch != NULL ? 0 : -1;
}

int daemon_forward_build(daemon_t *d, const cfg_t *c, fwdrules_t **out, char *err, size_t errcap)
{
    fwdrules_t *r = fwdrules_new(c, d->fwdrules, err, errcap);

    *out = NULL;
    if (r == NULL)
        return -1;
    for (size_t i = 0; i < r->n; i++)
        if (pool_validate(r->rule[i].pool, d->base, err, errcap) != 0) {
            fwdrules_unref(r);
            return -1;
        }
    if (forward_same(r, d->fwdrules)) {
        /* Nothing to change; what resolv_conf looked like is news. */
        d->fwdrules->rc_mtime = r->rc_mtime;
        d->fwdrules->rc_size = r->rc_size;
        d->fwdrules->rc_ino = r->rc_ino;
        fwdrules_unref(r);
        return 0;
    }
    *out = r;
    return 0;
}

/* Drop the cached answers at and below a rule's domain. */
static void forward_flush(daemon_t *d, const fwdrule_t *ru, const char *why)
{
    size_t n = cache_flush_below(d->cache, ru->domain, ru->domain_len);
    log_info("forward %s %s: %zu cached answers at and below it dropped", ru->name, why, n);
}

void daemon_forward_install(daemon_t *d, fwdrules_t *r)
{
    fwdrules_t *old = d->fwdrules;

    /* Answers cached from the old upstreams of a name must not outlive
     * the rule that sent it there (a VPN's names after it went down). */
    for (size_t i = 0; old != NULL && i < old->n; i++) {
        int j = fwdrules_find(r, old->rule[i].domain, old->rule[i].domain_len);
        if (j < 0)
            forward_flush(d, &old->rule[i], "removed");
        else if (!fwdrules_same_rule(old, i, r, (size_t)j))
            forward_flush(d, &r->rule[j], "changed");
    }
    for (size_t j = 0; j < r->n; j++)
        if (fwdrules_find(old, r->rule[j].domain, r->rule[j].domain_len) < 0)
            forward_flush(d, &r->rule[j], "added");
    for (unsigned i = 0; i < d->nworkers; i++)
        worker_update_forward(d->workers[i], r);
    d->fwdrules = r;
    fwdrules_unref(old);
}

int daemon_publish(daemon_t *d, cfg_t *c, pool_t *pool, char *err, size_t errcap)
{
    bool new_pool = false;
    fwdrules_t *rules = NULL;

    if (daemon_forward_build(d, c, &rules, err, errcap) != 0)
        return -1;

    if (c->localdata == NULL) {
        /* Unchanged keys keep the table (and the hosts files as read). */
        if (d->cfg != NULL && d->cfg->localdata != NULL && same_local_keys(d->cfg, c)) {
            localdata_ref(d->cfg->localdata);
            c->localdata = d->cfg->localdata;
        } else if (daemon_local_build(c, err, errcap) != 0) {
            return -1;
        }
    }

    if (pool == NULL && (d->pool == NULL || !pool_matches(d->pool, c))) {
        pool = pool_new(c, d->pool, err, errcap);
        if (pool == NULL) {
            fwdrules_unref(rules);
            return -1;
        }
        if (pool_validate(pool, d->base, err, errcap) != 0) {
            pool_unref(pool);
            fwdrules_unref(rules);
            return -1;
        }
        new_pool = true;
    } else if (pool != NULL) {
        pool_ref(pool);
        new_pool = true;
    }
    if (strcmp(c->query_log, d->cfg->query_log) != 0 &&
        log_query_open(c->query_log, err, errcap) != 0) {
        log_warnx("%s", err);
        if (new_pool)
            pool_unref(pool);
        fwdrules_unref(rules);
        return -1;
    }
    if (d->block != NULL && strcmp(c->block_names, d->cfg->block_names) != 0 &&
        blocklist_set_names(d->block, c->block_names, err, errcap) != 0) {
        if (new_pool)
            pool_unref(pool);
        return -1;
    }
    /* Lists are read in a helper thread: the ones in force answer until
     * the new ones are ready. */
    if (d->block != NULL && strcmp(c->block, d->cfg->block) != 0)
        blocklist_load(d->block, c->block, false, NULL, 0);
    log_set_level(c->log_level);
    if (d->cache != NULL) {
        cache_cfg_t cc = daemon_cache_cfg(c);
        cache_set_cfg(d->cache, &cc);
    }
    for (unsigned i = 0; i < d->nworkers; i++)
        worker_update(d->workers[i], c, new_pool ? pool : NULL);
    cfg_ref(c);
    cfg_unref(d->cfg);
    d->cfg = c;
    if (new_pool) {
        pool_unref(d->pool);
        d->pool = pool;
    }
    if (rules != NULL) {
        daemon_forward_install(d, rules);
        fwdrules_warn_plaintext(d->fwdrules, d->pool, NULL);
    }
    return 0;
}

/* Keys that need a restart keep their running value through a reload. */
static void keep_restart_keys(const cfg_t *running, cfg_t *c)
{
    char err[512];

    for (size_t i = 0; i < cfg_nkeys(); i++) {
        if (!cfg_key_restart(i) || running->text[i] == NULL || c->text[i] == NULL)
            continue;
        if (strcmp(running->text[i], c->text[i]) == 0)
            continue;
        log_warnx("%s changed in %s; it takes effect at the next restart", cfg_key_name(i),
                  c->path);
        if (cfg_set(c, cfg_key_name(i), running->text[i], running->where[i], false, err,
                    sizeof(err)) != CFG_OK)
            log_warnx("%s", err);
    }
}

static void join_errors(const cfg_errors_t *e, char *out, size_t cap)
{
    size_t off = 0;

    out[0] = '\0';
    for (size_t i = 0; i < e->n && off < cap; i++) {
        int n = snprintf(out + off, cap - off, "%s%s", i ? "; " : "", e->msg[i]);
        if (n < 0)
            break;
        off += (size_t)n;
    }
}

int daemon_reload(daemon_t *d, char *err, size_t errcap)
{
    cfg_errors_t errs = {0};
    state_t *st = NULL;
    cfg_t *file = NULL;
    size_t dropped = 0;
    cfg_t *c = daemon_load(d->config_path, &file, &st, &dropped, &errs);
    int rc = -1;

    if (c == NULL) {
        join_errors(&errs, err, errcap);
        goto done;
    }
    keep_restart_keys(d->cfg, c);
    /* The state file stays the running one (state_file needs a restart). */
    if (strcmp(state_path(st), state_path(d->state)) != 0) {
        char id[4096];
        state_free(st);
        cfg_unref(c);
        st = state_new(state_path(d->state));
        c = cfg_dup(file);
        if (st == NULL || c == NULL) {
            snprintf(err, errcap, "out of memory");
            goto done;
        }
        keep_restart_keys(d->cfg, c);
        if (state_read(st, &errs) != 0) {
            join_errors(&errs, err, errcap);
            goto done;
        }
        config_id(d->config_path, id, sizeof(id));
        dropped += state_apply(st, file, id, c);
        if (cfg_check(c, &errs) != 0) {
            join_errors(&errs, err, errcap);
            goto done;
        }
    }
    bool same_lists = strcmp(c->block, d->cfg->block) == 0;
    /* A renewed certificate: new connections get it, established ones
     * keep theirs (tlslisten.h). One that does not load fails the reload
     * and the running one stays. */
    if (c->ntls_listen > 0 && tlslisten_load(c, err, errcap) != 0)
        goto done;
    /* reload re-reads the hosts files whatever their times say. */
    if (daemon_local_build(c, err, errcap) != 0 || daemon_publish(d, c, NULL, err, errcap) != 0)
        goto done;
    if (d->block != NULL && same_lists)
        blocklist_load(d->block, c->block, false, NULL, 0); /* re-read them */
    state_free(d->state);
    d->state = st;
    st = NULL;
    cfg_unref(d->file_cfg);
    d->file_cfg = file;
    file = NULL;
    if (dropped > 0)
        daemon_save_state(d);
    rc = 0;
    log_notice("reloaded %s", d->config_path);
done:
    state_free(st);
    cfg_unref(c);
    cfg_unref(file);
    cfg_errors_clear(&errs);
    return rc;
}

int daemon_save_state(daemon_t *d)
{
    char err[1200];

    if (state_save(d->state, err, sizeof(err)) == 0)
        return 0;
    log_warnx("%s; the run-time changes in force will not survive a restart", err);
    return -1;
}

/* ------------------------------------------------------------- commands */

static json_t *fail(const char *msg)
{
    return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static uint64_t uptime_s(const daemon_t *d)
{
    return (pool_now_us() - d->start_us) / 1000000u;
}

static void sum_stats(daemon_t *d, stats_totals_t *t)
{
    stats_thread_t *threads[64];
    size_t n = 0;

    for (unsigned i = 0; i < d->nworkers && n < 64; i++)
        threads[n++] = &d->workers[i]->stats;
    stats_sum(threads, n, t);
}

/* The portal pass: {"open","names"}, with "ok" and "remaining_s" for
 * `portal`. */
static json_t *portal_json(daemon_t *d, bool full)
{
    bool open = portal_is_open(d->portal);
    json_int_t names = d->portal != NULL ? (json_int_t)atomic_load(&d->portal->names) : 0;

    if (!full)
        return json_pack("{s:b, s:I}", "open", open, "names", names);
    return json_pack("{s:b, s:b, s:I, s:I}", "ok", 1, "open", open, "remaining_s",
                     (json_int_t)portal_remaining_s(d->portal), "names", names);
}

static json_t *cmd_portal(daemon_t *d, const ctl_request_t *req)
{
    unsigned secs;

    if (req->cmd == CTL_PORTAL_CLOSE) {
        if (d->portal != NULL && portal_is_open(d->portal))
            portal_close(d->portal, "stubresctl portal close");
    } else if (req->cmd == CTL_PORTAL_ALLOW) {
        if (d->portal == NULL)
            return fail("portal allow: portal_resolv_conf is not set");
        if (portal_parse_seconds(req->argc > 0 ? req->argv[0] : NULL, &secs) != 0)
            return fail("usage: portal allow [SECONDS] (1 to 86400)");
        portal_allow(d->portal, secs);
    }
    return portal_json(d, true);
}

static json_t *cmd_stats(daemon_t *d)
{
    stats_totals_t t;
    cache_stats_t cs;

    sum_stats(d, &t);
    memset(&cs, 0, sizeof(cs));
    if (d->cache != NULL)
        cache_stats(d->cache, &cs);
    json_t *o = stats_json(&t, &cs, d->pool, uptime_s(d), d->nworkers);
    json_t *fw = json_array();
    for (size_t i = 0; fw != NULL && d->fwdrules != NULL && i < d->fwdrules->n; i++)
        json_array_append_new(
            fw, json_pack("{s:s, s:I}", "domain", d->fwdrules->rule[i].name, "queries",
                          (json_int_t)atomic_load(&d->fwdrules->rule[i].queries)));
    if (o != NULL) {
        json_object_set_new(o, "cache_file",
                            json_pack("{s:I, s:I}", "loaded", (json_int_t)d->cf_loaded, "saved",
                                      (json_int_t)d->cf_saved));
        json_object_set_new(o, "network_changes", json_integer((json_int_t)d->network_changes));
    }
    if (o != NULL && fw != NULL)
        json_object_set_new(o, "forward", fw);
    else
        json_decref(fw);
    if (o != NULL)
        json_object_set_new(o, "portal", portal_json(d, false));
    return o;
}

/* The rules in force: domain and upstreams (`resolvconf` as read now),
 * for `forward` and `status`. */
static json_t *forward_json(const daemon_t *d)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && d->fwdrules != NULL && i < d->fwdrules->n; i++) {
        const fwdrule_t *ru = &d->fwdrules->rule[i];
        json_t *servers = json_array();
        for (size_t k = 0; servers != NULL && k < ru->pool->n; k++)
            json_array_append_new(servers, json_string(ru->pool->servers[k]->spec.name));
        json_array_append_new(a, json_pack("{s:s, s:o, s:b, s:b}", "domain", ru->name, "servers",
                                           servers, "encrypted", ru->pool->encrypted, "resolvconf",
                                           ru->resolvconf));
    }
    return a;
}

static json_t *overrides_json(const daemon_t *d)
{
    json_t *a = json_array();
    state_override_t o;

    for (size_t i = 0; a != NULL && i < state_count(d->state); i++) {
        char when[40] = "";
        time_t t = (time_t)0;
        struct tm tm;
        state_get(d->state, i, &o);
        t = (time_t)o.since;
        if (o.since > 0 && gmtime_r(&t, &tm) != NULL)
            strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        char v[CFG_VALUE_MAX + 16], fv[CFG_VALUE_MAX + 16];
        cfg_redact(o.key, o.value, v, sizeof(v));
        cfg_redact(o.key, o.file_value != NULL ? o.file_value : "", fv, sizeof(fv));
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "key", o.key, "value", v,
                                           "file_value", fv, "since", when));
    }
    return a;
}

static json_t *cmd_status(daemon_t *d)
{
    json_t *o, *ups = json_array(), *listen = json_array();
    uint64_t now_us = pool_now_us();
    stats_totals_t t;
    cache_stats_t cs;
    char strategy[32], err[64];

    sum_stats(d, &t);
    memset(&cs, 0, sizeof(cs));
    if (d->cache != NULL)
        cache_stats(d->cache, &cs);
    for (size_t i = 0; d->pool != NULL && i < d->pool->n; i++)
        json_array_append_new(ups, stats_upstream_json(d->pool->servers[i], now_us, false));
    for (size_t i = 0; i < d->listeners.n; i++) {
        listen_sock_t *ls = &d->listeners.socks[0][i];
        char a[ADDR_TEXT_MAX + 8];
        addr_format((struct sockaddr *)&ls->addr, a, ADDR_TEXT_MAX);
        strcat(a, ls->type == SOCK_DGRAM ? " udp" : " tcp");
        json_array_append_new(listen, json_string(a));
    }
    cfg_get(d->cfg, "strategy", strategy, sizeof(strategy), err, sizeof(err));
    o = json_pack("{s:b, s:s, s:I, s:i, s:i, s:s, s:s, s:s, s:o, s:o}", "ok", 1, "version",
                  PACKAGE_VERSION, "uptime_s", (json_int_t)uptime_s(d), "pid", (int)getpid(),
                  "threads", (int)d->nworkers, "config", d->config_path, "state_file",
                  state_path(d->state), "strategy", strategy, "listen", listen, "upstreams", ups);
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "encrypted", json_boolean(d->pool != NULL && d->pool->encrypted));
    json_object_set_new(o, "cache",
                        json_pack("{s:I, s:I, s:I}", "entries", (json_int_t)cs.entries, "bytes",
                                  (json_int_t)cs.bytes, "max_bytes",
                                  (json_int_t)d->cfg->cache_size));
    json_object_set_new(o, "inflight", json_integer((json_int_t)t.inflight));
    json_object_set_new(o, "portal", portal_json(d, false));
    json_object_set_new(o, "build", json_string(cfg_build_info()));
    json_object_set_new(o, "overrides", overrides_json(d));
    json_object_set_new(o, "forward", forward_json(d));
    return o;
}

/* Record what is now in force in a copy of the state (the caller has
 * published it), write it, and put the copy in place. A state file that
 * cannot be written does not undo the change: the reply says
 * "persisted": false and why, and the log says it once. */
static void persist(daemon_t *d, state_t *st, json_t *reply)
{
    char err[1200];

    state_free(d->state);
    d->state = st;
    if (state_save(st, err, sizeof(err)) == 0)
        return;
    log_warnx("%s; the change is in force but will not survive a restart", err);
    json_object_set_new(reply, "persisted", json_false());
    json_object_set_new(reply, "warning", json_string(err));
}

/* Apply one change (already checked as far as cfg_set goes) to a copy of
 * the settings, check it, put it in force, then persist it: a change the
 * daemon refuses is never written. */
/* The reply to `config NAME` and `config NAME=VALUE`: value is what is in
 * force, configured the key's own text when that differs. dns_server and
 * dns_port name the upstream in use (the class's DNSServer and DNSPort read
 * so), which servers, resolv_conf or the protocol's default port may decide
 * rather than their text; text is that text, cfg_get's for other keys. */
static void in_force(const daemon_t *d, const char *name, const char *text, char *v, size_t cap)
{
    const spec_t *up = d->pool != NULL && d->pool->n > 0 ? &d->pool->servers[0]->spec : NULL;

    snprintf(v, cap, "%s", text);
    if (up != NULL && strcasecmp(name, "dns_server") == 0 && text[0] == '\0')
        snprintf(v, cap, "%s", up->host);
    else if (up != NULL && strcasecmp(name, "dns_port") == 0)
        snprintf(v, cap, "%u", (unsigned)up->port);
}

static json_t *read_back(const daemon_t *d, const char *name, const char *text)
{
    char v[CFG_VALUE_MAX + 64];
    json_t *r;

    in_force(d, name, text, v, sizeof(v));
    r = json_pack("{s:b, s:s, s:s}", "ok", 1, "name", name, "value", v);
    if (r != NULL && strcmp(v, text) != 0)
        json_object_set_new(r, "configured", json_string(text));
    return r;
}

/* The text read_back compares with: dns_port's own (cfg_get reads 0 as the
 * protocol's port), else cfg_get's. */
static const char *key_text(const cfg_t *c, const char *name, const char *got)
{
    int i = cfg_key_index(name);

    return i >= 0 && strcasecmp(cfg_key_name((size_t)i), "dns_port") == 0 ? c->text[i] : got;
}

static json_t *change(daemon_t *d, const char *name, const char *value)
{
    char err[2048], canon[CFG_VALUE_MAX + 64];
    cfg_errors_t errs = {0};
    cfg_t *c = cfg_dup(d->cfg);
    state_t *st = NULL;
    pool_t *pool = NULL;
    json_t *reply = NULL;
    int idx = cfg_key_index(name);
    bool kept = true;

    if (c == NULL)
        return fail("out of memory");
    if (cfg_set(c, name, value, NULL, true, err, sizeof(err)) != CFG_OK) {
        reply = fail(err);
        goto done;
    }
    if (cfg_check(c, &errs) != 0) {
        join_errors(&errs, err, sizeof(err));
        reply = fail(err);
        goto done;
    }
    if (cfg_key_upstream((size_t)idx) && !pool_matches(d->pool, c)) {
        pool = pool_new(c, d->pool, err, sizeof(err));
        if (pool == NULL || pool_validate(pool, d->base, err, sizeof(err)) != 0) {
            reply = fail(err);
            goto done;
        }
    }
    st = state_dup(d->state);
    if (st == NULL) {
        reply = fail("out of memory");
        goto done;
    }
    const char *key = cfg_key_name((size_t)idx);
    char keep_err[1200];
    if (state_set(st, d->file_cfg, key, c->text[idx], (int64_t)time(NULL), keep_err,
                  sizeof(keep_err)) != 0)
        kept = false;
    if (daemon_publish(d, c, pool, err, sizeof(err)) != 0) {
        reply = fail(err);
        goto done;
    }
    cfg_get(c, name, canon, sizeof(canon), err, sizeof(err));
    log_notice("control: %s = %s", key, key_text(c, name, canon));
    reply = read_back(d, name, key_text(c, name, canon));
    if (reply == NULL)
        goto done;
    persist(d, st, reply);
    st = NULL;
    if (!kept) {
        log_warnx("%s; the change is in force but will not survive a restart", keep_err);
        json_object_set_new(reply, "persisted", json_false());
        json_object_set_new(reply, "warning", json_string(keep_err));
    }
done:
    cfg_errors_clear(&errs);
    pool_unref(pool);
    state_free(st);
    cfg_unref(c);
    return reply;
}

/* Put the config file's values of key (and its related keys) into c:
 * empty ones first, since servers and dns_server clear each other when
 * set non-empty. */
static int restore_file_value(daemon_t *d, cfg_t *c, const char *key, char *err, size_t errcap)
{
    const char *names[STATE_RELATED_MAX];
    size_t n = state_related_keys(key, names);

    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            int k = cfg_key_index(names[i]);
            const char *v = d->file_cfg->text[k] != NULL ? d->file_cfg->text[k] : "";
            if ((pass == 0) != (v[0] == '\0'))
                continue;
            if (cfg_set(c, names[i], v, d->file_cfg->where[k], false, err, errcap) != CFG_OK)
                return -1;
        }
    return 0;
}

/* Whether `config reset name` resets the entry of key. */
static bool reset_covers(const char *name, const char *key)
{
    const char *rel[STATE_RELATED_MAX];
    size_t n = state_related_keys(cfg_key_name((size_t)cfg_key_index(name)), rel);

    for (size_t i = 0; i < n; i++)
        if (cfg_key_index(rel[i]) == cfg_key_index(key))
            return true;
    return false;
}

/* `config reset [NAME]`: back to the config file's value of NAME (of
 * every key changed at run time without NAME). */
static json_t *cmd_reset(daemon_t *d, const char *name)
{
    char err[2048];
    cfg_errors_t errs = {0};
    cfg_t *c = NULL;
    state_t *st = NULL;
    pool_t *pool = NULL;
    json_t *reply = NULL, *done_keys = json_array();
    bool upstream = false;
    state_override_t o;

    if (done_keys == NULL)
        return fail("out of memory");
    if (name != NULL && cfg_key_index(name) < 0) {
        snprintf(err, sizeof(err), "config reset: unknown setting '%.200s'", name);
        reply = fail(err);
        goto done;
    }
    c = cfg_dup(d->cfg);
    st = state_dup(d->state);
    if (c == NULL || st == NULL) {
        reply = fail("out of memory");
        goto done;
    }
    for (size_t i = 0; i < state_count(d->state); i++) {
        state_get(d->state, i, &o);
        int k = cfg_key_index(o.key);
        if (name != NULL && !reset_covers(name, o.key))
            continue;
        if (restore_file_value(d, c, o.key, err, sizeof(err)) != 0) {
            reply = fail(err);
            goto done;
        }
        upstream = upstream || cfg_key_upstream((size_t)k);
        state_remove(st, o.key);
        json_array_append_new(done_keys, json_string(o.key));
    }
    if (cfg_check(c, &errs) != 0) {
        join_errors(&errs, err, sizeof(err));
        reply = fail(err);
        goto done;
    }
    if (upstream && !pool_matches(d->pool, c)) {
        pool = pool_new(c, d->pool, err, sizeof(err));
        if (pool == NULL || pool_validate(pool, d->base, err, sizeof(err)) != 0) {
            reply = fail(err);
            goto done;
        }
    }
    if (json_array_size(done_keys) > 0 && daemon_publish(d, c, pool, err, sizeof(err)) != 0) {
        reply = fail(err);
        goto done;
    }
    reply = json_pack("{s:b, s:O}", "ok", 1, "reset", done_keys);
    if (reply == NULL || json_array_size(done_keys) == 0)
        goto done;
    for (size_t i = 0; i < json_array_size(done_keys); i++)
        log_notice("control: %s reset to the config file's value",
                   json_string_value(json_array_get(done_keys, i)));
    persist(d, st, reply);
    st = NULL;
done:
    json_decref(done_keys);
    cfg_errors_clear(&errs);
    pool_unref(pool);
    state_free(st);
    cfg_unref(c);
    return reply;
}

static json_t *cmd_config(daemon_t *d, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char name[128], value[CFG_VALUE_MAX + 64], err[1024];

    if (eq != NULL) {
        size_t nl = (size_t)(eq - arg);
        if (nl >= sizeof(name))
            return fail("setting name too long");
        memcpy(name, arg, nl);
        name[nl] = '\0';
        return change(d, name, eq + 1);
    }
    snprintf(name, sizeof(name), "%s", arg);
    cfg_status_t st = cfg_get(d->cfg, name, value, sizeof(value), err, sizeof(err));
    if (st == CFG_EREADONLY && strcasecmp(name, "idle") == 0) {
        stats_totals_t t;
        sum_stats(d, &t);
        snprintf(value, sizeof(value), "%s", t.inflight == 0 ? "true" : "false");
    } else if (st != CFG_OK) {
        return fail(err);
    }
    return read_back(d, name, key_text(d->cfg, name, value));
}

/* `config` alone: every key in force (as `config NAME` reads it) and where
 * its value comes from: "runtime" (a change kept in the state, with since),
 * "file" (with where, FILE:LINE) or "default". */
static json_t *cmd_config_all(daemon_t *d)
{
    json_t *keys = json_array(), *o;
    char text[CFG_VALUE_MAX + 64], v[CFG_VALUE_MAX + 64], err[1024];
    state_override_t ov;

    if (keys == NULL)
        return NULL;
    for (size_t i = 0; i < cfg_nkeys(); i++) {
        const char *name = cfg_key_name(i);
        if (!cfg_key_settable(i) ||
            cfg_get(d->cfg, name, text, sizeof(text), err, sizeof(err)) != CFG_OK)
            continue;
        in_force(d, name, key_text(d->cfg, name, text), v, sizeof(v));
        o = json_pack("{s:s, s:s}", "name", name, "value", v);
        if (o == NULL)
            break;
        ov.key = NULL;
        for (size_t k = 0; k < state_count(d->state) && ov.key == NULL; k++) {
            state_get(d->state, k, &ov);
            if (strcasecmp(ov.key, name) != 0)
                ov.key = NULL;
        }
        if (ov.key != NULL) {
            char when[40] = "";
            time_t t = (time_t)ov.since;
            struct tm tm;
            if (ov.since > 0 && gmtime_r(&t, &tm) != NULL)
                strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
            json_object_set_new(o, "origin", json_string("runtime"));
            json_object_set_new(o, "since", json_string(when));
        } else if (d->file_cfg->where[i] != NULL) {
            json_object_set_new(o, "origin", json_string("file"));
            json_object_set_new(o, "where", json_string(d->file_cfg->where[i]));
        } else {
            json_object_set_new(o, "origin", json_string("default"));
        }
        json_array_append_new(keys, o);
    }
    return json_pack("{s:b, s:o}", "ok", 1, "config", keys);
}

static json_t *cmd_server(daemon_t *d, const ctl_request_t *req)
{
    char list[CFG_VALUE_MAX + 1];
    size_t off = 0;
    json_t *r, *servers;

    list[0] = '\0';
    for (int i = 0; i < req->argc; i++) {
        int n = snprintf(list + off, sizeof(list) - off, "%s%s", i ? " " : "", req->argv[i]);
        if (n < 0 || (size_t)n >= sizeof(list) - off)
            return fail("server: list too long");
        off += (size_t)n;
    }
    r = change(d, "servers", list);
    if (r == NULL || !json_is_true(json_object_get(r, "ok")))
        return r;
    servers = json_array();
    for (size_t i = 0; i < d->pool->n; i++)
        json_array_append_new(servers, json_string(d->pool->servers[i]->spec.name));
    /* The change's reply, with the list in force instead of the text. */
    json_object_del(r, "name");
    json_object_del(r, "value");
    json_object_set_new(r, "servers", servers);
    return r;
}

static json_t *cmd_flush(daemon_t *d, const ctl_request_t *req)
{
    uint8_t wire[SR_NAME_MAX_WIRE];
    size_t len = 0, n;

    if (d->cache == NULL)
        return json_pack("{s:b, s:i}", "ok", 1, "flushed", 0);
    bool subtree = req->argc == 2;

    if (subtree && strcmp(req->argv[1], "--subtree") != 0)
        return fail("usage: cache flush [NAME [--subtree]]");
    if (req->argc == 0) {
        n = cache_flush(d->cache, NULL, 0);
    } else {
        if (sr_name_from_text(req->argv[0], wire, sizeof(wire), &len) != SR_OK) {
            char err[400];
            snprintf(err, sizeof(err), "cache flush: '%.255s' is not a domain name", req->argv[0]);
            return fail(err);
        }
        n = subtree ? cache_flush_below(d->cache, wire, len) : cache_flush(d->cache, wire, len);
    }
    log_info("control: cache flush%s%s%s: %zu entries", req->argc ? " " : "",
             req->argc ? req->argv[0] : "", subtree ? " and below" : "", n);
    return json_pack("{s:b, s:I}", "ok", 1, "flushed", (json_int_t)n);
}

/* `cache save`: cache_file written now, on this thread (the snapshot
 * pauses each shard only for its copy). */
static json_t *cmd_cache_save(daemon_t *d)
{
    char err[1024];
    size_t n = 0;

    if (daemon_cache_save(d, false, &n, err, sizeof(err)) != 0)
        return fail(err);
    log_info("control: cache save: %zu entries to %s", n, d->cfg->cache_file);
    return json_pack("{s:b, s:I, s:s}", "ok", 1, "saved", (json_int_t)n, "path",
                     d->cfg->cache_file);
}

/* The rules of the settings in force but the one for domain (wire,
 * lowercase), joined as the forward key takes them, into out. Whether
 * there was one for domain goes to *found. -1 when too long. */
static int forward_others(const daemon_t *d, const uint8_t *domain, size_t dlen, bool *found,
                          char *out, size_t cap)
{
    char err[1024];
    fwdrules_t *cur = fwdrules_parse(d->cfg->forward, d->cfg->nforward, err, sizeof(err));
    size_t off = 0;
    int rc = 0;

    *found = false;
    out[0] = '\0';
    for (size_t i = 0; cur != NULL && i < cur->n && rc == 0; i++) {
        if (cur->rule[i].domain_len == dlen && memcmp(cur->rule[i].domain, domain, dlen) == 0) {
            *found = true;
            continue;
        }
        int w = snprintf(out + off, cap - off, "%s%s", off ? "; " : "", cur->rule[i].text);
        if (w < 0 || (size_t)w >= cap - off)
            rc = -1;
        else
            off += (size_t)w;
    }
    fwdrules_unref(cur);
    return rc;
}

/* Put the forward rules text in force through the `forward` key (checked,
 * published, kept in the state file like a `config` change); the reply
 * lists the rules then in force. */
static json_t *forward_change(daemon_t *d, const char *text)
{
    json_t *r = change(d, "forward", text);

    if (r == NULL || !json_is_true(json_object_get(r, "ok")))
        return r;
    json_object_del(r, "name");
    json_object_del(r, "value");
    json_object_set_new(r, "rules", forward_json(d));
    return r;
}

/* `forward add DOMAIN SPEC...`: add the rule, or replace the one for
 * DOMAIN. */
static json_t *cmd_forward_add(daemon_t *d, const ctl_request_t *req)
{
    char text[CFG_VALUE_MAX + 1], canon[CFG_VALUE_MAX + 1], err[1200];
    char *list = malloc(2 * CFG_VALUE_MAX + 4);
    fwdrule_t *rule = malloc(sizeof(*rule));
    size_t off = 0;
    bool found;
    json_t *r = NULL;

    if (list == NULL || rule == NULL) {
        r = fail("out of memory");
        goto done;
    }
    for (int i = 0; i < req->argc; i++) {
        int w = snprintf(text + off, sizeof(text) - off, "%s%s", i ? " " : "", req->argv[i]);
        if (w < 0 || (size_t)w >= sizeof(text) - off) {
            r = fail("forward add: the rule is too long");
            goto done;
        }
        off += (size_t)w;
    }
    if (fwdrule_parse(text, rule, canon, sizeof(canon), err + 13, sizeof(err) - 13) != 0) {
        memcpy(err, "forward add: ", 13);
        r = fail(err);
        goto done;
    }
    if (forward_others(d, rule->domain, rule->domain_len, &found, list, CFG_VALUE_MAX + 1) != 0) {
        r = fail("forward add: the rules are too long");
        goto done;
    }
    off = strlen(list);
    snprintf(list + off, 2 * CFG_VALUE_MAX + 4 - off, "%s%s", off ? "; " : "", canon);
    r = forward_change(d, list);
    if (r != NULL && json_is_true(json_object_get(r, "ok")))
        log_notice("control: forward %s %s", found ? "replaced" : "added", canon);
done:
    free(rule);
    free(list);
    return r;
}

/* `forward remove DOMAIN`. */
static json_t *cmd_forward_remove(daemon_t *d, const ctl_request_t *req)
{
    uint8_t wire[SR_NAME_MAX_WIRE];
    size_t len = 0;
    char *list = malloc(CFG_VALUE_MAX + 1), err[400];
    bool found = false;
    json_t *r = NULL;

    if (list == NULL)
        return fail("out of memory");
    if (sr_name_from_text(req->argv[0], wire, sizeof(wire), &len) != SR_OK) {
        snprintf(err, sizeof(err), "forward remove: '%.255s' is not a domain name", req->argv[0]);
        r = fail(err);
        goto done;
    }
    for (size_t i = 0; i < len; i++)
        if (wire[i] >= 'A' && wire[i] <= 'Z')
            wire[i] = (uint8_t)(wire[i] + 32);
    if (forward_others(d, wire, len, &found, list, CFG_VALUE_MAX + 1) != 0 || !found) {
        snprintf(err, sizeof(err), "forward remove: no rule for '%.255s'", req->argv[0]);
        r = fail(err);
        goto done;
    }
    r = forward_change(d, list);
    if (r != NULL && json_is_true(json_object_get(r, "ok")))
        log_notice("control: forward %s removed", req->argv[0]);
done:
    free(list);
    return r;
}

static void dump_line(void *arg, const char *line)
{
    json_array_append_new((json_t *)arg, json_string(line));
}

/* entries: one line per entry (cache.h), for scripts; zone: the same as
 * master-file lines, which stubresctl prints. */
static json_t *cmd_dump(daemon_t *d)
{
    json_t *entries = json_array(), *zone = json_array();
    uint32_t now = worker_now_s();

    if (entries == NULL || zone == NULL) {
        json_decref(entries);
        json_decref(zone);
        return NULL;
    }
    if (d->cache != NULL) {
        cache_dump(d->cache, now, dump_line, entries);
        cache_dump_zone(d->cache, now, dump_line, zone);
    }
    return json_pack("{s:b, s:o, s:o}", "ok", 1, "entries", entries, "zone", zone);
}

static void list_line(void *arg, const char *line)
{
    json_array_append_new(arg, json_string(line));
}

/* The `local` records in force, as {"ok": true, "records": [...]}, or
 * added to reply. */
static json_t *local_list(daemon_t *d, json_t *reply)
{
    json_t *a = json_array();

    if (reply == NULL)
        reply = json_pack("{s:b}", "ok", 1);
    if (reply == NULL || a == NULL) {
        json_decref(a);
        return reply;
    }
    localdata_list(d->cfg->localdata, list_line, a);
    json_object_del(reply, "name");
    json_object_del(reply, "value");
    json_object_set_new(reply, "records", a);
    return reply;
}

/* The `local` key's new text: the records in force, with text added or
 * those of (name, type) removed (type -1: every type); *removed counts
 * them. NULL with err. */
struct local_edit {
    char *out;
    size_t off, cap;
    const uint8_t *name;
    size_t name_len;
    int type;
    size_t removed;
    local_rec_t rec;
};

static int local_keep(void *arg, const char *text)
{
    struct local_edit *x = arg;
    char err[256];

    if (x->name != NULL && local_rec_parse(text, &x->rec, NULL, 0, err, sizeof(err)) == 0 &&
        sr_name_equal(x->rec.name, x->rec.name_len, x->name, x->name_len) &&
        (x->type < 0 || x->rec.type == x->type)) {
        x->removed++;
        return 0;
    }
    int n = snprintf(x->out + x->off, x->cap - x->off, "%s%s", x->off ? ", " : "", text);
    if (n < 0 || (size_t)n >= x->cap - x->off)
        return -1;
    x->off += (size_t)n;
    return 0;
}

static json_t *cmd_local_edit(daemon_t *d, const ctl_request_t *req)
{
    struct local_edit *x = calloc(1, sizeof(*x));
    char err[600], canon[CFG_VALUE_MAX + 64];
    uint8_t wire[SR_NAME_MAX_WIRE];
    int k = cfg_key_index("local");
    json_t *r = NULL;

    if (x == NULL)
        return fail("out of memory");
    x->cap = CFG_VALUE_MAX + 1;
    x->out = calloc(1, x->cap);
    x->type = -1;
    if (x->out == NULL) {
        r = fail("out of memory");
        goto done;
    }
    if (req->cmd == CTL_LOCAL_REMOVE) {
        if (sr_name_from_text(req->argv[0], wire, sizeof(wire), &x->name_len) != SR_OK) {
            snprintf(err, sizeof(err), "local remove: '%.100s' is not a domain name", req->argv[0]);
            r = fail(err);
            goto done;
        }
        x->name = wire;
        if (req->argc > 1 && (x->type = sr_type_from_name(req->argv[1])) < 0) {
            snprintf(err, sizeof(err), "local remove: '%.40s' is not a record type", req->argv[1]);
            r = fail(err);
            goto done;
        }
    } else if (local_rec_parse(req->argv[0], &x->rec, canon, sizeof(canon), err, sizeof(err)) !=
               0) {
        char msg[700];
        snprintf(msg, sizeof(msg), "local add: %s", err);
        r = fail(msg);
        goto done;
    }
    if (d->cfg->text[k] != NULL && local_split(d->cfg->text[k], local_keep, x) != 0) {
        r = fail("local: the records take too much room: put them in a hosts file");
        goto done;
    }
    if (req->cmd == CTL_LOCAL_REMOVE && x->removed == 0) {
        snprintf(err, sizeof(err), "local remove: no local record of %.100s%s%.20s", req->argv[0],
                 req->argc > 1 ? " " : "", req->argc > 1 ? req->argv[1] : "");
        r = fail(err);
        goto done;
    }
    if (req->cmd == CTL_LOCAL_ADD && local_keep(x, canon) != 0) {
        r = fail("local: the records take too much room: put them in a hosts file");
        goto done;
    }
    r = change(d, "local", x->out);
    if (r != NULL && json_is_true(json_object_get(r, "ok")))
        r = local_list(d, r);
done:
    if (x != NULL)
        free(x->out);
    free(x);
    return r;
}

/* The names of block_names as a JSON array. */
static json_t *added_json(const char *names)
{
    json_t *a = json_array();
    const char *p = names;

    while (a != NULL && *p != '\0') {
        size_t n = strcspn(p, ", \t");
        if (n > 0)
            json_array_append_new(a, json_stringn(p, n));
        p += n;
        p += strspn(p, ", \t");
    }
    return a;
}

static json_t *block_list(daemon_t *d)
{
    bl_table_t *files = NULL, *names = NULL;
    json_t *lists = json_array();
    stats_totals_t t;
    size_t count = 0;

    if (d->block != NULL)
        blocklist_tables(d->block, &files, &names);
    for (size_t i = 0; files != NULL && i < bl_table_nfiles(files); i++)
        json_array_append_new(lists, json_pack("{s:s, s:I}", "file", bl_table_file(files, i),
                                               "names", (json_int_t)bl_table_file_names(files, i)));
    count =
        (files != NULL ? bl_table_count(files) : 0) + (names != NULL ? bl_table_count(names) : 0);
    bl_table_unref(files);
    bl_table_unref(names);
    sum_stats(d, &t);
    return json_pack("{s:b, s:o, s:o, s:I, s:I}", "ok", 1, "lists", lists, "added",
                     added_json(d->cfg->block_names), "names", (json_int_t)count, "blocked",
                     (json_int_t)t.blocked);
}

/* block_names with name added (add) or taken out; -1 with err when
 * there is nothing to do. Names compare case-insensitively, with or
 * without a final dot. */
static int edit_names(const char *names, const char *name, bool add, char *out, size_t cap,
                      char *err, size_t errcap)
{
    size_t want = strlen(name), off = 0;
    const char *p = names;
    bool found = false;

    if (want > 0 && name[want - 1] == '.')
        want--;
    out[0] = '\0';
    while (*p != '\0') {
        size_t n = strcspn(p, ", \t"), m = n;
        if (m > 0 && p[m - 1] == '.')
            m--;
        if (n > 0 && m == want && strncasecmp(p, name, want) == 0) {
            found = true;
        } else if (n > 0) {
            int w = snprintf(out + off, cap - off, "%s%.*s", off ? ", " : "", (int)n, p);
            if (w < 0 || (size_t)w >= cap - off)
                goto long_list;
            off += (size_t)w;
        }
        p += n;
        p += strspn(p, ", \t");
    }
    if (add) {
        int w = snprintf(out + off, cap - off, "%s%.*s", off ? ", " : "", (int)want, name);
        if (w < 0 || (size_t)w >= cap - off)
            goto long_list;
        return 0;
    }
    if (!found) {
        snprintf(err, errcap, "block remove: %.255s was not added by block add", name);
        return -1;
    }
    return 0;
long_list:
    snprintf(err, errcap, "block add: block_names would be longer than %d characters",
             CFG_VALUE_MAX);
    return -1;
}

static json_t *cmd_block(daemon_t *d, const ctl_request_t *req)
{
    char err[600], by[CFG_VALUE_MAX + 32], names[CFG_VALUE_MAX + 1];
    uint8_t wire[SR_NAME_MAX_WIRE];
    size_t len = 0;
    const char *sub = req->argc > 0 ? req->argv[0] : "";
    json_t *r;

    if (req->argc == 0)
        return block_list(d);
    if (req->argc != 2 ||
        (strcmp(sub, "add") != 0 && strcmp(sub, "remove") != 0 && strcmp(sub, "check") != 0))
        return fail("usage: block [add|remove|check NAME]");
    if (sr_name_from_text(req->argv[1], wire, sizeof(wire), &len) != SR_OK || len <= 1) {
        snprintf(err, sizeof(err), "block %s: '%.255s' is not a domain name", sub, req->argv[1]);
        return fail(err);
    }
    if (strcmp(sub, "check") == 0) {
        if (d->block == NULL || !blocklist_check(d->block, wire, len, by, sizeof(by)))
            return json_pack("{s:b, s:b}", "ok", 1, "blocked", 0);
        return json_pack("{s:b, s:b, s:s}", "ok", 1, "blocked", 1, "by", by);
    }
    if (edit_names(d->cfg->block_names, req->argv[1], strcmp(sub, "add") == 0, names, sizeof(names),
                   err, sizeof(err)) != 0)
        return fail(err);
    r = change(d, "block_names", names);
    if (r == NULL || !json_is_true(json_object_get(r, "ok")))
        return r;
    log_notice("control: block %s %s", sub, req->argv[1]);
    json_object_del(r, "name");
    json_object_del(r, "value");
    json_object_set_new(r, "added", added_json(d->cfg->block_names));
    return r;
}

json_t *daemon_command(void *arg, const ctl_request_t *req)
{
    daemon_t *d = arg;
    char err[2048];

    switch (req->cmd) {
    case CTL_STATS: return cmd_stats(d);
    case CTL_STATUS: return cmd_status(d);
    case CTL_CONFIG: return req->argc == 0 ? cmd_config_all(d) : cmd_config(d, req->argv[0]);
    case CTL_CONFIG_RESET: return cmd_reset(d, req->argc > 0 ? req->argv[0] : NULL);
    case CTL_SERVER: return cmd_server(d, req);
    case CTL_CACHE_FLUSH: return cmd_flush(d, req);
    case CTL_CACHE_DUMP: return cmd_dump(d);
    case CTL_CACHE_SAVE: return cmd_cache_save(d);
    case CTL_BLOCK: return cmd_block(d, req);
    case CTL_RELOAD:
        if (daemon_reload(d, err, sizeof(err)) != 0)
            return fail(err);
        return json_pack("{s:b}", "ok", 1);
    case CTL_NETWORK_CHANGED:
        if (daemon_network_changed(d, "control", err, sizeof(err)) != 0)
            return fail(err);
        return json_pack("{s:b, s:I}", "ok", 1, "network_changes", (json_int_t)d->network_changes);
    case CTL_LOCAL: return local_list(d, NULL);
    case CTL_LOCAL_ADD:
    case CTL_LOCAL_REMOVE: return cmd_local_edit(d, req);
    case CTL_FORWARD: return json_pack("{s:b, s:o}", "ok", 1, "rules", forward_json(d));
    case CTL_FORWARD_ADD: return cmd_forward_add(d, req);
    case CTL_FORWARD_REMOVE: return cmd_forward_remove(d, req);
    case CTL_PORTAL:
    case CTL_PORTAL_ALLOW:
    case CTL_PORTAL_CLOSE: return cmd_portal(d, req);
    }
    return fail("unknown command");
}

void daemon_metrics_collect(void *arg, metrics_snapshot_t *snap)
{
    daemon_t *d = arg;

    sum_stats(d, &snap->totals);
    if (d->cache != NULL)
        cache_stats(d->cache, &snap->cache);
    snap->cache_max_bytes = d->cfg->cache_size;
    snap->pool = d->pool;
    if (snap->pool != NULL)
        pool_ref(snap->pool);
    snap->uptime_s = uptime_s(d);
    snap->threads = d->nworkers;
    snap->portal_open = portal_is_open(d->portal);
    snap->portal_names = d->portal != NULL ? atomic_load(&d->portal->names) : 0;
}

void daemon_metrics_release(void *arg, metrics_snapshot_t *snap)
{
    (void)arg;
    pool_unref(snap->pool);
    snap->pool = NULL;
}

bool daemon_metrics_allowed(void *arg, const struct sockaddr *sa)
{
    daemon_t *d = arg;
    return acl_match(&d->cfg->allow, sa);
}
