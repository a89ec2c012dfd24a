/* stubresd: the Prometheus text endpoint (see metrics.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <stubres/wire.h>

#include "acl.h"
#include "log.h"
#include "metrics.h"

struct metrics {
    int fd;
    struct evhttp *http;
    metrics_collect_fn collect;
    metrics_release_fn release;
    void *arg;
};

metrics_t *metrics_open(const char *addr, char *err, size_t errcap)
{
    struct sockaddr_storage ss;
    socklen_t len;
    metrics_t *m;
    int one = 1;

    if (addr_parse(addr, 9153, false, &ss, &len) != 0) {
        snprintf(err, errcap, "metrics: '%s' is not ADDRESS[:PORT]", addr);
        return NULL;
    }
    m = calloc(1, sizeof(*m));
    if (m == NULL) {
        snprintf(err, errcap, "metrics: out of memory");
        return NULL;
    }
    m->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (m->fd < 0 || setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(m->fd, (struct sockaddr *)&ss, len) != 0 || listen(m->fd, 16) != 0) {
        snprintf(err, errcap, "metrics: %s: %s", addr, strerror(errno));
        if (m->fd >= 0)
            close(m->fd);
        free(m);
        return NULL;
    }
    return m;
}

/* Label values: \, " and newline escaped (exposition format). */
static void label(struct evbuffer *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            evbuffer_add_printf(out, "\\%c", *v);
        else if (*v == '\n')
            evbuffer_add(out, "\\n", 2);
        else
            evbuffer_add(out, v, 1);
    }
}

static void head(struct evbuffer *out, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct evbuffer *out, const char *name, const char *type, const char *help,
                uint64_t v)
{
    head(out, name, type, help);
    evbuffer_add_printf(out, "%s %llu\n", name, (unsigned long long)v);
}

void metrics_format(struct evbuffer *out, const metrics_snapshot_t *s)
{
    const stats_totals_t *t = &s->totals;
    uint64_t now_us = pool_now_us();

    one(out, "stubresd_uptime_seconds", "gauge", "Seconds since start.", s->uptime_s);
    one(out, "stubresd_threads", "gauge", "Event loop threads.", s->threads);
    head(out, "stubresd_queries_total", "counter", "Queries received, by transport.");
    evbuffer_add_printf(out, "stubresd_queries_total{transport=\"udp\"} %llu\n",
                        (unsigned long long)t->queries_udp);
    evbuffer_add_printf(out, "stubresd_queries_total{transport=\"tcp\"} %llu\n",
                        (unsigned long long)t->queries_tcp);
    head(out, "stubresd_responses_total", "counter", "Replies sent, by RCODE.");
    for (unsigned r = 0; r < STATS_RCODES; r++) {
        char b[16];
        if (t->responses[r] == 0 && r > 5)
            continue;
        evbuffer_add_printf(out, "stubresd_responses_total{rcode=\"%s\"} %llu\n",
                            sr_rcode_name(r, b), (unsigned long long)t->responses[r]);
    }
    one(out, "stubresd_cache_hits_total", "counter", "Answers from the cache.", t->cache_hits);
    one(out, "stubresd_cache_misses_total", "counter", "Queries the cache could not answer.",
        t->cache_misses);
    one(out, "stubresd_cache_stale_total", "counter", "Stale answers (serve_stale).",
        t->cache_stale);
    one(out, "stubresd_cache_entries", "gauge", "Entries in the cache.", s->cache.entries);
    one(out, "stubresd_cache_bytes", "gauge", "Memory used by cache entries.", s->cache.bytes);
    one(out, "stubresd_cache_max_bytes", "gauge", "cache_size.", s->cache_max_bytes);
    one(out, "stubresd_cache_evictions_total", "counter", "Entries evicted for space.",
        s->cache.evictions);
    one(out, "stubresd_prefetches_total", "counter", "Refreshes started by prefetch.",
        t->prefetches);
    one(out, "stubresd_coalesced_total", "counter",
        "Queries that joined an identical one in flight.", t->coalesced);
    one(out, "stubresd_dropped_total", "counter", "Queries dropped.", t->dropped);
    one(out, "stubresd_malformed_total", "counter", "Malformed queries.", t->malformed);
    one(out, "stubresd_refused_acl_total", "counter", "Queries refused by allow.", t->refused_acl);
    one(out, "stubresd_truncated_total", "counter", "UDP replies sent with TC=1.", t->truncated);
    one(out, "stubresd_inflight_upstream", "gauge", "Upstream queries in flight.", t->inflight);
    one(out, "stubresd_inflight_clients", "gauge", "Client queries waiting for upstream.",
        t->waiting);
    one(out, "stubresd_tcp_connections", "gauge", "Open client TCP connections.", t->tcp_clients);
    one(out, "stubresd_tcp_accepted_total", "counter", "Client TCP connections accepted.",
        t->tcp_accepted);

    if (s->pool == NULL)
        return;
    static const struct {
        const char *name, *help;
        size_t off;
    } ctrs[] = {
        {"stubresd_upstream_queries_total", "Queries sent upstream.",
         offsetof(pool_server_t, queries)},
        {"stubresd_upstream_responses_total", "Answers believed.",
         offsetof(pool_server_t, responses)},
        {"stubresd_upstream_servfails_total", "SERVFAIL or REFUSED answers.",
         offsetof(pool_server_t, servfails)},
        {"stubresd_upstream_errors_total", "Transport errors.", offsetof(pool_server_t, errors)},
        {"stubresd_upstream_timeouts_total", "Timeouts.", offsetof(pool_server_t, timeouts)},
    };
    for (size_t k = 0; k < sizeof(ctrs) / sizeof(ctrs[0]); k++) {
        head(out, ctrs[k].name, "counter", ctrs[k].help);
        for (size_t i = 0; i < s->pool->n; i++) {
            pool_server_t *sv = s->pool->servers[i];
            atomic_uint_fast64_t *c = (atomic_uint_fast64_t *)(void *)((char *)sv + ctrs[k].off);
            evbuffer_add_printf(out, "%s{server=\"", ctrs[k].name);
            label(out, sv->spec.name);
            evbuffer_add_printf(out, "\"} %llu\n", (unsigned long long)atomic_load(c));
        }
    }
    head(out, "stubresd_upstream_healthy", "gauge", "1 when the upstream is in use.");
    for (size_t i = 0; i < s->pool->n; i++) {
        pool_health_t h;
        pool_server_health(s->pool->servers[i], now_us, &h);
        evbuffer_add_printf(out, "stubresd_upstream_healthy{server=\"");
        label(out, s->pool->servers[i]->spec.name);
        evbuffer_add_printf(out, "\"} %d\n", h.healthy ? 1 : 0);
    }
    head(out, "stubresd_upstream_rtt_seconds", "histogram", "Upstream round-trip times.");
    for (size_t i = 0; i < s->pool->n; i++) {
        pool_server_t *sv = s->pool->servers[i];
        uint64_t cum = 0;
        for (int b = 0; b <= POOL_RTT_BUCKETS; b++) {
            cum += atomic_load(&sv->rtt_hist[b]);
            evbuffer_add_printf(out, "stubresd_upstream_rtt_seconds_bucket{server=\"");
            label(out, sv->spec.name);
            if (b < POOL_RTT_BUCKETS)
                evbuffer_add_printf(out, "\",le=\"%g\"} %llu\n", pool_rtt_bounds_ms[b] / 1000.0,
                                    (unsigned long long)cum);
            else
                evbuffer_add_printf(out, "\",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
        }
        evbuffer_add_printf(out, "stubresd_upstream_rtt_seconds_sum{server=\"");
        label(out, sv->spec.name);
        evbuffer_add_printf(out, "\"} %.6f\n", (double)atomic_load(&sv->rtt_sum_us) / 1e6);
        evbuffer_add_printf(out, "stubresd_upstream_rtt_seconds_count{server=\"");
        label(out, sv->spec.name);
        evbuffer_add_printf(out, "\"} %llu\n", (unsigned long long)cum);
    }
}

static void on_request(struct evhttp_request *req, void *arg)
{
    metrics_t *m = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    struct evbuffer *out;
    metrics_snapshot_t snap;

    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET &&
        evhttp_request_get_command(req) != EVHTTP_REQ_HEAD) {
        evhttp_send_error(req, 405, "Method Not Allowed");
        return;
    }
    if (path == NULL || (strcmp(path, "/metrics") != 0 && strcmp(path, "/") != 0)) {
        evhttp_send_error(req, 404, "Not Found");
        return;
    }
    out = evbuffer_new();
    if (out == NULL) {
        evhttp_send_error(req, 500, "Internal Server Error");
        return;
    }
    memset(&snap, 0, sizeof(snap));
    m->collect(m->arg, &snap);
    metrics_format(out, &snap);
    m->release(m->arg, &snap);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4; charset=utf-8");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
}

int metrics_start(metrics_t *m, struct event_base *base, metrics_collect_fn collect,
                  metrics_release_fn release, void *arg)
{
    m->collect = collect;
    m->release = release;
    m->arg = arg;
    m->http = evhttp_new(base);
    if (m->http == NULL)
        return -1;
    /* Bounded: a scraper sends a small GET; nothing bigger is read. */
    evhttp_set_max_headers_size(m->http, 8192);
    evhttp_set_max_body_size(m->http, 0);
    evhttp_set_timeout(m->http, 10);
    evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(m->http, on_request, m);
    if (evhttp_accept_socket_with_handle(m->http, m->fd) == NULL)
        return -1;
    m->fd = -1; /* evhttp owns it now */
    return 0;
}

void metrics_free(metrics_t *m)
{
    if (m == NULL)
        return;
    if (m->http != NULL)
        evhttp_free(m->http);
    if (m->fd >= 0)
        close(m->fd);
    free(m);
}
