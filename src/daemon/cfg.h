/* stubresd: configuration.
 *
 * One table of keys serves the config file (inih), `config NAME[=VALUE]`
 * on the control socket and the state file: every key has a default, a
 * parser/validator and a canonical text form. The keys are the daemon's
 * own (stubresd.conf(5), DAEMON KEYS) plus the class reference's properties and config
 * settings under their own names (dns_server, DoHMethod, MaxPacketSize,
 * ...); names are matched case-insensitively.
 *
 * A cfg_t is built by the main thread, then published read-only to the
 * workers (reference counted): nothing changes a published cfg_t. A change
 * is a copy, modified, checked, and published in its place. */
#ifndef STUBRESD_CFG_H
#define STUBRESD_CFG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "acl.h"
#include "spec.h"

/* Upstream selection strategies (key `strategy`). */
enum cfg_strategy {
    STRATEGY_FAILOVER = 0,
    STRATEGY_ROUND_ROBIN = 1,
    STRATEGY_FASTEST = 2,
};

/* Longest accepted value and line (bigger is an error, never truncated). */
#define CFG_VALUE_MAX 4096
/* Most errors collected from one file before giving up. */
#define CFG_MAX_ERRORS 32

/* Errors collected while loading or checking; each names file:line and key
 * when it has them. */
typedef struct cfg_errors {
    size_t n;
    char *msg[CFG_MAX_ERRORS];
    size_t dropped; /* errors beyond CFG_MAX_ERRORS */
} cfg_errors_t;

void cfg_errors_clear(cfg_errors_t *e);
void cfg_errors_add(cfg_errors_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct cfg cfg_t;

/* The typed values. Strings are never NULL ("" when unset). */
struct cfg {
    /* ---- daemon keys (stubresd.conf(5)) ---- */
    struct sockaddr_storage *listen; /* listen: addresses to serve */
    socklen_t *listen_len;
    size_t nlisten;
    spec_listen_t *tls_listen; /* listen: its tls:// and https:// entries */
    size_t ntls_listen;
    acl_t allow;         /* allow: client networks */
    char *user;          /* user: drop root to this account */
    unsigned threads;    /* threads: event loops */
    char *control;       /* control: Unix socket path ("" = none) */
    char *control_group; /* control_group: group of the socket */
    char *metrics;       /* metrics: Prometheus address ("" = off) */
    char *state_file;    /* state_file: runtime changes ("" = none) */
    char **servers;      /* servers: upstream specs */
    size_t nservers;
    int strategy;        /* enum cfg_strategy */
    char *ca_file;       /* ca_file: DoT/DoH trust anchors */
    char *bootstrap;     /* bootstrap: resolver for DoH host names */
    int doh_method;      /* doh_method / DoHMethod: sr_doh_method_t */
    uint32_t timeout_ms; /* timeout: per upstream attempt */
    uint64_t cache_size; /* cache_size: bytes */
    uint32_t min_ttl, max_ttl, negative_ttl;
    bool serve_stale, prefetch;
    unsigned prefetch_popular;    /* prefetch_popular: names refreshed unasked */
    unsigned prefetch_rate;       /* prefetch_rate: their upstream queries a second */
    char *cache_file;             /* cache_file: saved cache ("" = off) */
    uint32_t cache_save_interval; /* cache_save_interval: seconds (0 = none) */
    bool network_watch; /* follow network changes and resumes (netwatch.h) */
    char *shared_cache; /* shared_cache: Redis URL ("" = off; shcache.h) */
    uint32_t shared_cache_timeout_ms; /* shared_cache_timeout: wait for Redis at most */
    int log_level;     /* enum log_level */
    char *query_log;   /* "" off, "syslog", "stderr" or a file */
    char *resolv_conf; /* nameservers when no upstream is set */
    char *portal_resolv_conf; /* portal pass nameservers ("" off) */
    /* ---- local answers (localdata.h) ---- */
    char **local; /* local: records, canonical text */
    size_t nlocal;
    uint32_t local_ttl; /* local_ttl: TTL of records without one */
    char *hosts;        /* hosts: files, comma-separated ("" none) */
    bool special_names; /* special_names */
    char **forward;    /* forward: canonical rules "DOMAIN SPEC..." (fwdrules.h) */
    size_t nforward;
    char *block;       /* block: block list files (comma/blank-separated) */
    int block_answer;  /* block_answer: enum block_answer (blocklist.h) */
    char *block_names; /* block_names: names blocked besides the lists */
    /* ---- further daemon keys (tuning; docs/stubresd.conf.5) ---- */
    uint32_t servfail_ttl; /* how long an upstream SERVFAIL is cached */
    uint32_t stale_max;    /* serve_stale: how long past expiry */
    uint32_t tcp_idle_timeout_ms;
    unsigned tcp_max_clients;  /* client TCP connections, all threads */
    unsigned tcp_max_pipeline; /* queries in flight per TCP connection */
    unsigned max_inflight;     /* upstream queries in flight per thread */
    unsigned max_udp_size;     /* cap on the client's EDNS UDP size */
    bool cookies;              /* DNS Cookies towards udp:// upstreams */
    bool case_randomization;   /* 0x20 towards udp:// upstreams */
    /* ---- encrypted listeners (tls:// and https:// in listen) ---- */
    char *tls_cert;           /* PEM chain, leaf first */
    char *tls_key;            /* its private key (PEM) */
    unsigned tls_max_clients; /* TLS connections, all threads */
    uint32_t tls_idle_timeout_ms;
    /* ---- class properties ---- */
    char *dns_server;  /* a single upstream (address, host, URL) */
    unsigned dns_port; /* its port (0: the protocol's default) */
    int protocol;      /* sr_proto_t of dns_server / resolv_conf */
    bool recursive;    /* RD on upstream queries */
    char *local_host;  /* local_host / LocalHost: upstream bind */
    /* ---- class config settings ---- */
    bool use_idns;                  /* UseIDNs: IDNA for upstream host names */
    bool delay_host_resolution;     /* DelayHostResolution */
    bool dont_fragment;             /* DontFragment */
    unsigned local_port;            /* LocalPort */
    unsigned max_packet_size;       /* MaxPacketSize: EDNS size sent upstream */
    unsigned dscp;                  /* QOSDSCPValue */
    bool share_local_port;          /* ShareLocalPort */
    bool use_connection;            /* UseConnection */
    bool use_ipv6;                  /* UseIPv6 */
    bool absolute_timeout;          /* AbsoluteTimeout */
    char *firewall_data;            /* FirewallData (no proxy: no effect) */
    uint64_t in_buffer_size;        /* InBufferSize: SO_RCVBUF upstream */
    uint64_t out_buffer_size;       /* OutBufferSize: SO_SNDBUF upstream */
    unsigned code_page;             /* CodePage */
    bool mask_sensitive;            /* MaskSensitive */
    bool process_idle_events;       /* ProcessIdleEvents */
    unsigned select_wait_millis;    /* SelectWaitMillis */
    bool use_internal_security_api; /* UseInternalSecurityAPI */
    unsigned class_log_level;       /* LogLevel: transport verbosity 0..3 */

    /* ---- bookkeeping ---- */
    /* The local answers built from the keys above (daemon_publish); not
     * copied by cfg_dup, released with the cfg. */
    struct localdata *localdata;
    char **text;  /* canonical text of each key (cfg_nkeys) */
    char **where; /* "FILE:LINE" that set each key, or NULL */
    char *path;   /* the config file this came from */
    atomic_int refs;
};

/* Outcome of cfg_set()/cfg_get() beyond plain success. */
typedef enum cfg_status {
    CFG_OK = 0,
    CFG_EINVAL,       /* bad value; err names the key and accepted values */
    CFG_EUNKNOWN,     /* no such key */
    CFG_EUNSUPPORTED, /* a Windows-only setting of the class */
    CFG_ENOTDAEMON,   /* a per-query property of the class */
    CFG_EREADONLY,    /* read-only (BuildInfo, ...) */
    CFG_ERESTART,     /* cannot change while running */
    CFG_ENOMEM,
} cfg_status_t;

/* A new cfg_t holding every default (refs = 1); NULL when out of memory. */
cfg_t *cfg_new(void);
/* A deep copy with refs = 1. */
cfg_t *cfg_dup(const cfg_t *c);
void cfg_ref(cfg_t *c);
/* Drop a reference; frees on the last. Accepts NULL. */
void cfg_unref(cfg_t *c);

/* Set key name (any case, aliases allowed) to value. where ("FILE:LINE")
 * prefixes error messages when given. With runtime, keys that need a
 * restart are refused (CFG_ERESTART). On error nothing changes and err
 * holds a message naming the key and the accepted values. */
cfg_status_t cfg_set(cfg_t *c, const char *name, const char *value, const char *where, bool runtime,
                     char *err, size_t errcap);
/* The canonical text of key name into out (seed names allowed; a secret
 * redacted, cfg_redact: c->text keeps the real one). Errors as
 * cfg_set; read-only keys computed here (BuildInfo, LicenseInfo) and
 * "idle" (CFG_EREADONLY with out "" : the caller knows). */
cfg_status_t cfg_get(const cfg_t *c, const char *name, char *out, size_t cap, char *err,
                     size_t errcap);

/* Callback of cfg_load_file for every key accepted (canonical name). */
typedef void (*cfg_key_cb)(void *arg, const char *name, const char *value);

/* One `name = value` line of an INI file: where is "FILE:LINE", section
 * "" outside any [section]. */
typedef void (*cfg_ini_fn)(void *arg, const char *where, const char *section, const char *name,
                           const char *value);
/* Read an INI file line by line the way config files are read (values
 * up to CFG_VALUE_MAX, ';' and '#' comments, no continuation lines), fn
 * for every name = value. A missing file is an error unless missing_ok.
 * Syntax errors go to errs naming FILE:LINE; returns 0 when errs got
 * nothing new (fn adds its own errors to errs). */
int cfg_read_ini(const char *path, bool missing_ok, cfg_errors_t *errs, cfg_ini_fn fn, void *arg);

/* Read an INI file into c: every `key = value` line through cfg_set. A
 * missing file is an error unless missing_ok. Errors go to errs; returns 0
 * when there were none. The first appearance of a list key in the file
 * replaces the value from defaults or an earlier file; later appearances
 * in the same file append to it. */
int cfg_load_file(cfg_t *c, const char *path, bool missing_ok, cfg_errors_t *errs, cfg_key_cb cb,
                  void *cbarg);
/* Checks across keys (min_ttl <= max_ttl, the upstream list, ...), after
 * loading. Returns 0 when consistent. */
int cfg_check(const cfg_t *c, cfg_errors_t *errs);
/* The user and control_group accounts exist (part of cfg_check; alone on
 * a file that has other errors, so that stubresd -t names them all). */
int cfg_check_names(const cfg_t *c, cfg_errors_t *errs);
/* What stubresd would meet on this machine, seen with stat only (nothing
 * is created): the control socket's directory exists or can be made, the
 * query_log file is a regular file of its own or its directory exists.
 * stubresd -t runs it whatever else is wrong. 0 when all is well. */
int cfg_check_paths(const cfg_t *c, cfg_errors_t *errs);

/* The values of the keys the upstream list is made of (spec_list), borrowed
 * from c. */
void cfg_spec_keys(const cfg_t *c, spec_keys_t *k);
/* A hash of the canonical text of every key that shapes the upstreams:
 * equal for two cfgs whose upstream keys are equal. */
uint64_t cfg_upstream_hash(const cfg_t *c);

/* ---- the key table, for docs, tests and the state file ---- */
size_t cfg_nkeys(void);
/* Canonical name of key i, NULL past the end. */
const char *cfg_key_name(size_t i);
/* Index of a key by any accepted name (case-insensitive, aliases), or -1. */
int cfg_key_index(const char *name);
/* The key's default as text. */
const char *cfg_key_default(size_t i);
/* True for keys that can only change with a restart. */
bool cfg_key_restart(size_t i);
/* True for keys with a value (not read-only, unsupported or per-query). */
bool cfg_key_settable(size_t i);
/* True when changing key i changes how upstreams are reached. */
bool cfg_key_upstream(size_t i);
/* Value v of key name as people and logs see it: a secret key's password
 * (shared_cache's redis://:PASSWORD@...) becomes *****, else v as it is. */
void cfg_redact(const char *name, const char *v, char *out, size_t cap);
/* One-line description (for the commented config file). */
const char *cfg_key_doc(size_t i);

/* Parse helpers shared with tests. */
int cfg_parse_bool(const char *s, bool *out);
/* "123", "16K", "4M", "1G" (1024-based). */
int cfg_parse_size(const char *s, uint64_t *out);
/* Seconds, optionally fractional ("1.5") or with a unit (ms, s, m, h, d)
 * into milliseconds. */
int cfg_parse_duration_ms(const char *s, uint64_t *out);

/* Version and build facts (the BuildInfo setting). */
const char *cfg_build_info(void);

#endif
