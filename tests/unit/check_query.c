/* Unit tests: the query builder (src/lib/query.c), compared with the
 * queries dnspython builds (tests/unit/data/query-*.bin). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stubres/wire.h>

#include "testutil.h"
#include "check-main.h"

static uint8_t *read_vector(const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", TEST_DATA_DIR, name);
    uint8_t *b = tu_read_file(path, len);
    ck_assert_msg(b != NULL, "cannot read %s", path);
    return b;
}

static void build(const char *name, uint16_t qtype, const sr_query_opts_t *o, uint8_t *out,
                  size_t cap, size_t *len, sr_status_t want)
{
    uint8_t q[SR_NAME_MAX_WIRE];
    size_t ql;
    ck_assert_int_eq(sr_name_from_text(name, q, sizeof(q), &ql), SR_OK);
    ck_assert_int_eq(sr_query_build(out, cap, len, q, ql, qtype, SR_CLASS_IN, o), want);
}

/* The same bytes as dnspython's make_query(). */
START_TEST(test_same_as_dnspython)
{
    uint8_t buf[512];
    size_t len, vlen;
    sr_query_opts_t o = {.id = 0x0102, .rd = true};
    uint8_t *v = read_vector("query-plain.bin", &vlen);
    build("example.com.", SR_TYPE_A, &o, buf, sizeof(buf), &len, SR_OK);
    ck_assert_uint_eq(len, vlen);
    ck_assert_mem_eq(buf, v, vlen);
    free(v);

    /* make_query(use_edns=0, payload=1232, want_dnssec=True, pad=128) */
    sr_query_opts_t p = {
        .id = 0xABCD, .rd = true, .edns_size = 1232, .do_bit = true, .pad_block = 128};
    v = read_vector("query-padded.bin", &vlen);
    build("www.Example.com", SR_TYPE_AAAA, &p, buf, sizeof(buf), &len, SR_OK);
    ck_assert_uint_eq(len, vlen);
    ck_assert_mem_eq(buf, v, vlen);
    free(v);
}
END_TEST

/* Header bits, EDNS fields, and that the parser reads it all back. */
START_TEST(test_fields_read_back)
{
    uint8_t buf[512];
    size_t len;
    sr_query_opts_t o = {.id = 77, .rd = false, .cd = true, .edns_size = 4096};
    build("a.b", 15, &o, buf, sizeof(buf), &len, SR_OK);
    sr_msg_t *msg = tu_msg_new();
    ck_assert_int_eq(sr_msg_parse(msg, buf, len, 0), SR_OK);
    ck_assert_uint_eq(sr_msg_id(msg), 77);
    ck_assert_uint_eq(sr_msg_flags(msg), SR_FLAG_CD);
    ck_assert_uint_eq(sr_msg_opcode(msg), 0);
    ck_assert_str_eq(sr_msg_qname(msg), "a.b");
    ck_assert_uint_eq(sr_msg_qtype(msg), 15);
    ck_assert_uint_eq(sr_msg_qclass(msg), SR_CLASS_IN);
    ck_assert_uint_eq(sr_msg_rr_count(msg), 0);
    const sr_edns_t *e = sr_msg_edns(msg);
    ck_assert(e->present);
    ck_assert_uint_eq(e->udp_size, 4096);
    ck_assert(!e->do_bit);
    ck_assert_uint_eq(e->version, 0);
    ck_assert_uint_eq(e->opt_count, 0);
    ck_assert_uint_eq(len, 12 + 5 + 4 + 11);

    sr_query_opts_t plain = {.id = 1, .rd = true};
    build(".", SR_TYPE_NS, &plain, buf, sizeof(buf), &len, SR_OK);
    ck_assert_int_eq(sr_msg_parse(msg, buf, len, 0), SR_OK);
    ck_assert_uint_eq(sr_msg_flags(msg), SR_FLAG_RD);
    ck_assert(!sr_msg_edns(msg)->present);
    ck_assert_str_eq(sr_msg_qname(msg), ".");
    ck_assert_uint_eq(len, 17);
    sr_msg_free(msg);
}
END_TEST

/* RFC 7830/8467: every length of name comes out a multiple of the block,
 * with a padding option of zeros. */
START_TEST(test_padding)
{
    static const uint16_t blocks[] = {128, 468, 1, 7, 512};
    uint8_t buf[2048];
    char name[300];
    sr_msg_t *msg = tu_msg_new();
    for (size_t b = 0; b < sizeof(blocks) / sizeof(blocks[0]); b++) {
        for (int l = 1; l <= 63; l++) {
            memset(name, 'x', (size_t)l);
            strcpy(name + l, ".example");
            sr_query_opts_t o = {.id = 9, .rd = true, .edns_size = 1232, .pad_block = blocks[b]};
            size_t len;
            build(name, SR_TYPE_A, &o, buf, sizeof(buf), &len, SR_OK);
            ck_assert_uint_eq(len % blocks[b], 0);
            ck_assert_int_eq(sr_msg_parse(msg, buf, len, 0), SR_OK);
            const sr_edns_t *e = sr_msg_edns(msg);
            ck_assert_uint_eq(e->opt_count, 1);
            ck_assert_uint_eq(e->opts[0].code, SR_EDNS_OPT_PADDING);
            ck_assert_uint_eq(e->end, len);
            /* Padding is as small as it can be. */
            ck_assert_uint_lt(e->opts[0].len, blocks[b]);
            for (size_t i = 0; i < e->opts[0].len; i++)
                ck_assert_uint_eq(e->opts[0].data[i], 0);
        }
    }
    sr_msg_free(msg);
}
END_TEST

/* Any buffer shorter than the query fails cleanly, without writing past
 * it (ASan: exact-size heap buffers). */
START_TEST(test_small_buffers)
{
    uint8_t full[512];
    size_t len, l2;
    sr_query_opts_t o = {.id = 3, .rd = true, .edns_size = 1232, .pad_block = 128};
    build("www.example.com", SR_TYPE_A, &o, full, sizeof(full), &len, SR_OK);
    ck_assert_uint_eq(len, 128);
    for (size_t cap = 0; cap < len; cap++) {
        uint8_t *b = malloc(cap ? cap : 1);
        ck_assert_ptr_nonnull(b);
        build("www.example.com", SR_TYPE_A, &o, b, cap, &l2, SR_E_NOBUFS);
        free(b);
    }
    uint8_t *b = malloc(len);
    ck_assert_ptr_nonnull(b);
    build("www.example.com", SR_TYPE_A, &o, b, len, &l2, SR_OK);
    ck_assert_mem_eq(b, full, len);
    free(b);
}
END_TEST

/* RFC 5001 2.3: an empty NSID option, before the padding, which still
 * fills the block. */
START_TEST(test_nsid)
{
    uint8_t buf[512];
    size_t len;
    sr_msg_t *msg = tu_msg_new();
    sr_query_opts_t o = {.id = 5, .rd = true, .edns_size = 1232, .nsid = true};
    build("www.example.com", SR_TYPE_A, &o, buf, sizeof(buf), &len, SR_OK);
    ck_assert_int_eq(sr_msg_parse(msg, buf, len, 0), SR_OK);
    const sr_edns_t *e = sr_msg_edns(msg);
    ck_assert_uint_eq(e->opt_count, 1);
    ck_assert_uint_eq(e->opts[0].code, SR_EDNS_OPT_NSID);
    ck_assert_uint_eq(e->opts[0].len, 0);
    o.pad_block = 128;
    build("www.example.com", SR_TYPE_A, &o, buf, sizeof(buf), &len, SR_OK);
    ck_assert_uint_eq(len, 128);
    ck_assert_int_eq(sr_msg_parse(msg, buf, len, 0), SR_OK);
    e = sr_msg_edns(msg);
    ck_assert_uint_eq(e->opt_count, 2);
    ck_assert_uint_eq(e->opts[0].code, SR_EDNS_OPT_NSID);
    ck_assert_uint_eq(e->opts[1].code, SR_EDNS_OPT_PADDING);
    /* without EDNS there is no option to carry it */
    sr_query_opts_t no_edns = {.id = 5, .nsid = true};
    build("www.example.com", SR_TYPE_A, &no_edns, buf, sizeof(buf), &len, SR_E_INVAL);
    sr_msg_free(msg);
}
END_TEST

START_TEST(test_bad_arguments)
{
    uint8_t buf[512], q[64];
    size_t len;
    sr_query_opts_t o = {.id = 1, .rd = true};
    sr_query_opts_t pad_no_edns = {.id = 1, .pad_block = 128};
    size_t ql = tu_unhex("03616263 00", q, sizeof(q));
    ck_assert_int_eq(sr_query_build(buf, sizeof(buf), &len, q, ql, 1, 1, &pad_no_edns), SR_E_INVAL);
    ck_assert_int_eq(sr_query_build(buf, sizeof(buf), &len, q, ql, 1, 1, NULL), SR_E_INVAL);
    ck_assert_int_eq(sr_query_build(NULL, 0, &len, q, ql, 1, 1, &o), SR_E_INVAL);
    ck_assert_int_eq(sr_query_build(buf, sizeof(buf), &len, NULL, 0, 1, 1, &o), SR_E_INVAL);
    static const char *const bad_names[] = {
        "03616263",       /* no root */
        "03616263 00 00", /* bytes after the root */
        "c00c",           /* compressed */
        "40 00",          /* label type 01 */
        "",               /* empty */
    };
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        ql = tu_unhex(bad_names[i], q, sizeof(q));
        ck_assert_msg(sr_query_build(buf, sizeof(buf), &len, q, ql, 1, 1, &o) == SR_E_INVAL, "%s",
                      bad_names[i]);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("query");
    add_tcase(s, "core", NULL, NULL,
              TESTS(test_same_as_dnspython, test_fields_read_back, test_padding, test_nsid,
                    test_small_buffers, test_bad_arguments));
    return run_suite(s);
}
