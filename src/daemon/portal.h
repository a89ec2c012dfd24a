/* stubresd: the captive-portal pass.
 *
 * Hotel and airport Wi-Fi intercept DNS until their login page has been
 * seen, and a stub whose upstreams are encrypted never reaches that page.
 * `portal_resolv_conf` names the file holding the network's own
 * nameservers; `stubresctl portal allow [SECONDS]` opens a pass during
 * which a query every `servers` upstream failed to answer (timeout,
 * refused connection, TLS failure; never a DNS answer such as NXDOMAIN)
 * is asked of them in plaintext. Those answers are never cached and go
 * out with TTLs of at most PORTAL_TTL_MAX, each name is logged, and the
 * pass closes at its time, at `portal close`, or as soon as an encrypted
 * upstream answers again. Without an open pass nothing goes there.
 *
 * One portal_t per process, built by the main thread at start and read
 * by the workers: its state is atomic. */
#ifndef STUBRESD_PORTAL_H
#define STUBRESD_PORTAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool.h"

struct cfg;

/* The default length of a pass (seconds) and the longest one. */
#define PORTAL_DEFAULT_S 300
#define PORTAL_MAX_S 86400
/* The TTL cap of an answer that came through a pass. */
#define PORTAL_TTL_MAX 30

typedef struct portal {
    pool_t *pool;               /* the network's nameservers (n may be 0) */
    atomic_uint_fast64_t until; /* CLOCK_MONOTONIC ms when the pass ends; 0: closed */
    atomic_uint_fast64_t names; /* names asked through the current or last pass */
} portal_t;

/* The portal of cfg->portal_resolv_conf (read now, as plaintext UDP
 * upstreams on dns_port), or NULL when the key is empty. A file that
 * cannot be read or names no nameserver is logged and leaves a portal
 * whose passes ask nobody. NULL with err on error (out of memory). */
portal_t *portal_new(const struct cfg *cfg, char *err, size_t errcap);
/* Accepts NULL. */
void portal_free(portal_t *p);

/* Open a pass of seconds (0: PORTAL_DEFAULT_S), replacing an open one. */
void portal_allow(portal_t *p, unsigned seconds);
/* Close the pass, if open, logging why. Safe from any thread. */
void portal_close(portal_t *p, const char *why);
/* Is a pass open now? One that has run out is closed (and logged) here.
 * p may be NULL (false). */
bool portal_is_open(portal_t *p);
/* Seconds left of the open pass (0 when closed), rounded up. */
unsigned portal_remaining_s(portal_t *p);
/* Count a name asked through the pass. */
void portal_count_name(portal_t *p);

/* Parse the SECONDS of `portal allow` (1..PORTAL_MAX_S; NULL is the
 * default). 0 on success, -1 when it is not such a number. */
int portal_parse_seconds(const char *arg, unsigned *out);

/* Lower every TTL above max in the DNS message msg[0..len) to max
 * (the OPT record's TTL field holds flags and is left alone). Reads only
 * inside msg; a message that does not parse is left as far as it did.
 * Returns the number of TTLs lowered. */
size_t portal_cap_ttls(uint8_t *msg, size_t len, uint32_t max);

#endif
