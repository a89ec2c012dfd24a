/* Small helpers shared by the library and the daemon: address text, the
 * monotonic clock and randomness (not installed; reached through
 * lib-internal.h). One home for each, after unbound's util/net_help.c. */
#ifndef STUBRES_UTIL_H
#define STUBRES_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <stubres/error.h>

/* ---- addresses ---- */

/* The port text s[0..n): decimal digits only, 1 to 65535 (0 as well when
 * allow_zero). Returns 0 and sets *port, or -1 (then *port is untouched). */
int sr_port_parse(const char *s, size_t n, bool allow_zero, uint16_t *port);

/* Where the parts of "HOST", "HOST:PORT", "[V6]", "[V6]:PORT" or a bare
 * IPv6 address (two colons or more, taken whole) lie in a text. Pointers
 * are into that text; nothing is checked but the brackets. */
typedef struct sr_hostport {
    const char *host; /* first byte of HOST, brackets excluded */
    size_t host_len;  /* may be 0: the caller says what an empty host is */
    const char *port; /* first byte after the ':' of ":PORT", or NULL */
    size_t port_len;  /* bytes up to the first of stop, or to the NUL */
    const char *end;  /* first byte after HOST[:PORT] (after ']' at least) */
} sr_hostport_t;

/* Scan text into *hp. An unbracketed HOST and a PORT end at the first byte
 * of stop ("" for none: the whole text). Returns 0, or -1 when a '[' has no
 * ']'. After "[V6]" anything may follow: *hp->end tells the caller. */
int sr_hostport_scan(const char *text, const char *stop, sr_hostport_t *hp);

/* An IPv4 or IPv6 literal (inet_pton: no zone, no shorthand like "127.1")
 * with port into ss. Returns 0, or -1 when host is not one. */
int sr_ip_parse(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len);

/* "V4", "V4:PORT", "[V6]", "[V6]:PORT" or a bare IPv6 literal into ss;
 * default_port when none is given; a port of 0 only when allow_zero.
 * Returns 0, or -1 (ss zeroed) when text is not one of these. */
int sr_ipport_parse(const char *text, uint16_t default_port, bool allow_zero,
                    struct sockaddr_storage *ss, socklen_t *len);

/* Parse a numeric address literal (IPv4, IPv6, IPv6 with %zone) with port
 * into ss; no name lookups. SR_E_BAD_ADDRESS when it is not one. */
sr_status_t sr_addr_parse(const char *host, uint16_t port, struct sockaddr_storage *ss,
                          socklen_t *len);

/* The numeric text of an address, no port ("192.0.2.1", "::1"; "?" for
 * another family) into out; returns out. */
const char *sr_ip_format(const struct sockaddr *sa, char *out, size_t cap);

/* The port of an IPv4 or IPv6 address in host order (0 for another family). */
uint16_t sr_sockaddr_port(const struct sockaddr *sa);

/* ---- clocks ---- */

/* Monotonic microseconds (CLOCK_MONOTONIC). */
uint64_t sr_now_us(void);
/* Monotonic seconds from the coarse clock (a plain vDSO read): for TTLs. */
uint32_t sr_now_coarse_s(void);

/* ---- events ---- */

struct event;
/* libevent's event_free() for an event that may be NULL (nothing then). */
void sr_event_free(struct event *ev);

/* ---- lists ---- */

/* Take node n off a doubly linked list threaded through its fields PREV
 * and NEXT, whose first node is head and last node tail (lvalues). n's
 * own links are left as they are. */
#define SR_LIST_UNLINK_TAIL(head, tail, n, PREV, NEXT)                                             \
    do {                                                                                           \
        *((n)->PREV != NULL ? &(n)->PREV->NEXT : &(head)) = (n)->NEXT;                             \
        *((n)->NEXT != NULL ? &(n)->NEXT->PREV : &(tail)) = (n)->PREV;                             \
    } while (0)

/* Put node n first (PUSH_HEAD) or last (PUSH_TAIL) on such a list. */
#define SR_LIST_PUSH_HEAD(head, tail, n, PREV, NEXT)                                               \
    do {                                                                                           \
        (n)->PREV = NULL, (n)->NEXT = (head);                                                      \
        *((head) != NULL ? &(head)->PREV : &(tail)) = (n);                                         \
        (head) = (n);                                                                              \
    } while (0)
#define SR_LIST_PUSH_TAIL(head, tail, n, PREV, NEXT)                                               \
    do {                                                                                           \
        (n)->NEXT = NULL, (n)->PREV = (tail);                                                      \
        *((tail) != NULL ? &(tail)->NEXT : &(head)) = (n);                                         \
        (tail) = (n);                                                                              \
    } while (0)

/* Take node n off a list through its fields prev and next that keeps only
 * its first node, head; n's links are cleared. */
#define SR_LIST_UNLINK(head, n)                                                                    \
    do {                                                                                           \
        *((n)->prev != NULL ? &(n)->prev->next : &(head)) = (n)->next;                             \
        if ((n)->next != NULL)                                                                     \
            (n)->next->prev = (n)->prev;                                                           \
        (n)->next = (n)->prev = NULL;                                                              \
    } while (0)

/* ---- hashing ---- */

/* Eight bytes as a little-endian word (one load on the hosts we build
 * for), so a keyed hash comes out the same on every host. */
static inline uint64_t sr_load64le(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* The 128-bit product of a and b, its halves xored together: the mixing
 * step of the cache's and the block lists' keyed hashes. */
static inline uint64_t sr_fold_mul(uint64_t a, uint64_t b)
{
    __extension__ typedef unsigned __int128 u128;
    u128 r = (u128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* ASCII lowercase (RFC 4343) of eight bytes of a wire name at once: the
 * length bytes (<= 63) are below 'A' and stay as they are. A byte is upper
 * case when its low seven bits lie in 'A'..'Z' and its top bit is clear;
 * such bytes get 0x20 added. The sums stay under 0x100 per byte, so no
 * carry crosses bytes. */
static inline uint64_t sr_fold8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull;
    uint64_t low7 = w & (0x7F * ones);
    uint64_t ge_a = low7 + (0x80 - 'A') * ones; /* top bit: >= 'A' */
    uint64_t gt_z = low7 + (0x7F - 'Z') * ones; /* top bit: > 'Z' */
    uint64_t upper = (ge_a ^ gt_z) & ~w & (0x80 * ones);
    return w | (upper >> 2);
}

/* ---- files ---- */

/* Replace the file at path with buf[0..len), mode bits mode, so that a
 * reader sees the old file or the new one, never a part: a temporary
 * file beside it (rename() is atomic only within one file system),
 * fsync, rename, fsync of the directory. Returns 0, or -1 with errno set
 * (the temporary file is removed). */
int sr_write_atomic(const char *path, unsigned mode, const void *buf, size_t len);

/* ---- randomness ---- */

/* Fill p[0..n) from OpenSSL's CSPRNG. Returns false when it failed; the
 * caller decides whether a fallback is good enough. */
bool sr_random_bytes(void *p, size_t n);
/* Unpredictable 16-bit value (OpenSSL RAND_bytes, then getrandom). */
uint16_t sr_random16(void);
/* The same, 64 bits (guard.c's 0x20 bits: one draw per 64 letters). */
uint64_t sr_random64(void);

#endif
