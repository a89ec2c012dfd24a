/* stubresd: the shared cache's connection (see shcache.h).
 *
 * One hiredis async context per worker, attached to the worker's
 * event_base. States: off (no URL), down (waiting for the reconnect
 * timer), setting up (connected or connecting, AUTH/SELECT/PING sent),
 * ready (PING answered). Only a ready connection gets GETs and SETs; any
 * timeout or error closes it (the circuit breaker: queries skip Redis at
 * once, no waiting) and the reconnect timer tries again after a backoff
 * that doubles from 100 ms up to 10 s, reset by a PING answered.
 *
 * GETs wait in a FIFO (Redis answers a connection's commands in order),
 * so one timer, at the oldest GET's deadline, times them all. A GET
 * request lives until both hiredis has called its callback (always, with
 * NULL when the connection goes) and its owner is done with it (its cb
 * was called, or shc_cancel). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <hiredis/adapters/libevent.h>

#include "log.h"
#include "shcache.h"
#include "util.h" /* sr_now_us */

#define SHC_BACKOFF_MIN_MS 100u
#define SHC_BACKOFF_MAX_MS 10000u
/* Connecting and setting up (AUTH, SELECT, PING) may take this much more
 * than shared_cache_timeout before it counts as a timeout. */
#define SHC_SETUP_SLACK_MS 1000u

struct shc_req {
    shc_req_t *prev, *next; /* the FIFO of GETs waiting */
    shc_t *s;
    uint64_t deadline_us;
    shc_get_cb cb;
    void *arg;
    bool hiredis_done; /* hiredis called back */
    bool owner_done;   /* cb called, or cancelled */
    bool aborted;      /* taken off by a trip: cb(SKIP) is under way */
};

struct shc {
    struct event_base *base;
    stats_thread_t *st;
    char *url_text; /* the URL in force ("" off) */
    shc_url_t url;
    bool on;
    uint32_t timeout_ms;
    redisAsyncContext *ac; /* NULL: down */
    bool ready;
    uint64_t setup_deadline_us;
    unsigned backoff_ms;
    struct event *timer;     /* the oldest GET's deadline, or the setup's */
    struct event *reconnect; /* the backoff */
    struct event *flush;     /* writes this loop turn's commands */
    shc_req_t *head, *tail;
};

static void connect_now(shc_t *s);

static void set_up(shc_t *s, bool up)
{
    s->ready = up;
    STAT_SET(s->st, shc_up, up ? 1u : 0u);
}

static void fifo_unlink(shc_t *s, shc_req_t *r)
{
    SR_LIST_UNLINK_TAIL(s->head, s->tail, r, prev, next);
    r->prev = r->next = NULL;
}

static void req_release(shc_req_t *r)
{
    if (r->hiredis_done && r->owner_done)
        free(r);
}

/* Arm the timer for the oldest GET, or the setup, or nothing. */
static void arm(shc_t *s)
{
    uint64_t at = 0, now = sr_now_us();

    if (s->ac != NULL && !s->ready)
        at = s->setup_deadline_us;
    else if (s->head != NULL)
        at = s->head->deadline_us;
    if (at == 0) {
        evtimer_del(s->timer);
        return;
    }
    uint64_t in = at > now ? at - now : 0;
    struct timeval tv = {(time_t)(in / 1000000u), (suseconds_t)(in % 1000000u)};
    evtimer_add(s->timer, &tv);
}

static void schedule_reconnect(shc_t *s)
{
    unsigned ms = s->backoff_ms;
    struct timeval tv = {ms / 1000u, (suseconds_t)(ms % 1000u) * 1000};

    s->backoff_ms = ms * 2 > SHC_BACKOFF_MAX_MS ? SHC_BACKOFF_MAX_MS : ms * 2;
    evtimer_add(s->reconnect, &tv);
}

/* Close the connection (if any) and let every GET waiting go upstream:
 * the circuit breaker. reconnect: with backoff (not when turned off). */
static void trip(shc_t *s, bool reconnect)
{
    redisAsyncContext *ac = s->ac;
    shc_req_t *list = s->head;

    s->head = s->tail = NULL;
    for (shc_req_t *r = list; r != NULL; r = r->next)
        r->aborted = true;
    set_up(s, false);
    s->ac = NULL;
    if (ac != NULL) {
        ac->data = NULL; /* its callbacks from now on are stale */
        redisAsyncFree(ac);
    }
    evtimer_del(s->timer);
    if (reconnect && s->on && !evtimer_pending(s->reconnect, NULL))
        schedule_reconnect(s);
    while (list != NULL) {
        shc_req_t *r = list;
        bool cancelled = r->owner_done; /* by an earlier one's cb */
        list = r->next;
        r->prev = r->next = NULL;
        r->owner_done = true;
        if (!cancelled)
            r->cb(r->arg, SHC_SKIP, NULL, 0);
        req_release(r);
    }
}

/* ---- hiredis callbacks: ac->data is the shc_t, or NULL once tripped */

static void on_connect(const redisAsyncContext *ac, int status)
{
    shc_t *s = ac->data;
    if (s == NULL || status == REDIS_OK)
        return;
    /* hiredis frees ac after this. */
    log_info("shared_cache: cannot connect: %s", ac->errstr);
    STAT_INC(s->st, shc_errors);
    ((redisAsyncContext *)ac)->data = NULL;
    s->ac = NULL;
    trip(s, true);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    shc_t *s = ac->data;
    if (s == NULL)
        return;
    /* hiredis frees ac after this. */
    log_info("shared_cache: connection lost%s%s", status != REDIS_OK ? ": " : "",
             status != REDIS_OK ? ac->errstr : "");
    STAT_INC(s->st, shc_errors);
    ((redisAsyncContext *)ac)->data = NULL;
    s->ac = NULL;
    trip(s, true);
}

/* AUTH, SELECT and PING: any error closes the connection; the PING's
 * answer makes it ready. */
static void on_setup(redisAsyncContext *ac, void *reply, void *privdata)
{
    shc_t *s = ac->data;
    redisReply *r = reply;
    bool ping = privdata != NULL;

    if (s == NULL || r == NULL)
        return; /* stale, or the connection is going: counted there */
    if (r->type == REDIS_REPLY_ERROR) {
        log_warnx("shared_cache: %s refused: %.200s", ping ? "PING" : "set-up", r->str);
        STAT_INC(s->st, shc_errors);
        trip(s, true);
        return;
    }
    if (ping) {
        log_info("shared_cache: connected");
        set_up(s, true);
        s->backoff_ms = SHC_BACKOFF_MIN_MS;
        arm(s);
    }
}

static void on_get(redisAsyncContext *ac, void *reply, void *privdata)
{
    shc_req_t *r = privdata;
    shc_t *s = ac->data;
    redisReply *rep = reply;

    r->hiredis_done = true;
    if (r->owner_done || r->aborted) {
        req_release(r);
        return;
    }
    /* Not aborted: still first in the FIFO of a live connection. */
    s = r->s;
    fifo_unlink(s, r);
    r->owner_done = true;
    if (rep == NULL || ac->data == NULL) {
        set_up(s, false); /* the connection is going; on_disconnect counts it */
        r->cb(r->arg, SHC_SKIP, NULL, 0);
    } else if (rep->type == REDIS_REPLY_STRING) {
        r->cb(r->arg, SHC_HIT, (const uint8_t *)rep->str, (size_t)rep->len);
        arm(s);
    } else if (rep->type == REDIS_REPLY_NIL) {
        STAT_INC(s->st, shc_misses);
        r->cb(r->arg, SHC_MISS, NULL, 0);
        arm(s);
    } else {
        /* An error (a wrong type, LOADING, ...): no answer, and the
         * breaker opens. */
        STAT_INC(s->st, shc_errors);
        r->cb(r->arg, SHC_SKIP, NULL, 0);
        if (s->ac == ac)
            trip(s, true);
    }
    req_release(r);
}

static void on_set(redisAsyncContext *ac, void *reply, void *privdata)
{
    shc_t *s = ac->data;
    redisReply *r = reply;

    (void)privdata;
    if (s == NULL || r == NULL)
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        /* OOM with noeviction, READONLY on a replica: stored nothing,
         * but GETs may still work. */
        STAT_INC(s->st, shc_errors);
        log_info("shared_cache: SET refused: %.200s", r->str);
    } else {
        STAT_INC(s->st, shc_stores);
    }
}

/* ---- timers */

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    shc_t *s = arg;
    uint64_t now = sr_now_us();

    (void)fd;
    (void)what;
    if (s->ac != NULL && !s->ready) {
        if (now < s->setup_deadline_us) {
            arm(s);
            return;
        }
        log_info("shared_cache: no answer while connecting; trying again later");
    } else if (s->head != NULL && now < s->head->deadline_us) {
        arm(s);
        return;
    } else if (s->head == NULL) {
        return;
    }
    STAT_INC(s->st, shc_timeouts);
    trip(s, true);
}

/* The commands queued during this loop turn go out in one write at its
 * end, not one turn later when the socket reports writable: a GET's
 * round trip is what a miss waits for. Only on a ready connection: on one
 * still connecting hiredis would take the connect as done. */
static void on_flush(evutil_socket_t fd, short what, void *arg)
{
    shc_t *s = arg;

    (void)fd;
    (void)what;
    if (s->ready && s->ac != NULL)
        redisAsyncHandleWrite(s->ac);
}

static void flush_soon(shc_t *s)
{
    if (!event_pending(s->flush, EV_TIMEOUT, NULL))
        event_active(s->flush, EV_TIMEOUT, 0);
}

static void on_reconnect(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    connect_now(arg);
}

static void connect_now(shc_t *s)
{
    redisAsyncContext *ac;

    if (!s->on || s->ac != NULL)
        return;
    ac = s->url.is_unix ? redisAsyncConnectUnix(s->url.path)
                        : redisAsyncConnect(s->url.host, s->url.port);
    if (ac == NULL || ac->err != 0) {
        log_info("shared_cache: cannot connect: %s", ac != NULL ? ac->errstr : "out of memory");
        if (ac != NULL)
            redisAsyncFree(ac);
        STAT_INC(s->st, shc_errors);
        schedule_reconnect(s);
        return;
    }
    ac->data = s;
    if (redisLibeventAttach(ac, s->base) != REDIS_OK) {
        ac->data = NULL;
        redisAsyncFree(ac);
        schedule_reconnect(s);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    s->ac = ac;
    set_up(s, false);
    /* Queued before the connection is up: they go out first. */
    if (s->url.password_len > 0)
        redisAsyncCommand(ac, on_setup, NULL, "AUTH %b", s->url.password, s->url.password_len);
    if (s->url.db != 0)
        redisAsyncCommand(ac, on_setup, NULL, "SELECT %u", s->url.db);
    redisAsyncCommand(ac, on_setup, s, "PING");
    s->setup_deadline_us = sr_now_us() + (uint64_t)(s->timeout_ms + SHC_SETUP_SLACK_MS) * 1000u;
    arm(s);
}

/* ---- the interface */

shc_t *shc_new(struct event_base *base, stats_thread_t *st)
{
    shc_t *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->base = base;
    s->st = st;
    s->backoff_ms = SHC_BACKOFF_MIN_MS;
    s->url_text = strdup("");
    s->timer = evtimer_new(base, on_timer, s);
    s->reconnect = evtimer_new(base, on_reconnect, s);
    s->flush = event_new(base, -1, 0, on_flush, s);
    if (s->url_text == NULL || s->timer == NULL || s->reconnect == NULL || s->flush == NULL) {
        shc_free(s);
        return NULL;
    }
    return s;
}

void shc_free(shc_t *s)
{
    if (s == NULL)
        return;
    s->on = false;
    trip(s, false);
    if (s->timer != NULL)
        event_free(s->timer);
    if (s->reconnect != NULL)
        event_free(s->reconnect);
    if (s->flush != NULL)
        event_free(s->flush);
    free(s->url_text);
    free(s);
}

void shc_configure(shc_t *s, const char *url, uint32_t timeout_ms)
{
    char err[256];

    s->timeout_ms = timeout_ms;
    if (strcmp(url, s->url_text) == 0)
        return;
    char *copy = strdup(url);
    if (copy == NULL)
        return; /* the old one stays: tried again at the next change */
    free(s->url_text);
    s->url_text = copy;
    s->on = false;
    trip(s, false);
    evtimer_del(s->reconnect);
    s->backoff_ms = SHC_BACKOFF_MIN_MS;
    if (url[0] == '\0')
        return;
    if (shc_url_parse(url, &s->url, err, sizeof(err)) != 0) {
        log_warnx("shared_cache: %s: off", err);
        return;
    }
    s->on = true;
    connect_now(s);
}

bool shc_ready(const shc_t *s)
{
    return s != NULL && s->ready;
}

shc_req_t *shc_get(shc_t *s, const char *key, size_t keylen, shc_get_cb cb, void *arg)
{
    shc_req_t *r;

    if (!shc_ready(s))
        return NULL;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->s = s;
    r->cb = cb;
    r->arg = arg;
    r->deadline_us = sr_now_us() + (uint64_t)s->timeout_ms * 1000u;
    if (redisAsyncCommand(s->ac, on_get, r, "GET %b", key, keylen) != REDIS_OK) {
        free(r);
        return NULL;
    }
    bool first = s->head == NULL;
    SR_LIST_PUSH_TAIL(s->head, s->tail, r, prev, next);
    if (first)
        arm(s);
    flush_soon(s);
    return r;
}

void shc_cancel(shc_req_t *r)
{
    if (r == NULL || r->owner_done)
        return;
    r->owner_done = true;
    if (r->aborted)
        return; /* trip() holds it and releases it */
    fifo_unlink(r->s, r);
    req_release(r);
}

void shc_set(shc_t *s, const char *key, size_t keylen, const uint8_t *val, size_t len,
             uint64_t ttl_ms)
{
    if (!shc_ready(s) || ttl_ms == 0)
        return;
    if (redisAsyncCommand(s->ac, on_set, NULL, "SET %b %b PX %llu", key, keylen, val, len,
                          (unsigned long long)ttl_ms) != REDIS_OK)
        STAT_INC(s->st, shc_errors);
    else
        flush_soon(s);
}
