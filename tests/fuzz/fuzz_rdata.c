/* libFuzzer target: record decoding of every type (src/lib/rdata.c) and
 * its inverse, the presentation parser (src/lib/rdata_text.c).
 *
 * Input: a type selector (one of the class reference's 25 types, or any
 * 16-bit type: the later types of stubres-query(1) OUTPUT are reached
 * this way), a class selector, an options byte, then the RDATA (or,
 * with bit 7 of the options, master-file text for it). The
 * RDATA is wrapped in an otherwise valid response (question, one answer
 * record whose owner points at the question, optionally an A record
 * after it), so any failure of the parse is the RDATA's.
 *
 * Checks:
 * - a model of each type's RDATA layout (RFC 1035 3.3/3.4, RFC 1183,
 *   RFC 2782, RFC 3403, RFC 3596, RFC 4398, and for the later types RFC
 *   1876, 4034, 4255, 5155, 6672, 6698, 7553, 7929, 8659, 8976, 9460;
 *   RFC 3597 section 4 for the
 *   class-specific types; RFC 2136 for classes ANY and NONE) says whether
 *   the RDATA fills its length exactly; the parser must accept exactly
 *   then, with and without field text, and also at length - 1 and
 *   length + 1;
 * - an accepted record has the type's number of fields, each of them
 *   printable ASCII;
 * - the fields, written as one line of master-file text, are accepted by
 *   sr_rdata_from_text(), and the RDATA it makes decodes to the very same
 *   fields (the "\# LEN HEX" form of a type without a decoder gives back
 *   the very same bytes). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <stubres/wire.h>

#include "fuzz.h"
#include "lib-internal.h"

/* The class reference's 25 record types. */
static const uint16_t TYPES25[] = {
    SR_TYPE_A,   SR_TYPE_NS,   SR_TYPE_MD,    SR_TYPE_MF,    SR_TYPE_CNAME,
    SR_TYPE_SOA, SR_TYPE_MB,   SR_TYPE_MG,    SR_TYPE_MR,    SR_TYPE_NULL,
    SR_TYPE_WKS, SR_TYPE_PTR,  SR_TYPE_HINFO, SR_TYPE_MINFO, SR_TYPE_MX,
    SR_TYPE_TXT, SR_TYPE_RP,   SR_TYPE_AFSDB, SR_TYPE_X25,   SR_TYPE_ISDN,
    SR_TYPE_RT,  SR_TYPE_AAAA, SR_TYPE_SRV,   SR_TYPE_NAPTR, SR_TYPE_CERT,
};
#define NTYPES25 (sizeof(TYPES25) / sizeof(TYPES25[0]))

/* The types decoded after the reference. */
static const uint16_t TYPES_LATER[] = {
    SR_TYPE_LOC,   SR_TYPE_DNAME,   SR_TYPE_DS,         SR_TYPE_SSHFP,      SR_TYPE_RRSIG,
    SR_TYPE_NSEC,  SR_TYPE_DNSKEY,  SR_TYPE_NSEC3,      SR_TYPE_NSEC3PARAM, SR_TYPE_TLSA,
    SR_TYPE_CDS,   SR_TYPE_CDNSKEY, SR_TYPE_OPENPGPKEY, SR_TYPE_ZONEMD,     SR_TYPE_SVCB,
    SR_TYPE_HTTPS, SR_TYPE_URI,     SR_TYPE_CAA,
};
#define NTYPES_LATER (sizeof(TYPES_LATER) / sizeof(TYPES_LATER[0]))

/* The question: mixed case, several labels, so that RDATA pointers have
 * suffixes to point at. */
static const uint8_t QNAME[] = {4,   'M', 'a', 'i', 'l', 7,   'E', 'x', 'a', 'm',
                                'p', 'l', 'e', 4,   't', 'E', 'S', 'T', 0};

#define MAX_MSG 65535

/* ---- the model: does this RDATA fill exactly rdlen? ---- */

typedef struct mcur {
    const uint8_t *pkt;
    size_t pktlen;
    size_t off;
    size_t end; /* end of the RDATA */
} mcur_t;

static bool m_fixed(mcur_t *c, size_t n)
{
    if (c->end - c->off < n)
        return false;
    c->off += n;
    return true;
}

/* <character-string>: a length byte and that many bytes. */
static bool m_string(mcur_t *c)
{
    if (c->off >= c->end)
        return false;
    return m_fixed(c, 1u + c->pkt[c->off]);
}

/* A domain name, compressed or not: the part stored here must end inside
 * the RDATA; where a pointer leads is the name reader's business
 * (fuzz_name checks it). */
static bool m_name(mcur_t *c)
{
    uint8_t w[SR_NAME_MAX_WIRE];
    size_t wl, o = c->off;
    if (sr_name_unpack(c->pkt, c->pktlen, &o, w, &wl) != SR_OK || o > c->end)
        return false;
    c->off = o;
    return true;
}

/* A type bit map (RFC 4034 4.1.2) filling the rest: windows in increasing
 * order, 1-32 bytes each, the last byte of each not zero. */
static bool m_bitmap(mcur_t *c)
{
    int prev = -1;
    while (c->off < c->end) {
        if (c->end - c->off < 2)
            return false;
        uint8_t win = c->pkt[c->off], len = c->pkt[c->off + 1];
        if (win <= prev || len < 1 || len > 32 || c->end - c->off - 2 < len ||
            c->pkt[c->off + 1 + len] == 0)
            return false;
        prev = win;
        c->off += 2u + len;
    }
    return true;
}

/* LOC (RFC 1876 2): 16 bytes, version 0, sizes of two digits 0-9, the
 * angles within 90 and 180 degrees of 2^31 thousandths of a second. */
static bool m_loc(mcur_t *c)
{
    const uint8_t *p = c->pkt + c->off;
    if (c->end - c->off < 16 || p[0] != 0)
        return false;
    for (int i = 1; i <= 3; i++)
        if ((p[i] >> 4) > 9 || (p[i] & 15) > 9)
            return false;
    int64_t lat = (int64_t)sr_get32(p + 4) - 0x80000000LL;
    int64_t lon = (int64_t)sr_get32(p + 8) - 0x80000000LL;
    if (lat < -324000000 || lat > 324000000 || lon < -648000000 || lon > 648000000)
        return false;
    c->off += 16;
    return true;
}

/* SvcParams (RFC 9460 2.2): keys strictly increasing, values inside. */
static bool m_params(mcur_t *c)
{
    long prev = -1;
    while (c->off < c->end) {
        if (c->end - c->off < 4)
            return false;
        uint16_t key = sr_get16(c->pkt + c->off), len = sr_get16(c->pkt + c->off + 2);
        if (key <= prev)
            return false;
        prev = key;
        c->off += 4;
        if (!m_fixed(c, len))
            return false;
    }
    return true;
}

/* CAA tag (RFC 8659 4.1.1): 1-255 letters and digits after a length byte. */
static bool m_caa_tag(mcur_t *c)
{
    if (c->off >= c->end || c->pkt[c->off] == 0)
        return false;
    size_t n = c->pkt[c->off];
    if (c->end - c->off - 1 < n)
        return false;
    for (size_t i = 1; i <= n; i++) {
        uint8_t ch = c->pkt[c->off + i];
        if (!((ch >= '0' && ch <= '9') || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z')))
            return false;
    }
    c->off += 1 + n;
    return true;
}

/* The rest of the RDATA, whatever it holds. */
static bool m_rest(mcur_t *c)
{
    c->off = c->end;
    return true;
}

/* Whether (type, class) is decoded field by field; else RFC 3597. */
static bool m_has_decoder(uint16_t type, uint16_t rclass)
{
    switch (type) {
    case SR_TYPE_A:
    case SR_TYPE_WKS:
    case SR_TYPE_AAAA:
    case SR_TYPE_SRV:
    case SR_TYPE_NAPTR: return rclass == SR_CLASS_IN;
    default: break;
    }
    if (rclass == 254 || rclass == 255)
        return false;
    for (size_t i = 0; i < NTYPES25; i++)
        if (TYPES25[i] == type)
            return true;
    for (size_t i = 0; i < NTYPES_LATER; i++)
        if (TYPES_LATER[i] == type)
            return true;
    return false;
}

/* True when the RDATA at pkt[rdoff, rdoff + rdlen) is well formed; *nf
 * gets the number of fields it decodes to. */
static bool model(const uint8_t *pkt, size_t pktlen, uint16_t type, uint16_t rclass, size_t rdoff,
                  size_t rdlen, size_t *nf)
{
    mcur_t c = {pkt, pktlen, rdoff, rdoff + rdlen};
    bool ok = true;

    if (type == SR_TYPE_OPT)
        return false; /* never an answer record (RFC 6891 6.1.1) */
    if (!m_has_decoder(type, rclass)) {
        *nf = 1; /* "\# LEN HEX": any bytes */
        return true;
    }
    switch (type) {
    case SR_TYPE_A:
        *nf = 1;
        ok = m_fixed(&c, 4);
        break;
    case SR_TYPE_AAAA:
        *nf = 1;
        ok = m_fixed(&c, 16);
        break;
    case SR_TYPE_NS:
    case SR_TYPE_MD:
    case SR_TYPE_MF:
    case SR_TYPE_CNAME:
    case SR_TYPE_MB:
    case SR_TYPE_MG:
    case SR_TYPE_MR:
    case SR_TYPE_PTR:
        *nf = 1;
        ok = m_name(&c);
        break;
    case SR_TYPE_SOA:
        *nf = 7;
        ok = m_name(&c) && m_name(&c) && m_fixed(&c, 20);
        break;
    case SR_TYPE_NULL:
        *nf = 1;
        c.off = c.end;
        break;
    case SR_TYPE_WKS:
        /* A bit map of 16-bit ports is at most 8192 bytes. */
        *nf = 3;
        ok = m_fixed(&c, 5) && c.end - c.off <= 8192;
        c.off = c.end;
        break;
    case SR_TYPE_HINFO:
        *nf = 2;
        ok = m_string(&c) && m_string(&c);
        break;
    case SR_TYPE_MINFO:
    case SR_TYPE_RP:
        *nf = 2;
        ok = m_name(&c) && m_name(&c);
        break;
    case SR_TYPE_MX:
    case SR_TYPE_AFSDB:
    case SR_TYPE_RT:
        *nf = 2;
        ok = m_fixed(&c, 2) && m_name(&c);
        break;
    case SR_TYPE_TXT:
        /* One or more strings, filling the RDATA (RFC 1035 3.3.14). */
        *nf = 1;
        ok = c.off < c.end;
        while (ok && c.off < c.end)
            ok = m_string(&c);
        break;
    case SR_TYPE_X25:
        *nf = 1;
        ok = m_string(&c);
        break;
    case SR_TYPE_ISDN:
        *nf = 1;
        ok = m_string(&c);
        if (ok && c.off < c.end) {
            *nf = 2;
            ok = m_string(&c);
        }
        break;
    case SR_TYPE_SRV:
        *nf = 4;
        ok = m_fixed(&c, 6) && m_name(&c);
        break;
    case SR_TYPE_NAPTR:
        *nf = 6;
        ok = m_fixed(&c, 4) && m_string(&c) && m_string(&c) && m_string(&c) && m_name(&c);
        break;
    case SR_TYPE_CERT:
        *nf = 4;
        ok = m_fixed(&c, 5);
        c.off = c.end;
        break;
    case SR_TYPE_LOC:
        *nf = 6;
        ok = m_loc(&c);
        break;
    case SR_TYPE_DNAME:
        *nf = 1;
        ok = m_name(&c);
        break;
    case SR_TYPE_DS:
    case SR_TYPE_CDS:
    case SR_TYPE_DNSKEY:
    case SR_TYPE_CDNSKEY:
        *nf = 4;
        ok = m_fixed(&c, 4) && m_rest(&c);
        break;
    case SR_TYPE_SSHFP:
        *nf = 3;
        ok = m_fixed(&c, 2) && m_rest(&c);
        break;
    case SR_TYPE_TLSA:
        *nf = 4;
        ok = m_fixed(&c, 3) && m_rest(&c);
        break;
    case SR_TYPE_ZONEMD:
        *nf = 4;
        ok = m_fixed(&c, 6) && m_rest(&c);
        break;
    case SR_TYPE_OPENPGPKEY:
        *nf = 1;
        ok = m_rest(&c);
        break;
    case SR_TYPE_RRSIG:
        *nf = 9;
        ok = m_fixed(&c, 18) && m_name(&c) && m_rest(&c);
        break;
    case SR_TYPE_NSEC:
        *nf = 2;
        ok = m_name(&c) && m_bitmap(&c);
        break;
    case SR_TYPE_NSEC3:
        /* the hash is at least one byte (RFC 5155 3.2) */
        *nf = 6;
        ok = m_fixed(&c, 4) && m_string(&c) && c.off < c.end && c.pkt[c.off] > 0 && m_string(&c) &&
             m_bitmap(&c);
        break;
    case SR_TYPE_NSEC3PARAM:
        *nf = 4;
        ok = m_fixed(&c, 4) && m_string(&c);
        break;
    case SR_TYPE_SVCB:
    case SR_TYPE_HTTPS:
        *nf = 3;
        ok = m_fixed(&c, 2) && m_name(&c) && m_params(&c);
        break;
    case SR_TYPE_URI: /* a target of at least one byte (RFC 7553 4.4) */
        *nf = 3;
        ok = m_fixed(&c, 4) && c.off < c.end && m_rest(&c);
        break;
    case SR_TYPE_CAA:
        *nf = 3;
        ok = m_fixed(&c, 1) && m_caa_tag(&c) && m_rest(&c);
        break;
    default: FUZZ_CHECK(!"a type with a decoder the model does not know");
    }
    return ok && c.off == c.end;
}

/* ---- wrapping RDATA in a message ---- */

typedef struct wrap {
    uint8_t *b; /* MAX_MSG bytes */
    size_t len;
    size_t rdoff;
} wrap_t;

static bool put(wrap_t *w, const void *p, size_t n)
{
    if (n > MAX_MSG - w->len)
        return false;
    memcpy(w->b + w->len, p, n);
    w->len += n;
    return true;
}

static bool put16(wrap_t *w, uint16_t v)
{
    uint8_t t[2];
    sr_put16(t, v);
    return put(w, t, 2);
}

/* Header, question, the record under test with rdlen bytes of RDATA, and
 * (trailer) an A record after it. False when it does not fit. */
static bool wrap_rdata(wrap_t *w, uint16_t type, uint16_t rclass, uint8_t opts, const uint8_t *rd,
                       size_t rdlen, bool trailer)
{
    static const uint8_t hdr[] = {0x42, 0x42, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0};
    static const uint8_t ttl[] = {0, 0, 0x0e, 0x10};
    static const uint8_t a_rr[] = {0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1};

    w->len = 0;
    if (rdlen > 0xFFFF)
        return false;
    if (!put(w, hdr, sizeof(hdr)) || !put(w, QNAME, sizeof(QNAME)) || !put16(w, SR_TYPE_A) ||
        !put16(w, SR_CLASS_IN))
        return false;
    /* The owner: a pointer to the question, or a label before one. */
    if (opts & 1) {
        static const uint8_t own[] = {3, 'w', 'w', 'w', 0xC0, 12};
        if (!put(w, own, sizeof(own)))
            return false;
    } else if (!put16(w, 0xC00C)) {
        return false;
    }
    if (!put16(w, type) || !put16(w, rclass) || !put(w, ttl, 4) || !put16(w, (uint16_t)rdlen))
        return false;
    w->rdoff = w->len;
    if (!put(w, rd, rdlen))
        return false;
    if (trailer) {
        if (!put(w, a_rr, sizeof(a_rr)))
            return false;
        w->b[11] = 1; /* ARCOUNT */
    }
    return true;
}

/* ---- presentation text from fields ---- */

typedef struct text {
    char *s;
    size_t len, cap;
} text_t;

static void t_grow(text_t *t, size_t n)
{
    if (t->cap - t->len > n)
        return;
    size_t ncap = (t->cap + n) * 2;
    char *ns = realloc(t->s, ncap);
    FUZZ_CHECK(ns != NULL);
    t->s = ns;
    t->cap = ncap;
}

static void t_char(text_t *t, char c)
{
    t_grow(t, 1);
    t->s[t->len++] = c;
    t->s[t->len] = '\0';
}

static void t_str(text_t *t, const char *s)
{
    size_t n = strlen(s);
    t_grow(t, n);
    memcpy(t->s + t->len, s, n + 1);
    t->len += n;
}

/* A field that is one token as it stands (numbers, addresses, hex, base64,
 * port lists). */
static void t_raw(text_t *t, const char *v)
{
    if (t->len > 0)
        t_char(t, ' ');
    t_str(t, v);
}

/* A name field. Its text (the man pages) escapes '.', '\' and bytes outside
 * 0x21-0x7E; the master-file lexer also gives a meaning to a leading '"'
 * (a quoted token) and to a lone '@' (the origin), so those two get a
 * backslash, which stands for the character itself (RFC 1035 5.1). */
static void t_name(text_t *t, const char *v)
{
    if (t->len > 0)
        t_char(t, ' ');
    if (v[0] == '"' || strcmp(v, "@") == 0)
        t_char(t, '\\');
    t_str(t, v);
}

/* A character-string field (bytes 0x20-0x7E as they are, '\' as "\\",
 * others \DDD): quoted, since it may hold blanks or be empty; a '"'
 * inside needs its backslash. */
static void t_string(text_t *t, const char *v)
{
    if (t->len > 0)
        t_char(t, ' ');
    t_char(t, '"');
    for (; *v != '\0'; v++) {
        if (*v == '"')
            t_char(t, '\\');
        t_char(t, *v);
    }
    t_char(t, '"');
}

/* The bytes a character-string text stands for: "\\" is '\', "\DDD" a
 * byte, anything else itself. Returns the count written to out. */
static size_t unescape_string(const char *v, uint8_t *out)
{
    size_t n = 0;
    while (*v != '\0') {
        if (v[0] == '\\' && v[1] >= '0' && v[1] <= '9') {
            FUZZ_CHECK(v[2] >= '0' && v[2] <= '9' && v[3] >= '0' && v[3] <= '9');
            unsigned x =
                (unsigned)(v[1] - '0') * 100 + (unsigned)(v[2] - '0') * 10 + (unsigned)(v[3] - '0');
            FUZZ_CHECK(x <= 255);
            out[n++] = (uint8_t)x;
            v += 4;
        } else if (v[0] == '\\') {
            FUZZ_CHECK(v[1] == '\\');
            out[n++] = '\\';
            v += 2;
        } else {
            out[n++] = (uint8_t)*v++;
        }
    }
    return n;
}

/* TXT shows its strings concatenated; written back as strings of at most
 * 255 bytes, each escaped in full. */
static void t_txt(text_t *t, const char *v)
{
    size_t vl = strlen(v);
    uint8_t *bytes = malloc(vl + 1);
    FUZZ_CHECK(bytes != NULL);
    size_t n = unescape_string(v, bytes);
    size_t i = 0;
    do {
        size_t chunk = n - i > 255 ? 255 : n - i;
        if (t->len > 0)
            t_char(t, ' ');
        t_char(t, '"');
        for (size_t k = i; k < i + chunk; k++) {
            uint8_t c = bytes[k];
            char esc[5];
            if (c < 0x20 || c > 0x7E || c == '"' || c == '\\') {
                esc[0] = '\\';
                esc[1] = (char)('0' + c / 100);
                esc[2] = (char)('0' + c / 10 % 10);
                esc[3] = (char)('0' + c % 10);
                esc[4] = '\0';
                t_str(t, esc);
            } else {
                t_char(t, (char)c);
            }
        }
        t_char(t, '"');
        i += chunk;
    } while (i < n);
    free(bytes);
}

/* The record's fields as one line of RDATA presentation text. */
static void fields_to_text(const sr_rr_t *rr, text_t *t)
{
    const sr_field_t *f = rr->fields;
    switch (rr->type) {
    case SR_TYPE_NS:
    case SR_TYPE_MD:
    case SR_TYPE_MF:
    case SR_TYPE_CNAME:
    case SR_TYPE_MB:
    case SR_TYPE_MG:
    case SR_TYPE_MR:
    case SR_TYPE_PTR:
    case SR_TYPE_MINFO:
    case SR_TYPE_RP:
        for (size_t i = 0; i < rr->field_count; i++)
            t_name(t, f[i].value);
        break;
    case SR_TYPE_SOA:
        t_name(t, f[0].value);
        t_name(t, f[1].value);
        for (size_t i = 2; i < rr->field_count; i++)
            t_raw(t, f[i].value);
        break;
    case SR_TYPE_MX:
    case SR_TYPE_AFSDB:
    case SR_TYPE_RT:
        t_raw(t, f[0].value);
        t_name(t, f[1].value);
        break;
    case SR_TYPE_SRV:
        for (size_t i = 0; i < 3; i++)
            t_raw(t, f[i].value);
        t_name(t, f[3].value);
        break;
    case SR_TYPE_NAPTR:
        t_raw(t, f[0].value);
        t_raw(t, f[1].value);
        for (size_t i = 2; i < 5; i++)
            t_string(t, f[i].value);
        t_name(t, f[5].value);
        break;
    case SR_TYPE_HINFO:
    case SR_TYPE_X25:
    case SR_TYPE_ISDN:
        for (size_t i = 0; i < rr->field_count; i++)
            t_string(t, f[i].value);
        break;
    case SR_TYPE_TXT: t_txt(t, f[0].value); break;
    case SR_TYPE_DNAME:
    case SR_TYPE_RRSIG:
    case SR_TYPE_NSEC:
    case SR_TYPE_SVCB:
    case SR_TYPE_HTTPS:
        /* The later types' fields are their presentation as it stands
         * (strings quoted already), but for a name's leading '"' or '@'. */
        for (size_t i = 0; i < rr->field_count; i++) {
            bool name = (rr->type == SR_TYPE_RRSIG && i == 7) ||
                        ((rr->type == SR_TYPE_SVCB || rr->type == SR_TYPE_HTTPS) && i == 1) ||
                        ((rr->type == SR_TYPE_DNAME || rr->type == SR_TYPE_NSEC) && i == 0);
            if (name)
                t_name(t, f[i].value);
            else
                t_raw(t, f[i].value);
        }
        break;
    default: /* A, AAAA, NULL, WKS, CERT and the later types: tokens as
                they are */
        for (size_t i = 0; i < rr->field_count; i++)
            t_raw(t, f[i].value);
        break;
    }
}

/* ---- the run ---- */

static sr_msg_t *g_a, *g_b, *g_c;
static uint8_t *g_wire, *g_wire2, *g_rd1, *g_rd2;

static void check_fields(const sr_rr_t *rr, size_t nf)
{
    FUZZ_CHECK(rr->field_count == nf);
    for (size_t k = 0; k < rr->field_count; k++) {
        FUZZ_CHECK(rr->fields[k].name != NULL && rr->fields[k].value != NULL);
        for (const char *p = rr->fields[k].value; *p != '\0'; p++)
            FUZZ_CHECK(*p >= 0x20 && *p <= 0x7E);
    }
}

/* Parse the wrapped RDATA and hold the parser to the model. Returns true
 * when it parsed (then g_a holds it). */
static bool parse_against_model(const wrap_t *w, uint16_t type, uint16_t rclass, size_t rdlen,
                                bool trailer)
{
    size_t nf = 0;
    bool want = model(w->b, w->len, type, rclass, w->rdoff, rdlen, &nf);
    sr_status_t sa = sr_msg_parse(g_a, w->b, w->len, 0);
    sr_status_t sb = sr_msg_parse(g_b, w->b, w->len, SR_PARSE_NO_FIELDS);

    FUZZ_CHECK(sa == sb);
    FUZZ_CHECK(sa == SR_OK || sa == SR_E_FORMERR);
    FUZZ_CHECK((sa == SR_OK) == want);
    if (sa != SR_OK)
        return false;
    FUZZ_CHECK(sr_msg_rr_count(g_a) == (trailer ? 2u : 1u));
    const sr_rr_t *rr = sr_msg_rr(g_a, 0);
    FUZZ_CHECK(rr->type == type && rr->rclass == rclass && rr->rdlength == rdlen);
    size_t wl;
    FUZZ_CHECK(rr->rdata == sr_msg_wire(g_a, &wl) + w->rdoff && wl == w->len);
    check_fields(rr, nf);
    if (trailer) {
        const sr_rr_t *a = sr_msg_rr(g_a, 1);
        FUZZ_CHECK(a->type == SR_TYPE_A && strcmp(a->fields[0].value, "192.0.2.1") == 0);
    }
    return true;
}

/* The fields of the record in g_a, through text and back. */
static void check_reencode(uint16_t type, uint16_t rclass, uint8_t opts)
{
    const sr_rr_t *rr = sr_msg_rr(g_a, 0);
    text_t t = {NULL, 0, 0};
    size_t len = 0;
    bool generic = !m_has_decoder(type, rclass);

    t_grow(&t, 64);
    t.s[0] = '\0';
    if (generic)
        t_str(&t, rr->fields[0].value);
    else
        fields_to_text(rr, &t);
    sr_status_t st = sr_rdata_from_text(type, t.s, g_rd2, MAX_MSG, &len);
    if (generic && st == SR_E_FORMERR && m_has_decoder(type, SR_CLASS_IN)) {
        /* Generic only because of its class: the encoder knows class IN
         * alone and checks the RDATA as IN RDATA (RFC 3597 5), which it
         * need not be. */
        free(t.s);
        return;
    }
    if (st != SR_OK)
        fprintf(stderr, "sr_rdata_from_text(%u, \"%s\") = %d\n", type, t.s, st);
    FUZZ_CHECK(st == SR_OK);
    if (generic) {
        /* RFC 3597 5: the generic form is the bytes themselves. */
        FUZZ_CHECK(len == rr->rdlength && memcmp(g_rd2, rr->rdata, len) == 0);
        free(t.s);
        return;
    }
    wrap_t w2 = {g_wire2, 0, 0};
    FUZZ_CHECK(wrap_rdata(&w2, type, rclass, opts, g_rd2, len, false));
    sr_status_t sc = sr_msg_parse(g_c, w2.b, w2.len, 0);
    if (sc != SR_OK)
        fprintf(stderr, "re-encoded \"%s\" does not parse: %s\n", t.s, sr_msg_error(g_c));
    FUZZ_CHECK(sc == SR_OK);
    const sr_rr_t *r2 = sr_msg_rr(g_c, 0);
    FUZZ_CHECK(r2->field_count == rr->field_count);
    for (size_t k = 0; k < rr->field_count; k++) {
        if (strcmp(r2->fields[k].value, rr->fields[k].value) != 0)
            fprintf(stderr, "field %s: \"%s\" became \"%s\" through \"%s\"\n", rr->fields[k].name,
                    rr->fields[k].value, r2->fields[k].value, t.s);
        FUZZ_CHECK(strcmp(r2->fields[k].value, rr->fields[k].value) == 0);
    }
    free(t.s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    uint16_t type, rclass;
    uint8_t opts;

    if (g_a == NULL) {
        g_a = sr_msg_new();
        g_b = sr_msg_new();
        g_c = sr_msg_new();
        g_wire = malloc(MAX_MSG);
        g_wire2 = malloc(MAX_MSG);
        g_rd1 = malloc(MAX_MSG);
        g_rd2 = malloc(MAX_MSG);
        FUZZ_CHECK(g_a && g_b && g_c && g_wire && g_wire2 && g_rd1 && g_rd2);
    }
    if (size < 3)
        return 0;
    /* Mostly the 25 types, sometimes any type at all. */
    if (data[off] < 200) {
        type = TYPES25[data[off++] % NTYPES25];
    } else {
        if (size < 5)
            return 0;
        type = (uint16_t)(data[off + 1] << 8 | data[off + 2]);
        off += 3;
    }
    uint8_t c = data[off++];
    switch (c % 16) {
    case 10: rclass = 3; break;   /* CH */
    case 11: rclass = 4; break;   /* HS */
    case 12: rclass = 254; break; /* NONE */
    case 13: rclass = 255; break; /* ANY */
    case 14: rclass = 0; break;
    case 15: rclass = (uint16_t)(c << 8 | c); break;
    default: rclass = SR_CLASS_IN; break;
    }
    if (off >= size)
        return 0;
    opts = data[off++];
    const uint8_t *rd = data + off;
    size_t rdlen = size - off;
    bool trailer = (opts & 2) != 0;

    wrap_t w = {g_wire, 0, 0};
    if (opts & 0x80) {
        /* Text: what the encoder makes, the decoder must take. */
        char *text = malloc(rdlen + 1);
        size_t len = 0;
        FUZZ_CHECK(text != NULL);
        memcpy(text, rd, rdlen);
        text[rdlen] = '\0';
        sr_status_t st = sr_rdata_from_text(type, text, g_rd1, MAX_MSG, &len);
        FUZZ_CHECK(st == SR_OK || st == SR_E_FORMERR || st == SR_E_NOBUFS);
        if (st == SR_OK && wrap_rdata(&w, type, rclass, opts, g_rd1, len, trailer)) {
            size_t nf;
            if (!model(w.b, w.len, type, rclass, w.rdoff, len, &nf))
                fprintf(stderr, "\"%s\" encodes to RDATA its type cannot have\n", text);
            FUZZ_CHECK(parse_against_model(&w, type, rclass, len, trailer));
            check_reencode(type, rclass, opts);
        }
        free(text);
        return 0;
    }
    if (!wrap_rdata(&w, type, rclass, opts, rd, rdlen, trailer))
        return 0;
    if (parse_against_model(&w, type, rclass, rdlen, trailer))
        check_reencode(type, rclass, opts);

    /* One byte short, and one byte too many: the model decides again. */
    if (rdlen > 0 && wrap_rdata(&w, type, rclass, opts, rd, rdlen - 1, trailer))
        parse_against_model(&w, type, rclass, rdlen - 1, trailer);
    uint8_t *longer = malloc(rdlen + 1);
    FUZZ_CHECK(longer != NULL);
    memcpy(longer, rd, rdlen);
    longer[rdlen] = (uint8_t)(opts >> 2);
    if (wrap_rdata(&w, type, rclass, opts, longer, rdlen + 1, trailer))
        parse_against_model(&w, type, rclass, rdlen + 1, trailer);
    free(longer);
    return 0;
}
