/* stubresd: the captive-portal pass (see portal.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stubres/wire.h>

#include "codec-internal.h" /* the cursor */

#include "cfg.h"
#include "log.h"
#include "portal.h"
#include "spec.h"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

portal_t *portal_new(const cfg_t *cfg, char *err, size_t errcap)
{
    spec_keys_t keys;
    spec_t specs[SPEC_MAX];
    portal_t *p;
    int n;

    if (cfg->portal_resolv_conf == NULL || cfg->portal_resolv_conf[0] == '\0')
        return NULL;
    cfg_spec_keys(cfg, &keys);
    keys.resolv_conf = cfg->portal_resolv_conf;
    /* Plaintext, as the network's own nameservers speak. dns_port is the
     * port of resolv.conf nameservers when protocol is plaintext too. */
    keys.protocol = SR_PROTO_UDP;
    if (cfg->protocol != SR_PROTO_UDP && cfg->protocol != SR_PROTO_TCP)
        keys.dns_port = 0;
    n = spec_nameservers(&keys, specs, SPEC_MAX);
    if (n < 0) {
        log_warnx("portal_resolv_conf: %s cannot be read: %s; a portal pass asks nobody",
                  cfg->portal_resolv_conf, strerror(errno));
        n = 0;
    } else if (n == 0) {
        log_warnx("portal_resolv_conf: %s names no nameserver (other than stubresd itself); a "
                  "portal pass asks nobody",
                  cfg->portal_resolv_conf);
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    p->pool = pool_new_specs(cfg, specs, n, NULL, err, errcap);
    if (p->pool == NULL)
        goto fail;
    p->pool->source = strdup("portal");
    if (p->pool->source == NULL) {
        snprintf(err, errcap, "out of memory");
        goto fail;
    }
    return p;
fail:
    portal_free(p);
    return NULL;
}

void portal_free(portal_t *p)
{
    if (p == NULL)
        return;
    pool_unref(p->pool);
    free(p);
}

void portal_allow(portal_t *p, unsigned seconds)
{
    if (seconds == 0)
        seconds = PORTAL_DEFAULT_S;
    atomic_store(&p->names, 0);
    atomic_store(&p->until, now_ms() + (uint64_t)seconds * 1000u);
    log_notice("portal pass open for %u s: queries no upstream answers go in plaintext to %zu "
               "nameserver%s of the network",
               seconds, p->pool->n, p->pool->n == 1 ? "" : "s");
}

void portal_close(portal_t *p, const char *why)
{
    /* Called on every encrypted answer: a plain load first keeps the
     * workers from writing the shared line when no pass is open. */
    if (p == NULL || atomic_load_explicit(&p->until, memory_order_relaxed) == 0)
        return;
    /* Only the thread that closes it logs. */
    uint_fast64_t u = atomic_exchange(&p->until, 0);
    if (u != 0)
        log_notice("portal pass closed (%s) after %llu names", why,
                   (unsigned long long)atomic_load(&p->names));
}

bool portal_is_open(portal_t *p)
{
    if (p == NULL)
        return false;
    uint_fast64_t u = atomic_load(&p->until);
    if (u == 0)
        return false;
    if (now_ms() < u)
        return true;
    if (atomic_compare_exchange_strong(&p->until, &u, 0))
        log_notice("portal pass closed (its time is up) after %llu names",
                   (unsigned long long)atomic_load(&p->names));
    return false;
}

unsigned portal_remaining_s(portal_t *p)
{
    if (!portal_is_open(p))
        return 0;
    uint64_t u = atomic_load(&p->until), now = now_ms();
    return u > now ? (unsigned)((u - now + 999) / 1000) : 0;
}

void portal_count_name(portal_t *p)
{
    atomic_fetch_add(&p->names, 1);
}

int portal_parse_seconds(const char *arg, unsigned *out)
{
    unsigned long v = 0;

    if (arg == NULL) {
        *out = PORTAL_DEFAULT_S;
        return 0;
    }
    if (arg[0] < '0' || arg[0] > '9')
        return -1;
    for (const char *s = arg; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > PORTAL_MAX_S)
            return -1;
    }
    if (v == 0)
        return -1;
    *out = (unsigned)v;
    return 0;
}

size_t portal_cap_ttls(uint8_t *msg, size_t len, uint32_t max)
{
    sr_buf_t b;
    const uint8_t *h;
    size_t n = 0;

    sr_buf_init(&b, msg, len);
    if (sr_buf_fetch(&b, SR_HEADER_LEN, &h) != SR_OK)
        return 0;
    unsigned qd = sr_get16(h + 4);
    unsigned rr = (unsigned)sr_get16(h + 6) + sr_get16(h + 8) + sr_get16(h + 10);
    for (unsigned i = 0; i < qd; i++)
        if (sr_name_skip(&b) != SR_OK || sr_buf_skip(&b, 4) != SR_OK)
            return n;
    for (unsigned i = 0; i < rr; i++) {
        uint16_t type, cls, rdlen;
        uint32_t ttl;
        if (sr_name_skip(&b) != SR_OK || sr_buf_u16(&b, &type) != SR_OK ||
            sr_buf_u16(&b, &cls) != SR_OK)
            return n;
        size_t at = b.off;
        if (sr_buf_u32(&b, &ttl) != SR_OK || sr_buf_u16(&b, &rdlen) != SR_OK ||
            sr_buf_skip(&b, rdlen) != SR_OK)
            return n;
        if (type != SR_TYPE_OPT && ttl > max) {
            sr_put32(msg + at, max);
            n++;
        }
    }
    return n;
}
