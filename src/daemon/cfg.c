/* stubresd: configuration (see cfg.h).
 *
 * Every key is one row of keys[] below: its names, type, field, default,
 * limits and the words used when a value is refused. The file reader, the
 * control socket and the state file all go through cfg_set(), so a value
 * means the same thing wherever it comes from. Upstream specs are
 * spec.c's: cfg checks them through it and never calls the pool. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <ini.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "cfg.h"
#include "log.h"

enum ktype {
    KT_BOOL,    /* bool */
    KT_UINT,    /* unsigned, decimal, [min, max] */
    KT_SECS,    /* uint32_t seconds, units s m h d */
    KT_MS,      /* uint32_t milliseconds, written as seconds */
    KT_SIZE,    /* uint64_t bytes, K M G suffixes */
    KT_ENUM,    /* int index into names[]; the index is accepted too */
    KT_STR,     /* char *, checked by check() */
    KT_LISTEN,  /* listen addresses */
    KT_ACL,     /* acl_t */
    KT_SERVERS, /* char **servers */
    KT_RO,      /* read-only value (BuildInfo, LicenseInfo, idle) */
    KT_UNSUP,   /* Windows-only setting of the class */
    KT_NOTD,    /* per-query property of the class */
};

#define KF_RESTART 0x1u  /* only at start (sockets, privileges, threads) */
#define KF_UPSTREAM 0x2u /* shapes the upstream pool */
#define KF_NUMERIC 0x4u  /* enum: the class's numbers are accepted */

/* A string check: 0 if v is acceptable. */
typedef int (*str_check_fn)(const char *v);

typedef struct key {
    const char *name;
    const char *alias; /* the class's spelling, if different */
    enum ktype type;
    size_t off;
    const char *def;
    uint64_t min, max;
    const char *const *names; /* KT_ENUM */
    str_check_fn check;       /* KT_STR */
    unsigned flags;
    const char *accepted; /* what a bad value is told; NULL: by type */
    const char *doc;
} keydef_t;

static const char *const strategy_names[] = {"failover", "round-robin", "fastest", NULL};
static const char *const doh_names[] = {"post", "get", "json", NULL};
static const char *const proto_names[] = {"udp", "tcp", "tls", "https", NULL};
static const char *const level_names[] = {"error", "warning", "notice", "info", "debug", NULL};

static int check_any(const char *v);
static int check_name(const char *v);
static int check_abs_path(const char *v);
static int check_abs_path_or_empty(const char *v);
static int check_readable_or_empty(const char *v);
static int check_addr_or_empty(const char *v);
static int check_ip_or_empty(const char *v);
static int check_query_log(const char *v);
static int check_server(const char *v);

#define OFF(f) offsetof(struct cfg, f)
#define NONE 0, 0, NULL, NULL

static const keydef_t keys[] = {
    /* ---- the daemon's keys (DESIGN.md) ---- */
    {"listen", NULL, KT_LISTEN, OFF(listen), "127.0.0.1:53, [::1]:53", NONE, KF_RESTART,
     "a list of IP addresses with optional ports, e.g. 127.0.0.1:53, [::1]:53",
     "addresses to answer DNS on (UDP and TCP)"},
    {"allow", NULL, KT_ACL, OFF(allow), "127.0.0.0/8, ::1/128", NONE, 0,
     "a list of networks: ADDRESS[/PREFIX], 'loopback' or 'any'",
     "client networks allowed to query; others get REFUSED"},
    {"user", NULL, KT_STR, OFF(user), "", 0, 0, NULL, check_name, KF_RESTART,
     "a user name, or nothing to keep the current user",
     "drop root to this user after binding the sockets"},
    {"threads", NULL, KT_UINT, OFF(threads), "1", 1, 64, NULL, NULL, KF_RESTART, NULL,
     "event loops (threads), each with its own sockets (SO_REUSEPORT)"},
    {"control", NULL, KT_STR, OFF(control), "/run/stubresd/control.sock", 0, 0, NULL,
     check_abs_path_or_empty, KF_RESTART, "an absolute path, or nothing for no control socket",
     "the control socket (mode 0660)"},
    {"control_group", NULL, KT_STR, OFF(control_group), "", 0, 0, NULL, check_name, KF_RESTART,
     "a group name, or nothing", "group owning the control socket; its members may use stubresctl"},
    {"metrics", NULL, KT_STR, OFF(metrics), "", 0, 0, NULL, check_addr_or_empty, KF_RESTART,
     "ADDRESS[:PORT] (port 9153 by default), or nothing to turn it off",
     "address of the Prometheus text endpoint (/metrics); off when empty"},
    {"state_file", NULL, KT_STR, OFF(state_file), "/var/lib/stubresd/runtime.conf", 0, 0, NULL,
     check_abs_path_or_empty, KF_RESTART, "an absolute path, or nothing",
     "where changes made through the control socket are kept across restarts"},
    {"servers", NULL, KT_SERVERS, OFF(servers), "", NONE, KF_UPSTREAM,
     "a list of udp://HOST[:PORT], tcp://HOST[:PORT], tls://HOST[:PORT][#AUTH_NAME] "
     "or https://HOST[:PORT]/PATH",
     "upstream servers; empty: dns_server, else the nameservers of resolv_conf"},
    {"strategy", NULL, KT_ENUM, OFF(strategy), "failover", 0, 0, strategy_names, NULL, KF_UPSTREAM,
     NULL, "how an upstream is chosen: in order, in turn, or the fastest"},
    {"ca_file", NULL, KT_STR, OFF(ca_file), "", 0, 0, NULL, check_readable_or_empty, KF_UPSTREAM,
     "a readable PEM file, or nothing for the system store", "trust anchors for DoT/DoH upstreams"},
    {"bootstrap", NULL, KT_STR, OFF(bootstrap), "", 0, 0, NULL, check_addr_or_empty, KF_UPSTREAM,
     "IP[:PORT], or nothing for the first nameserver of resolv_conf",
     "DNS server used to resolve upstream host names"},
    {"doh_method", "DoHMethod", KT_ENUM, OFF(doh_method), "post", 0, 0, doh_names, NULL,
     KF_UPSTREAM | KF_NUMERIC, NULL, "DoH method: RFC 8484 POST or GET, or the JSON API"},
    {"timeout", NULL, KT_MS, OFF(timeout_ms), "2", 1, 3600000, NULL, NULL, 0, NULL,
     "seconds to wait for one upstream before trying the next"},
    {"cache_size", NULL, KT_SIZE, OFF(cache_size), "16M", 0, (uint64_t)1 << 40, NULL, NULL, 0, NULL,
     "memory for cached answers (0 turns the cache off)"},
    {"min_ttl", NULL, KT_SECS, OFF(min_ttl), "0", 0, 604800, NULL, NULL, 0, NULL,
     "shorter TTLs are raised to this"},
    {"max_ttl", NULL, KT_SECS, OFF(max_ttl), "86400", 1, 2147483647, NULL, NULL, 0, NULL,
     "longer TTLs are lowered to this"},
    {"negative_ttl", NULL, KT_SECS, OFF(negative_ttl), "3600", 0, 604800, NULL, NULL, 0, NULL,
     "cap on how long NXDOMAIN/NODATA answers are cached (RFC 2308)"},
    {"serve_stale", NULL, KT_BOOL, OFF(serve_stale), "false", NONE, 0, NULL,
     "answer from expired cache entries when every upstream fails (RFC 8767)"},
    {"prefetch", NULL, KT_BOOL, OFF(prefetch), "false", NONE, 0, NULL,
     "refresh popular entries shortly before they expire"},
    {"log_level", NULL, KT_ENUM, OFF(log_level), "notice", 0, 0, level_names, NULL, KF_NUMERIC,
     NULL, "least important messages logged"},
    {"query_log", NULL, KT_STR, OFF(query_log), "", 0, 0, NULL, check_query_log, 0,
     "nothing (off), 'syslog', 'stderr' or an absolute file path", "one line per answered query"},
    {"resolv_conf", NULL, KT_STR, OFF(resolv_conf), "/etc/resolv.conf", 0, 0, NULL, check_abs_path,
     KF_UPSTREAM, "an absolute path",
     "nameservers used when no upstream is configured (never stubresd itself)"},
    /* ---- tuning keys of stubresd beyond DESIGN.md ---- */
    {"servfail_ttl", NULL, KT_SECS, OFF(servfail_ttl), "5", 0, 300, NULL, NULL, 0, NULL,
     "how long an upstream's SERVFAIL is cached (RFC 2308 7.1)"},
    {"stale_max", NULL, KT_SECS, OFF(stale_max), "86400", 0, 604800, NULL, NULL, 0, NULL,
     "serve_stale: how long past expiry an entry may still answer"},
    {"tcp_idle_timeout", NULL, KT_MS, OFF(tcp_idle_timeout_ms), "10", 100, 3600000, NULL, NULL, 0,
     NULL, "close a client TCP connection idle this long (RFC 7766 6.2.3)"},
    {"tcp_max_clients", NULL, KT_UINT, OFF(tcp_max_clients), "256", 1, 100000, NULL, NULL, 0, NULL,
     "client TCP connections at once, all threads together"},
    {"tcp_max_pipeline", NULL, KT_UINT, OFF(tcp_max_pipeline), "64", 1, 1024, NULL, NULL, 0, NULL,
     "queries in flight per client TCP connection"},
    {"max_inflight", NULL, KT_UINT, OFF(max_inflight), "4096", 16, 1000000, NULL, NULL, 0, NULL,
     "upstream queries in flight per thread; more are dropped"},
    {"max_udp_size", NULL, KT_UINT, OFF(max_udp_size), "4096", 512, 4096, NULL, NULL, 0, NULL,
     "largest UDP answer sent, whatever size the client offers"},
    /* ---- the class reference's properties ---- */
    {"dns_server", NULL, KT_STR, OFF(dns_server), "", 0, 0, NULL, check_server, KF_UPSTREAM,
     "an IP address, a host name or an https:// URL",
     "one upstream (with dns_port and protocol), used when servers is empty"},
    {"dns_port", NULL, KT_UINT, OFF(dns_port), "0", 0, 65535, NULL, NULL, KF_UPSTREAM,
     "a port from 1 to 65535 (0: 53, 853 for tls, 443 for https)",
     "port of dns_server and of the resolv_conf nameservers"},
    {"protocol", NULL, KT_ENUM, OFF(protocol), "udp", 0, 0, proto_names, NULL,
     KF_UPSTREAM | KF_NUMERIC, NULL, "protocol of dns_server and of the resolv_conf nameservers"},
    {"recursive", NULL, KT_BOOL, OFF(recursive), "true", NONE, 0, NULL, "send RD=1 upstream"},
    {"local_host", "LocalHost", KT_STR, OFF(local_host), "", 0, 0, NULL, check_ip_or_empty,
     KF_UPSTREAM, "a numeric IP address, or nothing", "local address of upstream sockets"},
    {"idle", NULL, KT_RO, 0, NULL, NONE, 0, NULL, "true when no query is in flight"},
    {"query_type", NULL, KT_NOTD, 0, NULL, NONE, 0, NULL, NULL},
    {"request_id", NULL, KT_NOTD, 0, NULL, NONE, 0, NULL, NULL},
    {"record_count", NULL, KT_NOTD, 0, NULL, NONE, 0, NULL, NULL},
    {"record_domain", NULL, KT_NOTD, 0, NULL, NONE, 0, NULL, NULL},
    {"record_field_count", NULL, KT_NOTD, 0, NULL, NONE, 0, NULL, NULL},
    {"record_field_index", NULL, KT_NOTD, 0, NULL, NONE, 0, NULL, NULL},
    {"record_field_name", NULL, KT_NOTD, 0, NULL, NONE, 0, NULL, NULL},
    {"record_field_value", NULL, KT_NOTD, 0, NULL, NONE, 0, NULL, NULL},
    {"record_data", NULL, KT_NOTD, 0, NULL, NONE, 0, NULL, NULL},
    {"record_type", NULL, KT_NOTD, 0, NULL, NONE, 0, NULL, NULL},
    {"record_type_name", NULL, KT_NOTD, 0, NULL, NONE, 0, NULL, NULL},
    {"record_ttl", NULL, KT_NOTD, 0, NULL, NONE, 0, NULL, NULL},
    {"record_source", NULL, KT_NOTD, 0, NULL, NONE, 0, NULL, NULL},
    {"status", NULL, KT_NOTD, 0, NULL, NONE, 0, NULL, NULL},
    {"status_code", NULL, KT_NOTD, 0, NULL, NONE, 0, NULL, NULL},
    /* ---- the class reference's config settings ---- */
    {"ResponseTruncated", NULL, KT_NOTD, 0, NULL, NONE, 0, NULL, NULL},
    {"UseDNSAPIDLL", NULL, KT_UNSUP, 0, NULL, NONE, 0, NULL, NULL},
    {"UseIDNs", NULL, KT_BOOL, OFF(use_idns), "false", NONE, KF_UPSTREAM, NULL,
     "IDNA-encode non-ASCII upstream host names"},
    {"CaptureIPPacketInfo", NULL, KT_UNSUP, 0, NULL, NONE, 0, NULL, NULL},
    {"DelayHostResolution", NULL, KT_BOOL, OFF(delay_host_resolution), "false", NONE, 0, NULL,
     "accepted; upstream host names are always resolved when first needed"},
    {"DestinationAddress", NULL, KT_UNSUP, 0, NULL, NONE, 0, NULL, NULL},
    {"DontFragment", NULL, KT_BOOL, OFF(dont_fragment), "false", NONE, KF_UPSTREAM, NULL,
     "set DF on upstream UDP packets (IP_MTU_DISCOVER)"},
    {"LocalPort", NULL, KT_UINT, OFF(local_port), "0", 0, 65535, NULL, NULL, KF_UPSTREAM, NULL,
     "local port of upstream sockets (0: random per query)"},
    {"MaxPacketSize", NULL, KT_UINT, OFF(max_packet_size), "1232", 512, 65535, NULL, NULL,
     KF_UPSTREAM, NULL, "EDNS UDP size offered upstream and largest datagram accepted"},
    {"QOSDSCPValue", NULL, KT_UINT, OFF(dscp), "0", 0, 63, NULL, NULL, KF_UPSTREAM, NULL,
     "DSCP of upstream packets (IP_TOS/IPV6_TCLASS; 0 leaves it alone)"},
    {"QOSTrafficType", NULL, KT_UNSUP, 0, NULL, NONE, 0, NULL, NULL},
    {"ShareLocalPort", NULL, KT_BOOL, OFF(share_local_port), "false", NONE, KF_UPSTREAM, NULL,
     "SO_REUSEPORT on upstream sockets"},
    {"SourceIPAddress", NULL, KT_UNSUP, 0, NULL, NONE, 0, NULL, NULL},
    {"SourceMacAddress", NULL, KT_UNSUP, 0, NULL, NONE, 0, NULL, NULL},
    {"UseConnection", NULL, KT_BOOL, OFF(use_connection), "false", NONE, KF_UPSTREAM, NULL,
     "connected UDP sockets upstream"},
    {"UseIPv6", NULL, KT_BOOL, OFF(use_ipv6), "false", NONE, KF_UPSTREAM, NULL,
     "prefer IPv6 when resolving upstream host names"},
    {"AbsoluteTimeout", NULL, KT_BOOL, OFF(absolute_timeout), "false", NONE, KF_UPSTREAM, NULL,
     "timeout counts from the send, not from the last activity"},
    {"FirewallData", NULL, KT_STR, OFF(firewall_data), "", 0, 0, NULL, check_any, 0, "any text",
     "accepted; stubresd never goes through a firewall proxy"},
    {"InBufferSize", NULL, KT_SIZE, OFF(in_buffer_size), "0", 0, (uint64_t)1 << 30, NULL, NULL,
     KF_UPSTREAM, NULL, "SO_RCVBUF of upstream sockets (0: system default)"},
    {"OutBufferSize", NULL, KT_SIZE, OFF(out_buffer_size), "0", 0, (uint64_t)1 << 30, NULL, NULL,
     KF_UPSTREAM, NULL, "SO_SNDBUF of upstream sockets (0: system default)"},
    {"BuildInfo", NULL, KT_RO, 0, NULL, NONE, 0, NULL, "version and libraries"},
    {"CodePage", NULL, KT_UINT, OFF(code_page), "65001", 1, 65535, NULL, NULL, 0, NULL,
     "accepted; names are forwarded as bytes, never converted"},
    {"LicenseInfo", NULL, KT_RO, 0, NULL, NONE, 0, NULL, "no license key is needed"},
    {"MaskSensitive", NULL, KT_BOOL, OFF(mask_sensitive), "true", NONE, 0, NULL,
     "accepted; logs never carry secrets"},
    {"ProcessIdleEvents", NULL, KT_BOOL, OFF(process_idle_events), "true", NONE, 0, NULL,
     "accepted; the daemon runs its own event loops"},
    {"SelectWaitMillis", NULL, KT_UINT, OFF(select_wait_millis), "20", 0, 100000, NULL, NULL, 0,
     NULL, "accepted; the daemon runs its own event loops"},
    {"UseInternalSecurityAPI", NULL, KT_BOOL, OFF(use_internal_security_api), "true", NONE, 0, NULL,
     "accepted; TLS is OpenSSL"},
    {"LogLevel", NULL, KT_UINT, OFF(class_log_level), "1", 0, 3, NULL, NULL, KF_UPSTREAM, NULL,
     "transport log verbosity: 0 none, 1 info, 2 verbose, 3 debug"},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* ---------------------------------------------------------------- errors */

void cfg_errors_clear(cfg_errors_t *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->msg[i]);
    e->n = 0;
    e->dropped = 0;
}

void cfg_errors_add(cfg_errors_t *e, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    if (e == NULL)
        return;
    if (e->n >= CFG_MAX_ERRORS) {
        e->dropped++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    e->msg[e->n] = strdup(buf);
    if (e->msg[e->n] != NULL)
        e->n++;
}

/* ---------------------------------------------------------------- parsers */

int cfg_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};

    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* Decimal digits only: no sign, no spaces, no hex, no overflow. */
static int parse_u64(const char *s, const char **end, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;

    if (!isdigit((unsigned char)*p))
        return -1;
    while (isdigit((unsigned char)*p)) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
        p++;
    }
    *end = p;
    *out = v;
    return 0;
}

int cfg_parse_size(const char *s, uint64_t *out)
{
    const char *p;
    uint64_t v, mul = 1;

    if (parse_u64(s, &p, &v) != 0)
        return -1;
    switch (*p) {
    case 'k':
    case 'K':
        mul = 1024;
        p++;
        break;
    case 'm':
    case 'M':
        mul = 1024 * 1024;
        p++;
        break;
    case 'g':
    case 'G':
        mul = 1024 * 1024 * 1024;
        p++;
        break;
    default: break;
    }
    if (*p == 'b' || *p == 'B')
        p++;
    if (*p != '\0' || (v != 0 && mul > UINT64_MAX / v))
        return -1;
    *out = v * mul;
    return 0;
}

int cfg_parse_duration_ms(const char *s, uint64_t *out)
{
    const char *p;
    uint64_t whole, frac = 0, fracdiv = 1, unit = 1000, v;

    if (parse_u64(s, &p, &whole) != 0)
        return -1;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p)) {
            if (fracdiv >= 1000)
                return -1; /* finer than a millisecond */
            frac = frac * 10 + (uint64_t)(*p - '0');
            fracdiv *= 10;
            p++;
        }
    }
    if (strcmp(p, "") == 0 || strcmp(p, "s") == 0)
        unit = 1000;
    else if (strcmp(p, "ms") == 0)
        unit = 1;
    else if (strcmp(p, "m") == 0)
        unit = 60 * 1000;
    else if (strcmp(p, "h") == 0)
        unit = 3600 * 1000;
    else if (strcmp(p, "d") == 0)
        unit = 86400 * 1000;
    else
        return -1;
    if (whole > UINT64_MAX / unit / 2)
        return -1;
    v = whole * unit + frac * unit / fracdiv;
    if (frac * unit % fracdiv != 0)
        return -1;
    *out = v;
    return 0;
}

/* ---------------------------------------------------------------- checks */

static int check_any(const char *v)
{
    (void)v;
    return 0;
}

static int check_name(const char *v)
{
    /* User and group names (POSIX portable set plus what useradd allows). */
    for (const char *p = v; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.' &&
            !(*p == '$' && p[1] == '\0'))
            return -1;
    return strlen(v) > 64 ? -1 : 0;
}

static int check_abs_path(const char *v)
{
    if (v[0] != '/')
        return -1;
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20)
            return -1;
    return 0;
}

static int check_abs_path_or_empty(const char *v)
{
    return v[0] == '\0' ? 0 : check_abs_path(v);
}

static int check_readable_or_empty(const char *v)
{
    if (v[0] == '\0')
        return 0;
    if (check_abs_path(v) != 0)
        return -1;
    return access(v, R_OK) == 0 ? 0 : -1;
}

static int check_addr_or_empty(const char *v)
{
    struct sockaddr_storage ss;
    socklen_t len;

    return v[0] == '\0' ? 0 : addr_parse(v, 53, false, &ss, &len);
}

static int check_ip_or_empty(const char *v)
{
    struct sockaddr_storage ss;
    socklen_t len;

    if (v[0] == '\0')
        return 0;
    if (v[0] == '[' || (strchr(v, ':') != NULL && strchr(strchr(v, ':') + 1, ':') == NULL))
        return -1; /* a port is not part of local_host */
    return addr_parse(v, 0, true, &ss, &len);
}

static int check_query_log(const char *v)
{
    if (v[0] == '\0' || strcmp(v, "syslog") == 0 || strcmp(v, "stderr") == 0)
        return 0;
    return check_abs_path(v);
}

static int check_server(const char *v)
{
    /* The whole check needs protocol and dns_port too: cfg_check does it.
     * Here: printable, no spaces, not absurdly long. */
    if (strlen(v) > 1000)
        return -1;
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return -1;
    return 0;
}

/* ---------------------------------------------------------------- table */

size_t cfg_nkeys(void)
{
    return NKEYS;
}

const char *cfg_key_name(size_t i)
{
    return i < NKEYS ? keys[i].name : NULL;
}

int cfg_key_index(const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcasecmp(keys[i].name, name) == 0 ||
            (keys[i].alias != NULL && strcasecmp(keys[i].alias, name) == 0))
            return (int)i;
    return -1;
}

const char *cfg_key_default(size_t i)
{
    return i < NKEYS && keys[i].def != NULL ? keys[i].def : "";
}

bool cfg_key_restart(size_t i)
{
    return i < NKEYS && (keys[i].flags & KF_RESTART);
}

bool cfg_key_settable(size_t i)
{
    return i < NKEYS && keys[i].type != KT_RO && keys[i].type != KT_UNSUP &&
           keys[i].type != KT_NOTD;
}

bool cfg_key_upstream(size_t i)
{
    return i < NKEYS && (keys[i].flags & KF_UPSTREAM);
}

const char *cfg_key_doc(size_t i)
{
    return i < NKEYS && keys[i].doc != NULL ? keys[i].doc : "";
}

const char *cfg_build_info(void)
{
    static char info[256];

    if (info[0] == '\0')
        snprintf(info, sizeof(info), "%s %s; libevent %s; %s; jansson %s; libsystemd %s",
                 PACKAGE_NAME, PACKAGE_VERSION, event_get_version(),
                 OpenSSL_version(OPENSSL_VERSION), JANSSON_VERSION,
#ifdef HAVE_LIBSYSTEMD
                 "yes"
#else
                 "no"
#endif
        );
    return info;
}

/* "a, b or c" */
static void enum_list(const keydef_t *k, char *out, size_t cap)
{
    size_t n = 0, off = 0;

    while (k->names[n] != NULL)
        n++;
    out[0] = '\0';
    for (size_t i = 0; i < n && off < cap; i++) {
        int w = snprintf(out + off, cap - off, "%s%s", i == 0 ? "" : (i + 1 == n ? " or " : ", "),
                         k->names[i]);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    if ((k->flags & KF_NUMERIC) && off < cap)
        snprintf(out + off, cap - off, " (or 0 to %zu)", n - 1);
}

static void size_text(uint64_t v, char *out, size_t cap)
{
    if (v != 0 && v % (1024ull * 1024 * 1024) == 0)
        snprintf(out, cap, "%lluG", (unsigned long long)(v >> 30));
    else if (v != 0 && v % (1024ull * 1024) == 0)
        snprintf(out, cap, "%lluM", (unsigned long long)(v >> 20));
    else if (v != 0 && v % 1024 == 0)
        snprintf(out, cap, "%lluK", (unsigned long long)(v >> 10));
    else
        snprintf(out, cap, "%llu", (unsigned long long)v);
}

static void ms_text(uint64_t ms, char *out, size_t cap)
{
    if (ms % 1000 == 0) {
        snprintf(out, cap, "%llu", (unsigned long long)(ms / 1000));
    } else {
        char frac[8];
        snprintf(frac, sizeof(frac), "%03u", (unsigned)(ms % 1000));
        for (int i = 2; i > 0 && frac[i] == '0'; i--)
            frac[i] = '\0';
        snprintf(out, cap, "%llu.%s", (unsigned long long)(ms / 1000), frac);
    }
}

/* What a bad value of k is told it should have been. */
static void accepted_text(const keydef_t *k, char *out, size_t cap)
{
    char a[64], b[64];

    if (k->accepted != NULL) {
        snprintf(out, cap, "%s", k->accepted);
        return;
    }
    switch (k->type) {
    case KT_BOOL: snprintf(out, cap, "true or false (also yes/no, on/off, 1/0)"); break;
    case KT_UINT:
        snprintf(out, cap, "an integer from %llu to %llu", (unsigned long long)k->min,
                 (unsigned long long)k->max);
        break;
    case KT_SECS:
        snprintf(out, cap, "a number of seconds from %llu to %llu (units s, m, h, d allowed)",
                 (unsigned long long)k->min, (unsigned long long)k->max);
        break;
    case KT_MS:
        ms_text(k->min, a, sizeof(a));
        ms_text(k->max, b, sizeof(b));
        snprintf(out, cap,
                 "a number of seconds from %s to %s (fractions such as 1.5 and "
                 "units ms, s, m allowed)",
                 a, b);
        break;
    case KT_SIZE:
        size_text(k->min, a, sizeof(a));
        size_text(k->max, b, sizeof(b));
        snprintf(out, cap, "a size in bytes from %s to %s (suffix K, M or G allowed)", a, b);
        break;
    case KT_ENUM: enum_list(k, out, cap); break;
    default: snprintf(out, cap, "a valid value"); break;
    }
}

/* ---------------------------------------------------------------- values */

#define FIELD(c, k, type) ((type *)(void *)((char *)(c) + (k)->off))

static void free_listen(cfg_t *c)
{
    free(c->listen);
    free(c->listen_len);
    c->listen = NULL;
    c->listen_len = NULL;
    c->nlisten = 0;
}

static void free_servers(cfg_t *c)
{
    for (size_t i = 0; i < c->nservers; i++)
        free(c->servers[i]);
    free(c->servers);
    c->servers = NULL;
    c->nservers = 0;
}

/* Split a list value at commas and blanks into at most max items. */
static int split_list(const char *v, char ***items, size_t *n, size_t max)
{
    char **out = NULL;
    size_t cnt = 0;
    const char *p = v;

    while (*p != '\0') {
        const char *start;
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            break;
        start = p;
        while (*p != '\0' && *p != ',' && !isspace((unsigned char)*p))
            p++;
        if (cnt >= max)
            goto fail;
        char **grown = realloc(out, (cnt + 1) * sizeof(*out));
        if (grown == NULL)
            goto fail;
        out = grown;
        out[cnt] = strndup(start, (size_t)(p - start));
        if (out[cnt] == NULL)
            goto fail;
        cnt++;
    }
    *items = out;
    *n = cnt;
    return 0;
fail:
    for (size_t i = 0; i < cnt; i++)
        free(out[i]);
    free(out);
    return -1;
}

static void free_items(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}

/* Replace text[i] (the canonical form). */
static int set_text(cfg_t *c, size_t i, const char *t)
{
    char *d = strdup(t);
    if (d == NULL)
        return -1;
    free(c->text[i]);
    c->text[i] = d;
    return 0;
}

static size_t key_index_of(const keydef_t *k)
{
    return (size_t)(k - keys);
}

/* Parse v for key k into c. On failure c is unchanged and why (if set)
 * says more than the generic accepted text. */
static cfg_status_t set_value(cfg_t *c, const keydef_t *k, const char *v, char *why, size_t whycap)
{
    char canon[CFG_VALUE_MAX + 64];
    uint64_t u;
    const char *end;

    why[0] = '\0';
    switch (k->type) {
    case KT_BOOL: {
        bool b;
        if (cfg_parse_bool(v, &b) != 0)
            return CFG_EINVAL;
        *FIELD(c, k, bool) = b;
        snprintf(canon, sizeof(canon), "%s", b ? "true" : "false");
        break;
    }
    case KT_UINT:
        if (parse_u64(v, &end, &u) != 0 || *end != '\0' || u < k->min || u > k->max)
            return CFG_EINVAL;
        *FIELD(c, k, unsigned) = (unsigned)u;
        snprintf(canon, sizeof(canon), "%llu", (unsigned long long)u);
        break;
    case KT_SECS:
        if (cfg_parse_duration_ms(v, &u) != 0 || u % 1000 != 0 || u / 1000 < k->min ||
            u / 1000 > k->max)
            return CFG_EINVAL;
        *FIELD(c, k, uint32_t) = (uint32_t)(u / 1000);
        snprintf(canon, sizeof(canon), "%llu", (unsigned long long)(u / 1000));
        break;
    case KT_MS:
        if (cfg_parse_duration_ms(v, &u) != 0 || u < k->min || u > k->max)
            return CFG_EINVAL;
        *FIELD(c, k, uint32_t) = (uint32_t)u;
        ms_text(u, canon, sizeof(canon));
        break;
    case KT_SIZE:
        if (cfg_parse_size(v, &u) != 0 || u < k->min || u > k->max)
            return CFG_EINVAL;
        *FIELD(c, k, uint64_t) = u;
        size_text(u, canon, sizeof(canon));
        break;
    case KT_ENUM: {
        int found = -1, n = 0;
        while (k->names[n] != NULL) {
            if (strcasecmp(k->names[n], v) == 0)
                found = n;
            n++;
        }
        if (found < 0 && (k->flags & KF_NUMERIC) && parse_u64(v, &end, &u) == 0 && *end == '\0' &&
            u < (uint64_t)n)
            found = (int)u;
        if (found < 0)
            return CFG_EINVAL;
        *FIELD(c, k, int) = found;
        snprintf(canon, sizeof(canon), "%s", k->names[found]);
        break;
    }
    case KT_STR: {
        char *d;
        if (k->check != NULL && k->check(v) != 0)
            return CFG_EINVAL;
        d = strdup(v);
        if (d == NULL)
            return CFG_ENOMEM;
        free(*FIELD(c, k, char *));
        *FIELD(c, k, char *) = d;
        snprintf(canon, sizeof(canon), "%s", v);
        break;
    }
    case KT_LISTEN: {
        char **items;
        size_t n, off = 0;
        struct sockaddr_storage *ss;
        socklen_t *lens;
        if (split_list(v, &items, &n, 64) != 0) {
            snprintf(why, whycap, "at most 64 addresses");
            return CFG_EINVAL;
        }
        if (n == 0) {
            free_items(items, n);
            snprintf(why, whycap, "at least one address is needed");
            return CFG_EINVAL;
        }
        ss = calloc(n, sizeof(*ss));
        lens = calloc(n, sizeof(*lens));
        if (ss == NULL || lens == NULL) {
            free(ss);
            free(lens);
            free_items(items, n);
            return CFG_ENOMEM;
        }
        canon[0] = '\0';
        for (size_t i = 0; i < n; i++) {
            char a[ADDR_TEXT_MAX];
            if (addr_parse(items[i], 53, false, &ss[i], &lens[i]) != 0) {
                snprintf(why, whycap, "'%.64s' is not IP[:PORT] or [IPv6][:PORT]", items[i]);
                free(ss);
                free(lens);
                free_items(items, n);
                return CFG_EINVAL;
            }
            addr_format((struct sockaddr *)&ss[i], a, sizeof(a));
            int w = snprintf(canon + off, sizeof(canon) - off, "%s%s", i ? ", " : "", a);
            if (w > 0 && (size_t)w < sizeof(canon) - off)
                off += (size_t)w;
        }
        free_items(items, n);
        free_listen(c);
        c->listen = ss;
        c->listen_len = lens;
        c->nlisten = n;
        break;
    }
    case KT_ACL: {
        acl_t acl;
        char err[256];
        if (acl_parse(v, &acl, err, sizeof(err)) != 0) {
            snprintf(why, whycap, "%s", err);
            return CFG_EINVAL;
        }
        acl_clear(&c->allow);
        c->allow = acl;
        acl_format(&acl, canon, sizeof(canon));
        break;
    }
    case KT_SERVERS: {
        char **items;
        size_t n, off = 0;
        bool enc = false, plain = false;
        if (split_list(v, &items, &n, SPEC_MAX) != 0) {
            snprintf(why, whycap, "at most %d upstreams", SPEC_MAX);
            return CFG_EINVAL;
        }
        canon[0] = '\0';
        for (size_t i = 0; i < n; i++) {
            spec_t *spec = malloc(sizeof(*spec));
            char err[512];
            if (spec == NULL) {
                free_items(items, n);
                return CFG_ENOMEM;
            }
            if (spec_parse(items[i], spec, err, sizeof(err)) != 0) {
                snprintf(why, whycap, "%s", err);
                free(spec);
                free_items(items, n);
                return CFG_EINVAL;
            }
            if (spec_encrypted(spec))
                enc = true;
            else
                plain = true;
            /* Keep the canonical spec in the list. */
            char *d = strdup(spec->name);
            if (d == NULL) {
                free(spec);
                free_items(items, n);
                return CFG_ENOMEM;
            }
            free(items[i]);
            items[i] = d;
            int w = snprintf(canon + off, sizeof(canon) - off, "%s%s", i ? ", " : "", spec->name);
            if (w > 0 && (size_t)w < sizeof(canon) - off)
                off += (size_t)w;
            free(spec);
        }
        if (enc && plain) {
            /* An encrypted upstream is never replaced by a plaintext one:
             * a mixed list would do exactly that on failover. */
            snprintf(why, whycap,
                     "encrypted (tls://, https://) and plaintext (udp://, "
                     "tcp://) upstreams cannot be mixed");
            free_items(items, n);
            return CFG_EINVAL;
        }
        free_servers(c);
        c->servers = items;
        c->nservers = n;
        break;
    }
    case KT_RO: return CFG_EREADONLY;
    case KT_UNSUP: return CFG_EUNSUPPORTED;
    case KT_NOTD: return CFG_ENOTDAEMON;
    }
    if (set_text(c, key_index_of(k), canon) != 0)
        return CFG_ENOMEM;
    return CFG_OK;
}

/* The error text for a refusal of key name (as the caller spelt it). */
static void refusal(const keydef_t *k, const char *name, cfg_status_t st, const char *value,
                    const char *why, const char *where, char *err, size_t errcap)
{
    char acc[512];
    char pre[512];

    if (where != NULL)
        snprintf(pre, sizeof(pre), "%s: %s", where, name);
    else
        snprintf(pre, sizeof(pre), "%s", name);
    switch (st) {
    case CFG_EUNKNOWN:
        if (where != NULL)
            snprintf(err, errcap, "%s: unknown key '%s'", where, name);
        else
            snprintf(err, errcap, "unknown setting '%s'", name);
        break;
    case CFG_EUNSUPPORTED: snprintf(err, errcap, "%s: not supported on this platform", pre); break;
    case CFG_ENOTDAEMON:
        snprintf(err, errcap, "%s: a per-query property of the class, not a stubresd setting", pre);
        break;
    case CFG_EREADONLY: snprintf(err, errcap, "%s: read-only", pre); break;
    case CFG_ERESTART:
        snprintf(err, errcap,
                 "%s: cannot be changed while stubresd runs (edit the config "
                 "file and restart)",
                 pre);
        break;
    case CFG_ENOMEM: snprintf(err, errcap, "%s: out of memory", pre); break;
    default:
        if (k == NULL) /* only CFG_EUNKNOWN comes without a key */
            snprintf(acc, sizeof(acc), "a valid value");
        else
            accepted_text(k, acc, sizeof(acc));
        if (why != NULL && why[0] != '\0')
            snprintf(err, errcap, "%s: bad value '%.80s%s': %s; expected %s", pre, value,
                     strlen(value) > 80 ? "..." : "", why, acc);
        else
            snprintf(err, errcap, "%s: bad value '%.80s%s': expected %s", pre, value,
                     strlen(value) > 80 ? "..." : "", acc);
        break;
    }
}

cfg_status_t cfg_set(cfg_t *c, const char *name, const char *value, const char *where, bool runtime,
                     char *err, size_t errcap)
{
    int i = cfg_key_index(name);
    const keydef_t *k;
    cfg_status_t st;
    char why[600];

    if (i < 0) {
        refusal(NULL, name, CFG_EUNKNOWN, value, NULL, where, err, errcap);
        return CFG_EUNKNOWN;
    }
    k = &keys[i];
    if (k->type == KT_RO || k->type == KT_UNSUP || k->type == KT_NOTD) {
        st = k->type == KT_RO ? CFG_EREADONLY
                              : (k->type == KT_UNSUP ? CFG_EUNSUPPORTED : CFG_ENOTDAEMON);
        refusal(k, name, st, value, NULL, where, err, errcap);
        return st;
    }
    if (runtime && (k->flags & KF_RESTART)) {
        refusal(k, name, CFG_ERESTART, value, NULL, where, err, errcap);
        return CFG_ERESTART;
    }
    if (strlen(value) > CFG_VALUE_MAX) {
        snprintf(why, sizeof(why), "longer than %d bytes", CFG_VALUE_MAX);
        refusal(k, name, CFG_EINVAL, value, why, where, err, errcap);
        return CFG_EINVAL;
    }
    st = set_value(c, k, value, why, sizeof(why));
    if (st != CFG_OK) {
        refusal(k, name, st, value, why, where, err, errcap);
        return st;
    }
    /* servers and dns_server describe the same thing; the one set last
     * wins, so a file or an operator never leaves a stale list behind. */
    if (k->type == KT_SERVERS && c->nservers > 0 && c->dns_server[0] != '\0') {
        int d = cfg_key_index("dns_server");
        free(c->dns_server);
        c->dns_server = strdup("");
        if (c->dns_server == NULL || set_text(c, (size_t)d, "") != 0)
            return CFG_ENOMEM;
    } else if (k->off == OFF(dns_server) && k->type == KT_STR && c->dns_server[0] != '\0' &&
               c->nservers > 0) {
        free_servers(c);
        if (set_text(c, (size_t)cfg_key_index("servers"), "") != 0)
            return CFG_ENOMEM;
    }
    free(c->where[i]);
    c->where[i] = where != NULL ? strdup(where) : NULL;
    return CFG_OK;
}

cfg_status_t cfg_get(const cfg_t *c, const char *name, char *out, size_t cap, char *err,
                     size_t errcap)
{
    int i = cfg_key_index(name);
    const keydef_t *k;

    out[0] = '\0';
    if (i < 0) {
        refusal(NULL, name, CFG_EUNKNOWN, "", NULL, NULL, err, errcap);
        return CFG_EUNKNOWN;
    }
    k = &keys[i];
    switch (k->type) {
    case KT_UNSUP:
        refusal(k, name, CFG_EUNSUPPORTED, "", NULL, NULL, err, errcap);
        return CFG_EUNSUPPORTED;
    case KT_NOTD:
        refusal(k, name, CFG_ENOTDAEMON, "", NULL, NULL, err, errcap);
        return CFG_ENOTDAEMON;
    case KT_RO:
        if (strcasecmp(k->name, "BuildInfo") == 0) {
            snprintf(out, cap, "%s", cfg_build_info());
            return CFG_OK;
        }
        if (strcasecmp(k->name, "LicenseInfo") == 0) {
            snprintf(out, cap, "stubresd is free software: no license key is needed");
            return CFG_OK;
        }
        return CFG_EREADONLY; /* "idle": the caller knows */
    default: break;
    }
    if (k->off == OFF(dns_port) && c->dns_port == 0) {
        /* The class's dns_port reads as the port in use. */
        snprintf(out, cap, "%u", (unsigned)spec_default_port((sr_proto_t)c->protocol));
        return CFG_OK;
    }
    snprintf(out, cap, "%s", c->text[i] != NULL ? c->text[i] : "");
    return CFG_OK;
}

/* ---------------------------------------------------------------- objects */

static cfg_t *cfg_alloc(void)
{
    cfg_t *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->text = calloc(NKEYS, sizeof(char *));
    c->where = calloc(NKEYS, sizeof(char *));
    c->path = strdup("");
    if (c->text == NULL || c->where == NULL || c->path == NULL) {
        free(c->text);
        free(c->where);
        free(c->path);
        free(c);
        return NULL;
    }
    atomic_init(&c->refs, 1);
    return c;
}

cfg_t *cfg_new(void)
{
    cfg_t *c = cfg_alloc();
    char err[1024];

    if (c == NULL)
        return NULL;
    for (size_t i = 0; i < NKEYS; i++) {
        if (!cfg_key_settable(i))
            continue;
        if (cfg_set(c, keys[i].name, keys[i].def, NULL, false, err, sizeof(err)) != CFG_OK) {
            /* A default that does not parse is a bug caught by the tests;
             * ca_file and the like default to "" and always parse. */
            log_warnx("default of %s: %s", keys[i].name, err);
            cfg_unref(c);
            return NULL;
        }
    }
    return c;
}

cfg_t *cfg_dup(const cfg_t *old)
{
    cfg_t *c = cfg_new();
    char err[1024];

    if (c == NULL)
        return NULL;
    for (size_t i = 0; i < NKEYS; i++) {
        if (!cfg_key_settable(i) || old->text[i] == NULL)
            continue;
        if (cfg_set(c, keys[i].name, old->text[i], NULL, false, err, sizeof(err)) != CFG_OK) {
            /* Only possible when a file went away (ca_file): keep the old
             * text, the check at use reports it. */
            if (keys[i].type == KT_STR) {
                char *d = strdup(old->text[i]);
                if (d == NULL) {
                    cfg_unref(c);
                    return NULL;
                }
                free(*FIELD(c, &keys[i], char *));
                *FIELD(c, &keys[i], char *) = d;
                set_text(c, i, old->text[i]);
            }
        }
        if (old->where[i] != NULL) {
            free(c->where[i]);
            c->where[i] = strdup(old->where[i]);
        }
    }
    free(c->path);
    c->path = strdup(old->path);
    if (c->path == NULL) {
        cfg_unref(c);
        return NULL;
    }
    return c;
}

void cfg_ref(cfg_t *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void cfg_unref(cfg_t *c)
{
    if (c == NULL || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < NKEYS; i++) {
        if (keys[i].type == KT_STR)
            free(*FIELD(c, &keys[i], char *));
        free(c->text[i]);
        free(c->where[i]);
    }
    free_listen(c);
    free_servers(c);
    acl_clear(&c->allow);
    free(c->text);
    free(c->where);
    free(c->path);
    free(c);
}

/* ---------------------------------------------------------------- files */

struct ini_ctx {
    const char *path;
    FILE *f;
    int line;
    cfg_errors_t *errs;
    cfg_ini_fn fn;
    void *arg;
};

/* inih's reader: one line per call, counted, so errors can name it.
 * A line too long for the buffer is refused here rather than split. */
static char *line_reader(char *str, int num, void *stream)
{
    struct ini_ctx *x = stream;
    size_t len;

    if (fgets(str, num, x->f) == NULL)
        return NULL;
    x->line++;
    len = strlen(str);
    if (len > 0 && str[len - 1] != '\n' && !feof(x->f)) {
        int ch;
        while ((ch = fgetc(x->f)) != EOF && ch != '\n')
            ;
        cfg_errors_add(x->errs, "%s:%d: line longer than %d bytes", x->path, x->line, num - 2);
        snprintf(str, (size_t)num, "\n");
        return str;
    }
    /* A line that is neither blank, a comment, a [section] nor key=value:
     * say so with its number (inih would only report the first one). */
    const char *p = str;
    while (isspace((unsigned char)*p))
        p++;
    if (*p != '\0' && *p != ';' && *p != '#' && *p != '[' && strpbrk(p, "=:") == NULL) {
        char shown[64];
        snprintf(shown, sizeof(shown), "%s", p);
        shown[strcspn(shown, "\r\n")] = '\0';
        cfg_errors_add(x->errs, "%s:%d: '%s': expected key = value", x->path, x->line, shown);
        snprintf(str, (size_t)num, "\n");
    }
    return str;
}

static int line_handler(void *user, const char *section, const char *name, const char *value)
{
    struct ini_ctx *x = user;
    char where[1100];

    snprintf(where, sizeof(where), "%s:%d", x->path, x->line);
    x->fn(x->arg, where, section, name, value);
    return 1;
}

int cfg_read_ini(const char *path, bool missing_ok, cfg_errors_t *errs, cfg_ini_fn fn, void *arg)
{
    struct ini_ctx x = {.path = path, .errs = errs, .fn = fn, .arg = arg};
    size_t before = errs->n + errs->dropped;
    int rc;

    x.f = fopen(path, "re");
    if (x.f == NULL) {
        int e = errno;
        if (e == ENOENT && missing_ok)
            return 0;
        cfg_errors_add(errs, "%s: cannot open: %s", path, strerror(e));
        return -1;
    }
    /* inih's knobs are process-wide; only the main thread parses. Values
     * up to CFG_VALUE_MAX on one line, no continuation lines (a stray
     * indent must not glue two settings together), ';' comments. */
    ini_use_stack = false;
    ini_allow_realloc = false;
    ini_max_line = CFG_VALUE_MAX + 512;
    ini_initial_alloc = CFG_VALUE_MAX + 512;
    ini_allow_multiline = false;
    ini_stop_on_first_error = false;
    rc = ini_parse_stream(line_reader, &x, line_handler, &x);
    if (rc > 0 && errs->n + errs->dropped == before)
        cfg_errors_add(errs, "%s:%d: syntax error", path, rc);
    else if (rc < 0)
        cfg_errors_add(errs, "%s: cannot parse (out of memory)", path);
    fclose(x.f);
    return errs->n + errs->dropped != before ? -1 : 0;
}

struct load_ctx {
    cfg_t *c;
    cfg_errors_t *errs;
    bool seen[NKEYS]; /* list keys met in this file */
    cfg_key_cb cb;
    void *cbarg;
};

static void load_handler(void *user, const char *where, const char *section, const char *name,
                         const char *value)
{
    struct load_ctx *x = user;
    char err[2048];
    int i;

    if (section[0] != '\0' && strcasecmp(section, "stubresd") != 0) {
        cfg_errors_add(x->errs, "%s: %s: unknown section [%s] (keys need no section)", where, name,
                       section);
        return;
    }
    i = cfg_key_index(name);
    if (i >= 0 && x->seen[i] &&
        (keys[i].type == KT_LISTEN || keys[i].type == KT_ACL || keys[i].type == KT_SERVERS)) {
        /* A list key repeated in one file adds to the list. */
        size_t n = strlen(x->c->text[i]) + strlen(value) + 3;
        char *joined = malloc(n);
        if (joined == NULL)
            return;
        snprintf(joined, n, "%s, %s", x->c->text[i], value);
        if (cfg_set(x->c, name, joined, where, false, err, sizeof(err)) != CFG_OK)
            cfg_errors_add(x->errs, "%s", err);
        else if (x->cb != NULL)
            x->cb(x->cbarg, keys[i].name, x->c->text[i]);
        free(joined);
        return;
    }
    if (cfg_set(x->c, name, value, where, false, err, sizeof(err)) != CFG_OK) {
        cfg_errors_add(x->errs, "%s", err);
        return;
    }
    x->seen[i] = true;
    if (x->cb != NULL)
        x->cb(x->cbarg, keys[i].name, x->c->text[i]);
}

int cfg_load_file(cfg_t *c, const char *path, bool missing_ok, cfg_errors_t *errs, cfg_key_cb cb,
                  void *cbarg)
{
    struct load_ctx *x;
    int rc;

    x = calloc(1, sizeof(*x));
    if (x == NULL) {
        cfg_errors_add(errs, "%s: out of memory", path);
        return -1;
    }
    x->c = c;
    x->errs = errs;
    x->cb = cb;
    x->cbarg = cbarg;
    rc = cfg_read_ini(path, missing_ok, errs, load_handler, x);
    free(x);
    if (rc != 0)
        return -1;
    if (c->path[0] == '\0') {
        /* Remember the main config file (the first one loaded). */
        char *d = strdup(path);
        if (d != NULL) {
            free(c->path);
            c->path = d;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- upstreams */

void cfg_spec_keys(const cfg_t *c, spec_keys_t *k)
{
    *k = (spec_keys_t){
        .servers = c->servers,
        .nservers = c->nservers,
        .dns_server = c->dns_server,
        .dns_port = c->dns_port,
        .protocol = c->protocol,
        .resolv_conf = c->resolv_conf,
        .use_idns = c->use_idns,
        .listen = c->listen,
        .nlisten = c->nlisten,
    };
}

/* FNV-1a of s and a separator, continuing h. */
static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    h ^= 0xff;
    h *= 0x100000001b3ull;
    return h;
}

uint64_t cfg_upstream_hash(const cfg_t *c)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (size_t i = 0; i < NKEYS; i++)
        if ((keys[i].flags & KF_UPSTREAM) && c->text[i] != NULL)
            h = fnv1a(h, c->text[i]);
    return h;
}

/* ---------------------------------------------------------------- checks across keys */

/* "FILE:LINE: " of the line that set key name, or "". */
static const char *where_of(const cfg_t *c, const char *name, char *buf, size_t cap)
{
    int i = cfg_key_index(name);

    buf[0] = '\0';
    if (i >= 0 && c->where[i] != NULL)
        snprintf(buf, cap, "%s: ", c->where[i]);
    return buf;
}

int cfg_check(const cfg_t *c, cfg_errors_t *errs)
{
    size_t before = errs->n + errs->dropped;
    char w[1100];

    if (c->min_ttl > c->max_ttl)
        cfg_errors_add(errs, "%smax_ttl: %u is below min_ttl (%u)",
                       where_of(c, "max_ttl", w, sizeof(w)), c->max_ttl, c->min_ttl);
    if (c->user[0] != '\0' && getpwnam(c->user) == NULL)
        cfg_errors_add(errs, "%suser: no such user '%s'", where_of(c, "user", w, sizeof(w)),
                       c->user);
    if (c->control_group[0] != '\0' && getgrnam(c->control_group) == NULL)
        cfg_errors_add(errs, "%scontrol_group: no such group '%s'",
                       where_of(c, "control_group", w, sizeof(w)), c->control_group);

    spec_t *specs = calloc(SPEC_MAX, sizeof(*specs));
    spec_keys_t sk;
    char err[1024];
    if (specs == NULL) {
        cfg_errors_add(errs, "out of memory");
    } else {
        cfg_spec_keys(c, &sk);
        if (spec_list(&sk, specs, err, sizeof(err)) < 0) {
            /* err starts with the key at fault: prefix where it was set. */
            char key[64];
            size_t kl = strcspn(err, ":");
            snprintf(key, sizeof(key), "%.*s", (int)(kl < 63 ? kl : 63), err);
            cfg_errors_add(errs, "%s%s", where_of(c, key, w, sizeof(w)), err);
        }
        free(specs);
    }
    return errs->n + errs->dropped == before ? 0 : -1;
}
