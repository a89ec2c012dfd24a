/* The generic part of every upstream query (upstream.h): parsing the server
 * spec, wire IDs, padding, timeouts, matching replies to queries (RFC
 * 5452), the TC=1 fallback to TCP, completion and counters. The protocol
 * modules (udp.c, stream.c, doh.c) move the bytes. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "bootstrap-internal.h"
#include "codec-internal.h"

#define DEFAULT_TIMEOUT_MS 60000 /* the reference's timeout default */
#define DEFAULT_MAX_PACKET 4096
#define MIN_MAX_PACKET 512 /* RFC 1035 4.2.1: every server fits this */
#define DEFAULT_IDLE_MS 10000
#define DEFAULT_MAX_CONN 2
#define DEFAULT_MAX_PIPELINE 128
#define MAX_PIPELINE_LIMIT 4096
#define PAD_BLOCK 128 /* RFC 8467 4.1 */
#define PAD_ROOM (11 + 4 + PAD_BLOCK)
#define DNS_MAX_MSG 65535

/* ------------------------------------------------------------------ */
/* small utilities */

void sr_upstream_log(const sr_upstream_t *up, int level, const char *type, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    if (up->ev.on_log == NULL || level > up->cfg.log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    up->ev.on_log(up->ev.arg, level, type != NULL ? type : "Info", msg);
}

static bool ascii_eq_nocase(uint8_t a, uint8_t b)
{
    if (a >= 'A' && a <= 'Z')
        a = (uint8_t)(a + 32);
    if (b >= 'A' && b <= 'Z')
        b = (uint8_t)(b + 32);
    return a == b;
}

sr_status_t sr_hostport_split(const char *spec, char *host, size_t cap, uint16_t *port)
{
    sr_hostport_t hp;

    if (spec == NULL || *spec == '\0' || sr_hostport_scan(spec, "", &hp) != 0)
        return SR_E_BAD_ADDRESS;
    if (*hp.end != '\0' || hp.host_len == 0 || hp.host_len >= cap)
        return SR_E_BAD_ADDRESS;
    memcpy(host, hp.host, hp.host_len);
    host[hp.host_len] = '\0';
    if (hp.port != NULL && sr_port_parse(hp.port, hp.port_len, false, port) != 0)
        return SR_E_BAD_ADDRESS;
    return SR_OK;
}

/* A syntactically valid host name (RFC 1123 2.1, plus '_' which real
 * service names use). */
static bool valid_host_name(const char *s)
{
    size_t len = strlen(s), label = 0;

    if (len == 0 || len > 253 + 1)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
        if (++label > SR_LABEL_MAX)
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* creating and freeing upstreams */

static sr_status_t dup_str(const char **dst)
{
    if (*dst == NULL)
        return SR_OK;
    char *c = sr_strdup(*dst);
    if (c == NULL) {
        *dst = NULL;
        return SR_E_NOMEM;
    }
    *dst = c;
    return SR_OK;
}

static void free_cfg_strings(sr_upstream_cfg_t *cfg)
{
    sr_free((char *)cfg->server);
    sr_free((char *)cfg->bootstrap);
    sr_free((char *)cfg->resolv_conf);
    sr_free((char *)cfg->tls_name);
    sr_free((char *)cfg->ca_file);
    sr_free((char *)cfg->spki_pins);
    sr_free((char *)cfg->local_host);
}

static void upstream_destroy(sr_upstream_t *up)
{
    if (up->ops != NULL && up->tp != NULL && up->ops->fini != NULL)
        up->ops->fini(up);
    sr_upstream_free(up->fallback);
    sr_upstream_free(up->bootstrap);
    sr_event_free(up->resolve_ev);
    SSL_SESSION_free(up->ssl_session); /* both accept NULL */
    SSL_CTX_free(up->ssl_ctx);
    free_cfg_strings(&up->cfg);
    sr_free(up->pins);
    sr_free(up->name);
    sr_free(up->host);
    sr_free(up->url);
    sr_free(up);
}

void sr_upstream_hold(sr_upstream_t *up)
{
    up->hold++;
}

bool sr_upstream_release(sr_upstream_t *up)
{
    if (--up->hold == 0 && up->dying) {
        upstream_destroy(up);
        return true;
    }
    return false;
}

static const char *scheme_of(sr_proto_t p)
{
    switch (p) {
    case SR_PROTO_UDP: return "udp";
    case SR_PROTO_TCP: return "tcp";
    case SR_PROTO_TLS: return "tls";
    case SR_PROTO_HTTPS: return "https";
    }
    return "udp";
}

static uint16_t default_port(sr_proto_t p)
{
    switch (p) {
    case SR_PROTO_TLS: return 853;   /* RFC 7858 3.1 */
    case SR_PROTO_HTTPS: return 443; /* RFC 8484 */
    default: return 53;
    }
}

/* Parse cfg.server into host, port, url and name. */
static sr_status_t parse_server(sr_upstream_t *up)
{
    const char *s = up->cfg.server;
    char host[300], auth[300];
    uint16_t port = up->cfg.port != 0 ? up->cfg.port : default_port(up->cfg.proto);
    char *tls_name = NULL;
    const char *scheme = scheme_of(up->cfg.proto);
    size_t slen;
    sr_status_t status = SR_OK;

    if (s == NULL || *s == '\0')
        return SR_E_NO_SERVER;
    slen = strlen(s);
    if (up->cfg.proto == SR_PROTO_HTTPS) {
        const char *a = s, *aend;
        bool has_scheme = strncasecmp(s, "https://", 8) == 0;
        if (has_scheme)
            a = s + 8;
        else if (strstr(s, "://") != NULL)
            return SR_E_BAD_ADDRESS;
        aend = a + strcspn(a, "/?#");
        if (aend == a || (size_t)(aend - a) >= sizeof(auth) ||
            memchr(a, '@', (size_t)(aend - a)) != NULL)
            return SR_E_BAD_ADDRESS;
        memcpy(auth, a, (size_t)(aend - a));
        auth[aend - a] = '\0';
        status = sr_hostport_split(auth, host, sizeof(host), &port);
        if (status != SR_OK)
            return status;
        /* Without a path, RFC 8484's customary /dns-query. */
        size_t ulen = slen + 8 + 11;
        up->url = sr_malloc(ulen);
        if (up->url == NULL)
            return SR_E_NOMEM;
        snprintf(up->url, ulen, "%s%s%s", has_scheme ? "" : "https://", s,
                 *aend == '\0' ? "/dns-query" : "");
    } else {
        /* Accept the daemon's "tls://HOST[:PORT][#AUTH_NAME]" form too. */
        size_t sch = strlen(scheme);
        const char *sep = strstr(s, "://");
        if (sep != NULL) {
            if ((size_t)(sep - s) != sch || strncasecmp(s, scheme, sch) != 0)
                return SR_E_BAD_ADDRESS;
            s = sep + 3;
        }
        const char *hash = strchr(s, '#');
        size_t hlen = hash != NULL ? (size_t)(hash - s) : strlen(s);
        if (hash != NULL && (up->cfg.proto != SR_PROTO_TLS || hash[1] == '\0'))
            return SR_E_BAD_ADDRESS;
        if (hlen >= sizeof(auth))
            return SR_E_BAD_ADDRESS;
        memcpy(auth, s, hlen);
        auth[hlen] = '\0';
        status = sr_hostport_split(auth, host, sizeof(host), &port);
        if (status != SR_OK)
            return status;
        if (hash != NULL && up->cfg.tls_name == NULL) {
            tls_name = sr_strdup(hash + 1);
            if (tls_name == NULL)
                return SR_E_NOMEM;
            up->cfg.tls_name = tls_name;
        }
    }
    up->port = port;
    up->host = sr_strdup(host);
    if (up->host == NULL)
        return SR_E_NOMEM;
    if (sr_addr_parse(host, port, &up->addr, &up->addrlen) == SR_OK) {
        up->resolved = true;
        up->host_is_ip = true;
        sr_addr_text((struct sockaddr *)&up->addr, up->addr_text, sizeof(up->addr_text), NULL);
    } else if (!valid_host_name(host)) {
        return SR_E_BAD_ADDRESS;
    }
    if (up->cfg.proto == SR_PROTO_HTTPS) {
        up->name = sr_strdup(up->url);
    } else {
        bool v6 = strchr(host, ':') != NULL;
        const char *tn = up->cfg.tls_name;
        size_t nlen = strlen(scheme) + strlen(host) + 16 + (tn != NULL ? strlen(tn) + 1 : 0);
        up->name = sr_malloc(nlen);
        if (up->name != NULL)
            snprintf(up->name, nlen, "%s://%s%s%s:%u%s%s", scheme, v6 ? "[" : "", host,
                     v6 ? "]" : "", (unsigned)port,
                     (up->cfg.proto == SR_PROTO_TLS && tn != NULL) ? "#" : "",
                     (up->cfg.proto == SR_PROTO_TLS && tn != NULL) ? tn : "");
    }
    if (up->name == NULL)
        return SR_E_NOMEM;
    return SR_OK;
}

SR_API sr_upstream_t *sr_upstream_new(struct event_base *base, const sr_upstream_cfg_t *cfg,
                                      const sr_upstream_events_t *events, sr_status_t *status)
{
    sr_upstream_t *up = NULL;
    sr_status_t st = SR_OK;

    if (base == NULL || cfg == NULL) {
        st = SR_E_INVAL;
        goto done;
    }
    up = sr_calloc(1, sizeof(*up));
    if (up == NULL) {
        st = SR_E_NOMEM;
        goto done;
    }
    up->base = base;
    up->cfg = *cfg;
    up->cfg.server = up->cfg.bootstrap = up->cfg.resolv_conf = NULL;
    up->cfg.tls_name = up->cfg.ca_file = up->cfg.spki_pins = NULL;
    up->cfg.local_host = NULL;
    /* Copy the strings one by one so that a failure leaves NULLs behind. */
    const char *const src[] = {cfg->server,  cfg->bootstrap, cfg->resolv_conf, cfg->tls_name,
                               cfg->ca_file, cfg->spki_pins, cfg->local_host};
    const char **const dst[] = {&up->cfg.server,    &up->cfg.bootstrap, &up->cfg.resolv_conf,
                                &up->cfg.tls_name,  &up->cfg.ca_file,   &up->cfg.spki_pins,
                                &up->cfg.local_host};
    for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++) {
        *dst[i] = src[i];
        st = dup_str(dst[i]);
        if (st != SR_OK)
            goto done;
    }
    if (events != NULL)
        up->ev = *events;
    if (up->cfg.max_packet_size == 0)
        up->cfg.max_packet_size = DEFAULT_MAX_PACKET;
    else if (up->cfg.max_packet_size < MIN_MAX_PACKET)
        up->cfg.max_packet_size = MIN_MAX_PACKET;
    if (up->cfg.idle_timeout_ms <= 0)
        up->cfg.idle_timeout_ms = DEFAULT_IDLE_MS;
    if (up->cfg.max_connections <= 0)
        up->cfg.max_connections = DEFAULT_MAX_CONN;
    if (up->cfg.max_pipeline <= 0)
        up->cfg.max_pipeline = DEFAULT_MAX_PIPELINE;
    else if (up->cfg.max_pipeline > MAX_PIPELINE_LIMIT)
        up->cfg.max_pipeline = MAX_PIPELINE_LIMIT;
    if (up->cfg.dscp < 0 || up->cfg.dscp > 63) {
        st = SR_E_INVAL;
        goto done;
    }

    switch (up->cfg.proto) {
    case SR_PROTO_UDP: up->ops = &sr_udp_ops; break;
    case SR_PROTO_TCP: up->ops = &sr_tcp_ops; break;
    case SR_PROTO_TLS: up->ops = &sr_tls_ops; break;
    case SR_PROTO_HTTPS: up->ops = &sr_doh_ops; break;
    default: up->ops = NULL; break;
    }
    if (up->ops == NULL) {
        st = SR_E_PROTONOSUPPORT;
        goto done;
    }
    st = parse_server(up);
    if (st != SR_OK)
        goto done;
    if (up->cfg.proto == SR_PROTO_TLS || up->cfg.proto == SR_PROTO_HTTPS) {
        st = sr_tls_pins_parse(up, up->cfg.spki_pins);
        if (st != SR_OK)
            goto done;
    }
    if (up->cfg.proto == SR_PROTO_TLS) {
        st = sr_tls_ctx_new(&up->cfg, &up->ssl_ctx);
        if (st != SR_OK)
            goto done;
    }
    st = up->ops->init(up);
    if (st != SR_OK)
        goto done;
    if (up->cfg.proto == SR_PROTO_UDP && up->cfg.cookies)
        sr_guard_init(up);
done:
    if (st != SR_OK && up != NULL) {
        if (up->ops != NULL && up->ops->fini != NULL && up->tp != NULL)
            up->ops->fini(up);
        up->tp = NULL;
        upstream_destroy(up);
        up = NULL;
    }
    if (status != NULL)
        *status = st;
    return up;
}

/* Unlink x from its upstream and release everything but x itself. */
static void xfer_unlink(sr_xfer_t *x)
{
    sr_upstream_t *up = x->up;

    SR_LIST_UNLINK(up->inflight, x);
    up->ninflight--;
    if (x->sent && up->ops->detach != NULL)
        up->ops->detach(up, x);
    x->sent = false;
    x->tp = NULL;
    if (x->child != NULL) {
        sr_xfer_t *c = x->child;
        x->child = NULL;
        sr_xfer_cancel(c);
    }
    if (x->timer != NULL) {
        event_free(x->timer);
        x->timer = NULL;
    }
}

static void xfer_free(sr_xfer_t *x)
{
    sr_free(x->q);
    sr_free(x);
}

SR_API void sr_upstream_free(sr_upstream_t *up)
{
    if (up == NULL || up->dying)
        return;
    up->dying = true;
    /* upstream.h: queries in flight are dropped without their callbacks. */
    while (up->inflight != NULL) {
        sr_xfer_t *x = up->inflight;
        x->done = true;
        xfer_unlink(x);
        xfer_free(x);
    }
    if (up->bootstrap_xfer != NULL) {
        sr_xfer_cancel(up->bootstrap_xfer);
        up->bootstrap_xfer = NULL;
    }
    if (up->hold == 0)
        upstream_destroy(up);
}

SR_API size_t sr_upstream_inflight(const sr_upstream_t *up)
{
    return up != NULL ? up->ninflight : 0;
}

SR_API void sr_upstream_stats(const sr_upstream_t *up, sr_upstream_stats_t *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof(*out));
    if (up == NULL)
        return;
    *out = up->stats;
    /* The TCP connections of TC=1 fallbacks are this upstream's too. */
    if (up->fallback != NULL)
        out->connections += up->fallback->stats.connections;
}

SR_API const char *sr_upstream_name(const sr_upstream_t *up)
{
    return up != NULL && up->name != NULL ? up->name : "";
}

/* ------------------------------------------------------------------ */
/* completion */

void sr_xfer_complete(sr_xfer_t *x, sr_status_t status, const uint8_t *resp, size_t len,
                      const char *detail)
{
    sr_upstream_t *up;
    uint8_t *copy = NULL;
    sr_xfer_info_t info;

    if (x == NULL || x->done)
        return;
    up = x->up;
    x->done = true;
    xfer_unlink(x);
    memset(&info, 0, sizeof(info));
    if (status == SR_OK) {
        if (resp == NULL || len < SR_HEADER_LEN) {
            status = SR_E_FORMERR;
        } else {
            /* The caller sees its own ID (upstream.h), written into the
             * transport's own buffer: every caller passes one that it
             * reads nothing more from (a read buffer that the next read
             * overwrites, or DoH's body, freed after), and the upstream
             * is held across the callback, so it stays valid. A copy per
             * answer cost a malloc and a free. */
            copy = (uint8_t *)(uintptr_t)resp;
            sr_put16(copy, x->caller_id);
            info.truncated = (sr_get16(copy + 2) & SR_FLAG_TC) != 0;
        }
    }
    if (status == SR_OK && x->cased)
        sr_guard_restore_case(x, copy, len);
    if (status == SR_E_TIMEDOUT && x->cookie_missing > 0 && up->cookie_seen) {
        /* Only cookie-less replies came: the server may have stopped
         * doing cookies (a new server behind the address). Believe such
         * replies again until it sends a cookie once more. */
        up->cookie_seen = false;
        sr_upstream_log(up, 1, "Info", "%s: answers without a cookie now; cookies not required",
                        up->name);
    }
    if (status == SR_OK)
        up->stats.responses++;
    else if (status == SR_E_TIMEDOUT)
        up->stats.timeouts++;
    else
        up->stats.errors++;
    if (status == SR_OK && x->cookie_ok)
        up->stats.cookies++;
    info.cookie = status == SR_OK && x->cookie_ok;
    info.cookie_mismatches = x->cookie_mismatches;
    info.case_mismatches = x->case_mismatches;
    info.case_fallback = x->case_fallback;
    info.proto = x->proto;
    info.rtt_us = sr_now_us() - x->sent_us;
    info.http_status = x->http_status;
    info.ignored = x->ignored;
    info.wire_id = x->wire_id;
    info.detail = detail != NULL ? detail : (status != SR_OK ? sr_strerror(status) : "");
    if (status == SR_OK)
        sr_upstream_log(up, 3, "Info", "%s: answer to ID %u, %zu bytes, %llu us", up->name,
                        x->caller_id, len, (unsigned long long)info.rtt_us);
    else
        sr_upstream_log(up, 2, "Info", "%s: query ID %u failed: [%d] %s", up->name, x->caller_id,
                        (int)status, info.detail);
    sr_upstream_hold(up);
    x->cb(x->arg, status, copy, copy != NULL ? len : 0, &info);
    xfer_free(x);
    sr_upstream_release(up);
}

SR_API void sr_xfer_cancel(sr_xfer_t *x)
{
    if (x == NULL || x->done)
        return;
    x->done = true;
    xfer_unlink(x);
    xfer_free(x);
}

void sr_xfer_fail_soon(sr_xfer_t *x, sr_status_t status, const char *detail)
{
    if (x->done || x->timer == NULL)
        return;
    x->early_status = status != SR_OK ? status : SR_E_INVAL;
    x->early_detail = detail;
    event_del(x->timer);
    event_active(x->timer, EV_TIMEOUT, 1);
}

void sr_xfer_touch(sr_xfer_t *x)
{
    x->touched_us = sr_now_us();
}

void sr_xfer_ignore(sr_upstream_t *up, sr_xfer_t *x, const char *why)
{
    up->stats.ignored++;
    if (x != NULL)
        x->ignored++;
    sr_upstream_log(up, 2, "Info", "%s: reply ignored: %s", up->name, why);
}

static void xfer_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    sr_xfer_t *x = arg;
    sr_upstream_t *up = x->up;

    (void)fd;
    (void)what;
    if (x->early_status != SR_OK) {
        sr_xfer_complete(x, x->early_status, NULL, 0, x->early_detail);
        return;
    }
    if (!up->cfg.absolute_timeout) {
        /* Inactivity timeout (the reference's default): progress moved
         * touched_us forward; sleep for what is left of the window. */
        uint64_t deadline = x->touched_us + (uint64_t)x->timeout_ms * 1000u;
        uint64_t now = sr_now_us();
        if (deadline > now + 500) {
            struct timeval tv;
            uint64_t left = deadline - now;
            tv.tv_sec = (time_t)(left / 1000000u);
            tv.tv_usec = (suseconds_t)(left % 1000000u);
            evtimer_add(x->timer, &tv);
            return;
        }
    }
    sr_xfer_complete(x, SR_E_TIMEDOUT, NULL, 0, "no answer within the timeout");
}

/* ------------------------------------------------------------------ */
/* matching replies (RFC 5452 9.1: ID, question, and for UDP the source) */

static const char *reply_mismatch(sr_xfer_t *x, const uint8_t *resp, size_t len, bool checked)
{
    sr_msg_shape_t shape;
    bool guarded = x->cased || x->cookie_off != 0;
    sr_buf_t b;
    uint16_t flags, qd, qtype, qclass;
    const uint8_t *wire = NULL;
    size_t wlen = 0;

    if (len < SR_HEADER_LEN)
        return "shorter than a header";
    if (sr_get16(resp) != x->wire_id)
        return "ID mismatch";
    flags = sr_get16(resp + 2);
    if ((flags & SR_FLAG_QR) == 0)
        return "not a response (QR=0)";
    if (((flags >> 11) & 0xf) != ((sr_get16(x->q + 2) >> 11) & 0xf))
        return "opcode mismatch";
    qd = sr_get16(resp + 4);
    if (qd == 0) {
        /* Some servers answer FORMERR and NOTIMP without echoing the
         * question; nothing else may omit it. */
        unsigned rcode = flags & 0xf;
        if (rcode != 1 && rcode != 4)
            return "question missing";
        if (sr_msg_check(resp, len, false, x->cookie_off != 0 ? &shape : NULL) != SR_OK)
            return "malformed";
        return x->cookie_off != 0 ? sr_guard_check(x, resp, NULL, &shape) : NULL;
    }
    if (qd != 1)
        return "question count mismatch";
    sr_buf_init(&b, resp, len);
    b.off = SR_HEADER_LEN;
    if (sr_name_plain(&b, &wire, &wlen) != SR_OK || sr_buf_u16(&b, &qtype) != SR_OK ||
        sr_buf_u16(&b, &qclass) != SR_OK)
        return "malformed question";
    if (wlen != x->qname_len)
        return "question name mismatch";
    for (size_t i = 0; i < wlen; i++)
        if (!ascii_eq_nocase(wire[i], x->qname[i]))
            return "question name mismatch";
    if (qtype != x->qtype || qclass != x->qclass)
        return "question type or class mismatch";
    /* A TC=1 answer may stop anywhere after the question (RFC 2181 9). */
    if (!checked && sr_msg_check(resp, len, (flags & SR_FLAG_TC) != 0,
                                 x->cookie_off != 0 ? &shape : NULL) != SR_OK)
        return "malformed";
    if (guarded)
        return sr_guard_check(x, resp, wire,
                              x->cookie_off != 0 && !(flags & SR_FLAG_TC) ? &shape : NULL);
    return NULL;
}

static void fallback_cb(void *arg, sr_status_t status, const uint8_t *resp, size_t len,
                        const sr_xfer_info_t *info)
{
    sr_xfer_t *x = arg;

    x->child = NULL;
    x->ignored += info->ignored;
    x->wire_id = info->wire_id; /* what the answer came with */
    sr_xfer_complete(x, status, resp, len, info->detail);
}

/* RFC 7766 5 / RFC 1035 4.2.2: a truncated UDP answer is retried over TCP.
 * x keeps its identity towards the caller; a query on the fallback TCP
 * upstream carries it. */
static sr_status_t start_fallback(sr_xfer_t *x)
{
    sr_upstream_t *up = x->up;
    sr_status_t status = SR_OK;
    sr_xfer_t *child;

    if (up->fallback == NULL) {
        sr_upstream_cfg_t cfg = up->cfg;
        cfg.proto = SR_PROTO_TCP;
        cfg.server = up->addr_text;
        cfg.port = up->port;
        cfg.tcp_fallback = false;
        up->fallback = sr_upstream_new(up->base, &cfg, &up->ev, &status);
        if (up->fallback == NULL)
            return status;
        /* The very address we asked over UDP, zone id included. */
        up->fallback->addr = up->addr;
        up->fallback->addrlen = up->addrlen;
        up->fallback->resolved = true;
    }
    /* With dig's tries, TCP gets one try (as dig gives it). */
    int timeout_ms = up->cfg.udp_tries > 0 ? x->timeout_ms / up->cfg.udp_tries : x->timeout_ms;
    child = sr_upstream_query(up->fallback, x->q, x->qlen, x->flags, timeout_ms, fallback_cb, x,
                              &status);
    if (child == NULL)
        return status;
    /* The UDP part is over: close its socket now. */
    if (x->sent && up->ops->detach != NULL)
        up->ops->detach(up, x);
    x->sent = false;
    x->tp = NULL;
    x->child = child;
    x->proto = SR_PROTO_TCP;
    /* The child has its own timer. */
    event_del(x->timer);
    up->stats.tcp_fallbacks++;
    up->stats.queries++;
    sr_upstream_log(up, 2, "Info", "%s: ID %u truncated (TC=1), retrying over TCP", up->name,
                    x->caller_id);
    return SR_OK;
}

static bool offer(sr_xfer_t *x, const uint8_t *resp, size_t len, bool checked)
{
    sr_upstream_t *up = x->up;
    const char *why;

    if (x->done)
        return false;
    why = reply_mismatch(x, resp, len, checked);
    if (why == sr_why_cookie || why == sr_why_no_cookie) {
        up->stats.cookie_mismatches++;
        x->cookie_mismatches++;
    } else if (why == sr_why_case) {
        up->stats.case_mismatches++;
        x->case_mismatches++;
        /* A server that does not preserve case (or a forger who knows
         * the ID and port): ask again in the caller's case, with a new
         * ID, so that neither stalls the query (unbound does the same). */
        if (!x->case_fallback && up->ops->resend != NULL) {
            x->case_fallback = true;
            up->stats.case_fallbacks++;
            if (++up->case_strikes >= SR_GUARD_CASE_STRIKES && !up->case_off) {
                up->case_off = true;
                sr_upstream_log(up, 1, "Info", "%s: does not preserve the case of questions; "
                                "0x20 off for it", up->name);
            }
            sr_xfer_ignore(up, x, why);
            sr_guard_rewrite(x);
            up->ops->resend(up, x);
            return false;
        }
    } else if (why == sr_why_badcookie && up->ops->resend != NULL) {
        x->badcookie_retried = true;
        sr_xfer_ignore(up, x, why);
        sr_guard_rewrite(x);
        up->ops->resend(up, x);
        return false;
    }
    if (why != NULL && why != sr_why_badcookie) {
        sr_xfer_ignore(up, x, why);
        return false;
    }
    if (x->cased)
        up->case_strikes = 0;
    if ((sr_get16(resp + 2) & SR_FLAG_TC) != 0 && up->cfg.proto == SR_PROTO_UDP &&
        x->proto == SR_PROTO_UDP && up->cfg.tcp_fallback && start_fallback(x) == SR_OK)
        return true;
    sr_xfer_complete(x, SR_OK, resp, len, NULL);
    return true;
}

bool sr_xfer_offer(sr_xfer_t *x, const uint8_t *resp, size_t len)
{
    return offer(x, resp, len, false);
}

bool sr_xfer_offer_checked(sr_xfer_t *x, const uint8_t *resp, size_t len)
{
    return offer(x, resp, len, true);
}

/* ------------------------------------------------------------------ */
/* sending */

/* Send every query held back for the name lookup, or fail them. */
static void on_resolved(sr_upstream_t *up, sr_status_t status, void *arg)
{
    (void)arg;
    sr_upstream_hold(up);
    /* Rescan from the head after each step: a callback may cancel any
     * query. Each step clears one waiting flag, so this ends. */
    for (;;) {
        sr_xfer_t *x = up->inflight;
        while (x != NULL && !x->waiting_resolve)
            x = x->next;
        if (x == NULL || up->dying)
            break;
        x->waiting_resolve = false;
        if (status == SR_OK) {
            x->sent = true;
            sr_status_t st = up->ops->send(up, x);
            if (st == SR_OK)
                up->stats.queries++;
            else
                sr_xfer_complete(x, st, NULL, 0, "cannot send the query");
        } else {
            sr_xfer_complete(x, status, NULL, 0, "cannot resolve the server's host name");
        }
    }
    sr_upstream_release(up);
}

/* The question of q into x (what replies are matched against) and q
 * itself, padded for the encrypted transports, into x->q. */
static sr_status_t xfer_take_query(sr_upstream_t *up, sr_xfer_t *x, const uint8_t *q,
                                   size_t qlen)
{
    const uint8_t *qname = NULL;
    sr_buf_t b;
    size_t cap;
    sr_status_t st;

    sr_buf_init(&b, q, qlen);
    b.off = SR_HEADER_LEN;
    st = sr_name_plain(&b, &qname, &x->qname_len);
    if (st == SR_OK)
        memcpy(x->qname, qname, x->qname_len);
    if (st == SR_OK)
        st = sr_buf_u16(&b, &x->qtype);
    if (st == SR_OK)
        st = sr_buf_u16(&b, &x->qclass);
    bool guard = up->cfg.proto == SR_PROTO_UDP && (up->cfg.cookies || up->cfg.case_randomization);
    sr_msg_shape_t shape;
    if (st == SR_OK)
        st = sr_msg_check(q, qlen, false, guard ? &shape : NULL);
    if (st != SR_OK)
        return SR_E_FORMERR;
    bool pad = up->cfg.proto == SR_PROTO_TLS || up->cfg.proto == SR_PROTO_HTTPS;
    /* The cookie option as the server's cookie now stands (guard.c makes
     * room for a longer one when it changes), and at least the 8 bytes
     * guard.c reads past the name. */
    size_t room = up->cfg.cookies ? 4 + 8 + up->server_cookie_len : 0;
    cap = pad ? qlen + PAD_ROOM : guard ? qlen + (room > 8 ? room : 8) : qlen;
    if (cap > DNS_MAX_MSG)
        cap = DNS_MAX_MSG;
    x->q = sr_malloc(cap);
    if (x->q == NULL)
        return SR_E_NOMEM;
    memcpy(x->q, q, qlen);
    x->qlen = qlen;
    x->qcap = cap;
    if (guard && shape.end == qlen) {
        memset(x->q + qlen, 0, 8); /* defined bytes for guard.c's last word */
        sr_guard_prepare(up, x, &shape);
    }
    if (pad) {
        /* RFC 8467 4.1; a query too big to pad goes out unpadded. */
        st = sr_query_pad(x->q, &x->qlen, cap, PAD_BLOCK);
        if (st == SR_E_NOBUFS)
            st = SR_OK;
    }
    return st;
}

/* Send x now, or once up's host name is resolved; failures reach x's
 * callback from the loop. */
static void xfer_dispatch(sr_upstream_t *up, sr_xfer_t *x)
{
    if (up->resolved) {
        x->sent = true;
        sr_status_t sst = up->ops->send(up, x);
        if (sst == SR_OK)
            up->stats.queries++;
        else
            sr_xfer_fail_soon(x, sst, "cannot send the query");
    } else {
        x->waiting_resolve = true;
        if (!up->resolving) {
            sr_status_t rst = sr_upstream_resolve(up, on_resolved, NULL);
            if (rst != SR_OK) {
                x->waiting_resolve = false;
                sr_xfer_fail_soon(x, rst, "cannot resolve the server's host name");
            }
        }
    }
}

SR_API sr_xfer_t *sr_upstream_query(sr_upstream_t *up, const uint8_t *q, size_t qlen,
                                    unsigned flags, int timeout_ms, sr_xfer_cb cb, void *arg,
                                    sr_status_t *status)
{
    sr_xfer_t *x = NULL;
    struct timeval tv;
    sr_status_t st = SR_OK;

    if (up == NULL || up->dying || q == NULL || cb == NULL) {
        st = SR_E_INVAL;
        goto done;
    }
    if (qlen < SR_HEADER_LEN) {
        st = SR_E_MSG_TOO_SHORT;
        goto done;
    }
    if (qlen > DNS_MAX_MSG) {
        st = SR_E_MSG_TOO_LONG;
        goto done;
    }
    /* One question: it is what replies are matched against. */
    if (sr_get16(q + 4) != 1 || (sr_get16(q + 2) & SR_FLAG_QR) != 0) {
        st = SR_E_FORMERR;
        goto done;
    }
    x = sr_calloc(1, sizeof(*x));
    if (x == NULL) {
        st = SR_E_NOMEM;
        goto done;
    }
    x->up = up;
    st = xfer_take_query(up, x, q, qlen);
    if (st != SR_OK)
        goto done;
    x->caller_id = sr_get16(q);
    x->flags = flags;
    x->wire_id = (flags & SR_XFER_KEEP_ID) ? x->caller_id : sr_random16();
    sr_put16(x->q, x->wire_id);
    x->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
    x->cb = cb;
    x->arg = arg;
    x->proto = up->cfg.proto;
    x->sent_us = x->touched_us = sr_now_us();
    x->timer = evtimer_new(up->base, xfer_timer_cb, x);
    if (x->timer == NULL) {
        st = SR_E_NOMEM;
        goto done;
    }
    tv.tv_sec = x->timeout_ms / 1000;
    tv.tv_usec = (x->timeout_ms % 1000) * 1000;
    evtimer_add(x->timer, &tv);
    x->next = up->inflight;
    if (up->inflight != NULL)
        up->inflight->prev = x;
    up->inflight = x;
    up->ninflight++;

    xfer_dispatch(up, x);
    sr_upstream_log(up, 3, "Info", "%s: query ID %u (wire %u), %zu bytes", up->name, x->caller_id,
                    x->wire_id, x->qlen);
done:
    if (st != SR_OK && x != NULL) {
        sr_event_free(x->timer);
        xfer_free(x);
        x = NULL;
    }
    if (status != NULL)
        *status = st;
    return x;
}
