/* Master-file presentation RDATA -> wire RDATA (RFC 1035 5.1, RFC 3597
 * section 5), for the "data" strings of DoH JSON answers and for tests.
 *
 * The text is one record's RDATA on one line: tokens separated by blanks,
 * either a run of non-blank characters or a "quoted string"; inside both a
 * backslash escapes the next character, and \DDD is a byte in decimal.
 * Names are written uncompressed; a relative name is taken as absolute,
 * since there is no origin to append. */
#include "config.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

#include "codec-internal.h"

/* The longest token we turn into a fixed-size value (an address, a
 * number); longer ones cannot be valid. */
#define SHORT_TOKEN_MAX 64

typedef struct tok {
    const char *s; /* raw text, escapes not yet applied; quotes stripped */
    size_t n;
    bool quoted;
} tok_t;

typedef struct lexer {
    const char *p;
} lexer_t;

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The next token, or SR_E_NO_DATA at the end of the text. */
static sr_status_t next_token(lexer_t *lx, tok_t *t)
{
    const char *p = lx->p;
    while (is_blank(*p))
        p++;
    if (*p == '\0') {
        lx->p = p;
        return SR_E_NO_DATA;
    }
    if (*p == '"') {
        const char *s = ++p;
        while (*p != '"') {
            if (*p == '\0')
                return SR_E_FORMERR; /* unterminated quote */
            if (*p == '\\' && p[1] != '\0')
                p++;
            p++;
        }
        t->s = s;
        t->n = (size_t)(p - s);
        t->quoted = true;
        lx->p = p + 1;
        return SR_OK;
    }
    const char *s = p;
    while (*p != '\0' && !is_blank(*p)) {
        if (*p == '\\' && p[1] != '\0')
            p++;
        p++;
    }
    t->s = s;
    t->n = (size_t)(p - s);
    t->quoted = false;
    lx->p = p;
    return SR_OK;
}

static sr_status_t need_token(lexer_t *lx, tok_t *t)
{
    sr_status_t status = next_token(lx, t);
    return status == SR_E_NO_DATA ? SR_E_FORMERR : status;
}

/* Apply the escapes of a token (RFC 1035 5.1): \DDD is a byte, \X is X.
 * Writes at most cap bytes; SR_E_FORMERR beyond that or on a bad escape. */
static sr_status_t tok_bytes(const tok_t *t, uint8_t *out, size_t cap, size_t *len)
{
    size_t o = 0;
    for (size_t i = 0; i < t->n; i++) {
        unsigned char c = (unsigned char)t->s[i];
        if (c == '\\') {
            if (i + 1 >= t->n)
                return SR_E_FORMERR;
            unsigned char d = (unsigned char)t->s[i + 1];
            if (d >= '0' && d <= '9') {
                if (i + 3 >= t->n)
                    return SR_E_FORMERR; /* fewer than three digits */
                int v = 0;
                for (int k = 1; k <= 3; k++) {
                    char e = t->s[i + (size_t)k];
                    if (e < '0' || e > '9')
                        return SR_E_FORMERR;
                    v = v * 10 + (e - '0');
                }
                if (v > 255)
                    return SR_E_FORMERR;
                c = (unsigned char)v;
                i += 3;
            } else {
                c = d;
                i++;
            }
        }
        if (o >= cap)
            return SR_E_FORMERR;
        out[o++] = c;
    }
    *len = o;
    return SR_OK;
}

/* The token's text as a C string, escapes applied (numbers, addresses). */
static sr_status_t tok_cstr(const tok_t *t, char *out, size_t cap)
{
    size_t n;
    sr_status_t status = tok_bytes(t, (uint8_t *)out, cap - 1, &n);
    if (status != SR_OK)
        return status;
    if (memchr(out, '\0', n) != NULL)
        return SR_E_FORMERR;
    out[n] = '\0';
    return SR_OK;
}

/* An unsigned decimal of at most max. */
static sr_status_t tok_uint(const tok_t *t, uint32_t max, uint32_t *v)
{
    char s[SHORT_TOKEN_MAX];
    sr_status_t status = tok_cstr(t, s, sizeof(s));
    uint64_t x = 0;
    if (status != SR_OK)
        return status;
    if (s[0] == '\0')
        return SR_E_FORMERR;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return SR_E_FORMERR;
        x = x * 10 + (uint64_t)(*p - '0');
        if (x > max)
            return SR_E_FORMERR;
    }
    *v = (uint32_t)x;
    return SR_OK;
}

/* One <character-string>: the length byte and the bytes. */
static sr_status_t put_string(sr_wbuf_t *w, const tok_t *t)
{
    uint8_t buf[255];
    size_t n;
    sr_status_t status = tok_bytes(t, buf, sizeof(buf), &n);
    if (status != SR_OK)
        return status;
    if ((status = sr_wbuf_u8(w, (uint8_t)n)) != SR_OK)
        return status;
    return sr_wbuf_bytes(w, buf, n);
}

static sr_status_t put_name(sr_wbuf_t *w, const tok_t *t)
{
    uint8_t wire[SR_NAME_MAX_WIRE];
    size_t n;
    /* "@" means the origin in a zone file; here there is none. */
    if (t->n == 1 && t->s[0] == '@' && !t->quoted)
        return SR_E_FORMERR;
    if (sr_name_parse(t->s, t->n, true, wire, sizeof(wire), &n) != SR_OK)
        return SR_E_FORMERR;
    return sr_wbuf_bytes(w, wire, n);
}

static sr_status_t put_uint(sr_wbuf_t *w, const tok_t *t, int bytes)
{
    uint32_t v;
    uint32_t max = bytes == 1 ? 0xFFu : bytes == 2 ? 0xFFFFu : 0xFFFFFFFFu;
    sr_status_t status = tok_uint(t, max, &v);
    if (status != SR_OK)
        return status;
    if (bytes == 1)
        return sr_wbuf_u8(w, (uint8_t)v);
    if (bytes == 2)
        return sr_wbuf_u16(w, (uint16_t)v);
    return sr_wbuf_u32(w, v);
}

static sr_status_t put_addr(sr_wbuf_t *w, const tok_t *t, int af)
{
    char s[SHORT_TOKEN_MAX];
    uint8_t a[16];
    if (tok_cstr(t, s, sizeof(s)) != SR_OK || inet_pton(af, s, a) != 1)
        return SR_E_FORMERR;
    return sr_wbuf_bytes(w, a, af == AF_INET ? 4 : 16);
}

/* A number or one of the mnemonics of a small table. */
struct mnem {
    const char *name;
    uint32_t value;
};

static sr_status_t tok_mnemonic(const tok_t *t, const struct mnem *tab, uint32_t max, uint32_t *v)
{
    char s[SHORT_TOKEN_MAX];
    if (tok_uint(t, max, v) == SR_OK)
        return SR_OK;
    if (tok_cstr(t, s, sizeof(s)) != SR_OK)
        return SR_E_FORMERR;
    for (; tab->name != NULL; tab++) {
        if (strcasecmp(tab->name, s) == 0) {
            *v = tab->value;
            return SR_OK;
        }
    }
    return SR_E_FORMERR;
}

/* Hex digits of all remaining tokens (blanks between them allowed). */
static sr_status_t put_hex_rest(sr_wbuf_t *w, lexer_t *lx, size_t *count)
{
    sr_status_t status;
    tok_t t;
    int hi = -1;
    size_t n = 0;

    while ((status = next_token(lx, &t)) == SR_OK) {
        if (t.quoted)
            return SR_E_FORMERR;
        for (size_t i = 0; i < t.n; i++) {
            int v = sr_hexval((unsigned char)t.s[i]);
            if (v < 0)
                return SR_E_FORMERR;
            if (hi < 0) {
                hi = v;
                continue;
            }
            if ((status = sr_wbuf_u8(w, (uint8_t)(hi << 4 | v))) != SR_OK)
                return status;
            hi = -1;
            n++;
        }
    }
    if (status != SR_E_NO_DATA)
        return status;
    if (hi >= 0)
        return SR_E_FORMERR; /* odd number of digits */
    *count = n;
    return SR_OK;
}

/* Base64 of all remaining tokens (RFC 4398 2.2), decoded with OpenSSL. */
static sr_status_t put_base64_rest(sr_wbuf_t *w, lexer_t *lx)
{
    sr_status_t status;
    tok_t t;
    char *b64 = NULL;
    uint8_t *bin = NULL;
    size_t n = 0, cap = 0;

    while ((status = next_token(lx, &t)) == SR_OK) {
        if (t.quoted) {
            status = SR_E_FORMERR;
            goto done;
        }
        if (n + t.n + 1 > cap) {
            size_t ncap = (n + t.n + 1) * 2;
            char *nb = sr_realloc(b64, ncap);
            if (nb == NULL) {
                status = SR_E_NOMEM;
                goto done;
            }
            b64 = nb;
            cap = ncap;
        }
        memcpy(b64 + n, t.s, t.n);
        n += t.n;
    }
    if (status != SR_E_NO_DATA)
        goto done;
    status = SR_OK;
    if (n == 0)
        goto done; /* an empty certificate */
    /* EVP_DecodeBlock wants whole quanta and counts padding as data. */
    if (n % 4 != 0 || n > INT32_MAX) {
        status = SR_E_FORMERR;
        goto done;
    }
    size_t pad = 0;
    if (b64[n - 1] == '=')
        pad++;
    if (b64[n - 2] == '=')
        pad++;
    for (size_t i = 0; i < n - pad; i++) {
        if (b64[i] == '=') {
            status = SR_E_FORMERR;
            goto done;
        }
    }
    bin = sr_malloc(n / 4 * 3);
    if (bin == NULL) {
        status = SR_E_NOMEM;
        goto done;
    }
    int m = EVP_DecodeBlock(bin, (const unsigned char *)b64, (int)n);
    if (m < 0 || (size_t)m != n / 4 * 3) {
        status = SR_E_FORMERR;
        goto done;
    }
    status = sr_wbuf_bytes(w, bin, (size_t)m - pad);
done:
    sr_free(b64);
    sr_free(bin);
    return status;
}

/* RFC 3597 section 5: "\# LEN HEX..." after the "\#" token. */
static sr_status_t put_generic(sr_wbuf_t *w, lexer_t *lx)
{
    sr_status_t status;
    tok_t t;
    uint32_t len;
    size_t n;

    if ((status = need_token(lx, &t)) != SR_OK || (status = tok_uint(&t, 0xFFFF, &len)) != SR_OK)
        return SR_E_FORMERR;
    if ((status = put_hex_rest(w, lx, &n)) != SR_OK)
        return status;
    return n == len ? SR_OK : SR_E_FORMERR;
}

static const struct mnem protocols[] = {
    {"ICMP", 1},
    {"TCP", 6},
    {"UDP", 17},
    {NULL, 0},
};

/* RFC 4398 2.1 certificate types. */
static const struct mnem cert_types[] = {
    {"PKIX", 1},   {"SPKI", 2},    {"PGP", 3},   {"IPKIX", 4}, {"ISPKI", 5}, {"IPGP", 6},
    {"ACPKIX", 7}, {"IACPKIX", 8}, {"URI", 253}, {"OID", 254}, {NULL, 0},
};

/* DNSSEC algorithm mnemonics (IANA) for CERT's algorithm field. */
static const struct mnem algorithms[] = {
    {"RSAMD5", 1},
    {"DH", 2},
    {"DSA", 3},
    {"RSASHA1", 5},
    {"DSA-NSEC3-SHA1", 6},
    {"RSASHA1-NSEC3-SHA1", 7},
    {"RSASHA256", 8},
    {"RSASHA512", 10},
    {"ECC-GOST", 12},
    {"ECDSAP256SHA256", 13},
    {"ECDSAP384SHA384", 14},
    {"ED25519", 15},
    {"ED448", 16},
    {"INDIRECT", 252},
    {"PRIVATEDNS", 253},
    {"PRIVATEOID", 254},
    {NULL, 0},
};

static sr_status_t encode_wks(sr_wbuf_t *w, lexer_t *lx)
{
    sr_status_t status;
    tok_t t;
    uint32_t proto, port;
    uint8_t map[8192];
    size_t maplen = 0;

    if ((status = need_token(lx, &t)) != SR_OK || (status = put_addr(w, &t, AF_INET)) != SR_OK ||
        (status = need_token(lx, &t)) != SR_OK ||
        (status = tok_mnemonic(&t, protocols, 255, &proto)) != SR_OK ||
        (status = sr_wbuf_u8(w, (uint8_t)proto)) != SR_OK)
        return status;
    /* RFC 1035 3.4.2: bit n of the map is port n; the map ends with the
     * last byte that has a bit set. */
    memset(map, 0, sizeof(map));
    while ((status = next_token(lx, &t)) == SR_OK) {
        if ((status = tok_uint(&t, 65535, &port)) != SR_OK)
            return status;
        map[port / 8] |= (uint8_t)(0x80u >> (port % 8));
        if (port / 8 + 1 > maplen)
            maplen = port / 8 + 1;
    }
    if (status != SR_E_NO_DATA)
        return status;
    return sr_wbuf_bytes(w, map, maplen);
}

/* The types whose presentation form is a fixed list of fields, one
 * character per field: 'a' IPv4 address, '6' IPv6 address, 'N' domain
 * name, '2' and '4' unsigned integers of that many bytes, 'S' a
 * character-string (RFC 1035 5.1). */
static const struct {
    uint16_t type;
    const char *fields;
} text_fields[] = {
    {SR_TYPE_A, "a"},         {SR_TYPE_AAAA, "6"},       {SR_TYPE_NS, "N"},     {SR_TYPE_MD, "N"},
    {SR_TYPE_MF, "N"},        {SR_TYPE_CNAME, "N"},      {SR_TYPE_MB, "N"},     {SR_TYPE_MG, "N"},
    {SR_TYPE_MR, "N"},        {SR_TYPE_PTR, "N"},        {SR_TYPE_MINFO, "NN"}, {SR_TYPE_RP, "NN"},
    {SR_TYPE_SOA, "NN44444"}, {SR_TYPE_MX, "2N"},        {SR_TYPE_AFSDB, "2N"}, {SR_TYPE_RT, "2N"},
    {SR_TYPE_SRV, "222N"},    {SR_TYPE_NAPTR, "22SSSN"}, {SR_TYPE_HINFO, "SS"}, {SR_TYPE_X25, "S"},
};

static const char *fields_of(uint16_t type)
{
    for (size_t i = 0; i < sizeof(text_fields) / sizeof(text_fields[0]); i++)
        if (text_fields[i].type == type)
            return text_fields[i].fields;
    return NULL;
}

/* One token per field of fields into w. */
static sr_status_t encode_fields(const char *fields, sr_wbuf_t *w, lexer_t *lx)
{
    sr_status_t status = SR_OK;
    tok_t t;

    for (const char *f = fields; *f != '\0' && status == SR_OK; f++) {
        if ((status = need_token(lx, &t)) != SR_OK)
            break;
        switch (*f) {
        case 'a': status = put_addr(w, &t, AF_INET); break;
        case '6': status = put_addr(w, &t, AF_INET6); break;
        case 'N': status = put_name(w, &t); break;
        case '2': status = put_uint(w, &t, 2); break;
        case '4': status = put_uint(w, &t, 4); break;
        default: status = put_string(w, &t); break;
        }
    }
    return status;
}

/* ISDN (RFC 1183 3.2): the address, then an optional sub-address. */
static sr_status_t encode_isdn(sr_wbuf_t *w, lexer_t *lx)
{
    tok_t t;
    sr_status_t status = need_token(lx, &t);

    if (status == SR_OK)
        status = put_string(w, &t);
    if (status == SR_OK) {
        status = next_token(lx, &t);
        if (status == SR_E_NO_DATA)
            status = SR_OK;
        else if (status == SR_OK)
            status = put_string(w, &t);
    }
    return status;
}

/* TXT: one or more strings (RFC 1035 3.3.14). */
static sr_status_t encode_txt(sr_wbuf_t *w, lexer_t *lx)
{
    tok_t t;
    sr_status_t status = need_token(lx, &t);

    while (status == SR_OK) {
        status = put_string(w, &t);
        if (status == SR_OK)
            status = next_token(lx, &t);
    }
    return status == SR_E_NO_DATA ? SR_OK : status;
}

/* CERT (RFC 4398 2.2): type, key tag, algorithm, base64. */
static sr_status_t encode_cert(sr_wbuf_t *w, lexer_t *lx)
{
    sr_status_t status;
    tok_t t;
    uint32_t v;

    if ((status = need_token(lx, &t)) != SR_OK ||
        (status = tok_mnemonic(&t, cert_types, 65535, &v)) != SR_OK ||
        (status = sr_wbuf_u16(w, (uint16_t)v)) != SR_OK || (status = need_token(lx, &t)) != SR_OK ||
        (status = put_uint(w, &t, 2)) != SR_OK || (status = need_token(lx, &t)) != SR_OK ||
        (status = tok_mnemonic(&t, algorithms, 255, &v)) != SR_OK ||
        (status = sr_wbuf_u8(w, (uint8_t)v)) != SR_OK)
        return status;
    return put_base64_rest(w, lx);
}

static sr_status_t encode(uint16_t type, sr_wbuf_t *w, lexer_t *lx)
{
    sr_status_t status;
    const char *fields = fields_of(type);
    tok_t t;
    size_t n;

    if (fields != NULL)
        status = encode_fields(fields, w, lx);
    else if (type == SR_TYPE_ISDN)
        status = encode_isdn(w, lx);
    else if (type == SR_TYPE_TXT)
        status = encode_txt(w, lx);
    else if (type == SR_TYPE_WKS)
        status = encode_wks(w, lx);
    else if (type == SR_TYPE_NULL)
        status = put_hex_rest(w, lx, &n); /* RFC 1035 gives NULL no
                                             presentation form: hex, as RFC 3597 */
    else if (type == SR_TYPE_CERT)
        status = encode_cert(w, lx);
    else
        status = SR_E_FORMERR; /* only the generic form, handled by the caller */
    if (status != SR_OK)
        return status;
    /* Nothing may follow the last field. */
    status = next_token(lx, &t);
    return status == SR_E_NO_DATA ? SR_OK : SR_E_FORMERR;
}

SR_API sr_status_t sr_rdata_from_text(uint16_t type, const char *text, uint8_t *out, size_t cap,
                                      size_t *len)
{
    sr_status_t status;
    lexer_t lx = {.p = text};
    sr_wbuf_t w = {.p = out, .cap = cap, .len = 0};
    tok_t t;

    if (text == NULL || (out == NULL && cap > 0)) {
        status = SR_E_INVAL;
        goto done;
    }
    /* OPT is a pseudo-record of one message with no master-file form
     * (RFC 6891 6.1.1), not even the generic one: no record the codec
     * accepts can be type OPT (found by fuzz_rdata: OPT from "\# 0"). */
    if (type == SR_TYPE_OPT) {
        status = SR_E_FORMERR;
        goto done;
    }
    /* RFC 3597 section 5: "\#" as the first token introduces the generic
     * form, for any type. */
    status = next_token(&lx, &t);
    if (status == SR_OK && !t.quoted && t.n == 2 && t.s[0] == '\\' && t.s[1] == '#') {
        status = put_generic(&w, &lx);
        /* RFC 3597 5: for a known type the generic form must still be
         * valid RDATA of that type, which the decoder checks (validation
         * only: no text, no names cache). */
        if (status == SR_OK && sr_rdata_has_decoder(type, SR_CLASS_IN)) {
            sr_dec_t d = {.pkt = out, .pktlen = w.len};
            if (sr_rdata_decode(&d, type, SR_CLASS_IN, 0, w.len) != SR_OK)
                status = SR_E_FORMERR;
        }
    } else if (status == SR_OK || status == SR_E_NO_DATA) {
        lx.p = text;
        status = encode(type, &w, &lx);
    }
    if (status == SR_E_NO_DATA)
        status = SR_E_FORMERR;
    if (status == SR_OK)
        *len = w.len;
done:
    return status;
}
