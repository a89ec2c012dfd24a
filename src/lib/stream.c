/* DNS over TCP (RFC 7766) and over TLS (RFC 7858): one pipelined stream
 * implementation over libevent bufferevents.
 *
 * An upstream keeps a small pool of connections (max_connections); each
 * carries up to max_pipeline queries at once, answered in any order and
 * matched by ID (RFC 7766 6.2.1.1), so IDs are unique among the queries in
 * flight on one connection. Queries beyond that wait in a FIFO queue. A
 * further connection of the pool opens when the queue overflows them, or
 * with spread_pipeline when every connection carries that many queries. A
 * connection that the server closes while queries are in flight has them
 * sent once more on a fresh connection; the second loss fails them. Idle
 * connections close after idle_timeout_ms (RFC 7766 6.2.3).
 *
 * No callback ever runs from inside sr_upstream_query(): failures found
 * there are parked on a "doomed" list and delivered by the kick event. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "codec-internal.h"
#include "upstream-internal.h"

/* Buckets of the per-connection ID table. */
#define ID_BUCKETS 64
/* A frame: 2-byte length then the message (RFC 1035 4.2.2). */
#define FRAME_HDR 2
#define MAX_ID_TRIES 64

enum conn_state {
    C_CONNECTING, /* TCP connect in progress */
    C_HANDSHAKE,  /* TLS handshake in progress */
    C_READY,      /* may carry queries (TLS: certificate accepted) */
};

enum sx_where { SX_NONE, SX_QUEUE, SX_DOOMED, SX_CONN };

struct conn;

/* The module's state of one query (x->tp). */
struct sx {
    sr_xfer_t *x;
    enum sx_where where;
    struct conn *c;         /* SX_CONN: the connection carrying it */
    struct sx *next, *prev; /* queue, doomed list, or c's in-flight list */
    struct sx *bnext;       /* c's ID bucket chain */
    int resends;            /* times re-sent after a lost connection */
    sr_status_t doomed;     /* SX_DOOMED: the status to complete with */
    const char *doomed_detail;
};

struct sx_list {
    struct sx *head, *tail;
    size_t n;
};

struct stream;

struct conn {
    sr_upstream_t *up;
    struct stream *st;
    struct conn *next, *prev;
    enum conn_state state;
    int fd;                   /* until the bufferevent owns it */
    struct event *connect_ev; /* EV_WRITE while connecting */
    struct bufferevent *bev; /* TLS: the filter over a socket bufferevent */
    struct event *timer;     /* idle timeout; watchdog while connecting */
    struct evbuffer *stage;  /* TLS: frames placed, not yet handed to TLS */
    struct event *flush_ev;  /* TLS: hands stage over, once per loop pass */
    struct sx *ids[ID_BUCKETS];
    struct sx_list inflight;
    SSL_SESSION *early_session; /* a session seen before the verdict */
    uint64_t touched_us;        /* when the queries on it were last touched */
    unsigned serial;
};

struct stream {
    sr_upstream_t *up;
    bool tls;
    struct conn *conns;
    size_t nconns;
    unsigned serial;
    struct sx_list queue;  /* waiting for a connection slot */
    struct sx_list doomed; /* failed, callbacks due from the kick */
    struct event *kick;
    uint8_t *rbuf; /* one message being read */
};

static void pump(struct stream *st);

/* ------------------------------------------------------------------ */
/* lists */

static void list_push_tail(struct sx_list *l, struct sx *s)
{
    SR_LIST_PUSH_TAIL(l->head, l->tail, s, prev, next);
    l->n++;
}

static void list_push_head(struct sx_list *l, struct sx *s)
{
    SR_LIST_PUSH_HEAD(l->head, l->tail, s, prev, next);
    l->n++;
}

static void list_remove(struct sx_list *l, struct sx *s)
{
    SR_LIST_UNLINK_TAIL(l->head, l->tail, s, prev, next);
    s->next = s->prev = NULL;
    l->n--;
}

static struct sx *conn_lookup(struct conn *c, uint16_t id)
{
    for (struct sx *s = c->ids[id % ID_BUCKETS]; s != NULL; s = s->bnext)
        if (s->x->wire_id == id)
            return s;
    return NULL;
}

static void conn_unbucket(struct conn *c, struct sx *s)
{
    struct sx **pp = &c->ids[s->x->wire_id % ID_BUCKETS];

    while (*pp != NULL && *pp != s)
        pp = &(*pp)->bnext;
    if (*pp == s)
        *pp = s->bnext;
    s->bnext = NULL;
}

/* Take s off whatever list holds it. */
static void sx_unlink(struct stream *st, struct sx *s)
{
    switch (s->where) {
    case SX_QUEUE: list_remove(&st->queue, s); break;
    case SX_DOOMED: list_remove(&st->doomed, s); break;
    case SX_CONN:
        conn_unbucket(s->c, s);
        list_remove(&s->c->inflight, s);
        s->c = NULL;
        break;
    case SX_NONE: break;
    }
    s->where = SX_NONE;
}

static void schedule_kick(struct stream *st)
{
    event_active(st->kick, EV_TIMEOUT, 1);
}

/* Fail s from the kick event (never from the caller's stack). */
static void doom(struct stream *st, struct sx *s, sr_status_t status, const char *detail)
{
    sx_unlink(st, s);
    s->doomed = status;
    s->doomed_detail = detail;
    s->where = SX_DOOMED;
    list_push_tail(&st->doomed, s);
    schedule_kick(st);
}

static void doom_queue(struct stream *st, sr_status_t status, const char *detail)
{
    while (st->queue.head != NULL)
        doom(st, st->queue.head, status, detail);
}

static const char *proto_label(const struct stream *st)
{
    return st->tls ? "TLS" : "TCP";
}

static void ssl_status(const sr_upstream_t *up, const char *msg)
{
    if (up->ev.on_ssl_status != NULL)
        up->ev.on_ssl_status(up->ev.arg, up->addr_text, up->port, msg);
}

/* ------------------------------------------------------------------ */
/* connections */

static void conn_arm_timer(struct conn *c)
{
    struct timeval tv;
    int ms = c->up->cfg.idle_timeout_ms;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    evtimer_add(c->timer, &tv);
}

/* clean: the connection ends in good order (idle, closed by the server,
 * upstream freed), so its TLS session stays resumable. */
static void conn_free(struct conn *c, bool clean)
{
    sr_event_free(c->connect_ev);
    sr_event_free(c->timer);
    sr_event_free(c->flush_ev);
    if (c->stage != NULL)
        evbuffer_free(c->stage);
    if (c->bev != NULL) {
        SSL *ssl = c->st->tls ? bufferevent_openssl_get_ssl(c->bev) : NULL;
        if (ssl != NULL) {
            SSL_set_app_data(ssl, NULL);
            if (clean && c->state == C_READY) {
                /* close_notify (RFC 8446 6.1), best effort; OpenSSL marks
                 * the session of a connection freed without it as not
                 * resumable, which would cost the next connection a full
                 * handshake. The filter writes it into the socket
                 * bufferevent, which is about to go: push it out now. */
                (void)SSL_shutdown(ssl);
                SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_SENT_SHUTDOWN);
                ERR_clear_error();
                struct bufferevent *raw = bufferevent_get_underlying(c->bev);
                if (raw != NULL)
                    (void)evbuffer_write(bufferevent_get_output(raw), bufferevent_getfd(raw));
            }
        }
        /* Frees the SSL, the socket bufferevent under a TLS filter, and
         * closes the socket (BEV_OPT_CLOSE_ON_FREE). */
        bufferevent_free(c->bev);
    } else if (c->fd >= 0) {
        close(c->fd);
    }
    if (c->early_session != NULL)
        SSL_SESSION_free(c->early_session);
    sr_free(c);
}

static void conn_unlink(struct stream *st, struct conn *c)
{
    SR_LIST_UNLINK(st->conns, c);
    st->nconns--;
}

/* The connection is gone. Its queries go back to the head of the queue to
 * be sent once more on another connection, or are failed when they have
 * had their second chance. Never runs callbacks (the kick does). */
static void conn_lost(struct conn *c, sr_status_t status, const char *detail)
{
    struct stream *st = c->st;
    sr_upstream_t *up = c->up;
    bool usable = c->state == C_READY;
    size_t requeued = 0, failed = 0;

    conn_unlink(st, c);
    /* Walk from the tail and push to the head: the queue keeps their
     * order. */
    while (c->inflight.tail != NULL) {
        struct sx *s = c->inflight.tail;
        sx_unlink(st, s);
        if (s->resends < 1) {
            s->resends++;
            s->where = SX_QUEUE;
            list_push_head(&st->queue, s);
            requeued++;
        } else {
            s->where = SX_NONE;
            doom(st, s, status, detail);
            failed++;
        }
    }
    if (status != SR_OK)
        sr_upstream_log(up, usable ? 2 : 1, "Info",
                        "%s: %s connection #%u lost: [%d] %s (%zu to resend, "
                        "%zu failed)",
                        up->name, proto_label(st), c->serial, (int)status, detail, requeued,
                        failed);
    conn_free(c, status == SR_OK || status == SR_E_CONNRESET);
    /* A connection that never carried anything failing means the server
     * cannot be reached now: the waiting queries fail with its reason
     * unless another connection may still serve them. */
    if (!usable && st->nconns == 0 && status != SR_OK)
        doom_queue(st, status, detail);
    if (st->queue.head != NULL || st->doomed.head != NULL)
        schedule_kick(st);
}

static void conn_ready(struct conn *c)
{
    struct stream *st = c->st;

    c->state = C_READY;
    evtimer_del(c->timer);
    /* Progress for the queries that waited for this connection. */
    if (!c->up->cfg.absolute_timeout)
        for (struct sx *s = st->queue.head; s != NULL; s = s->next)
            sr_xfer_touch(s->x);
    pump(st);
    if (c->inflight.n == 0)
        conn_arm_timer(c);
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct stream *st = c->st;
    sr_upstream_t *up = c->up;
    struct evbuffer *in = bufferevent_get_input(bev);

    sr_upstream_hold(up);
    if (!up->cfg.absolute_timeout && c->inflight.head != NULL) {
        /* Bytes arrived: progress for every query on this connection
         * (inactivity timeouts). At most every 10 ms: timeouts are whole
         * seconds, and a busy pipeline reads thousands of times a second. */
        uint64_t now = sr_now_us();
        if (now - c->touched_us >= 10000) {
            c->touched_us = now;
            for (struct sx *s = c->inflight.head; s != NULL; s = s->next)
                s->x->touched_us = now;
        }
    }
    for (;;) {
        uint8_t hdr[FRAME_HDR];
        size_t avail = evbuffer_get_length(in);
        uint16_t mlen;
        struct sx *s;

        if (avail < FRAME_HDR)
            break;
        evbuffer_copyout(in, hdr, FRAME_HDR);
        mlen = sr_get16(hdr);
        /* A DNS message has at least a header; anything shorter (zero
         * included) means the stream is garbage. */
        if (mlen < SR_HEADER_LEN) {
            conn_lost(c, SR_E_FORMERR, "framing error: impossible length");
            goto done;
        }
        if (avail < FRAME_HDR + (size_t)mlen)
            break; /* partial message: wait for the rest */
        evbuffer_drain(in, FRAME_HDR);
        evbuffer_remove(in, st->rbuf, mlen);
        bool tc = (sr_get16(st->rbuf + 2) & SR_FLAG_TC) != 0;
        if (sr_msg_check(st->rbuf, mlen, tc, NULL) != SR_OK) {
            /* A stream is in sync or it is not: after a malformed message
             * nothing that follows can be trusted. */
            conn_lost(c, SR_E_FORMERR, "malformed message on the stream");
            goto done;
        }
        s = conn_lookup(c, sr_get16(st->rbuf));
        if (s == NULL) {
            /* A late answer to a query that timed out or was cancelled, or
             * a forgery. */
            sr_xfer_ignore(up, NULL, "ID not in flight on this connection");
            continue;
        }
        /* On a match x completes: its detach takes it off c. The message
         * was checked above. */
        sr_xfer_offer_checked(s->x, st->rbuf, mlen);
        if (up->dying)
            goto done;
    }
done:
    sr_upstream_release(up);
}

static void tls_connected(struct conn *c)
{
    sr_upstream_t *up = c->up;
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    char msg[160];
    sr_status_t why = SR_E_SSL_CERT_VERIFY;
    bool resumed = SSL_session_reused(ssl) != 0;

    if (resumed)
        up->stats.tls_resumed++;
    else
        up->stats.tls_handshakes++;
    snprintf(msg, sizeof(msg), "handshake complete, %s, cipher %s", SSL_get_version(ssl),
             SSL_get_cipher_name(ssl));
    ssl_status(up, msg);
    if (resumed)
        ssl_status(up, "session resumed");
    sr_upstream_log(up, 2, "Info", "%s: TLS connection #%u: %s%s", up->name, c->serial, msg,
                    resumed ? ", session resumed" : "");
    /* RFC 7858 4: never send a query before the server is authenticated
     * (the handler may overrule the verdict either way). */
    if (!sr_tls_authenticate_ex(up, ssl, &why)) {
        if (!up->dying) {
            ssl_status(up, "certificate rejected, closing");
            conn_lost(c, why, up->tls_reject);
        }
        return;
    }
    if (up->dying)
        return;
    if (c->early_session != NULL) {
        /* TLS 1.2 delivers its session during the handshake. */
        if (up->ssl_session != NULL)
            SSL_SESSION_free(up->ssl_session);
        up->ssl_session = c->early_session;
        c->early_session = NULL;
    }
    conn_ready(c);
}

static void conn_event_cb(struct bufferevent *bev, short events, void *arg)
{
    struct conn *c = arg;
    sr_upstream_t *up = c->up;
    struct stream *st = c->st;

    sr_upstream_hold(up);
    if (events & BEV_EVENT_CONNECTED) {
        if (st->tls && c->state == C_HANDSHAKE)
            tls_connected(c);
        goto done;
    }
    if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        int err = EVUTIL_SOCKET_ERROR();
        unsigned long ssl_err = st->tls ? bufferevent_get_openssl_error(bev) : 0;
        sr_status_t status;
        const char *detail;

        if (c->state == C_HANDSHAKE) {
            /* The class's "Error during handshake." */
            status = SR_E_SSL_HANDSHAKE;
            detail = ssl_err != 0 ? "TLS handshake failed"
                                  : "connection closed during the TLS handshake";
            char buf[200];
            if (ssl_err != 0) {
                ERR_error_string_n(ssl_err, buf, sizeof(buf));
                sr_upstream_log(up, 1, "Info", "%s: TLS handshake: %s", up->name, buf);
            }
            ssl_status(up, detail);
        } else if (ssl_err != 0) {
            status = SR_E_SSL_DECRYPT;
            detail = "TLS error on the connection";
        } else if (events & BEV_EVENT_EOF) {
            status = SR_E_CONNRESET;
            detail = "connection closed by the server";
        } else {
            status = err != 0 ? sr_status_from_errno(err) : SR_E_CONNRESET;
            detail = "connection error";
        }
        while (st->tls && ERR_get_error() != 0) {
        }
        conn_lost(c, status, detail);
    }
done:
    sr_upstream_release(up);
}

static void conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    struct stream *st = c->st;
    sr_upstream_t *up = c->up;

    (void)fd;
    (void)what;
    sr_upstream_hold(up);
    if (c->state != C_READY) {
        /* Connect/handshake watchdog: give up only when nobody waits (the
         * queries have timers of their own). */
        if (st->queue.head != NULL)
            conn_arm_timer(c);
        else
            conn_lost(c, SR_E_TIMEDOUT, "connection attempt abandoned");
    } else if (c->inflight.n == 0) {
        sr_upstream_log(up, 2, "Info", "%s: %s connection #%u idle, closing", up->name,
                        proto_label(st), c->serial);
        conn_lost(c, SR_OK, "idle");
    }
    sr_upstream_release(up);
}

/* TLS 1.3 sends its session tickets after the handshake, TLS 1.2 during
 * it: keep the newest session of an accepted connection for the next. */
static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    struct conn *c = SSL_get_app_data(ssl);

    if (c == NULL)
        return 0;
    if (c->state == C_READY) {
        if (c->up->ssl_session != NULL)
            SSL_SESSION_free(c->up->ssl_session);
        c->up->ssl_session = sess;
    } else {
        if (c->early_session != NULL)
            SSL_SESSION_free(c->early_session);
        c->early_session = sess;
    }
    return 1; /* we own the reference now */
}

/* TLS: hand the frames placed during this loop pass to TLS at once, so
 * that a burst of queries becomes a few TLS records and one write rather
 * than a record per query (the filter encrypts whatever it is given at
 * once). */
static void conn_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;

    (void)fd;
    (void)what;
    if (c->bev != NULL && evbuffer_get_length(c->stage) > 0)
        bufferevent_write_buffer(c->bev, c->stage);
}

static void conn_connect_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    sr_upstream_t *up = c->up;
    struct stream *st = c->st;
    int err = 0;
    socklen_t elen = sizeof(err);
    const int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;

    (void)what;
    sr_upstream_hold(up);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
        err = errno;
    if (err != 0) {
        if (st->tls)
            ssl_status(up, "connect failed");
        conn_lost(c, sr_status_from_errno(err), "connect failed");
        goto done;
    }
    event_free(c->connect_ev);
    c->connect_ev = NULL;
    if (st->tls) {
        sr_status_t status = SR_OK;
        SSL *ssl = sr_tls_ssl_new(up, &status);
        if (ssl == NULL) {
            conn_lost(c, status, "cannot set up TLS");
            goto done;
        }
        SSL_set_app_data(ssl, c);
        /* TLS as a filter over a socket bufferevent, not on the socket
         * itself: the socket is then read in large pieces and every TLS
         * record already read is decrypted at once, where OpenSSL on the
         * socket reads each record with two read() calls (header, body)
         * and libevent takes one or two records per wake-up. Forwarding
         * DoT made about six system calls per query that way. */
        struct bufferevent *raw = bufferevent_socket_new(up->base, c->fd, BEV_OPT_CLOSE_ON_FREE);
        c->stage = evbuffer_new();
        c->flush_ev = event_new(up->base, -1, 0, conn_flush_cb, c);
        if (raw == NULL || c->stage == NULL || c->flush_ev == NULL) {
            if (raw != NULL) {
                bufferevent_free(raw); /* closes the socket */
                c->fd = -1;
            }
            SSL_free(ssl);
            conn_lost(c, SR_E_NOMEM, "cannot set up TLS");
            goto done;
        }
        c->fd = -1; /* the socket bufferevent owns it */
        c->bev = bufferevent_openssl_filter_new(up->base, raw, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                opts);
        if (c->bev == NULL) {
            bufferevent_free(raw);
            SSL_free(ssl);
            conn_lost(c, SR_E_NOMEM, "cannot set up TLS");
            goto done;
        }
        /* A server that closes without close_notify is common (RFC 8446
         * 6.1 makes it the peer's problem for data already answered):
         * report it as EOF, handled like a TCP close. */
        bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
        c->state = C_HANDSHAKE;
    } else {
        c->bev = bufferevent_socket_new(up->base, c->fd, opts);
        if (c->bev == NULL) {
            conn_lost(c, SR_E_NOMEM, "cannot set up the connection");
            goto done;
        }
    }
    c->fd = -1; /* the bufferevent owns it */
    bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    sr_upstream_log(up, 2, "Info", "%s: %s connection #%u connected", up->name, proto_label(st),
                    c->serial);
    if (!st->tls)
        conn_ready(c);
done:
    sr_upstream_release(up);
}

/* Start a new connection. Runs no callbacks. */
static sr_status_t conn_open(struct stream *st)
{
    sr_upstream_t *up = st->up;
    struct conn *c;
    sr_status_t status = SR_OK;

    c = sr_calloc(1, sizeof(*c));
    if (c == NULL)
        return SR_E_NOMEM;
    c->up = up;
    c->st = st;
    c->state = C_CONNECTING;
    c->serial = ++st->serial;
    c->fd = sr_socket_open(up, SOCK_STREAM, &status);
    if (c->fd < 0)
        goto fail;
    /* Our own connect(), so that an immediate failure keeps its errno
     * (libevent reports it later without one). */
    if (connect(c->fd, (struct sockaddr *)&up->addr, up->addrlen) != 0 && errno != EINPROGRESS) {
        status = sr_status_from_errno(errno);
        goto fail;
    }
    c->connect_ev = event_new(up->base, c->fd, EV_WRITE, conn_connect_cb, c);
    c->timer = evtimer_new(up->base, conn_timer_cb, c);
    if (c->connect_ev == NULL || c->timer == NULL) {
        status = SR_E_NOMEM;
        goto fail;
    }
    event_add(c->connect_ev, NULL);
    conn_arm_timer(c);
    c->next = st->conns;
    if (st->conns != NULL)
        st->conns->prev = c;
    st->conns = c;
    st->nconns++;
    up->stats.connections++;
    if (st->tls)
        ssl_status(up, "connecting");
    sr_upstream_log(up, 2, "Info", "%s: opening %s connection #%u", up->name, proto_label(st),
                    c->serial);
    return SR_OK;
fail:
    sr_upstream_log(up, 1, "Info", "%s: cannot open a %s connection: [%d] %s", up->name,
                    proto_label(st), (int)status, sr_strerror(status));
    conn_free(c, false);
    return status;
}

/* Put s on c: a wire ID unique on c, then the frame into c's output. */
static bool conn_place(struct conn *c, struct sx *s)
{
    sr_xfer_t *x = s->x;
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct evbuffer_iovec v;

    if (conn_lookup(c, x->wire_id) != NULL) {
        if (x->flags & SR_XFER_KEEP_ID)
            return false;
        int tries = 0;
        do {
            x->wire_id = sr_random16();
        } while (conn_lookup(c, x->wire_id) != NULL && ++tries < MAX_ID_TRIES);
        if (tries >= MAX_ID_TRIES)
            return false;
        sr_put16(x->q, x->wire_id);
    }
    if (c->stage != NULL) {
        if (evbuffer_get_length(c->stage) == 0)
            event_active(c->flush_ev, EV_TIMEOUT, 1);
        out = c->stage;
    }
    if (evbuffer_reserve_space(out, (ev_ssize_t)(FRAME_HDR + x->qlen), &v, 1) < 1)
        return false;
    sr_put16(v.iov_base, (uint16_t)x->qlen);
    memcpy((uint8_t *)v.iov_base + FRAME_HDR, x->q, x->qlen);
    v.iov_len = FRAME_HDR + x->qlen;
    if (evbuffer_commit_space(out, &v, 1) != 0)
        return false;
    sx_unlink(c->st, s);
    s->where = SX_CONN;
    s->c = c;
    s->bnext = c->ids[x->wire_id % ID_BUCKETS];
    c->ids[x->wire_id % ID_BUCKETS] = s;
    list_push_tail(&c->inflight, s);
    evtimer_del(c->timer);
    sr_xfer_touch(x);
    return true;
}

/* The ready connection with the most room, NULL when all are full. */
static struct conn *pick_conn(struct stream *st)
{
    struct conn *best = NULL;
    size_t max = (size_t)st->up->cfg.max_pipeline;

    for (struct conn *c = st->conns; c != NULL; c = c->next)
        if (c->state == C_READY && c->inflight.n < max &&
            (best == NULL || c->inflight.n < best->inflight.n))
            best = c;
    return best;
}

/* Move waiting queries onto connections, opening connections when the
 * queue needs more room than the pool has. Runs no callbacks. */
static void pump(struct stream *st)
{
    sr_upstream_t *up = st->up;
    size_t max = (size_t)up->cfg.max_pipeline, room = 0;

    if (up->dying)
        return;
    while (st->queue.head != NULL) {
        struct conn *c = pick_conn(st);
        if (c == NULL || !conn_place(c, st->queue.head))
            break; /* full, or a kept ID that is busy: wait for a slot */
    }
    size_t least = SIZE_MAX;
    for (struct conn *c = st->conns; c != NULL; c = c->next) {
        room += c->state == C_READY ? max - c->inflight.n : max;
        if (c->state != C_READY || c->inflight.n < least)
            least = c->state == C_READY ? c->inflight.n : 0;
    }
    /* spread_pipeline: a deep pipeline over the pool (upstream.h). */
    if (up->cfg.spread_pipeline > 0 && least != SIZE_MAX &&
        least >= (size_t)up->cfg.spread_pipeline &&
        st->nconns < (size_t)up->cfg.max_connections) {
        if (conn_open(st) == SR_OK)
            room += max;
    }
    while (st->queue.n > room && st->nconns < (size_t)up->cfg.max_connections) {
        sr_status_t status = conn_open(st);
        if (status != SR_OK) {
            if (st->nconns == 0)
                doom_queue(st, status, "cannot open a connection");
            break;
        }
        room += max;
    }
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct stream *st = arg;
    sr_upstream_t *up = st->up;

    (void)fd;
    (void)what;
    sr_upstream_hold(up);
    /* Complete the doomed one at a time: any callback may cancel others. */
    while (st->doomed.head != NULL && !up->dying) {
        struct sx *s = st->doomed.head;
        sr_xfer_complete(s->x, s->doomed, NULL, 0, s->doomed_detail);
    }
    if (!up->dying)
        pump(st);
    sr_upstream_release(up);
}

/* ------------------------------------------------------------------ */
/* the ops */

static sr_status_t stream_init(sr_upstream_t *up, bool tls)
{
    struct stream *st = sr_calloc(1, sizeof(*st));
    struct sigaction sa;

    if (st == NULL)
        return SR_E_NOMEM;
    /* libevent writes with writev()/SSL_write(), not send(MSG_NOSIGNAL): a
     * server resetting a connection would kill the program with SIGPIPE.
     * Ignore it, unless the application has its own disposition. */
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
    st->up = up;
    st->tls = tls;
    up->tp = st;
    st->rbuf = sr_malloc(65535);
    st->kick = event_new(up->base, -1, 0, kick_cb, st);
    if (st->rbuf == NULL || st->kick == NULL)
        return SR_E_NOMEM; /* the caller's fini frees the rest */
    if (tls) {
        if (up->ssl_ctx == NULL)
            return SR_E_SSL_LIBRARY;
        /* Client-side session cache without OpenSSL's internal store: we
         * keep the one session we want (RFC 7858 3.4 recommends
         * resumption, RFC 5077 / RFC 8446 2.2). */
        SSL_CTX_set_session_cache_mode(up->ssl_ctx,
                                       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(up->ssl_ctx, new_session_cb);
    }
    return SR_OK;
}

static sr_status_t tcp_init(sr_upstream_t *up)
{
    return stream_init(up, false);
}

static sr_status_t tls_init(sr_upstream_t *up)
{
    return stream_init(up, true);
}

static void stream_fini(sr_upstream_t *up)
{
    struct stream *st = up->tp;

    if (st == NULL)
        return;
    while (st->conns != NULL) {
        struct conn *c = st->conns;
        /* Queries were dropped before fini; anything left is orphaned. */
        while (c->inflight.head != NULL)
            sx_unlink(st, c->inflight.head);
        conn_unlink(st, c);
        conn_free(c, true);
    }
    sr_event_free(st->kick);
    sr_free(st->rbuf);
    sr_free(st);
    up->tp = NULL;
}

static sr_status_t stream_send(sr_upstream_t *up, sr_xfer_t *x)
{
    struct stream *st = up->tp;
    struct sx *s = sr_calloc(1, sizeof(*s));

    if (s == NULL)
        return SR_E_NOMEM;
    s->x = x;
    x->tp = s;
    s->where = SX_QUEUE;
    list_push_tail(&st->queue, s);
    pump(st);
    return SR_OK;
}

static void stream_detach(sr_upstream_t *up, sr_xfer_t *x)
{
    struct stream *st = up->tp;
    struct sx *s = x->tp;
    struct conn *c;

    if (s == NULL || st == NULL)
        return;
    c = s->where == SX_CONN ? s->c : NULL;
    sx_unlink(st, s);
    sr_free(s);
    x->tp = NULL;
    if (c != NULL) {
        /* A slot is free: let a waiting query have it (from the loop). */
        if (st->queue.head != NULL)
            schedule_kick(st);
        else if (c->inflight.n == 0 && c->state == C_READY)
            conn_arm_timer(c);
    }
}

const sr_transport_ops_t sr_tcp_ops =
    SR_TRANSPORT_OPS("tcp", tcp_init, stream_fini, stream_send, stream_detach);

const sr_transport_ops_t sr_tls_ops =
    SR_TRANSPORT_OPS("tls", tls_init, stream_fini, stream_send, stream_detach);
