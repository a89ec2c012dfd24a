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
#include "log.h"
#include "stats.h"

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
    if (cfg_load_file(file, path, false, errs, NULL, NULL) != 0)
        goto fail;
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
    if (cfg_check(c, errs) != 0)
        goto fail;
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
    return cc;
}

unsigned daemon_drain_ms(const cfg_t *c)
{
    uint64_t ms = (uint64_t)c->timeout_ms * 4 + 1000;
    return ms > 30000 ? 30000 : (unsigned)ms;
}

int daemon_publish(daemon_t *d, cfg_t *c, pool_t *pool, char *err, size_t errcap)
{
    bool new_pool = false;

    if (pool == NULL && (d->pool == NULL || !pool_matches(d->pool, c))) {
        pool = pool_new(c, d->pool, err, errcap);
        if (pool == NULL)
            return -1;
        if (pool_validate(pool, d->base, err, errcap) != 0) {
            pool_unref(pool);
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
    if (daemon_publish(d, c, NULL, err, errcap) != 0)
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

static json_t *cmd_stats(daemon_t *d)
{
    stats_totals_t t;
    cache_stats_t cs;

    sum_stats(d, &t);
    memset(&cs, 0, sizeof(cs));
    if (d->cache != NULL)
        cache_stats(d->cache, &cs);
    return stats_json(&t, &cs, d->pool, uptime_s(d), d->nworkers);
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
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "key", o.key, "value", o.value,
                                           "file_value", o.file_value != NULL ? o.file_value : "",
                                           "since", when));
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
    json_object_set_new(o, "build", json_string(cfg_build_info()));
    json_object_set_new(o, "overrides", overrides_json(d));
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
    log_notice("control: %s = %s", key, canon);
    reply = json_pack("{s:b, s:s, s:s}", "ok", 1, "name", name, "value", canon);
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
    if (strcasecmp(name, "dns_server") == 0 && value[0] == '\0' && d->pool != NULL &&
        d->pool->n > 0) {
        /* Like the class: the server in use when none was set. */
        snprintf(value, sizeof(value), "%s", d->pool->servers[0]->spec.host);
    }
    return json_pack("{s:b, s:s, s:s}", "ok", 1, "name", name, "value", value);
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
    if (req->argc == 0) {
        n = cache_flush(d->cache, NULL, 0);
    } else {
        if (sr_name_from_text(req->argv[0], wire, sizeof(wire), &len) != SR_OK) {
            char err[400];
            snprintf(err, sizeof(err), "cache flush: '%.255s' is not a domain name", req->argv[0]);
            return fail(err);
        }
        n = cache_flush(d->cache, wire, len);
    }
    log_info("control: cache flush%s%s: %zu entries", req->argc ? " " : "",
             req->argc ? req->argv[0] : "", n);
    return json_pack("{s:b, s:I}", "ok", 1, "flushed", (json_int_t)n);
}

static void dump_line(void *arg, const char *line)
{
    json_array_append_new((json_t *)arg, json_string(line));
}

static json_t *cmd_dump(daemon_t *d)
{
    json_t *entries = json_array();

    if (entries == NULL)
        return NULL;
    if (d->cache != NULL)
        cache_dump(d->cache, worker_now_s(), dump_line, entries);
    return json_pack("{s:b, s:o}", "ok", 1, "entries", entries);
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
    case CTL_CONFIG: return cmd_config(d, req->argv[0]);
    case CTL_CONFIG_RESET: return cmd_reset(d, req->argc > 0 ? req->argv[0] : NULL);
    case CTL_SERVER: return cmd_server(d, req);
    case CTL_CACHE_FLUSH: return cmd_flush(d, req);
    case CTL_CACHE_DUMP: return cmd_dump(d);
    case CTL_BLOCK: return cmd_block(d, req);
    case CTL_RELOAD:
        if (daemon_reload(d, err, sizeof(err)) != 0)
            return fail(err);
        return json_pack("{s:b}", "ok", 1);
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
