/* The config settings of the DNS class object: one table that knows every
 * setting of the reference (and our extensions), how to parse, check,
 * store and read it. sr_dns_config() in dns.c hands the work to
 * sr_dns_config_apply() here. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <idn2.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "dns-internal.h"
#include "upstream-internal.h"

#define BOOL_VALUES "True, False, Yes, No, 1 or 0"

/* The value text of a setting, before any parsing. */
typedef enum cfg_kind {
    CFG_BOOL,        /* bool field of dns_settings_t */
    CFG_INT,         /* int field, min..max */
    CFG_STR,         /* char * field, NULL = "" */
    CFG_SPECIAL,     /* get/set handlers do all the work */
    CFG_UNSUPPORTED, /* no Linux meaning: always SR_E_NOT_SUPPORTED */
} cfg_kind_t;

struct cfg_entry;

/* Extra check of a parsed value; SR_OK or a failure recorded with
 * sr_dns_fail(). ival is the parsed number for CFG_INT/CFG_BOOL. */
typedef sr_status_t (*cfg_check_fn)(sr_dns_t *dns, const struct cfg_entry *e,
                                    const char *text, int ival);
typedef sr_status_t (*cfg_get_fn)(sr_dns_t *dns, char **out);
typedef sr_status_t (*cfg_set_fn)(sr_dns_t *dns, const struct cfg_entry *e,
                                  const char *text);

typedef struct cfg_entry {
    const char *name;       /* as the reference spells it */
    cfg_kind_t kind;
    size_t off;             /* offset in dns_settings_t (BOOL/INT/STR) */
    int min, max;           /* CFG_INT range */
    bool transport;         /* a setting of the upstream: rebuild it */
    sr_status_t busy_err;   /* non-zero: refused while a query is in flight */
    const char *accepted;   /* the accepted values, for error texts */
    cfg_check_fn check;
    cfg_get_fn get;         /* CFG_SPECIAL */
    cfg_set_fn set;         /* CFG_SPECIAL; NULL: read-only */
    void (*after)(sr_dns_t *dns); /* run after a successful change */
} cfg_entry_t;

void sr_dns_settings_init(dns_settings_t *s)
{
    memset(s, 0, sizeof(*s));
    s->doh_method = SR_DOH_POST;
    /* 1232 bytes, not the 4096 of older resolvers: the size DNS Flag Day
     * 2020 settled on so that an answer fits an IPv6 packet of the minimum
     * MTU (1280) without IP fragmentation, which is easy to spoof and often
     * dropped; larger answers come back with TC for a retry over TCP. */
    s->max_packet_size = 1232;
    s->code_page = 65001;
    s->mask_sensitive = true;
    s->process_idle_events = true;
    s->select_wait_millis = 20;
    s->log_level = 1;
    s->use_edns = true;
}

void sr_dns_settings_clear(dns_settings_t *s)
{
    sr_free(s->ca_file);
    sr_free(s->tls_name);
    sr_free(s->spki_pins);
    sr_free(s->bootstrap);
    sr_free(s->resolv_conf);
    s->ca_file = s->tls_name = s->spki_pins = s->bootstrap = s->resolv_conf =
        NULL;
}

/* ---- parsing helpers ---- */

/* The reference's booleans: True/False/Yes/No/1/0, any case. */
static bool parse_bool(const char *s, bool *out)
{
    if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 ||
        strcmp(s, "1") == 0) {
        *out = true;
        return true;
    }
    if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 ||
        strcmp(s, "0") == 0) {
        *out = false;
        return true;
    }
    return false;
}

/* A whole decimal integer, nothing around it. */
static bool parse_int(const char *s, long *out)
{
    char *end = NULL;
    if (*s == '\0' || isspace((unsigned char)*s))
        return false;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

static char *dup_text(const char *s)
{
    return sr_strdup(s != NULL ? s : "");
}

static sr_status_t bad_value(sr_dns_t *dns, const cfg_entry_t *e,
                             const char *text)
{
    return sr_dns_fail(dns, SR_E_INVAL, "%s: bad value '%s': expected %s",
                       e->name, text, e->accepted);
}

/* ---- checks of particular settings ---- */

static sr_status_t check_code_page(sr_dns_t *dns, const cfg_entry_t *e,
                                   const char *text, int ival)
{
    char buf[32];
    if (sr_dns_codepage_charset(ival, buf, sizeof(buf)) == NULL)
        return sr_dns_fail(dns, SR_E_INVAL,
                           "%s: bad value '%s': iconv has no converter for "
                           "code page %d (expected a code page identifier "
                           "of the reference, e.g. 65001 for UTF-8)",
                           e->name, text, ival);
    return SR_OK;
}

/* RFC 7858 4.2 pins: base64 of a SHA-256 digest is 44 characters ending
 * in one '='. A typo here would otherwise fail every handshake later with
 * a less helpful error. */
static sr_status_t check_spki_pins(sr_dns_t *dns, const cfg_entry_t *e,
                                   const char *text, int ival)
{
    const char *p = text;
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        const char *q = p;
        while (n > 0 && isspace((unsigned char)*q)) {
            q++;
            n--;
        }
        while (n > 0 && isspace((unsigned char)q[n - 1]))
            n--;
        bool ok = n == 44 && q[43] == '=';
        for (size_t i = 0; ok && i < 43; i++)
            ok = isalnum((unsigned char)q[i]) || q[i] == '+' || q[i] == '/';
        if (!ok)
            return bad_value(dns, e, text);
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
    }
    return SR_OK;
}

/* An address literal with an optional port: "192.0.2.1", "192.0.2.1:5353",
 * "2001:db8::1", "[2001:db8::1]:5353". Checked with the transport's own
 * parsers, so what passes here is what the upstream will accept. */
static sr_status_t check_bootstrap(sr_dns_t *dns, const cfg_entry_t *e,
                                   const char *text, int ival)
{
    char host[256];
    uint16_t port = 53;
    struct sockaddr_storage ss;
    socklen_t len;

    if (*text == '\0')
        return SR_OK;
    if (sr_hostport_split(text, host, sizeof(host), &port) != SR_OK ||
        sr_addr_parse(host, port, &ss, &len) != SR_OK)
        return bad_value(dns, e, text);
    return SR_OK;
}

/* ---- special settings ---- */

static sr_status_t get_local_host(sr_dns_t *dns, char **out)
{
    *out = dup_text(sr_dns_get_local_host(dns));
    return *out != NULL ? SR_OK : SR_E_NOMEM;
}

static sr_status_t set_local_host(sr_dns_t *dns, const cfg_entry_t *e,
                                  const char *text)
{
    sr_status_t status = sr_dns_set_local_host(dns, text);
    /* the property's text names local_host; here the setting is meant */
    return status == SR_E_INVAL ? bad_value(dns, e, text) : status;
}

static sr_status_t get_truncated(sr_dns_t *dns, char **out)
{
    *out = dup_text(dns->truncated ? "True" : "False");
    return *out != NULL ? SR_OK : SR_E_NOMEM;
}

static sr_status_t get_timeout_millis(sr_dns_t *dns, char **out)
{
    char buf[16];
    snprintf(buf, sizeof(buf), "%d", dns->timeout_ms);
    *out = dup_text(buf);
    return *out != NULL ? SR_OK : SR_E_NOMEM;
}

/* The timeout property in milliseconds: fractions of a second, as dig
 * users expect of +time (and kdig of +timeout). */
static sr_status_t set_timeout_millis(sr_dns_t *dns, const cfg_entry_t *e,
                                      const char *text)
{
    long v;
    if (!parse_int(text, &v) || v < 0 || v > INT_MAX)
        return bad_value(dns, e, text);
    dns->timeout_ms = (int)v;
    return SR_OK;
}

static sr_status_t get_build_info(sr_dns_t *dns, char **out)
{
    char buf[512];
    const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);
    snprintf(buf, sizeof(buf),
             "%s %s; libevent %s; %s; libcurl %s; libidn2 %s; jansson %s; "
             "configured %s",
             PACKAGE_NAME, PACKAGE_VERSION, event_get_version(),
             OpenSSL_version(OPENSSL_VERSION),
             curl != NULL ? curl->version : "?", idn2_check_version(NULL),
             JANSSON_VERSION, SR_CONFIGURE_DATE);
    *out = dup_text(buf);
    return *out != NULL ? SR_OK : SR_E_NOMEM;
}

static sr_status_t get_license_info(sr_dns_t *dns, char **out)
{
    *out = dup_text(PACKAGE_NAME " " PACKAGE_VERSION
                    " is free software: no license key is needed, and none "
                    "is read or checked.");
    return *out != NULL ? SR_OK : SR_E_NOMEM;
}

static sr_status_t get_internal_security(sr_dns_t *dns, char **out)
{
    *out = dup_text("False");
    return *out != NULL ? SR_OK : SR_E_NOMEM;
}

/* TLS is always OpenSSL, the system library: only False describes us. */
static sr_status_t set_internal_security(sr_dns_t *dns, const cfg_entry_t *e,
                                         const char *text)
{
    bool b;
    if (!parse_bool(text, &b))
        return bad_value(dns, e, text);
    if (b)
        return sr_dns_fail(dns, SR_E_INVAL,
                           "%s: only False is possible: TLS always uses the "
                           "system's OpenSSL library",
                           e->name);
    return SR_OK;
}

#define OFF(field) offsetof(dns_settings_t, field)
#define BOOL_SETTING(n, f, tr) \
    {n, CFG_BOOL, OFF(f), 0, 1, tr, 0, BOOL_VALUES, NULL, NULL, NULL, NULL}
#define INT_SETTING(n, f, lo, hi, tr, busy, acc, chk) \
    {n, CFG_INT, OFF(f), lo, hi, tr, busy, acc, chk, NULL, NULL, NULL}
#define STR_SETTING(n, f, acc, chk, after) \
    {n, CFG_STR, OFF(f), 0, 0, true, 0, acc, chk, NULL, NULL, after}
#define UNSUPPORTED(n) \
    {n, CFG_UNSUPPORTED, 0, 0, 0, false, 0, NULL, NULL, NULL, NULL, NULL}

/* Every setting of the reference, in its order, then our extensions. */
static const cfg_entry_t cfg_table[] = {
    INT_SETTING("DoHMethod", doh_method, 0, 2, true, 0,
                "0 (POST), 1 (GET) or 2 (JSON)", NULL),
    {"ResponseTruncated", CFG_SPECIAL, 0, 0, 0, false, 0, NULL, NULL,
     get_truncated, NULL, NULL},
    UNSUPPORTED("UseDNSAPIDLL"),
    BOOL_SETTING("UseIDNs", use_idns, false),
    UNSUPPORTED("CaptureIPPacketInfo"),
    BOOL_SETTING("DelayHostResolution", delay_host_resolution, false),
    UNSUPPORTED("DestinationAddress"),
    BOOL_SETTING("DontFragment", dont_fragment, true),
    {"LocalHost", CFG_SPECIAL, 0, 0, 0, true, SR_E_LOCAL_HOST_ACTIVE,
     "an IPv4 or IPv6 address, or empty for any", NULL, get_local_host,
     set_local_host, NULL},
    INT_SETTING("LocalPort", local_port, 0, 65535, true,
                SR_E_LOCAL_PORT_ACTIVE, "an integer from 0 to 65535", NULL),
    INT_SETTING("MaxPacketSize", max_packet_size, 512, 65535, true,
                SR_E_MAXPACKET_ACTIVE, "an integer from 512 to 65535", NULL),
    INT_SETTING("QOSDSCPValue", qos_dscp, 0, 63, true, 0,
                "an integer from 0 to 63", NULL),
    UNSUPPORTED("QOSTrafficType"),
    {"ShareLocalPort", CFG_BOOL, OFF(share_local_port), 0, 1, true,
     SR_E_SHAREPORT_ACTIVE, BOOL_VALUES, NULL, NULL, NULL, NULL},
    UNSUPPORTED("SourceIPAddress"),
    UNSUPPORTED("SourceMacAddress"),
    {"UseConnection", CFG_BOOL, OFF(use_connection), 0, 1, true,
     SR_E_USECONN_ACTIVE, BOOL_VALUES, NULL, NULL, NULL, NULL},
    BOOL_SETTING("UseIPv6", use_ipv6, true),
    BOOL_SETTING("AbsoluteTimeout", absolute_timeout, true),
    /* We have no firewall or proxy support to send the data to. */
    UNSUPPORTED("FirewallData"),
    INT_SETTING("InBufferSize", in_buffer_size, 0, INT_MAX, true, 0,
                "a size in bytes, 0 for the system default", NULL),
    INT_SETTING("OutBufferSize", out_buffer_size, 0, INT_MAX, true, 0,
                "a size in bytes, 0 for the system default", NULL),
    {"BuildInfo", CFG_SPECIAL, 0, 0, 0, false, 0, NULL, NULL, get_build_info,
     NULL, NULL},
    INT_SETTING("CodePage", code_page, 0, INT_MAX, false, 0,
                "a code page identifier that iconv knows", check_code_page),
    {"LicenseInfo", CFG_SPECIAL, 0, 0, 0, false, 0, NULL, NULL,
     get_license_info, NULL, NULL},
    BOOL_SETTING("MaskSensitive", mask_sensitive, false),
    BOOL_SETTING("ProcessIdleEvents", process_idle_events, false),
    INT_SETTING("SelectWaitMillis", select_wait_millis, 0, 3600000, false, 0,
                "milliseconds from 0 to 3600000", NULL),
    {"UseInternalSecurityAPI", CFG_SPECIAL, 0, 0, 0, false, 0, "False", NULL,
     get_internal_security, set_internal_security, NULL},
    INT_SETTING("LogLevel", log_level, 0, 3, true, 0,
                "0 (None), 1 (Info), 2 (Verbose) or 3 (Debug)", NULL),
    /* extensions of stubresd */
    BOOL_SETTING("TCPFallback", tcp_fallback, true),
    STR_SETTING("CAFile", ca_file, "a PEM file name", NULL, NULL),
    STR_SETTING("TLSName", tls_name, "a host name", NULL, NULL),
    STR_SETTING("SPKIPins", spki_pins,
                "comma-separated base64 SHA-256 digests (44 characters each)",
                check_spki_pins, NULL),
    BOOL_SETTING("InsecureTLS", insecure_tls, true),
    STR_SETTING("Bootstrap", bootstrap,
                "an IP address with an optional port (192.0.2.1:53, "
                "[2001:db8::1]:53)",
                check_bootstrap, NULL),
    STR_SETTING("ResolvConf", resolv_conf, "a file name", NULL,
                sr_dns_refresh_auto_server),
    BOOL_SETTING("UseEDNS", use_edns, false),
    {"TimeoutMillis", CFG_SPECIAL, 0, 0, 0, false, 0,
     "milliseconds from 0 (asynchronous) to 2147483647", NULL,
     get_timeout_millis, set_timeout_millis, NULL},
    INT_SETTING("Tries", tries, 0, 100, true, 0,
                "0 (re-send after 2, 4, 8, 16 s within the timeout) or the "
                "number of tries over UDP, 1 to 100",
                NULL),
    BOOL_SETTING("DNSSECOK", dnssec_ok, false),
    BOOL_SETTING("RequestNSID", request_nsid, false),
};

static const cfg_entry_t *cfg_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(cfg_table) / sizeof(cfg_table[0]); i++) {
        const cfg_entry_t *e = &cfg_table[i];
        if (strlen(e->name) == len && strncasecmp(e->name, name, len) == 0)
            return e;
    }
    return NULL;
}

static sr_status_t cfg_read(sr_dns_t *dns, const cfg_entry_t *e, char **out)
{
    char buf[32];
    char *field = (char *)&dns->cfg + e->off;

    switch (e->kind) {
    case CFG_BOOL:
        *out = dup_text(*(bool *)(void *)field ? "True" : "False");
        break;
    case CFG_INT:
        snprintf(buf, sizeof(buf), "%d", *(int *)(void *)field);
        *out = dup_text(buf);
        break;
    case CFG_STR:
        *out = dup_text(*(char **)(void *)field);
        break;
    case CFG_SPECIAL:
        return e->get(dns, out);
    case CFG_UNSUPPORTED:
        return SR_E_NOT_SUPPORTED; /* handled by the caller */
    }
    return *out != NULL ? SR_OK : sr_dns_fail(dns, SR_E_NOMEM, "out of memory");
}

static sr_status_t cfg_write(sr_dns_t *dns, const cfg_entry_t *e,
                             const char *text)
{
    sr_status_t status = SR_OK;
    char *field = (char *)&dns->cfg + e->off;
    bool changed = false;

    if (e->kind == CFG_SPECIAL) {
        if (e->set == NULL)
            return sr_dns_fail(dns, SR_E_INVAL, "%s: read-only setting",
                               e->name);
        if (e->busy_err != 0 && dns->busy)
            return sr_dns_fail(dns, e->busy_err, "%s: %s", e->name,
                               sr_strerror(e->busy_err));
        /* the handler marks the transport dirty itself when needed */
        return e->set(dns, e, text);
    }
    if (e->busy_err != 0 && dns->busy)
        return sr_dns_fail(dns, e->busy_err, "%s: %s", e->name,
                           sr_strerror(e->busy_err));

    switch (e->kind) {
    case CFG_BOOL: {
        bool b;
        if (!parse_bool(text, &b))
            return bad_value(dns, e, text);
        if (e->check != NULL && (status = e->check(dns, e, text, b)) != SR_OK)
            return status;
        changed = *(bool *)(void *)field != b;
        *(bool *)(void *)field = b;
        break;
    }
    case CFG_INT: {
        long v;
        if (!parse_int(text, &v) || v < e->min || v > e->max)
            return bad_value(dns, e, text);
        if (e->check != NULL &&
            (status = e->check(dns, e, text, (int)v)) != SR_OK)
            return status;
        changed = *(int *)(void *)field != (int)v;
        *(int *)(void *)field = (int)v;
        break;
    }
    case CFG_STR: {
        char **slot = (char **)(void *)field;
        const char *old = *slot != NULL ? *slot : "";
        if (e->check != NULL && (status = e->check(dns, e, text, 0)) != SR_OK)
            return status;
        if (strcmp(old, text) == 0)
            break;
        char *copy = NULL;
        if (*text != '\0' && (copy = sr_strdup(text)) == NULL)
            return sr_dns_fail(dns, SR_E_NOMEM, "%s: out of memory", e->name);
        sr_free(*slot);
        *slot = copy;
        changed = true;
        break;
    }
    case CFG_SPECIAL:
    case CFG_UNSUPPORTED:
        break;
    }
    if (changed) {
        if (e->transport)
            sr_dns_mark_dirty(dns);
        if (e->after != NULL)
            e->after(dns);
    }
    return SR_OK;
}

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && isspace((unsigned char)**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && isspace((unsigned char)(*s)[*len - 1]))
        (*len)--;
}

sr_status_t sr_dns_config_apply(sr_dns_t *dns, const char *setting, char **value)
{
    sr_status_t status = SR_OK;
    char *val_copy = NULL;
    const char *eq;
    const char *name = setting;
    size_t name_len;

    if (value != NULL)
        *value = NULL;
    if (setting == NULL)
        return sr_dns_fail(dns, SR_E_INVAL, "config: no setting given");
    eq = strchr(setting, '=');
    name_len = eq != NULL ? (size_t)(eq - setting) : strlen(setting);
    trim(&name, &name_len);
    if (name_len == 0)
        return sr_dns_fail(dns, SR_E_INVAL, "config: no setting name in '%s'",
                           setting);

    const cfg_entry_t *e = cfg_find(name, name_len);
    if (e == NULL)
        return sr_dns_fail(dns, SR_E_INVAL, "Unknown setting '%.*s'",
                           (int)name_len, name);
    if (e->kind == CFG_UNSUPPORTED)
        /* Windows-only: accepted as a name, refused with exactly this text
         * (docs/architecture.md) */
        return sr_dns_fail(dns, SR_E_NOT_SUPPORTED,
                           "%s: not supported on this platform", e->name);

    if (eq == NULL) {
        char *out = NULL;
        status = cfg_read(dns, e, &out);
        if (status != SR_OK)
            goto done;
        if (value != NULL)
            *value = out;
        else
            free(out);
        goto done;
    }

    const char *v = eq + 1;
    size_t vlen = strlen(v);
    trim(&v, &vlen);
    val_copy = sr_malloc(vlen + 1);
    if (val_copy == NULL) {
        status = sr_dns_fail(dns, SR_E_NOMEM, "%s: out of memory", e->name);
        goto done;
    }
    memcpy(val_copy, v, vlen);
    val_copy[vlen] = '\0';
    status = cfg_write(dns, e, val_copy);

done:
    sr_free(val_copy);
    return status;
}

/* ---- code pages ---- */

/* Identifiers of the reference whose iconv name is not CP<n>/IBM<n>. */
static const struct {
    int id;
    const char *name;
} codepage_names[] = {
    {37, "IBM037"},              {708, "ASMO-708"},
    {1200, "UTF-16LE"},
    {1201, "UTF-16BE"},          {1361, "JOHAB"},
    {10000, "MACINTOSH"},        {10007, "MAC-CYRILLIC"},
    {10017, "MACUKRAINIAN"},     {10029, "MAC-CENTRALEUROPE"},
    {10079, "MAC-IS"},           {12000, "UTF-32LE"},
    {12001, "UTF-32BE"},         {20127, "ASCII"},
    {20866, "KOI8-R"},           {20924, "IBM1047"},
    {20932, "EUC-JP"},           {20936, "GB2312"},
    {21866, "KOI8-U"},           {28591, "ISO-8859-1"},
    {28592, "ISO-8859-2"},       {28593, "ISO-8859-3"},
    {28594, "ISO-8859-4"},       {28595, "ISO-8859-5"},
    {28596, "ISO-8859-6"},       {28597, "ISO-8859-7"},
    {28598, "ISO-8859-8"},       {28599, "ISO-8859-9"},
    {28605, "ISO-8859-15"},      {38598, "ISO-8859-8"},
    {50220, "ISO-2022-JP"},      {50221, "ISO-2022-JP"},
    {50222, "ISO-2022-JP"},      {50225, "ISO-2022-KR"},
    {50227, "ISO-2022-CN"},      {50229, "ISO-2022-CN-EXT"},
    {51932, "EUC-JP"},           {51936, "EUC-CN"},
    {51949, "EUC-KR"},           {51950, "EUC-TW"},
    {54936, "GB18030"},          {65000, "UTF-7"},
    {65001, "UTF-8"},
};

static bool iconv_knows(const char *name)
{
    iconv_t cd = iconv_open("UTF-8", name);
    if (cd == (iconv_t)-1)
        return false;
    iconv_close(cd);
    return true;
}

const char *sr_dns_codepage_charset(int code_page, char *buf, size_t cap)
{
    for (size_t i = 0; i < sizeof(codepage_names) / sizeof(codepage_names[0]);
         i++) {
        if (codepage_names[i].id == code_page) {
            snprintf(buf, cap, "%s", codepage_names[i].name);
            return iconv_knows(buf) ? buf : NULL;
        }
    }
    if (code_page <= 0)
        return NULL;
    /* Windows code pages are CP<n> in glibc, IBM EBCDIC ones IBM<n>, and
     * the 20xxx identifiers of EBCDIC variants are IBM<n - 20000>. */
    static const char *const prefixes[] = {"CP", "IBM", "WINDOWS-"};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        snprintf(buf, cap, "%s%d", prefixes[i], code_page);
        if (iconv_knows(buf))
            return buf;
    }
    if (code_page > 20000 && code_page < 30000) {
        snprintf(buf, cap, "IBM%d", code_page - 20000);
        if (iconv_knows(buf))
            return buf;
    }
    return NULL;
}
