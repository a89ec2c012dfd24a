/* stubresd: the sockets clients query.
 *
 * UDP and TCP sockets on every `listen` address, IPv4 and IPv6, opened by
 * the main thread before privileges are dropped; or the sockets systemd
 * passes (socket activation, sd_listen_fds) when built with libsystemd.
 * With threads > 1 every thread gets its own socket per address
 * (SO_REUSEPORT, so the kernel spreads the load); systemd's sockets are
 * dup()ed for each thread instead. The per-thread receive path is here
 * too: UDP is read in batches (recvmmsg) and cache hits are answered in
 * batches (sendmmsg). */
#ifndef STUBRESD_LISTENER_H
#define STUBRESD_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "cfg.h"
#include "forwarder.h"
#include "tcpconn.h"

struct event;
struct event_base;
struct evconnlistener;

/* UDP receive batch (recvmmsg/sendmmsg). */
#define LISTENER_BATCH 32
/* Largest query read over UDP; larger datagrams are dropped. */
#define LISTENER_UDP_RX 4096
/* Largest UDP reply (max_udp_size is capped to this). */
#define LISTENER_UDP_TX 4096

/* The recvmmsg/sendmmsg headers and buffers of one worker's UDP batches
 * (set up once; see listener.c), and the sink the forwarder replies to
 * UDP clients through: replies to one recvmmsg batch go out with one
 * sendmmsg, and late replies (answers from upstream) queued during one
 * pass of the event loop go out together at its end, or when the batch
 * is full. */
typedef struct udp_batch udp_batch_t;

/* What a stream socket serves. */
enum listen_kind {
    LISTEN_PLAIN = 0, /* DNS over UDP or TCP */
    LISTEN_TLS,       /* tls://: DNS over TLS */
    LISTEN_HTTPS,     /* https://: DNS over HTTPS (the DoH module) */
};

/* One listening socket of one thread. */
typedef struct listen_sock {
    int fd;
    int type; /* SOCK_DGRAM or SOCK_STREAM */
    enum listen_kind kind;
    char path[256]; /* https: the request path */
    int family;
    bool wildcard; /* bound to 0.0.0.0/:: : replies need the
                      destination address (IP_PKTINFO) */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    /* set up by listener_attach() on the thread's event_base: what its
     * queries feed (the thread's, borrowed) */
    struct event_base *base;
    fwd_ctx_t *fwd;
    udp_batch_t *udp;
    tcp_set_t *tcp;
    tcp_set_t *tls;             /* the thread's TLS connections */
    struct event *ev;           /* UDP */
    struct evconnlistener *lev; /* TCP */
    unsigned accepted;          /* TLS: accepted this turn of the loop */
    struct event *turn_ev;      /* TLS: the next turn (accept_burst) */
} listen_sock_t;

/* The sockets of every thread: socks[t] has n entries for thread t. */
typedef struct listener_set {
    unsigned threads;
    size_t n;
    listen_sock_t **socks;
    bool activated; /* from systemd */
} listener_set_t;

/* Open the sockets for cfg->listen (or take systemd's, which stand for
 * the whole of listen, tls:// and https:// entries too). Returns 0, or -1
 * with err naming the address and the reason. */
int listener_open(const cfg_t *cfg, listener_set_t *set, char *err, size_t errcap);
/* Close every socket and free the set (after the workers are gone). */
void listener_close(listener_set_t *set);

/* Start receiving on one thread's sockets, on its base: queries go to
 * fwd, UDP replies through udp, TCP connections into tcp, TLS ones into
 * tls. Returns 0 or -1. */
int listener_attach(struct event_base *base, fwd_ctx_t *fwd, udp_batch_t *udp, tcp_set_t *tcp,
                    tcp_set_t *tls, listen_sock_t *socks, size_t n);
/* Stop reading new queries (drain): UDP events and TCP listeners go,
 * the UDP sockets stay open for the answers still to come. */
void listener_pause(listen_sock_t *socks, size_t n);
/* Resume accepting TCP (after a connection slot freed up). */
void listener_tcp_resume(listen_sock_t *socks, size_t n);
void listener_tcp_pause(listen_sock_t *socks, size_t n);
/* Free the events of one thread's sockets (not the sockets). */
void listener_detach(listen_sock_t *socks, size_t n);

udp_batch_t *listener_batch_new(struct event_base *base);
/* Send what is queued, then free (before the event_base goes). */
void listener_batch_free(udp_batch_t *b);

#endif
