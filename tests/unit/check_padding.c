/* Unit tests: RFC 7830 / RFC 8467 query padding (src/lib/padding.c). */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "codec-internal.h"
#include "upstream-internal.h"
#include "check-main.h"
#include "xport-helpers.h"

/* A query for name/A (ID 0x1234, RD; q holds 512 bytes), with an OPT
 * record (udp size 1232) when edns. */
static size_t build(uint8_t *q, const char *name, bool edns)
{
    size_t n = make_query(q, 512 - 11, 0x1234, name, 1);

    ck_assert_uint_gt(n, 0);
    if (edns) {
        static const uint8_t opt[] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0};
        memcpy(q + n, opt, sizeof(opt));
        n += sizeof(opt);
        q[11] = 1;
    }
    return n;
}

/* The padding option's length in q, -1 if none; checks the OPT RR. */
static int padding_len(const uint8_t *q, size_t len)
{
    sr_buf_t b;
    uint16_t ar = sr_get16(q + 10);
    sr_buf_init(&b, q, len);
    b.off = 12;
    ck_assert_int_eq(sr_name_skip(&b), SR_OK);
    b.off += 4;
    for (unsigned i = 0; i < ar; i++) {
        uint16_t type, rdlen;
        ck_assert_int_eq(sr_name_skip(&b), SR_OK);
        ck_assert_int_eq(sr_buf_u16(&b, &type), SR_OK);
        b.off += 6;
        ck_assert_int_eq(sr_buf_u16(&b, &rdlen), SR_OK);
        size_t end = b.off + rdlen;
        ck_assert_uint_le(end, len);
        if (type == 41) {
            while (b.off < end) {
                uint16_t code = sr_get16(q + b.off), olen = sr_get16(q + b.off + 2);
                if (code == 12)
                    return olen;
                b.off += 4u + olen;
            }
        }
        b.off = end;
    }
    return -1;
}

START_TEST(test_adds_opt)
{
    uint8_t q[512];
    size_t len = build(q, "www.example.test", false);
    size_t before = len;

    ck_assert_int_eq(sr_query_pad(q, &len, sizeof(q), 128), SR_OK);
    ck_assert_uint_eq(len, 128);
    ck_assert_uint_eq(sr_get16(q + 10), 1);
    ck_assert_int_eq(padding_len(q, len), (int)(128 - before - 11 - 4));
    ck_assert_int_eq(sr_msg_check(q, len, false, NULL), SR_OK);
    /* the padding octets are zero (RFC 7830 4) */
    for (size_t i = before + 15; i < len; i++)
        ck_assert_int_eq(q[i], 0);
}
END_TEST

START_TEST(test_extends_opt)
{
    uint8_t q[512];
    size_t len = build(q, "www.example.test", true);

    ck_assert_int_eq(sr_query_pad(q, &len, sizeof(q), 128), SR_OK);
    ck_assert_uint_eq(len % 128, 0);
    ck_assert_uint_eq(sr_get16(q + 10), 1); /* still one OPT */
    /* the DO bit of the existing OPT survives */
    ck_assert_int_ge(padding_len(q, len), 0);
    ck_assert_int_eq(sr_msg_check(q, len, false, NULL), SR_OK);
}
END_TEST

START_TEST(test_idempotent_and_replaces)
{
    uint8_t q[512];
    size_t len = build(q, "www.example.test", true), len2;

    ck_assert_int_eq(sr_query_pad(q, &len, sizeof(q), 128), SR_OK);
    len2 = len;
    /* Padding again replaces the option: same length, one option. */
    ck_assert_int_eq(sr_query_pad(q, &len2, sizeof(q), 128), SR_OK);
    ck_assert_uint_eq(len2, len);
    /* To another block size */
    ck_assert_int_eq(sr_query_pad(q, &len2, sizeof(q), 468), SR_OK);
    ck_assert_uint_eq(len2, 468);
    ck_assert_int_eq(sr_msg_check(q, len2, false, NULL), SR_OK);
}
END_TEST

START_TEST(test_every_length)
{
    /* Names of every length from 1 to 200: always a multiple of 128 and
     * never more than one block added. */
    for (int n = 1; n <= 200; n++) {
        uint8_t q[1024];
        char name[256];
        size_t len, before;
        for (int i = 0; i < n; i++)
            name[i] = (i % 50 == 49) ? '.' : 'a';
        name[n] = '\0';
        if (name[n - 1] == '.')
            name[n - 1] = 'a';
        len = before = build(q, name, n % 2 == 0);
        ck_assert_int_eq(sr_query_pad(q, &len, sizeof(q), 128), SR_OK);
        ck_assert_uint_eq(len % 128, 0);
        ck_assert_uint_le(len, before + 15 + 128);
    }
}
END_TEST

START_TEST(test_no_room)
{
    uint8_t q[512];
    size_t len = build(q, "www.example.test", false), orig = len;

    ck_assert_int_eq(sr_query_pad(q, &len, 100, 128), SR_E_NOBUFS);
    ck_assert_uint_eq(len, orig);
    len = orig;
    ck_assert_int_eq(sr_query_pad(q, &len, sizeof(q), 0), SR_OK);
    ck_assert_uint_eq(len, orig);
}
END_TEST

START_TEST(test_malformed)
{
    uint8_t q[512];
    size_t len = build(q, "www.example.test", true), l2;

    l2 = len - 1; /* OPT cut short */
    ck_assert_int_eq(sr_query_pad(q, &l2, sizeof(q), 128), SR_E_MSG_TOO_SHORT);
    l2 = len + 1; /* trailing byte */
    q[len] = 0;
    ck_assert_int_eq(sr_query_pad(q, &l2, sizeof(q), 128), SR_E_FORMERR);
    /* an OPT option running past the RDATA */
    uint8_t bad[512];
    memcpy(bad, q, len);
    bad[len - 2] = 0;
    bad[len - 1] = 4; /* rdlen 4 */
    memcpy(bad + len, "\x00\x0c\x00\x09", 4);
    l2 = len + 4;
    ck_assert_int_eq(sr_query_pad(bad, &l2, sizeof(bad), 128), SR_E_FORMERR);
    l2 = 5;
    ck_assert_int_eq(sr_query_pad(q, &l2, sizeof(q), 128), SR_E_MSG_TOO_SHORT);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("padding");
    add_tcase(s, "pad", NULL, NULL,
              TESTS(test_adds_opt, test_extends_opt, test_idempotent_and_replaces,
                    test_every_length, test_no_room, test_malformed));
    return run_suite(s);
}
