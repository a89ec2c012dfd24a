/* The DNS class object (dns.h): properties, the record walk, query() on
 * top of one sr_upstream, and the event loop that makes it synchronous.
 * The config settings live in dns-config.c. */
#include "config.h"

#include <ctype.h>
#include <iconv.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include <event2/event.h>

#include "dns-internal.h"
#include "upstream-internal.h"

/* An asynchronous query (timeout 0) still needs an end: the reference's
 * default timeout, so a lost UDP answer cannot keep the object busy. */
#define ASYNC_TIMEOUT_MS 60000
/* A query is a header, one question (name <= 255) and an OPT record. */
#define QUERY_BUF 512
#define REQUEST_ID_MAX 32767

sr_status_t sr_dns_fail(sr_dns_t *dns, sr_status_t code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dns->last_error, sizeof(dns->last_error), fmt, ap);
    va_end(ap);
    return code;
}

/* Log through on_log when LogLevel lets level through. */
static void dns_log(const sr_dns_t *dns, int level, const char *type,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void dns_log(const sr_dns_t *dns, int level, const char *type,
                    const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (dns->events.on_log == NULL || level > dns->cfg.log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    dns->events.on_log(dns->events.arg, level, msg, type);
}

/* Log a message as lowercase hex (LogLevel 3, the "...Body" types). */
static void dns_log_hex(const sr_dns_t *dns, const char *type,
                        const uint8_t *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    char buf[2 * 1024 + 1];
    size_t n = len < 1024 ? len : 1024;

    if (dns->events.on_log == NULL || dns->cfg.log_level < 3)
        return;
    for (size_t i = 0; i < n; i++) {
        buf[2 * i] = hex[p[i] >> 4];
        buf[2 * i + 1] = hex[p[i] & 0xf];
    }
    buf[2 * n] = '\0';
    dns_log(dns, 3, type, "%s%s", buf, n < len ? "..." : "");
}

void sr_dns_mark_dirty(sr_dns_t *dns)
{
    dns->up_dirty = true;
}

/* The first nameserver of the ResolvConf file ($STUBRES_RESOLV_CONF or
 * /etc/resolv.conf when it is unset), or "" when there is none. */
static sr_status_t read_auto_server(sr_dns_t *dns)
{
    char buf[256];
    char *copy;

    if (sr_resolv_conf_server(dns->cfg.resolv_conf, buf, sizeof(buf)) != SR_OK)
        buf[0] = '\0';
    copy = sr_strdup(buf);
    if (copy == NULL)
        return SR_E_NOMEM;
    sr_free(dns->dns_server);
    dns->dns_server = copy;
    dns->server_auto = true;
    sr_dns_mark_dirty(dns);
    return SR_OK;
}

void sr_dns_refresh_auto_server(sr_dns_t *dns)
{
    /* A server the caller chose stays; only the discovered one follows
     * the ResolvConf setting. On NOMEM the old value simply stays. */
    if (dns->server_auto)
        (void)read_auto_server(dns);
}

/* ---- results ---- */

static void clear_results(sr_dns_t *dns)
{
    sr_free(dns->recs);
    dns->recs = NULL;
    dns->nrecs = 0;
    memset(dns->sec_start, 0, sizeof(dns->sec_start));
    memset(dns->sec_count, 0, sizeof(dns->sec_count));
    dns->have_response = false;
    dns->status_code = 0;
    dns->status[0] = '\0';
    dns->authoritative = false;
    dns->truncated = false;
    memset(&dns->info, 0, sizeof(dns->info));
}

/* A TC=1 answer may stop anywhere after the question (RFC 2181 9): keep
 * its header and question, drop the records, so the caller sees a
 * truncated response (ResponseTruncated) to retry over TCP rather than a
 * parse error. */
static sr_status_t parse_truncated(sr_dns_t *dns, const uint8_t *resp,
                                   size_t len)
{
    uint8_t cut[SR_HEADER_LEN + SR_NAME_MAX_WIRE + 4];
    uint8_t name[SR_NAME_MAX_WIRE];
    size_t off = SR_HEADER_LEN, nlen = 0;

    if (sr_get16(resp + 4) != 1 ||
        sr_name_unpack(resp, len, &off, name, &nlen) != SR_OK ||
        len - off < 4 || off + 4 > sizeof(cut))
        return SR_E_FORMERR;
    memcpy(cut, resp, off + 4);
    memset(cut + 6, 0, 6); /* ANCOUNT, NSCOUNT, ARCOUNT */
    return sr_msg_parse(dns->msg, cut, off + 4, 0);
}

/* Parse a response and index its records by section. */
static sr_status_t load_response(sr_dns_t *dns, const uint8_t *resp, size_t len)
{
    sr_status_t status = SR_OK;
    char buf[16];

    if (dns->msg == NULL && (dns->msg = sr_msg_new()) == NULL)
        return sr_dns_fail(dns, SR_E_NOMEM, "out of memory");
    status = sr_msg_parse(dns->msg, resp, len, 0);
    if (status != SR_OK && len >= SR_HEADER_LEN &&
        (sr_get16(resp + 2) & SR_FLAG_TC) != 0)
        status = parse_truncated(dns, resp, len);
    if (status != SR_OK) {
        sr_dns_fail(dns, status, "%s Malformed response: %s",
                    sr_strerror(status), sr_msg_error(dns->msg));
        goto done;
    }
    size_t n = sr_msg_rr_count(dns->msg);
    dns->recs = sr_calloc(n, sizeof(*dns->recs));
    if (dns->recs == NULL) {
        status = sr_dns_fail(dns, SR_E_NOMEM, "out of memory");
        goto done;
    }
    dns->nrecs = n;
    for (size_t i = 0; i < n; i++) {
        const sr_rr_t *rr = sr_msg_rr(dns->msg, i);
        dns_rec_t *r = &dns->recs[i];
        r->rr = rr;
        r->field_index = 0;
        snprintf(r->type_name, sizeof(r->type_name), "%s",
                 sr_type_name(rr->type, buf));
        /* sections come in wire order, so each is one run of records */
        if (dns->sec_count[rr->section]++ == 0)
            dns->sec_start[rr->section] = i;
    }
    uint16_t flags = sr_msg_flags(dns->msg);
    dns->have_response = true;
    dns->status_code = (int)sr_msg_rcode(dns->msg);
    snprintf(dns->status, sizeof(dns->status), "%s",
             sr_rcode_name(sr_msg_rcode(dns->msg), buf));
    dns->authoritative = (flags & SR_FLAG_AA) != 0;
    dns->truncated = (flags & SR_FLAG_TC) != 0;

done:
    if (status != SR_OK)
        clear_results(dns);
    return status;
}

/* The end of a query: results in place, idle again, then the events. The
 * object is not touched after on_response, which may start the next
 * query. */
static void finish(sr_dns_t *dns, sr_status_t status)
{
    char desc[sizeof(dns->last_error)];
    char *domain = dns->cur_domain;
    int id = dns->cur_id;

    dns->cur_domain = NULL;
    dns->xfer = NULL;
    dns->busy = false;
    dns->interrupted = false;
    dns->result = status;
    if (status != SR_OK) {
        dns->status_code = (int)status;
        snprintf(dns->status, sizeof(dns->status), "%s", sr_strerror(status));
        snprintf(desc, sizeof(desc), "%s", dns->last_error);
        dns_log(dns, 1, "Info", "Query %d for %s failed: %s", id,
                domain != NULL ? domain : "", desc);
        /* an interrupt is the caller's own doing, not an error to report */
        if (status != SR_E_INTR && dns->events.on_error != NULL)
            dns->events.on_error(dns->events.arg, (int)status, desc);
    } else {
        snprintf(desc, sizeof(desc), "%s", dns->status);
        dns_log(dns, 1, "Info", "Response %d for %s: %s, %zu records%s", id,
                domain != NULL ? domain : "", desc, dns->nrecs,
                dns->truncated ? " (truncated)" : "");
    }
    if (dns->events.on_response != NULL)
        dns->events.on_response(dns->events.arg, id, domain != NULL ? domain : "",
                                dns->status_code, desc, dns->authoritative);
    sr_free(domain);
}

/* The transport's answer (or failure) to the query in flight. */
static void xfer_done(void *arg, sr_status_t status, const uint8_t *resp,
                      size_t len, const sr_xfer_info_t *info)
{
    sr_dns_t *dns = arg;

    dns->xfer = NULL;
    if (status == SR_OK) {
        dns_log_hex(dns, "ResponseBody", resp, len);
        status = load_response(dns, resp, len);
        if (status == SR_OK && info != NULL) {
            dns->info.protocol = (int)info->proto;
            dns->info.wire_id = info->wire_id;
            dns->info.elapsed_us = info->rtt_us;
            if (dns->up != NULL) {
                snprintf(dns->info.address, sizeof(dns->info.address), "%s",
                         dns->up->addr_text);
                dns->info.port = dns->up->port;
            }
            dns_log(dns, 2, "Info", "Answer over %s in %llu us%s",
                    info->proto == SR_PROTO_UDP   ? "UDP"
                    : info->proto == SR_PROTO_TCP ? "TCP"
                    : info->proto == SR_PROTO_TLS ? "TLS"
                                                  : "HTTPS",
                    (unsigned long long)info->rtt_us,
                    info->ignored > 0 ? ", after ignoring mismatched replies"
                                      : "");
        }
    } else {
        const char *detail = info != NULL && info->detail != NULL ? info->detail
                                                                  : "";
        if (*detail != '\0')
            sr_dns_fail(dns, status, "%s (%s)", sr_strerror(status), detail);
        else
            sr_dns_fail(dns, status, "%s", sr_strerror(status));
    }
    finish(dns, status);
}

/* ---- transport ---- */

static struct event_base *current_base(sr_dns_t *dns)
{
    if (dns->ext_base != NULL)
        return dns->ext_base;
    if (dns->own_base == NULL)
        dns->own_base = event_base_new();
    return dns->own_base;
}

static void up_on_log(void *arg, int level, const char *type, const char *msg)
{
    sr_dns_t *dns = arg;
    dns_log(dns, level, type, "%s", msg);
}

static void up_on_ssl_auth(void *arg, sr_tls_auth_t *auth)
{
    sr_dns_t *dns = arg;
    if (dns->events.on_ssl_server_authentication != NULL)
        dns->events.on_ssl_server_authentication(dns->events.arg, auth);
}

static void up_on_ssl_status(void *arg, const char *remote_address,
                             uint16_t remote_port, const char *msg)
{
    sr_dns_t *dns = arg;
    if (dns->events.on_ssl_status != NULL)
        dns->events.on_ssl_status(dns->events.arg, remote_address,
                                  (int)remote_port, msg);
}

static bool is_url(const char *s)
{
    return strstr(s, "://") != NULL;
}

/* A URL whose scheme is the protocol's (https://, or the daemon's
 * tls://HOST[:PORT][#NAME], tcp:// and udp:// forms, which the transport
 * reads). */
static bool url_fits_protocol(const char *s, int protocol)
{
    static const char *const schemes[] = {"udp://", "tcp://", "tls://", "https://"};
    const char *sch = schemes[protocol];
    return strncasecmp(s, sch, strlen(sch)) == 0;
}

/* protocol 3 with a plain host: the RFC 8484 default path, or /resolve,
 * where the public resolvers serve the JSON API. dns_port 53 is the
 * property's default, never an HTTPS port, so it means 443 here. */
static void doh_url(const sr_dns_t *dns, char *out, size_t cap)
{
    const char *host = dns->dns_server;
    bool v6 = strchr(host, ':') != NULL && host[0] != '[';
    char port[8] = "";

    if (dns->dns_port != 53 && dns->dns_port != 443)
        snprintf(port, sizeof(port), ":%d", dns->dns_port);
    snprintf(out, cap, "https://%s%s%s%s%s", v6 ? "[" : "", host, v6 ? "]" : "",
             port, dns->cfg.doh_method == SR_DOH_JSON ? "/resolve" : "/dns-query");
}

static const char *nonempty(const char *s)
{
    return s != NULL && *s != '\0' ? s : NULL;
}

/* The object's one upstream, rebuilt when a setting it depends on changed
 * and kept otherwise, so TCP/TLS/DoH connections serve many queries. */
static sr_status_t ensure_upstream(sr_dns_t *dns, struct event_base *base)
{
    sr_status_t status = SR_OK;
    sr_upstream_cfg_t cfg;
    sr_upstream_events_t ev;
    char url[SR_NAME_MAX_TEXT + 64];

    if (dns->up != NULL && !dns->up_dirty)
        return SR_OK;
    sr_upstream_free(dns->up);
    dns->up = NULL;

    if (dns->protocol != SR_PROTO_HTTPS && is_url(dns->dns_server) &&
        !url_fits_protocol(dns->dns_server, dns->protocol))
        return sr_dns_fail(dns, SR_E_BAD_ADDRESS,
                           "%s dns_server '%s' is a URL: set protocol 3 "
                           "(HTTPS) for an https:// URL, 2 (TLS) for tls://",
                           sr_strerror(SR_E_BAD_ADDRESS), dns->dns_server);
    memset(&cfg, 0, sizeof(cfg));
    cfg.proto = (sr_proto_t)dns->protocol;
    cfg.server = dns->dns_server;
    cfg.port = (uint16_t)dns->dns_port;
    if (dns->protocol == SR_PROTO_HTTPS) {
        if (!is_url(dns->dns_server)) {
            doh_url(dns, url, sizeof(url));
            cfg.server = url;
        }
        cfg.port = 0; /* the URL carries it */
    }
    cfg.bootstrap = nonempty(dns->cfg.bootstrap);
    cfg.resolv_conf = nonempty(dns->cfg.resolv_conf);
    cfg.tls_name = nonempty(dns->cfg.tls_name);
    cfg.ca_file = nonempty(dns->cfg.ca_file);
    cfg.spki_pins = nonempty(dns->cfg.spki_pins);
    cfg.insecure = dns->cfg.insecure_tls;
    cfg.doh_method = (sr_doh_method_t)dns->cfg.doh_method;
    cfg.local_host = nonempty(dns->local_host);
    cfg.local_port = (uint16_t)dns->cfg.local_port;
    cfg.use_ipv6 = dns->cfg.use_ipv6;
    cfg.use_connection = dns->cfg.use_connection;
    cfg.share_local_port = dns->cfg.share_local_port;
    cfg.dont_fragment = dns->cfg.dont_fragment;
    cfg.dscp = dns->cfg.qos_dscp;
    cfg.in_buffer_size = dns->cfg.in_buffer_size;
    cfg.out_buffer_size = dns->cfg.out_buffer_size;
    cfg.max_packet_size = (uint16_t)dns->cfg.max_packet_size;
    cfg.tcp_fallback = dns->cfg.tcp_fallback;
    cfg.absolute_timeout = dns->cfg.absolute_timeout;
    cfg.log_level = dns->cfg.log_level;
    cfg.udp_tries = dns->cfg.tries;

    memset(&ev, 0, sizeof(ev));
    ev.on_log = up_on_log;
    ev.on_ssl_server_authentication = up_on_ssl_auth;
    ev.on_ssl_status = up_on_ssl_status;
    ev.arg = dns;

    dns->up = sr_upstream_new(base, &cfg, &ev, &status);
    if (dns->up == NULL) {
        if (status == SR_OK)
            status = SR_E_NOMEM;
        return sr_dns_fail(dns, status, "%s (upstream %s)", sr_strerror(status),
                           cfg.server);
    }
    dns->up_dirty = false;
    return SR_OK;
}

/* ---- names ---- */

static bool is_ascii(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s >= 0x80)
            return false;
    return true;
}

/* CodePage -> UTF-8 with iconv, for UseIDNs. *out is allocated. */
static sr_status_t to_utf8(sr_dns_t *dns, const char *in, char **out)
{
    sr_status_t status = SR_OK;
    char charset[32];
    iconv_t cd = (iconv_t)-1;
    size_t inlen = strlen(in);
    size_t cap = inlen * 4 + 1;
    char *buf = NULL;

    if (sr_dns_codepage_charset(dns->cfg.code_page, charset, sizeof(charset)) ==
            NULL ||
        (cd = iconv_open("UTF-8", charset)) == (iconv_t)-1) {
        status = sr_dns_fail(dns, SR_E_CODEPAGE, "%s: code page %d",
                             sr_strerror(SR_E_CODEPAGE), dns->cfg.code_page);
        goto done;
    }
    buf = sr_malloc(cap);
    if (buf == NULL) {
        status = sr_dns_fail(dns, SR_E_NOMEM, "out of memory");
        goto done;
    }
    char *inp = (char *)(uintptr_t)in; /* iconv's prototype is not const */
    char *outp = buf;
    size_t outleft = cap - 1;
    if (iconv(cd, &inp, &inlen, &outp, &outleft) == (size_t)-1 ||
        iconv(cd, NULL, NULL, &outp, &outleft) == (size_t)-1) {
        status = sr_dns_fail(dns, SR_E_CODEPAGE,
                             "%s: the name is not valid in code page %d (%s)",
                             sr_strerror(SR_E_CODEPAGE), dns->cfg.code_page,
                             charset);
        goto done;
    }
    *outp = '\0';
    *out = buf;
    buf = NULL;

done:
    if (cd != (iconv_t)-1)
        iconv_close(cd);
    sr_free(buf);
    return status;
}

/* The question of a query for domain: RevLookup, IDN, escapes. */
static sr_status_t question_name(sr_dns_t *dns, const char *domain,
                                 uint8_t *wire, size_t *wlen, uint16_t *qtype)
{
    sr_status_t status = SR_OK;
    char rev[128];
    char idn[SR_NAME_MAX_TEXT];
    char *utf8 = NULL;
    const char *text = domain;

    if (dns->query_type == SR_QTYPE_REVLOOKUP) {
        if (sr_reverse_name(domain, rev, sizeof(rev)) != SR_OK) {
            status = sr_dns_fail(dns, SR_E_BAD_ADDRESS,
                                 "%s RevLookup needs an IPv4 or IPv6 address, "
                                 "not '%s'",
                                 sr_strerror(SR_E_BAD_ADDRESS), domain);
            goto done;
        }
        text = rev;
        *qtype = SR_TYPE_PTR;
    } else {
        *qtype = (uint16_t)dns->query_type;
        if (dns->cfg.use_idns) {
            if (dns->cfg.code_page != 65001) {
                status = to_utf8(dns, domain, &utf8);
                if (status != SR_OK)
                    goto done;
                text = utf8;
            }
            if (!is_ascii(text)) {
                if (sr_name_idn(text, idn, sizeof(idn)) != SR_OK) {
                    status = sr_dns_fail(dns, SR_E_INVAL,
                                         "'%s' is not a valid internationalized "
                                         "domain name",
                                         domain);
                    goto done;
                }
                text = idn;
            }
        } else if (!is_ascii(domain)) {
            status = sr_dns_fail(dns, SR_E_INVAL,
                                 "non-ASCII name: set UseIDNs=true");
            goto done;
        }
    }
    if (sr_name_from_text(text, wire, SR_NAME_MAX_WIRE, wlen) != SR_OK) {
        status = sr_dns_fail(dns, SR_E_INVAL, "'%s' is not a valid domain name",
                             domain);
        goto done;
    }

done:
    sr_free(utf8);
    return status;
}

/* ---- life cycle ---- */

static void set_defaults(sr_dns_t *dns)
{
    dns->dns_port = 53;
    dns->protocol = SR_PROTO_UDP;
    dns->query_type = SR_TYPE_A;
    dns->record_source = SR_SECTION_ANSWER;
    dns->recursive = true;
    dns->request_id = 1;
    dns->request_id_set = false;
    dns->timeout_ms = 60000;
    sr_dns_settings_init(&dns->cfg);
}

SR_API sr_dns_t *sr_dns_new(void)
{
    sr_dns_t *dns = sr_calloc(1, sizeof(*dns));
    if (dns == NULL)
        return NULL;
    set_defaults(dns);
    dns->local_host = sr_strdup("");
    if (dns->local_host == NULL || read_auto_server(dns) != SR_OK) {
        sr_dns_free(dns);
        return NULL;
    }
    return dns;
}

SR_API void sr_dns_free(sr_dns_t *dns)
{
    if (dns == NULL)
        return;
    /* dropped, not interrupted: no callback may run on a dying object */
    if (dns->xfer != NULL)
        sr_xfer_cancel(dns->xfer);
    sr_upstream_free(dns->up);
    if (dns->wait_ev != NULL)
        event_free(dns->wait_ev);
    if (dns->own_base != NULL)
        event_base_free(dns->own_base);
    clear_results(dns);
    sr_msg_free(dns->msg);
    sr_dns_settings_clear(&dns->cfg);
    sr_free(dns->dns_server);
    sr_free(dns->local_host);
    sr_free(dns->cur_domain);
    sr_free(dns);
}

SR_API void sr_dns_set_events(sr_dns_t *dns, const sr_dns_events_t *events)
{
    if (events != NULL)
        dns->events = *events;
    else
        memset(&dns->events, 0, sizeof(dns->events));
}

SR_API sr_status_t sr_dns_attach(sr_dns_t *dns, struct event_base *base)
{
    if (dns->busy)
        return sr_dns_fail(dns, SR_E_UDP_ACTIVE,
                           "%s A query is in flight: attach when idle",
                           sr_strerror(SR_E_UDP_ACTIVE));
    if (base == dns->ext_base)
        return SR_OK;
    /* the upstream and the wait timer belong to the old base */
    sr_upstream_free(dns->up);
    dns->up = NULL;
    if (dns->wait_ev != NULL) {
        event_free(dns->wait_ev);
        dns->wait_ev = NULL;
    }
    dns->ext_base = base;
    return SR_OK;
}

SR_API const char *sr_dns_last_error(const sr_dns_t *dns)
{
    return dns->last_error;
}

/* ---- properties ---- */

SR_API int sr_dns_get_dns_port(const sr_dns_t *dns)
{
    return dns->dns_port;
}

SR_API sr_status_t sr_dns_set_dns_port(sr_dns_t *dns, int port)
{
    if (dns->busy)
        return sr_dns_fail(dns, SR_E_UDP_ACTIVE,
                           "dns_port: %s Wait for the query in flight",
                           sr_strerror(SR_E_UDP_ACTIVE));
    if (port < 1 || port > 65535)
        return sr_dns_fail(dns, SR_E_INVAL,
                           "dns_port: %d is not a port number (1..65535)", port);
    if (port != dns->dns_port)
        sr_dns_mark_dirty(dns);
    dns->dns_port = port;
    return SR_OK;
}

SR_API const char *sr_dns_get_dns_server(const sr_dns_t *dns)
{
    return dns->dns_server;
}

SR_API sr_status_t sr_dns_set_dns_server(sr_dns_t *dns, const char *server)
{
    char *copy;

    if (dns->busy)
        return sr_dns_fail(dns, SR_E_UDP_ACTIVE,
                           "dns_server: %s Wait for the query in flight",
                           sr_strerror(SR_E_UDP_ACTIVE));
    if (server == NULL)
        return sr_dns_fail(dns, SR_E_INVAL, "dns_server: no value given");
    for (const char *p = server; *p != '\0'; p++)
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
            return sr_dns_fail(dns, SR_E_INVAL,
                               "dns_server: '%s' contains blanks or control "
                               "characters",
                               server);
    if ((copy = sr_strdup(server)) == NULL)
        return sr_dns_fail(dns, SR_E_NOMEM, "out of memory");
    if (strcmp(copy, dns->dns_server) != 0)
        sr_dns_mark_dirty(dns);
    sr_free(dns->dns_server);
    dns->dns_server = copy;
    dns->server_auto = false;
    return SR_OK;
}

SR_API bool sr_dns_get_idle(const sr_dns_t *dns)
{
    return !dns->busy;
}

SR_API const char *sr_dns_get_local_host(const sr_dns_t *dns)
{
    return dns->local_host;
}

SR_API sr_status_t sr_dns_set_local_host(sr_dns_t *dns, const char *host)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    char *copy;

    if (dns->busy)
        return sr_dns_fail(dns, SR_E_LOCAL_HOST_ACTIVE, "local_host: %s",
                           sr_strerror(SR_E_LOCAL_HOST_ACTIVE));
    if (host == NULL)
        host = "";
    /* an address, because it is what we bind to: a host name would need
     * a resolver before the resolver can work. The transport's parser, so
     * an IPv6 zone (fe80::1%eth0) passes as it will when binding. */
    if (*host != '\0' && sr_addr_parse(host, 0, &ss, &sslen) != SR_OK)
        return sr_dns_fail(dns, SR_E_INVAL,
                           "local_host: '%s' is not an IPv4 or IPv6 address "
                           "(empty for any)",
                           host);
    if ((copy = sr_strdup(host)) == NULL)
        return sr_dns_fail(dns, SR_E_NOMEM, "out of memory");
    if (strcmp(copy, dns->local_host) != 0)
        sr_dns_mark_dirty(dns);
    sr_free(dns->local_host);
    dns->local_host = copy;
    return SR_OK;
}

SR_API int sr_dns_get_protocol(const sr_dns_t *dns)
{
    return dns->protocol;
}

SR_API sr_status_t sr_dns_set_protocol(sr_dns_t *dns, int protocol)
{
    if (dns->busy)
        return sr_dns_fail(dns, SR_E_UDP_ACTIVE,
                           "protocol: %s Wait for the query in flight",
                           sr_strerror(SR_E_UDP_ACTIVE));
    if (protocol < SR_PROTO_UDP || protocol > SR_PROTO_HTTPS)
        return sr_dns_fail(dns, SR_E_INVAL,
                           "protocol: %d is not 0 (UDP), 1 (TCP), 2 (TLS) or "
                           "3 (HTTPS)",
                           protocol);
    if (protocol != dns->protocol)
        sr_dns_mark_dirty(dns);
    dns->protocol = protocol;
    return SR_OK;
}

SR_API int sr_dns_get_query_type(const sr_dns_t *dns)
{
    return dns->query_type;
}

SR_API sr_status_t sr_dns_set_query_type(sr_dns_t *dns, int type)
{
    if (type < 1 || type > 65535)
        return sr_dns_fail(dns, SR_E_UNKNOWN_TYPE,
                           "%s query_type %d is not 1..65535 (100: RevLookup)",
                           sr_strerror(SR_E_UNKNOWN_TYPE), type);
    dns->query_type = type;
    return SR_OK;
}

SR_API int sr_dns_get_record_source(const sr_dns_t *dns)
{
    return dns->record_source;
}

SR_API sr_status_t sr_dns_set_record_source(sr_dns_t *dns, int source)
{
    if (source < SR_SECTION_ANSWER || source > SR_SECTION_ADDITIONAL)
        return sr_dns_fail(dns, SR_E_RECORD_SOURCE,
                           "%s record_source %d is not 0 (answer), 1 "
                           "(authority) or 2 (additional)",
                           sr_strerror(SR_E_RECORD_SOURCE), source);
    dns->record_source = source;
    return SR_OK;
}

SR_API bool sr_dns_get_recursive(const sr_dns_t *dns)
{
    return dns->recursive;
}

SR_API sr_status_t sr_dns_set_recursive(sr_dns_t *dns, bool recursive)
{
    dns->recursive = recursive;
    return SR_OK;
}

SR_API int sr_dns_get_request_id(const sr_dns_t *dns)
{
    return dns->request_id;
}

SR_API sr_status_t sr_dns_set_request_id(sr_dns_t *dns, int id)
{
    if (id < 1 || id > REQUEST_ID_MAX)
        return sr_dns_fail(dns, SR_E_INVAL,
                           "request_id: %d is outside 1..32767", id);
    dns->request_id = id;
    dns->request_id_set = true;
    return SR_OK;
}

SR_API const char *sr_dns_get_status(const sr_dns_t *dns)
{
    return dns->status;
}

SR_API int sr_dns_get_status_code(const sr_dns_t *dns)
{
    return dns->status_code;
}

SR_API int sr_dns_get_timeout(const sr_dns_t *dns)
{
    /* rounded up: a timeout of 500 ms is not 0, asynchronous */
    return (int)(((long)dns->timeout_ms + 999) / 1000);
}

SR_API sr_status_t sr_dns_set_timeout(sr_dns_t *dns, int seconds)
{
    /* INT_MAX / 1000: the transport takes milliseconds in an int */
    if (seconds < 0 || seconds > 2147483)
        return sr_dns_fail(dns, SR_E_INVAL,
                           "timeout: %d is not 0 (asynchronous) or a number "
                           "of seconds up to 2147483",
                           seconds);
    dns->timeout_ms = seconds * 1000;
    return SR_OK;
}

/* ---- the record arrays ---- */

SR_API int sr_dns_get_record_count(const sr_dns_t *dns)
{
    return (int)dns->sec_count[dns->record_source];
}

/* Record record_index of the selected section, or NULL. */
static dns_rec_t *rec_at(const sr_dns_t *dns, int record_index)
{
    size_t s = (size_t)dns->record_source;
    if (record_index < 0 || (size_t)record_index >= dns->sec_count[s])
        return NULL;
    return &dns->recs[dns->sec_start[s] + (size_t)record_index];
}

static sr_status_t bad_record(const sr_dns_t *dns, int record_index)
{
    /* the getters are const; last_error is a cache of text, not state */
    sr_dns_t *mut = (sr_dns_t *)(uintptr_t)dns;
    return sr_dns_fail(mut, SR_E_RECORD_INDEX,
                       "%s %d is not 0..%d (record_count %d)",
                       sr_strerror(SR_E_RECORD_INDEX), record_index,
                       sr_dns_get_record_count(dns) - 1,
                       sr_dns_get_record_count(dns));
}

/* The getters of one value of a record: out gets expr, read from r. */
#define RECORD_GETTER(fn, type, expr)                                                              \
    SR_API sr_status_t fn(const sr_dns_t *dns, int record_index, type *out)                        \
    {                                                                                              \
        const dns_rec_t *r = rec_at(dns, record_index);                                            \
        if (r == NULL)                                                                             \
            return bad_record(dns, record_index);                                                  \
        *out = (expr);                                                                             \
        return SR_OK;                                                                              \
    }

RECORD_GETTER(sr_dns_get_record_domain, const char *, r->rr->name)
RECORD_GETTER(sr_dns_get_record_type, int, r->rr->type)
RECORD_GETTER(sr_dns_get_record_type_name, const char *, r->type_name)
RECORD_GETTER(sr_dns_get_record_ttl, uint32_t, r->rr->ttl)
RECORD_GETTER(sr_dns_get_record_field_count, int, (int)r->rr->field_count)
RECORD_GETTER(sr_dns_get_record_field_index, int, r->field_index)

SR_API sr_status_t sr_dns_get_record_data(const sr_dns_t *dns, int record_index,
                                          const uint8_t **out, size_t *len)
{
    const dns_rec_t *r = rec_at(dns, record_index);
    if (r == NULL)
        return bad_record(dns, record_index);
    *out = r->rr->rdata;
    *len = r->rr->rdlength;
    return SR_OK;
}

SR_API sr_status_t sr_dns_set_record_field_index(sr_dns_t *dns, int record_index,
                                                 int field_index)
{
    dns_rec_t *r = rec_at(dns, record_index);
    if (r == NULL)
        return bad_record(dns, record_index);
    if (field_index < 0 || (size_t)field_index >= r->rr->field_count)
        return sr_dns_fail(dns, SR_E_FIELD_INDEX,
                           "%s %d is not 0..%d for this %s record",
                           sr_strerror(SR_E_FIELD_INDEX), field_index,
                           (int)r->rr->field_count - 1, r->type_name);
    r->field_index = field_index;
    return SR_OK;
}

/* The selected field of a record, or NULL (a record without fields). */
static const sr_field_t *selected_field(const dns_rec_t *r)
{
    if ((size_t)r->field_index >= r->rr->field_count)
        return NULL;
    return &r->rr->fields[r->field_index];
}

static sr_status_t no_field(const sr_dns_t *dns, const dns_rec_t *r)
{
    sr_dns_t *mut = (sr_dns_t *)(uintptr_t)dns;
    return sr_dns_fail(mut, SR_E_FIELD_INDEX, "%s this %s record has no fields",
                       sr_strerror(SR_E_FIELD_INDEX), r->type_name);
}

SR_API sr_status_t sr_dns_get_record_field_name(const sr_dns_t *dns,
                                                int record_index, const char **out)
{
    const dns_rec_t *r = rec_at(dns, record_index);
    if (r == NULL)
        return bad_record(dns, record_index);
    const sr_field_t *f = selected_field(r);
    if (f == NULL)
        return no_field(dns, r);
    *out = f->name;
    return SR_OK;
}

SR_API sr_status_t sr_dns_get_record_field_value(const sr_dns_t *dns,
                                                 int record_index, const char **out)
{
    const dns_rec_t *r = rec_at(dns, record_index);
    if (r == NULL)
        return bad_record(dns, record_index);
    const sr_field_t *f = selected_field(r);
    if (f == NULL)
        return no_field(dns, r);
    *out = f->value;
    return SR_OK;
}

SR_API sr_status_t sr_dns_get_field_value(const sr_dns_t *dns, int record_index,
                                          const char *field_name, const char **out)
{
    sr_dns_t *mut = (sr_dns_t *)(uintptr_t)dns;

    if (sr_dns_get_record_count(dns) == 0)
        return sr_dns_fail(mut, SR_E_NO_RECORDS, "%s",
                           sr_strerror(SR_E_NO_RECORDS));
    const dns_rec_t *r = rec_at(dns, record_index);
    if (r == NULL)
        return bad_record(dns, record_index);
    const char *v = field_name != NULL ? sr_rr_field(r->rr, field_name) : NULL;
    if (v == NULL)
        return sr_dns_fail(mut, SR_E_FIELD_INDEX,
                           "%s a %s record has no field '%s'",
                           sr_strerror(SR_E_FIELD_INDEX), r->type_name,
                           field_name != NULL ? field_name : "");
    *out = v;
    return SR_OK;
}

/* ---- methods ---- */

SR_API sr_status_t sr_dns_config(sr_dns_t *dns, const char *setting, char **value)
{
    return sr_dns_config_apply(dns, setting, value);
}

static void wait_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

SR_API sr_status_t sr_dns_do_events(sr_dns_t *dns)
{
    struct event_base *base = current_base(dns);
    struct timeval tv;

    if (base == NULL)
        return sr_dns_fail(dns, SR_E_NOMEM, "out of memory");
    if (dns->in_loop)
        return sr_dns_fail(dns, SR_E_ALREADY,
                           "%s do_events() called from inside the object's "
                           "own event loop",
                           sr_strerror(SR_E_ALREADY));
    if (dns->wait_ev == NULL) {
        dns->wait_ev = evtimer_new(base, wait_done, NULL);
        if (dns->wait_ev == NULL)
            return sr_dns_fail(dns, SR_E_NOMEM, "out of memory");
    }
    /* our own timer, not event_base_loopexit(): a loopexit left pending
     * by an early return would cut short a later loop */
    tv.tv_sec = dns->cfg.select_wait_millis / 1000;
    tv.tv_usec = (dns->cfg.select_wait_millis % 1000) * 1000;
    evtimer_add(dns->wait_ev, &tv);
    dns->in_loop = true;
    int r = event_base_loop(base, EVLOOP_ONCE);
    dns->in_loop = false;
    evtimer_del(dns->wait_ev);
    if (r < 0)
        return sr_dns_fail(dns, SR_E_INVAL,
                           "%s the event loop failed (already running?)",
                           sr_strerror(SR_E_INVAL));
    return SR_OK;
}

SR_API sr_status_t sr_dns_interrupt(sr_dns_t *dns)
{
    if (!dns->busy)
        return SR_OK;
    if (dns->xfer == NULL) {
        /* inside sr_upstream_query(): query() cancels when it returns */
        dns->interrupted = true;
        return SR_OK;
    }
    sr_xfer_cancel(dns->xfer);
    dns->xfer = NULL;
    sr_dns_fail(dns, SR_E_INTR, "%s Query interrupted", sr_strerror(SR_E_INTR));
    finish(dns, SR_E_INTR);
    return SR_OK;
}

/* A query failed before it reached the transport: results show the error,
 * on_error fires, on_response does not (no query was made). */
static sr_status_t query_refused(sr_dns_t *dns, sr_status_t status)
{
    dns->status_code = (int)status;
    snprintf(dns->status, sizeof(dns->status), "%s", sr_strerror(status));
    if (dns->events.on_error != NULL)
        dns->events.on_error(dns->events.arg, (int)status, dns->last_error);
    return status;
}

/* The upstream as logs show it. With MaskSensitive the path of a DoH
 * URL is hidden: services put account tokens there. */
static void server_for_log(const sr_dns_t *dns, char *out, size_t cap)
{
    const char *name = sr_upstream_name(dns->up);
    const char *scheme = strstr(name, "://");
    const char *path = scheme != NULL ? strchr(scheme + 3, '/') : NULL;

    if (dns->cfg.mask_sensitive && path != NULL && path[1] != '\0')
        snprintf(out, cap, "%.*s/...", (int)(path - name), name);
    else
        snprintf(out, cap, "%s", name);
}

/* A synchronous query: run the loop until the query is complete. */
static sr_status_t wait_sync(sr_dns_t *dns, struct event_base *base)
{
    dns->in_loop = true;
    while (dns->busy) {
        if (event_base_loop(base, EVLOOP_ONCE) != 0 && dns->busy) {
            /* -1 (loop failure) or 1 (no events left): nothing will ever
             * complete the query, so end it here */
            sr_xfer_cancel(dns->xfer);
            sr_dns_fail(dns, SR_E_INVAL, "%s the event loop stopped",
                        sr_strerror(SR_E_INVAL));
            finish(dns, SR_E_INVAL);
        }
    }
    dns->in_loop = false;
    return dns->result;
}

SR_API sr_status_t sr_dns_query(sr_dns_t *dns, const char *domain)
{
    sr_status_t status = SR_OK;
    uint8_t qname[SR_NAME_MAX_WIRE];
    size_t qname_len = 0;
    uint8_t q[QUERY_BUF];
    size_t qlen = 0;
    uint16_t qtype = 0;
    struct event_base *base;
    sr_query_opts_t opts;
    bool sync;

    if (dns->busy)
        return sr_dns_fail(dns, SR_E_ALREADY,
                           "%s A query is in flight: one at a time per object",
                           sr_strerror(SR_E_ALREADY));
    sync = dns->timeout_ms > 0 && dns->ext_base == NULL;
    if (sync && dns->in_loop)
        /* the loop that is running now is ours and cannot be re-entered */
        return sr_dns_fail(dns, SR_E_ALREADY,
                           "%s query() from a callback of a synchronous query "
                           "must be asynchronous (timeout 0)",
                           sr_strerror(SR_E_ALREADY));
    clear_results(dns);
    dns->last_error[0] = '\0';
    if (domain == NULL)
        return query_refused(dns, sr_dns_fail(dns, SR_E_INVAL,
                                              "query: no domain given"));
    status = question_name(dns, domain, qname, &qname_len, &qtype);
    if (status != SR_OK)
        return query_refused(dns, status);
    if (dns->dns_server[0] == '\0')
        return query_refused(dns, sr_dns_fail(dns, SR_E_NO_SERVER,
                                              "%s Set dns_server (no nameserver "
                                              "found in resolv.conf)",
                                              sr_strerror(SR_E_NO_SERVER)));
    base = current_base(dns);
    if (base == NULL)
        return query_refused(dns, sr_dns_fail(dns, SR_E_NOMEM, "out of memory"));
    status = ensure_upstream(dns, base);
    if (status != SR_OK)
        return query_refused(dns, status);

    memset(&opts, 0, sizeof(opts));
    opts.id = (uint16_t)dns->request_id;
    opts.rd = dns->recursive;
    /* RFC 6891: the advertised size is what we can receive over UDP; over
     * TCP/TLS/HTTPS it is harmless, and the transport pads there */
    opts.edns_size = dns->cfg.use_edns ? (uint16_t)dns->cfg.max_packet_size : 0;
    /* DO and NSID are EDNS: without OPT they are not asked for */
    opts.do_bit = dns->cfg.use_edns && dns->cfg.dnssec_ok;
    opts.nsid = dns->cfg.use_edns && dns->cfg.request_nsid;
    status = sr_query_build(q, sizeof(q), &qlen, qname, qname_len, qtype,
                            SR_CLASS_IN, &opts);
    if (status != SR_OK)
        return query_refused(dns, sr_dns_fail(dns, status,
                                              "%s cannot build the query",
                                              sr_strerror(status)));
    dns->cur_domain = sr_strdup(domain);
    if (dns->cur_domain == NULL)
        return query_refused(dns, sr_dns_fail(dns, SR_E_NOMEM, "out of memory"));

    /* From here on the query exists: one on_response, a new request_id. */
    unsigned flags = dns->request_id_set ? SR_XFER_KEEP_ID : 0;
    int timeout_ms = dns->timeout_ms > 0 ? dns->timeout_ms : ASYNC_TIMEOUT_MS;
    /* Tries N over UDP: timeout is each try's (dig's +time and +tries);
     * the asynchronous limit stays the whole query's */
    if (dns->protocol == SR_PROTO_UDP && dns->cfg.tries > 0 && dns->timeout_ms > 0)
        timeout_ms = (int)((int64_t)timeout_ms * dns->cfg.tries > INT_MAX
                               ? INT_MAX
                               : (int64_t)timeout_ms * dns->cfg.tries);
    dns->cur_id = dns->request_id;
    dns->request_id_set = false;
    dns->request_id = dns->request_id >= REQUEST_ID_MAX ? 1 : dns->request_id + 1;
    dns->busy = true;
    dns->interrupted = false;
    char where[256];
    server_for_log(dns, where, sizeof(where));
    dns_log(dns, 1, "Info", "Query %d: %s type %d to %s", dns->cur_id, domain,
            dns->query_type, where);
    dns_log_hex(dns, "RequestBody", q, qlen);
    dns->xfer = sr_upstream_query(dns->up, q, qlen, flags, timeout_ms, xfer_done,
                                  dns, &status);
    if (dns->xfer == NULL) {
        if (status == SR_OK)
            status = SR_E_NOMEM;
        sr_dns_fail(dns, status, "%s", sr_strerror(status));
        finish(dns, status);
        return status;
    }
    if (dns->interrupted) {
        sr_dns_interrupt(dns);
        return SR_E_INTR;
    }
    return sync ? wait_sync(dns, base) : SR_OK;
}

SR_API sr_status_t sr_dns_reset(sr_dns_t *dns)
{
    sr_status_t status = SR_OK;

    /* the query in flight gets its on_response (10004) before the reset */
    sr_dns_interrupt(dns);
    sr_upstream_free(dns->up);
    dns->up = NULL;
    clear_results(dns);
    sr_dns_settings_clear(&dns->cfg);
    set_defaults(dns);
    dns->local_host[0] = '\0';
    dns->last_error[0] = '\0';
    status = read_auto_server(dns);
    return status;
}

SR_API bool sr_dns_get_authoritative(const sr_dns_t *dns)
{
    return dns->authoritative;
}

SR_API sr_status_t sr_dns_get_response_info(const sr_dns_t *dns,
                                            sr_dns_response_info_t *out)
{
    if (!dns->have_response) {
        memset(out, 0, sizeof(*out));
        return SR_E_NO_RECORDS;
    }
    *out = dns->info;
    return SR_OK;
}

SR_API const sr_msg_t *sr_dns_get_message(const sr_dns_t *dns)
{
    return dns->have_response ? dns->msg : NULL;
}
