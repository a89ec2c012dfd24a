/* stubresd: the cache's rules for wire images (see cache-internal.h).
 *
 * What cache_store and cache_render need to know about an upstream
 * response before its bytes become an image: which records are kept,
 * how TTLs are clamped and equalised per RRset, the negative TTL of RFC
 * 2308, and whether any name is spelt by bytes a reply rewrites. Only the
 * miss path comes here; a hit never does. */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "cache-internal.h"
#include "codec-internal.h"

/* Check what the codec handed us before trusting it: one question of
 * name_len bytes at offset 12, records laid end to end in section order,
 * each TTL inside its record, nothing past 64 KiB. */
bool cache_image_scan(const sr_msg_t *resp, size_t name_len, scan_t *sc)
{
    size_t wlen = 0;
    const uint8_t *wire = sr_msg_wire(resp, &wlen);
    size_t cut = wlen;
    const sr_edns_t *edns = sr_msg_edns(resp);
    size_t n = sr_msg_rr_count(resp);
    unsigned section = SR_SECTION_ANSWER;

    memset(sc, 0, sizeof(*sc));
    if (wire == NULL || wlen > UINT16_MAX)
        return false;
    sc->qend = sr_msg_question_end(resp);
    if (sc->qend != SR_HEADER_LEN + name_len + QFIXED || sc->qend > wlen)
        return false;
    if (edns != NULL && edns->present && edns->offset < cut)
        cut = edns->offset;
    sc->img_end = sc->qend;
    for (size_t i = 0; i < n; i++) {
        const sr_rr_t *rr = sr_msg_rr(resp, i);
        if (rr == NULL)
            return false;
        if (rr->offset >= cut || rr->type == TYPE_TSIG)
            break;
        if (rr->offset != sc->img_end || rr->ttl_offset < rr->offset ||
            rr->ttl_offset + 4 > rr->end || rr->end > cut || (unsigned)rr->section < section ||
            (unsigned)rr->section > SR_SECTION_ADDITIONAL)
            return false;
        section = rr->section;
        sc->count[section]++;
        sc->img_end = rr->end;
        sc->keep++;
    }
    /* The OPT record belongs in the additional section (RFC 6891 6.1.1);
     * one that cuts into the answer or authority leaves nothing to keep. */
    return sc->count[0] == sr_msg_section_count(resp, SR_SECTION_ANSWER) &&
           sc->count[1] == sr_msg_section_count(resp, SR_SECTION_AUTHORITY);
}

/* RFC 2181 8, then the configured limits. */
uint32_t cache_image_ttl_clamp(uint32_t t, const cache_cfg_t *cfg)
{
    if (t > CACHE_TTL_LIMIT)
        t = 0;
    if (t < cfg->min_ttl)
        t = cfg->min_ttl;
    if (t > cfg->max_ttl)
        t = cfg->max_ttl;
    return t;
}

/* RFC 2181 5.2: the records of one RRset share one TTL, the least of
 * theirs. The records of an RRset arrive together, so equal runs of
 * (section, owner, type, class) are equalised. */
static void equalise_run(uint8_t *img, const uint16_t *off, size_t a, size_t b)
{
    uint32_t m = UINT32_MAX;
    if (b - a < 2)
        return;
    for (size_t i = a; i < b; i++)
        m = min_u32(m, sr_get32(img + off[i]));
    for (size_t i = a; i < b; i++)
        sr_put32(img + off[i], m);
}

void cache_image_equalise(const sr_msg_t *resp, uint8_t *img, size_t len, const uint16_t *off,
                          size_t n)
{
    uint8_t names[2][SR_NAME_MAX_WIRE];
    size_t lens[2] = {0, 0};
    size_t start = 0;
    const sr_rr_t *prev = NULL;

    for (size_t i = 0; i < n; i++) {
        const sr_rr_t *rr = sr_msg_rr(resp, i);
        uint8_t *cur = names[i & 1u];
        size_t o = rr->offset;
        bool same = false;

        if (sr_name_unpack(img, len, &o, cur, &lens[i & 1u]) != SR_OK)
            lens[i & 1u] = 0;
        if (prev != NULL && prev->section == rr->section && prev->type == rr->type &&
            prev->rclass == rr->rclass && lens[i & 1u] != 0)
            same = sr_name_equal(cur, lens[i & 1u], names[(i - 1) & 1u], lens[(i - 1) & 1u]);
        if (!same) {
            equalise_run(img, off, start, i);
            start = i;
        }
        prev = rr;
    }
    equalise_run(img, off, start, n);
}

/* Whether a NOERROR answer answers the question: a record of QTYPE in
 * the answer section (at the end of any CNAME chain), or anything for
 * ANY. Otherwise it is NODATA (RFC 2308 2.2). */
bool cache_image_answers_qtype(const sr_msg_t *resp, size_t nanswer, uint16_t qtype)
{
    for (size_t i = 0; i < nanswer; i++) {
        const sr_rr_t *rr = sr_msg_rr(resp, i);
        if (rr->type == qtype || qtype == SR_TYPE_ANY)
            return true;
    }
    return false;
}

/* RFC 2308 5: the TTL of a negative answer is min(SOA TTL, SOA MINIMUM)
 * of the SOA in the authority section, here also capped by negative_ttl
 * and max_ttl. Returns the SOA's index, or SIZE_MAX without one. */
size_t cache_image_negative_ttl(const sr_msg_t *resp, const scan_t *sc, const cache_cfg_t *cfg,
                                uint32_t *ttl)
{
    size_t first = sc->count[0];
    for (size_t i = first; i < first + sc->count[1]; i++) {
        const sr_rr_t *rr = sr_msg_rr(resp, i);
        /* MNAME and RNAME take at least a byte each, then five 32-bit
         * fields, MINIMUM last (RFC 1035 3.3.13). */
        if (rr->type != SR_TYPE_SOA || rr->rdata == NULL || rr->rdlength < 22)
            continue;
        uint32_t t = rr->ttl > CACHE_TTL_LIMIT ? 0 : rr->ttl;
        uint32_t minimum = sr_get32(rr->rdata + rr->rdlength - 4);
        if (minimum > CACHE_TTL_LIMIT)
            minimum = 0;
        t = min_u32(t, minimum);
        t = min_u32(t, cfg->negative_ttl);
        *ttl = min_u32(t, cfg->max_ttl);
        return i;
    }
    return SIZE_MAX;
}

/* ---- names spelt by bytes a reply rewrites ----
 * RFC 1035 4.1.4 lets a compression pointer point at any earlier byte,
 * and the codec follows any pointer that goes backwards, after which the
 * labels are read forwards as far as they go. So a name may be spelt, in
 * part, by the bytes of an earlier record's TTL field, take a pointer's
 * low byte from a letter of the question name, or run on past the records
 * into the OPT record. Counting the TTL down, writing the client's case
 * into the question, or cutting the OPT would then rewrite the name or
 * break the reply. No real server sends this, but an upstream can, and
 * such a response is not cached (and cache_render deals with it too).
 *
 * The check is exact with respect to the codec: parse the image (which
 * fails for names running past it), parse it again with every TTL byte
 * inverted, then zeroed, then with the case of every question letter
 * flipped, and demand the same names and fields (up to case for the
 * last). A cheap scan decides first whether any name can reach those
 * bytes at all: names are read in place (owner, RDATA), where none of
 * them lies, or from a pointer's target on, so walking from the target of
 * every byte pair that could be a backward pointer covers every read. */

/* Does any TTL field [off[i], off[i] + 4) meet [a, b)? off is ascending. */
static bool ttl_overlap(const uint16_t *off, size_t n, size_t a, size_t b)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((size_t)off[mid] + 4 <= a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && off[lo] < b;
}

/* Read labels from t as a name would (up to its root, a pointer or a bad
 * label type) and say what of the above is among them. *budget bounds the
 * total work of a whole scan.
 *
 * Not the codec's sr_name_skip(): that answers "is this a name and where
 * does it end" and stops at the first fault, while this asks which bytes
 * any reader could touch, faults included (a bad label type's byte, a
 * pointer cut by the end, the bytes a label covers past a TTL), from
 * targets that are not names at all, under a budget shared by the whole
 * scan. The question differs, so does the walk. */
static unsigned walk_reads(const uint8_t *img, size_t len, size_t t, size_t qname_end,
                           const uint16_t *off, size_t n, size_t *budget)
{
    unsigned r = 0;
    for (unsigned labels = 0; labels <= SR_NAME_MAX_WIRE / 2; labels++) {
        if (*budget == 0)
            return READS_TTL | READS_QPTR | READS_END; /* too much to look
                                                          at: assume all */
        (*budget)--;
        if (t >= len)
            return r | READS_END;
        uint8_t c = img[t];
        if (c == 0 || (c & 0xC0u) == 0x40u || (c & 0xC0u) == 0x80u)
            return r | (ttl_overlap(off, n, t, t + 1) ? READS_TTL : 0u);
        if ((c & 0xC0u) == 0xC0u) {
            if (t + 1 < qname_end)
                r |= READS_QPTR;
            if (t + 2 > len)
                r |= READS_END;
            return r | (ttl_overlap(off, n, t, t + 2) ? READS_TTL : 0u);
        }
        if (ttl_overlap(off, n, t, t + 1u + c))
            r |= READS_TTL;
        t += 1u + c;
    }
    return r;
}

/* Walk from the target of every byte pair after the header that could be
 * a backward pointer; the union of what they read. */
unsigned cache_image_names_may_read(const uint8_t *img, size_t len, size_t qname_end,
                                    const uint16_t *off, size_t n)
{
    size_t budget = 4 * len + 64;
    unsigned r = 0;
    for (size_t i = SR_HEADER_LEN; i + 1 < len; i++) {
        if (img[i] < 0xC0u)
            continue;
        size_t t = ((size_t)(img[i] & 0x3Fu) << 8) | img[i + 1];
        if (t >= SR_HEADER_LEN && t < i)
            r |= walk_reads(img, len, t, qname_end, off, n, &budget);
    }
    return r;
}

static bool same_names(const sr_msg_t *a, const sr_msg_t *b, bool nocase)
{
    int (*cmp)(const char *, const char *) = nocase ? strcasecmp : strcmp;
    size_t n = sr_msg_rr_count(a);
    if (n != sr_msg_rr_count(b))
        return false;
    for (size_t i = 0; i < n; i++) {
        const sr_rr_t *x = sr_msg_rr(a, i);
        const sr_rr_t *y = sr_msg_rr(b, i);
        if (x->type != y->type || x->rclass != y->rclass || x->rdlength != y->rdlength ||
            x->field_count != y->field_count || cmp(x->name, y->name) != 0)
            return false;
        for (size_t f = 0; f < x->field_count; f++)
            if (cmp(x->fields[f].value, y->fields[f].value) != 0)
                return false;
    }
    return true;
}

/* The exact check: the image parses, and gives the same names with its
 * TTL bytes inverted, zeroed, and with its question letters in the other
 * case. False also when memory runs out. */
bool cache_image_names_fixed(const uint8_t *img, size_t len, size_t qname_end, const uint16_t *off,
                             size_t n)
{
    bool ok = false;
    sr_msg_t *ref = sr_msg_new();
    sr_msg_t *alt = sr_msg_new();
    uint8_t *buf = sr_malloc(len);

    if (ref == NULL || alt == NULL || buf == NULL || sr_msg_parse(ref, img, len, 0) != SR_OK)
        goto done;
    for (int pattern = 0; pattern < 3; pattern++) {
        memcpy(buf, img, len);
        if (pattern < 2) {
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < 4; j++)
                    buf[off[i] + j] = pattern == 0 ? (uint8_t)~buf[off[i] + j] : 0;
        } else {
            for (size_t i = SR_HEADER_LEN; i < qname_end; i++)
                if ((unsigned)((buf[i] | 0x20u) - 'a') < 26u)
                    buf[i] ^= 0x20u;
        }
        if (sr_msg_parse(alt, buf, len, 0) != SR_OK || !same_names(ref, alt, pattern == 2))
            goto done;
    }
    ok = true;
done:
    sr_free(buf);
    sr_msg_free(alt);
    sr_msg_free(ref);
    return ok;
}
