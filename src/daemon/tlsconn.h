/* stubresd: the TLS connection of a client of the encrypted listeners
 * (tls:// and https://), in place of libevent's OpenSSL bufferevent.
 *
 * Why our own: a cache hit over DoT cost 2 read() and 2 epoll_ctl() per
 * query with bufferevent_openssl (libevent 2.1). OpenSSL without
 * read-ahead reads a record's header and then its body; with read-ahead
 * that bufferevent strands records already inside OpenSSL's buffer (it
 * asks SSL_pending(), which counts only decrypted bytes, not
 * SSL_has_pending()), so queries were lost. And it adds the write event
 * for every reply, removes it once written, and writes a turn later.
 *
 * Here the socket is read with SSL read-ahead on, SSL_read() repeated
 * while SSL_has_pending() (nothing stays inside OpenSSL unseen), into an
 * input evbuffer the caller parses. OpenSSL writes its records into a
 * buffer of ours (a BIO of this file), never to the socket: what the
 * caller appends to the output evbuffer is sealed at the end of the loop
 * turn (or at once, in a record of its own: tlsconn_end_record), and all
 * the records of the turn go out in one writev(); the write event is
 * added only while the socket does not take them all. The callbacks and
 * event flags are those of a bufferevent (BEV_EVENT_*), so tcpconn.c
 * treats both alike. */
#ifndef STUBRESD_TLSCONN_H
#define STUBRESD_TLSCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/time.h>

#include <openssl/ssl.h>

struct event_base;
struct evbuffer;

/* Plaintext bytes handed to one SSL_write(): a full TLS record. */
#define TLSCONN_WRITE_CHUNK 16384

typedef struct tlsconn tlsconn_t;

/* New bytes in the input (read_cb); the output drained to the low mark
 * (write_cb); BEV_EVENT_CONNECTED (handshake done), or EOF, ERROR or
 * TIMEOUT with READING or WRITING (event_cb). Any of them may call
 * tlsconn_free() on the connection. */
typedef void (*tlsconn_cb)(tlsconn_t *tc, void *arg);
typedef void (*tlsconn_event_cb)(tlsconn_t *tc, short what, void *arg);

/* A server-side connection on fd (non-blocking, accepted) with ssl, in
 * its handshake; it owns both from now on (closed and freed on failure
 * too). Reading is on once tlsconn_setcb() is called. NULL: no memory. */
tlsconn_t *tlsconn_new(struct event_base *base, int fd, SSL *ssl);
/* The callbacks, their argument, the input size at which reading stops
 * until the caller drains it (max_in), and the output size at or under
 * which write_cb runs after a write (write_low). Starts reading. */
void tlsconn_setcb(tlsconn_t *tc, tlsconn_cb read_cb, tlsconn_cb write_cb,
                   tlsconn_event_cb event_cb, void *arg, size_t max_in, size_t write_low);
/* The decrypted bytes not yet taken, and the bytes to encrypt and send
 * (owned by tc). */
struct evbuffer *tlsconn_input(tlsconn_t *tc);
struct evbuffer *tlsconn_output(tlsconn_t *tc);
/* Bytes queued and not yet written to the socket: the output, and the
 * plaintext of the records sealed but not all written (at most). */
size_t tlsconn_unsent(const tlsconn_t *tc);
/* Seal the output now, as a record of its own (HTTP/2 frames: some
 * clients take one response per SSL_read); written at the end of the
 * turn with the rest. */
void tlsconn_end_record(tlsconn_t *tc);
/* Read (again), or stop reading (back-pressure, EOF); on again, what
 * OpenSSL already holds is read without waiting for the socket. */
void tlsconn_read_enable(tlsconn_t *tc, bool on);
/* Run read_cb again on a later turn (input left for later). */
void tlsconn_kick(tlsconn_t *tc);
/* Idle timeout of reading (no bytes for that long while reading) and of
 * writing (the socket full for that long); restarts both. */
void tlsconn_set_timeout(tlsconn_t *tc, const struct timeval *idle);
int tlsconn_fd(const tlsconn_t *tc);
SSL *tlsconn_ssl(const tlsconn_t *tc);
/* close_notify (best effort, when the session is sound), close the
 * socket, free the SSL and the buffers; accepts NULL. Inside one of tc's
 * callbacks the rest of tc goes when the callback returns. */
void tlsconn_free(tlsconn_t *tc);

#endif
