/* xport_client: drives the query engine (sr_upstream) against a real
 * server for tests/integration/test_transport.sh.
 *
 *   xport_client -P udp|tcp|tls -s ADDR -p PORT [--ca FILE] [--tls-name N]
 *                [--fallback] [-n COUNT] [-c CONCURRENCY] [-t TYPE]
 *                [--expect ADDRESS] [--timeout MS] [--edns SIZE] NAME
 *
 * Sends COUNT queries for NAME (at most CONCURRENCY in flight), checks
 * every answer (NOERROR, and an A/AAAA record with ADDRESS when given),
 * and prints, for one query, "rcode=.. proto=.. tc=.. answers=.." and the
 * addresses, then always one summary line:
 *   queries=N ok=N failed=N connections=N handshakes=N resumed=N ignored=N
 * Exit status 0 when every query succeeded. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <stubres/upstream.h>
#include <stubres/wire.h>

struct run {
    struct event_base *base;
    sr_upstream_t *up;
    uint8_t q[512];
    size_t qlen;
    long count, sent, done, ok, failed;
    int timeout_ms;
    const char *expect;
    bool verbose;
    sr_msg_t *msg;
};

static const char *proto_name(sr_proto_t p)
{
    static const char *const names[] = {"udp", "tcp", "tls", "https"};
    return (unsigned)p < 4 ? names[p] : "?";
}

static void send_one(struct run *r);

static bool check_answer(struct run *r, const uint8_t *resp, size_t len, const sr_xfer_info_t *info)
{
    bool found = r->expect == NULL;
    sr_status_t st = sr_msg_parse(r->msg, resp, len, 0);

    if (st != SR_OK) {
        fprintf(stderr, "xport_client: unparsable answer: %s\n", sr_msg_error(r->msg));
        return false;
    }
    if (r->verbose)
        printf("rcode=%u proto=%s tc=%d answers=%zu\n", sr_msg_rcode(r->msg),
               proto_name(info->proto), info->truncated ? 1 : 0,
               sr_msg_section_count(r->msg, SR_SECTION_ANSWER));
    for (size_t i = 0; i < sr_msg_rr_count(r->msg); i++) {
        const sr_rr_t *rr = sr_msg_rr(r->msg, i);
        const char *a;
        if (rr->section != SR_SECTION_ANSWER || (rr->type != SR_TYPE_A && rr->type != SR_TYPE_AAAA))
            continue;
        a = sr_rr_field(rr, "ADDRESS");
        if (a == NULL)
            continue;
        if (r->verbose)
            printf("%s\n", a);
        if (r->expect != NULL && strcmp(a, r->expect) == 0)
            found = true;
    }
    return sr_msg_rcode(r->msg) == 0 && found;
}

static void on_done(void *arg, sr_status_t status, const uint8_t *resp, size_t len,
                    const sr_xfer_info_t *info)
{
    struct run *r = arg;

    r->done++;
    if (status == SR_OK && check_answer(r, resp, len, info)) {
        r->ok++;
    } else {
        r->failed++;
        if (r->failed <= 5)
            fprintf(stderr, "xport_client: query failed: [%d] %s (%s)\n", (int)status,
                    sr_strerror(status), info->detail);
    }
    if (r->sent < r->count)
        send_one(r);
    else if (r->done == r->count)
        event_base_loopbreak(r->base);
}

static void send_one(struct run *r)
{
    /* Until one query is on its way (a failure to start counts as done). */
    while (r->sent < r->count) {
        sr_status_t st;
        /* A fresh ID per query; the transport sends its own random one. */
        r->q[0] = (uint8_t)(r->sent >> 8);
        r->q[1] = (uint8_t)r->sent;
        r->sent++;
        if (sr_upstream_query(r->up, r->q, r->qlen, 0, r->timeout_ms, on_done, r, &st) != NULL)
            return;
        fprintf(stderr, "xport_client: cannot send: [%d] %s\n", (int)st, sr_strerror(st));
        r->done++;
        r->failed++;
    }
    if (r->done == r->count)
        event_base_loopbreak(r->base);
}

static void watchdog(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    fprintf(stderr, "xport_client: watchdog: giving up\n");
    event_base_loopbreak(arg);
}

static void usage(void)
{
    fprintf(stderr, "usage: xport_client -P udp|tcp|tls -s ADDR -p PORT [--ca FILE] "
                    "[--tls-name N] [--fallback] [-n COUNT] [-c CONCURRENCY] "
                    "[-t TYPE] [--expect ADDRESS] [--timeout MS] [--edns SIZE] NAME\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"proto", required_argument, NULL, 'P'},
        {"server", required_argument, NULL, 's'},
        {"port", required_argument, NULL, 'p'},
        {"ca", required_argument, NULL, 'C'},
        {"tls-name", required_argument, NULL, 'N'},
        {"fallback", no_argument, NULL, 'F'},
        {"count", required_argument, NULL, 'n'},
        {"concurrency", required_argument, NULL, 'c'},
        {"type", required_argument, NULL, 't'},
        {"expect", required_argument, NULL, 'e'},
        {"timeout", required_argument, NULL, 'T'},
        {"edns", required_argument, NULL, 'E'},
        {NULL, 0, NULL, 0},
    };
    struct run r;
    sr_upstream_cfg_t cfg;
    sr_upstream_stats_t s;
    sr_query_opts_t qo;
    uint8_t name[SR_NAME_MAX_WIRE];
    size_t nlen;
    long concurrency = 1, edns = 1232;
    int qtype = SR_TYPE_A, c;
    sr_status_t st;
    struct event *wd;
    struct timeval tv = {60, 0};

    memset(&r, 0, sizeof(r));
    memset(&cfg, 0, sizeof(cfg));
    r.count = 1;
    r.timeout_ms = 5000;
    while ((c = getopt_long(argc, argv, "P:s:p:n:c:t:", opts, NULL)) != -1) {
        switch (c) {
        case 'P':
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
        case 'F': cfg.tcp_fallback = true; break;
        case 'n': r.count = atol(optarg); break;
        case 'c': concurrency = atol(optarg); break;
        case 't': qtype = sr_type_from_name(optarg); break;
        case 'e': r.expect = optarg; break;
        case 'T': r.timeout_ms = atoi(optarg); break;
        case 'E': edns = atol(optarg); break;
        default: usage();
        }
    }
    if (optind != argc - 1 || cfg.server == NULL || r.count < 1 || concurrency < 1 || qtype < 0)
        usage();
    r.verbose = r.count == 1;
    if (sr_name_from_text(argv[optind], name, sizeof(name), &nlen) != SR_OK)
        usage();
    memset(&qo, 0, sizeof(qo));
    qo.rd = true;
    qo.edns_size = (uint16_t)edns; /* 0: no OPT, answers over 512 get TC */
    if (sr_query_build(r.q, sizeof(r.q), &r.qlen, name, nlen, (uint16_t)qtype, SR_CLASS_IN, &qo) !=
        SR_OK)
        usage();
    r.base = event_base_new();
    r.msg = sr_msg_new();
    r.up = sr_upstream_new(r.base, &cfg, NULL, &st);
    if (r.up == NULL) {
        fprintf(stderr, "xport_client: [%d] %s\n", (int)st, sr_strerror(st));
        return 1;
    }
    wd = evtimer_new(r.base, watchdog, r.base);
    evtimer_add(wd, &tv);
    for (long i = 0; i < concurrency && r.sent < r.count; i++)
        send_one(&r);
    if (r.done < r.count)
        event_base_dispatch(r.base);
    sr_upstream_stats(r.up, &s);
    printf("queries=%ld ok=%ld failed=%ld connections=%llu handshakes=%llu "
           "resumed=%llu ignored=%llu\n",
           r.count, r.ok, r.count - r.ok, (unsigned long long)s.connections,
           (unsigned long long)s.tls_handshakes, (unsigned long long)s.tls_resumed,
           (unsigned long long)s.ignored);
    sr_upstream_free(r.up);
    sr_msg_free(r.msg);
    event_free(wd);
    event_base_free(r.base);
    return r.ok == r.count ? 0 : 1;
}
