/* libFuzzer target: the control protocol end to end, below the socket:
 * each line of the input goes through control_handle_line() (the parser,
 * src/daemon/ctlproto.c, then the dispatcher daemon_command() of
 * src/daemon/daemon.c), exactly as control.c hands it a client's line.
 *
 * Every input starts from a fresh daemon context: the settings of a fixed
 * config file plus its state file (empty), a pool of two UDP upstreams,
 * and a cache holding a few answers; no workers, no listeners, no control
 * socket, no network (creating an upstream only parses and allocates;
 * nothing is sent before a query). Files, users and syslog come from the
 * sandbox of sandbox.h, so `reload`, `config ca_file=...` and
 * `config query_log=...` reach only /fuzz.
 *
 * Checks, besides "no crash, no leak": every reply is one line of
 * printable ASCII holding one JSON object with a boolean "ok", an "error"
 * string when it is false, and the fields of its command when true; the
 * value `config NAME=VALUE` reports is accepted back unchanged; after
 * every command the settings in force pass cfg_check(), the upstream pool
 * is the one they ask for, and every entry of the state file holds the
 * value in force. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>
#include <stubres/wire.h>

#include "control.h"
#include "ctlproto.h"
#include "daemon.h"
#include "fuzz.h"
#include "fwdrules.h"
#include "lib-internal.h"
#include "localdata.h"
#include "../pktbuild.h"
#include "log.h"
#include "sandbox.h"
#include "worker.h"

/* Commands of one input at most (each may rebuild upstreams). */
#define MAX_LINES 24

static struct event_base *g_base;

/* ---- the cache's contents ---- */

/* A response to (qname, qtype) with rcode, then count records of type
 * rtype and the rdata given, owned by the question (a pointer to it). */
static void store(cache_t *c, const char *qname, uint16_t qtype, unsigned rcode, uint16_t section,
                  uint16_t rtype, const void *rdata, size_t rdlen, unsigned count, uint32_t now)
{
    static const uint8_t ttl[] = {0, 0, 0x0e, 0x10};
    tpkt_t b;
    sr_msg_t *m = sr_msg_new();
    uint8_t qw[SR_NAME_MAX_WIRE];
    size_t ql;

    FUZZ_CHECK(m != NULL);
    tpkt_init(&b, 512, false);
    tpkt_u16(&b, 0x4242);
    tpkt_u16(&b, (uint16_t)(0x8180 | rcode));
    tpkt_u16(&b, 1);
    tpkt_u16(&b, section == 0 ? (uint16_t)count : 0);
    tpkt_u16(&b, section == 1 ? (uint16_t)count : 0);
    tpkt_u16(&b, 0);
    tpkt_name(&b, qname);
    tpkt_u16(&b, qtype);
    tpkt_u16(&b, SR_CLASS_IN);
    for (unsigned i = 0; i < count; i++) {
        tpkt_u16(&b, 0xC00C);
        tpkt_u16(&b, rtype);
        tpkt_u16(&b, SR_CLASS_IN);
        tpkt_put(&b, ttl, 4);
        tpkt_u16(&b, (uint16_t)rdlen);
        tpkt_put(&b, rdata, rdlen);
    }
    FUZZ_CHECK(!b.bad);
    if (sr_msg_parse(m, b.d.p, b.d.len, 0) != SR_OK)
        fprintf(stderr, "%s: %s\n", qname, sr_msg_error(m));
    FUZZ_CHECK(sr_msg_parse(m, b.d.p, b.d.len, 0) == SR_OK);
    FUZZ_CHECK(sr_name_from_text(qname, qw, sizeof(qw), &ql) == SR_OK);
    FUZZ_CHECK(cache_store(c, qw, ql, qtype, SR_CLASS_IN, false, false, m, now));
    sr_msg_free(m);
    tpkt_free(&b);
}

static void prefill(cache_t *c)
{
    static const uint8_t a[] = {192, 0, 2, 1};
    static const uint8_t mx[] = {0, 10, 4, 'm', 'a', 'i', 'l', 0xC0, 12};
    static const uint8_t txt[] = {11, 'q', '"', 'u', 'o', 't', 'e', '\\', 0x01, 0xFF, ' ', '}'};
    /* MNAME the question, RNAME the root, serial 1, refresh 7200, retry
     * 3600, expire 1209600, minimum 300. */
    static const uint8_t soa[] = {0xC0, 12,   0,    0, 0,    0,    1, 0, 0, 0x1c, 0x20, 0,
                                  0,    0x0e, 0x10, 0, 0x12, 0x75, 0, 0, 0, 0x01, 0x2c};
    uint32_t now = worker_now_s();

    store(c, "www.example.test", SR_TYPE_A, 0, 0, SR_TYPE_A, a, sizeof(a), 2, now);
    store(c, "example.test", SR_TYPE_MX, 0, 0, SR_TYPE_MX, mx, sizeof(mx), 1, now);
    /* A name and a string that JSON and the dump's text must escape. */
    store(c, "we\"ird\\\\x\\.y\\032z.example.test", SR_TYPE_TXT, 0, 0, SR_TYPE_TXT, txt,
          sizeof(txt), 1, now);
    store(c, "nx.example.test", SR_TYPE_A, 3, 1, SR_TYPE_SOA, soa, sizeof(soa), 1, now);
}

/* ---- checks ---- */

static bool same_text(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

/* A value reported by `config NAME=VALUE` is the canonical text of what
 * is in force: set again, it must be accepted and stay the same. */
static void check_value_round(const daemon_t *d, const char *name, const char *value)
{
    char err[1024], again[CFG_VALUE_MAX + 64];
    cfg_t *c = cfg_dup(d->cfg);
    FUZZ_CHECK(c != NULL);
    cfg_status_t st = cfg_set(c, name, value, NULL, true, err, sizeof(err));
    if (st != CFG_OK)
        fprintf(stderr, "config %s: reported value '%s' is refused: %s\n", name, value, err);
    FUZZ_CHECK(st == CFG_OK);
    FUZZ_CHECK(cfg_get(c, name, again, sizeof(again), err, sizeof(err)) == CFG_OK);
    if (strcmp(again, value) != 0)
        fprintf(stderr, "config %s: '%s' set again reads '%s'\n", name, value, again);
    FUZZ_CHECK(strcmp(again, value) == 0);
    cfg_unref(c);
}

static void check_reply(const daemon_t *d, const char *line, const char *text)
{
    json_error_t jerr;
    ctl_request_t *req = malloc(sizeof(*req));
    char err[512];

    FUZZ_CHECK(text != NULL && req != NULL);
    /* One line, ASCII only (JSON_ENSURE_ASCII): a client reads lines. */
    for (const char *p = text; *p != '\0'; p++)
        FUZZ_CHECK(*p >= 0x20 && *p <= 0x7E);
    json_t *r = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (r == NULL)
        fprintf(stderr, "reply to '%s' is not JSON: %s: %s\n", line, jerr.text, text);
    FUZZ_CHECK(r != NULL && json_is_object(r));
    json_t *ok = json_object_get(r, "ok");
    FUZZ_CHECK(json_is_boolean(ok));
    if (!json_is_true(ok)) {
        json_t *e = json_object_get(r, "error");
        FUZZ_CHECK(json_is_string(e) && json_string_length(e) > 0);
        goto done;
    }
    /* A success comes only for a line that parses, with its fields. */
    FUZZ_CHECK(ctl_parse(line, req, err, sizeof(err)) == 0);
    switch (req->cmd) {
    case CTL_STATS:
        FUZZ_CHECK(json_is_object(json_object_get(r, "queries")));
        FUZZ_CHECK(json_is_object(json_object_get(r, "cache")));
        FUZZ_CHECK(json_is_array(json_object_get(r, "upstreams")));
        break;
    case CTL_STATUS:
        FUZZ_CHECK(json_is_string(json_object_get(r, "version")));
        FUZZ_CHECK(json_is_array(json_object_get(r, "upstreams")));
        break;
    case CTL_CONFIG: {
        json_t *name = json_object_get(r, "name"), *value = json_object_get(r, "value");
        if (req->argc == 0) {
            /* `config` alone: every key with its value and origin. */
            json_t *keys = json_object_get(r, "config"), *k;
            size_t i;
            FUZZ_CHECK(json_is_array(keys) && json_array_size(keys) > 0);
            json_array_foreach(keys, i, k)
            {
                FUZZ_CHECK(json_is_string(json_object_get(k, "name")));
                FUZZ_CHECK(json_is_string(json_object_get(k, "value")));
                FUZZ_CHECK(json_is_string(json_object_get(k, "origin")));
            }
            break;
        }
        FUZZ_CHECK(json_is_string(name) && json_is_string(value));
        if (strchr(req->argv[0], '=') != NULL)
            check_value_round(d, json_string_value(name), json_string_value(value));
        break;
    }
    case CTL_CONFIG_RESET: {
        json_t *k = json_object_get(r, "reset"), *v;
        size_t i;
        FUZZ_CHECK(json_is_array(k));
        json_array_foreach(k, i, v) FUZZ_CHECK(json_is_string(v));
        break;
    }
    case CTL_SERVER: {
        json_t *s = json_object_get(r, "servers");
        FUZZ_CHECK(json_is_array(s) && json_array_size(s) > 0);
        break;
    }
    case CTL_CACHE_SAVE: {
        json_t *n = json_object_get(r, "saved");
        FUZZ_CHECK(json_is_integer(n) && json_integer_value(n) >= 0);
        break;
    }
    case CTL_CACHE_FLUSH: {
        json_t *n = json_object_get(r, "flushed");
        FUZZ_CHECK(json_is_integer(n) && json_integer_value(n) >= 0);
        break;
    }
    case CTL_CACHE_DUMP: {
        json_t *e = json_object_get(r, "entries"), *z = json_object_get(r, "zone"), *v;
        size_t i;
        FUZZ_CHECK(json_is_array(e) && json_is_array(z));
        json_array_foreach(e, i, v) FUZZ_CHECK(json_is_string(v));
        json_array_foreach(z, i, v) FUZZ_CHECK(json_is_string(v));
        break;
    }
    case CTL_RELOAD: break;
    case CTL_NETWORK_CHANGED: {
        json_t *n = json_object_get(r, "network_changes");
        FUZZ_CHECK(json_is_integer(n) && json_integer_value(n) > 0);
        break;
    }
    case CTL_LOCAL:
    case CTL_LOCAL_ADD:
    case CTL_LOCAL_REMOVE: {
        /* Every record listed is one the `local` key takes back. */
        json_t *e = json_object_get(r, "records"), *v;
        local_rec_t *rec = malloc(sizeof(*rec));
        size_t i;
        FUZZ_CHECK(json_is_array(e) && rec != NULL);
        json_array_foreach(e, i, v)
        {
            FUZZ_CHECK(json_is_string(v));
            FUZZ_CHECK(local_rec_parse(json_string_value(v), rec, NULL, 0, err, sizeof(err)) == 0);
        }
        free(rec);
        break;
    }
    case CTL_FORWARD:
    case CTL_FORWARD_ADD:
    case CTL_FORWARD_REMOVE: {
        json_t *rules = json_object_get(r, "rules"), *v;
        size_t i;
        FUZZ_CHECK(json_is_array(rules));
        json_array_foreach(rules, i, v)
        {
            FUZZ_CHECK(json_is_string(json_object_get(v, "domain")));
            FUZZ_CHECK(json_is_array(json_object_get(v, "servers")));
        }
        break;
    }
    case CTL_BLOCK: break;
    case CTL_PORTAL:
    case CTL_PORTAL_ALLOW:
    case CTL_PORTAL_CLOSE:
        FUZZ_CHECK(json_is_boolean(json_object_get(r, "open")));
        FUZZ_CHECK(json_is_integer(json_object_get(r, "remaining_s")));
        FUZZ_CHECK(json_is_integer(json_object_get(r, "names")));
        break;
    }
done:
    json_decref(r);
    free(req);
}

/* What is in force agrees with itself. */
static void check_daemon(const daemon_t *d)
{
    cfg_errors_t errs = {0};
    int rc = cfg_check(d->cfg, &errs);
    if (rc != 0)
        fprintf(stderr, "settings in force fail their check: %s\n", errs.n ? errs.msg[0] : "?");
    FUZZ_CHECK(rc == 0);
    cfg_errors_clear(&errs);
    FUZZ_CHECK(d->pool != NULL && pool_matches(d->pool, d->cfg));
    /* The forward rules in force are the key's (built at the first change). */
    FUZZ_CHECK(d->fwdrules == NULL || d->fwdrules->n == d->cfg->nforward);
    for (size_t i = 0; i < state_count(d->state); i++) {
        state_override_t o;
        state_get(d->state, i, &o);
        int k = cfg_key_index(o.key);
        FUZZ_CHECK(k >= 0);
        if (!same_text(d->cfg->text[k], o.value))
            fprintf(stderr, "state %s = '%s', in force '%s'\n", o.key, o.value, d->cfg->text[k]);
        FUZZ_CHECK(same_text(d->cfg->text[k], o.value));
    }
}

/* ---- the run ---- */

static void setup_once(void)
{
    char conf[1024], state[256];

    /* Only errors on stderr (a run prints nothing unless it fails). */
    log_init("fuzz_control", true, LOG_LEVEL_ERROR);
    g_base = event_base_new();
    FUZZ_CHECK(g_base != NULL);
    /* The state file must be a real path: state_save() writes next to
     * it. */
    int n = snprintf(conf, sizeof(conf),
                     "; fuzz_control's config file\n"
                     "listen = 127.0.0.1:5353, [::1]:5353\n"
                     "servers = udp://192.0.2.1 udp://192.0.2.2:5353\n"
                     "control =\n"
                     "state_file = %s\n"
                     "cache_size = 1M\n"
                     "log_level = error\n",
                     sandbox_real("runtime.conf", state, sizeof(state)));
    sandbox_write("stubresd.conf", conf, (size_t)n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    cfg_errors_t errs = {0};
    daemon_t d;
    char err[1024];

    if (!init) {
        setup_once();
        init = true;
    }
    sandbox_enter();
    /* No state left from the last input. */
    sandbox_write("runtime.conf", "", 0);
    memset(&d, 0, sizeof(d));
    d.base = g_base;
    d.config_path = "/fuzz/stubresd.conf";
    size_t dropped = 0;
    d.cfg = daemon_load(d.config_path, &d.file_cfg, &d.state, &dropped, &errs);
    FUZZ_CHECK(d.cfg != NULL);
    d.pool = pool_new(d.cfg, NULL, err, sizeof(err));
    FUZZ_CHECK(d.pool != NULL);
    cache_cfg_t cc = daemon_cache_cfg(d.cfg);
    d.cache = cache_new(&cc);
    FUZZ_CHECK(d.cache != NULL);
    prefill(d.cache);
    d.start_us = pool_now_us();

    /* Lines as the socket would cut them (control.c: LF, and a line
     * over CTL_LINE_MAX refused without being parsed). */
    char *line = malloc(size + 1);
    FUZZ_CHECK(line != NULL);
    size_t off = 0;
    for (int n = 0; n < MAX_LINES && off < size; n++) {
        const uint8_t *nl = memchr(data + off, '\n', size - off);
        size_t len = nl != NULL ? (size_t)(nl - (data + off)) : size - off;
        memcpy(line, data + off, len);
        line[len] = '\0';
        off += len + 1;
        if (len > CTL_LINE_MAX)
            continue;
        char *reply = control_handle_line(daemon_command, &d, line);
        check_reply(&d, line, reply);
        free(reply);
        check_daemon(&d);
        log_set_level(LOG_LEVEL_ERROR);
    }
    free(line);

    char qerr[16];
    log_query_open("", qerr, sizeof(qerr));
    cache_free(d.cache);
    pool_unref(d.pool);
    fwdrules_unref(d.fwdrules);
    state_free(d.state);
    cfg_unref(d.file_cfg);
    cfg_unref(d.cfg);
    cfg_errors_clear(&errs);
    sandbox_leave();
    return 0;
}
