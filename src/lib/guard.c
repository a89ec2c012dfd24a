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

static void randomize_case(uint8_t *name, size_t len)
{
    uint16_t bits = 0;
    unsigned left = 0;

    for (size_t i = 0; i < len && name[i] != 0; i += (size_t)name[i] + 1) {
        for (size_t j = i + 1; j <= i + name[i] && j < len; j++) {
            uint8_t c = name[j] | 0x20;
            if (c < 'a' || c > 'z')
                continue;
            if (left == 0) {
                bits = sr_random16();
                left = 16;
            }
            name[j] = (bits & 1) ? (uint8_t)(c - 32) : c;
            bits >>= 1;
            left--;
        }
    }
}

void sr_guard_prepare(sr_upstream_t *up, sr_xfer_t *x, const struct sr_msg_shape *shape)
{
    size_t clen;

    if (up->cfg.cookies && shape->opt_found &&
        shape->opt_rdata_off + shape->opt_rdlen == x->qlen &&
        x->qlen + 4 + CLIENT_COOKIE_LEN + SERVER_COOKIE_MAX <= x->qcap &&
        find_option(x->q + shape->opt_rdata_off, shape->opt_rdlen, OPT_COOKIE, &clen) == NULL) {
        x->opt_rdlen_off = shape->opt_rdlen_off;
        x->cookie_off = x->qlen;
        put_cookie(x);
    }
    if (up->cfg.case_randomization && !up->case_off) {
        randomize_case(x->q + SR_HEADER_LEN, x->qname_len);
        x->cased = memcmp(x->q + SR_HEADER_LEN, x->qname, x->qname_len) != 0;
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
    if (x->cookie_off != 0)
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
