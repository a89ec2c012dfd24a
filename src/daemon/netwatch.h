/* stubresd: watching for network changes (`network_watch`).
 *
 * A NETLINK_ROUTE socket on the main loop, subscribed to the link, IPv4
 * and IPv6 address and route groups, and a once-a-second look at
 * CLOCK_BOOTTIME against CLOCK_MONOTONIC (the first runs on during
 * suspend, the second does not: a jump of more than 2 s is a resume).
 * A burst of events is one change: the first event arms a 500 ms timer
 * and the events until it fires are absorbed. The change is handed to a
 * callback with the reason ("netlink" or "suspend"); what a change does
 * is the daemon's (daemon_network_changed). Netlink messages are read
 * only from the kernel (sender port 0) and parsed with every length
 * checked against the bytes received. */
#ifndef STUBRESD_NETWATCH_H
#define STUBRESD_NETWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

/* Quiet time that ends a burst of events, and the resume threshold. */
#define NETWATCH_DEBOUNCE_MS 500
#define NETWATCH_SUSPEND_MS 2000

/* Count the link, address and route messages (RTM_NEW/DEL LINK, ADDR,
 * ROUTE) in one datagram of n bytes. An overrun (NLMSG_ERROR,
 * NLMSG_OVERRUN) counts as one change too. -1 when a header is short or
 * a length runs past the datagram (what was counted before is dropped:
 * the caller takes a malformed datagram as one change anyway). */
int netwatch_parse(const uint8_t *buf, size_t n);

/* The debounce: one change per burst. */
typedef struct netwatch_debounce {
    bool pending;      /* a change is armed */
    uint64_t due_ms;   /* when it fires */
    uint64_t absorbed; /* events folded into changes (for the tests) */
} netwatch_debounce_t;

/* An event at now_ms: true when it armed a change (the caller starts
 * the timer for NETWATCH_DEBOUNCE_MS), false when one is armed already. */
bool netwatch_event(netwatch_debounce_t *db, uint64_t now_ms);
/* At now_ms: is the armed change due? It is disarmed when it is. */
bool netwatch_due(netwatch_debounce_t *db, uint64_t now_ms);

/* Has the system slept? last is the previous BOOTTIME - MONOTONIC
 * difference in ms (updated). */
bool netwatch_resumed(int64_t *last, int64_t now_diff_ms);

typedef void (*netwatch_cb)(void *arg, const char *why);
typedef struct netwatch netwatch_t;

/* Start watching on base; cb is called from the loop once per change.
 * NULL with err when the socket cannot be made (the caller logs it and
 * runs without: suspend is still watched when only netlink failed). */
netwatch_t *netwatch_new(struct event_base *base, netwatch_cb cb, void *arg, char *err,
                         size_t errcap);
void netwatch_free(netwatch_t *nw);

#endif
