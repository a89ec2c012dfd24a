/* stubresd: the TLS connection of a client of the encrypted listeners
 * (see tlsconn.h). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "tlsconn.h"

struct tlsconn {
    int fd;
    SSL *ssl;
    struct event *rd;   /* the socket readable (persistent, idle timeout) */
    struct event *wr;   /* the socket writable: only while wire is stuck */
    struct event *turn; /* made active for work at the end of this turn */
    struct evbuffer *in, *out;
    /* Records sealed by OpenSSL, not yet written to the socket: our BIO
     * (wire_method) appends to it, tlsconn writes it with one writev(). */
    struct evbuffer *wire;
    size_t wire_plain; /* plaintext sealed into wire since it was empty */
    tlsconn_cb read_cb, write_cb;
    tlsconn_event_cb event_cb;
    void *arg;
    size_t max_in, write_low;
    struct timeval idle;
    bool has_idle;
    bool handshaking;
    bool reading;                          /* the caller wants input */
    bool eof;                              /* the client closed (close_notify or not) */
    bool broken;                           /* a fatal TLS or socket error: no more I/O */
    bool held;                             /* OpenSSL may hold records not read yet (input full) */
    bool wire_stuck;                       /* the socket took less than wire: wait for POLLOUT */
    bool rd_on, wr_on;                     /* the events as added */
    bool turn_on;                          /* turn is active */
    bool turn_read, turn_pump, turn_flush; /* what it is to do */
    bool dead;                             /* tlsconn_free() ran inside a callback */
    unsigned busy;                         /* depth of our handlers on the stack */
};

static void do_read(tlsconn_t *tc);

/* ---- the write side of the SSL: a BIO that appends to tc->wire ----
 *
 * OpenSSL writes whole records into it and it never refuses, so
 * SSL_write() and the handshake never see SSL_ERROR_WANT_WRITE; the
 * socket is written once per turn (wire_flush), every record of the turn
 * in one writev(), each reply keeping its own record where the caller
 * asks (tlsconn_end_record). */

static BIO_METHOD *wire_method;
static pthread_once_t wire_once = PTHREAD_ONCE_INIT;

static int wire_write(BIO *b, const char *data, int len)
{
    struct evbuffer *wire = BIO_get_data(b);

    BIO_clear_retry_flags(b);
    if (len <= 0)
        return 0;
    return evbuffer_add(wire, data, (size_t)len) == 0 ? len : -1;
}

static long wire_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    /* Flushing is ours to do at the end of the turn. */
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int wire_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static void wire_make(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "stubresd wire");

    if (m != NULL &&
        (BIO_meth_set_write(m, wire_write) != 1 || BIO_meth_set_ctrl(m, wire_ctrl) != 1 ||
         BIO_meth_set_create(m, wire_create) != 1)) {
        BIO_meth_free(m);
        m = NULL;
    }
    wire_method = m;
}

/* ---- events ---- */

/* Add or delete ev as on says, only when that changes (an epoll_ctl). */
static void ev_set(tlsconn_t *tc, struct event *ev, bool *added, bool on)
{
    if (on && !*added) {
        *added = event_add(ev, tc->has_idle ? &tc->idle : NULL) == 0;
    } else if (!on && *added) {
        event_del(ev);
        *added = false;
    }
}

static void turn_want(tlsconn_t *tc, bool *what)
{
    *what = true;
    if (!tc->turn_on) {
        tc->turn_on = true;
        event_active(tc->turn, EV_TIMEOUT, 1);
    }
}

/* Bring the events in line with the state. Records that OpenSSL read
 * ahead while the input was full are read on this loop turn once there
 * is room again, without waiting for the socket (which may stay quiet). */
static void update(tlsconn_t *tc)
{
    bool room, live;

    if (tc->dead)
        return;
    room = evbuffer_get_length(tc->in) < tc->max_in;
    live = !tc->broken && !tc->eof;
    ev_set(tc, tc->rd, &tc->rd_on, live && (tc->handshaking || (tc->reading && room)));
    ev_set(tc, tc->wr, &tc->wr_on, !tc->broken && tc->wire_stuck);
    if (live && tc->held && tc->reading && room && !tc->handshaking)
        turn_want(tc, &tc->turn_pump);
}

/* Run a callback of the caller; false when it freed tc. */
static bool call_cb(tlsconn_t *tc, tlsconn_cb cb)
{
    if (cb != NULL)
        cb(tc, tc->arg);
    return !tc->dead;
}

static bool call_event(tlsconn_t *tc, short what)
{
    if (tc->event_cb != NULL)
        tc->event_cb(tc, what, tc->arg);
    return !tc->dead;
}

/* A fatal TLS or socket error: no more I/O; the caller hears of it
 * (what: BEV_EVENT_READING or BEV_EVENT_WRITING). */
static void fail(tlsconn_t *tc, short what)
{
    tc->broken = true;
    update(tc);
    call_event(tc, BEV_EVENT_ERROR | what);
}

/* After a handler: free what tlsconn_free() left to us. */
static void leave(tlsconn_t *tc)
{
    if (--tc->busy == 0 && tc->dead)
        free(tc);
}

/* A failed SSL call: its error, with OpenSSL's error queue emptied (a
 * stale entry would make the next SSL_get_error() of the thread, for
 * another connection, say SSL_ERROR_SSL). */
static int ssl_err(tlsconn_t *tc, int rc)
{
    int e = SSL_get_error(tc->ssl, rc);

    if (e == SSL_ERROR_SSL || e == SSL_ERROR_SYSCALL)
        ERR_clear_error();
    return e;
}

/* ---- writing ---- */

/* Seal the plaintext output into records in wire: TLSCONN_WRITE_CHUNK
 * bytes each. Returns false on a TLS error. */
static bool seal(tlsconn_t *tc)
{
    size_t left;

    while ((left = evbuffer_get_length(tc->out)) > 0) {
        size_t n = left < TLSCONN_WRITE_CHUNK ? left : TLSCONN_WRITE_CHUNK;
        unsigned char *p = evbuffer_pullup(tc->out, (ev_ssize_t)n);
        int rc;

        if (p == NULL)
            return false;
        rc = SSL_write(tc->ssl, p, (int)n);
        if (rc <= 0) {
            (void)ssl_err(tc, rc);
            return false;
        }
        evbuffer_drain(tc->out, (size_t)rc);
        tc->wire_plain += (size_t)rc;
    }
    return true;
}

/* Write wire to the socket: one writev() of all it holds. Returns true
 * when bytes left; false on an error. */
static bool wire_flush(tlsconn_t *tc, bool *wrote)
{
    size_t len = evbuffer_get_length(tc->wire);
    int n;

    *wrote = false;
    tc->wire_stuck = false;
    if (len == 0)
        return true;
    n = evbuffer_write(tc->wire, tc->fd);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        return false;
    *wrote = n > 0;
    if (evbuffer_get_length(tc->wire) > 0)
        tc->wire_stuck = true;
    else
        tc->wire_plain = 0;
    return true;
}

/* Seal what the turn queued and write it; write_cb once the output is
 * down to write_low. */
static void do_write(tlsconn_t *tc)
{
    bool wrote = false;

    if (tc->handshaking)
        return;
    if (tc->broken || !seal(tc) || !wire_flush(tc, &wrote)) {
        fail(tc, BEV_EVENT_WRITING);
        return;
    }
    update(tc);
    if (wrote && tlsconn_unsent(tc) <= tc->write_low)
        call_cb(tc, tc->write_cb);
}

/* ---- reading ---- */

static void do_handshake(tlsconn_t *tc)
{
    int rc = SSL_do_handshake(tc->ssl), e = 0;
    bool wrote;

    if (rc != 1)
        e = ssl_err(tc, rc);
    /* The server's flight, then the session ticket: out now. */
    if (!wire_flush(tc, &wrote) || (rc != 1 && e != SSL_ERROR_WANT_READ)) {
        fail(tc, BEV_EVENT_READING);
        return;
    }
    if (rc != 1) {
        update(tc);
        return;
    }
    tc->handshaking = false;
    update(tc);
    if (!call_event(tc, BEV_EVENT_CONNECTED))
        return;
    /* The client's first query often came with its Finished. */
    do_read(tc);
    if (!tc->dead && evbuffer_get_length(tc->out) > 0)
        turn_want(tc, &tc->turn_flush);
}

/* Read what the socket has: SSL_read() again while OpenSSL holds more
 * (read-ahead takes many records in one read()), until the input is at
 * max_in. Then read_cb, then EOF or an error. */
static void do_read(tlsconn_t *tc)
{
    unsigned char buf[TLSCONN_WRITE_CHUNK];
    size_t got = 0;
    short ev = 0;

    if (!tc->reading) {
        update(tc);
        return; /* what OpenSSL holds (held) waits for reading again */
    }
    tc->held = false;
    for (;;) {
        int n;
        if (evbuffer_get_length(tc->in) >= tc->max_in) {
            tc->held = SSL_has_pending(tc->ssl) != 0;
            break;
        }
        n = SSL_read(tc->ssl, buf, (int)sizeof(buf));
        if (n > 0) {
            if (evbuffer_add(tc->in, buf, (size_t)n) != 0) {
                ev = BEV_EVENT_ERROR;
                break;
            }
            got += (size_t)n;
            if (!SSL_has_pending(tc->ssl))
                break;
            continue;
        }
        switch (ssl_err(tc, n)) {
        case SSL_ERROR_WANT_READ: break;
        case SSL_ERROR_ZERO_RETURN:
            /* close_notify, or (SSL_OP_IGNORE_UNEXPECTED_EOF) a plain
             * FIN: RFC 7858 asks for no close_notify. */
            ev = BEV_EVENT_EOF;
            tc->eof = true;
            break;
        default: ev = BEV_EVENT_ERROR; break;
        }
        break;
    }
    if (ev == BEV_EVENT_ERROR)
        tc->broken = true;
    /* A post-handshake message (a TLS 1.3 KeyUpdate) may have made
     * OpenSSL write. */
    if (evbuffer_get_length(tc->wire) > 0 && !tc->wire_stuck)
        turn_want(tc, &tc->turn_flush);
    update(tc);
    if (got > 0 && !call_cb(tc, tc->read_cb))
        return;
    if (ev != 0) {
        call_event(tc, ev | BEV_EVENT_READING);
        return;
    }
    update(tc); /* read_cb may have made room */
}

/* ---- the handlers ---- */

static void rd_cb(evutil_socket_t fd, short what, void *arg)
{
    tlsconn_t *tc = arg;
    (void)fd;

    tc->busy++;
    ERR_clear_error();
    if (what & EV_TIMEOUT) {
        /* As a bufferevent: the timeout stops reading; the caller says
         * whether to go on. */
        tc->reading = false;
        update(tc);
        call_event(tc, BEV_EVENT_TIMEOUT | BEV_EVENT_READING);
    } else if (tc->handshaking) {
        do_handshake(tc);
    } else if (!tc->broken && !tc->eof) {
        do_read(tc);
    }
    leave(tc);
}

static void wr_cb(evutil_socket_t fd, short what, void *arg)
{
    tlsconn_t *tc = arg;
    bool wrote;
    (void)fd;

    tc->busy++;
    ERR_clear_error();
    if (what & EV_TIMEOUT) {
        call_event(tc, BEV_EVENT_TIMEOUT | BEV_EVENT_WRITING);
    } else if (tc->handshaking) {
        if (!wire_flush(tc, &wrote))
            fail(tc, BEV_EVENT_WRITING);
        else
            update(tc);
    } else {
        do_write(tc);
    }
    leave(tc);
}

/* The end of the loop turn: records held back, the read_cb asked for by
 * tlsconn_kick(), then the output of the whole turn in one go. */
static void turn_cb(evutil_socket_t fd, short what, void *arg)
{
    tlsconn_t *tc = arg;
    (void)fd;
    (void)what;

    tc->busy++;
    ERR_clear_error();
    if (tc->turn_pump) {
        tc->turn_pump = false;
        if (!tc->handshaking && !tc->broken && !tc->eof)
            do_read(tc);
    }
    if (!tc->dead && tc->turn_read) {
        tc->turn_read = false;
        if (call_cb(tc, tc->read_cb))
            update(tc);
    }
    tc->turn_on = false;
    if (!tc->dead && tc->turn_flush) {
        tc->turn_flush = false;
        if (!tc->wire_stuck) /* else the write event does it */
            do_write(tc);
    }
    leave(tc);
}

/* Bytes were queued: write them at the end of this turn, with the rest
 * of the turn's. */
static void out_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    tlsconn_t *tc = arg;
    (void)buf;

    if (info->n_added > 0 && !tc->dead && !tc->turn_flush)
        turn_want(tc, &tc->turn_flush);
}

/* ---- the interface ---- */

tlsconn_t *tlsconn_new(struct event_base *base, int fd, SSL *ssl)
{
    tlsconn_t *tc = calloc(1, sizeof(*tc));
    BIO *rbio = NULL, *wbio = NULL;

    pthread_once(&wire_once, wire_make);
    if (tc == NULL) {
        SSL_free(ssl);
        close(fd);
        return NULL;
    }
    tc->fd = fd;
    tc->ssl = ssl;
    tc->handshaking = true;
    tc->in = evbuffer_new();
    tc->out = evbuffer_new();
    tc->wire = evbuffer_new();
    tc->rd = event_new(base, fd, EV_READ | EV_PERSIST, rd_cb, tc);
    tc->wr = event_new(base, fd, EV_WRITE | EV_PERSIST, wr_cb, tc);
    tc->turn = event_new(base, -1, 0, turn_cb, tc);
    if (wire_method != NULL && tc->wire != NULL) {
        rbio = BIO_new_socket(fd, BIO_NOCLOSE);
        wbio = BIO_new(wire_method);
    }
    if (rbio == NULL || wbio == NULL) {
        BIO_free(rbio);
        BIO_free(wbio);
        rbio = wbio = NULL;
    } else {
        BIO_set_data(wbio, tc->wire);
        SSL_set_bio(ssl, rbio, wbio); /* ssl owns them now */
    }
    if (tc->in == NULL || tc->out == NULL || tc->rd == NULL || tc->wr == NULL || tc->turn == NULL ||
        rbio == NULL || evbuffer_add_cb(tc->out, out_cb, tc) == NULL) {
        tc->broken = true;
        tlsconn_free(tc);
        return NULL;
    }
    SSL_set_accept_state(ssl);
    /* Read-ahead: one read() takes every record the socket has. */
    SSL_set_read_ahead(ssl, 1);
    /* A client that closes without close_notify is done, not broken, and
     * still gets the answers it is owed (RFC 7858 asks for none). */
    SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
    return tc;
}

void tlsconn_setcb(tlsconn_t *tc, tlsconn_cb read_cb, tlsconn_cb write_cb,
                   tlsconn_event_cb event_cb, void *arg, size_t max_in, size_t write_low)
{
    tc->read_cb = read_cb;
    tc->write_cb = write_cb;
    tc->event_cb = event_cb;
    tc->arg = arg;
    tc->max_in = max_in;
    tc->write_low = write_low;
    tc->reading = true;
    update(tc);
}

struct evbuffer *tlsconn_input(tlsconn_t *tc)
{
    return tc->in;
}

struct evbuffer *tlsconn_output(tlsconn_t *tc)
{
    return tc->out;
}

size_t tlsconn_unsent(const tlsconn_t *tc)
{
    size_t w = evbuffer_get_length(tc->wire);

    return evbuffer_get_length(tc->out) + (w < tc->wire_plain ? w : tc->wire_plain);
}

void tlsconn_end_record(tlsconn_t *tc)
{
    if (tc->dead || tc->handshaking || tc->broken)
        return;
    ERR_clear_error();
    if (!seal(tc))
        tc->broken = true; /* reported by the write at the end of the turn */
    turn_want(tc, &tc->turn_flush);
}

void tlsconn_read_enable(tlsconn_t *tc, bool on)
{
    if (tc->dead || tc->reading == on)
        return;
    tc->reading = on;
    update(tc);
}

void tlsconn_kick(tlsconn_t *tc)
{
    if (!tc->dead)
        turn_want(tc, &tc->turn_read);
}

void tlsconn_set_timeout(tlsconn_t *tc, const struct timeval *idle)
{
    tc->idle = *idle;
    tc->has_idle = true;
    if (tc->rd_on)
        event_add(tc->rd, &tc->idle);
    if (tc->wr_on)
        event_add(tc->wr, &tc->idle);
}

int tlsconn_fd(const tlsconn_t *tc)
{
    return tc->fd;
}

SSL *tlsconn_ssl(const tlsconn_t *tc)
{
    return tc->ssl;
}

void tlsconn_free(tlsconn_t *tc)
{
    bool wrote;

    if (tc == NULL || tc->dead)
        return;
    tc->dead = true;
    if (!tc->handshaking && !tc->broken && tc->wire != NULL) {
        /* close_notify, if the socket takes it now; no waiting for the
         * client's. */
        ERR_clear_error();
        if (SSL_shutdown(tc->ssl) < 0)
            ERR_clear_error();
        (void)wire_flush(tc, &wrote);
    }
    if (tc->rd != NULL)
        event_free(tc->rd);
    if (tc->wr != NULL)
        event_free(tc->wr);
    if (tc->turn != NULL)
        event_free(tc->turn); /* may be the event now running: allowed */
    tc->rd = tc->wr = tc->turn = NULL;
    SSL_free(tc->ssl); /* and its BIOs */
    tc->ssl = NULL;
    if (tc->in != NULL)
        evbuffer_free(tc->in);
    if (tc->out != NULL)
        evbuffer_free(tc->out);
    if (tc->wire != NULL)
        evbuffer_free(tc->wire);
    tc->in = tc->out = tc->wire = NULL;
    close(tc->fd);
    tc->fd = -1;
    if (tc->busy == 0)
        free(tc);
}
