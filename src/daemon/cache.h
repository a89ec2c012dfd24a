/* stubresd: the answer cache.
 *
 * Keyed by (name, type, class) with the name compared case-insensitively,
 * plus the query bits that change an answer (DO, CD). An entry holds the
 * decoded RRsets of an upstream response as a ready wire image (the
 * response without its OPT record) and the offsets of every TTL in it, so
 * a hit is: look up, copy, patch ID, flags, question case and TTLs, append
 * the client's OPT, send. The hit path takes one shard lock and allocates
 * nothing. Negative answers are cached per RFC 2308 (TTL from the SOA in
 * the authority section: min(SOA TTL, SOA MINIMUM), capped by
 * negative_ttl); SERVFAIL briefly. Bounded by max_bytes with LRU eviction
 * per shard. Thread-safe: every function may be called from any thread. */
#ifndef STUBRESD_CACHE_H
#define STUBRESD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stubres/wire.h>

typedef struct cache cache_t;

/* The cache's settings (config keys of the same names). Every TTL limit is
 * taken literally: a record whose TTL is 0 after them is not stored (so
 * max_ttl = 0 or negative_ttl = 0 turns that kind of caching off). */
typedef struct cache_cfg {
    size_t max_bytes;         /* cache_size; 0 disables the cache */
    uint32_t min_ttl;         /* raise shorter TTLs to this (positive data) */
    uint32_t max_ttl;         /* cap longer TTLs to this (all data) */
    uint32_t negative_ttl;    /* cap for NXDOMAIN/NODATA (RFC 2308 5) */
    uint32_t servfail_ttl;    /* how long a SERVFAIL is remembered */
    bool serve_stale;         /* RFC 8767: answer expired data when the
                                 upstreams fail */
    uint32_t stale_max;       /* how long past expiry data may be served */
    uint32_t stale_reply_ttl; /* TTL of a stale answer (RFC 8767: 30) */
    bool prefetch;            /* report popular entries near expiry */
    unsigned prefetch_popular; /* how many of the most-asked names
                                  cache_popular_due hands out (0: off,
                                  and no hit is counted) */
    unsigned prefetch_rate;    /* cache_popular_due: names a second, all
                                  callers together */
    unsigned shards;          /* lock shards, a power of two <= 64; 0 picks
                                 from max_bytes (>= 64 KiB each). Read by
                                 cache_new only. */
} cache_cfg_t;

/* A client's question and the facts about it that shape the reply. */
typedef struct cache_query {
    uint16_t id;          /* the client's ID */
    uint16_t flags;       /* the client's header flags (RD, CD, AD) */
    const uint8_t *qname; /* the question name as the client sent it
                             (uncompressed wire form, its case) */
    size_t qname_len;
    uint16_t qtype;
    uint16_t qclass;
    bool edns;        /* the client sent an OPT record */
    bool do_bit;      /* ... with DO set */
    uint16_t max_len; /* the largest reply it takes: 512 without
                         EDNS, its UDP size with (values below 512
                         count as 512, RFC 6891 6.2.3), 65535 over
                         TCP */
} cache_query_t;

typedef enum cache_result {
    CACHE_MISS = 0,     /* nothing usable: ask upstream */
    CACHE_HIT,          /* out holds the reply */
    CACHE_HIT_PREFETCH, /* out holds the reply; the entry is near
                           expiry and popular: refresh it upstream
                           (reported once per stored entry) */
    CACHE_STALE,        /* out holds a stale reply: asked with
                           allow_stale, or the upstreams failed for
                           this question less than servfail_ttl ago
                           (cache_store_failure) */
} cache_result_t;

/* Counters, read with cache_stats(). */
typedef struct cache_stats {
    uint64_t hits; /* fresh answers (prefetch hits included) */
    uint64_t misses;
    uint64_t stale_hits;
    uint64_t evictions; /* LRU evictions for space */
    uint64_t expired;   /* entries dropped because they expired */
    uint64_t inserts;
    size_t entries;
    size_t bytes; /* memory the entries use, counted as charged
                     against max_bytes */
} cache_stats_t;

/* The EDNS UDP size we advertise in replies (the DNS flag day 2020 value,
 * RFC 9715's recommendation). */
#define CACHE_EDNS_UDP_SIZE 1232

/* A new cache; NULL when out of memory or when no random hash key could
 * be had. */
cache_t *cache_new(const cache_cfg_t *cfg);
/* Free the cache and every entry. Accepts NULL. */
void cache_free(cache_t *c);
/* Change the settings at run time (evicts down to a smaller max_bytes;
 * the shard count stays what cache_new chose). */
void cache_set_cfg(cache_t *c, const cache_cfg_t *cfg);

/* Answer q from the cache at time now (seconds, monotonic) into out (cap
 * bytes): a whole reply with q's ID, RD/CD from q, RA=1, QR=1, AA=0, AD
 * only when q set AD or DO and the upstream set it, the question with q's
 * case, TTLs counted down, and an OPT record (UDP size 1232, DO copied)
 * when q had one. When the reply does not fit q->max_len it is sent as
 * header + question with TC=1 (the client retries over TCP); when it fits
 * max_len but not cap, the result is CACHE_MISS. With allow_stale, an
 * entry expired less than stale_max ago answers with TTL stale_reply_ttl.
 * Allocates nothing. */
cache_result_t cache_lookup(cache_t *c, const cache_query_t *q, uint32_t now, bool allow_stale,
                            uint8_t *out, size_t cap, size_t *outlen);

/* Store the upstream response resp (parsed) as the answer to the question
 * (qname in wire form, any case; qtype; qclass; do_bit/cd of the query
 * that asked it). Responses that must not be cached (QR=0, opcode != 0,
 * TC=1, RCODEs other than NOERROR/NXDOMAIN/SERVFAIL, a question that does
 * not match, a negative answer without SOA (RFC 2308 5), TTL 0 after the
 * limits, larger than a shard's share of max_bytes) are ignored. A
 * SERVFAIL is handled as cache_store_failure(). Returns true when
 * stored. */
bool cache_store(cache_t *c, const uint8_t *qname, size_t qname_len, uint16_t qtype,
                 uint16_t qclass, bool do_bit, bool cd, const sr_msg_t *resp, uint32_t now);

/* The upstreams failed for this question (SERVFAIL, or every upstream
 * timed out or failed). With serve_stale and an expired entry still inside
 * stale_max, that entry answers every lookup as CACHE_STALE for the next
 * servfail_ttl seconds without asking upstream again (RFC 8767 4, the
 * "failure recheck timer"); otherwise a SERVFAIL answer is remembered for
 * servfail_ttl seconds. Returns true when either was recorded. */
bool cache_store_failure(cache_t *c, const uint8_t *qname, size_t qname_len, uint16_t qtype,
                         uint16_t qclass, bool do_bit, bool cd, uint32_t now);

/* Render resp (a fresh upstream response, not from the cache) for the
 * client q exactly as a cache hit would be rendered (the same patching and
 * truncation; TTLs as the upstream gave them; TC kept when the upstream
 * set it), into out. resp's question
 * must be q's (case-insensitively) or absent (then q's question is used
 * and the records are dropped). Returns the length, 0 when it cannot. */
size_t cache_render(const sr_msg_t *resp, const cache_query_t *q, uint8_t *out, size_t cap);

/* Drop every entry (name NULL) or every entry whose question name equals
 * name (wire form, case-insensitive). Returns how many were dropped. */
size_t cache_flush(cache_t *c, const uint8_t *name, size_t name_len);
/* Drop every entry whose question name is name or below it (on label
 * boundaries, case-insensitive): unbound's flush_zone. A walk over every
 * entry, each shard locked in turn. Returns how many were dropped. */
size_t cache_flush_below(cache_t *c, const uint8_t *name, size_t name_len);

/* Call fn once per entry with one line of text describing it:
 * "NAME TYPE CLASS RCODE TTL" then the answer records in presentation
 * form, each as "OWNER TTL TYPE FIELD...", e.g. "www.example.test A IN
 * NOERROR 287 www.example.test 287 A 192.0.2.1". NAME is lowercase; TTL is
 * 0 for an entry kept past expiry for serve_stale. Holds each shard lock
 * while it walks that shard: fn must not call into the cache. */
void cache_dump(cache_t *c, uint32_t now, void (*fn)(void *arg, const char *line), void *arg);
/* The same entries as master-file lines (RFC 1035 section 5.1), fn once per
 * line: for each entry a comment "; NAME. CLASS TYPE RCODE, TTL s left",
 * then its answer records "OWNER. TTL CLASS TYPE RDATA", e.g.
 * "www.example.test. 287 IN A 192.0.2.1". Locks as cache_dump. */
void cache_dump_zone(cache_t *c, uint32_t now, void (*fn)(void *arg, const char *line), void *arg);

/* The cache file (cache_file). cache_file_snapshot copies every fresh
 * entry (not SERVFAILs), and with serve_stale every expired one still
 * within stale_max, into a new buffer (sr_free it) laid out as the
 * file is, taking one shard lock at a time for a memcpy per entry; now is
 * the cache's clock, wall the Unix time. *entries: how many. NULL when out
 * of memory. */
uint8_t *cache_file_snapshot(cache_t *c, uint32_t now, int64_t wall, size_t *len,
                             size_t *entries);
/* Write buf to path atomically: a temporary file beside it (mode 0600),
 * fsync, rename, fsync of the directory. 0, or -1 with err set. */
int cache_file_write(const char *path, const uint8_t *buf, size_t len, char *err, size_t errcap);
/* Read a cache file's bytes back into c as hostile input: header, version
 * and checksum checked, every entry parsed by the codec and stored as an
 * upstream response would be (cache_store), its TTLs counted down by the
 * file's age; expired entries are dropped, or with serve_stale kept as
 * stale while they expired less than stale_max ago; no more than max_bytes worth
 * is read. *loaded: entries stored. 0, or -1 with err set (the entries
 * before a bad one may have been stored). */
int cache_file_load_buf(cache_t *c, const uint8_t *buf, size_t len, uint32_t now, int64_t wall,
                        size_t *loaded, char *err, size_t errcap);
/* The same from a file: 0; 1 when it does not exist; -1 with err set. */
int cache_file_load(cache_t *c, const char *path, uint32_t now, int64_t wall, size_t *loaded,
                    char *err, size_t errcap);

/* A question to refresh (cache_popular_due): its name in lowercase wire
 * form and the query bits of the entry. */
typedef struct cache_key {
    uint8_t name[SR_NAME_MAX_WIRE];
    size_t name_len;
    uint16_t qtype;
    uint16_t qclass;
    bool do_bit;
    bool cd;
} cache_key_t;

/* Popular-name prefetch (prefetch_popular). With prefetch_popular > 0
 * every hit counts its key in a count-min sketch per shard (decayed by
 * halving), and each shard keeps its most-asked entries in a small array
 * (cache-internal.h): a lookup allocates nothing for it.
 * cache_popular_due hands out, into out (at most max), the keys of the
 * prefetch_popular most-asked entries that expire within their refresh
 * window at now (the last tenth of the TTL, at least the last 2 s), were
 * asked since they were stored (a name nobody asked for during its TTL is
 * not refreshed) and were not handed out (or reported as
 * CACHE_HIT_PREFETCH) before: the caller refreshes each upstream. Each
 * key takes a token of a bucket shared by every caller, refilled at
 * prefetch_rate a second (now_ms: a monotonic clock in milliseconds); a
 * due key without a token is left for a later call and counted in
 * *rate_limited. Returns how many keys it wrote. */
size_t cache_popular_due(cache_t *c, uint32_t now, uint64_t now_ms, cache_key_t *out, size_t max,
                         uint64_t *rate_limited);
/* The shared cache (shcache.h) and the cache file share the entry format:
 * an image (an upstream response without its OPT record, the question
 * name lowercase) with its TTLs counted down to now. cache_export copies
 * the fresh entry for the question (not a SERVFAIL, not one kept past
 * expiry) into out (cap bytes): its length, 0 when there is none or it
 * does not fit; *ttl_left: seconds until it expires. */
size_t cache_export(cache_t *c, const uint8_t *qname, size_t qname_len, uint16_t qtype,
                    uint16_t qclass, bool do_bit, bool cd, uint32_t now, uint8_t *out, size_t cap,
                    uint32_t *ttl_left);
/* What cache_import made of an image. */
typedef enum cache_import_result {
    CACHE_IMPORT_BAD = 0,   /* not a DNS message, or not the question asked */
    CACHE_IMPORT_STORED,    /* stored: cache_lookup answers it */
    CACHE_IMPORT_NOT_STORED /* a valid answer the cache would not keep */
} cache_import_result_t;
/* Read back an image (hostile input, modified in place) as cache_export
 * or the cache file wrote it: its TTLs counted down by age seconds and
 * capped at max_ttl_left, parsed into msg (the caller's scratch, which
 * holds the parsed image afterwards), stored as an upstream response
 * (cache_store) under the bits (DO 1, CD 2). With qname not NULL the
 * image's question must be (qname, qtype, qclass), case-insensitively. */
cache_import_result_t cache_import(cache_t *c, sr_msg_t *msg, uint8_t *img, size_t len,
                                   unsigned bits, uint32_t age, uint32_t max_ttl_left,
                                   const uint8_t *qname, size_t qname_len, uint16_t qtype,
                                   uint16_t qclass, uint32_t now);

void cache_stats(const cache_t *c, cache_stats_t *out);

#endif
