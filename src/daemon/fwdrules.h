/* stubresd: forward rules (split DNS).
 *
 * `forward = DOMAIN SPEC [SPEC...]` sends the queries for DOMAIN and every
 * name below it (on label boundaries, case-insensitively) to the rule's
 * own upstreams instead of `servers`; the longest matching DOMAIN wins,
 * as in unbound's forward-zone and dnsmasq's server=/d/ip. The spec
 * `resolvconf` stands for the nameservers of resolv_conf, re-read when
 * that file changes (a VPN's DNS, as NetworkManager writes it).
 *
 * A fwdrules_t is built by the main thread from a cfg_t and shared
 * read-only by the workers (reference counted), like pool_t: each rule has
 * a pool of its own (health, failover, strategy as for `servers`), and
 * each worker reaches those pools through a fwdrules_inst_t of its own.
 * Matching costs one walk of the query name per rule, with no
 * allocation. */
#ifndef STUBRESD_FWDRULES_H
#define STUBRESD_FWDRULES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <stubres/wire.h>

#include "pool.h"

struct event_base;
struct cfg;

/* Most rules; a query walks them all on a cache miss. */
#define FWDRULES_MAX 256
/* The spec that stands for the nameservers of resolv_conf. */
#define FWDRULES_RESOLVCONF "resolvconf"

/* One rule. */
typedef struct fwdrule {
    uint8_t domain[SR_NAME_MAX_WIRE]; /* lowercase wire form, never the root */
    size_t domain_len;
    char name[SR_NAME_MAX_TEXT];  /* the domain in presentation form */
    char *text;                   /* canonical "DOMAIN SPEC..." (owned) */
    bool resolvconf;              /* one of its specs is `resolvconf` */
    pool_t *pool;                 /* its upstreams (fwdrules_new; NULL after fwdrules_parse) */
    atomic_uint_fast64_t queries; /* cache misses sent its way */
} fwdrule_t;

/* A set of rules. */
typedef struct fwdrules {
    atomic_int refs;
    size_t n;
    fwdrule_t *rule;          /* n rules, in the order given */
    bool resolvconf;          /* some rule uses `resolvconf` */
    struct timespec rc_mtime; /* resolv_conf when it was read (resolvconf) */
    off_t rc_size;
    ino_t rc_ino;
} fwdrules_t;

/* Parse one rule, "DOMAIN SPEC [SPEC...]" (specs separated by blanks or
 * commas; escapes as in master files: "a\.b.example"), into r's domain,
 * name and resolvconf, and its canonical text into canon (cap bytes).
 * The root is refused (that is `servers`), as are bad specs and a rule
 * mixing encrypted and plaintext upstreams. 0, or -1 with err. */
int fwdrule_parse(const char *text, fwdrule_t *r, char *canon, size_t cap, char *err,
                  size_t errcap);

/* The rules of the canonical texts (fwdrule_parse), without upstreams:
 * for matching alone (tests). Two rules for one domain are refused. NULL
 * with err. */
fwdrules_t *fwdrules_parse(char *const *texts, size_t n, char *err, size_t errcap);

/* The rules of cfg->forward with their upstreams built (pool_new_specs),
 * `resolvconf` read now. A rule whose domain and upstreams are those of
 * a rule of old keeps its health and counters. A `resolvconf` that names
 * no nameserver is logged, and its rule answers SERVFAIL until it does.
 * NULL with err ("forward: DOMAIN: ..."). */
fwdrules_t *fwdrules_new(const struct cfg *cfg, const fwdrules_t *old, char *err, size_t errcap);
void fwdrules_ref(fwdrules_t *r);
/* Drop a reference; frees on the last. Accepts NULL. */
void fwdrules_unref(fwdrules_t *r);

/* The rule with the longest domain holding qname (uncompressed wire
 * form, any case), or -1. r may be NULL. */
int fwdrules_match(const fwdrules_t *r, const uint8_t *qname, size_t qname_len);
/* True when a forward rule covers qname: the special-names step leaves
 * such names to the rule's upstreams. r may be NULL. */
bool fwdrules_covers(const fwdrules_t *r, const uint8_t *qname, size_t qname_len);

/* The index in b of the rule for a's rule i's domain, or -1. */
int fwdrules_find(const fwdrules_t *b, const uint8_t *domain, size_t domain_len);
/* Do rule i of a and rule j of b send the same domain to the same
 * upstreams? */
bool fwdrules_same_rule(const fwdrules_t *a, size_t i, const fwdrules_t *b, size_t j);

/* Has resolv_conf changed since r read it (r uses `resolvconf`)? One
 * stat(2). */
bool fwdrules_resolvconf_changed(const fwdrules_t *r, const char *resolv_conf);

/* Log a warning for every rule whose upstreams are plaintext while the
 * servers (pool servers) are encrypted: its names leave unencrypted, as
 * the operator chose. Returns how many. */
size_t fwdrules_warn_plaintext(const fwdrules_t *r, const pool_t *servers, const char *where);

/* A worker's connections to the rules' upstreams. */
typedef struct fwdrules_inst {
    fwdrules_t *rules;
    pool_inst_t **pi; /* one per rule, in the order of rules->rule */
} fwdrules_inst_t;

/* The instances of r on base (a reference to r is taken); NULL when out
 * of memory. */
fwdrules_inst_t *fwdrules_inst_new(fwdrules_t *r, struct event_base *base);
/* Let go of the instances (queries in flight keep theirs) and r. Accepts
 * NULL. */
void fwdrules_inst_free(fwdrules_inst_t *ri);

#endif
