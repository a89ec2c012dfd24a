/* libstubres: the DNS class object.
 *
 * One opaque object whose properties, methods, events, config settings and
 * error numbers are those of the DNS class reference this library follows
 * (docs/architecture.md, libstubres(3)): set the properties, call sr_dns_query(), then walk the records. Synchronous by
 * default (sr_dns_query() returns when the answer is in or the timeout
 * passes); with timeout 0 it returns at once and the answer arrives through
 * sr_dns_do_events() or through an event_base attached with
 * sr_dns_attach().
 *
 * Every function returning sr_status_t also fires on_error for failures of
 * query-time work, and keeps the description for sr_dns_last_error().
 * Strings returned by getters are owned by the object and stay valid until
 * the next query, reset or setter call on the same property.
 *
 * One query at a time per object (use several objects for parallel
 * queries). Callbacks may start the next query on the same object when it
 * is asynchronous (timeout 0 or attached); they must not free the object.
 * An object is used from one thread at a time. */
#ifndef STUBRES_DNS_H
#define STUBRES_DNS_H

#include <stubres/common.h>
#include <stubres/error.h>
#include <stubres/upstream.h>
#include <stubres/wire.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;

typedef struct sr_dns sr_dns_t;

/* The events of the class, as callbacks sharing one user pointer. Any may
 * be NULL. */
typedef struct sr_dns_events {
    /* on_error: an error during message processing. */
    void (*on_error)(void *arg, int error_code, const char *description);
    /* on_log: log_level 1..3 (see the LogLevel setting), log_type "Info",
     * "RequestHeaders", "ResponseHeaders", "RequestBody", "ResponseBody". */
    void (*on_log)(void *arg, int log_level, const char *message,
                   const char *log_type);
    /* on_response: fires exactly once for every query handed to the
     * transport (a query refused before it was sent, e.g. for a bad name
     * or no server, fires on_error only). status_code is the RCODE for an
     * answer, or the class error number when no answer came; domain is
     * what the caller passed to sr_dns_query(). */
    void (*on_response)(void *arg, int request_id, const char *domain,
                        int status_code, const char *description,
                        bool authoritative);
    /* on_ssl_server_authentication: the handler may change auth->accept. */
    void (*on_ssl_server_authentication)(void *arg, sr_tls_auth_t *auth);
    /* on_ssl_status: progress of a secure connection. */
    void (*on_ssl_status)(void *arg, const char *remote_address,
                          int remote_port, const char *message);
    void *arg;
} sr_dns_events_t;

/* A new object with the reference's defaults; NULL when out of memory.
 * dns_server starts as the first nameserver of resolv.conf (the path from
 * the ResolvConf setting, $STUBRES_RESOLV_CONF, or /etc/resolv.conf), or
 * "" when none can be found (query() then fails with 224). */
SR_API sr_dns_t *sr_dns_new(void);
/* Free the object, cancelling a query in flight. Accepts NULL. */
SR_API void sr_dns_free(sr_dns_t *dns);

/* Install the event callbacks (copied; NULL removes them all). */
SR_API void sr_dns_set_events(sr_dns_t *dns, const sr_dns_events_t *events);

/* Run queries on the caller's event loop (the daemon's) instead of the
 * object's own; NULL detaches. While attached every query is asynchronous
 * (sr_dns_query() returns once it is sent; timeout still bounds it) since
 * the caller's loop may be the one running the call. SR_E_UDP_ACTIVE while
 * a query is in flight. */
SR_API sr_status_t sr_dns_attach(sr_dns_t *dns, struct event_base *base);

/* The description of the last error (e.g. "[10060] Connection timed out."
 * or a more precise text), "" when none. */
SR_API const char *sr_dns_last_error(const sr_dns_t *dns);

/* ---- properties ---- */

/* dns_port: the server's port (default 53). */
SR_API int sr_dns_get_dns_port(const sr_dns_t *dns);
/* Set dns_port: 1..65535, else SR_E_INVAL; SR_E_UDP_ACTIVE while busy.
 * For protocol 3 it only matters with a plain host (53 then means 443);
 * a URL carries its own port. */
SR_API sr_status_t sr_dns_set_dns_port(sr_dns_t *dns, int port);
/* dns_server: an address, a host name, or for protocol 3 an https URL
 * (default: the first nameserver of resolv.conf, or ""). */
SR_API const char *sr_dns_get_dns_server(const sr_dns_t *dns);
/* Set dns_server (copied). For protocol 3 a plain host means
 * https://HOST[:PORT]/dns-query (/resolve for DoHMethod 2). A URL must
 * have the protocol's scheme (https://, tls://HOST[:PORT][#NAME], tcp://,
 * udp://), else query() fails with SR_E_BAD_ADDRESS. SR_E_INVAL for
 * NULL or text with blanks, SR_E_UDP_ACTIVE while busy. */
SR_API sr_status_t sr_dns_set_dns_server(sr_dns_t *dns, const char *server);
/* idle: false while a query is in flight. */
SR_API bool sr_dns_get_idle(const sr_dns_t *dns);
/* local_host: the address queries are sent from; "" (the default) lets
 * the system choose. Unlike the reference it does not read back as
 * gethostname(): the value is what the object binds to. */
SR_API const char *sr_dns_get_local_host(const sr_dns_t *dns);
/* Set local_host: an IPv4/IPv6 address or "" (NULL = ""); SR_E_INVAL for
 * anything else, SR_E_LOCAL_HOST_ACTIVE while busy. */
SR_API sr_status_t sr_dns_set_local_host(sr_dns_t *dns, const char *host);
/* protocol: 0 UDP (default), 1 TCP, 2 TLS, 3 HTTPS. */
SR_API int sr_dns_get_protocol(const sr_dns_t *dns);
/* Set protocol: SR_E_INVAL outside 0..3, SR_E_UDP_ACTIVE while busy. */
SR_API sr_status_t sr_dns_set_protocol(sr_dns_t *dns, int protocol);
/* query_type: 1..65535, or 100 for RevLookup (default 1). */
SR_API int sr_dns_get_query_type(const sr_dns_t *dns);
/* Set query_type: SR_E_UNKNOWN_TYPE outside 1..65535. */
SR_API sr_status_t sr_dns_set_query_type(sr_dns_t *dns, int type);
/* record_source: which section the record arrays list: 0 answer (default),
 * 1 authority, 2 additional. */
SR_API int sr_dns_get_record_source(const sr_dns_t *dns);
/* Set record_source: SR_E_RECORD_SOURCE outside 0..2. */
SR_API sr_status_t sr_dns_set_record_source(sr_dns_t *dns, int source);
/* recursive: the RD bit of queries (default true). */
SR_API bool sr_dns_get_recursive(const sr_dns_t *dns);
/* Set recursive; never fails. */
SR_API sr_status_t sr_dns_set_recursive(sr_dns_t *dns, bool recursive);
/* request_id: the ID the next query reports (default 1); it goes up by one
 * after each query handed to the transport, 32767 wrapping to 1. */
SR_API int sr_dns_get_request_id(const sr_dns_t *dns);
/* Set request_id: 1..32767, else SR_E_INVAL. An ID set here is also the
 * wire ID of the next query (SR_XFER_KEEP_ID), for that one query;
 * otherwise the wire carries an unpredictable ID (RFC 5452) and the
 * response is reported with request_id. */
SR_API sr_status_t sr_dns_set_request_id(sr_dns_t *dns, int id);
/* status: the response RCODE's mnemonic ("NOERROR", "NXDOMAIN", ...);
 * after a failed query the error's text; "" before any query. */
SR_API const char *sr_dns_get_status(const sr_dns_t *dns);
/* status_code: the response RCODE (extended with EDNS), or the class
 * error number after a failed query; 0 before any query. */
SR_API int sr_dns_get_status_code(const sr_dns_t *dns);
/* timeout in seconds (default 60); 0 = asynchronous. A timeout set in
 * milliseconds (the TimeoutMillis setting) reads back rounded up. With
 * the Tries setting N > 0 it is the time of each of N tries over UDP. */
SR_API int sr_dns_get_timeout(const sr_dns_t *dns);
/* Set timeout: 0..2147483 seconds, else SR_E_INVAL. An asynchronous query
 * still ends after 60 s without an answer. */
SR_API sr_status_t sr_dns_set_timeout(sr_dns_t *dns, int seconds);

/* ---- the record arrays (of the section record_source selects) ---- */

/* record_count: records in the selected section (OPT never counts). */
SR_API int sr_dns_get_record_count(const sr_dns_t *dns);
/* Each getter below returns SR_E_RECORD_INDEX when record_index is outside
 * 0..record_count-1, and otherwise writes *out (owned by the object). */
/* record_domain: the owner name, presentation form without the last dot. */
SR_API sr_status_t sr_dns_get_record_domain(const sr_dns_t *dns, int record_index,
                                            const char **out);
/* record_type: the TYPE of the record. */
SR_API sr_status_t sr_dns_get_record_type(const sr_dns_t *dns, int record_index,
                                          int *out);
/* record_type_name: the IANA mnemonic, "TYPE<n>" for unknown types. */
SR_API sr_status_t sr_dns_get_record_type_name(const sr_dns_t *dns,
                                               int record_index, const char **out);
/* record_ttl: the TTL as received. */
SR_API sr_status_t sr_dns_get_record_ttl(const sr_dns_t *dns, int record_index,
                                         uint32_t *out);
/* record_data: the RDATA bytes as received (compression pointers and
 * all), *len of them. */
SR_API sr_status_t sr_dns_get_record_data(const sr_dns_t *dns, int record_index,
                                          const uint8_t **out, size_t *len);
/* record_field_count: the number of named fields of the record. */
SR_API sr_status_t sr_dns_get_record_field_count(const sr_dns_t *dns,
                                                 int record_index, int *out);
/* record_field_index: selects the field that record_field_name/value
 * read, per record (default 0, kept across record_source switches). */
SR_API sr_status_t sr_dns_get_record_field_index(const sr_dns_t *dns,
                                                 int record_index, int *out);
/* Set record_field_index: SR_E_FIELD_INDEX outside 0..field_count-1. */
SR_API sr_status_t sr_dns_set_record_field_index(sr_dns_t *dns, int record_index,
                                                 int field_index);
/* record_field_name: the name of the selected field ("PREFERENCE"). */
SR_API sr_status_t sr_dns_get_record_field_name(const sr_dns_t *dns,
                                                int record_index, const char **out);
/* record_field_value: the selected field as text (the rules of stubres-query(1), OUTPUT). */
SR_API sr_status_t sr_dns_get_record_field_value(const sr_dns_t *dns,
                                                 int record_index, const char **out);

/* ---- methods ---- */

/* config("Name=Value") sets a setting; config("Name") reads it into *value
 * (allocated, the caller frees it with free(); may be NULL for a set).
 * Names are case-insensitive. Windows-only settings fail with
 * SR_E_NOT_SUPPORTED ("NAME: not supported on this platform"); unknown
 * names and bad values with SR_E_INVAL, naming the setting and the values
 * it accepts in sr_dns_last_error(). */
SR_API sr_status_t sr_dns_config(sr_dns_t *dns, const char *setting, char **value);
/* Process pending events; when there are none, wait SelectWaitMillis
 * (default 20 ms) for one. */
SR_API sr_status_t sr_dns_do_events(sr_dns_t *dns);
/* get_field_value: the value of the field called field_name (any case)
 * in record record_index: SR_E_NO_RECORDS when the section has no records
 * at all, SR_E_RECORD_INDEX for a bad index, SR_E_FIELD_INDEX when the
 * record has no such field. */
SR_API sr_status_t sr_dns_get_field_value(const sr_dns_t *dns, int record_index,
                                          const char *field_name, const char **out);
/* Cancel the query in flight (its on_response fires with SR_E_INTR, not
 * on_error); nothing when idle. May be called from any callback. */
SR_API sr_status_t sr_dns_interrupt(sr_dns_t *dns);
/* Query domain for query_type records (for 100, domain is an IPv4/IPv6
 * address and the query is PTR of its reverse name). domain accepts the
 * escapes \. \\ \DDD; non-ASCII only with UseIDNs=True. Synchronous unless
 * timeout is 0 or a base is attached (then SR_OK means "sent"). Returns
 * SR_OK when a response arrived, whatever its RCODE; otherwise the class
 * error number. SR_E_ALREADY while a query is in flight. */
SR_API sr_status_t sr_dns_query(sr_dns_t *dns, const char *domain);
/* Reset every property and setting to its default and drop the upstream
 * (a query in flight is interrupted first). Events and an attached base
 * stay. */
SR_API sr_status_t sr_dns_reset(sr_dns_t *dns);

/* How the last response came (sr_dns_get_response_info()). */
typedef struct sr_dns_response_info {
    int protocol;        /* what carried it, 0..3: 1 (TCP) when a UDP answer
                            with TC=1 was retried (TCPFallback) */
    uint16_t wire_id;    /* the query's ID on the wire */
    uint64_t elapsed_us; /* from the query's start to the answer: name
                            lookup, connection, retries included */
    char address[64];    /* the server's numeric address ("" if unknown) */
    int port;            /* and its port (0 if unknown) */
} sr_dns_response_info_t;

/* Fill *out for the last response: SR_OK, or SR_E_NO_RECORDS (100) when
 * the last query got none (*out is then zeroed). */
SR_API sr_status_t sr_dns_get_response_info(const sr_dns_t *dns,
                                            sr_dns_response_info_t *out);

/* Whether the last response had AA set (as on_response reports). */
SR_API bool sr_dns_get_authoritative(const sr_dns_t *dns);
/* The last response, parsed (owned by the object; NULL before any). */
SR_API const sr_msg_t *sr_dns_get_message(const sr_dns_t *dns);

#ifdef __cplusplus
}
#endif
#endif
