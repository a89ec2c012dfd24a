/* Unit tests: stubresd's upstream pool (src/daemon/pool.c): the
 * strategies, health with backoff, a new pool keeping what the old one
 * learnt, and that an encrypted pool never gets a plaintext upstream.
 * Spec parsing and the upstream list are check_spec's. */
#include "config.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "log.h"
#include "pool.h"
#include "check-main.h"

static char resolv_path[300];

static void setup(void)
{
    log_set_level(LOG_LEVEL_ERROR); /* health changes are logged as notices */
    snprintf(resolv_path, sizeof(resolv_path), "%s/check_pool.%d.resolv",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    FILE *f = fopen(resolv_path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("search example.test\nnameserver 127.0.0.1\nnameserver ::1\n"
          "nameserver 127.0.0.53\nnameserver bogus\n",
          f);
    fclose(f);
}

static void teardown(void)
{
    unlink(resolv_path);
}

static cfg_t *cfg_with(const char *key, const char *value, ...)
{
    char err[1024];
    cfg_t *c = cfg_new();
    va_list ap;

    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(cfg_set(c, "resolv_conf", resolv_path, NULL, false, err, sizeof(err)), CFG_OK);
    ck_assert_int_eq(cfg_set(c, "listen", "127.0.0.1:5300", NULL, false, err, sizeof(err)), CFG_OK);
    va_start(ap, value);
    while (key != NULL) {
        ck_assert_msg(cfg_set(c, key, value, NULL, false, err, sizeof(err)) == CFG_OK, "%s", err);
        key = va_arg(ap, const char *);
        if (key != NULL)
            value = va_arg(ap, const char *);
    }
    va_end(ap);
    return c;
}

/* ---- the upstreams a config asks for ---- */

/* Each key behind the list reaches spec_list (check_spec tests the list
 * itself): the class's properties, resolv_conf and listen, UseIDNs. */
START_TEST(test_pool_from_upstream_keys)
{
    char err[1024];
    cfg_t *c = cfg_with("dns_server", "127.0.0.2", "protocol", "tls", "dns_port", "8853", NULL);
    pool_t *p = pool_new(c, NULL, err, sizeof(err));

    ck_assert_msg(p != NULL, "%s", err);
    ck_assert_uint_eq(p->n, 1);
    ck_assert_str_eq(p->servers[0]->spec.name, "tls://127.0.0.2:8853");
    ck_assert(pool_matches(p, c));
    pool_unref(p);
    cfg_unref(c);

    /* resolv.conf without ourselves (listen 127.0.0.1:5300) or names. */
    c = cfg_with("protocol", "tcp", NULL);
    p = pool_new(c, NULL, err, sizeof(err));
    ck_assert_msg(p != NULL, "%s", err);
    ck_assert_uint_eq(p->n, 3);
    ck_assert_str_eq(p->servers[1]->spec.name, "tcp://[::1]:53");
    pool_unref(p);
    ck_assert_int_eq(cfg_set(c, "listen", "0.0.0.0:53, [::]:53", NULL, false, err, sizeof(err)),
                     CFG_OK);
    ck_assert_ptr_null(pool_new(c, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, "other than stubresd itself") != NULL, "%s", err);
    cfg_unref(c);

    c = cfg_with("servers",
                 "udp://b\xc3\xbc"
                 "cher.example",
                 NULL);
    ck_assert_ptr_null(pool_new(c, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, "not ASCII") != NULL, "%s", err);
    ck_assert_int_eq(cfg_set(c, "UseIDNs", "true", NULL, false, err, sizeof(err)), CFG_OK);
    p = pool_new(c, NULL, err, sizeof(err));
    ck_assert_msg(p != NULL, "%s", err);
    ck_assert_str_eq(p->servers[0]->ucfg.server, "xn--bcher-kva.example");
    pool_unref(p);
    cfg_unref(c);
}
END_TEST

/* A pool stays while neither its keys nor its upstreams change. */
START_TEST(test_pool_matches)
{
    char err[1024];
    cfg_t *c = cfg_with("servers", "udp://127.0.0.2:5353", NULL);
    pool_t *p = pool_new(c, NULL, err, sizeof(err));

    ck_assert_msg(p != NULL, "%s", err);
    ck_assert(pool_matches(p, c));
    /* A key that shapes upstreams, but not the list. */
    ck_assert_int_eq(cfg_set(c, "strategy", "fastest", NULL, false, err, sizeof(err)), CFG_OK);
    ck_assert(!pool_matches(p, c));
    ck_assert_int_eq(cfg_set(c, "strategy", "failover", NULL, false, err, sizeof(err)), CFG_OK);
    ck_assert(pool_matches(p, c));
    /* Other keys leave it alone. */
    ck_assert_int_eq(cfg_set(c, "timeout", "5", NULL, false, err, sizeof(err)), CFG_OK);
    ck_assert(pool_matches(p, c));
    pool_unref(p);
    cfg_unref(c);
}
END_TEST

/* ---- an encrypted pool ---- */

START_TEST(test_never_plaintext_for_encrypted)
{
    char err[1024];
    cfg_t *c = cfg_with(NULL, NULL);
    pool_t *p;

    /* A mixed list is refused outright ... */
    ck_assert_int_eq(cfg_set(c, "servers", "tls://127.0.0.1#a.test, udp://127.0.0.2", NULL, false,
                             err, sizeof(err)),
                     CFG_EINVAL);
    ck_assert_int_eq(cfg_set(c, "servers", "https://127.0.0.1/dns-query tcp://127.0.0.2", NULL,
                             false, err, sizeof(err)),
                     CFG_EINVAL);
    /* ... so an encrypted pool holds only encrypted upstreams, and when all
     * of them are down the pick is still one of them. */
    ck_assert_int_eq(cfg_set(c, "servers", "tls://127.0.0.1#a.test https://127.0.0.2/dns-query",
                             NULL, false, err, sizeof(err)),
                     CFG_OK);
    p = pool_new(c, NULL, err, sizeof(err));
    ck_assert_msg(p != NULL, "%s", err);
    ck_assert(p->encrypted);
    uint64_t now = 1000000000;
    for (size_t i = 0; i < p->n; i++)
        pool_report(p->servers[i], POOL_ERROR, 0, now);
    for (int k = 0; k < 10; k++) {
        int i = pool_pick(p, 0, now + 1, (uint32_t)k);
        ck_assert_int_ge(i, 0);
        ck_assert(spec_encrypted(&p->servers[i]->spec));
    }
    pool_unref(p);
    cfg_unref(c);
}
END_TEST

/* ---- strategies and health ---- */

static pool_t *pool_of(const char *strategy, int n)
{
    char list[512] = "", err[1024];
    for (int i = 0; i < n; i++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof(list) - l, "%sudp://127.0.0.%d:5353", i ? " " : "", i + 2);
    }
    cfg_t *c = cfg_with("servers", list, "strategy", strategy, NULL);
    pool_t *p = pool_new(c, NULL, err, sizeof(err));
    ck_assert_msg(p != NULL, "%s", err);
    ck_assert_uint_eq(p->n, (size_t)n);
    cfg_unref(c);
    return p;
}

START_TEST(test_failover)
{
    pool_t *p = pool_of("failover", 3);
    uint64_t t = 5000000;

    ck_assert_int_eq(pool_pick(p, 0, t, 0), 0);
    ck_assert_int_eq(pool_pick(p, 0, t, 7), 0);
    /* The next one for a query that already tried the first. */
    ck_assert_int_eq(pool_pick(p, 1u, t, 0), 1);
    ck_assert_int_eq(pool_pick(p, 3u, t, 0), 2);
    /* All tried: start over. */
    ck_assert_int_eq(pool_pick(p, 7u, t, 0), 0);
    /* The first times out: it is skipped while its backoff runs. */
    pool_report(p->servers[0], POOL_TIMEOUT, 0, t);
    ck_assert_int_eq(pool_pick(p, 0, t + 1, 0), 1);
    ck_assert_int_eq(pool_pick(p, 0, t + 400000, 0), 1);
    /* After the backoff (500 ms) one query probes it ... */
    ck_assert_int_eq(pool_pick(p, 0, t + 600000, 0), 0);
    /* ... and meanwhile the others do not. */
    ck_assert_int_eq(pool_pick(p, 0, t + 600001, 0), 1);
    /* The probe answered: back in front. */
    pool_report(p->servers[0], POOL_OK, 1000, t + 610000);
    ck_assert_int_eq(pool_pick(p, 0, t + 610001, 0), 0);
    /* SERVFAIL does not make an upstream down. */
    pool_report(p->servers[0], POOL_SERVFAIL, 1000, t + 620000);
    ck_assert_int_eq(pool_pick(p, 0, t + 620001, 0), 0);
    pool_unref(p);
}
END_TEST

START_TEST(test_backoff_grows)
{
    pool_t *p = pool_of("failover", 2);
    pool_server_t *s = p->servers[0];
    uint64_t t = 1000000;
    pool_health_t h;

    pool_report(s, POOL_TIMEOUT, 0, t);
    ck_assert_uint_eq(s->backoff_ms, 500);
    pool_report(s, POOL_ERROR, 0, t);
    ck_assert_uint_eq(s->backoff_ms, 1000);
    pool_report(s, POOL_ERROR, 0, t);
    ck_assert_uint_eq(s->backoff_ms, 2000);
    for (int i = 0; i < 20; i++)
        pool_report(s, POOL_TIMEOUT, 0, t);
    ck_assert_uint_eq(s->backoff_ms, 30000); /* capped */
    pool_server_health(s, t, &h);
    ck_assert(!h.healthy);
    ck_assert_uint_eq(h.fails, 23);
    ck_assert(h.retry_in_s > 29.0 && h.retry_in_s <= 30.0);
    ck_assert_uint_eq(atomic_load(&s->timeouts), 21);
    ck_assert_uint_eq(atomic_load(&s->errors), 2);
    pool_report(s, POOL_OK, 2000, t + 1);
    pool_server_health(s, t + 1, &h);
    ck_assert(h.healthy);
    ck_assert_uint_eq(h.fails, 0);
    ck_assert_uint_eq(s->backoff_ms, 0);
    pool_unref(p);
}
END_TEST

START_TEST(test_all_down_tries_the_best)
{
    pool_t *p = pool_of("failover", 3);
    uint64_t t = 1000000;

    pool_report(p->servers[0], POOL_TIMEOUT, 0, t);
    pool_report(p->servers[0], POOL_TIMEOUT, 0, t); /* longer backoff */
    pool_report(p->servers[1], POOL_TIMEOUT, 0, t + 10);
    pool_report(p->servers[2], POOL_TIMEOUT, 0, t + 20);
    /* None is due: the one whose backoff ends first is still tried. */
    ck_assert_int_eq(pool_pick(p, 0, t + 100, 0), 1);
    /* That pick pushed its next chance out: now the third is best. */
    ck_assert_int_eq(pool_pick(p, 0, t + 101, 0), 2);
    pool_unref(p);
}
END_TEST

START_TEST(test_round_robin)
{
    pool_t *p = pool_of("round-robin", 3);
    int seen[3] = {0, 0, 0};

    for (int i = 0; i < 300; i++)
        seen[pool_pick(p, 0, 1000000, 0)]++;
    ck_assert_int_eq(seen[0], 100);
    ck_assert_int_eq(seen[1], 100);
    ck_assert_int_eq(seen[2], 100);
    /* A down one is left out of the rotation. */
    pool_report(p->servers[1], POOL_ERROR, 0, 1000000);
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < 300; i++)
        seen[pool_pick(p, 0, 1000001, 0)]++;
    ck_assert_int_eq(seen[1], 0);
    ck_assert_int_eq(seen[0] + seen[2], 300);
    pool_unref(p);
}
END_TEST

START_TEST(test_fastest)
{
    pool_t *p = pool_of("fastest", 3);
    uint64_t t = 1000000;
    int seen[3] = {0, 0, 0};

    /* Unmeasured upstreams come first, so each gets measured. */
    pool_report(p->servers[0], POOL_OK, 30000, t);
    ck_assert_int_ne(pool_pick(p, 0, t, 1), 0);
    pool_report(p->servers[1], POOL_OK, 5000, t);
    pool_report(p->servers[2], POOL_OK, 20000, t);
    ck_assert_int_eq(pool_pick(p, 0, t, 1), 1);
    /* Mostly the fastest; about one in sixteen probes another. */
    for (uint32_t r = 0; r < 1600; r++)
        seen[pool_pick(p, 0, t, r * 2654435761u)]++;
    ck_assert_int_gt(seen[1], 1400);
    ck_assert_int_gt(seen[0] + seen[2], 40);
    ck_assert_int_lt(seen[0] + seen[2], 200);
    /* The moving average follows: the second gets slow. */
    for (int i = 0; i < 40; i++)
        pool_report(p->servers[1], POOL_OK, 90000, t);
    ck_assert_int_eq(pool_pick(p, 0, t, 1), 2);
    ck_assert(p->servers[1]->rtt_ms > 80.0);
    /* Histogram: 30 ms, 5 ms, 20 ms, 40 x 90 ms. */
    ck_assert_uint_eq(atomic_load(&p->servers[1]->rtt_hist[2]), 1);  /* <= 5 ms */
    ck_assert_uint_eq(atomic_load(&p->servers[1]->rtt_hist[6]), 40); /* <= 100 ms */
    pool_unref(p);
}
END_TEST

START_TEST(test_health_survives_a_new_pool)
{
    char err[512];
    pool_t *p = pool_of("failover", 2), *q;
    cfg_t *c;

    pool_count_query(p->servers[1]);
    pool_report(p->servers[1], POOL_TIMEOUT, 0, 1000);
    c = cfg_with("servers", "udp://127.0.0.3:5353 udp://127.0.0.9:5353", NULL);
    ck_assert(!pool_matches(p, c));
    q = pool_new(c, p, err, sizeof(err));
    ck_assert_ptr_nonnull(q);
    ck_assert(!q->servers[0]->healthy);
    ck_assert_uint_eq(atomic_load(&q->servers[0]->queries), 1);
    ck_assert(q->servers[1]->healthy);
    ck_assert(pool_matches(q, c));
    pool_unref(p);
    pool_unref(q);
    cfg_unref(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool");
    add_tcase(s, "lists", setup, teardown,
              TESTS(test_pool_from_upstream_keys, test_pool_matches,
                    test_never_plaintext_for_encrypted));
    add_tcase(s, "strategies", setup, teardown,
              TESTS(test_failover, test_backoff_grows, test_all_down_tries_the_best,
                    test_round_robin, test_fastest, test_health_survives_a_new_pool));
    return run_suite(s);
}
