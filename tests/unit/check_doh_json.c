/* Unit tests: the DoH JSON API converter (src/lib/doh_json.c).
 *
 * Bodies are shaped like the answers of Google's (names with a trailing
 * dot, TXT unquoted) and Cloudflare's (no trailing dot, TXT quoted)
 * /resolve endpoints; the wire output is parsed back with sr_msg_parse and
 * checked field by field. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doh-internal.h"
#include <stubres/wire.h>

#include "check-main.h"

/* The question every test asks unless it says otherwise. */
static uint8_t qwire[SR_NAME_MAX_WIRE];
static sr_doh_question_t qdef;

/* Make q the question (name, type) with ID 0x1234, class IN. */
static void set_question(sr_doh_question_t *q, uint8_t *wire, const char *name, uint16_t type)
{
    size_t len = 0;
    ck_assert_int_eq(sr_name_from_text(name, wire, SR_NAME_MAX_WIRE, &len), SR_OK);
    q->id = 0x1234;
    q->qname = wire;
    q->qname_len = len;
    q->qtype = type;
    q->qclass = SR_CLASS_IN;
}

/* Convert json for q and parse the result into a new message. */
static sr_msg_t *convert_q(const char *json, const sr_doh_question_t *q)
{
    uint8_t *wire = NULL;
    size_t len = 0;
    char detail[SR_DOH_DETAIL_MAX];
    sr_status_t st;
    sr_msg_t *msg;

    st = sr_doh_json_to_wire(json, strlen(json), q, &wire, &len, detail, sizeof(detail));
    ck_assert_msg(st == SR_OK, "conversion failed: %d %s", (int)st, detail);
    ck_assert_ptr_nonnull(wire);
    msg = sr_msg_new();
    ck_assert_ptr_nonnull(msg);
    st = sr_msg_parse(msg, wire, len, 0);
    ck_assert_msg(st == SR_OK, "parse failed: %d %s", (int)st, sr_msg_error(msg));
    sr_free(wire);
    return msg;
}

static sr_msg_t *convert(const char *json)
{
    return convert_q(json, &qdef);
}

/* The status of converting json, with its detail in detail. */
static sr_status_t convert_err(const char *json, size_t len, char *detail, size_t dcap)
{
    uint8_t *wire = NULL;
    size_t wlen = 0;
    sr_status_t st;

    st = sr_doh_json_to_wire(json, len, &qdef, &wire, &wlen, detail, dcap);
    if (st != SR_OK) {
        ck_assert_ptr_null(wire);
        ck_assert_uint_eq(wlen, 0);
    }
    sr_free(wire);
    return st;
}

static void setup(void)
{
    set_question(&qdef, qwire, "example.test", SR_TYPE_A);
}

/* ---- header and question ---- */

START_TEST(test_google_mx)
{
    static const char json[] = "{\"Status\": 0,\"TC\": false,\"RD\": true,\"RA\": true,"
                               "\"AD\": false,\"CD\": false,"
                               "\"Question\":[ {\"name\": \"mx.example.test.\",\"type\": 15}],"
                               "\"Answer\":[ {\"name\": \"mx.example.test.\",\"type\": 15,"
                               "\"TTL\": 300,\"data\": \"10 mail.example.test.\"},"
                               "{\"name\": \"mx.example.test.\",\"type\": 15,"
                               "\"TTL\": 300,\"data\": \"20 backup.example.test.\"}],"
                               "\"Comment\": \"Response from 127.0.0.1.\"}";
    sr_doh_question_t q;
    uint8_t w[SR_NAME_MAX_WIRE];
    sr_msg_t *m;
    const sr_rr_t *rr;

    set_question(&q, w, "mx.example.test", SR_TYPE_MX);
    m = convert_q(json, &q);
    ck_assert_uint_eq(sr_msg_id(m), 0x1234);
    ck_assert(sr_msg_flags(m) & SR_FLAG_QR);
    ck_assert(sr_msg_flags(m) & SR_FLAG_RD);
    ck_assert(sr_msg_flags(m) & SR_FLAG_RA);
    ck_assert(!(sr_msg_flags(m) & (SR_FLAG_TC | SR_FLAG_AD | SR_FLAG_CD | SR_FLAG_AA)));
    ck_assert_uint_eq(sr_msg_opcode(m), 0);
    ck_assert_uint_eq(sr_msg_rcode(m), 0);
    ck_assert_uint_eq(sr_msg_qdcount(m), 1);
    ck_assert_str_eq(sr_msg_qname(m), "mx.example.test");
    ck_assert_uint_eq(sr_msg_qtype(m), SR_TYPE_MX);
    ck_assert_uint_eq(sr_msg_qclass(m), SR_CLASS_IN);
    ck_assert_uint_eq(sr_msg_rr_count(m), 2);
    ck_assert_uint_eq(sr_msg_section_count(m, SR_SECTION_ANSWER), 2);
    rr = sr_msg_rr(m, 0);
    ck_assert_int_eq(rr->section, SR_SECTION_ANSWER);
    ck_assert_str_eq(rr->name, "mx.example.test");
    ck_assert_uint_eq(rr->type, SR_TYPE_MX);
    ck_assert_uint_eq(rr->rclass, SR_CLASS_IN);
    ck_assert_uint_eq(rr->ttl, 300);
    ck_assert_str_eq(sr_rr_field(rr, "PREFERENCE"), "10");
    ck_assert_str_eq(sr_rr_field(rr, "EXCHANGE"), "mail.example.test");
    rr = sr_msg_rr(m, 1);
    ck_assert_str_eq(sr_rr_field(rr, "PREFERENCE"), "20");
    ck_assert_str_eq(sr_rr_field(rr, "EXCHANGE"), "backup.example.test");
    ck_assert(!sr_msg_edns(m)->present);
    sr_msg_free(m);
}
END_TEST

START_TEST(test_cloudflare_flags)
{
    /* Cloudflare: names without the trailing dot, TXT quoted. */
    static const char json[] = "{\"Status\":0,\"TC\":true,\"RD\":true,\"RA\":true,\"AD\":true,"
                               "\"CD\":true,\"Question\":[{\"name\":\"example.test\",\"type\":1}],"
                               "\"Answer\":[{\"name\":\"example.test\",\"type\":1,\"TTL\":86400,"
                               "\"data\":\"192.0.2.1\"}]}";
    sr_msg_t *m = convert(json);
    uint16_t f = sr_msg_flags(m);

    ck_assert(f & SR_FLAG_TC);
    ck_assert(f & SR_FLAG_AD);
    ck_assert(f & SR_FLAG_CD);
    ck_assert_str_eq(sr_rr_field(sr_msg_rr(m, 0), "ADDRESS"), "192.0.2.1");
    ck_assert_uint_eq(sr_msg_rr(m, 0)->ttl, 86400);
    sr_msg_free(m);
}
END_TEST

START_TEST(test_minimal_body)
{
    /* Only Status: every other field is optional. */
    sr_msg_t *m = convert("{\"Status\": 0}");
    ck_assert_uint_eq(sr_msg_rr_count(m), 0);
    ck_assert_uint_eq(sr_msg_flags(m), SR_FLAG_QR);
    ck_assert_str_eq(sr_msg_qname(m), "example.test");
    sr_msg_free(m);

    /* nulls count as absent; numbers 0/1 as booleans; no TTL is 0 */
    m = convert("{\"Status\":0,\"RD\":1,\"RA\":null,\"Answer\":[{\"name\":"
                "\"example.test\",\"type\":1,\"data\":\"192.0.2.9\"}],"
                "\"Authority\":null}");
    ck_assert(sr_msg_flags(m) & SR_FLAG_RD);
    ck_assert(!(sr_msg_flags(m) & SR_FLAG_RA));
    ck_assert_uint_eq(sr_msg_rr(m, 0)->ttl, 0);
    sr_msg_free(m);
}
END_TEST

START_TEST(test_nxdomain_soa)
{
    static const char json[] =
        "{\"Status\": 3,\"TC\": false,\"RD\": true,\"RA\": true,"
        "\"AD\": false,\"CD\": false,"
        "\"Question\":[{\"name\": \"nope.example.test.\",\"type\": 1}],"
        "\"Authority\":[{\"name\": \"example.test.\",\"type\": 6,"
        "\"TTL\": 3600,\"data\": \"ns1.example.test. hostmaster.example.test."
        " 2024010101 7200 3600 1209600 300\"}]}";
    sr_doh_question_t q;
    uint8_t w[SR_NAME_MAX_WIRE];
    sr_msg_t *m;
    const sr_rr_t *rr;
    char buf[16];

    set_question(&q, w, "nope.example.test", SR_TYPE_A);
    m = convert_q(json, &q);
    ck_assert_uint_eq(sr_msg_rcode(m), 3);
    ck_assert_str_eq(sr_rcode_name(sr_msg_rcode(m), buf), "NXDOMAIN");
    ck_assert_uint_eq(sr_msg_section_count(m, SR_SECTION_ANSWER), 0);
    ck_assert_uint_eq(sr_msg_section_count(m, SR_SECTION_AUTHORITY), 1);
    rr = sr_msg_rr(m, 0);
    ck_assert_int_eq(rr->section, SR_SECTION_AUTHORITY);
    ck_assert_str_eq(rr->name, "example.test");
    ck_assert_uint_eq(rr->type, SR_TYPE_SOA);
    ck_assert_uint_eq(rr->ttl, 3600);
    ck_assert_str_eq(sr_rr_field(rr, "MNAME"), "ns1.example.test");
    ck_assert_str_eq(sr_rr_field(rr, "RNAME"), "hostmaster.example.test");
    ck_assert_str_eq(sr_rr_field(rr, "SERIAL"), "2024010101");
    ck_assert_str_eq(sr_rr_field(rr, "REFRESH"), "7200");
    ck_assert_str_eq(sr_rr_field(rr, "RETRY"), "3600");
    ck_assert_str_eq(sr_rr_field(rr, "EXPIRE"), "1209600");
    ck_assert_str_eq(sr_rr_field(rr, "MINIMUM"), "300");
    sr_msg_free(m);
}
END_TEST

START_TEST(test_extended_rcode)
{
    /* BADVERS (16) does not fit the header: an OPT record carries it. */
    sr_msg_t *m = convert("{\"Status\": 16}");
    ck_assert(sr_msg_edns(m)->present);
    ck_assert_uint_eq(sr_msg_rcode(m), 16);
    ck_assert_uint_eq(sr_msg_rr_count(m), 0);
    sr_msg_free(m);

    m = convert("{\"Status\": 4095}");
    ck_assert_uint_eq(sr_msg_rcode(m), 4095);
    sr_msg_free(m);
}
END_TEST

START_TEST(test_sections_and_cname_chain)
{
    static const char json[] = "{\"Status\":0,\"RD\":true,\"RA\":true,"
                               "\"Answer\":[{\"name\":\"www.example.test.\",\"type\":5,\"TTL\":60,"
                               "\"data\":\"host.example.test.\"},{\"name\":\"host.example.test.\","
                               "\"type\":1,\"TTL\":61,\"data\":\"192.0.2.7\"}],"
                               "\"Authority\":[{\"name\":\"example.test.\",\"type\":2,\"TTL\":62,"
                               "\"data\":\"ns1.example.test.\"}],"
                               "\"Additional\":[{\"name\":\"ns1.example.test.\",\"type\":28,"
                               "\"TTL\":63,\"data\":\"2001:db8::53\"},"
                               "{\"name\":\"\",\"type\":41,\"data\":\"\"}]}";
    sr_doh_question_t q;
    uint8_t w[SR_NAME_MAX_WIRE];
    sr_msg_t *m;

    set_question(&q, w, "www.example.test", SR_TYPE_A);
    m = convert_q(json, &q);
    ck_assert_uint_eq(sr_msg_section_count(m, SR_SECTION_ANSWER), 2);
    ck_assert_uint_eq(sr_msg_section_count(m, SR_SECTION_AUTHORITY), 1);
    /* the OPT entry is dropped, not turned into a record */
    ck_assert_uint_eq(sr_msg_section_count(m, SR_SECTION_ADDITIONAL), 1);
    ck_assert(!sr_msg_edns(m)->present);
    ck_assert_str_eq(sr_rr_field(sr_msg_rr(m, 0), "CNAME"), "host.example.test");
    ck_assert_str_eq(sr_msg_rr(m, 1)->name, "host.example.test");
    ck_assert_uint_eq(sr_msg_rr(m, 1)->ttl, 61);
    ck_assert_int_eq(sr_msg_rr(m, 2)->section, SR_SECTION_AUTHORITY);
    ck_assert_str_eq(sr_rr_field(sr_msg_rr(m, 2), "DNAME"), "ns1.example.test");
    ck_assert_int_eq(sr_msg_rr(m, 3)->section, SR_SECTION_ADDITIONAL);
    ck_assert_str_eq(sr_rr_field(sr_msg_rr(m, 3), "ADDRESS"), "2001:db8::53");
    ck_assert_uint_eq(sr_msg_rr(m, 3)->ttl, 63);
    sr_msg_free(m);
}
END_TEST

START_TEST(test_owner_case_kept)
{
    /* An owner that differs from the question only in case is written out
     * in full, with the server's case. */
    sr_msg_t *m = convert("{\"Status\":0,\"Answer\":[{\"name\":\"ExAmple.TEST.\","
                          "\"type\":1,\"TTL\":5,\"data\":\"192.0.2.1\"},"
                          "{\"name\":\"example.test\",\"type\":1,\"TTL\":5,"
                          "\"data\":\"192.0.2.2\"}]}");
    ck_assert_str_eq(sr_msg_rr(m, 0)->name, "ExAmple.TEST");
    ck_assert_str_eq(sr_msg_rr(m, 1)->name, "example.test");
    sr_msg_free(m);
}
END_TEST

START_TEST(test_type_as_mnemonic)
{
    sr_msg_t *m = convert("{\"Status\":0,\"Answer\":[{\"name\":\"example.test\","
                          "\"type\":\"AAAA\",\"TTL\":5,\"data\":\"::1\"}]}");
    ck_assert_uint_eq(sr_msg_rr(m, 0)->type, SR_TYPE_AAAA);
    ck_assert_str_eq(sr_rr_field(sr_msg_rr(m, 0), "ADDRESS"), "::1");
    sr_msg_free(m);
}
END_TEST

/* ---- every record type of the class reference ---- */

/* One record type: its JSON data and the fields it must decode to. */
struct type_case {
    uint16_t type;
    const char *data;         /* JSON string contents (already escaped) */
    const char *fields[8][2]; /* name, value; NULL-terminated */
};

static const struct type_case type_cases[] = {
    {SR_TYPE_A, "192.0.2.1", {{"ADDRESS", "192.0.2.1"}}},
    {SR_TYPE_NS, "ns1.example.test.", {{"DNAME", "ns1.example.test"}}},
    {SR_TYPE_MD, "md.example.test.", {{"MADNAME", "md.example.test"}}},
    {SR_TYPE_MF, "mf.example.test.", {{"MADNAME", "mf.example.test"}}},
    {SR_TYPE_CNAME, "target.example.test.", {{"CNAME", "target.example.test"}}},
    {SR_TYPE_SOA,
     "ns1.example.test. hostmaster.example.test. 42 7200 3600 1209600 300",
     {{"MNAME", "ns1.example.test"},
      {"RNAME", "hostmaster.example.test"},
      {"SERIAL", "42"},
      {"REFRESH", "7200"},
      {"RETRY", "3600"},
      {"EXPIRE", "1209600"},
      {"MINIMUM", "300"}}},
    {SR_TYPE_MB, "mb.example.test.", {{"MADNAME", "mb.example.test"}}},
    {SR_TYPE_MG, "mg.example.test.", {{"MGMNAME", "mg.example.test"}}},
    {SR_TYPE_MR, "mr.example.test.", {{"NEWNAME", "mr.example.test"}}},
    {SR_TYPE_NULL, "\\\\# 4 deadbeef", {{"NULL", "deadbeef"}}},
    {SR_TYPE_WKS,
     "192.0.2.25 6 25 80",
     {{"ADDRESS", "192.0.2.25"}, {"PROTOCOL", "6"}, {"SERVICEMAP", "25 80"}}},
    {SR_TYPE_PTR, "host.example.test.", {{"PTRDNAME", "host.example.test"}}},
    {SR_TYPE_HINFO,
     "\\\"PC-Intel-700mhz\\\" \\\"Debian GNU/Linux\\\"",
     {{"CPU", "PC-Intel-700mhz"}, {"OS", "Debian GNU/Linux"}}},
    {SR_TYPE_MINFO,
     "rmail.example.test. email.example.test.",
     {{"RMAILBX", "rmail.example.test"}, {"EMAILBX", "email.example.test"}}},
    {SR_TYPE_MX,
     "10 mail.example.test.",
     {{"PREFERENCE", "10"}, {"EXCHANGE", "mail.example.test"}}},
    /* Cloudflare: quoted presentation */
    {SR_TYPE_TXT, "\\\"v=spf1 -all\\\"", {{"TXT", "v=spf1 -all"}}},
    {SR_TYPE_RP,
     "mbox.example.test. txt.example.test.",
     {{"MBOXDNAME", "mbox.example.test"}, {"TXTDNAME", "txt.example.test"}}},
    {SR_TYPE_AFSDB, "1 afs.example.test.", {{"SUBTYPE", "1"}, {"HOSTNAME", "afs.example.test"}}},
    {SR_TYPE_X25, "\\\"311061700956\\\"", {{"PSDNADDRESS", "311061700956"}}},
    {SR_TYPE_ISDN,
     "\\\"150862028003217\\\" \\\"004\\\"",
     {{"ISDNADDRESS", "150862028003217"}, {"SA", "004"}}},
    {SR_TYPE_RT,
     "10 relay.example.test.",
     {{"PREFERENCE", "10"}, {"INTERMEDIATE", "relay.example.test"}}},
    {SR_TYPE_AAAA, "2001:db8::1", {{"ADDRESS", "2001:db8::1"}}},
    {SR_TYPE_SRV,
     "10 60 5060 sip.example.test.",
     {{"PRIORITY", "10"}, {"WEIGHT", "60"}, {"PORT", "5060"}, {"TARGET", "sip.example.test"}}},
    {SR_TYPE_NAPTR,
     "100 10 \\\"U\\\" \\\"E2U+sip\\\" \\\"!^.*$!sip:info@example.test!\\\" .",
     {{"ORDER", "100"},
      {"PRIORITY", "10"},
      {"FLAGS", "U"},
      {"SERVICES", "E2U+sip"},
      {"REGEXP", "!^.*$!sip:info@example.test!"},
      {"REPLACEMENT", "."}}},
    {SR_TYPE_CERT,
     "1 12345 8 AQIDBAUGBwg=",
     {{"TYPE", "1"}, {"KEYTAG", "12345"}, {"ALGORITHM", "8"}, {"CERTIFICATE", "AQIDBAUGBwg="}}},
    /* a type without a decoder, RFC 3597 form both ways */
    {65280, "\\\\# 3 010203", {{"RDATA", "\\# 3 010203"}}},
};

START_TEST(test_record_type)
{
    const struct type_case *tc = &type_cases[_i];
    char json[1024];
    sr_doh_question_t q;
    uint8_t w[SR_NAME_MAX_WIRE];
    sr_msg_t *m;
    const sr_rr_t *rr;
    size_t nf = 0;

    snprintf(json, sizeof(json),
             "{\"Status\":0,\"RD\":true,\"RA\":true,\"Question\":[{\"name\":"
             "\"rr.example.test.\",\"type\":%u}],\"Answer\":[{\"name\":"
             "\"rr.example.test.\",\"type\":%u,\"TTL\":1234,\"data\":\"%s\"}]}",
             (unsigned)tc->type, (unsigned)tc->type, tc->data);
    set_question(&q, w, "rr.example.test", tc->type);
    m = convert_q(json, &q);
    ck_assert_uint_eq(sr_msg_rr_count(m), 1);
    rr = sr_msg_rr(m, 0);
    ck_assert_uint_eq(rr->type, tc->type);
    ck_assert_uint_eq(rr->ttl, 1234);
    ck_assert_str_eq(rr->name, "rr.example.test");
    for (size_t i = 0; i < 8 && tc->fields[i][0] != NULL; i++) {
        const char *v = sr_rr_field(rr, tc->fields[i][0]);
        ck_assert_msg(v != NULL, "type %u: no field %s", (unsigned)tc->type, tc->fields[i][0]);
        ck_assert_msg(strcmp(v, tc->fields[i][1]) == 0, "type %u field %s: got \"%s\", want \"%s\"",
                      (unsigned)tc->type, tc->fields[i][0], v, tc->fields[i][1]);
        nf++;
    }
    ck_assert_uint_eq(rr->field_count, nf);
    sr_msg_free(m);
}
END_TEST

START_TEST(test_txt_forms)
{
    sr_msg_t *m;

    /* Google: unquoted, the strings concatenated */
    m = convert("{\"Status\":0,\"Answer\":[{\"name\":\"example.test.\","
                "\"type\":16,\"TTL\":1,\"data\":\"v=spf1 include:_spf.example"
                ".test ~all\"}]}");
    ck_assert_str_eq(sr_rr_field(sr_msg_rr(m, 0), "TXT"), "v=spf1 include:_spf.example.test ~all");
    ck_assert_uint_eq(sr_msg_rr(m, 0)->rdlength, 38);
    sr_msg_free(m);

    /* Cloudflare: several quoted strings */
    m = convert("{\"Status\":0,\"Answer\":[{\"name\":\"example.test\","
                "\"type\":16,\"TTL\":1,\"data\":\"\\\"part one \\\" "
                "\\\"part two\\\"\"}]}");
    ck_assert_str_eq(sr_rr_field(sr_msg_rr(m, 0), "TXT"), "part one part two");
    ck_assert_uint_eq(sr_msg_rr(m, 0)->rdlength, 19);
    sr_msg_free(m);

    /* an empty TXT is one empty string */
    m = convert("{\"Status\":0,\"Answer\":[{\"name\":\"example.test\","
                "\"type\":16,\"TTL\":1,\"data\":\"\"}]}");
    ck_assert_str_eq(sr_rr_field(sr_msg_rr(m, 0), "TXT"), "");
    ck_assert_uint_eq(sr_msg_rr(m, 0)->rdlength, 1);
    sr_msg_free(m);
}
END_TEST

START_TEST(test_txt_long_literal)
{
    /* 600 unquoted bytes: split into strings of 255, 255 and 90 */
    char json[1024];
    char data[601];
    sr_msg_t *m;

    memset(data, 'x', 600);
    data[600] = '\0';
    snprintf(json, sizeof(json),
             "{\"Status\":0,\"Answer\":[{\"name\":\"example.test\","
             "\"type\":16,\"TTL\":1,\"data\":\"%s\"}]}",
             data);
    m = convert(json);
    ck_assert_uint_eq(sr_msg_rr(m, 0)->rdlength, 603);
    ck_assert_uint_eq(sr_msg_rr(m, 0)->rdata[0], 255);
    ck_assert_uint_eq(sr_msg_rr(m, 0)->rdata[256], 255);
    ck_assert_uint_eq(sr_msg_rr(m, 0)->rdata[512], 90);
    ck_assert_str_eq(sr_rr_field(sr_msg_rr(m, 0), "TXT"), data);
    sr_msg_free(m);
}
END_TEST

/* ---- errors ---- */

/* Bodies that must be refused with SR_E_FORMERR, and a word the detail
 * must contain. */
static const struct {
    const char *json;
    const char *detail;
} bad_bodies[] = {
    {"", "not JSON"},
    {"{", "not JSON"},
    {"<html><body>Bad Gateway</body></html>", "not JSON"},
    {"[1, 2]", "not a JSON object"},
    {"{\"Answer\": []}", "no Status"},
    {"{\"status\": 0}", "no Status"},
    {"{\"Status\": \"0\"}", "Status"},
    {"{\"Status\": -1}", "Status"},
    {"{\"Status\": 4096}", "Status"},
    {"{\"Status\": 99999999999999999}", "Status"},
    {"{\"Status\": 0.5}", "Status"},
    {"{\"Status\": 0, \"RD\": \"yes\"}", "RD"},
    {"{\"Status\": 0, \"TC\": 2}", "TC"},
    {"{\"Status\": 0, \"Answer\": {}}", "Answer is not an array"},
    {"{\"Status\": 0, \"Authority\": \"x\"}", "Authority is not an array"},
    {"{\"Status\": 0, \"Additional\": 7}", "Additional is not an array"},
    {"{\"Status\": 0, \"Answer\": [1]}", "Answer[0] is not an object"},
    {"{\"Status\": 0, \"Answer\": [{\"type\": 1, \"data\": \"192.0.2.1\"}]}", "name is missing"},
    {"{\"Status\": 0, \"Answer\": [{\"name\": 5, \"type\": 1, \"data\": "
     "\"192.0.2.1\"}]}",
     "name"},
    {"{\"Status\": 0, \"Answer\": [{\"name\": \"a..b\", \"type\": 1, "
     "\"data\": \"192.0.2.1\"}]}",
     "not a domain name"},
    {"{\"Status\": 0, \"Answer\": [{\"name\": \"a\", \"data\": \"1.2.3.4\"}]}", "type is missing"},
    {"{\"Status\": 0, \"Answer\": [{\"name\": \"a\", \"type\": 70000, "
     "\"data\": \"x\"}]}",
     "not a record type"},
    {"{\"Status\": 0, \"Answer\": [{\"name\": \"a\", \"type\": 0, "
     "\"data\": \"x\"}]}",
     "not a record type"},
    {"{\"Status\": 0, \"Answer\": [{\"name\": \"a\", \"type\": \"NOPE\", "
     "\"data\": \"x\"}]}",
     "not a record type"},
    {"{\"Status\": 0, \"Answer\": [{\"name\": \"a\", \"type\": 1, "
     "\"TTL\": -1, \"data\": \"192.0.2.1\"}]}",
     "TTL"},
    {"{\"Status\": 0, \"Answer\": [{\"name\": \"a\", \"type\": 1, "
     "\"TTL\": 4294967296, \"data\": \"192.0.2.1\"}]}",
     "TTL"},
    {"{\"Status\": 0, \"Answer\": [{\"name\": \"a\", \"type\": 1, "
     "\"TTL\": 1e300, \"data\": \"192.0.2.1\"}]}",
     "TTL"},
    {"{\"Status\": 0, \"Answer\": [{\"name\": \"a\", \"type\": 1, "
     "\"TTL\": \"300\", \"data\": \"192.0.2.1\"}]}",
     "TTL"},
    {"{\"Status\": 0, \"Answer\": [{\"name\": \"a\", \"type\": 1}]}", "data is missing"},
    {"{\"Status\": 0, \"Answer\": [{\"name\": \"a\", \"type\": 1, "
     "\"data\": 3232235777}]}",
     "not a string"},
    {"{\"Status\": 0, \"Answer\": [{\"name\": \"a\", \"type\": 1, "
     "\"data\": \"300.1.2.3\"}]}",
     "is not A"},
    {"{\"Status\": 0, \"Answer\": [{\"name\": \"a\", \"type\": 28, "
     "\"data\": \"2001:db8::g\"}]}",
     "is not AAAA"},
    {"{\"Status\": 0, \"Answer\": [{\"name\": \"a\", \"type\": 15, "
     "\"data\": \"ten mail.example.test.\"}]}",
     "is not MX"},
    {"{\"Status\": 0, \"Answer\": [{\"name\": \"a\", \"type\": 15, "
     "\"data\": \"99999 mail.example.test.\"}]}",
     "is not MX"},
    {"{\"Status\": 0, \"Answer\": [{\"name\": \"a\", \"type\": 6, "
     "\"data\": \"ns1. host. 1 2 3\"}]}",
     "is not SOA"},
    {"{\"Status\": 0, \"Answer\": [{\"name\": \"a\", \"type\": 65280, "
     "\"data\": \"\\\\# 4 0102\"}]}",
     "is not"},
    /* RFC 3597 form that its type's RDATA cannot be (WKS needs 5 bytes) */
    {"{\"Status\": 0, \"Answer\": [{\"name\": \"a\", \"type\": 11, "
     "\"data\": \"\\\\# 4 deadbeef\"}]}",
     "WKS"},
    {"{\"Status\": 0, \"Answer\": [{\"name\": \"a\", \"type\": 1, "
     "\"data\": \"\\\\# 5 0102030405\"}]}",
     "JSON: "},
    {"{\"Status\": 0, \"Question\": [{\"name\": \"other.test.\", "
     "\"type\": 1}]}",
     "Question name"},
    {"{\"Status\": 0, \"Question\": [{\"name\": \"example.test.\", "
     "\"type\": 28}]}",
     "Question type"},
    {"{\"Status\": 0, \"Question\": \"example.test\"}", "Question"},
    {"{\"Status\": 0, \"Answer\": [{\"name\": \"a\", \"type\": 1, "
     "\"data\": \"192.0.2.1\"}], \"Answer\": 5}",
     "not JSON"},
};

START_TEST(test_bad_body)
{
    char detail[SR_DOH_DETAIL_MAX];
    const char *json = bad_bodies[_i].json;
    sr_status_t st = convert_err(json, strlen(json), detail, sizeof(detail));

    ck_assert_msg(st == SR_E_FORMERR, "%s: status %d (%s)", json, (int)st, detail);
    ck_assert_msg(strstr(detail, bad_bodies[_i].detail) != NULL, "%s: detail \"%s\" lacks \"%s\"",
                  json, detail, bad_bodies[_i].detail);
}
END_TEST

START_TEST(test_duplicate_key_is_error)
{
    /* Which of two Status keys counts is up to the parser: refuse both. */
    char detail[SR_DOH_DETAIL_MAX];
    const char *json = "{\"Status\": 0, \"Status\": 3}";
    sr_status_t st = convert_err(json, strlen(json), detail, sizeof(detail));
    ck_assert_int_eq(st, SR_E_FORMERR);
    ck_assert_ptr_nonnull(strstr(detail, "duplicate"));
}
END_TEST

START_TEST(test_embedded_nul)
{
    /* A NUL inside the body (and \u0000 in a string) is not JSON text. */
    static const char json[] = "{\"Status\": 0}\0garbage";
    char detail[SR_DOH_DETAIL_MAX];
    ck_assert_int_eq(convert_err(json, sizeof(json) - 1, detail, sizeof(detail)), SR_E_FORMERR);
    static const char json2[] = "{\"Status\":0,\"Answer\":[{\"name\":"
                                "\"a\\u0000b\",\"type\":1,\"data\":"
                                "\"1.2.3.4\"}]}";
    ck_assert_int_eq(convert_err(json2, strlen(json2), detail, sizeof(detail)), SR_E_FORMERR);
}
END_TEST

START_TEST(test_body_too_large)
{
    size_t len = SR_DOH_JSON_MAX + 1;
    char *json = malloc(len);
    char detail[SR_DOH_DETAIL_MAX];

    ck_assert_ptr_nonnull(json);
    memset(json, ' ', len);
    json[0] = '{';
    memcpy(json + len - 13, "\"Status\": 0}", 12);
    ck_assert_int_eq(convert_err(json, len, detail, sizeof(detail)), SR_E_MSGSIZE);
    ck_assert_ptr_nonnull(strstr(detail, "too large"));
    free(json);
}
END_TEST

START_TEST(test_answer_exceeds_64k)
{
    /* 4000 AAAA records of ~28 bytes each do not fit in 65535 bytes. */
    size_t cap = 4000 * 80 + 64;
    char *json = malloc(cap);
    char detail[SR_DOH_DETAIL_MAX];
    size_t o;

    ck_assert_ptr_nonnull(json);
    o = (size_t)snprintf(json, cap, "{\"Status\":0,\"Answer\":[");
    for (int i = 0; i < 4000; i++)
        o += (size_t)snprintf(json + o, cap - o,
                              "%s{\"name\":\"example.test\",\"type\":28,"
                              "\"data\":\"2001:db8::%x\"}",
                              i == 0 ? "" : ",", i);
    o += (size_t)snprintf(json + o, cap - o, "]}");
    ck_assert_uint_lt(o, cap);
    ck_assert_int_eq(convert_err(json, o, detail, sizeof(detail)), SR_E_MSGSIZE);
    ck_assert_ptr_nonnull(strstr(detail, "65535"));
    free(json);
}
END_TEST

START_TEST(test_huge_rdata)
{
    /* A TXT of 70000 bytes cannot be one record. */
    size_t n = 70000;
    size_t cap = n + 128;
    char *json = malloc(cap);
    char detail[SR_DOH_DETAIL_MAX];
    int o;

    ck_assert_ptr_nonnull(json);
    o = snprintf(json, cap,
                 "{\"Status\":0,\"Answer\":[{\"name\":\"a\","
                 "\"type\":16,\"data\":\"");
    memset(json + o, 'y', n);
    memcpy(json + o + n, "\"}]}", 5);
    ck_assert_int_eq(convert_err(json, strlen(json), detail, sizeof(detail)), SR_E_MSGSIZE);
    free(json);
}
END_TEST

START_TEST(test_deep_nesting)
{
    /* jansson bounds its recursion; a deep body is an error, not a crash */
    size_t n = 100000;
    char *json = malloc(2 * n + 1);
    char detail[SR_DOH_DETAIL_MAX];

    ck_assert_ptr_nonnull(json);
    memset(json, '[', n);
    memset(json + n, ']', n);
    json[2 * n] = '\0';
    ck_assert_int_eq(convert_err(json, 2 * n, detail, sizeof(detail)), SR_E_FORMERR);
    free(json);
}
END_TEST

/* The JSON API serves IN data and has no class parameter: a CH question
 * gets NOTIMP with its own question and no records, never the JSON's IN
 * records labelled CH. */
START_TEST(test_class_not_in_is_notimp)
{
    static const char json[] = "{\"Status\":0,\"Answer\":[{\"name\":\"www.example.test.\","
                               "\"type\":16,\"TTL\":300,\"data\":\"\\\"in-data\\\"\"}]}";
    static const uint16_t classes[] = {3, 4, 255, 254}; /* CH, HS, ANY, NONE */
    uint8_t w[SR_NAME_MAX_WIRE];
    sr_doh_question_t q;

    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
        sr_msg_t *m;
        uint8_t *wire = NULL;
        size_t len = 0;

        set_question(&q, w, "www.example.test", SR_TYPE_TXT);
        q.qclass = classes[i];
        m = convert_q(json, &q);
        ck_assert_uint_eq(sr_msg_id(m), 0x1234);
        ck_assert(sr_msg_flags(m) & SR_FLAG_QR);
        ck_assert_uint_eq(sr_msg_rcode(m), 4); /* NOTIMP */
        ck_assert_uint_eq(sr_msg_qdcount(m), 1);
        ck_assert_str_eq(sr_msg_qname(m), "www.example.test");
        ck_assert_uint_eq(sr_msg_qtype(m), SR_TYPE_TXT);
        ck_assert_uint_eq(sr_msg_qclass(m), classes[i]);
        ck_assert_uint_eq(sr_msg_rr_count(m), 0);
        sr_msg_free(m);

        /* The same response without any JSON: what the transport sends
         * back instead of asking. */
        ck_assert_int_eq(sr_doh_json_notimp(&q, &wire, &len), SR_OK);
        m = sr_msg_new();
        ck_assert_ptr_nonnull(m);
        ck_assert_int_eq(sr_msg_parse(m, wire, len, 0), SR_OK);
        ck_assert_uint_eq(sr_msg_rcode(m), 4);
        ck_assert_uint_eq(sr_msg_qclass(m), classes[i]);
        ck_assert_uint_eq(sr_msg_rr_count(m), 0);
        sr_msg_free(m);
        sr_free(wire);
    }
    /* IN is converted as before. */
    set_question(&q, w, "www.example.test", SR_TYPE_TXT);
    sr_msg_t *m = convert_q(json, &q);
    ck_assert_uint_eq(sr_msg_rcode(m), 0);
    ck_assert_uint_eq(sr_msg_rr_count(m), 1);
    sr_msg_free(m);
}
END_TEST

START_TEST(test_detail_may_be_null)
{
    uint8_t *wire = NULL;
    size_t len = 0;
    ck_assert_int_eq(sr_doh_json_to_wire("{", 1, &qdef, &wire, &len, NULL, 0), SR_E_FORMERR);
    ck_assert_int_eq(sr_doh_json_to_wire("{\"Status\":0}", 12, &qdef, &wire, &len, NULL, 0), SR_OK);
    sr_free(wire);
}
END_TEST

START_TEST(test_alloc_failures)
{
    /* Every allocation of ours may fail: the result is SR_E_NOMEM and
     * nothing leaks (run under ASan/LSan). */
    static const char json[] = "{\"Status\":0,\"Answer\":[{\"name\":\"example.test\",\"type\":15,"
                               "\"TTL\":1,\"data\":\"10 mail.example.test.\"}]}";
    bool succeeded = false;

    for (long n = 0; n < 64 && !succeeded; n++) {
        uint8_t *wire = NULL;
        size_t len = 0;
        sr_status_t st;

        sr_alloc_fail_after(n);
        st = sr_doh_json_to_wire(json, strlen(json), &qdef, &wire, &len, NULL, 0);
        sr_alloc_fail_after(-1);
        ck_assert_msg(st == SR_OK || st == SR_E_NOMEM, "n=%ld: %d", n, (int)st);
        if (st == SR_OK)
            succeeded = true;
        sr_free(wire);
    }
    ck_assert(succeeded);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("doh_json");
    TCase *tc =
        add_tcase(s, "convert", setup, NULL,
                  TESTS(test_google_mx, test_cloudflare_flags, test_minimal_body, test_nxdomain_soa,
                        test_extended_rcode, test_sections_and_cname_chain, test_owner_case_kept,
                        test_type_as_mnemonic, test_txt_forms, test_txt_long_literal,
                        test_class_not_in_is_notimp));
    tcase_add_loop_test(tc, test_record_type, 0, (int)(sizeof(type_cases) / sizeof(type_cases[0])));
    tc = add_tcase(s, "errors", setup, NULL,
                   TESTS(test_duplicate_key_is_error, test_embedded_nul, test_body_too_large,
                         test_answer_exceeds_64k, test_huge_rdata, test_deep_nesting,
                         test_detail_may_be_null, test_alloc_failures));
    tcase_add_loop_test(tc, test_bad_body, 0, (int)(sizeof(bad_bodies) / sizeof(bad_bodies[0])));
    return run_suite(s);
}
