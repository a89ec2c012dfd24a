/* stubresd: the cache's insides, shared by its three files: cache.c (the
 * sharded LRU, lookup, store, render), cache_image.c (the rules that
 * turn an upstream response into an image) and cache_dump.c (`cache
 * dump`). Nothing outside the cache includes this. */
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
#define E_PREFETCHED 0x2u /* CACHE_HIT_PREFETCH was reported */

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
    uint32_t hits;       /* fresh hits since stored (prefetch) */
    uint32_t charge;     /* bytes charged against the shard's budget */
    uint16_t img_len;
    uint16_t nttl;
    uint8_t name_len; /* the question name's wire length */
    uint8_t bits;     /* KEY_DO, KEY_CD */
    uint8_t rcode;
    uint8_t flags;      /* E_* */
    uint16_t ttl_off[]; /* nttl offsets, then img_len bytes of image */
};

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
    uint64_t hits, misses, stale_hits, evictions, expired, inserts;
    char pad[64];
} shard_t;

struct cache {
    uint64_t k[4]; /* the hash key (random) */
    unsigned nshards;
    shard_t *shards[CACHE_MAX_SHARDS];
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

/* e rendered as a hit for q (cache.c's render()). */
size_t cache_entry_render(const centry_t *e, const cache_query_t *q, uint32_t elapsed,
                          const uint32_t *fixed_ttl, uint8_t *out, size_t cap);

/* Copy e's image into out (img_len bytes) with its TTLs counted down to
 * now: what the cache file and the shared cache hold. */
void cache_entry_copy_out(const centry_t *e, uint32_t now, uint8_t *out);

#endif
