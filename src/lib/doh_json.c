/* The DoH JSON API ("application/dns-json", served at /resolve by Google
 * and Cloudflare) -> a wire-format DNS response.
 *
 * The JSON form has no ID and no compression and gives RDATA in master-file
 * presentation; the response we build here is what a server speaking
 * RFC 8484 wire format would have sent, so the generic transport code can
 * check and hand it on like any other answer. Parsed with jansson; every
 * value read is type- and range-checked, and the output never exceeds the
 * 65535 bytes a DNS message can have. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "codec-internal.h"
#include "doh-internal.h"

/* Write a detail message (detail may be NULL). */
static void set_detail(char *detail, size_t dcap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_detail(char *detail, size_t dcap, const char *fmt, ...)
{
    va_list ap;

    if (detail == NULL || dcap == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(detail, dcap, fmt, ap);
    va_end(ap);
}

/* Read the optional boolean flag key of obj into *v (false when absent).
 * Booleans and the integers 0/1 are accepted: the APIs write booleans,
 * hand-written servers sometimes numbers. */
static sr_status_t get_flag(const json_t *obj, const char *key, bool *v, char *detail, size_t dcap)
{
    const json_t *j = json_object_get(obj, key);

    *v = false;
    if (j == NULL || json_is_null(j))
        return SR_OK;
    if (json_is_boolean(j)) {
        *v = json_is_true(j);
        return SR_OK;
    }
    if (json_is_integer(j) && (json_integer_value(j) == 0 || json_integer_value(j) == 1)) {
        *v = json_integer_value(j) == 1;
        return SR_OK;
    }
    set_detail(detail, dcap, "JSON: %s is not a boolean", key);
    return SR_E_FORMERR;
}

/* A record type given as a number or a mnemonic; -1 when it is neither
 * or out of range. */
static int get_type(const json_t *j)
{
    if (json_is_integer(j)) {
        json_int_t v = json_integer_value(j);
        return v >= 1 && v <= 65535 ? (int)v : -1;
    }
    if (json_is_string(j)) {
        int t = sr_type_from_name(json_string_value(j));
        return t >= 1 && t <= 65535 ? t : -1;
    }
    return -1;
}

/* When the answer carries a Question, it must be the one we asked: a
 * server answering another question is as wrong as a mismatched wire
 * reply (RFC 5452 9.1). Absent, null or empty, it is not checked. */
static sr_status_t check_question(const json_t *root, const sr_doh_question_t *q, char *detail,
                                  size_t dcap)
{
    const json_t *qa = json_object_get(root, "Question");
    const json_t *q0, *jn, *jt;
    uint8_t wire[SR_NAME_MAX_WIRE];
    size_t wlen;

    if (qa == NULL || json_is_null(qa))
        return SR_OK;
    if (json_is_object(qa)) {
        q0 = qa; /* a lone object instead of a one-element array */
    } else if (json_is_array(qa)) {
        if (json_array_size(qa) == 0)
            return SR_OK;
        q0 = json_array_get(qa, 0);
    } else {
        set_detail(detail, dcap, "JSON: Question is not an array");
        return SR_E_FORMERR;
    }
    if (!json_is_object(q0)) {
        set_detail(detail, dcap, "JSON: Question[0] is not an object");
        return SR_E_FORMERR;
    }
    jn = json_object_get(q0, "name");
    if (jn != NULL) {
        if (!json_is_string(jn) ||
            sr_name_from_text(json_string_value(jn), wire, sizeof(wire), &wlen) != SR_OK) {
            set_detail(detail, dcap, "JSON: Question[0].name is not a name");
            return SR_E_FORMERR;
        }
        if (!sr_name_equal(wire, wlen, q->qname, q->qname_len)) {
            set_detail(detail, dcap, "JSON: Question name %.80s is not the query's",
                       json_string_value(jn));
            return SR_E_FORMERR;
        }
    }
    jt = json_object_get(q0, "type");
    if (jt != NULL && get_type(jt) != (int)q->qtype) {
        set_detail(detail, dcap, "JSON: Question type is not the query's");
        return SR_E_FORMERR;
    }
    return SR_OK;
}

/* TXT (and SPF, RFC 7208 3.1, the same format) data without a leading
 * quote is Google's form: the strings concatenated with nothing between
 * them, unescaped. Split it back into character-strings of at most 255
 * bytes (RFC 1035 3.3.14). */
static sr_status_t txt_literal(const char *s, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = strlen(s);
    size_t o = 0;

    do {
        size_t chunk = n > 255 ? 255 : n;
        if (cap - o < chunk + 1)
            return SR_E_MSGSIZE;
        out[o++] = (uint8_t)chunk;
        memcpy(out + o, s, chunk);
        o += chunk;
        s += chunk;
        n -= chunk;
    } while (n > 0);
    *len = o;
    return SR_OK;
}

/* The RDATA of a record of type from its "data" text into rd (cap bytes). */
static sr_status_t data_to_rdata(uint16_t type, const char *data, uint8_t *rd, size_t cap,
                                 size_t *rdlen)
{
    sr_status_t status;
    bool txt = type == SR_TYPE_TXT || type == 99 /* SPF */;

    if (txt && data[0] != '"' && strncmp(data, "\\#", 2) != 0)
        return txt_literal(data, rd, cap, rdlen);
    status = sr_rdata_from_text(type, data, rd, cap, rdlen);
    /* A TXT string that itself starts with a quote, written literally. */
    if (status == SR_E_FORMERR && txt && data[0] == '"')
        status = txt_literal(data, rd, cap, rdlen);
    if (status == SR_E_NOBUFS)
        status = SR_E_MSGSIZE;
    return status;
}

/* Append the record rr (element i of section sec) to b. *added is false
 * for entries that have no place in a message (OPT pseudo-records). rd is
 * a scratch buffer of SR_DOH_WIRE_MAX bytes. */
static sr_status_t put_record(sr_dbuf_t *b, const json_t *rr, const char *sec, size_t i,
                              const sr_doh_question_t *q, uint8_t *rd, bool *added, char *detail,
                              size_t dcap)
{
    sr_status_t status = SR_OK;
    const json_t *jn, *jt, *jttl, *jd;
    uint8_t owner[SR_NAME_MAX_WIRE];
    size_t olen = 0, rdlen = 0;
    json_int_t ttl = 0;
    int type;

    *added = false;
    if (!json_is_object(rr)) {
        set_detail(detail, dcap, "JSON: %s[%zu] is not an object", sec, i);
        return SR_E_FORMERR;
    }
    jn = json_object_get(rr, "name");
    if (!json_is_string(jn) ||
        sr_name_from_text(json_string_value(jn), owner, sizeof(owner), &olen) != SR_OK) {
        set_detail(detail, dcap, "JSON: %s[%zu].name is %s", sec, i,
                   jn == NULL ? "missing" : "not a domain name");
        return SR_E_FORMERR;
    }
    jt = json_object_get(rr, "type");
    type = jt != NULL ? get_type(jt) : -1;
    if (type < 0) {
        set_detail(detail, dcap, "JSON: %s[%zu].type is %s", sec, i,
                   jt == NULL ? "missing" : "not a record type");
        return SR_E_FORMERR;
    }
    /* OPT describes the transport of one message (RFC 6891 6.1.1); a JSON
     * rendering of somebody else's has no meaning here. */
    if (type == SR_TYPE_OPT)
        return SR_OK;
    jttl = json_object_get(rr, "TTL");
    if (jttl != NULL && !json_is_null(jttl)) {
        if (!json_is_integer(jttl) || json_integer_value(jttl) < 0 ||
            json_integer_value(jttl) > (json_int_t)UINT32_MAX) {
            set_detail(detail, dcap, "JSON: %s[%zu].TTL is not a TTL", sec, i);
            return SR_E_FORMERR;
        }
        ttl = json_integer_value(jttl);
    }
    jd = json_object_get(rr, "data");
    if (!json_is_string(jd)) {
        set_detail(detail, dcap, "JSON: %s[%zu].data is %s", sec, i,
                   jd == NULL ? "missing" : "not a string");
        return SR_E_FORMERR;
    }
    status = data_to_rdata((uint16_t)type, json_string_value(jd), rd, SR_DOH_WIRE_MAX, &rdlen);
    if (status != SR_OK) {
        char tb[16];
        if (status == SR_E_MSGSIZE)
            set_detail(detail, dcap, "JSON: %s[%zu].data is too long", sec, i);
        else
            set_detail(detail, dcap, "JSON: %s[%zu].data \"%.60s\" is not %s", sec, i,
                       json_string_value(jd), sr_type_name((uint16_t)type, tb));
        return status;
    }
    /* Owners equal to the question's name (the common case) point to it
     * at offset 12 (RFC 1035 4.1.4); exact bytes only, so the case the
     * server wrote survives. */
    if (olen == q->qname_len && memcmp(owner, q->qname, olen) == 0)
        status = sr_dbuf_u16(b, 0xC000 | SR_HEADER_LEN);
    else
        status = sr_dbuf_put(b, owner, olen);
    if (status == SR_OK)
        status = sr_dbuf_u16(b, (uint16_t)type);
    if (status == SR_OK)
        status = sr_dbuf_u16(b, q->qclass);
    if (status == SR_OK)
        status = sr_dbuf_u32(b, (uint32_t)ttl);
    if (status == SR_OK)
        status = sr_dbuf_u16(b, (uint16_t)rdlen);
    if (status == SR_OK)
        status = sr_dbuf_put(b, rd, rdlen);
    if (status == SR_E_MSGSIZE)
        set_detail(detail, dcap,
                   "JSON: the answer exceeds %d bytes as a DNS "
                   "message",
                   SR_DOH_WIRE_MAX);
    if (status == SR_OK)
        *added = true;
    return status;
}

/* The header (ID, flags, one question, other counts 0 until the end) and
 * the question asked, into an empty b. */
static sr_status_t put_head(sr_dbuf_t *b, const sr_doh_question_t *q, uint16_t flags)
{
    sr_status_t status = sr_dbuf_reserve(b, SR_HEADER_LEN + q->qname_len + 4);
    if (status != SR_OK)
        return status;
    memset(b->p, 0, SR_HEADER_LEN);
    sr_put16(b->p, q->id);
    sr_put16(b->p + 2, flags);
    sr_put16(b->p + 4, 1);
    b->len = SR_HEADER_LEN;
    status = sr_dbuf_put(b, q->qname, q->qname_len);
    if (status == SR_OK)
        status = sr_dbuf_u16(b, q->qtype);
    if (status == SR_OK)
        status = sr_dbuf_u16(b, q->qclass);
    return status;
}

sr_status_t sr_doh_json_notimp(const sr_doh_question_t *q, uint8_t **out, size_t *outlen)
{
    sr_status_t status = SR_OK;
    sr_dbuf_t b = {NULL, 0, 0, SR_DOH_WIRE_MAX}; /* capped at the largest DNS message */

    *out = NULL;
    *outlen = 0;
    if (q->qname_len == 0 || q->qname_len > SR_NAME_MAX_WIRE) {
        status = SR_E_FORMERR;
        goto done;
    }
    status = put_head(&b, q, SR_FLAG_QR | SR_DOH_RCODE_NOTIMP);
    if (status != SR_OK)
        goto done;
    *out = sr_dbuf_take(&b, outlen);

done:
    sr_free(b.p);
    return status;
}

/* Status and the flags of the JSON answer as the header's flags word
 * (RCODE: its lower 4 bits; *rcode: all 12), once its question is
 * checked against the one asked. */
static sr_status_t read_head(const json_t *root, const sr_doh_question_t *q, uint16_t *flags,
                             unsigned *rcode, char *detail, size_t dcap)
{
    const json_t *js = json_object_get(root, "Status");
    bool tc, rdf, ra, ad, cd;
    sr_status_t status;

    if (js == NULL) {
        set_detail(detail, dcap, "JSON: no Status");
        return SR_E_FORMERR;
    }
    /* 12 bits: 4 in the header, 8 in OPT (RFC 6891 6.1.3). */
    if (!json_is_integer(js) || json_integer_value(js) < 0 || json_integer_value(js) > 4095) {
        set_detail(detail, dcap, "JSON: Status is not an RCODE");
        return SR_E_FORMERR;
    }
    *rcode = (unsigned)json_integer_value(js);
    if ((status = get_flag(root, "TC", &tc, detail, dcap)) != SR_OK ||
        (status = get_flag(root, "RD", &rdf, detail, dcap)) != SR_OK ||
        (status = get_flag(root, "RA", &ra, detail, dcap)) != SR_OK ||
        (status = get_flag(root, "AD", &ad, detail, dcap)) != SR_OK ||
        (status = get_flag(root, "CD", &cd, detail, dcap)) != SR_OK)
        return status;
    status = check_question(root, q, detail, dcap);
    if (status != SR_OK)
        return status;
    if (q->qname_len == 0 || q->qname_len > SR_NAME_MAX_WIRE) {
        set_detail(detail, dcap, "query has no valid question");
        return SR_E_FORMERR;
    }
    *flags = SR_FLAG_QR | (*rcode & 0xF);
    *flags |= tc ? SR_FLAG_TC : 0;
    *flags |= rdf ? SR_FLAG_RD : 0;
    *flags |= ra ? SR_FLAG_RA : 0;
    *flags |= ad ? SR_FLAG_AD : 0;
    *flags |= cd ? SR_FLAG_CD : 0;
    return SR_OK;
}

/* The records of the Answer, Authority and Additional arrays, counted per
 * section in counts. */
static sr_status_t put_sections(sr_dbuf_t *b, const json_t *root, const sr_doh_question_t *q,
                                uint16_t counts[3], char *detail, size_t dcap)
{
    static const char *const sections[3] = {"Answer", "Authority", "Additional"};
    sr_status_t status = SR_OK;
    uint8_t *rd = sr_malloc(SR_DOH_WIRE_MAX);

    if (rd == NULL)
        return SR_E_NOMEM;
    for (size_t s = 0; status == SR_OK && s < 3; s++) {
        const json_t *arr = json_object_get(root, sections[s]);

        if (arr == NULL || json_is_null(arr))
            continue;
        if (!json_is_array(arr)) {
            set_detail(detail, dcap, "JSON: %s is not an array", sections[s]);
            status = SR_E_FORMERR;
            break;
        }
        size_t n = json_array_size(arr);
        for (size_t i = 0; status == SR_OK && i < n; i++) {
            bool added;
            status =
                put_record(b, json_array_get(arr, i), sections[s], i, q, rd, &added, detail, dcap);
            /* Each record takes at least 11 bytes, so a count can never
             * pass 65535 within the size cap; keep the check anyway. */
            if (status == SR_OK && added && ++counts[s] == 0)
                status = SR_E_MSGSIZE;
        }
    }
    sr_free(rd);
    return status;
}

/* An extended RCODE needs an OPT record to carry its upper 8 bits
 * (RFC 6891 6.1.3): root owner, our UDP size, version 0, no options. */
static sr_status_t put_rcode_opt(sr_dbuf_t *b, unsigned rcode)
{
    sr_status_t status = sr_dbuf_reserve(b, 11);
    if (status == SR_OK)
        status = sr_dbuf_u8(b, 0);
    if (status == SR_OK)
        status = sr_dbuf_u16(b, SR_TYPE_OPT);
    if (status == SR_OK)
        status = sr_dbuf_u16(b, 1232);
    if (status == SR_OK)
        status = sr_dbuf_u32(b, (uint32_t)(rcode >> 4) << 24);
    if (status == SR_OK)
        status = sr_dbuf_u16(b, 0);
    return status;
}

sr_status_t sr_doh_json_to_wire(const char *json, size_t len, const sr_doh_question_t *q,
                                uint8_t **out, size_t *outlen, char *detail, size_t dcap)
{
    sr_status_t status = SR_OK;
    json_t *root = NULL;
    json_error_t jerr;
    sr_dbuf_t b = {NULL, 0, 0, SR_DOH_WIRE_MAX}; /* capped at the largest DNS message */
    sr_msg_t *check = NULL;
    uint16_t counts[3] = {0, 0, 0};
    unsigned rcode = 0;
    uint16_t flags = 0;

    *out = NULL;
    *outlen = 0;
    set_detail(detail, dcap, "%s", "");
    /* The JSON API has no class parameter and its data is IN data: for
     * any other class the only true answer is that we cannot ask. */
    if (q->qclass != SR_CLASS_IN)
        return sr_doh_json_notimp(q, out, outlen);
    if (len > SR_DOH_JSON_MAX) {
        set_detail(detail, dcap, "JSON: body of %zu bytes is too large", len);
        status = SR_E_MSGSIZE;
        goto done;
    }
    /* Duplicate keys are refused: two parsers reading "the" Status or
     * Answer of one body differently is how smuggling starts. */
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        set_detail(detail, dcap, "JSON: not JSON: %.80s (line %d)", jerr.text, jerr.line);
        status = SR_E_FORMERR;
        goto done;
    }
    if (!json_is_object(root)) {
        set_detail(detail, dcap, "JSON: not a JSON object");
        status = SR_E_FORMERR;
        goto done;
    }
    status = read_head(root, q, &flags, &rcode, detail, dcap);
    if (status != SR_OK)
        goto done;
    /* Header with the counts filled in at the end, then the question. */
    status = put_head(&b, q, flags);
    if (status != SR_OK)
        goto done;
    status = put_sections(&b, root, q, counts, detail, dcap);
    if (status == SR_OK && rcode > 15) {
        status = put_rcode_opt(&b, rcode);
        counts[2]++;
    }
    if (status != SR_OK)
        goto done;
    sr_put16(b.p + 6, counts[0]);
    sr_put16(b.p + 8, counts[1]);
    sr_put16(b.p + 10, counts[2]);
    /* RFC 3597 text ("\\# LEN HEX") is accepted for every type, and may
     * hold RDATA its type cannot have (a 4-byte WKS): what we hand on must
     * be a message the codec parses, or the failure would surface later
     * and far from its cause. */
    check = sr_msg_new();
    if (check == NULL) {
        status = SR_E_NOMEM;
        goto done;
    }
    status = sr_msg_parse(check, b.p, b.len, SR_PARSE_NO_FIELDS);
    if (status != SR_OK) {
        if (status != SR_E_NOMEM) {
            set_detail(detail, dcap, "JSON: %.120s", sr_msg_error(check));
            status = SR_E_FORMERR;
        }
        goto done;
    }
    *out = sr_dbuf_take(&b, outlen);

done:
    if (status == SR_E_MSGSIZE && detail != NULL && detail[0] == '\0')
        set_detail(detail, dcap,
                   "JSON: the answer exceeds %d bytes as a DNS "
                   "message",
                   SR_DOH_WIRE_MAX);
    if (status == SR_E_NOMEM && detail != NULL && detail[0] == '\0')
        set_detail(detail, dcap, "out of memory");
    sr_msg_free(check);
    sr_free(b.p);
    json_decref(root);
    return status;
}

/* ---- the other way: a response -> the JSON API answer (stubresd's DoH
 * server) ---- */

/* An absolute name for JSON: the presentation form with its trailing dot,
 * as the public APIs write names ("." for the root). */
static json_t *json_name(const char *name)
{
    char buf[SR_NAME_MAX_TEXT + 1];

    if (strcmp(name, ".") == 0)
        return json_string(".");
    snprintf(buf, sizeof(buf), "%s.", name);
    return json_string(buf);
}

/* The record's "data": its master-file text, or RFC 3597's generic form
 * when there is none (no fields) or it is not valid UTF-8 (a TXT string
 * of raw bytes), which a JSON string cannot hold. */
static json_t *json_data(const sr_rr_t *rr)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t cap = 5 * (size_t)rr->rdlength + 16, o;
    char *text;
    json_t *j = NULL;

    for (size_t i = 0; i < rr->field_count; i++)
        cap += strlen(rr->fields[i].value);
    text = sr_malloc(cap);
    if (text == NULL)
        return NULL;
    if (sr_rr_text(rr, text, cap) == SR_OK)
        j = json_string(text);
    if (j == NULL && cap >= 2 * (size_t)rr->rdlength + 16) {
        o = (size_t)snprintf(text, cap, "\\# %u%s", (unsigned)rr->rdlength,
                             rr->rdlength > 0 ? " " : "");
        for (size_t i = 0; i < rr->rdlength; i++) {
            text[o++] = hex[rr->rdata[i] >> 4];
            text[o++] = hex[rr->rdata[i] & 0xf];
        }
        text[o] = '\0';
        j = json_string(text);
    }
    sr_free(text);
    return j;
}

/* Append a JSON value to obj under key, or to array (key NULL); false when
 * v is NULL (out of memory) or it cannot be added. */
static bool json_put(json_t *to, const char *key, json_t *v)
{
    if (v == NULL)
        return false;
    return (key != NULL ? json_object_set_new(to, key, v) : json_array_append_new(to, v)) == 0;
}

sr_status_t sr_doh_wire_to_json(const sr_msg_t *m, char **out, size_t *outlen)
{
    static const char *const sec_key[3] = {"Answer", "Authority", "Additional"};
    sr_status_t status = SR_E_NOMEM;
    uint16_t flags = sr_msg_flags(m);
    json_t *root = json_object(), *qa, *q0, *secs[3] = {NULL, NULL, NULL};
    char *text = NULL;
    bool ok = root != NULL;

    *out = NULL;
    *outlen = 0;
    ok = ok && json_put(root, "Status", json_integer(sr_msg_rcode(m)));
    ok = ok && json_put(root, "TC", json_boolean(flags & SR_FLAG_TC));
    ok = ok && json_put(root, "RD", json_boolean(flags & SR_FLAG_RD));
    ok = ok && json_put(root, "RA", json_boolean(flags & SR_FLAG_RA));
    ok = ok && json_put(root, "AD", json_boolean(flags & SR_FLAG_AD));
    ok = ok && json_put(root, "CD", json_boolean(flags & SR_FLAG_CD));
    if (ok && sr_msg_qdcount(m) > 0 && sr_msg_qname(m) != NULL) {
        qa = json_array();
        q0 = json_object();
        ok = json_put(root, "Question", qa) && json_put(qa, NULL, q0) &&
             json_put(q0, "name", json_name(sr_msg_qname(m))) &&
             json_put(q0, "type", json_integer(sr_msg_qtype(m)));
    }
    for (size_t i = 0; ok && i < sr_msg_rr_count(m); i++) {
        const sr_rr_t *rr = sr_msg_rr(m, i);
        json_t *r;
        if (secs[rr->section] == NULL) {
            secs[rr->section] = json_array();
            ok = json_put(root, sec_key[rr->section], secs[rr->section]);
        }
        r = json_object();
        ok = ok && json_put(secs[rr->section], NULL, r) &&
             json_put(r, "name", json_name(rr->name)) &&
             json_put(r, "type", json_integer(rr->type)) &&
             json_put(r, "TTL", json_integer(rr->ttl)) && json_put(r, "data", json_data(rr));
    }
    if (ok) {
        text = json_dumps(root, JSON_COMPACT);
        if (text != NULL) {
            size_t n = strlen(text);
            *out = sr_malloc(n + 1);
            if (*out != NULL) {
                memcpy(*out, text, n + 1);
                *outlen = n;
                status = SR_OK;
            }
        }
    }
    free(text);
    json_decref(root);
    return status;
}
