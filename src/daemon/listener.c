/* stubresd: the sockets clients query (see listener.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "forwarder.h"
#include "listener.h"
#include "log.h"
#include "stats.h"
#include "tcpconn.h"
#include "tlslisten.h"

/* recvmmsg batches one wake-up may take at most (of LISTENER_BATCH). */
#define UDP_ROUNDS 8

/* Pending TCP connections the kernel may queue. */
#define TCP_BACKLOG 256

/* ------------------------------------------------------------- opening */

static int set_int_opt(int fd, int level, int opt, int v)
{
    return setsockopt(fd, level, opt, &v, sizeof(v));
}

/* Ask for the destination address of each datagram: a socket on a
 * wildcard address must answer from the address the query went to. */
static int want_pktinfo(int fd, int family)
{
    if (family == AF_INET)
        return set_int_opt(fd, IPPROTO_IP, IP_PKTINFO, 1);
    return set_int_opt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
}

static int open_one(const struct sockaddr_storage *ss, socklen_t len, int type, bool reuseport,
                    char *err, size_t errcap)
{
    char a[ADDR_TEXT_MAX];
    const char *what = "socket";
    int fd = socket(ss->ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    addr_format((const struct sockaddr *)ss, a, sizeof(a));
    if (fd < 0)
        goto fail;
    what = "setsockopt";
    if (type == SOCK_STREAM && set_int_opt(fd, SOL_SOCKET, SO_REUSEADDR, 1) != 0)
        goto fail;
    if (reuseport && set_int_opt(fd, SOL_SOCKET, SO_REUSEPORT, 1) != 0)
        goto fail;
    /* One socket per family: [::] must not take IPv4 too. */
    if (ss->ss_family == AF_INET6 && set_int_opt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1) != 0)
        goto fail;
    if (type == SOCK_DGRAM && addr_is_any((const struct sockaddr *)ss) &&
        want_pktinfo(fd, ss->ss_family) != 0)
        goto fail;
    what = "bind";
    if (bind(fd, (const struct sockaddr *)ss, len) != 0)
        goto fail;
    what = "listen";
    if (type == SOCK_STREAM && listen(fd, TCP_BACKLOG) != 0)
        goto fail;
    return fd;
fail:
    snprintf(err, errcap, "listen: %s (%s): %s: %s", a, type == SOCK_DGRAM ? "udp" : "tcp/tls",
             what, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

static int set_alloc(listener_set_t *set, unsigned threads, size_t n)
{
    set->threads = threads;
    set->n = 0;
    set->socks = calloc(threads, sizeof(*set->socks));
    if (set->socks == NULL)
        return -1;
    for (unsigned t = 0; t < threads; t++) {
        set->socks[t] = calloc(n ? n : 1, sizeof(listen_sock_t));
        if (set->socks[t] == NULL)
            return -1;
    }
    return 0;
}

#ifdef HAVE_LIBSYSTEMD
/* Socket activation: take the sockets of stubresd.socket. */
static int from_systemd(const cfg_t *cfg, listener_set_t *set, char *err, size_t errcap)
{
    int n = sd_listen_fds(1);

    if (n <= 0)
        return n;
    if (set_alloc(set, cfg->threads, (size_t)n) != 0) {
        snprintf(err, errcap, "listen: out of memory");
        return -1;
    }
    set->activated = true;
    for (int i = 0; i < n; i++) {
        int fd = SD_LISTEN_FDS_START + i, type = 0;
        socklen_t tl = sizeof(type);
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0 ||
            getsockname(fd, (struct sockaddr *)&ss, &sl) != 0 ||
            (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) ||
            (type != SOCK_DGRAM && type != SOCK_STREAM)) {
            log_warnx("socket activation: fd %d is not an IP datagram or stream socket; "
                      "ignored",
                      fd);
            continue;
        }
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        bool wild = addr_is_any((struct sockaddr *)&ss);
        if (type == SOCK_DGRAM && wild)
            want_pktinfo(fd, ss.ss_family);
        for (unsigned t = 0; t < cfg->threads; t++) {
            listen_sock_t *ls = &set->socks[t][set->n];
            /* Each thread its own descriptor, so each can close its own. */
            ls->fd = t == 0 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 3);
            if (ls->fd < 0) {
                snprintf(err, errcap, "listen: dup of socket-activated fd %d: %s", fd,
                         strerror(errno));
                return -1;
            }
            ls->type = type;
            ls->family = ss.ss_family;
            ls->wildcard = wild;
            ls->addr = ss;
            ls->addrlen = sl;
        }
        set->n++;
    }
    if (set->n == 0) {
        snprintf(err, errcap, "listen: systemd passed no usable socket");
        return -1;
    }
    log_info("using %zu socket(s) from systemd (listen = is ignored)", set->n);
    return (int)set->n;
}
#endif

/* The tls:// and https:// sockets, one per thread each (SO_REUSEPORT),
 * after the plain ones; an address must work (they are never a default). */
static int open_tls(const cfg_t *cfg, listener_set_t *set, char *err, size_t errcap)
{
    for (size_t i = 0; i < cfg->ntls_listen; i++) {
        const spec_listen_t *l = &cfg->tls_listen[i];
        struct sockaddr_storage ss = l->addr;
        for (unsigned t = 0; t < cfg->threads; t++) {
            int fd = open_one(&ss, l->len, SOCK_STREAM, cfg->threads > 1, err, errcap);
            if (fd < 0)
                return -1;
            if (t == 0 && addr_port((struct sockaddr *)&ss) == 0) {
                socklen_t sl = sizeof(ss);
                getsockname(fd, (struct sockaddr *)&ss, &sl);
            }
            listen_sock_t *ls = &set->socks[t][set->n];
            ls->fd = fd;
            ls->type = SOCK_STREAM;
            ls->kind = l->https ? LISTEN_HTTPS : LISTEN_TLS;
            snprintf(ls->path, sizeof(ls->path), "%s", l->path);
            ls->family = ss.ss_family;
            ls->addr = ss;
            ls->addrlen = l->len;
        }
        set->n++;
    }
    return 0;
}

int listener_open(const cfg_t *cfg, listener_set_t *set, char *err, size_t errcap)
{
    memset(set, 0, sizeof(*set));
#ifdef HAVE_LIBSYSTEMD
    int a = from_systemd(cfg, set, err, errcap);
    if (a < 0) {
        listener_close(set);
        return -1;
    }
    if (a > 0)
        return 0;
#endif
    if (set_alloc(set, cfg->threads, cfg->nlisten * 2 + cfg->ntls_listen) != 0) {
        snprintf(err, errcap, "listen: out of memory");
        listener_close(set);
        return -1;
    }
    /* listen left at its default: an address this host lacks (no IPv6)
     * is skipped rather than fatal. An explicit one must work. */
    bool lenient = cfg->where[cfg_key_index("listen")] == NULL;
    for (size_t i = 0; i < cfg->nlisten; i++) {
        for (int k = 0; k < 2; k++) {
            int type = k == 0 ? SOCK_DGRAM : SOCK_STREAM;
            struct sockaddr_storage ss = cfg->listen[i];
            socklen_t len = cfg->listen_len[i];
            bool skipped = false;
            for (unsigned t = 0; t < cfg->threads; t++) {
                int fd = open_one(&ss, len, type, cfg->threads > 1, err, errcap);
                if (fd < 0) {
                    if (lenient && t == 0 && (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT)) {
                        log_notice("%s; skipped", err);
                        skipped = true;
                        break;
                    }
                    listener_close(set);
                    return -1;
                }
                if (t == 0 && addr_port((struct sockaddr *)&ss) == 0) {
                    /* Port 0: the other threads join the port we got. */
                    socklen_t sl = sizeof(ss);
                    getsockname(fd, (struct sockaddr *)&ss, &sl);
                }
                listen_sock_t *ls = &set->socks[t][set->n];
                ls->fd = fd;
                ls->type = type;
                ls->family = ss.ss_family;
                ls->wildcard = addr_is_any((struct sockaddr *)&ss);
                ls->addr = ss;
                ls->addrlen = len;
            }
            if (!skipped)
                set->n++;
        }
    }
    if (open_tls(cfg, set, err, errcap) != 0) {
        listener_close(set);
        return -1;
    }
    if (set->n == 0) {
        snprintf(err, errcap, "listen: no address could be bound");
        listener_close(set);
        return -1;
    }
    return 0;
}

void listener_close(listener_set_t *set)
{
    if (set->socks == NULL)
        return;
    for (unsigned t = 0; t < set->threads; t++) {
        if (set->socks[t] == NULL)
            continue;
        for (size_t i = 0; i < set->n; i++)
            if (set->socks[t][i].fd >= 0)
                close(set->socks[t][i].fd);
        free(set->socks[t]);
    }
    free(set->socks);
    set->socks = NULL;
    set->n = 0;
}

/* ------------------------------------------------------------- UDP */

static void pktinfo_read(struct msghdr *mh, fwd_client_t *c)
{
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
        if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;
            struct sockaddr_in *sin = (struct sockaddr_in *)&c->local;
            memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
            memset(sin, 0, sizeof(*sin));
            sin->sin_family = AF_INET;
            sin->sin_addr = pi.ipi_addr;
            c->local_ifindex = pi.ipi_ifindex;
            c->has_local = true;
        } else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO) {
            struct in6_pktinfo pi;
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&c->local;
            memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
            memset(sin6, 0, sizeof(*sin6));
            sin6->sin6_family = AF_INET6;
            sin6->sin6_addr = pi.ipi6_addr;
            c->local_ifindex = (int)pi.ipi6_ifindex;
            c->has_local = true;
        }
    }
}

typedef union ctlbuf {
    char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo))];
    struct cmsghdr align;
} ctlbuf_t;

/* Fill mh's control data so the reply leaves from c's local address. */
static void pktinfo_write(struct msghdr *mh, ctlbuf_t *ctl, const fwd_client_t *c)
{
    struct cmsghdr *cm;

    if (!c->has_local) {
        mh->msg_control = NULL;
        mh->msg_controllen = 0;
        return;
    }
    memset(ctl, 0, sizeof(*ctl));
    mh->msg_control = ctl->buf;
    if (c->local.ss_family == AF_INET) {
        struct in_pktinfo pi;
        memset(&pi, 0, sizeof(pi));
        pi.ipi_spec_dst = ((const struct sockaddr_in *)&c->local)->sin_addr;
        mh->msg_controllen = CMSG_SPACE(sizeof(pi));
        cm = CMSG_FIRSTHDR(mh);
        cm->cmsg_level = IPPROTO_IP;
        cm->cmsg_type = IP_PKTINFO;
        cm->cmsg_len = CMSG_LEN(sizeof(pi));
        memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
    } else {
        struct in6_pktinfo pi;
        memset(&pi, 0, sizeof(pi));
        pi.ipi6_addr = ((const struct sockaddr_in6 *)&c->local)->sin6_addr;
        pi.ipi6_ifindex = (unsigned)c->local_ifindex;
        mh->msg_controllen = CMSG_SPACE(sizeof(pi));
        cm = CMSG_FIRSTHDR(mh);
        cm->cmsg_level = IPPROTO_IPV6;
        cm->cmsg_type = IPV6_PKTINFO;
        cm->cmsg_len = CMSG_LEN(sizeof(pi));
        memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
    }
}

/* The UDP batch of one worker. The headers are set up once: recvmmsg
 * changes only msg_len, msg_namelen, msg_controllen and msg_flags of the
 * slots it fills, and sendmmsg only msg_len, so after a call only those
 * slots' lengths are put back (setting up all 32 slots before every call
 * was a third of a cache hit's instructions at one datagram a wake-up). */
struct udp_batch {
    struct mmsghdr rmsg[LISTENER_BATCH];
    struct mmsghdr smsg[LISTENER_BATCH];
    struct iovec riov[LISTENER_BATCH];
    struct iovec siov[LISTENER_BATCH];
    struct sockaddr_storage peer[LISTENER_BATCH];
    ctlbuf_t rctl[LISTENER_BATCH];
    ctlbuf_t sctl[LISTENER_BATCH];
    uint8_t rx[LISTENER_BATCH][LISTENER_UDP_RX];
    uint8_t tx[LISTENER_BATCH][LISTENER_UDP_TX];
    /* Late replies (answers that came from upstream), gathered over one
     * loop pass and sent with one sendmmsg: a DoT/DoH read hands over
     * dozens of answers at once, and a sendmsg each was the most frequent
     * system call of forwarding. */
    struct mmsghdr lmsg[LISTENER_BATCH];
    struct iovec liov[LISTENER_BATCH];
    struct sockaddr_storage lpeer[LISTENER_BATCH];
    ctlbuf_t lctl[LISTENER_BATCH];
    uint8_t ltx[LISTENER_BATCH][LISTENER_UDP_TX];
    int lfd;               /* the socket of the late replies queued */
    int nlate;             /* late replies queued */
    struct event *late_ev; /* sends them at the end of the pass */
    /* The sink of UDP clients (the forwarder replies through it): a reply
     * rendered in place into tx[nreply] while udp_read answers datagram
     * cur joins the read batch's sendmmsg; any other is a late reply. */
    fwd_sink_t sink;
    int nreply; /* replies of the read batch so far */
    int cur;    /* the datagram being answered */
};

/* recvmmsg and sendmmsg without glibc's wrappers, which make them pthread
 * cancellation points (two more calls around every system call, 58
 * instructions of a 1,800-instruction cache hit); no thread here is ever
 * cancelled. Same arguments, results and errno. */
static int raw_recvmmsg(int fd, struct mmsghdr *msgs, unsigned n, int flags)
{
    return (int)syscall(SYS_recvmmsg, fd, msgs, n, flags, NULL);
}

static int raw_sendmmsg(int fd, struct mmsghdr *msgs, unsigned n, int flags)
{
    return (int)syscall(SYS_sendmmsg, fd, msgs, n, flags);
}

/* Send n prepared datagrams on fd. */
static void send_batch(int fd, struct mmsghdr *msgs, int n)
{
    for (int sent = 0; sent < n;) {
        int r = raw_sendmmsg(fd, msgs + sent, (unsigned)(n - sent), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
                sent++; /* this datagram cannot go (e.g. no route): skip it */
            else
                break; /* socket buffer full: drop the rest, as the wire would */
            continue;
        }
        sent += r;
    }
}

static void udp_flush(udp_batch_t *b)
{
    if (b == NULL || b->nlate == 0)
        return;
    send_batch(b->lfd, b->lmsg, b->nlate);
    b->nlate = 0;
}

static void late_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    udp_flush(arg);
}

/* Send one UDP reply to c->peer from the socket c->fd, from the local
 * address the query came to when known (IP_PKTINFO). The reply is copied
 * and queued: replies queued during one pass of the event loop go out
 * together (sendmmsg) at its end, or when the batch is full. */
static void udp_send_late(udp_batch_t *b, const fwd_client_t *c, const void *buf, size_t len)
{
    if (len > LISTENER_UDP_TX || c->peerlen > sizeof(b->lpeer[0])) {
        /* Never for UDP (replies are cut to max_udp_size): sent alone. */
        struct msghdr mh;
        struct iovec iov = {.iov_base = (void *)(uintptr_t)buf, .iov_len = len};
        ctlbuf_t ctl;
        memset(&mh, 0, sizeof(mh));
        mh.msg_name = (void *)(uintptr_t)&c->peer;
        mh.msg_namelen = c->peerlen;
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        pktinfo_write(&mh, &ctl, c);
        /* UDP: a reply the kernel will not take is a reply lost, as on
         * the wire; the client retries. */
        (void)sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        return;
    }
    if (b->nlate > 0 && (b->nlate == LISTENER_BATCH || b->lfd != c->fd))
        udp_flush(b);
    if (b->nlate == 0)
        event_active(b->late_ev, EV_TIMEOUT, 1);
    int i = b->nlate++;
    struct msghdr *mh = &b->lmsg[i].msg_hdr;
    b->lfd = c->fd;
    memcpy(b->ltx[i], buf, len);
    b->liov[i].iov_len = len;
    memcpy(&b->lpeer[i], &c->peer, c->peerlen);
    mh->msg_namelen = c->peerlen;
    if (c->has_local || mh->msg_control != NULL)
        pktinfo_write(mh, &b->lctl[i], c);
}

/* The reply to a query answered at once: in the read batch when it is
 * the answer to the datagram being read (rendered in place, so it is not
 * copied), else queued as a late one. */
static void udp_sink_send(const fwd_client_t *c, const uint8_t *msg, size_t len)
{
    udp_batch_t *b = c->sink->ctx;
    int ns = b->nreply;

    /* nreply < LISTENER_BATCH there: udp_read answers at most one reply per
     * datagram, and a batch holds at most LISTENER_BATCH of them. */
    if (msg == b->tx[ns]) {
        struct msghdr *sh = &b->smsg[ns].msg_hdr;
        b->siov[ns].iov_len = len;
        sh->msg_name = &b->peer[b->cur];
        sh->msg_namelen = c->peerlen;
        if (c->has_local || sh->msg_control != NULL)
            pktinfo_write(sh, &b->sctl[ns], c);
        b->nreply++;
        return;
    }
    udp_send_late(b, c, msg, len);
}

/* Nothing holds a UDP client: its address is all the reply needs. */
static void udp_sink_hold(const fwd_client_t *c)
{
    (void)c;
}

static void udp_sink_release(const fwd_client_t *c, const uint8_t *msg, size_t len)
{
    if (msg != NULL && len > 0)
        udp_send_late(c->sink->ctx, c, msg, len);
}

static const fwd_sink_t udp_sink = {
    .name = "udp",
    .datagram = true,
    .max_size = LISTENER_UDP_TX,
    .send = udp_sink_send,
    .hold = udp_sink_hold,
    .release = udp_sink_release,
    .ctx = NULL, /* each batch's own copy points to the batch */
};

udp_batch_t *listener_batch_new(struct event_base *base)
{
    udp_batch_t *b = calloc(1, sizeof(*b));

    if (b == NULL)
        return NULL;
    b->sink = udp_sink;
    b->sink.ctx = b;
    b->late_ev = event_new(base, -1, 0, late_cb, b);
    if (b->late_ev == NULL) {
        free(b);
        return NULL;
    }
    for (int i = 0; i < LISTENER_BATCH; i++) {
        b->riov[i].iov_base = b->rx[i];
        b->riov[i].iov_len = LISTENER_UDP_RX;
        b->rmsg[i].msg_hdr.msg_name = &b->peer[i];
        b->rmsg[i].msg_hdr.msg_namelen = sizeof(b->peer[i]);
        b->rmsg[i].msg_hdr.msg_iov = &b->riov[i];
        b->rmsg[i].msg_hdr.msg_iovlen = 1;
        /* Always offered: a socket without IP_PKTINFO gets no control
         * data and the kernel's only cost is writing back the length. */
        b->rmsg[i].msg_hdr.msg_control = b->rctl[i].buf;
        b->rmsg[i].msg_hdr.msg_controllen = sizeof(b->rctl[i].buf);
        b->siov[i].iov_base = b->tx[i];
        b->smsg[i].msg_hdr.msg_iov = &b->siov[i];
        b->smsg[i].msg_hdr.msg_iovlen = 1;
        b->liov[i].iov_base = b->ltx[i];
        b->lmsg[i].msg_hdr.msg_name = &b->lpeer[i];
        b->lmsg[i].msg_hdr.msg_iov = &b->liov[i];
        b->lmsg[i].msg_hdr.msg_iovlen = 1;
    }
    return b;
}

void listener_batch_free(udp_batch_t *b)
{
    if (b == NULL)
        return;
    udp_flush(b);
    if (b->late_ev != NULL)
        event_free(b->late_ev);
    free(b);
}

static void udp_read(evutil_socket_t fd, short what, void *arg)
{
    listen_sock_t *ls = arg;
    udp_batch_t *b = ls->udp;
    struct mmsghdr *rmsg = b->rmsg, *smsg = b->smsg;

    (void)what;
    /* Read until the socket is empty, so a busy socket costs a recvmmsg
     * that finds it empty instead of an epoll_wait that finds it ready
     * (bench/hit_cpu.sh, SYSCALLS=1: about 10% fewer system calls per
     * query at 80-110k queries/s). A batch of one datagram says the
     * clients wait for our answers: then the extra recvmmsg would be the
     * wasted one, and we go back to the loop at once. Bounded, so TCP
     * clients and upstream answers get their turn. */
    for (int round = 0; round < UDP_ROUNDS; round++) {
        int n;
        n = raw_recvmmsg(fd, rmsg, LISTENER_BATCH, MSG_DONTWAIT);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_debug("recvmmsg: %s", strerror(errno));
            return;
        }
        for (int i = 0; i < n; i++) {
            struct msghdr *mh = &rmsg[i].msg_hdr;
            fwd_client_t c;
            socklen_t pl = mh->msg_namelen;

            if (mh->msg_flags & MSG_TRUNC) {
                STAT_INC(ls->fwd->stats, dropped); /* larger than any sane query */
                goto next;
            }
            if (pl > sizeof(c.peer))
                pl = sizeof(c.peer);
            c.sink = &b->sink;
            c.fd = fd;
            c.conn = NULL;
            /* Only the address's own bytes: the rest of the storage is
             * never read (peerlen bounds every use). */
            memcpy(&c.peer, &b->peer[i], pl);
            c.peerlen = pl;
            c.has_local = false;
            c.local_ifindex = 0;
            if (ls->wildcard)
                pktinfo_read(mh, &c);
            /* An answer known at once is rendered into the next slot of
             * the send batch (udp_sink_send). */
            b->cur = i;
            fwd_query(ls->fwd, b->rx[i], rmsg[i].msg_len, &c, b->tx[b->nreply], LISTENER_UDP_TX);
        next:
            /* What the kernel changed in this slot, back for the next call. */
            mh->msg_namelen = sizeof(b->peer[i]);
            mh->msg_controllen = sizeof(b->rctl[i].buf);
        }
        send_batch(fd, smsg, b->nreply);
        b->nreply = 0;
        if (n == 1)
            return;
    }
}

/* ------------------------------------------------------------- TCP */

static void tcp_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                       int salen, void *arg)
{
    listen_sock_t *ls = arg;
    (void)lev;
    tcpconn_accept(ls->tcp, fd, sa, salen);
}

/* The next turn of the loop: a TLS listener that spent its burst
 * accepts again. */
static void turn_cb(evutil_socket_t fd, short what, void *arg)
{
    listen_sock_t *ls = arg;
    (void)fd;
    (void)what;
    ls->accepted = 0;
    if (ls->lev != NULL && !ls->fwd->draining)
        evconnlistener_enable(ls->lev);
}

/* At most TLSLISTEN_ACCEPT_BURST handshakes start per turn of the loop
 * and listener: past it the listener rests until the next turn (a
 * zero-time timer runs after the events already due, UDP among them),
 * and the kernel's backlog holds the rest. */
static void tls_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                       int salen, void *arg)
{
    listen_sock_t *ls = arg;
    static const struct timeval now = {0, 0};

    tcpconn_accept_tls(ls->tls, fd, sa, salen, ls->kind == LISTEN_HTTPS, ls->path);
    if (++ls->accepted >= TLSLISTEN_ACCEPT_BURST) {
        evconnlistener_disable(lev);
        evtimer_add(ls->turn_ev, &now);
    } else if (ls->accepted == 1) {
        evtimer_add(ls->turn_ev, &now); /* the count starts again next turn */
    }
}

static void tcp_resume_cb(evutil_socket_t fd, short what, void *arg)
{
    listen_sock_t *ls = arg;
    (void)fd;
    (void)what;
    if (ls->lev != NULL && !ls->fwd->draining)
        evconnlistener_enable(ls->lev);
}

static void tcp_error(struct evconnlistener *lev, void *arg)
{
    listen_sock_t *ls = arg;
    struct timeval one = {1, 0};

    /* Out of descriptors (EMFILE) and the like: libevent would retry at
     * once, forever. Pause a second instead. */
    log_warn("accept");
    evconnlistener_disable(lev);
    event_base_once(ls->base, -1, EV_TIMEOUT, tcp_resume_cb, ls, &one);
}

int listener_attach(struct event_base *base, fwd_ctx_t *fwd, udp_batch_t *udp, tcp_set_t *tcp,
                    tcp_set_t *tls, listen_sock_t *socks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        listen_sock_t *ls = &socks[i];
        ls->base = base;
        ls->fwd = fwd;
        ls->udp = udp;
        ls->tcp = tcp;
        ls->tls = tls;
        if (ls->type == SOCK_DGRAM) {
            ls->ev = event_new(base, ls->fd, EV_READ | EV_PERSIST, udp_read, ls);
            if (ls->ev == NULL || event_add(ls->ev, NULL) != 0)
                return -1;
        } else if (ls->kind != LISTEN_PLAIN) {
            ls->turn_ev = evtimer_new(base, turn_cb, ls);
            ls->lev = ls->turn_ev != NULL ? evconnlistener_new(base, tls_accept, ls,
                                                               LEV_OPT_CLOSE_ON_EXEC, 0, ls->fd)
                                          : NULL;
            if (ls->lev == NULL)
                return -1;
            evconnlistener_set_error_cb(ls->lev, tcp_error);
        } else {
            ls->lev = evconnlistener_new(base, tcp_accept, ls, LEV_OPT_CLOSE_ON_EXEC, 0, ls->fd);
            if (ls->lev == NULL)
                return -1;
            evconnlistener_set_error_cb(ls->lev, tcp_error);
        }
    }
    return 0;
}

void listener_pause(listen_sock_t *socks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (socks[i].ev != NULL)
            event_del(socks[i].ev);
        if (socks[i].lev != NULL)
            evconnlistener_disable(socks[i].lev);
    }
}

void listener_tcp_pause(listen_sock_t *socks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (socks[i].lev != NULL)
            evconnlistener_disable(socks[i].lev);
}

void listener_tcp_resume(listen_sock_t *socks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (socks[i].lev != NULL)
            evconnlistener_enable(socks[i].lev);
}

void listener_detach(listen_sock_t *socks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (socks[i].ev != NULL)
            event_free(socks[i].ev);
        socks[i].ev = NULL;
        if (socks[i].lev != NULL)
            evconnlistener_free(socks[i].lev);
        socks[i].lev = NULL;
        if (socks[i].turn_ev != NULL)
            event_free(socks[i].turn_ev);
        socks[i].turn_ev = NULL;
    }
}
