/* Poisoning defences towards plain UDP servers, besides the random ID and
 * source port (udp.c, RFC 5452): DNS Cookies (RFC 7873, with RFC 9018's
 * interoperable server cookies on the server side, which a client only
 * stores and echoes) and 0x20 case randomisation of the question
 * (draft-vixie-dnsext-dns0x20), as unbound does them. A blind forger must
 * now also guess the 64-bit client cookie of a server that does cookies,
 * and one bit per letter of the question.
 *
 * Costs per query: copying the 20 bytes of the option, one random bit per
 * letter, a second look at the reply's OPT record. The client cookie is
 * computed once per upstream. */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "codec-internal.h"
#include "upstream-internal.h"

#define OPT_COOKIE 10         /* RFC 7873 4 */
#define CLIENT_COOKIE_LEN 8   /* RFC 7873 4.1 */
#define SERVER_COOKIE_MIN 8   /* RFC 7873 4.2 */
#define SERVER_COOKIE_MAX 32
#define RCODE_BADCOOKIE 23    /* RFC 7873 8 */

const char sr_why_cookie[] = "wrong client cookie (RFC 7873 5.3)";
const char sr_why_no_cookie[] = "no cookie from a server that does cookies (RFC 7873 5.3)";
const char sr_why_badcookie[] = "BADCOOKIE (RFC 7873 5.3): asking again with the new server cookie";
const char sr_why_case[] = "question case differs from the query's (0x20)";

/* The client secret (RFC 7873 4.1), one per process, made at the first
 * upstream. It changes on every start: the cookies of a restarted stubresd
 * are new, and servers answer the first query of each with BADCOOKIE at
 * worst. */
static uint8_t secret[32];
static pthread_once_t secret_once = PTHREAD_ONCE_INIT;

static void secret_make(void)
{
    if (!sr_random_bytes(secret, sizeof(secret)))
        for (size_t i = 0; i < sizeof(secret); i += 2)
            sr_put16(secret + i, sr_random16());
}

void sr_guard_init(sr_upstream_t *up)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    const char *who = up->name != NULL ? up->name : "";

    pthread_once(&secret_once, secret_make);
    /* HMAC-SHA256(secret, "udp://address:port"), its first 8 bytes: the
     * same server always gets the same cookie from this process, another
     * server another one, and no server can tell the secret. */
    if (HMAC(EVP_sha256(), secret, (int)sizeof(secret), (const unsigned char *)who, strlen(who),
             md, &mdlen) != NULL &&
        mdlen >= CLIENT_COOKIE_LEN)
        memcpy(up->client_cookie, md, CLIENT_COOKIE_LEN);
    else
        for (size_t i = 0; i < CLIENT_COOKIE_LEN; i += 2)
            sr_put16(up->client_cookie + i, sr_random16());
}

/* The COOKIE option at x->cookie_off, the end of x->q. */
static void put_cookie(sr_xfer_t *x)
{
    const sr_upstream_t *up = x->up;
    size_t off = x->cookie_off, n = CLIENT_COOKIE_LEN + up->server_cookie_len;
    size_t old_opt = x->qlen - x->cookie_off; /* 0 the first time */
    uint16_t rdlen = sr_get16(x->q + x->opt_rdlen_off);

    sr_put16(x->q + off, OPT_COOKIE);
    sr_put16(x->q + off + 2, (uint16_t)n);
    memcpy(x->q + off + 4, up->client_cookie, CLIENT_COOKIE_LEN);
    if (up->server_cookie_len != 0)
        memcpy(x->q + off + 4 + CLIENT_COOKIE_LEN, up->server_cookie, up->server_cookie_len);
    sr_put16(x->q + x->opt_rdlen_off, (uint16_t)(rdlen - old_opt + 4 + n));
    x->qlen = off + 4 + n;
}

/* Does the OPT rdata at p (n bytes) hold option code? Its data then. */
static const uint8_t *find_option(const uint8_t *p, size_t n, uint16_t code, size_t *len)
{
    size_t o = 0;

    while (n - o >= 4) {
        uint16_t c = sr_get16(p + o), l = sr_get16(p + o + 2);
        if (l > n - o - 4)
            return NULL;
        if (c == code) {
            *len = l;
            return p + o + 4;
        }
        o += 4 + (size_t)l;
    }
    return NULL;
}

#define BYTES(b) (0x0101010101010101ull * (b))

/* The letters of 8 name bytes in random case, 8 random bits (one per
 * byte) in r: SWAR, about 20 instructions where a byte loop took 100
 * (a miss costs about 13k). Length bytes are below 64 (with 0x20 set
 * they stay below 'a') and bytes from 0x80 are no letters, so the name is
 * taken as plain bytes, without its label structure. */
static inline uint64_t case8(uint64_t w, uint64_t r)
{
    uint64_t lw = w | BYTES(0x20);
    uint64_t t = lw & BYTES(0x7f);
    /* bit 7 of each byte: >= 'a', > 'z' (no carry: t < 0x80) */
    uint64_t letters = (t + BYTES(0x80 - 'a')) & ~(t + BYTES(0x80 - 'z' - 1)) & ~lw & BYTES(0x80);
    /* bit i of r to bit 5 of byte i */
    uint64_t spread = ((r & 0xFFu) * BYTES(1)) & 0x8040201008040201ull;
    spread = ((spread + BYTES(0x7f)) & BYTES(0x80)) >> 2;
    /* letters: toggle 0x20 where it differs from the random bit */
    return w ^ ((letters >> 2) & ~(w ^ spread));
}

/* Returns true when some letter changed case. The name lies in a buffer
 * with 8 initialised bytes after it (sr_guard_prepare): the last word is
 * read whole and only its first bytes may change. */
static bool randomize_case(uint8_t *name, size_t len)
{
    static const uint8_t ones[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    uint64_t diff = 0, w, o, mask, bits = 0;

    for (size_t i = 0; i < len; i += 8) {
        size_t n = len - i < 8 ? len - i : 8;
        if ((i & 63) == 0)
            bits = sr_random64();
        memcpy(&mask, ones + 8 - n, 8); /* the first n bytes, in memory order */
        memcpy(&w, name + i, 8);
        o = w ^ ((case8(w, bits) ^ w) & mask);
        memcpy(name + i, &o, 8);
        bits >>= 8;
        diff |= o ^ w;
    }
    return diff != 0;
}

void sr_guard_prepare(sr_upstream_t *up, sr_xfer_t *x, const struct sr_msg_shape *shape)
{
    size_t clen;

    if (up->cfg.cookies && shape->opt_found &&
        shape->opt_rdata_off + shape->opt_rdlen == x->qlen &&
        x->qlen + 4 + CLIENT_COOKIE_LEN + up->server_cookie_len <= x->qcap &&
        find_option(x->q + shape->opt_rdata_off, shape->opt_rdlen, OPT_COOKIE, &clen) == NULL) {
        x->opt_rdlen_off = shape->opt_rdlen_off;
        x->cookie_off = x->qlen;
        put_cookie(x);
    }
    if (up->cfg.case_randomization && !up->case_off) {
        x->cased = randomize_case(x->q + SR_HEADER_LEN, x->qname_len);
    }
}

const char *sr_guard_check(sr_xfer_t *x, const uint8_t *resp, const uint8_t *qname,
                           const struct sr_msg_shape *shape)
{
    sr_upstream_t *up = x->up;
    const uint8_t *c;
    size_t clen = 0;

    /* Every letter as sent: a blind forger guesses one bit per letter. */
    if (x->cased && qname != NULL && memcmp(qname, x->q + SR_HEADER_LEN, x->qname_len) != 0)
        return sr_why_case;
    if (x->cookie_off == 0 || shape == NULL)
        return NULL;
    c = shape->opt_found ? find_option(resp + shape->opt_rdata_off, shape->opt_rdlen, OPT_COOKIE,
                                       &clen)
                         : NULL;
    if (c == NULL) {
        /* A server that never answered with a cookie does not do them
         * (RFC 7873 5.3: served as before); one that did always does. */
        if (up->cookie_seen) {
            x->cookie_missing++;
            return sr_why_no_cookie;
        }
        return NULL;
    }
    /* RFC 7873 5.3: a client cookie alone, or with a server cookie of 8
     * to 32 bytes; ours, or the reply is not for us. */
    if ((clen != CLIENT_COOKIE_LEN &&
         (clen < CLIENT_COOKIE_LEN + SERVER_COOKIE_MIN ||
          clen > CLIENT_COOKIE_LEN + SERVER_COOKIE_MAX)) ||
        memcmp(c, up->client_cookie, CLIENT_COOKIE_LEN) != 0)
        return sr_why_cookie;
    if (clen > CLIENT_COOKIE_LEN) {
        up->server_cookie_len = clen - CLIENT_COOKIE_LEN;
        memcpy(up->server_cookie, c + CLIENT_COOKIE_LEN, up->server_cookie_len);
        up->cookie_seen = true;
        x->cookie_ok = true;
    }
    /* The extended RCODE: OPT TTL's top byte, above the header's 4 bits. */
    unsigned rcode = (unsigned)(resp[3] & 0xF) | ((unsigned)resp[shape->opt_rdlen_off - 4] << 4);
    if (rcode == RCODE_BADCOOKIE && !x->badcookie_retried)
        return sr_why_badcookie;
    return NULL;
}

void sr_guard_rewrite(sr_xfer_t *x)
{
    size_t need = x->cookie_off + 4 + CLIENT_COOKIE_LEN + x->up->server_cookie_len;

    if (x->cookie_off != 0 && need > x->qcap) {
        /* A longer server cookie than the query was made for. */
        uint8_t *q = sr_realloc(x->q, need);
        if (q != NULL) {
            x->q = q;
            x->qcap = need;
        }
    }
    if (x->cookie_off != 0 && need <= x->qcap)
        put_cookie(x); /* the server cookie it has now */
    if (x->case_fallback && x->cased) {
        memcpy(x->q + SR_HEADER_LEN, x->qname, x->qname_len);
        x->cased = false;
    }
    x->wire_id = sr_random16();
    sr_put16(x->q, x->wire_id);
}

void sr_guard_restore_case(const sr_xfer_t *x, uint8_t *resp, size_t len)
{
    /* The question of a believed answer matches x's case-insensitively;
     * the owner names that point to it follow. */
    if (len >= SR_HEADER_LEN + x->qname_len && sr_get16(resp + 4) == 1)
        memcpy(resp + SR_HEADER_LEN, x->qname, x->qname_len);
}
