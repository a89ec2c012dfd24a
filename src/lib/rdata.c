/* RDATA decoders: wire RDATA -> the named text fields of the class
 * reference (stubres-query(1), OUTPUT).
 *
 * Every decoder reads through a cursor that ends where the RDATA ends, so a
 * field running past rdlength fails like a short read; after the last field
 * the cursor must stand exactly at the end. Either way the record's length
 * disagrees with its content, which is SR_E_FORMERR. */
#include "config.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <string.h>

#include "codec-internal.h"

/* Field names: the reference's record_field_name table, plus CERT. */
static const char *const f_address[] = {"ADDRESS", NULL};
static const char *const f_ns[] = {"DNAME", NULL};
static const char *const f_madname[] = {"MADNAME", NULL};
static const char *const f_cname[] = {"CNAME", NULL};
static const char *const f_soa[] = {"MNAME", "RNAME",  "SERIAL",  "REFRESH",
                                    "RETRY", "EXPIRE", "MINIMUM", NULL};
static const char *const f_mg[] = {"MGMNAME", NULL};
static const char *const f_mr[] = {"NEWNAME", NULL};
static const char *const f_null[] = {"NULL", NULL};
static const char *const f_wks[] = {"ADDRESS", "PROTOCOL", "SERVICEMAP", NULL};
static const char *const f_ptr[] = {"PTRDNAME", NULL};
static const char *const f_hinfo[] = {"CPU", "OS", NULL};
static const char *const f_minfo[] = {"RMAILBX", "EMAILBX", NULL};
static const char *const f_mx[] = {"PREFERENCE", "EXCHANGE", NULL};
static const char *const f_txt[] = {"TXT", NULL};
static const char *const f_rp[] = {"MBOXDNAME", "TXTDNAME", NULL};
static const char *const f_afsdb[] = {"SUBTYPE", "HOSTNAME", NULL};
static const char *const f_x25[] = {"PSDNADDRESS", NULL};
static const char *const f_isdn[] = {"ISDNADDRESS", "SA", NULL};
static const char *const f_rt[] = {"PREFERENCE", "INTERMEDIATE", NULL};
static const char *const f_srv[] = {"PRIORITY", "WEIGHT", "PORT", "TARGET", NULL};
static const char *const f_naptr[] = {"ORDER",  "PRIORITY",    "FLAGS", "SERVICES",
                                      "REGEXP", "REPLACEMENT", NULL};
static const char *const f_cert[] = {"TYPE", "KEYTAG", "ALGORITHM", "CERTIFICATE", NULL};
static const char *const f_generic[] = {"RDATA", NULL};

/* The types added after the reference, named after their RFCs' fields. */
static const char *const f_loc[] = {"LATITUDE", "LONGITUDE", "ALTITUDE", "SIZE",
                                    "HORIZPRE", "VERTPRE",   NULL};
static const char *const f_target[] = {"TARGET", NULL};
static const char *const f_ds[] = {"KEYTAG", "ALGORITHM", "DIGESTTYPE", "DIGEST", NULL};
static const char *const f_sshfp[] = {"ALGORITHM", "FPTYPE", "FINGERPRINT", NULL};
static const char *const f_rrsig[] = {"TYPECOVERED", "ALGORITHM", "LABELS", "ORIGINALTTL",
                                      "EXPIRATION",  "INCEPTION", "KEYTAG", "SIGNER",
                                      "SIGNATURE",   NULL};
static const char *const f_nsec[] = {"NEXT", "TYPES", NULL};
static const char *const f_dnskey[] = {"FLAGS", "PROTOCOL", "ALGORITHM", "PUBLICKEY", NULL};
static const char *const f_nsec3[] = {"ALGORITHM", "FLAGS", "ITERATIONS", "SALT",
                                      "NEXT",      "TYPES", NULL};
static const char *const f_nsec3param[] = {"ALGORITHM", "FLAGS", "ITERATIONS", "SALT", NULL};
static const char *const f_tlsa[] = {"USAGE", "SELECTOR", "MATCHINGTYPE", "DATA", NULL};
static const char *const f_openpgpkey[] = {"PUBLICKEY", NULL};
static const char *const f_zonemd[] = {"SERIAL", "SCHEME", "HASHALGORITHM", "DIGEST", NULL};
static const char *const f_svcb[] = {"PRIORITY", "TARGET", "PARAMS", NULL};
static const char *const f_uri[] = {"PRIORITY", "WEIGHT", "TARGET", NULL};
static const char *const f_caa[] = {"FLAGS", "TAG", "VALUE", NULL};

/* One row per type: its layout drives both the decoder below and the
 * presentation parser (rdata_text.c), so the two cannot disagree on the
 * order or kind of a field. The letters are listed at sr_rdata_layout()
 * in codec-internal.h. */
static const struct layout {
    uint16_t type;
    const char *letters;
    const char *const *names;
} layouts[] = {
    {SR_TYPE_LOC, "L", f_loc},                  /* RFC 1876 */
    {SR_TYPE_DNAME, "N", f_target},             /* RFC 6672 */
    {SR_TYPE_DS, "211X", f_ds},                 /* RFC 4034 5 */
    {SR_TYPE_SSHFP, "11X", f_sshfp},            /* RFC 4255 3 */
    {SR_TYPE_RRSIG, "T114DD2NB", f_rrsig},      /* RFC 4034 3 */
    {SR_TYPE_NSEC, "NM", f_nsec},               /* RFC 4034 4 */
    {SR_TYPE_DNSKEY, "211B", f_dnskey},         /* RFC 4034 2 */
    {SR_TYPE_NSEC3, "112HZM", f_nsec3},         /* RFC 5155 3 */
    {SR_TYPE_NSEC3PARAM, "112H", f_nsec3param}, /* RFC 5155 4 */
    {SR_TYPE_TLSA, "111X", f_tlsa},             /* RFC 6698 2 */
    {SR_TYPE_CDS, "211X", f_ds},                /* RFC 7344 3.1 */
    {SR_TYPE_CDNSKEY, "211B", f_dnskey},        /* RFC 7344 3.2 */
    {SR_TYPE_OPENPGPKEY, "B", f_openpgpkey},    /* RFC 7929 2 */
    {SR_TYPE_ZONEMD, "411X", f_zonemd},         /* RFC 8976 2 */
    {SR_TYPE_SVCB, "2NP", f_svcb},              /* RFC 9460 2 */
    {SR_TYPE_HTTPS, "2NP", f_svcb},             /* RFC 9460 9 */
    {SR_TYPE_URI, "22U", f_uri},                /* RFC 7553 4 */
    {SR_TYPE_CAA, "1CQ", f_caa},                /* RFC 8659 4.1 */
};

static const struct layout *layout_of(uint16_t type)
{
    for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
        if (layouts[i].type == type)
            return &layouts[i];
    return NULL;
}

const char *sr_rdata_layout(uint16_t type)
{
    const struct layout *l = layout_of(type);
    return l != NULL ? l->letters : NULL;
}

SR_API const char *const *sr_type_fields(uint16_t type)
{
    switch (type) {
    case SR_TYPE_A: return f_address;
    case SR_TYPE_NS: return f_ns;
    case SR_TYPE_MD: return f_madname;
    case SR_TYPE_MF: return f_madname;
    case SR_TYPE_CNAME: return f_cname;
    case SR_TYPE_SOA: return f_soa;
    case SR_TYPE_MB: return f_madname;
    case SR_TYPE_MG: return f_mg;
    case SR_TYPE_MR: return f_mr;
    case SR_TYPE_NULL: return f_null;
    case SR_TYPE_WKS: return f_wks;
    case SR_TYPE_PTR: return f_ptr;
    case SR_TYPE_HINFO: return f_hinfo;
    case SR_TYPE_MINFO: return f_minfo;
    case SR_TYPE_MX: return f_mx;
    case SR_TYPE_TXT: return f_txt;
    case SR_TYPE_RP: return f_rp;
    case SR_TYPE_AFSDB: return f_afsdb;
    case SR_TYPE_X25: return f_x25;
    case SR_TYPE_ISDN: return f_isdn;
    case SR_TYPE_RT: return f_rt;
    case SR_TYPE_AAAA: return f_address;
    case SR_TYPE_SRV: return f_srv;
    case SR_TYPE_NAPTR: return f_naptr;
    case SR_TYPE_CERT: return f_cert;
    default: {
        const struct layout *l = layout_of(type);
        return l != NULL ? l->names : NULL;
    }
    }
}

bool sr_rdata_has_decoder(uint16_t type, uint16_t rclass)
{
    switch (type) {
    case SR_TYPE_A:
    case SR_TYPE_WKS:
    case SR_TYPE_AAAA:
    case SR_TYPE_SRV:
    case SR_TYPE_NAPTR:
        /* RFC 3597 section 4: these RDATA formats are defined for class IN
         * only; in another class the same type number means other data. */
        return rclass == SR_CLASS_IN;
    default:
        /* RFC 2136 2.4/2.5: class ANY and NONE carry empty RDATA. */
        if (rclass == 254 || rclass == 255)
            return false;
        return sr_type_fields(type) != NULL;
    }
}

/* One decoding run over one record's RDATA. */
typedef struct rd {
    sr_dec_t *d;
    sr_buf_t b;               /* over pkt[0 .. end of RDATA) */
    const char *const *names; /* field names, in order */
    size_t nf;                /* fields added so far */
    bool text;                /* make text (else validate only) */
} rd_t;

/* Finish a text of n chars at the arena's end as the next field. */
static void add_field(rd_t *r, size_t n)
{
    sr_arena_t *a = r->d->arena;
    sr_fieldvec_t *fv = r->d->fields;
    a->buf[a->len + n] = '\0';
    fv->v[fv->len].name = r->names[r->nf++];
    fv->v[fv->len].value = sr_off_as_ptr(a->len);
    fv->len++;
    a->len += n + 1;
}

static sr_status_t f_name(rd_t *r)
{
    sr_status_t status;
    uint8_t wire[SR_NAME_MAX_WIRE];
    size_t off = r->b.off, t, wlen;

    /* Names decompress against the whole message (RFC 1035 4.1.4): what a
     * pointer reaches may lie anywhere before it, and its labels may run
     * on past this RDATA. Only the part of the name stored here must end
     * within rdlength. With and without text the bounds are the same, and
     * so are those of a cached name text. */
    if (r->text)
        status = sr_name_read_text(r->d->pkt, r->d->pktlen, &off, r->d->arena, r->d->names, &t);
    else
        status = sr_name_unpack(r->d->pkt, r->d->pktlen, &off, wire, &wlen);
    if (status != SR_OK)
        return status;
    if (off > r->b.len)
        return SR_E_FORMERR; /* the name runs past rdlength */
    r->b.off = off;
    if (r->text) {
        sr_fieldvec_t *fv = r->d->fields;
        fv->v[fv->len].name = r->names[r->nf++];
        fv->v[fv->len].value = sr_off_as_ptr(t);
        fv->len++;
    }
    return SR_OK;
}

static sr_status_t f_uint(rd_t *r, uint32_t v)
{
    sr_status_t status;
    if (!r->text)
        return SR_OK;
    status = sr_arena_reserve(r->d->arena, 11);
    if (status != SR_OK)
        return status;
    add_field(r, sr_fmt_u32(r->d->arena->buf + r->d->arena->len, v));
    return SR_OK;
}

static sr_status_t f_u8(rd_t *r)
{
    uint8_t v;
    sr_status_t status = sr_buf_u8(&r->b, &v);
    return status != SR_OK ? status : f_uint(r, v);
}

static sr_status_t f_u16(rd_t *r)
{
    uint16_t v;
    sr_status_t status = sr_buf_u16(&r->b, &v);
    return status != SR_OK ? status : f_uint(r, v);
}

static sr_status_t f_u32(rd_t *r)
{
    uint32_t v;
    sr_status_t status = sr_buf_u32(&r->b, &v);
    return status != SR_OK ? status : f_uint(r, v);
}

/* Dotted quad of the 4 bytes at p into out (room for 16); the length. */
static size_t fmt_ipv4(char *out, const uint8_t *p)
{
    size_t n = sr_fmt_u8(out, p[0]);
    for (int i = 1; i < 4; i++) {
        out[n++] = '.';
        n += sr_fmt_u8(out + n, p[i]);
    }
    return n;
}

static sr_status_t f_ipv4(rd_t *r)
{
    const uint8_t *p;
    sr_status_t status = sr_buf_fetch(&r->b, 4, &p);
    if (status != SR_OK || !r->text)
        return status;
    status = sr_arena_reserve(r->d->arena, 16);
    if (status != SR_OK)
        return status;
    add_field(r, fmt_ipv4(r->d->arena->buf + r->d->arena->len, p));
    return SR_OK;
}

static sr_status_t f_ipv6(rd_t *r)
{
    const uint8_t *p;
    sr_status_t status = sr_buf_fetch(&r->b, 16, &p);
    if (status != SR_OK || !r->text)
        return status;
    status = sr_arena_reserve(r->d->arena, INET6_ADDRSTRLEN);
    if (status != SR_OK)
        return status;
    char *out = r->d->arena->buf + r->d->arena->len;
    /* RFC 5952 form; cannot fail with a 16-byte input and this room. */
    if (inet_ntop(AF_INET6, p, out, INET6_ADDRSTRLEN) == NULL)
        return SR_E_FORMERR;
    add_field(r, strlen(out));
    return SR_OK;
}

/* One <character-string> (RFC 1035 3.3): a length byte and that many
 * bytes. */
static sr_status_t read_string(rd_t *r, const uint8_t **p, uint8_t *n)
{
    sr_status_t status = sr_buf_u8(&r->b, n);
    if (status != SR_OK)
        return status;
    return sr_buf_fetch(&r->b, *n, p);
}

static sr_status_t f_string(rd_t *r)
{
    const uint8_t *p;
    uint8_t n;
    sr_status_t status = read_string(r, &p, &n);
    if (status != SR_OK || !r->text)
        return status;
    status = sr_arena_reserve(r->d->arena, 4u * n + 1);
    if (status != SR_OK)
        return status;
    add_field(r, sr_escape_bytes(r->d->arena->buf + r->d->arena->len, p, n, false));
    return SR_OK;
}

/* TXT (RFC 1035 3.3.14): one or more character-strings filling the RDATA,
 * shown concatenated with nothing between them. */
static sr_status_t f_txt_strings(rd_t *r)
{
    sr_status_t status;
    size_t t = 0;
    char *out = NULL;

    if (sr_buf_remaining(&r->b) == 0)
        return SR_E_FORMERR;
    if (r->text) {
        status = sr_arena_reserve(r->d->arena, 4 * sr_buf_remaining(&r->b) + 1);
        if (status != SR_OK)
            return status;
        out = r->d->arena->buf + r->d->arena->len;
    }
    while (sr_buf_remaining(&r->b) > 0) {
        const uint8_t *p;
        uint8_t n;
        status = read_string(r, &p, &n);
        if (status != SR_OK)
            return status;
        if (out != NULL)
            t += sr_escape_bytes(out + t, p, n, false);
    }
    if (out != NULL)
        add_field(r, t);
    return SR_OK;
}

/* The rest of the RDATA as lowercase hex (NULL). */
static sr_status_t f_hex_rest(rd_t *r)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = sr_buf_remaining(&r->b);
    const uint8_t *p;
    sr_status_t status = sr_buf_fetch(&r->b, n, &p);
    if (status != SR_OK || !r->text)
        return status;
    status = sr_arena_reserve(r->d->arena, 2 * n + 1);
    if (status != SR_OK)
        return status;
    char *out = r->d->arena->buf + r->d->arena->len;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 0xF];
    }
    add_field(r, 2 * n);
    return SR_OK;
}

/* The rest of the RDATA as base64 (CERT, RFC 4398 section 2.2). */
static sr_status_t f_base64_rest(rd_t *r)
{
    size_t n = sr_buf_remaining(&r->b);
    const uint8_t *p;
    sr_status_t status = sr_buf_fetch(&r->b, n, &p);
    if (status != SR_OK || !r->text)
        return status;
    status = sr_arena_reserve(r->d->arena, 4 * ((n + 2) / 3) + 1);
    if (status != SR_OK)
        return status;
    int m = EVP_EncodeBlock((unsigned char *)r->d->arena->buf + r->d->arena->len, p, (int)n);
    if (m < 0)
        return SR_E_FORMERR;
    add_field(r, (size_t)m);
    return SR_OK;
}

/* WKS bit map (RFC 1035 3.4.2): bit i (most significant first) stands for
 * port i. Ports are 16 bits, so a map longer than 8192 bytes is bogus. */
static sr_status_t f_wks_map(rd_t *r)
{
    size_t n = sr_buf_remaining(&r->b);
    const uint8_t *p;
    sr_status_t status;

    if (n > 8192)
        return SR_E_FORMERR;
    status = sr_buf_fetch(&r->b, n, &p);
    if (status != SR_OK || !r->text)
        return status;
    /* "65535 " per port at most. */
    status = sr_arena_reserve(r->d->arena, 48 * n + 1);
    if (status != SR_OK)
        return status;
    char *out = r->d->arena->buf + r->d->arena->len;
    size_t t = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == 0)
            continue;
        for (unsigned bit = 0; bit < 8; bit++) {
            if (p[i] & (0x80u >> bit)) {
                if (t > 0)
                    out[t++] = ' ';
                t += sr_fmt_u32(out + t, (uint32_t)(i * 8 + bit));
            }
        }
    }
    add_field(r, t);
    return SR_OK;
}

/* RFC 3597 section 5: "\# LEN HEX", or "\# 0" when empty. */
static sr_status_t f_generic_rest(rd_t *r)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = sr_buf_remaining(&r->b);
    const uint8_t *p;
    sr_status_t status = sr_buf_fetch(&r->b, n, &p);
    if (status != SR_OK || !r->text)
        return status;
    status = sr_arena_reserve(r->d->arena, 3 + 5 + 1 + 2 * n + 1);
    if (status != SR_OK)
        return status;
    char *out = r->d->arena->buf + r->d->arena->len;
    size_t t = 0;
    out[t++] = '\\';
    out[t++] = '#';
    out[t++] = ' ';
    t += sr_fmt_u32(out + t, (uint32_t)n);
    if (n > 0)
        out[t++] = ' ';
    for (size_t i = 0; i < n; i++) {
        out[t++] = hex[p[i] >> 4];
        out[t++] = hex[p[i] & 0xF];
    }
    add_field(r, t);
    return SR_OK;
}

/* ---- the fields of the table-driven types (layouts[] above) ---- */

/* The arena's free end, after making room for n chars and the NUL. */
static sr_status_t text_room(rd_t *r, size_t n, char **out)
{
    sr_status_t status = sr_arena_reserve(r->d->arena, n + 1);
    if (status == SR_OK)
        *out = r->d->arena->buf + r->d->arena->len;
    return status;
}

/* Uppercase hex of n bytes, as dig prints digests and salts. */
static size_t fmt_hex_upper(char *out, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 0xF];
    }
    return 2 * n;
}

/* A byte inside a quoted string: '"' and '\' escaped, bytes outside
 * 0x20-0x7E as \DDD (RFC 1035 5.1). */
static size_t fmt_quoted_byte(char *out, uint8_t c)
{
    if (c == '"' || c == '\\') {
        out[0] = '\\';
        out[1] = (char)c;
        return 2;
    }
    if (c >= 0x20 && c < 0x7F) {
        out[0] = (char)c;
        return 1;
    }
    out[0] = '\\';
    out[1] = (char)('0' + c / 100);
    out[2] = (char)('0' + c / 10 % 10);
    out[3] = (char)('0' + c % 10);
    return 4;
}

/* "..." around n bytes; out holds 4 * n + 2. */
static size_t fmt_quoted(char *out, const uint8_t *p, size_t n)
{
    size_t t = 0;
    out[t++] = '"';
    for (size_t i = 0; i < n; i++)
        t += fmt_quoted_byte(out + t, p[i]);
    out[t++] = '"';
    return t;
}

static sr_status_t f_type_mnemonic(rd_t *r)
{
    uint16_t v;
    char buf[16], *out;
    sr_status_t status = sr_buf_u16(&r->b, &v);
    if (status != SR_OK || !r->text)
        return status;
    const char *n = sr_type_name(v, buf);
    size_t len = strlen(n);
    if ((status = text_room(r, len, &out)) != SR_OK)
        return status;
    memcpy(out, n, len);
    add_field(r, len);
    return SR_OK;
}

/* RFC 4034 3.2: seconds since 1970 as YYYYMMDDHHmmSS (UTC). The 32-bit
 * value is taken as it stands, so the years run from 1970 to 2106. */
static sr_status_t f_time(rd_t *r)
{
    uint32_t v;
    char *out;
    sr_status_t status = sr_buf_u32(&r->b, &v);
    if (status != SR_OK || !r->text)
        return status;
    if ((status = text_room(r, 14, &out)) != SR_OK)
        return status;
    /* Civil date from a day count (H. Hinnant's days_from_civil inverse,
     * era 400 years, March-based years). */
    uint32_t days = v / 86400, secs = v % 86400;
    uint32_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
    uint32_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint32_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    uint32_t day = doy - (153 * mp + 2) / 5 + 1, month = mp < 10 ? mp + 3 : mp - 9;
    uint32_t year = yoe + era * 400 + (month <= 2);
    uint32_t parts[6] = {year, month, day, secs / 3600, secs / 60 % 60, secs % 60};
    size_t t = 0;
    for (int i = 0; i < 6; i++) {
        uint32_t x = parts[i];
        if (i == 0) {
            out[t++] = (char)('0' + x / 1000);
            out[t++] = (char)('0' + x / 100 % 10);
            x %= 100;
        }
        out[t++] = (char)('0' + x / 10);
        out[t++] = (char)('0' + x % 10);
    }
    add_field(r, t);
    return SR_OK;
}

/* The rest of the RDATA as uppercase hex (digests, fingerprints, TLSA). */
static sr_status_t f_hex_upper_rest(rd_t *r)
{
    size_t n = sr_buf_remaining(&r->b);
    const uint8_t *p;
    char *out;
    sr_status_t status = sr_buf_fetch(&r->b, n, &p);
    if (status != SR_OK || !r->text)
        return status;
    if ((status = text_room(r, 2 * n, &out)) != SR_OK)
        return status;
    add_field(r, fmt_hex_upper(out, p, n));
    return SR_OK;
}

/* NSEC3 salt (RFC 5155 3.3): a length byte and hex, "-" when empty. */
static sr_status_t f_salt(rd_t *r)
{
    const uint8_t *p;
    uint8_t n;
    char *out;
    sr_status_t status = read_string(r, &p, &n);
    if (status != SR_OK || !r->text)
        return status;
    if ((status = text_room(r, 2u * n + 1, &out)) != SR_OK)
        return status;
    if (n == 0) {
        out[0] = '-';
        add_field(r, 1);
    } else {
        add_field(r, fmt_hex_upper(out, p, n));
    }
    return SR_OK;
}

/* NSEC3 next hashed owner (RFC 5155 3.3): a length byte (at least 1) and
 * the hash in base32hex without padding (RFC 4648 7), uppercase. */
static sr_status_t f_base32hex(rd_t *r)
{
    static const char b32[] = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
    const uint8_t *p;
    uint8_t n;
    char *out;
    sr_status_t status = read_string(r, &p, &n);
    if (status != SR_OK)
        return status;
    if (n == 0)
        return SR_E_FORMERR;
    if (!r->text)
        return SR_OK;
    if ((status = text_room(r, (8u * n + 4) / 5, &out)) != SR_OK)
        return status;
    size_t t = 0;
    unsigned acc = 0, bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8 | p[i]) & 0xFFFu;
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[t++] = b32[(acc >> bits) & 31];
        }
    }
    if (bits > 0)
        out[t++] = b32[(acc << (5 - bits)) & 31];
    add_field(r, t);
    return SR_OK;
}

/* NSEC/NSEC3 type bit maps (RFC 4034 4.1.2): windows in increasing order,
 * each of 1-32 bytes whose last byte is not zero (trailing zero bytes and
 * empty windows must be left out); the types as mnemonics between blanks.
 * No windows at all is an empty field (an NSEC3 of an empty
 * non-terminal). */
static sr_status_t f_type_bitmap(rd_t *r)
{
    size_t n = sr_buf_remaining(&r->b), t = 0;
    int prev = -1;
    char *out = NULL;
    sr_status_t status;

    /* 256 windows of at most 32 bytes; each byte names at most 8 types
     * of at most "TYPE65535 " each. */
    if (n > 256 * 34)
        return SR_E_FORMERR;
    if (r->text && (status = text_room(r, 80 * n, &out)) != SR_OK)
        return status;
    while (sr_buf_remaining(&r->b) > 0) {
        uint8_t win, len;
        const uint8_t *p;
        if ((status = sr_buf_u8(&r->b, &win)) != SR_OK ||
            (status = sr_buf_u8(&r->b, &len)) != SR_OK)
            return status;
        if ((int)win <= prev || len < 1 || len > 32)
            return SR_E_FORMERR;
        if ((status = sr_buf_fetch(&r->b, len, &p)) != SR_OK)
            return status;
        if (p[len - 1] == 0)
            return SR_E_FORMERR;
        prev = win;
        for (unsigned i = 0; out != NULL && i < 8u * len; i++) {
            if (!(p[i / 8] & (0x80u >> (i % 8))))
                continue;
            char buf[16];
            const char *name = sr_type_name((uint16_t)(win * 256u + i), buf);
            size_t l = strlen(name);
            if (t > 0)
                out[t++] = ' ';
            memcpy(out + t, name, l);
            t += l;
        }
    }
    if (out != NULL)
        add_field(r, t);
    return SR_OK;
}

/* CAA tag (RFC 8659 4.1.1): a length byte (at least 1) and letters and
 * digits only. */
static sr_status_t f_caa_tag(rd_t *r)
{
    const uint8_t *p;
    uint8_t n;
    char *out;
    sr_status_t status = read_string(r, &p, &n);
    if (status != SR_OK)
        return status;
    if (n == 0)
        return SR_E_FORMERR;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            return SR_E_FORMERR;
    }
    if (!r->text)
        return SR_OK;
    if ((status = text_room(r, n, &out)) != SR_OK)
        return status;
    memcpy(out, p, n);
    add_field(r, n);
    return SR_OK;
}

/* The rest of the RDATA as one quoted string (CAA value, URI target);
 * with nonempty, an empty one is malformed (RFC 7553 4.4). */
static sr_status_t f_quoted_rest(rd_t *r, bool nonempty)
{
    size_t n = sr_buf_remaining(&r->b);
    const uint8_t *p;
    char *out;
    sr_status_t status = sr_buf_fetch(&r->b, n, &p);
    if (status != SR_OK)
        return status;
    if (nonempty && n == 0)
        return SR_E_FORMERR;
    if (!r->text)
        return SR_OK;
    if ((status = text_room(r, 4 * n + 2, &out)) != SR_OK)
        return status;
    add_field(r, fmt_quoted(out, p, n));
    return SR_OK;
}

/* ---- LOC (RFC 1876) ---- */

/* A size or precision byte: mantissa and power of ten, each 0-9, in
 * centimetres. dig's form: whole metres when the power is 2 or more,
 * else metres with two decimals. */
static bool loc_size_ok(uint8_t b)
{
    return (b >> 4) <= 9 && (b & 0xF) <= 9;
}

static size_t fmt_loc_size(char *out, uint8_t b)
{
    uint64_t cm = b >> 4;
    unsigned e = b & 0xF;
    size_t t;
    /* A zero with any power is zero: "0.00m", as dig shows 0x00. */
    if (e >= 2 && cm > 0) {
        for (unsigned i = 2; i < e; i++)
            cm *= 10;
        t = sr_fmt_u32(out, (uint32_t)cm);
    } else {
        if (e == 1)
            cm *= 10;
        t = sr_fmt_u32(out, (uint32_t)(cm / 100));
        out[t++] = '.';
        out[t++] = (char)('0' + cm / 10 % 10);
        out[t++] = (char)('0' + cm % 10);
    }
    out[t++] = 'm';
    return t;
}

/* Latitude or longitude: thousandths of an arc second off 2^31, at most
 * max degrees either way; "D M S.sss H". */
static bool loc_angle_ok(uint32_t v, uint32_t max)
{
    uint32_t off = v >= 0x80000000u ? v - 0x80000000u : 0x80000000u - v;
    return off <= max * 3600000u;
}

static size_t fmt_loc_angle(char *out, uint32_t v, const char *hemi)
{
    uint32_t off = v >= 0x80000000u ? v - 0x80000000u : 0x80000000u - v;
    size_t t = sr_fmt_u32(out, off / 3600000u);
    out[t++] = ' ';
    t += sr_fmt_u32(out + t, off / 60000u % 60);
    out[t++] = ' ';
    t += sr_fmt_u32(out + t, off / 1000u % 60);
    out[t++] = '.';
    out[t++] = (char)('0' + off % 1000 / 100);
    out[t++] = (char)('0' + off % 100 / 10);
    out[t++] = (char)('0' + off % 10);
    out[t++] = ' ';
    out[t++] = hemi[v >= 0x80000000u ? 0 : 1];
    return t;
}

/* Altitude: centimetres above 100,000 m below the reference; "-2.00m". */
static size_t fmt_loc_alt(char *out, uint32_t v)
{
    size_t t = 0;
    uint32_t cm;
    if (v < 10000000u) {
        out[t++] = '-';
        cm = 10000000u - v;
    } else {
        cm = v - 10000000u;
    }
    t += sr_fmt_u32(out + t, cm / 100);
    out[t++] = '.';
    out[t++] = (char)('0' + cm / 10 % 10);
    out[t++] = (char)('0' + cm % 10);
    out[t++] = 'm';
    return t;
}

/* Version 0 only (RFC 1876 2: other versions have another layout); sizes
 * and angles in their ranges, as BIND checks them. */
static sr_status_t f_loc_all(rd_t *r)
{
    const uint8_t *p;
    char *out;
    sr_status_t status = sr_buf_fetch(&r->b, 16, &p);
    if (status != SR_OK)
        return status;
    uint32_t lat = sr_get32(p + 4), lon = sr_get32(p + 8), alt = sr_get32(p + 12);
    if (p[0] != 0 || !loc_size_ok(p[1]) || !loc_size_ok(p[2]) || !loc_size_ok(p[3]) ||
        !loc_angle_ok(lat, 90) || !loc_angle_ok(lon, 180))
        return SR_E_FORMERR;
    if (!r->text)
        return SR_OK;
    /* 6 fields of at most 24 chars each */
    if ((status = text_room(r, 6 * 25, &out)) != SR_OK)
        return status;
    add_field(r, fmt_loc_angle(out, lat, "NS"));
    out = r->d->arena->buf + r->d->arena->len;
    add_field(r, fmt_loc_angle(out, lon, "EW"));
    out = r->d->arena->buf + r->d->arena->len;
    add_field(r, fmt_loc_alt(out, alt));
    for (int i = 1; i <= 3; i++) {
        out = r->d->arena->buf + r->d->arena->len;
        add_field(r, fmt_loc_size(out, p[i]));
    }
    return SR_OK;
}

/* ---- SvcParams (RFC 9460 2.1, 2.2 and 7; RFC 9461 5; RFC 9540 4) ---- */

static const char *const svc_keys[] = {
    "mandatory", "alpn",     "no-default-alpn", "port",  "ipv4hint",
    "ech",       "ipv6hint", "dohpath",         "ohttp",
};
#define SVC_NKEYS (sizeof(svc_keys) / sizeof(svc_keys[0]))

const char *sr_svc_key_name(uint16_t key, char buf[16])
{
    if (key < SVC_NKEYS)
        return svc_keys[key];
    memcpy(buf, "key", 3);
    buf[3 + sr_fmt_u32(buf + 3, key)] = '\0';
    return buf;
}

static size_t put_str(char *out, const char *s)
{
    size_t l = strlen(s);
    memcpy(out, s, l);
    return l;
}

/* Whether a known key's value has the form its presentation needs; if
 * not, it is shown in the generic keyNNNNN form, which a parser takes
 * as the value's bytes (RFC 9460 2.1), so the text still says exactly
 * what came. */
static bool svc_value_ok(uint16_t key, const uint8_t *p, size_t n)
{
    switch (key) {
    case 0: /* mandatory: keys in increasing order, never itself (8) */
        if (n == 0 || n % 2 != 0)
            return false;
        for (size_t i = 0; i < n; i += 2) {
            uint16_t k = sr_get16(p + i);
            if (k == 0 || (i > 0 && k <= sr_get16(p + i - 2)))
                return false;
        }
        return true;
    case 1: /* alpn: one or more non-empty length-prefixed ids */
        if (n == 0)
            return false;
        for (size_t i = 0; i < n; i += 1u + p[i])
            if (p[i] == 0 || p[i] > n - i - 1)
                return false;
        return true;
    case 2:
    case 8: return n == 0; /* no-default-alpn, ohttp */
    case 3: return n == 2; /* port */
    case 4: return n > 0 && n % 4 == 0;
    case 5: return n > 0; /* ech */
    case 6: return n > 0 && n % 16 == 0;
    case 7: return n > 0; /* dohpath */
    default: return false;
    }
}

/* One SvcParam as "key=value" at out; out holds 4 * n + 16. */
static size_t fmt_svc_param(char *out, uint16_t key, const uint8_t *p, size_t n)
{
    char kb[16];
    size_t t;

    if (!svc_value_ok(key, p, n)) {
        t = put_str(out, "key");
        t += sr_fmt_u32(out + t, key);
        if (n > 0) {
            out[t++] = '=';
            t += fmt_quoted(out + t, p, n);
        }
        return t;
    }
    t = put_str(out, svc_keys[key]);
    if (key == 2 || key == 8)
        return t;
    out[t++] = '=';
    switch (key) {
    case 0:
        for (size_t i = 0; i < n; i += 2) {
            if (i > 0)
                out[t++] = ',';
            t += put_str(out + t, sr_svc_key_name(sr_get16(p + i), kb));
        }
        break;
    case 1:
        /* A list inside a quoted string: a ',' or '\' in an id is escaped
         * for the list, and that backslash again for the string (RFC 9460
         * A.1): "\\," and "\\\\". */
        out[t++] = '"';
        for (size_t i = 0; i < n; i += 1u + p[i]) {
            if (i > 0)
                out[t++] = ',';
            for (size_t k = i + 1; k <= i + p[i]; k++) {
                if (p[k] == ',' || p[k] == '\\') {
                    out[t++] = '\\';
                    out[t++] = '\\';
                    if (p[k] == '\\') {
                        out[t++] = '\\';
                        out[t++] = '\\';
                    } else {
                        out[t++] = ',';
                    }
                } else {
                    t += fmt_quoted_byte(out + t, p[k]);
                }
            }
        }
        out[t++] = '"';
        break;
    case 3: t += sr_fmt_u32(out + t, sr_get16(p)); break;
    case 4:
        for (size_t i = 0; i < n; i += 4) {
            if (i > 0)
                out[t++] = ',';
            t += fmt_ipv4(out + t, p + i);
        }
        break;
    case 5: t += (size_t)EVP_EncodeBlock((unsigned char *)out + t, p, (int)n); break;
    case 6:
        for (size_t i = 0; i < n; i += 16) {
            if (i > 0)
                out[t++] = ',';
            /* cannot fail: 16 bytes and INET6_ADDRSTRLEN of room */
            inet_ntop(AF_INET6, p + i, out + t, INET6_ADDRSTRLEN);
            t += strlen(out + t);
        }
        break;
    default: t += fmt_quoted(out + t, p, n); break; /* dohpath */
    }
    return t;
}

/* The SvcParams: keys in strictly increasing order, each value within the
 * RDATA (RFC 9460 2.2: else the record is malformed); shown in wire order
 * between blanks. */
static sr_status_t f_svc_params(rd_t *r)
{
    size_t n = sr_buf_remaining(&r->b), t = 0;
    int32_t prev = -1;
    char *out = NULL;
    sr_status_t status;

    /* Each value byte takes at most 4 chars (ipv6hint: 39 + ',' per 16,
     * ech: 4 per 3), each 4-byte key and length at most 16 more: the key
     * name, '=', quotes and a blank. */
    if (r->text && (status = text_room(r, 8 * n, &out)) != SR_OK)
        return status;
    while (sr_buf_remaining(&r->b) > 0) {
        uint16_t key, len;
        const uint8_t *p;
        if ((status = sr_buf_u16(&r->b, &key)) != SR_OK ||
            (status = sr_buf_u16(&r->b, &len)) != SR_OK ||
            (status = sr_buf_fetch(&r->b, len, &p)) != SR_OK)
            return status;
        if ((int32_t)key <= prev)
            return SR_E_FORMERR;
        prev = key;
        if (out == NULL)
            continue;
        if (t > 0)
            out[t++] = ' ';
        t += fmt_svc_param(out + t, key, p, len);
    }
    if (out != NULL)
        add_field(r, t);
    return SR_OK;
}

/* The fields of a type with a layout (sr_rdata_layout()). */
static sr_status_t decode_layout(rd_t *r, const char *letters)
{
    sr_status_t status = SR_OK;

    for (const char *l = letters; *l != '\0' && status == SR_OK; l++) {
        switch (*l) {
        case '1': status = f_u8(r); break;
        case '2': status = f_u16(r); break;
        case '4': status = f_u32(r); break;
        case 'N': status = f_name(r); break;
        case 'T': status = f_type_mnemonic(r); break;
        case 'D': status = f_time(r); break;
        case 'H': status = f_salt(r); break;
        case 'Z': status = f_base32hex(r); break;
        case 'C': status = f_caa_tag(r); break;
        case 'X': status = f_hex_upper_rest(r); break;
        case 'B': status = f_base64_rest(r); break;
        case 'M': status = f_type_bitmap(r); break;
        case 'Q': status = f_quoted_rest(r, false); break;
        case 'U': status = f_quoted_rest(r, true); break;
        case 'P': status = f_svc_params(r); break;
        default: status = f_loc_all(r); break; /* 'L' */
        }
    }
    return status;
}

/* The field-by-field decoders, RFC 1035 3.3/3.4 unless noted. */
static sr_status_t decode_fields(rd_t *r, uint16_t type)
{
    sr_status_t status = SR_OK;

    switch (type) {
    case SR_TYPE_A: status = f_ipv4(r); break;
    case SR_TYPE_NS:
    case SR_TYPE_MD:
    case SR_TYPE_MF:
    case SR_TYPE_CNAME:
    case SR_TYPE_MB:
    case SR_TYPE_MG:
    case SR_TYPE_MR:
    case SR_TYPE_PTR: status = f_name(r); break;
    case SR_TYPE_SOA:
        if ((status = f_name(r)) != SR_OK || (status = f_name(r)) != SR_OK)
            break;
        for (int i = 0; i < 5 && status == SR_OK; i++)
            status = f_u32(r);
        break;
    case SR_TYPE_NULL:
        status = f_hex_rest(r); /* anything, even nothing (3.3.10) */
        break;
    case SR_TYPE_WKS:
        if ((status = f_ipv4(r)) != SR_OK || (status = f_u8(r)) != SR_OK)
            break;
        status = f_wks_map(r);
        break;
    case SR_TYPE_HINFO:
        if ((status = f_string(r)) != SR_OK)
            break;
        status = f_string(r);
        break;
    case SR_TYPE_MINFO:
    case SR_TYPE_RP: /* RFC 1183 2.2 */
        if ((status = f_name(r)) != SR_OK)
            break;
        status = f_name(r);
        break;
    case SR_TYPE_MX:
    case SR_TYPE_AFSDB: /* RFC 1183 1 */
    case SR_TYPE_RT:    /* RFC 1183 3.3 */
        if ((status = f_u16(r)) != SR_OK)
            break;
        status = f_name(r);
        break;
    case SR_TYPE_TXT: status = f_txt_strings(r); break;
    case SR_TYPE_X25: /* RFC 1183 3.1 */ status = f_string(r); break;
    case SR_TYPE_ISDN: /* RFC 1183 3.2: the sub-address is optional */
        if ((status = f_string(r)) != SR_OK)
            break;
        if (sr_buf_remaining(&r->b) > 0)
            status = f_string(r);
        break;
    case SR_TYPE_AAAA: /* RFC 3596 2.2 */ status = f_ipv6(r); break;
    case SR_TYPE_SRV: /* RFC 2782 */
        for (int i = 0; i < 3 && status == SR_OK; i++)
            status = f_u16(r);
        if (status == SR_OK)
            status = f_name(r);
        break;
    case SR_TYPE_NAPTR: /* RFC 3403 4.1 */
        for (int i = 0; i < 2 && status == SR_OK; i++)
            status = f_u16(r);
        for (int i = 0; i < 3 && status == SR_OK; i++)
            status = f_string(r);
        if (status == SR_OK)
            status = f_name(r);
        break;
    case SR_TYPE_CERT: /* RFC 4398 2 */
        if ((status = f_u16(r)) != SR_OK || (status = f_u16(r)) != SR_OK ||
            (status = f_u8(r)) != SR_OK)
            break;
        status = f_base64_rest(r);
        break;
    default: {
        const char *letters = sr_rdata_layout(type);
        status = letters != NULL ? decode_layout(r, letters) : f_generic_rest(r);
        break;
    }
    }
    return status;
}

sr_status_t sr_rdata_decode(sr_dec_t *d, uint16_t type, uint16_t rclass, size_t rdoff, size_t rdlen)
{
    sr_status_t status;
    rd_t r;
    size_t fields_before = d->fields != NULL ? d->fields->len : 0;

    if (rdoff > d->pktlen || rdlen > d->pktlen - rdoff) {
        status = SR_E_MSG_TOO_SHORT;
        goto done;
    }
    r.d = d;
    sr_buf_init(&r.b, d->pkt, rdoff + rdlen);
    r.b.off = rdoff;
    r.nf = 0;
    r.text = d->fields != NULL;
    if (!sr_rdata_has_decoder(type, rclass))
        type = 0; /* decoded as RFC 3597 generic RDATA */
    r.names = type != 0 ? sr_type_fields(type) : f_generic;

    status = decode_fields(&r, type);
    if (status == SR_OK && sr_buf_remaining(&r.b) != 0)
        status = SR_E_FORMERR; /* trailing bytes */
    /* The RDATA lies inside the message: running out of it means the
     * length disagrees with the content. */
    if (status == SR_E_MSG_TOO_SHORT)
        status = SR_E_FORMERR;
done:
    /* Text already in the arena stays: the name cache may refer to it. */
    if (status != SR_OK && d->fields != NULL)
        d->fields->len = fields_before;
    return status;
}
