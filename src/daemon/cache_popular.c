/* stubresd: popular-name prefetch (prefetch_popular; see cache.h).
 *
 * Counting: every hit of a shard adds one to POP_DEPTH counters of that
 * shard's count-min sketch, picked by the key's hash
 * (already computed for the lookup), and takes their least as the key's
 * count: an estimate that is never below the true count and, for the few
 * names that matter here, close to it. All counters are halved every
 * POP_HALVE_S seconds, so a count is a decayed one and memory is fixed
 * whatever the number of names (TinyLFU's "reset", Einziger et al.).
 * A miss is not counted: the forwarder renders the answer for each client
 * that waited for it with a lookup of the entry just stored, and that hit
 * counts the ask (and only it: a refresh has no one waiting).
 *
 * Candidates: each shard keeps up to cap entries with the highest counts
 * in an array; an entry knows its slot (pslot), so a hit on a listed
 * entry updates it in O(1), and only a name whose count passes the least
 * listed one scans the array. Leaving the shard frees the slot; a refresh
 * hands it to the new entry. cap is twice a shard's share of N and some:
 * the hash spreads names evenly, so a shard rarely holds more of the
 * daemon's top N than that.
 *
 * Cost on a hit: four multiplies and four counter updates, a compare or
 * two (bench/hit_ir.sh measures it); nothing at all when off. */
#include "config.h"

#include <string.h>

#include "cache-internal.h"
#include "cache.h"
#include "codec-internal.h"

/* Odd multipliers: each row takes the top POP_WIDTH_LOG bits of hash
 * times its own (multiplicative hashing, Knuth 6.4). */
static const uint64_t row_mult[POP_DEPTH] = {
    0x9E3779B97F4A7C15ull,
    0xC2B2AE3D27D4EB4Full,
    0x165667B19E3779F9ull,
    0xD6E8FEB86659FD93ull,
};

unsigned cache_pop_cap(unsigned n, unsigned nshards)
{
    if (n == 0 || nshards == 0)
        return 0;
    unsigned share = (n + nshards - 1) / nshards;
    unsigned cap = 2 * share + 8;
    return cap < n ? cap : n;
}

popular_t *cache_pop_new(unsigned cap)
{
    if (cap == 0)
        return NULL;
    popular_t *p = sr_calloc(1, sizeof(*p) + (size_t)cap * sizeof(p->slot[0]));
    if (p == NULL)
        return NULL;
    p->cap = cap;
    return p;
}

/* The least count of a listed entry and its slot (cap when none). */
static unsigned least_slot(const popular_t *p, uint32_t *least)
{
    unsigned at = p->cap;
    *least = UINT32_MAX;
    for (unsigned i = 0; i < p->cap; i++) {
        if (p->slot[i].e == NULL)
            continue;
        if (p->slot[i].est < *least) {
            *least = p->slot[i].est;
            at = i;
        }
    }
    return at;
}

static void put(popular_t *p, unsigned i, centry_t *e, uint32_t est)
{
    p->slot[i].e = e;
    p->slot[i].est = est;
    e->pslot = (uint16_t)(i + 1);
}

void cache_pop_count(popular_t *p, centry_t *e, uint64_t hash)
{
    uint32_t est = UINT32_MAX;

    for (unsigned r = 0; r < POP_DEPTH; r++) {
        uint16_t *ctr = &p->cms[r][(hash * row_mult[r]) >> (64 - POP_WIDTH_LOG)];
        if (*ctr < UINT16_MAX)
            (*ctr)++;
        if (*ctr < est)
            est = *ctr;
    }
    if (e->pslot != 0) {
        p->slot[e->pslot - 1].est = est;
        return;
    }
    if (est < POP_MIN_COUNT || (p->used == p->cap && est <= p->min_est))
        return;
    if (p->used < p->cap) {
        for (unsigned i = 0; i < p->cap; i++) {
            if (p->slot[i].e == NULL) {
                put(p, i, e, est);
                p->used++;
                break;
            }
        }
        if (p->used == p->cap)
            least_slot(p, &p->min_est);
        return;
    }
    /* Full: e takes the place of the least-asked listed entry, if it was
     * asked more. */
    uint32_t least;
    unsigned at = least_slot(p, &least);
    if (at < p->cap && least < est) {
        p->slot[at].e->pslot = 0;
        put(p, at, e, est);
        least_slot(p, &least);
    }
    p->min_est = least;
}

void cache_pop_forget(popular_t *p, centry_t *e)
{
    if (p == NULL || e->pslot == 0 || e->pslot > p->cap)
        return;
    p->slot[e->pslot - 1].e = NULL;
    p->used--;
    p->min_est = 0;
    e->pslot = 0;
}

void cache_pop_replace(popular_t *p, centry_t *old, centry_t *e)
{
    if (p == NULL || old->pslot == 0 || old->pslot > p->cap)
        return;
    unsigned i = old->pslot - 1u;
    old->pslot = 0;
    put(p, i, e, p->slot[i].est);
}

/* Halve every count once POP_HALVE_S have passed since the last time. */
static void decay(popular_t *p, uint32_t now)
{
    if (!p->clock_seen) {
        /* Made where the clock is not known (cache_set_cfg). */
        p->clock_seen = true;
        p->halved_at = now;
    }
    if (now - p->halved_at < POP_HALVE_S)
        return;
    p->halved_at = now;
    for (unsigned r = 0; r < POP_DEPTH; r++)
        for (unsigned i = 0; i < POP_WIDTH; i++)
            p->cms[r][i] >>= 1;
    for (unsigned i = 0; i < p->cap; i++)
        p->slot[i].est >>= 1;
    p->min_est = 0;
}

/* Whether listed entry e is to be refreshed at now: in its window, asked
 * since it was stored, not a SERVFAIL, not refreshed yet. */
static bool due(const centry_t *e, uint32_t now)
{
    if (now >= e->expire || e->hits == 0 || e->rcode == RCODE_SERVFAIL ||
        (e->flags & E_PREFETCHED) != 0)
        return false;
    uint32_t window = e->ttl / CACHE_PREFETCH_DIVISOR;
    if (window < POP_WINDOW_MIN_S)
        window = POP_WINDOW_MIN_S;
    return e->expire - now <= window;
}

/* The k-th largest of v[0..n) (k < n), v reordered: Hoare's selection,
 * linear on average (a sort cost ten times more per tick). */
static uint32_t kth_largest(uint32_t *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint32_t pivot = v[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] > pivot)
                i++;
            while (v[j] < pivot)
                j--;
            if (i <= j) {
                uint32_t tmp = v[i];
                v[i] = v[j];
                v[j] = tmp;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return v[k];
    }
    return v[k];
}

/* Decay each shard's counts, then find the count the N-th most-asked
 * listed entry has (threshold) and how many listed entries with exactly
 * that count still belong to the top N (*at_threshold): one pass, one
 * lock per shard. A threshold of POP_MIN_COUNT when fewer are listed. */
static uint32_t threshold(cache_t *c, uint32_t now, unsigned n, unsigned *at_threshold)
{
    size_t total = (size_t)cache_pop_cap(n, c->nshards) * c->nshards, k = 0;
    uint32_t t = POP_MIN_COUNT;

    *at_threshold = UINT32_MAX;
    /* NULL (out of memory, or no more than n slots): no threshold but
     * POP_MIN_COUNT, this time. */
    uint32_t *counts = total > n ? sr_malloc(total * sizeof(*counts)) : NULL;
    for (unsigned i = 0; i < c->nshards; i++) {
        shard_t *s = c->shards[i];
        shard_lock(s);
        popular_t *p = s->pop;
        if (p != NULL)
            decay(p, now);
        for (unsigned j = 0; p != NULL && counts != NULL && j < p->cap && k < total; j++)
            if (p->slot[j].e != NULL)
                counts[k++] = p->slot[j].est;
        shard_unlock(s);
    }
    if (total > n && counts == NULL)
        return UINT32_MAX; /* out of memory: nothing this time */
    if (k > n) {
        uint32_t nth = kth_largest(counts, k, n - 1);
        t = nth > POP_MIN_COUNT ? nth : POP_MIN_COUNT;
        unsigned above = 0;
        for (size_t j = 0; j < k; j++)
            above += counts[j] > t;
        *at_threshold = n > above ? n - above : 0;
    }
    sr_free(counts);
    return t;
}

/* Take one token; false when the bucket is empty. */
static bool take_token(cache_t *c)
{
    bool ok;
    pthread_mutex_lock(&c->bucket_lock);
    ok = c->bucket_milli >= 1000;
    if (ok)
        c->bucket_milli -= 1000;
    pthread_mutex_unlock(&c->bucket_lock);
    return ok;
}

static void refill(cache_t *c, uint64_t now_ms, unsigned *n)
{
    pthread_mutex_lock(&c->bucket_lock);
    uint64_t full = (uint64_t)c->rate * 1000;
    if (now_ms > c->bucket_ms) {
        uint64_t add = (now_ms - c->bucket_ms) * c->rate;
        c->bucket_milli =
            add >= full || c->bucket_milli + add > full ? full : c->bucket_milli + add;
    }
    c->bucket_ms = now_ms;
    *n = c->popular_n;
    pthread_mutex_unlock(&c->bucket_lock);
}

static void key_of(const centry_t *e, cache_key_t *k)
{
    memcpy(k->name, entry_cimg(e) + SR_HEADER_LEN, e->name_len);
    k->name_len = e->name_len;
    k->qtype = e->qtype;
    k->qclass = e->qclass;
    k->do_bit = (e->bits & KEY_DO) != 0;
    k->cd = (e->bits & KEY_CD) != 0;
}

size_t cache_popular_due(cache_t *c, uint32_t now, uint64_t now_ms, cache_key_t *out, size_t max,
                         uint64_t *rate_limited)
{
    size_t got = 0;
    unsigned n, at_threshold;

    if (c == NULL || out == NULL)
        return 0;
    refill(c, now_ms, &n);
    if (n == 0 || max == 0)
        return 0;
    uint32_t t = threshold(c, now, n, &at_threshold);
    for (unsigned i = 0; i < c->nshards && got < max; i++) {
        shard_t *s = c->shards[i];
        shard_lock(s);
        popular_t *p = s->pop;
        for (unsigned j = 0; p != NULL && j < p->cap && got < max; j++) {
            centry_t *e = p->slot[j].e;
            if (e == NULL || p->slot[j].est < t)
                continue;
            if (p->slot[j].est == t) {
                if (at_threshold == 0)
                    continue;
                at_threshold--;
            }
            if (!due(e, now))
                continue;
            if (!take_token(c)) {
                if (rate_limited != NULL)
                    (*rate_limited)++;
                continue;
            }
            e->flags |= E_PREFETCHED;
            key_of(e, &out[got++]);
        }
        shard_unlock(s);
    }
    return got;
}
