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

#endif
