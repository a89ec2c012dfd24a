/* Unit tests: presentation RDATA -> wire (src/lib/rdata_text.c). The text
 * forms come from dnspython (the vectors' "text" lines, with dnspython's
 * wire form of them) and from the cases below; each is decoded again and
 * must give the same fields. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stubres/wire.h>

#include "testutil.h"
#include "check-main.h"

/* Decode wire RDATA of class IN into fields joined with '|'. */
static void decode(uint16_t type, const uint8_t *rd, size_t rdlen, char *out, size_t cap)
{
    static uint8_t m[70000];
    size_t len = tu_one_rr(m, sizeof(m), type, SR_CLASS_IN, rd, rdlen);
    sr_msg_t *msg = tu_msg_new();
    sr_status_t st = sr_msg_parse(msg, m, len, 0);
    ck_assert_msg(st == SR_OK, "type %u: %s", type, sr_msg_error(msg));
    const sr_rr_t *rr = sr_msg_rr(msg, 0);
    out[0] = '\0';
    for (size_t k = 0; k < rr->field_count; k++) {
        if (k > 0)
            strncat(out, "|", cap - strlen(out) - 1);
        strncat(out, rr->fields[k].value, cap - strlen(out) - 1);
    }
    sr_msg_free(msg);
}

/* dnspython's text of every IN record of the vectors encodes to
 * dnspython's wire form, which decodes to the expected fields. */
START_TEST(test_vectors_round_trip)
{
    size_t n, tested = 0;
    tu_vec_t *v = tu_load_vecs(&n);
    static uint8_t wire[70000];
    char got[8192], want[8192];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < v[i].nrr; j++) {
            const tu_rr_t *rr = &v[i].rrs[j];
            size_t len;
            if (rr->text == NULL)
                continue;
            sr_status_t st =
                sr_rdata_from_text((uint16_t)rr->type, rr->text, wire, sizeof(wire), &len);
            ck_assert_msg(st == SR_OK, "%s %s \"%s\": status %d", v[i].name, rr->type_name,
                          rr->text, st);
            ck_assert_msg(len == rr->wire_len && (len == 0 || memcmp(wire, rr->wire, len) == 0),
                          "%s %s \"%s\": wire differs from dnspython's", v[i].name, rr->type_name,
                          rr->text);
            decode((uint16_t)rr->type, wire, len, got, sizeof(got));
            want[0] = '\0';
            for (size_t k = 0; k < rr->nfields; k++) {
                if (k > 0)
                    strcat(want, "|");
                strcat(want, rr->fields[k].value);
            }
            ck_assert_msg(strcmp(got, want) == 0, "%s %s: \"%s\" != \"%s\"", v[i].name,
                          rr->type_name, got, want);
            tested++;
        }
    }
    ck_assert_uint_gt(tested, 60);
    tu_free_vecs(v, n);
}
END_TEST

struct text_case {
    uint16_t type;
    const char *text;
    const char *fields; /* after text -> wire -> fields */
};

START_TEST(test_every_type)
{
    static const struct text_case ok[] = {
        {SR_TYPE_A, "192.0.2.1", "192.0.2.1"},
        {SR_TYPE_A, "  192.0.2.1\t", "192.0.2.1"},
        {SR_TYPE_NS, "ns1.example.com.", "ns1.example.com"},
        {SR_TYPE_NS, "ns1.example.com", "ns1.example.com"}, /* relative = absolute */
        {SR_TYPE_MD, "m.example", "m.example"},
        {SR_TYPE_MF, "m.example.", "m.example"},
        {SR_TYPE_CNAME, "a\\.b.example.", "a\\.b.example"},
        {SR_TYPE_CNAME, "\\065\\(x\\).", "A(x)"}, /* RFC 1035 5.1 \X */
        {SR_TYPE_CNAME, ".", "."},
        {SR_TYPE_SOA, "ns. host. 1 2 3 4 4294967295", "ns|host|1|2|3|4|4294967295"},
        {SR_TYPE_MB, "mb.example.", "mb.example"},
        {SR_TYPE_MG, "mg.example.", "mg.example"},
        {SR_TYPE_MR, "mr.example.", "mr.example"},
        {SR_TYPE_NULL, "deadBEEF 00", "deadbeef00"},
        {SR_TYPE_NULL, "", ""},
        {SR_TYPE_WKS, "192.0.2.2 tcp 25 21 80", "192.0.2.2|6|21 25 80"},
        {SR_TYPE_WKS, "192.0.2.2 UDP 53", "192.0.2.2|17|53"},
        {SR_TYPE_WKS, "192.0.2.2 6", "192.0.2.2|6|"},
        {SR_TYPE_WKS, "192.0.2.2 6 65535 0", "192.0.2.2|6|0 65535"},
        {SR_TYPE_PTR, "host.example.", "host.example"},
        {SR_TYPE_HINFO, "\"x86 64\" Linux", "x86 64|Linux"},
        {SR_TYPE_HINFO, "\"\" \"\"", "|"},
        {SR_TYPE_MINFO, "a.example. b.example.", "a.example|b.example"},
        {SR_TYPE_MX, "10 mail.example.", "10|mail.example"},
        {SR_TYPE_MX, "0 .", "0|."},
        {SR_TYPE_TXT, "\"hello world\"", "hello world"},
        {SR_TYPE_TXT, "hello world", "helloworld"}, /* two strings */
        {SR_TYPE_TXT, "\"a\\\"b\" \"c\\\\d\" \"\\010\\255\"", "a\"bc\\\\d\\010\\255"},
        {SR_TYPE_TXT, "\"\"", ""},
        {SR_TYPE_TXT, "unquoted\\ blank", "unquoted blank"},
        {SR_TYPE_TXT, "\"semi;colon (paren)\"", "semi;colon (paren)"},
        {SR_TYPE_RP, "admin.example. .", "admin.example|."},
        {SR_TYPE_AFSDB, "1 afs.example.", "1|afs.example"},
        {SR_TYPE_X25, "311061700956", "311061700956"},
        {SR_TYPE_ISDN, "\"150862028003217\" \"004\"", "150862028003217|004"},
        {SR_TYPE_ISDN, "150862028003217", "150862028003217"},
        {SR_TYPE_ISDN, "1 \"\"", "1|"},
        {SR_TYPE_RT, "10 relay.example.", "10|relay.example"},
        {SR_TYPE_AAAA, "2001:db8::1", "2001:db8::1"},
        {SR_TYPE_AAAA, "::FFFF:192.0.2.1", "::ffff:192.0.2.1"},
        {SR_TYPE_SRV, "10 60 5060 sip.example.", "10|60|5060|sip.example"},
        {SR_TYPE_NAPTR, "100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.",
         "100|10|S|SIP+D2U||_sip._udp.example"},
        {SR_TYPE_NAPTR, "1 2 u E2U+sip \"!^.*$!sip:x@y!\" .", "1|2|u|E2U+sip|!^.*$!sip:x@y!|."},
        {SR_TYPE_CERT, "PGP 0 0 AAECAwQFBgcICQ==", "3|0|0|AAECAwQFBgcICQ=="},
        {SR_TYPE_CERT, "1 12345 RSASHA256 AAECAwQF BgcICQo=", "1|12345|8|AAECAwQFBgcICQo="},
        {SR_TYPE_CERT, "URI 65535 255 AAECAwQFBgcICQoL", "253|65535|255|AAECAwQFBgcICQoL"},
        {SR_TYPE_CERT, "ipkix 1 ed25519", "4|1|15|"},
        /* RFC 3597 for known and unknown types. */
        {SR_TYPE_A, "\\# 4 c0000201", "192.0.2.1"},
        {SR_TYPE_MX, "\\# 3 000a 00", "10|."},
        {SR_TYPE_NULL, "\\# 0", ""},
        {65280, "\\# 4 0A000001", "\\# 4 0a000001"},
        {65280, "\\# 0", "\\# 0"},
        {108, "\\# 2 abcd", "\\# 2 abcd"}, /* EUI48: named, not decoded */
        {SR_TYPE_DS, "\\# 5 30390802ab", "12345|8|2|AB"},
        /* The later types (stubres-query(1) OUTPUT), in the other forms a
         * master file or a DoH JSON answer may use. */
        {SR_TYPE_DS, "60485 5 1 2bb183af5f22588179a5 3b0a98631fad1a292118",
         "60485|5|1|2BB183AF5F22588179A53B0A98631FAD1A292118"},
        {SR_TYPE_CDS, "0 0 0 00", "0|0|0|00"},
        {SR_TYPE_DNSKEY, "257 3 15 H8A/LG1oy+Za9601 G75MQIdOXVUfgNnwVGhC5EKL/Ok=",
         "257|3|15|H8A/LG1oy+Za9601G75MQIdOXVUfgNnwVGhC5EKL/Ok="},
        {SR_TYPE_CDNSKEY, "0 3 0 AA==", "0|3|0|AA=="},
        {SR_TYPE_RRSIG, "a 15 3 300 1798761600 20261201000000 49484 sig.test. AAEC",
         "A|15|3|300|20270101000000|20261201000000|49484|sig.test|AAEC"},
        {SR_TYPE_RRSIG, "TYPE65280 8 0 0 21060207062815 19700101000000 0 . AA==",
         "TYPE65280|8|0|0|21060207062815|19700101000000|0|.|AA=="},
        {SR_TYPE_RRSIG, "NS 8 0 0 21060207062816 19691231235959 0 . AA==",
         "NS|8|0|0|19700101000000|21060207062815|0|.|AA=="}, /* modulo 2^32 */
        {SR_TYPE_NSEC, "host.example. a mx rrsig nsec type1234 65535",
         "host.example|A MX RRSIG NSEC TYPE1234 TYPE65535"},
        {SR_TYPE_NSEC, "host.example. A A", "host.example|A"},
        {SR_TYPE_NSEC, "host.example.", "host.example|"},
        {SR_TYPE_NSEC3, "1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr A RRSIG",
         "1|1|12|AABBCCDD|2T7B4G4VSA5SMI47K61MV5BV1A22BOJR|A RRSIG"},
        {SR_TYPE_NSEC3, "1 0 0 - VS", "1|0|0|-|VS|"},
        {SR_TYPE_NSEC3PARAM, "1 0 0 -", "1|0|0|-"},
        {SR_TYPE_TLSA, "3 1 1 0c72ac70 b745ac19", "3|1|1|0C72AC70B745AC19"},
        {SR_TYPE_SSHFP, "4 2 123456789abcdef6", "4|2|123456789ABCDEF6"},
        {SR_TYPE_URI, "10 1 \"ftp://ftp1.example.com/public\"",
         "10|1|\"ftp://ftp1.example.com/public\""},
        {SR_TYPE_URI, "10 1 ftp://x", "10|1|\"ftp://x\""},
        {SR_TYPE_CAA, "0 issue \"ca.example.net; account=230123\"",
         "0|issue|\"ca.example.net; account=230123\""},
        {SR_TYPE_CAA, "128 tbs \"\\\"\\\\\\000\"", "128|tbs|\"\\\"\\\\\\000\""},
        {SR_TYPE_CAA, "0 issue \"\"", "0|issue|\"\""},
        {SR_TYPE_CAA, "0 issue letsencrypt.org", "0|issue|\"letsencrypt.org\""},
        {SR_TYPE_LOC, "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000.00m 10.00m",
         "52 22 23.000 N|4 53 32.000 E|-2.00m|0.00m|10000m|10m"},
        {SR_TYPE_LOC, "42 21 54 n 71 06 18 w -24m 30m",
         "42 21 54.000 N|71 6 18.000 W|-24.00m|30m|10000m|10m"},
        {SR_TYPE_LOC, "0 S 180 W 0", "0 0 0.000 N|180 0 0.000 W|0.00m|1m|10000m|10m"},
        {SR_TYPE_LOC, "1 2 3.5 N 1 E 0 0.5 25m 0.01",
         "1 2 3.500 N|1 0 0.000 E|0.00m|0.50m|20m|0.01m"},
        {SR_TYPE_DNAME, "target.example.net.", "target.example.net"},
        {SR_TYPE_OPENPGPKEY, "mQENBFVH m5sB", "mQENBFVHm5sB"},
        {SR_TYPE_ZONEMD, "2018031500 1 1 FEBE3D4CE2EC2FFA", "2018031500|1|1|FEBE3D4CE2EC2FFA"},
        {SR_TYPE_SVCB, "0 www.example.", "0|www.example|"},
        {SR_TYPE_HTTPS, "1 . port=\"443\" mandatory=\"port,alpn\" alpn=h3,h2 no-default-alpn",
         "1|.|mandatory=alpn,port alpn=\"h3,h2\" no-default-alpn port=443"},
        {SR_TYPE_SVCB, "1 . ipv6hint=\"2001:db8::1,::1\" ipv4hint=192.0.2.1 ech=AAEC",
         "1|.|ipv4hint=192.0.2.1 ech=AAEC ipv6hint=2001:db8::1,::1"},
        {SR_TYPE_SVCB, "1 . key65535 key7=\"/q{?dns}\" ohttp key1=\"\\000\" key9=\"a b\"",
         "1|.|key1=\"\\000\" dohpath=\"/q{?dns}\" ohttp key9=\"a b\" key65535"},
        {SR_TYPE_SVCB, "1 . key1=\"\\002h2\"", "1|.|alpn=\"h2\""},
        {SR_TYPE_SVCB, "1 . alpn=\"a\\\\,b,c\\\\\\\\d\"", "1|.|alpn=\"a\\\\,b,c\\\\\\\\d\""},
        {SR_TYPE_SVCB, "1 . dohpath=/dns-query{?dns}", "1|.|dohpath=\"/dns-query{?dns}\""},
    };
    uint8_t wire[9000];
    char got[1024];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        size_t len;
        sr_status_t st = sr_rdata_from_text(ok[i].type, ok[i].text, wire, sizeof(wire), &len);
        ck_assert_msg(st == SR_OK, "%u \"%s\": status %d", ok[i].type, ok[i].text, st);
        decode(ok[i].type, wire, len, got, sizeof(got));
        ck_assert_msg(strcmp(got, ok[i].fields) == 0, "%u \"%s\": \"%s\" != \"%s\"", ok[i].type,
                      ok[i].text, got, ok[i].fields);
    }
}
END_TEST

START_TEST(test_errors)
{
    static const struct {
        uint16_t type;
        const char *text;
    } bad[] = {
        {SR_TYPE_A, ""},
        {SR_TYPE_A, "192.0.2"},
        {SR_TYPE_A, "192.0.2.1 extra"},
        {SR_TYPE_A, "\"192.0.2.1"},
        {SR_TYPE_AAAA, "192.0.2.1"},
        {SR_TYPE_MX, "10"},
        {SR_TYPE_MX, "65536 mail."},
        {SR_TYPE_MX, "-1 mail."},
        {SR_TYPE_MX, "ten mail."},
        {SR_TYPE_MX, "10 a..b."},
        {SR_TYPE_MX, "10 @"},
        {SR_TYPE_NS, "m\xc3\xbcnchen.de."},
        {SR_TYPE_SOA, "ns. host. 1 2 3 4"},
        {SR_TYPE_SOA, "ns. host. 1 2 3 4 4294967296"},
        {SR_TYPE_TXT, ""},
        {SR_TYPE_TXT, "\"unterminated"},
        {SR_TYPE_TXT, "\"bad escape \\25\""},
        {SR_TYPE_TXT, "\"\\256\""},
        {SR_TYPE_HINFO, "one"},
        {SR_TYPE_HINFO, "one two three"},
        {SR_TYPE_ISDN, "a b c"},
        {SR_TYPE_WKS, "192.0.2.1"},
        {SR_TYPE_WKS, "192.0.2.1 sctp 80"},
        {SR_TYPE_WKS, "192.0.2.1 6 65536"},
        {SR_TYPE_WKS, "192.0.2.1 6 http"},
        {SR_TYPE_NULL, "abc"},
        {SR_TYPE_NULL, "zz"},
        {SR_TYPE_CERT, "PGP 0 0 AAECAwQFBgcICQ="}, /* not a whole quantum */
        {SR_TYPE_CERT, "PGP 0 0 AAEC=wQF"},        /* '=' inside */
        {SR_TYPE_CERT, "PGP 0 0 AAE*"},            /* not base64 */
        {SR_TYPE_CERT, "NOPE 0 0 AAECAwQF"},
        {SR_TYPE_CERT, "PGP 0 BOGUSALG AAECAwQF"},
        {SR_TYPE_CERT, "PGP 65536 0 AAECAwQF"},
        {SR_TYPE_SRV, "1 2 3"},
        {SR_TYPE_NAPTR, "1 2 \"a\" \"b\" \"c\""},
        {65280, "0a000001"},     /* unknown types: only \# */
        {65280, "\\# 4 0a0000"}, /* length disagrees */
        {65280, "\\# 4 0a00000102"},
        {65280, "\\# 1 0"}, /* odd digits */
        {65280, "\\#"},
        {65280, "\\# x"},
        {65280, "\\# 65536"},
        {SR_TYPE_A, "\\# 4 \"c0000201\""},
        /* RFC 3597 5: generic RDATA of a known type must be valid for it
         * (found by fuzz_rdata: RT from "\# 0"). */
        {SR_TYPE_RT, "\\# 0"},
        {SR_TYPE_MX, "\\# 2 000a"},
        {SR_TYPE_A, "\\# 3 c00002"},
        {SR_TYPE_WKS, "\\# 4 deadbeef"},
        {SR_TYPE_TXT, "\\# 0"},
        {SR_TYPE_TXT, "\\# 2 0561"},
        {SR_TYPE_SOA, "\\# 3 000000"},
        {SR_TYPE_NS, "\\# 2 0161"},
        /* OPT has no master-file form, not even RFC 3597's (RFC 6891
         * 6.1.1); found by fuzz_rdata: OPT from "\# 0". */
        {SR_TYPE_OPT, "\\# 0"},
        {SR_TYPE_OPT, "\\# 4 000a0000"},
        {SR_TYPE_OPT, ""},
        /* The later types. */
        {SR_TYPE_DS, "1 2 3 abc"},
        {SR_TYPE_DS, "65536 2 3 ab"},
        {SR_TYPE_RRSIG, "NOPE 8 2 60 1 2 3 . AA=="},
        {SR_TYPE_RRSIG, "A 8 2 60 20261301000000 2 3 . AA=="}, /* month 13 */
        {SR_TYPE_RRSIG, "A 8 2 60 20260230000000 2 3 . AA=="}, /* 30 February */
        {SR_TYPE_RRSIG, "A 8 2 60 2026120100000x 2 3 . AA=="},
        {SR_TYPE_RRSIG, "A 8 2 60 4294967296 2 3 . AA=="},
        {SR_TYPE_NSEC, "next. A NOTATYPE"},
        {SR_TYPE_NSEC3, "1 0 0 - 0"},    /* 5 bits: no whole byte */
        {SR_TYPE_NSEC3, "1 0 0 - VT"},   /* unused bits not zero */
        {SR_TYPE_NSEC3, "1 0 0 - W0"},   /* not base32hex */
        {SR_TYPE_NSEC3, "1 0 0 abc VS"}, /* odd salt digits */
        {SR_TYPE_NSEC3, "1 0 0 \"-\" VS"},
        {SR_TYPE_NSEC3PARAM, "1 0 0"},
        {SR_TYPE_CAA, "0 is-sue \"x\""},
        {SR_TYPE_CAA, "0 \"issue\" \"x\""},
        {SR_TYPE_CAA, "0 issue"},
        {SR_TYPE_CAA, "0 issue \"a\" \"b\""},
        {SR_TYPE_URI, "10 1 \"\""},
        {SR_TYPE_URI, "10 1"},
        {SR_TYPE_LOC, "52 22 23 N"},
        {SR_TYPE_LOC, "91 N 0 E 0"},
        {SR_TYPE_LOC, "90 0 0.001 N 0 E 0"},
        {SR_TYPE_LOC, "0 N 180 0 0.001 E 0"},
        {SR_TYPE_LOC, "0 60 N 0 E 0"},
        {SR_TYPE_LOC, "0 0 60 N 0 E 0"},
        {SR_TYPE_LOC, "0 0 1.0001 N 0 E 0"},
        {SR_TYPE_LOC, "0 0 0 0 N 0 E 0"},
        {SR_TYPE_LOC, "0 N 0 E -100000.01m"},
        {SR_TYPE_LOC, "0 N 0 E 42849672.96m"},
        {SR_TYPE_LOC, "0 N 0 E 0 90000001m"},
        {SR_TYPE_LOC, "0 N 0 E 0 1m 1m 1m 1m"},
        {SR_TYPE_LOC, "0 X 0 E 0"},
        {SR_TYPE_SVCB, "1"},
        {SR_TYPE_SVCB, "1 . port=443 port=444"},
        {SR_TYPE_SVCB, "1 . key3=\"\" port=1"},
        {SR_TYPE_SVCB, "1 . port=65536"},
        {SR_TYPE_SVCB, "1 . port"},
        {SR_TYPE_SVCB, "1 . port="},
        {SR_TYPE_SVCB, "1 . port= 443"},
        {SR_TYPE_SVCB, "1 . alpn=h2,"},
        {SR_TYPE_SVCB, "1 . alpn=\"h2\\\\\""}, /* a lone list escape at the end */
        {SR_TYPE_SVCB, "1 . no-default-alpn=x"},
        {SR_TYPE_SVCB, "1 . mandatory=port,port"},
        {SR_TYPE_SVCB, "1 . mandatory=mandatory"},
        {SR_TYPE_SVCB, "1 . mandatory=nope"},
        {SR_TYPE_SVCB, "1 . ipv4hint=2001:db8::1"},
        {SR_TYPE_SVCB, "1 . ipv6hint=192.0.2.1"},
        {SR_TYPE_SVCB, "1 . ech=\"\""},
        {SR_TYPE_SVCB, "1 . ech=AAE"},
        {SR_TYPE_SVCB, "1 . key65536=x"},
        {SR_TYPE_SVCB, "1 . unknown=x"},
        {SR_TYPE_SVCB, "1 . \"alpn\"=h2"},
        {SR_TYPE_SVCB, "1 . port=\"443"},
        /* generic RDATA of a later type must be valid for it */
        {SR_TYPE_NSEC, "\\# 3 000000"},
        {SR_TYPE_CAA, "\\# 2 0000"},
    };
    uint8_t wire[512];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len;
        sr_status_t st = sr_rdata_from_text(bad[i].type, bad[i].text, wire, sizeof(wire), &len);
        ck_assert_msg(st == SR_E_FORMERR, "%u \"%s\": status %d", bad[i].type, bad[i].text, st);
    }
    size_t len;
    ck_assert_int_eq(sr_rdata_from_text(1, NULL, wire, sizeof(wire), &len), SR_E_INVAL);
}
END_TEST

/* Too small an output buffer, at every size (exact-size heap buffers). */
START_TEST(test_small_buffers)
{
    static const struct {
        uint16_t type;
        const char *text;
    } cases[] = {
        {SR_TYPE_SOA, "ns.example. host.example. 1 2 3 4 5"},
        {SR_TYPE_TXT, "\"abc\" \"def\""},
        {SR_TYPE_WKS, "192.0.2.2 6 21 25 80"},
        {SR_TYPE_CERT, "PGP 0 0 AAECAwQFBgcICQ=="},
        {65280, "\\# 4 0a000001"},
        {SR_TYPE_RRSIG, "A 15 3 300 20270101000000 20261201000000 49484 sig.test. AAEC"},
        {SR_TYPE_NSEC3, "1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr A RRSIG"},
        {SR_TYPE_CAA, "0 issue \"letsencrypt.org\""},
        {SR_TYPE_LOC, "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m"},
        {SR_TYPE_HTTPS, "1 . alpn=h2,h3 port=443 ipv4hint=192.0.2.1 ech=AAEC key9=x"},
        {SR_TYPE_URI, "10 1 \"ftp://x\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t full[512];
        size_t len, l2;
        ck_assert_int_eq(sr_rdata_from_text(cases[i].type, cases[i].text, full, sizeof(full), &len),
                         SR_OK);
        for (size_t cap = 0; cap < len; cap++) {
            uint8_t *b = malloc(cap ? cap : 1);
            ck_assert_ptr_nonnull(b);
            ck_assert_int_eq(sr_rdata_from_text(cases[i].type, cases[i].text, b, cap, &l2),
                             SR_E_NOBUFS);
            free(b);
        }
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rdata_text");
    add_tcase(s, "core", NULL, NULL,
              TESTS(test_vectors_round_trip, test_every_type, test_errors, test_small_buffers));
    return run_suite(s);
}
