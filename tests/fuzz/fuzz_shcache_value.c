/* libFuzzer target: the shared cache's value decoder (shc_value_import in
 * src/daemon/shcache_value.c), whose input is whatever Redis returns for a
 * key.
 *
 * The first byte picks the question the value is read for (bit 0: DO,
 * bit 1: CD, bits 2-3: www.example.test A, AAAA, the root NS, or
 * example.test SOA); the rest is the value. Whatever it holds, the
 * decoder says bad, expired, stored or not stored; a stored answer is one
 * to that question, which the cache then answers, with a TTL no longer
 * than the value's expiry allows. */
#include "config.h"

#include <string.h>

#include <stubres/wire.h>

#include "cache.h"
#include "codec-internal.h"
#include "fuzz.h"
#include "lib-internal.h"
#include "shcache.h"

#define WALL 1700000000
#define NOW 1000u

static const uint8_t www[] = {3,   'w', 'w', 'w', 7,   'e', 'x', 'a', 'm',
                              'p', 'l', 'e', 4,   't', 'e', 's', 't', 0};
static const uint8_t root[] = {0};
static const uint8_t zone[] = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct {
        const uint8_t *name;
        size_t len;
        uint16_t type;
    } qs[4] = {
        {www, sizeof(www), 1}, {www, sizeof(www), 28}, {root, 1, 2}, {zone, sizeof(zone), 6}};
    cache_cfg_t cfg;
    uint8_t out[4096];
    size_t n = 0;

    if (size == 0)
        return 0;
    memset(&cfg, 0, sizeof(cfg));
    cfg.max_bytes = 256u * 1024u;
    cfg.max_ttl = 86400;
    cfg.negative_ttl = 3600;
    cfg.servfail_ttl = 5;
    cfg.stale_reply_ttl = 30;
    cache_t *c = cache_new(&cfg);
    sr_msg_t *m = sr_msg_new();
    uint8_t *scratch = sr_malloc(SHC_VALUE_MAX);
    if (c == NULL || m == NULL || scratch == NULL)
        goto done;

    unsigned sel = (data[0] >> 2) & 3u;
    bool do_bit = (data[0] & 1u) != 0, cd = (data[0] & 2u) != 0;
    shc_value_result_t r =
        shc_value_import(c, m, scratch, data + 1, size - 1, qs[sel].name, qs[sel].len, qs[sel].type,
                         SR_CLASS_IN, do_bit, cd, WALL, NOW);
    FUZZ_CHECK(r == SHC_VALUE_BAD || r == SHC_VALUE_EXPIRED || r == SHC_VALUE_STORED ||
               r == SHC_VALUE_NOT_STORED);
    cache_query_t q = {.id = 1,
                       .flags = (uint16_t)(0x0100 | (cd ? SR_FLAG_CD : 0)),
                       .qname = qs[sel].name,
                       .qname_len = qs[sel].len,
                       .qtype = qs[sel].type,
                       .qclass = SR_CLASS_IN,
                       .edns = do_bit,
                       .do_bit = do_bit,
                       .max_len = 4096};
    cache_result_t lr = cache_lookup(c, &q, NOW, false, out, sizeof(out), &n);
    if (r != SHC_VALUE_STORED) {
        FUZZ_CHECK(lr == CACHE_MISS); /* nothing else reached the cache */
    } else if (lr != CACHE_MISS) {
        /* The value's own header: it expires at most this long after WALL. */
        uint64_t expires = (uint64_t)sr_get32(data + 1 + 12) << 32 | sr_get32(data + 1 + 16);
        uint32_t left = (uint32_t)(expires - WALL);
        uint32_t ttl_left = 0;
        static uint8_t img[SHC_VALUE_MAX];
        size_t e = cache_export(c, qs[sel].name, qs[sel].len, qs[sel].type, SR_CLASS_IN, do_bit, cd,
                                NOW, img, sizeof(img), &ttl_left);
        FUZZ_CHECK(e == 0 || ttl_left <= left);
        FUZZ_CHECK(n >= SR_HEADER_LEN && sr_get16(out) == 1);
    }
done:
    sr_free(scratch);
    sr_msg_free(m);
    cache_free(c);
    return 0;
}
