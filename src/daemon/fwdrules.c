/* stubresd: forward rules (see fwdrules.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "codec-internal.h" /* the name walks */

#include "cfg.h"
#include "fwdrules.h"
#include "log.h"

/* ---------------------------------------------------------------- parsing */

/* The next item of a rule: up to a blank or a comma. *p moves past it. */
static size_t next_item(const char **p, const char **start)
{
    const char *s = *p;

    while (*s == ',' || isspace((unsigned char)*s))
        s++;
    *start = s;
    while (*s != '\0' && *s != ',' && !isspace((unsigned char)*s))
        s++;
    *p = s;
    return (size_t)(s - *start);
}

/* The domain of a rule: wire form in lowercase, and its text. */
static int parse_domain(const char *item, size_t n, fwdrule_t *r, char *err, size_t errcap)
{
    char text[SR_NAME_MAX_TEXT];

    if (n >= sizeof(text)) {
        snprintf(err, errcap, "'%.40s...' is not a domain name", item);
        return -1;
    }
    memcpy(text, item, n);
    text[n] = '\0';
    if (sr_name_from_text(text, r->domain, sizeof(r->domain), &r->domain_len) != SR_OK) {
        snprintf(err, errcap, "'%s' is not a domain name", text);
        return -1;
    }
    if (r->domain_len == 1) {
        snprintf(err, errcap,
                 "'%s' is every name: set the upstreams of all names with servers = SPEC...", text);
        return -1;
    }
    for (size_t i = 0; i < r->domain_len; i++)
        if (r->domain[i] >= 'A' && r->domain[i] <= 'Z')
            r->domain[i] = (uint8_t)(r->domain[i] + 32);
    if (sr_name_to_text(r->domain, r->domain_len, r->name, sizeof(r->name)) != SR_OK) {
        snprintf(err, errcap, "'%s' is not a domain name", text);
        return -1;
    }
    return 0;
}

/* Append s (and a blank before it unless first) to canon. */
static int canon_append(char *canon, size_t cap, size_t *off, const char *s)
{
    int w = snprintf(canon + *off, cap - *off, "%s%s", *off ? " " : "", s);

    if (w < 0 || (size_t)w >= cap - *off)
        return -1;
    *off += (size_t)w;
    return 0;
}

int fwdrule_parse(const char *text, fwdrule_t *r, char *canon, size_t cap, char *err, size_t errcap)
{
    const char *p = text, *item;
    size_t n, off = 0, nspecs = 0;
    bool enc = false, plain = false;
    char why[1024], word[1100];
    spec_t *spec = malloc(sizeof(*spec));
    int rc = -1;

    memset(r, 0, sizeof(*r));
    canon[0] = '\0';
    if (spec == NULL) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    n = next_item(&p, &item);
    if (n == 0) {
        snprintf(err, errcap, "a rule is DOMAIN SPEC [SPEC...]");
        goto done;
    }
    if (parse_domain(item, n, r, err, errcap) != 0)
        goto done;
    if (canon_append(canon, cap, &off, r->name) != 0)
        goto too_long;
    while ((n = next_item(&p, &item)) > 0) {
        if (n >= sizeof(word)) {
            snprintf(err, errcap, "%s: '%.40s...' is too long", r->name, item);
            goto done;
        }
        memcpy(word, item, n);
        word[n] = '\0';
        if (++nspecs > SPEC_MAX) {
            snprintf(err, errcap, "%s: at most %d upstreams", r->name, SPEC_MAX);
            goto done;
        }
        if (strcasecmp(word, FWDRULES_RESOLVCONF) == 0) {
            r->resolvconf = true;
            if (canon_append(canon, cap, &off, FWDRULES_RESOLVCONF) != 0)
                goto too_long;
            continue;
        }
        if (spec_parse(word, spec, why, sizeof(why)) != 0) {
            snprintf(err, errcap, "%s: %s, or resolvconf", r->name, why);
            goto done;
        }
        if (spec_encrypted(spec))
            enc = true;
        else
            plain = true;
        if (canon_append(canon, cap, &off, spec->name) != 0)
            goto too_long;
    }
    if (nspecs == 0) {
        snprintf(err, errcap, "%s: no upstream; a rule is DOMAIN SPEC [SPEC...]", r->name);
        goto done;
    }
    if (enc && plain) {
        /* As for servers: failover must never trade an encrypted upstream
         * for a plaintext one. */
        snprintf(err, errcap,
                 "%s: encrypted (tls://, https://) and plaintext (udp://, tcp://) upstreams "
                 "cannot be mixed in one rule",
                 r->name);
        goto done;
    }
    rc = 0;
    goto done;
too_long:
    snprintf(err, errcap, "%s: the rule is too long", r->name);
done:
    free(spec);
    return rc;
}

/* ---------------------------------------------------------------- sets */

static fwdrules_t *rules_alloc(size_t n)
{
    fwdrules_t *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    atomic_init(&r->refs, 1);
    r->rule = calloc(n ? n : 1, sizeof(*r->rule));
    if (r->rule == NULL) {
        free(r);
        return NULL;
    }
    return r;
}

fwdrules_t *fwdrules_parse(char *const *texts, size_t n, char *err, size_t errcap)
{
    fwdrules_t *r;
    char *canon = malloc(CFG_VALUE_MAX + 1);

    if (n > FWDRULES_MAX) {
        snprintf(err, errcap, "at most %d rules", FWDRULES_MAX);
        free(canon);
        return NULL;
    }
    r = canon != NULL ? rules_alloc(n) : NULL;
    if (r == NULL) {
        snprintf(err, errcap, "out of memory");
        free(canon);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        fwdrule_t *ru = &r->rule[r->n];
        if (fwdrule_parse(texts[i], ru, canon, CFG_VALUE_MAX + 1, err, errcap) != 0)
            goto fail;
        if (fwdrules_find(r, ru->domain, ru->domain_len) >= 0) {
            snprintf(err, errcap, "%s: two rules for one domain (forward add replaces a rule)",
                     ru->name);
            goto fail;
        }
        ru->text = strdup(canon);
        if (ru->text == NULL) {
            snprintf(err, errcap, "out of memory");
            goto fail;
        }
        atomic_init(&ru->queries, 0);
        r->resolvconf = r->resolvconf || ru->resolvconf;
        r->n++;
    }
    free(canon);
    return r;
fail:
    free(canon);
    fwdrules_unref(r);
    return NULL;
}

void fwdrules_ref(fwdrules_t *r)
{
    atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
}

void fwdrules_unref(fwdrules_t *r)
{
    if (r == NULL || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->rule[i].text);
        pool_unref(r->rule[i].pool);
    }
    free(r->rule);
    free(r);
}

int fwdrules_find(const fwdrules_t *b, const uint8_t *domain, size_t domain_len)
{
    for (size_t j = 0; b != NULL && j < b->n; j++)
        if (b->rule[j].domain_len == domain_len &&
            memcmp(b->rule[j].domain, domain, domain_len) == 0)
            return (int)j;
    return -1;
}

/* Are the len bytes at a, ASCII-folded, those of the lowercase b? */
static bool folded_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t ch = a[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (uint8_t)(ch + 32);
        if (ch != b[i])
            return false;
    }
    return true;
}

int fwdrules_match(const fwdrules_t *r, const uint8_t *qname, size_t qname_len)
{
    uint64_t at[4] = {0}; /* bit k: a label starts at offset k */
    int best = -1;

    if (r == NULL || r->n == 0 || qname_len > SR_NAME_MAX_WIRE)
        return -1;
    /* One walk of the name's labels, then a bit test per rule and a
     * comparison only where a rule's domain would start on a label. */
    for (size_t off = 0; off < qname_len; off += 1u + qname[off]) {
        at[off >> 6] |= 1ull << (off & 63);
        if (qname[off] == 0)
            break;
    }
    for (size_t i = 0; i < r->n; i++) {
        const fwdrule_t *ru = &r->rule[i];
        size_t off = qname_len - ru->domain_len;
        if (ru->domain_len > qname_len || (best >= 0 && ru->domain_len <= r->rule[best].domain_len))
            continue;
        if ((at[off >> 6] >> (off & 63) & 1) &&
            folded_equal(qname + off, ru->domain, ru->domain_len))
            best = (int)i;
    }
    return best;
}

bool fwdrules_covers(const fwdrules_t *r, const uint8_t *qname, size_t qname_len)
{
    return fwdrules_match(r, qname, qname_len) >= 0;
}

/* ---------------------------------------------------------------- upstreams */

/* The upstreams of rule ru: its specs, `resolvconf` read now. */
static int rule_specs(const cfg_t *cfg, const fwdrule_t *ru, spec_t *specs, char *err,
                      size_t errcap)
{
    spec_keys_t keys;
    const char *p = ru->text, *item;
    char word[1100], why[1024];
    int n = 0;

    cfg_spec_keys(cfg, &keys);
    next_item(&p, &item); /* the domain */
    for (size_t l; (l = next_item(&p, &item)) > 0;) {
        snprintf(word, sizeof(word), "%.*s", (int)l, item);
        if (strcmp(word, FWDRULES_RESOLVCONF) == 0) {
            int m = spec_nameservers(&keys, specs + n, SPEC_MAX - n);
            if (m < 0)
                log_warnx("forward %s: resolvconf: %s cannot be read: %s", ru->name,
                          cfg->resolv_conf, strerror(errno));
            else if (m == 0)
                log_warnx("forward %s: resolvconf: %s names no nameserver (other than stubresd "
                          "itself)",
                          ru->name, cfg->resolv_conf);
            n += m > 0 ? m : 0;
        } else if (n < SPEC_MAX) {
            if (spec_parse(word, &specs[n], why, sizeof(why)) != 0) {
                snprintf(err, errcap, "forward: %s: %s", ru->name, why);
                return -1;
            }
            n++;
        }
    }
    snprintf(word, sizeof(word), "forward: %s", ru->name);
    if (spec_check(&keys, word, specs, n, err, errcap) != 0)
        return -1;
    return n;
}

static void stat_resolv_conf(fwdrules_t *r, const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return;
    r->rc_mtime = st.st_mtim;
    r->rc_size = st.st_size;
    r->rc_ino = st.st_ino;
}

bool fwdrules_resolvconf_changed(const fwdrules_t *r, const char *resolv_conf)
{
    struct stat st;

    if (r == NULL || !r->resolvconf)
        return false;
    if (stat(resolv_conf, &st) != 0)
        return r->rc_ino != 0; /* it went away */
    return st.st_mtim.tv_sec != r->rc_mtime.tv_sec || st.st_mtim.tv_nsec != r->rc_mtime.tv_nsec ||
           st.st_size != r->rc_size || st.st_ino != r->rc_ino;
}

fwdrules_t *fwdrules_new(const cfg_t *cfg, const fwdrules_t *old, char *err, size_t errcap)
{
    char why[1024];
    fwdrules_t *r = fwdrules_parse(cfg->forward, cfg->nforward, why, sizeof(why));
    spec_t *specs = calloc(SPEC_MAX, sizeof(*specs));

    if (r == NULL || specs == NULL) {
        snprintf(err, errcap, "forward: %s", r == NULL ? why : "out of memory");
        goto fail;
    }
    if (r->resolvconf)
        stat_resolv_conf(r, cfg->resolv_conf);
    for (size_t i = 0; i < r->n; i++) {
        fwdrule_t *ru = &r->rule[i];
        int o = fwdrules_find(old, ru->domain, ru->domain_len);
        int n = rule_specs(cfg, ru, specs, err, errcap);
        if (n < 0)
            goto fail;
        ru->pool = pool_new_specs(cfg, specs, n, o >= 0 ? old->rule[o].pool : NULL, err, errcap);
        if (ru->pool == NULL)
            goto fail;
        size_t sl = strlen(ru->name) + sizeof("forward:");
        ru->pool->source = malloc(sl);
        if (ru->pool->source == NULL) {
            snprintf(err, errcap, "out of memory");
            goto fail;
        }
        snprintf(ru->pool->source, sl, "forward:%s", ru->name);
        if (o >= 0)
            atomic_store(&ru->queries, atomic_load(&old->rule[o].queries));
    }
    free(specs);
    return r;
fail:
    free(specs);
    fwdrules_unref(r);
    return NULL;
}

bool fwdrules_same_rule(const fwdrules_t *a, size_t i, const fwdrules_t *b, size_t j)
{
    const pool_t *pa = a->rule[i].pool, *pb = b->rule[j].pool;

    if (a->rule[i].domain_len != b->rule[j].domain_len ||
        memcmp(a->rule[i].domain, b->rule[j].domain, a->rule[i].domain_len) != 0)
        return false;
    if (pa == NULL || pb == NULL)
        return strcmp(a->rule[i].text, b->rule[j].text) == 0;
    if (pa->n != pb->n)
        return false;
    for (size_t k = 0; k < pa->n; k++)
        if (strcmp(pa->servers[k]->spec.name, pb->servers[k]->spec.name) != 0)
            return false;
    return true;
}

size_t fwdrules_warn_plaintext(const fwdrules_t *r, const pool_t *servers, const char *where)
{
    size_t n = 0;

    if (r == NULL || servers == NULL || !servers->encrypted)
        return 0;
    for (size_t i = 0; i < r->n; i++) {
        const pool_t *p = r->rule[i].pool;
        if (p == NULL || p->n == 0 || p->encrypted)
            continue;
        log_warnx("%s%sforward %s: plaintext upstream %s beside encrypted servers: queries for "
                  "%s and below leave unencrypted",
                  where != NULL ? where : "", where != NULL ? ": " : "", r->rule[i].name,
                  p->servers[0]->spec.name, r->rule[i].name);
        n++;
    }
    return n;
}

/* ---------------------------------------------------------------- instances */

fwdrules_inst_t *fwdrules_inst_new(fwdrules_t *r, struct event_base *base)
{
    fwdrules_inst_t *ri = calloc(1, sizeof(*ri));

    if (ri == NULL)
        return NULL;
    ri->pi = calloc(r->n ? r->n : 1, sizeof(*ri->pi));
    if (ri->pi == NULL) {
        free(ri);
        return NULL;
    }
    fwdrules_ref(r);
    ri->rules = r;
    for (size_t i = 0; i < r->n; i++) {
        ri->pi[i] = pool_inst_new(r->rule[i].pool, base);
        if (ri->pi[i] == NULL) {
            fwdrules_inst_free(ri);
            return NULL;
        }
    }
    return ri;
}

void fwdrules_inst_free(fwdrules_inst_t *ri)
{
    if (ri == NULL)
        return;
    for (size_t i = 0; i < ri->rules->n; i++)
        pool_inst_release(ri->pi[i]);
    free(ri->pi);
    fwdrules_unref(ri->rules);
    free(ri);
}
