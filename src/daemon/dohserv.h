/* stubresd: the DNS-over-HTTPS server (RFC 8484) on HTTP/2 (nghttp2).
 *
 * A session is one client connection's HTTP/2, with no transport of its
 * own: the transport feeds it the bytes it receives (dohserv_recv) and
 * writes the bytes the session hands to its send callback, so the same
 * code runs over TLS in the daemon and over memory in the tests and the
 * fuzz target.
 *
 * Requests: RFC 8484 GET (`?dns=`, base64url) and POST
 * (`application/dns-message`) at the configured path, and the JSON API
 * (`/resolve?name=&type=`, or the path with `Accept:
 * application/dns-json`). Each request becomes one DNS query handed to
 * the forwarder (fwd_query) with a client whose conn is the stream, so
 * the streams of a connection are answered each as its answer comes, in
 * any order, and two streams asking with ID 0 (RFC 8484 4.1) are two
 * clients, not a retransmission. The answer goes back with
 * `cache-control: max-age=` its smallest TTL (RFC 8484 5.1), padded to
 * 468-byte blocks when the query was padded (RFC 8467 4.1), or as JSON.
 * HTTP errors: 400 (no or bad DNS query), 404 (another path), 405
 * (another method), 413 (a body over 65535 bytes), 415 (a POST of
 * another media type), 431 (headers over DOHSERV_MAX_HEADERS).
 *
 * Bounds (every byte is the client's): streams open at once
 * (SETTINGS_MAX_CONCURRENT_STREAMS; more are refused), streams the client
 * reset while their query is still upstream (as many again; then new
 * streams are refused until answers come), RST_STREAM frames (nghttp2's
 * rate limit: a burst of DOHSERV_RST_BURST, then DOHSERV_RST_RATE a
 * second, past which the connection gets GOAWAY), CONTINUATION frames,
 * header bytes per request, body bytes per request (65535) and pending
 * answer bytes: while more than DOHSERV_MAX_OUTPUT wait for the client
 * to read them, dohserv_want_read() says to stop reading it. */
#ifndef STUBRESD_DOHSERV_H
#define STUBRESD_DOHSERV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "forwarder.h"

/* The path of RFC 8484 requests when the listener names none. */
#define DOHSERV_PATH "/dns-query"
/* The path of the JSON API (as Google's and Cloudflare's). */
#define DOHSERV_JSON_PATH "/resolve"
/* Streams open at once per connection, when the settings give none. */
#define DOHSERV_MAX_STREAMS 100
/* Header bytes of one request (names + values + 32 each, as
 * SETTINGS_MAX_HEADER_LIST_SIZE counts them, RFC 9113 6.5.2). */
#define DOHSERV_MAX_HEADERS 8192
/* Answer bytes not yet read by the client at which reading stops. */
#define DOHSERV_MAX_OUTPUT (256 * 1024)
/* RST_STREAM frames a client may send at once, then per second. */
#define DOHSERV_RST_BURST 200
#define DOHSERV_RST_RATE 50

typedef struct dohserv dohserv_t;

/* What a session needs from its connection and its thread. */
typedef struct dohserv_conf {
    const char *path;     /* RFC 8484 requests (NULL: DOHSERV_PATH); kept */
    uint32_t max_streams; /* SETTINGS_MAX_CONCURRENT_STREAMS (0: default) */
    /* The query path: fwd_query in the daemon; tests put a fake here. */
    void (*query)(fwd_ctx_t *fx, const uint8_t *pkt, size_t len, const fwd_client_t *client,
                  uint8_t *out, size_t cap);
    fwd_ctx_t *fwd;
    uint8_t *buf; /* scratch for one answer (65536 bytes), the thread's */
    /* Bytes for the client. Returns how many it took (0: none now; then
     * dohserv_flush() once it has room), or -1 when the connection is
     * broken. Must not free the session. */
    ssize_t (*send)(void *arg, const uint8_t *data, size_t len);
    /* The session ended, or wrote output, in an answer's release (outside
     * dohserv_recv/dohserv_flush): the transport checks
     * dohserv_finished(). May be NULL. Must not free the session. */
    void (*wake)(void *arg);
    /* A query went upstream; it came back (called even after the session
     * is freed, so the connection can live until then). May be NULL. */
    void (*hold)(void *arg);
    void (*unhold)(void *arg);
    void *arg;
} dohserv_conf_t;

/* A session for a client at peer (for `allow` and the query log). conf is
 * copied; conf->path and conf->buf must outlive the session. The server's
 * SETTINGS are queued: call dohserv_flush(). NULL when out of memory. */
dohserv_t *dohserv_new(const dohserv_conf_t *conf, const struct sockaddr *peer, socklen_t peerlen);
/* Free the session (accepts NULL). Queries still upstream are let go
 * when they come back; their answers go nowhere. */
void dohserv_free(dohserv_t *s);
/* Bytes from the client: requests found are answered or sent upstream,
 * and what is to be sent is sent. Returns 0, or -1 when the session has
 * ended (a protocol error, or bad HTTP/2 that nghttp2 answered with a
 * GOAWAY): the GOAWAY was offered to send; close once it is written. */
int dohserv_recv(dohserv_t *s, const uint8_t *data, size_t len);
/* Send what is pending as far as send() takes it. 0, or -1 as above. */
int dohserv_flush(dohserv_t *s);
/* False while answers over DOHSERV_MAX_OUTPUT wait for the client: the
 * transport stops reading until a flush brings them down. */
bool dohserv_want_read(const dohserv_t *s);
/* True when the session has nothing more to read or write (after a
 * GOAWAY, or an error): close once the transport's output is out. */
bool dohserv_finished(const dohserv_t *s);
/* Queries of the session waiting for the forwarder. */
unsigned dohserv_inflight(const dohserv_t *s);

/* The https:// listeners' module (tlslisten.h): a session on each
 * connection whose handshake agreed on h2. Registered at start-up. */
struct tls_https_ops;
extern const struct tls_https_ops dohserv_https_ops;

#endif
