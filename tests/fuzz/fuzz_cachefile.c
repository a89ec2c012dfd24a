/* libFuzzer target: the cache file reader (cache_file_load_buf in
 * src/daemon/cache_file.c), whose input is whatever lies at cache_file.
 *
 * The first byte chooses how much of the file to take as it is: bit 0
 * set, the SHA-256 trailer is recomputed, bit 1 set, the header's payload
 * length too, so that the fuzzer reaches the entries behind the checks
 * it cannot forge. The rest is the file. Whatever it holds, the reader
 * returns 0 or -1, the cache stays inside cache_size, and what was read
 * is saved and read back whole: a snapshot of it loads entry for entry. */
#include "config.h"

#include <string.h>

#include <openssl/evp.h>

#include <stubres/wire.h>

#include "cache.h"
#include "fuzz.h"
#include "lib-internal.h"

#define WALL 1700000000

static cache_cfg_t small_cfg(void)
{
    cache_cfg_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.max_bytes = 64u * 1024u;
    cfg.max_ttl = 86400;
    cfg.negative_ttl = 3600;
    cfg.servfail_ttl = 5;
    cfg.stale_max = 3600;
    cfg.stale_reply_ttl = 30;
    return cfg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cache_cfg_t cfg = small_cfg();
    char err[512];
    size_t loaded = 0, len = 0, n = 0, again = 0;
    cache_stats_t st;

    if (size == 0)
        return 0;
    uint8_t mode = data[0];
    size_t flen = size - 1;
    uint8_t *file = sr_malloc(flen != 0 ? flen : 1);
    if (file == NULL)
        return 0;
    memcpy(file, data + 1, flen);
    if ((mode & 2u) != 0 && flen >= 64) {
        uint64_t payload = flen - 64;
        for (int i = 0; i < 8; i++)
            file[24 + i] = (uint8_t)(payload >> (56 - 8 * i));
    }
    if ((mode & 1u) != 0 && flen >= 32) {
        unsigned dl = 0;
        EVP_Digest(file, flen - 32, file + flen - 32, &dl, EVP_sha256(), NULL);
    }
    cache_t *c = cache_new(&cfg);
    FUZZ_CHECK(c != NULL);
    int rc = cache_file_load_buf(c, file, flen, 100, WALL + (mode >> 2), &loaded, err,
                                 sizeof(err));
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK(rc == 0 || err[0] != '\0');
    cache_stats(c, &st);
    FUZZ_CHECK(st.bytes <= cfg.max_bytes);
    FUZZ_CHECK(st.entries <= loaded);

    /* What was read is saved and read back whole, less what a save
     * leaves out: SERVFAILs and entries with no time left (a file may
     * hold a SERVFAIL answer, or one whose TTL is 0, that the load
     * stores as it would an upstream's). */
    uint8_t *buf = cache_file_snapshot(c, 100, WALL + (mode >> 2), &len, &n);
    FUZZ_CHECK(buf != NULL);
    FUZZ_CHECK(n <= st.entries);
    cache_t *c2 = cache_new(&cfg);
    FUZZ_CHECK(c2 != NULL);
    FUZZ_CHECK(cache_file_load_buf(c2, buf, len, 7, WALL + (mode >> 2), &again, err,
                                   sizeof(err)) == 0);
    FUZZ_CHECK(again == n);

    sr_free(buf);
    sr_free(file);
    cache_free(c2);
    cache_free(c);
    return 0;
}
