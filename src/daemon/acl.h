/* stubresd: socket addresses and client networks.
 *
 * Address text as the config file writes it ("127.0.0.1:53", "[::1]:53",
 * "::1", "10.0.0.1") and the allow list: a set of IPv4/IPv6 prefixes
 * matched against a client's source address. Only numeric addresses:
 * nothing here may resolve a name (the resolver could be ourselves). */
#ifndef STUBRESD_ACL_H
#define STUBRESD_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Room for "[ffff:...:ffff%ifname]:65535". */
#define ADDR_TEXT_MAX 80

/* Parse "IP", "IP:PORT", "[IP6]", "[IP6]:PORT" or a bare IPv6 address;
 * default_port when no port is given. Returns 0, or -1 when the text is
 * not a numeric address (or the port is not 0..65535; port 0 only when
 * allow_zero). */
int addr_parse(const char *text, uint16_t default_port, bool allow_zero,
               struct sockaddr_storage *ss, socklen_t *len);
/* "127.0.0.1:53" or "[::1]:53" into out (ADDR_TEXT_MAX bytes). */
const char *addr_format(const struct sockaddr *sa, char *out, size_t cap);
/* The address without the port ("127.0.0.1", "::1"). */
const char *addr_format_ip(const struct sockaddr *sa, char *out, size_t cap);
/* Same address family, address and port. */
bool addr_equal(const struct sockaddr *a, const struct sockaddr *b);
/* The wildcard address (0.0.0.0 or ::). */
bool addr_is_any(const struct sockaddr *sa);
/* 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104. */
bool addr_is_loopback(const struct sockaddr *sa);
uint16_t addr_port(const struct sockaddr *sa);

/* One network of an allow list. */
typedef struct acl_net {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network address, host bits cleared */
    unsigned prefix;  /* 0..32 or 0..128 */
} acl_net_t;

/* An allow list: networks in the order given. */
typedef struct acl {
    size_t n;
    acl_net_t *nets;
} acl_t;

/* Parse a comma- or space-separated list of "ADDR", "ADDR/LEN", or the
 * words "any" (0.0.0.0/0 and ::/0) and "loopback" (127.0.0.0/8, ::1).
 * Returns 0 and fills acl (free with acl_clear), or -1 with a
 * description of the bad item in err. */
int acl_parse(const char *text, acl_t *acl, char *err, size_t errcap);
void acl_clear(acl_t *acl);
/* True when sa (a client source) lies inside one of the networks.
 * IPv4-mapped IPv6 sources (::ffff:a.b.c.d) are matched as IPv4. */
bool acl_match(const acl_t *acl, const struct sockaddr *sa);
/* Canonical text of the list ("127.0.0.0/8, ::1/128") into out. */
void acl_format(const acl_t *acl, char *out, size_t cap);

#endif
