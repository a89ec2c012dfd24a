/* Parsed DNS messages (RFC 1035 4.1, EDNS per RFC 6891).
 *
 * A message owns a copy of the packet, the record table, the field table
 * and one text arena. All of them only grow and are reused by the next
 * parse, so parsing into a reused sr_msg_t allocates nothing once it has
 * seen a message of the size at hand. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec-internal.h"

/* RFC 1035 4.1.2/4.1.3: the smallest question (root name, type, class)
 * and the smallest record (root owner, type, class, TTL, rdlength). */
#define MIN_QUESTION_LEN 5
#define MIN_RR_LEN 11
/* The largest message any transport carries (2-byte TCP length). */
#define MAX_MSG_LEN 65535

struct sr_msg {
    uint8_t *wire; /* copy of the packet */
    size_t wire_len;
    size_t wire_cap;
    sr_arena_t arena;     /* every string of the message */
    sr_fieldvec_t fields; /* the fields of all records, in record order */
    sr_rr_t *rrs;
    size_t rr_count;
    size_t rr_cap;
    sr_edns_opt_t *opts;
    size_t opt_cap;
    sr_edns_t edns;
    sr_namecache_t names;
    uint16_t id;
    uint16_t flags;
    size_t qdcount;
    const char *qname;
    const uint8_t *qname_wire;
    size_t qname_wire_len;
    uint16_t qtype;
    uint16_t qclass;
    size_t question_end;
    size_t section_count[3];
    char error[192];
};

static const char *const section_names[] = {"answer", "authority", "additional"};

/* Grow an array to hold at least need elements of size elem (doubling, so
 * a sequence of parses settles quickly). */
static sr_status_t grow_array(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return SR_OK;
    size_t ncap = *cap * 2 > need ? *cap * 2 : need;
    if (ncap > SIZE_MAX / elem)
        return SR_E_NOMEM;
    void *np = sr_realloc(*p, ncap * elem);
    if (np == NULL)
        return SR_E_NOMEM;
    *p = np;
    *cap = ncap;
    return SR_OK;
}

sr_status_t sr_arena_grow(sr_arena_t *a, size_t n)
{
    void *p = a->buf;
    if (n > SIZE_MAX - a->len)
        return SR_E_NOMEM;
    sr_status_t status = grow_array(&p, &a->cap, a->len + n, 1);
    a->buf = p;
    return status;
}

SR_API sr_msg_t *sr_msg_new(void)
{
    return sr_calloc(1, sizeof(sr_msg_t));
}

SR_API void sr_msg_free(sr_msg_t *msg)
{
    if (msg == NULL)
        return;
    sr_free(msg->wire);
    sr_free(msg->arena.buf);
    sr_free(msg->fields.v);
    sr_free(msg->rrs);
    sr_free(msg->opts);
    sr_free(msg);
}

/* Forget the previous message, keeping the buffers. */
static void msg_clear(sr_msg_t *msg)
{
    msg->wire_len = 0;
    msg->arena.len = 0;
    msg->fields.len = 0;
    msg->rr_count = 0;
    memset(&msg->edns, 0, sizeof(msg->edns));
    msg->id = 0;
    msg->flags = 0;
    msg->qdcount = 0;
    msg->qname = NULL;
    msg->qname_wire = NULL;
    msg->qname_wire_len = 0;
    msg->qtype = 0;
    msg->qclass = 0;
    msg->question_end = 0;
    memset(msg->section_count, 0, sizeof(msg->section_count));
}

/* Record why the parse failed and return status (cold path). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static sr_status_t
fail(sr_msg_t *msg, sr_status_t status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg->error, sizeof(msg->error), fmt, ap);
    va_end(ap);
    return status;
}

static const char *status_word(sr_status_t status)
{
    switch (status) {
    case SR_E_MSG_TOO_SHORT: return "runs past the end of the message";
    case SR_E_NOMEM: return "out of memory";
    default: return "is malformed";
    }
}

/* The OPT pseudo-record (RFC 6891 6.1), whose RDATA is at rdoff. */
static sr_status_t parse_opt(sr_msg_t *msg, size_t start, const char *owner, uint16_t rclass,
                             uint32_t ttl, size_t rdoff, size_t rdend)
{
    sr_status_t status = SR_OK;
    sr_buf_t ob;
    size_t n = 0;

    /* 6.1.1: at most one OPT, and its owner is the root. */
    if (msg->edns.present)
        return fail(msg, SR_E_FORMERR, "second OPT record at offset %zu (RFC 6891 6.1.1)", start);
    if (strcmp(owner, ".") != 0)
        return fail(msg, SR_E_FORMERR, "OPT record at offset %zu has a non-root owner", start);

    /* 6.1.2/6.1.3: CLASS is the UDP payload size; TTL holds the upper 8
     * bits of the extended RCODE, the version and the flags (DO first). */
    msg->edns.present = true;
    msg->edns.udp_size = rclass;
    msg->edns.ext_rcode = (uint8_t)(ttl >> 24);
    msg->edns.version = (uint8_t)(ttl >> 16);
    msg->edns.flags = (uint16_t)ttl;
    msg->edns.do_bit = (ttl & 0x8000u) != 0;
    msg->edns.offset = start;
    msg->edns.end = rdend;

    /* 6.1.2: {code, length, data} options filling the RDATA exactly. */
    sr_buf_init(&ob, msg->wire, rdend);
    ob.off = rdoff;
    while (sr_buf_remaining(&ob) > 0) {
        uint16_t code, olen;
        const uint8_t *data;
        if (sr_buf_u16(&ob, &code) != SR_OK || sr_buf_u16(&ob, &olen) != SR_OK ||
            sr_buf_fetch(&ob, olen, &data) != SR_OK)
            return fail(msg, SR_E_FORMERR, "EDNS option at offset %zu runs past the OPT RDATA",
                        ob.off);
        status = grow_array((void **)&msg->opts, &msg->opt_cap, n + 1, sizeof(*msg->opts));
        if (status != SR_OK)
            return fail(msg, status, "out of memory");
        msg->opts[n].code = code;
        msg->opts[n].len = olen;
        msg->opts[n].data = data;
        n++;
    }
    msg->edns.opt_count = n;
    msg->edns.opts = n > 0 ? msg->opts : NULL;
    return SR_OK;
}

static sr_status_t parse_question(sr_msg_t *msg, sr_buf_t *b, size_t i)
{
    sr_status_t status;
    uint8_t w[SR_NAME_MAX_WIRE];
    size_t wl, start = b->off;
    uint16_t qtype, qclass;

    if (i == 0) {
        /* The first question is kept in both forms; its text seeds the
         * name cache that the answers' owner pointers hit. */
        size_t o = b->off, text;
        status = sr_name_unpack(b->data, b->len, &o, w, &wl);
        if (status == SR_OK)
            status = sr_name_read_text(b->data, b->len, &b->off, &msg->arena, &msg->names, &text);
        if (status == SR_OK)
            status = sr_arena_reserve(&msg->arena, wl);
        if (status != SR_OK)
            goto fail;
        msg->qname = sr_off_as_ptr(text);
        msg->qname_wire = (const uint8_t *)sr_off_as_ptr(msg->arena.len);
        msg->qname_wire_len = wl;
        memcpy(msg->arena.buf + msg->arena.len, w, wl);
        msg->arena.len += wl;
    } else {
        status = sr_name_unpack(b->data, b->len, &b->off, w, &wl);
        if (status != SR_OK)
            goto fail;
    }
    if ((status = sr_buf_u16(b, &qtype)) != SR_OK || (status = sr_buf_u16(b, &qclass)) != SR_OK)
        goto fail;
    if (i == 0) {
        msg->qtype = qtype;
        msg->qclass = qclass;
    }
    return SR_OK;
fail:
    return fail(msg, status, "question %zu at offset %zu %s", i, start, status_word(status));
}

static sr_status_t parse_rr(sr_msg_t *msg, sr_buf_t *b, sr_section_t sect, size_t idx, bool text)
{
    sr_status_t status;
    size_t start = b->off, name_off, ttl_off;
    uint16_t type, rclass, rdlen;
    uint32_t ttl;
    const uint8_t *rdata;
    char tbuf[16];

    status = sr_name_read_text(b->data, b->len, &b->off, &msg->arena, &msg->names, &name_off);
    if (status != SR_OK)
        return fail(msg, status, "owner name of %s record %zu at offset %zu %s",
                    section_names[sect], idx, start, status_word(status));
    if ((status = sr_buf_u16(b, &type)) != SR_OK || (status = sr_buf_u16(b, &rclass)) != SR_OK)
        goto short_rr;
    ttl_off = b->off;
    if ((status = sr_buf_u32(b, &ttl)) != SR_OK || (status = sr_buf_u16(b, &rdlen)) != SR_OK ||
        (status = sr_buf_fetch(b, rdlen, &rdata)) != SR_OK)
        goto short_rr;

    if (type == SR_TYPE_OPT) {
        if (sect != SR_SECTION_ADDITIONAL)
            return fail(msg, SR_E_FORMERR, "OPT record in the %s section (RFC 6891 6.1.1)",
                        section_names[sect]);
        return parse_opt(msg, start, msg->arena.buf + name_off, rclass, ttl, b->off - rdlen,
                         b->off);
    }

    sr_rr_t *rr = &msg->rrs[msg->rr_count];
    size_t fields_before = msg->fields.len;
    if (text) {
        status = grow_array((void **)&msg->fields.v, &msg->fields.cap,
                            msg->fields.len + SR_RDATA_MAX_FIELDS, sizeof(sr_field_t));
        if (status != SR_OK)
            return fail(msg, status, "out of memory");
    }
    sr_dec_t d = {
        .pkt = b->data,
        .pktlen = b->len,
        .arena = &msg->arena,
        .names = &msg->names,
        .fields = text ? &msg->fields : NULL,
    };
    status = sr_rdata_decode(&d, type, rclass, b->off - rdlen, rdlen);
    if (status != SR_OK)
        return fail(msg, status, "RDATA of %s record %zu (%s, %u bytes) at offset %zu %s",
                    section_names[sect], idx, sr_type_name(type, tbuf), (unsigned)rdlen, start,
                    status == SR_E_FORMERR ? "disagrees with its length" : status_word(status));
    rr->section = sect;
    rr->name = sr_off_as_ptr(name_off);
    rr->type = type;
    rr->rclass = rclass;
    rr->ttl = ttl;
    rr->rdata = rdata;
    rr->rdlength = rdlen;
    rr->offset = start;
    rr->ttl_offset = ttl_off;
    rr->end = b->off;
    rr->field_count = msg->fields.len - fields_before;
    rr->fields = NULL;
    msg->rr_count++;
    msg->section_count[sect]++;
    return SR_OK;

short_rr:
    return fail(msg, status, "%s record %zu at offset %zu %s", section_names[sect], idx, start,
                status_word(status));
}

/* Turn the arena offsets parked in pointer slots into pointers, now that
 * the arena no longer moves. */
static void fix_up(sr_msg_t *msg)
{
    char *base = msg->arena.buf;
    size_t fi = 0;

    for (size_t i = 0; i < msg->rr_count; i++) {
        sr_rr_t *rr = &msg->rrs[i];
        rr->name = base + sr_ptr_as_off(rr->name);
        rr->fields = rr->field_count > 0 ? msg->fields.v + fi : NULL;
        fi += rr->field_count;
    }
    for (size_t i = 0; i < msg->fields.len; i++)
        msg->fields.v[i].value = base + sr_ptr_as_off(msg->fields.v[i].value);
    if (msg->qdcount > 0) {
        msg->qname = base + sr_ptr_as_off(msg->qname);
        msg->qname_wire = (const uint8_t *)base + sr_ptr_as_off((const char *)msg->qname_wire);
    }
}

SR_API sr_status_t sr_msg_parse(sr_msg_t *msg, const uint8_t *pkt, size_t len, unsigned flags)
{
    sr_status_t status;
    sr_buf_t b;
    uint16_t counts[4]; /* QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT */
    bool text = (flags & SR_PARSE_NO_FIELDS) == 0;

    if (msg == NULL)
        return SR_E_INVAL;
    msg_clear(msg);
    msg->error[0] = '\0';
    if (pkt == NULL && len > 0) {
        status = fail(msg, SR_E_INVAL, "no packet");
        goto done;
    }
    if (len < SR_HEADER_LEN) {
        status =
            fail(msg, SR_E_MSG_TOO_SHORT, "%zu bytes are shorter than the 12-byte header", len);
        goto done;
    }
    if (len > MAX_MSG_LEN) {
        status = fail(msg, SR_E_FORMERR, "%zu bytes are longer than any DNS message", len);
        goto done;
    }
    status = grow_array((void **)&msg->wire, &msg->wire_cap, len, 1);
    if (status != SR_OK) {
        fail(msg, status, "out of memory");
        goto done;
    }
    memcpy(msg->wire, pkt, len);
    msg->wire_len = len;
    sr_buf_init(&b, msg->wire, len);

    /* RFC 1035 4.1.1. The length was checked, so these reads succeed. */
    (void)sr_buf_u16(&b, &msg->id);
    (void)sr_buf_u16(&b, &msg->flags);
    for (int i = 0; i < 4; i++)
        (void)sr_buf_u16(&b, &counts[i]);

    /* Counts a packet of this size cannot hold are refused before anything
     * is allocated for them. */
    size_t nrr = (size_t)counts[1] + counts[2] + counts[3];
    size_t need = (size_t)counts[0] * MIN_QUESTION_LEN + nrr * MIN_RR_LEN;
    if (need > len - SR_HEADER_LEN) {
        status = fail(msg, SR_E_MSG_TOO_SHORT,
                      "counts (QD %u, AN %u, NS %u, AR %u) need at least %zu "
                      "bytes after the header, the message has %zu",
                      counts[0], counts[1], counts[2], counts[3], need, len - SR_HEADER_LEN);
        goto done;
    }
    status = grow_array((void **)&msg->rrs, &msg->rr_cap, nrr, sizeof(sr_rr_t));
    /* Room for the usual amount of text; more is made when needed. */
    if (status == SR_OK)
        status = sr_arena_reserve(&msg->arena, 2 * len + 2 * SR_NAME_MAX_TEXT);
    if (status != SR_OK) {
        fail(msg, status, "out of memory");
        goto done;
    }
    sr_namecache_reset(&msg->names);

    for (size_t i = 0; i < counts[0]; i++) {
        status = parse_question(msg, &b, i);
        if (status != SR_OK)
            goto done;
        msg->qdcount = i + 1;
    }
    msg->question_end = b.off;

    for (int s = 0; s < 3; s++) {
        for (size_t i = 0; i < counts[s + 1]; i++) {
            status = parse_rr(msg, &b, (sr_section_t)s, i, text);
            if (status != SR_OK)
                goto done;
        }
    }
    /* Bytes after the last record are ignored, as most implementations do
     * (RFC 1035 does not address them). */
    fix_up(msg);
done:
    if (status != SR_OK)
        msg_clear(msg);
    return status;
}

SR_API const char *sr_msg_error(const sr_msg_t *msg)
{
    return msg != NULL ? msg->error : "";
}

SR_API const uint8_t *sr_msg_wire(const sr_msg_t *msg, size_t *len)
{
    *len = msg->wire_len;
    return msg->wire;
}

/* The getters that return one field of the message as it is. */
#define MSG_GETTER(type, fn, field)                                                                \
    SR_API type fn(const sr_msg_t *msg)                                                            \
    {                                                                                              \
        return msg->field;                                                                         \
    }

MSG_GETTER(uint16_t, sr_msg_id, id)
MSG_GETTER(uint16_t, sr_msg_flags, flags)
MSG_GETTER(size_t, sr_msg_qdcount, qdcount)
MSG_GETTER(const char *, sr_msg_qname, qname)
MSG_GETTER(uint16_t, sr_msg_qtype, qtype)
MSG_GETTER(uint16_t, sr_msg_qclass, qclass)
MSG_GETTER(size_t, sr_msg_question_end, question_end)
MSG_GETTER(size_t, sr_msg_rr_count, rr_count)

SR_API unsigned sr_msg_opcode(const sr_msg_t *msg)
{
    return (msg->flags >> 11) & 0xFu;
}

SR_API unsigned sr_msg_rcode(const sr_msg_t *msg)
{
    unsigned rcode = msg->flags & 0xFu;
    /* RFC 6891 6.1.3: the OPT TTL holds the upper 8 of 12 bits. */
    if (msg->edns.present)
        rcode |= (unsigned)msg->edns.ext_rcode << 4;
    return rcode;
}

SR_API const uint8_t *sr_msg_qname_wire(const sr_msg_t *msg, size_t *len)
{
    *len = msg->qname_wire_len;
    return msg->qname_wire;
}

SR_API const sr_rr_t *sr_msg_rr(const sr_msg_t *msg, size_t i)
{
    return i < msg->rr_count ? &msg->rrs[i] : NULL;
}

SR_API size_t sr_msg_section_count(const sr_msg_t *msg, sr_section_t s)
{
    if ((unsigned)s > SR_SECTION_ADDITIONAL)
        return 0;
    return msg->section_count[s];
}

SR_API const sr_edns_t *sr_msg_edns(const sr_msg_t *msg)
{
    return &msg->edns;
}

SR_API const char *sr_rr_field(const sr_rr_t *rr, const char *name)
{
    if (rr == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < rr->field_count; i++) {
        if (strcasecmp(rr->fields[i].name, name) == 0)
            return rr->fields[i].value;
    }
    return NULL;
}

/* ---- master-file text of a record ---- */

/* The fields that are <character-string>s (RFC 1035 3.3), by name: a type
 * decoded in another class has only "RDATA", which is not one. TXT's one
 * field joins several strings and is written from the RDATA instead. */
static const struct {
    uint16_t type;
    const char *fields[3];
} string_fields[] = {
    {SR_TYPE_HINFO, {"CPU", "OS"}},
    {SR_TYPE_X25, {"PSDNADDRESS"}},
    {SR_TYPE_ISDN, {"ISDNADDRESS", "SA"}},
    {SR_TYPE_NAPTR, {"FLAGS", "SERVICES", "REGEXP"}},
};

static bool is_string_field(uint16_t type, const char *name)
{
    for (size_t i = 0; i < sizeof(string_fields) / sizeof(string_fields[0]); i++) {
        if (string_fields[i].type != type)
            continue;
        for (size_t f = 0; f < 3 && string_fields[i].fields[f] != NULL; f++)
            if (strcmp(string_fields[i].fields[f], name) == 0)
                return true;
    }
    return false;
}

/* Append the n chars of s at *o of out (cap), with '"' around them and
 * before every '"' in them when quote is set. */
static sr_status_t put_text(char *out, size_t cap, size_t *o, const char *s, size_t n,
                            bool quote)
{
    size_t need = n + (quote ? 2 : 0);
    if (quote)
        for (size_t i = 0; i < n; i++)
            need += s[i] == '"';
    if (cap - *o <= need)
        return SR_E_NOBUFS;
    if (quote)
        out[(*o)++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (quote && s[i] == '"')
            out[(*o)++] = '\\';
        out[(*o)++] = s[i];
    }
    if (quote)
        out[(*o)++] = '"';
    out[*o] = '\0';
    return SR_OK;
}

/* TXT (RFC 1035 3.3.14): each <character-string> of the RDATA quoted. */
static sr_status_t txt_text(const sr_rr_t *rr, char *out, size_t cap, size_t *o)
{
    sr_status_t status = SR_OK;
    char esc[4 * 255];
    sr_buf_t b;

    sr_buf_init(&b, rr->rdata, rr->rdlength);
    while (status == SR_OK && sr_buf_remaining(&b) > 0) {
        const uint8_t *p;
        uint8_t n;
        if ((status = sr_buf_u8(&b, &n)) != SR_OK || (status = sr_buf_fetch(&b, n, &p)) != SR_OK)
            break;
        if (*o > 0)
            status = put_text(out, cap, o, " ", 1, false);
        if (status == SR_OK)
            status = put_text(out, cap, o, esc, sr_escape_bytes(esc, p, n, false), true);
    }
    return status;
}

SR_API sr_status_t sr_rr_text(const sr_rr_t *rr, char *out, size_t cap)
{
    sr_status_t status = SR_OK;
    size_t o = 0;

    if (rr == NULL || out == NULL || cap == 0)
        return SR_E_INVAL;
    out[0] = '\0';
    if (rr->field_count == 0)
        return SR_E_INVAL; /* parsed with SR_PARSE_NO_FIELDS */
    if (rr->type == SR_TYPE_TXT && strcmp(rr->fields[0].name, "TXT") == 0)
        return txt_text(rr, out, cap, &o);
    for (size_t i = 0; i < rr->field_count && status == SR_OK; i++) {
        const char *v = rr->fields[i].value;
        if (i > 0)
            status = put_text(out, cap, &o, " ", 1, false);
        if (status == SR_OK)
            status = put_text(out, cap, &o, v, strlen(v),
                              is_string_field(rr->type, rr->fields[i].name));
    }
    return status;
}

/* ---- the shape of a message, without parsing it ---- */

/* Skip one RR at the cursor; with shape, note and check its OPT record
 * (RFC 6891 6.1.1: one OPT, owner the root, in the additional section). */
static sr_status_t check_rr(sr_buf_t *b, bool additional, sr_msg_shape_t *shape)
{
    size_t name_off = b->off;
    uint16_t type, rdlen;
    sr_status_t status;

    status = sr_name_skip(b);
    if (status == SR_OK)
        status = sr_buf_u16(b, &type);
    if (status == SR_OK)
        status = sr_buf_skip(b, 6); /* class, ttl */
    size_t rdlen_off = b->off;
    if (status == SR_OK)
        status = sr_buf_u16(b, &rdlen);
    if (status != SR_OK)
        return status;
    if (shape != NULL && type == SR_TYPE_OPT) {
        if (!additional || shape->opt_found || rdlen_off - name_off != 1 + 8)
            return SR_E_FORMERR;
        shape->opt_found = true;
        shape->opt_rdlen_off = rdlen_off;
        shape->opt_rdata_off = b->off;
        shape->opt_rdlen = rdlen;
    }
    return sr_buf_skip(b, rdlen);
}

sr_status_t sr_msg_check(const uint8_t *m, size_t len, bool question_only, sr_msg_shape_t *shape)
{
    sr_msg_shape_t local;
    sr_buf_t b;
    sr_status_t status;
    sr_msg_shape_t *s = shape != NULL ? shape : &local;

    memset(s, 0, sizeof(*s));
    sr_buf_init(&b, m, len);
    status = sr_buf_skip(&b, 4); /* ID, flags */
    for (int i = 0; status == SR_OK && i < 4; i++)
        status = sr_buf_u16(&b, &s->counts[i]);
    for (unsigned i = 0; status == SR_OK && i < s->counts[0]; i++) {
        status = sr_name_skip(&b);
        if (status == SR_OK)
            status = sr_buf_skip(&b, 4); /* type, class */
    }
    for (unsigned sect = 1; !question_only && status == SR_OK && sect < 4; sect++)
        for (unsigned i = 0; status == SR_OK && i < s->counts[sect]; i++)
            status = check_rr(&b, sect == 3, shape);
    s->end = b.off;
    return status;
}
