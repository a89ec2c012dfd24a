/* TLS for DNS-over-TLS (RFC 7858) and the DoH module: the client context,
 * per-connection settings (SNI, the name to authenticate, resumption) and
 * the authentication verdict handed to on_ssl_server_authentication.
 *
 * The handshake itself runs with SSL_VERIFY_NONE so that the application
 * can overrule the verdict (the reference's Accept parameter); the
 * verdict is computed here after the handshake, and stream.c never sends
 * a query on a connection that was not accepted. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "upstream-internal.h"

#define PIN_LEN 32 /* SHA-256 */

sr_status_t sr_tls_ctx_new(const sr_upstream_cfg_t *cfg, SSL_CTX **out)
{
    SSL_CTX *ctx;
    sr_status_t status = SR_OK;

    *out = NULL;
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL)
        return SR_E_SSL_LIBRARY;
    /* RFC 8310 and RFC 7525 3.1.1: nothing older than TLS 1.2. */
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
        status = SR_E_SSL_LIBRARY;
        goto done;
    }
    if (cfg->ca_file != NULL && cfg->ca_file[0] != '\0') {
        if (SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1) {
            status = SR_E_SSL_CERT_STORE;
            goto done;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        status = SR_E_SSL_CERT_STORE;
        goto done;
    }
    /* The verdict is ours, after the handshake (see the file comment). */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
done:
    if (status != SR_OK) {
        ERR_clear_error();
        SSL_CTX_free(ctx);
    } else {
        *out = ctx;
    }
    return status;
}

/* The name the certificate must match: tls_name, else the server host. */
static const char *auth_name(const sr_upstream_t *up, bool *is_ip)
{
    const char *name =
        up->cfg.tls_name != NULL && up->cfg.tls_name[0] != '\0' ? up->cfg.tls_name : up->host;
    unsigned char buf[sizeof(struct in6_addr)];

    *is_ip = inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
    return name;
}

SSL *sr_tls_ssl_new(sr_upstream_t *up, sr_status_t *status)
{
    SSL *ssl = SSL_new(up->ssl_ctx);
    bool is_ip;
    const char *name = auth_name(up, &is_ip);

    if (ssl == NULL) {
        *status = SR_E_NOMEM;
        return NULL;
    }
    /* RFC 6066 3: SNI carries host names only, never address literals. */
    if (!is_ip && SSL_set_tlsext_host_name(ssl, name) != 1)
        goto fail;
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name) != 1
              : X509_VERIFY_PARAM_set1_host(param, name, 0) != 1)
        goto fail;
    if (up->ssl_session != NULL && SSL_SESSION_is_resumable(up->ssl_session))
        SSL_set_session(ssl, up->ssl_session);
    *status = SR_OK;
    return ssl;
fail:
    ERR_clear_error();
    SSL_free(ssl);
    *status = SR_E_SSL_LIBRARY;
    return NULL;
}

sr_status_t sr_tls_pins_parse(sr_upstream_t *up, const char *pins)
{
    const char *p = pins;
    size_t n = 0, cap = 0;
    sr_status_t status = SR_OK;

    if (pins == NULL || *pins == '\0')
        return SR_OK;
    for (const char *q = pins; *q != '\0'; q++)
        if (*q == ',')
            cap++;
    cap++;
    up->pins = sr_calloc(cap, sizeof(*up->pins));
    if (up->pins == NULL)
        return SR_E_NOMEM;
    while (*p != '\0') {
        char tok[64];
        unsigned char raw[48];
        size_t len;
        while (*p == ' ' || *p == '\t')
            p++;
        /* Accept "pin-sha256=" / "sha256/" prefixes as RFC 7469 and curl
         * write pins. */
        if (strncmp(p, "pin-sha256=", 11) == 0)
            p += 11;
        else if (strncmp(p, "sha256//", 8) == 0)
            p += 8;
        len = strcspn(p, ", \t");
        size_t toklen = len;
        if (len == 0 || len >= sizeof(tok)) {
            status = SR_E_INVAL;
            goto done;
        }
        memcpy(tok, p, len);
        tok[len] = '\0';
        if (tok[0] == '"' && len > 2 && tok[len - 1] == '"') {
            memmove(tok, tok + 1, len - 2);
            tok[len - 2] = '\0';
            len -= 2;
        }
        /* base64 of 32 bytes: 44 characters, the last (only) one '='. */
        if (len != 44 || tok[43] != '=' || tok[42] == '=' ||
            EVP_DecodeBlock(raw, (const unsigned char *)tok, (int)len) != 33) {
            status = SR_E_INVAL;
            goto done;
        }
        if (n >= cap) { /* cannot happen: one pin per comma-separated item */
            status = SR_E_INVAL;
            goto done;
        }
        memcpy(up->pins[n++], raw, PIN_LEN);
        p += toklen;
        while (*p == ' ' || *p == '\t')
            p++;
        /* Pins are separated by commas, nothing else. */
        if (*p == ',')
            p++;
        else if (*p != '\0') {
            status = SR_E_INVAL;
            goto done;
        }
    }
    up->npins = n;
done:
    if (status != SR_OK) {
        sr_free(up->pins);
        up->pins = NULL;
        up->npins = 0;
    }
    return status;
}

/* RFC 7858 4.2 / RFC 7469 2.4: SHA-256 of the DER SubjectPublicKeyInfo. */
static bool pin_matches(const sr_upstream_t *up, X509 *leaf)
{
    unsigned char *der = NULL, digest[PIN_LEN];
    int len = i2d_PUBKEY(X509_get0_pubkey(leaf), &der);
    bool match = false;

    if (len <= 0)
        return false;
    SHA256(der, (size_t)len, digest);
    OPENSSL_free(der);
    for (size_t i = 0; i < up->npins && !match; i++)
        match = CRYPTO_memcmp(digest, up->pins[i], PIN_LEN) == 0;
    return match;
}

/* X509_NAME in RFC 2253 form, into a malloc'd string ("" on failure). */
static char *name_text(const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *out = NULL;
    long len;

    if (bio != NULL && X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
        len = BIO_get_mem_data(bio, &data);
        out = sr_malloc((size_t)len + 1);
        if (out != NULL) {
            memcpy(out, data, (size_t)len);
            out[len] = '\0';
        }
    }
    BIO_free(bio);
    return out;
}

/* Chain and name verification against the context's trust store. */
static bool verify_chain(sr_upstream_t *up, SSL *ssl, X509 *leaf, int *err)
{
    X509_STORE_CTX *sctx = X509_STORE_CTX_new();
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
    bool ok = false, is_ip;
    const char *name = auth_name(up, &is_ip);

    *err = X509_V_ERR_UNSPECIFIED;
    if (sctx == NULL ||
        X509_STORE_CTX_init(sctx, SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl)), leaf, chain) != 1)
        goto done;
    /* RFC 6125 matching for the name of RFC 7858 4.1 / RFC 8310 8. */
    X509_STORE_CTX_set_default(sctx, "ssl_server");
    X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(sctx);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name) != 1
              : X509_VERIFY_PARAM_set1_host(param, name, 0) != 1)
        goto done;
    ok = X509_verify_cert(sctx) == 1;
    *err = ok ? X509_V_OK : X509_STORE_CTX_get_error(sctx);
done:
    X509_STORE_CTX_free(sctx);
    ERR_clear_error();
    return ok;
}

bool sr_tls_authenticate_ex(sr_upstream_t *up, SSL *ssl, sr_status_t *why)
{
    X509 *leaf = SSL_get0_peer_certificate(ssl);
    unsigned char *der = NULL;
    char *b64 = NULL, *subject = NULL, *issuer = NULL;
    int der_len = 0, err = X509_V_OK;
    bool verdict = false;
    const char *status_text = "OK";
    sr_status_t code = SR_E_SSL_CERT_VERIFY;
    sr_tls_auth_t auth;

    if (leaf == NULL) {
        status_text = "no server certificate";
        code = SR_E_SSL_SERVER_CERT;
    } else {
        der_len = i2d_X509(leaf, &der);
        if (der_len > 0) {
            b64 = sr_malloc(4 * (((size_t)der_len + 2) / 3) + 1);
            if (b64 != NULL)
                EVP_EncodeBlock((unsigned char *)b64, der, der_len);
        }
        subject = name_text(X509_get_subject_name(leaf));
        issuer = name_text(X509_get_issuer_name(leaf));
        bool chain_ok = verify_chain(up, ssl, leaf, &err);
        if (up->npins > 0) {
            /* RFC 7858 4.2 (and RFC 8310 8.1): a matching SPKI pin is the
             * authentication; the chain need not lead to a trust anchor
             * (pins are how self-signed servers are authenticated). */
            verdict = pin_matches(up, leaf);
            status_text = verdict ? "OK" : "pin mismatch";
        } else {
            verdict = chain_ok;
            if (chain_ok) {
                status_text = "OK";
            } else if (err == X509_V_ERR_HOSTNAME_MISMATCH ||
                       err == X509_V_ERR_IP_ADDRESS_MISMATCH) {
                status_text = "certificate name mismatch";
            } else {
                status_text = X509_verify_cert_error_string(err);
                code = SR_E_SSL_CHAIN_VERIFY;
            }
        }
    }
    memset(&auth, 0, sizeof(auth));
    auth.remote_address = up->addr_text;
    auth.remote_port = up->port;
    auth.cert_der = der;
    auth.cert_der_len = der_len > 0 ? (size_t)der_len : 0;
    auth.cert_encoded = b64 != NULL ? b64 : "";
    auth.cert_subject = subject != NULL ? subject : "";
    auth.cert_issuer = issuer != NULL ? issuer : "";
    auth.status = status_text;
    auth.accept = verdict || up->cfg.insecure;
    sr_upstream_log(up, verdict ? 2 : 1, "Info",
                    "%s: certificate of %s: %s (subject %s, issuer %s)%s", up->name, up->addr_text,
                    status_text, auth.cert_subject, auth.cert_issuer,
                    !verdict && up->cfg.insecure ? ", accepted (insecure)" : "");
    if (up->ev.on_ssl_server_authentication != NULL)
        up->ev.on_ssl_server_authentication(up->ev.arg, &auth);
    if (!auth.accept && why != NULL)
        *why = verdict ? SR_E_SSL_CERT_VERIFY : code;
    if (!auth.accept)
        snprintf(up->tls_reject, sizeof(up->tls_reject),
                 "the server's certificate was not accepted: %s (subject %s)",
                 verdict ? "by the handler" : status_text, auth.cert_subject);
    if (auth.accept != (verdict || up->cfg.insecure))
        sr_upstream_log(up, 1, "Info", "%s: certificate %s by the handler", up->name,
                        auth.accept ? "accepted" : "rejected");
    OPENSSL_free(der);
    sr_free(b64);
    sr_free(subject);
    sr_free(issuer);
    return auth.accept;
}

bool sr_tls_authenticate(sr_upstream_t *up, SSL *ssl)
{
    return sr_tls_authenticate_ex(up, ssl, NULL);
}
