/* Unit tests: the shared cache's URL, keys and values (shcache_value.c). */
#include "config.h"

#include <check.h>
#include <string.h>

#include <stubres/wire.h>

#include "cache.h"
#include "check-main.h"
#include "codec-internal.h" /* sr_get32 */
#include "shcache.h"

#define WALL 1700000000
#define NOW 1000u

/* www.example.test A IN: 10.0.0.1, TTL 300 (QR RD RA, NOERROR). */
static const uint8_t www_a[] = {
    0x12, 0x34, 0x81, 0x80, 0,   1,   0,   1, 0,    0,    0,   0,   3,  'w', 'w', 'w', 7,
    'e',  'x',  'a',  'm',  'p', 'l', 'e', 4, 't',  'e',  's', 't', 0,  0,   1,   0,   1,
    0xC0, 12,   0,    1,    0,   1,   0,   0, 0x01, 0x2C, 0,   4,   10, 0,   0,   1,
};
static const uint8_t www_wire[] = {3,   'w', 'w', 'w', 7,   'e', 'x', 'a', 'm',
                                   'p', 'l', 'e', 4,   't', 'e', 's', 't', 0};
static const uint8_t WWW_wire[] = {3,   'W', 'w', 'W', 7,   'E', 'x', 'a', 'm',
                                   'p', 'l', 'e', 4,   'T', 'E', 'S', 'T', 0};
static const uint8_t a_wire[] = {1,   'a', 7, 'e', 'x', 'a', 'm', 'p',
                                 'l', 'e', 4, 't', 'e', 's', 't', 0};

static cache_t *new_cache(void)
{
    cache_cfg_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.max_bytes = 1u << 20;
    cfg.max_ttl = 86400;
    cfg.negative_ttl = 3600;
    cfg.servfail_ttl = 5;
    cfg.stale_reply_ttl = 30;
    return cache_new(&cfg);
}

/* ------------------------------------------------------------- URLs */

START_TEST(test_url_good)
{
    shc_url_t u;
    char err[256];

    ck_assert_int_eq(shc_url_parse("redis://127.0.0.1", &u, err, sizeof(err)), 0);
    ck_assert(!u.is_unix);
    ck_assert_str_eq(u.host, "127.0.0.1");
    ck_assert_uint_eq(u.port, 6379);
    ck_assert_uint_eq(u.db, 0);
    ck_assert_uint_eq(u.password_len, 0);

    ck_assert_int_eq(shc_url_parse("redis://:s%40cr%3At@[::1]:6380/15", &u, err, sizeof(err)), 0);
    ck_assert_str_eq(u.host, "::1");
    ck_assert_uint_eq(u.port, 6380);
    ck_assert_uint_eq(u.db, 15);
    ck_assert_str_eq(u.password, "s@cr:t");
    ck_assert_uint_eq(u.password_len, 6);

    ck_assert_int_eq(shc_url_parse("redis://localhost:7000/", &u, err, sizeof(err)), 0);
    ck_assert_str_eq(u.host, "127.0.0.1");
    ck_assert_uint_eq(u.port, 7000);

    ck_assert_int_eq(shc_url_parse("redis+unix:///run/redis/redis.sock?db=3", &u, err, sizeof(err)),
                     0);
    ck_assert(u.is_unix);
    ck_assert_str_eq(u.path, "/run/redis/redis.sock");
    ck_assert_uint_eq(u.db, 3);

    ck_assert_int_eq(shc_url_parse("redis+unix://:pw@/tmp/r.sock", &u, err, sizeof(err)), 0);
    ck_assert_str_eq(u.path, "/tmp/r.sock");
    ck_assert_str_eq(u.password, "pw");
}
END_TEST

START_TEST(test_url_bad)
{
    static const char *const bad[] = {
        "",
        "http://127.0.0.1",
        "redis://",
        "redis://cache.example.net", /* a name: a lookup through ourselves */
        "redis://127.0.0.1:0",
        "redis://127.0.0.1:65536",
        "redis://127.0.0.1:",
        "redis://127.0.0.1:63a9",
        "redis://127.0.0.1/x",
        "redis://127.0.0.1/65536",
        "redis://127.0.0.1/99999999999999999999",
        "redis://user:pw@127.0.0.1", /* ACL users: not supported */
        "redis://:@127.0.0.1",       /* an empty password */
        "redis://:%4@127.0.0.1",     /* a cut escape */
        "redis://:%zz@127.0.0.1",
        "redis://:%00@127.0.0.1", /* NUL */
        "redis://127.0.0.1 ",     /* spaces */
        "redis:// 127.0.0.1",
        "redis://127.0.0.1\n",
        "redis://[::1",
        "redis://[::1]6379",
        "redis://[]:6379",
        "redis://fe80::1%eth0",
        "redis+unix://relative/path",
        "redis+unix://",
        "redis+unix:///tmp/r.sock?db=",
        "redis+unix:///tmp/r.sock?foo=1",
        "redis+unix:///tmp/r.sock?db=70000",
        "REDIS://127.0.0.1",
    };
    shc_url_t u;
    char err[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(shc_url_parse(bad[i], &u, err, sizeof(err)) == -1, "accepted: %s", bad[i]);
        ck_assert_msg(err[0] != '\0', "no reason for %s", bad[i]);
    }
    /* Too long a socket path, too long a password. */
    char path[300] = "redis+unix:///";
    memset(path + strlen(path), 'p', 200);
    path[214] = '\0';
    ck_assert_int_eq(shc_url_parse(path, &u, err, sizeof(err)), -1);
    char pw[SHC_PASSWORD_MAX + 64] = "redis://:";
    memset(pw + 9, 'x', SHC_PASSWORD_MAX + 1);
    strcpy(pw + 9 + SHC_PASSWORD_MAX + 1, "@127.0.0.1");
    ck_assert_int_eq(shc_url_parse(pw, &u, err, sizeof(err)), -1);
    ck_assert_int_eq(shc_url_parse(NULL, &u, err, sizeof(err)), -1);
}
END_TEST

/* ------------------------------------------------------------- keys */

START_TEST(test_keys)
{
    char k[SHC_KEY_MAX];
    static const uint8_t root[] = {0};
    static const uint8_t odd[] = {3, 'a', '.', 'B', 2, 0x00, ':', 0};

    ck_assert_uint_gt(shc_key(WWW_wire, sizeof(WWW_wire), 1, 1, false, false, k, sizeof(k)), 0);
    ck_assert_str_eq(k, "stubres:www.example.test.:A:IN");
    shc_key(www_wire, sizeof(www_wire), 28, 3, true, true, k, sizeof(k));
    ck_assert_str_eq(k, "stubres:www.example.test.:AAAA:CH:DO:CD");
    shc_key(root, sizeof(root), 2, 1, false, false, k, sizeof(k));
    ck_assert_str_eq(k, "stubres:.:NS:IN");
    shc_key(www_wire, sizeof(www_wire), 65280, 254, false, true, k, sizeof(k));
    ck_assert_str_eq(k, "stubres:www.example.test.:TYPE65280:CLASS254:CD");
    /* A dot, a NUL inside labels: escaped, never ambiguous. */
    shc_key(odd, sizeof(odd), 1, 1, false, false, k, sizeof(k));
    ck_assert_str_eq(k, "stubres:a\\.b.\\000:.:A:IN");
    /* Malformed names and short buffers: no key. */
    ck_assert_uint_eq(shc_key(www_wire, sizeof(www_wire) - 1, 1, 1, false, false, k, sizeof(k)), 0);
    ck_assert_uint_eq(shc_key(www_wire, sizeof(www_wire), 1, 1, false, false, k, 10), 0);
}
END_TEST

/* ------------------------------------------------------------- values */

static uint8_t scratch[SHC_VALUE_MAX];
static uint8_t val[SHC_VALUE_MAX];

/* www A from a fresh cache, exported at cache time now as a value stored
 * at Unix time wall. Its length. */
static size_t make_value(uint32_t now, int64_t wall)
{
    cache_t *c = new_cache();
    sr_msg_t *m = sr_msg_new();
    uint32_t left = 0;

    ck_assert_int_eq(sr_msg_parse(m, www_a, sizeof(www_a), 0), SR_OK);
    ck_assert(cache_store(c, www_wire, sizeof(www_wire), 1, 1, false, false, m, NOW));
    size_t n = cache_export(c, www_wire, sizeof(www_wire), 1, 1, false, false, now,
                            val + SHC_VALUE_HEADER, sizeof(val) - SHC_VALUE_HEADER, &left);
    ck_assert_uint_gt(n, 0);
    ck_assert_uint_eq(left, 300 - (now - NOW));
    shc_value_header(val, false, false, n, wall, left);
    sr_msg_free(m);
    cache_free(c);
    return SHC_VALUE_HEADER + n;
}

/* The TTL of b's answer to www A at time now (0 on a miss). */
static uint32_t answer_ttl(cache_t *b, uint32_t now)
{
    uint8_t out[512];
    size_t n = 0;
    cache_query_t q = {.id = 7,
                       .flags = 0x0100,
                       .qname = www_wire,
                       .qname_len = sizeof(www_wire),
                       .qtype = 1,
                       .qclass = 1,
                       .max_len = 512};
    if (cache_lookup(b, &q, now, false, out, sizeof(out), &n) == CACHE_MISS)
        return 0;
    ck_assert_uint_eq(n, sizeof(www_a));
    return sr_get32(out + sizeof(www_a) - 10);
}

static shc_value_result_t import(cache_t *b, sr_msg_t *m, const uint8_t *v, size_t len,
                                 const uint8_t *name, size_t nlen, uint16_t type, bool do_bit,
                                 int64_t wall)
{
    return shc_value_import(b, m, scratch, v, len, name, nlen, type, 1, do_bit, false, wall, 5000);
}

START_TEST(test_value_round_trip)
{
    cache_t *b = new_cache();
    sr_msg_t *m = sr_msg_new();

    /* Stored 100 s after the answer came (200 s left), read 50 s later by
     * another host: 150 s left, counted down from there. */
    size_t n = make_value(NOW + 100, WALL);
    ck_assert_uint_eq(n, SHC_VALUE_HEADER + sizeof(www_a));
    ck_assert_uint_eq(val[0], SHC_VALUE_VERSION);
    ck_assert_int_eq(import(b, m, val, n, WWW_wire, sizeof(WWW_wire), 1, false, WALL + 50),
                     SHC_VALUE_STORED);
    ck_assert_uint_eq(answer_ttl(b, 5000), 150);
    ck_assert_uint_eq(answer_ttl(b, 5010), 140);
    /* The value read later than it expires: a miss, not an error. */
    ck_assert_int_eq(import(b, m, val, n, www_wire, sizeof(www_wire), 1, false, WALL + 200),
                     SHC_VALUE_EXPIRED);
    /* A value from the future (this clock behind): never longer than its
     * expiry says. */
    cache_free(b);
    b = new_cache();
    ck_assert_int_eq(import(b, m, val, n, www_wire, sizeof(www_wire), 1, false, WALL - 1000),
                     SHC_VALUE_STORED);
    ck_assert_uint_le(answer_ttl(b, 5000), 200);
    sr_msg_free(m);
    cache_free(b);
}
END_TEST

START_TEST(test_value_bad)
{
    cache_t *b = new_cache();
    sr_msg_t *m = sr_msg_new();
    uint8_t v[SHC_VALUE_MAX];
    size_t n = make_value(NOW, WALL);

#define BAD(len, name, type, do_bit)                                                               \
    ck_assert_int_eq(import(b, m, v, len, name, sizeof(name), type, do_bit, WALL), SHC_VALUE_BAD)
    /* Each a good value changed in one way. */
    memcpy(v, val, n);
    v[0] = 2; /* another version */
    BAD(n, www_wire, 1, false);
    memcpy(v, val, n);
    BAD(n, www_wire, 1, true); /* DO asked, the value is without */
    v[1] = 4;
    BAD(n, www_wire, 1, false); /* unknown bits */
    memcpy(v, val, n);
    for (size_t cut = 0; cut < n; cut++)
        BAD(cut, www_wire, 1, false); /* truncated anywhere */
    v[n] = 0;
    BAD(n + 1, www_wire, 1, false); /* a byte too many */
    BAD(n, a_wire, 1, false);       /* another name's key */
    BAD(n, www_wire, 28, false);    /* another type's key */
    memcpy(v, val, n);
    memset(v + 12, 0, 8); /* expires before it was stored */
    BAD(n, www_wire, 1, false);
    memcpy(v, val, n);
    memset(v + 4, 0, 16); /* a TTL beyond 2^31 - 1 (RFC 2181 8) */
    v[12 + 4] = 0x90;
    BAD(n, www_wire, 1, false);
    memcpy(v, val, n);
    v[SHC_VALUE_HEADER + 3] = (uint8_t)((v[SHC_VALUE_HEADER + 3] & 0xF0) | 2); /* SERVFAIL */
    BAD(n, www_wire, 1, false);
    memcpy(v, val, n);
    v[SHC_VALUE_HEADER + 2] &= 0x7F; /* QR = 0: a query */
    BAD(n, www_wire, 1, false);
    memcpy(v, val, n);
    v[SHC_VALUE_HEADER + 2] |= 0x02; /* TC */
    BAD(n, www_wire, 1, false);
    memcpy(v, val, n);
    v[SHC_VALUE_HEADER + 7] = 5; /* five answers announced, one there */
    BAD(n, www_wire, 1, false);
    memcpy(v, val, n);
    v[SHC_VALUE_HEADER + 12] = 0xC0; /* a question name that is a pointer */
    BAD(n, www_wire, 1, false);
    ck_assert_int_eq(import(b, m, NULL, 0, www_wire, sizeof(www_wire), 1, false, WALL),
                     SHC_VALUE_BAD);
#undef BAD
    /* None of it reached the cache; the good value does. */
    ck_assert_uint_eq(answer_ttl(b, 5000), 0);
    ck_assert_int_eq(import(b, m, val, n, www_wire, sizeof(www_wire), 1, false, WALL),
                     SHC_VALUE_STORED);
    ck_assert_uint_eq(answer_ttl(b, 5000), 300);
    sr_msg_free(m);
    cache_free(b);
}
END_TEST

/* cache_size 0: good, not stored, msg holds it for the caller. */
START_TEST(test_value_not_stored)
{
    cache_cfg_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.max_ttl = 86400;
    cache_t *b = cache_new(&cfg);
    sr_msg_t *m = sr_msg_new();
    size_t n = make_value(NOW, WALL);

    ck_assert_int_eq(import(b, m, val, n, www_wire, sizeof(www_wire), 1, false, WALL),
                     SHC_VALUE_NOT_STORED);
    ck_assert_uint_eq(sr_msg_rr_count(m), 1);
    sr_msg_free(m);
    cache_free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("shcache");
    add_tcase(s, "url", NULL, NULL, TESTS(test_url_good, test_url_bad));
    add_tcase(s, "keys", NULL, NULL, TESTS(test_keys));
    add_tcase(s, "values", NULL, NULL,
              TESTS(test_value_round_trip, test_value_bad, test_value_not_stored));
    return run_suite(s);
}
