/* engine_bench: queries per second of the query engine (sr_upstream)
 * against one server, with a fixed number of queries in flight.
 *
 *   engine_bench -P udp|tcp|tls -s ADDR -p PORT [--ca FILE] [--tls-name N]
 *                [-c INFLIGHT] [-d SECONDS | -n QUERIES] [NAME]
 *
 * Warms up with 1000 queries, then keeps INFLIGHT queries (default 100)
 * going for SECONDS (default 5), or for exactly QUERIES queries (for
 * instruction counts under callgrind, which are repeatable where times
 * are not), and prints one line:
 *   proto=.. inflight=.. seconds=.. queries=.. qps=.. p50_us=.. p99_us=..
 *   cpu_us_per_query=.. connections=.. tls_handshakes=.. tls_resumed=..
 *   failed=..
 * (cpu: this process's user+system time, i.e. the engine's cost). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <event2/event.h>

#include <stubres/upstream.h>
#include <stubres/wire.h>

#define WARMUP 1000
#define HIST_BINS 100000 /* 10 us each: up to 1 s */

struct bench {
    struct event_base *base;
    sr_upstream_t *up;
    uint8_t q[512];
    size_t qlen;
    uint16_t next_id;
    long inflight, warm_done, measured, failed;
    long limit, issued; /* -n: queries to issue while measuring */
    bool measuring, stopping;
    uint32_t *hist;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void issue(struct bench *b);

static void on_done(void *arg, sr_status_t status, const uint8_t *resp, size_t len,
                    const sr_xfer_info_t *info)
{
    struct bench *b = arg;
    (void)resp;
    (void)len;
    b->inflight--;
    if (status != SR_OK)
        b->failed++;
    if (b->measuring) {
        uint64_t bin = info->rtt_us / 10;
        b->hist[bin < HIST_BINS ? bin : HIST_BINS - 1]++;
        if (status == SR_OK)
            b->measured++;
    } else {
        b->warm_done++;
    }
    if (!b->stopping && b->limit > 0 && b->issued >= b->limit)
        b->stopping = true;
    if (!b->stopping)
        issue(b);
    else if (b->inflight == 0)
        event_base_loopbreak(b->base);
}

static void issue(struct bench *b)
{
    sr_status_t st;
    b->next_id++;
    b->q[0] = (uint8_t)(b->next_id >> 8);
    b->q[1] = (uint8_t)b->next_id;
    if (b->measuring)
        b->issued++;
    if (sr_upstream_query(b->up, b->q, b->qlen, 0, 5000, on_done, b, &st) != NULL)
        b->inflight++;
    else
        b->failed++;
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    struct bench *b = arg;
    (void)fd;
    (void)what;
    b->stopping = true;
    b->measuring = false;
    if (b->inflight == 0)
        event_base_loopbreak(b->base);
}

static long percentile(const uint32_t *hist, long total, double p)
{
    long want = (long)(p * (double)total), seen = 0;
    for (long i = 0; i < HIST_BINS; i++) {
        seen += hist[i];
        if (seen > want)
            return i * 10;
    }
    return (HIST_BINS - 1) * 10;
}

static void usage(void)
{
    fprintf(stderr, "usage: engine_bench -P udp|tcp|tls -s ADDR -p PORT [--ca FILE] "
                    "[--tls-name N] [-c INFLIGHT] [-d SECONDS | -n QUERIES] [NAME]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"ca", required_argument, NULL, 'C'},
        {"tls-name", required_argument, NULL, 'N'},
        {NULL, 0, NULL, 0},
    };
    struct bench b;
    sr_upstream_cfg_t cfg;
    sr_upstream_stats_t s;
    sr_query_opts_t qo;
    uint8_t name[SR_NAME_MAX_WIRE];
    size_t nlen;
    long want_inflight = 100;
    double seconds = 5, t0, t1, c0, c1;
    const char *qname = "www.example.test", *proto = "udp";
    sr_status_t st;
    int c;

    memset(&b, 0, sizeof(b));
    memset(&cfg, 0, sizeof(cfg));
    while ((c = getopt_long(argc, argv, "P:s:p:c:d:n:", opts, NULL)) != -1) {
        switch (c) {
        case 'P':
            proto = optarg;
            if (strcmp(optarg, "udp") == 0)
                cfg.proto = SR_PROTO_UDP;
            else if (strcmp(optarg, "tcp") == 0)
                cfg.proto = SR_PROTO_TCP;
            else if (strcmp(optarg, "tls") == 0)
                cfg.proto = SR_PROTO_TLS;
            else
                usage();
            break;
        case 's': cfg.server = optarg; break;
        case 'p': cfg.port = (uint16_t)atoi(optarg); break;
        case 'C': cfg.ca_file = optarg; break;
        case 'N': cfg.tls_name = optarg; break;
        case 'c': want_inflight = atol(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'n': b.limit = atol(optarg); break;
        default: usage();
        }
    }
    if (optind < argc)
        qname = argv[optind];
    if (cfg.server == NULL || want_inflight < 1 || seconds <= 0)
        usage();
    if (sr_name_from_text(qname, name, sizeof(name), &nlen) != SR_OK)
        usage();
    memset(&qo, 0, sizeof(qo));
    qo.rd = true;
    qo.edns_size = 1232;
    if (sr_query_build(b.q, sizeof(b.q), &b.qlen, name, nlen, SR_TYPE_A, SR_CLASS_IN, &qo) != SR_OK)
        usage();
    b.hist = calloc(HIST_BINS, sizeof(*b.hist));
    b.base = event_base_new();
    b.up = sr_upstream_new(b.base, &cfg, NULL, &st);
    if (b.up == NULL) {
        fprintf(stderr, "engine_bench: [%d] %s\n", (int)st, sr_strerror(st));
        return 1;
    }

    /* Warm-up: the server's cache, our connections and sessions. */
    for (long i = 0; i < want_inflight; i++)
        issue(&b);
    while (b.warm_done < WARMUP && b.inflight > 0)
        event_base_loop(b.base, EVLOOP_ONCE);

    struct timeval tv = {(time_t)seconds, (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6)};
    struct event *stop = evtimer_new(b.base, stop_cb, &b);
    b.measuring = true;
    b.warm_done = 0;
    t0 = now_s();
    c0 = cpu_s();
    if (b.limit == 0)
        evtimer_add(stop, &tv);
    event_base_dispatch(b.base);
    t1 = now_s();
    c1 = cpu_s();

    sr_upstream_stats(b.up, &s);
    printf("proto=%s inflight=%ld seconds=%.2f queries=%ld qps=%.0f p50_us=%ld "
           "p99_us=%ld cpu_us_per_query=%.2f connections=%llu tls_handshakes=%llu "
           "tls_resumed=%llu failed=%ld\n",
           proto, want_inflight, t1 - t0, b.measured, (double)b.measured / (t1 - t0),
           percentile(b.hist, b.measured, 0.50), percentile(b.hist, b.measured, 0.99),
           b.measured > 0 ? (c1 - c0) * 1e6 / (double)b.measured : 0.0,
           (unsigned long long)s.connections, (unsigned long long)s.tls_handshakes,
           (unsigned long long)s.tls_resumed, b.failed);
    event_free(stop);
    sr_upstream_free(b.up);
    event_base_free(b.base);
    free(b.hist);
    return b.failed == 0 ? 0 : 1;
}
