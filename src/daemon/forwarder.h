/* stubresd: the query path.
 *
 * For every query: read header and question with the bounds-checked
 * cursor (never trusting a count or length the packet gives), check the
 * source against `allow`, answer from the cache when it can, otherwise
 * join an identical query already in flight or start one: upstreams are
 * tried in the pool's order until one answers (a timeout, SERVFAIL,
 * REFUSED, transport error or unbelievable response moves on to the
 * next), the answer is cached and rendered for every client waiting for
 * it, and SERVFAIL goes to them when every attempt failed. */
#ifndef STUBRESD_FORWARDER_H
#define STUBRESD_FORWARDER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "acl.h"

struct worker;
struct tcpconn;

/* Where a reply goes. */
typedef struct fwd_client {
    bool tcp;
    int fd;               /* UDP: the socket the query came in on */
    struct tcpconn *conn; /* TCP: the connection */
    struct sockaddr_storage peer;
    socklen_t peerlen;
    bool has_local; /* UDP on a wildcard socket: reply from */
    int local_ifindex;
    struct sockaddr_storage local; /* ... the address the query came to */
} fwd_client_t;

/* What the parser found in a query. Pointers point into the packet. */
typedef struct fwd_qinfo {
    uint16_t id;
    uint16_t flags;
    unsigned opcode;
    bool has_question;    /* the question parsed (for echoing) */
    const uint8_t *qname; /* uncompressed wire form, as sent */
    size_t qname_len;
    uint16_t qtype, qclass;
    size_t question_end;
    bool edns;
    uint16_t edns_size;
    bool do_bit;
    uint8_t edns_version;
} fwd_qinfo_t;

/* The parser's verdict. */
typedef enum fwd_verdict {
    FWD_OK = 0, /* a query to answer */
    FWD_DROP,   /* no header, or a response: say nothing */
    FWD_FORMERR,
    FWD_NOTIMP,  /* opcode other than QUERY */
    FWD_REFUSED, /* zone transfers: not a stub's business */
    FWD_BADVERS, /* EDNS version other than 0 (RFC 6891 6.1.3) */
} fwd_verdict_t;

/* Parse a query packet. Only reads inside pkt[0..len). */
fwd_verdict_t fwd_parse_query(const uint8_t *pkt, size_t len, fwd_qinfo_t *qi);

/* Build an error reply (rcode FORMERR, NOTIMP, REFUSED, SERVFAIL or
 * BADVERS=16) to the query qi parsed from pkt: the client's ID, opcode,
 * RD and CD, QR and RA set, its question when it had a readable one, an
 * OPT record when it had EDNS. Returns the length (0 if cap is short). */
size_t fwd_error_reply(const fwd_qinfo_t *qi, const uint8_t *pkt, unsigned rcode, uint16_t udp_size,
                       uint8_t *out, size_t cap);

/* Handle one query from client. When the answer is known at once (cache
 * hit, error) it is written to out and its length returned, for the
 * caller to send (UDP batches); 0 means nothing to send now (dropped, or
 * the answer will come from upstream through the client's channel). */
size_t fwd_query(struct worker *w, const uint8_t *pkt, size_t len, const fwd_client_t *client,
                 uint8_t *out, size_t cap);

/* The table of queries in flight of one worker. */
struct fwd_table;
struct fwd_table *fwd_table_new(uint32_t seed);
/* Cancel everything in flight (no callbacks) and free. */
void fwd_table_free(struct fwd_table *t);
/* Number of distinct upstream queries in flight. */
size_t fwd_table_count(const struct fwd_table *t);

#endif
