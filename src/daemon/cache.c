/* stubresd: the answer cache (see cache.h).
 *
 * Layout, after Unbound's util/storage/lruhash.c: the cache is split into
 * shards by hash, each with its own mutex, a chained hash table and an
 * intrusive LRU list, so threads answering from different shards never
 * meet. An entry is one allocation: the fixed header below, the offsets of
 * the TTLs in the image, and the image itself (the upstream response with
 * its OPT record removed, ARCOUNT adjusted, the question name lowercased,
 * every TTL already clamped). The lowercased question name inside the
 * image doubles as the key, so the name is stored once.
 *
 * A hit is: lowercase and hash the client's name, lock one shard, walk
 * one chain, memcpy the image, patch ID, flags, counts, the question name
 * (the client's own case, RFC 1035 7.1, which also gives the client's case
 * to every answer owner compressed against the question) and the TTLs,
 * append an OPT, unlock. Nothing is allocated.
 *
 * The hash is keyed: question names come from the network, so a hash an
 * attacker can predict would let him aim queries at one chain and turn
 * every lookup of that shard into a list walk (hash flooding). It is the
 * folded-multiply construction of wyhash (as in Go's runtime map hash
 * fallback, Zig's and Rust's foldhash), under a 256-bit key drawn from
 * OpenSSL's RAND at cache_new: every 16 bytes of input are xored with key
 * material and the running state before one 64x64->128-bit multiply whose
 * halves are xored together. Why that is enough here: the seed-independent
 * collisions of Murmur, City or FNV come from a block function that is a
 * fixed bijection of the input with the seed merely added, so a colliding
 * difference collides under every seed; here the key enters every multiply
 * as an operand, so which inputs collide changes with the key, and finding
 * them needs the key. The attacker never sees a hash value (at most the
 * timing of a lookup over the network), each entry he wants in a chain
 * costs him a cacheable upstream answer, and the bucket array keeps the
 * load factor at or below 1 whatever the chains. It costs about 30
 * instructions for a typical name; SipHash-1-3, used before, cost 175 of
 * the 2,000 of a whole hit. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cache-internal.h"
#include "cache.h"
#include "codec-internal.h"

/* A key: the lowercased name followed by QTYPE, QCLASS and the key bits,
 * all of which are hashed. */
#define KEY_TAIL 5u
/* The hash reads whole 16-byte blocks: zeros after the key. */
#define KEY_PAD 16u
typedef struct ckey {
    uint8_t buf[SR_NAME_MAX_WIRE + KEY_TAIL + KEY_PAD];
    size_t name_len;
    uint16_t qtype;
    uint16_t qclass;
    uint8_t bits;
    uint64_t hash;
} ckey_t;

/* ------------------------------------------------------------------ */
/* The keyed hash (see the top of the file) */

/* p must be readable up to len rounded up to 16, with zeros past len. */
static uint64_t key_hash(const uint64_t k[4], const uint8_t *p, size_t len)
{
    uint64_t h = k[0] ^ ((uint64_t)len * 0x9E3779B97F4A7C15ull);

    for (size_t i = 0; i < len; i += 16)
        h = sr_fold_mul(sr_load64le(p + i) ^ k[1], sr_load64le(p + i + 8) ^ h);
    return sr_fold_mul(h ^ k[2], (uint64_t)len ^ k[3]);
}

/* ------------------------------------------------------------------ */
/* Keys */

static bool name_len_ok(const uint8_t *name, size_t len)
{
    return name != NULL && len >= 1 && len <= SR_NAME_MAX_WIRE;
}

/* Lowercase the len bytes of name into out. */
static void fold_name(uint8_t *out, const uint8_t *name, size_t len)
{
    uint64_t w;
    if (len < 8) {
        for (size_t i = 0; i < len; i++) {
            uint8_t ch = name[i];
            out[i] = (uint8_t)(ch + ((unsigned)(ch - 'A') < 26u ? 32u : 0u));
        }
        return;
    }
    for (size_t i = 0; i + 8 <= len; i += 8) {
        memcpy(&w, name + i, 8);
        w = sr_fold8(w);
        memcpy(out + i, &w, 8);
    }
    /* The last, partial word: fold the final eight bytes again, which
     * rewrites a few folded ones with the same values. */
    memcpy(&w, name + len - 8, 8);
    w = sr_fold8(w);
    memcpy(out + len - 8, &w, 8);
}

static void key_make(const cache_t *c, ckey_t *k, const uint8_t *name, size_t len, uint16_t qtype,
                     uint16_t qclass, bool do_bit, bool cd)
{
    fold_name(k->buf, name, len);
    k->name_len = len;
    k->qtype = qtype;
    k->qclass = qclass;
    k->bits = (uint8_t)((do_bit ? KEY_DO : 0u) | (cd ? KEY_CD : 0u));
    sr_put16(k->buf + len, qtype);
    sr_put16(k->buf + len + 2, qclass);
    k->buf[len + 4] = k->bits;
    memset(k->buf + len + KEY_TAIL, 0, KEY_PAD); /* key_hash reads whole blocks */
    k->hash = key_hash(c->k, k->buf, len + KEY_TAIL);
}

static inline shard_t *shard_of(const cache_t *c, uint64_t hash)
{
    /* The low bits pick the bucket; bits from the upper half the shard. */
    return c->shards[(size_t)(hash >> 32) & (c->nshards - 1u)];
}

static inline uint8_t *entry_img(centry_t *e)
{
    return (uint8_t *)(e->ttl_off + e->nttl);
}

static inline bool entry_is(const centry_t *e, const ckey_t *k)
{
    return e->hash == (uint32_t)k->hash && e->qtype == k->qtype && e->qclass == k->qclass &&
           e->bits == k->bits && e->name_len == k->name_len &&
           memcmp(entry_cimg(e) + SR_HEADER_LEN, k->buf, k->name_len) == 0;
}

/* ------------------------------------------------------------------ */
/* Shard tables (all called with the shard locked) */

static centry_t *shard_find(const shard_t *s, const ckey_t *k)
{
    centry_t *e = s->buckets[k->hash & s->mask];
    while (e != NULL && !entry_is(e, k))
        e = e->hnext;
    return e;
}

static void lru_unlink(shard_t *s, centry_t *e)
{
    SR_LIST_UNLINK_TAIL(s->head, s->tail, e, lru_prev, lru_next);
}

static void lru_push_head(shard_t *s, centry_t *e)
{
    SR_LIST_PUSH_HEAD(s->head, s->tail, e, lru_prev, lru_next);
}

static inline void lru_touch(shard_t *s, centry_t *e)
{
    if (s->head != e) {
        lru_unlink(s, e);
        lru_push_head(s, e);
    }
}

/* Take e out of the table and the LRU list and push it on *dead, to be
 * freed once the lock is released. */
static void shard_remove(shard_t *s, centry_t *e, centry_t **dead)
{
    centry_t **pp = &s->buckets[e->hash & s->mask];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(s, e);
    if (e->pslot != 0)
        cache_pop_forget(s->pop, e);
    s->count--;
    s->bytes -= e->charge;
    e->hnext = *dead;
    *dead = e;
}

static void free_dead(centry_t *dead)
{
    while (dead != NULL) {
        centry_t *next = dead->hnext;
        sr_free(dead);
        dead = next;
    }
}

/* Past every use: expired, and not kept for serve-stale. SERVFAIL entries
 * have nothing to serve stale. */
static bool entry_dead(const shard_t *s, const centry_t *e, uint32_t now)
{
    if (now < e->expire)
        return false;
    if (!s->cfg.serve_stale || e->rcode == RCODE_SERVFAIL)
        return true;
    return (uint64_t)now >= (uint64_t)e->expire + s->cfg.stale_max;
}

/* Evict from the LRU tail until the shard is within its budget. */
static void shard_shrink(shard_t *s, uint32_t now, centry_t **dead)
{
    while (s->bytes > s->max_bytes && s->tail != NULL) {
        centry_t *e = s->tail;
        if (entry_dead(s, e, now))
            s->expired++;
        else
            s->evictions++;
        shard_remove(s, e, dead);
    }
}

/* Double the bucket array when the load passes 1. A failed allocation
 * only leaves the chains longer. */
static void shard_grow(shard_t *s)
{
    size_t n = s->mask + 1;
    if (s->count <= n || n >= CACHE_MAX_BUCKETS)
        return;
    centry_t **nb = sr_calloc(n * 2, sizeof(*nb));
    if (nb == NULL)
        return;
    size_t nmask = n * 2 - 1;
    for (size_t i = 0; i < n; i++) {
        centry_t *e = s->buckets[i];
        while (e != NULL) {
            centry_t *next = e->hnext;
            e->hnext = nb[e->hash & nmask];
            nb[e->hash & nmask] = e;
            e = next;
        }
    }
    sr_free(s->buckets);
    s->buckets = nb;
    s->mask = nmask;
}

/* ------------------------------------------------------------------ */
/* Rendering, shared by hits and fresh responses */

/* What render() copies: header + question + records, no OPT. */
typedef struct image {
    const uint8_t *p;
    size_t len;
    uint16_t an, ns, ar;
    const uint16_t *ttl_off;
    size_t nttl;
    unsigned rcode; /* may be extended (> 15) for fresh responses */
    bool ad;
    bool tc;            /* a fresh response that came truncated */
    bool keep_question; /* a fresh response whose names take a pointer
                           from the question: leave its case as it came */
} image_t;

/* The reply to q made from im: TTLs counted down by elapsed, or all set to
 * *fixed_ttl (stale answers). The caller guarantees that im's question has
 * q's name length and that every TTL offset lies inside im->len. Returns
 * the length, 0 when even the truncated reply does not fit cap. */
static size_t render(const image_t *im, const cache_query_t *q, uint32_t elapsed,
                     const uint32_t *fixed_ttl, uint8_t *out, size_t cap)
{
    size_t qend = SR_HEADER_LEN + q->qname_len + QFIXED;
    size_t opt = q->edns ? OPT_LEN : 0;
    size_t limit = q->max_len < 512 ? 512 : q->max_len;
    size_t len = im->len;
    bool tc = false;

    if (len + opt > limit) {
        /* RFC 2181 9: rather than a partial RRset, an empty reply with TC
         * set so the client asks again over TCP. */
        tc = true;
        len = qend;
    }
    if (len + opt > cap || len < qend)
        return 0;
    memcpy(out, im->p, len);

    uint16_t flags = (uint16_t)(SR_FLAG_QR | SR_FLAG_RA | (q->flags & (SR_FLAG_RD | SR_FLAG_CD)) |
                                (im->rcode & 0xFu));
    /* RFC 6840 5.8: AD only to a client that asked for it with AD or DO. */
    if (im->ad && ((q->flags & SR_FLAG_AD) != 0 || q->do_bit))
        flags |= SR_FLAG_AD;
    if (tc || im->tc)
        flags |= SR_FLAG_TC;
    sr_put16(out, q->id);
    sr_put16(out + 2, flags);
    sr_put16(out + 4, 1);
    sr_put16(out + 6, tc ? 0 : im->an);
    sr_put16(out + 8, tc ? 0 : im->ns);
    sr_put16(out + 10, (uint16_t)((tc ? 0 : im->ar) + (opt != 0 ? 1 : 0)));
    if (!im->keep_question || tc)
        memcpy(out + SR_HEADER_LEN, q->qname, q->qname_len);

    if (!tc) {
        if (fixed_ttl != NULL) {
            for (size_t i = 0; i < im->nttl; i++)
                sr_put32(out + im->ttl_off[i], *fixed_ttl);
        } else if (elapsed != 0) {
            for (size_t i = 0; i < im->nttl; i++) {
                uint8_t *p = out + im->ttl_off[i];
                uint32_t t = sr_get32(p);
                sr_put32(p, t > elapsed ? t - elapsed : 0);
            }
        }
    }
    if (opt != 0) {
        /* RFC 6891 6.1.2: root owner, TYPE 41, CLASS = our UDP size, TTL =
         * extended RCODE, version 0, DO copied from the client, no RDATA. */
        uint8_t *o = out + len;
        o[0] = 0;
        sr_put16(o + 1, SR_TYPE_OPT);
        sr_put16(o + 3, CACHE_EDNS_UDP_SIZE);
        o[5] = (uint8_t)(im->rcode >> 4);
        o[6] = 0;
        sr_put16(o + 7, q->do_bit ? 0x8000u : 0u);
        sr_put16(o + 9, 0);
    }
    return len + opt;
}

static void entry_image(const centry_t *e, image_t *im)
{
    const uint8_t *img = entry_cimg(e);
    im->p = img;
    im->len = e->img_len;
    im->an = sr_get16(img + 6);
    im->ns = sr_get16(img + 8);
    im->ar = sr_get16(img + 10);
    im->ttl_off = e->ttl_off;
    im->nttl = e->nttl;
    im->rcode = e->rcode;
    im->ad = (e->flags & E_AD) != 0;
    im->tc = false;            /* truncated responses are never stored */
    im->keep_question = false; /* cache_store made sure it need not */
}

size_t cache_entry_render(const centry_t *e, const cache_query_t *q, uint32_t elapsed,
                          const uint32_t *fixed_ttl, uint8_t *out, size_t cap)
{
    image_t im;
    entry_image(e, &im);
    return render(&im, q, elapsed, fixed_ttl, out, cap);
}

/* ------------------------------------------------------------------ */
/* Storing */

static centry_t *entry_alloc(const ckey_t *k, size_t nttl, size_t img_len)
{
    size_t size = sizeof(centry_t) + nttl * sizeof(uint16_t) + img_len;
    centry_t *e = sr_malloc(size);
    if (e == NULL)
        return NULL;
    memset(e, 0, sizeof(*e));
    e->hash = (uint32_t)k->hash;
    e->qtype = k->qtype;
    e->qclass = k->qclass;
    e->bits = k->bits;
    e->name_len = (uint8_t)k->name_len;
    e->nttl = (uint16_t)nttl;
    e->img_len = (uint16_t)img_len;
    e->charge = (uint32_t)(size + CACHE_ENTRY_OVERHEAD);
    return e;
}

/* Insert e (expire and ttl set, except for failures, whose TTL comes from
 * the shard's settings). Replaces an entry of the same key, except that a
 * failure never replaces usable data: a fresh entry stays as it is, an
 * entry in its serve-stale window gets the failure recheck timer instead.
 * Takes e in every case. */
static bool shard_insert(shard_t *s, centry_t *e, const ckey_t *k, uint32_t now, bool failure)
{
    centry_t *dead = NULL;
    bool stored = false;

    shard_lock(s);
    centry_t *old = shard_find(s, k);
    if (failure) {
        uint32_t ttl = s->cfg.servfail_ttl;
        if (old != NULL && old->rcode != RCODE_SERVFAIL) {
            if (now < old->expire) {
                e->hnext = dead;
                dead = e;
                goto done;
            }
            if (!entry_dead(s, old, now) && ttl > 0) {
                old->fail_until = add_sat(now, ttl);
                e->hnext = dead;
                dead = e;
                stored = true;
                goto done;
            }
        }
        e->ttl = ttl;
        e->expire = add_sat(now, ttl);
    }
    if (e->ttl == 0 || e->charge > s->max_bytes) {
        e->hnext = dead;
        dead = e;
        goto done;
    }
    if (old != NULL) {
        /* A refresh keeps the name's place among the popular ones. */
        if (old->pslot != 0)
            cache_pop_replace(s->pop, old, e);
        shard_remove(s, old, &dead);
    }
    centry_t **b = &s->buckets[e->hash & s->mask];
    e->hnext = *b;
    *b = e;
    lru_push_head(s, e);
    s->count++;
    s->bytes += e->charge;
    s->inserts++;
    shard_shrink(s, now, &dead);
    shard_grow(s);
    stored = true;
done:
    shard_unlock(s);
    free_dead(dead);
    return stored;
}

/* A SERVFAIL entry: header + question, no records. */
static bool store_failure_key(cache_t *c, const ckey_t *k, uint32_t now)
{
    shard_t *s = shard_of(c, k->hash);
    centry_t *e = entry_alloc(k, 0, SR_HEADER_LEN + k->name_len + QFIXED);
    if (e == NULL)
        return false;
    uint8_t *img = entry_img(e);
    memset(img, 0, SR_HEADER_LEN);
    sr_put16(img + 4, 1);
    memcpy(img + SR_HEADER_LEN, k->buf, k->name_len + QFIXED);
    e->rcode = RCODE_SERVFAIL;
    e->stored = now;
    return shard_insert(s, e, k, now, true);
}

bool cache_store_failure(cache_t *c, const uint8_t *qname, size_t qname_len, uint16_t qtype,
                         uint16_t qclass, bool do_bit, bool cd, uint32_t now)
{
    ckey_t k;
    if (c == NULL || !name_len_ok(qname, qname_len))
        return false;
    key_make(c, &k, qname, qname_len, qtype, qclass, do_bit, cd);
    return store_failure_key(c, &k, now);
}

/* cache_store, or with expired_ago != 0 (cache_store_stale) an entry whose
 * TTL ran out that long ago. */
static bool store_response(cache_t *c, const uint8_t *qname, size_t qname_len, uint16_t qtype,
                           uint16_t qclass, bool do_bit, bool cd, const sr_msg_t *resp,
                           uint32_t now, uint32_t expired_ago)
{
    ckey_t k;
    cache_cfg_t cfg;
    scan_t sc;
    size_t rqlen = 0;

    if (c == NULL || resp == NULL || !name_len_ok(qname, qname_len))
        return false;
    uint16_t flags = sr_msg_flags(resp);
    unsigned rcode = sr_msg_rcode(resp);
    if ((flags & SR_FLAG_QR) == 0 || (flags & SR_FLAG_TC) != 0 || sr_msg_opcode(resp) != 0)
        return false;
    if (rcode != RCODE_NOERROR && rcode != RCODE_NXDOMAIN && rcode != RCODE_SERVFAIL)
        return false;
    const uint8_t *rq = sr_msg_qname_wire(resp, &rqlen);
    if (sr_msg_qdcount(resp) != 1 || rq == NULL || !sr_name_equal(rq, rqlen, qname, qname_len) ||
        sr_msg_qtype(resp) != qtype || sr_msg_qclass(resp) != qclass)
        return false;

    key_make(c, &k, qname, qname_len, qtype, qclass, do_bit, cd);
    if (rcode == RCODE_SERVFAIL)
        return store_failure_key(c, &k, now);

    shard_t *s = shard_of(c, k.hash);
    shard_lock(s);
    cfg = s->cfg;
    shard_unlock(s);
    if (cfg.max_bytes == 0 || !cache_image_scan(resp, qname_len, &sc))
        return false;

    bool negative = rcode == RCODE_NXDOMAIN || !cache_image_answers_qtype(resp, sc.count[0], qtype);
    uint32_t neg = 0;
    size_t soa = SIZE_MAX;
    if (negative) {
        /* RFC 2308 5: without an SOA there is no TTL to bound a negative
         * answer, so it is not cached at all. */
        soa = cache_image_negative_ttl(resp, &sc, &cfg, &neg);
        if (soa == SIZE_MAX || neg == 0)
            return false;
    }

    centry_t *e = entry_alloc(&k, sc.keep, sc.img_end);
    if (e == NULL)
        return false;
    size_t wlen = 0;
    const uint8_t *wire = sr_msg_wire(resp, &wlen);
    uint8_t *img = entry_img(e);
    memcpy(img, wire, sc.img_end);
    memcpy(img + SR_HEADER_LEN, k.buf, qname_len);
    sr_put16(img + 4, 1);
    sr_put16(img + 6, sc.count[0]);
    sr_put16(img + 8, sc.count[1]);
    sr_put16(img + 10, sc.count[2]);

    for (size_t i = 0; i < sc.keep; i++) {
        const sr_rr_t *rr = sr_msg_rr(resp, i);
        e->ttl_off[i] = (uint16_t)rr->ttl_offset;
        sr_put32(img + rr->ttl_offset, cache_image_ttl_clamp(rr->ttl, &cfg));
    }
    cache_image_equalise(resp, img, sc.img_end, e->ttl_off, sc.keep);
    uint32_t ttl = UINT32_MAX;
    for (size_t i = 0; i < sc.keep; i++) {
        uint8_t *p = img + e->ttl_off[i];
        uint32_t t = sr_get32(p);
        /* RFC 2308 3: the SOA of a negative answer carries the negative
         * TTL and counts down with it; nothing in it outlives it. */
        if (negative) {
            t = i == soa ? neg : min_u32(t, neg);
            sr_put32(p, t);
        }
        ttl = min_u32(ttl, t);
    }
    if (sc.keep == 0)
        ttl = 0;
    size_t qname_end = SR_HEADER_LEN + qname_len;
    if (ttl != 0 &&
        cache_image_names_may_read(img, sc.img_end, qname_end, e->ttl_off, sc.keep) != 0 &&
        !cache_image_names_fixed(img, sc.img_end, qname_end, e->ttl_off, sc.keep))
        ttl = 0; /* names spelt by bytes a reply rewrites: not cached */
    e->ttl = ttl;
    e->stored = now;
    e->expire = add_sat(now, ttl);
    e->rcode = (uint8_t)rcode;
    e->flags = (flags & SR_FLAG_AD) != 0 ? E_AD : 0;
    if (expired_ago != 0 && ttl != 0) {
        /* Only where the clock reaches back that far: an expiry set later
         * than the real one would serve it beyond stale_max. */
        if (expired_ago > now || expired_ago >= cfg.stale_max || !cfg.serve_stale) {
            sr_free(e);
            return false;
        }
        e->expire = now - expired_ago;
        e->stored = e->expire > ttl ? e->expire - ttl : 0;
    }
    return shard_insert(s, e, &k, now, false);
}

bool cache_store(cache_t *c, const uint8_t *qname, size_t qname_len, uint16_t qtype,
                 uint16_t qclass, bool do_bit, bool cd, const sr_msg_t *resp, uint32_t now)
{
    return store_response(c, qname, qname_len, qtype, qclass, do_bit, cd, resp, now, 0);
}

bool cache_store_stale(cache_t *c, const uint8_t *qname, size_t qname_len, uint16_t qtype,
                       uint16_t qclass, bool do_bit, bool cd, const sr_msg_t *resp, uint32_t now,
                       uint32_t expired_ago)
{
    if (expired_ago == 0)
        return false;
    return store_response(c, qname, qname_len, qtype, qclass, do_bit, cd, resp, now, expired_ago);
}

/* ------------------------------------------------------------------ */
/* Lookups */

cache_result_t cache_lookup(cache_t *c, const cache_query_t *q, uint32_t now, bool allow_stale,
                            uint8_t *out, size_t cap, size_t *outlen)
{
    ckey_t k;
    image_t im;
    cache_result_t res = CACHE_HIT;
    uint32_t elapsed = 0;
    uint32_t stale_ttl = 0;
    const uint32_t *fixed = NULL;
    centry_t *dead = NULL;
    size_t n = 0;

    if (outlen != NULL)
        *outlen = 0;
    if (c == NULL || q == NULL || out == NULL || !name_len_ok(q->qname, q->qname_len))
        return CACHE_MISS;
    key_make(c, &k, q->qname, q->qname_len, q->qtype, q->qclass, q->do_bit,
             (q->flags & SR_FLAG_CD) != 0);
    shard_t *s = shard_of(c, k.hash);

    shard_lock(s);
    centry_t *e = shard_find(s, &k);
    if (e == NULL)
        goto miss;
    if (now < e->expire) {
        elapsed = now > e->stored ? now - e->stored : 0;
    } else if (entry_dead(s, e, now)) {
        s->expired++;
        shard_remove(s, e, &dead);
        goto miss;
    } else if (allow_stale || now < e->fail_until) {
        /* RFC 8767 4: stale data goes out with a short TTL. */
        stale_ttl = s->cfg.stale_reply_ttl;
        fixed = &stale_ttl;
        res = CACHE_STALE;
    } else {
        goto miss;
    }
    entry_image(e, &im);
    n = render(&im, q, elapsed, fixed, out, cap);
    if (n == 0)
        goto miss;
    lru_touch(s, e);
    if (res == CACHE_STALE) {
        s->stale_hits++;
    } else {
        s->hits++;
        if (e->hits < UINT16_MAX)
            e->hits++;
        if (s->pop != NULL)
            cache_pop_count(s->pop, e, k.hash);
        /* Prefetch (Unbound's rule): a popular entry with less than a
         * tenth of its TTL left is refreshed while it can still answer. */
        if (s->cfg.prefetch && (e->flags & E_PREFETCHED) == 0 && e->rcode != RCODE_SERVFAIL &&
            e->hits >= CACHE_PREFETCH_MIN_HITS &&
            (uint64_t)(e->expire - now) * CACHE_PREFETCH_DIVISOR <= e->ttl) {
            e->flags |= E_PREFETCHED;
            res = CACHE_HIT_PREFETCH;
        }
    }
    shard_unlock(s);
    if (outlen != NULL)
        *outlen = n;
    return res;
miss:
    s->misses++;
    shard_unlock(s);
    free_dead(dead);
    return CACHE_MISS;
}

size_t cache_export(cache_t *c, const uint8_t *qname, size_t qname_len, uint16_t qtype,
                    uint16_t qclass, bool do_bit, bool cd, uint32_t now, uint8_t *out, size_t cap,
                    uint32_t *ttl_left)
{
    ckey_t k;
    size_t n = 0;

    *ttl_left = 0;
    if (c == NULL || !name_len_ok(qname, qname_len))
        return 0;
    key_make(c, &k, qname, qname_len, qtype, qclass, do_bit, cd);
    shard_t *s = shard_of(c, k.hash);
    shard_lock(s);
    centry_t *e = shard_find(s, &k);
    if (e != NULL && now < e->expire && e->rcode != RCODE_SERVFAIL && e->ttl != 0 &&
        e->img_len <= cap) {
        cache_entry_copy_out(e, now, out);
        n = e->img_len;
        *ttl_left = e->expire - now;
    }
    shard_unlock(s);
    return n;
}

size_t cache_render(const sr_msg_t *resp, const cache_query_t *q, uint8_t *out, size_t cap)
{
    uint8_t qbuf[SR_HEADER_LEN + SR_NAME_MAX_WIRE + QFIXED];
    image_t im;
    scan_t sc;
    size_t rqlen = 0;
    size_t wlen = 0;

    if (resp == NULL || q == NULL || out == NULL || !name_len_ok(q->qname, q->qname_len))
        return 0;
    const uint8_t *wire = sr_msg_wire(resp, &wlen);
    uint16_t flags = sr_msg_flags(resp);
    memset(&im, 0, sizeof(im));
    im.rcode = sr_msg_rcode(resp);
    im.ad = (flags & SR_FLAG_AD) != 0;
    /* A truncated answer stays marked as one (RFC 2181 9), so the client
     * does not take the part for the whole. */
    im.tc = (flags & SR_FLAG_TC) != 0;

    if (sr_msg_qdcount(resp) == 0) {
        /* FORMERR, REFUSED and the like may come without a question: the
         * client gets its own question back and the RCODE. */
        memset(qbuf, 0, SR_HEADER_LEN);
        memcpy(qbuf + SR_HEADER_LEN, q->qname, q->qname_len);
        sr_put16(qbuf + SR_HEADER_LEN + q->qname_len, q->qtype);
        sr_put16(qbuf + SR_HEADER_LEN + q->qname_len + 2, q->qclass);
        im.p = qbuf;
        im.len = SR_HEADER_LEN + q->qname_len + QFIXED;
        return render(&im, q, 0, NULL, out, cap);
    }
    const uint8_t *rq = sr_msg_qname_wire(resp, &rqlen);
    if (sr_msg_qdcount(resp) != 1 || rq == NULL || wire == NULL ||
        !sr_name_equal(rq, rqlen, q->qname, q->qname_len) || sr_msg_qtype(resp) != q->qtype ||
        sr_msg_qclass(resp) != q->qclass || !cache_image_scan(resp, q->qname_len, &sc))
        return 0;
    im.p = wire;
    im.len = sc.img_end;
    /* See cache_image_names_may_read(). Names that read past the records
     * (into the OPT record we replace) cannot be sent without it: no
     * rendering.
     * Names that take a pointer from the question would move with the
     * client's case: the question stays as the upstream wrote it. */
    unsigned reads =
        cache_image_names_may_read(wire, sc.img_end, SR_HEADER_LEN + q->qname_len, NULL, 0);
    if ((reads & READS_END) != 0)
        return 0;
    im.keep_question =
        (reads & READS_QPTR) != 0 && memcmp(wire + SR_HEADER_LEN, q->qname, q->qname_len) != 0;
    im.an = sc.count[0];
    im.ns = sc.count[1];
    im.ar = sc.count[2];
    return render(&im, q, 0, NULL, out, cap);
}

/* ------------------------------------------------------------------ */
/* Life cycle, settings, maintenance */

static size_t shard_budget(const cache_t *c, const cache_cfg_t *cfg)
{
    return cfg->max_bytes / c->nshards;
}

static unsigned pick_shards(const cache_cfg_t *cfg)
{
    unsigned n = CACHE_MAX_SHARDS;
    if (cfg->shards != 0) {
        while (n > cfg->shards)
            n >>= 1;
        return n;
    }
    while (n > 1 && cfg->max_bytes / n < CACHE_SHARD_MIN_BYTES)
        n >>= 1;
    return n;
}

cache_t *cache_new(const cache_cfg_t *cfg)
{
    uint8_t seed[32];
    cache_t *c = NULL;

    if (cfg == NULL)
        return NULL;
    c = sr_calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    if (pthread_mutex_init(&c->bucket_lock, NULL) != 0) {
        sr_free(c);
        return NULL;
    }
    if (!sr_random_bytes(seed, sizeof(seed)))
        goto fail;
    for (size_t i = 0; i < 4; i++)
        c->k[i] = sr_load64le(seed + 8 * i);
    c->nshards = pick_shards(cfg);
    for (unsigned i = 0; i < c->nshards; i++) {
        shard_t *s = sr_calloc(1, sizeof(*s));
        if (s == NULL)
            goto fail;
        s->buckets = sr_calloc(CACHE_INITIAL_BUCKETS, sizeof(*s->buckets));
        if (s->buckets == NULL || pthread_mutex_init(&s->lock, NULL) != 0) {
            sr_free(s->buckets);
            sr_free(s);
            goto fail;
        }
        s->mask = CACHE_INITIAL_BUCKETS - 1;
        s->cfg = *cfg;
        s->max_bytes = shard_budget(c, cfg);
        c->shards[i] = s;
    }
    cache_set_cfg(c, cfg);
    for (unsigned i = 0; i < c->nshards; i++)
        if (cfg->prefetch_popular > 0 && c->shards[i]->pop == NULL)
            goto fail;
    return c;
fail:
    cache_free(c);
    return NULL;
}

void cache_free(cache_t *c)
{
    if (c == NULL)
        return;
    for (unsigned i = 0; i < CACHE_MAX_SHARDS; i++) {
        shard_t *s = c->shards[i];
        if (s == NULL)
            continue;
        centry_t *e = s->head;
        while (e != NULL) {
            centry_t *next = e->lru_next;
            sr_free(e);
            e = next;
        }
        sr_free(s->buckets);
        sr_free(s->pop);
        pthread_mutex_destroy(&s->lock);
        sr_free(s);
    }
    pthread_mutex_destroy(&c->bucket_lock);
    sr_free(c);
}

void cache_set_cfg(cache_t *c, const cache_cfg_t *cfg)
{
    if (c == NULL || cfg == NULL)
        return;
    unsigned cap = cache_pop_cap(cfg->prefetch_popular, c->nshards);
    pthread_mutex_lock(&c->bucket_lock);
    c->popular_n = cfg->prefetch_popular;
    c->rate = cfg->prefetch_rate;
    pthread_mutex_unlock(&c->bucket_lock);
    for (unsigned i = 0; i < c->nshards; i++) {
        shard_t *s = c->shards[i];
        centry_t *dead = NULL;
        /* The counts are allocated here, never on a lookup; a new size
         * starts them again. */
        popular_t *fresh = NULL, *old = NULL;
        shard_lock(s);
        bool same = cap == (s->pop != NULL ? s->pop->cap : 0u);
        shard_unlock(s);
        if (!same && cap > 0)
            fresh = cache_pop_new(cap);
        shard_lock(s);
        if (!same && (cap == 0 || fresh != NULL)) {
            old = s->pop;
            for (unsigned j = 0; old != NULL && j < old->cap; j++)
                if (old->slot[j].e != NULL)
                    old->slot[j].e->pslot = 0;
            s->pop = fresh;
            fresh = NULL;
        }
        s->cfg = *cfg;
        s->max_bytes = shard_budget(c, cfg);
        /* Evict the LRU way; the clock is not known here, so nothing is
         * counted as expired. */
        shard_shrink(s, 0, &dead);
        shard_unlock(s);
        free_dead(dead);
        sr_free(old);
        sr_free(fresh);
    }
}

/* cache_flush (subtree false) and cache_flush_below (true). */
static size_t flush_names(cache_t *c, const uint8_t *name, size_t name_len, bool subtree)
{
    uint8_t lname[SR_NAME_MAX_WIRE];
    size_t dropped = 0;

    if (c == NULL)
        return 0;
    if (name != NULL) {
        if (!name_len_ok(name, name_len))
            return 0;
        fold_name(lname, name, name_len);
    }
    for (unsigned i = 0; i < c->nshards; i++) {
        shard_t *s = c->shards[i];
        centry_t *dead = NULL;
        shard_lock(s);
        centry_t *e = s->head;
        while (e != NULL) {
            centry_t *next = e->lru_next;
            const uint8_t *en = entry_cimg(e) + SR_HEADER_LEN;
            if (name == NULL ||
                (subtree ? sr_name_below(en, e->name_len, lname, name_len)
                         : (e->name_len == name_len && memcmp(en, lname, name_len) == 0))) {
                shard_remove(s, e, &dead);
                dropped++;
            }
            e = next;
        }
        shard_unlock(s);
        free_dead(dead);
    }
    return dropped;
}

size_t cache_flush(cache_t *c, const uint8_t *name, size_t name_len)
{
    return flush_names(c, name, name_len, false);
}

size_t cache_flush_below(cache_t *c, const uint8_t *name, size_t name_len)
{
    return flush_names(c, name, name_len, true);
}

void cache_stats(const cache_t *c, cache_stats_t *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof(*out));
    if (c == NULL)
        return;
    for (unsigned i = 0; i < c->nshards; i++) {
        shard_t *s = c->shards[i];
        shard_lock(s);
        out->hits += s->hits;
        out->misses += s->misses;
        out->stale_hits += s->stale_hits;
        out->evictions += s->evictions;
        out->expired += s->expired;
        out->inserts += s->inserts;
        out->entries += s->count;
        out->bytes += s->bytes;
        shard_unlock(s);
    }
}
