/* DNS-over-HTTPS request encoding: base64url (RFC 4648 5) for the dns
 * parameter of RFC 8484 4.1, and the URLs of the GET and JSON API methods. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "doh-internal.h"

/* base64url without padding: OpenSSL's standard base64, then the two
 * characters that differ in the URL-safe alphabet translated and the '='
 * padding cut, which RFC 8484 4.1 forbids in the dns parameter. */
sr_status_t sr_base64url_encode(const uint8_t *in, size_t n, char *out, size_t cap, size_t *outlen)
{
    sr_status_t status = SR_OK;
    size_t want = sr_base64url_len(n);
    size_t padded = 4 * ((n + 2) / 3);
    char *tmp = NULL;
    int got;

    if (n > SR_DOH_WIRE_MAX) {
        /* EVP_EncodeBlock counts in int; no DNS message is this long. */
        status = SR_E_MSGSIZE;
        goto done;
    }
    if (cap < want + 1) {
        status = SR_E_NOBUFS;
        goto done;
    }
    /* EVP_EncodeBlock writes the padded form plus a NUL, which may be up
     * to 3 bytes more than the caller's buffer needs to hold. */
    tmp = sr_malloc(padded + 1);
    if (tmp == NULL) {
        status = SR_E_NOMEM;
        goto done;
    }
    got = EVP_EncodeBlock((unsigned char *)tmp, in, (int)n);
    if (got < 0 || (size_t)got != padded) {
        status = SR_E_SSL_LIBRARY;
        goto done;
    }
    for (size_t i = 0; i < want; i++) {
        char c = tmp[i];
        out[i] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    out[want] = '\0';
    if (outlen != NULL)
        *outlen = want;

done:
    sr_free(tmp);
    return status;
}

/* base64url back to bytes: the URL-safe alphabet translated to the
 * standard one and the '=' padding put back, then OpenSSL's decoder, which
 * wants whole 4-character groups and counts the padding in its output
 * length. Only the 64 characters of RFC 4648 5 are accepted: '+', '/',
 * '=', blanks and percent escapes are not base64url. */
sr_status_t sr_base64url_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
    sr_status_t status = SR_OK;
    size_t padded = (n + 3) / 4 * 4, want = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
    unsigned char *tmp = NULL, *raw = NULL;
    int got;

    if (n % 4 == 1 || n > sr_base64url_len(SR_DOH_WIRE_MAX)) {
        status = SR_E_FORMERR; /* no encoding ends in one character */
        goto done;
    }
    if (cap < want) {
        status = SR_E_NOBUFS;
        goto done;
    }
    tmp = sr_malloc(padded + 1);
    raw = sr_malloc(padded / 4 * 3 + 1);
    if (tmp == NULL || raw == NULL) {
        status = SR_E_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            status = SR_E_FORMERR;
            goto done;
        }
        tmp[i] = (unsigned char)c;
    }
    memset(tmp + n, '=', padded - n);
    tmp[padded] = '\0';
    got = n == 0 ? 0 : EVP_DecodeBlock(raw, tmp, (int)padded);
    if (got < 0 || (size_t)got < want) {
        status = SR_E_FORMERR;
        goto done;
    }
    memcpy(out, raw, want);
    *outlen = want;

done:
    sr_free(tmp);
    sr_free(raw);
    return status;
}

/* The separator that appends a parameter to base: '?' unless base has a
 * query component already. */
static char query_sep(const char *base)
{
    return strchr(base, '?') != NULL ? '&' : '?';
}

sr_status_t sr_doh_url_get(const char *base, const uint8_t *q, size_t qlen, char **out)
{
    sr_status_t status = SR_OK;
    size_t blen = strlen(base);
    size_t elen = sr_base64url_len(qlen);
    char *url = NULL;

    *out = NULL;
    if (qlen > SR_DOH_WIRE_MAX) {
        status = SR_E_MSGSIZE;
        goto done;
    }
    /* base, "?dns=", the encoding, NUL */
    url = sr_malloc(blen + 5 + elen + 1);
    if (url == NULL) {
        status = SR_E_NOMEM;
        goto done;
    }
    memcpy(url, base, blen);
    url[blen] = query_sep(base);
    memcpy(url + blen + 1, "dns=", 4);
    status = sr_base64url_encode(q, qlen, url + blen + 5, elen + 1, NULL);
    if (status != SR_OK)
        goto done;
    *out = url;
    url = NULL;

done:
    sr_free(url);
    return status;
}

/* Percent-encode s (RFC 3986 2.1) into out, which holds 3 * strlen(s) + 1
 * bytes; only the unreserved characters (RFC 3986 2.3) stay as they are. */
static void percent_encode(const char *s, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        unsigned char c = *p;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 0xf];
        }
    }
    out[o] = '\0';
}

sr_status_t sr_doh_url_json(const char *base, const uint8_t *qname, size_t qname_len,
                            uint16_t qtype, bool do_bit, bool cd, char **out)
{
    sr_status_t status = SR_OK;
    char name[SR_NAME_MAX_TEXT];
    char ename[3 * SR_NAME_MAX_TEXT];
    char tbuf[16];
    const char *tname;
    size_t cap;
    char *url = NULL;
    int n;

    *out = NULL;
    status = sr_name_to_text(qname, qname_len, name, sizeof(name));
    if (status != SR_OK) {
        status = SR_E_FORMERR;
        goto done;
    }
    percent_encode(name, ename);
    /* Mnemonics read better in logs; both public APIs also take numbers,
     * which is all that works for a type without one. */
    tname = sr_type_name(qtype, tbuf);
    if (strncmp(tname, "TYPE", 4) == 0 && tname[4] != '\0') {
        snprintf(tbuf, sizeof(tbuf), "%u", (unsigned)qtype);
        tname = tbuf;
    }
    cap = strlen(base) + strlen(ename) + strlen(tname) + 40;
    url = sr_malloc(cap);
    if (url == NULL) {
        status = SR_E_NOMEM;
        goto done;
    }
    n = snprintf(url, cap, "%s%cname=%s&type=%s%s%s", base, query_sep(base), ename, tname,
                 do_bit ? "&do=1" : "", cd ? "&cd=1" : "");
    if (n < 0 || (size_t)n >= cap) {
        status = SR_E_NOBUFS;
        goto done;
    }
    *out = url;
    url = NULL;

done:
    sr_free(url);
    return status;
}

bool sr_doh_media_type_is(const char *ctype, const char *want)
{
    size_t wlen = strlen(want);

    if (ctype == NULL)
        return false;
    while (*ctype == ' ' || *ctype == '\t')
        ctype++;
    if (strncasecmp(ctype, want, wlen) != 0)
        return false;
    ctype += wlen;
    while (*ctype == ' ' || *ctype == '\t')
        ctype++;
    return *ctype == '\0' || *ctype == ';';
}
