/* stubresd: statistics (see stats.h). */
#include "config.h"

#include <string.h>

#include <stubres/wire.h>

#include "stats.h"

void stats_count_rcode(stats_thread_t *s, unsigned rcode)
{
    STAT_INC(s, responses[rcode < STATS_RCODES ? rcode : STATS_RCODES]);
}

void stats_sum(stats_thread_t *const *threads, size_t n, stats_totals_t *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        stats_thread_t *s = threads[i];
#define SUM(f) out->f += STAT_GET(s, f)
        SUM(queries_udp);
        SUM(queries_tcp);
        SUM(queries_tls);
        SUM(queries_https);
        for (int r = 0; r <= STATS_RCODES; r++)
            out->responses[r] += STAT_GET(s, responses[r]);
        SUM(cache_hits);
        SUM(cache_misses);
        SUM(cache_stale);
        SUM(prefetches);
        SUM(coalesced);
        SUM(upstream_queries);
        SUM(local_errors);
        SUM(local_answers);
        SUM(local_special);
        SUM(dropped);
        SUM(malformed);
        SUM(refused_acl);
        SUM(truncated);
        SUM(tcp_accepted);
        SUM(tcp_refused);
        SUM(tcp_clients);
        SUM(tls_accepted);
        SUM(tls_refused);
        SUM(tls_clients);
        SUM(tls_handshake_failed);
        SUM(inflight);
        SUM(waiting);
        SUM(blocked);
#undef SUM
    }
}

json_t *stats_upstream_json(pool_server_t *s, uint64_t now_us, bool detail)
{
    pool_health_t h;
    json_t *o;

    pool_server_health(s, now_us, &h);
    o = json_pack("{s:s, s:I, s:I, s:I, s:f, s:b}", "server", s->spec.name, "queries",
                  (json_int_t)atomic_load(&s->queries), "errors",
                  (json_int_t)atomic_load(&s->errors), "timeouts",
                  (json_int_t)atomic_load(&s->timeouts), "avg_rtt_ms", h.rtt_ms, "healthy",
                  h.healthy);
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "responses", json_integer((json_int_t)atomic_load(&s->responses)));
    json_object_set_new(o, "servfails", json_integer((json_int_t)atomic_load(&s->servfails)));
    if (s->spec.proto == SR_PROTO_UDP) {
        /* The defences of plain UDP (RFC 7873 cookies, 0x20). */
        json_object_set_new(o, "cookies", json_integer((json_int_t)atomic_load(&s->cookies)));
        json_object_set_new(o, "cookie_mismatches",
                            json_integer((json_int_t)atomic_load(&s->cookie_mismatches)));
        json_object_set_new(o, "case_mismatches",
                            json_integer((json_int_t)atomic_load(&s->case_mismatches)));
        json_object_set_new(o, "case_fallbacks",
                            json_integer((json_int_t)atomic_load(&s->case_fallbacks)));
    }
    json_object_set_new(o, "consecutive_failures", json_integer(h.fails));
    if (!h.healthy)
        json_object_set_new(o, "retry_in_s", json_real(h.retry_in_s));
    if (detail) {
        /* RTT histogram: counts per bucket, each bucket's upper bound in
         * milliseconds (the last one is unbounded). */
        json_t *le = json_array(), *counts = json_array();
        for (int b = 0; b <= POOL_RTT_BUCKETS; b++) {
            if (b < POOL_RTT_BUCKETS)
                json_array_append_new(le, json_real(pool_rtt_bounds_ms[b]));
            else
                json_array_append_new(le, json_string("+Inf"));
            json_array_append_new(counts, json_integer((json_int_t)atomic_load(&s->rtt_hist[b])));
        }
        json_object_set_new(o, "rtt_histogram",
                            json_pack("{s:o, s:o}", "le_ms", le, "counts", counts));
    }
    return o;
}

json_t *stats_json(const stats_totals_t *t, const cache_stats_t *cs, pool_t *pool,
                   uint64_t uptime_s, unsigned threads)
{
    json_t *o = json_object(), *resp = json_object(), *ups = json_array();
    uint64_t now_us = pool_now_us();

    if (o == NULL || resp == NULL || ups == NULL) {
        json_decref(o);
        json_decref(resp);
        json_decref(ups);
        return NULL;
    }
    json_object_set_new(o, "ok", json_true());
    json_object_set_new(o, "uptime_s", json_integer((json_int_t)uptime_s));
    json_object_set_new(o, "threads", json_integer(threads));
    json_object_set_new(
        o, "queries",
        json_pack("{s:I, s:I, s:I, s:I, s:I}", "total",
                  (json_int_t)(t->queries_udp + t->queries_tcp + t->queries_tls + t->queries_https),
                  "udp", (json_int_t)t->queries_udp, "tcp", (json_int_t)t->queries_tcp, "tls",
                  (json_int_t)t->queries_tls, "https", (json_int_t)t->queries_https));
    /* The four names stubresctl(8) documents always, then every other RCODE
     * seen. */
    static const unsigned always[] = {0, 3, 2, 5, 1, 4};
    for (size_t i = 0; i < sizeof(always) / sizeof(always[0]); i++) {
        char buf[16];
        json_object_set_new(resp, sr_rcode_name(always[i], buf),
                            json_integer((json_int_t)t->responses[always[i]]));
    }
    for (unsigned r = 0; r < STATS_RCODES; r++) {
        char buf[16];
        if (t->responses[r] != 0 && json_object_get(resp, sr_rcode_name(r, buf)) == NULL)
            json_object_set_new(resp, sr_rcode_name(r, buf),
                                json_integer((json_int_t)t->responses[r]));
    }
    if (t->responses[STATS_RCODES] != 0)
        json_object_set_new(resp, "other", json_integer((json_int_t)t->responses[STATS_RCODES]));
    json_object_set_new(o, "responses", resp);
    json_object_set_new(o, "cache",
                        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "hits",
                                  (json_int_t)t->cache_hits, "misses", (json_int_t)t->cache_misses,
                                  "entries", (json_int_t)cs->entries, "bytes",
                                  (json_int_t)cs->bytes, "evictions", (json_int_t)cs->evictions,
                                  "expired", (json_int_t)cs->expired, "inserts",
                                  (json_int_t)cs->inserts, "stale_hits", (json_int_t)t->cache_stale,
                                  "prefetches", (json_int_t)t->prefetches));
    json_object_set_new(o, "inflight",
                        json_pack("{s:I, s:I}", "upstream", (json_int_t)t->inflight, "clients",
                                  (json_int_t)t->waiting));
    json_object_set_new(o, "coalesced", json_integer((json_int_t)t->coalesced));
    json_object_set_new(o, "upstream_queries", json_integer((json_int_t)t->upstream_queries));
    json_object_set_new(o, "local_errors", json_integer((json_int_t)t->local_errors));
    json_object_set_new(o, "local",
                        json_pack("{s:I, s:I, s:I}", "answers", (json_int_t)t->local_answers,
                                  "special", (json_int_t)t->local_special, "blocked",
                                  (json_int_t)t->blocked));
    json_object_set_new(o, "dropped", json_integer((json_int_t)t->dropped));
    json_object_set_new(o, "malformed", json_integer((json_int_t)t->malformed));
    json_object_set_new(o, "refused_acl", json_integer((json_int_t)t->refused_acl));
    json_object_set_new(o, "truncated", json_integer((json_int_t)t->truncated));
    json_object_set_new(o, "tcp",
                        json_pack("{s:I, s:I, s:I}", "connections", (json_int_t)t->tcp_clients,
                                  "accepted", (json_int_t)t->tcp_accepted, "refused",
                                  (json_int_t)t->tcp_refused));
    json_object_set_new(o, "tls",
                        json_pack("{s:I, s:I, s:I, s:I}", "connections", (json_int_t)t->tls_clients,
                                  "accepted", (json_int_t)t->tls_accepted, "refused",
                                  (json_int_t)t->tls_refused, "handshake_failed",
                                  (json_int_t)t->tls_handshake_failed));
    for (size_t i = 0; pool != NULL && i < pool->n; i++) {
        json_t *u = stats_upstream_json(pool->servers[i], now_us, true);
        if (u != NULL)
            json_array_append_new(ups, u);
    }
    json_object_set_new(o, "upstreams", ups);
    return o;
}
