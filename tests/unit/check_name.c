/* Unit tests: domain names (src/lib/name.c). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stubres/wire.h>

#include "testutil.h"
#include "check-main.h"

/* Text -> wire, compared with the expected wire in hex. */
static void from_text_ok(const char *text, const char *hex)
{
    uint8_t w[SR_NAME_MAX_WIRE], want[SR_NAME_MAX_WIRE + 8];
    size_t len = 0;
    sr_status_t st = sr_name_from_text(text, w, sizeof(w), &len);
    ck_assert_msg(st == SR_OK, "\"%s\": status %d", text, st);
    size_t n = tu_unhex(hex, want, sizeof(want));
    ck_assert_msg(len == n && memcmp(w, want, n) == 0, "\"%s\": wrong wire", text);
}

static sr_status_t from_text(const char *text)
{
    uint8_t w[SR_NAME_MAX_WIRE];
    size_t len;
    return sr_name_from_text(text, w, sizeof(w), &len);
}

/* Wire (hex) -> text. */
static sr_status_t to_text(const char *hex, char *out, size_t cap)
{
    uint8_t w[512];
    size_t n = tu_unhex(hex, w, sizeof(w));
    return sr_name_to_text(w, n, out, cap);
}

/* A name of labels of the given lengths ('x' bytes), as text. */
static void long_text(char *out, const int *lens, int n)
{
    char *p = out;
    for (int i = 0; i < n; i++) {
        if (i > 0)
            *p++ = '.';
        memset(p, 'x', (size_t)lens[i]);
        p += lens[i];
    }
    *p = '\0';
}

START_TEST(test_from_text)
{
    from_text_ok("www.example.com", "03777777 076578616d706c65 03636f6d 00");
    from_text_ok("www.example.com.", "03777777 076578616d706c65 03636f6d 00");
    from_text_ok("WWW.Example.COM", "03575757 074578616d706c65 03434f4d 00");
    from_text_ok(".", "00");
    from_text_ok("", "00");
    from_text_ok("a\\.b.c", "03612e62 0163 00");
    from_text_ok("a\\\\b", "03615c62 00");
    from_text_ok("\\065\\000\\255", "03410 0ff 00");
    from_text_ok("\\046", "012e 00");
    from_text_ok("_sip._udp.x", "045f736970 045f756470 0178 00");
    from_text_ok("a b", "03612062 00"); /* blanks are bytes here */
}
END_TEST

START_TEST(test_from_text_errors)
{
    static const char *const bad[] = {
        "a..b", ".a",   "..",    "a.b..", "\\",    "a\\",
        "\\x",  "\\25", "\\2a5", "\\256", "\\999", "m\xc3\xbcnchen.de",
        "\x80",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(from_text(bad[i]) == SR_E_INVAL, "\"%s\" accepted", bad[i]);
    ck_assert_int_eq(sr_name_from_text(NULL, NULL, 0, NULL), SR_E_INVAL);

    /* Labels up to 63 bytes, names up to 255 in wire form. */
    char t[400];
    const int l63[] = {63}, l64[] = {64};
    const int n255[] = {63, 63, 63, 61}, n256[] = {63, 63, 63, 62};
    long_text(t, l63, 1);
    ck_assert_int_eq(from_text(t), SR_OK);
    long_text(t, l64, 1);
    ck_assert_int_eq(from_text(t), SR_E_INVAL);
    long_text(t, n255, 4);
    ck_assert_int_eq(from_text(t), SR_OK);
    strcat(t, ".");
    ck_assert_int_eq(from_text(t), SR_OK);
    long_text(t, n256, 4);
    ck_assert_int_eq(from_text(t), SR_E_INVAL);
    /* 127 one-byte labels: 255; 128: 257. */
    char *p = t;
    for (int i = 0; i < 127; i++) {
        *p++ = 'a';
        *p++ = '.';
    }
    *p = '\0';
    ck_assert_int_eq(from_text(t), SR_OK);
    strcpy(p, "a");
    ck_assert_int_eq(from_text(t), SR_E_INVAL);
    /* An escape counts as one byte: 63 of \255 make a full label. */
    p = t;
    for (int i = 0; i < 63; i++)
        p += sprintf(p, "\\255");
    ck_assert_int_eq(from_text(t), SR_OK);
    strcpy(p, "a");
    ck_assert_int_eq(from_text(t), SR_E_INVAL);

    /* Too small an output buffer. */
    uint8_t w[4];
    size_t len;
    ck_assert_int_eq(sr_name_from_text("abcd", w, sizeof(w), &len), SR_E_NOBUFS);
    ck_assert_int_eq(sr_name_from_text("abc", w, sizeof(w), &len), SR_E_NOBUFS);
    ck_assert_int_eq(sr_name_from_text("ab", w, sizeof(w), &len), SR_OK);
    ck_assert_uint_eq(len, 4);
}
END_TEST

START_TEST(test_to_text)
{
    char out[SR_NAME_MAX_TEXT];
    ck_assert_int_eq(to_text("03777777 076578616d706c65 03636f6d 00", out, sizeof(out)), SR_OK);
    ck_assert_str_eq(out, "www.example.com");
    ck_assert_int_eq(to_text("00", out, sizeof(out)), SR_OK);
    ck_assert_str_eq(out, ".");
    /* the man pages: '.' -> \., '\' -> \\, bytes outside 0x21-0x7E -> \DDD. */
    ck_assert_int_eq(to_text("06 2e5c20217e7f 02 00ff 00", out, sizeof(out)), SR_OK);
    ck_assert_str_eq(out, "\\.\\\\\\032!~\\127.\\000\\255");
    ck_assert_int_eq(to_text("05 22283b4024 00", out, sizeof(out)), SR_OK);
    ck_assert_str_eq(out, "\"(;@$");

    /* The buffer: exactly enough, one short. */
    ck_assert_int_eq(to_text("03616263 00", out, 4), SR_OK);
    ck_assert_str_eq(out, "abc");
    ck_assert_int_eq(to_text("03616263 00", out, 3), SR_E_NOBUFS);
    ck_assert_int_eq(to_text("00", out, 1), SR_E_NOBUFS);

    /* Malformed wire names. */
    static const char *const bad[] = {
        "",               /* nothing */
        "03616263",       /* no root label */
        "03616263 00 00", /* bytes after the root */
        "05616263 00",    /* label past the end */
        "c00c",           /* a pointer */
        "40",             /* label type 01 */
        "80",             /* label type 10 */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(to_text(bad[i], out, sizeof(out)) == SR_E_FORMERR, "%s", bad[i]);
    /* 256 bytes. */
    uint8_t w[300];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < 4; i++)
        w[i * 64] = 63;
    ck_assert_int_eq(sr_name_to_text(w, 256, out, sizeof(out)), SR_E_FORMERR);
    w[192] = 62;
    ck_assert_int_eq(sr_name_to_text(w, 255, out, sizeof(out)), SR_E_FORMERR);
    w[192] = 61;
    ck_assert_int_eq(sr_name_to_text(w, 255, out, sizeof(out)), SR_OK);
}
END_TEST

/* The longest text there is fits SR_NAME_MAX_TEXT. */
START_TEST(test_max_text)
{
    uint8_t w[SR_NAME_MAX_WIRE];
    char out[SR_NAME_MAX_TEXT];
    memset(w, 0xff, sizeof(w));
    w[0] = 63;
    w[64] = 63;
    w[128] = 63;
    w[192] = 61;
    w[254] = 0;
    ck_assert_int_eq(sr_name_to_text(w, sizeof(w), out, sizeof(out)), SR_OK);
    ck_assert_uint_eq(strlen(out), 4 * 250 + 3);
}
END_TEST

/* text -> wire -> text gives the text back for names in canonical
 * presentation; wire -> text -> wire gives every wire name back. */
START_TEST(test_round_trip)
{
    static const char *const texts[] = {
        "a\\.b.c", "\\\\", "x\\000y.\\255", "\\032sp", "WwW.ExAmPlE", ".", "a\"b(c)d;e@f$g",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        uint8_t w[SR_NAME_MAX_WIRE];
        char out[SR_NAME_MAX_TEXT];
        size_t len;
        ck_assert_int_eq(sr_name_from_text(texts[i], w, sizeof(w), &len), SR_OK);
        ck_assert_int_eq(sr_name_to_text(w, len, out, sizeof(out)), SR_OK);
        ck_assert_str_eq(out, texts[i]);
    }
    /* Every byte value in a label. */
    uint8_t w[SR_NAME_MAX_WIRE], w2[SR_NAME_MAX_WIRE];
    char out[SR_NAME_MAX_TEXT];
    for (int b = 0; b < 256; b += 2) {
        size_t len;
        w[0] = 2;
        w[1] = (uint8_t)b;
        w[2] = (uint8_t)(b + 1);
        w[3] = 0;
        ck_assert_int_eq(sr_name_to_text(w, 4, out, sizeof(out)), SR_OK);
        ck_assert_int_eq(sr_name_from_text(out, w2, sizeof(w2), &len), SR_OK);
        ck_assert_uint_eq(len, 4);
        ck_assert_mem_eq(w, w2, 4);
    }
}
END_TEST

static sr_status_t unpack_hex(const char *hex, size_t *off, char *text)
{
    uint8_t pkt[512], w[SR_NAME_MAX_WIRE];
    size_t n = tu_unhex(hex, pkt, sizeof(pkt)), wl;
    uint8_t *exact = malloc(n);
    ck_assert_ptr_nonnull(exact);
    memcpy(exact, pkt, n);
    sr_status_t st = sr_name_unpack(exact, n, off, w, &wl);
    if (st == SR_OK)
        ck_assert_int_eq(sr_name_to_text(w, wl, text, SR_NAME_MAX_TEXT), SR_OK);
    free(exact);
    return st;
}

START_TEST(test_unpack)
{
    /* 12 header bytes, then at 12: "example.com", at 25: "www" + ->12,
     * at 31: ->25, at 33: root. */
    const char *pkt = "000000000000000000000000"
                      "076578616d706c65 03636f6d 00"
                      "03777777 c00c"
                      "c019"
                      "00";
    char text[SR_NAME_MAX_TEXT];
    size_t off = 12;
    ck_assert_int_eq(unpack_hex(pkt, &off, text), SR_OK);
    ck_assert_str_eq(text, "example.com");
    ck_assert_uint_eq(off, 25);
    ck_assert_int_eq(unpack_hex(pkt, &off, text), SR_OK);
    ck_assert_str_eq(text, "www.example.com");
    ck_assert_uint_eq(off, 31); /* past the pointer, not past its target */
    ck_assert_int_eq(unpack_hex(pkt, &off, text), SR_OK);
    ck_assert_str_eq(text, "www.example.com");
    ck_assert_uint_eq(off, 33);
    ck_assert_int_eq(unpack_hex(pkt, &off, text), SR_OK);
    ck_assert_str_eq(text, ".");
    ck_assert_uint_eq(off, 34);
    /* At the end of the packet there is nothing to read. */
    ck_assert_int_eq(unpack_hex(pkt, &off, text), SR_E_MSG_TOO_SHORT);
    off = 1000;
    ck_assert_int_eq(unpack_hex(pkt, &off, text), SR_E_MSG_TOO_SHORT);
    /* A name may start anywhere, even inside the header, as long as its
     * pointers do not go there. */
    off = 11;
    ck_assert_int_eq(unpack_hex(pkt, &off, text), SR_OK);
    ck_assert_str_eq(text, ".");
}
END_TEST

START_TEST(test_unpack_pointer_rules)
{
    const char *hdr = "000000000000000000000000";
    char pkt[256], text[SR_NAME_MAX_TEXT];
    size_t off;
    struct {
        const char *body;
        size_t start;
        sr_status_t want;
        const char *why;
    } cases[] = {
        {"c00c", 12, SR_E_FORMERR, "pointer to itself"},
        {"c00e 00", 12, SR_E_FORMERR, "forward pointer"},
        {"00 c00e", 13, SR_E_FORMERR, "forward pointer, later"},
        {"c00b", 12, SR_E_FORMERR, "pointer into the header"},
        {"0161 c00c", 12, SR_E_FORMERR, "pointer to its own start"},
        {"0161 00 c00c", 15, SR_OK, "pointer backwards"},
        {"0161 c00f 0162 c00c", 16, SR_E_FORMERR, "loop through two pointers"},
        {"00 ff00", 13, SR_E_FORMERR, "pointer with high offset bits, forward"},
        {"0161 00 c0", 15, SR_E_MSG_TOO_SHORT, "half a pointer"},
        {"4161", 12, SR_E_FORMERR, "label type 01"},
        {"8161", 12, SR_E_FORMERR, "label type 10"},
        {"03616263", 12, SR_E_MSG_TOO_SHORT, "no root"},
        {"05616263", 12, SR_E_MSG_TOO_SHORT, "label past the end"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(pkt, sizeof(pkt), "%s %s", hdr, cases[i].body);
        off = cases[i].start;
        sr_status_t st = unpack_hex(pkt, &off, text);
        ck_assert_msg(st == cases[i].want, "%s: status %d", cases[i].why, st);
    }
}
END_TEST

START_TEST(test_equal)
{
    uint8_t a[SR_NAME_MAX_WIRE], b[SR_NAME_MAX_WIRE];
    size_t al, bl;
    ck_assert_int_eq(sr_name_from_text("WWW.Example.COM", a, sizeof(a), &al), SR_OK);
    ck_assert_int_eq(sr_name_from_text("www.example.com.", b, sizeof(b), &bl), SR_OK);
    ck_assert(sr_name_equal(a, al, b, bl));
    ck_assert_int_eq(sr_name_from_text("www.example.co", b, sizeof(b), &bl), SR_OK);
    ck_assert(!sr_name_equal(a, al, b, bl));
    ck_assert_int_eq(sr_name_from_text("www.example.con", b, sizeof(b), &bl), SR_OK);
    ck_assert(!sr_name_equal(a, al, b, bl));
    /* Only ASCII letters fold (RFC 4343): 0xC9 and 0xE9 differ, '@' and '`'
     * (0x40, 0x60) differ. */
    ck_assert_int_eq(sr_name_from_text("\\201", a, sizeof(a), &al), SR_OK);
    ck_assert_int_eq(sr_name_from_text("\\233", b, sizeof(b), &bl), SR_OK);
    ck_assert(!sr_name_equal(a, al, b, bl));
    ck_assert_int_eq(sr_name_from_text("@", a, sizeof(a), &al), SR_OK);
    ck_assert_int_eq(sr_name_from_text("`", b, sizeof(b), &bl), SR_OK);
    ck_assert(!sr_name_equal(a, al, b, bl));
    ck_assert(sr_name_equal(a, al, a, al));
}
END_TEST

/* sr_name_idn: input, output room, status, and the name it gives. */
static const struct {
    const char *in;
    size_t cap;
    sr_status_t want;
    const char *out; /* NULL: not checked */
} IDN_CASES[] = {
    {"m\xc3\xbcnchen.de", SR_NAME_MAX_TEXT, SR_OK, "xn--mnchen-3ya.de"},
    /* UTS#46 mapping: upper case folds; non-transitional: sharp s stays. */
    {"B\xc3\xbc"
     "cher.example",
     SR_NAME_MAX_TEXT, SR_OK, "xn--bcher-kva.example"},
    {"fa\xc3\x9f.de", SR_NAME_MAX_TEXT, SR_OK, "xn--fa-hia.de"},
    /* NFC: u + combining diaeresis is the same name as u-umlaut. */
    {"mu\xcc\x88nchen.de", SR_NAME_MAX_TEXT, SR_OK, "xn--mnchen-3ya.de"},
    /* ASCII is left exactly as it is. */
    {"WWW.Example.COM.", SR_NAME_MAX_TEXT, SR_OK, "WWW.Example.COM."},
    {"_sip._tcp.example", SR_NAME_MAX_TEXT, SR_OK, "_sip._tcp.example"},
    /* Not UTF-8; a disallowed code point (U+2603 SNOWMAN). */
    {"\xff\xfe.com", SR_NAME_MAX_TEXT, SR_E_INVAL, NULL},
    {"\xe2\x98\x83.com", SR_NAME_MAX_TEXT, SR_E_INVAL, NULL},
    {NULL, SR_NAME_MAX_TEXT, SR_E_INVAL, NULL},
    /* The output buffer. */
    {"m\xc3\xbcnchen.de", 17, SR_E_NOBUFS, NULL},
    {"m\xc3\xbcnchen.de", 18, SR_OK, NULL},
    {"abc", 3, SR_E_NOBUFS, NULL},
};

START_TEST(test_idn)
{
    char out[SR_NAME_MAX_TEXT];
    const char *in = IDN_CASES[_i].in;
    sr_status_t st = sr_name_idn(in, out, IDN_CASES[_i].cap);

    ck_assert_msg(st == IDN_CASES[_i].want, "row %d (%s): status %d, want %d", _i,
                  in != NULL ? in : "NULL", st, IDN_CASES[_i].want);
    if (IDN_CASES[_i].out != NULL)
        ck_assert_msg(strcmp(out, IDN_CASES[_i].out) == 0, "row %d: \"%s\", want \"%s\"", _i, out,
                      IDN_CASES[_i].out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("name");
    add_tcase(
        s, "text", NULL, NULL,
        TESTS(test_from_text, test_from_text_errors, test_to_text, test_max_text, test_round_trip));
    add_tcase(s, "wire", NULL, NULL, TESTS(test_unpack, test_unpack_pointer_rules, test_equal));
    TCase *tc = add_tcase(s, "idn", NULL, NULL, NULL);
    tcase_add_loop_test(tc, test_idn, 0, (int)(sizeof(IDN_CASES) / sizeof(IDN_CASES[0])));
    return run_suite(s);
}
