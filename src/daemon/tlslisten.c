/* stubresd: the TLS side of the encrypted listeners (see tlslisten.h). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "codec-internal.h"
#include "log.h"
#include "tlslisten.h"

/* One session ticket key: its name (sent in the ticket), the AES-256-CBC
 * key and the HMAC-SHA256 key (the layout RFC 5077 4 suggests). */
typedef struct ticket_key {
    unsigned char name[16];
    unsigned char aes[32];
    unsigned char hmac[32];
    time_t born; /* 0: none */
} ticket_key_t;

/* The current context and the ticket keys, shared by every thread: the
 * mutex is taken once per accepted connection and once per ticket sealed
 * or opened, never per query. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *current;
static ticket_key_t keys[2]; /* [0] seals, [0] and [1] open */
static const tls_https_ops_t *https_ops;
/* SSL ex_data: which listener a connection came to (ALPN choice). */
static int listener_idx = -1;
static pthread_once_t idx_once = PTHREAD_ONCE_INIT;
static const char kind_dot[] = "dot", kind_h2[] = "h2";

static void make_idx(void)
{
    listener_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* Under mu: a new sealing key when the current one is older than
 * TLSLISTEN_TICKET_ROTATE (or missing); the old one still opens. */
static int rotate_locked(time_t now)
{
    ticket_key_t k;

    if (keys[0].born != 0 && now - keys[0].born < TLSLISTEN_TICKET_ROTATE)
        return 0;
    if (RAND_bytes(k.name, sizeof(k.name)) != 1 || RAND_bytes(k.aes, sizeof(k.aes)) != 1 ||
        RAND_bytes(k.hmac, sizeof(k.hmac)) != 1)
        return -1;
    k.born = now;
    keys[1] = keys[0];
    keys[0] = k;
    OPENSSL_cleanse(&k, sizeof(k));
    return 0;
}

/* OpenSSL's ticket callback (SSL_CTX_set_tlsext_ticket_key_evp_cb): seal
 * a new ticket with keys[0] (enc = 1), or open one sealed with either key
 * (enc = 0). Returns 1 (done), 2 (opened with the old key: issue a new
 * ticket), 0 (unknown key: full handshake) or -1 (error). */
static int ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *ectx,
                     EVP_MAC_CTX *hctx, int enc)
{
    OSSL_PARAM params[2];
    ticket_key_t k;
    int rc = -1, which = -1;
    (void)ssl;

    memset(&k, 0, sizeof(k));
    pthread_mutex_lock(&mu);
    if (rotate_locked(time(NULL)) == 0) {
        if (enc) {
            which = 0;
        } else {
            for (int i = 0; i < 2 && which < 0; i++)
                if (keys[i].born != 0 && memcmp(name, keys[i].name, sizeof(keys[i].name)) == 0)
                    which = i;
        }
        if (which >= 0)
            k = keys[which];
        rc = which >= 0 ? 1 : 0;
    }
    pthread_mutex_unlock(&mu);
    if (rc != 1)
        goto done;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (enc) {
        memcpy(name, k.name, sizeof(k.name));
        if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1 ||
            EVP_EncryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1)
            rc = -1;
    } else {
        if (EVP_DecryptInit_ex(ectx, EVP_aes_256_cbc(), NULL, k.aes, iv) != 1)
            rc = -1;
    }
    if (rc == 1 && EVP_MAC_CTX_set_params(hctx, params) != 1)
        rc = -1;
    if (rc == 1 && EVP_MAC_init(hctx, k.hmac, sizeof(k.hmac), NULL) != 1)
        rc = -1;
    if (rc == 1 && !enc && which == 1)
        rc = 2;
done:
    OPENSSL_cleanse(&k, sizeof(k));
    return rc;
}

/* ALPN (RFC 7301): "h2" on https:// listeners, "dot" on tls:// ones. A
 * client offering other protocols only goes on without ALPN (NOACK):
 * RFC 7858 clients need none, and an https:// connection without h2 is
 * closed after the handshake (tcpconn.c). */
static int alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                   const unsigned char *in, unsigned int inlen, void *arg)
{
    const char *want = SSL_get_ex_data(ssl, listener_idx);
    (void)arg;

    if (want == NULL)
        return SSL_TLSEXT_ERR_NOACK;
    for (unsigned i = 0; i < inlen;) {
        unsigned n = in[i];
        if (n > inlen - i - 1)
            break;
        if (n == strlen(want) && memcmp(in + i + 1, want, n) == 0) {
            *out = in + i + 1;
            *outlen = (unsigned char)n;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + n;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/* The first OpenSSL error as text (or what errno says). */
static const char *ssl_why(char *buf, size_t cap)
{
    unsigned long e = ERR_peek_last_error();

    if (e == 0)
        snprintf(buf, cap, "%s", errno != 0 ? strerror(errno) : "unknown error");
    else
        ERR_error_string_n(e, buf, cap);
    ERR_clear_error();
    return buf;
}

static SSL_CTX *ctx_build(const cfg_t *cfg, char *err, size_t errcap)
{
    SSL_CTX *ctx = NULL;
    char why[256];

    pthread_once(&idx_once, make_idx);
    ERR_clear_error();
    errno = 0;
    if (listener_idx < 0 || (ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
        snprintf(err, errcap, "tls: cannot make a TLS context: %s", ssl_why(why, sizeof(why)));
        return NULL;
    }
    /* RFC 8310 and RFC 7525 3.1.1: nothing older than TLS 1.2. */
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* No renegotiation (a client could make us pay a handshake at will),
     * the server's cipher order, and no buffers kept for idle
     * connections (memory per idle client). */
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1) {
        snprintf(err, errcap,
                 "tls_cert: %s: not a readable PEM certificate chain (%s); tls_cert must name "
                 "the PEM chain, leaf first",
                 cfg->tls_cert, ssl_why(why, sizeof(why)));
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
            snprintf(err, errcap, "tls_key: %s is not the key of the certificate in %s (%s)",
                     cfg->tls_key, cfg->tls_cert, ssl_why(why, sizeof(why)));
        else
            snprintf(err, errcap, "tls_key: %s: not a readable PEM private key (%s)", cfg->tls_key,
                     ssl_why(why, sizeof(why)));
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errcap, "tls_key: %s is not the key of the certificate in %s (%s)",
                 cfg->tls_key, cfg->tls_cert, ssl_why(why, sizeof(why)));
        goto fail;
    }
    SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
    /* Resumption by tickets only (no server-side session cache to grow),
     * one ticket per TLS 1.3 handshake, lifetime two key periods. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 1);
    SSL_CTX_set_timeout(ctx, 2 * TLSLISTEN_TICKET_ROTATE);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

int tlslisten_check(const cfg_t *cfg, char *err, size_t errcap)
{
    SSL_CTX *ctx = ctx_build(cfg, err, errcap);

    SSL_CTX_free(ctx);
    return ctx != NULL ? 0 : -1;
}

int tlslisten_load(const cfg_t *cfg, char *err, size_t errcap)
{
    SSL_CTX *ctx = ctx_build(cfg, err, errcap), *old;

    if (ctx == NULL)
        return -1;
    pthread_mutex_lock(&mu);
    old = current;
    current = ctx;
    pthread_mutex_unlock(&mu);
    /* Connections made with the old one hold their own references. */
    SSL_CTX_free(old);
    return 0;
}

SSL *tlslisten_ssl_new(bool https)
{
    SSL *ssl = NULL;

    pthread_mutex_lock(&mu);
    if (current != NULL)
        ssl = SSL_new(current);
    pthread_mutex_unlock(&mu);
    if (ssl != NULL &&
        SSL_set_ex_data(ssl, listener_idx, (void *)(https ? kind_h2 : kind_dot)) != 1) {
        SSL_free(ssl);
        ssl = NULL;
    }
    return ssl;
}

bool tlslisten_alpn_h2(SSL *ssl)
{
    const unsigned char *p = NULL;
    unsigned n = 0;

    SSL_get0_alpn_selected(ssl, &p, &n);
    return n == 2 && memcmp(p, "h2", 2) == 0;
}

void tlslisten_free(void)
{
    pthread_mutex_lock(&mu);
    SSL_CTX_free(current);
    current = NULL;
    OPENSSL_cleanse(keys, sizeof(keys));
    pthread_mutex_unlock(&mu);
}

bool tlslisten_query_padded(const uint8_t *query, size_t len)
{
    sr_msg_shape_t shape;
    size_t off;

    if (sr_msg_check(query, len, false, &shape) != SR_OK || !shape.opt_found)
        return false;
    /* Options are code(2) length(2) data; sr_msg_check kept the RDATA
     * inside the message. */
    for (off = 0; shape.opt_rdlen - off >= 4;) {
        const uint8_t *o = query + shape.opt_rdata_off + off;
        size_t olen = sr_get16(o + 2);
        if (sr_get16(o) == SR_EDNS_OPT_PADDING)
            return true;
        if (olen > shape.opt_rdlen - off - 4)
            break;
        off += 4 + olen;
    }
    return false;
}

size_t tlslisten_pad(const uint8_t *msg, size_t len, uint8_t *out, size_t cap)
{
    size_t n = len;

    if (len > cap)
        return 0;
    memcpy(out, msg, len);
    return sr_query_pad(out, &n, cap, TLSLISTEN_PAD_BLOCK) == SR_OK ? n : 0;
}

void tlslisten_set_https_ops(const tls_https_ops_t *ops)
{
    https_ops = ops;
}

const tls_https_ops_t *tlslisten_https_ops(void)
{
    return https_ops;
}
