/* stubresd: the shared cache, Redis as a second tier behind the local
 * cache for a fleet of stubresd (key shared_cache).
 *
 * Redis is a cache, never a source of truth. On a local miss the
 * forwarder asks it (GET) before the upstreams and waits at most
 * shared_cache_timeout; what comes back is hostile input (shcache_value.c
 * checks it: version, length, a parse as a DNS message, the key's
 * question) and, when good, goes into the local cache like an upstream
 * answer. Answers from upstreams are stored there (SET ... PX remaining
 * TTL). A Redis that is down, slow or refusing never fails a query: after
 * a timeout or an error it is skipped at once, without a wait, until a
 * reconnect (with backoff, in the background) works again.
 *
 * One async hiredis connection per worker, on the worker's event loop
 * (hiredis's libevent adapter), its commands pipelined; nothing blocks:
 * the host must be an IP address (a resolver resolving its own cache's
 * name through itself would be a loop), AUTH and SELECT go out on the
 * connection before anything else, and a PING answered says it is up.
 *
 * Keys: "stubres:" NAME ":" TYPE ":" CLASS [":DO"] [":CD"], NAME the
 * question name lowercase in presentation form with its trailing dot
 * (escapes as in zone files), TYPE and CLASS mnemonics, e.g.
 * "stubres:example.com.:A:IN" (redis-cli --scan --pattern 'stubres:*').
 * Values (integers big-endian):
 *   u8 version (1), u8 bits (1 DO, 2 CD), u16 image length,
 *   u64 stored (Unix seconds), u64 expires (Unix seconds),
 *   the image: the local cache's wire image (cache_export), TTLs counted
 *   down to `stored`. */
#ifndef STUBRESD_SHCACHE_H
#define STUBRESD_SHCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#include <stubres/wire.h>

#include "cache.h"
#include "stats.h"

struct event_base;

/* ---- the URL (shared_cache) ---- */

#define SHC_DEFAULT_PORT 6379
/* AUTH's password: longer is refused (Redis's own limit is far above). */
#define SHC_PASSWORD_MAX 512
#define SHC_DB_MAX 65535

typedef struct shc_url {
    bool is_unix;                                           /* redis+unix:// */
    char host[64];                                          /* redis://: a numeric IP address */
    uint16_t port;                                          /* redis://: 6379 by default */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* redis+unix:// */
    char password[SHC_PASSWORD_MAX + 1];                    /* "" : no AUTH */
    size_t password_len;
    unsigned db; /* SELECT db when not 0 */
} shc_url_t;

/* Parse redis://[:PASSWORD@]HOST[:PORT][/DB] (HOST an IPv4 address,
 * [IPv6] or localhost) or redis+unix://[:PASSWORD@]PATH[?db=N] (PATH
 * absolute); PASSWORD may hold %XX escapes (%40 for '@'). 0, or -1 with a
 * reason in err. Everything in s is hostile: nothing is trusted, nothing
 * is truncated. */
int shc_url_parse(const char *s, shc_url_t *u, char *err, size_t errcap);

/* ---- keys and values ---- */

/* "stubres:" + the longest name (4 bytes per byte escaped) + type, class
 * and bits. */
#define SHC_KEY_MAX (8 + SR_NAME_MAX_TEXT + 1 + 16 + 1 + 16 + 6 + 1)
#define SHC_VALUE_VERSION 1u
#define SHC_VALUE_HEADER 20u
/* The largest value: an image is at most 64 KiB. */
#define SHC_VALUE_MAX (SHC_VALUE_HEADER + 65535u)

/* The key of a question (qname in wire form, any case) into out
 * (SHC_KEY_MAX bytes): its length, 0 for a malformed name. */
size_t shc_key(const uint8_t *qname, size_t qname_len, uint16_t qtype, uint16_t qclass, bool do_bit,
               bool cd, char *out, size_t cap);

/* Write a value's header into out for an image of img_len bytes stored
 * at Unix time wall that has ttl_left seconds to live. */
void shc_value_header(uint8_t *out, bool do_bit, bool cd, size_t img_len, int64_t wall,
                      uint32_t ttl_left);

typedef enum shc_value_result {
    SHC_VALUE_BAD = 0,    /* refused: counted as an error */
    SHC_VALUE_EXPIRED,    /* expired (clocks differ): a miss */
    SHC_VALUE_STORED,     /* in the local cache now */
    SHC_VALUE_NOT_STORED, /* good, but the cache keeps no such answer
                             (cache_size 0, TTL 0 after the limits):
                             msg holds it parsed */
} shc_value_result_t;

/* Check the value val (len bytes, from Redis: hostile) read for the
 * question (qname, qtype, qclass, do_bit, cd) at Unix time wall and store
 * its answer in c at cache time now. scratch: 64 KiB the image is copied
 * to (msg points into it afterwards); msg: the caller's parser. */
shc_value_result_t shc_value_import(cache_t *c, sr_msg_t *msg, uint8_t *scratch, const uint8_t *val,
                                    size_t len, const uint8_t *qname, size_t qname_len,
                                    uint16_t qtype, uint16_t qclass, bool do_bit, bool cd,
                                    int64_t wall, uint32_t now);

/* ---- the connection of one worker ---- */

typedef struct shc shc_t;
typedef struct shc_req shc_req_t;

/* How a GET ended. */
typedef enum shc_outcome {
    SHC_HIT,  /* val, len: the value (valid only during the call) */
    SHC_MISS, /* no such key */
    SHC_SKIP, /* timeout, error, disconnect: go upstream */
} shc_outcome_t;

typedef void (*shc_get_cb)(void *arg, shc_outcome_t outcome, const uint8_t *val, size_t len);

/* A shared cache for the worker whose loop is base, counting into st.
 * Off until shc_configure. NULL when out of memory. */
shc_t *shc_new(struct event_base *base, stats_thread_t *st);
/* Close the connection and free. Every GET must have ended or been
 * cancelled. Accepts NULL. */
void shc_free(shc_t *s);
/* Use url ("" : off) and timeout_ms from now on; a changed url closes the
 * connection and opens the new one (a bad url, which cfg refuses, is
 * logged and leaves it off). */
void shc_configure(shc_t *s, const char *url, uint32_t timeout_ms);
/* Is it on and up (connected, set up, not tripped)? */
bool shc_ready(const shc_t *s);
/* GET key: cb follows exactly once, later (never inside this call),
 * unless shc_cancel comes first. NULL (and no cb) when not ready or out
 * of memory. */
shc_req_t *shc_get(shc_t *s, const char *key, size_t keylen, shc_get_cb cb, void *arg);
/* Forget r: its cb is never called. */
void shc_cancel(shc_req_t *r);
/* SET key val PX ttl_ms, when ready; its outcome is counted (stores,
 * errors), nobody waits for it. */
void shc_set(shc_t *s, const char *key, size_t keylen, const uint8_t *val, size_t len,
             uint64_t ttl_ms);

#endif
