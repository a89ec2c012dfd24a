/* Unit tests: RDATA decoders (src/lib/rdata.c), against the vectors made
 * by dnspython and nsd (tests/unit/data), and against RDATA whose length
 * disagrees with its content. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stubres/wire.h>

#include "testutil.h"
#include "check-main.h"

/* The 25 types of the class reference. */
static const uint16_t ref_types[] = {
    SR_TYPE_A,   SR_TYPE_NS,   SR_TYPE_MD,    SR_TYPE_MF,    SR_TYPE_CNAME,
    SR_TYPE_SOA, SR_TYPE_MB,   SR_TYPE_MG,    SR_TYPE_MR,    SR_TYPE_NULL,
    SR_TYPE_WKS, SR_TYPE_PTR,  SR_TYPE_HINFO, SR_TYPE_MINFO, SR_TYPE_MX,
    SR_TYPE_TXT, SR_TYPE_RP,   SR_TYPE_AFSDB, SR_TYPE_X25,   SR_TYPE_ISDN,
    SR_TYPE_RT,  SR_TYPE_AAAA, SR_TYPE_SRV,   SR_TYPE_NAPTR, SR_TYPE_CERT,
};
#define N_REF_TYPES (sizeof(ref_types) / sizeof(ref_types[0]))

/* The types decoded after the reference (stubres-query(1) OUTPUT). */
static const uint16_t modern_types[] = {
    SR_TYPE_LOC,   SR_TYPE_DNAME,   SR_TYPE_DS,         SR_TYPE_SSHFP,      SR_TYPE_RRSIG,
    SR_TYPE_NSEC,  SR_TYPE_DNSKEY,  SR_TYPE_NSEC3,      SR_TYPE_NSEC3PARAM, SR_TYPE_TLSA,
    SR_TYPE_CDS,   SR_TYPE_CDNSKEY, SR_TYPE_OPENPGPKEY, SR_TYPE_ZONEMD,     SR_TYPE_SVCB,
    SR_TYPE_HTTPS, SR_TYPE_URI,     SR_TYPE_CAA,
};
#define N_MODERN_TYPES (sizeof(modern_types) / sizeof(modern_types[0]))

static const char *section_name(int s)
{
    static const char *const n[] = {"answer", "authority", "additional"};
    return n[s];
}

/* Everything the sidecar says about the message and its records. */
static void check_against_vector(const tu_vec_t *v, unsigned flags)
{
    sr_msg_t *msg = sr_msg_new();
    char tbuf[16];
    size_t wlen;

    ck_assert_ptr_nonnull(msg);
    sr_status_t st = sr_msg_parse(msg, v->msg, v->len, flags);
    ck_assert_msg(st == SR_OK, "%s: status %d (%s)", v->name, st, sr_msg_error(msg));
    ck_assert_str_eq(sr_msg_error(msg), "");
    ck_assert_uint_eq(sr_msg_id(msg), v->id);
    ck_assert_uint_eq(sr_msg_flags(msg), v->flags);
    ck_assert_uint_eq(sr_msg_rcode(msg), v->rcode);
    ck_assert_uint_eq(sr_msg_opcode(msg), (v->flags >> 11) & 0xF);
    ck_assert_uint_eq(sr_msg_qdcount(msg), v->qdcount);
    if (v->qdcount > 0) {
        ck_assert_str_eq(sr_msg_qname(msg), v->qname);
        ck_assert_uint_eq(sr_msg_qtype(msg), v->qtype);
        ck_assert_uint_eq(sr_msg_qclass(msg), v->qclass);
    }
    const uint8_t *w = sr_msg_wire(msg, &wlen);
    ck_assert_uint_eq(wlen, v->len);
    ck_assert_mem_eq(w, v->msg, v->len);

    const sr_edns_t *e = sr_msg_edns(msg);
    ck_assert_int_eq(e->present, v->edns);
    if (v->edns) {
        ck_assert_uint_eq(e->udp_size, v->udp_size);
        ck_assert_uint_eq(e->ext_rcode, v->ext_rcode);
        ck_assert_uint_eq(e->version, v->version);
        ck_assert_uint_eq(e->flags, v->eflags);
        ck_assert_int_eq(e->do_bit, (v->eflags & 0x8000) != 0);
        ck_assert_uint_eq(e->opt_count, v->nopts);
        for (size_t i = 0; i < v->nopts; i++) {
            ck_assert_uint_eq(e->opts[i].code, v->opt_code[i]);
            ck_assert_uint_eq(e->opts[i].len, v->opt_len[i]);
            if (v->opt_len[i] > 0)
                ck_assert_mem_eq(e->opts[i].data, v->opt_data[i], v->opt_len[i]);
        }
        ck_assert_uint_lt(e->offset, e->end);
        ck_assert_uint_le(e->end, v->len);
    }

    ck_assert_uint_eq(sr_msg_rr_count(msg), v->nrr);
    for (int s = 0; s < 3; s++)
        ck_assert_uint_eq(sr_msg_section_count(msg, (sr_section_t)s), v->count[s]);
    ck_assert_ptr_null(sr_msg_rr(msg, v->nrr));

    size_t prev_end = sr_msg_question_end(msg);
    for (size_t i = 0; i < v->nrr; i++) {
        const tu_rr_t *x = &v->rrs[i];
        const sr_rr_t *rr = sr_msg_rr(msg, i);
        char where[128];
        snprintf(where, sizeof(where), "%s record %zu (%s %s)", v->name, i,
                 section_name(x->section), x->type_name);
        ck_assert_ptr_nonnull(rr);
        ck_assert_msg((int)rr->section == x->section, "%s: section", where);
        ck_assert_msg(strcmp(rr->name, x->owner) == 0, "%s: owner %s != %s", where, rr->name,
                      x->owner);
        ck_assert_msg(rr->type == x->type, "%s: type", where);
        ck_assert_str_eq(sr_type_name(rr->type, tbuf), x->type_name);
        ck_assert_msg(rr->rclass == x->rclass, "%s: class", where);
        ck_assert_msg(rr->ttl == x->ttl, "%s: ttl %u", where, rr->ttl);
        ck_assert_msg(rr->rdlength == x->rdlen, "%s: rdlength", where);
        if (x->rdlen > 0)
            ck_assert_msg(memcmp(rr->rdata, x->rdata, x->rdlen) == 0, "%s: rdata bytes", where);
        /* The offsets describe the record as it stands in the message. */
        ck_assert_uint_ge(rr->offset, prev_end);
        ck_assert_uint_eq(rr->end, (size_t)(rr->rdata - w) + rr->rdlength);
        const uint8_t *t = w + rr->ttl_offset;
        ck_assert_uint_eq(((uint32_t)t[0] << 24) | ((uint32_t)t[1] << 16) | ((uint32_t)t[2] << 8) |
                              t[3],
                          rr->ttl);
        prev_end = rr->end;

        if (flags & SR_PARSE_NO_FIELDS) {
            ck_assert_uint_eq(rr->field_count, 0);
            continue;
        }
        ck_assert_msg(rr->field_count == x->nfields, "%s: %zu fields, want %zu", where,
                      rr->field_count, x->nfields);
        for (size_t k = 0; k < x->nfields; k++) {
            ck_assert_msg(strcmp(rr->fields[k].name, x->fields[k].name) == 0,
                          "%s: field %zu is %s, want %s", where, k, rr->fields[k].name,
                          x->fields[k].name);
            ck_assert_msg(strcmp(rr->fields[k].value, x->fields[k].value) == 0,
                          "%s: %s is \"%s\", want \"%s\"", where, x->fields[k].name,
                          rr->fields[k].value, x->fields[k].value);
        }
    }
    sr_msg_free(msg);
}

START_TEST(test_vectors_fields)
{
    size_t n;
    tu_vec_t *v = tu_load_vecs(&n);
    for (size_t i = 0; i < n; i++)
        check_against_vector(&v[i], 0);
    tu_free_vecs(v, n);
}
END_TEST

START_TEST(test_vectors_no_fields)
{
    size_t n;
    tu_vec_t *v = tu_load_vecs(&n);
    for (size_t i = 0; i < n; i++)
        check_against_vector(&v[i], SR_PARSE_NO_FIELDS);
    tu_free_vecs(v, n);
}
END_TEST

/* The vectors must exercise every type of the reference, with and without
 * name compression inside RDATA, else the test above proves less. */
START_TEST(test_vectors_cover_every_type)
{
    size_t n;
    bool seen[65536] = {false};
    tu_vec_t *v = tu_load_vecs(&n);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < v[i].nrr; j++)
            seen[v[i].rrs[j].type] = true;
    }
    for (size_t t = 0; t < N_REF_TYPES; t++)
        ck_assert_msg(seen[ref_types[t]], "no vector has type %u", ref_types[t]);
    for (size_t t = 0; t < N_MODERN_TYPES; t++)
        ck_assert_msg(seen[modern_types[t]], "no vector has type %u", modern_types[t]);
    ck_assert(seen[65280]);
    tu_free_vecs(v, n);
}
END_TEST

/* sr_rr_field() finds fields case-insensitively; the field names and their
 * order are sr_type_fields()'s. */
START_TEST(test_field_lookup_and_names)
{
    size_t n;
    tu_vec_t *v = tu_load_vecs(&n);
    sr_msg_t *msg = tu_msg_new();
    for (size_t i = 0; i < n; i++) {
        tu_parse_vec(msg, &v[i]);
        for (size_t j = 0; j < sr_msg_rr_count(msg); j++) {
            const sr_rr_t *rr = sr_msg_rr(msg, j);
            const char *const *names = sr_type_fields(rr->type);
            for (size_t k = 0; k < rr->field_count; k++) {
                char lower[32];
                size_t l = strlen(rr->fields[k].name);
                ck_assert_uint_lt(l, sizeof(lower));
                for (size_t c = 0; c <= l; c++)
                    lower[c] = (char)(rr->fields[k].name[c] | (c < l ? 0x20 : 0));
                ck_assert_ptr_eq(sr_rr_field(rr, lower), rr->fields[k].value);
                /* Generic RDATA is one "RDATA" field (types without a
                 * decoder, class-specific types outside class IN). */
                if (strcmp(rr->fields[0].name, "RDATA") == 0)
                    ck_assert_uint_eq(rr->field_count, 1);
                else
                    ck_assert_str_eq(rr->fields[k].name, names[k]);
            }
            ck_assert_ptr_null(sr_rr_field(rr, "NO-SUCH-FIELD"));
        }
    }
    sr_msg_free(msg);
    tu_free_vecs(v, n);
}
END_TEST

START_TEST(test_type_fields_table)
{
    static const struct {
        uint16_t type;
        const char *names;
    } want[] = {
        {SR_TYPE_A, "ADDRESS"},
        {SR_TYPE_NS, "DNAME"},
        {SR_TYPE_MD, "MADNAME"},
        {SR_TYPE_MF, "MADNAME"},
        {SR_TYPE_CNAME, "CNAME"},
        {SR_TYPE_SOA, "MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM"},
        {SR_TYPE_MB, "MADNAME"},
        {SR_TYPE_MG, "MGMNAME"},
        {SR_TYPE_MR, "NEWNAME"},
        {SR_TYPE_NULL, "NULL"},
        {SR_TYPE_WKS, "ADDRESS PROTOCOL SERVICEMAP"},
        {SR_TYPE_PTR, "PTRDNAME"},
        {SR_TYPE_HINFO, "CPU OS"},
        {SR_TYPE_MINFO, "RMAILBX EMAILBX"},
        {SR_TYPE_MX, "PREFERENCE EXCHANGE"},
        {SR_TYPE_TXT, "TXT"},
        {SR_TYPE_RP, "MBOXDNAME TXTDNAME"},
        {SR_TYPE_AFSDB, "SUBTYPE HOSTNAME"},
        {SR_TYPE_X25, "PSDNADDRESS"},
        {SR_TYPE_ISDN, "ISDNADDRESS SA"},
        {SR_TYPE_RT, "PREFERENCE INTERMEDIATE"},
        {SR_TYPE_AAAA, "ADDRESS"},
        {SR_TYPE_SRV, "PRIORITY WEIGHT PORT TARGET"},
        {SR_TYPE_NAPTR, "ORDER PRIORITY FLAGS SERVICES REGEXP REPLACEMENT"},
        {SR_TYPE_CERT, "TYPE KEYTAG ALGORITHM CERTIFICATE"},
        {SR_TYPE_LOC, "LATITUDE LONGITUDE ALTITUDE SIZE HORIZPRE VERTPRE"},
        {SR_TYPE_DNAME, "TARGET"},
        {SR_TYPE_DS, "KEYTAG ALGORITHM DIGESTTYPE DIGEST"},
        {SR_TYPE_CDS, "KEYTAG ALGORITHM DIGESTTYPE DIGEST"},
        {SR_TYPE_SSHFP, "ALGORITHM FPTYPE FINGERPRINT"},
        {SR_TYPE_RRSIG,
         "TYPECOVERED ALGORITHM LABELS ORIGINALTTL EXPIRATION INCEPTION KEYTAG SIGNER SIGNATURE"},
        {SR_TYPE_NSEC, "NEXT TYPES"},
        {SR_TYPE_DNSKEY, "FLAGS PROTOCOL ALGORITHM PUBLICKEY"},
        {SR_TYPE_CDNSKEY, "FLAGS PROTOCOL ALGORITHM PUBLICKEY"},
        {SR_TYPE_NSEC3, "ALGORITHM FLAGS ITERATIONS SALT NEXT TYPES"},
        {SR_TYPE_NSEC3PARAM, "ALGORITHM FLAGS ITERATIONS SALT"},
        {SR_TYPE_TLSA, "USAGE SELECTOR MATCHINGTYPE DATA"},
        {SR_TYPE_OPENPGPKEY, "PUBLICKEY"},
        {SR_TYPE_ZONEMD, "SERIAL SCHEME HASHALGORITHM DIGEST"},
        {SR_TYPE_SVCB, "PRIORITY TARGET PARAMS"},
        {SR_TYPE_HTTPS, "PRIORITY TARGET PARAMS"},
        {SR_TYPE_URI, "PRIORITY WEIGHT TARGET"},
        {SR_TYPE_CAA, "FLAGS TAG VALUE"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const char *const *f = sr_type_fields(want[i].type);
        char joined[160] = "";
        ck_assert_ptr_nonnull(f);
        for (size_t k = 0; f[k] != NULL; k++) {
            if (k > 0)
                strcat(joined, " ");
            strcat(joined, f[k]);
        }
        ck_assert_str_eq(joined, want[i].names);
    }
    ck_assert_ptr_null(sr_type_fields(SR_TYPE_OPT));
    ck_assert_ptr_null(sr_type_fields(108)); /* EUI48: named, not decoded */
    ck_assert_ptr_null(sr_type_fields(65280));
}
END_TEST

/* Decode one record around rdata; returns the status, and the field texts
 * joined with '|' in out. */
static sr_status_t decode_one(uint16_t type, uint16_t rclass, const char *hex, char *out,
                              size_t cap)
{
    uint8_t rd[9000], m[9100];
    size_t rdlen = tu_unhex(hex, rd, sizeof(rd));
    size_t len = tu_one_rr(m, sizeof(m), type, rclass, rd, rdlen);
    sr_msg_t *msg = tu_msg_new();
    sr_status_t st = sr_msg_parse(msg, m, len, 0);
    /* The no-fields parse validates exactly as much. */
    sr_msg_t *msg2 = sr_msg_new();
    ck_assert_ptr_nonnull(msg2);
    ck_assert_int_eq(sr_msg_parse(msg2, m, len, SR_PARSE_NO_FIELDS), st);
    sr_msg_free(msg2);
    out[0] = '\0';
    if (st == SR_OK) {
        const sr_rr_t *rr = sr_msg_rr(msg, 0);
        for (size_t k = 0; k < rr->field_count; k++) {
            if (k > 0)
                strncat(out, "|", cap - strlen(out) - 1);
            strncat(out, rr->fields[k].value, cap - strlen(out) - 1);
        }
    } else {
        ck_assert_str_ne(sr_msg_error(msg), "");
        ck_assert_uint_eq(sr_msg_rr_count(msg), 0);
    }
    sr_msg_free(msg);
    return st;
}

/* Zero-length RDATA: an error for every type that needs content. */
START_TEST(test_zero_length_rdata)
{
    char out[256];
    for (size_t i = 0; i < N_REF_TYPES; i++) {
        sr_status_t st = decode_one(ref_types[i], SR_CLASS_IN, "", out, sizeof(out));
        if (ref_types[i] == SR_TYPE_NULL) {
            ck_assert_int_eq(st, SR_OK); /* RFC 1035 3.3.10: anything */
            ck_assert_str_eq(out, "");
        } else {
            ck_assert_msg(st == SR_E_FORMERR, "type %u: status %d", ref_types[i], st);
        }
    }
    /* Unknown and undecoded types are shown as RFC 3597 text, empty too. */
    ck_assert_int_eq(decode_one(65280, SR_CLASS_IN, "", out, sizeof(out)), SR_OK);
    ck_assert_str_eq(out, "\\# 0");
    ck_assert_int_eq(decode_one(108, SR_CLASS_IN, "", out, sizeof(out)), SR_OK);
    ck_assert_str_eq(out, "\\# 0");
    /* Of the later types only OPENPGPKEY may be empty (a key of no
     * bytes: nothing in RFC 7929 2 forbids it). */
    for (size_t i = 0; i < N_MODERN_TYPES; i++) {
        sr_status_t st = decode_one(modern_types[i], SR_CLASS_IN, "", out, sizeof(out));
        if (modern_types[i] == SR_TYPE_OPENPGPKEY) {
            ck_assert_int_eq(st, SR_OK);
            ck_assert_str_eq(out, "");
        } else {
            ck_assert_msg(st == SR_E_FORMERR, "type %u: status %d", modern_types[i], st);
        }
    }
}
END_TEST

struct rd_case {
    uint16_t type;
    const char *hex;
    const char *why;
};

/* RDATA whose length disagrees with its content. */
START_TEST(test_length_mismatch)
{
    static const struct rd_case bad[] = {
        {SR_TYPE_A, "c00002", "A of 3 bytes"},
        {SR_TYPE_A, "c0000201 00", "A of 5 bytes"},
        {SR_TYPE_AAAA, "20010db8000000000000000000000001 00", "AAAA of 17"},
        {SR_TYPE_AAAA, "20010db80000000000000000000000", "AAAA of 15"},
        {SR_TYPE_NS, "026e73", "name without its root label"},
        {SR_TYPE_NS, "026e7300 00", "trailing byte after the name"},
        {SR_TYPE_CNAME, "05616263", "label runs past rdlength"},
        {SR_TYPE_MX, "000a", "MX without exchange"},
        {SR_TYPE_MX, "000a 046d61696c00 ff", "MX with a byte after the name"},
        {SR_TYPE_MX, "00", "MX with half a preference"},
        {SR_TYPE_SOA, "00 00 00000001 00000002 00000003 00000004", "SOA without MINIMUM"},
        {SR_TYPE_SOA, "00 00 00000001 00000002 00000003 00000004 00000005 00",
         "SOA with a trailing byte"},
        {SR_TYPE_HINFO, "037838360178 00", "HINFO of three strings"},
        {SR_TYPE_HINFO, "03783836", "HINFO of one string, no second"},
        {SR_TYPE_HINFO, "00 00 00", "HINFO of three strings"},
        {SR_TYPE_TXT, "05616263", "string runs past rdlength"},
        {SR_TYPE_TXT, "03616263 05", "second string runs past rdlength"},
        {SR_TYPE_X25, "0131 00", "X25 with a second string"},
        {SR_TYPE_ISDN, "0131 0132 0133", "ISDN with three strings"},
        {SR_TYPE_ISDN, "0131 05", "ISDN sub-address runs past"},
        {SR_TYPE_WKS, "c0000202", "WKS without protocol"},
        {SR_TYPE_MINFO, "00", "MINFO with one name"},
        {SR_TYPE_RP, "00 00 00", "RP with three names"},
        {SR_TYPE_AFSDB, "0001", "AFSDB without hostname"},
        {SR_TYPE_RT, "000a 01", "RT whose name runs past"},
        {SR_TYPE_SRV, "0000 0000 0000", "SRV without target"},
        {SR_TYPE_SRV, "0000 0000 00", "SRV cut in a number"},
        {SR_TYPE_NAPTR, "0064 000a 0153 00 00", "NAPTR without replacement"},
        {SR_TYPE_NAPTR, "0064 000a 0153 00 00 00 00", "NAPTR trailing byte"},
        {SR_TYPE_CERT, "0001 0002", "CERT without algorithm"},
        /* Names inside RDATA follow the pointer rules of sr_name_unpack:
         * this message has no name before the RDATA to point at. */
        {SR_TYPE_NS, "c017", "pointer to itself"},
        {SR_TYPE_NS, "c0ff", "forward pointer"},
        {SR_TYPE_PTR, "c000", "pointer into the header"},
        {SR_TYPE_MX, "000a 40", "reserved label type 01"},
        {SR_TYPE_MX, "000a 80", "reserved label type 10"},
    };
    char out[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sr_status_t st = decode_one(bad[i].type, SR_CLASS_IN, bad[i].hex, out, sizeof(out));
        ck_assert_msg(st == SR_E_FORMERR, "%s: status %d", bad[i].why, st);
    }
}
END_TEST

struct rd_ok {
    uint16_t type;
    uint16_t rclass;
    const char *hex;
    const char *fields;
};

/* Edges of the text rules the vectors do not reach. */
START_TEST(test_text_edges)
{
    static const struct rd_ok ok[] = {
        /* Every byte class of a character-string. */
        {SR_TYPE_TXT, SR_CLASS_IN, "08 001f207e7f5c22ff", "\\000\\031 ~\\127\\\\\"\\255"},
        /* The root as a name field. */
        {SR_TYPE_MX, SR_CLASS_IN, "0000 00", "0|."},
        /* Name bytes: '.', '\', space, '"' and 0x7f inside a label. */
        {SR_TYPE_PTR, SR_CLASS_IN, "052e5c20227f 00", "\\.\\\\\\032\"\\127"},
        /* WKS with an empty bitmap and one with port 65535. */
        {SR_TYPE_WKS, SR_CLASS_IN, "7f000001 06", "127.0.0.1|6|"},
        {SR_TYPE_CERT, SR_CLASS_IN, "0001 0002 03", "1|2|3|"},
        {SR_TYPE_ISDN, SR_CLASS_IN, "00 00", "|"},
        {SR_TYPE_A, SR_CLASS_IN, "ffffffff", "255.255.255.255"},
        {SR_TYPE_AAAA, SR_CLASS_IN, "00000000000000000000ffffc0000201", "::ffff:192.0.2.1"},
        {SR_TYPE_SOA, SR_CLASS_IN, "00 00 ffffffff 00000000 00000001 7fffffff 80000000",
         ".|.|4294967295|0|1|2147483647|2147483648"},
        /* Class-specific types in another class are generic (RFC 3597 4). */
        {SR_TYPE_A, 3, "0161 00 0401", "\\# 5 0161000401"},
        {SR_TYPE_SRV, 4, "", "\\# 0"},
        /* Class-independent types decode in any class. */
        {SR_TYPE_TXT, 3, "03 392e31", "9.1"},
        /* RFC 2136 2.4/2.5: class ANY/NONE records carry empty RDATA. */
        {SR_TYPE_A, 255, "", "\\# 0"},
        {SR_TYPE_MX, 254, "", "\\# 0"},
    };
    char out[512];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        sr_status_t st = decode_one(ok[i].type, ok[i].rclass, ok[i].hex, out, sizeof(out));
        ck_assert_msg(st == SR_OK, "case %zu: status %d", i, st);
        ck_assert_msg(strcmp(out, ok[i].fields) == 0, "case %zu: \"%s\" != \"%s\"", i, out,
                      ok[i].fields);
    }
}
END_TEST

/* Hostile RDATA of the later types: each is refused as a whole (the
 * message is FORMERR, with a reason), never read past. */
START_TEST(test_modern_malformed)
{
    static const struct rd_case bad[] = {
        {SR_TYPE_DS, "3039 08", "DS without digest type"},
        {SR_TYPE_DNSKEY, "0100 03", "DNSKEY without algorithm"},
        {SR_TYPE_RRSIG, "0001 0f 03 0000012c 6b8e1f00 6a5a5d00 c14c", "RRSIG without signer"},
        {SR_TYPE_RRSIG, "0001 0f 03 0000012c 6b8e1f00 6a5a5d00 c14c 05616263", "signer runs past"},
        {SR_TYPE_NSEC, "00 0000", "bit map window of 0 bytes"},
        {SR_TYPE_NSEC, "00 00", "bit map window header cut"},
        {SR_TYPE_NSEC,
         "00 0021 "
         "4000000000000000000000000000000000000000000000000000000000000000 01",
         "bit map window of 33 bytes"},
        {SR_TYPE_NSEC, "00 000240 00", "bit map with a trailing zero byte"},
        {SR_TYPE_NSEC, "00 000140 000140", "bit map windows out of order"},
        {SR_TYPE_NSEC, "00 010140 000140", "bit map windows descending"},
        {SR_TYPE_NSEC, "00 000340", "bit map window runs past"},
        {SR_TYPE_NSEC3, "01 00 0000 00 00", "NSEC3 hash of 0 bytes"},
        {SR_TYPE_NSEC3, "01 00 0000 05 ab", "NSEC3 salt runs past"},
        {SR_TYPE_NSEC3, "01 00 0000 00 14 ab", "NSEC3 hash runs past"},
        {SR_TYPE_NSEC3PARAM, "01 00 0000 01", "NSEC3PARAM salt runs past"},
        {SR_TYPE_NSEC3PARAM, "01 00 0000 00 00", "NSEC3PARAM trailing byte"},
        {SR_TYPE_CAA, "00 00", "CAA tag of 0 bytes"},
        {SR_TYPE_CAA, "00 05 697373", "CAA tag runs past"},
        {SR_TYPE_CAA, "00 03 69 2d 65", "CAA tag with a '-'"},
        {SR_TYPE_CAA, "00 01 20 61", "CAA tag with a blank"},
        {SR_TYPE_URI, "000a 0001", "URI with an empty target (RFC 7553 4.4)"},
        {SR_TYPE_LOC, "00 12 16 13 80000000 80000000 009896", "LOC of 15 bytes"},
        {SR_TYPE_LOC, "01 12 16 13 80000000 80000000 00989680", "LOC version 1"},
        {SR_TYPE_LOC, "00 a2 16 13 80000000 80000000 00989680", "LOC size mantissa 10"},
        {SR_TYPE_LOC, "00 12 1a 13 80000000 80000000 00989680", "LOC precision power 10"},
        {SR_TYPE_LOC, "00 12 16 13 934fd901 80000000 00989680", "LOC latitude over 90"},
        {SR_TYPE_LOC, "00 12 16 13 80000000 a69fb201 00989680", "LOC longitude over 180"},
        {SR_TYPE_SVCB, "0001", "SVCB without target"},
        {SR_TYPE_SVCB, "0001 00 0003 0002 01bb 0001 0003 026832", "SVCB keys out of order"},
        {SR_TYPE_SVCB, "0001 00 0003 0002 01bb 0003 0002 01bb", "SVCB key twice"},
        {SR_TYPE_SVCB, "0001 00 0003 0004 01bb", "SvcParam value runs past"},
        {SR_TYPE_HTTPS, "0001 00 0003 00", "SvcParam header cut"},
        {SR_TYPE_TLSA, "03 01", "TLSA without matching type"},
        {SR_TYPE_ZONEMD, "78563412 01", "ZONEMD without hash algorithm"},
        {SR_TYPE_DNAME, "0374677400 00", "DNAME trailing byte"},
    };
    char out[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sr_status_t st = decode_one(bad[i].type, SR_CLASS_IN, bad[i].hex, out, sizeof(out));
        ck_assert_msg(st == SR_E_FORMERR, "%s: status %d", bad[i].why, st);
    }
}
END_TEST

/* The later types' text rules at their edges. */
START_TEST(test_modern_edges)
{
    static const struct rd_ok ok[] = {
        /* RRSIG times: the ends of the 32-bit range; an unknown type. */
        {SR_TYPE_RRSIG, SR_CLASS_IN, "ff00 08 00 00000000 ffffffff 00000000 0000 00",
         "TYPE65280|8|0|0|21060207062815|19700101000000|0|.|"},
        /* Types in the second window and the last one. */
        {SR_TYPE_NSEC, SR_CLASS_IN,
         "00 000180 010140 ff20"
         "0000000000000000000000000000000000000000000000000000000000000001",
         ".|TYPE0 CAA TYPE65535"},
        {SR_TYPE_NSEC3, SR_CLASS_IN, "01 01 ffff 00 01 ff", "1|1|65535|-|VS|"},
        {SR_TYPE_NSEC3, SR_CLASS_IN, "01 00 000a 02 aabb 05 0102030405", "1|0|10|AABB|04106105|"},
        /* CAA values: bytes that need escapes; a tag in any case. */
        {SR_TYPE_CAA, SR_CLASS_IN, "80 05 497373554520 22 5c 00 ff",
         "128|IssUE|\" \\\"\\\\\\000\\255\""},
        /* LOC: the poles, the date line, altitude below the reference. */
        {SR_TYPE_LOC, SR_CLASS_IN, "00 00 99 10 6cb02700 80000000 00000000",
         "90 0 0.000 S|0 0 0.000 E|-100000.00m|0.00m|90000000m|0.01m"},
        /* A zero size with a power of ten is zero all the same (found by
         * fuzz_rdata: "0m" came back as "0.00m"). */
        {SR_TYPE_LOC, SR_CLASS_IN, "00 06 09 02 80000000 80000000 00989680",
         "0 0 0.000 N|0 0 0.000 E|0.00m|0.00m|0.00m|0.00m"},
        /* SvcParams: known keys whose value does not fit their form are
         * shown as keyNNNNN; ohttp and dohpath (RFC 9540, 9461). */
        {SR_TYPE_SVCB, SR_CLASS_IN, "0001 00 0003 0003 01bb00", "1|.|key3=\"\\001\\187\\000\""},
        {SR_TYPE_SVCB, SR_CLASS_IN, "0001 00 0001 0004 02683200", "1|.|key1=\"\\002h2\\000\""},
        {SR_TYPE_SVCB, SR_CLASS_IN, "0001 00 0000 0004 00030001",
         "1|.|key0=\"\\000\\003\\000\\001\""},
        {SR_TYPE_SVCB, SR_CLASS_IN, "0001 00 0002 0001 00", "1|.|key2=\"\\000\""},
        {SR_TYPE_SVCB, SR_CLASS_IN, "0001 00 0004 0003 c00002", "1|.|key4=\"\\192\\000\\002\""},
        {SR_TYPE_HTTPS, SR_CLASS_IN, "0001 00 0007 0004 2f3f7b7d 0008 0000 ffff 0000",
         "1|.|dohpath=\"/?{}\" ohttp key65535"},
        {SR_TYPE_HTTPS, SR_CLASS_IN, "0000 00", "0|.|"},
        /* Class-independent: decoded in class CH too. */
        {SR_TYPE_DS, 3, "3039 08 02 ab", "12345|8|2|AB"},
    };
    char out[512];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        sr_status_t st = decode_one(ok[i].type, ok[i].rclass, ok[i].hex, out, sizeof(out));
        ck_assert_msg(st == SR_OK, "case %zu: status %d", i, st);
        ck_assert_msg(strcmp(out, ok[i].fields) == 0, "case %zu: \"%s\" != \"%s\"", i, out,
                      ok[i].fields);
    }
}
END_TEST

/* Names in RDATA decompress against the whole message: here the MX
 * exchange is a pointer to offset 17, whose labels lie in the record's own
 * TTL and rdlength, then in its RDATA, ending with the root label in a
 * trailing byte after the RDATA. Only the stored part (the pointer) has to
 * end within rdlength. */
START_TEST(test_pointer_target_beyond_rdata)
{
    uint8_t m[64];
    size_t n = tu_unhex("1234 8180 0000 0001 0000 0000"
                        "00 000f 0001 04616263 0004 000ac011 00",
                        m, sizeof(m));
    sr_msg_t *msg = tu_msg_new();
    ck_assert_int_eq(sr_msg_parse(msg, m, n, SR_PARSE_NO_FIELDS), SR_OK);
    ck_assert_int_eq(sr_msg_parse(msg, m, n, 0), SR_OK);
    const sr_rr_t *rr = sr_msg_rr(msg, 0);
    ck_assert_str_eq(sr_rr_field(rr, "PREFERENCE"), "10");
    ck_assert_str_eq(sr_rr_field(rr, "EXCHANGE"), "abc\\000.\\000\\010\\192\\017");

    /* The stored part itself may not run on past rdlength, even when the
     * bytes after it would complete the name. */
    n = tu_unhex("1234 8180 0000 0001 0000 0000"
                 "00 000f 0001 00000000 0004 000a 0361 6263 00",
                 m, sizeof(m));
    ck_assert_int_eq(sr_msg_parse(msg, m, n, 0), SR_E_FORMERR);
    ck_assert_int_eq(sr_msg_parse(msg, m, n, SR_PARSE_NO_FIELDS), SR_E_FORMERR);
    sr_msg_free(msg);
}
END_TEST

/* The WKS map covers port 65535 at most: 8192 bytes. */
START_TEST(test_wks_map_limits)
{
    char hex[2 * 8200 + 16], out[64];
    strcpy(hex, "c0000201 06");
    size_t n = strlen(hex);
    for (int i = 0; i < 8191; i++) {
        hex[n++] = '0';
        hex[n++] = '0';
    }
    strcpy(hex + n, "01");
    ck_assert_int_eq(decode_one(SR_TYPE_WKS, SR_CLASS_IN, hex, out, sizeof(out)), SR_OK);
    ck_assert_str_eq(out, "192.0.2.1|6|65535");
    strcat(hex, "00");
    ck_assert_int_eq(decode_one(SR_TYPE_WKS, SR_CLASS_IN, hex, out, sizeof(out)), SR_E_FORMERR);
}
END_TEST

/* Long texts make the arena grow in the middle of a parse: pointers made
 * before the growth must still be right afterwards. */
START_TEST(test_arena_growth)
{
    /* 40 TXT records of 1000 bytes each, all 0x01 (4 text bytes each). */
    enum { N = 40, SLEN = 250 };
    static uint8_t m[N * (11 + 4 * (SLEN + 1)) + 12];
    size_t len = 0;
    static const uint8_t hdr[] = {0, 1, 0x81, 0x80, 0, 0, 0, N, 0, 0, 0, 0};
    memcpy(m, hdr, sizeof(hdr));
    len = sizeof(hdr);
    for (int r = 0; r < N; r++) {
        uint8_t rr[] = {0, 0, 16, 0, 1, 0, 0, 0, (uint8_t)r, 0x03, 0xEC};
        memcpy(m + len, rr, sizeof(rr));
        len += sizeof(rr);
        for (int s = 0; s < 4; s++) {
            m[len++] = SLEN;
            memset(m + len, r % 31 + 1, SLEN); /* below 0x20: \DDD */
            len += SLEN;
        }
    }
    sr_msg_t *msg = tu_msg_new();
    ck_assert_int_eq(sr_msg_parse(msg, m, len, 0), SR_OK);
    ck_assert_uint_eq(sr_msg_rr_count(msg), N);
    for (int r = 0; r < N; r++) {
        const sr_rr_t *rr = sr_msg_rr(msg, (size_t)r);
        char want[8];
        snprintf(want, sizeof(want), "\\%03d", r % 31 + 1);
        ck_assert_uint_eq(rr->ttl, (unsigned)r);
        ck_assert_str_eq(rr->name, ".");
        ck_assert_uint_eq(strlen(rr->fields[0].value), 4 * 4 * SLEN);
        ck_assert_mem_eq(rr->fields[0].value, want, 4);
    }
    sr_msg_free(msg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rdata");
    TCase *tc = add_tcase(s, "vectors", NULL, NULL,
                          TESTS(test_vectors_fields, test_vectors_no_fields,
                                test_vectors_cover_every_type, test_field_lookup_and_names));
    tcase_set_timeout(tc, 60);
    add_tcase(s, "decoders", NULL, NULL,
              TESTS(test_type_fields_table, test_zero_length_rdata, test_length_mismatch,
                    test_text_edges, test_wks_map_limits, test_pointer_target_beyond_rdata,
                    test_arena_growth, test_modern_malformed, test_modern_edges));
    return run_suite(s);
}
