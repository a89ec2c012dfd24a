/* libstubres internals: the DNS class object (dns.c) and its config table
 * (dns-config.c). Not installed. */
#ifndef STUBRES_DNS_INTERNAL_H
#define STUBRES_DNS_INTERNAL_H

#include <stubres/dns.h>

#include "lib-internal.h"

struct event;

/* The config settings of the reference that have a Linux meaning, and our
 * extensions. Strings are owned (sr_strdup) or NULL for "". */
typedef struct dns_settings {
    int doh_method;              /* DoHMethod 0..2 */
    bool use_idns;               /* UseIDNs */
    bool delay_host_resolution;  /* DelayHostResolution (stored only) */
    bool dont_fragment;          /* DontFragment -> IP_MTU_DISCOVER */
    int local_port;              /* LocalPort 0..65535 */
    int max_packet_size;         /* MaxPacketSize: EDNS size, UDP buffer */
    int qos_dscp;                /* QOSDSCPValue 0..63 */
    bool share_local_port;       /* ShareLocalPort -> SO_REUSEPORT */
    bool use_connection;         /* UseConnection: connected UDP socket */
    bool use_ipv6;               /* UseIPv6 */
    bool absolute_timeout;       /* AbsoluteTimeout */
    int in_buffer_size;          /* InBufferSize -> SO_RCVBUF, 0: system */
    int out_buffer_size;         /* OutBufferSize -> SO_SNDBUF, 0: system */
    int code_page;               /* CodePage, 65001 = UTF-8 */
    bool mask_sensitive;         /* MaskSensitive */
    bool process_idle_events;    /* ProcessIdleEvents (stored only) */
    int select_wait_millis;      /* SelectWaitMillis: do_events wait */
    int log_level;               /* LogLevel 0..3 */
    /* extensions */
    bool tcp_fallback;           /* TCPFallback */
    bool insecure_tls;           /* InsecureTLS */
    bool use_edns;               /* UseEDNS */
    int tries;                   /* Tries: 0 RFC 1035 schedule, N dig's */
    bool dnssec_ok;              /* DNSSECOK: the DO bit (RFC 3225) */
    bool request_nsid;           /* RequestNSID: the NSID option (RFC 5001) */
    char *ca_file;               /* CAFile */
    char *tls_name;              /* TLSName */
    char *spki_pins;             /* SPKIPins */
    char *bootstrap;             /* Bootstrap */
    char *resolv_conf;           /* ResolvConf */
} dns_settings_t;

/* One record of the last response, as the record arrays show it. */
typedef struct dns_rec {
    const sr_rr_t *rr;           /* owned by the message */
    int field_index;             /* record_field_index */
    char type_name[16];          /* record_type_name (TYPE<n> lives here) */
} dns_rec_t;

struct sr_dns {
    /* properties */
    int dns_port;
    char *dns_server;            /* never NULL */
    bool server_auto;            /* dns_server came from resolv.conf */
    char *local_host;            /* never NULL; "" = any */
    int protocol;
    int query_type;
    int record_source;
    bool recursive;
    int request_id;
    bool request_id_set;         /* set by the caller: send it unchanged */
    int timeout_ms;              /* timeout, or TimeoutMillis */
    dns_settings_t cfg;

    /* the result of the last query */
    int status_code;
    char status[160];
    bool authoritative;
    bool truncated;
    sr_dns_response_info_t info; /* how the response came */
    sr_msg_t *msg;               /* NULL or the parsed response */
    bool have_response;
    dns_rec_t *recs;             /* one per record of msg, wire order */
    size_t nrecs;
    size_t sec_start[3];         /* first index in recs of each section */
    size_t sec_count[3];

    /* the query in flight */
    bool busy;
    bool interrupted;            /* interrupt() before the xfer existed */
    sr_status_t result;          /* outcome of the last query */
    int cur_id;                  /* request_id of the query in flight */
    char *cur_domain;            /* the domain as the caller gave it */
    sr_xfer_t *xfer;

    /* event loop and transport */
    struct event_base *own_base; /* created lazily */
    struct event_base *ext_base; /* attached by the caller */
    struct event *wait_ev;       /* do_events' SelectWaitMillis timer */
    bool in_loop;                /* running the loop for query/do_events */
    sr_upstream_t *up;
    bool up_dirty;               /* a setting of up changed: rebuild it */

    sr_dns_events_t events;
    char last_error[512];
};

/* ---- dns-config.c ---- */

/* The reference's defaults. */
void sr_dns_settings_init(dns_settings_t *s);
/* Free the strings of s (not s itself). */
void sr_dns_settings_clear(dns_settings_t *s);
/* config("Name") / config("Name=Value"), see sr_dns_config(). */
sr_status_t sr_dns_config_apply(sr_dns_t *dns, const char *setting, char **value);
/* The iconv name of a CodePage number, or NULL when iconv knows none. */
const char *sr_dns_codepage_charset(int code_page, char *buf, size_t cap);

/* ---- dns.c, for dns-config.c ---- */

/* Record a failure: last_error gets "NAME: ..." style text. Returns code. */
sr_status_t sr_dns_fail(sr_dns_t *dns, sr_status_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A setting of the transport changed: rebuild the upstream at the next
 * query (not now, so a query in flight finishes on the old one). */
void sr_dns_mark_dirty(sr_dns_t *dns);
/* Re-read dns_server from resolv.conf if the caller never set it. */
void sr_dns_refresh_auto_server(sr_dns_t *dns);

#endif
