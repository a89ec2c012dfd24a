/* Test helpers of the transport suites (see xport-helpers.h). */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "xport-helpers.h"

struct fake_conn {
    fake_t *f;
    struct bufferevent *bev;
    fake_conn_t *next, *prev;
    int serial;
    bool closing;
};

struct fake {
    struct event_base *base;
    int udp_fd, alt_fd;
    struct event *udp_ev;
    struct evconnlistener *lst;
    SSL_CTX *ssl_ctx;
    uint16_t port;
    fake_cb cb;
    void *arg;
    fake_conn_t *conns;
    int queries, accepts, open;
    size_t last_qlen;
    char sni[256];
    fake_req_t req; /* one at a time: the loop is single-threaded */
};

static size_t question_end(const uint8_t *q, size_t qlen)
{
    size_t off = 12;
    while (off < qlen && q[off] != 0)
        off += (size_t)q[off] + 1;
    off += 1 + 4;
    return off <= qlen ? off : 0;
}

size_t make_answer(const uint8_t *q, size_t qlen, uint8_t *out, size_t cap, uint16_t extra_flags,
                   int n)
{
    size_t qe = question_end(q, qlen), len;
    uint16_t flags;

    if (qe == 0 || qe + (size_t)n * 16 > cap)
        return 0;
    memcpy(out, q, qe);
    flags = (uint16_t)(((q[2] << 8) | q[3]) & 0x7900); /* opcode, RD */
    flags |= 0x8000 | 0x0080 | extra_flags;            /* QR, RA */
    out[2] = (uint8_t)(flags >> 8);
    out[3] = (uint8_t)flags;
    out[4] = 0;
    out[5] = 1;
    out[6] = (uint8_t)(n >> 8);
    out[7] = (uint8_t)n;
    memset(out + 8, 0, 4);
    len = qe;
    for (int i = 0; i < n; i++) {
        static const uint8_t rr[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2};
        memcpy(out + len, rr, sizeof(rr));
        out[len + sizeof(rr)] = (uint8_t)(i + 1);
        len += sizeof(rr) + 1;
    }
    return len;
}

size_t make_query(uint8_t *out, size_t cap, uint16_t id, const char *name, uint16_t qtype)
{
    size_t n = 12;
    const char *p = name;

    if (cap < 12 + strlen(name) + 6)
        return 0;
    memset(out, 0, 12);
    out[0] = (uint8_t)(id >> 8);
    out[1] = (uint8_t)id;
    out[2] = 0x01; /* RD */
    out[5] = 1;
    while (*p != '\0') {
        const char *dot = strchr(p, '.');
        size_t l = dot != NULL ? (size_t)(dot - p) : strlen(p);
        out[n++] = (uint8_t)l;
        memcpy(out + n, p, l);
        n += l;
        p += l;
        if (*p == '.')
            p++;
    }
    out[n++] = 0;
    out[n++] = (uint8_t)(qtype >> 8);
    out[n++] = (uint8_t)qtype;
    out[n++] = 0;
    out[n++] = 1;
    return n;
}

/* ------------------------------------------------------------------ */

static void dispatch(fake_t *f)
{
    f->queries++;
    f->last_qlen = f->req.qlen;
    if (f->cb != NULL)
        f->cb(&f->req, f->arg);
    else
        fake_reply_answer(&f->req, 1);
}

static void udp_cb(evutil_socket_t fd, short what, void *arg)
{
    fake_t *f = arg;
    (void)what;
    for (int i = 0; i < 64; i++) {
        fake_req_t *r = &f->req;
        r->f = f;
        r->stream = false;
        r->conn = NULL;
        r->fromlen = sizeof(r->from);
        ssize_t n = recvfrom(fd, r->q, sizeof(r->q), 0, (struct sockaddr *)&r->from, &r->fromlen);
        if (n < 0)
            return;
        r->qlen = (size_t)n;
        dispatch(f);
    }
}

static void conn_free(fake_conn_t *c)
{
    fake_t *f = c->f;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        f->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    bufferevent_free(c->bev);
    f->open--;
    free(c);
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    fake_conn_t *c = arg;
    fake_t *f = c->f;
    struct evbuffer *in = bufferevent_get_input(bev);

    if (f->ssl_ctx != NULL && f->sni[0] == '\0') {
        const char *sni =
            SSL_get_servername(bufferevent_openssl_get_ssl(bev), TLSEXT_NAMETYPE_host_name);
        snprintf(f->sni, sizeof(f->sni), "%s", sni != NULL ? sni : "(none)");
    }
    while (!c->closing && evbuffer_get_length(in) >= 2) {
        uint8_t hdr[2];
        evbuffer_copyout(in, hdr, 2);
        size_t len = (size_t)((hdr[0] << 8) | hdr[1]);
        if (evbuffer_get_length(in) < 2 + len)
            break;
        evbuffer_drain(in, 2);
        fake_req_t *r = &f->req;
        r->f = f;
        r->stream = true;
        r->conn = c;
        evbuffer_remove(in, r->q, len);
        r->qlen = len;
        dispatch(f);
    }
    /* fake_conn_close() from a handler: free once nothing is left to send
     * (else the write callback does). */
    if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        conn_free(c);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    fake_conn_t *c = arg;
    (void)bev;
    if (c->closing)
        conn_free(c);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    fake_conn_t *c = arg;
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        conn_free(c);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                      void *arg)
{
    fake_t *f = arg;
    fake_conn_t *c = calloc(1, sizeof(*c));
    (void)l;
    (void)sa;
    (void)salen;
    c->f = f;
    c->serial = ++f->accepts;
    if (f->ssl_ctx != NULL)
        c->bev = bufferevent_openssl_socket_new(f->base, fd, SSL_new(f->ssl_ctx),
                                                BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    else
        c->bev = bufferevent_socket_new(f->base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->next = f->conns;
    if (f->conns != NULL)
        f->conns->prev = c;
    f->conns = c;
    f->open++;
}

fake_t *fake_new(struct event_base *base, SSL_CTX *tls_server_ctx)
{
    return fake_new_at(base, tls_server_ctx, false);
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
    if (ss->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
    else
        ((struct sockaddr_in *)ss)->sin_port = htons(port);
}

fake_t *fake_new_at(struct event_base *base, SSL_CTX *tls_server_ctx, bool ipv6)
{
    fake_t *f = calloc(1, sizeof(*f));
    struct sockaddr_storage ss;
    socklen_t slen;
    int family = ipv6 ? AF_INET6 : AF_INET;

    f->base = base;
    f->ssl_ctx = tls_server_ctx;
    for (int tries = 0; tries < 50; tries++) {
        memset(&ss, 0, sizeof(ss));
        ss.ss_family = (sa_family_t)family;
        if (ipv6) {
            ((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
            slen = sizeof(struct sockaddr_in6);
        } else {
            ((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            slen = sizeof(struct sockaddr_in);
        }
        f->udp_fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        if (f->udp_fd < 0 || bind(f->udp_fd, (struct sockaddr *)&ss, slen) != 0) {
            if (f->udp_fd >= 0)
                close(f->udp_fd);
            free(f);
            return NULL; /* no IPv6 here */
        }
        getsockname(f->udp_fd, (struct sockaddr *)&ss, &slen);
        f->port = ntohs(ipv6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                             : ((struct sockaddr_in *)&ss)->sin_port);
        f->lst =
            evconnlistener_new_bind(base, accept_cb, f, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                    128, (struct sockaddr *)&ss, (int)slen);
        if (f->lst != NULL)
            break;
        close(f->udp_fd);
    }
    if (f->lst == NULL) {
        free(f);
        return NULL;
    }
    /* Room for a burst of a thousand queries (the tests send them before
     * the fake gets to read); FORCE works as root, else the plain one. */
    int rcv = 4 << 20;
    if (setsockopt(f->udp_fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) != 0)
        setsockopt(f->udp_fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
    f->udp_ev = event_new(base, f->udp_fd, EV_READ | EV_PERSIST, udp_cb, f);
    event_add(f->udp_ev, NULL);
    f->alt_fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    set_port(&ss, 0);
    bind(f->alt_fd, (struct sockaddr *)&ss, slen);
    return f;
}

void fake_free(fake_t *f)
{
    if (f == NULL)
        return;
    while (f->conns != NULL)
        conn_free(f->conns);
    evconnlistener_free(f->lst);
    event_free(f->udp_ev);
    close(f->udp_fd);
    close(f->alt_fd);
    free(f);
}

void fake_set_cb(fake_t *f, fake_cb cb, void *arg)
{
    f->cb = cb;
    f->arg = arg;
}

uint16_t fake_port(const fake_t *f)
{
    return f->port;
}
int fake_queries(const fake_t *f)
{
    return f->queries;
}
int fake_accepts(const fake_t *f)
{
    return f->accepts;
}
int fake_open_conns(const fake_t *f)
{
    return f->open;
}
size_t fake_last_qlen(const fake_t *f)
{
    return f->last_qlen;
}
const char *fake_last_sni(const fake_t *f)
{
    return f->sni;
}
int fake_conn_serial(const fake_conn_t *c)
{
    return c->serial;
}

void fake_send_raw(fake_req_t *r, const uint8_t *m, size_t len)
{
    if (r->stream)
        bufferevent_write(r->conn->bev, m, len);
    else
        sendto(r->f->udp_fd, m, len, 0, (struct sockaddr *)&r->from, r->fromlen);
}

void fake_send_udp_from_other_port(fake_req_t *r, const uint8_t *m, size_t len)
{
    if (r->stream)
        return; /* only a datagram has a port to spoof */
    sendto(r->f->alt_fd, m, len, 0, (struct sockaddr *)&r->from, r->fromlen);
}

void fake_reply(fake_req_t *r, const uint8_t *m, size_t len)
{
    if (r->stream) {
        uint8_t hdr[2] = {(uint8_t)(len >> 8), (uint8_t)len};
        bufferevent_write(r->conn->bev, hdr, 2);
    }
    fake_send_raw(r, m, len);
}

void fake_reply_answer(fake_req_t *r, int n)
{
    uint8_t out[65535];
    size_t len = make_answer(r->q, r->qlen, out, sizeof(out), 0, n);
    if (len > 0)
        fake_reply(r, out, len);
}

void fake_conn_close(fake_conn_t *c)
{
    c->closing = true;
    bufferevent_disable(c->bev, EV_READ);
}

/* ------------------------------------------------------------------ */

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(bool *)arg = true;
}

bool run_until(struct event_base *base, const int *counter, int target, int ms)
{
    bool expired = false;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    struct event *t = evtimer_new(base, timeout_cb, &expired);

    evtimer_add(t, &tv);
    while (*counter < target && !expired)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(t);
    return *counter >= target;
}

void run_for(struct event_base *base, int ms)
{
    int never = 0;
    run_until(base, &never, 1, ms);
}

uint16_t closed_port(int type)
{
    struct sockaddr_in sin;
    socklen_t slen = sizeof(sin);
    int fd = socket(AF_INET, type, 0);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&sin, sizeof(sin));
    getsockname(fd, (struct sockaddr *)&sin, &slen);
    close(fd);
    return ntohs(sin.sin_port);
}

/* ------------------------------------------------------------------ */
/* a throw-away PKI */

static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *san, X509 *issuer,
                       EVP_PKEY *issuer_key, bool ca, long serial)
{
    X509 *c = X509_new();
    X509V3_CTX v3;
    X509_EXTENSION *ext;

    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), serial);
    X509_gmtime_adj(X509_getm_notBefore(c), -3600);
    X509_gmtime_adj(X509_getm_notAfter(c), 86400);
    X509_set_pubkey(c, key);
    X509_NAME *name = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"stubresd tests", -1,
                               -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(c, issuer != NULL ? X509_get_subject_name(issuer) : name);
    X509V3_set_ctx(&v3, issuer != NULL ? issuer : c, c, NULL, NULL, 0);
    ext =
        X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    X509_add_ext(c, ext, -1);
    X509_EXTENSION_free(ext);
    if (ca) {
        ext = X509V3_EXT_conf_nid(NULL, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
        X509_add_ext(c, ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (san != NULL) {
        ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
        X509_add_ext(c, ext, -1);
        X509_EXTENSION_free(ext);
    }
    X509_sign(c, issuer_key != NULL ? issuer_key : key, EVP_sha256());
    return c;
}

static void spki_pin(EVP_PKEY *key, char *out)
{
    unsigned char *der = NULL, d[32];
    int len = i2d_PUBKEY(key, &der);
    SHA256(der, (size_t)len, d);
    OPENSSL_free(der);
    EVP_EncodeBlock((unsigned char *)out, d, 32);
}

static SSL_CTX *server_ctx(X509 *cert, EVP_PKEY *key)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate(ctx, cert);
    SSL_CTX_use_PrivateKey(ctx, key);
    return ctx;
}

bool test_pki_init(test_pki_t *pki)
{
    EVP_PKEY *ca_key = EVP_EC_gen("P-256");
    EVP_PKEY *srv_key = EVP_EC_gen("P-256");
    EVP_PKEY *self_key = EVP_EC_gen("P-256");
    X509 *ca, *srv, *self;
    FILE *fp;

    memset(pki, 0, sizeof(*pki));
    snprintf(pki->dir, sizeof(pki->dir), "/tmp/stubres-pki-XXXXXX");
    if (mkdtemp(pki->dir) == NULL)
        return false;
    snprintf(pki->ca_file, sizeof(pki->ca_file), "%s/ca.pem", pki->dir);
    ca = make_cert(ca_key, "stubresd test CA", NULL, NULL, NULL, true, 1);
    srv = make_cert(srv_key, "dns.test", "DNS:dns.test,IP:127.0.0.1", ca, ca_key, false, 2);
    self = make_cert(self_key, "dns.test", "DNS:dns.test,IP:127.0.0.1", NULL, NULL, false, 3);
    fp = fopen(pki->ca_file, "w");
    PEM_write_X509(fp, ca);
    fclose(fp);
    pki->good = server_ctx(srv, srv_key);
    pki->self_signed = server_ctx(self, self_key);
    spki_pin(srv_key, pki->good_pin);
    spki_pin(self_key, pki->self_pin);
    X509_free(ca);
    X509_free(srv);
    X509_free(self);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(srv_key);
    EVP_PKEY_free(self_key);
    return true;
}

void test_pki_fini(test_pki_t *pki)
{
    SSL_CTX_free(pki->good);
    SSL_CTX_free(pki->self_signed);
    unlink(pki->ca_file);
    rmdir(pki->dir);
}

/* ---- queries through an upstream ---- */

void xfer_on_done(void *arg, sr_status_t status, const uint8_t *resp, size_t len,
                  const sr_xfer_info_t *info)
{
    xfer_result_t *r = arg;
    r->done++;
    r->status = status;
    r->len = len;
    if (resp != NULL && len <= sizeof(r->resp))
        memcpy(r->resp, resp, len);
    r->info = *info;
    snprintf(r->detail, sizeof(r->detail), "%s", info->detail);
}

uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

void upstream_cfg_init(sr_upstream_cfg_t *cfg, sr_proto_t proto, uint16_t port)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->proto = proto;
    cfg->server = "127.0.0.1";
    cfg->port = port;
}

sr_xfer_t *ask_query(sr_upstream_t *up, uint16_t id, const char *name, int timeout_ms,
                     xfer_result_t *r)
{
    uint8_t q[512];
    size_t qlen = make_query(q, sizeof(q), id, name, 1);
    sr_status_t st = SR_E_INVAL;
    sr_xfer_t *x = sr_upstream_query(up, q, qlen, 0, timeout_ms, xfer_on_done, r, &st);
    ck_assert_msg(x != NULL && st == SR_OK, "query %s not accepted: %d", name, st);
    return x;
}

void ask_many(sr_upstream_t *up, int n, const char *name, int timeout_ms, xfer_result_t *r)
{
    for (int i = 0; i < n; i++)
        ask_query(up, (uint16_t)i, name, timeout_ms, &r[i]);
}

void expect_answered(struct event_base *base, const xfer_result_t *r, int n, int wait_ms)
{
    for (int i = 0; i < n; i++) {
        ck_assert_msg(run_until(base, &r[i].done, 1, wait_ms), "query %d: no callback", i);
        ck_assert_msg(r[i].status == SR_OK, "query %d: status %d", i, r[i].status);
        ck_assert_msg(get16(r[i].resp) == i, "query %d: ID %u", i, get16(r[i].resp));
    }
}

/* ---- one query as a table row ---- */

static const char *const XQ_NAMES[] = {
    [XQ_STATUS] = "status",
    [XQ_ID] = "response ID",
    [XQ_ANCOUNT] = "ANCOUNT",
    [XQ_TC] = "TC bit",
    [XQ_QNAME0] = "first letter of the qname",
    [XQ_PROTO] = "info.proto",
    [XQ_SAME_PROTO] = "info.proto is the upstream's",
    [XQ_TRUNCATED] = "info.truncated",
    [XQ_IGNORED] = "info.ignored",
    [XQ_RTT_US] = "info.rtt_us",
    [XQ_HAS_DETAIL] = "info.detail set",
    [XQ_INFLIGHT_ASKED] = "inflight once asked",
    [XQ_INFLIGHT_DONE] = "inflight once done",
    [XQ_S_QUERIES] = "stats.queries",
    [XQ_S_RESPONSES] = "stats.responses",
    [XQ_S_IGNORED] = "stats.ignored",
    [XQ_S_CONNECTIONS] = "stats.connections",
    [XQ_S_TIMEOUTS] = "stats.timeouts",
    [XQ_S_ERRORS] = "stats.errors",
    [XQ_S_FALLBACKS] = "stats.tcp_fallbacks",
    [XQ_S_HANDSHAKES] = "stats.tls_handshakes",
    [XQ_S_RESUMED] = "stats.tls_resumed",
    [XQ_F_QUERIES] = "queries the fake got",
    [XQ_F_ACCEPTS] = "connections the fake accepted",
};

struct xq_seen {
    const xfer_result_t *r;
    size_t inflight_asked, inflight_done;
    sr_upstream_stats_t s;
    const fake_t *f;
    sr_proto_t proto;
};

static long long xq_value(const struct xq_seen *v, xq_what_t what)
{
    const xfer_result_t *r = v->r;
    switch (what) {
    case XQ_STATUS: return r->status;
    case XQ_ID: return get16(r->resp);
    case XQ_ANCOUNT: return get16(r->resp + 6);
    case XQ_TC: return (get16(r->resp + 2) & 0x0200) != 0;
    case XQ_QNAME0: return r->resp[13];
    case XQ_PROTO: return r->info.proto;
    case XQ_SAME_PROTO: return r->info.proto == v->proto;
    case XQ_TRUNCATED: return r->info.truncated;
    case XQ_IGNORED: return r->info.ignored;
    case XQ_RTT_US: return (long long)r->info.rtt_us;
    case XQ_HAS_DETAIL: return r->info.detail != NULL;
    case XQ_INFLIGHT_ASKED: return (long long)v->inflight_asked;
    case XQ_INFLIGHT_DONE: return (long long)v->inflight_done;
    case XQ_S_QUERIES: return (long long)v->s.queries;
    case XQ_S_RESPONSES: return (long long)v->s.responses;
    case XQ_S_IGNORED: return (long long)v->s.ignored;
    case XQ_S_CONNECTIONS: return (long long)v->s.connections;
    case XQ_S_TIMEOUTS: return (long long)v->s.timeouts;
    case XQ_S_ERRORS: return (long long)v->s.errors;
    case XQ_S_FALLBACKS: return (long long)v->s.tcp_fallbacks;
    case XQ_S_HANDSHAKES: return (long long)v->s.tls_handshakes;
    case XQ_S_RESUMED: return (long long)v->s.tls_resumed;
    case XQ_F_QUERIES: return fake_queries(v->f);
    case XQ_F_ACCEPTS: return fake_accepts(v->f);
    case XQ_END: break;
    }
    ck_abort_msg("xq_value: %d", (int)what);
    return 0;
}

void xq_run(const xq_env_t *env, const xq_case_t *c, sr_proto_t proto)
{
    struct event_base *base = env->base;
    fake_t *f = env->fake;
    static const char *const protos[] = {"udp", "tcp", "tls", "https"};
    static int variant; /* the fake's cb argument */
    xfer_result_t *r = calloc(1, sizeof(*r));
    struct xq_seen v = {.r = r, .f = f, .proto = proto};
    sr_upstream_cfg_t cfg;
    sr_upstream_t *up;
    sr_status_t st = SR_OK;
    uint16_t port;
    char what[160]; /* the row's name in every failure */

    ck_assert_ptr_nonnull(r);
    snprintf(what, sizeof(what), "%s (%s)", c->name, (unsigned)proto < 4 ? protos[proto] : "?");
    port = c->closed_port ? closed_port(proto == SR_PROTO_UDP ? SOCK_DGRAM : SOCK_STREAM)
                          : fake_port(f);
    upstream_cfg_init(&cfg, proto, port);
    if (env->prepare != NULL)
        env->prepare(&cfg);
    if (c->tweak != NULL)
        c->tweak(&cfg, c->variant);
    variant = c->variant;
    fake_set_cb(f, c->cb, &variant);
    up = sr_upstream_new(base, &cfg, env->ev, &st);
    ck_assert_msg(up != NULL, "%s: sr_upstream_new: %d", what, st);
    ask_query(up, c->id, c->qname != NULL ? c->qname : "www.example.test", c->timeout_ms, r);
    /* never from inside the call */
    ck_assert_msg(r->done == 0, "%s: called back from inside sr_upstream_query", what);
    v.inflight_asked = sr_upstream_inflight(up);
    ck_assert_msg(run_until(base, &r->done, 1, c->wait_ms), "%s: no callback in %d ms", what,
                  c->wait_ms);
    v.inflight_done = sr_upstream_inflight(up);
    sr_upstream_stats(up, &v.s);
    for (size_t i = 0; i < sizeof(c->want) / sizeof(c->want[0]) && c->want[i].what != XQ_END; i++) {
        const xq_expect_t *w = &c->want[i];
        long long got = xq_value(&v, w->what);
        if (w->at_least)
            ck_assert_msg(got >= w->value, "%s: %s is %lld, want at least %lld", what,
                          XQ_NAMES[w->what], got, w->value);
        else
            ck_assert_msg(got == w->value, "%s: %s is %lld, want %lld", what, XQ_NAMES[w->what],
                          got, w->value);
    }
    sr_upstream_free(up);
    free(r);
}

static void xq_drop(fake_req_t *r, void *arg)
{
    (void)r;
    (void)arg;
}

static void xq_connected(sr_upstream_cfg_t *cfg, int variant)
{
    (void)variant;
    cfg->use_connection = true;
}

const xq_case_t XQ_EVERY_PROTO[] = {
    XQ_ROW("an answer", NULL, NULL, 0, 0x1234, NULL, 2000, 3000, XQ_EQ(XQ_STATUS, SR_OK),
           XQ_EQ(XQ_ID, 0x1234), XQ_EQ(XQ_ANCOUNT, 1), XQ_EQ(XQ_SAME_PROTO, 1),
           XQ_EQ(XQ_IGNORED, 0), XQ_EQ(XQ_TRUNCATED, 0), XQ_EQ(XQ_INFLIGHT_ASKED, 1),
           XQ_EQ(XQ_INFLIGHT_DONE, 0), XQ_EQ(XQ_S_QUERIES, 1), XQ_EQ(XQ_S_RESPONSES, 1),
           XQ_EQ(XQ_S_IGNORED, 0), XQ_EQ(XQ_S_TIMEOUTS, 0), XQ_EQ(XQ_S_ERRORS, 0),
           XQ_EQ(XQ_F_QUERIES, 1)),
    XQ_ROW("no answer: a timeout", NULL, xq_drop, 0, 13, NULL, 250, 3000,
           XQ_EQ(XQ_STATUS, SR_E_TIMEDOUT), XQ_EQ(XQ_STATUS, 10060), XQ_GE(XQ_RTT_US, 150000),
           XQ_EQ(XQ_S_TIMEOUTS, 1), XQ_EQ(XQ_S_ERRORS, 0), XQ_EQ(XQ_S_RESPONSES, 0),
           XQ_EQ(XQ_INFLIGHT_DONE, 0)),
    /* UDP: use_connection, so that ICMP port unreachable is seen */
    {.name = "nothing listens: refused",
     .closed_port = true,
     .tweak = xq_connected,
     .id = 27,
     .timeout_ms = 2000,
     .wait_ms = 3000,
     .want = {XQ_EQ(XQ_STATUS, SR_E_CONNREFUSED), XQ_EQ(XQ_STATUS, 10061), XQ_EQ(XQ_S_ERRORS, 1),
              XQ_EQ(XQ_S_RESPONSES, 0), XQ_EQ(XQ_INFLIGHT_DONE, 0)}},
};
const int XQ_EVERY_PROTO_N = (int)(sizeof(XQ_EVERY_PROTO) / sizeof(XQ_EVERY_PROTO[0]));
