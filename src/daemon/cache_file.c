/* stubresd: the cache file (cache_file; see cache.h). A snapshot of the
 * cache's ready images, taken one shard lock at a time, written whole to
 * a temporary file beside the real one and renamed over it; read back at
 * start as hostile input: every entry goes through the codec and
 * cache_store, as an upstream response would.
 *
 * Layout (integers big-endian):
 *   header  "SRCACHE\n" magic, u32 version (1), u32 entries,
 *           u64 created (Unix seconds), u64 payload bytes
 *   entry   u64 expires (Unix seconds), u8 bits (1 DO, 2 CD), u8 zero,
 *           u16 length, then the image: an upstream response without its
 *           OPT record, TTLs counted down to `created`
 *   trailer SHA-256 of everything before it */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cache-internal.h"
#include "codec-internal.h"

#define CF_MAGIC "SRCACHE\n"
#define CF_VERSION 1u
#define CF_HEADER 32u
#define CF_ENTRY 12u
#define CF_SUM 32u

static void put64(uint8_t *p, uint64_t v)
{
    sr_put32(p, (uint32_t)(v >> 32));
    sr_put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)sr_get32(p) << 32 | sr_get32(p + 4);
}

static bool sha256(const uint8_t *p, size_t n, uint8_t out[CF_SUM])
{
    unsigned len = 0;
    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == CF_SUM;
}

uint8_t *cache_file_snapshot(cache_t *c, uint32_t now, int64_t wall, size_t *len,
                             size_t *entries)
{
    size_t cap = CF_HEADER + CF_SUM, n = 0, count = 0;
    uint8_t *buf;

    *len = 0;
    *entries = 0;
    if (c == NULL || wall < 0)
        return NULL;
    /* Room for what the shards hold now; entries stored meanwhile that do
     * not fit are left out. */
    for (unsigned i = 0; i < c->nshards; i++) {
        shard_t *s = c->shards[i];
        shard_lock(s);
        cap += s->bytes;
        shard_unlock(s);
    }
    buf = sr_malloc(cap);
    if (buf == NULL)
        return NULL;
    n = CF_HEADER;
    for (unsigned i = 0; i < c->nshards; i++) {
        shard_t *s = c->shards[i];
        shard_lock(s);
        for (centry_t *e = s->head; e != NULL; e = e->lru_next) {
            /* Expired entries only while serve-stale may still use them;
             * their expiry goes out as it was, in the past. */
            if (e->rcode == RCODE_SERVFAIL || e->ttl == 0 ||
                (now >= e->expire &&
                 (!s->cfg.serve_stale || (uint64_t)now >= (uint64_t)e->expire + s->cfg.stale_max)))
                continue;
            int64_t expires = wall + ((int64_t)e->expire - (int64_t)now);
            if (expires < 0)
                continue;
            if (n + CF_ENTRY + e->img_len > cap - CF_SUM)
                break;
            uint8_t *p = buf + n;
            put64(p, (uint64_t)expires);
            p[8] = e->bits;
            p[9] = 0;
            sr_put16(p + 10, e->img_len);
            cache_entry_copy_out(e, now, p + CF_ENTRY);
            n += CF_ENTRY + e->img_len;
            count++;
        }
        shard_unlock(s);
    }
    memcpy(buf, CF_MAGIC, 8);
    sr_put32(buf + 8, CF_VERSION);
    sr_put32(buf + 12, (uint32_t)count);
    put64(buf + 16, (uint64_t)wall);
    put64(buf + 24, (uint64_t)(n - CF_HEADER));
    if (!sha256(buf, n, buf + n)) {
        sr_free(buf);
        return NULL;
    }
    *len = n + CF_SUM;
    *entries = count;
    return buf;
}

int cache_file_write(const char *path, const uint8_t *buf, size_t len, char *err, size_t errcap)
{
    /* 0600: the file is a record of what was looked up. */
    if (sr_write_atomic(path, 0600, buf, len) != 0) {
        snprintf(err, errcap, "cache_file: cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

void cache_entry_copy_out(const centry_t *e, uint32_t now, uint8_t *out)
{
    uint32_t elapsed = now > e->stored ? now - e->stored : 0;
    memcpy(out, entry_cimg(e), e->img_len);
    for (size_t t = 0; t < e->nttl; t++) {
        uint8_t *q = out + e->ttl_off[t];
        uint32_t v = sr_get32(q);
        sr_put32(q, v > elapsed ? v - elapsed : 0);
    }
}

/* One entry's image, TTLs counted down by age and capped at max_ttl_left,
 * through the codec and cache_store as an upstream response. An entry
 * that expired expired_ago seconds ago (serve-stale, the cache file)
 * keeps TTLs of at least 1, so that the codec and cache_store see data
 * to keep, and is stored as expired that long ago. */
static cache_import_result_t import_entry(cache_t *c, sr_msg_t *msg, uint8_t *img, size_t len,
                                          unsigned bits, uint32_t age, uint32_t max_ttl_left,
                                          uint32_t expired_ago, const uint8_t *qname,
                                          size_t qname_len, uint16_t qtype, uint16_t qclass,
                                          uint32_t now)
{
    uint32_t floor = expired_ago != 0 ? 1 : 0;
    size_t qlen = 0;
    bool stored;

    if (len < SR_HEADER_LEN || sr_msg_parse(msg, img, len, SR_PARSE_NO_FIELDS) != SR_OK ||
        sr_msg_qdcount(msg) != 1)
        return CACHE_IMPORT_BAD;
    for (size_t i = 0; i < sr_msg_rr_count(msg); i++) {
        const sr_rr_t *rr = sr_msg_rr(msg, i);
        if (rr == NULL || rr->ttl_offset + 4 > len)
            return CACHE_IMPORT_BAD;
        uint32_t v = sr_get32(img + rr->ttl_offset);
        v = (uint64_t)v > (uint64_t)age + floor ? v - age : floor;
        sr_put32(img + rr->ttl_offset, v < max_ttl_left ? v : max_ttl_left);
    }
    /* Parsed again: the codec's view of the TTLs is what cache_store
     * reads. */
    if (sr_msg_parse(msg, img, len, SR_PARSE_NO_FIELDS) != SR_OK)
        return CACHE_IMPORT_BAD;
    const uint8_t *rq = sr_msg_qname_wire(msg, &qlen);
    if (rq == NULL || qlen > SR_NAME_MAX_WIRE)
        return CACHE_IMPORT_BAD;
    if (qname != NULL && (!sr_name_equal(rq, qlen, qname, qname_len) ||
                          sr_msg_qtype(msg) != qtype || sr_msg_qclass(msg) != qclass))
        return CACHE_IMPORT_BAD;
    uint8_t name[SR_NAME_MAX_WIRE];
    memcpy(name, rq, qlen);
    if (expired_ago != 0)
        stored = cache_store_stale(c, name, qlen, sr_msg_qtype(msg), sr_msg_qclass(msg),
                                   (bits & KEY_DO) != 0, (bits & KEY_CD) != 0, msg, now,
                                   expired_ago);
    else
        stored = cache_store(c, name, qlen, sr_msg_qtype(msg), sr_msg_qclass(msg),
                             (bits & KEY_DO) != 0, (bits & KEY_CD) != 0, msg, now);
    return stored ? CACHE_IMPORT_STORED : CACHE_IMPORT_NOT_STORED;
}

cache_import_result_t cache_import(cache_t *c, sr_msg_t *msg, uint8_t *img, size_t len,
                                   unsigned bits, uint32_t age, uint32_t max_ttl_left,
                                   const uint8_t *qname, size_t qname_len, uint16_t qtype,
                                   uint16_t qclass, uint32_t now)
{
    return import_entry(c, msg, img, len, bits, age, max_ttl_left, 0, qname, qname_len, qtype,
                        qclass, now);
}

int cache_file_load_buf(cache_t *c, const uint8_t *buf, size_t len, uint32_t now, int64_t wall,
                        size_t *loaded, char *err, size_t errcap)
{
    uint8_t sum[CF_SUM];
    uint8_t *img = NULL;
    sr_msg_t *msg = NULL;
    size_t budget = 0, used = 0;
    bool serve_stale = false;
    uint32_t stale_max = 0;
    int rc = -1;

    *loaded = 0;
    if (c == NULL)
        return 0;
    if (len == 0) {
        snprintf(err, errcap, "empty");
        return -1;
    }
    if (len < 8 || memcmp(buf, CF_MAGIC, 8) != 0) {
        snprintf(err, errcap, "not a stubresd cache file");
        return -1;
    }
    if (len < CF_HEADER + CF_SUM) {
        snprintf(err, errcap, "truncated (%zu bytes)", len);
        return -1;
    }
    if (sr_get32(buf + 8) != CF_VERSION) {
        snprintf(err, errcap, "version %u, not %u", (unsigned)sr_get32(buf + 8), CF_VERSION);
        return -1;
    }
    uint32_t count = sr_get32(buf + 12);
    uint64_t created = get64(buf + 16);
    uint64_t payload = get64(buf + 24);
    if (payload != len - CF_HEADER - CF_SUM) {
        snprintf(err, errcap, "truncated (%zu bytes, the header says %llu)", len,
                 (unsigned long long)(payload + CF_HEADER + CF_SUM));
        return -1;
    }
    if (!sha256(buf, len - CF_SUM, sum) || memcmp(sum, buf + len - CF_SUM, CF_SUM) != 0) {
        snprintf(err, errcap, "checksum mismatch");
        return -1;
    }
    /* A file from the future (the clock was set back) counts as fresh. */
    uint64_t age64 = (uint64_t)wall > created ? (uint64_t)wall - created : 0;
    uint32_t age = age64 > UINT32_MAX ? UINT32_MAX : (uint32_t)age64;
    for (unsigned i = 0; i < c->nshards; i++) {
        shard_t *s = c->shards[i];
        shard_lock(s);
        budget += s->max_bytes;
        serve_stale = s->cfg.serve_stale;
        stale_max = s->cfg.stale_max;
        shard_unlock(s);
    }
    img = sr_malloc(UINT16_MAX);
    msg = sr_msg_new();
    if (img == NULL || msg == NULL) {
        snprintf(err, errcap, "out of memory");
        goto done;
    }
    size_t off = CF_HEADER, end = len - CF_SUM;
    bool full = false;
    for (uint32_t i = 0; i < count && !full; i++) {
        if (end - off < CF_ENTRY) {
            snprintf(err, errcap, "entry %u: truncated", (unsigned)i);
            goto done;
        }
        const uint8_t *p = buf + off;
        uint64_t expires = get64(p);
        size_t ilen = sr_get16(p + 10);
        if (end - off - CF_ENTRY < ilen) {
            snprintf(err, errcap, "entry %u: truncated", (unsigned)i);
            goto done;
        }
        off += CF_ENTRY + ilen;
        /* Bounded by cache_size: what would not fit is not even parsed. */
        if (used + ilen + sizeof(centry_t) + CACHE_ENTRY_OVERHEAD > budget) {
            full = true;
            break;
        }
        if (ilen < SR_HEADER_LEN)
            continue;
        /* Expired: dropped, or kept for serve-stale within stale_max. */
        uint32_t expired_ago = 0;
        if (expires <= (uint64_t)wall) {
            uint64_t ago = (uint64_t)wall - expires + 1;
            if (!serve_stale || ago >= stale_max)
                continue;
            expired_ago = (uint32_t)ago;
        }
        memcpy(img, p + CF_ENTRY, ilen);
        if (import_entry(c, msg, img, ilen, p[8], age, UINT32_MAX, expired_ago, NULL, 0, 0, 0,
                         now) == CACHE_IMPORT_STORED) {
            used += ilen + sizeof(centry_t) + CACHE_ENTRY_OVERHEAD;
            (*loaded)++;
        }
    }
    if (!full && off != end) {
        snprintf(err, errcap, "%zu bytes after the last entry", end - off);
        goto done;
    }
    rc = 0;
done:
    sr_msg_free(msg);
    sr_free(img);
    return rc;
}

int cache_file_load(cache_t *c, const char *path, uint32_t now, int64_t wall, size_t *loaded,
                    char *err, size_t errcap)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t cap = 0;
    int fd, rc = -1;

    *loaded = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(err, errcap, "%s", strerror(errno));
        return errno == ENOENT ? 1 : -1;
    }
    for (unsigned i = 0; c != NULL && i < c->nshards; i++)
        cap += c->shards[i]->max_bytes;
    /* The file holds at most what the cache held: images and a little per
     * entry. Larger is not ours (or is from a larger cache_size). */
    cap = cap * 2 + CF_HEADER + CF_SUM + 65536;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errcap, "not a regular file");
        goto done;
    }
    if ((uint64_t)st.st_size > cap) {
        snprintf(err, errcap, "%lld bytes: larger than this cache_size holds",
                 (long long)st.st_size);
        goto done;
    }
    size_t size = (size_t)st.st_size, got = 0;
    buf = sr_malloc(size != 0 ? size : 1);
    if (buf == NULL) {
        snprintf(err, errcap, "out of memory");
        goto done;
    }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    rc = cache_file_load_buf(c, buf, got, now, wall, loaded, err, errcap);
done:
    close(fd);
    sr_free(buf);
    return rc;
}
