/* stubresd: client TCP connections (see tcpconn.h). */
#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "forwarder.h"
#include "log.h"
#include "pool.h"
#include "stats.h"
#include "tcpconn.h"

static void read_cb(struct bufferevent *bev, void *arg);
static void write_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short what, void *arg);
static void drain_cb(evutil_socket_t fd, short what, void *arg);
static void conn_account(tcpconn_t *c);
static const fwd_sink_t tcp_sink;

static void unlink_conn(tcp_set_t *set, tcpconn_t *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else if (set->conns == c)
        set->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
}

/* Close the socket. The tcpconn_t itself lives on while queries of it
 * are in flight (their waiters point to it) or one of its callbacks runs. */
static void conn_close(tcpconn_t *c)
{
    tcp_set_t *set = c->set;

    if (c->bev == NULL)
        return;
    bufferevent_free(c->bev); /* closes the socket */
    c->bev = NULL;
    conn_account(c); /* nothing more will be queued: the loan is repaid */
    if (c->drain_ev != NULL) {
        event_free(c->drain_ev); /* may be the event now running: allowed */
        c->drain_ev = NULL;
    }
    c->mark_us = 0;
    unlink_conn(set, c);
    set->nconns--;
    STAT_SET(set->fwd->stats, tcp_clients, set->nconns);
}

/* Close a connection whose client does not read what it is sent: with a
 * reset (SO_LINGER 0), so the kernel drops the unsent answers at once
 * instead of trickling them out to that client for as long again. */
static void conn_abort(tcpconn_t *c)
{
    struct linger lg = {1, 0};

    if (c->bev != NULL)
        setsockopt(bufferevent_getfd(c->bev), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    conn_close(c);
}

static void conn_maybe_free(tcpconn_t *c)
{
    if (c->bev == NULL && c->inflight == 0 && !c->in_cb) {
        tcp_set_t *set = c->set;
        free(c);
        set->freed(set->arg);
    }
}

static size_t out_len(const tcpconn_t *c)
{
    return c->bev != NULL ? evbuffer_get_length(bufferevent_get_output(c->bev)) : 0;
}

/* A connection that has nothing more to say goes once its answers are
 * written: after EOF from the client, or when draining. */
static void conn_check_done(tcpconn_t *c)
{
    if (c->bev != NULL && (c->eof || c->set->fwd->draining) && c->inflight == 0 && out_len(c) == 0)
        conn_close(c);
    conn_maybe_free(c);
}

/* What c may come to hold: its unsent output, and for each query in
 * flight the largest message (RFC 1035 4.2.2), since an answer from
 * upstream is written whatever the output already holds. */
static size_t conn_need(const tcpconn_t *c)
{
    return c->bev != NULL ? out_len(c) + (size_t)c->inflight * TCPCONN_MAX_MSG : 0;
}

/* Record the part of c's need above its own TCPCONN_MAX_OUTPUT: a loan
 * from its thread's TCPCONN_SHARED. Called wherever the need grows (a
 * query in flight, an answer queued) and where it may have shrunk; in
 * between it only shrinks (output leaves), so the records never fall
 * below the truth and their sum bounds what the loans really hold. */
static void conn_account(tcpconn_t *c)
{
    size_t need = conn_need(c);
    size_t loan = need > TCPCONN_MAX_OUTPUT ? need - TCPCONN_MAX_OUTPUT : 0;

    c->set->loans = c->set->loans - c->loan + loan;
    c->loan = loan;
}

/* Must reading stop? At tcp_max_pipeline queries in flight, or when
 * another query could take the need past the connection's own cap and
 * the thread's shared allowance has no room for it. Checking the output
 * alone let 64 pipelined queries for 64 KiB answers queue 4 MiB on every
 * connection that does not read; a connection alone keeps the pipelining
 * it had, many keep what the allowance covers (about four misses in
 * flight each when it is spent). */
static bool conn_full(const tcpconn_t *c)
{
    size_t need = conn_need(c);

    if (c->inflight >= c->set->fwd->cfg->tcp_max_pipeline)
        return true;
    if (need < TCPCONN_MAX_OUTPUT)
        return false;
    return need + TCPCONN_MAX_MSG - TCPCONN_MAX_OUTPUT + (c->set->loans - c->loan) > TCPCONN_SHARED;
}

static void conn_pause(tcpconn_t *c)
{
    if (c->bev != NULL && !c->paused) {
        bufferevent_disable(c->bev, EV_READ);
        c->paused = true;
    }
}

/* Read again when back under the caps; queries already buffered get
 * handled without waiting for more bytes. */
static void conn_maybe_resume(tcpconn_t *c)
{
    tcp_set_t *set = c->set;

    if (c->bev == NULL || !c->paused || c->eof || set->fwd->draining)
        return;
    if (conn_full(c))
        return;
    c->paused = false;
    c->partial_since_us = 0; /* the time held back was ours, not the client's */
    bufferevent_enable(c->bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_input(c->bev)) >= 2)
        bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
}

/* Start timing the output queued now: all of it must be read by the
 * client within tcp_idle_timeout (drain_cb). */
static void conn_mark(tcpconn_t *c)
{
    struct timeval tv;
    uint32_t ms = c->set->fwd->cfg->tcp_idle_timeout_ms;

    c->mark_total = c->out_total;
    c->mark_us = pool_now_us();
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    evtimer_add(c->drain_ev, &tv);
}

static void conn_write(tcpconn_t *c, const uint8_t *msg, size_t len)
{
    uint8_t hdr[2];
    struct evbuffer *out;

    if (c->bev == NULL || len == 0 || len > 65535)
        return;
    out = bufferevent_get_output(c->bev);
    hdr[0] = (uint8_t)(len >> 8);
    hdr[1] = (uint8_t)len;
    /* RFC 7766 8: length and message in one segment where possible. */
    evbuffer_expand(out, len + 2);
    if (evbuffer_add(out, hdr, 2) != 0 || evbuffer_add(out, msg, len) != 0)
        return;
    c->out_total += len + 2;
    conn_account(c);
    if (c->mark_us == 0)
        conn_mark(c);
}

/* The write deadline. The bufferevent's write timeout restarts with every
 * write that makes progress, so a client reading a segment now and then
 * (a slow reader) kept its connection, and with enough of them every slot
 * of tcp_max_clients, for ever. Here the bytes queued at the mark must all
 * be gone tcp_idle_timeout later, however they trickle out; then what is
 * queued by then is timed the same way (so an answer waits at most twice
 * tcp_idle_timeout in a long pipeline). Output that drains to nothing
 * clears the mark (write_cb). */
static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
    tcpconn_t *c = arg;
    size_t left = out_len(c);
    (void)fd;
    (void)what;

    if (c->bev == NULL)
        return;
    if (left == 0) {
        c->mark_us = 0;
        return;
    }
    if (c->out_total - left >= c->mark_total) {
        conn_mark(c); /* what was queued at the mark is out: time the rest */
        return;
    }
    log_debug("tcp: the client did not read its answers within tcp_idle_timeout; closing");
    c->in_cb = true;
    conn_abort(c);
    c->in_cb = false;
    conn_maybe_free(c);
}

void tcpconn_accept(tcp_set_t *set, int fd, const struct sockaddr *sa, int salen)
{
    tcpconn_t *c;
    struct timeval idle;
    int one = 1;

    if (set->fwd->draining) {
        close(fd);
        return;
    }
    if (set->nconns >= set->max_conns) {
        /* At the cap: make room by closing a connection with nothing in
         * flight (RFC 7766 6.2.3 lets a server close idle connections):
         * first the one whose unfinished message began longest ago (a
         * slowloris refreshes its activity with every byte, so by activity
         * alone a client accepted a moment ago, its query not yet read,
         * would go before it), then the one idle longest. Failing those,
         * the one whose unsent answers have waited longest for their
         * client to read them (a slow reader). When all are waiting for
         * upstream answers, the newcomer is the one turned away. */
        tcpconn_t *victim = NULL, *unread = NULL;
        for (tcpconn_t *o = set->conns; o != NULL; o = o->next) {
            if (out_len(o) != 0) {
                if (o->mark_us != 0 && (unread == NULL || o->mark_us < unread->mark_us))
                    unread = o;
                continue;
            }
            if (o->inflight != 0)
                continue;
            if (victim == NULL) {
                victim = o;
            } else if (o->partial_since_us != 0) {
                if (victim->partial_since_us == 0 || o->partial_since_us < victim->partial_since_us)
                    victim = o;
            } else if (victim->partial_since_us == 0 &&
                       o->last_active_us < victim->last_active_us) {
                victim = o;
            }
        }
        STAT_INC(set->fwd->stats, tcp_refused);
        if (victim == NULL && unread != NULL) {
            conn_abort(unread);
            victim = unread;
        }
        if (victim == NULL) {
            close(fd);
            return;
        }
        conn_close(victim);
        conn_maybe_free(victim);
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        close(fd);
        return;
    }
    c->set = set;
    if (salen > 0 && (size_t)salen <= sizeof(c->peer)) {
        memcpy(&c->peer, sa, (size_t)salen);
        c->peerlen = (socklen_t)salen;
    }
    /* Answers go out as soon as they are written, not after Nagle's wait. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->drain_ev = evtimer_new(set->base, drain_cb, c);
    c->bev =
        c->drain_ev != NULL ? bufferevent_socket_new(set->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
    if (c->bev == NULL) {
        if (c->drain_ev != NULL)
            event_free(c->drain_ev);
        close(fd);
        free(c);
        return;
    }
    bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
    /* Input stops being read beyond two maximal messages; write_cb fires
     * when half the output cap has drained. */
    bufferevent_setwatermark(c->bev, EV_READ, 2, 2 * 65537);
    bufferevent_setwatermark(c->bev, EV_WRITE, TCPCONN_MAX_OUTPUT / 2, 0);
    idle.tv_sec = set->fwd->cfg->tcp_idle_timeout_ms / 1000;
    idle.tv_usec = (set->fwd->cfg->tcp_idle_timeout_ms % 1000) * 1000;
    bufferevent_set_timeouts(c->bev, &idle, &idle);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->last_active_us = pool_now_us();

    /* Append: the list stays ordered oldest first. */
    if (set->conns == NULL) {
        set->conns = c;
    } else {
        tcpconn_t *t = set->conns;
        while (t->next != NULL)
            t = t->next;
        t->next = c;
        c->prev = t;
    }
    set->nconns++;
    STAT_INC(set->fwd->stats, tcp_accepted);
    STAT_SET(set->fwd->stats, tcp_clients, set->nconns);
}

/* A message must arrive whole within tcp_idle_timeout of its first byte.
 * The read timeout alone restarts with every byte read, so a client that
 * trickles a byte a second (slowloris) would hold its connection, and with
 * enough of them every slot of tcp_max_clients, for ever. */
static void conn_check_partial(tcpconn_t *c)
{
    struct evbuffer *in;
    size_t avail;
    bool partial = false;

    if (c->bev == NULL)
        return;
    in = bufferevent_get_input(c->bev);
    avail = evbuffer_get_length(in);
    if (avail > 0 && avail < 2) {
        partial = true;
    } else if (avail >= 2) {
        uint8_t lenb[2];
        evbuffer_copyout(in, lenb, 2);
        partial = avail < 2 + (((size_t)lenb[0] << 8) | lenb[1]);
    }
    if (!partial) {
        c->partial_since_us = 0; /* nothing, or whole messages held back */
        return;
    }
    uint64_t now = pool_now_us();
    if (c->partial_since_us == 0) {
        c->partial_since_us = now;
    } else if (now - c->partial_since_us >
               (uint64_t)c->set->fwd->cfg->tcp_idle_timeout_ms * 1000u) {
        log_debug("tcp: a message took longer than tcp_idle_timeout to arrive; closing");
        STAT_INC(c->set->fwd->stats, malformed);
        conn_close(c);
    }
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    tcpconn_t *c = arg;
    tcp_set_t *set = c->set;
    struct evbuffer *in = bufferevent_get_input(bev);
    unsigned handled = 0;
    fwd_client_t client;

    memset(&client, 0, sizeof(client));
    client.sink = &tcp_sink;
    client.fd = -1;
    client.conn = c;
    client.peer = c->peer;
    client.peerlen = c->peerlen;

    c->in_cb = true;
    c->last_active_us = pool_now_us();
    while (c->bev != NULL && !set->fwd->draining) {
        uint8_t lenb[2];
        size_t avail = evbuffer_get_length(in), mlen;
        uint8_t *msg;

        if (conn_full(c)) {
            conn_pause(c); /* back-pressure: the client waits, not us */
            break;
        }
        if (avail < 2)
            break;
        if (handled >= TCPCONN_BURST) {
            /* Others' turn; come back from the loop for the rest. */
            bufferevent_trigger(bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
            break;
        }
        evbuffer_copyout(in, lenb, 2);
        mlen = ((size_t)lenb[0] << 8) | lenb[1];
        if (mlen < 12) {
            /* Not even a header: this is no DNS client. */
            STAT_INC(set->fwd->stats, malformed);
            conn_close(c);
            break;
        }
        if (avail < 2 + mlen)
            break;
        evbuffer_drain(in, 2);
        msg = evbuffer_pullup(in, (ev_ssize_t)mlen);
        if (msg == NULL) {
            conn_close(c);
            break;
        }
        /* An answer known at once is written from here (tcp_send). */
        fwd_query(set->fwd, msg, mlen, &client, set->buf, 65535);
        evbuffer_drain(in, mlen);
        handled++;
    }
    conn_check_partial(c);
    c->in_cb = false;
    conn_check_done(c);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    tcpconn_t *c = arg;
    (void)bev;
    c->last_active_us = pool_now_us();
    if (out_len(c) == 0 && c->mark_us != 0) {
        c->mark_us = 0; /* all read: the next answer starts a new mark */
        evtimer_del(c->drain_ev);
    }
    conn_account(c);
    conn_maybe_resume(c);
    conn_check_done(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    tcpconn_t *c = arg;
    (void)bev;

    if (what & BEV_EVENT_EOF) {
        /* The client is done asking; answers still due are sent. */
        c->eof = true;
        bufferevent_disable(c->bev, EV_READ);
        conn_check_done(c);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        if ((what & BEV_EVENT_READING) && (c->inflight > 0 || out_len(c) > 0)) {
            /* Quiet, but not idle: answers are still coming. */
            if (!c->paused && !c->eof)
                bufferevent_enable(c->bev, EV_READ);
            return;
        }
        /* Idle (RFC 7766 6.2.3), or a client that does not read. */
        conn_close(c);
        conn_maybe_free(c);
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        conn_close(c);
        conn_maybe_free(c);
    }
}

/* ---- the sink the forwarder replies to TCP clients through ---- */

/* A query of the connection went upstream: it counts in flight (reading
 * pauses at tcp_max_pipeline) until tcp_release. */
static void tcp_hold(const fwd_client_t *client)
{
    tcpconn_t *c = client->conn;
    c->inflight++;
    conn_account(c);
}

/* Activity: idleness counts from now (RFC 7766 6.2.3 is about idle
 * connections, and one that just got an answer is not). */
static void conn_touch(tcpconn_t *c)
{
    struct timeval idle;
    uint32_t ms = c->set->fwd->cfg->tcp_idle_timeout_ms;

    if (c->bev == NULL)
        return;
    idle.tv_sec = ms / 1000;
    idle.tv_usec = (ms % 1000) * 1000;
    bufferevent_set_timeouts(c->bev, &idle, &idle);
    c->last_active_us = pool_now_us();
}

/* The answer to a query that was waiting upstream: send it (if the
 * connection is still there; msg NULL: there is none) and count the query
 * done. */
static void tcp_release(const fwd_client_t *client, const uint8_t *msg, size_t len)
{
    tcpconn_t *c = client->conn;

    if (c->inflight > 0)
        c->inflight--;
    if (msg != NULL) {
        conn_write(c, msg, len);
        conn_touch(c);
    }
    conn_account(c);
    conn_maybe_resume(c);
    conn_check_done(c);
}

/* An answer known at once (cache, error), inside read_cb. */
static void tcp_send(const fwd_client_t *client, const uint8_t *msg, size_t len)
{
    conn_write(client->conn, msg, len);
}

static const fwd_sink_t tcp_sink = {
    .name = "tcp",
    .datagram = false,
    .max_size = 65535, /* RFC 1035 4.2.2 */
    .send = tcp_send,
    .hold = tcp_hold,
    .release = tcp_release,
    .ctx = NULL,
};

int tcpconn_set_init(tcp_set_t *set, struct event_base *base, fwd_ctx_t *fwd,
                     void (*freed)(void *arg), void *arg)
{
    memset(set, 0, sizeof(*set));
    set->base = base;
    set->fwd = fwd;
    set->freed = freed;
    set->arg = arg;
    set->buf = malloc(65536);
    return set->buf != NULL ? 0 : -1;
}

void tcpconn_set_fini(tcp_set_t *set)
{
    free(set->buf);
    set->buf = NULL;
}

void tcpconn_drain_all(tcp_set_t *set)
{
    tcpconn_t *c = set->conns;
    while (c != NULL) {
        tcpconn_t *next = c->next;
        conn_pause(c);
        conn_check_done(c);
        c = next;
    }
}

void tcpconn_free_all(tcp_set_t *set)
{
    while (set->conns != NULL) {
        tcpconn_t *c = set->conns;
        conn_close(c);
        c->inflight = 0;
        conn_maybe_free(c);
    }
}

bool tcpconn_all_idle(const tcp_set_t *set)
{
    return set->conns == NULL;
}
