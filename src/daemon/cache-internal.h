/* stubresd: the cache's insides, shared by its files: cache.c (the
 * sharded LRU, lookup, store, render), cache_image.c (the rules that
 * turn an upstream response into an image), cache_dump.c (`cache
 * dump`) and cache_popular.c (prefetch_popular). Nothing outside the
 * cache includes this. */
#ifndef STUBRESD_CACHE_INTERNAL_H
#define STUBRESD_CACHE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stubres/wire.h>

#include "cache.h"

#define CACHE_MAX_SHARDS 64
/* Automatic sharding gives every shard at least this much, so that the
 * LRU order of a small cache stays close to global. */
#define CACHE_SHARD_MIN_BYTES (64u * 1024u)
#define CACHE_INITIAL_BUCKETS 16u
#define CACHE_MAX_BUCKETS (1u << 24)
/* Charged per entry beside the bytes we ask malloc for: glibc's chunk
 * header (8) and its average rounding to 16 (8), and the entry's share of
 * the bucket array, whose load factor stays between 1/2 and 1 (8 to 16
 * bytes: we charge 16). */
#define CACHE_ENTRY_OVERHEAD 32u
/* "Popular": at least this many fresh hits since the entry was stored. */
#define CACHE_PREFETCH_MIN_HITS 2u
/* Prefetch when at most a tenth of the TTL is left (Unbound's rule). */
#define CACHE_PREFETCH_DIVISOR 10u
/* RFC 2181 8: a TTL with the top bit set is to be taken as zero. */
#define CACHE_TTL_LIMIT 0x7FFFFFFFu

#define RCODE_NOERROR 0u
#define RCODE_SERVFAIL 2u
#define RCODE_NXDOMAIN 3u
#define TYPE_TSIG 250u

#define OPT_LEN 11u
/* Bytes of a question beside its name: QTYPE, QCLASS. */
#define QFIXED 4u

/* Key bits: the query bits that change what upstream answers. */
#define KEY_DO 0x1u
#define KEY_CD 0x2u

/* Entry flags. */
#define E_AD 0x1u         /* the upstream set AD */
/* CACHE_HIT_PREFETCH was reported, or cache_popular_due handed it out. */
#define E_PREFETCHED 0x2u

typedef struct centry centry_t;
struct centry {
    centry_t *hnext;    /* hash chain; also the free list after unlink */
    centry_t *lru_prev; /* towards the head (more recently used) */
    centry_t *lru_next; /* towards the tail */
    uint32_t hash;      /* low 32 bits of the key's hash */
    uint16_t qtype;
    uint16_t qclass;
    uint32_t stored;     /* when it was stored */
    uint32_t expire;     /* stored + ttl: fresh while now < expire */
    uint32_t ttl;        /* the entry's TTL: the least of its records' */
    uint32_t fail_until; /* RFC 8767 failure recheck: serve stale until */
    uint16_t hits;       /* fresh hits since stored (prefetch; stops at
                            UINT16_MAX) */
    uint16_t pslot;      /* its slot in the shard's popular_t + 1, or 0 */
    uint32_t charge;     /* bytes charged against the shard's budget */
    uint16_t img_len;
    uint16_t nttl;
    uint8_t name_len; /* the question name's wire length */
    uint8_t bits;     /* KEY_DO, KEY_CD */
    uint8_t rcode;
    uint8_t flags;      /* E_* */
    uint16_t ttl_off[]; /* nttl offsets, then img_len bytes of image */
};

/* prefetch_popular: a count-min sketch of POP_DEPTH rows of POP_WIDTH
 * 16-bit counters (8 KiB a shard), halved every POP_HALVE_S seconds, and
 * the shard's most-asked entries. */
#define POP_DEPTH 4u
#define POP_WIDTH_LOG 10u
#define POP_WIDTH (1u << POP_WIDTH_LOG)
#define POP_HALVE_S 60u
/* Asked at least this often (decayed) to be a candidate at all. */
#define POP_MIN_COUNT 2u
/* A popular entry is refreshed in the last tenth of its TTL, and no later
 * than this many seconds before it expires. */
#define POP_WINDOW_MIN_S 2u

typedef struct pop_slot {
    centry_t *e;  /* the entry (its pslot points back), NULL: free */
    uint32_t est; /* its count when last asked (halved with the sketch) */
} pop_slot_t;

typedef struct popular {
    uint16_t cms[POP_DEPTH][POP_WIDTH];
    uint32_t halved_at; /* cache clock of the last halving */
    bool clock_seen;    /* halved_at is set (at the first look) */
    uint32_t min_est;   /* no slot counts less (a lower bound) */
    unsigned used;      /* slots holding an entry */
    unsigned cap;       /* slots */
    pop_slot_t slot[];
} popular_t;

/* One lock's worth of the cache. Allocated one by one with padding at the
 * end so that two shards' hot fields never share a cache line. */
typedef struct shard {
    pthread_mutex_t lock;
    centry_t **buckets;
    size_t mask;    /* bucket count - 1 */
    centry_t *head; /* most recently used */
    centry_t *tail; /* least recently used: evicted first */
    size_t count;
    size_t bytes;
    size_t max_bytes; /* this shard's share of cfg.max_bytes */
    cache_cfg_t cfg;
    popular_t *pop; /* prefetch_popular's counts, NULL when off */
    uint64_t hits, misses, stale_hits, evictions, expired, inserts;
    char pad[64];
} shard_t;

struct cache {
    uint64_t k[4]; /* the hash key (random) */
    unsigned nshards;
    shard_t *shards[CACHE_MAX_SHARDS];
    /* prefetch_popular's token bucket, shared by every caller of
     * cache_popular_due: tokens in thousandths, refilled at prefetch_rate
     * a second up to one second's worth. */
    pthread_mutex_t bucket_lock;
    uint64_t bucket_milli;
    uint64_t bucket_ms; /* when it was last refilled */
    unsigned popular_n; /* cfg.prefetch_popular (under bucket_lock) */
    unsigned rate;      /* cfg.prefetch_rate (under bucket_lock) */
};

static inline const uint8_t *entry_cimg(const centry_t *e)
{
    return (const uint8_t *)(e->ttl_off + e->nttl);
}

static inline void shard_lock(shard_t *s)
{
    pthread_mutex_lock(&s->lock);
}

static inline void shard_unlock(shard_t *s)
{
    pthread_mutex_unlock(&s->lock);
}

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* now + ttl without wrapping: the clock is 32-bit seconds. */
static inline uint32_t add_sat(uint32_t now, uint32_t ttl)
{
    return ttl > UINT32_MAX - now ? UINT32_MAX : now + ttl;
}

/* The records of resp that an image keeps: every record before the OPT
 * record (and before a TSIG, which would no longer verify). Pointers only
 * point backwards, so cutting there leaves every kept name intact. */
typedef struct scan {
    size_t qend;       /* end of the question */
    size_t img_end;    /* end of the last kept record (or the question) */
    size_t keep;       /* records kept: sr_msg_rr(resp, 0 .. keep-1) */
    uint16_t count[3]; /* kept records per section */
} scan_t;

/* Check what the codec handed us before trusting it: one question of
 * name_len bytes at offset 12, records laid end to end in section order,
 * each TTL inside its record, nothing past 64 KiB. */
bool cache_image_scan(const sr_msg_t *resp, size_t name_len, scan_t *sc);
/* RFC 2181 8, then the configured limits. */
uint32_t cache_image_ttl_clamp(uint32_t t, const cache_cfg_t *cfg);
/* RFC 2181 5.2: one TTL per RRset, the least of its records'. */
void cache_image_equalise(const sr_msg_t *resp, uint8_t *img, size_t len, const uint16_t *off,
                          size_t n);
/* Whether a NOERROR answer answers QTYPE (else NODATA, RFC 2308 2.2). */
bool cache_image_answers_qtype(const sr_msg_t *resp, size_t nanswer, uint16_t qtype);
/* RFC 2308 5: the negative TTL into *ttl; the SOA's index or SIZE_MAX. */
size_t cache_image_negative_ttl(const sr_msg_t *resp, const scan_t *sc, const cache_cfg_t *cfg,
                                uint32_t *ttl);

/* What a name may read that a reply does not send as it came. */
#define READS_TTL 0x1u /* a TTL byte (counted down) */
#define READS_QPTR                                                                                 \
    0x2u /* a pointer inside the question name (its low                                            \
            byte may be a letter, which takes the client's                                         \
            case) */
#define READS_END                                                                                  \
    0x4u /* a byte past the image (the cut OPT record and                                          \
            what followed; our own OPT goes there) */

/* What any name of img may read (READS_*): the cheap scan. */
unsigned cache_image_names_may_read(const uint8_t *img, size_t len, size_t qname_end,
                                    const uint16_t *off, size_t n);
/* The exact check: the names stay the same whatever the TTL bytes and the
 * question's case. False also when memory runs out. */
bool cache_image_names_fixed(const uint8_t *img, size_t len, size_t qname_end, const uint16_t *off,
                             size_t n);

/* cache_store for an answer whose TTL ran out expired_ago (> 0) seconds
 * before now (the cache file read back): stored in its serve-stale window,
 * or not at all when serve_stale is off, expired_ago is stale_max or more,
 * or the clock does not reach back that far. resp's TTLs must not be 0. */
bool cache_store_stale(cache_t *c, const uint8_t *qname, size_t qname_len, uint16_t qtype,
                       uint16_t qclass, bool do_bit, bool cd, const sr_msg_t *resp, uint32_t now,
                       uint32_t expired_ago);
/* cache_popular.c, each called with s locked: count a hit of e (its
 * key's hash); forget e's slot (e leaves the shard);
 * give old's slot to e, which replaces it. */
void cache_pop_count(popular_t *p, centry_t *e, uint64_t hash);
void cache_pop_forget(popular_t *p, centry_t *e);
void cache_pop_replace(popular_t *p, centry_t *old, centry_t *e);
/* The slots a shard needs for prefetch_popular = n over nshards (0: off);
 * a new, empty popular_t of that many, or NULL (off, out of memory). */
unsigned cache_pop_cap(unsigned n, unsigned nshards);
popular_t *cache_pop_new(unsigned cap);

/* e rendered as a hit for q (cache.c's render()). */
size_t cache_entry_render(const centry_t *e, const cache_query_t *q, uint32_t elapsed,
                          const uint32_t *fixed_ttl, uint8_t *out, size_t cap);

/* Copy e's image into out (img_len bytes) with its TTLs counted down to
 * now: what the cache file and the shared cache hold. */
void cache_entry_copy_out(const centry_t *e, uint32_t now, uint8_t *out);

#endif
