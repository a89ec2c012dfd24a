/* doh_client: drives one DoH upstream of libstubres (sr_upstream_*) for
 * the integration tests (test_doh.sh) and the DoH benchmark.
 *
 *   doh_client [options] URL QUERY...
 *     QUERY            NAME or NAME/TYPE (mnemonic or number; default A)
 *     -m post|get|json DoHMethod (default post)
 *     -c FILE          ca_file          -n NAME  tls_name
 *     -k               insecure         -P PINS  spki_pins
 *     -b ADDR[:PORT]   bootstrap        -p PORT  port
 *     -t MS            timeout per query (default 5000)
 *     -a               absolute timeout
 *     -r N             send the list N times (default 1)
 *     -j N             at most N queries in flight (default: all)
 *     -d / -D          set DO (with EDNS) / CD in the queries
 *     -x accept|reject an on_ssl_server_authentication handler that
 *                      overrides every verdict
 *     -l LEVEL         log_level; log lines and TLS status go to stderr
 *     -s               summary only (no per-query output)
 *   re-entrancy (for ASan runs):
 *     -C               cancel every second query right after sending it
 *     -F N             free the upstream inside the Nth answer's callback
 *     -Z               free the upstream inside on_ssl_server_authentication
 *                      (that is, inside a libcurl callback)
 *
 * Output, per query in the order given (unless -s):
 *   query NAME TYPE: status=0 rcode=NOERROR http=200 flags=qr rd ra
 *   rr answer OWNER TYPE TTL FIELD=VALUE FIELD=VALUE ...
 * or
 *   query NAME TYPE: error=CODE http=STATUS detail=TEXT
 * then one line:
 *   stats queries=N responses=N errors=N timeouts=N connections=N
 *         handshakes=N resumed=N elapsed_ms=N qps=N
 * Exit status 0 when every query was answered, 1 otherwise, 2 on usage
 * errors, 3 when the watchdog had to stop the loop (a hang). */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include <stubres/upstream.h>
#include <stubres/wire.h>

/* One query of the list. */
typedef struct job {
    const char *name;
    uint8_t qname[SR_NAME_MAX_WIRE];
    size_t qname_len;
    uint16_t qtype;
} job_t;

/* One query sent: which job, and what came back. */
typedef struct slot {
    struct client *c;
    size_t job;
    char *out; /* the printed result */
    bool answered;
} slot_t;

typedef struct client {
    struct event_base *base;
    sr_upstream_t *up;
    job_t *jobs;
    size_t njobs;
    slot_t *slots;
    size_t nslots; /* njobs * repeat */
    size_t next;   /* next slot to send */
    size_t inflight;
    size_t done;
    size_t max_inflight;
    int timeout_ms;
    bool do_bit, cd, summary;
    bool cancel_odd, free_in_auth;
    size_t free_after; /* -F: free the upstream in this answer (1-based) */
    bool freed;
    sr_upstream_stats_t last; /* stats read just before a free */
    int failed;
    sr_msg_t *msg;
} client_t;

static int auth_override = -1; /* -x: 1 accept, 0 reject, -1 leave */

/* Free the upstream now (from a callback): every query still open is
 * dropped without its callback (upstream.h), so account for them here. */
static void free_upstream(struct client *c);

/* printf into a new string. */
static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (s == NULL) {
        fprintf(stderr, "doh_client: out of memory\n");
        exit(2);
    }
    return s;
}

/* Append to a growing string. */
static void append(char **s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void append(char **s, const char *fmt, ...)
{
    va_list ap;
    char *add = NULL, *n;

    va_start(ap, fmt);
    if (vasprintf(&add, fmt, ap) < 0)
        add = NULL;
    va_end(ap);
    if (add == NULL || (n = xasprintf("%s%s", *s, add)) == NULL) {
        fprintf(stderr, "doh_client: out of memory\n");
        exit(2);
    }
    free(add);
    free(*s);
    *s = n;
}

static void on_log(void *arg, int level, const char *type, const char *msg)
{
    fprintf(stderr, "log[%d] %s: %s\n", level, type, msg);
}

static void on_ssl_status(void *arg, const char *addr, uint16_t port, const char *msg)
{
    fprintf(stderr, "ssl %s#%u: %s\n", addr, (unsigned)port, msg);
}

static void on_auth(void *arg, sr_tls_auth_t *auth)
{
    struct client *c = arg;

    fprintf(stderr, "auth %s#%u: status=%s accept=%d subject=%s\n", auth->remote_address,
            (unsigned)auth->remote_port, auth->status, auth->accept ? 1 : 0, auth->cert_subject);
    if (auth_override >= 0)
        auth->accept = auth_override == 1;
    if (c->free_in_auth && !c->freed)
        free_upstream(c);
}

static void send_more(client_t *c);

static const char *section_name(sr_section_t s)
{
    return s == SR_SECTION_ANSWER      ? "answer"
           : s == SR_SECTION_AUTHORITY ? "authority"
                                       : "additional";
}

/* The result of one query as text. */
static void on_answer(void *arg, sr_status_t status, const uint8_t *resp, size_t len,
                      const sr_xfer_info_t *info)
{
    slot_t *s = arg;
    client_t *c = s->c;
    const job_t *j = &c->jobs[s->job];
    char tbuf[16], rbuf[16];
    char *out;

    out = xasprintf("query %s %s: ", j->name, sr_type_name(j->qtype, tbuf));
    if (status != SR_OK) {
        append(&out, "error=%d http=%d detail=%s\n", (int)status, info->http_status, info->detail);
        c->failed++;
    } else if (sr_msg_parse(c->msg, resp, len, 0) != SR_OK) {
        append(&out, "error=parse detail=%s\n", sr_msg_error(c->msg));
        c->failed++;
    } else {
        uint16_t f = sr_msg_flags(c->msg);
        s->answered = true;
        append(&out, "status=0 rcode=%s http=%d flags=%s%s%s%s%s%s%s\n",
               sr_rcode_name(sr_msg_rcode(c->msg), rbuf), info->http_status,
               (f & SR_FLAG_QR) ? "qr" : "", (f & SR_FLAG_AA) ? " aa" : "",
               (f & SR_FLAG_TC) ? " tc" : "", (f & SR_FLAG_RD) ? " rd" : "",
               (f & SR_FLAG_RA) ? " ra" : "", (f & SR_FLAG_AD) ? " ad" : "",
               (f & SR_FLAG_CD) ? " cd" : "");
        for (size_t i = 0; i < sr_msg_rr_count(c->msg); i++) {
            const sr_rr_t *rr = sr_msg_rr(c->msg, i);
            append(&out, "rr %s %s %s %u", section_name(rr->section), rr->name,
                   sr_type_name(rr->type, tbuf), (unsigned)rr->ttl);
            for (size_t k = 0; k < rr->field_count; k++)
                append(&out, " %s=%s", rr->fields[k].name, rr->fields[k].value);
            append(&out, "\n");
        }
    }
    s->out = out;
    c->inflight--;
    c->done++;
    if (c->free_after != 0 && c->done == c->free_after && !c->freed)
        free_upstream(c);
    if (c->done == c->nslots || c->freed)
        event_base_loopbreak(c->base);
    else
        send_more(c);
}

static void free_upstream(client_t *c)
{
    sr_upstream_stats(c->up, &c->last);
    sr_upstream_free(c->up);
    c->up = NULL;
    c->freed = true;
    for (size_t i = 0; i < c->nslots; i++) {
        slot_t *s = &c->slots[i];
        if (s->out == NULL && i < c->next)
            s->out = xasprintf("query %s: dropped (upstream freed)\n", c->jobs[s->job].name);
    }
    event_base_loopbreak(c->base);
}

/* Keep max_inflight queries going. */
static void send_more(client_t *c)
{
    while (!c->freed && c->next < c->nslots && c->inflight < c->max_inflight) {
        slot_t *s = &c->slots[c->next];
        const job_t *j = &c->jobs[s->job];
        sr_query_opts_t o;
        uint8_t q[512];
        size_t qlen = 0;
        sr_status_t st;

        memset(&o, 0, sizeof(o));
        o.id = (uint16_t)(c->next % 65535 + 1);
        o.rd = true;
        o.cd = c->cd;
        o.edns_size = c->do_bit ? 1232 : 0;
        o.do_bit = c->do_bit;
        st = sr_query_build(q, sizeof(q), &qlen, j->qname, j->qname_len, j->qtype, SR_CLASS_IN, &o);
        c->next++;
        sr_xfer_t *x = NULL;
        if (st == SR_OK)
            x = sr_upstream_query(c->up, q, qlen, 0, c->timeout_ms, on_answer, s, &st);
        if (x != NULL && c->cancel_odd && c->next % 2 == 0) {
            /* c->next was advanced: this is an odd slot (0-based) */
            sr_xfer_cancel(x);
            s->out = xasprintf("query %s: cancelled\n", j->name);
            c->done++;
            continue;
        }
        if (x != NULL) {
            c->inflight++;
            continue;
        }
        s->out = xasprintf("query %s: error=%d http=0 detail=not sent\n", j->name, (int)st);
        c->failed++;
        c->done++;
    }
    if (c->done == c->nslots)
        event_base_loopbreak(c->base);
}

/* The loop must never outlive every query's timeout by far. */
static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
    client_t *c = arg;
    fprintf(stderr, "doh_client: watchdog: %zu of %zu queries still open\n", c->nslots - c->done,
            c->nslots);
    exit(3);
}

static void usage(void)
{
    fprintf(stderr, "usage: doh_client [-m post|get|json] [-c CA] [-n NAME] "
                    "[-k] [-P PINS] [-b BOOT] [-p PORT] [-t MS] [-a] [-r N] "
                    "[-j N] [-d] [-D] [-x accept|reject] [-l LEVEL] [-s] [-C] [-F N] [-Z] URL "
                    "QUERY...\n");
    exit(2);
}

int main(int argc, char **argv)
{
    sr_upstream_cfg_t cfg;
    sr_upstream_events_t ev;
    sr_upstream_stats_t st;
    client_t c;
    struct event *wd;
    struct timeval tv;
    struct timespec t0, t1;
    sr_status_t status;
    long repeat = 1;
    double ms;
    int opt;

    memset(&cfg, 0, sizeof(cfg));
    memset(&ev, 0, sizeof(ev));
    memset(&c, 0, sizeof(c));
    cfg.proto = SR_PROTO_HTTPS;
    c.timeout_ms = 5000;
    while ((opt = getopt(argc, argv, "m:c:n:kP:b:p:t:ar:j:dDx:l:sCF:Z")) != -1) {
        switch (opt) {
        case 'm':
            cfg.doh_method = strcmp(optarg, "get") == 0    ? SR_DOH_GET
                             : strcmp(optarg, "json") == 0 ? SR_DOH_JSON
                                                           : SR_DOH_POST;
            break;
        case 'c': cfg.ca_file = optarg; break;
        case 'n': cfg.tls_name = optarg; break;
        case 'k': cfg.insecure = true; break;
        case 'P': cfg.spki_pins = optarg; break;
        case 'b': cfg.bootstrap = optarg; break;
        case 'p': cfg.port = (uint16_t)atoi(optarg); break;
        case 't': c.timeout_ms = atoi(optarg); break;
        case 'a': cfg.absolute_timeout = true; break;
        case 'r': repeat = atol(optarg); break;
        case 'j': c.max_inflight = (size_t)atol(optarg); break;
        case 'd': c.do_bit = true; break;
        case 'D': c.cd = true; break;
        case 'x': auth_override = strcmp(optarg, "accept") == 0; break;
        case 'l': cfg.log_level = atoi(optarg); break;
        case 's': c.summary = true; break;
        case 'C': c.cancel_odd = true; break;
        case 'F': c.free_after = (size_t)atol(optarg); break;
        case 'Z': c.free_in_auth = true; break;
        default: usage();
        }
    }
    if (argc - optind < 2 || repeat < 1 || repeat > 1000000)
        usage();
    cfg.server = argv[optind];
    c.njobs = (size_t)(argc - optind - 1);
    c.jobs = calloc(c.njobs, sizeof(*c.jobs));
    c.nslots = c.njobs * (size_t)repeat;
    c.slots = calloc(c.nslots, sizeof(*c.slots));
    c.msg = sr_msg_new();
    if (c.jobs == NULL || c.slots == NULL || c.msg == NULL)
        return 2;
    for (size_t i = 0; i < c.njobs; i++) {
        char *arg = argv[optind + 1 + i];
        char *slash = strrchr(arg, '/');
        int t = SR_TYPE_A;
        if (slash != NULL) {
            *slash = '\0';
            t = sr_type_from_name(slash + 1);
            if (t < 0) {
                fprintf(stderr, "doh_client: unknown type %s\n", slash + 1);
                return 2;
            }
        }
        c.jobs[i].name = arg;
        c.jobs[i].qtype = (uint16_t)t;
        if (sr_name_from_text(arg, c.jobs[i].qname, sizeof(c.jobs[i].qname),
                              &c.jobs[i].qname_len) != SR_OK) {
            fprintf(stderr, "doh_client: bad name %s\n", arg);
            return 2;
        }
    }
    for (size_t i = 0; i < c.nslots; i++) {
        c.slots[i].c = &c;
        c.slots[i].job = i % c.njobs;
    }
    if (c.max_inflight == 0)
        c.max_inflight = c.nslots;

    ev.on_log = on_log;
    ev.on_ssl_status = cfg.log_level > 0 ? on_ssl_status : NULL;
    ev.on_ssl_server_authentication = on_auth;
    ev.arg = &c;
    c.base = event_base_new();
    if (c.base == NULL)
        return 2;
    c.up = sr_upstream_new(c.base, &cfg, &ev, &status);
    if (c.up == NULL) {
        printf("upstream: error=%d detail=%s\n", (int)status, sr_strerror(status));
        event_base_free(c.base);
        sr_msg_free(c.msg);
        free(c.jobs);
        free(c.slots);
        return 1;
    }
    /* Every query ends by its timeout; give the loop that per round of
     * max_inflight queries, plus slack. */
    {
        size_t rounds = (c.nslots + c.max_inflight - 1) / c.max_inflight;
        long long lim = (long long)c.timeout_ms * (long long)(rounds + 1) + 5000;
        if (lim > 3600000)
            lim = 3600000;
        tv.tv_sec = (time_t)(lim / 1000);
        tv.tv_usec = (suseconds_t)((lim % 1000) * 1000);
    }
    wd = evtimer_new(c.base, watchdog_cb, &c);
    evtimer_add(wd, &tv);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    send_more(&c);
    if (c.done < c.nslots && !c.freed)
        event_base_dispatch(c.base);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (c.freed)
        st = c.last;
    else
        sr_upstream_stats(c.up, &st);

    for (size_t i = 0; i < c.nslots; i++) {
        if (!c.summary && c.slots[i].out != NULL)
            fputs(c.slots[i].out, stdout);
        free(c.slots[i].out);
    }
    printf("stats queries=%llu responses=%llu errors=%llu timeouts=%llu "
           "connections=%llu handshakes=%llu resumed=%llu elapsed_ms=%.0f "
           "qps=%.0f\n",
           (unsigned long long)st.queries, (unsigned long long)st.responses,
           (unsigned long long)st.errors, (unsigned long long)st.timeouts,
           (unsigned long long)st.connections, (unsigned long long)st.tls_handshakes,
           (unsigned long long)st.tls_resumed, ms, ms > 0 ? (double)c.nslots * 1000.0 / ms : 0.0);
    sr_upstream_free(c.up); /* NULL after -F/-Z: accepted */
    event_free(wd);
    event_base_free(c.base);
    sr_msg_free(c.msg);
    free(c.jobs);
    free(c.slots);
    if (c.freed)
        return 0; /* the drops were asked for */
    return c.failed == 0 ? 0 : 1;
}
