/* DNS over UDP (RFC 1035 4.2.1): one fresh socket per query, so every
 * query leaves from its own random source port (RFC 5452 9.2), and a reply
 * is believed only from the server's address and port (RFC 5452 9.1). */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codec-internal.h"
#include "upstream-internal.h"

/* Datagrams read per wake-up before yielding to other events, so that a
 * flood of forgeries on one socket cannot starve the loop. */
#define UDP_READS_PER_EVENT 16
/* Retransmission (RFC 1035 4.2.1: "the minimum retransmission interval
 * should be 2-5 seconds"), doubling, for as long as the query's timeout
 * lasts. A datagram lost on the way (a server's full socket buffer under
 * a burst, say) then costs 2 s instead of the whole timeout. */
#define UDP_RTX_FIRST_MS 2000
#define UDP_RTX_MAX_MS 16000

/* The module's state of an upstream: one receive buffer for all queries
 * (callbacks never nest on one upstream's sockets). */
struct udp_state {
    uint8_t *rbuf;
    size_t rcap;
};

/* Per query. */
struct udp_xfer {
    int fd;
    struct event *ev;
    struct event *rtx; /* retransmission timer */
    int rtx_ms;        /* its next interval */
    int sends_left;    /* udp_tries: datagrams still to send; else unused */
    bool sending;      /* waiting for EV_WRITE after EAGAIN */
    bool connected;    /* UseConnection: connect()ed socket */
};

static sr_status_t udp_init(sr_upstream_t *up)
{
    struct udp_state *us = sr_calloc(1, sizeof(*us));

    if (us == NULL)
        return SR_E_NOMEM;
    us->rcap = up->cfg.max_packet_size;
    us->rbuf = sr_malloc(us->rcap);
    if (us->rbuf == NULL) {
        sr_free(us);
        return SR_E_NOMEM;
    }
    up->tp = us;
    return SR_OK;
}

static void udp_fini(sr_upstream_t *up)
{
    struct udp_state *us = up->tp;

    if (us == NULL)
        return;
    sr_free(us->rbuf);
    sr_free(us);
    up->tp = NULL;
}

static bool same_peer(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a;
        const struct sockaddr_in *y = (const struct sockaddr_in *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0 &&
               (x->sin6_scope_id == 0 || y->sin6_scope_id == 0 ||
                x->sin6_scope_id == y->sin6_scope_id);
    }
    return false;
}

/* Try to send x's datagram: SR_OK when sent or when it must wait for
 * EV_WRITE (ux->sending), else the error. */
static sr_status_t udp_try_send(sr_upstream_t *up, sr_xfer_t *x)
{
    struct udp_xfer *ux = x->tp;
    ssize_t n;

    if (ux->connected)
        n = send(ux->fd, x->q, x->qlen, 0);
    else
        n = sendto(ux->fd, x->q, x->qlen, 0, (struct sockaddr *)&up->addr, up->addrlen);
    if (n == (ssize_t)x->qlen) {
        ux->sending = false;
        return SR_OK;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        ux->sending = true;
        return SR_OK;
    }
    return n < 0 ? sr_status_from_errno(errno) : SR_E_MSGSIZE;
}

/* A datagram longer than MaxPacketSize was cut by the kernel: keep its
 * header and question and mark it truncated, which is what a server does
 * with an answer that does not fit (RFC 2181 9). Returns the new length,
 * 0 when even the question does not fit. */
static size_t cut_to_question(uint8_t *m, size_t cap)
{
    sr_buf_t b;

    if (cap < SR_HEADER_LEN)
        return 0;
    sr_buf_init(&b, m, cap);
    b.off = SR_HEADER_LEN;
    if (sr_get16(m + 4) == 1 && (sr_name_skip(&b) != SR_OK || sr_buf_skip(&b, 4) != SR_OK))
        return 0;
    if (sr_get16(m + 4) != 1) {
        b.off = SR_HEADER_LEN;
        sr_put16(m + 4, 0);
    }
    sr_put16(m + 2, (uint16_t)(sr_get16(m + 2) | SR_FLAG_TC));
    sr_put16(m + 6, 0);
    sr_put16(m + 8, 0);
    sr_put16(m + 10, 0);
    return b.off;
}

static void udp_event_cb(evutil_socket_t fd, short what, void *arg)
{
    sr_xfer_t *x = arg;
    sr_upstream_t *up = x->up;
    struct udp_state *us = up->tp;
    struct udp_xfer *ux = x->tp;

    (void)what;
    sr_upstream_hold(up);
    if (ux->sending) {
        sr_status_t st = udp_try_send(up, x);
        if (st != SR_OK) {
            sr_xfer_complete(x, st, NULL, 0, "cannot send the query");
        } else if (!ux->sending) {
            event_del(ux->ev);
            event_assign(ux->ev, up->base, ux->fd, EV_READ | EV_PERSIST, udp_event_cb, x);
            event_add(ux->ev, NULL);
        }
        goto done;
    }
    for (int i = 0; i < UDP_READS_PER_EVENT; i++) {
        struct sockaddr_storage from;
        socklen_t flen = sizeof(from);
        ssize_t n;

        memset(&from, 0, sizeof(from));
        /* MSG_TRUNC: the datagram's real length, even when the buffer was
         * too small for it. */
        n = recvfrom(fd, us->rbuf, us->rcap, MSG_TRUNC, (struct sockaddr *)&from, &flen);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                break;
            /* A connected socket reports ICMP errors (port unreachable ->
             * ECONNREFUSED); they are the query's fate. On an unconnected
             * socket anything else is a local failure. */
            int err = errno;
            sr_xfer_complete(x, sr_status_from_errno(err), NULL, 0,
                             err == ECONNREFUSED ? "ICMP port unreachable from the server"
                                                 : "receive failed");
            goto done;
        }
        if (!ux->connected && !same_peer(&from, &up->addr)) {
            sr_xfer_ignore(up, x, "datagram from another address or port");
            continue;
        }
        size_t len = (size_t)n;
        if (len > us->rcap) {
            len = cut_to_question(us->rbuf, us->rcap);
            sr_upstream_log(up, 2, "Info", "%s: %zd-byte datagram exceeds MaxPacketSize %zu",
                            up->name, n, us->rcap);
            if (len == 0) {
                sr_xfer_ignore(up, x, "oversized datagram");
                continue;
            }
        }
        /* A match completes x (or hands it to TCP): x is gone then. */
        if (sr_xfer_offer(x, us->rbuf, len) || up->dying)
            goto done;
    }
done:
    sr_upstream_release(up);
}

static void udp_rtx_arm(const sr_upstream_t *up, struct udp_xfer *ux)
{
    struct timeval tv;

    /* dig's tries: a fixed interval, and none after the last try (whose
     * end is the query's timeout) */
    if (up->cfg.udp_tries > 0 && ux->sends_left-- <= 0)
        return;
    tv.tv_sec = ux->rtx_ms / 1000;
    tv.tv_usec = (ux->rtx_ms % 1000) * 1000;
    evtimer_add(ux->rtx, &tv);
    if (up->cfg.udp_tries == 0 && ux->rtx_ms < UDP_RTX_MAX_MS)
        ux->rtx_ms *= 2;
}

static void udp_rtx_cb(evutil_socket_t fd, short what, void *arg)
{
    sr_xfer_t *x = arg;
    sr_upstream_t *up = x->up;
    struct udp_xfer *ux = x->tp;

    (void)fd;
    (void)what;
    /* The same datagram, ID and port: whichever copy is answered first is
     * the answer. While a send waits for EV_WRITE there is nothing to do. */
    if (!ux->sending) {
        sr_status_t st = udp_try_send(up, x);
        if (st == SR_OK && ux->sending) {
            event_del(ux->ev);
            event_assign(ux->ev, up->base, ux->fd, EV_WRITE | EV_PERSIST, udp_event_cb, x);
            event_add(ux->ev, NULL);
        }
        sr_upstream_log(up, 3, "Info", "%s: ID %u retransmitted%s", up->name, x->caller_id,
                        st == SR_OK ? "" : " (send failed)");
    }
    udp_rtx_arm(up, ux);
}

static sr_status_t udp_send(sr_upstream_t *up, sr_xfer_t *x)
{
    struct udp_xfer *ux;
    sr_status_t status = SR_OK;

    ux = sr_calloc(1, sizeof(*ux));
    if (ux == NULL)
        return SR_E_NOMEM;
    ux->fd = -1;
    x->tp = ux;
    ux->fd = sr_socket_open(up, SOCK_DGRAM, &status);
    if (ux->fd < 0)
        return status;
    if (up->cfg.use_connection) {
        /* UseConnection: the kernel then filters the source for us and
         * reports ICMP errors on the socket. */
        if (connect(ux->fd, (struct sockaddr *)&up->addr, up->addrlen) != 0)
            return sr_status_from_errno(errno);
        ux->connected = true;
    }
    status = udp_try_send(up, x);
    if (status != SR_OK)
        return status;
    ux->ev = event_new(up->base, ux->fd, (ux->sending ? EV_WRITE : EV_READ) | EV_PERSIST,
                       udp_event_cb, x);
    if (ux->ev == NULL || event_add(ux->ev, NULL) != 0)
        return SR_E_NOMEM;
    ux->rtx = evtimer_new(up->base, udp_rtx_cb, x);
    if (ux->rtx == NULL)
        return SR_E_NOMEM;
    ux->rtx_ms = UDP_RTX_FIRST_MS;
    if (up->cfg.udp_tries > 0) {
        ux->rtx_ms = x->timeout_ms / up->cfg.udp_tries;
        if (ux->rtx_ms < 1)
            ux->rtx_ms = 1;
        ux->sends_left = up->cfg.udp_tries - 1;
    }
    udp_rtx_arm(up, ux);
    return SR_OK;
}

/* x->q changed (guard.c: a new ID, and a new cookie or the caller's
 * case): send it now from the same socket, and restart the
 * retransmission clock. */
static void udp_resend(sr_upstream_t *up, sr_xfer_t *x)
{
    struct udp_xfer *ux = x->tp;

    if (ux == NULL || ux->fd < 0 || ux->sending)
        return; /* the pending send takes the new x->q */
    if (udp_try_send(up, x) == SR_OK && ux->sending) {
        event_del(ux->ev);
        event_assign(ux->ev, up->base, ux->fd, EV_WRITE | EV_PERSIST, udp_event_cb, x);
        event_add(ux->ev, NULL);
    }
    if (ux->rtx != NULL) {
        evtimer_del(ux->rtx);
        if (up->cfg.udp_tries == 0)
            ux->rtx_ms = UDP_RTX_FIRST_MS;
        else
            ux->sends_left++; /* the same try, sent again: not one more */
        udp_rtx_arm(up, ux);
    }
}

static void udp_detach(sr_upstream_t *up, sr_xfer_t *x)
{
    struct udp_xfer *ux = x->tp;

    (void)up;
    if (ux == NULL)
        return;
    sr_event_free(ux->ev);
    sr_event_free(ux->rtx);
    if (ux->fd >= 0)
        close(ux->fd);
    sr_free(ux);
    x->tp = NULL;
}

const sr_transport_ops_t sr_udp_ops = {
    .name = "udp",
    .init = udp_init,
    .fini = udp_fini,
    .send = udp_send,
    .detach = udp_detach,
    .resend = udp_resend,
};
