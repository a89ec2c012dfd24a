/* stubresd: the shared cache's URL, keys and values (see shcache.h).
 * Nothing here talks to Redis: the URL comes from a config file or the
 * control socket, the values from Redis, and both are hostile. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "codec-internal.h" /* sr_put16 and friends */
#include "shcache.h"
#include "util.h" /* sr_addr_parse */

/* ------------------------------------------------------------- the URL */

static int url_fail(char *err, size_t errcap, const char *why)
{
    snprintf(err, errcap, "%s", why);
    return -1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The password between ':' and '@' (p .. end), %XX decoded. */
static int parse_password(const char *p, const char *end, shc_url_t *u, char *err, size_t errcap)
{
    size_t n = 0;

    while (p < end) {
        unsigned char c = (unsigned char)*p;
        if (c == '%') {
            int hi = end - p >= 3 ? hexval(p[1]) : -1, lo = end - p >= 3 ? hexval(p[2]) : -1;
            if (hi < 0 || lo < 0)
                return url_fail(err, errcap,
                                "a '%' in the password is not followed by two hex digits");
            c = (unsigned char)(hi << 4 | lo);
            if (c == 0)
                return url_fail(err, errcap, "the password holds %00");
            p += 3;
        } else {
            if (c <= 0x20 || c >= 0x7f)
                return url_fail(err, errcap,
                                "the password holds a space or control byte (use %XX)");
            p++;
        }
        if (n >= SHC_PASSWORD_MAX)
            return url_fail(err, errcap, "the password is too long");
        u->password[n++] = (char)c;
    }
    if (n == 0)
        return url_fail(err, errcap, "an empty password (leave out ':@')");
    u->password[n] = '\0';
    u->password_len = n;
    return 0;
}

/* A decimal number in [lo, hi], the whole of p .. end. */
static int parse_num(const char *p, const char *end, unsigned long lo, unsigned long hi,
                     unsigned long *out)
{
    unsigned long v = 0;
    if (p == end || end - p > 10)
        return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_host_port(const char *p, const char *end, shc_url_t *u, char *err, size_t errcap)
{
    const char *hend, *port = NULL;
    unsigned long v;
    struct sockaddr_storage ss;
    socklen_t sl;

    if (p < end && *p == '[') {
        hend = memchr(p, ']', (size_t)(end - p));
        if (hend == NULL)
            return url_fail(err, errcap, "'[' without ']'");
        p++;
        if (hend + 1 < end) {
            if (hend[1] != ':')
                return url_fail(err, errcap, "bytes after ']' that are not :PORT");
            port = hend + 2;
        }
    } else {
        hend = memchr(p, ':', (size_t)(end - p));
        if (hend != NULL)
            port = hend + 1;
        else
            hend = end;
    }
    if (hend == p)
        return url_fail(err, errcap, "no host");
    if ((size_t)(hend - p) >= sizeof(u->host))
        return url_fail(err, errcap, "the host is too long");
    memcpy(u->host, p, (size_t)(hend - p));
    u->host[hend - p] = '\0';
    if (strcmp(u->host, "localhost") == 0)
        snprintf(u->host, sizeof(u->host), "127.0.0.1");
    /* Numeric only: a name would need a lookup, which blocks, and would
     * go through this resolver itself. */
    if (sr_addr_parse(u->host, 0, &ss, &sl) != SR_OK || strchr(u->host, '%') != NULL)
        return url_fail(err, errcap, "the host is not an IP address (nor localhost)");
    u->port = SHC_DEFAULT_PORT;
    if (port != NULL) {
        if (parse_num(port, end, 1, 65535, &v) != 0)
            return url_fail(err, errcap, "the port is not a number from 1 to 65535");
        u->port = (uint16_t)v;
    }
    return 0;
}

int shc_url_parse(const char *s, shc_url_t *u, char *err, size_t errcap)
{
    static const char tcp[] = "redis://", unx[] = "redis+unix://";
    const char *p, *end, *at, *slash;
    unsigned long v;

    memset(u, 0, sizeof(*u));
    if (s == NULL)
        return url_fail(err, errcap, "no URL");
    size_t len = strnlen(s, 4096);
    if (len >= 4096)
        return url_fail(err, errcap, "too long");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return url_fail(err, errcap, "a space or control byte");
    if (strncmp(s, tcp, sizeof(tcp) - 1) == 0) {
        p = s + sizeof(tcp) - 1;
    } else if (strncmp(s, unx, sizeof(unx) - 1) == 0) {
        p = s + sizeof(unx) - 1;
        u->is_unix = true;
    } else {
        return url_fail(err, errcap, "not redis:// nor redis+unix://");
    }
    end = s + len;

    /* [:PASSWORD@]: the first '@' ends it (a '@' inside is %40). */
    at = memchr(p, '@', (size_t)(end - p));
    if (at != NULL) {
        if (*p != ':')
            return url_fail(err, errcap, "user names are not supported: write :PASSWORD@");
        if (parse_password(p + 1, at, u, err, errcap) != 0)
            return -1;
        p = at + 1;
    }

    if (u->is_unix) {
        const char *q = memchr(p, '?', (size_t)(end - p));
        const char *pend = q != NULL ? q : end;
        if (*p != '/')
            return url_fail(err, errcap, "the socket path is not absolute");
        if ((size_t)(pend - p) >= sizeof(u->path))
            return url_fail(err, errcap, "the socket path is too long");
        memcpy(u->path, p, (size_t)(pend - p));
        u->path[pend - p] = '\0';
        if (q != NULL) {
            if (strncmp(q, "?db=", 4) != 0 || parse_num(q + 4, end, 0, SHC_DB_MAX, &v) != 0)
                return url_fail(err, errcap, "after the path only ?db=N (0 to 65535)");
            u->db = (unsigned)v;
        }
        return 0;
    }

    slash = memchr(p, '/', (size_t)(end - p));
    if (parse_host_port(p, slash != NULL ? slash : end, u, err, errcap) != 0)
        return -1;
    if (slash != NULL && slash + 1 < end) {
        if (parse_num(slash + 1, end, 0, SHC_DB_MAX, &v) != 0)
            return url_fail(err, errcap, "the database is not a number from 0 to 65535");
        u->db = (unsigned)v;
    }
    return 0;
}

/* ------------------------------------------------------------- keys */

static const char *class_name(uint16_t qclass, char buf[16])
{
    switch (qclass) {
    case SR_CLASS_IN: return "IN";
    case 3: return "CH";
    case 4: return "HS";
    default: snprintf(buf, 16, "CLASS%u", (unsigned)qclass); return buf;
    }
}

size_t shc_key(const uint8_t *qname, size_t qname_len, uint16_t qtype, uint16_t qclass, bool do_bit,
               bool cd, char *out, size_t cap)
{
    uint8_t lower[SR_NAME_MAX_WIRE];
    char text[SR_NAME_MAX_TEXT], tb[16], cb[16];

    if (qname_len == 0 || qname_len > sizeof(lower))
        return 0;
    /* Length bytes are at most 63, below 'A': folding every byte only
     * touches letters. */
    for (size_t i = 0; i < qname_len; i++)
        lower[i] = (uint8_t)(qname[i] >= 'A' && qname[i] <= 'Z' ? qname[i] | 0x20 : qname[i]);
    if (sr_name_to_text(lower, qname_len, text, sizeof(text)) != SR_OK)
        return 0;
    int n = snprintf(out, cap, "stubres:%s%s:%s:%s%s%s", text, strcmp(text, ".") == 0 ? "" : ".",
                     sr_type_name(qtype, tb), class_name(qclass, cb), do_bit ? ":DO" : "",
                     cd ? ":CD" : "");
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* ------------------------------------------------------------- values */

static void put64(uint8_t *p, uint64_t v)
{
    sr_put32(p, (uint32_t)(v >> 32));
    sr_put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)sr_get32(p) << 32 | sr_get32(p + 4);
}

void shc_value_header(uint8_t *out, bool do_bit, bool cd, size_t img_len, int64_t wall,
                      uint32_t ttl_left)
{
    out[0] = SHC_VALUE_VERSION;
    out[1] = (uint8_t)((do_bit ? 1u : 0u) | (cd ? 2u : 0u));
    sr_put16(out + 2, (uint16_t)img_len);
    put64(out + 4, (uint64_t)wall);
    put64(out + 12, (uint64_t)wall + ttl_left);
}

shc_value_result_t shc_value_import(cache_t *c, sr_msg_t *msg, uint8_t *scratch, const uint8_t *val,
                                    size_t len, const uint8_t *qname, size_t qname_len,
                                    uint16_t qtype, uint16_t qclass, bool do_bit, bool cd,
                                    int64_t wall, uint32_t now)
{
    unsigned bits = (do_bit ? 1u : 0u) | (cd ? 2u : 0u);

    if (val == NULL || len < SHC_VALUE_HEADER + SR_HEADER_LEN || len > SHC_VALUE_MAX ||
        val[0] != SHC_VALUE_VERSION || val[1] != bits ||
        sr_get16(val + 2) != len - SHC_VALUE_HEADER || wall < 0)
        return SHC_VALUE_BAD;
    uint64_t stored = get64(val + 4), expires = get64(val + 12);
    if (stored > expires || expires - stored > 0x7FFFFFFFu)
        return SHC_VALUE_BAD; /* RFC 2181 8: no TTL is that long */
    if (expires <= (uint64_t)wall)
        return SHC_VALUE_EXPIRED;
    /* A value from the future (this host's clock is behind) counts as
     * fresh; its TTLs never outlive `expires`. */
    uint64_t age = (uint64_t)wall > stored ? (uint64_t)wall - stored : 0;
    uint32_t left =
        (uint32_t)(expires - (uint64_t)wall < 0x7FFFFFFFu ? expires - (uint64_t)wall : 0x7FFFFFFFu);
    size_t ilen = len - SHC_VALUE_HEADER;
    /* Only what this code stores: a response (QR), QUERY, not truncated,
     * NOERROR or NXDOMAIN (a SERVFAIL would be taken for a failure). */
    uint16_t flags = sr_get16(val + SHC_VALUE_HEADER + 2);
    unsigned rcode = flags & 0xFu;
    if ((flags & (SR_FLAG_QR | SR_FLAG_TC | 0x7800u)) != SR_FLAG_QR || (rcode != 0 && rcode != 3))
        return SHC_VALUE_BAD;
    memcpy(scratch, val + SHC_VALUE_HEADER, ilen);
    switch (cache_import(c, msg, scratch, ilen, bits, age > UINT32_MAX ? UINT32_MAX : (uint32_t)age,
                         left, qname, qname_len, qtype, qclass, now)) {
    case CACHE_IMPORT_STORED: return SHC_VALUE_STORED;
    case CACHE_IMPORT_NOT_STORED: return SHC_VALUE_NOT_STORED;
    default: return SHC_VALUE_BAD;
    }
}
