/* libstubres: the DNS class object.
 *
 * One opaque object whose properties, methods, events, config settings and
 * error numbers are those of the DNS class reference (shared/seed): set the
 * properties, call sr_dns_query(), then walk the records. Synchronous by
 * default (sr_dns_query() returns when the answer is in or the timeout
 * passes); with timeout 0 it returns at once and the answer arrives through
 * sr_dns_do_events() or through an event_base attached with
 * sr_dns_attach().
 *
 * Every function returning sr_status_t also fires on_error for failures of
 * query-time work, and keeps the description for sr_dns_last_error().
 * Strings returned by getters are owned by the object and stay valid until
 * the next query, reset or setter call on the same property. */
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
    /* on_response: fires once per query. status_code is the RCODE for an
     * answer, or the class error number when no answer came. */
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

/* Install the event callbacks (copied). */
SR_API void sr_dns_set_events(sr_dns_t *dns, const sr_dns_events_t *events);

/* Run queries on the caller's event loop (the daemon's) instead of the
 * object's own; NULL detaches. SR_E_UDP_ACTIVE while a query is in flight. */
SR_API sr_status_t sr_dns_attach(sr_dns_t *dns, struct event_base *base);

/* The description of the last error (e.g. "[10060] Connection timed out."
 * or a more precise text), "" when none. */
SR_API const char *sr_dns_last_error(const sr_dns_t *dns);

/* ---- properties ---- */

/* dns_port: 1..65535 (default 53); SR_E_INVAL outside, SR_E_UDP_ACTIVE
 * while busy. */
SR_API int sr_dns_get_dns_port(const sr_dns_t *dns);
SR_API sr_status_t sr_dns_set_dns_port(sr_dns_t *dns, int port);
/* dns_server: an address, a host name, or for protocol 3 an https URL. */
SR_API const char *sr_dns_get_dns_server(const sr_dns_t *dns);
SR_API sr_status_t sr_dns_set_dns_server(sr_dns_t *dns, const char *server);
/* idle: false while a query is in flight. */
SR_API bool sr_dns_get_idle(const sr_dns_t *dns);
/* local_host: the address connections are made from ("" = any; reading
 * it while idle gives gethostname() unless one was assigned). */
SR_API const char *sr_dns_get_local_host(const sr_dns_t *dns);
SR_API sr_status_t sr_dns_set_local_host(sr_dns_t *dns, const char *host);
/* protocol: 0 UDP, 1 TCP, 2 TLS, 3 HTTPS. */
SR_API int sr_dns_get_protocol(const sr_dns_t *dns);
SR_API sr_status_t sr_dns_set_protocol(sr_dns_t *dns, int protocol);
/* query_type: 1..65535, or 100 for RevLookup (default 1). */
SR_API int sr_dns_get_query_type(const sr_dns_t *dns);
SR_API sr_status_t sr_dns_set_query_type(sr_dns_t *dns, int type);
/* record_source: which section the record arrays list: 0 answer (default),
 * 1 authority, 2 additional; SR_E_RECORD_SOURCE otherwise. */
SR_API int sr_dns_get_record_source(const sr_dns_t *dns);
SR_API sr_status_t sr_dns_set_record_source(sr_dns_t *dns, int source);
/* recursive: RD bit (default true). */
SR_API bool sr_dns_get_recursive(const sr_dns_t *dns);
SR_API sr_status_t sr_dns_set_recursive(sr_dns_t *dns, bool recursive);
/* request_id: 1..32767 (default 1), incremented after each query. */
SR_API int sr_dns_get_request_id(const sr_dns_t *dns);
SR_API sr_status_t sr_dns_set_request_id(sr_dns_t *dns, int id);
/* status / status_code: the response RCODE (extended with EDNS) and its
 * mnemonic; after a failed query the class error number and its text. */
SR_API const char *sr_dns_get_status(const sr_dns_t *dns);
SR_API int sr_dns_get_status_code(const sr_dns_t *dns);
/* timeout in seconds (default 60); 0 = asynchronous. */
SR_API int sr_dns_get_timeout(const sr_dns_t *dns);
SR_API sr_status_t sr_dns_set_timeout(sr_dns_t *dns, int seconds);

/* ---- the record arrays (of the section record_source selects) ---- */

SR_API int sr_dns_get_record_count(const sr_dns_t *dns);
/* Each returns SR_E_RECORD_INDEX when record_index is out of range. */
SR_API sr_status_t sr_dns_get_record_domain(const sr_dns_t *dns, int record_index,
                                            const char **out);
SR_API sr_status_t sr_dns_get_record_type(const sr_dns_t *dns, int record_index,
                                          int *out);
SR_API sr_status_t sr_dns_get_record_type_name(const sr_dns_t *dns,
                                               int record_index, const char **out);
SR_API sr_status_t sr_dns_get_record_ttl(const sr_dns_t *dns, int record_index,
                                         uint32_t *out);
/* record_data: the RDATA bytes as received. */
SR_API sr_status_t sr_dns_get_record_data(const sr_dns_t *dns, int record_index,
                                          const uint8_t **out, size_t *len);
SR_API sr_status_t sr_dns_get_record_field_count(const sr_dns_t *dns,
                                                 int record_index, int *out);
/* record_field_index: selects the field that record_field_name/value
 * read (default 0); SR_E_FIELD_INDEX outside 0..count-1. */
SR_API sr_status_t sr_dns_get_record_field_index(const sr_dns_t *dns,
                                                 int record_index, int *out);
SR_API sr_status_t sr_dns_set_record_field_index(sr_dns_t *dns, int record_index,
                                                 int field_index);
SR_API sr_status_t sr_dns_get_record_field_name(const sr_dns_t *dns,
                                                int record_index, const char **out);
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
/* get_field_value: the value of the field called field_name in record
 * record_index (SR_E_RECORD_INDEX, SR_E_FIELD_INDEX when it has none). */
SR_API sr_status_t sr_dns_get_field_value(const sr_dns_t *dns, int record_index,
                                          const char *field_name, const char **out);
/* Cancel the query in flight (its on_response fires with SR_E_INTR);
 * nothing when idle. */
SR_API sr_status_t sr_dns_interrupt(sr_dns_t *dns);
/* Query domain for query_type records (for 100, domain is an IPv4/IPv6
 * address and the query is PTR of its reverse name). Synchronous unless
 * timeout is 0. Returns SR_OK when a response arrived, whatever its RCODE;
 * otherwise the class error number. */
SR_API sr_status_t sr_dns_query(sr_dns_t *dns, const char *domain);
/* Reset every property and setting to its default. */
SR_API sr_status_t sr_dns_reset(sr_dns_t *dns);

/* Whether the last response had AA set (as on_response reports). */
SR_API bool sr_dns_get_authoritative(const sr_dns_t *dns);
/* The last response, parsed (owned by the object; NULL before any). */
SR_API const sr_msg_t *sr_dns_get_message(const sr_dns_t *dns);

#ifdef __cplusplus
}
#endif
#endif
