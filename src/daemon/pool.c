/* stubresd: the upstream pool (see pool.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <stubres/wire.h>

#include "util.h" /* addresses, clocks, randomness */
#include "log.h"
#include "pool.h"

const double pool_rtt_bounds_ms[POOL_RTT_BUCKETS] = {
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000,
};

/* Backoff of a failed upstream: first 500 ms, doubling, at most 30 s, so
 * a restarted upstream is back in use within half a minute. */
#define BACKOFF_FIRST_MS 500u
#define BACKOFF_MAX_MS 30000u
/* fastest: one query in PROBE_ONE_IN goes to another upstream, so a
 * server that got faster is noticed. */
#define PROBE_ONE_IN 16u
/* Queries in flight on each connection to a TCP/DoT upstream past which
 * another connection of its pool opens (sr_upstream_cfg_t.spread_pipeline). */
#define POOL_SPREAD_PIPELINE 32

uint64_t pool_now_us(void)
{
    return sr_now_us();
}

/* ---------------------------------------------------------------- pools */

static void server_free(pool_server_t *s)
{
    pthread_mutex_destroy(&s->mu);
    free(s->strings);
    free(s);
}

static void server_unref(pool_server_t *s)
{
    if (s != NULL && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        server_free(s);
}

/* Copy the strings of the upstream config into one owned block. */
static int server_strings(pool_server_t *s, const char *server, const char *bootstrap,
                          const char *resolv_conf, const char *tls_name, const char *ca_file,
                          const char *local_host)
{
    const char *src[6] = {server, bootstrap, resolv_conf, tls_name, ca_file, local_host};
    const char **dst[6] = {&s->ucfg.server,   &s->ucfg.bootstrap, &s->ucfg.resolv_conf,
                           &s->ucfg.tls_name, &s->ucfg.ca_file,   &s->ucfg.local_host};
    size_t total = 0, off = 0;

    for (int i = 0; i < 6; i++)
        if (src[i] != NULL)
            total += strlen(src[i]) + 1;
    s->strings = malloc(total ? total : 1);
    if (s->strings == NULL)
        return -1;
    for (int i = 0; i < 6; i++) {
        if (src[i] == NULL) {
            *dst[i] = NULL;
            continue;
        }
        size_t l = strlen(src[i]) + 1;
        memcpy(s->strings + off, src[i], l);
        *dst[i] = s->strings + off;
        off += l;
    }
    return 0;
}

/* The bootstrap server: the bootstrap key, else the first nameserver of
 * resolv_conf that is not ourselves. NULL when there is none (only a
 * problem for upstreams given by name). */
static const char *pick_bootstrap(const cfg_t *cfg, char *buf, size_t cap)
{
    spec_keys_t keys;

    if (cfg->bootstrap[0] != '\0')
        return cfg->bootstrap;
    cfg_spec_keys(cfg, &keys);
    return spec_first_nameserver(&keys, buf, cap);
}

static pool_server_t *server_new(const cfg_t *cfg, const spec_t *spec, const pool_t *old, char *err,
                                 size_t errcap)
{
    pool_server_t *s = calloc(1, sizeof(*s));
    char url[1400], host[300], boot[64];
    const char *server;
    const char *bootstrap = pick_bootstrap(cfg, boot, sizeof(boot));

    if (s == NULL) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    atomic_init(&s->refs, 1);
    pthread_mutex_init(&s->mu, NULL);
    s->spec = *spec;
    s->healthy = true;

    snprintf(host, sizeof(host), "%s", spec->host);
    if (cfg->use_idns && !spec_host_ascii(spec) &&
        sr_name_idn(spec->host, host, sizeof(host)) != SR_OK) {
        snprintf(err, errcap, "servers: '%s' is not a valid IDN", spec->host);
        server_free(s);
        return NULL;
    }
    if (spec->proto == SR_PROTO_HTTPS) {
        bool v6 = strchr(host, ':') != NULL;
        snprintf(url, sizeof(url), "https://%s%s%s:%u%s", v6 ? "[" : "", host, v6 ? "]" : "",
                 (unsigned)spec->port, spec->path);
        server = url;
    } else {
        server = host;
    }
    s->ucfg.proto = spec->proto;
    s->ucfg.port = spec->port;
    s->ucfg.doh_method = (sr_doh_method_t)cfg->doh_method;
    s->ucfg.local_port = (uint16_t)cfg->local_port;
    s->ucfg.use_ipv6 = cfg->use_ipv6;
    s->ucfg.use_connection = cfg->use_connection;
    s->ucfg.share_local_port = cfg->share_local_port;
    s->ucfg.dont_fragment = cfg->dont_fragment;
    s->ucfg.dscp = (int)cfg->dscp;
    s->ucfg.in_buffer_size = (int)cfg->in_buffer_size;
    s->ucfg.out_buffer_size = (int)cfg->out_buffer_size;
    s->ucfg.max_packet_size = (uint16_t)cfg->max_packet_size;
    s->ucfg.tcp_fallback = true; /* TC from a UDP upstream: ask over TCP */
    s->ucfg.cookies = cfg->cookies;
    s->ucfg.case_randomization = cfg->case_randomization;
    s->ucfg.absolute_timeout = cfg->absolute_timeout;
    s->ucfg.log_level = (int)cfg->class_log_level;
    /* DoT/TCP: past 32 queries in flight on its one connection, a second
     * connection of the pool (2 by default) opens. unbound as a DoT
     * upstream answered 23-35k queries/s forwarded over one connection,
     * 49k over two (bench/enc_ab.sh); two handshakes per upstream. */
    s->ucfg.spread_pipeline = POOL_SPREAD_PIPELINE;
    if (server_strings(s, server, bootstrap, cfg->resolv_conf,
                       spec->proto == SR_PROTO_TLS && spec->auth[0] ? spec->auth : NULL,
                       cfg->ca_file[0] ? cfg->ca_file : NULL,
                       cfg->local_host[0] ? cfg->local_host : NULL) != 0) {
        snprintf(err, errcap, "out of memory");
        server_free(s);
        return NULL;
    }

    /* The same upstream in the previous pool: keep what we learnt. */
    for (size_t i = 0; old != NULL && i < old->n; i++) {
        pool_server_t *o = old->servers[i];
        if (strcmp(o->spec.name, spec->name) != 0)
            continue;
        pthread_mutex_lock(&o->mu);
        s->healthy = o->healthy;
        s->fails = o->fails;
        s->down_until_us = o->down_until_us;
        s->backoff_ms = o->backoff_ms;
        s->rtt_ms = o->rtt_ms;
        s->rtt_known = o->rtt_known;
        pthread_mutex_unlock(&o->mu);
        atomic_store(&s->queries, atomic_load(&o->queries));
        atomic_store(&s->responses, atomic_load(&o->responses));
        atomic_store(&s->errors, atomic_load(&o->errors));
        atomic_store(&s->timeouts, atomic_load(&o->timeouts));
        atomic_store(&s->servfails, atomic_load(&o->servfails));
        atomic_store(&s->rtt_sum_us, atomic_load(&o->rtt_sum_us));
        for (int b = 0; b <= POOL_RTT_BUCKETS; b++)
            atomic_store(&s->rtt_hist[b], atomic_load(&o->rtt_hist[b]));
        break;
    }
    return s;
}

pool_t *pool_new_specs(const cfg_t *cfg, const spec_t *specs, int n, const pool_t *old, char *err,
                       size_t errcap)
{
    pool_t *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    atomic_init(&p->refs, 1);
    p->strategy = cfg->strategy;
    p->encrypted = n > 0 && spec_encrypted(&specs[0]);
    p->upstream_hash = cfg_upstream_hash(cfg);
    for (int i = 0; i < n; i++) {
        p->servers[i] = server_new(cfg, &specs[i], old, err, errcap);
        if (p->servers[i] == NULL) {
            pool_unref(p);
            return NULL;
        }
        p->n++;
    }
    return p;
}

pool_t *pool_new(const cfg_t *cfg, const pool_t *old, char *err, size_t errcap)
{
    spec_t *specs = calloc(SPEC_MAX, sizeof(*specs));
    spec_keys_t keys;
    pool_t *p = NULL;
    int n;

    if (specs == NULL) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    cfg_spec_keys(cfg, &keys);
    n = spec_list(&keys, specs, err, errcap);
    if (n >= 0)
        p = pool_new_specs(cfg, specs, n, old, err, errcap);
    free(specs);
    return p;
}

void pool_ref(pool_t *p)
{
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
}

void pool_unref(pool_t *p)
{
    if (p == NULL || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < p->n; i++)
        server_unref(p->servers[i]);
    free(p->source);
    free(p);
}

bool pool_matches(const pool_t *p, const cfg_t *cfg)
{
    spec_t *specs = calloc(SPEC_MAX, sizeof(*specs));
    spec_keys_t keys;
    char err[512];
    int n = -1;
    bool same;

    if (specs != NULL) {
        cfg_spec_keys(cfg, &keys);
        n = spec_list(&keys, specs, err, sizeof(err));
    }
    /* The same upstream keys and the same upstreams (resolv_conf's
     * nameservers may have changed under the same keys). */
    same = n >= 0 && (size_t)n == p->n && cfg_upstream_hash(cfg) == p->upstream_hash;
    for (int i = 0; same && i < n; i++)
        same = strcmp(specs[i].name, p->servers[i]->spec.name) == 0;
    free(specs);
    return same;
}

/* ---------------------------------------------------------------- health */

/* May s be used at now? A down server becomes usable for one probe when
 * its backoff ends. Called with s->mu held. */
static bool eligible_locked(const pool_server_t *s, uint64_t now_us)
{
    return s->healthy || now_us >= s->down_until_us;
}

/* Taking a down server for a probe: push its next chance out, so only
 * this query probes it until the outcome is known. */
static void claim_locked(pool_server_t *s, uint64_t now_us)
{
    if (!s->healthy)
        s->down_until_us =
            now_us + (uint64_t)(s->backoff_ms ? s->backoff_ms : BACKOFF_FIRST_MS) * 1000u;
}

int pool_pick(pool_t *p, uint64_t tried, uint64_t now_us, uint32_t rnd)
{
    size_t n = p->n;
    uint64_t all = n >= 64 ? ~0ull : ((1ull << n) - 1);
    bool elig[POOL_MAX_SERVERS];
    double rtt[POOL_MAX_SERVERS];
    bool known[POOL_MAX_SERVERS];
    uint64_t down_until[POOL_MAX_SERVERS];
    int pick = -1;

    if (n == 0)
        return -1;
    if ((tried & all) == all)
        tried = 0; /* every one was tried: start over */

    for (size_t i = 0; i < n; i++) {
        pool_server_t *s = p->servers[i];
        pthread_mutex_lock(&s->mu);
        elig[i] = !(tried & (1ull << i)) && eligible_locked(s, now_us);
        rtt[i] = s->rtt_ms;
        known[i] = s->rtt_known;
        down_until[i] = s->healthy ? 0 : s->down_until_us;
        pthread_mutex_unlock(&s->mu);
    }

    switch (p->strategy) {
    case STRATEGY_ROUND_ROBIN: {
        unsigned start = atomic_fetch_add_explicit(&p->rr, 1, memory_order_relaxed);
        for (size_t k = 0; k < n && pick < 0; k++) {
            size_t i = (start + k) % n;
            if (elig[i])
                pick = (int)i;
        }
        break;
    }
    case STRATEGY_FASTEST: {
        size_t cand[POOL_MAX_SERVERS], nc = 0;
        for (size_t i = 0; i < n; i++)
            if (elig[i])
                cand[nc++] = i;
        if (nc == 0)
            break;
        if (nc > 1 && rnd % PROBE_ONE_IN == 0) {
            pick = (int)cand[(rnd / PROBE_ONE_IN) % nc];
            break;
        }
        for (size_t k = 0; k < nc; k++) {
            size_t i = cand[k];
            /* Unmeasured first: it needs a measurement to compete. */
            if (pick < 0 || (!known[i] && known[pick]) ||
                (known[i] == known[pick] && rtt[i] < rtt[pick]))
                pick = (int)i;
        }
        break;
    }
    default: /* failover: the first usable in the order given */
        for (size_t i = 0; i < n && pick < 0; i++)
            if (elig[i])
                pick = (int)i;
        break;
    }

    if (pick < 0) {
        /* Every untried upstream is down: still try the one whose backoff
         * ends first rather than fail the query without trying. */
        for (size_t i = 0; i < n; i++) {
            if (tried & (1ull << i))
                continue;
            if (pick < 0 || down_until[i] < down_until[pick])
                pick = (int)i;
        }
    }
    if (pick >= 0) {
        pool_server_t *s = p->servers[pick];
        pthread_mutex_lock(&s->mu);
        claim_locked(s, now_us);
        pthread_mutex_unlock(&s->mu);
    }
    return pick;
}

static void rtt_account(pool_server_t *s, uint64_t rtt_us)
{
    double ms = (double)rtt_us / 1000.0;
    int b = 0;

    while (b < POOL_RTT_BUCKETS && ms > pool_rtt_bounds_ms[b])
        b++;
    atomic_fetch_add_explicit(&s->rtt_hist[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->rtt_sum_us, rtt_us, memory_order_relaxed);
    if (s->rtt_known) {
        s->rtt_ms += (ms - s->rtt_ms) / 8.0; /* EWMA, as TCP's SRTT (RFC 6298) */
    } else {
        s->rtt_ms = ms;
        s->rtt_known = true;
    }
}

void pool_report(pool_server_t *s, pool_outcome_t o, uint64_t rtt_us, uint64_t now_us)
{
    pthread_mutex_lock(&s->mu);
    switch (o) {
    case POOL_OK:
    case POOL_SERVFAIL:
        /* It answered: it is alive, whatever it thinks of the name. */
        if (!s->healthy)
            log_event(LOG_LEVEL_NOTICE, &(log_fields_t){NULL, s->spec.name, NULL},
                      "upstream %s is up again", s->spec.name);
        s->healthy = true;
        s->fails = 0;
        s->backoff_ms = 0;
        s->down_until_us = 0;
        rtt_account(s, rtt_us);
        if (o == POOL_OK)
            atomic_fetch_add_explicit(&s->responses, 1, memory_order_relaxed);
        else
            atomic_fetch_add_explicit(&s->servfails, 1, memory_order_relaxed);
        break;
    case POOL_TIMEOUT:
    case POOL_ERROR:
        if (o == POOL_TIMEOUT)
            atomic_fetch_add_explicit(&s->timeouts, 1, memory_order_relaxed);
        else
            atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
        s->fails++;
        s->backoff_ms =
            s->backoff_ms == 0
                ? BACKOFF_FIRST_MS
                : (s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2);
        s->down_until_us = now_us + (uint64_t)s->backoff_ms * 1000u;
        if (s->healthy)
            log_event(LOG_LEVEL_NOTICE, &(log_fields_t){NULL, s->spec.name, NULL},
                      "upstream %s is down (%s); retrying in %u ms", s->spec.name,
                      o == POOL_TIMEOUT ? "timeout" : "error", s->backoff_ms);
        s->healthy = false;
        break;
    }
    pthread_mutex_unlock(&s->mu);
}

void pool_count_query(pool_server_t *s)
{
    atomic_fetch_add_explicit(&s->queries, 1, memory_order_relaxed);
}

void pool_count_guard(pool_server_t *s, const sr_xfer_info_t *info)
{
    if (info->cookie)
        atomic_fetch_add_explicit(&s->cookies, 1, memory_order_relaxed);
    if (info->cookie_mismatches != 0)
        atomic_fetch_add_explicit(&s->cookie_mismatches, info->cookie_mismatches,
                                  memory_order_relaxed);
    if (info->case_mismatches != 0)
        atomic_fetch_add_explicit(&s->case_mismatches, info->case_mismatches,
                                  memory_order_relaxed);
    if (info->case_fallback)
        atomic_fetch_add_explicit(&s->case_fallbacks, 1, memory_order_relaxed);
}

void pool_forget_health(pool_t *p)
{
    for (size_t i = 0; p != NULL && i < p->n; i++) {
        pool_server_t *s = p->servers[i];
        pthread_mutex_lock(&s->mu);
        s->healthy = true;
        s->fails = 0;
        s->backoff_ms = 0;
        s->down_until_us = 0;
        pthread_mutex_unlock(&s->mu);
    }
}

void pool_server_health(pool_server_t *s, uint64_t now_us, pool_health_t *h)
{
    pthread_mutex_lock(&s->mu);
    h->healthy = s->healthy;
    h->fails = s->fails;
    h->rtt_ms = s->rtt_known ? s->rtt_ms : 0.0;
    h->retry_in_s =
        !s->healthy && s->down_until_us > now_us ? (double)(s->down_until_us - now_us) / 1e6 : 0.0;
    pthread_mutex_unlock(&s->mu);
}

/* ---------------------------------------------------------------- instances */

static void upstream_log(void *arg, int level, const char *type, const char *msg)
{
    pool_server_t *s = arg;
    (void)level;
    log_debug("upstream %s: %s: %s", s->spec.name, type, msg);
}

pool_inst_t *pool_inst_new(pool_t *p, struct event_base *base)
{
    pool_inst_t *pi = calloc(1, sizeof(*pi));

    if (pi == NULL)
        return NULL;
    pool_ref(p);
    pi->pool = p;
    pi->users = 1;
    for (size_t i = 0; i < p->n; i++) {
        sr_upstream_events_t ev = {.on_log = upstream_log, .arg = p->servers[i]};
        sr_status_t st = SR_OK;
        pi->ups[i] = sr_upstream_new(base, &p->servers[i]->ucfg, &ev, &st);
        pi->up_status[i] = pi->ups[i] != NULL ? SR_OK : st;
        if (pi->ups[i] == NULL)
            log_warnx("upstream %s: %s", p->servers[i]->spec.name, sr_strerror((int)st));
    }
    return pi;
}

void pool_inst_release(pool_inst_t *pi)
{
    if (pi == NULL || --pi->users > 0)
        return;
    for (size_t i = 0; i < pi->pool->n; i++)
        sr_upstream_free(pi->ups[i]);
    pool_unref(pi->pool);
    free(pi);
}

int pool_validate(pool_t *p, struct event_base *base, char *err, size_t errcap)
{
    for (size_t i = 0; i < p->n; i++) {
        sr_status_t st = SR_OK;
        sr_upstream_t *up = sr_upstream_new(base, &p->servers[i]->ucfg, NULL, &st);
        if (up == NULL) {
            snprintf(err, errcap, "servers: %s: %s", p->servers[i]->spec.name,
                     sr_strerror((int)st));
            return -1;
        }
        sr_upstream_free(up);
    }
    return 0;
}
