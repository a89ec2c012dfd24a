/* Unit tests: the DNS class object (src/lib/dns.c, dns-config.c).
 *
 * Queries go to a fake DNS server inside the test process: a thread with
 * a UDP socket on 127.0.0.1 that answers every query with hand-built
 * replies (records in all three sections, NXDOMAIN, TC, a malformed
 * answer) or drops it, and keeps the last query for inspection. Nothing
 * leaves loopback; resolv.conf is a file of the test. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <stubres/dns.h>

#include "check-main.h"

/* ---- the fake server ---- */

typedef enum fake_mode {
    FAKE_ANSWER,   /* records in answer, authority and additional */
    FAKE_DROP,     /* never answer */
    FAKE_NXDOMAIN, /* RCODE 3, no records */
    FAKE_TC,       /* TC=1, no records */
    FAKE_GARBAGE,  /* ANCOUNT 1 and a record cut short */
    FAKE_TC_CUT,   /* TC=1, ANCOUNT 1 and a record cut short */
} fake_mode_t;

typedef struct fake {
    int fd;
    uint16_t port;
    int stop[2];
    pthread_t thread;
    pthread_mutex_t lock;
    fake_mode_t mode;
    unsigned queries;
    uint8_t last[512];
    size_t last_len;
} fake_t;

static size_t put_rr(uint8_t *p, const uint8_t *owner, size_t olen,
                     uint16_t type, uint32_t ttl, const uint8_t *rdata,
                     uint16_t rdlen)
{
    size_t n = 0;
    memcpy(p, owner, olen);
    n += olen;
    p[n++] = (uint8_t)(type >> 8);
    p[n++] = (uint8_t)type;
    p[n++] = 0;
    p[n++] = 1; /* IN */
    p[n++] = (uint8_t)(ttl >> 24);
    p[n++] = (uint8_t)(ttl >> 16);
    p[n++] = (uint8_t)(ttl >> 8);
    p[n++] = (uint8_t)ttl;
    p[n++] = (uint8_t)(rdlen >> 8);
    p[n++] = (uint8_t)rdlen;
    memcpy(p + n, rdata, rdlen);
    return n + rdlen;
}

static const uint8_t PTR_QNAME[] = {0xc0, 0x0c};
static const uint8_t A_RDATA[] = {192, 0, 2, 1};
static const uint8_t MX_RDATA[] = {0x00, 0x0a, 4, 'm', 'a', 'i', 'l', 7, 'e',
                                   'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e',
                                   's', 't', 0};
static const uint8_t UNKNOWN_RDATA[] = {0xde, 0xad, 0xbe, 0xef};
static const uint8_t NS1_NAME[] = {3, 'n', 's', '1', 7, 'e', 'x', 'a', 'm', 'p',
                                   'l', 'e', 4, 't', 'e', 's', 't', 0};
static const uint8_t NS1_A[] = {192, 0, 2, 53};

/* The reply to query q (qlen bytes) in this mode; 0: none. */
static size_t fake_reply(const uint8_t *q, size_t qlen, fake_mode_t mode,
                         uint8_t *out)
{
    size_t off = 12;
    uint16_t an = 0, ns = 0, ar = 0;

    if (qlen < 12)
        return 0;
    while (off < qlen && q[off] != 0)
        off += (size_t)q[off] + 1;
    off += 1 + 4;
    if (off > qlen)
        return 0;
    bool edns = q[10] != 0 || q[11] != 0;
    memcpy(out, q, off);
    out[2] = (uint8_t)(0x80 | 0x04 | (q[2] & 0x01)); /* QR AA RD */
    out[3] = 0x80;                                   /* RA */
    size_t n = off;
    switch (mode) {
    case FAKE_ANSWER:
        n += put_rr(out + n, PTR_QNAME, 2, 1, 300, A_RDATA, 4);
        n += put_rr(out + n, PTR_QNAME, 2, 15, 300, MX_RDATA, sizeof(MX_RDATA));
        n += put_rr(out + n, PTR_QNAME, 2, 65280, 60, UNKNOWN_RDATA, 4);
        an = 3;
        n += put_rr(out + n, PTR_QNAME, 2, 2, 3600, NS1_NAME, sizeof(NS1_NAME));
        ns = 1;
        n += put_rr(out + n, NS1_NAME, sizeof(NS1_NAME), 1, 3600, NS1_A, 4);
        ar = 1;
        break;
    case FAKE_NXDOMAIN:
        out[3] |= 3;
        break;
    case FAKE_TC:
        out[2] |= 0x02;
        break;
    case FAKE_TC_CUT:
        out[2] |= 0x02;
        /* fall through */
    case FAKE_GARBAGE:
        out[6] = 0;
        out[7] = 1;
        memcpy(out + n, "\xc0\x0c\x00", 3);
        n += 3;
        out[8] = out[9] = out[10] = out[11] = 0;
        return n;
    case FAKE_DROP:
        return 0;
    }
    if (edns) {
        /* OPT: root, type 41, UDP size 1232, no options */
        static const uint8_t opt[] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
        memcpy(out + n, opt, sizeof(opt));
        n += sizeof(opt);
        ar++;
    }
    out[4] = 0;
    out[5] = 1;
    out[6] = (uint8_t)(an >> 8);
    out[7] = (uint8_t)an;
    out[8] = (uint8_t)(ns >> 8);
    out[9] = (uint8_t)ns;
    out[10] = (uint8_t)(ar >> 8);
    out[11] = (uint8_t)ar;
    return n;
}

static void *fake_run(void *arg)
{
    fake_t *f = arg;
    uint8_t q[512], r[1024];

    for (;;) {
        struct pollfd pfd[2] = {{f->fd, POLLIN, 0}, {f->stop[0], POLLIN, 0}};
        if (poll(pfd, 2, -1) < 0)
            continue;
        if (pfd[1].revents != 0)
            break;
        struct sockaddr_storage from;
        socklen_t flen = sizeof(from);
        ssize_t n = recvfrom(f->fd, q, sizeof(q), 0, (struct sockaddr *)&from,
                             &flen);
        if (n <= 0)
            continue;
        pthread_mutex_lock(&f->lock);
        f->queries++;
        memcpy(f->last, q, (size_t)n);
        f->last_len = (size_t)n;
        fake_mode_t mode = f->mode;
        pthread_mutex_unlock(&f->lock);
        size_t rlen = fake_reply(q, (size_t)n, mode, r);
        if (rlen > 0)
            sendto(f->fd, r, rlen, 0, (struct sockaddr *)&from, flen);
    }
    return NULL;
}

static fake_t *fake_start(fake_mode_t mode)
{
    fake_t *f = calloc(1, sizeof(*f));
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);

    ck_assert_ptr_nonnull(f);
    f->mode = mode;
    pthread_mutex_init(&f->lock, NULL);
    f->fd = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(f->fd, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(f->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(getsockname(f->fd, (struct sockaddr *)&sin, &len), 0);
    f->port = ntohs(sin.sin_port);
    ck_assert_int_eq(pipe(f->stop), 0);
    ck_assert_int_eq(pthread_create(&f->thread, NULL, fake_run, f), 0);
    return f;
}

static void fake_stop(fake_t *f)
{
    ck_assert_int_eq(write(f->stop[1], "x", 1), 1);
    pthread_join(f->thread, NULL);
    close(f->stop[0]);
    close(f->stop[1]);
    close(f->fd);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

static void fake_set_mode(fake_t *f, fake_mode_t mode)
{
    pthread_mutex_lock(&f->lock);
    f->mode = mode;
    pthread_mutex_unlock(&f->lock);
}

static unsigned fake_queries(fake_t *f)
{
    pthread_mutex_lock(&f->lock);
    unsigned n = f->queries;
    pthread_mutex_unlock(&f->lock);
    return n;
}

/* The last query the server saw, parsed. Free with sr_msg_free(). */
static sr_msg_t *fake_last(fake_t *f)
{
    uint8_t q[512];
    pthread_mutex_lock(&f->lock);
    size_t n = f->last_len;
    memcpy(q, f->last, n);
    pthread_mutex_unlock(&f->lock);
    sr_msg_t *m = sr_msg_new();
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(sr_msg_parse(m, q, n, 0), SR_OK);
    return m;
}

/* ---- what the events reported ---- */

typedef struct seen {
    int responses;
    int errors;
    int last_id;
    char domain[256];
    int status_code;
    char description[512];
    bool authoritative;
    int error_code;
    char error_text[512];
    int logs;
    bool interrupt_on_log;
    sr_dns_t *dns;
} seen_t;

static void ev_response(void *arg, int id, const char *domain, int code,
                        const char *desc, bool aa)
{
    seen_t *s = arg;
    s->responses++;
    s->last_id = id;
    snprintf(s->domain, sizeof(s->domain), "%s", domain);
    s->status_code = code;
    snprintf(s->description, sizeof(s->description), "%s", desc);
    s->authoritative = aa;
}

static void ev_error(void *arg, int code, const char *desc)
{
    seen_t *s = arg;
    s->errors++;
    s->error_code = code;
    snprintf(s->error_text, sizeof(s->error_text), "%s", desc);
}

static void ev_log(void *arg, int level, const char *msg, const char *type)
{
    seen_t *s = arg;
    (void)msg;
    (void)type;
    ck_assert_int_ge(level, 1);
    s->logs++;
    if (s->interrupt_on_log)
        sr_dns_interrupt(s->dns);
}

static sr_dns_t *new_dns(fake_t *f, seen_t *s)
{
    sr_dns_t *dns = sr_dns_new();
    ck_assert_ptr_nonnull(dns);
    ck_assert_int_eq(sr_dns_set_dns_server(dns, "127.0.0.1"), SR_OK);
    if (f != NULL)
        ck_assert_int_eq(sr_dns_set_dns_port(dns, f->port), SR_OK);
    ck_assert_int_eq(sr_dns_set_timeout(dns, 5), SR_OK);
    if (s != NULL) {
        sr_dns_events_t ev = {0};
        memset(s, 0, sizeof(*s));
        s->dns = dns;
        ev.on_response = ev_response;
        ev.on_error = ev_error;
        ev.on_log = ev_log;
        ev.arg = s;
        sr_dns_set_events(dns, &ev);
    }
    return dns;
}

/* A fake in mode and an sr_dns_t that asks it, its events in s. */
typedef struct env {
    fake_t *f;
    seen_t s;
    sr_dns_t *dns;
} env_t;

static env_t *env_start(fake_mode_t mode)
{
    static env_t env; /* the events keep &env.s */

    env.f = fake_start(mode);
    env.dns = new_dns(env.f, &env.s);
    return &env;
}

static void env_stop(env_t *e)
{
    sr_dns_free(e->dns);
    fake_stop(e->f);
}

/* The query for name of type qtype, as the fake got it (free it). */
static sr_msg_t *query_sent(env_t *e, int qtype, const char *name)
{
    ck_assert_int_eq(sr_dns_set_query_type(e->dns, qtype), SR_OK);
    ck_assert_msg(sr_dns_query(e->dns, name) == SR_OK, "query %s", name);
    return fake_last(e->f);
}

/* config(name) as a string the test frees. */
static char *cfg_get(sr_dns_t *dns, const char *name)
{
    char *v = NULL;
    ck_assert_msg(sr_dns_config(dns, name, &v) == SR_OK, "read %s: %s", name,
                  sr_dns_last_error(dns));
    ck_assert_ptr_nonnull(v);
    return v;
}

#define ck_cfg_eq(dns, name, want)                                           \
    do {                                                                     \
        char *v_ = cfg_get(dns, name);                                       \
        ck_assert_msg(strcmp(v_, want) == 0, "%s is '%s', want '%s'", name,  \
                      v_, want);                                             \
        free(v_);                                                            \
    } while (0)

static char resolv_conf_path[64];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- properties ---- */

START_TEST(test_defaults)
{
    sr_dns_t *dns = sr_dns_new();
    ck_assert_ptr_nonnull(dns);
    ck_assert_int_eq(sr_dns_get_dns_port(dns), 53);
    /* from $STUBRES_RESOLV_CONF, the test's own file */
    ck_assert_str_eq(sr_dns_get_dns_server(dns), "127.0.0.1");
    ck_assert(sr_dns_get_idle(dns));
    ck_assert_str_eq(sr_dns_get_local_host(dns), "");
    ck_assert_int_eq(sr_dns_get_protocol(dns), 0);
    ck_assert_int_eq(sr_dns_get_query_type(dns), 1);
    ck_assert_int_eq(sr_dns_get_record_source(dns), 0);
    ck_assert(sr_dns_get_recursive(dns));
    ck_assert_int_eq(sr_dns_get_request_id(dns), 1);
    ck_assert_str_eq(sr_dns_get_status(dns), "");
    ck_assert_int_eq(sr_dns_get_status_code(dns), 0);
    ck_assert_int_eq(sr_dns_get_timeout(dns), 60);
    ck_assert_int_eq(sr_dns_get_record_count(dns), 0);
    ck_assert(!sr_dns_get_authoritative(dns));
    ck_assert_ptr_null(sr_dns_get_message(dns));
    ck_assert_str_eq(sr_dns_last_error(dns), "");

    ck_cfg_eq(dns, "DoHMethod", "0");
    ck_cfg_eq(dns, "ResponseTruncated", "False");
    ck_cfg_eq(dns, "UseIDNs", "False");
    ck_cfg_eq(dns, "DelayHostResolution", "False");
    ck_cfg_eq(dns, "DontFragment", "False");
    ck_cfg_eq(dns, "LocalHost", "");
    ck_cfg_eq(dns, "LocalPort", "0");
    ck_cfg_eq(dns, "MaxPacketSize", "1232");
    ck_cfg_eq(dns, "QOSDSCPValue", "0");
    ck_cfg_eq(dns, "ShareLocalPort", "False");
    ck_cfg_eq(dns, "UseConnection", "False");
    ck_cfg_eq(dns, "UseIPv6", "False");
    ck_cfg_eq(dns, "AbsoluteTimeout", "False");
    ck_cfg_eq(dns, "InBufferSize", "0");
    ck_cfg_eq(dns, "OutBufferSize", "0");
    ck_cfg_eq(dns, "CodePage", "65001");
    ck_cfg_eq(dns, "MaskSensitive", "True");
    ck_cfg_eq(dns, "ProcessIdleEvents", "True");
    ck_cfg_eq(dns, "SelectWaitMillis", "20");
    ck_cfg_eq(dns, "UseInternalSecurityAPI", "False");
    ck_cfg_eq(dns, "LogLevel", "1");
    ck_cfg_eq(dns, "TCPFallback", "False");
    ck_cfg_eq(dns, "CAFile", "");
    ck_cfg_eq(dns, "TLSName", "");
    ck_cfg_eq(dns, "SPKIPins", "");
    ck_cfg_eq(dns, "InsecureTLS", "False");
    ck_cfg_eq(dns, "Bootstrap", "");
    ck_cfg_eq(dns, "ResolvConf", "");
    ck_cfg_eq(dns, "UseEDNS", "True");
    sr_dns_free(dns);
}
END_TEST

START_TEST(test_property_validation)
{
    sr_dns_t *dns = sr_dns_new();

    ck_assert_int_eq(sr_dns_set_request_id(dns, 0), SR_E_INVAL);
    ck_assert_ptr_nonnull(strstr(sr_dns_last_error(dns), "1..32767"));
    ck_assert_int_eq(sr_dns_set_request_id(dns, 32768), SR_E_INVAL);
    ck_assert_int_eq(sr_dns_set_request_id(dns, -5), SR_E_INVAL);
    ck_assert_int_eq(sr_dns_get_request_id(dns), 1);
    ck_assert_int_eq(sr_dns_set_request_id(dns, 32767), SR_OK);
    ck_assert_int_eq(sr_dns_get_request_id(dns), 32767);

    ck_assert_int_eq(sr_dns_set_dns_port(dns, 0), SR_E_INVAL);
    ck_assert_int_eq(sr_dns_set_dns_port(dns, 65536), SR_E_INVAL);
    ck_assert_ptr_nonnull(strstr(sr_dns_last_error(dns), "dns_port"));
    ck_assert_int_eq(sr_dns_get_dns_port(dns), 53);
    ck_assert_int_eq(sr_dns_set_dns_port(dns, 65535), SR_OK);

    ck_assert_int_eq(sr_dns_set_protocol(dns, -1), SR_E_INVAL);
    ck_assert_int_eq(sr_dns_set_protocol(dns, 4), SR_E_INVAL);
    ck_assert_int_eq(sr_dns_get_protocol(dns), 0);
    ck_assert_int_eq(sr_dns_set_protocol(dns, 3), SR_OK);

    ck_assert_int_eq(sr_dns_set_record_source(dns, 3), SR_E_RECORD_SOURCE);
    ck_assert_int_eq(sr_dns_set_record_source(dns, -1), SR_E_RECORD_SOURCE);
    ck_assert_int_eq(sr_dns_get_record_source(dns), 0);
    ck_assert_int_eq(sr_dns_set_record_source(dns, 2), SR_OK);

    ck_assert_int_eq(sr_dns_set_query_type(dns, 0), SR_E_UNKNOWN_TYPE);
    ck_assert_int_eq(sr_dns_set_query_type(dns, 65536), SR_E_UNKNOWN_TYPE);
    ck_assert_int_eq(sr_dns_get_query_type(dns), 1);
    ck_assert_int_eq(sr_dns_set_query_type(dns, 100), SR_OK);
    ck_assert_int_eq(sr_dns_set_query_type(dns, 65535), SR_OK);

    ck_assert_int_eq(sr_dns_set_timeout(dns, -1), SR_E_INVAL);
    ck_assert_int_eq(sr_dns_get_timeout(dns), 60);
    ck_assert_int_eq(sr_dns_set_timeout(dns, 0), SR_OK);

    ck_assert_int_eq(sr_dns_set_local_host(dns, "not-an-address"), SR_E_INVAL);
    ck_assert_str_eq(sr_dns_get_local_host(dns), "");
    ck_assert_int_eq(sr_dns_set_local_host(dns, "::1"), SR_OK);
    ck_assert_str_eq(sr_dns_get_local_host(dns), "::1");
    ck_cfg_eq(dns, "LocalHost", "::1");

    ck_assert_int_eq(sr_dns_set_dns_server(dns, "bad server"), SR_E_INVAL);
    ck_assert_str_eq(sr_dns_get_dns_server(dns), "127.0.0.1");

    ck_assert_int_eq(sr_dns_set_recursive(dns, false), SR_OK);
    ck_assert(!sr_dns_get_recursive(dns));
    sr_dns_free(dns);
}
END_TEST

/* While a query is in flight the reference's "while active" errors. */
START_TEST(test_busy_errors)
{
    env_t *e = env_start(FAKE_DROP);

    ck_assert_int_eq(sr_dns_set_timeout(e->dns, 0), SR_OK);
    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_OK);
    ck_assert(!sr_dns_get_idle(e->dns));
    ck_assert_int_eq(sr_dns_set_dns_port(e->dns, 5353), SR_E_UDP_ACTIVE);
    ck_assert_int_eq(sr_dns_set_dns_server(e->dns, "127.0.0.2"), SR_E_UDP_ACTIVE);
    ck_assert_int_eq(sr_dns_set_protocol(e->dns, 1), SR_E_UDP_ACTIVE);
    ck_assert_int_eq(sr_dns_set_local_host(e->dns, "127.0.0.1"),
                     SR_E_LOCAL_HOST_ACTIVE);
    ck_assert_int_eq(sr_dns_config(e->dns, "LocalHost=127.0.0.1", NULL),
                     SR_E_LOCAL_HOST_ACTIVE);
    ck_assert_int_eq(sr_dns_config(e->dns, "LocalPort=5000", NULL),
                     SR_E_LOCAL_PORT_ACTIVE);
    ck_assert_int_eq(sr_dns_config(e->dns, "MaxPacketSize=4096", NULL),
                     SR_E_MAXPACKET_ACTIVE);
    ck_assert_int_eq(sr_dns_config(e->dns, "ShareLocalPort=true", NULL),
                     SR_E_SHAREPORT_ACTIVE);
    ck_assert_int_eq(sr_dns_config(e->dns, "UseConnection=true", NULL),
                     SR_E_USECONN_ACTIVE);
    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_E_ALREADY);
    ck_assert_int_eq(sr_dns_attach(e->dns, NULL), SR_E_UDP_ACTIVE);
    /* nothing changed */
    ck_assert_int_eq(sr_dns_get_dns_port(e->dns), e->f->port);
    ck_cfg_eq(e->dns, "LocalPort", "0");
    ck_cfg_eq(e->dns, "MaxPacketSize", "1232");
    /* settings without a busy error are taken for the next query */
    ck_assert_int_eq(sr_dns_config(e->dns, "DontFragment=true", NULL), SR_OK);
    ck_assert_int_eq(e->s.responses, 0);

    ck_assert_int_eq(sr_dns_interrupt(e->dns), SR_OK);
    ck_assert(sr_dns_get_idle(e->dns));
    ck_assert_int_eq(e->s.responses, 1);
    ck_assert_int_eq(e->s.status_code, SR_E_INTR);
    ck_assert_int_eq(sr_dns_get_status_code(e->dns), SR_E_INTR);
    ck_assert_int_eq(sr_dns_set_dns_port(e->dns, 5353), SR_OK);
    /* interrupt when idle does nothing */
    ck_assert_int_eq(sr_dns_interrupt(e->dns), SR_OK);
    ck_assert_int_eq(e->s.responses, 1);
    env_stop(e);
}
END_TEST

/* ---- config ---- */

struct setting_case {
    const char *set; /* Name=Value */
    const char *name;
    const char *read; /* what reading gives back */
};

START_TEST(test_config_every_setting)
{
    static const struct setting_case cases[] = {
        {"DoHMethod=2", "DoHMethod", "2"},
        {"UseIDNs=true", "UseIDNs", "True"},
        {"DelayHostResolution=yes", "DelayHostResolution", "True"},
        {"DontFragment=1", "DontFragment", "True"},
        {"LocalHost=127.0.0.1", "LocalHost", "127.0.0.1"},
        {"LocalPort=5353", "LocalPort", "5353"},
        {"MaxPacketSize=4096", "MaxPacketSize", "4096"},
        {"QOSDSCPValue=46", "QOSDSCPValue", "46"},
        {"ShareLocalPort=True", "ShareLocalPort", "True"},
        {"UseConnection=TRUE", "UseConnection", "True"},
        {"UseIPv6=Yes", "UseIPv6", "True"},
        {"AbsoluteTimeout=true", "AbsoluteTimeout", "True"},
        {"InBufferSize=65536", "InBufferSize", "65536"},
        {"OutBufferSize=32768", "OutBufferSize", "32768"},
        {"CodePage=1252", "CodePage", "1252"},
        {"MaskSensitive=false", "MaskSensitive", "False"},
        {"ProcessIdleEvents=no", "ProcessIdleEvents", "False"},
        {"SelectWaitMillis=50", "SelectWaitMillis", "50"},
        {"UseInternalSecurityAPI=false", "UseInternalSecurityAPI", "False"},
        {"LogLevel=3", "LogLevel", "3"},
        {"TCPFallback=true", "TCPFallback", "True"},
        {"CAFile=/etc/ssl/certs/ca-certificates.crt", "CAFile",
         "/etc/ssl/certs/ca-certificates.crt"},
        {"TLSName=dns.example.test", "TLSName", "dns.example.test"},
        {"SPKIPins=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,"
         "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB=",
         "SPKIPins",
         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,"
         "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB="},
        {"InsecureTLS=1", "InsecureTLS", "True"},
        {"Bootstrap=[::1]:5353", "Bootstrap", "[::1]:5353"},
        {"ResolvConf=/nonexistent/resolv.conf", "ResolvConf",
         "/nonexistent/resolv.conf"},
        {"UseEDNS=false", "UseEDNS", "False"},
        {"TimeoutMillis=1500", "TimeoutMillis", "1500"},
        {"Tries=3", "Tries", "3"},
        {"DNSSECOK=true", "DNSSECOK", "True"},
        {"RequestNSID=yes", "RequestNSID", "True"},
        /* names are case-insensitive, blanks around name and value go */
        {" dohmethod = 1 ", "DOHMETHOD", "1"},
    };
    sr_dns_t *dns = sr_dns_new();
    char *v = (char *)"untouched";

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(sr_dns_config(dns, cases[i].set, &v) == SR_OK, "%s: %s",
                      cases[i].set, sr_dns_last_error(dns));
        ck_assert_ptr_null(v); /* a set returns no value */
        ck_cfg_eq(dns, cases[i].name, cases[i].read);
    }
    /* LocalHost is the local_host property */
    ck_assert_str_eq(sr_dns_get_local_host(dns), "127.0.0.1");
    /* clearing a string setting */
    ck_assert_int_eq(sr_dns_config(dns, "CAFile=", NULL), SR_OK);
    ck_cfg_eq(dns, "CAFile", "");
    sr_dns_free(dns);
}
END_TEST

START_TEST(test_config_unsupported)
{
    static const char *const names[] = {
        "UseDNSAPIDLL",   "CaptureIPPacketInfo", "DestinationAddress",
        "SourceIPAddress", "SourceMacAddress",   "QOSTrafficType",
        "FirewallData",
    };
    sr_dns_t *dns = sr_dns_new();
    char buf[128], want[128];
    char *v = NULL;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(want, sizeof(want), "%s: not supported on this platform",
                 names[i]);
        ck_assert_int_eq(sr_dns_config(dns, names[i], &v), SR_E_NOT_SUPPORTED);
        ck_assert_ptr_null(v);
        ck_assert_str_eq(sr_dns_last_error(dns), want);
        snprintf(buf, sizeof(buf), "%s=True", names[i]);
        ck_assert_int_eq(sr_dns_config(dns, buf, NULL), SR_E_NOT_SUPPORTED);
        ck_assert_str_eq(sr_dns_last_error(dns), want);
    }
    /* the reference's spelling is reported whatever the caller typed */
    ck_assert_int_eq(sr_dns_config(dns, "usednsapidll=false", NULL),
                     SR_E_NOT_SUPPORTED);
    ck_assert_str_eq(sr_dns_last_error(dns),
                     "UseDNSAPIDLL: not supported on this platform");
    ck_assert_int_eq(SR_E_NOT_SUPPORTED, 10045);
    sr_dns_free(dns);
}
END_TEST

struct bad_case {
    const char *set;
    const char *name;
    const char *unchanged;
};

START_TEST(test_config_bad_values)
{
    static const struct bad_case cases[] = {
        {"DoHMethod=3", "DoHMethod", "0"},
        {"DoHMethod=post", "DoHMethod", "0"},
        {"UseIDNs=maybe", "UseIDNs", "False"},
        {"UseIDNs=", "UseIDNs", "False"},
        {"DontFragment=2", "DontFragment", "False"},
        {"LocalHost=localhost", "LocalHost", ""},
        {"LocalPort=65536", "LocalPort", "0"},
        {"LocalPort=-1", "LocalPort", "0"},
        {"MaxPacketSize=511", "MaxPacketSize", "1232"},
        {"MaxPacketSize=65536", "MaxPacketSize", "1232"},
        {"MaxPacketSize=12x", "MaxPacketSize", "1232"},
        {"QOSDSCPValue=64", "QOSDSCPValue", "0"},
        {"InBufferSize=-1", "InBufferSize", "0"},
        {"CodePage=99999", "CodePage", "65001"},
        {"CodePage=utf8", "CodePage", "65001"},
        {"SelectWaitMillis=-1", "SelectWaitMillis", "20"},
        {"LogLevel=4", "LogLevel", "1"},
        {"SPKIPins=short", "SPKIPins", ""},
        {"Bootstrap=dns.example.test", "Bootstrap", ""},
        {"Bootstrap=127.0.0.1:0", "Bootstrap", ""},
        {"UseInternalSecurityAPI=true", "UseInternalSecurityAPI", "False"},
        {"ResponseTruncated=True", "ResponseTruncated", "False"},
        {"UseEDNS=on", "UseEDNS", "True"},
    };
    sr_dns_t *dns = sr_dns_new();

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(sr_dns_config(dns, cases[i].set, NULL) == SR_E_INVAL,
                      "%s accepted", cases[i].set);
        /* the description names the setting */
        ck_assert_msg(strstr(sr_dns_last_error(dns), cases[i].name) != NULL,
                      "%s: '%s'", cases[i].set, sr_dns_last_error(dns));
        ck_cfg_eq(dns, cases[i].name, cases[i].unchanged);
    }
    /* and says what is accepted */
    sr_dns_config(dns, "UseIDNs=maybe", NULL);
    ck_assert_ptr_nonnull(strstr(sr_dns_last_error(dns), "True, False, Yes, No"));
    sr_dns_config(dns, "DoHMethod=7", NULL);
    ck_assert_ptr_nonnull(strstr(sr_dns_last_error(dns), "0 (POST)"));
    for (int i = 0; i < 3; i++) {
        static const char *const ro[] = {"BuildInfo=x", "LicenseInfo=x",
                                         "ResponseTruncated=False"};
        ck_assert_int_eq(sr_dns_config(dns, ro[i], NULL), SR_E_INVAL);
        ck_assert_ptr_nonnull(strstr(sr_dns_last_error(dns), "read-only"));
    }
    ck_assert_int_eq(sr_dns_config(dns, "NoSuchSetting=1", NULL), SR_E_INVAL);
    ck_assert_ptr_nonnull(strstr(sr_dns_last_error(dns), "NoSuchSetting"));
    ck_assert_int_eq(sr_dns_config(dns, "NoSuchSetting", NULL), SR_E_INVAL);
    ck_assert_int_eq(sr_dns_config(dns, "", NULL), SR_E_INVAL);
    ck_assert_int_eq(sr_dns_config(dns, "=1", NULL), SR_E_INVAL);
    ck_assert_int_eq(sr_dns_config(dns, NULL, NULL), SR_E_INVAL);
    sr_dns_free(dns);
}
END_TEST

START_TEST(test_config_booleans)
{
    static const char *const yes[] = {"True", "true", "TRUE", "tRuE", "1",
                                      "Yes",  "yes",  "YES"};
    static const char *const no[] = {"False", "false", "FALSE", "0", "No",
                                     "no",    "NO"};
    sr_dns_t *dns = sr_dns_new();
    char buf[64];

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        ck_assert_int_eq(sr_dns_config(dns, "UseIPv6=False", NULL), SR_OK);
        snprintf(buf, sizeof(buf), "UseIPv6=%s", yes[i]);
        ck_assert_int_eq(sr_dns_config(dns, buf, NULL), SR_OK);
        ck_cfg_eq(dns, "UseIPv6", "True");
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        ck_assert_int_eq(sr_dns_config(dns, "UseIPv6=True", NULL), SR_OK);
        snprintf(buf, sizeof(buf), "UseIPv6=%s", no[i]);
        ck_assert_int_eq(sr_dns_config(dns, buf, NULL), SR_OK);
        ck_cfg_eq(dns, "UseIPv6", "False");
    }
    sr_dns_free(dns);
}
END_TEST

START_TEST(test_config_read_only_texts)
{
    sr_dns_t *dns = sr_dns_new();
    char *v = cfg_get(dns, "BuildInfo");
    ck_assert_ptr_nonnull(strstr(v, PACKAGE_VERSION));
    ck_assert_ptr_nonnull(strstr(v, "libevent"));
    ck_assert_ptr_nonnull(strstr(v, "OpenSSL"));
    ck_assert_ptr_nonnull(strstr(v, "libcurl"));
    ck_assert_ptr_nonnull(strstr(v, "configured"));
    free(v);
    v = cfg_get(dns, "licenseinfo");
    ck_assert_ptr_nonnull(strstr(v, "free software"));
    free(v);
    sr_dns_free(dns);
}
END_TEST

START_TEST(test_code_pages)
{
    static const char *const known[] = {"437",   "850",   "1252",  "932",
                                        "936",   "20866", "28591", "28605",
                                        "51932", "54936", "65000", "65001",
                                        "037",   "20273", "10000", "1200"};
    sr_dns_t *dns = sr_dns_new();
    char buf[32];
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        snprintf(buf, sizeof(buf), "CodePage=%s", known[i]);
        ck_assert_msg(sr_dns_config(dns, buf, NULL) == SR_OK, "%s: %s", buf,
                      sr_dns_last_error(dns));
    }
    sr_dns_free(dns);
}
END_TEST

/* ResolvConf moves a discovered dns_server, never one the caller set. */
START_TEST(test_resolv_conf_setting)
{
    char path[] = "/tmp/check_dns_resolvXXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char text[] = "# test\nsearch example.test\nnameserver 127.0.0.9\n";
    ck_assert_int_eq(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
    close(fd);

    sr_dns_t *dns = sr_dns_new();
    char set[128];
    snprintf(set, sizeof(set), "ResolvConf=%s", path);
    ck_assert_int_eq(sr_dns_config(dns, set, NULL), SR_OK);
    ck_assert_str_eq(sr_dns_get_dns_server(dns), "127.0.0.9");
    ck_assert_int_eq(sr_dns_config(dns, "ResolvConf=", NULL), SR_OK);
    ck_assert_str_eq(sr_dns_get_dns_server(dns), "127.0.0.1");
    ck_assert_int_eq(sr_dns_set_dns_server(dns, "127.0.0.5"), SR_OK);
    ck_assert_int_eq(sr_dns_config(dns, set, NULL), SR_OK);
    ck_assert_str_eq(sr_dns_get_dns_server(dns), "127.0.0.5");
    sr_dns_free(dns);
    unlink(path);
}
END_TEST

START_TEST(test_no_server)
{
    seen_t s;
    setenv("STUBRES_RESOLV_CONF", "/nonexistent/resolv.conf", 1);
    sr_dns_t *dns = sr_dns_new();
    sr_dns_events_t ev = {0};
    memset(&s, 0, sizeof(s));
    ev.on_error = ev_error;
    ev.on_response = ev_response;
    ev.arg = &s;
    sr_dns_set_events(dns, &ev);
    ck_assert_str_eq(sr_dns_get_dns_server(dns), "");
    ck_assert_int_eq(sr_dns_query(dns, "example.test"), SR_E_NO_SERVER);
    ck_assert_int_eq(sr_dns_get_status_code(dns), SR_E_NO_SERVER);
    ck_assert_int_eq(s.errors, 1);
    ck_assert_int_eq(s.error_code, SR_E_NO_SERVER);
    /* refused before it was sent: no on_response, request_id unused */
    ck_assert_int_eq(s.responses, 0);
    ck_assert_int_eq(sr_dns_get_request_id(dns), 1);
    sr_dns_free(dns);
    setenv("STUBRES_RESOLV_CONF", resolv_conf_path, 1);
}
END_TEST

START_TEST(test_reset)
{
    env_t *e = env_start(FAKE_ANSWER);

    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_OK);
    ck_assert_int_eq(sr_dns_set_protocol(e->dns, 2), SR_OK);
    ck_assert_int_eq(sr_dns_set_query_type(e->dns, 15), SR_OK);
    ck_assert_int_eq(sr_dns_set_record_source(e->dns, 1), SR_OK);
    ck_assert_int_eq(sr_dns_set_recursive(e->dns, false), SR_OK);
    ck_assert_int_eq(sr_dns_set_local_host(e->dns, "127.0.0.1"), SR_OK);
    ck_assert_int_eq(sr_dns_config(e->dns, "UseIDNs=true", NULL), SR_OK);
    ck_assert_int_eq(sr_dns_config(e->dns, "CAFile=/x", NULL), SR_OK);
    ck_assert_int_eq(sr_dns_config(e->dns, "LogLevel=0", NULL), SR_OK);

    ck_assert_int_eq(sr_dns_reset(e->dns), SR_OK);
    ck_assert_int_eq(sr_dns_get_dns_port(e->dns), 53);
    ck_assert_str_eq(sr_dns_get_dns_server(e->dns), "127.0.0.1");
    ck_assert_int_eq(sr_dns_get_protocol(e->dns), 0);
    ck_assert_int_eq(sr_dns_get_query_type(e->dns), 1);
    ck_assert_int_eq(sr_dns_get_record_source(e->dns), 0);
    ck_assert(sr_dns_get_recursive(e->dns));
    ck_assert_int_eq(sr_dns_get_request_id(e->dns), 1);
    ck_assert_int_eq(sr_dns_get_timeout(e->dns), 60);
    ck_assert_str_eq(sr_dns_get_local_host(e->dns), "");
    ck_assert_int_eq(sr_dns_get_record_count(e->dns), 0);
    ck_assert_str_eq(sr_dns_get_status(e->dns), "");
    ck_cfg_eq(e->dns, "UseIDNs", "False");
    ck_cfg_eq(e->dns, "CAFile", "");
    ck_cfg_eq(e->dns, "LogLevel", "1");
    env_stop(e);
}
END_TEST

/* ---- queries against the fake server ---- */

START_TEST(test_records)
{
    env_t *e = env_start(FAKE_ANSWER);
    const char *str = NULL;
    int n = 0;
    uint32_t ttl = 0;
    const uint8_t *data = NULL;
    size_t len = 0;

    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_OK);
    ck_assert(sr_dns_get_idle(e->dns));
    ck_assert_int_eq(e->s.responses, 1);
    ck_assert_int_eq(e->s.errors, 0);
    ck_assert_str_eq(e->s.domain, "example.test");
    ck_assert_int_eq(e->s.status_code, 0);
    ck_assert_str_eq(e->s.description, "NOERROR");
    ck_assert(e->s.authoritative);
    ck_assert_int_eq(sr_dns_get_status_code(e->dns), 0);
    ck_assert_str_eq(sr_dns_get_status(e->dns), "NOERROR");
    ck_assert(sr_dns_get_authoritative(e->dns));
    ck_assert_ptr_nonnull(sr_dns_get_message(e->dns));
    ck_cfg_eq(e->dns, "ResponseTruncated", "False");

    /* answer section */
    ck_assert_int_eq(sr_dns_get_record_count(e->dns), 3);
    ck_assert_int_eq(sr_dns_get_record_domain(e->dns, 0, &str), SR_OK);
    ck_assert_str_eq(str, "example.test");
    ck_assert_int_eq(sr_dns_get_record_type(e->dns, 0, &n), SR_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(sr_dns_get_record_type_name(e->dns, 0, &str), SR_OK);
    ck_assert_str_eq(str, "A");
    ck_assert_int_eq(sr_dns_get_record_ttl(e->dns, 0, &ttl), SR_OK);
    ck_assert_uint_eq(ttl, 300);
    ck_assert_int_eq(sr_dns_get_record_data(e->dns, 0, &data, &len), SR_OK);
    ck_assert_uint_eq(len, 4);
    ck_assert_mem_eq(data, A_RDATA, 4);
    ck_assert_int_eq(sr_dns_get_record_field_count(e->dns, 0, &n), SR_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(sr_dns_get_record_field_index(e->dns, 0, &n), SR_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(sr_dns_get_record_field_name(e->dns, 0, &str), SR_OK);
    ck_assert_str_eq(str, "ADDRESS");
    ck_assert_int_eq(sr_dns_get_record_field_value(e->dns, 0, &str), SR_OK);
    ck_assert_str_eq(str, "192.0.2.1");

    ck_assert_int_eq(sr_dns_get_record_type_name(e->dns, 1, &str), SR_OK);
    ck_assert_str_eq(str, "MX");
    ck_assert_int_eq(sr_dns_get_record_data(e->dns, 1, &data, &len), SR_OK);
    ck_assert_uint_eq(len, sizeof(MX_RDATA));
    ck_assert_mem_eq(data, MX_RDATA, sizeof(MX_RDATA));
    ck_assert_int_eq(sr_dns_get_record_field_count(e->dns, 1, &n), SR_OK);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(sr_dns_get_record_field_value(e->dns, 1, &str), SR_OK);
    ck_assert_str_eq(str, "10");
    ck_assert_int_eq(sr_dns_set_record_field_index(e->dns, 1, 1), SR_OK);
    ck_assert_int_eq(sr_dns_get_record_field_index(e->dns, 1, &n), SR_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(sr_dns_get_record_field_name(e->dns, 1, &str), SR_OK);
    ck_assert_str_eq(str, "EXCHANGE");
    ck_assert_int_eq(sr_dns_get_record_field_value(e->dns, 1, &str), SR_OK);
    ck_assert_str_eq(str, "mail.example.test");
    ck_assert_int_eq(sr_dns_set_record_field_index(e->dns, 1, 2), SR_E_FIELD_INDEX);
    ck_assert_int_eq(sr_dns_set_record_field_index(e->dns, 1, -1), SR_E_FIELD_INDEX);
    ck_assert_int_eq(sr_dns_get_record_field_index(e->dns, 1, &n), SR_OK);
    ck_assert_int_eq(n, 1);
    /* the index is per record */
    ck_assert_int_eq(sr_dns_get_record_field_index(e->dns, 0, &n), SR_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(sr_dns_get_field_value(e->dns, 1, "PREFERENCE", &str), SR_OK);
    ck_assert_str_eq(str, "10");
    ck_assert_int_eq(sr_dns_get_field_value(e->dns, 1, "exchange", &str), SR_OK);
    ck_assert_str_eq(str, "mail.example.test");
    ck_assert_int_eq(sr_dns_get_field_value(e->dns, 1, "ADDRESS", &str),
                     SR_E_FIELD_INDEX);
    ck_assert_int_eq(sr_dns_get_field_value(e->dns, 3, "ADDRESS", &str),
                     SR_E_RECORD_INDEX);

    /* a type without a decoder: TYPE<n>, one RFC 3597 field */
    ck_assert_int_eq(sr_dns_get_record_type(e->dns, 2, &n), SR_OK);
    ck_assert_int_eq(n, 65280);
    ck_assert_int_eq(sr_dns_get_record_type_name(e->dns, 2, &str), SR_OK);
    ck_assert_str_eq(str, "TYPE65280");
    ck_assert_int_eq(sr_dns_get_record_field_name(e->dns, 2, &str), SR_OK);
    ck_assert_str_eq(str, "RDATA");
    ck_assert_int_eq(sr_dns_get_record_field_value(e->dns, 2, &str), SR_OK);
    ck_assert_str_eq(str, "\\# 4 deadbeef");

    /* record index errors */
    ck_assert_int_eq(sr_dns_get_record_domain(e->dns, 3, &str), SR_E_RECORD_INDEX);
    ck_assert_int_eq(sr_dns_get_record_domain(e->dns, -1, &str), SR_E_RECORD_INDEX);
    ck_assert_int_eq(sr_dns_get_record_type(e->dns, 3, &n), SR_E_RECORD_INDEX);
    ck_assert_int_eq(sr_dns_get_record_ttl(e->dns, 3, &ttl), SR_E_RECORD_INDEX);
    ck_assert_int_eq(sr_dns_get_record_data(e->dns, 3, &data, &len),
                     SR_E_RECORD_INDEX);
    ck_assert_int_eq(sr_dns_get_record_field_count(e->dns, 3, &n),
                     SR_E_RECORD_INDEX);
    ck_assert_int_eq(sr_dns_set_record_field_index(e->dns, 3, 0),
                     SR_E_RECORD_INDEX);

    /* authority */
    ck_assert_int_eq(sr_dns_set_record_source(e->dns, 1), SR_OK);
    ck_assert_int_eq(sr_dns_get_record_count(e->dns), 1);
    ck_assert_int_eq(sr_dns_get_record_type_name(e->dns, 0, &str), SR_OK);
    ck_assert_str_eq(str, "NS");
    ck_assert_int_eq(sr_dns_get_field_value(e->dns, 0, "DNAME", &str), SR_OK);
    ck_assert_str_eq(str, "ns1.example.test");
    ck_assert_int_eq(sr_dns_get_record_ttl(e->dns, 0, &ttl), SR_OK);
    ck_assert_uint_eq(ttl, 3600);
    /* additional: the OPT record is not listed */
    ck_assert_int_eq(sr_dns_set_record_source(e->dns, 2), SR_OK);
    ck_assert_int_eq(sr_dns_get_record_count(e->dns), 1);
    ck_assert_int_eq(sr_dns_get_record_domain(e->dns, 0, &str), SR_OK);
    ck_assert_str_eq(str, "ns1.example.test");
    ck_assert_int_eq(sr_dns_get_field_value(e->dns, 0, "ADDRESS", &str), SR_OK);
    ck_assert_str_eq(str, "192.0.2.53");
    ck_assert_int_eq(sr_dns_set_record_source(e->dns, 3), SR_E_RECORD_SOURCE);
    ck_assert_int_eq(sr_dns_get_record_source(e->dns), 2);
    /* back to the answer: the field index set above is still there */
    ck_assert_int_eq(sr_dns_set_record_source(e->dns, 0), SR_OK);
    ck_assert_int_eq(sr_dns_get_record_field_name(e->dns, 1, &str), SR_OK);
    ck_assert_str_eq(str, "EXCHANGE");

    /* the whole message, in wire order */
    const sr_msg_t *m = sr_dns_get_message(e->dns);
    ck_assert_uint_eq(sr_msg_rr_count(m), 5);

    /* NXDOMAIN: a response, so SR_OK, with no records */
    fake_set_mode(e->f, FAKE_NXDOMAIN);
    ck_assert_int_eq(sr_dns_query(e->dns, "nx.example.test"), SR_OK);
    ck_assert_int_eq(sr_dns_get_status_code(e->dns), 3);
    ck_assert_str_eq(sr_dns_get_status(e->dns), "NXDOMAIN");
    ck_assert_int_eq(e->s.status_code, 3);
    ck_assert_str_eq(e->s.description, "NXDOMAIN");
    ck_assert_int_eq(sr_dns_get_record_count(e->dns), 0);
    ck_assert_int_eq(sr_dns_get_field_value(e->dns, 0, "ADDRESS", &str),
                     SR_E_NO_RECORDS);
    ck_assert_int_eq(sr_dns_get_record_domain(e->dns, 0, &str), SR_E_RECORD_INDEX);
    ck_assert_int_eq(e->s.responses, 2);
    env_stop(e);
}
END_TEST

START_TEST(test_query_wire)
{
    env_t *e = env_start(FAKE_ANSWER);

    sr_msg_t *q = query_sent(e, 15, "Example.Test");
    ck_assert_str_eq(sr_msg_qname(q), "Example.Test");
    ck_assert_uint_eq(sr_msg_qtype(q), 15);
    ck_assert_uint_eq(sr_msg_qclass(q), 1);
    ck_assert(sr_msg_flags(q) & SR_FLAG_RD);
    ck_assert(sr_msg_edns(q)->present);
    ck_assert_uint_eq(sr_msg_edns(q)->udp_size, 1232);
    sr_msg_free(q);

    ck_assert_int_eq(sr_dns_set_recursive(e->dns, false), SR_OK);
    ck_assert_int_eq(sr_dns_config(e->dns, "MaxPacketSize=4096", NULL), SR_OK);
    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_OK);
    q = fake_last(e->f);
    ck_assert(!(sr_msg_flags(q) & SR_FLAG_RD));
    ck_assert_uint_eq(sr_msg_edns(q)->udp_size, 4096);
    sr_msg_free(q);

    ck_assert_int_eq(sr_dns_config(e->dns, "UseEDNS=false", NULL), SR_OK);
    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_OK);
    q = fake_last(e->f);
    ck_assert(!sr_msg_edns(q)->present);
    sr_msg_free(q);

    /* escapes */
    ck_assert_int_eq(sr_dns_query(e->dns, "a\\.b.example.test"), SR_OK);
    q = fake_last(e->f);
    ck_assert_str_eq(sr_msg_qname(q), "a\\.b.example.test");
    sr_msg_free(q);
    ck_assert_int_eq(sr_dns_query(e->dns, "\\065bc\\\\.example.test"), SR_OK);
    q = fake_last(e->f);
    ck_assert_str_eq(sr_msg_qname(q), "Abc\\\\.example.test");
    sr_msg_free(q);
    ck_assert_int_eq(sr_dns_query(e->dns, "bad..name"), SR_E_INVAL);
    ck_assert_int_eq(sr_dns_query(e->dns, NULL), SR_E_INVAL);
    env_stop(e);
}
END_TEST

START_TEST(test_request_id)
{
    env_t *e = env_start(FAKE_ANSWER);
    int same = 0;

    for (int i = 1; i <= 5; i++) {
        ck_assert_int_eq(sr_dns_get_request_id(e->dns), i);
        ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_OK);
        ck_assert_int_eq(e->s.last_id, i);
        ck_assert_int_eq(sr_dns_get_request_id(e->dns), i + 1);
        /* the response carries the caller's ID back */
        ck_assert_uint_eq(sr_msg_id(sr_dns_get_message(e->dns)), (unsigned)i);
        sr_msg_t *q = fake_last(e->f);
        same += sr_msg_id(q) == i;
        sr_msg_free(q);
    }
    /* on the wire the IDs are random (RFC 5452): 1..5 in a row is not */
    ck_assert_int_lt(same, 5);

    /* an ID the caller set goes on the wire as it is, for one query */
    ck_assert_int_eq(sr_dns_set_request_id(e->dns, 32767), SR_OK);
    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_OK);
    ck_assert_int_eq(e->s.last_id, 32767);
    sr_msg_t *q = fake_last(e->f);
    ck_assert_uint_eq(sr_msg_id(q), 32767);
    sr_msg_free(q);
    /* and wraps to 1 */
    ck_assert_int_eq(sr_dns_get_request_id(e->dns), 1);
    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_OK);
    ck_assert_int_eq(e->s.last_id, 1);
    ck_assert_int_eq(sr_dns_get_request_id(e->dns), 2);
    /* a failed query uses its ID too */
    fake_set_mode(e->f, FAKE_DROP);
    ck_assert_int_eq(sr_dns_set_timeout(e->dns, 1), SR_OK);
    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_E_TIMEDOUT);
    ck_assert_int_eq(e->s.last_id, 2);
    ck_assert_int_eq(sr_dns_get_request_id(e->dns), 3);
    env_stop(e);
}
END_TEST

START_TEST(test_timeout)
{
    env_t *e = env_start(FAKE_DROP);

    ck_assert_int_eq(sr_dns_set_timeout(e->dns, 1), SR_OK);
    double t0 = now_s();
    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_E_TIMEDOUT);
    double took = now_s() - t0;
    ck_assert_msg(took > 0.8 && took < 3.0, "took %.2f s", took);
    ck_assert(sr_dns_get_idle(e->dns));
    ck_assert_int_eq(sr_dns_get_status_code(e->dns), 10060);
    ck_assert_str_eq(sr_dns_get_status(e->dns), "[10060] Connection timed out.");
    ck_assert_int_eq(e->s.responses, 1);
    ck_assert_int_eq(e->s.status_code, 10060);
    ck_assert_int_eq(e->s.errors, 1);
    ck_assert_int_eq(e->s.error_code, 10060);
    ck_assert_ptr_nonnull(strstr(sr_dns_last_error(e->dns), "[10060]"));
    ck_assert_int_eq(sr_dns_get_record_count(e->dns), 0);
    ck_assert_ptr_null(sr_dns_get_message(e->dns));
    env_stop(e);
}
END_TEST

/* dig's timing: TimeoutMillis per try, Tries datagrams, the timeout
 * property rounded up to whole seconds. */
START_TEST(test_tries_and_millis)
{
    env_t *e = env_start(FAKE_DROP);

    ck_assert_int_eq(sr_dns_config(e->dns, "TimeoutMillis=300", NULL), SR_OK);
    ck_assert_int_eq(sr_dns_get_timeout(e->dns), 1);
    ck_cfg_eq(e->dns, "TimeoutMillis", "300");
    ck_assert_int_eq(sr_dns_config(e->dns, "Tries=2", NULL), SR_OK);
    double t0 = now_s();
    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_E_TIMEDOUT);
    double took = now_s() - t0;
    ck_assert_msg(took > 0.5 && took < 2.0, "took %.2f s", took);
    ck_assert_uint_eq(fake_queries(e->f), 2);
    /* three tries: three datagrams, no more */
    ck_assert_int_eq(sr_dns_config(e->dns, "Tries=3", NULL), SR_OK);
    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_E_TIMEDOUT);
    ck_assert_uint_eq(fake_queries(e->f), 5);
    /* the property in seconds is the same timeout */
    ck_assert_int_eq(sr_dns_set_timeout(e->dns, 2), SR_OK);
    ck_cfg_eq(e->dns, "TimeoutMillis", "2000");
    ck_assert_int_eq(sr_dns_config(e->dns, "TimeoutMillis=-1", NULL), SR_E_INVAL);
    ck_assert_int_eq(sr_dns_config(e->dns, "Tries=101", NULL), SR_E_INVAL);
    env_stop(e);
}
END_TEST

/* DNSSECOK and RequestNSID go into the query's OPT record; the response
 * info names what answered and the ID on the wire. */
START_TEST(test_edns_flags_and_info)
{
    env_t *e = env_start(FAKE_ANSWER);
    sr_dns_response_info_t info;

    ck_assert_int_eq(sr_dns_get_response_info(e->dns, &info), SR_E_NO_RECORDS);
    ck_assert_int_eq(sr_dns_config(e->dns, "DNSSECOK=true", NULL), SR_OK);
    ck_assert_int_eq(sr_dns_config(e->dns, "RequestNSID=true", NULL), SR_OK);
    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_OK);
    sr_msg_t *q = fake_last(e->f);
    const sr_edns_t *edns = sr_msg_edns(q);
    ck_assert(edns->present);
    ck_assert(edns->do_bit);
    ck_assert_uint_eq(edns->opt_count, 1);
    ck_assert_uint_eq(edns->opts[0].code, SR_EDNS_OPT_NSID);
    ck_assert_uint_eq(edns->opts[0].len, 0);
    ck_assert_int_eq(sr_dns_get_response_info(e->dns, &info), SR_OK);
    ck_assert_int_eq(info.protocol, SR_PROTO_UDP);
    ck_assert_uint_eq(info.wire_id, sr_msg_id(q));
    ck_assert_str_eq(info.address, "127.0.0.1");
    ck_assert_int_eq(info.port, e->f->port);
    sr_msg_free(q);
    /* without EDNS neither can be asked for */
    ck_assert_int_eq(sr_dns_config(e->dns, "UseEDNS=false", NULL), SR_OK);
    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_OK);
    q = fake_last(e->f);
    ck_assert(!sr_msg_edns(q)->present);
    sr_msg_free(q);
    /* a failed query has no response info */
    fake_set_mode(e->f, FAKE_DROP);
    ck_assert_int_eq(sr_dns_config(e->dns, "TimeoutMillis=200", NULL), SR_OK);
    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_E_TIMEDOUT);
    ck_assert_int_eq(sr_dns_get_response_info(e->dns, &info), SR_E_NO_RECORDS);
    ck_assert_int_eq(info.protocol, 0);
    env_stop(e);
}
END_TEST

/* A URL as dns_server needs the protocol its scheme names. */
START_TEST(test_url_schemes)
{
    env_t *e = env_start(FAKE_ANSWER);
    char url[64];

    snprintf(url, sizeof(url), "udp://127.0.0.1:%u", (unsigned)e->f->port);
    ck_assert_int_eq(sr_dns_set_dns_server(e->dns, url), SR_OK);
    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_OK);
    /* tls:// with protocol 0 is refused before anything is sent */
    snprintf(url, sizeof(url), "tls://127.0.0.1:%u", (unsigned)e->f->port);
    ck_assert_int_eq(sr_dns_set_dns_server(e->dns, url), SR_OK);
    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_E_BAD_ADDRESS);
    ck_assert_ptr_nonnull(strstr(sr_dns_last_error(e->dns), "2 (TLS) for tls://"));
    env_stop(e);
}
END_TEST

START_TEST(test_truncated_and_malformed)
{
    env_t *e = env_start(FAKE_TC);

    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_OK);
    ck_cfg_eq(e->dns, "ResponseTruncated", "True");
    ck_assert_int_eq(sr_dns_get_status_code(e->dns), 0);

    /* a TC answer cut inside a record (RFC 2181 9): still a response */
    fake_set_mode(e->f, FAKE_TC_CUT);
    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_OK);
    ck_cfg_eq(e->dns, "ResponseTruncated", "True");
    ck_assert_int_eq(sr_dns_get_record_count(e->dns), 0);
    ck_assert_str_eq(sr_dns_get_status(e->dns), "NOERROR");
    ck_assert_int_eq(e->s.errors, 0);

    /* a malformed answer is not believed (it may be forged): the
     * transport ignores it and the query times out */
    fake_set_mode(e->f, FAKE_GARBAGE);
    ck_assert_int_eq(sr_dns_set_timeout(e->dns, 1), SR_OK);
    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_E_TIMEDOUT);
    ck_cfg_eq(e->dns, "ResponseTruncated", "False");
    ck_assert_int_eq(sr_dns_get_status_code(e->dns), SR_E_TIMEDOUT);
    ck_assert_int_eq(e->s.status_code, SR_E_TIMEDOUT);
    ck_assert_int_eq(e->s.errors, 1);
    ck_assert_int_eq(sr_dns_get_record_count(e->dns), 0);
    ck_assert_ptr_null(sr_dns_get_message(e->dns));
    env_stop(e);
}
END_TEST

START_TEST(test_revlookup)
{
    env_t *e = env_start(FAKE_ANSWER);

    sr_msg_t *q = query_sent(e, 100, "192.0.2.1");
    ck_assert_str_eq(sr_msg_qname(q), "1.2.0.192.in-addr.arpa");
    ck_assert_uint_eq(sr_msg_qtype(q), 12);
    sr_msg_free(q);
    /* domain and query_type stay what the caller gave */
    ck_assert_str_eq(e->s.domain, "192.0.2.1");
    ck_assert_int_eq(sr_dns_get_query_type(e->dns), 100);

    ck_assert_int_eq(sr_dns_query(e->dns, "2001:db8::1"), SR_OK);
    q = fake_last(e->f);
    ck_assert_str_eq(sr_msg_qname(q),
                     "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0."
                     "0.2.ip6.arpa");
    sr_msg_free(q);
    ck_assert_str_eq(e->s.domain, "2001:db8::1");

    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_E_BAD_ADDRESS);
    ck_assert_int_eq(e->s.responses, 2);
    env_stop(e);
}
END_TEST

START_TEST(test_idn)
{
    env_t *e = env_start(FAKE_ANSWER);
    const char *utf8 = "b\xc3\xbc" "cher.example";
    const char *latin1 = "b\xfc" "cher.example";

    ck_assert_int_eq(sr_dns_query(e->dns, utf8), SR_E_INVAL);
    ck_assert_str_eq(sr_dns_last_error(e->dns), "non-ASCII name: set UseIDNs=true");
    ck_assert_int_eq(fake_queries(e->f), 0);

    ck_assert_int_eq(sr_dns_config(e->dns, "UseIDNs=true", NULL), SR_OK);
    ck_assert_int_eq(sr_dns_query(e->dns, utf8), SR_OK);
    sr_msg_t *q = fake_last(e->f);
    ck_assert_str_eq(sr_msg_qname(q), "xn--bcher-kva.example");
    sr_msg_free(q);
    ck_assert_str_eq(e->s.domain, utf8);

    /* the same name in ISO 8859-1, converted with iconv first */
    ck_assert_int_eq(sr_dns_config(e->dns, "CodePage=28591", NULL), SR_OK);
    ck_assert_int_eq(sr_dns_query(e->dns, latin1), SR_OK);
    q = fake_last(e->f);
    ck_assert_str_eq(sr_msg_qname(q), "xn--bcher-kva.example");
    sr_msg_free(q);
    /* bytes that are not UTF-8 with CodePage 65001 */
    ck_assert_int_eq(sr_dns_config(e->dns, "CodePage=65001", NULL), SR_OK);
    ck_assert_int_eq(sr_dns_query(e->dns, latin1), SR_E_INVAL);
    /* a byte sequence invalid in the code page */
    ck_assert_int_eq(sr_dns_config(e->dns, "CodePage=932", NULL), SR_OK);
    ck_assert_int_eq(sr_dns_query(e->dns, "\x81"), SR_E_CODEPAGE);
    env_stop(e);
}
END_TEST

/* interrupt() from a callback while the synchronous query waits. */
START_TEST(test_interrupt_sync)
{
    env_t *e = env_start(FAKE_DROP);

    e->s.interrupt_on_log = true;
    double t0 = now_s();
    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_E_INTR);
    ck_assert(now_s() - t0 < 2.0);
    ck_assert(sr_dns_get_idle(e->dns));
    ck_assert_int_eq(e->s.responses, 1);
    ck_assert_int_eq(e->s.status_code, SR_E_INTR);
    ck_assert_int_eq(e->s.errors, 0); /* the caller's own doing */
    ck_assert_int_eq(sr_dns_get_status_code(e->dns), SR_E_INTR);
    /* the object works afterwards */
    e->s.interrupt_on_log = false;
    fake_set_mode(e->f, FAKE_ANSWER);
    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_OK);
    ck_assert_int_eq(sr_dns_get_record_count(e->dns), 3);
    env_stop(e);
}
END_TEST

START_TEST(test_async_do_events)
{
    env_t *e = env_start(FAKE_ANSWER);

    ck_assert_int_eq(sr_dns_set_timeout(e->dns, 0), SR_OK);
    ck_assert_int_eq(sr_dns_query(e->dns, "example.test"), SR_OK);
    ck_assert(!sr_dns_get_idle(e->dns));
    ck_assert_int_eq(e->s.responses, 0);
    int rounds = 0;
    while (!sr_dns_get_idle(e->dns) && rounds < 500) {
        ck_assert_int_eq(sr_dns_do_events(e->dns), SR_OK);
        rounds++;
    }
    ck_assert(sr_dns_get_idle(e->dns));
    ck_assert_int_eq(e->s.responses, 1);
    ck_assert_int_eq(e->s.status_code, 0);
    ck_assert_int_eq(sr_dns_get_record_count(e->dns), 3);

    /* idle: do_events waits SelectWaitMillis */
    ck_assert_int_eq(sr_dns_config(e->dns, "SelectWaitMillis=100", NULL), SR_OK);
    double t0 = now_s();
    ck_assert_int_eq(sr_dns_do_events(e->dns), SR_OK);
    double took = now_s() - t0;
    ck_assert_msg(took >= 0.09 && took < 1.0, "took %.3f s", took);
    ck_assert_int_eq(sr_dns_config(e->dns, "SelectWaitMillis=0", NULL), SR_OK);
    t0 = now_s();
    ck_assert_int_eq(sr_dns_do_events(e->dns), SR_OK);
    ck_assert(now_s() - t0 < 0.05);
    env_stop(e);
}
END_TEST

/* Changing the server's port rebuilds the upstream; the next query goes
 * to the new server. */
START_TEST(test_upstream_rebuild)
{
    fake_t *f1 = fake_start(FAKE_ANSWER);
    fake_t *f2 = fake_start(FAKE_NXDOMAIN);
    seen_t s;
    sr_dns_t *dns = new_dns(f1, &s);

    ck_assert_int_eq(sr_dns_query(dns, "example.test"), SR_OK);
    ck_assert_int_eq(sr_dns_query(dns, "example.test"), SR_OK);
    ck_assert_uint_eq(fake_queries(f1), 2);
    ck_assert_int_eq(sr_dns_set_dns_port(dns, f2->port), SR_OK);
    ck_assert_int_eq(sr_dns_query(dns, "example.test"), SR_OK);
    ck_assert_uint_eq(fake_queries(f2), 1);
    ck_assert_str_eq(sr_dns_get_status(dns), "NXDOMAIN");
    sr_dns_free(dns);
    fake_stop(f1);
    fake_stop(f2);
}
END_TEST

/* ---- many objects on the caller's event_base ---- */

#define OBJECTS 100
#define QUERIES_EACH 10

typedef struct client {
    sr_dns_t *dns;
    int left;
    int *done;
    int *failed;
    struct event_base *base;
} client_t;

static void client_response(void *arg, int id, const char *domain, int code,
                            const char *desc, bool aa)
{
    client_t *c = arg;
    (void)id;
    (void)domain;
    (void)desc;
    (void)aa;
    (*c->done)++;
    if (code != 0 || sr_dns_get_record_count(c->dns) != 3)
        (*c->failed)++;
    /* one query at a time per object: the next from the callback */
    if (--c->left > 0 && sr_dns_query(c->dns, "example.test") != SR_OK)
        (*c->failed)++;
}

START_TEST(test_attach_many)
{
    fake_t *f = fake_start(FAKE_ANSWER);
    struct event_base *base = event_base_new();
    client_t *clients = calloc(OBJECTS, sizeof(*clients));
    int done = 0, failed = 0;

    ck_assert_ptr_nonnull(base);
    for (int i = 0; i < OBJECTS; i++) {
        client_t *c = &clients[i];
        sr_dns_events_t ev = {0};
        c->dns = new_dns(f, NULL);
        c->left = QUERIES_EACH;
        c->done = &done;
        c->failed = &failed;
        ev.on_response = client_response;
        ev.arg = c;
        sr_dns_set_events(c->dns, &ev);
        ck_assert_int_eq(sr_dns_attach(c->dns, base), SR_OK);
        /* attached: query() returns at once even with a timeout */
        ck_assert_int_eq(sr_dns_query(c->dns, "example.test"), SR_OK);
        ck_assert(!sr_dns_get_idle(c->dns));
    }
    double t0 = now_s();
    while (done < OBJECTS * QUERIES_EACH && now_s() - t0 < 60)
        event_base_loop(base, EVLOOP_ONCE);
    ck_assert_int_eq(done, OBJECTS * QUERIES_EACH);
    ck_assert_int_eq(failed, 0);
    ck_assert_uint_eq(fake_queries(f), OBJECTS * QUERIES_EACH);
    for (int i = 0; i < OBJECTS; i++) {
        ck_assert(sr_dns_get_idle(clients[i].dns));
        ck_assert_int_eq(sr_dns_get_request_id(clients[i].dns),
                         QUERIES_EACH + 1);
        sr_dns_free(clients[i].dns);
    }
    free(clients);
    event_base_free(base);
    fake_stop(f);
}
END_TEST

/* Freeing an object with a query in flight: no callback, no leak. */
START_TEST(test_free_busy)
{
    fake_t *f = fake_start(FAKE_DROP);
    seen_t s;
    sr_dns_t *dns = new_dns(f, &s);
    ck_assert_int_eq(sr_dns_set_timeout(dns, 0), SR_OK);
    ck_assert_int_eq(sr_dns_query(dns, "example.test"), SR_OK);
    sr_dns_free(dns);
    ck_assert_int_eq(s.responses, 0);
    sr_dns_free(NULL);
    fake_stop(f);
}
END_TEST

START_TEST(test_log_levels)
{
    fake_t *f = fake_start(FAKE_ANSWER);
    seen_t s;
    sr_dns_t *dns = new_dns(f, &s);

    ck_assert_int_eq(sr_dns_query(dns, "example.test"), SR_OK);
    ck_assert_int_gt(s.logs, 0);
    int info = s.logs;
    s.logs = 0;
    ck_assert_int_eq(sr_dns_config(dns, "LogLevel=0", NULL), SR_OK);
    ck_assert_int_eq(sr_dns_query(dns, "example.test"), SR_OK);
    ck_assert_int_eq(s.logs, 0);
    ck_assert_int_eq(sr_dns_config(dns, "LogLevel=3", NULL), SR_OK);
    ck_assert_int_eq(sr_dns_query(dns, "example.test"), SR_OK);
    ck_assert_int_gt(s.logs, info);
    sr_dns_free(dns);
    fake_stop(f);
}
END_TEST

static Suite *dns_suite(void)
{
    Suite *s = suite_create("dns");
    add_tcase(s, "properties", NULL, NULL,
              TESTS(test_defaults, test_property_validation, test_busy_errors, test_reset,
                    test_no_server, test_resolv_conf_setting));
    add_tcase(s, "config", NULL, NULL,
              TESTS(test_config_every_setting, test_config_unsupported, test_config_bad_values,
                    test_config_booleans, test_config_read_only_texts, test_code_pages));
    TCase *q = add_tcase(s, "query", NULL, NULL,
                         TESTS(test_records, test_query_wire, test_request_id, test_timeout,
                               test_tries_and_millis, test_edns_flags_and_info, test_url_schemes,
                               test_truncated_and_malformed, test_revlookup, test_idn,
                               test_interrupt_sync, test_async_do_events, test_upstream_rebuild,
                               test_free_busy, test_log_levels, test_attach_many));
    tcase_set_timeout(q, 60);
    return s;
}

int main(void)
{
    /* resolv.conf of the test: loopback only, never the machine's */
    snprintf(resolv_conf_path, sizeof(resolv_conf_path), "/tmp/check_dns_XXXXXX");
    int fd = mkstemp(resolv_conf_path);
    if (fd < 0)
        return EXIT_FAILURE;
    const char text[] = "nameserver 127.0.0.1\n";
    if (write(fd, text, sizeof(text) - 1) != (ssize_t)sizeof(text) - 1)
        return EXIT_FAILURE;
    close(fd);
    setenv("STUBRES_RESOLV_CONF", resolv_conf_path, 1);

    int rc = run_suite(dns_suite());
    unlink(resolv_conf_path);
    return rc;
}
