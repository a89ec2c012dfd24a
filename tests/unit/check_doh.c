/* Unit tests: DoH request encoding (src/lib/doh_url.c): base64url without
 * padding, the GET and JSON API URLs, media type matching. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doh-internal.h"
#include <stubres/wire.h>

#include "check-main.h"

/* RFC 4648 section 10 vectors, unpadded, plus the two characters that
 * differ between base64 and base64url. */
static const struct {
    const char *in;
    size_t len;
    const char *out;
} b64_vectors[] = {
    {"", 0, ""},
    {"f", 1, "Zg"},
    {"fo", 2, "Zm8"},
    {"foo", 3, "Zm9v"},
    {"foob", 4, "Zm9vYg"},
    {"fooba", 5, "Zm9vYmE"},
    {"foobar", 6, "Zm9vYmFy"},
    {"\xfb\xff", 2, "-_8"},      /* base64: "+/8=" */
    {"\xfb\xef\xff", 3, "--__"}, /* base64: "++//" */
    {"\x00\x00\x00\x00", 4, "AAAAAA"},
    {"\xff", 1, "_w"},
};

START_TEST(test_base64url_vectors)
{
    char out[64];
    size_t len = 999;
    const uint8_t *in = (const uint8_t *)b64_vectors[_i].in;

    ck_assert_int_eq(sr_base64url_encode(in, b64_vectors[_i].len, out, sizeof(out), &len), SR_OK);
    ck_assert_str_eq(out, b64_vectors[_i].out);
    ck_assert_uint_eq(len, strlen(b64_vectors[_i].out));
    ck_assert_uint_eq(sr_base64url_len(b64_vectors[_i].len), len);
}
END_TEST

/* The query of RFC 8484 4.1.1: www.example.com A, ID 0, RD. */
static const uint8_t rfc8484_query[] = {0x00, 0x00, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                                        0x00, 0x00, 0x00, 0x03, 0x77, 0x77, 0x77, 0x07, 0x65,
                                        0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f,
                                        0x6d, 0x00, 0x00, 0x01, 0x00, 0x01};
static const char rfc8484_b64[] = "AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB";

START_TEST(test_base64url_rfc8484)
{
    char out[128];
    size_t len = 0;

    ck_assert_int_eq(
        sr_base64url_encode(rfc8484_query, sizeof(rfc8484_query), out, sizeof(out), &len), SR_OK);
    ck_assert_str_eq(out, rfc8484_b64);
    ck_assert_ptr_null(strchr(out, '='));
}
END_TEST

START_TEST(test_base64url_no_room)
{
    char out[8];

    /* "foobar" needs 8 characters plus the NUL */
    ck_assert_int_eq(sr_base64url_encode((const uint8_t *)"foobar", 6, out, 8, NULL), SR_E_NOBUFS);
    ck_assert_int_eq(sr_base64url_encode((const uint8_t *)"fooba", 5, out, 8, NULL), SR_OK);
    ck_assert_str_eq(out, "Zm9vYmE");
    /* exactly enough: no write past out (ASan) */
    ck_assert_int_eq(sr_base64url_encode((const uint8_t *)"foo", 3, out, 5, NULL), SR_OK);
    ck_assert_str_eq(out, "Zm9v");
}
END_TEST

START_TEST(test_base64url_every_length)
{
    /* Lengths 0..600 of every byte value: the alphabet is URL-safe, there
     * is no padding, and the length formula holds. */
    uint8_t in[600];
    char out[1024];

    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (uint8_t)(i * 7 + 3);
    for (size_t n = 0; n <= sizeof(in); n++) {
        size_t len = 0;
        ck_assert_int_eq(sr_base64url_encode(in, n, out, sizeof(out), &len), SR_OK);
        ck_assert_uint_eq(len, sr_base64url_len(n));
        ck_assert_uint_eq(strlen(out), len);
        ck_assert_uint_eq(strspn(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "abcdefghijklmnopqrstuvwxyz0123456789-_"),
                          len);
    }
}
END_TEST

START_TEST(test_url_get)
{
    char *url = NULL;

    ck_assert_int_eq(sr_doh_url_get("https://dns.example.test/dns-query", rfc8484_query,
                                    sizeof(rfc8484_query), &url),
                     SR_OK);
    ck_assert_str_eq(url, "https://dns.example.test/dns-query?dns="
                          "AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB");
    sr_free(url);

    /* a template with a query already gets &dns= */
    ck_assert_int_eq(
        sr_doh_url_get("https://127.0.0.1:8443/q?x=1", rfc8484_query, sizeof(rfc8484_query), &url),
        SR_OK);
    ck_assert_str_eq(url, "https://127.0.0.1:8443/q?x=1&dns="
                          "AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB");
    sr_free(url);
}
END_TEST

/* JSON URL for name (presentation) and type, flags as given. */
static char *json_url(const char *base, const char *name, uint16_t type, bool do_bit, bool cd)
{
    uint8_t wire[SR_NAME_MAX_WIRE];
    size_t wlen = 0;
    char *url = NULL;

    ck_assert_int_eq(sr_name_from_text(name, wire, sizeof(wire), &wlen), SR_OK);
    ck_assert_int_eq(sr_doh_url_json(base, wire, wlen, type, do_bit, cd, &url), SR_OK);
    return url;
}

START_TEST(test_url_json)
{
    char *url;

    url = json_url("https://dns.example.test/resolve", "www.example.test", SR_TYPE_A, false, false);
    ck_assert_str_eq(url, "https://dns.example.test/resolve?name="
                          "www.example.test&type=A");
    sr_free(url);

    url = json_url("https://[::1]:8443/resolve", "mx.example.test", SR_TYPE_MX, true, false);
    ck_assert_str_eq(url, "https://[::1]:8443/resolve?name=mx.example.test"
                          "&type=MX&do=1");
    sr_free(url);

    url = json_url("https://h/resolve?ct=application/dns-json", "example.test", SR_TYPE_AAAA, true,
                   true);
    ck_assert_str_eq(url, "https://h/resolve?ct=application/dns-json&name="
                          "example.test&type=AAAA&do=1&cd=1");
    sr_free(url);

    url = json_url("https://h/resolve", "example.test", SR_TYPE_TXT, false, true);
    ck_assert_str_eq(url, "https://h/resolve?name=example.test&type=TXT&cd=1");
    sr_free(url);

    /* a type without a mnemonic goes as its number */
    url = json_url("https://h/resolve", "example.test", 65280, false, false);
    ck_assert_str_eq(url, "https://h/resolve?name=example.test&type=65280");
    sr_free(url);

    /* the root */
    url = json_url("https://h/resolve", ".", SR_TYPE_NS, false, false);
    ck_assert_str_eq(url, "https://h/resolve?name=.&type=NS");
    sr_free(url);
}
END_TEST

START_TEST(test_url_json_escapes)
{
    /* Bytes outside the unreserved set are percent-encoded (RFC 3986
     * 2.1): a label with a dot in it (\.), a space (\032), '&' and '='
     * (which would end the parameter), '%' itself. */
    char *url =
        json_url("https://h/resolve", "a\\.b.x\\032y.c&d=e%f.test", SR_TYPE_A, false, false);
    ck_assert_str_eq(url, "https://h/resolve?name=a%5C.b.x%5C032y.c%26d%3De"
                          "%25f.test&type=A");
    sr_free(url);
}
END_TEST

START_TEST(test_url_json_bad_name)
{
    static const uint8_t bad[] = {0x05, 'a', 'b'}; /* label runs past */
    char *url = (char *)1;

    ck_assert_int_eq(
        sr_doh_url_json("https://h/r", bad, sizeof(bad), SR_TYPE_A, false, false, &url),
        SR_E_FORMERR);
    ck_assert_ptr_null(url);
}
END_TEST

START_TEST(test_media_type)
{
    ck_assert(sr_doh_media_type_is("application/dns-message", "application/dns-message"));
    ck_assert(sr_doh_media_type_is("Application/DNS-Message", "application/dns-message"));
    ck_assert(sr_doh_media_type_is(" application/json; charset=UTF-8", "application/json"));
    ck_assert(sr_doh_media_type_is("application/json ;charset=utf-8", "application/json"));
    ck_assert(!sr_doh_media_type_is("application/jsonx", "application/json"));
    ck_assert(!sr_doh_media_type_is("text/html", "application/dns-message"));
    ck_assert(!sr_doh_media_type_is("application/dns", "application/dns-message"));
    ck_assert(!sr_doh_media_type_is("", "application/dns-message"));
    ck_assert(!sr_doh_media_type_is(NULL, "application/dns-message"));
}
END_TEST

START_TEST(test_alloc_failures)
{
    char *url = NULL;

    sr_alloc_fail_after(0);
    ck_assert_int_eq(sr_doh_url_get("https://h/q", rfc8484_query, sizeof(rfc8484_query), &url),
                     SR_E_NOMEM);
    sr_alloc_fail_after(1); /* the URL, then the scratch buffer */
    ck_assert_int_eq(sr_doh_url_get("https://h/q", rfc8484_query, sizeof(rfc8484_query), &url),
                     SR_E_NOMEM);
    sr_alloc_fail_after(-1);
    ck_assert_ptr_null(url);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("doh");
    TCase *tc = add_tcase(
        s, "base64url", NULL, NULL,
        TESTS(test_base64url_rfc8484, test_base64url_no_room, test_base64url_every_length));
    tcase_add_loop_test(tc, test_base64url_vectors, 0,
                        (int)(sizeof(b64_vectors) / sizeof(b64_vectors[0])));
    add_tcase(s, "url", NULL, NULL,
              TESTS(test_url_get, test_url_json, test_url_json_escapes, test_url_json_bad_name,
                    test_media_type, test_alloc_failures));
    return run_suite(s);
}
