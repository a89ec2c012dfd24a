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

/* n (at least 1) base64 characters, without blanks, into w. */
static sr_status_t put_base64(sr_wbuf_t *w, const char *b64, size_t n)
{
    sr_status_t status;
    uint8_t *bin = NULL;
    size_t pad = 0;

    /* EVP_DecodeBlock wants whole quanta and counts padding as data. */
    if (n == 0 || n % 4 != 0 || n > INT32_MAX) {
        status = SR_E_FORMERR;
        goto done;
    }
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
    sr_free(bin);
    return status;
}

/* Base64 of all remaining tokens (RFC 4398 2.2), decoded with OpenSSL. */
static sr_status_t put_base64_rest(sr_wbuf_t *w, lexer_t *lx)
{
    sr_status_t status;
    tok_t t;
    char *b64 = NULL;
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
    status = n == 0 ? SR_OK : put_base64(w, b64, n); /* empty: a CERT may be */
done:
    sr_free(b64);
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

/* ---- the types with a layout (sr_rdata_layout()) ---- */

/* A type mnemonic or number (RRSIG's type covered). */
static sr_status_t put_type(sr_wbuf_t *w, const tok_t *t)
{
    char s[SHORT_TOKEN_MAX];
    int v;
    if (tok_cstr(t, s, sizeof(s)) != SR_OK || (v = sr_type_from_name(s)) < 0)
        return SR_E_FORMERR;
    return sr_wbuf_u16(w, (uint16_t)v);
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* RFC 4034 3.2: YYYYMMDDHHmmSS (UTC), taken modulo 2^32 as serial
 * arithmetic wants, or the seconds as a decimal number. */
static sr_status_t put_time(sr_wbuf_t *w, const tok_t *t)
{
    char s[SHORT_TOKEN_MAX];
    unsigned v[6];
    static const unsigned widths[6] = {4, 2, 2, 2, 2, 2};
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = s;

    if (tok_cstr(t, s, sizeof(s)) != SR_OK)
        return SR_E_FORMERR;
    if (strlen(s) != 14)
        return put_uint(w, t, 4);
    for (int i = 0; i < 6; i++) {
        v[i] = 0;
        for (unsigned k = 0; k < widths[i]; k++, p++) {
            if (*p < '0' || *p > '9')
                return SR_E_FORMERR;
            v[i] = v[i] * 10 + (unsigned)(*p - '0');
        }
    }
    if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > mdays[v[1] - 1] || v[3] > 23 || v[4] > 59 ||
        v[5] > 59)
        return SR_E_FORMERR;
    int64_t secs = days_from_civil(v[0], v[1], v[2]) * 86400 + v[3] * 3600 + v[4] * 60 + v[5];
    return sr_wbuf_u32(w, (uint32_t)((uint64_t)secs & 0xFFFFFFFFu));
}

/* Hex digits of one token into w; *n gets the byte count. */
static sr_status_t put_hex_token(sr_wbuf_t *w, const tok_t *t, size_t *n)
{
    sr_status_t status;
    if (t->quoted || t->n % 2 != 0)
        return SR_E_FORMERR;
    for (size_t i = 0; i < t->n; i += 2) {
        int hi = sr_hexval((unsigned char)t->s[i]), lo = sr_hexval((unsigned char)t->s[i + 1]);
        if (hi < 0 || lo < 0)
            return SR_E_FORMERR;
        if ((status = sr_wbuf_u8(w, (uint8_t)(hi << 4 | lo))) != SR_OK)
            return status;
    }
    *n = t->n / 2;
    return SR_OK;
}

/* NSEC3 salt (RFC 5155 3.3): "-" for none, else hex of up to 255 bytes
 * after its length byte. */
static sr_status_t put_salt(sr_wbuf_t *w, const tok_t *t)
{
    sr_status_t status;
    size_t at = w->len, n;
    if (!t->quoted && t->n == 1 && t->s[0] == '-')
        return sr_wbuf_u8(w, 0);
    if ((status = sr_wbuf_u8(w, 0)) != SR_OK || (status = put_hex_token(w, t, &n)) != SR_OK)
        return status;
    if (n == 0 || n > 255)
        return SR_E_FORMERR;
    w->p[at] = (uint8_t)n;
    return SR_OK;
}

/* NSEC3 next hashed owner: base32hex without padding (RFC 4648 7), any
 * case, 1-255 bytes after a length byte; unused low bits must be zero. */
static sr_status_t put_base32hex(sr_wbuf_t *w, const tok_t *t)
{
    sr_status_t status;
    size_t at = w->len, n = 0;
    unsigned acc = 0, bits = 0;

    if (t->quoted)
        return SR_E_FORMERR;
    if ((status = sr_wbuf_u8(w, 0)) != SR_OK)
        return status;
    for (size_t i = 0; i < t->n; i++) {
        int c = (unsigned char)t->s[i], v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'v')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'V')
            v = c - 'A' + 10;
        else
            return SR_E_FORMERR;
        acc = (acc << 5 | (unsigned)v) & 0xFFFu;
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            if ((status = sr_wbuf_u8(w, (uint8_t)(acc >> bits))) != SR_OK)
                return status;
            n++;
        }
    }
    if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0 || n == 0 || n > 255)
        return SR_E_FORMERR;
    w->p[at] = (uint8_t)n;
    return SR_OK;
}

/* CAA tag (RFC 8659 4.1.1): letters and digits, after a length byte. */
static sr_status_t put_caa_tag(sr_wbuf_t *w, const tok_t *t)
{
    sr_status_t status;
    if (t->quoted || t->n == 0 || t->n > 255)
        return SR_E_FORMERR;
    for (size_t i = 0; i < t->n; i++) {
        char c = t->s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            return SR_E_FORMERR;
    }
    if ((status = sr_wbuf_u8(w, (uint8_t)t->n)) != SR_OK)
        return status;
    return sr_wbuf_bytes(w, t->s, t->n);
}

/* The bytes of one token (quoted or not) as the rest of the RDATA. */
static sr_status_t put_rest_string(sr_wbuf_t *w, const tok_t *t, bool nonempty)
{
    size_t n;
    uint8_t *b = sr_malloc(t->n > 0 ? t->n : 1); /* escapes only shrink */
    sr_status_t status = b != NULL ? tok_bytes(t, b, t->n, &n) : SR_E_NOMEM;
    if (status == SR_OK && nonempty && n == 0)
        status = SR_E_FORMERR;
    if (status == SR_OK)
        status = sr_wbuf_bytes(w, b, n);
    sr_free(b);
    return status;
}

/* NSEC/NSEC3 type bit map (RFC 4034 4.1.2) of the remaining tokens. */
static sr_status_t put_type_bitmap(sr_wbuf_t *w, lexer_t *lx)
{
    sr_status_t status;
    tok_t t;
    uint8_t map[256][32];
    char s[SHORT_TOKEN_MAX];

    memset(map, 0, sizeof(map));
    while ((status = next_token(lx, &t)) == SR_OK) {
        int v;
        if (tok_cstr(&t, s, sizeof(s)) != SR_OK || (v = sr_type_from_name(s)) < 0)
            return SR_E_FORMERR;
        map[v >> 8][(v & 0xFF) / 8] |= (uint8_t)(0x80u >> (v % 8));
    }
    if (status != SR_E_NO_DATA)
        return status;
    for (unsigned win = 0; win < 256; win++) {
        uint8_t len = 32;
        while (len > 0 && map[win][len - 1] == 0)
            len--;
        if (len == 0)
            continue;
        if ((status = sr_wbuf_u8(w, (uint8_t)win)) != SR_OK ||
            (status = sr_wbuf_u8(w, len)) != SR_OK ||
            (status = sr_wbuf_bytes(w, map[win], len)) != SR_OK)
            return status;
    }
    return SR_OK;
}

/* ---- LOC (RFC 1876 3) ---- */

/* A decimal with up to digits fraction digits, scaled by 10^digits:
 * "23.5" with 3 digits is 23500. An optional trailing 'm' when unit. */
static sr_status_t tok_fixed(const tok_t *t, unsigned digits, bool unit, bool sign, int64_t max,
                             int64_t *v)
{
    char s[SHORT_TOKEN_MAX];
    const char *p = s;
    int64_t x = 0;
    unsigned frac = 0;
    bool neg = false, dot = false, any = false;

    if (tok_cstr(t, s, sizeof(s)) != SR_OK)
        return SR_E_FORMERR;
    if (sign && *p == '-') {
        neg = true;
        p++;
    }
    for (; *p != '\0'; p++) {
        if (*p == '.' && !dot) {
            dot = true;
        } else if (*p >= '0' && *p <= '9') {
            if (dot && ++frac > digits)
                return SR_E_FORMERR;
            x = x * 10 + (*p - '0');
            any = true;
            if (x > max * 1000)
                return SR_E_FORMERR;
        } else if (unit && *p == 'm' && p[1] == '\0' && any) {
            break;
        } else {
            return SR_E_FORMERR;
        }
    }
    if (!any)
        return SR_E_FORMERR;
    for (; frac < digits; frac++)
        x *= 10;
    *v = neg ? -x : x;
    return SR_OK;
}

/* "D [M [S.sss]] H" of an angle of at most max degrees, H one of hemi
 * (positive first); the wire value is thousandths of an arc second off
 * 2^31. */
static sr_status_t put_loc_angle(sr_wbuf_t *w, lexer_t *lx, uint32_t max, const char *hemi)
{
    sr_status_t status;
    tok_t t;
    int64_t parts[3] = {0, 0, 0}, x;
    int i;

    for (i = 0;; i++) {
        if ((status = need_token(lx, &t)) != SR_OK)
            return status;
        if (t.n == 1 && !t.quoted &&
            (t.s[0] == hemi[0] || t.s[0] == hemi[1] || t.s[0] == hemi[0] + 32 ||
             t.s[0] == hemi[1] + 32))
            break;
        if (i == 3 || (status = tok_fixed(&t, i == 2 ? 3 : 0, false, false, 1000, &x)) != SR_OK)
            return SR_E_FORMERR;
        if (i > 0 && x >= (i == 2 ? 60000 : 60))
            return SR_E_FORMERR;
        parts[i] = x;
    }
    if (i == 0)
        return SR_E_FORMERR;
    int64_t ms = parts[0] * 3600000 + parts[1] * 60000 + parts[2];
    if (ms > (int64_t)max * 3600000)
        return SR_E_FORMERR;
    bool positive = t.s[0] == hemi[0] || t.s[0] == hemi[0] + 32;
    return sr_wbuf_u32(
        w, (uint32_t)(positive ? 0x80000000u + (uint64_t)ms : 0x80000000u - (uint64_t)ms));
}

/* A size or precision in metres as mantissa and power of ten of
 * centimetres; the largest power that keeps the value exact, else the
 * value rounded down to one digit. */
static sr_status_t loc_size(const tok_t *t, uint8_t *b)
{
    int64_t cm;
    unsigned e = 0;
    if (tok_fixed(t, 2, true, false, 90000000, &cm) != SR_OK || cm > 9000000000LL)
        return SR_E_FORMERR;
    while (cm > 9) {
        cm /= 10;
        e++;
    }
    *b = (uint8_t)(cm << 4 | e);
    return SR_OK;
}

/* LOC: latitude, longitude, altitude, then optional size (1m),
 * horizontal (10000m) and vertical (10m) precision. */
static sr_status_t put_loc(sr_wbuf_t *w, lexer_t *lx)
{
    sr_status_t status;
    uint8_t head[4] = {0, 0x12, 0x16, 0x13};
    size_t at = w->len;
    tok_t t;
    int64_t alt;

    if ((status = sr_wbuf_bytes(w, head, 4)) != SR_OK ||
        (status = put_loc_angle(w, lx, 90, "NS")) != SR_OK ||
        (status = put_loc_angle(w, lx, 180, "EW")) != SR_OK ||
        (status = need_token(lx, &t)) != SR_OK)
        return status;
    /* -100000.00m to 42849672.95m */
    if ((status = tok_fixed(&t, 2, true, true, 42849673, &alt)) != SR_OK || alt < -10000000 ||
        alt + 10000000 > 0xFFFFFFFFLL)
        return SR_E_FORMERR;
    if ((status = sr_wbuf_u32(w, (uint32_t)(alt + 10000000))) != SR_OK)
        return status;
    for (int i = 1; i <= 3; i++) {
        status = next_token(lx, &t);
        if (status == SR_E_NO_DATA)
            break;
        if (status != SR_OK || (status = loc_size(&t, &w->p[at + (size_t)i])) != SR_OK)
            return SR_E_FORMERR;
    }
    return SR_OK;
}

/* ---- SvcParams (RFC 9460 2.1, appendix A) ---- */

/* Split a value-list (RFC 9460 A.1) at its unescaped commas: the next
 * item of v[*i..n) into out (without "\" escapes); false at the end. */
static bool next_item(const uint8_t *v, size_t n, size_t *i, uint8_t *out, size_t cap, size_t *len,
                      bool *bad)
{
    size_t o = 0;
    if (*i > n)
        return false;
    for (; *i < n && v[*i] != ','; (*i)++) {
        if (v[*i] == '\\' && ++*i == n) {
            *bad = true; /* a lone backslash at the end */
            return false;
        }
        if (o == cap) {
            *bad = true;
            return false;
        }
        out[o++] = v[*i];
    }
    (*i)++; /* past the comma, or beyond n at the end */
    *len = o;
    return true;
}

/* A key's number from its mnemonic or from "keyNNNNN" (*generic set:
 * its value is then the bytes themselves, RFC 9460 2.1); -1 if neither. */
static int svc_key_from_name(const char *s, size_t n, bool *generic)
{
    char buf[16];
    *generic = false;
    for (unsigned k = 0; k < 9; k++) {
        const char *name = sr_svc_key_name((uint16_t)k, buf);
        if (strlen(name) == n && strncasecmp(name, s, n) == 0)
            return (int)k;
    }
    *generic = true;
    if (n > 3 && n <= 8 && strncasecmp(s, "key", 3) == 0) {
        long v = 0;
        for (size_t i = 3; i < n; i++) {
            if (s[i] < '0' || s[i] > '9')
                return -1;
            v = v * 10 + (s[i] - '0');
        }
        return v <= 65535 ? (int)v : -1;
    }
    return -1;
}

/* One value of a known key (the bytes of its character-string) into w. */
static sr_status_t put_svc_value(sr_wbuf_t *w, int key, const uint8_t *v, size_t n)
{
    sr_status_t status = SR_OK;
    uint8_t item[256];
    size_t i = 0, len, count = 0;
    bool bad = false;
    char s[SHORT_TOKEN_MAX];

    switch (key) {
    case 0: /* mandatory: key names, written in increasing order */
    case 3: /* port */
    case 4: /* ipv4hint */
    case 6: /* ipv6hint */
        while (status == SR_OK && next_item(v, n, &i, item, sizeof(s) - 1, &len, &bad)) {
            memcpy(s, item, len);
            s[len] = '\0';
            tok_t t = {.s = s, .n = len, .quoted = false};
            int k;
            bool generic;
            if (key == 0) {
                if ((k = svc_key_from_name(s, len, &generic)) <= 0)
                    return SR_E_FORMERR;
                /* insertion into the keys so far, which are sorted */
                size_t at = w->len - 2 * count, j = count;
                if ((status = sr_wbuf_u16(w, (uint16_t)k)) != SR_OK)
                    return status;
                while (j > 0 && sr_get16(w->p + at + 2 * (j - 1)) > k) {
                    sr_put16(w->p + at + 2 * j, sr_get16(w->p + at + 2 * (j - 1)));
                    j--;
                }
                if (j > 0 && sr_get16(w->p + at + 2 * (j - 1)) == k)
                    return SR_E_FORMERR;
                sr_put16(w->p + at + 2 * j, (uint16_t)k);
            } else if (key == 3) {
                if (count > 0)
                    return SR_E_FORMERR;
                status = put_uint(w, &t, 2);
            } else {
                status = put_addr(w, &t, key == 4 ? AF_INET : AF_INET6);
            }
            count++;
        }
        break;
    case 1: /* alpn: length-prefixed ids */
        while (status == SR_OK && next_item(v, n, &i, item, 255, &len, &bad)) {
            if (len == 0)
                return SR_E_FORMERR;
            if ((status = sr_wbuf_u8(w, (uint8_t)len)) == SR_OK)
                status = sr_wbuf_bytes(w, item, len);
            count++;
        }
        break;
    case 5: /* ech: base64 */
        count = 1;
        status = put_base64(w, (const char *)v, n);
        break;
    default: /* dohpath */
        count = n > 0;
        status = sr_wbuf_bytes(w, v, n);
        break;
    }
    if (status == SR_OK && (bad || count == 0))
        status = SR_E_FORMERR;
    return status;
}

/* The sort order of encoded params: their key. */
static int param_cmp(const void *a, const void *b)
{
    const uint8_t *const *pa = a, *const *pb = b;
    uint16_t ka = sr_get16(*pa), kb = sr_get16(*pb);
    return (ka > kb) - (ka < kb);
}

/* One "key[=value]" at *pp into scratch as key, length, value. */
static sr_status_t parse_svc_param(const char **pp, sr_wbuf_t *scratch)
{
    const char *p = *pp, *k = p;
    sr_status_t status;
    uint8_t *val;
    size_t vlen = 0, at;
    bool generic;
    int key;

    while (*p != '\0' && !is_blank(*p) && *p != '=')
        p++;
    if ((key = svc_key_from_name(k, (size_t)(p - k), &generic)) < 0)
        return SR_E_FORMERR;
    if ((status = sr_wbuf_u16(scratch, (uint16_t)key)) != SR_OK ||
        (status = sr_wbuf_u16(scratch, 0)) != SR_OK)
        return status;
    at = scratch->len;
    if (*p == '=') {
        /* the value: a character-string, quoted or not (RFC 9460 2.1) */
        lexer_t vl = {.p = p + 1};
        tok_t t;
        if (is_blank(p[1]) || p[1] == '\0' || next_token(&vl, &t) != SR_OK)
            return SR_E_FORMERR;
        p = vl.p;
        val = sr_malloc(t.n > 0 ? t.n : 1);
        if (val == NULL)
            return SR_E_NOMEM;
        status = tok_bytes(&t, val, t.n, &vlen);
        if (status == SR_OK && generic)
            status = sr_wbuf_bytes(scratch, val, vlen);
        else if (status == SR_OK)
            status = key == 2 || key == 8 ? SR_E_FORMERR : put_svc_value(scratch, key, val, vlen);
        sr_free(val);
        if (status != SR_OK)
            return status;
    } else if (!generic && key != 2 && key != 8) {
        return SR_E_FORMERR; /* a key that has a value needs one */
    }
    if (scratch->len - at > 0xFFFF)
        return SR_E_FORMERR;
    sr_put16(scratch->p + at - 2, (uint16_t)(scratch->len - at));
    *pp = p;
    return SR_OK;
}

/* SvcParams in any order in the text; on the wire sorted by key, each key
 * at most once (RFC 9460 2.2). */
static sr_status_t put_svc_params(sr_wbuf_t *w, lexer_t *lx)
{
    sr_status_t status = SR_OK;
    uint8_t *buf = sr_malloc(65535);
    const uint8_t **params = NULL;
    size_t count = 0, cap = 0;
    sr_wbuf_t scratch = {.p = buf, .cap = 65535, .len = 0};

    if (buf == NULL)
        return SR_E_NOMEM;
    for (;;) {
        while (is_blank(*lx->p))
            lx->p++;
        if (*lx->p == '\0')
            break;
        size_t at = scratch.len;
        if ((status = parse_svc_param(&lx->p, &scratch)) != SR_OK)
            goto done;
        if (count == cap) {
            size_t ncap = cap > 0 ? 2 * cap : 8;
            const uint8_t **np = sr_realloc(params, ncap * sizeof(*np));
            if (np == NULL) {
                status = SR_E_NOMEM;
                goto done;
            }
            params = np;
            cap = ncap;
        }
        params[count++] = buf + at;
    }
    if (count > 0)
        qsort(params, count, sizeof(*params), param_cmp);
    for (size_t i = 0; i < count && status == SR_OK; i++) {
        if (i > 0 && sr_get16(params[i]) == sr_get16(params[i - 1]))
            status = SR_E_FORMERR;
        else
            status = sr_wbuf_bytes(w, params[i], 4u + sr_get16(params[i] + 2));
    }
done:
    sr_free(params);
    sr_free(buf);
    return status;
}

/* One token per letter of a layout (codec-internal.h). */
static sr_status_t encode_layout(const char *letters, sr_wbuf_t *w, lexer_t *lx)
{
    sr_status_t status = SR_OK;
    tok_t t;
    size_t n;

    for (const char *l = letters; *l != '\0' && status == SR_OK; l++) {
        switch (*l) {
        case 'X': status = put_hex_rest(w, lx, &n); continue;
        case 'B': status = put_base64_rest(w, lx); continue;
        case 'M': status = put_type_bitmap(w, lx); continue;
        case 'P': status = put_svc_params(w, lx); continue;
        case 'L': status = put_loc(w, lx); continue;
        default: break;
        }
        if ((status = need_token(lx, &t)) != SR_OK)
            break;
        switch (*l) {
        case '1': status = put_uint(w, &t, 1); break;
        case '2': status = put_uint(w, &t, 2); break;
        case '4': status = put_uint(w, &t, 4); break;
        case 'N': status = put_name(w, &t); break;
        case 'T': status = put_type(w, &t); break;
        case 'D': status = put_time(w, &t); break;
        case 'H': status = put_salt(w, &t); break;
        case 'Z': status = put_base32hex(w, &t); break;
        case 'C': status = put_caa_tag(w, &t); break;
        default: status = put_rest_string(w, &t, *l == 'U'); break; /* 'Q', 'U' */
        }
    }
    return status;
}

static sr_status_t encode(uint16_t type, sr_wbuf_t *w, lexer_t *lx)
{
    sr_status_t status;
    const char *fields = fields_of(type), *layout;
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
    else if ((layout = sr_rdata_layout(type)) != NULL)
        status = encode_layout(layout, w, lx);
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
