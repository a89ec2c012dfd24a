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
#include "tlsconn.h"
#include "tlslisten.h"

static void read_cb(tcpconn_t *c);
static void write_cb(tcpconn_t *c);
static void event_cb(tcpconn_t *c, short what);
static void drain_cb(evutil_socket_t fd, short what, void *arg);
static void conn_account(tcpconn_t *c);
static const fwd_sink_t tcp_sink, tls_sink;

/* The set's idle timeout: tcp_idle_timeout, or tls_idle_timeout. */
static uint32_t idle_ms(const tcp_set_t *set)
{
    return set->tls ? set->fwd->cfg->tls_idle_timeout_ms : set->fwd->cfg->tcp_idle_timeout_ms;
}

/* The set's connection counters: tcp_* or tls_* of the stats. */
#define SET_INC(set, f)                                                                            \
    do {                                                                                           \
        if ((set)->tls)                                                                            \
            STAT_INC((set)->fwd->stats, tls_##f);                                                  \
        else                                                                                       \
            STAT_INC((set)->fwd->stats, tcp_##f);                                                  \
    } while (0)
#define SET_CLIENTS(set)                                                                           \
    do {                                                                                           \
        if ((set)->tls)                                                                            \
            STAT_SET((set)->fwd->stats, tls_clients, (set)->nconns);                               \
        else                                                                                       \
            STAT_SET((set)->fwd->stats, tcp_clients, (set)->nconns);                               \
    } while (0)

/* ---- a connection's I/O: a bufferevent (plain TCP) or a tlsconn ---- */

/* Not closed yet. */
static bool conn_open(const tcpconn_t *c)
{
    return c->bev != NULL || c->tc != NULL;
}

static struct evbuffer *conn_in(const tcpconn_t *c)
{
    return c->tc != NULL ? tlsconn_input(c->tc) : bufferevent_get_input(c->bev);
}

static struct evbuffer *conn_out(const tcpconn_t *c)
{
    return c->tc != NULL ? tlsconn_output(c->tc) : bufferevent_get_output(c->bev);
}

static void conn_reading(tcpconn_t *c, bool on)
{
    if (c->tc != NULL)
        tlsconn_read_enable(c->tc, on);
    else if (on)
        bufferevent_enable(c->bev, EV_READ);
    else
        bufferevent_disable(c->bev, EV_READ);
}

/* read_cb again on a later turn, for input already buffered. */
static void conn_kick(tcpconn_t *c)
{
    if (c->tc != NULL)
        tlsconn_kick(c->tc);
    else
        bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
}

static void conn_timeouts(tcpconn_t *c, const struct timeval *idle)
{
    if (c->tc != NULL)
        tlsconn_set_timeout(c->tc, idle);
    else
        bufferevent_set_timeouts(c->bev, idle, idle);
}

static void bev_read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    read_cb(arg);
}

static void bev_write_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    write_cb(arg);
}

static void bev_event_cb(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    event_cb(arg, what);
}

static void tls_read_cb(tlsconn_t *tc, void *arg)
{
    (void)tc;
    read_cb(arg);
}

static void tls_write_cb(tlsconn_t *tc, void *arg)
{
    (void)tc;
    write_cb(arg);
}

static void tls_event_cb(tlsconn_t *tc, short what, void *arg)
{
    (void)tc;
    event_cb(arg, what);
}

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

    if (!conn_open(c))
        return;
    if (c->sess != NULL) {
        void *sess = c->sess;
        c->sess = NULL;
        tlslisten_https_ops()->close(sess);
    }
    if (c->tc != NULL)
        tlsconn_free(c->tc); /* closes the socket and frees the SSL */
    else
        bufferevent_free(c->bev); /* closes the socket */
    c->tc = NULL;
    c->bev = NULL;
    conn_account(c); /* nothing more will be queued: the loan is repaid */
    if (c->drain_ev != NULL) {
        event_free(c->drain_ev); /* may be the event now running: allowed */
        c->drain_ev = NULL;
    }
    c->mark_us = 0;
    unlink_conn(set, c);
    set->nconns--;
    SET_CLIENTS(set);
}

/* Close a connection whose client does not read what it is sent: with a
 * reset (SO_LINGER 0), so the kernel drops the unsent answers at once
 * instead of trickling them out to that client for as long again. */
static void conn_abort(tcpconn_t *c)
{
    struct linger lg = {1, 0};

    if (conn_open(c))
        setsockopt(c->tc != NULL ? tlsconn_fd(c->tc) : bufferevent_getfd(c->bev), SOL_SOCKET,
                   SO_LINGER, &lg, sizeof(lg));
    conn_close(c);
}

static void conn_maybe_free(tcpconn_t *c)
{
    if (!conn_open(c) && c->inflight == 0 && !c->in_cb) {
        tcp_set_t *set = c->set;
        free(c);
        set->freed(set->arg);
    }
}

static size_t out_len(const tcpconn_t *c)
{
    if (c->tc != NULL)
        return tlsconn_unsent(c->tc);
    return c->bev != NULL ? evbuffer_get_length(bufferevent_get_output(c->bev)) : 0;
}

/* A connection that has nothing more to say goes once its answers are
 * written: after EOF from the client, or when draining. */
static void conn_check_done(tcpconn_t *c)
{
    if (conn_open(c) && (((c->eof || c->set->fwd->draining) && c->inflight == 0) || c->ending) &&
        out_len(c) == 0)
        conn_close(c);
    conn_maybe_free(c);
}

/* What c may come to hold: its unsent output, and for each query in
 * flight the largest message (RFC 1035 4.2.2), since an answer from
 * upstream is written whatever the output already holds. */
static size_t conn_need(const tcpconn_t *c)
{
    return conn_open(c) ? out_len(c) + (size_t)c->inflight * TCPCONN_MAX_MSG : 0;
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

/* Must an https:// connection stop reading? At the caps of conn_full, as
 * DoT, or while the session holds answers over DOHSERV_MAX_OUTPUT and the
 * client has not read the output yet (once it is out, reading goes on:
 * the client's WINDOW_UPDATE may be what lets the session send). */
static bool https_full(const tcpconn_t *c)
{
    const tls_https_ops_t *ops = tlslisten_https_ops();

    if (conn_full(c))
        return true;
    return c->sess != NULL && ops->want_read != NULL && out_len(c) > 0 && !ops->want_read(c->sess);
}

static void conn_pause(tcpconn_t *c)
{
    if (conn_open(c) && !c->paused) {
        conn_reading(c, false);
        c->paused = true;
    }
}

/* Read again when back under the caps; queries already buffered get
 * handled without waiting for more bytes. */
static void conn_maybe_resume(tcpconn_t *c)
{
    tcp_set_t *set = c->set;

    if (!conn_open(c) || !c->paused || c->eof || set->fwd->draining)
        return;
    if (c->https ? https_full(c) : conn_full(c))
        return;
    c->paused = false;
    c->partial_since_us = 0; /* the time held back was ours, not the client's */
    conn_reading(c, true);
    if (evbuffer_get_length(conn_in(c)) >= 2)
        conn_kick(c);
}

/* Start timing the output queued now: all of it must be read by the
 * client within tcp_idle_timeout (drain_cb). */
static void conn_mark(tcpconn_t *c)
{
    struct timeval tv;
    uint32_t ms = idle_ms(c->set);

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

    if (!conn_open(c) || len == 0 || len > 65535)
        return;
    out = conn_out(c);
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

    if (!conn_open(c))
        return;
    if (c->handshaking) {
        /* The handshake deadline (tcpconn_accept_tls): a client that
         * opens connections and never finishes them holds nothing long. */
        log_debug("tls: a handshake took longer than tls_idle_timeout; closing");
        STAT_INC(c->set->fwd->stats, tls_handshake_failed);
        c->in_cb = true;
        conn_abort(c);
        c->in_cb = false;
        conn_maybe_free(c);
        return;
    }
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

/* Accept fd into set: plain, or with ssl (taken over, freed on failure). */
static tcpconn_t *conn_accept(tcp_set_t *set, int fd, const struct sockaddr *sa, int salen,
                              SSL *ssl)
{
    tcpconn_t *c;
    struct timeval idle;
    int one = 1;

    if (set->fwd->draining) {
        SSL_free(ssl);
        close(fd);
        return NULL;
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
        SET_INC(set, refused);
        if (victim == NULL && unread != NULL) {
            conn_abort(unread);
            victim = unread;
        }
        if (victim == NULL) {
            SSL_free(ssl);
            close(fd);
            return NULL;
        }
        conn_close(victim);
        conn_maybe_free(victim);
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        SSL_free(ssl);
        close(fd);
        return NULL;
    }
    c->set = set;
    if (salen > 0 && (size_t)salen <= sizeof(c->peer)) {
        memcpy(&c->peer, sa, (size_t)salen);
        c->peerlen = (socklen_t)salen;
    }
    /* Answers go out as soon as they are written, not after Nagle's wait. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->drain_ev = evtimer_new(set->base, drain_cb, c);
    if (c->drain_ev == NULL) {
        SSL_free(ssl);
        close(fd);
        free(c);
        return NULL;
    }
    idle.tv_sec = idle_ms(set) / 1000;
    idle.tv_usec = (idle_ms(set) % 1000) * 1000;
    if (ssl != NULL) {
        /* tlsconn_new closes fd and frees ssl when it fails. Input stops
         * being read beyond two maximal messages; write_cb runs when half
         * the output cap has drained. */
        c->tc = tlsconn_new(set->base, fd, ssl);
        if (c->tc == NULL) {
            event_free(c->drain_ev);
            free(c);
            return NULL;
        }
        tlsconn_set_timeout(c->tc, &idle);
        tlsconn_setcb(c->tc, tls_read_cb, tls_write_cb, tls_event_cb, c, 2 * 65537,
                      TCPCONN_MAX_OUTPUT / 2);
    } else {
        c->bev = bufferevent_socket_new(set->base, fd, BEV_OPT_CLOSE_ON_FREE);
        if (c->bev == NULL) {
            event_free(c->drain_ev);
            close(fd);
            free(c);
            return NULL;
        }
        bufferevent_setcb(c->bev, bev_read_cb, bev_write_cb, bev_event_cb, c);
        /* Input stops being read beyond two maximal messages; write_cb
         * fires when half the output cap has drained. */
        bufferevent_setwatermark(c->bev, EV_READ, 2, 2 * 65537);
        bufferevent_setwatermark(c->bev, EV_WRITE, TCPCONN_MAX_OUTPUT / 2, 0);
        bufferevent_set_timeouts(c->bev, &idle, &idle);
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    }
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
    SET_INC(set, accepted);
    SET_CLIENTS(set);
    return c;
}

void tcpconn_accept(tcp_set_t *set, int fd, const struct sockaddr *sa, int salen)
{
    conn_accept(set, fd, sa, salen, NULL);
}

void tcpconn_accept_tls(tcp_set_t *set, int fd, const struct sockaddr *sa, int salen, bool https,
                        const char *path)
{
    SSL *ssl;
    tcpconn_t *c;
    struct timeval tv;

    /* `allow` before the handshake: a client outside it would be REFUSED
     * every query, and must not make us pay for a handshake first. */
    if (salen <= 0 || !acl_match(&set->fwd->cfg->allow, sa)) {
        STAT_INC(set->fwd->stats, refused_acl);
        close(fd);
        return;
    }
    ssl = tlslisten_ssl_new(https);
    if (ssl == NULL) {
        close(fd);
        return;
    }
    c = conn_accept(set, fd, sa, salen, ssl);
    if (c == NULL)
        return;
    c->https = https;
    c->path = path;
    c->handshaking = true;
    /* A connection in its handshake is the first to go at the cap, the
     * oldest first (as a message that has not arrived whole), and the
     * handshake must end within tls_idle_timeout however the client
     * trickles its bytes (drain_cb). */
    c->partial_since_us = c->last_active_us;
    tv.tv_sec = idle_ms(set) / 1000;
    tv.tv_usec = (idle_ms(set) % 1000) * 1000;
    evtimer_add(c->drain_ev, &tv);
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

    if (!conn_open(c))
        return;
    in = conn_in(c);
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
    } else if (now - c->partial_since_us > (uint64_t)idle_ms(c->set) * 1000u) {
        log_debug("tcp: a message took longer than tcp_idle_timeout to arrive; closing");
        STAT_INC(c->set->fwd->stats, malformed);
        conn_close(c);
    }
}

/* An https:// connection: every byte read goes to the DoH module, until
 * back-pressure pauses it (a client that asks and does not read) or the
 * session ends; then its last words (a GOAWAY) go out before the close,
 * and what the client still sends is dropped (not left unread: a client
 * blocked writing to us would not read them). */
static void https_read(tcpconn_t *c, struct evbuffer *in)
{
    const tls_https_ops_t *ops = tlslisten_https_ops();

    if (c->ending)
        evbuffer_drain(in, evbuffer_get_length(in));
    while (conn_open(c) && c->sess != NULL && !c->ending && evbuffer_get_length(in) > 0) {
        if (https_full(c)) {
            conn_pause(c);
            break;
        }
        size_t n = evbuffer_get_contiguous_space(in);
        uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)n);
        if (p == NULL) {
            conn_close(c);
            break;
        }
        if (ops->input(c->sess, p, n) != 0) {
            c->ending = true;
            if (conn_open(c))
                evbuffer_drain(in, evbuffer_get_length(in));
            break;
        }
        if (conn_open(c))
            evbuffer_drain(in, n);
    }
}

static void read_cb(tcpconn_t *c)
{
    tcp_set_t *set = c->set;
    struct evbuffer *in = conn_in(c);
    unsigned handled = 0;
    fwd_client_t client;

    if (c->https) {
        c->in_cb = true;
        c->last_active_us = pool_now_us();
        https_read(c, in);
        c->in_cb = false;
        conn_check_done(c);
        return;
    }
    memset(&client, 0, sizeof(client));
    client.sink = set->tls ? &tls_sink : &tcp_sink;
    client.fd = -1;
    client.conn = c;
    client.peer = c->peer;
    client.peerlen = c->peerlen;

    c->in_cb = true;
    c->last_active_us = pool_now_us();
    while (conn_open(c) && !set->fwd->draining) {
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
            conn_kick(c);
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
        /* RFC 8467 4.1: a padded query gets a padded answer. */
        client.padded = set->tls && tlslisten_query_padded(msg, mlen);
        /* An answer known at once is written from here (tcp_send). */
        fwd_query(set->fwd, msg, mlen, &client, set->buf, 65535);
        evbuffer_drain(in, mlen);
        handled++;
    }
    conn_check_partial(c);
    c->in_cb = false;
    conn_check_done(c);
}

static void write_cb(tcpconn_t *c)
{
    c->last_active_us = pool_now_us();
    if (out_len(c) == 0 && c->mark_us != 0) {
        c->mark_us = 0; /* all read: the next answer starts a new mark */
        evtimer_del(c->drain_ev);
    }
    conn_account(c);
    conn_maybe_resume(c);
    conn_check_done(c);
}

/* The TLS handshake is done: DNS over TLS from now on, or the DoH
 * module's (https:// with ALPN h2; anything else there is closed). */
static void handshake_done(tcpconn_t *c)
{
    const tls_https_ops_t *ops = tlslisten_https_ops();

    c->handshaking = false;
    c->partial_since_us = 0;
    evtimer_del(c->drain_ev);
    c->last_active_us = pool_now_us();
    if (!c->https)
        return;
    if (ops != NULL && tlslisten_alpn_h2(tlsconn_ssl(c->tc)))
        c->sess = ops->open(c, c->set->fwd, c->path);
    if (c->sess == NULL) {
        log_debug("https: a client without HTTP/2 (ALPN h2), or no session; closing");
        conn_close(c);
        conn_maybe_free(c);
    }
}

static void event_cb(tcpconn_t *c, short what)
{
    if (what & BEV_EVENT_CONNECTED) {
        handshake_done(c);
        return;
    }
    if (c->handshaking && (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))) {
        /* Not a client of ours, or one that gave up: nothing to answer. */
        STAT_INC(c->set->fwd->stats, tls_handshake_failed);
        conn_close(c);
        conn_maybe_free(c);
        return;
    }

    if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_WRITING)) {
        /* Gone while answers were being written (a client that did not
         * read them, then left): nothing more can be sent. */
        conn_close(c);
        conn_maybe_free(c);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        /* The client is done asking; answers still due are sent. */
        c->eof = true;
        conn_reading(c, false);
        conn_check_done(c);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        if ((what & BEV_EVENT_READING) && (c->inflight > 0 || out_len(c) > 0)) {
            /* Quiet, but not idle: answers are still coming. */
            if (!c->paused && !c->eof)
                conn_reading(c, true);
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
    uint32_t ms = idle_ms(c->set);

    if (!conn_open(c))
        return;
    idle.tv_sec = ms / 1000;
    idle.tv_usec = (ms % 1000) * 1000;
    conn_timeouts(c, &idle);
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

/* ---- the sink of DNS over TLS: TCP's, with RFC 8467 padding ---- */

/* The reply as the client asked: padded to TLSLISTEN_PAD_BLOCK when its
 * query was (if it does not fit, as it is: an answer beats none). */
static void tls_write(const fwd_client_t *client, const uint8_t *msg, size_t len)
{
    tcpconn_t *c = client->conn;
    size_t n = 0;

    if (client->padded && msg != NULL)
        n = tlslisten_pad(msg, len, c->set->padbuf, 65535);
    if (n > 0)
        conn_write(c, c->set->padbuf, n);
    else
        conn_write(c, msg, len);
}

static void tls_send(const fwd_client_t *client, const uint8_t *msg, size_t len)
{
    tls_write(client, msg, len);
}

static void tls_release(const fwd_client_t *client, const uint8_t *msg, size_t len)
{
    tcpconn_t *c = client->conn;

    if (c->inflight > 0)
        c->inflight--;
    if (msg != NULL) {
        tls_write(client, msg, len);
        conn_touch(c);
    }
    conn_account(c);
    conn_maybe_resume(c);
    conn_check_done(c);
}

static const fwd_sink_t tls_sink = {
    .name = "tls",
    .datagram = false,
    .max_size = 65535,
    .send = tls_send,
    .hold = tcp_hold,
    .release = tls_release,
    .ctx = NULL,
    .transport = FWD_XPORT_TLS,
};

/* ---- what the DoH module uses on an https:// connection ---- */

void tcpconn_https_write(tcpconn_t *c, const uint8_t *data, size_t len)
{
    if (!conn_open(c) || len == 0)
        return;
    if (evbuffer_add(conn_out(c), data, len) != 0)
        return;
    /* A frame per record: dnsperf's DoH client, for one, takes a single
     * response from each SSL_read(). */
    if (c->tc != NULL)
        tlsconn_end_record(c->tc);
    c->out_total += len;
    conn_account(c);
    if (c->mark_us == 0)
        conn_mark(c);
    conn_touch(c);
}

void tcpconn_https_hold(tcpconn_t *c)
{
    c->inflight++;
    conn_account(c);
}

void tcpconn_https_release(tcpconn_t *c)
{
    if (c->inflight > 0)
        c->inflight--;
    conn_account(c);
    conn_maybe_resume(c);
    conn_check_done(c);
}

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

int tcpconn_set_init_tls(tcp_set_t *set, struct event_base *base, fwd_ctx_t *fwd,
                         void (*freed)(void *arg), void *arg)
{
    if (tcpconn_set_init(set, base, fwd, freed, arg) != 0)
        return -1;
    set->tls = true;
    /* A padded reply: at most the largest message (sr_query_pad keeps to
     * cap, and to 65535). */
    set->padbuf = malloc(65536);
    return set->padbuf != NULL ? 0 : -1;
}

void tcpconn_set_fini(tcp_set_t *set)
{
    free(set->buf);
    free(set->padbuf);
    set->buf = NULL;
    set->padbuf = NULL;
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
