/* stubresd: configuration (see cfg.h).
 *
 * Every key is one row of keys[] below, built by the row macro of its
 * type (KEY_BOOL, KEY_UINT, KEY_SECS, ...), which names the struct cfg
 * field, the default, limits, flags, the words used when a value is
 * refused, and the setter that parses a value, stores it and gives its
 * canonical text, with one exit, as nginx's ngx_conf_set_*_slot: one
 * setter per kind of value (bool, number, enum, string, listen, allow,
 * servers), the numbers with their type's parser and text. The file
 * reader, the control socket and the state file all go through
 * cfg_set(), so a value means the same thing wherever it comes from.
 * Upstream specs are spec.c's: cfg checks them through it and never calls
 * the pool. */
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
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "blocklist.h"
#include "cfg.h"
#include "localdata.h"
#include "fwdrules.h"
#include "log.h"
#include "shcache.h"

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
    KT_LOCAL,   /* char **local: records (localdata.h) */
    KT_FORWARD, /* char **forward: rules, one a line, "; " between them */
    KT_RO,      /* read-only value (BuildInfo, LicenseInfo, idle) */
    KT_UNSUP,   /* Windows-only setting of the class */
    KT_NOTD,    /* per-query property of the class */
};

#define KF_RESTART 0x1u  /* only at start (sockets, privileges, threads) */
#define KF_UPSTREAM 0x2u /* shapes the upstream pool */
#define KF_NUMERIC 0x4u  /* enum: the class's numbers are accepted */
#define KF_SECRET 0x8u   /* a URL's password: shown as cfg_redact makes it */

/* A string check: 0 if v is acceptable. */
typedef int (*str_check_fn)(const char *v);
/* A number's text into the unit it is stored in; 0 if v is one. */
typedef int (*num_parse_fn)(const char *v, uint64_t *u);
/* The canonical text of a number. */
typedef void (*num_text_fn)(uint64_t u, char *out, size_t cap);

/* What a setter hands back besides the field: the canonical text of the
 * value, or more on why it was refused than the accepted values say. */
typedef struct set_out {
    char canon[CFG_VALUE_MAX + 64];
    char why[600];
} set_out_t;

struct key;
/* Parse v for key k into its field of c and its canonical text into o;
 * on failure c is unchanged (nginx's ngx_conf_set_*_slot). */
typedef cfg_status_t (*key_set_fn)(cfg_t *c, const struct key *k, const char *v, set_out_t *o);

typedef struct key {
    const char *name;
    enum ktype type;
    key_set_fn set; /* NULL: no value (read-only, unsupported, per-query) */
    size_t off;     /* of the field in struct cfg */
    size_t size;    /* of the field */
    const char *def;
    uint64_t min, max;        /* numbers: KT_UINT, KT_SECS, KT_MS, KT_SIZE */
    num_parse_fn parse;       /* numbers */
    num_text_fn text;         /* numbers */
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
static const char *const block_answer_names[] = {"null", "nxdomain", "refused", NULL};

static int check_any(const char *v);
static int check_name(const char *v);
static int check_abs_path(const char *v);
static int check_abs_path_or_empty(const char *v);
static int check_readable_or_empty(const char *v);
static int check_addr_or_empty(const char *v);
static int check_ip_or_empty(const char *v);
static int check_query_log(const char *v);
static int check_server(const char *v);
static int check_hosts(const char *v);
static int check_block_files(const char *v);
static int check_block_names(const char *v);
static int check_shared_cache(const char *v);

static int parse_uint(const char *v, uint64_t *u);
static int parse_secs(const char *v, uint64_t *u);
static void uint_text(uint64_t u, char *out, size_t cap);
static void ms_text(uint64_t ms, char *out, size_t cap);
static void size_text(uint64_t v, char *out, size_t cap);

static cfg_status_t set_bool(cfg_t *c, const keydef_t *k, const char *v, set_out_t *o);
static cfg_status_t set_number(cfg_t *c, const keydef_t *k, const char *v, set_out_t *o);
static cfg_status_t set_enum(cfg_t *c, const keydef_t *k, const char *v, set_out_t *o);
static cfg_status_t set_str(cfg_t *c, const keydef_t *k, const char *v, set_out_t *o);
static cfg_status_t set_listen(cfg_t *c, const keydef_t *k, const char *v, set_out_t *o);
static cfg_status_t set_acl(cfg_t *c, const keydef_t *k, const char *v, set_out_t *o);
static cfg_status_t set_servers(cfg_t *c, const keydef_t *k, const char *v, set_out_t *o);
static cfg_status_t set_local(cfg_t *c, const keydef_t *k, const char *v, set_out_t *o);
static cfg_status_t set_forward(cfg_t *c, const keydef_t *k, const char *v, set_out_t *o);

/* The row macros, one per key type, name the fields they set. (Left as
 * written: clang-format would spread each one's braces over four lines.) */
/* clang-format off */
/* The offset of field f of struct cfg, which must have type T: a row
 * naming the wrong setter for its field does not compile. */
#define OFF(f, T) _Generic(((struct cfg *)0)->f, T: offsetof(struct cfg, f))
/* The fields every key with a value has: */
#define KEY_VALUE(n, t, setter, f, T, d, fl, doc_)                                                 \
    .name = n, .type = t, .set = setter, .off = OFF(f, T), .size = sizeof(T), .def = d,            \
    .flags = fl, .doc = doc_
#define KEY_BOOL(n, f, d, fl, doc) {KEY_VALUE(n, KT_BOOL, set_bool, f, bool, d, fl, doc)}
/* Numbers: the type's parser and canonical text with the limits. */
#define KEY_NUMBER(n, t, f, T, d, lo, hi, fl, acc, doc, parse_, text_)                             \
    {KEY_VALUE(n, t, set_number, f, T, d, fl, doc), .min = lo, .max = hi, .parse = parse_,         \
     .text = text_, .accepted = acc}
#define KEY_UINT_ACC(n, f, d, lo, hi, fl, acc, doc)                                                \
    KEY_NUMBER(n, KT_UINT, f, unsigned, d, lo, hi, fl, acc, doc, parse_uint, uint_text)
#define KEY_UINT(n, f, d, lo, hi, fl, doc) KEY_UINT_ACC(n, f, d, lo, hi, fl, NULL, doc)
#define KEY_SECS(n, f, d, lo, hi, fl, doc)                                                         \
    KEY_NUMBER(n, KT_SECS, f, uint32_t, d, lo, hi, fl, NULL, doc, parse_secs, uint_text)
#define KEY_MS(n, f, d, lo, hi, fl, doc)                                                           \
    KEY_NUMBER(n, KT_MS, f, uint32_t, d, lo, hi, fl, NULL, doc, cfg_parse_duration_ms, ms_text)
#define KEY_SIZE(n, f, d, lo, hi, fl, doc)                                                         \
    KEY_NUMBER(n, KT_SIZE, f, uint64_t, d, lo, hi, fl, NULL, doc, cfg_parse_size, size_text)
#define KEY_ENUM(n, f, d, nm, fl, doc)                                                             \
    {KEY_VALUE(n, KT_ENUM, set_enum, f, int, d, fl, doc), .names = nm}
#define KEY_STR(n, f, d, chk, fl, acc, doc)                                                        \
    {KEY_VALUE(n, KT_STR, set_str, f, char *, d, fl, doc), .check = chk, .accepted = acc}
#define KEY_LISTEN(n, f, d, fl, acc, doc)                                                          \
    {KEY_VALUE(n, KT_LISTEN, set_listen, f, struct sockaddr_storage *, d, fl, doc), .accepted = acc}
#define KEY_ACL(n, f, d, fl, acc, doc)                                                             \
    {KEY_VALUE(n, KT_ACL, set_acl, f, acl_t, d, fl, doc), .accepted = acc}
#define KEY_SERVERS(n, f, d, fl, acc, doc)                                                         \
    {KEY_VALUE(n, KT_SERVERS, set_servers, f, char **, d, fl, doc), .accepted = acc}
#define KEY_LOCAL(n, f, d, fl, acc, doc)                                                           \
    {KEY_VALUE(n, KT_LOCAL, set_local, f, char **, d, fl, doc), .accepted = acc}
#define KEY_FORWARD(n, f, d, fl, acc, doc)                                                         \
    {KEY_VALUE(n, KT_FORWARD, set_forward, f, char **, d, fl, doc), .accepted = acc}
/* Keys without a value: */
#define KEY_RO(n, doc_) {.name = n, .type = KT_RO, .doc = doc_}
#define KEY_UNSUP(n) {.name = n, .type = KT_UNSUP}
#define KEY_NOTD(n) {.name = n, .type = KT_NOTD}
/* clang-format on */

static const keydef_t keys[] = {
    /* ---- the daemon's keys (stubresd.conf(5)) ---- */
    KEY_LISTEN("listen", listen, "127.0.0.1:53, [::1]:53", KF_RESTART,
               "a list of IP addresses with optional ports, e.g. 127.0.0.1:53, [::1]:53, and "
               "tls://ADDR[:PORT] or https://ADDR[:PORT][/PATH] entries",
               "addresses to answer DNS on: UDP and TCP, tls:// (DoT), https:// (DoH)"),
    KEY_ACL("allow", allow, "127.0.0.0/8, ::1/128", 0,
            "a list of networks: ADDRESS[/PREFIX], 'loopback' or 'any'",
            "client networks allowed to query; others get REFUSED"),
    KEY_STR("user", user, "", check_name, KF_RESTART,
            "a user name, or nothing to keep the current user",
            "drop root to this user after binding the sockets"),
    KEY_UINT("threads", threads, "1", 1, 64, KF_RESTART,
             "event loops (threads), each with its own sockets (SO_REUSEPORT)"),
    KEY_STR("control", control, "/run/stubresd/control.sock", check_abs_path_or_empty, KF_RESTART,
            "an absolute path, or nothing for no control socket", "the control socket (mode 0660)"),
    KEY_STR("control_group", control_group, "", check_name, KF_RESTART, "a group name, or nothing",
            "group owning the control socket; its members may use stubresctl"),
    KEY_STR("metrics", metrics, "", check_addr_or_empty, KF_RESTART,
            "ADDRESS[:PORT] (port 9153 by default), or nothing to turn it off",
            "address of the Prometheus text endpoint (/metrics); off when empty"),
    KEY_STR("state_file", state_file, "/var/lib/stubresd/runtime.conf", check_abs_path_or_empty,
            KF_RESTART, "an absolute path, or nothing",
            "where changes made through the control socket are kept across restarts"),
    KEY_SERVERS("servers", servers, "", KF_UPSTREAM,
                "a list of udp://HOST[:PORT], tcp://HOST[:PORT], tls://HOST[:PORT][#AUTH_NAME] "
                "or https://HOST[:PORT]/PATH",
                "upstream servers; empty: dns_server, else the nameservers of resolv_conf"),
    KEY_ENUM("strategy", strategy, "failover", strategy_names, KF_UPSTREAM,
             "how an upstream is chosen: in order, in turn, or the fastest"),
    KEY_STR("ca_file", ca_file, "", check_readable_or_empty, KF_UPSTREAM,
            "a readable PEM file, or nothing for the system store",
            "trust anchors for DoT/DoH upstreams"),
    KEY_STR("bootstrap", bootstrap, "", check_addr_or_empty, KF_UPSTREAM,
            "IP[:PORT], or nothing for the first nameserver of resolv_conf",
            "DNS server used to resolve upstream host names"),
    KEY_ENUM("doh_method", doh_method, "post", doh_names, KF_UPSTREAM | KF_NUMERIC,
             "DoH method: RFC 8484 POST or GET, or the JSON API"),
    KEY_MS("timeout", timeout_ms, "2", 1, 3600000, 0,
           "seconds to wait for one upstream before trying the next"),
    KEY_SIZE("cache_size", cache_size, "16M", 0, (uint64_t)1 << 40, 0,
             "memory for cached answers (0 turns the cache off)"),
    KEY_SECS("min_ttl", min_ttl, "0", 0, 604800, 0, "shorter TTLs are raised to this"),
    KEY_SECS("max_ttl", max_ttl, "86400", 1, 2147483647, 0, "longer TTLs are lowered to this"),
    KEY_SECS("negative_ttl", negative_ttl, "3600", 0, 604800, 0,
             "cap on how long NXDOMAIN/NODATA answers are cached (RFC 2308)"),
    KEY_BOOL("serve_stale", serve_stale, "false", 0,
             "answer from expired cache entries when every upstream fails (RFC 8767)"),
    KEY_BOOL("prefetch", prefetch, "false", 0,
             "refresh popular entries shortly before they expire"),
    KEY_UINT("prefetch_popular", prefetch_popular, "0", 0, 10000, 0,
             "refresh the N most-asked names shortly before they expire, even unasked (0: off)"),
    KEY_UINT("prefetch_rate", prefetch_rate, "20", 1, 100000, 0,
             "upstream queries a second prefetch_popular may send, all threads together"),
    KEY_STR("cache_file", cache_file, "", check_abs_path_or_empty, KF_RESTART,
            "an absolute path, or nothing (off)",
            "the cache is saved there (mode 0600) and read back at start"),
    KEY_SECS("cache_save_interval", cache_save_interval, "600", 0, 604800, KF_RESTART,
             "seconds between saves of cache_file (0: only at exit and on request)"),
    KEY_BOOL("network_watch", network_watch, "true", 0,
             "after a network change or a resume: reconnect to the upstreams at once"),
    KEY_STR("shared_cache", shared_cache, "", check_shared_cache, KF_SECRET,
            "redis://[:PASSWORD@]IP[:PORT][/DB], redis+unix://[:PASSWORD@]PATH[?db=N], or "
            "nothing (off)",
            "a Redis shared by a fleet of stubresd as a second cache tier"),
    KEY_MS("shared_cache_timeout", shared_cache_timeout_ms, "0.05", 1, 10000, 0,
           "seconds to wait for the shared cache before asking the upstreams"),
    KEY_ENUM("log_level", log_level, "notice", level_names, KF_NUMERIC,
             "least important messages logged"),
    KEY_STR("query_log", query_log, "", check_query_log, 0,
            "nothing (off), 'syslog', 'stderr' or an absolute file path",
            "one line per answered query"),
    KEY_STR("resolv_conf", resolv_conf, "/etc/resolv.conf", check_abs_path, KF_UPSTREAM,
            "an absolute path",
            "nameservers used when no upstream is configured (never stubresd itself)"),
    KEY_STR("portal_resolv_conf", portal_resolv_conf, "", check_abs_path_or_empty, KF_RESTART,
            "an absolute path, or nothing (off)",
            "the network's own nameservers, asked in plaintext only while `stubresctl portal "
            "allow` holds a pass open (captive portals)"),
    /* ---- local answers (stubresd.conf(5), LOCAL ANSWERS) ---- */
    KEY_LOCAL("local", local, "", 0, "NAME [TTL] [IN] TYPE RDATA (one record a line)",
              "a record answered by stubresd itself, authoritative (repeatable)"),
    KEY_SECS("local_ttl", local_ttl, "300", 0, 2147483647, 0,
             "TTL of local and hosts records written without one"),
    KEY_STR("hosts", hosts, "", check_hosts, 0, "absolute file paths separated by commas",
            "files in /etc/hosts format answered as A, AAAA and PTR"),
    KEY_BOOL("special_names", special_names, "true", 0,
             "answer localhost, invalid, local, home.arpa and private reverse zones here"),
    KEY_FORWARD("forward", forward, "", 0,
                "DOMAIN SPEC [SPEC...]: a domain other than '.', then upstream specs as for "
                "servers or resolvconf",
                "split DNS: queries for DOMAIN and below go to these upstreams (one rule a line)"),
    KEY_STR("block", block, "", check_block_files, 0,
            "a list of absolute paths of block lists, or nothing",
            "block lists: names, hosts-format lines or ||NAME^ rules; re-read on reload"),
    KEY_ENUM("block_answer", block_answer, "null", block_answer_names, 0,
             "what a blocked name gets: 0.0.0.0/:: (NODATA for other types), NXDOMAIN or REFUSED"),
    KEY_STR("block_names", block_names, "", check_block_names, 0,
            "a list of domain names, or nothing",
            "names blocked besides the lists (what `stubresctl block add` changes)"),
    /* ---- tuning keys of stubresd (stubresd.conf(5), marked as tuning) ---- */
    KEY_SECS("servfail_ttl", servfail_ttl, "5", 0, 300, 0,
             "how long an upstream's SERVFAIL is cached (RFC 2308 7.1)"),
    KEY_SECS("stale_max", stale_max, "86400", 0, 604800, 0,
             "serve_stale: how long past expiry an entry may still answer"),
    KEY_MS("tcp_idle_timeout", tcp_idle_timeout_ms, "10", 100, 3600000, 0,
           "close a client TCP connection idle this long (RFC 7766 6.2.3)"),
    KEY_UINT("tcp_max_clients", tcp_max_clients, "256", 1, 100000, 0,
             "client TCP connections at once, all threads together"),
    KEY_UINT("tcp_max_pipeline", tcp_max_pipeline, "64", 1, 1024, 0,
             "queries in flight per client TCP connection"),
    KEY_UINT("max_inflight", max_inflight, "4096", 16, 1000000, 0,
             "upstream queries in flight per thread; more are dropped"),
    KEY_UINT("max_udp_size", max_udp_size, "4096", 512, 4096, 0,
             "largest UDP answer sent, whatever size the client offers"),
    KEY_BOOL("cookies", cookies, "true", KF_UPSTREAM,
             "DNS Cookies (RFC 7873) towards udp:// upstreams"),
    KEY_BOOL("case_randomization", case_randomization, "true", KF_UPSTREAM,
             "0x20: the question in random case towards udp:// upstreams"),
    /* ---- encrypted listeners (stubresd.conf(5), ENCRYPTED LISTENERS) ---- */
    KEY_STR("tls_cert", tls_cert, "", check_abs_path_or_empty, 0,
            "an absolute path of a PEM file, or nothing",
            "PEM certificate chain (leaf first) of tls:// and https:// listeners; re-read"),
    KEY_STR("tls_key", tls_key, "", check_abs_path_or_empty, 0,
            "an absolute path of a PEM file, or nothing",
            "private key of tls_cert; re-read on reload"),
    KEY_UINT("tls_max_clients", tls_max_clients, "1000", 1, 100000, 0,
             "client TLS connections at once (tls:// and https://), all threads together"),
    KEY_MS("tls_idle_timeout", tls_idle_timeout_ms, "30", 100, 3600000, 0,
           "close a client TLS connection idle this long, or whose handshake takes this long"),
    /* ---- the class reference's properties ---- */
    KEY_STR("dns_server", dns_server, "", check_server, KF_UPSTREAM,
            "an IP address, a host name or an https:// URL",
            "one upstream (with dns_port and protocol), used when servers is empty"),
    KEY_UINT_ACC("dns_port", dns_port, "0", 0, 65535, KF_UPSTREAM,
                 "a port from 1 to 65535 (0: 53, 853 for tls, 443 for https)",
                 "port of dns_server and of the resolv_conf nameservers"),
    KEY_ENUM("protocol", protocol, "udp", proto_names, KF_UPSTREAM | KF_NUMERIC,
             "protocol of dns_server and of the resolv_conf nameservers"),
    KEY_BOOL("recursive", recursive, "true", 0, "send RD=1 upstream"),
    KEY_STR("local_host", local_host, "", check_ip_or_empty, KF_UPSTREAM,
            "a numeric IP address, or nothing", "local address of upstream sockets"),
    KEY_RO("idle", "true when no query is in flight"),
    KEY_NOTD("query_type"),
    KEY_NOTD("request_id"),
    KEY_NOTD("record_count"),
    KEY_NOTD("record_domain"),
    KEY_NOTD("record_field_count"),
    KEY_NOTD("record_field_index"),
    KEY_NOTD("record_field_name"),
    KEY_NOTD("record_field_value"),
    KEY_NOTD("record_data"),
    KEY_NOTD("record_type"),
    KEY_NOTD("record_type_name"),
    KEY_NOTD("record_ttl"),
    KEY_NOTD("record_source"),
    KEY_NOTD("status"),
    KEY_NOTD("status_code"),
    /* ---- the class reference's config settings ---- */
    KEY_NOTD("ResponseTruncated"),
    KEY_UNSUP("UseDNSAPIDLL"),
    KEY_BOOL("UseIDNs", use_idns, "false", KF_UPSTREAM,
             "IDNA-encode non-ASCII upstream host names"),
    KEY_UNSUP("CaptureIPPacketInfo"),
    KEY_BOOL("DelayHostResolution", delay_host_resolution, "false", 0,
             "accepted; upstream host names are always resolved when first needed"),
    KEY_UNSUP("DestinationAddress"),
    KEY_BOOL("DontFragment", dont_fragment, "false", KF_UPSTREAM,
             "set DF on upstream UDP packets (IP_MTU_DISCOVER)"),
    KEY_UINT("LocalPort", local_port, "0", 0, 65535, KF_UPSTREAM,
             "local port of upstream sockets (0: random per query)"),
    KEY_UINT("MaxPacketSize", max_packet_size, "1232", 512, 65535, KF_UPSTREAM,
             "EDNS UDP size offered upstream and largest datagram accepted"),
    KEY_UINT("QOSDSCPValue", dscp, "0", 0, 63, KF_UPSTREAM,
             "DSCP of upstream packets (IP_TOS/IPV6_TCLASS; 0 leaves it alone)"),
    KEY_UNSUP("QOSTrafficType"),
    KEY_BOOL("ShareLocalPort", share_local_port, "false", KF_UPSTREAM,
             "SO_REUSEPORT on upstream sockets"),
    KEY_UNSUP("SourceIPAddress"),
    KEY_UNSUP("SourceMacAddress"),
    KEY_BOOL("UseConnection", use_connection, "false", KF_UPSTREAM,
             "connected UDP sockets upstream"),
    KEY_BOOL("UseIPv6", use_ipv6, "false", KF_UPSTREAM,
             "prefer IPv6 when resolving upstream host names"),
    KEY_BOOL("AbsoluteTimeout", absolute_timeout, "false", KF_UPSTREAM,
             "timeout counts from the send, not from the last activity"),
    KEY_STR("FirewallData", firewall_data, "", check_any, 0, "any text",
            "accepted; stubresd never goes through a firewall proxy"),
    KEY_SIZE("InBufferSize", in_buffer_size, "0", 0, (uint64_t)1 << 30, KF_UPSTREAM,
             "SO_RCVBUF of upstream sockets (0: system default)"),
    KEY_SIZE("OutBufferSize", out_buffer_size, "0", 0, (uint64_t)1 << 30, KF_UPSTREAM,
             "SO_SNDBUF of upstream sockets (0: system default)"),
    KEY_RO("BuildInfo", "version and libraries"),
    KEY_UINT("CodePage", code_page, "65001", 1, 65535, 0,
             "accepted; names are forwarded as bytes, never converted"),
    KEY_RO("LicenseInfo", "no license key is needed"),
    KEY_BOOL("MaskSensitive", mask_sensitive, "true", 0, "accepted; logs never carry secrets"),
    KEY_BOOL("ProcessIdleEvents", process_idle_events, "true", 0,
             "accepted; the daemon runs its own event loops"),
    KEY_UINT("SelectWaitMillis", select_wait_millis, "20", 0, 100000, 0,
             "accepted; the daemon runs its own event loops"),
    KEY_BOOL("UseInternalSecurityAPI", use_internal_security_api, "true", 0,
             "accepted; TLS is OpenSSL"),
    KEY_UINT("LogLevel", class_log_level, "1", 0, 3, KF_UPSTREAM,
             "transport log verbosity: 0 none, 1 info, 2 verbose, 3 debug"),
};

/* The class's spellings of keys whose name differs (any case, as names). */
static const struct {
    const char *alias, *name;
} aliases[] = {
    {"DoHMethod", "doh_method"},
    {"LocalHost", "local_host"},
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

/* hosts: absolute paths separated by commas, or nothing. */
static int check_hosts(const char *v)
{
    const char *p = v;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        if (*p != '/')
            return -1;
        for (; *p != '\0' && *p != ','; p++)
            if ((unsigned char)*p < 0x20)
                return -1;
    }
    return 0;
}

static int check_abs_path_or_empty(const char *v)
{
    return v[0] == '\0' ? 0 : check_abs_path(v);
}

/* block: absolute paths; whether they can be read is the loader's
 * business (a list that cannot be read keeps the lists in force). */
static int check_block_files(const char *v)
{
    char path[CFG_VALUE_MAX + 1];
    const char *p = v;

    while (*p != '\0') {
        size_t n = 0;
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        while (p[n] != '\0' && p[n] != ',' && !isspace((unsigned char)p[n]))
            n++;
        if (n == 0)
            break;
        if (n > CFG_VALUE_MAX)
            return -1;
        memcpy(path, p, n);
        path[n] = '\0';
        if (check_abs_path(path) != 0)
            return -1;
        p += n;
    }
    return 0;
}

static int check_block_names(const char *v)
{
    char err[300];
    bl_table_t *t = bl_table_names(v, err, sizeof(err));

    bl_table_unref(t);
    return t != NULL ? 0 : -1;
}

static int check_readable_or_empty(const char *v)
{
    if (v[0] == '\0')
        return 0;
    if (check_abs_path(v) != 0)
        return -1;
    return access(v, R_OK) == 0 ? 0 : -1;
}

static int check_shared_cache(const char *v)
{
    shc_url_t u;
    char err[256];

    return v[0] == '\0' ? 0 : shc_url_parse(v, &u, err, sizeof(err));
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
    int found = -1;

    for (size_t i = 0; i < NKEYS && found < 0; i++)
        if (strcasecmp(keys[i].name, name) == 0)
            found = (int)i;
    for (size_t a = 0; a < sizeof(aliases) / sizeof(aliases[0]) && found < 0; a++)
        if (strcasecmp(aliases[a].alias, name) == 0)
            found = cfg_key_index(aliases[a].name);
    return found;
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
    return i < NKEYS && keys[i].set != NULL;
}

bool cfg_key_upstream(size_t i)
{
    return i < NKEYS && (keys[i].flags & KF_UPSTREAM);
}

const char *cfg_key_doc(size_t i)
{
    return i < NKEYS && keys[i].doc != NULL ? keys[i].doc : "";
}

void cfg_redact(const char *name, const char *v, char *out, size_t cap)
{
    int i = cfg_key_index(name);
    const char *sep = strstr(v, "://");
    const char *p = sep != NULL ? sep + 3 : v;
    const char *at = strchr(p, '@'); /* the first '@' ends it, as in shc_url_parse */

    if (i < 0 || !(keys[i].flags & KF_SECRET))
        snprintf(out, cap, "%s", v);
    else if (at != NULL)
        snprintf(out, cap, "%.*s:*****%s", (int)(p - v), v, at);
    else if (*p == ':') /* no '@': all of it may be the password */
        snprintf(out, cap, "%.*s:*****", (int)(p - v), v);
    else
        snprintf(out, cap, "%s", v);
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

static void uint_text(uint64_t u, char *out, size_t cap)
{
    snprintf(out, cap, "%llu", (unsigned long long)u);
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
    if (k->text != NULL) {
        k->text(k->min, a, sizeof(a));
        k->text(k->max, b, sizeof(b));
    }
    switch (k->type) {
    case KT_BOOL: snprintf(out, cap, "true or false (also yes/no, on/off, 1/0)"); break;
    case KT_UINT: snprintf(out, cap, "an integer from %s to %s", a, b); break;
    case KT_SECS:
        snprintf(out, cap, "a number of seconds from %s to %s (units s, m, h, d allowed)", a, b);
        break;
    case KT_MS:
        snprintf(out, cap,
                 "a number of seconds from %s to %s (fractions such as 1.5 and "
                 "units ms, s, m allowed)",
                 a, b);
        break;
    case KT_SIZE:
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
    free(c->tls_listen);
    c->listen = NULL;
    c->listen_len = NULL;
    c->nlisten = 0;
    c->tls_listen = NULL;
    c->ntls_listen = 0;
}

static void free_local(cfg_t *c)
{
    for (size_t i = 0; i < c->nlocal; i++)
        free(c->local[i]);
    free(c->local);
    c->local = NULL;
    c->nlocal = 0;
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

/* Item i of a canonical list text: ", " before all but the first. */
static void list_append(set_out_t *o, size_t *off, size_t i, const char *item)
{
    int w = snprintf(o->canon + *off, sizeof(o->canon) - *off, "%s%s", i ? ", " : "", item);
    if (w > 0 && (size_t)w < sizeof(o->canon) - *off)
        *off += (size_t)w;
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

/* A copy of v in the string field of k. */
static cfg_status_t store_str(cfg_t *c, const keydef_t *k, const char *v)
{
    char *d = strdup(v);
    cfg_status_t st = CFG_ENOMEM;

    if (d != NULL) {
        free(*FIELD(c, k, char *));
        *FIELD(c, k, char *) = d;
        st = CFG_OK;
    }
    return st;
}

/* Decimal digits and nothing else. */
static int parse_uint(const char *v, uint64_t *u)
{
    const char *end;
    return parse_u64(v, &end, u) == 0 && *end == '\0' ? 0 : -1;
}

/* Whole seconds: the units of a duration, no fractions. */
static int parse_secs(const char *v, uint64_t *u)
{
    uint64_t ms;
    int rc = cfg_parse_duration_ms(v, &ms) == 0 && ms % 1000 == 0 ? 0 : -1;

    if (rc == 0)
        *u = ms / 1000;
    return rc;
}

static cfg_status_t set_bool(cfg_t *c, const keydef_t *k, const char *v, set_out_t *o)
{
    cfg_status_t st = CFG_EINVAL;
    bool b;

    if (cfg_parse_bool(v, &b) == 0) {
        *FIELD(c, k, bool) = b;
        snprintf(o->canon, sizeof(o->canon), "%s", b ? "true" : "false");
        st = CFG_OK;
    }
    return st;
}

/* A number in [min, max] of the key's unit, by the key's parser. */
static cfg_status_t set_number(cfg_t *c, const keydef_t *k, const char *v, set_out_t *o)
{
    cfg_status_t st = CFG_EINVAL;
    uint64_t u;

    if (k->parse(v, &u) == 0 && u >= k->min && u <= k->max) {
        if (k->size == sizeof(uint64_t))
            *FIELD(c, k, uint64_t) = u;
        else if (k->type == KT_UINT)
            *FIELD(c, k, unsigned) = (unsigned)u;
        else
            *FIELD(c, k, uint32_t) = (uint32_t)u;
        k->text(u, o->canon, sizeof(o->canon));
        st = CFG_OK;
    }
    return st;
}

/* One of k->names (any case), or with KF_NUMERIC its index. */
static cfg_status_t set_enum(cfg_t *c, const keydef_t *k, const char *v, set_out_t *o)
{
    cfg_status_t st = CFG_EINVAL;
    int found = -1, n = 0;
    uint64_t u;

    for (; k->names[n] != NULL; n++)
        if (strcasecmp(k->names[n], v) == 0)
            found = n;
    if (found < 0 && (k->flags & KF_NUMERIC) && parse_uint(v, &u) == 0 && u < (uint64_t)n)
        found = (int)u;
    if (found >= 0) {
        *FIELD(c, k, int) = found;
        snprintf(o->canon, sizeof(o->canon), "%s", k->names[found]);
        st = CFG_OK;
    }
    return st;
}

static cfg_status_t set_str(cfg_t *c, const keydef_t *k, const char *v, set_out_t *o)
{
    cfg_status_t st = CFG_EINVAL;

    if (k->check == NULL || k->check(v) == 0)
        st = store_str(c, k, v);
    if (st == CFG_OK)
        snprintf(o->canon, sizeof(o->canon), "%s", v);
    return st;
}

/* The listen addresses: c->listen, listen_len and nlisten together, and
 * the tls:// and https:// entries (spec_listen_parse) in tls_listen. */
static cfg_status_t set_listen(cfg_t *c, const keydef_t *k, const char *v, set_out_t *o)
{
    cfg_status_t st = CFG_OK;
    char **items = NULL;
    size_t n = 0, off = 0, nplain = 0, ntls = 0;
    struct sockaddr_storage *ss = NULL;
    socklen_t *lens = NULL;
    spec_listen_t *tl = NULL;

    if (split_list(v, &items, &n, 64) != 0) {
        snprintf(o->why, sizeof(o->why), "at most 64 addresses");
        st = CFG_EINVAL;
        goto done;
    }
    if (n == 0) {
        snprintf(o->why, sizeof(o->why), "at least one address is needed");
        st = CFG_EINVAL;
        goto done;
    }
    ss = calloc(n, sizeof(*ss));
    lens = calloc(n, sizeof(*lens));
    tl = calloc(n, sizeof(*tl));
    if (ss == NULL || lens == NULL || tl == NULL) {
        st = CFG_ENOMEM;
        goto done;
    }
    o->canon[0] = '\0';
    for (size_t i = 0; i < n && st == CFG_OK; i++) {
        char a[ADDR_TEXT_MAX], err[400];
        int enc = spec_listen_parse(items[i], &tl[ntls], err, sizeof(err));
        if (enc < 0) {
            snprintf(o->why, sizeof(o->why), "%s", err);
            st = CFG_EINVAL;
        } else if (enc > 0) {
            list_append(o, &off, i, tl[ntls++].name);
        } else if (addr_parse(items[i], 53, false, &ss[nplain], &lens[nplain]) != 0) {
            snprintf(o->why, sizeof(o->why), "'%.64s' is not IP[:PORT] or [IPv6][:PORT]", items[i]);
            st = CFG_EINVAL;
        } else {
            list_append(o, &off, i, addr_format((struct sockaddr *)&ss[nplain++], a, sizeof(a)));
        }
    }
    if (st == CFG_OK) {
        free_listen(c);
        c->listen = ss;
        c->listen_len = lens;
        c->nlisten = nplain;
        c->tls_listen = tl;
        c->ntls_listen = ntls;
        ss = NULL;
        lens = NULL;
        tl = NULL;
    }
done:
    free(ss);
    free(lens);
    free(tl);
    free_items(items, n);
    return st;
}

static cfg_status_t set_acl(cfg_t *c, const keydef_t *k, const char *v, set_out_t *o)
{
    cfg_status_t st = CFG_EINVAL;
    acl_t acl;
    char err[256];

    if (acl_parse(v, &acl, err, sizeof(err)) == 0) {
        acl_clear(FIELD(c, k, acl_t));
        *FIELD(c, k, acl_t) = acl;
        acl_format(&acl, o->canon, sizeof(o->canon));
        st = CFG_OK;
    } else {
        snprintf(o->why, sizeof(o->why), "%s", err);
    }
    return st;
}

/* Item i of a servers list: parsed, and replaced by its canonical text. */
static cfg_status_t server_item(char **item, spec_t *spec, set_out_t *o)
{
    cfg_status_t st = CFG_EINVAL;
    char err[512], *d;

    if (spec_parse(*item, spec, err, sizeof(err)) != 0) {
        snprintf(o->why, sizeof(o->why), "%s", err);
    } else if ((d = strdup(spec->name)) == NULL) {
        st = CFG_ENOMEM;
    } else {
        free(*item);
        *item = d;
        st = CFG_OK;
    }
    return st;
}

/* The upstream specs: c->servers and nservers together, each item kept in
 * its canonical text. */
static cfg_status_t set_servers(cfg_t *c, const keydef_t *k, const char *v, set_out_t *o)
{
    cfg_status_t st = CFG_OK;
    char **items = NULL;
    size_t n = 0, off = 0;
    bool enc = false, plain = false;
    spec_t *spec = NULL;

    if (split_list(v, &items, &n, SPEC_MAX) != 0) {
        snprintf(o->why, sizeof(o->why), "at most %d upstreams", SPEC_MAX);
        st = CFG_EINVAL;
        goto done;
    }
    spec = malloc(sizeof(*spec));
    if (spec == NULL)
        st = CFG_ENOMEM;
    o->canon[0] = '\0';
    for (size_t i = 0; i < n && st == CFG_OK; i++) {
        st = server_item(&items[i], spec, o);
        if (st != CFG_OK)
            continue;
        if (spec_encrypted(spec))
            enc = true;
        else
            plain = true;
        list_append(o, &off, i, spec->name);
    }
    if (st == CFG_OK && enc && plain) {
        /* An encrypted upstream is never replaced by a plaintext one: a
         * mixed list would do exactly that on failover. */
        snprintf(o->why, sizeof(o->why),
                 "encrypted (tls://, https://) and plaintext (udp://, "
                 "tcp://) upstreams cannot be mixed");
        st = CFG_EINVAL;
    }
    if (st == CFG_OK) {
        free_servers(c);
        c->servers = items;
        c->nservers = n;
        items = NULL;
        n = 0;
    }
done:
    free(spec);
    free_items(items, n);
    return st;
}

/* The `local` records: parsed one by one (localdata.c), kept in their
 * canonical text. */
struct local_ctx {
    char **items;
    size_t n;
    set_out_t *o;
    size_t off;
    local_rec_t rec;
};

static int local_item(void *arg, const char *text)
{
    struct local_ctx *x = arg;
    char canon[CFG_VALUE_MAX + 64], err[512];
    char **items;

    if (local_rec_parse(text, &x->rec, canon, sizeof(canon), err, sizeof(err)) != 0) {
        snprintf(x->o->why, sizeof(x->o->why), "%s", err);
        return -1;
    }
    if (x->off + strlen(canon) + 2 > CFG_VALUE_MAX) {
        snprintf(x->o->why, sizeof(x->o->why),
                 "the records take more than %d bytes: put the rest in a hosts file",
                 CFG_VALUE_MAX);
        return -1;
    }
    items = realloc(x->items, (x->n + 1) * sizeof(*items));
    if (items == NULL)
        return -1;
    x->items = items;
    if ((x->items[x->n] = strdup(canon)) == NULL)
        return -1;
    list_append(x->o, &x->off, x->n, canon);
    x->n++;
    return 0;
}

static cfg_status_t set_local(cfg_t *c, const keydef_t *k, const char *v, set_out_t *o)
{
    struct local_ctx *x = calloc(1, sizeof(*x));
    cfg_status_t st = CFG_ENOMEM;

    (void)k;
    if (x == NULL)
        return CFG_ENOMEM;
    x->o = o;
    o->canon[0] = '\0';
    if (local_split(v, local_item, x) != 0) {
        if (o->why[0] != '\0')
            st = CFG_EINVAL;
        for (size_t i = 0; i < x->n; i++)
            free(x->items[i]);
        free(x->items);
    } else {
        free_local(c);
        c->local = x->items;
        c->nlocal = x->n;
        st = CFG_OK;
    }
    free(x);
    return st;
}

static void free_forward(cfg_t *c)
{
    free_items(c->forward, c->nforward);
    c->forward = NULL;
    c->nforward = 0;
}

/* The forward rules: one rule per "; "-separated part (a config file's
 * repeated `forward` lines are joined so), each parsed by fwdrules.c and
 * kept in its canonical text; two rules for one domain are refused. */
static cfg_status_t set_forward(cfg_t *c, const keydef_t *k, const char *v, set_out_t *o)
{
    cfg_status_t st = CFG_OK;
    char **items = NULL, canon[CFG_VALUE_MAX + 1];
    size_t n = 0, off = 0;
    fwdrule_t *rule = malloc(sizeof(*rule));
    fwdrules_t *set = NULL;

    (void)k;
    o->canon[0] = '\0';
    if (rule == NULL)
        st = CFG_ENOMEM;
    for (const char *p = v; st == CFG_OK && *p != '\0';) {
        size_t len = strcspn(p, ";");
        const char *q = p;
        while (q < p + len && isspace((unsigned char)*q))
            q++;
        if (q < p + len) {
            char *part = strndup(p, len), **grown = NULL;
            if (part == NULL || n >= FWDRULES_MAX ||
                (grown = realloc(items, (n + 1) * sizeof(*items))) == NULL) {
                if (part != NULL && n >= FWDRULES_MAX) {
                    snprintf(o->why, sizeof(o->why), "at most %d rules", FWDRULES_MAX);
                    st = CFG_EINVAL;
                } else {
                    st = CFG_ENOMEM;
                }
                free(part);
                break;
            }
            items = grown;
            items[n++] = part;
            if (fwdrule_parse(part, rule, canon, sizeof(canon), o->why, sizeof(o->why)) != 0) {
                st = CFG_EINVAL;
            } else if ((items[n - 1] = strdup(canon)) == NULL) {
                items[n - 1] = part;
                st = CFG_ENOMEM;
            } else {
                free(part);
                int w = snprintf(o->canon + off, sizeof(o->canon) - off, "%s%s", off ? "; " : "",
                                 canon);
                if (w > 0 && (size_t)w < sizeof(o->canon) - off)
                    off += (size_t)w;
            }
        }
        p += len;
        if (*p == ';')
            p++;
    }
    if (st == CFG_OK) {
        /* Two rules for one domain: the longest match could not choose. */
        set = fwdrules_parse(items, n, o->why, sizeof(o->why));
        if (set == NULL)
            st = CFG_EINVAL;
    }
    if (st == CFG_OK) {
        free_forward(c);
        c->forward = items;
        c->nforward = n;
        items = NULL;
        n = 0;
    }
    fwdrules_unref(set);
    free(rule);
    free_items(items, n);
    return st;
}

/* Why a key without a value refuses one. */
static cfg_status_t no_value(const keydef_t *k)
{
    return k->type == KT_RO ? CFG_EREADONLY
                            : (k->type == KT_UNSUP ? CFG_EUNSUPPORTED : CFG_ENOTDAEMON);
}

/* Parse v for key i into c, its field and its canonical text. */
static cfg_status_t set_value(cfg_t *c, size_t i, const char *v, set_out_t *o)
{
    cfg_status_t st = keys[i].set(c, &keys[i], v, o);

    if (st == CFG_OK && set_text(c, i, o->canon) != 0)
        st = CFG_ENOMEM;
    return st;
}

/* servers and dns_server describe the same thing; the one set last wins,
 * so a file or an operator never leaves a stale list behind. */
static cfg_status_t replace_other_upstream(cfg_t *c, size_t i)
{
    int srv = cfg_key_index("servers"), dns = cfg_key_index("dns_server");
    cfg_status_t st = CFG_OK;

    if (i == (size_t)srv && c->nservers > 0 && c->dns_server[0] != '\0') {
        st = store_str(c, &keys[dns], "");
        if (st == CFG_OK && set_text(c, (size_t)dns, "") != 0)
            st = CFG_ENOMEM;
    } else if (i == (size_t)dns && c->dns_server[0] != '\0' && c->nservers > 0) {
        free_servers(c);
        if (set_text(c, (size_t)srv, "") != 0)
            st = CFG_ENOMEM;
    }
    return st;
}

/* The error text for a refusal of key name (as the caller spelt it). */
static void refusal(const keydef_t *k, const char *name, cfg_status_t st, const char *value,
                    const char *why, const char *where, char *err, size_t errcap)
{
    char acc[512];
    char pre[512];
    char shown[CFG_VALUE_MAX + 16];

    if (k != NULL) {
        cfg_redact(k->name, value, shown, sizeof(shown));
        value = shown;
    }
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
    const keydef_t *k = i >= 0 ? &keys[i] : NULL;
    cfg_status_t st;
    set_out_t o;

    o.why[0] = '\0';
    if (k == NULL) {
        st = CFG_EUNKNOWN;
    } else if (k->set == NULL) {
        st = no_value(k);
    } else if (runtime && (k->flags & KF_RESTART)) {
        st = CFG_ERESTART;
    } else if (strlen(value) > CFG_VALUE_MAX) {
        snprintf(o.why, sizeof(o.why), "longer than %d bytes", CFG_VALUE_MAX);
        st = CFG_EINVAL;
    } else {
        st = set_value(c, (size_t)i, value, &o);
    }
    if (st == CFG_OK)
        st = replace_other_upstream(c, (size_t)i);
    if (st == CFG_OK) {
        free(c->where[i]);
        c->where[i] = where != NULL ? strdup(where) : NULL;
    } else {
        refusal(k, name, st, value, o.why, where, err, errcap);
    }
    return st;
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
    if (k->off == OFF(dns_port, unsigned) && c->dns_port == 0) {
        /* The class's dns_port reads as the port in use. */
        snprintf(out, cap, "%u", (unsigned)spec_default_port((sr_proto_t)c->protocol));
        return CFG_OK;
    }
    cfg_redact(k->name, c->text[i] != NULL ? c->text[i] : "", out, cap);
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
                if (store_str(c, &keys[i], old->text[i]) != CFG_OK) {
                    cfg_unref(c);
                    return NULL;
                }
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
    free_local(c);
    localdata_unref(c->localdata);
    free_forward(c);
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

/* The error for a line with a ':' before any '=' (p: its text), with the
 * `key = value` line it most likely means: the first word is the key, what
 * follows the ':' or the blank its value. */
static void colon_line(struct ini_ctx *x, const char *p)
{
    int len = (int)strcspn(p, "\r\n"), klen = (int)strcspn(p, ": \t"), vlen;
    const char *v = p + klen;

    while (*v == ':' || *v == ' ' || *v == '\t')
        v++;
    vlen = (int)strcspn(v, "\r\n");
    cfg_errors_add(x->errs, "%s:%d: '%.*s': expected key = value, not ':' (write '%.*s = %.*s')",
                   x->path, x->line, len < 64 ? len : 64, p, klen < 64 ? klen : 64, p,
                   vlen < 128 ? vlen : 128, v);
}

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
    const char *p = str, *delim;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '\0' || *p == ';' || *p == '#' || *p == '[')
        return str;
    delim = strpbrk(p, "=:");
    if (delim == NULL) {
        char shown[64];
        snprintf(shown, sizeof(shown), "%s", p);
        shown[strcspn(shown, "\r\n")] = '\0';
        cfg_errors_add(x->errs, "%s:%d: '%s': expected key = value", x->path, x->line, shown);
        snprintf(str, (size_t)num, "\n");
    } else if (*delim == ':') {
        /* inih also splits at ':', so `timeout: 3` would be taken and
         * `listen 127.0.0.1:5353` read as the key "listen 127.0.0.1". */
        colon_line(x, p);
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
    /* A directory opens and reads as empty: that is no config. */
    struct stat sb = {0};
    if (fstat(fileno(x.f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        cfg_errors_add(errs, "%s: %s", path,
                       S_ISDIR(sb.st_mode) ? "is a directory, not a config file"
                                           : "not a regular file");
        fclose(x.f);
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
        (keys[i].type == KT_LISTEN || keys[i].type == KT_ACL || keys[i].type == KT_SERVERS ||
         keys[i].type == KT_LOCAL || keys[i].type == KT_FORWARD)) {
        /* A list key repeated in one file adds to the list (a forward
         * line adds a rule). */
        size_t n = strlen(x->c->text[i]) + strlen(value) + 3;
        char *joined = malloc(n);
        if (joined == NULL)
            return;
        snprintf(joined, n, "%s%s %s", x->c->text[i], keys[i].type == KT_FORWARD ? ";" : ",",
                 value);
        if (cfg_set(x->c, name, joined, where, false, err, sizeof(err)) != CFG_OK) {
            /* A bad rule is shown alone, not inside the joined list (the
             * load has failed already, so what the retry sets is moot). */
            char own[2048];
            if (keys[i].type == KT_FORWARD &&
                cfg_set(x->c, name, value, where, false, own, sizeof(own)) != CFG_OK)
                cfg_errors_add(x->errs, "%s", own);
            else
                cfg_errors_add(x->errs, "%s", err);
        } else if (x->cb != NULL)
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
        .tls_listen = c->tls_listen,
        .ntls_listen = c->ntls_listen,
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

int cfg_check_names(const cfg_t *c, cfg_errors_t *errs)
{
    size_t before = errs->n + errs->dropped;
    char w[1100];

    if (c->user[0] != '\0' && getpwnam(c->user) == NULL)
        cfg_errors_add(errs, "%suser: no such user '%s'", where_of(c, "user", w, sizeof(w)),
                       c->user);
    if (c->control_group[0] != '\0' && getgrnam(c->control_group) == NULL)
        cfg_errors_add(errs, "%scontrol_group: no such group '%s'",
                       where_of(c, "control_group", w, sizeof(w)), c->control_group);
    return errs->n + errs->dropped == before ? 0 : -1;
}

/* 0 when dir is a directory, or is missing and its parent is one (the
 * daemon makes that last level); else why not into why. */
static int dir_usable(const char *dir, char *why, size_t cap)
{
    struct stat sb;
    char parent[1024];
    const char *slash;

    if (stat(dir, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            return 0;
        snprintf(why, cap, "%s is not a directory", dir);
        return -1;
    }
    if (errno != ENOENT) {
        snprintf(why, cap, "%s: %s", dir, strerror(errno));
        return -1;
    }
    slash = strrchr(dir, '/');
    snprintf(parent, sizeof(parent), "%.*s", slash == NULL || slash == dir ? 1 : (int)(slash - dir),
             slash == NULL ? "." : dir);
    if (stat(parent, &sb) == 0 && S_ISDIR(sb.st_mode))
        return 0;
    snprintf(why, cap, "directory %s is missing and so is %s, which would hold it", dir, parent);
    return -1;
}

/* A tls:// or https:// listener needs a certificate and its key that this
 * process can read: say which key to write, and with what. */
static void check_tls_files(const cfg_t *c, cfg_errors_t *errs)
{
    static const char *const names[] = {"tls_cert", "tls_key"};
    const char *const vals[] = {c->tls_cert, c->tls_key};
    char w[1100];

    if (c->ntls_listen == 0)
        return;
    for (int i = 0; i < 2; i++) {
        if (vals[i][0] == '\0')
            cfg_errors_add(errs,
                           "%s%s: listen has %s, which needs %s: write %s = /path/to/%s.pem "
                           "(%s)",
                           where_of(c, "listen", w, sizeof(w)), names[i], c->tls_listen[0].name,
                           i == 0 ? "a certificate" : "the certificate's private key", names[i],
                           i == 0 ? "fullchain" : "privkey",
                           i == 0 ? "the PEM chain, leaf first, e.g. an ACME client's fullchain.pem"
                                  : "the PEM private key of tls_cert");
        else if (access(vals[i], R_OK) != 0)
            cfg_errors_add(errs, "%s%s: %s cannot be read: %s", where_of(c, names[i], w, sizeof(w)),
                           names[i], vals[i], strerror(errno));
    }
}

int cfg_check_paths(const cfg_t *c, cfg_errors_t *errs)
{
    size_t before = errs->n + errs->dropped;
    char w[1100], dir[1024], why[2200];
    const char *q = c->query_log, *slash;
    struct stat sb;

    if (c->control[0] != '\0') {
        slash = strrchr(c->control, '/');
        snprintf(dir, sizeof(dir), "%.*s", slash == c->control ? 1 : (int)(slash - c->control),
                 c->control);
        if (dir_usable(dir, why, sizeof(why)) != 0)
            cfg_errors_add(errs, "%scontrol: %s", where_of(c, "control", w, sizeof(w)), why);
    }
    if (q[0] == '\0' || strcmp(q, "syslog") == 0 || strcmp(q, "stderr") == 0)
        return errs->n + errs->dropped == before ? 0 : -1;
    /* What log_query_open would refuse, seen without creating anything. */
    if (lstat(q, &sb) == 0) {
        if (S_ISLNK(sb.st_mode))
            snprintf(why, sizeof(why),
                     "%s is a symbolic link, which stubresd does not follow: name the file itself",
                     q);
        else if (!S_ISREG(sb.st_mode))
            snprintf(why, sizeof(why), "%s is not a regular file: name a file, syslog or stderr",
                     q);
        else if (sb.st_nlink != 1)
            snprintf(why, sizeof(why), "%s has %ju hard links: name a file of its own", q,
                     (uintmax_t)sb.st_nlink);
        else
            why[0] = '\0';
    } else {
        slash = strrchr(q, '/');
        snprintf(dir, sizeof(dir), "%.*s", slash == q ? 1 : (int)(slash - q), q);
        if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
            snprintf(why, sizeof(why), "%s: directory %s does not exist", q, dir);
        else
            why[0] = '\0';
    }
    if (why[0] != '\0')
        cfg_errors_add(errs, "%squery_log: %s", where_of(c, "query_log", w, sizeof(w)), why);
    return errs->n + errs->dropped == before ? 0 : -1;
}

int cfg_check(const cfg_t *c, cfg_errors_t *errs)
{
    size_t before = errs->n + errs->dropped;
    char w[1100];

    if (c->min_ttl > c->max_ttl)
        cfg_errors_add(errs, "%smax_ttl: %u is below min_ttl (%u)",
                       where_of(c, "max_ttl", w, sizeof(w)), c->max_ttl, c->min_ttl);
    cfg_check_names(c, errs);
    check_tls_files(c, errs);

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
