/* Test helpers of the transport suites: an in-process fake DNS server
 * (UDP, TCP and TLS on one loopback port, driven by the test's own
 * event_base, like libevent's regress_dns.c), hand-built messages, and a
 * throw-away certificate authority made with the OpenSSL API. */
#ifndef XPORT_HELPERS_H
#define XPORT_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include <stubres/upstream.h>

typedef struct fake fake_t;
typedef struct fake_conn fake_conn_t;

/* One query the fake received. */
typedef struct fake_req {
    fake_t *f;
    bool stream; /* TCP/TLS (conn) or UDP (from) */
    fake_conn_t *conn;
    struct sockaddr_storage from;
    socklen_t fromlen;
    uint8_t q[65535];
    size_t qlen;
} fake_req_t;

/* What the fake does with a query; NULL: answer it (fake_reply_answer). */
typedef void (*fake_cb)(fake_req_t *r, void *arg);

/* A fake on 127.0.0.1, UDP and TCP (TLS when ctx is given) on one port. */
fake_t *fake_new(struct event_base *base, SSL_CTX *tls_server_ctx);
/* The same on ::1 (ipv6) or 127.0.0.1; NULL when the address is missing. */
fake_t *fake_new_at(struct event_base *base, SSL_CTX *tls_server_ctx, bool ipv6);
void fake_free(fake_t *f);
void fake_set_cb(fake_t *f, fake_cb cb, void *arg);
uint16_t fake_port(const fake_t *f);
/* Counters. */
int fake_queries(const fake_t *f);
int fake_accepts(const fake_t *f);
int fake_open_conns(const fake_t *f);
size_t fake_last_qlen(const fake_t *f);
const char *fake_last_sni(const fake_t *f);

/* Send bytes as they are: a UDP datagram to the querier, or raw bytes on
 * the stream (no framing). */
void fake_send_raw(fake_req_t *r, const uint8_t *m, size_t len);
/* The same from another local UDP port (a spoof attempt). */
void fake_send_udp_from_other_port(fake_req_t *r, const uint8_t *m, size_t len);
/* Send one message: a datagram, or framed on the stream. */
void fake_reply(fake_req_t *r, const uint8_t *m, size_t len);
/* Answer q with n A records (192.0.2.1, ...). */
void fake_reply_answer(fake_req_t *r, int n);
/* Close the stream after what was written has gone out. */
void fake_conn_close(fake_conn_t *c);
int fake_conn_serial(const fake_conn_t *c);

/* A response to q: header and question copied, QR set, extra_flags ORed
 * in, n A records. Returns its length. */
size_t make_answer(const uint8_t *q, size_t qlen, uint8_t *out, size_t cap, uint16_t extra_flags,
                   int n);
/* A one-question query for name (dotted, no escapes). Returns its length. */
size_t make_query(uint8_t *out, size_t cap, uint16_t id, const char *name, uint16_t qtype);

/* Run base until *counter >= target or ms pass. Returns true if reached. */
bool run_until(struct event_base *base, const int *counter, int target, int ms);
/* Run base for ms. */
void run_for(struct event_base *base, int ms);

/* A test PKI in a temporary directory. */
typedef struct test_pki {
    char dir[64];
    char ca_file[128];    /* PEM of the CA */
    SSL_CTX *good;        /* server: CN/SAN dns.test + 127.0.0.1, signed by the CA */
    SSL_CTX *self_signed; /* server: dns.test, self-signed */
    char good_pin[64];    /* base64 SPKI SHA-256 of good's key */
    char self_pin[64];
} test_pki_t;

bool test_pki_init(test_pki_t *pki);
void test_pki_fini(test_pki_t *pki);

/* A port on 127.0.0.1 where nothing listens (bound then closed). */
uint16_t closed_port(int type);

/* ---- queries through an upstream (the suites' common set-up) ---- */

/* What one query came to; xfer_on_done fills it. */
typedef struct xfer_result {
    int done; /* times called back */
    sr_status_t status;
    uint8_t resp[65535];
    size_t len;
    sr_xfer_info_t info;
    char detail[256];
} xfer_result_t;

/* An sr_xfer_cb that records into the xfer_result_t arg. */
void xfer_on_done(void *arg, sr_status_t status, const uint8_t *resp, size_t len,
                  const sr_xfer_info_t *info);
/* The big-endian 16 bits at p. */
uint16_t get16(const uint8_t *p);
/* cfg zeroed, then proto, server 127.0.0.1 and port. */
void upstream_cfg_init(sr_upstream_cfg_t *cfg, sr_proto_t proto, uint16_t port);
/* Send an A query for name with id through up into r; asserts that it
 * was accepted. */
sr_xfer_t *ask_query(sr_upstream_t *up, uint16_t id, const char *name, int timeout_ms,
                     xfer_result_t *r);

/* n queries for name, IDs 0 to n-1, through up into r[0] to r[n-1]. */
void ask_many(sr_upstream_t *up, int n, const char *name, int timeout_ms, xfer_result_t *r);
/* Waits up to wait_ms for each of r[0] to r[n-1]: answered, SR_OK, and
 * with its own ID (its index). */
void expect_answered(struct event_base *base, const xfer_result_t *r, int n, int wait_ms);

/* ---- one query as a table row ---- */

/* What a row can check once the query is done. */
typedef enum xq_what {
    XQ_END = 0,
    XQ_STATUS,         /* the callback's status */
    XQ_ID,             /* the response's ID */
    XQ_ANCOUNT,        /* its answer count */
    XQ_TC,             /* its TC bit (0 or 1) */
    XQ_QNAME0,         /* the first letter of its question's name */
    XQ_PROTO,          /* info.proto */
    XQ_SAME_PROTO,     /* info.proto is the upstream's (0 or 1) */
    XQ_TRUNCATED,      /* info.truncated (0 or 1) */
    XQ_IGNORED,        /* info.ignored */
    XQ_RTT_US,         /* info.rtt_us */
    XQ_HAS_DETAIL,     /* info.detail is not NULL (0 or 1) */
    XQ_INFLIGHT_ASKED, /* sr_upstream_inflight() right after the query */
    XQ_INFLIGHT_DONE,  /* sr_upstream_inflight() once it is done */
    XQ_S_QUERIES,      /* sr_upstream_stats() */
    XQ_S_RESPONSES,
    XQ_S_IGNORED,
    XQ_S_CONNECTIONS,
    XQ_S_TIMEOUTS,
    XQ_S_ERRORS,
    XQ_S_FALLBACKS,
    XQ_S_HANDSHAKES,
    XQ_S_RESUMED,
    XQ_F_QUERIES, /* fake_queries() */
    XQ_F_ACCEPTS, /* fake_accepts() */
} xq_what_t;

typedef struct xq_expect {
    xq_what_t what;
    bool at_least; /* >= rather than == */
    long long value;
} xq_expect_t;

#define XQ_EQ(w, v)                                                                                \
    {                                                                                              \
        (w), false, (long long)(v)                                                                 \
    }
#define XQ_GE(w, v)                                                                                \
    {                                                                                              \
        (w), true, (long long)(v)                                                                  \
    }

/* One query against the fake: how the upstream is made, what the fake
 * does, and what must come of it. Failures name the row and protocol. */
typedef struct xq_case {
    const char *name;
    bool closed_port; /* a port where nothing listens instead of the fake */
    /* cfg beyond upstream_cfg_init's, or NULL; variant is the row's. */
    void (*tweak)(sr_upstream_cfg_t *cfg, int variant);
    fake_cb cb;  /* the fake's behaviour (NULL: answer) */
    int variant; /* cb gets a pointer to an int set to this */
    uint16_t id;
    const char *qname;    /* NULL: www.example.test */
    int timeout_ms;       /* of the query */
    int wait_ms;          /* for the callback */
    xq_expect_t want[16]; /* up to XQ_END */
} xq_case_t;

/* A row in a line or two: name, tweak, cb, variant, id, qname, timeout_ms,
 * wait_ms, then the xq_expect_t list. */
#define XQ_ROW(n, tw, cb_, v, id_, qn, to, wait, ...)                                              \
    {                                                                                              \
        .name = (n), .tweak = (tw), .cb = (cb_), .variant = (v), .id = (id_), .qname = (qn),       \
        .timeout_ms = (to), .wait_ms = (wait), .want = {                                           \
            __VA_ARGS__                                                                            \
        }                                                                                          \
    }

/* Where a suite runs its rows. */
typedef struct xq_env {
    struct event_base *base;
    fake_t *fake;                            /* its port, unless a row's closed_port */
    const sr_upstream_events_t *ev;          /* the upstream's events, or NULL */
    void (*prepare)(sr_upstream_cfg_t *cfg); /* the suite's cfg before a row's tweak, or NULL */
} xq_env_t;

/* Run c with proto in env. */
void xq_run(const xq_env_t *env, const xq_case_t *c, sr_proto_t proto);

/* Rows that every protocol must pass the same way (answer, timeout,
 * refused connection). */
extern const xq_case_t XQ_EVERY_PROTO[];
extern const int XQ_EVERY_PROTO_N;

#endif
