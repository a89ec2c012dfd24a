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
    default: return NULL;
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
    default: status = f_generic_rest(r); break;
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
