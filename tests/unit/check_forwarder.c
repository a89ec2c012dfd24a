/* Unit tests: the query parser of stubresd's forwarder
 * (src/daemon/forwarder.c): which crafted packets are dropped, answered
 * FORMERR, NOTIMP, REFUSED or BADVERS, and what those replies hold. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stubres/wire.h>

#include "forwarder.h"

/* A query for www.example.test A with id 0x1234, RD, plus extra bytes. */
static size_t make_query(uint8_t *p, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
                         uint16_t ar)
{
    static const uint8_t q[] = {3,   'w', 'w', 'w', 7,   'e', 'x', 'a', 'm', 'p', 'l',
                                'e', 4,   't', 'e', 's', 't', 0,   0,   1,   0,   1};
    p[0] = 0x12;
    p[1] = 0x34;
    p[2] = (uint8_t)(flags >> 8);
    p[3] = (uint8_t)flags;
    p[4] = 0, p[5] = (uint8_t)qd;
    p[6] = 0, p[7] = (uint8_t)an;
    p[8] = 0, p[9] = (uint8_t)ns;
    p[10] = 0, p[11] = (uint8_t)ar;
    memcpy(p + 12, q, sizeof(q));
    return 12 + sizeof(q);
}

/* An OPT record: size, version, DO. */
static size_t add_opt(uint8_t *p, size_t off, uint16_t size, uint8_t version, bool do_bit,
                      uint8_t owner)
{
    p[off++] = owner; /* 0: root */
    p[off++] = 0;
    p[off++] = 41;
    p[off++] = (uint8_t)(size >> 8);
    p[off++] = (uint8_t)size;
    p[off++] = 0; /* extended RCODE */
    p[off++] = version;
    p[off++] = do_bit ? 0x80 : 0;
    p[off++] = 0;
    p[off++] = 0; /* RDLENGTH */
    p[off++] = 0;
    return off;
}

START_TEST(test_good_query)
{
    uint8_t p[512];
    fwd_qinfo_t qi;
    size_t n = make_query(p, 0x0100, 1, 0, 0, 1);

    n = add_opt(p, n, 4096, 0, true, 0);
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_OK);
    ck_assert_uint_eq(qi.id, 0x1234);
    ck_assert_uint_eq(qi.qtype, 1);
    ck_assert_uint_eq(qi.qclass, 1);
    ck_assert_uint_eq(qi.qname_len, 18);
    ck_assert(qi.edns);
    ck_assert(qi.do_bit);
    ck_assert_uint_eq(qi.edns_size, 4096);
    /* A small EDNS size counts as 512 (RFC 6891 6.2.5). */
    n = make_query(p, 0x0100, 1, 0, 0, 1);
    n = add_opt(p, n, 100, 0, false, 0);
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_OK);
    ck_assert_uint_eq(qi.edns_size, 512);
    /* Trailing bytes after the message are tolerated. */
    n = make_query(p, 0x0100, 1, 0, 0, 0);
    ck_assert_int_eq(fwd_parse_query(p, n + 5, &qi), FWD_OK);
    ck_assert(!qi.edns);
}
END_TEST

START_TEST(test_dropped)
{
    uint8_t p[512];
    fwd_qinfo_t qi;
    size_t n = make_query(p, 0x0100, 1, 0, 0, 0);

    for (size_t len = 0; len < 12; len++)
        ck_assert_int_eq(fwd_parse_query(p, len, &qi), FWD_DROP);
    /* A response (QR=1) is never answered: that could loop. */
    n = make_query(p, 0x8100, 1, 0, 0, 0);
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_DROP);
}
END_TEST

START_TEST(test_formerr)
{
    uint8_t p[512];
    fwd_qinfo_t qi;
    size_t n;

    /* No question, two questions. */
    n = make_query(p, 0x0100, 0, 0, 0, 0);
    ck_assert_int_eq(fwd_parse_query(p, 12, &qi), FWD_FORMERR);
    ck_assert(!qi.has_question);
    n = make_query(p, 0x0100, 2, 0, 0, 0);
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_FORMERR);
    /* Answer or authority records in a query. */
    n = make_query(p, 0x0100, 1, 1, 0, 0);
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_FORMERR);
    ck_assert(qi.has_question); /* still echoed */
    n = make_query(p, 0x0100, 1, 0, 1, 0);
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_FORMERR);
    /* The question cut short, at every length. */
    n = make_query(p, 0x0100, 1, 0, 0, 0);
    for (size_t len = 12; len < n; len++)
        ck_assert_int_eq(fwd_parse_query(p, len, &qi), FWD_FORMERR);
    /* A compression pointer in the question (nothing to point back to). */
    n = make_query(p, 0x0100, 1, 0, 0, 0);
    p[12] = 0xC0;
    p[13] = 12;
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_FORMERR);
    /* A label over 63 bytes, and a name over 255 bytes. */
    n = make_query(p, 0x0100, 1, 0, 0, 0);
    p[12] = 64;
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_FORMERR);
    memset(p + 12, 0, 300);
    for (size_t off = 12; off < 12 + 5 * 60; off += 60)
        p[off] = 59;
    ck_assert_int_eq(fwd_parse_query(p, 12 + 5 * 60 + 5, &qi), FWD_FORMERR);
    /* Two OPT records; an OPT not owned by the root; an OPT cut short. */
    n = make_query(p, 0x0100, 1, 0, 0, 2);
    n = add_opt(p, n, 1232, 0, false, 0);
    n = add_opt(p, n, 1232, 0, false, 0);
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_FORMERR);
    n = make_query(p, 0x0100, 1, 0, 0, 1);
    size_t o = n;
    p[o++] = 1, p[o++] = 'x';
    o = add_opt(p, o, 1232, 0, false, 0);
    ck_assert_int_eq(fwd_parse_query(p, o, &qi), FWD_FORMERR);
    n = make_query(p, 0x0100, 1, 0, 0, 1);
    o = add_opt(p, n, 1232, 0, false, 0);
    ck_assert_int_eq(fwd_parse_query(p, o - 1, &qi), FWD_FORMERR);
    /* An RDLENGTH past the end. */
    p[o - 1] = 9;
    ck_assert_int_eq(fwd_parse_query(p, o, &qi), FWD_FORMERR);
    /* Too many additional records. */
    n = make_query(p, 0x0100, 1, 0, 0, 5);
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_FORMERR);
    /* A question for OPT. */
    n = make_query(p, 0x0100, 1, 0, 0, 0);
    p[n - 3] = 41;
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_FORMERR);
}
END_TEST

/* An additional record's owner is read with the codec's one name skip:
 * a pointer back into the question is fine, one forward or into the
 * header is malformed (RFC 1035 4.1.4), whatever the record's type. */
START_TEST(test_additional_owner_pointer)
{
    static const uint8_t rr[] = {0, 250, 0, 255, 0, 0, 0, 0, 0, 0}; /* TSIG head, no RDATA */
    static const uint8_t targets[] = {12, 200, 4};
    uint8_t p[512];
    fwd_qinfo_t qi;

    for (size_t i = 0; i < sizeof(targets); i++) {
        size_t n = make_query(p, 0x0100, 1, 0, 0, 1);
        p[n++] = 0xC0;
        p[n++] = targets[i];
        memcpy(p + n, rr, sizeof(rr));
        n += sizeof(rr);
        ck_assert_int_eq(fwd_parse_query(p, n, &qi), (i == 0 ? FWD_OK : FWD_FORMERR));
        ck_assert(qi.has_question);
    }
}
END_TEST

START_TEST(test_other_verdicts)
{
    uint8_t p[512];
    fwd_qinfo_t qi;
    size_t n;

    /* Opcodes other than QUERY: NOTIMP (NOTIFY = 4, UPDATE = 5, IQUERY = 1). */
    for (unsigned op = 1; op < 16; op++) {
        n = make_query(p, (uint16_t)(0x0100 | (op << 11)), 1, 0, 0, 0);
        ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_NOTIMP);
        ck_assert_uint_eq(qi.opcode, op);
    }
    /* AXFR, IXFR. */
    n = make_query(p, 0x0100, 1, 0, 0, 0);
    p[n - 3] = 252;
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_REFUSED);
    p[n - 3] = 251;
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_REFUSED);
    /* EDNS version 1 (RFC 6891 6.1.3). */
    n = make_query(p, 0x0100, 1, 0, 0, 1);
    n = add_opt(p, n, 1232, 1, false, 0);
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_BADVERS);
}
END_TEST

START_TEST(test_error_replies)
{
    uint8_t p[512], out[512];
    fwd_qinfo_t qi;
    size_t n, r;

    /* FORMERR keeps ID, RD and the question; QR and RA set. */
    n = make_query(p, 0x0110, 1, 1, 0, 0); /* RD, CD */
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_FORMERR);
    r = fwd_error_reply(&qi, p, 1, 1232, out, sizeof(out));
    ck_assert_uint_eq(r, 12 + 22);
    ck_assert_uint_eq(out[0], 0x12);
    ck_assert_uint_eq(out[1], 0x34);
    ck_assert_uint_eq(out[2], 0x81);            /* QR, RD */
    ck_assert_uint_eq(out[3], 0x80 | 0x10 | 1); /* RA, CD, FORMERR */
    ck_assert_uint_eq(out[5], 1);               /* QDCOUNT */
    ck_assert_uint_eq(out[7] + out[9] + out[11], 0);
    ck_assert_mem_eq(out + 12, p + 12, 22);
    /* No question to echo: a header only. */
    make_query(p, 0x0100, 0, 0, 0, 0);
    ck_assert_int_eq(fwd_parse_query(p, 12, &qi), FWD_FORMERR);
    ck_assert_uint_eq(fwd_error_reply(&qi, p, 1, 1232, out, sizeof(out)), 12);
    ck_assert_uint_eq(out[5], 0);
    /* NOTIMP keeps the opcode. */
    n = make_query(p, 0x2100, 1, 0, 0, 0); /* opcode 4 (NOTIFY) */
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_NOTIMP);
    r = fwd_error_reply(&qi, p, 4, 1232, out, sizeof(out));
    ck_assert_uint_eq(out[2], 0x80 | 0x20 | 0x01);
    ck_assert_uint_eq(out[3] & 0xF, 4);
    /* BADVERS (16): the upper bits in the OPT record. */
    n = make_query(p, 0x0100, 1, 0, 0, 1);
    n = add_opt(p, n, 1232, 1, true, 0);
    ck_assert_int_eq(fwd_parse_query(p, n, &qi), FWD_BADVERS);
    r = fwd_error_reply(&qi, p, 16, 1232, out, sizeof(out));
    ck_assert_uint_eq(r, 12 + 22 + 11);
    ck_assert_uint_eq(out[3] & 0xF, 0);
    ck_assert_uint_eq(out[11], 1); /* ARCOUNT: the OPT */
    ck_assert_uint_eq(out[12 + 22 + 2], 41);
    ck_assert_uint_eq(out[12 + 22 + 5], 1);    /* 16 >> 4 */
    ck_assert_uint_eq(out[12 + 22 + 7], 0x80); /* DO copied */
    /* Too small a buffer: nothing. */
    ck_assert_uint_eq(fwd_error_reply(&qi, p, 16, 1232, out, 20), 0);
}
END_TEST

START_TEST(test_random_garbage)
{
    /* Whatever arrives, the parser stays inside the packet (ASan checks
     * the reads: every packet is an exact-size heap copy). */
    uint32_t x = 2463534242u;
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)(x % 300);
        uint8_t *p = malloc(len ? len : 1);
        fwd_qinfo_t qi;
        uint8_t out[600];
        for (size_t k = 0; k < len; k++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            p[k] = (uint8_t)x;
        }
        if (len > 12 && (i & 1)) {
            /* Often a plausible header, so the deeper paths run too. */
            p[2] &= 0x01;
            p[4] = 0, p[5] = 1;
            p[6] = p[8] = p[7] = p[9] = 0;
            p[10] = 0, p[11] &= 3;
        }
        fwd_verdict_t v = fwd_parse_query(p, len, &qi);
        if (v != FWD_DROP && v != FWD_OK)
            ck_assert_uint_ge(fwd_error_reply(&qi, p, 1, 1232, out, sizeof(out)), 12);
        if (qi.has_question)
            ck_assert(qi.qname >= p && qi.qname + qi.qname_len <= p + len);
        free(p);
        x = x * 1103515245u + 12345u;
    }
}
END_TEST

static Suite *forwarder_suite(void)
{
    Suite *s = suite_create("forwarder");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_good_query);
    tcase_add_test(tc, test_dropped);
    tcase_add_test(tc, test_formerr);
    tcase_add_test(tc, test_additional_owner_pointer);
    tcase_add_test(tc, test_other_verdicts);
    tcase_add_test(tc, test_error_replies);
    tcase_add_test(tc, test_random_garbage);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(forwarder_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
