/* Resolving an upstream's host name through a bootstrap server given in
 * the configuration or taken from resolv.conf, never through the system
 * resolver (that may be stubresd itself): one query over UDP with TCP
 * fallback, A or AAAA as configured and then the other family, the
 * address taken from the end of the answer's CNAME chain. */
#include "config.h"

#include <netinet/in.h>
#include <string.h>

#include "bootstrap-internal.h"
#include "codec-internal.h"

#define BOOTSTRAP_TIMEOUT_MS 5000
/* CNAME records the bootstrap follows from the host name to its address
 * (a loop, or a longer chain, fails the resolution). */
#define BOOTSTRAP_CNAME_MAX 8

/* Host name -> wire form (no escapes: valid_host_name() came first). */
static sr_status_t host_to_wire(const char *host, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = 0;
    const char *p = host;

    while (*p != '\0') {
        const char *dot = strchr(p, '.');
        size_t l = dot != NULL ? (size_t)(dot - p) : strlen(p);
        if (l == 0 || l > SR_LABEL_MAX || n + 1 + l + 1 > cap)
            return SR_E_BAD_ADDRESS;
        out[n++] = (uint8_t)l;
        memcpy(out + n, p, l);
        n += l;
        p += l;
        if (*p == '.')
            p++;
    }
    if (n + 1 > cap)
        return SR_E_BAD_ADDRESS;
    out[n++] = 0;
    *len = n;
    return SR_OK;
}

/* resolving a host name through the bootstrap server (never through the
 * system resolver: that may be stubresd itself) */

static void resolve_finish(sr_upstream_t *up, sr_status_t status)
{
    sr_upstream_t *boot = up->bootstrap;

    up->bootstrap = NULL;
    up->bootstrap_xfer = NULL;
    up->resolving = false;
    /* We may be inside boot's own callback: its free is deferred then. */
    sr_upstream_free(boot);
    if (status == SR_OK)
        sr_upstream_log(up, 2, "Info", "%s: %s is %s", up->name, up->host, up->addr_text);
    else
        sr_upstream_log(up, 1, "Info", "%s: cannot resolve %s: [%d] %s", up->name, up->host,
                        (int)status, sr_strerror(status));
    sr_upstream_hold(up);
    up->resolve_done(up, status, up->resolve_arg);
    sr_upstream_release(up);
}

static void resolve_ev_cb(evutil_socket_t fd, short what, void *arg)
{
    sr_upstream_t *up = arg;
    (void)fd;
    (void)what;
    resolve_finish(up, up->resolve_status);
}

static sr_status_t bootstrap_send(sr_upstream_t *up, uint16_t qtype);

/* One record of the bootstrap answer: its owner, decoded, and where its
 * RDATA is. */
typedef struct boot_rr {
    uint8_t owner[SR_NAME_MAX_WIRE];
    size_t owner_len;
    uint16_t type, rclass, rdlen;
    size_t rdoff;
} boot_rr_t;

static sr_status_t boot_next_rr(sr_buf_t *b, boot_rr_t *rr)
{
    const uint8_t *rd;
    sr_status_t status = sr_name_unpack(b->data, b->len, &b->off, rr->owner, &rr->owner_len);
    if (status == SR_OK)
        status = sr_buf_u16(b, &rr->type);
    if (status == SR_OK)
        status = sr_buf_u16(b, &rr->rclass);
    if (status == SR_OK)
        status = sr_buf_skip(b, 4);
    if (status == SR_OK)
        status = sr_buf_u16(b, &rr->rdlen);
    rr->rdoff = b->off;
    if (status == SR_OK)
        status = sr_buf_fetch(b, rr->rdlen, &rd);
    return status;
}

/* The address the answer gives the host: the first address record of the
 * wanted type owned by the end of the CNAME chain that starts at the name
 * asked (RFC 1034 3.6.2), compared as names (case-insensitive); records
 * of any other owner are not the host's and are ignored. The records
 * before the first malformed one count, as in an answer cut short. A
 * chain longer than BOOTSTRAP_CNAME_MAX (which every loop is) fails. */
static sr_status_t take_address(sr_upstream_t *up, const uint8_t *m, size_t len, uint16_t qtype)
{
    uint8_t name[SR_NAME_MAX_WIRE];
    size_t nlen, first;
    sr_buf_t b;
    boot_rr_t rr;
    uint16_t an;
    size_t addr_off = 0;
    sr_status_t status;

    status = host_to_wire(up->host, name, sizeof(name), &nlen);
    if (status != SR_OK)
        return status;
    sr_buf_init(&b, m, len);
    b.off = 6;
    status = sr_buf_u16(&b, &an);
    b.off = SR_HEADER_LEN;
    if (status == SR_OK)
        status = sr_name_skip(&b);
    if (status == SR_OK)
        status = sr_buf_skip(&b, 4);
    if (status != SR_OK)
        return SR_E_NO_DATA;
    first = b.off;
    for (unsigned hops = 0;; hops++) {
        bool alias = false;
        b.off = first;
        for (unsigned i = 0; i < an && boot_next_rr(&b, &rr) == SR_OK; i++) {
            if (rr.rclass != SR_CLASS_IN || !sr_name_equal(rr.owner, rr.owner_len, name, nlen))
                continue;
            if (rr.type == SR_TYPE_CNAME) {
                size_t o = rr.rdoff;
                if (sr_name_unpack(m, len, &o, name, &nlen) != SR_OK || o != rr.rdoff + rr.rdlen)
                    return SR_E_FORMERR;
                alias = true;
                break;
            }
            if (addr_off == 0 && rr.type == qtype && rr.rdlen == (qtype == SR_TYPE_A ? 4 : 16))
                addr_off = rr.rdoff;
        }
        if (!alias)
            break;
        /* Only the chain's last name may own the address. */
        addr_off = 0;
        if (hops == BOOTSTRAP_CNAME_MAX) {
            sr_upstream_log(up, 1, "Info",
                            "%s: the answer for %s has a CNAME loop or a chain of "
                            "more than %u",
                            up->name, up->host, BOOTSTRAP_CNAME_MAX);
            return SR_E_FORMERR;
        }
    }
    if (addr_off == 0)
        return SR_E_NO_DATA;
    memset(&up->addr, 0, sizeof(up->addr));
    if (qtype == SR_TYPE_A) {
        struct sockaddr_in *in = (struct sockaddr_in *)&up->addr;
        in->sin_family = AF_INET;
        in->sin_port = htons(up->port);
        memcpy(&in->sin_addr, m + addr_off, 4);
        up->addrlen = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&up->addr;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(up->port);
        memcpy(&in6->sin6_addr, m + addr_off, 16);
        up->addrlen = sizeof(*in6);
    }
    sr_addr_text((struct sockaddr *)&up->addr, up->addr_text, sizeof(up->addr_text), NULL);
    up->resolved = true;
    return SR_OK;
}

static void bootstrap_cb(void *arg, sr_status_t status, const uint8_t *resp, size_t len,
                         const sr_xfer_info_t *info)
{
    sr_upstream_t *up = arg;
    (void)info;

    up->bootstrap_xfer = NULL;
    if (status == SR_OK) {
        unsigned rcode = sr_get16(resp + 2) & 0xf;
        if (rcode == 3) {
            status = SR_E_HOST_NOT_FOUND; /* NXDOMAIN */
        } else if (rcode == 2) {
            status = SR_E_TRY_AGAIN; /* SERVFAIL */
        } else if (rcode != 0) {
            status = SR_E_NO_RECOVERY;
        } else {
            status = take_address(up, resp, len, up->bootstrap_qtype);
            if (status == SR_E_NO_DATA) {
                /* No address of the preferred family: ask for the other. */
                uint16_t other = up->cfg.use_ipv6 ? SR_TYPE_A : SR_TYPE_AAAA;
                if (up->bootstrap_qtype != other && bootstrap_send(up, other) == SR_OK)
                    return;
            }
        }
    }
    resolve_finish(up, status);
}

static sr_status_t bootstrap_send(sr_upstream_t *up, uint16_t qtype)
{
    uint8_t q[SR_HEADER_LEN + SR_NAME_MAX_WIRE + 4];
    size_t nlen = 0;
    sr_status_t status;

    memset(q, 0, SR_HEADER_LEN);
    sr_put16(q + 2, SR_FLAG_RD);
    sr_put16(q + 4, 1);
    status = host_to_wire(up->host, q + SR_HEADER_LEN, SR_NAME_MAX_WIRE, &nlen);
    if (status != SR_OK)
        return status;
    sr_put16(q + SR_HEADER_LEN + nlen, qtype);
    sr_put16(q + SR_HEADER_LEN + nlen + 2, SR_CLASS_IN);
    up->bootstrap_qtype = qtype;
    up->bootstrap_xfer = sr_upstream_query(up->bootstrap, q, SR_HEADER_LEN + nlen + 4, 0,
                                           BOOTSTRAP_TIMEOUT_MS, bootstrap_cb, up, &status);
    return up->bootstrap_xfer != NULL ? SR_OK : status;
}

sr_status_t sr_upstream_resolve(sr_upstream_t *up, sr_resolve_cb done, void *arg)
{
    char server[SR_NAME_MAX_TEXT], host[300];
    uint16_t port = 53;
    sr_upstream_cfg_t cfg;
    sr_status_t status = SR_OK;

    if (up->resolving)
        return SR_E_ALREADY;
    up->resolve_done = done;
    up->resolve_arg = arg;
    if (up->resolve_ev == NULL) {
        up->resolve_ev = evtimer_new(up->base, resolve_ev_cb, up);
        if (up->resolve_ev == NULL)
            return SR_E_NOMEM;
    }
    if (up->resolved) {
        up->resolving = true;
        up->resolve_status = SR_OK;
        event_active(up->resolve_ev, EV_TIMEOUT, 1);
        return SR_OK;
    }
    if (up->cfg.bootstrap != NULL && up->cfg.bootstrap[0] != '\0') {
        size_t blen = strlen(up->cfg.bootstrap);
        if (blen >= sizeof(server))
            return SR_E_BAD_ADDRESS;
        memcpy(server, up->cfg.bootstrap, blen + 1);
    } else {
        status = sr_resolv_conf_server(up->cfg.resolv_conf, server, sizeof(server));
        if (status != SR_OK)
            return status;
    }
    status = sr_hostport_split(server, host, sizeof(host), &port);
    if (status != SR_OK)
        return status;
    memset(&cfg, 0, sizeof(cfg));
    cfg.proto = SR_PROTO_UDP;
    cfg.server = host;
    cfg.port = port;
    cfg.tcp_fallback = true;
    cfg.local_host = up->cfg.local_host;
    cfg.log_level = up->cfg.log_level;
    up->bootstrap = sr_upstream_new(up->base, &cfg, &up->ev, &status);
    if (up->bootstrap == NULL)
        return status;
    if (!up->bootstrap->resolved) {
        /* A bootstrap server given by name would need itself resolved. */
        status = SR_E_BAD_ADDRESS;
        goto fail;
    }
    status = bootstrap_send(up, up->cfg.use_ipv6 ? SR_TYPE_AAAA : SR_TYPE_A);
    if (status != SR_OK)
        goto fail;
    up->resolving = true;
    sr_upstream_log(up, 2, "Info", "%s: resolving %s via %s", up->name, up->host,
                    up->bootstrap->name);
    return SR_OK;
fail:
    sr_upstream_free(up->bootstrap);
    up->bootstrap = NULL;
    return status;
}
