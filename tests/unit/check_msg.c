/* Unit tests: message parsing (src/lib/msg.c): malformed input of every
 * kind, truncation of every vector at every offset, allocation failures,
 * and reuse of one sr_msg_t without allocating. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stubres/wire.h>

#include "lib-internal.h"
#include "testutil.h"
#include "check-main.h"

/* Parse hex with a fresh message whose packet copy is exactly as long as
 * the input, so that ASan sees any read past it. */
static sr_status_t parse_hex(const char *hex, unsigned flags)
{
    uint8_t buf[2048];
    size_t n = tu_unhex(hex, buf, sizeof(buf));
    uint8_t *exact = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(exact);
    memcpy(exact, buf, n);
    sr_msg_t *msg = tu_msg_new();
    sr_status_t st = sr_msg_parse(msg, exact, n, flags);
    if (st != SR_OK) {
        /* A failed parse leaves a reason and nothing else. */
        ck_assert_str_ne(sr_msg_error(msg), "");
        ck_assert_uint_eq(sr_msg_rr_count(msg), 0);
        ck_assert_uint_eq(sr_msg_qdcount(msg), 0);
        ck_assert_ptr_null(sr_msg_qname(msg));
        ck_assert(!sr_msg_edns(msg)->present);
    }
    sr_msg_free(msg);
    free(exact);
    return st;
}

struct bad_case {
    const char *hex;
    sr_status_t want;
    const char *why;
};

/* Header: ID 0x1234, flags 0x8180, then the four counts. */
#define HDR(qd, an, ns, ar) "1234 8180 " qd " " an " " ns " " ar " "
/* A root-owned record of type t with rdlength l. */
#define RR_ROOT(t, l) "00 " t " 0001 00000e10 " l " "

START_TEST(test_malformed)
{
    static const struct bad_case bad[] = {
        {"", SR_E_MSG_TOO_SHORT, "empty"},
        {"1234 8180 0000 0000 0000 00", SR_E_MSG_TOO_SHORT, "11-byte header"},
        {HDR("0001", "0000", "0000", "0000"), SR_E_MSG_TOO_SHORT, "question promised, none there"},
        {HDR("0000", "0001", "0000", "0000") "00 0001 0001 00000000 00", SR_E_MSG_TOO_SHORT,
         "10 bytes cannot hold a record"},
        {HDR("ffff", "ffff", "ffff", "ffff") "00 0001 0001", SR_E_MSG_TOO_SHORT,
         "counts far beyond the packet"},
        {HDR("0000", "0002", "0000", "0000") RR_ROOT("0001", "0004") "c0000201", SR_E_MSG_TOO_SHORT,
         "second record missing (by the counts)"},
        {HDR("0000", "0002", "0000", "0000")
             RR_ROOT("0001", "0004") "c0000201" RR_ROOT("0001", "0004"),
         SR_E_MSG_TOO_SHORT, "second record without its RDATA"},
        {HDR("0000", "0001", "0000", "0000") RR_ROOT("0001", "0004") "c00002", SR_E_MSG_TOO_SHORT,
         "rdlength past the end"},
        {HDR("0000", "0001", "0000", "0000") RR_ROOT("0001", "ffff") "c0000201 00000000 0000",
         SR_E_MSG_TOO_SHORT, "rdlength 65535 past the end"},
        {HDR("0001", "0000", "0000", "0000") "03 777777 0001 0001", SR_E_MSG_TOO_SHORT,
         "question name without root label"},
        {HDR("0001", "0000", "0000", "0000") "00 0001 00", SR_E_MSG_TOO_SHORT,
         "4 bytes cannot hold a question"},
        {HDR("0001", "0000", "0000", "0000") "0161 00 0001 00", SR_E_MSG_TOO_SHORT,
         "question cut in its class"},
        /* Compression pointers (RFC 1035 4.1.4) */
        {HDR("0001", "0000", "0000", "0000") "c00c 0001 0001", SR_E_FORMERR, "pointer to itself"},
        {HDR("0001", "0000", "0000", "0000") "c00e 0001 0001 00", SR_E_FORMERR, "forward pointer"},
        {HDR("0001", "0000", "0000", "0000") "c005 0001 0001", SR_E_FORMERR,
         "pointer into the header"},
        {HDR("0001", "0000", "0000", "0000") "c000 0001 0001", SR_E_FORMERR, "pointer to offset 0"},
        {HDR("0001", "0000", "0000", "0000") "01 61 c00c 0001 0001", SR_E_FORMERR,
         "pointer back to the start of its own name"},
        /* NULL RDATA holding 23: ->25 and 25: ->23; the next owner enters
         * the loop at 25 and must be stopped on the way back to 25. */
        {HDR("0000", "0002", "0000", "0000") RR_ROOT("000a", "0004") "c019 c017 "
                                                                     "c019 0001 0001 00000000 0000",
         SR_E_FORMERR, "pointer loop"},
        {HDR("0001", "0000", "0000", "0000") "0161 0162 c0", SR_E_MSG_TOO_SHORT, "half a pointer"},
        /* Label types 01 and 10 (RFC 6891 5) */
        {HDR("0001", "0000", "0000", "0000") "40 0001 0001", SR_E_FORMERR,
         "label type 01 (a 64-byte label)"},
        {HDR("0001", "0000", "0000", "0000") "7f 0001 0001", SR_E_FORMERR, "label type 01 (127)"},
        {HDR("0001", "0000", "0000", "0000") "80 0001 0001", SR_E_FORMERR, "label type 10"},
        {HDR("0001", "0000", "0000", "0000") "01 61 41 00 0001 0001", SR_E_FORMERR,
         "extended label type after a label"},
        /* OPT (RFC 6891 6.1.1) */
        {HDR("0000", "0000", "0000", "0002") RR_ROOT("0029", "0000") RR_ROOT("0029", "0000"),
         SR_E_FORMERR, "two OPT records"},
        {HDR("0000", "0000", "0000", "0001") "01 61 00 0029 1000 00000000 0000", SR_E_FORMERR,
         "OPT with a non-root owner"},
        {HDR("0000", "0001", "0000", "0000") RR_ROOT("0029", "0000"), SR_E_FORMERR,
         "OPT in the answer section"},
        {HDR("0000", "0000", "0001", "0000") RR_ROOT("0029", "0000"), SR_E_FORMERR,
         "OPT in the authority section"},
        {HDR("0000", "0000", "0000", "0001") RR_ROOT("0029", "0006") "000a 0004 0102", SR_E_FORMERR,
         "EDNS option longer than the OPT RDATA"},
        {HDR("0000", "0000", "0000", "0001") RR_ROOT("0029", "0003") "000a 00", SR_E_FORMERR,
         "EDNS option header cut"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sr_status_t st = parse_hex(bad[i].hex, 0);
        ck_assert_msg(st == bad[i].want, "%s: status %d, want %d", bad[i].why, st, bad[i].want);
        ck_assert_int_eq(parse_hex(bad[i].hex, SR_PARSE_NO_FIELDS), bad[i].want);
    }
}
END_TEST

/* 255 bytes is the limit of a name, however it is put together. */
START_TEST(test_name_length_limit)
{
    /* 63+63+63+61 with length bytes and root: exactly 255. */
    char hex[2048];
    char *p = hex;
    p += sprintf(p, HDR("0001", "0000", "0000", "0000"));
    const int lens[] = {63, 63, 63, 61};
    for (int i = 0; i < 4; i++) {
        p += sprintf(p, "%02x", lens[i]);
        for (int k = 0; k < lens[i]; k++)
            p += sprintf(p, "61");
    }
    strcpy(p, "00 0001 0001");
    ck_assert_int_eq(parse_hex(hex, 0), SR_OK);
    /* One more byte in the last label: 256. */
    p = hex + strlen(HDR("0001", "0000", "0000", "0000"));
    p += 3 * (2 + 2 * 63);
    p[0] = '3';
    p[1] = 'e';
    memmove(p + 4, p + 2, strlen(p + 2) + 1);
    p[2] = '6';
    p[3] = '1';
    ck_assert_int_eq(parse_hex(hex, 0), SR_E_FORMERR);

    /* Over 255 only through a pointer: a 200-byte name in the question,
     * and an owner of 60 bytes of labels pointing to it. */
    p = hex;
    p += sprintf(p, HDR("0001", "0001", "0000", "0000"));
    for (int i = 0; i < 4; i++) {
        p += sprintf(p, "31");
        for (int k = 0; k < 49; k++)
            p += sprintf(p, "62");
    }
    p += sprintf(p, "00 0001 0001 ");
    p += sprintf(p, "3b");
    for (int k = 0; k < 59; k++)
        p += sprintf(p, "63");
    strcpy(p, "c00c 000a 0001 00000000 0000"); /* NULL, empty */
    ck_assert_int_eq(parse_hex(hex, 0), SR_E_FORMERR);
    ck_assert_int_eq(parse_hex(hex, SR_PARSE_NO_FIELDS), SR_E_FORMERR);
    /* With a 53-byte label it fits: 54 + 201 = 255. */
    p = strstr(hex, "00 0001 0001 3b");
    p[13] = '3';
    p[14] = '5';
    memmove(p + 15, p + 27, strlen(p + 27) + 1);
    ck_assert_int_eq(parse_hex(hex, 0), SR_OK);
}
END_TEST

START_TEST(test_too_long)
{
    size_t n = 65536;
    uint8_t *m = calloc(1, n);
    ck_assert_ptr_nonnull(m);
    sr_msg_t *msg = tu_msg_new();
    ck_assert_int_eq(sr_msg_parse(msg, m, n, 0), SR_E_FORMERR);
    /* 65535 zero bytes are a header of no counts and ignored trailing bytes */
    ck_assert_int_eq(sr_msg_parse(msg, m, n - 1, 0), SR_OK);
    ck_assert_uint_eq(sr_msg_rr_count(msg), 0);
    ck_assert_uint_eq(sr_msg_question_end(msg), SR_HEADER_LEN);
    sr_msg_free(msg);
    free(m);
}
END_TEST

/* EDNS: the extended RCODE, the flags, options; OPT is not a record. */
START_TEST(test_edns)
{
    uint8_t m[256];
    size_t n = tu_unhex(
        HDR("0000", "0001", "0000", "0001") RR_ROOT(
            "0001", "0004") "c0000201"
                            "00 0029 04d0 01 00 8000 0010 000a 0002 abcd 000c 0000 0008 0002 ffff",
        m, sizeof(m));
    sr_msg_t *msg = tu_msg_new();
    ck_assert_int_eq(sr_msg_parse(msg, m, n, 0), SR_OK);
    const sr_edns_t *e = sr_msg_edns(msg);
    ck_assert(e->present);
    ck_assert_uint_eq(e->udp_size, 1232);
    ck_assert_uint_eq(e->ext_rcode, 1);
    ck_assert_uint_eq(e->version, 0);
    ck_assert(e->do_bit);
    ck_assert_uint_eq(e->flags, 0x8000);
    ck_assert_uint_eq(e->opt_count, 3);
    ck_assert_uint_eq(e->opts[0].code, 10);
    ck_assert_uint_eq(e->opts[0].len, 2);
    ck_assert_uint_eq(e->opts[0].data[0], 0xab);
    ck_assert_uint_eq(e->opts[1].code, SR_EDNS_OPT_PADDING);
    ck_assert_uint_eq(e->opts[1].len, 0);
    ck_assert_uint_eq(e->opts[2].code, 8);
    ck_assert_uint_eq(e->offset, 12 + 15);
    ck_assert_uint_eq(e->end, n);
    /* RFC 6891 6.1.3: 0x180 | header RCODE 0. */
    ck_assert_uint_eq(sr_msg_rcode(msg), 16);
    ck_assert_uint_eq(sr_msg_rr_count(msg), 1);
    ck_assert_uint_eq(sr_msg_section_count(msg, SR_SECTION_ADDITIONAL), 0);
    ck_assert_uint_eq(sr_msg_section_count(msg, (sr_section_t)7), 0);

    /* Without OPT the RCODE is the header's 4 bits. */
    n = tu_unhex("1234 8183 0000 0000 0000 0000", m, sizeof(m));
    ck_assert_int_eq(sr_msg_parse(msg, m, n, 0), SR_OK);
    ck_assert(!sr_msg_edns(msg)->present);
    ck_assert_uint_eq(sr_msg_rcode(msg), 3);
    sr_msg_free(msg);
}
END_TEST

/* A strict prefix of a vector cuts a question or record that the header's
 * counts promise, so it never parses. Fresh messages keep the packet copy
 * exactly as long as the prefix, for ASan. */
START_TEST(test_every_truncation)
{
    size_t n;
    tu_vec_t *v = tu_load_vecs(&n);
    for (size_t i = 0; i < n; i++) {
        for (size_t cut = 0; cut < v[i].len; cut++) {
            for (unsigned flags = 0; flags <= SR_PARSE_NO_FIELDS; flags++) {
                uint8_t *p = malloc(cut ? cut : 1);
                ck_assert_ptr_nonnull(p);
                memcpy(p, v[i].msg, cut);
                sr_msg_t *msg = tu_msg_new();
                sr_status_t st = sr_msg_parse(msg, p, cut, flags);
                ck_assert_msg(st == SR_E_MSG_TOO_SHORT || st == SR_E_FORMERR,
                              "%s cut at %zu: status %d", v[i].name, cut, st);
                ck_assert_str_ne(sr_msg_error(msg), "");
                sr_msg_free(msg);
                free(p);
            }
        }
    }
    tu_free_vecs(v, n);
}
END_TEST

/* Every allocation of sr_msg_new/sr_msg_parse may fail: the result is
 * SR_E_NOMEM (or NULL), never a crash or a leak (ASan build). */
START_TEST(test_alloc_failures)
{
    size_t n;
    tu_vec_t *v = tu_load_vecs(&n);
    for (size_t i = 0; i < n; i++) {
        for (unsigned flags = 0; flags <= SR_PARSE_NO_FIELDS; flags++) {
            bool done = false;
            for (long k = 0; !done && k < 100; k++) {
                sr_alloc_fail_after(k);
                sr_msg_t *msg = sr_msg_new();
                if (msg == NULL) {
                    ck_assert_int_eq(k, 0);
                    continue;
                }
                sr_status_t st = sr_msg_parse(msg, v[i].msg, v[i].len, flags);
                ck_assert_msg(st == SR_OK || st == SR_E_NOMEM, "%s, failing after %ld: %d",
                              v[i].name, k, st);
                if (st == SR_OK)
                    done = true;
                else
                    ck_assert_uint_eq(sr_msg_rr_count(msg), 0);
                /* The same message, reused after the failure, works. */
                sr_alloc_fail_after(-1);
                ck_assert_int_eq(sr_msg_parse(msg, v[i].msg, v[i].len, flags), SR_OK);
                sr_msg_free(msg);
            }
            sr_alloc_fail_after(-1);
            ck_assert_msg(done, "%s never parsed", v[i].name);
        }
    }
    tu_free_vecs(v, n);
}
END_TEST

/* Once a message has seen a packet, parsing that packet (or a smaller one)
 * again allocates nothing. */
START_TEST(test_steady_state_no_alloc)
{
    size_t n;
    tu_vec_t *v = tu_load_vecs(&n);
    sr_msg_t *msg = tu_msg_new();
    for (size_t i = 0; i < n; i++)
        tu_parse_vec(msg, &v[i]);
    sr_alloc_fail_after(0);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < n; i++) {
            sr_status_t st = sr_msg_parse(msg, v[i].msg, v[i].len, 0);
            ck_assert_msg(st == SR_OK, "%s: %d", v[i].name, st);
            ck_assert_uint_eq(sr_msg_rr_count(msg), v[i].nrr);
            if (v[i].nrr > 0)
                ck_assert_str_eq(sr_msg_rr(msg, 0)->name, v[i].rrs[0].owner);
        }
    }
    sr_alloc_fail_after(-1);
    sr_msg_free(msg);
    tu_free_vecs(v, n);
}
END_TEST

/* A failed parse leaves the message reusable, and a good parse after it
 * reports everything anew. */
START_TEST(test_reuse_after_error)
{
    size_t n;
    tu_vec_t *v = tu_load_vecs(&n);
    sr_msg_t *msg = tu_msg_new();
    for (size_t i = 0; i < n; i++) {
        tu_parse_vec(msg, &v[i]);
        ck_assert_int_ne(sr_msg_parse(msg, v[i].msg, v[i].len - 1, 0), SR_OK);
        ck_assert_str_ne(sr_msg_error(msg), "");
        tu_parse_vec(msg, &v[i]);
        ck_assert_str_eq(sr_msg_error(msg), "");
        ck_assert_uint_eq(sr_msg_rr_count(msg), v[i].nrr);
        if (v[i].qdcount > 0)
            ck_assert_str_eq(sr_msg_qname(msg), v[i].qname);
    }
    sr_msg_free(msg);
    tu_free_vecs(v, n);
}
END_TEST

/* The question in both forms, and the owner name cache shared with it. */
/* sr_rr_text(): master-file RDATA as dig prints it: every string of a
 * TXT record quoted, '"' escaped, the other fields as they are. */
START_TEST(test_rr_text)
{
    /* TXT "say \"hi\"" "a\\b" "" ; HINFO "INTEL 386" "Linux"; MX 10 mail. */
    static const char hex[] = HDR("0000", "0003", "0000", "0000")
        RR_ROOT("0010", "0010") "08 7361792022686922 03 615c62 00 01 ff"
        RR_ROOT("000d", "0010") "09 494e54454c20333836 05 4c696e7578"
        RR_ROOT("000f", "0008") "000a 046d61696c 00";
    uint8_t buf[256];
    char out[128];
    size_t n = tu_unhex(hex, buf, sizeof(buf));
    sr_msg_t *msg = tu_msg_new();
    ck_assert_int_eq(sr_msg_parse(msg, buf, n, 0), SR_OK);
    ck_assert_int_eq(sr_rr_text(sr_msg_rr(msg, 0), out, sizeof(out)), SR_OK);
    ck_assert_str_eq(out, "\"say \\\"hi\\\"\" \"a\\\\b\" \"\" \"\\255\"");
    ck_assert_int_eq(sr_rr_text(sr_msg_rr(msg, 1), out, sizeof(out)), SR_OK);
    ck_assert_str_eq(out, "\"INTEL 386\" \"Linux\"");
    ck_assert_int_eq(sr_rr_text(sr_msg_rr(msg, 2), out, sizeof(out)), SR_OK);
    ck_assert_str_eq(out, "10 mail");
    /* too small a buffer: an error, never a write past it */
    for (size_t cap = 1; cap < 8; cap++)
        ck_assert_int_eq(sr_rr_text(sr_msg_rr(msg, 1), out, cap), SR_E_NOBUFS);
    ck_assert_int_eq(sr_msg_parse(msg, buf, n, SR_PARSE_NO_FIELDS), SR_OK);
    ck_assert_int_eq(sr_rr_text(sr_msg_rr(msg, 0), out, sizeof(out)), SR_E_INVAL);
    sr_msg_free(msg);
}
END_TEST

START_TEST(test_question_forms)
{
    uint8_t m[128];
    size_t n = tu_unhex(
        HDR("0001", "0002", "0000", "0000") "03 575757 07 4578616d706c65 03 636f6d 00 0001 0001"
                                            "c00c 0001 0001 00000000 0004 c0000201"
                                            "01 61 c010 0001 0001 00000000 0004 c0000202",
        m, sizeof(m));
    sr_msg_t *msg = sr_msg_new();
    size_t wl;
    ck_assert_ptr_nonnull(msg);
    ck_assert_int_eq(sr_msg_parse(msg, m, n, 0), SR_OK);
    ck_assert_str_eq(sr_msg_qname(msg), "WWW.Example.com");
    const uint8_t *w = sr_msg_qname_wire(msg, &wl);
    ck_assert_uint_eq(wl, 17);
    ck_assert_mem_eq(w, m + 12, 17);
    ck_assert_uint_eq(sr_msg_question_end(msg), 12 + 17 + 4);
    ck_assert_str_eq(sr_msg_rr(msg, 0)->name, "WWW.Example.com");
    ck_assert_str_eq(sr_msg_rr(msg, 1)->name, "a.Example.com");
    ck_assert_uint_eq(sr_msg_rr(msg, 1)->offset, 12 + 17 + 4 + 16);
    sr_msg_free(msg);
    sr_msg_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("msg");
    add_tcase(s, "malformed", NULL, NULL,
              TESTS(test_malformed, test_name_length_limit, test_too_long));
    add_tcase(s, "parse", NULL, NULL,
              TESTS(test_edns, test_question_forms, test_reuse_after_error, test_rr_text));
    TCase *tc =
        add_tcase(s, "exhaustive", NULL, NULL,
                  TESTS(test_every_truncation, test_alloc_failures, test_steady_state_no_alloc));
    tcase_set_timeout(tc, 300);
    return run_suite(s);
}
