/* stubresd: the query path (see forwarder.h). */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stubres/upstream.h>
#include <stubres/wire.h>

#include "codec-internal.h" /* the cursor and the name walks */

#include "cache.h"
#include "forwarder.h"
#include "localdata.h"
#include "fwdrules.h"
#include "log.h"
#include "pool.h"
#include "portal.h"
#include "shcache.h"
#include "stats.h"

#define RCODE_NOERROR 0
#define RCODE_FORMERR 1
#define RCODE_NXDOMAIN 3
#define RCODE_SERVFAIL 2
#define RCODE_NOTIMP 4
#define RCODE_REFUSED 5
#define RCODE_BADVERS 16
/* Bytes of a record between owner and RDATA: type, class, TTL, length. */
#define RR_FIXED_LEN 10

/* Clients one upstream query may answer; more identical queries are
 * dropped (they retry, and by then the answer is cached). */
#define FWD_MAX_WAITERS 1024
/* Clients waiting at once, per thread, as a multiple of max_inflight:
 * bounds the memory a flood of identical queries with fresh IDs can take
 * (each waiter is about 600 bytes). */
#define FWD_WAITERS_PER_INFLIGHT 8
/* Buckets of the in-flight table (a power of two). */
#define FWD_BUCKETS 4096
/* Additional records a query may carry (OPT, TSIG, a cookie-less
 * client's junk): more is FORMERR. */
#define FWD_MAX_ADDITIONAL 4
/* Attempts of one query: every upstream once, at most 4, at least 2 (so
 * a lone upstream gets a second chance after a lost packet). */
#define FWD_MAX_ATTEMPTS 4

/* ------------------------------------------------------------- parsing */

fwd_verdict_t fwd_parse_query(const uint8_t *pkt, size_t len, fwd_qinfo_t *qi)
{
    sr_buf_t b;
    uint16_t qd, an, ns, ar;

    const uint8_t *h;

    memset(qi, 0, sizeof(*qi));
    sr_buf_init(&b, pkt, len);
    /* The header in one bounds check (six checked reads cost a tenth of a
     * cache hit). */
    if (sr_buf_fetch(&b, SR_HEADER_LEN, &h) != SR_OK)
        return FWD_DROP; /* no header: nobody to answer */
    qi->id = sr_get16(h);
    qi->flags = sr_get16(h + 2);
    qd = sr_get16(h + 4);
    an = sr_get16(h + 6);
    ns = sr_get16(h + 8);
    ar = sr_get16(h + 10);
    if (qi->flags & SR_FLAG_QR)
        return FWD_DROP; /* a response: answering it could loop */
    qi->opcode = (qi->flags >> 11) & 0xF;

    /* The question, for echoing even when something else is wrong. */
    if (qd == 1) {
        if (sr_name_plain(&b, &qi->qname, &qi->qname_len) == SR_OK &&
            sr_buf_u16(&b, &qi->qtype) == SR_OK && sr_buf_u16(&b, &qi->qclass) == SR_OK) {
            qi->has_question = true;
            qi->question_end = b.off;
        }
    }
    if (qi->opcode != 0)
        return FWD_NOTIMP; /* NOTIFY, UPDATE, ...: not for a stub */
    if (qd != 1 || !qi->has_question)
        return FWD_FORMERR;
    if (an != 0 || ns != 0)
        return FWD_FORMERR; /* a QUERY carries no answer or authority */
    if (ar > FWD_MAX_ADDITIONAL)
        return FWD_FORMERR;

    for (unsigned i = 0; i < ar; i++) {
        size_t owner = b.off;
        uint16_t type, cls, rdlen;
        uint32_t ttl;
        if (sr_name_skip(&b) != SR_OK || sr_buf_u16(&b, &type) != SR_OK ||
            sr_buf_u16(&b, &cls) != SR_OK || sr_buf_u32(&b, &ttl) != SR_OK ||
            sr_buf_u16(&b, &rdlen) != SR_OK || sr_buf_skip(&b, rdlen) != SR_OK)
            return FWD_FORMERR;
        if (type != SR_TYPE_OPT)
            continue; /* TSIG and friends: not verified, not forwarded */
        /* RFC 6891 6.1.1: one OPT, owned by the root. */
        if (qi->edns || pkt[owner] != 0) /* the root name is one zero byte */
            return FWD_FORMERR;
        qi->edns = true;
        qi->edns_size = cls < 512 ? 512 : cls; /* RFC 6891 6.2.5 */
        qi->edns_version = (uint8_t)(ttl >> 16);
        qi->do_bit = (ttl & 0x8000u) != 0;
    }
    if (qi->qtype == SR_TYPE_OPT)
        return FWD_FORMERR; /* RFC 6891 6.1.1: OPT is no question */
    if (qi->edns && qi->edns_version != 0)
        return FWD_BADVERS;
    if (qi->qtype == 251 || qi->qtype == 252)
        return FWD_REFUSED; /* IXFR, AXFR */
    return FWD_OK;
}

/* Header + question (+ OPT) with rcode, the common body of every reply
 * stubresd makes up itself. */
static size_t build_reply(uint16_t id, uint16_t qflags, unsigned opcode, const uint8_t *qname,
                          size_t qname_len, uint16_t qtype, uint16_t qclass, bool edns, bool do_bit,
                          unsigned rcode, uint16_t udp_size, uint8_t *out, size_t cap)
{
    size_t len = SR_HEADER_LEN + (qname != NULL ? qname_len + 4 : 0) + (edns ? 11 : 0);
    uint16_t flags;

    if (len > cap)
        return 0;
    /* RA, RD and CD are defined for QUERY only (RFC 1035 4.1.1, RFC 4035
     * 3.2.2): the NOTIMP answer to another opcode carries none of them,
     * as ISC's compliance tester expects (and no AA, TC, Z or AD, ever). */
    if (opcode == 0)
        flags = (uint16_t)(SR_FLAG_QR | SR_FLAG_RA | (qflags & (SR_FLAG_RD | SR_FLAG_CD)) |
                           (rcode & 0xF));
    else
        flags = (uint16_t)(SR_FLAG_QR | ((opcode & 0xF) << 11) | (rcode & 0xF));
    sr_put16(out, id);
    sr_put16(out + 2, flags);
    sr_put16(out + 4, qname != NULL ? 1 : 0);
    sr_put16(out + 6, 0);
    sr_put16(out + 8, 0);
    sr_put16(out + 10, edns ? 1 : 0);
    size_t off = SR_HEADER_LEN;
    if (qname != NULL) {
        memcpy(out + off, qname, qname_len);
        off += qname_len;
        sr_put16(out + off, qtype);
        sr_put16(out + off + 2, qclass);
        off += 4;
    }
    if (edns) {
        /* RFC 6891 6.1.2/6.1.3: the upper 8 bits of the RCODE in the TTL. */
        out[off] = 0;
        sr_put16(out + off + 1, SR_TYPE_OPT);
        sr_put16(out + off + 3, udp_size);
        out[off + 5] = (uint8_t)(rcode >> 4);
        out[off + 6] = 0;
        sr_put16(out + off + 7, do_bit ? 0x8000u : 0u);
        sr_put16(out + off + 9, 0);
        off += 11;
    }
    return off;
}

size_t fwd_error_reply(const fwd_qinfo_t *qi, const uint8_t *pkt, unsigned rcode, uint16_t udp_size,
                       uint8_t *out, size_t cap)
{
    (void)pkt;
    /* RFC 6891 7: a client that sent an OPT gets one back. */
    return build_reply(qi->id, qi->flags, qi->opcode, qi->has_question ? qi->qname : NULL,
                       qi->qname_len, qi->qtype, qi->qclass, qi->edns, qi->do_bit, rcode, udp_size,
                       out, cap);
}

static size_t reply_for_query(const cache_query_t *q, unsigned rcode, uint8_t *out, size_t cap)
{
    return build_reply(q->id, q->flags, 0, q->qname, q->qname_len, q->qtype, q->qclass, q->edns,
                       q->do_bit, rcode, CACHE_EDNS_UDP_SIZE, out, cap);
}

/* Extended DNS Errors (RFC 8914 4) stubresd gives: why a SERVFAIL, or that
 * an answer is stale, for `dig` and logs to show. */
#define EDE_OPTION 15
#define EDE_STALE_ANSWER 3
#define EDE_NO_REACHABLE_AUTHORITY 22
#define EDE_NETWORK_ERROR 23

/* Add an EDE option with info code to the reply out[0..n), when it ends in
 * an OPT record without options (the client spoke EDNS: RFC 8914 2 puts
 * EDE in the OPT only) and 6 more bytes fit in cap. The new length. */
static size_t add_ede(uint8_t *out, size_t n, size_t cap, uint16_t code)
{
    if (code == 0 || n < SR_HEADER_LEN + 11 || n + 6 > cap || sr_get16(out + 10) == 0)
        return n;
    uint8_t *opt = out + n - 11;
    if (opt[0] != 0 || sr_get16(opt + 1) != SR_TYPE_OPT || sr_get16(opt + 9) != 0)
        return n;
    sr_put16(opt + 9, 6);
    sr_put16(out + n, EDE_OPTION);
    sr_put16(out + n + 2, 2);
    sr_put16(out + n + 4, code);
    return n + 6;
}

/* ------------------------------------------------------------- in flight */

typedef struct waiter {
    struct waiter *next;
    fwd_client_t client;
    cache_query_t q; /* q.qname points to qname below */
    uint8_t qname[SR_NAME_MAX_WIRE];
    uint64_t start_us;
} waiter_t;

typedef struct pending {
    struct pending *hnext; /* hash chain */
    struct fwd_table *table;
    fwd_ctx_t *fx;
    uint32_t hash;
    uint8_t key[SR_NAME_MAX_WIRE + 5]; /* lowercase name, type, class, DO|CD */
    size_t keylen;
    uint8_t qname[SR_NAME_MAX_WIRE]; /* as the first client wrote it */
    size_t qname_len;
    uint16_t qtype, qclass;
    bool do_bit, cd;
    waiter_t *waiters, **wtail;
    unsigned nwaiters;
    pool_inst_t *pi; /* the upstreams it started with */
    /* the ones before a network change: held until the end, as an
     * attempt on them may be reporting */
    pool_inst_t *old_pi;
    uint64_t tried;  /* upstreams used (bits) */
    unsigned attempts, max_attempts;
    int cur; /* upstream of the attempt in flight */
    sr_xfer_t *xfer;
    uint32_t timeout_ms;
    bool serve_stale;
    bool plain_retry; /* the attempt in flight is the one without EDNS */
    uint16_t ede;     /* EDE of a SERVFAIL: why the last attempt failed */
    bool portal_ok;   /* a client's query to servers: may use a portal pass */
    bool portal;      /* the attempts are those of the portal pass */
    bool shared;      /* the shared cache may hold it (not a forward rule's) */
    struct shc_req *shc_req; /* the shared cache's GET waited for, or NULL */
    uint8_t query[SR_HEADER_LEN + SR_NAME_MAX_WIRE + 4 + 11];
    size_t qlen;
} pending_t;

struct fwd_table {
    pending_t *buckets[FWD_BUCKETS];
    size_t count;
    size_t waiters; /* clients waiting, all entries */
    uint32_t seed;
};

struct fwd_table *fwd_table_new(uint32_t seed)
{
    struct fwd_table *t = calloc(1, sizeof(*t));
    if (t != NULL)
        t->seed = seed;
    return t;
}

size_t fwd_table_count(const struct fwd_table *t)
{
    return t->count;
}

static uint32_t key_hash(uint32_t seed, const uint8_t *k, size_t n)
{
    /* FNV-1a with a per-thread seed: cheap, and a flood of colliding
     * names is bounded by max_inflight anyway. */
    uint32_t h = 2166136261u ^ seed;
    for (size_t i = 0; i < n; i++) {
        h ^= k[i];
        h *= 16777619u;
    }
    return h;
}

static size_t make_key(uint8_t *key, const uint8_t *qname, size_t qlen, uint16_t qtype,
                       uint16_t qclass, bool do_bit, bool cd)
{
    for (size_t i = 0; i < qlen; i++) {
        uint8_t ch = qname[i];
        key[i] = (ch >= 'A' && ch <= 'Z') ? (uint8_t)(ch + 32) : ch;
    }
    sr_put16(key + qlen, qtype);
    sr_put16(key + qlen + 2, qclass);
    key[qlen + 4] = (uint8_t)((do_bit ? 1 : 0) | (cd ? 2 : 0));
    return qlen + 5;
}

static pending_t *table_find(struct fwd_table *t, const uint8_t *key, size_t keylen, uint32_t hash)
{
    for (pending_t *p = t->buckets[hash & (FWD_BUCKETS - 1)]; p != NULL; p = p->hnext)
        if (p->hash == hash && p->keylen == keylen && memcmp(p->key, key, keylen) == 0)
            return p;
    return NULL;
}

static void table_insert(struct fwd_table *t, pending_t *p)
{
    pending_t **b = &t->buckets[p->hash & (FWD_BUCKETS - 1)];
    p->hnext = *b;
    *b = p;
    p->table = t;
    t->count++;
}

static void table_remove(pending_t *p)
{
    struct fwd_table *t = p->table;
    if (t == NULL)
        return;
    for (pending_t **pp = &t->buckets[p->hash & (FWD_BUCKETS - 1)]; *pp; pp = &(*pp)->hnext) {
        if (*pp == p) {
            *pp = p->hnext;
            t->count--;
            break;
        }
    }
    p->table = NULL;
}

static void pending_free(pending_t *p)
{
    waiter_t *wt = p->waiters;
    p->fx->table->waiters -= p->nwaiters;
    while (wt != NULL) {
        waiter_t *next = wt->next;
        free(wt);
        wt = next;
    }
    if (p->xfer != NULL)
        p->fx->cancel(p->xfer);
    shc_cancel(p->shc_req);
    pool_inst_release(p->pi);
    pool_inst_release(p->old_pi);
    free(p);
}

void fwd_table_free(struct fwd_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < FWD_BUCKETS; i++) {
        pending_t *p = t->buckets[i];
        while (p != NULL) {
            pending_t *next = p->hnext;
            /* Waiters are held by their sinks (a TCP connection stays
             * open for them): let go of them. */
            for (waiter_t *wt = p->waiters; wt != NULL; wt = wt->next)
                wt->client.sink->release(&wt->client, NULL, 0);
            p->table = NULL;
            pending_free(p);
            p = next;
        }
    }
    free(t);
}

/* ------------------------------------------------------------- replies */

static void query_log_line(const fwd_ctx_t *fx, const fwd_client_t *c, const cache_query_t *q,
                           const uint8_t *reply, size_t n, const char *source, uint64_t start_us)
{
    char ip[ADDR_TEXT_MAX], name[SR_NAME_MAX_TEXT], tb[16], rb[16];
    unsigned rcode = n >= 4 ? (reply[3] & 0xF) : RCODE_SERVFAIL;

    addr_format_ip((const struct sockaddr *)&c->peer, ip, sizeof(ip));
    if (sr_name_to_text(q->qname, q->qname_len, name, sizeof(name)) != SR_OK)
        snprintf(name, sizeof(name), "?");
    char qtext[SR_NAME_MAX_TEXT + 16];
    snprintf(qtext, sizeof(qtext), "%s %s", name, sr_type_name(q->qtype, tb));
    log_fields_t f = {qtext, source, sr_rcode_name(rcode, rb)};
    log_query(&f, "%s %s %s %s%s %s %s %s %.3fms", ip, name, sr_type_name(q->qtype, tb),
              q->qclass == SR_CLASS_IN ? "IN" : "CLASS", q->qclass == SR_CLASS_IN ? "" : "?",
              sr_rcode_name(rcode, rb), c->sink->name, source,
              (double)(fx->now_us() - start_us) / 1000.0);
}

/* Count a reply about to be sent. */
static void count_reply(stats_thread_t *st, const fwd_sink_t *sink, const uint8_t *reply, size_t n)
{
    if (n < 4)
        return;
    stats_count_rcode(st, reply[3] & 0xF);
    if (sink->datagram && (reply[2] & (SR_FLAG_TC >> 8)))
        STAT_INC(st, truncated);
}

/* Send an answer that came later than the query (from upstream). */
static void send_later(fwd_ctx_t *fx, waiter_t *wt, const uint8_t *buf, size_t n,
                       const char *source)
{
    count_reply(fx->stats, wt->client.sink, buf, n);
    if (log_query_enabled())
        query_log_line(fx, &wt->client, &wt->q, buf, n, source, wt->start_us);
    wt->client.sink->release(&wt->client, buf, n);
}

/* Is p's question name, or (msg not NULL) an owner or CNAME target in
 * msg's answer (CNAME cloaking: a tracker behind a CNAME of the site's
 * own name), blocked by the lists in force now? Asked again here, though
 * the query was looked up before it went upstream, because the lists may
 * have changed meanwhile: the cache must never get an answer they block. */
static bool blocked_now(fwd_ctx_t *fx, const pending_t *p, const sr_msg_t *msg)
{
    const bl_snap_t *s;

    if (fx->block == NULL || (s = blocklist_view(fx->block, &fx->block_view)) == NULL)
        return false;
    return bl_snap_match(s, p->qname, p->qname_len) || (msg != NULL && blocklist_cloaked(s, msg));
}

/* Every waiter of p gets the blocked answer; nothing is cached. */
static void deliver_blocked(fwd_ctx_t *fx, pending_t *p)
{
    for (waiter_t *wt = p->waiters; wt != NULL; wt = wt->next) {
        size_t n = blocklist_render(fx->cfg->block_answer, &wt->q, fx->out, 65535);
        STAT_INC(fx->stats, blocked);
        STAT_ADD(fx->stats, waiting, (uint64_t)-1);
        send_later(fx, wt, fx->out, n, "blocked");
    }
    pending_free(p);
    fx->finished(fx->arg);
}

/* Cached an answer for p: if the lists changed since blocked_now() (their
 * generation gen) and now block it, take it out again. A change publishes
 * the new lists before it empties the cache, so an answer stored before
 * the publish is emptied by it, and one stored after is caught here. */
static bool unstore_blocked(fwd_ctx_t *fx, const pending_t *p, const sr_msg_t *msg, uint64_t gen)
{
    if (fx->block == NULL)
        return false;
    blocklist_view(fx->block, &fx->block_view);
    if (fx->block_view.gen == gen || !blocked_now(fx, p, msg))
        return false;
    cache_flush(fx->cache, p->qname, p->qname_len);
    return true;
}

/* The answer arrived: cache it, and give every waiter its rendering.
 * When it was cached, the waiters get what the cache now answers, so the
 * first answer already has the TTLs every later one starts from (min_ttl,
 * max_ttl, negative_ttl and RFC 2308's SOA minimum applied), as unbound's
 * and dnsmasq's first answers do. What the cache refused (cache_size 0,
 * TTL 0, a name spelt through a TTL field, ...) goes out as it came. */
/* An answer from upstream, now in the cache: into the shared cache too,
 * as the cache holds it (the limits applied), for its remaining TTL. */
static void shared_store(fwd_ctx_t *fx, const pending_t *p, uint32_t now)
{
    char key[SHC_KEY_MAX];
    uint32_t left = 0;
    size_t klen, n;

    if (!p->shared || fx->shc_buf == NULL || !shc_ready(fx->shc))
        return;
    n = cache_export(fx->cache, p->qname, p->qname_len, p->qtype, p->qclass, p->do_bit, p->cd, now,
                     fx->shc_buf + SHC_VALUE_HEADER, SHC_VALUE_MAX - SHC_VALUE_HEADER, &left);
    klen = shc_key(p->qname, p->qname_len, p->qtype, p->qclass, p->do_bit, p->cd, key, sizeof(key));
    if (n == 0 || klen == 0 || left == 0)
        return;
    shc_value_header(fx->shc_buf, p->do_bit, p->cd, n, (int64_t)time(NULL), left);
    shc_set(fx->shc, key, klen, fx->shc_buf, SHC_VALUE_HEADER + n, (uint64_t)left * 1000u);
}

/* from: where msg came from: FROM_UPSTREAM, or the shared cache, which
 * stored it already (FROM_SHARED_STORED) or would not
 * (FROM_SHARED). */
enum { FROM_UPSTREAM, FROM_SHARED_STORED, FROM_SHARED };

static void deliver(fwd_ctx_t *fx, pending_t *p, const sr_msg_t *msg, int from)
{
    uint32_t now = fx->now_s();

    table_remove(p);
    STAT_ADD(fx->stats, inflight, (uint64_t)-1);
    if (blocked_now(fx, p, msg)) {
        /* Blocked like the name itself, and not cached: the cache holds
         * no answer the lists block (they are looked at on a miss only). */
        deliver_blocked(fx, p);
        return;
    }
    uint64_t gen = fx->block_view.gen;
    /* A portal answer is the network's word, not the upstreams': never
     * cached (nor saved), and short-lived downstream too. */
    bool cached =
        from == FROM_SHARED_STORED || (from == FROM_UPSTREAM && !p->portal &&
                                       cache_store(fx->cache, p->qname, p->qname_len, p->qtype,
                                                   p->qclass, p->do_bit, p->cd, msg, now));
    if (cached && unstore_blocked(fx, p, msg, gen)) {
        deliver_blocked(fx, p);
        return;
    }
    const char *source = from != FROM_UPSTREAM ? "shared"
                         : p->pi->pool->source ? p->pi->pool->source
                                               : "upstream";
    for (waiter_t *wt = p->waiters; wt != NULL; wt = wt->next) {
        size_t n = 0;
        if (cached) {
            cache_result_t r = cache_lookup(fx->cache, &wt->q, now, false, fx->out, 65535, &n);
            if (r != CACHE_HIT && r != CACHE_HIT_PREFETCH)
                n = 0;
        }
        if (n == 0)
            n = cache_render(msg, &wt->q, fx->out, 65535);
        if (n > 0 && p->portal)
            portal_cap_ttls(fx->out, n, PORTAL_TTL_MAX);
        if (n == 0)
            n = reply_for_query(&wt->q, RCODE_SERVFAIL, fx->out, 65535);
        STAT_ADD(fx->stats, waiting, (uint64_t)-1);
        send_later(fx, wt, fx->out, n, source);
    }
    /* After the answers: the SET's write is not theirs to wait for. */
    if (cached && from == FROM_UPSTREAM)
        shared_store(fx, p, now);
    pending_free(p);
    fx->finished(fx->arg);
}

static void attempt(fwd_ctx_t *fx, pending_t *p);

/* Every upstream of servers failed to answer a client's query while a
 * portal pass is open: ask the network's own nameservers, in plaintext.
 * True when the query is on its way there. */
static bool portal_fallback(fwd_ctx_t *fx, pending_t *p)
{
    char name[SR_NAME_MAX_TEXT];

    if (!p->portal_ok || p->portal || p->nwaiters == 0 || fx->portal_pool == NULL ||
        fx->portal_pool->pool->n == 0 || !portal_is_open(fx->portal))
        return false;
    if (sr_name_to_text(p->qname, p->qname_len, name, sizeof(name)) != SR_OK)
        snprintf(name, sizeof(name), "?");
    log_notice("portal pass: %s asked of the network's nameservers in plaintext", name);
    portal_count_name(fx->portal);
    pool_inst_release(p->pi);
    p->pi = fx->portal_pool;
    p->pi->users++;
    p->portal = true;
    p->tried = 0;
    p->attempts = 0;
    p->max_attempts = p->pi->pool->n > FWD_MAX_ATTEMPTS
                          ? FWD_MAX_ATTEMPTS
                          : (p->pi->pool->n < 2 ? 2 : (unsigned)p->pi->pool->n);
    attempt(fx, p);
    return true;
}

/* Every attempt failed: stale data if allowed and there, else SERVFAIL. */
static void fail(fwd_ctx_t *fx, pending_t *p)
{
    uint32_t now = fx->now_s();

    if (portal_fallback(fx, p))
        return;
    table_remove(p);
    STAT_ADD(fx->stats, inflight, (uint64_t)-1);
    if (blocked_now(fx, p, NULL)) {
        /* Listed while the query was out: blocked, not stale nor a
         * remembered SERVFAIL (an entry for it was dropped by the change). */
        deliver_blocked(fx, p);
        return;
    }
    uint64_t gen = fx->block_view.gen;
    if (p->nwaiters > 0 && /* a failed prefetch leaves the entry alone */
        cache_store_failure(fx->cache, p->qname, p->qname_len, p->qtype, p->qclass, p->do_bit,
                            p->cd, now) &&
        unstore_blocked(fx, p, NULL, gen)) {
        deliver_blocked(fx, p);
        return;
    }
    for (waiter_t *wt = p->waiters; wt != NULL; wt = wt->next) {
        size_t n = 0;
        const char *source = "servfail";
        size_t cap = wt->q.max_len < 65535 ? wt->q.max_len : 65535;
        if (p->serve_stale &&
            cache_lookup(fx->cache, &wt->q, now, true, fx->out, 65535, &n) == CACHE_STALE) {
            STAT_INC(fx->stats, cache_stale);
            source = "stale";
            n = add_ede(fx->out, n, cap, EDE_STALE_ANSWER);
        } else {
            n = add_ede(fx->out, reply_for_query(&wt->q, RCODE_SERVFAIL, fx->out, 65535), 65535,
                        p->ede);
        }
        STAT_ADD(fx->stats, waiting, (uint64_t)-1);
        send_later(fx, wt, fx->out, n, source);
    }
    pending_free(p);
    fx->finished(fx->arg);
}

/* ------------------------------------------------------------- upstream */

uint32_t fwd_random(fwd_ctx_t *fx)
{
    uint32_t x = fx->rnd;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    fx->rnd = x;
    return x;
}

static void upstream_done(void *arg, sr_status_t status, const uint8_t *resp, size_t len,
                          const sr_xfer_info_t *info);

/* Is resp an answer to p's question? The transport checked ID, source
 * and question already (RFC 5452); a second look costs little and keeps
 * a confused transport from poisoning the cache. */
static bool believable(const pending_t *p, const sr_msg_t *m)
{
    size_t ql = 0;
    const uint8_t *qn;

    if (!(sr_msg_flags(m) & SR_FLAG_QR) || sr_msg_opcode(m) != 0)
        return false;
    if (sr_msg_qdcount(m) != 1)
        return false;
    qn = sr_msg_qname_wire(m, &ql);
    return qn != NULL && sr_name_equal(qn, ql, p->qname, p->qname_len) &&
           sr_msg_qtype(m) == p->qtype && sr_msg_qclass(m) == p->qclass;
}

/* RFC 6891 7: a responder that does not implement EDNS may answer a query
 * with an OPT record FORMERR or NOTIMP, without an OPT record of its own
 * (old servers, middleboxes). Ask the same upstream the same question once
 * more without EDNS. Plain UDP/TCP only: TLS and HTTPS queries always
 * carry OPT for their padding (RFC 8467), and the JSON API sends none.
 * True when the retry is on its way. */
static bool retry_without_edns(fwd_ctx_t *fx, pending_t *p, const sr_msg_t *m)
{
    pool_server_t *s = p->pi->pool->servers[p->cur];
    unsigned rcode = sr_msg_rcode(m);
    uint8_t q[SR_HEADER_LEN + SR_NAME_MAX_WIRE + 4];
    size_t qlen = 0;
    sr_query_opts_t opts;
    sr_status_t st = SR_OK;

    if ((rcode != RCODE_FORMERR && rcode != RCODE_NOTIMP) || sr_get16(p->query + 10) == 0 ||
        sr_msg_edns(m)->present || spec_encrypted(&s->spec) || p->pi->ups[p->cur] == NULL)
        return false; /* not about EDNS, or nothing to take away */
    memset(&opts, 0, sizeof(opts));
    opts.rd = fx->cfg->recursive;
    opts.cd = p->cd;
    if (sr_query_build(q, sizeof(q), &qlen, p->qname, p->qname_len, p->qtype, p->qclass, &opts) !=
        SR_OK)
        return false;
    log_info("upstream %s: %s to a query with EDNS; asking again without (RFC 6891 7)",
             s->spec.name, rcode == RCODE_FORMERR ? "FORMERR" : "NOTIMP");
    pool_count_query(s);
    STAT_INC(fx->stats, upstream_queries);
    p->xfer = fx->query(p->pi->ups[p->cur], q, qlen, 0, (int)p->timeout_ms, upstream_done, p, &st);
    if (p->xfer == NULL)
        return false;
    p->plain_retry = true;
    return true;
}

/* Out of descriptors or buffers here (EMFILE, ENFILE, ENOBUFS, ENOMEM):
 * the query fails, but no upstream is to blame, and marking one down
 * would turn a local shortage into an outage that outlasts it. Counted
 * as local_errors; no other upstream is tried (it would fail alike). */
static bool local_failure(fwd_ctx_t *fx, sr_status_t st)
{
    if (st != SR_E_MFILE && st != SR_E_NOBUFS)
        return false;
    STAT_INC(fx->stats, local_errors);
    log_info("upstream query failed here, not upstream: %s", sr_strerror((int)st));
    return true;
}

static void upstream_done(void *arg, sr_status_t status, const uint8_t *resp, size_t len,
                          const sr_xfer_info_t *info)
{
    pending_t *p = arg;
    fwd_ctx_t *fx = p->fx;
    pool_server_t *s = p->pi->pool->servers[p->cur];
    uint64_t now_us = fx->now_us();

    p->xfer = NULL;
    if (info != NULL)
        pool_count_guard(s, info);
    bool was_plain = p->plain_retry;
    p->plain_retry = false; /* the next upstream gets the query with EDNS */
    if (local_failure(fx, status)) {
        p->portal_ok = false; /* the network is not to blame either */
        fail(fx, p);
        return;
    }
    if (status != SR_OK) {
        p->ede = status == SR_E_TIMEDOUT ? EDE_NO_REACHABLE_AUTHORITY : EDE_NETWORK_ERROR;
        pool_report(s, status == SR_E_TIMEDOUT ? POOL_TIMEOUT : POOL_ERROR, 0, now_us);
        log_event(LOG_LEVEL_INFO, &(log_fields_t){NULL, s->spec.name, NULL}, "upstream %s: %s%s%s",
                  s->spec.name, sr_strerror((int)status),
                  info != NULL && info->detail != NULL && info->detail[0] ? ": " : "",
                  info != NULL && info->detail != NULL ? info->detail : "");
        attempt(fx, p);
        return;
    }
    if (sr_msg_parse(fx->msg, resp, len, SR_PARSE_NO_FIELDS) != SR_OK || !believable(p, fx->msg)) {
        p->ede = EDE_NETWORK_ERROR;
        pool_report(s, POOL_ERROR, 0, now_us);
        log_info("upstream %s: unusable response (%s)", s->spec.name, sr_msg_error(fx->msg));
        attempt(fx, p);
        return;
    }
    unsigned rcode = sr_msg_rcode(fx->msg);
    uint64_t rtt = info != NULL ? info->rtt_us : 0;
    if (rcode == RCODE_SERVFAIL || rcode == RCODE_REFUSED) {
        /* The upstream lives but could not answer: another may. */
        p->ede = EDE_NO_REACHABLE_AUTHORITY;
        p->portal_ok = false; /* an answer, if not a useful one: no portal */
        pool_report(s, POOL_SERVFAIL, rtt, now_us);
        attempt(fx, p);
        return;
    }
    if (!was_plain && retry_without_edns(fx, p, fx->msg))
        return;
    pool_report(s, POOL_OK, rtt, now_us);
    if (!p->portal && spec_encrypted(&s->spec))
        portal_close(fx->portal, "an encrypted upstream answers again");
    deliver(fx, p, fx->msg, FROM_UPSTREAM);
}

/* Start the next attempt, or fail when there is none left. */
static void attempt(fwd_ctx_t *fx, pending_t *p)
{
    pool_t *pool;

    /* The upstreams were rebuilt for the same servers (a network change):
     * the next attempt goes over the new connections, not the old ones
     * that may lead nowhere now. Same servers, same order: tried holds. */
    if (p->attempts > 0 && fx->pool != NULL && p->pi != fx->pool && p->pi->pool->source == NULL &&
        fx->pool->pool->source == NULL && p->pi->pool->n == fx->pool->pool->n &&
        p->pi->pool->upstream_hash == fx->pool->pool->upstream_hash) {
        pool_inst_release(p->old_pi);
        p->old_pi = p->pi;
        p->pi = fx->pool;
        p->pi->users++;
    }
    pool = p->pi->pool;

    while (p->attempts < p->max_attempts) {
        uint64_t now_us = fx->now_us();
        int i = pool_pick(pool, p->tried, now_us, fwd_random(fx));
        sr_status_t st = SR_OK;
        if (i < 0)
            break;
        p->attempts++;
        p->tried |= 1ull << i;
        p->cur = i;
        if (p->pi->ups[i] == NULL) {
            p->ede = EDE_NETWORK_ERROR;
            pool_report(pool->servers[i], POOL_ERROR, 0, now_us);
            continue;
        }
        pool_count_query(pool->servers[i]);
        STAT_INC(fx->stats, upstream_queries);
        p->xfer = fx->query(p->pi->ups[i], p->query, p->qlen, 0, (int)p->timeout_ms, upstream_done,
                            p, &st);
        if (p->xfer != NULL)
            return;
        if (local_failure(fx, st)) {
            p->portal_ok = false;
            break;
        }
        p->ede = EDE_NETWORK_ERROR;
        pool_report(pool->servers[i], POOL_ERROR, 0, now_us);
        log_info("upstream %s: %s", pool->servers[i]->spec.name, sr_strerror((int)st));
    }
    fail(fx, p);
}

static waiter_t *waiter_new(const fwd_client_t *c, const cache_query_t *q, uint64_t now_us)
{
    waiter_t *wt = malloc(sizeof(*wt));
    if (wt == NULL)
        return NULL;
    wt->next = NULL;
    wt->client = *c;
    wt->q = *q;
    memcpy(wt->qname, q->qname, q->qname_len);
    wt->q.qname = wt->qname;
    wt->start_us = now_us;
    return wt;
}

static bool same_client(const waiter_t *wt, const fwd_client_t *c, uint16_t id)
{
    if (wt->q.id != id || wt->client.sink != c->sink || wt->client.conn != c->conn)
        return false;
    if (c->conn != NULL)
        return true; /* the same connection */
    return wt->client.peerlen == c->peerlen && memcmp(&wt->client.peer, &c->peer, c->peerlen) == 0;
}

static void add_waiter(fwd_ctx_t *fx, pending_t *p, waiter_t *wt)
{
    *p->wtail = wt;
    p->wtail = &wt->next;
    p->nwaiters++;
    fx->table->waiters++;
    STAT_INC(fx->stats, waiting);
    wt->client.sink->hold(&wt->client);
}

/* The upstreams of q's name: those of the forward rule with the longest
 * domain holding it, else servers. *rule is that rule, or NULL. */
static pool_inst_t *route(const fwd_ctx_t *fx, const cache_query_t *q, fwdrule_t **rule)
{
    int i = fx->rules != NULL ? fwdrules_match(fx->rules->rules, q->qname, q->qname_len) : -1;

    *rule = NULL;
    if (i < 0)
        return fx->pool;
    *rule = &fx->rules->rules->rule[i];
    return fx->rules->pi[i];
}

/* A new query upstream for key to the upstreams pi. */
static pending_t *start(fwd_ctx_t *fx, const uint8_t *key, size_t keylen, uint32_t hash,
                        const cache_query_t *q, pool_inst_t *pi)
{
    const cfg_t *cfg = fx->cfg;
    pending_t *p;
    sr_query_opts_t opts;
    size_t n = pi->pool->n;

    if (fwd_table_count(fx->table) >= cfg->max_inflight || n == 0)
        return NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->fx = fx;
    p->hash = hash;
    memcpy(p->key, key, keylen);
    p->keylen = keylen;
    memcpy(p->qname, q->qname, q->qname_len);
    p->qname_len = q->qname_len;
    p->qtype = q->qtype;
    p->qclass = q->qclass;
    p->do_bit = q->do_bit;
    p->cd = (q->flags & SR_FLAG_CD) != 0;
    p->wtail = &p->waiters;
    p->timeout_ms = cfg->timeout_ms;
    p->serve_stale = cfg->serve_stale;
    p->max_attempts = n > FWD_MAX_ATTEMPTS ? FWD_MAX_ATTEMPTS : (n < 2 ? 2 : (unsigned)n);

    memset(&opts, 0, sizeof(opts));
    opts.rd = cfg->recursive;
    opts.cd = p->cd;
    opts.edns_size = (uint16_t)cfg->max_packet_size; /* RFC 6891; 1232 by default */
    opts.do_bit = p->do_bit;
    if (sr_query_build(p->query, sizeof(p->query), &p->qlen, p->qname, p->qname_len, p->qtype,
                       p->qclass, &opts) != SR_OK) {
        free(p);
        return NULL;
    }
    p->pi = pi;
    p->pi->users++;
    table_insert(fx->table, p);
    STAT_INC(fx->stats, inflight);
    return p;
}

/* The shared cache answered p's GET (shcache.h): a good value answers
 * every waiter as the cache does; anything else goes upstream. */
static void shared_done(void *arg, shc_outcome_t outcome, const uint8_t *val, size_t len)
{
    pending_t *p = arg;
    fwd_ctx_t *fx = p->fx;
    shc_value_result_t r = SHC_VALUE_BAD;

    p->shc_req = NULL;
    if (outcome == SHC_HIT)
        r = shc_value_import(fx->cache, fx->msg, fx->shc_buf, val, len, p->qname, p->qname_len,
                             p->qtype, p->qclass, p->do_bit, p->cd, (int64_t)time(NULL),
                             fx->now_s());
    if (outcome == SHC_HIT && (r == SHC_VALUE_STORED || r == SHC_VALUE_NOT_STORED)) {
        STAT_INC(fx->stats, shc_hits);
        deliver(fx, p, fx->msg, r == SHC_VALUE_STORED ? FROM_SHARED_STORED : FROM_SHARED);
        return;
    }
    if (outcome == SHC_HIT) {
        if (r == SHC_VALUE_EXPIRED) {
            STAT_INC(fx->stats, shc_misses);
        } else {
            char name[SR_NAME_MAX_TEXT];
            STAT_INC(fx->stats, shc_errors);
            if (sr_name_to_text(p->qname, p->qname_len, name, sizeof(name)) != SR_OK)
                snprintf(name, sizeof(name), "?");
            log_info("shared_cache: the value for %s is not a valid answer: ignored", name);
        }
    }
    attempt(fx, p);
}

/* Ask the shared cache for p before the upstreams. True when the GET is
 * on its way (shared_done follows). */
static bool shared_lookup(fwd_ctx_t *fx, pending_t *p)
{
    char key[SHC_KEY_MAX];
    size_t klen;

    if (!p->shared || fx->shc_buf == NULL || !shc_ready(fx->shc))
        return false;
    klen = shc_key(p->qname, p->qname_len, p->qtype, p->qclass, p->do_bit, p->cd, key, sizeof(key));
    if (klen == 0)
        return false;
    p->shc_req = shc_get(fx->shc, key, klen, shared_done, p);
    return p->shc_req != NULL;
}

static void prefetch(fwd_ctx_t *fx, const cache_query_t *q, bool popular)
{
    uint8_t key[SR_NAME_MAX_WIRE + 5];
    size_t keylen = make_key(key, q->qname, q->qname_len, q->qtype, q->qclass, q->do_bit,
                             (q->flags & SR_FLAG_CD) != 0);
    uint32_t hash = key_hash(fx->table->seed, key, keylen);
    fwdrule_t *rule;
    pool_inst_t *pi = route(fx, q, &rule);
    pending_t *p;

    if (table_find(fx->table, key, keylen, hash) != NULL)
        return;
    p = start(fx, key, keylen, hash, q, pi);
    if (p == NULL)
        return;
    p->shared = rule == NULL; /* its answer refreshes the shared cache too */
    if (popular)
        STAT_INC(fx->stats, popular_prefetches);
    else
        STAT_INC(fx->stats, prefetches);
    attempt(fx, p);
}

void fwd_prefetch_popular(fwd_ctx_t *fx, const cache_key_t *k)
{
    cache_query_t q;

    if (fx->draining)
        return;
    memset(&q, 0, sizeof(q));
    q.flags = k->cd ? SR_FLAG_CD : 0;
    q.qname = k->name;
    q.qname_len = k->name_len;
    q.qtype = k->qtype;
    q.qclass = k->qclass;
    q.edns = true;
    q.do_bit = k->do_bit;
    q.max_len = 65535;
    prefetch(fx, &q, true);
}

static void reply_now(fwd_ctx_t *fx, const fwd_client_t *c, const uint8_t *out, size_t n);

static void miss(fwd_ctx_t *fx, const fwd_client_t *c, const cache_query_t *q, uint64_t now_us)
{
    uint8_t key[SR_NAME_MAX_WIRE + 5];
    size_t keylen = make_key(key, q->qname, q->qname_len, q->qtype, q->qclass, q->do_bit,
                             (q->flags & SR_FLAG_CD) != 0);
    uint32_t hash = key_hash(fx->table->seed, key, keylen);
    pending_t *p = table_find(fx->table, key, keylen, hash);
    fwdrule_t *rule;
    pool_inst_t *pi = route(fx, q, &rule);
    waiter_t *wt;

    if (rule != NULL) {
        atomic_fetch_add_explicit(&rule->queries, 1, memory_order_relaxed);
        if (pi->pool->n == 0) {
            /* A `resolvconf` rule while resolv_conf names no nameserver:
             * its names never fall back to servers. */
            size_t n = reply_for_query(q, RCODE_SERVFAIL, fx->out, 65535);
            reply_now(fx, c, fx->out, n);
            if (log_query_enabled())
                query_log_line(fx, c, q, fx->out, n, pi->pool->source, now_us);
            return;
        }
    }
    if (p != NULL) {
        /* The same question is already on its way: wait for that answer
         * (a client's retransmission of the same query is not doubled). */
        for (waiter_t *o = p->waiters; o != NULL; o = o->next)
            if (same_client(o, c, q->id))
                return;
        if (p->nwaiters >= FWD_MAX_WAITERS ||
            fx->table->waiters >= (size_t)fx->cfg->max_inflight * FWD_WAITERS_PER_INFLIGHT) {
            STAT_INC(fx->stats, dropped);
            return;
        }
        wt = waiter_new(c, q, now_us);
        if (wt == NULL) {
            STAT_INC(fx->stats, dropped);
            return;
        }
        STAT_INC(fx->stats, coalesced);
        add_waiter(fx, p, wt);
        return;
    }
    wt = waiter_new(c, q, now_us);
    p = wt != NULL ? start(fx, key, keylen, hash, q, pi) : NULL;
    if (p == NULL) {
        free(wt);
        STAT_INC(fx->stats, dropped); /* overload: the client retries */
        return;
    }
    /* Only names that go to servers may use a portal pass: a forward
     * rule's names (a VPN's) never leave to the network's nameservers. */
    p->portal_ok = rule == NULL;
    p->shared = rule == NULL;
    add_waiter(fx, p, wt);
    if (!shared_lookup(fx, p))
        attempt(fx, p);
}

/* ------------------------------------------------------------- entry */

/* The largest reply the client takes: a stream's whole size; over
 * datagrams its EDNS size capped by max_udp_size, or 512 bytes without
 * EDNS (RFC 1035 4.2.1), and never more than the sink carries. */
static uint16_t reply_limit(const fwd_ctx_t *fx, const fwd_sink_t *sink, const fwd_qinfo_t *qi)
{
    uint16_t max;

    if (!sink->datagram)
        return sink->max_size;
    if (!qi->edns)
        max = 512;
    else
        max = (uint16_t)(qi->edns_size < fx->cfg->max_udp_size ? qi->edns_size
                                                               : fx->cfg->max_udp_size);
    return max < sink->max_size ? max : sink->max_size;
}

/* Count and send a reply known at once. */
static void reply_now(fwd_ctx_t *fx, const fwd_client_t *c, const uint8_t *out, size_t n)
{
    count_reply(fx->stats, c->sink, out, n);
    if (n > 0)
        c->sink->send(c, out, n);
}

/* Special names, `local` records, hosts files (localdata.h): answered
 * here, as a cache hit is, when the name is stubresd's own. */
/* A special-use name a forward rule takes is the rule's, not ours
 * (a VPN that serves 10.in-addr.arpa). */
static bool forward_covers(void *arg, const uint8_t *qname, size_t qname_len)
{
    const fwd_ctx_t *fx = arg;
    return fwdrules_covers(fx->rules != NULL ? fx->rules->rules : NULL, qname, qname_len);
}

/* ---- a local CNAME whose target is not local ----
 * The local reply (the CNAME chain) is kept; the target is resolved as
 * any other query (cache, then upstream with coalescing) by an internal
 * client whose sink splices the target's answer records behind the
 * chain and hands the result to the real client's sink. One allocation
 * per such query; the plain local answer allocates nothing. */

typedef struct cname_tail {
    fwd_ctx_t *fx;
    fwd_sink_t sink;     /* the internal sink (its ctx: this) */
    fwd_client_t client; /* the internal client (conn: this) */
    fwd_client_t real;   /* where the answer goes */
    cache_query_t q, tq; /* the client's query, the target's */
    uint8_t qname[SR_NAME_MAX_WIRE], tname[SR_NAME_MAX_WIRE];
    uint64_t start_us;
    bool busy, held, released;
    uint16_t an;         /* CNAME records of the chain */
    size_t chain_len;    /* their bytes, behind the question */
    uint8_t chain[4096]; /* as localdata rendered them */
    size_t cap;          /* of buf: the client's limit */
    uint8_t buf[];
} cname_tail_t;

/* Append the target reply's answer records to w (at *off, cap bytes),
 * names written out uncompressed (pointers in m refer to m). Returns the
 * records appended, -1 when m is unusable, -2 when they do not fit. */
static int tail_records(const uint8_t *m, size_t len, uint8_t *w, size_t *off, size_t cap)
{
    sr_msg_shape_t shape;
    sr_buf_t b;

    if (sr_msg_check(m, len, false, &shape) != SR_OK || shape.counts[0] != 1)
        return -1;
    sr_buf_init(&b, m, len);
    if (sr_buf_skip(&b, SR_HEADER_LEN) != SR_OK || sr_name_skip(&b) != SR_OK ||
        sr_buf_skip(&b, 4) != SR_OK)
        return -1;
    for (unsigned i = 0; i < shape.counts[1]; i++) {
        uint8_t name[SR_NAME_MAX_WIRE];
        size_t nlen, o = b.off;
        const uint8_t *fixed;
        if (sr_name_unpack(m, len, &o, name, &nlen) != SR_OK)
            return -1;
        b.off = o;
        if (sr_buf_fetch(&b, RR_FIXED_LEN, &fixed) != SR_OK)
            return -1;
        uint16_t type = sr_get16(fixed), rdlen = sr_get16(fixed + 8);
        size_t rdoff = b.off, rdend = rdoff + rdlen;
        if (sr_buf_skip(&b, rdlen) != SR_OK)
            return -1;
        if (nlen + RR_FIXED_LEN > cap - *off)
            return -2;
        memcpy(w + *off, name, nlen);
        memcpy(w + *off + nlen, fixed, RR_FIXED_LEN);
        size_t rdlen_at = *off + nlen + 8;
        *off += nlen + RR_FIXED_LEN;
        size_t start = *off;
        /* RFC 3597 4: only these types' RDATA names may be compressed. */
        size_t pre = type == SR_TYPE_MX ? 2 : 0;
        int names = (type == SR_TYPE_CNAME || type == SR_TYPE_NS || type == SR_TYPE_PTR ||
                     type == SR_TYPE_MX)
                        ? 1
                        : (type == SR_TYPE_SOA ? 2 : 0);
        o = rdoff;
        if (names > 0) {
            if (pre > rdlen || pre > cap - *off)
                return pre > rdlen ? -1 : -2;
            memcpy(w + *off, m + o, pre);
            *off += pre;
            o += pre;
            for (int k = 0; k < names; k++) {
                if (sr_name_unpack(m, rdend, &o, name, &nlen) != SR_OK)
                    return -1;
                if (nlen > cap - *off)
                    return -2;
                memcpy(w + *off, name, nlen);
                *off += nlen;
            }
        }
        if (o > rdend)
            return -1;
        if (rdend - o > cap - *off)
            return -2;
        memcpy(w + *off, m + o, rdend - o);
        *off += rdend - o;
        if (*off - start > 65535)
            return -2;
        sr_put16(w + rdlen_at, (uint16_t)(*off - start));
    }
    return (int)shape.counts[1];
}

/* The client's reply: its question, the chain, the target's answer
 * records, the target's RCODE, no AA (the tail is not ours); TC with the
 * question alone when over the client's size; SERVFAIL when the target's
 * reply is unusable. Into t->buf; the length. */
static size_t tail_reply(cname_tail_t *t, const uint8_t *m, size_t len)
{
    const cache_query_t *q = &t->q;
    size_t qend = SR_HEADER_LEN + q->qname_len + 4, opt = q->edns ? 11 : 0;
    size_t limit = t->cap, off;
    unsigned rcode;
    int nrec = -1;
    uint16_t flags, an = 0;
    size_t n = build_reply(q->id, q->flags, 0, q->qname, q->qname_len, q->qtype, q->qclass, q->edns,
                           q->do_bit, RCODE_SERVFAIL, CACHE_EDNS_UDP_SIZE, t->buf, t->cap);

    uint8_t optrr[11];

    if (n == 0)
        return 0;
    memcpy(optrr, t->buf + qend, opt); /* the OPT build_reply wrote */
    rcode = len >= 4 ? (m[3] & 0xFu) : RCODE_SERVFAIL;
    off = qend;
    if (rcode == RCODE_NOERROR || rcode == RCODE_NXDOMAIN) {
        if (off + opt <= limit && t->chain_len <= limit - opt - off) {
            memcpy(t->buf + off, t->chain, t->chain_len);
            off += t->chain_len;
            nrec = tail_records(m, len, t->buf, &off, limit - opt);
        } else {
            nrec = -2;
        }
    }
    flags = (uint16_t)(SR_FLAG_QR | SR_FLAG_RA | (q->flags & (SR_FLAG_RD | SR_FLAG_CD)));
    if (nrec == -1) {
        rcode = RCODE_SERVFAIL; /* unusable, or the target failed */
        off = qend;
    } else if (nrec == -2) {
        flags |= SR_FLAG_TC; /* RFC 2181 9: the client asks again over TCP */
        off = qend;
    } else {
        an = (uint16_t)(t->an + (unsigned)nrec);
    }
    if (opt != 0) {
        memcpy(t->buf + off, optrr, opt);
        t->buf[off + 5] = (uint8_t)(rcode >> 4);
    }
    sr_put16(t->buf + 2, (uint16_t)(flags | (rcode & 0xFu)));
    sr_put16(t->buf + 6, an);
    return off + opt;
}

/* The target's reply: the client's, through its sink. */
static void tail_send(const fwd_client_t *c, const uint8_t *msg, size_t len)
{
    cname_tail_t *t = c->conn;
    fwd_ctx_t *fx = t->fx;
    size_t n = tail_reply(t, msg, len);

    if (t->real.sink->datagram && n >= 4 && (t->buf[2] & (SR_FLAG_TC >> 8)))
        STAT_INC(fx->stats, truncated);
    if (log_query_enabled())
        query_log_line(fx, &t->real, &t->q, t->buf, n, "local", t->start_us);
    if (n > 0)
        t->real.sink->send(&t->real, t->buf, n);
}

static void tail_hold(const fwd_client_t *c)
{
    cname_tail_t *t = c->conn;
    t->held = true;
    t->real.sink->hold(&t->real);
}

static void tail_release(const fwd_client_t *c, const uint8_t *msg, size_t len)
{
    cname_tail_t *t = c->conn;
    size_t n = 0;

    if (msg != NULL && len > 0) {
        n = tail_reply(t, msg, len);
        if (t->real.sink->datagram && n >= 4 && (t->buf[2] & (SR_FLAG_TC >> 8)))
            STAT_INC(t->fx->stats, truncated);
        if (log_query_enabled())
            query_log_line(t->fx, &t->real, &t->q, t->buf, n, "local", t->start_us);
    }
    t->real.sink->release(&t->real, msg != NULL ? t->buf : NULL, n);
    if (t->busy)
        t->released = true; /* tail_resolve frees it */
    else
        free(t);
}

/* The local reply out[0..n) to q ends in a CNAME whose target is not
 * local: resolve the target. False when it does not (out goes as it is). */
static bool tail_resolve(fwd_ctx_t *fx, const fwd_client_t *c, const cache_query_t *q,
                         const uint8_t *out, size_t n, uint8_t *scratch, size_t cap)
{
    size_t qend = SR_HEADER_LEN + q->qname_len + 4, end = n - (q->edns ? 11 : 0);
    const uint8_t *target = NULL;
    size_t tlen = 0;
    sr_buf_t b;

    if (q->qtype == SR_TYPE_CNAME || q->qtype == SR_TYPE_ANY || n < qend || end < qend ||
        (out[3] & 0xF) != RCODE_NOERROR || (out[2] & (SR_FLAG_TC >> 8)) || sr_get16(out + 6) == 0)
        return false;
    /* The last answer record (our own bytes, walked with the cursor). */
    sr_buf_init(&b, out, end);
    b.off = qend;
    for (unsigned i = 0; i < sr_get16(out + 6); i++) {
        const uint8_t *fixed;
        if (sr_name_skip(&b) != SR_OK || sr_buf_fetch(&b, RR_FIXED_LEN, &fixed) != SR_OK)
            return false;
        uint16_t rdlen = sr_get16(fixed + 8);
        target = sr_get16(fixed) == SR_TYPE_CNAME ? out + b.off : NULL;
        tlen = rdlen;
        if (sr_buf_skip(&b, rdlen) != SR_OK)
            return false;
    }
    if (target == NULL || b.off != end || tlen > SR_NAME_MAX_WIRE ||
        localdata_has(fx->cfg->localdata, target, tlen) ||
        end - qend > sizeof(((cname_tail_t *)0)->chain))
        return false;

    cname_tail_t *t = malloc(sizeof(*t) + q->max_len);
    if (t == NULL)
        return false; /* the chain alone, as before */
    t->fx = fx;
    t->sink = (fwd_sink_t){.name = c->sink->name,
                           .max_size = 65535,
                           .send = tail_send,
                           .hold = tail_hold,
                           .release = tail_release,
                           .ctx = t,
                           .transport = c->sink->transport};
    t->client = (fwd_client_t){.sink = &t->sink, .conn = t, .fd = -1};
    t->client.peer = c->peer;
    t->client.peerlen = c->peerlen;
    t->real = *c;
    t->q = *q;
    memcpy(t->qname, q->qname, q->qname_len);
    t->q.qname = t->qname;
    memcpy(t->tname, target, tlen);
    t->tq = *q;
    t->tq.qname = t->tname;
    t->tq.qname_len = tlen;
    t->tq.max_len = 65535;
    t->start_us = fx->now_us();
    t->busy = true;
    t->held = t->released = false;
    t->an = sr_get16(out + 6);
    t->chain_len = end - qend;
    memcpy(t->chain, out + qend, t->chain_len);
    t->cap = q->max_len;

    size_t m = 0;
    cache_result_t r = cache_lookup(fx->cache, &t->tq, fx->now_s(), false, scratch, cap, &m);
    if (r != CACHE_MISS) {
        STAT_INC(fx->stats, cache_hits);
        count_reply(fx->stats, &t->sink, scratch, m); /* as send_later counts a late one */
        tail_send(&t->client, scratch, m);
    } else if (fx->draining) {
        tail_send(&t->client, scratch, reply_for_query(&t->tq, RCODE_SERVFAIL, scratch, cap));
    } else {
        STAT_INC(fx->stats, cache_misses);
        miss(fx, &t->client, &t->tq, t->start_us);
    }
    t->busy = false;
    if (!t->held || t->released)
        free(t);
    return true;
}

static bool answer_local(fwd_ctx_t *fx, const fwd_client_t *c, const cache_query_t *q, uint8_t *out,
                         size_t cap)
{
    size_t n = 0;
    /* A `forward` rule covering a special-use name passes its predicate
     * here (NULL: none). */
    local_source_t s = localdata_answer(fx->cfg->localdata, q, forward_covers, fx, out, cap, &n);

    if (s == LOCAL_NONE)
        return false;
    if (s == LOCAL_SPECIAL)
        STAT_INC(fx->stats, local_special);
    else
        STAT_INC(fx->stats, local_answers);
    /* A CNAME chain leaving the table: the target from upstream. The
     * local reply is copied out first, so out is free scratch again. */
    if (s == LOCAL_LOCAL && n > 0 && sr_get16(out + 6) > 0 &&
        tail_resolve(fx, c, q, out, n, out, cap))
        return true;
    if (log_query_enabled())
        query_log_line(fx, c, q, out, n, local_source_name(s), fx->now_us());
    reply_now(fx, c, out, n);
    return true;
}

void fwd_query(fwd_ctx_t *fx, const uint8_t *pkt, size_t len, const fwd_client_t *c, uint8_t *out,
               size_t cap)
{
    const cfg_t *cfg = fx->cfg;
    stats_thread_t *st = fx->stats;
    const fwd_sink_t *sink = c->sink;
    fwd_qinfo_t qi;
    fwd_verdict_t v = fwd_parse_query(pkt, len, &qi);
    unsigned rcode;
    size_t n;

    if (v == FWD_DROP) {
        STAT_INC(st, dropped);
        return;
    }
    if (sink->transport == FWD_XPORT_TLS)
        STAT_INC(st, queries_tls);
    else if (sink->transport == FWD_XPORT_HTTPS)
        STAT_INC(st, queries_https);
    else if (sink->datagram)
        STAT_INC(st, queries_udp);
    else
        STAT_INC(st, queries_tcp);

    if (!acl_match(&cfg->allow, (const struct sockaddr *)&c->peer)) {
        /* Never an open resolver: outsiders get REFUSED, nothing more. */
        STAT_INC(st, refused_acl);
        rcode = RCODE_REFUSED;
        goto error;
    }
    switch (v) {
    case FWD_FORMERR:
        STAT_INC(st, malformed);
        rcode = RCODE_FORMERR;
        goto error;
    case FWD_NOTIMP: rcode = RCODE_NOTIMP; goto error;
    case FWD_REFUSED: rcode = RCODE_REFUSED; goto error;
    case FWD_BADVERS: rcode = RCODE_BADVERS; goto error;
    default: break;
    }

    cache_query_t q;
    q.id = qi.id;
    q.flags = qi.flags;
    q.qname = qi.qname;
    q.qname_len = qi.qname_len;
    q.qtype = qi.qtype;
    q.qclass = qi.qclass;
    q.edns = qi.edns;
    q.do_bit = qi.do_bit;
    q.max_len = reply_limit(fx, sink, &qi);

    if (answer_local(fx, c, &q, out, cap))
        return;
    cache_result_t r = cache_lookup(fx->cache, &q, fx->now_s(), false, out, cap, &n);
    /* A remembered SERVFAIL (servfail_ttl) would keep a freshly opened
     * portal pass from being used until it expires. */
    if (r == CACHE_HIT && n >= 4 && (out[3] & 0xF) == RCODE_SERVFAIL && fx->portal != NULL &&
        portal_is_open(fx->portal))
        r = CACHE_MISS;
    if (r != CACHE_MISS) {
        STAT_INC(st, cache_hits);
        if (r == CACHE_STALE) {
            STAT_INC(st, cache_stale);
            n = add_ede(out, n, q.max_len < cap ? q.max_len : cap, EDE_STALE_ANSWER);
        }
        if (log_query_enabled())
            query_log_line(fx, c, &q, out, n, r == CACHE_STALE ? "stale" : "cache", fx->now_us());
        count_reply(st, sink, out, n);
        if (n > 0)
            sink->send(c, out, n);
        if (r == CACHE_HIT_PREFETCH && cfg->prefetch)
            prefetch(fx, &q, false);
        return;
    }
    /* The block lists come before the cache (a blocked name is always
     * answered as blocked) and are looked at only now, on a miss: no
     * answer they block is ever in the cache (deliver() and fail() keep
     * them out, a change of the lists empties the cache of what it
     * blocks: blocklist_set_cache), so a hit costs nothing more with a
     * million names listed. */
    if (fx->block != NULL && (n = blocklist_answer(blocklist_view(fx->block, &fx->block_view),
                                                   cfg->block_answer, &q, out, cap)) > 0) {
        STAT_INC(st, blocked);
        if (log_query_enabled())
            query_log_line(fx, c, &q, out, n, "blocked", fx->now_us());
        reply_now(fx, c, out, n);
        return;
    }
    STAT_INC(st, cache_misses);
    if (fx->draining) {
        /* Shutting down: nothing new goes upstream. */
        reply_now(fx, c, out, reply_for_query(&q, RCODE_SERVFAIL, out, cap));
        return;
    }
    miss(fx, c, &q, fx->now_us());
    return;

error:
    reply_now(fx, c, out, fwd_error_reply(&qi, pkt, rcode, CACHE_EDNS_UDP_SIZE, out, cap));
}
