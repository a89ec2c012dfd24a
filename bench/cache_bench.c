/* Cache hit-path benchmark (src/daemon/cache.c).
 *
 *   cache_bench [-n NAMES] [-l LOOKUPS] [-t THREADS] [-r RECORDS]
 *
 * Fills a cache with NAMES answers ("hostN.bench.example.test A", RECORDS
 * A records each, TTL 3600, as an upstream with EDNS sends them), then
 * times LOOKUPS lookups per thread in a scattered order, each rendering
 * the full reply (new ID, the client's 0x20 case, TTLs counted down, an
 * OPT record) into a buffer, as the daemon's UDP path does. Prints
 * lookups per CPU-second (each thread's CPU time, so a busy machine does
 * not skew it; wall-clock rate beside it) and the memory charged per
 * entry beyond the response's wire size. Without -n it runs 1,000 and 100,000 names. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <stubres/wire.h>

#include "cache.h"
#include "lib-internal.h"

typedef struct bench_q {
    cache_query_t q;
    uint8_t name[64];
} bench_q_t;

typedef struct worker {
    cache_t *c;
    const bench_q_t *qs;
    size_t nq;
    size_t lookups;
    unsigned seed;
    size_t hits;
    uint64_t sink;
    double cpu_s; /* the thread's CPU time for its lookups */
} worker_t;

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The response an upstream would send: question, records compressed
 * against it, OPT. */
static size_t make_response(uint8_t *pkt, const uint8_t *qname, size_t qlen, unsigned records,
                            uint32_t addr)
{
    size_t off = 12;
    memset(pkt, 0, 12);
    sr_put16(pkt, 0x1234);
    sr_put16(pkt + 2, 0x8180);
    sr_put16(pkt + 4, 1);
    sr_put16(pkt + 6, (uint16_t)records);
    sr_put16(pkt + 10, 1);
    memcpy(pkt + off, qname, qlen);
    off += qlen;
    sr_put16(pkt + off, SR_TYPE_A);
    sr_put16(pkt + off + 2, SR_CLASS_IN);
    off += 4;
    for (unsigned i = 0; i < records; i++) {
        sr_put16(pkt + off, 0xC00C);
        sr_put16(pkt + off + 2, SR_TYPE_A);
        sr_put16(pkt + off + 4, SR_CLASS_IN);
        sr_put32(pkt + off + 6, 3600);
        sr_put16(pkt + off + 10, 4);
        sr_put32(pkt + off + 12, addr + i);
        off += 16;
    }
    /* OPT: root, type 41, UDP 1232, no flags, no options. */
    pkt[off] = 0;
    sr_put16(pkt + off + 1, SR_TYPE_OPT);
    sr_put16(pkt + off + 3, 1232);
    memset(pkt + off + 5, 0, 6);
    return off + 11;
}

static void *run_worker(void *p)
{
    worker_t *w = p;
    uint8_t out[4096];
    unsigned x = w->seed;
    double t0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    for (size_t i = 0; i < w->lookups; i++) {
        size_t len = 0;
        x = x * 1664525u + 1013904223u;
        const bench_q_t *bq = &w->qs[(x >> 8) % w->nq];
        /* The clock moves a little, so TTLs are really patched. */
        if (cache_lookup(w->c, &bq->q, 1000 + (uint32_t)(i >> 16), false, out, sizeof(out), &len) !=
            CACHE_MISS)
            w->hits++;
        w->sink += out[len - 1];
    }
    w->cpu_s = clock_s(CLOCK_THREAD_CPUTIME_ID) - t0;
    return NULL;
}

static int bench(size_t names, size_t lookups, unsigned threads, unsigned records)
{
    cache_cfg_t cfg = {
        .max_bytes = (size_t)1 << 30,
        .max_ttl = 86400,
        .negative_ttl = 3600,
        .servfail_ttl = 5,
        .stale_reply_ttl = 30,
    };
    cache_t *c = cache_new(&cfg);
    bench_q_t *qs = calloc(names, sizeof(*qs));
    sr_msg_t *msg = sr_msg_new();
    uint8_t pkt[4096];
    double wire_total = 0;
    int rc = 1;

    if (c == NULL || qs == NULL || msg == NULL)
        goto done;
    for (size_t i = 0; i < names; i++) {
        char text[64];
        size_t qlen = 0;
        snprintf(text, sizeof(text), "host%zu.bench.example.test", i);
        if (sr_name_from_text(text, qs[i].name, sizeof(qs[i].name), &qlen) != SR_OK)
            goto done;
        size_t n = make_response(pkt, qs[i].name, qlen, records, 0xC0000200u + (uint32_t)i);
        wire_total += (double)n;
        if (sr_msg_parse(msg, pkt, n, SR_PARSE_NO_FIELDS) != SR_OK ||
            !cache_store(c, qs[i].name, qlen, SR_TYPE_A, SR_CLASS_IN, false, false, msg, 1000))
            goto done;
        /* The client asks in 0x20 mixed case (the 'h' and the 'b'). */
        qs[i].name[1] = 'H';
        qs[i].name[1 + qs[i].name[0] + 1] = 'B';
        qs[i].q.id = (uint16_t)i;
        qs[i].q.flags = SR_FLAG_RD;
        qs[i].q.qname = qs[i].name;
        qs[i].q.qname_len = qlen;
        qs[i].q.qtype = SR_TYPE_A;
        qs[i].q.qclass = SR_CLASS_IN;
        qs[i].q.edns = true;
        qs[i].q.max_len = 1232;
    }

    worker_t w[64];
    pthread_t th[64];
    if (threads > 64)
        threads = 64;
    /* Warm: every entry once. */
    worker_t warm = {.c = c, .qs = qs, .nq = names, .lookups = names * 2, .seed = 1};
    run_worker(&warm);

    double t0 = clock_s(CLOCK_MONOTONIC);
    for (unsigned i = 0; i < threads; i++) {
        w[i] = (worker_t){.c = c, .qs = qs, .nq = names, .lookups = lookups, .seed = 7 + i};
        if (pthread_create(&th[i], NULL, run_worker, &w[i]) != 0)
            goto done;
    }
    size_t hits = 0;
    double cpu = 0;
    for (unsigned i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        hits += w[i].hits;
        cpu += w[i].cpu_s;
    }
    double dt = clock_s(CLOCK_MONOTONIC) - t0;

    cache_stats_t st;
    cache_stats(c, &st);
    double per_entry = (double)st.bytes / (double)st.entries;
    double wire_avg = wire_total / (double)names;
    printf("names %7zu  records %u  threads %u  lookups %zu  hits %zu\n", names, records, threads,
           lookups * threads, hits);
    /* CPU time, not wall time: on a shared machine the thread may wait
     * for a core, which says nothing about the cache. */
    printf("  %.2f M lookups per CPU-second (%.1f ns CPU per lookup); "
           "wall clock %.2f M/s\n",
           (double)(lookups * threads) / cpu / 1e6, cpu * 1e9 / (double)(lookups * threads),
           (double)(lookups * threads) / dt / 1e6);
    printf("  bytes per entry %.1f, response wire size %.1f, beyond wire "
           "%.1f\n",
           per_entry, wire_avg, per_entry - wire_avg);
    rc = hits == lookups * threads ? 0 : 1;
done:
    sr_msg_free(msg);
    free(qs);
    cache_free(c);
    return rc;
}

int main(int argc, char **argv)
{
    size_t names = 0, lookups = 5000000;
    unsigned threads = 1, records = 1;
    int opt;

    while ((opt = getopt(argc, argv, "n:l:t:r:")) != -1) {
        switch (opt) {
        case 'n': names = strtoul(optarg, NULL, 10); break;
        case 'l': lookups = strtoul(optarg, NULL, 10); break;
        case 't': threads = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'r': records = (unsigned)strtoul(optarg, NULL, 10); break;
        default:
            fprintf(stderr,
                    "usage: %s [-n NAMES] [-l LOOKUPS] [-t THREADS] "
                    "[-r RECORDS]\n",
                    argv[0]);
            return 2;
        }
    }
    if (records < 1 || records > 200 || threads < 1 || lookups < 1) {
        fprintf(stderr, "%s: bad arguments\n", argv[0]);
        return 2;
    }
    if (names != 0)
        return bench(names, lookups, threads, records);
    return bench(1000, lookups, threads, records) | bench(100000, lookups, threads, records);
}
