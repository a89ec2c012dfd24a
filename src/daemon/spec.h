/* stubresd: upstream specs.
 *
 * The text of an upstream (`servers` items, `dns_server` with `dns_port`
 * and `protocol`, the nameservers of `resolv_conf`) and the list of
 * upstreams those keys ask for. A leaf: it knows plain values and the
 * address helpers of acl.h, not the config or the pool, so both cfg.c
 * (checking values) and pool.c (building upstreams) use it. */
#ifndef STUBRESD_SPEC_H
#define STUBRESD_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <stubres/upstream.h>

/* Most upstreams in one list (the pool's masks of tried upstreams are 64
 * bits). */
#define SPEC_MAX 64

/* One parsed upstream spec:
 *   udp://HOST[:PORT]  tcp://HOST[:PORT]  tls://HOST[:PORT][#AUTH_NAME]
 *   https://HOST[:PORT]/PATH  or a bare HOST[:PORT] (UDP). */
typedef struct spec {
    sr_proto_t proto;
    char host[256];  /* address or name, IPv6 without brackets */
    uint16_t port;   /* the port, defaulted by protocol */
    char auth[256];  /* tls: the name the certificate must match */
    char path[1024]; /* https: the path (and query), "/..." */
    char name[1600]; /* canonical text of the spec */
} spec_t;

/* Parse one spec. Returns 0, or -1 with err saying what is wrong and what
 * is accepted. */
int spec_parse(const char *text, spec_t *spec, char *err, size_t errcap);
/* True for tls:// and https://. */
bool spec_encrypted(const spec_t *spec);
/* False when the host has non-ASCII characters (an IDN). */
bool spec_host_ascii(const spec_t *spec);
/* The port a protocol uses when none is given: 53, 853 for tls, 443 for
 * https. */
uint16_t spec_default_port(sr_proto_t proto);

/* One encrypted `listen` entry (DNS over TLS or HTTPS for LAN clients):
 *   tls://ADDR[:PORT]          port 853 (RFC 7858), ALPN "dot"
 *   https://ADDR[:PORT][/PATH] port 443, path /dns-query (RFC 8484), ALPN "h2"
 * ADDR is numeric: IPv4, or IPv6 in brackets. */
typedef struct spec_listen {
    bool https;                   /* https:// (else tls://) */
    struct sockaddr_storage addr; /* with the port */
    socklen_t len;
    char path[256]; /* https: the request path, "/..." */
    char name[320]; /* canonical text */
} spec_listen_t;

/* Parse one `listen` entry. Returns 1 when text is a tls:// or https://
 * entry (parsed into l), 0 when it has neither scheme (a plain address,
 * not looked at), or -1 with err saying what is wrong and what is
 * accepted. */
int spec_listen_parse(const char *text, spec_listen_t *l, char *err, size_t errcap);

/* The values of the keys an upstream list is made of. Pointers are
 * borrowed from the caller for the length of the call. */
typedef struct spec_keys {
    char *const *servers; /* servers: spec texts */
    size_t nservers;
    const char *dns_server; /* "" when unset */
    unsigned dns_port;      /* 0: the protocol's port */
    int protocol;           /* sr_proto_t of dns_server and resolv_conf */
    const char *resolv_conf;
    bool use_idns;                         /* non-ASCII host names allowed */
    const struct sockaddr_storage *listen; /* this daemon's own addresses */
    size_t nlisten;
    const spec_listen_t *tls_listen; /* ... and its tls:// and https:// ones */
    size_t ntls_listen;
} spec_keys_t;

/* The upstream list the keys ask for, in order: servers; else dns_server
 * (with dns_port and protocol); else the nameservers of resolv_conf that
 * are not this daemon's own listen addresses. Checks that the list is not
 * empty, does not mix encrypted and plaintext upstreams, and never points
 * at stubresd itself. Returns the count (specs must hold SPEC_MAX), or -1
 * with err starting with the key at fault ("servers: ..."). */
int spec_list(const spec_keys_t *k, spec_t *specs, char *err, size_t errcap);

/* The nameservers of k->resolv_conf that are not this daemon itself, as
 * upstreams of k->protocol on k->dns_port, at most max into specs (the
 * `resolvconf` spec of a forward rule). The count (0 when it names none),
 * or -1 with errno when the file cannot be read. */
int spec_nameservers(const spec_keys_t *k, spec_t *specs, int max);
/* The checks spec_list() makes of a list (not stubresd itself, not mixed
 * encrypted and plaintext, ASCII hosts without UseIDNs), for a list made
 * elsewhere; err starts with key. 0 or -1. */
int spec_check(const spec_keys_t *k, const char *key, const spec_t *specs, int n, char *err,
               size_t errcap);

/* The first nameserver address of k->resolv_conf that is not this daemon
 * itself, into out; NULL when there is none. */
const char *spec_first_nameserver(const spec_keys_t *k, char *out, size_t cap);

#endif
