/* stubresd: the TLS side of the encrypted listeners (tls:// and https://
 * entries of `listen`).
 *
 * One server context (SSL_CTX: TLS 1.2 and 1.3, tls_cert and tls_key) is
 * current at a time; every accepted connection takes its SSL from it, and
 * the SSL keeps its context alive (OpenSSL counts the references). A
 * reload builds a new context from the files and makes it current: new
 * connections get the renewed certificate, established ones keep theirs
 * to the end. ALPN (RFC 7301): "dot" on tls:// listeners (RFC 7858 says
 * nothing of ALPN, so a client offering none is served too), "h2" on
 * https:// ones (RFC 8484 5.2 wants HTTP/2). Session tickets (RFC 5077,
 * RFC 8446 4.6.1) are sealed with a key of this process that is replaced
 * every TLSLISTEN_TICKET_ROTATE seconds; tickets of the key before are
 * still accepted (and renewed), so a ticket lives two periods at most, a
 * reload keeps the keys, and no key ever touches the disk.
 *
 * The connections themselves are tcpconn.c's (a TLS set of tcp_set_t):
 * the same framing, pipelining, back-pressure and caps as plain TCP, with
 * tls_max_clients and tls_idle_timeout.
 *
 * DNS over HTTPS: once an https:// connection's handshake is done with
 * ALPN h2, tcpconn.c hands its bytes to the DoH module through the
 * tls_https_ops_t that module registers with tlslisten_set_https_ops()
 * (see below). Without one, https:// listeners refuse to start. */
#ifndef STUBRESD_TLSLISTEN_H
#define STUBRESD_TLSLISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "cfg.h"
#include "forwarder.h"

/* Seconds between session ticket keys. */
#define TLSLISTEN_TICKET_ROTATE 3600
/* Block size answers to padded queries are padded to (RFC 8467 4.1). */
#define TLSLISTEN_PAD_BLOCK 468
/* New TLS connections one listener accepts per turn of its event loop;
 * the rest wait in the kernel's backlog for the next turn, so a flood of
 * handshakes (the costly part of TLS) cannot starve plain DNS. */
#define TLSLISTEN_ACCEPT_BURST 16

struct tcpconn;

/* Build a server context from cfg->tls_cert and cfg->tls_key and make it
 * the current one. Main thread: at start, and on reload when the
 * listeners exist. Returns 0, or -1 with err naming the file and what is
 * wrong (the current context, if any, stays). */
int tlslisten_load(const cfg_t *cfg, char *err, size_t errcap);
/* Load and check without making it current (stubresd -t). */
int tlslisten_check(const cfg_t *cfg, char *err, size_t errcap);
/* An SSL for a connection accepted on a tls:// (https false) or https://
 * listener, from the current context; the caller frees it (or the
 * bufferevent that took it). NULL when there is no context or memory. */
SSL *tlslisten_ssl_new(bool https);
/* True when the handshake of ssl agreed on ALPN "h2". */
bool tlslisten_alpn_h2(SSL *ssl);
/* Drop the current context and the ticket keys (at exit). */
void tlslisten_free(void);

/* True when query (a whole DNS message) carries an EDNS Padding option
 * (RFC 7830): its answer must be padded too (RFC 8467 4.1). */
bool tlslisten_query_padded(const uint8_t *query, size_t len);
/* msg padded to a multiple of TLSLISTEN_PAD_BLOCK into out (cap bytes):
 * the length, or 0 when it does not parse or fit (then send it as is). */
size_t tlslisten_pad(const uint8_t *msg, size_t len, uint8_t *out, size_t cap);

/* ---- the hook of the DoH module ----
 *
 * What an https:// connection becomes after a handshake with ALPN h2.
 * All on the connection's thread; the module never frees the connection:
 *  - open() is called once; it returns the module's session (or NULL to
 *    close the connection at once). fwd is the thread's query path (the
 *    module answers through a sink of its own, whose name is "https" and
 *    transport FWD_XPORT_HTTPS), path the listener's request path.
 *  - input() gets every byte the client sends, in order; it returns 0, or
 *    -1 when the session has ended (a protocol error, or after a GOAWAY):
 *    the connection drops what the client still sends and closes once
 *    what the session wrote (its GOAWAY) is out, or when the client does
 *    not read it within tls_idle_timeout.
 *  - want_read() is false while the session holds too many answer bytes
 *    the client has not taken: reading pauses until the connection's
 *    output drains (then the session may need the client's WINDOW_UPDATE).
 *  - close() is called once when the connection goes (closed by either
 *    side, idle, or at exit): the session must be freed and must not use
 *    conn again. Queries it still has upstream are released through
 *    tcpconn_https_release() all the same (the connection lives on until
 *    the last one).
 * Within a session the module writes with tcpconn_https_write() and
 * counts each query sent upstream with tcpconn_https_hold() and its end
 * with tcpconn_https_release() (declared in tcpconn.h), so the
 * connection's caps, idle timeout and back-pressure hold as for DoT. */
typedef struct tls_https_ops {
    void *(*open)(struct tcpconn *conn, fwd_ctx_t *fwd, const char *path);
    int (*input)(void *sess, const uint8_t *data, size_t len);
    bool (*want_read)(const void *sess);
    void (*close)(void *sess);
} tls_https_ops_t;

/* Register the DoH module (main thread, before the workers start). */
void tlslisten_set_https_ops(const tls_https_ops_t *ops);
/* The registered module, or NULL. */
const tls_https_ops_t *tlslisten_https_ops(void);

#endif
