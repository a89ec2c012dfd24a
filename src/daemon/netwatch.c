/* stubresd: watching for network changes (netwatch.h). */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <event2/event.h>

#include "log.h"
#include "netwatch.h"

struct netwatch {
    struct event_base *base;
    int fd;                 /* the NETLINK_ROUTE socket, -1 without */
    struct event *nl_ev;    /* readable */
    struct event *fire_ev;  /* the end of a burst */
    struct event *clock_ev; /* once a second: did we sleep? */
    netwatch_debounce_t db;
    const char *why;    /* the first reason of the burst */
    int64_t clock_diff; /* BOOTTIME - MONOTONIC, ms */
    netwatch_cb cb;
    void *arg;
};

int netwatch_parse(const uint8_t *buf, size_t n)
{
    size_t off = 0;
    int count = 0;

    while (off < n) {
        struct nlmsghdr h;
        if (n - off < sizeof(h))
            return -1;                    /* a piece of a header */
        memcpy(&h, buf + off, sizeof(h)); /* buf need not be aligned */
        if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > n - off)
            return -1;
        switch (h.nlmsg_type) {
        case RTM_NEWLINK:
        case RTM_DELLINK:
        case RTM_NEWADDR:
        case RTM_DELADDR:
        case RTM_NEWROUTE:
        case RTM_DELROUTE:
        case NLMSG_ERROR:
        case NLMSG_OVERRUN: count++; break;
        default: break; /* NLMSG_NOOP, NLMSG_DONE, neighbours, ... */
        }
        /* The next message starts at the aligned length; the last one
         * may end without its padding. */
        size_t step = NLMSG_ALIGN((size_t)h.nlmsg_len);
        if (step >= n - off)
            break;
        off += step;
    }
    return count;
}

bool netwatch_event(netwatch_debounce_t *db, uint64_t now_ms)
{
    if (db->pending) {
        db->absorbed++;
        return false;
    }
    db->pending = true;
    db->due_ms = now_ms + NETWATCH_DEBOUNCE_MS;
    return true;
}

bool netwatch_due(netwatch_debounce_t *db, uint64_t now_ms)
{
    if (!db->pending || now_ms < db->due_ms)
        return false;
    db->pending = false;
    return true;
}

bool netwatch_resumed(int64_t *last, int64_t now_diff_ms)
{
    int64_t jump = now_diff_ms - *last;

    *last = now_diff_ms;
    return jump > NETWATCH_SUSPEND_MS;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* BOOTTIME - MONOTONIC in ms: grows by the time spent suspended. */
static int64_t clock_diff_ms(void)
{
    struct timespec b, m;

    clock_gettime(CLOCK_BOOTTIME, &b);
    clock_gettime(CLOCK_MONOTONIC, &m);
    return ((int64_t)b.tv_sec - (int64_t)m.tv_sec) * 1000 +
           ((int64_t)b.tv_nsec - (int64_t)m.tv_nsec) / 1000000;
}

static void arm(netwatch_t *nw, const char *why)
{
    struct timeval tv = {0, NETWATCH_DEBOUNCE_MS * 1000};

    if (!netwatch_event(&nw->db, mono_ms()))
        return;
    nw->why = why;
    event_add(nw->fire_ev, &tv);
}

static void fire(evutil_socket_t fd, short what, void *arg)
{
    netwatch_t *nw = arg;

    (void)fd;
    (void)what;
    /* The timer fires at due_ms or later: disarm whatever the clock says. */
    nw->db.due_ms = 0;
    if (netwatch_due(&nw->db, mono_ms()))
        nw->cb(nw->arg, nw->why);
}

static void nl_read(evutil_socket_t fd, short what, void *arg)
{
    netwatch_t *nw = arg;
    uint8_t buf[8192];

    (void)what;
    /* At most 64 datagrams a turn: a flood cannot hold the main loop. */
    for (int i = 0; i < 64; i++) {
        struct sockaddr_nl from;
        socklen_t flen = sizeof(from);
        ssize_t r = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
        if (r < 0) {
            if (errno == ENOBUFS) /* events were lost: something changed */
                arm(nw, "netlink");
            else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log_warn("netlink: read");
            return;
        }
        if (flen < sizeof(from) || from.nl_family != AF_NETLINK || from.nl_pid != 0)
            continue; /* not the kernel's */
        int n = netwatch_parse(buf, (size_t)r);
        if (n != 0) /* events, or a malformed datagram: look again anyway */
            arm(nw, "netlink");
    }
}

static void clock_tick(evutil_socket_t fd, short what, void *arg)
{
    netwatch_t *nw = arg;

    (void)fd;
    (void)what;
    if (netwatch_resumed(&nw->clock_diff, clock_diff_ms()))
        arm(nw, "suspend");
}

static int nl_open(char *err, size_t errcap)
{
    struct sockaddr_nl sa;
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);

    if (fd < 0) {
        snprintf(err, errcap, "netlink socket: %s", strerror(errno));
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE |
                   RTMGRP_IPV6_ROUTE;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        snprintf(err, errcap, "netlink bind: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

netwatch_t *netwatch_new(struct event_base *base, netwatch_cb cb, void *arg, char *err,
                         size_t errcap)
{
    struct timeval one = {1, 0};
    netwatch_t *nw = calloc(1, sizeof(*nw));

    if (nw == NULL) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    nw->base = base;
    nw->cb = cb;
    nw->arg = arg;
    nw->clock_diff = clock_diff_ms();
    nw->fd = nl_open(err, errcap);
    if (nw->fd < 0)
        log_warnx("network_watch: %s; watching for suspend only", err);
    nw->fire_ev = evtimer_new(base, fire, nw);
    nw->clock_ev = event_new(base, -1, EV_PERSIST, clock_tick, nw);
    if (nw->fd >= 0)
        nw->nl_ev = event_new(base, nw->fd, EV_READ | EV_PERSIST, nl_read, nw);
    if (nw->fire_ev == NULL || nw->clock_ev == NULL || (nw->fd >= 0 && nw->nl_ev == NULL) ||
        event_add(nw->clock_ev, &one) != 0 ||
        (nw->nl_ev != NULL && event_add(nw->nl_ev, NULL) != 0)) {
        snprintf(err, errcap, "out of memory");
        netwatch_free(nw);
        return NULL;
    }
    return nw;
}

void netwatch_free(netwatch_t *nw)
{
    if (nw == NULL)
        return;
    if (nw->nl_ev != NULL)
        event_free(nw->nl_ev);
    if (nw->fire_ev != NULL)
        event_free(nw->fire_ev);
    if (nw->clock_ev != NULL)
        event_free(nw->clock_ev);
    if (nw->fd >= 0)
        close(nw->fd);
    free(nw);
}
