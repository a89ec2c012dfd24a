/* stubresd: answers stubresd gives itself (special-use names, `local`
 * records, `hosts` files).
 *
 * Built by the main thread from the settings (`local`, `local_ttl`,
 * `hosts`, `special_names`), then read-only and shared by every worker
 * (reference counted, hung on the cfg_t it was built for, swapped with
 * it). A lookup is one hash probe of the question name (case-insensitive)
 * and, on a miss, a look at its last labels for the special-use zones;
 * an answer is header + the client's question (its case: 0x20 echoed) +
 * ready answer records copied from the table, whose owner names point at
 * the question; no allocation per query, no lock.
 *
 * Order inside (the query path's, see forwarder.c): a name with `local`
 * records is answered from them alone (hosts entries for it are ignored);
 * else from the hosts files; else, when special_names is on and the name
 * is in a special-use zone (RFC 6761 localhost and invalid, RFC 6303
 * private reverse zones, RFC 8375 home.arpa, RFC 6762 local), by the
 * zone's rule. */
#ifndef STUBRESD_LOCALDATA_H
#define STUBRESD_LOCALDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stubres/wire.h>

#include "cache.h"

typedef struct localdata localdata_t;

/* Where an answer came from (the query log's source and the stats). */
typedef enum local_source {
    LOCAL_NONE = 0, /* not ours: go on to the cache */
    LOCAL_LOCAL,    /* a `local` record (or its PTR) */
    LOCAL_HOSTS,    /* a hosts file entry (or its PTR) */
    LOCAL_SPECIAL,  /* a special-use name */
} local_source_t;

/* The query log's word for a source ("local", "hosts", "special"). */
const char *local_source_name(local_source_t s);

/* Longest RDATA of a `local` record (the value of a key is shorter). */
#define LOCAL_RDATA_MAX 4096

/* One `local` record, parsed. */
typedef struct local_rec {
    uint8_t name[SR_NAME_MAX_WIRE]; /* owner, wire form, as written */
    size_t name_len;
    bool has_ttl;
    uint32_t ttl;
    uint16_t type;
    uint8_t rdata[LOCAL_RDATA_MAX];
    size_t rdlen;
} local_rec_t;

/* Parse "NAME [TTL] [IN] TYPE RDATA" (master-file presentation, RFC 1035
 * 5.1; TTL and class in either order; class IN only; RDATA through
 * sr_rdata_from_text). canon (may be NULL) receives the record's
 * canonical text "NAME [TTL] IN TYPE RDATA". 0, or -1 with err saying
 * what is wrong. */
int local_rec_parse(const char *text, local_rec_t *r, char *canon, size_t canon_cap, char *err,
                    size_t errcap);

/* Split the text of the `local` key: records separated by ", " outside
 * double quotes. fn is called for each (trimmed, NUL-terminated); a
 * non-zero return stops the walk and is returned. */
int local_split(const char *text, int (*fn)(void *arg, const char *rec), void *arg);

/* A predicate the special-name step asks before answering for a name of
 * a special-use zone: true when something else (a `forward` rule) covers
 * the name, which then goes on down the query path. */
typedef bool (*local_covered_fn)(void *arg, const uint8_t *qname, size_t qname_len);

/* What the table is built from. */
typedef struct local_src {
    const char *const *records; /* `local` records (texts as local_split gives) */
    size_t nrecords;
    uint32_t local_ttl;     /* TTL of records written without one */
    const char *hosts;      /* `hosts`: files separated by commas, "" none */
    const char *hosts_text; /* or (tests, the fuzzer) one hosts file's text */
    size_t hosts_text_len;
    bool special_names;                       /* answer the special-use names */
    unsigned max_warnings;                    /* per hosts file (then a count); 0: 10 */
    void (*warn)(void *arg, const char *msg); /* bad hosts lines, unreadable
                                                 files; may be NULL */
    void *warn_arg;
} local_src_t;

/* Build the table (hosts files read now). A bad `local` record or a
 * CNAME beside other data of its name is an error (NULL, err); a bad
 * hosts line or an unreadable hosts file is a warning, and the rest is
 * served. refs = 1. */
localdata_t *localdata_new(const local_src_t *src, char *err, size_t errcap);
void localdata_ref(localdata_t *ld);
/* Drop a reference; frees on the last. Accepts NULL. */
void localdata_unref(localdata_t *ld);

/* True when a hosts file's modification time (or existence) differs from
 * what it was when ld was built. Main thread; stats the files. */
bool localdata_hosts_changed(const localdata_t *ld);

/* Answer q from ld into out (cap bytes) as a cache hit would be rendered
 * (q's ID, RD/CD, RA, its question's case, an OPT record when q had one,
 * TC with empty sections when the reply does not fit q->max_len), with
 * AA set. covered may be NULL. Returns LOCAL_NONE when the query is not
 * ours, else the source with the reply's length in *outlen (0 when it
 * does not fit cap). Allocates nothing. ld may be NULL. */
local_source_t localdata_answer(const localdata_t *ld, const cache_query_t *q,
                                local_covered_fn covered, void *covered_arg, uint8_t *out,
                                size_t cap, size_t *outlen);

/* Whether ld has data for name (uncompressed wire form, any case): a
 * CNAME chain whose last target it lacks ends outside the table, and the
 * forwarder resolves that target as any other query. */
bool localdata_has(const localdata_t *ld, const uint8_t *name, size_t len);

/* Records of ld in presentation form, "NAME TTL IN TYPE RDATA", `local`
 * records first, then the hosts files' (and the PTRs made for both); fn
 * is called for each line. */
void localdata_list(const localdata_t *ld, void (*fn)(void *arg, const char *line), void *arg);

/* Number of names with data (tests). */
size_t localdata_names(const localdata_t *ld);

#endif
