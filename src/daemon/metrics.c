/* stubresd: the Prometheus text endpoint (see metrics.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <stubres/wire.h>

#include "acl.h"
#include "log.h"
#include "acceptor.h"
#include "metrics.h"
#include "util.h" /* lists */

typedef struct mconn mconn_t;

struct metrics {
    int fd;
    acceptor_t *acc;
    metrics_collect_fn collect;
    metrics_release_fn release;
    metrics_allow_fn allowed;
    void *arg;
    mconn_t *conns, *tail; /* open connections, oldest first */
    unsigned nconns;
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

/* The daemon's own counters and gauges. */
static void format_totals(struct evbuffer *out, const metrics_snapshot_t *s)
{
    const stats_totals_t *t = &s->totals;

    one(out, "stubresd_uptime_seconds", "gauge", "Seconds since start.", s->uptime_s);
    one(out, "stubresd_threads", "gauge", "Event loop threads.", s->threads);
    one(out, "stubresd_portal_open", "gauge",
        "1 while a captive-portal pass is open (stubresctl portal allow).",
        s->portal_open ? 1 : 0);
    one(out, "stubresd_portal_names", "gauge",
        "Names asked of the network's nameservers through the current or last portal pass.",
        s->portal_names);
    head(out, "stubresd_queries_total", "counter", "Queries received, by transport.");
    evbuffer_add_printf(out, "stubresd_queries_total{transport=\"udp\"} %llu\n",
                        (unsigned long long)t->queries_udp);
    evbuffer_add_printf(out, "stubresd_queries_total{transport=\"tcp\"} %llu\n",
                        (unsigned long long)t->queries_tcp);
    evbuffer_add_printf(out, "stubresd_queries_total{transport=\"tls\"} %llu\n",
                        (unsigned long long)t->queries_tls);
    evbuffer_add_printf(out, "stubresd_queries_total{transport=\"https\"} %llu\n",
                        (unsigned long long)t->queries_https);
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
    one(out, "stubresd_local_errors_total", "counter",
        "Queries failed for want of descriptors or buffers here (no upstream blamed).",
        t->local_errors);
    one(out, "stubresd_local_answers_total", "counter",
        "Answers from local records and hosts files.", t->local_answers);
    one(out, "stubresd_local_special_total", "counter", "Answers for special-use names.",
        t->local_special);
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
    one(out, "stubresd_tls_connections", "gauge", "Open client TLS connections (DoT and DoH).",
        t->tls_clients);
    one(out, "stubresd_tls_accepted_total", "counter", "Client TLS connections accepted.",
        t->tls_accepted);
    one(out, "stubresd_tls_handshake_failures_total", "counter",
        "Client TLS handshakes that failed or timed out.", t->tls_handshake_failed);
}

/* Per upstream: counters, health, the RTT histogram. */
static void format_upstreams(struct evbuffer *out, const pool_t *pool)
{
    uint64_t now_us = pool_now_us();
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
        {"stubresd_upstream_cookies_total", "Answers with a valid DNS server cookie (udp://).",
         offsetof(pool_server_t, cookies)},
        {"stubresd_upstream_cookie_mismatches_total",
         "Replies dropped for a wrong or missing client cookie (udp://).",
         offsetof(pool_server_t, cookie_mismatches)},
        {"stubresd_upstream_case_mismatches_total",
         "Replies dropped for a question in another case than sent (0x20, udp://).",
         offsetof(pool_server_t, case_mismatches)},
        {"stubresd_upstream_case_fallbacks_total",
         "Queries asked again without 0x20 (udp://).", offsetof(pool_server_t, case_fallbacks)},
    };
    for (size_t k = 0; k < sizeof(ctrs) / sizeof(ctrs[0]); k++) {
        head(out, ctrs[k].name, "counter", ctrs[k].help);
        for (size_t i = 0; i < pool->n; i++) {
            pool_server_t *sv = pool->servers[i];
            atomic_uint_fast64_t *c = (atomic_uint_fast64_t *)(void *)((char *)sv + ctrs[k].off);
            evbuffer_add_printf(out, "%s{server=\"", ctrs[k].name);
            label(out, sv->spec.name);
            evbuffer_add_printf(out, "\"} %llu\n", (unsigned long long)atomic_load(c));
        }
    }
    head(out, "stubresd_upstream_healthy", "gauge", "1 when the upstream is in use.");
    for (size_t i = 0; i < pool->n; i++) {
        pool_health_t h;
        pool_server_health(pool->servers[i], now_us, &h);
        evbuffer_add_printf(out, "stubresd_upstream_healthy{server=\"");
        label(out, pool->servers[i]->spec.name);
        evbuffer_add_printf(out, "\"} %d\n", h.healthy ? 1 : 0);
    }
    head(out, "stubresd_upstream_rtt_seconds", "histogram", "Upstream round-trip times.");
    for (size_t i = 0; i < pool->n; i++) {
        pool_server_t *sv = pool->servers[i];
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

void metrics_format(struct evbuffer *out, const metrics_snapshot_t *s)
{
    format_totals(out, s);
    if (s->pool != NULL)
        format_upstreams(out, s->pool);
}

/* ------------------------------------------------------------- serving */

/* One scrape connection: a request is read whole (within METRICS_REQ_MAX
 * bytes and METRICS_DEADLINE_S of the accept), answered, and the
 * connection closed (Connection: close): nothing is kept per client but
 * this, and nothing outlives the deadline. */
struct mconn {
    metrics_t *m;
    struct bufferevent *bev;
    struct event *deadline;
    bool answered;
    struct mconn *next, *prev; /* oldest first */
};

static void conn_free(mconn_t *c)
{
    metrics_t *m = c->m;

    SR_LIST_UNLINK_TAIL(m->conns, m->tail, c, prev, next);
    m->nconns--;
    if (c->deadline != NULL)
        event_free(c->deadline);
    bufferevent_free(c->bev);
    free(c);
}

static void respond(mconn_t *c, int code, const char *reason, const char *extra,
                    struct evbuffer *body, bool head_only)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t len = body != NULL ? evbuffer_get_length(body) : 0;

    evbuffer_add_printf(out,
                        "HTTP/1.1 %d %s\r\n"
                        "Content-Type: %s\r\n"
                        "Content-Length: %zu\r\n"
                        "%s"
                        "Connection: close\r\n\r\n",
                        code, reason,
                        code == 200 ? "text/plain; version=0.0.4; charset=utf-8"
                                    : "text/plain; charset=utf-8",
                        len, extra != NULL ? extra : "");
    if (body != NULL && !head_only)
        evbuffer_add_buffer(out, body);
    c->answered = true;
    bufferevent_disable(c->bev, EV_READ);
}

static void respond_text(mconn_t *c, int code, const char *reason, const char *extra)
{
    struct evbuffer *b = evbuffer_new();
    if (b == NULL) {
        conn_free(c);
        return;
    }
    evbuffer_add_printf(b, "%d %s\n", code, reason);
    respond(c, code, reason, extra, b, false);
    evbuffer_free(b);
}

void metrics_route(const char *line, metrics_route_t *r)
{
    char method[8], target[256], version[16];
    int n = 0;

    memset(r, 0, sizeof(*r));
    if (sscanf(line, "%7s %255s %15s%n", method, target, version, &n) != 3 || line[n] != '\0' ||
        strncmp(version, "HTTP/1.", 7) != 0 || target[0] != '/') {
        r->code = 400;
        return;
    }
    r->head = strcmp(method, "HEAD") == 0;
    if (!r->head && strcmp(method, "GET") != 0) {
        r->code = 405;
        return;
    }
    target[strcspn(target, "?")] = '\0';
    r->code = strcmp(target, "/metrics") == 0 || strcmp(target, "/") == 0 ? 200 : 404;
}

static void conn_read(struct bufferevent *bev, void *arg)
{
    mconn_t *c = arg;
    metrics_t *m = c->m;
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_ptr end;
    metrics_route_t r;
    metrics_snapshot_t snap;
    char *line;

    if (c->answered)
        return;
    /* Wait for the whole head: its blank line (RFC 9112 2.1). */
    end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    if (end.pos < 0)
        end = evbuffer_search(in, "\n\n", 2, NULL);
    if (end.pos < 0) {
        if (evbuffer_get_length(in) > METRICS_REQ_MAX)
            respond_text(c, 431, "Request Header Fields Too Large", NULL);
        return;
    }
    line = evbuffer_readln(in, NULL, EVBUFFER_EOL_CRLF);
    metrics_route(line != NULL ? line : "", &r);
    free(line);
    evbuffer_drain(in, evbuffer_get_length(in));
    switch (r.code) {
    case 200: {
        struct evbuffer *body = evbuffer_new();
        if (body == NULL) {
            respond_text(c, 500, "Internal Server Error", NULL);
            return;
        }
        memset(&snap, 0, sizeof(snap));
        m->collect(m->arg, &snap);
        metrics_format(body, &snap);
        m->release(m->arg, &snap);
        respond(c, 200, "OK", NULL, body, r.head);
        evbuffer_free(body);
        break;
    }
    case 404: respond_text(c, 404, "Not Found", NULL); break;
    case 405: respond_text(c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n"); break;
    default: respond_text(c, 400, "Bad Request", NULL); break;
    }
}

static void conn_written(struct bufferevent *bev, void *arg)
{
    mconn_t *c = arg;
    (void)bev;
    if (c->answered)
        conn_free(c);
}

static void conn_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)what;
    conn_free(arg); /* EOF or error */
}

static void conn_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_free(arg);
}

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    metrics_t *m = arg;
    struct event_base *base = evconnlistener_get_base(lev);
    struct timeval dl = {METRICS_DEADLINE_S, 0};
    mconn_t *c;

    (void)salen;
    if (!m->allowed(m->arg, sa)) {
        close(fd);
        return;
    }
    /* At the cap the oldest goes: a scraper answers in a moment, so the
     * oldest is the one least likely to be one. */
    if (m->nconns >= METRICS_MAX_CONNS)
        conn_free(m->conns);
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        return;
    }
    c->m = m;
    c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->deadline = evtimer_new(base, conn_deadline, c);
    if (c->bev == NULL || c->deadline == NULL) {
        if (c->bev != NULL)
            bufferevent_free(c->bev);
        else
            close(fd);
        if (c->deadline != NULL)
            event_free(c->deadline);
        free(c);
        return;
    }
    bufferevent_setcb(c->bev, conn_read, conn_written, conn_event, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, METRICS_REQ_MAX + 1);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    evtimer_add(c->deadline, &dl);
    SR_LIST_PUSH_TAIL(m->conns, m->tail, c, prev, next);
    m->nconns++;
}

int metrics_start(metrics_t *m, struct event_base *base, metrics_collect_fn collect,
                  metrics_release_fn release, metrics_allow_fn allowed, void *arg)
{
    m->collect = collect;
    m->release = release;
    m->allowed = allowed;
    m->arg = arg;
    m->acc = acceptor_new(base, m->fd, LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_CLOSE_ON_FREE, on_accept, m,
                          "metrics");
    if (m->acc == NULL)
        return -1;
    m->fd = -1; /* the listener owns it now */
    return 0;
}

void metrics_free(metrics_t *m)
{
    if (m == NULL)
        return;
    while (m->conns != NULL)
        conn_free(m->conns);
    acceptor_free(m->acc);
    if (m->fd >= 0)
        close(m->fd);
    free(m);
}
