/* libFuzzer target: the answer cache (src/daemon/cache.c) against a model.
 *
 * The input is a program: a few bytes of settings, then operations -
 * store a response built from fuzzer choices (positive, NXDOMAIN, NODATA,
 * CNAME chains, SERVFAIL, REFUSED, TC, mismatched questions, OPT in odd
 * places, TTLs of 0 and with the top bit set), store fuzzer bytes parsed
 * by sr_msg_parse, record an upstream failure, look up (any letter case,
 * EDNS or not, any size), let time pass, flush, change the settings, dump.
 *
 * In strict mode (a budget nothing can exceed) a model - a linear list
 * written from the rules in cache.h and RFC 2308/2181/8767, not from
 * cache.c - predicts every result: a lookup must hit iff the model has a
 * fresh entry (stale ones as CACHE_STALE under the same rules, prefetch
 * reported at the same moment), and the reply must parse and carry exactly
 * the model's records with the model's TTLs. In eviction mode (a small
 * budget) the model cannot know what was evicted, so it checks that the
 * budget holds and that every reply carries the records last stored under
 * its key, or is a SERVFAIL. Any disagreement aborts. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <stubres/wire.h>

#include "cache.h"
#include "fuzz.h"
#include "lib-internal.h"
#include "../pktbuild.h"

#define CHECK(cond) FUZZ_CHECK(cond)

/* ---- reading the input ---- */

static bool bit(fz_t *f)
{
    return (u8(f) & 1u) != 0;
}

/* ---- the question names ---- */

static const uint8_t N0[] = {3,   'w', 'w', 'w', 7,   'e', 'x', 'a', 'm',
                             'p', 'l', 'e', 4,   't', 'e', 's', 't', 0};
static const uint8_t N1[] = {1,   'a', 1,   'b', 7,   'e', 'x', 'a', 'm',
                             'p', 'l', 'e', 4,   't', 'e', 's', 't', 0};
static const uint8_t N2[] = {1, 'x', 4, 't', 'e', 's', 't', 0};
static const uint8_t N3[] = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0};
/* Bytes next to the letters and above ASCII must not fold. */
static const uint8_t N4[] = {4, '@', 'Z', 0xC1, '[', 4, 't', 'E', 's', 't', 0};
static const uint8_t N5[] = {0};

static const struct {
    const uint8_t *w;
    size_t len;
} NAMES[] = {
    {N0, sizeof(N0)}, {N1, sizeof(N1)}, {N2, sizeof(N2)},
    {N3, sizeof(N3)}, {N4, sizeof(N4)}, {N5, sizeof(N5)},
};
#define NNAMES (sizeof(NAMES) / sizeof(NAMES[0]))

static const uint16_t QTYPES[] = {SR_TYPE_A,  SR_TYPE_AAAA, SR_TYPE_TXT,
                                  SR_TYPE_MX, SR_TYPE_ANY,  SR_TYPE_CNAME};
#define NQTYPES (sizeof(QTYPES) / sizeof(QTYPES[0]))

static uint8_t fold(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

static uint8_t flip(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return (uint8_t)(c + 32);
    if (c >= 'a' && c <= 'z')
        return (uint8_t)(c - 32);
    return c;
}

/* Copy a name, flipping the case of letters where the fuzzer says. */
static void name_variant(fz_t *f, const uint8_t *w, size_t len, uint8_t *out)
{
    uint32_t mask = u32(f);
    for (size_t i = 0; i < len; i++)
        out[i] = (mask >> (i & 31u)) & 1u ? flip(w[i]) : w[i];
}

static uint32_t pick_ttl(fz_t *f)
{
    static const uint32_t v[] = {0,   1,    5,     29,          30,          60,
                                 300, 3600, 86400, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu};
    uint8_t c = u8(f);
    if (c >= 12 * 16)
        return u16(f);
    return v[c % 12];
}

/* ---- building responses ---- */

/* An owner: a pointer to the question, or the name written out. */
static void b_owner(tpkt_t *b, fz_t *f, const uint8_t *w, size_t len, bool may_point)
{
    uint8_t tmp[SR_NAME_MAX_WIRE];
    if (may_point && bit(f)) {
        tpkt_u16(b, 0xC00C);
        return;
    }
    name_variant(f, w, len, tmp);
    tpkt_put(b, tmp, len);
}

static void b_rr_head(tpkt_t *b, uint16_t type, uint16_t cls, uint32_t ttl, uint16_t rdlen)
{
    tpkt_u16(b, type);
    tpkt_u16(b, cls);
    tpkt_u32(b, ttl);
    tpkt_u16(b, rdlen);
}

static void b_rdata(tpkt_t *b, fz_t *f, uint16_t type)
{
    uint8_t r[16];
    for (size_t i = 0; i < sizeof(r); i++)
        r[i] = u8(f);
    switch (type) {
    case SR_TYPE_AAAA:
        b_rr_head(b, type, SR_CLASS_IN, pick_ttl(f), 16);
        tpkt_put(b, r, 16);
        break;
    case SR_TYPE_TXT:
        r[0] = 5;
        b_rr_head(b, type, SR_CLASS_IN, pick_ttl(f), 6);
        tpkt_put(b, r, 6);
        break;
    case SR_TYPE_MX:
        b_rr_head(b, type, SR_CLASS_IN, pick_ttl(f), 4);
        tpkt_put(b, r, 2);
        tpkt_u16(b, 0xC00C);
        break;
    default:
        b_rr_head(b, type == SR_TYPE_ANY || type == SR_TYPE_CNAME ? SR_TYPE_A : type, SR_CLASS_IN,
                  pick_ttl(f), 4);
        tpkt_put(b, r, 4);
        break;
    }
}

static void b_soa(tpkt_t *b, fz_t *f, uint8_t section)
{
    b_owner(b, f, N3, sizeof(N3), true);
    uint32_t ttl = pick_ttl(f);
    /* MNAME a pointer to the question, RNAME the root. */
    b_rr_head(b, SR_TYPE_SOA, SR_CLASS_IN, ttl, 2 + 1 + 20);
    tpkt_u16(b, 0xC00C);
    tpkt_put(b, "", 1);
    tpkt_u32(b, 2024010101u);
    tpkt_u32(b, 7200);
    tpkt_u32(b, 3600);
    tpkt_u32(b, 1209600);
    tpkt_u32(b, pick_ttl(f));
    b->count[section]++;
}

static void b_opt(tpkt_t *b, fz_t *f)
{
    tpkt_put(b, "", 1);
    b_rr_head(b, SR_TYPE_OPT, 1232, bit(f) ? 0x8000u : 0u, 0);
    b->count[3]++;
}

/* The answer and authority sections of a response to (w, qtype) chosen
 * by kind; returns the RCODE and may change the header flags. */
static unsigned b_sections(tpkt_t *b, fz_t *f, uint8_t kind, const uint8_t *w, size_t wlen,
                           uint16_t qtype, uint16_t *flags)
{
    unsigned rcode = 0;

    switch (kind % 8) {
    case 0:
    case 1: { /* positive, maybe with authority and additional data */
        unsigned n = 1 + u8(f) % 4;
        for (unsigned i = 0; i < n; i++) {
            b_owner(b, f, w, wlen, true);
            b_rdata(b, f, qtype);
            b->count[1]++;
        }
        if (bit(f)) {
            b_owner(b, f, N3, sizeof(N3), false);
            b_rr_head(b, SR_TYPE_NS, SR_CLASS_IN, pick_ttl(f), 2);
            tpkt_u16(b, 0xC00C);
            b->count[2]++;
        }
        break;
    }
    case 2:
        rcode = 3;
        b_soa(b, f, 2);
        break;
    case 3:
        if (bit(f))
            b_soa(b, f, 2);
        break;
    case 4: { /* a CNAME chain, maybe ending in data, maybe NODATA */
        size_t k = u8(f) % NNAMES;
        b_owner(b, f, w, wlen, true);
        b_rr_head(b, SR_TYPE_CNAME, SR_CLASS_IN, pick_ttl(f), (uint16_t)NAMES[k].len);
        tpkt_put(b, NAMES[k].w, NAMES[k].len);
        b->count[1]++;
        if (bit(f)) {
            b_owner(b, f, NAMES[k].w, NAMES[k].len, false);
            b_rdata(b, f, qtype);
            b->count[1]++;
        } else if (bit(f)) {
            b_soa(b, f, 2);
        }
        break;
    }
    case 5: rcode = 2; break;
    case 6: { /* what must not be cached */
        uint8_t v = u8(f) % 4;
        if (v == 0)
            rcode = 5;
        else if (v == 1)
            *flags |= SR_FLAG_TC;
        else if (v == 2)
            *flags &= (uint16_t)~SR_FLAG_QR;
        else
            *flags |= 0x0800; /* opcode 1 */
        b_owner(b, f, w, wlen, true);
        b_rdata(b, f, qtype);
        b->count[1]++;
        break;
    }
    default: rcode = bit(f) ? 3 : 0; break;
    }
    return rcode;
}

/* A response to (w, qtype) made from fuzzer choices; false when it came
 * out unparseable (it never should). */
static bool build_response(fz_t *f, const uint8_t *w, size_t wlen, uint16_t qtype, sr_msg_t *msg)
{
    tpkt_t b;
    uint8_t qn[SR_NAME_MAX_WIRE];
    uint8_t kind = u8(f);
    uint8_t opts = u8(f);
    uint16_t flags = 0x8180; /* QR RD RA */
    unsigned rcode;

    tpkt_init(&b, 4096, true);
    if (opts & 0x01)
        flags |= SR_FLAG_AD;
    if (opts & 0x02)
        flags |= SR_FLAG_AA;
    /* The question, now and then a different one. */
    if ((opts & 0x1C) == 0x1C) {
        size_t k = u8(f) % NNAMES;
        name_variant(f, NAMES[k].w, NAMES[k].len, qn);
        tpkt_put(&b, qn, NAMES[k].len);
        tpkt_u16(&b, QTYPES[u8(f) % NQTYPES]);
    } else {
        name_variant(f, w, wlen, qn);
        tpkt_put(&b, qn, wlen);
        tpkt_u16(&b, qtype);
    }
    tpkt_u16(&b, (opts & 0x1C) == 0x18 ? 3 : SR_CLASS_IN);

    rcode = b_sections(&b, f, kind, w, wlen, qtype, &flags);
    /* Additional data and an OPT: last, first, or in between. */
    uint8_t add = u8(f) % 4;
    if (add == 1 || add == 3)
        b_opt(&b, f);
    if (add >= 2) {
        b_owner(&b, f, N3, sizeof(N3), false);
        b_rdata(&b, f, SR_TYPE_A);
        b.count[3]++;
    }
    if (add == 2)
        b_opt(&b, f);

    b.count[0] = 1;
    tpkt_header(&b, u16(f), (uint16_t)(flags | rcode));
    bool ok = !b.bad && sr_msg_parse(msg, b.d.p, b.d.len, 0) == SR_OK;
    tpkt_free(&b);
    return ok;
}

/* ---- the model ---- */

typedef struct mrec {
    uint8_t section;
    uint16_t type;
    uint16_t rclass;
    uint32_t ttl;  /* as stored: clamped, equalised, capped */
    size_t offset; /* in wire */
    size_t ttloff; /* TTL offset in wire */
    size_t rdoff;  /* RDATA offset in wire */
    uint16_t rdlength;
} mrec_t;

typedef struct ment {
    uint8_t name[SR_NAME_MAX_WIRE]; /* lowercase */
    size_t nlen;
    uint16_t qtype, qclass;
    uint8_t bits;
    uint32_t stored, expire, ttl, fail_until, hits;
    bool prefetched;
    unsigned rcode;
    bool ad;
    uint16_t count[3];
    size_t nrec;
    mrec_t *recs;
    uint8_t *wire; /* the kept part of the response: img_len bytes */
    size_t img_len;
} ment_t;

#define MODEL_MAX 256

typedef struct model {
    ment_t *e[MODEL_MAX];
    size_t n;
    cache_cfg_t cfg;
    bool strict;
} model_t;

static void ment_free(ment_t *m)
{
    if (m == NULL)
        return;
    free(m->recs);
    free(m->wire);
    free(m);
}

static size_t model_find(const model_t *md, const uint8_t *lname, size_t nlen, uint16_t qtype,
                         uint16_t qclass, uint8_t bits)
{
    for (size_t i = 0; i < md->n; i++) {
        const ment_t *m = md->e[i];
        if (m->nlen == nlen && memcmp(m->name, lname, nlen) == 0 && m->qtype == qtype &&
            m->qclass == qclass && m->bits == bits)
            return i;
    }
    return SIZE_MAX;
}

static void model_drop(model_t *md, size_t i)
{
    ment_free(md->e[i]);
    md->e[i] = md->e[--md->n];
}

/* Replace (or add) the entry of m's key. */
static void model_put(model_t *md, ment_t *m)
{
    size_t i = model_find(md, m->name, m->nlen, m->qtype, m->qclass, m->bits);
    if (i != SIZE_MAX) {
        ment_free(md->e[i]);
        md->e[i] = m;
        return;
    }
    CHECK(md->n < MODEL_MAX);
    md->e[md->n++] = m;
}

static bool model_dead(const model_t *md, const ment_t *m, uint32_t now)
{
    if (now < m->expire)
        return false;
    if (!md->cfg.serve_stale || m->rcode == 2)
        return true;
    return (uint64_t)now >= (uint64_t)m->expire + md->cfg.stale_max;
}

static uint32_t umin(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

static uint32_t sat_add(uint32_t a, uint32_t b)
{
    return b > UINT32_MAX - a ? UINT32_MAX : a + b;
}

static void lower(const uint8_t *w, size_t len, uint8_t *out)
{
    for (size_t i = 0; i < len; i++)
        out[i] = fold(w[i]);
}

static ment_t *ment_new(const uint8_t *qname, size_t qlen, uint16_t qtype, uint16_t qclass,
                        uint8_t bits, uint32_t now)
{
    ment_t *m = calloc(1, sizeof(*m));
    CHECK(m != NULL);
    lower(qname, qlen, m->name);
    m->nlen = qlen;
    m->qtype = qtype;
    m->qclass = qclass;
    m->bits = bits;
    m->stored = now;
    return m;
}

/* cache_store_failure's rules. */
static bool model_failure(model_t *md, const uint8_t *qname, size_t qlen, uint16_t qtype,
                          uint16_t qclass, uint8_t bits, uint32_t now)
{
    uint8_t lname[SR_NAME_MAX_WIRE];
    lower(qname, qlen, lname);
    size_t i = model_find(md, lname, qlen, qtype, qclass, bits);
    if (md->cfg.max_bytes == 0)
        return false;
    if (i != SIZE_MAX && md->e[i]->rcode != 2) {
        ment_t *old = md->e[i];
        if (now < old->expire)
            return false;
        if (!model_dead(md, old, now) && md->cfg.servfail_ttl > 0) {
            old->fail_until = sat_add(now, md->cfg.servfail_ttl);
            return true;
        }
    }
    if (md->cfg.servfail_ttl == 0)
        return false;
    ment_t *m = ment_new(qname, qlen, qtype, qclass, bits, now);
    m->rcode = 2;
    m->ttl = md->cfg.servfail_ttl;
    m->expire = sat_add(now, m->ttl);
    m->img_len = SR_HEADER_LEN + qlen + 4;
    m->wire = calloc(1, m->img_len);
    CHECK(m->wire != NULL);
    model_put(md, m);
    return true;
}

static bool owner_equal(const uint8_t *w, size_t wlen, size_t a, size_t b)
{
    uint8_t na[SR_NAME_MAX_WIRE], nb[SR_NAME_MAX_WIRE];
    size_t la = 0, lb = 0;
    CHECK(sr_name_unpack(w, wlen, &a, na, &la) == SR_OK);
    CHECK(sr_name_unpack(w, wlen, &b, nb, &lb) == SR_OK);
    return sr_name_equal(na, la, nb, lb);
}

static bool same_parse(const sr_msg_t *a, const sr_msg_t *b, bool nocase)
{
    if (sr_msg_rr_count(a) != sr_msg_rr_count(b))
        return false;
    for (size_t i = 0; i < sr_msg_rr_count(a); i++) {
        const sr_rr_t *x = sr_msg_rr(a, i), *y = sr_msg_rr(b, i);
        if ((nocase ? strcasecmp(x->name, y->name) : strcmp(x->name, y->name)) != 0 ||
            x->type != y->type || x->rclass != y->rclass || x->rdlength != y->rdlength ||
            x->field_count != y->field_count)
            return false;
        for (size_t f = 0; f < x->field_count; f++) {
            const char *u = x->fields[f].value, *v = y->fields[f].value;
            if ((nocase ? strcasecmp(u, v) : strcmp(u, v)) != 0)
                return false;
        }
    }
    return true;
}

/* Not cached: a response whose names are spelt in part by TTL bytes
 * (pointers into TTL fields), which counting down would rewrite, or by
 * question letters read as a pointer's low byte, which the client's case
 * would rewrite. Decided on the stored image (lowercase question, final
 * TTLs): its parse must not change when every TTL byte is inverted, or
 * zeroed, nor (up to case) when the question's letters change case. */
static bool model_names_fixed(const ment_t *m)
{
    uint8_t *img = malloc(m->img_len), *alt = malloc(m->img_len);
    sr_msg_t *a = sr_msg_new(), *b = sr_msg_new();
    bool ok = false;
    FUZZ_CHECK(img != NULL && alt != NULL && a != NULL && b != NULL);
    memcpy(img, m->wire, m->img_len);
    memcpy(img + SR_HEADER_LEN, m->name, m->nlen);
    sr_put16(img + 4, 1);
    for (int s = 0; s < 3; s++)
        sr_put16(img + 6 + 2 * s, m->count[s]);
    for (size_t i = 0; i < m->nrec; i++)
        sr_put32(img + m->recs[i].ttloff, m->recs[i].ttl);
    if (sr_msg_parse(a, img, m->img_len, 0) != SR_OK)
        goto done;
    for (int pat = 0; pat < 3; pat++) {
        memcpy(alt, img, m->img_len);
        for (size_t i = 0; i < m->nrec && pat < 2; i++)
            for (size_t j = m->recs[i].ttloff; j < m->recs[i].ttloff + 4; j++)
                alt[j] = pat == 0 ? (uint8_t)(alt[j] ^ 0xFFu) : 0;
        for (size_t j = SR_HEADER_LEN; pat == 2 && j < SR_HEADER_LEN + m->nlen; j++)
            if (alt[j] >= 'a' && alt[j] <= 'z')
                alt[j] = (uint8_t)(alt[j] - 32);
        if (sr_msg_parse(b, alt, m->img_len, 0) != SR_OK || !same_parse(a, b, pat == 2))
            goto done;
    }
    ok = true;
done:
    sr_msg_free(a);
    sr_msg_free(b);
    free(img);
    free(alt);
    return ok;
}

/* The kept records of msg into m, TTLs clamped to the settings and made
 * one per RRset (runs of one section, owner, type and class get their
 * least). */
static void model_fill_recs(ment_t *m, const sr_msg_t *msg, const uint8_t *wire, size_t wlen,
                            size_t keep, const cache_cfg_t *cfg)
{
    for (size_t i = 0; i < keep; i++) {
        const sr_rr_t *rr = sr_msg_rr(msg, i);
        mrec_t *r = &m->recs[i];
        uint32_t t = rr->ttl >= 0x80000000u ? 0 : rr->ttl;
        if (t < cfg->min_ttl)
            t = cfg->min_ttl;
        if (t > cfg->max_ttl)
            t = cfg->max_ttl;
        r->section = (uint8_t)rr->section;
        r->type = rr->type;
        r->rclass = rr->rclass;
        r->ttl = t;
        r->offset = rr->offset;
        r->ttloff = rr->ttl_offset;
        r->rdoff = (size_t)(rr->rdata - wire);
        r->rdlength = rr->rdlength;
    }
    /* RRsets: runs of one (section, owner, type, class) get their least
     * TTL. */
    for (size_t a = 0; a < keep;) {
        size_t b = a + 1;
        while (b < keep && m->recs[b].section == m->recs[a].section &&
               m->recs[b].type == m->recs[a].type && m->recs[b].rclass == m->recs[a].rclass &&
               owner_equal(wire, wlen, m->recs[b].offset, m->recs[b - 1].offset))
            b++;
        uint32_t lo = UINT32_MAX;
        for (size_t i = a; i < b; i++)
            lo = umin(lo, m->recs[i].ttl);
        for (size_t i = a; i < b; i++)
            m->recs[i].ttl = lo;
        a = b;
    }
}

/* cache_store's rules, from cache.h, RFC 2308, RFC 2181 5.2 and 8. */
static bool model_store(model_t *md, const uint8_t *qname, size_t qlen, uint16_t qtype,
                        uint16_t qclass, uint8_t bits, const sr_msg_t *msg, uint32_t now)
{
    const cache_cfg_t *cfg = &md->cfg;
    size_t wlen = 0, rqlen = 0;
    const uint8_t *wire = sr_msg_wire(msg, &wlen);
    uint16_t flags = sr_msg_flags(msg);
    unsigned rcode = sr_msg_rcode(msg);

    if (!(flags & SR_FLAG_QR) || (flags & SR_FLAG_TC) || sr_msg_opcode(msg) != 0)
        return false;
    if (rcode != 0 && rcode != 2 && rcode != 3)
        return false;
    const uint8_t *rq = sr_msg_qname_wire(msg, &rqlen);
    if (sr_msg_qdcount(msg) != 1 || !sr_name_equal(rq, rqlen, qname, qlen) ||
        sr_msg_qtype(msg) != qtype || sr_msg_qclass(msg) != qclass)
        return false;
    if (rcode == 2)
        return model_failure(md, qname, qlen, qtype, qclass, bits, now);
    if (cfg->max_bytes == 0)
        return false;

    /* The kept records: those before the OPT and before any TSIG. */
    const sr_edns_t *ed = sr_msg_edns(msg);
    size_t cut = ed->present ? ed->offset : wlen;
    size_t keep = 0;
    size_t img_len = sr_msg_question_end(msg);
    uint16_t count[3] = {0, 0, 0};
    for (size_t i = 0; i < sr_msg_rr_count(msg); i++) {
        const sr_rr_t *rr = sr_msg_rr(msg, i);
        if (rr->offset > cut || rr->type == 250)
            break;
        count[rr->section]++;
        img_len = rr->end;
        keep++;
    }
    if (count[0] != sr_msg_section_count(msg, SR_SECTION_ANSWER) ||
        count[1] != sr_msg_section_count(msg, SR_SECTION_AUTHORITY))
        return false;

    bool answered = false;
    for (size_t i = 0; i < count[0]; i++)
        if (sr_msg_rr(msg, i)->type == qtype || qtype == SR_TYPE_ANY)
            answered = true;
    bool negative = rcode == 3 || !answered;
    size_t soa = SIZE_MAX;
    uint32_t neg = 0;
    if (negative) {
        for (size_t i = count[0]; i < count[0] + count[1]; i++) {
            const sr_rr_t *rr = sr_msg_rr(msg, i);
            if (rr->type != SR_TYPE_SOA || rr->rdlength < 22)
                continue;
            uint32_t t = rr->ttl >= 0x80000000u ? 0 : rr->ttl;
            uint32_t mn = sr_get32(rr->rdata + rr->rdlength - 4);
            if (mn >= 0x80000000u)
                mn = 0;
            neg = umin(umin(t, mn), umin(cfg->negative_ttl, cfg->max_ttl));
            soa = i;
            break;
        }
        if (soa == SIZE_MAX || neg == 0)
            return false;
    }

    ment_t *m = ment_new(qname, qlen, qtype, qclass, bits, now);
    m->rcode = rcode;
    m->ad = (flags & SR_FLAG_AD) != 0;
    memcpy(m->count, count, sizeof(count));
    m->nrec = keep;
    m->recs = calloc(keep + 1, sizeof(mrec_t));
    m->wire = malloc(img_len);
    CHECK(m->recs != NULL && m->wire != NULL);
    memcpy(m->wire, wire, img_len);
    m->img_len = img_len;
    model_fill_recs(m, msg, wire, wlen, keep, cfg);
    uint32_t ttl = keep == 0 ? 0 : UINT32_MAX;
    for (size_t i = 0; i < keep; i++) {
        if (negative)
            m->recs[i].ttl = i == soa ? neg : umin(m->recs[i].ttl, neg);
        ttl = umin(ttl, m->recs[i].ttl);
    }
    if (ttl == 0 || !model_names_fixed(m)) {
        ment_free(m);
        return false;
    }
    m->ttl = ttl;
    m->expire = sat_add(now, ttl);
    model_put(md, m);
    return true;
}

/* ---- checking replies ---- */

static sr_msg_t *g_reply;

/* The reply must be exactly what m predicts for q. */
static void check_reply(const model_t *md, const ment_t *m, const cache_query_t *q,
                        const uint8_t *out, size_t len, uint32_t now, bool stale)
{
    CHECK(sr_msg_parse(g_reply, out, len, 0) == SR_OK);
    size_t opt = q->edns ? 11 : 0;
    size_t limit = q->max_len < 512 ? 512 : q->max_len;
    bool tc = m->img_len + opt > limit;
    uint16_t fl = sr_msg_flags(g_reply);

    CHECK(sr_msg_id(g_reply) == q->id);
    CHECK((fl & SR_FLAG_QR) && (fl & SR_FLAG_RA) && !(fl & SR_FLAG_AA));
    CHECK(sr_msg_opcode(g_reply) == 0);
    CHECK((fl & (SR_FLAG_RD | SR_FLAG_CD)) == (q->flags & (SR_FLAG_RD | SR_FLAG_CD)));
    CHECK(((fl & SR_FLAG_AD) != 0) == (m->ad && ((q->flags & SR_FLAG_AD) || q->do_bit)));
    CHECK(((fl & SR_FLAG_TC) != 0) == tc);
    CHECK(sr_msg_rcode(g_reply) == m->rcode);
    CHECK(sr_msg_qdcount(g_reply) == 1);
    CHECK(memcmp(out + SR_HEADER_LEN, q->qname, q->qname_len) == 0);
    CHECK(sr_msg_qtype(g_reply) == q->qtype);
    CHECK(sr_msg_qclass(g_reply) == q->qclass);

    const sr_edns_t *ed = sr_msg_edns(g_reply);
    CHECK(ed->present == q->edns);
    if (q->edns) {
        CHECK(ed->udp_size == CACHE_EDNS_UDP_SIZE && ed->version == 0 && ed->ext_rcode == 0 &&
              ed->do_bit == q->do_bit && ed->opt_count == 0);
    }
    if (tc) {
        CHECK(len == SR_HEADER_LEN + q->qname_len + 4 + opt);
        CHECK(sr_msg_rr_count(g_reply) == 0);
        return;
    }
    CHECK(len == m->img_len + opt);
    CHECK(sr_msg_rr_count(g_reply) == m->nrec);
    for (int s = 0; s < 3; s++)
        CHECK(sr_msg_section_count(g_reply, (sr_section_t)s) == m->count[s]);
    uint32_t elapsed = now > m->stored ? now - m->stored : 0;
    for (size_t i = 0; i < m->nrec; i++) {
        const sr_rr_t *rr = sr_msg_rr(g_reply, i);
        const mrec_t *r = &m->recs[i];
        uint32_t want = stale ? md->cfg.stale_reply_ttl : (r->ttl > elapsed ? r->ttl - elapsed : 0);
        CHECK(rr->section == r->section && rr->type == r->type && rr->rclass == r->rclass &&
              rr->rdlength == r->rdlength);
        CHECK(rr->offset == r->offset);
        CHECK(memcmp(rr->rdata, m->wire + r->rdoff, r->rdlength) == 0);
        CHECK(rr->ttl == want);
    }
}

/* Eviction mode: whatever came must be the last thing stored under the
 * key (or a SERVFAIL), inside the limits. */
static void check_loose(const model_t *md, const ment_t *last, const cache_query_t *q,
                        const uint8_t *out, size_t len)
{
    CHECK(sr_msg_parse(g_reply, out, len, 0) == SR_OK);
    CHECK(sr_msg_id(g_reply) == q->id);
    CHECK(memcmp(out + SR_HEADER_LEN, q->qname, q->qname_len) == 0);
    CHECK(sr_msg_edns(g_reply)->present == q->edns);
    size_t limit = q->max_len < 512 ? 512 : q->max_len;
    CHECK(len <= limit);
    unsigned rc = sr_msg_rcode(g_reply);
    if (rc == 2) {
        CHECK(sr_msg_rr_count(g_reply) == 0);
        return;
    }
    CHECK(last != NULL);
    CHECK(rc == last->rcode);
    if (sr_msg_flags(g_reply) & SR_FLAG_TC)
        return;
    CHECK(sr_msg_rr_count(g_reply) == last->nrec);
    for (size_t i = 0; i < last->nrec; i++) {
        const sr_rr_t *rr = sr_msg_rr(g_reply, i);
        CHECK(rr->type == last->recs[i].type && rr->rdlength == last->recs[i].rdlength &&
              memcmp(rr->rdata, last->wire + last->recs[i].rdoff, rr->rdlength) == 0);
        CHECK(rr->ttl <= last->recs[i].ttl || rr->ttl == md->cfg.stale_reply_ttl);
    }
}

/* cache_render of a fresh response: the same patching as a hit, the
 * upstream's TC kept, the kept records as the upstream sent them. */
static void check_render(const sr_msg_t *resp, fz_t *f, const uint8_t *qn, size_t qlen,
                         uint16_t qtype, uint16_t qclass, uint8_t *out, size_t cap)
{
    static const uint16_t sizes[] = {512, 1232, 100, 65535};
    cache_query_t q;
    uint8_t o = u8(f);
    memset(&q, 0, sizeof(q));
    q.id = u16(f);
    q.flags = (uint16_t)(((o & 1u) ? SR_FLAG_RD : 0) | ((o & 2u) ? SR_FLAG_CD : 0));
    q.qname = qn;
    q.qname_len = qlen;
    q.qtype = qtype;
    q.qclass = qclass;
    q.do_bit = (o & 4u) != 0;
    q.edns = q.do_bit || (o & 8u) != 0;
    q.max_len = q.edns ? sizes[(o >> 4) & 3] : 512;

    size_t n = cache_render(resp, &q, out, cap);
    size_t rqlen = 0;
    const uint8_t *rq = sr_msg_qname_wire(resp, &rqlen);
    bool same = sr_msg_qdcount(resp) == 0 ||
                (sr_msg_qdcount(resp) == 1 && sr_name_equal(rq, rqlen, qn, qlen) &&
                 sr_msg_qtype(resp) == qtype && sr_msg_qclass(resp) == qclass);
    if (!same) {
        CHECK(n == 0);
        return;
    }
    if (n == 0)
        return; /* an OPT that cut into the answer: nothing to render */
    CHECK(sr_msg_parse(g_reply, out, n, 0) == SR_OK);
    uint16_t fl = sr_msg_flags(g_reply);
    CHECK(sr_msg_id(g_reply) == q.id);
    /* The client's case; or, when the upstream's names read letters of
     * the question, the question as the upstream wrote it. */
    size_t wl = 0;
    const uint8_t *w = sr_msg_wire(resp, &wl);
    CHECK(memcmp(out + SR_HEADER_LEN, qn, qlen) == 0 ||
          (sr_msg_qdcount(resp) == 1 && memcmp(out + SR_HEADER_LEN, w + SR_HEADER_LEN, qlen) == 0));
    CHECK((fl & SR_FLAG_QR) && !(fl & SR_FLAG_AA));
    CHECK(sr_msg_edns(g_reply)->present == q.edns);
    CHECK((sr_msg_rcode(g_reply) & 0xFu) == (sr_msg_rcode(resp) & 0xFu));
    if (sr_msg_flags(resp) & SR_FLAG_TC)
        CHECK(fl & SR_FLAG_TC);
    CHECK(n <= (q.max_len < 512 ? 512u : q.max_len));
    if (!(fl & SR_FLAG_TC) && sr_msg_qdcount(resp) == 1) {
        CHECK(sr_msg_section_count(g_reply, SR_SECTION_ANSWER) ==
              sr_msg_section_count(resp, SR_SECTION_ANSWER));
        for (size_t i = 0; i < sr_msg_rr_count(g_reply); i++) {
            const sr_rr_t *a = sr_msg_rr(g_reply, i);
            const sr_rr_t *b = sr_msg_rr(resp, i);
            CHECK(b != NULL && a->type == b->type && a->ttl == b->ttl &&
                  a->rdlength == b->rdlength && memcmp(a->rdata, b->rdata, a->rdlength) == 0);
        }
    }
}

/* ---- the run ---- */

static cache_cfg_t pick_cfg(fz_t *f, bool strict)
{
    static const uint32_t min_ttl[] = {0, 0, 10, 60};
    static const uint32_t max_ttl[] = {86400, 300, 30, 0};
    static const uint32_t neg_ttl[] = {3600, 60, 0, 5};
    static const uint32_t sf_ttl[] = {5, 0, 30, 1};
    static const uint32_t stale_max[] = {3600, 10, 0, 100};
    static const uint32_t stale_ttl[] = {30, 0, 1, 7};
    static const unsigned shards[] = {1, 2, 4, 64};
    uint8_t a = u8(f), b = u8(f);
    cache_cfg_t c;
    memset(&c, 0, sizeof(c));
    c.max_bytes = strict ? (size_t)64 << 20 : (size_t)(1 + u8(f) % 32) * 256;
    c.min_ttl = min_ttl[a & 3];
    c.max_ttl = max_ttl[(a >> 2) & 3];
    c.negative_ttl = neg_ttl[(a >> 4) & 3];
    c.servfail_ttl = sf_ttl[(a >> 6) & 3];
    c.serve_stale = (b & 1) != 0;
    c.stale_max = stale_max[(b >> 1) & 3];
    c.stale_reply_ttl = stale_ttl[(b >> 3) & 3];
    c.prefetch = (b & 0x20) != 0;
    c.shards = shards[(b >> 6) & 3];
    /* prefetch_popular's counting changes no result (nothing here asks
     * cache_popular_due), but its slots follow every store, replacement,
     * eviction, flush and change of settings: ASan watches them. */
    c.prefetch_popular = ((a ^ b) & 1) != 0 ? 1u + a % 5u : 0u;
    c.prefetch_rate = 20;
    return c;
}

static void dump_count(void *arg, const char *line)
{
    CHECK(line != NULL && line[0] != '\0');
    (*(size_t *)arg)++;
}

/* Store msg under (qname, qtype, qclass) in the cache and the models,
 * compare the verdicts (strict), then check how msg renders. */
static void op_store(cache_t *c, model_t *md, model_t *last, fz_t *f, const sr_msg_t *msg,
                     const uint8_t *qname, size_t qlen, uint16_t qtype, uint16_t qclass,
                     uint8_t bits, uint32_t now, uint8_t *out)
{
    bool got = cache_store(c, qname, qlen, qtype, qclass, bits & 1u, (bits & 2u) != 0, msg, now);
    bool want = model_store(md, qname, qlen, qtype, qclass, bits, msg, now);
    if (md->strict)
        CHECK(got == want);
    if (got && sr_msg_rcode(msg) != 2)
        model_store(last, qname, qlen, qtype, qclass, bits, msg, now);
    check_render(msg, f, qname, qlen, qtype, qclass, out, 65536 + 64);
}

/* One lookup of (qn, qtype) checked against the model (strict), or for
 * a reply consistent with the last store (loose). */
static void op_lookup(cache_t *c, model_t *md, model_t *last, fz_t *f, const uint8_t *qn,
                      size_t qlen, uint16_t qtype, uint8_t bits, uint32_t now, uint8_t *out)
{
    static const uint16_t sizes[] = {512, 1232, 100, 65535};
    cache_query_t q;
    uint8_t o = u8(f);
    size_t len = 0;
    memset(&q, 0, sizeof(q));
    q.id = u16(f);
    q.flags = (uint16_t)(((o & 1u) ? SR_FLAG_RD : 0) | ((bits & 2u) ? SR_FLAG_CD : 0) |
                         ((o & 2u) ? SR_FLAG_AD : 0));
    q.qname = qn;
    q.qname_len = qlen;
    q.qtype = qtype;
    q.qclass = SR_CLASS_IN;
    q.do_bit = (bits & 1u) != 0;
    q.edns = q.do_bit || (o & 4u) != 0;
    q.max_len = q.edns ? sizes[(o >> 3) & 3] : 512;
    bool allow_stale = (o & 0x20) != 0;
    cache_result_t got = cache_lookup(c, &q, now, allow_stale, out, 65536 + 64, &len);
    CHECK((got == CACHE_MISS) == (len == 0));

    uint8_t lname[SR_NAME_MAX_WIRE];
    lower(qn, qlen, lname);
    size_t i = model_find(md, lname, qlen, qtype, SR_CLASS_IN, bits);
    cache_result_t want = CACHE_MISS;
    ment_t *m = i != SIZE_MAX ? md->e[i] : NULL;
    if (m != NULL && now < m->expire) {
        want = CACHE_HIT;
    } else if (m != NULL && model_dead(md, m, now)) {
        model_drop(md, i);
        m = NULL;
    } else if (m != NULL && (allow_stale || now < m->fail_until)) {
        want = CACHE_STALE;
    }
    if (!md->strict) {
        if (got != CACHE_MISS) {
            size_t j = model_find(last, lname, qlen, qtype, SR_CLASS_IN, bits);
            check_loose(last, j != SIZE_MAX ? last->e[j] : NULL, &q, out, len);
        }
        /* Keep the model's clock-driven state roughly in step;
         * what was evicted it cannot know. */
        if (got == CACHE_MISS && m != NULL && want != CACHE_MISS)
            model_drop(md, model_find(md, lname, qlen, qtype, SR_CLASS_IN, bits));
        return;
    }
    if (want == CACHE_HIT) {
        m->hits++;
        if (md->cfg.prefetch && !m->prefetched && m->rcode != 2 && m->hits >= 2 &&
            (uint64_t)(m->expire - now) * 10 <= m->ttl) {
            m->prefetched = true;
            want = CACHE_HIT_PREFETCH;
        }
    }
    CHECK(got == want);
    if (got != CACHE_MISS)
        check_reply(md, m, &q, out, len, now, got == CACHE_STALE);
}

/* Flush one name or all, change the settings, or dump: checked against
 * the model where it is exact. */
static void op_admin(cache_t *c, model_t *md, model_t *last, fz_t *f, const uint8_t *qn,
                     size_t qlen, uint32_t now)
{
    uint8_t v = u8(f) % 4;
    if (v == 0) {
        uint8_t lname[SR_NAME_MAX_WIRE];
        size_t want = 0;
        lower(qn, qlen, lname);
        for (size_t i = 0; i < md->n;) {
            if (md->e[i]->nlen == qlen && memcmp(md->e[i]->name, lname, qlen) == 0) {
                model_drop(md, i);
                want++;
            } else {
                i++;
            }
        }
        size_t got = cache_flush(c, qn, qlen);
        if (md->strict)
            CHECK(got == want);
    } else if (v == 1) {
        size_t want = md->n;
        while (md->n > 0)
            model_drop(md, 0);
        size_t got = cache_flush(c, NULL, 0);
        if (md->strict)
            CHECK(got == want);
    } else if (v == 2) {
        cache_cfg_t cfg = pick_cfg(f, md->strict);
        cache_set_cfg(c, &cfg);
        md->cfg = cfg;
        last->cfg = cfg;
    } else {
        size_t lines = 0;
        cache_dump(c, now, dump_count, &lines);
        if (md->strict)
            CHECK(lines == md->n);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_t f = {data, size, 0};
    model_t md;
    model_t last; /* eviction mode: the last store per key */
    sr_msg_t *msg = sr_msg_new();
    uint8_t *out = malloc(65536 + 64);
    uint32_t now = 1000;

    if (g_reply == NULL)
        g_reply = sr_msg_new();
    CHECK(msg != NULL && out != NULL && g_reply != NULL);
    memset(&md, 0, sizeof(md));
    memset(&last, 0, sizeof(last));
    md.strict = (u8(&f) & 1) == 0;
    md.cfg = pick_cfg(&f, md.strict);
    last.cfg = md.cfg;
    cache_t *c = cache_new(&md.cfg);
    CHECK(c != NULL);

    while (fz_more(&f)) {
        uint8_t op = u8(&f);
        size_t k = u8(&f) % NNAMES;
        uint16_t qtype = QTYPES[u8(&f) % NQTYPES];
        uint8_t bits = u8(&f) & 3u;
        uint8_t qn[SR_NAME_MAX_WIRE];
        name_variant(&f, NAMES[k].w, NAMES[k].len, qn);
        size_t qlen = NAMES[k].len;

        switch (op % 10) {
        case 0:
        case 1:
        case 2: { /* store a built response */
            if (!build_response(&f, NAMES[k].w, NAMES[k].len, qtype, msg))
                break;
            if (md.n >= MODEL_MAX || last.n >= MODEL_MAX)
                goto out;
            op_store(c, &md, &last, &f, msg, qn, qlen, qtype, SR_CLASS_IN, bits, now, out);
            break;
        }
        case 3: { /* store fuzzer bytes under their own question */
            size_t n = u16(&f) % 1024;
            if (n > f.len - f.off)
                n = f.len - f.off;
            const uint8_t *p = f.p + f.off;
            f.off += n;
            if (sr_msg_parse(msg, p, n, 0) != SR_OK || sr_msg_qdcount(msg) != 1)
                break;
            if (md.n >= MODEL_MAX || last.n >= MODEL_MAX)
                goto out;
            size_t rl = 0;
            const uint8_t *rq = sr_msg_qname_wire(msg, &rl);
            uint8_t own[SR_NAME_MAX_WIRE];
            memcpy(own, rq, rl);
            uint16_t t = sr_msg_qtype(msg), cl = sr_msg_qclass(msg);
            op_store(c, &md, &last, &f, msg, own, rl, t, cl, bits, now, out);
            break;
        }
        case 4: { /* the upstreams failed */
            if (md.n >= MODEL_MAX)
                goto out;
            bool got = cache_store_failure(c, qn, qlen, qtype, SR_CLASS_IN, bits & 1u,
                                           (bits & 2u) != 0, now);
            bool want = model_failure(&md, qn, qlen, qtype, SR_CLASS_IN, bits, now);
            if (md.strict)
                CHECK(got == want);
            break;
        }
        /* look up */
        case 5:
        case 6:
        case 7: op_lookup(c, &md, &last, &f, qn, qlen, qtype, bits, now, out); break;
        case 8: { /* time passes */
            static const uint32_t steps[] = {0, 1, 4, 5, 29, 30, 31, 299, 300, 301, 3600, 90000};
            uint8_t s = u8(&f);
            now += s < 12 * 16 ? steps[s % 12] : s;
            break;
        }
        /* flush, settings, dump */
        default: op_admin(c, &md, &last, &f, qn, qlen, now); break;
        }
        cache_stats_t st;
        cache_stats(c, &st);
        if (md.strict) {
            CHECK(st.entries == md.n);
            CHECK(st.evictions == 0);
        } else {
            CHECK(st.bytes <= md.cfg.max_bytes);
        }
    }
out:
    cache_free(c);
    while (md.n > 0)
        model_drop(&md, 0);
    while (last.n > 0)
        model_drop(&last, 0);
    sr_msg_free(msg);
    free(out);
    return 0;
}
