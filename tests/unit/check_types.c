/* Unit tests: type and RCODE mnemonics, reverse names (src/lib/types.c). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stubres/wire.h>

#include "check-main.h"

START_TEST(test_type_names)
{
    static const struct {
        uint16_t type;
        const char *name;
    } known[] = {
        {1, "A"},       {2, "NS"},     {3, "MD"},       {4, "MF"},    {5, "CNAME"},  {6, "SOA"},
        {7, "MB"},      {8, "MG"},     {9, "MR"},       {10, "NULL"}, {11, "WKS"},   {12, "PTR"},
        {13, "HINFO"},  {14, "MINFO"}, {15, "MX"},      {16, "TXT"},  {17, "RP"},    {18, "AFSDB"},
        {19, "X25"},    {20, "ISDN"},  {21, "RT"},      {28, "AAAA"}, {33, "SRV"},   {35, "NAPTR"},
        {37, "CERT"},   {39, "DNAME"}, {41, "OPT"},     {43, "DS"},   {46, "RRSIG"}, {47, "NSEC"},
        {48, "DNSKEY"}, {50, "NSEC3"}, {52, "TLSA"},    {64, "SVCB"}, {65, "HTTPS"}, {99, "SPF"},
        {252, "AXFR"},  {255, "ANY"},  {257, "CAA"},    {29, "LOC"},  {44, "SSHFP"}, {32769, "DLV"},
        {101, "UID"},   {102, "GID"},  {103, "UNSPEC"},
    };
    char buf[16];
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        ck_assert_str_eq(sr_type_name(known[i].type, buf), known[i].name);
        ck_assert_int_eq(sr_type_from_name(known[i].name), known[i].type);
    }
    /* Every type has a name that reads back as that type. */
    for (unsigned t = 0; t <= 65535; t++) {
        const char *n = sr_type_name((uint16_t)t, buf);
        ck_assert_int_eq(sr_type_from_name(n), (int)t);
    }
    ck_assert_str_eq(sr_type_name(65280, buf), "TYPE65280");
    ck_assert_str_eq(sr_type_name(0, buf), "TYPE0");
    /* 100 is UINFO to IANA (reserved) and REVLOOKUP to the reference; its
     * reserved neighbours 101-103 (in known[] above) have their IANA names,
     * as the record_type_name of stubres-query(1) asks. */
    ck_assert_str_eq(sr_type_name(100, buf), "TYPE100");
}
END_TEST

START_TEST(test_type_from_name)
{
    ck_assert_int_eq(sr_type_from_name("mx"), 15);
    ck_assert_int_eq(sr_type_from_name("Aaaa"), 28);
    ck_assert_int_eq(sr_type_from_name("nsap-ptr"), 23);
    ck_assert_int_eq(sr_type_from_name("REVLOOKUP"), 100);
    ck_assert_int_eq(sr_type_from_name("RevLookup"), 100);
    ck_assert_int_eq(sr_type_from_name("TYPE65280"), 65280);
    ck_assert_int_eq(sr_type_from_name("type1"), 1);
    ck_assert_int_eq(sr_type_from_name("15"), 15);
    ck_assert_int_eq(sr_type_from_name("0"), 0);
    ck_assert_int_eq(sr_type_from_name("65535"), 65535);
    ck_assert_int_eq(sr_type_from_name("*"), 255);
    static const char *const bad[] = {
        "",         "TYPE",   "TYPE65536", "65536", "-1",
        "1x",       "TYPE-1", "AA",        "A ",    "99999999999999999999",
        "TYPE0x10",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(sr_type_from_name(bad[i]) == -1, "\"%s\"", bad[i]);
    ck_assert_int_eq(sr_type_from_name(NULL), -1);
}
END_TEST

START_TEST(test_rcode_names)
{
    static const char *const names[] = {
        "NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
        "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE",
    };
    char buf[16];
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ck_assert_str_eq(sr_rcode_name(i, buf), names[i]);
        ck_assert_int_eq(sr_rcode_from_name(names[i]), (int)i);
    }
    ck_assert_str_eq(sr_rcode_name(16, buf), "BADVERS");
    ck_assert_str_eq(sr_rcode_name(17, buf), "BADKEY");
    ck_assert_str_eq(sr_rcode_name(23, buf), "BADCOOKIE");
    ck_assert_str_eq(sr_rcode_name(12, buf), "RCODE12");
    ck_assert_str_eq(sr_rcode_name(4095, buf), "RCODE4095");
    ck_assert_int_eq(sr_rcode_from_name("nxdomain"), 3);
    ck_assert_int_eq(sr_rcode_from_name("BADSIG"), 16);
    ck_assert_int_eq(sr_rcode_from_name("badvers"), 16);
    ck_assert_int_eq(sr_rcode_from_name("RCODE12"), 12);
    ck_assert_int_eq(sr_rcode_from_name("4095"), 4095);
    ck_assert_int_eq(sr_rcode_from_name("4096"), -1);
    ck_assert_int_eq(sr_rcode_from_name("RCODE"), -1);
    ck_assert_int_eq(sr_rcode_from_name("NOPE"), -1);
    ck_assert_int_eq(sr_rcode_from_name(NULL), -1);
    for (unsigned r = 0; r < 4096; r++)
        ck_assert_int_eq(sr_rcode_from_name(sr_rcode_name(r, buf)), (int)r);
}
END_TEST

START_TEST(test_reverse_names)
{
    char out[128];
    ck_assert_int_eq(sr_reverse_name("192.0.2.1", out, sizeof(out)), SR_OK);
    ck_assert_str_eq(out, "1.2.0.192.in-addr.arpa");
    ck_assert_int_eq(sr_reverse_name("10.0.0.255", out, sizeof(out)), SR_OK);
    ck_assert_str_eq(out, "255.0.0.10.in-addr.arpa");
    ck_assert_int_eq(sr_reverse_name("2001:db8::567:89ab", out, sizeof(out)), SR_OK);
    ck_assert_str_eq(out,
                     "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    ck_assert_int_eq(sr_reverse_name("::1", out, sizeof(out)), SR_OK);
    ck_assert_str_eq(out,
                     "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa");
    ck_assert_int_eq(sr_reverse_name("::ffff:192.0.2.1", out, sizeof(out)), SR_OK);
    ck_assert_str_eq(out,
                     "1.0.2.0.0.0.0.c.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa");
    static const char *const bad[] = {
        "",           "192.0.2",    "192.0.2.256",  "192.0.2.1.", "example.com", "2001:db8::g",
        "1.2.3.4/24", " 192.0.2.1", "fe80::1%eth0",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(sr_reverse_name(bad[i], out, sizeof(out)) == SR_E_BAD_ADDRESS, "\"%s\"",
                      bad[i]);
    ck_assert_int_eq(sr_reverse_name(NULL, out, sizeof(out)), SR_E_BAD_ADDRESS);
    /* "1.2.0.192.in-addr.arpa" is 22 chars. */
    ck_assert_int_eq(sr_reverse_name("192.0.2.1", out, 22), SR_E_NOBUFS);
    ck_assert_int_eq(sr_reverse_name("192.0.2.1", out, 23), SR_OK);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("types");
    add_tcase(s, "core", NULL, NULL,
              TESTS(test_type_names, test_type_from_name, test_rcode_names, test_reverse_names));
    return run_suite(s);
}
