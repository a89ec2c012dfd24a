/* stubresd: `cache dump` (see cache.h): one line per entry, rendered as a
 * hit would be and parsed by the codec for the record texts. The control
 * socket's slow path: it holds one shard lock at a time. */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cache-internal.h"
#include "codec-internal.h"

typedef struct strbuf {
    char *p;
    size_t len;
    size_t cap;
    bool failed;
} strbuf_t;

static void sb_add(strbuf_t *b, const char *s)
{
    size_t n = strlen(s);
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap != 0 ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = sr_realloc(b->p, cap);
        if (p == NULL) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

static void sb_u32(strbuf_t *b, uint32_t v)
{
    char tmp[16];
    snprintf(tmp, sizeof(tmp), "%u", (unsigned)v);
    sb_add(b, tmp);
}

static const char *class_name(uint16_t cls, char buf[16])
{
    switch (cls) {
    case 1: return "IN";
    case 3: return "CH";
    case 4: return "HS";
    case 254: return "NONE";
    case 255: return "ANY";
    default: snprintf(buf, 16, "CLASS%u", (unsigned)cls); return buf;
    }
}

/* e rendered into tmp as a hit would be (TTLs counted down, 0 past
 * expiry), its name as text; the length, 0 when it does not render. */
static size_t render_entry(const centry_t *e, uint32_t now, uint8_t *tmp, size_t tmpcap,
                           char text[SR_NAME_MAX_TEXT])
{
    cache_query_t q;
    bool fresh = now < e->expire;
    uint32_t zero = 0;

    memset(&q, 0, sizeof(q));
    q.qname = entry_cimg(e) + SR_HEADER_LEN;
    q.qname_len = e->name_len;
    q.qtype = e->qtype;
    q.qclass = e->qclass;
    q.max_len = UINT16_MAX;
    if (sr_name_to_text(q.qname, q.qname_len, text, SR_NAME_MAX_TEXT) != SR_OK)
        snprintf(text, SR_NAME_MAX_TEXT, "?");
    return cache_entry_render(e, &q, fresh && now > e->stored ? now - e->stored : 0,
                              fresh ? NULL : &zero, tmp, tmpcap);
}

static void sb_clear(strbuf_t *b)
{
    b->len = 0;
    b->failed = false;
    if (b->p != NULL)
        b->p[0] = '\0';
}

/* One dump line for e into b. The image is rendered as a hit would be
 * (TTLs counted down) and parsed by the codec for the record texts. */
static void dump_entry(const centry_t *e, uint32_t now, sr_msg_t *msg, uint8_t *tmp, size_t tmpcap,
                       strbuf_t *b)
{
    char text[SR_NAME_MAX_TEXT];
    char nb[16];
    bool fresh = now < e->expire;
    size_t n = render_entry(e, now, tmp, tmpcap, text);

    b->len = 0;
    if (b->p != NULL)
        b->p[0] = '\0';
    sb_add(b, text);
    sb_add(b, " ");
    sb_add(b, sr_type_name(e->qtype, nb));
    sb_add(b, " ");
    sb_add(b, class_name(e->qclass, nb));
    sb_add(b, " ");
    sb_add(b, sr_rcode_name(e->rcode, nb));
    sb_add(b, " ");
    sb_u32(b, fresh ? e->expire - now : 0);
    if (n == 0 || sr_msg_parse(msg, tmp, n, 0) != SR_OK)
        return;
    for (size_t i = 0; i < sr_msg_rr_count(msg); i++) {
        const sr_rr_t *rr = sr_msg_rr(msg, i);
        if (rr->section != SR_SECTION_ANSWER)
            break;
        sb_add(b, " ");
        sb_add(b, rr->name != NULL ? rr->name : "?");
        sb_add(b, " ");
        sb_u32(b, rr->ttl);
        sb_add(b, " ");
        sb_add(b, sr_type_name(rr->type, nb));
        for (size_t f = 0; f < rr->field_count; f++) {
            sb_add(b, " ");
            sb_add(b, rr->fields[f].value != NULL ? rr->fields[f].value : "");
        }
    }
}

/* The master-file lines of e, each to fn (cache_dump_zone). The name of
 * the comment and the owners get their final dot: absolute names. */
static void zone_entry(const centry_t *e, uint32_t now, sr_msg_t *msg, uint8_t *tmp, size_t tmpcap,
                       strbuf_t *b, void (*fn)(void *arg, const char *line), void *arg)
{
    char text[SR_NAME_MAX_TEXT], nb[16];
    size_t n = render_entry(e, now, tmp, tmpcap, text);

    sb_clear(b);
    sb_add(b, "; ");
    sb_add(b, text);
    sb_add(b, strcmp(text, ".") == 0 ? " " : ". ");
    sb_add(b, class_name(e->qclass, nb));
    sb_add(b, " ");
    sb_add(b, sr_type_name(e->qtype, nb));
    sb_add(b, " ");
    sb_add(b, sr_rcode_name(e->rcode, nb));
    sb_add(b, ", ");
    sb_u32(b, now < e->expire ? e->expire - now : 0);
    sb_add(b, now < e->expire ? " s left" : " s left (stale)");
    if (!b->failed)
        fn(arg, b->p);
    if (n == 0 || sr_msg_parse(msg, tmp, n, 0) != SR_OK)
        return;
    for (size_t i = 0; i < sr_msg_rr_count(msg); i++) {
        const sr_rr_t *rr = sr_msg_rr(msg, i);
        if (rr->section != SR_SECTION_ANSWER)
            break;
        sb_clear(b);
        sb_add(b, rr->name != NULL ? rr->name : "?");
        sb_add(b, rr->name != NULL && strcmp(rr->name, ".") == 0 ? " " : ". ");
        sb_u32(b, rr->ttl);
        sb_add(b, " ");
        sb_add(b, class_name(rr->rclass, nb));
        sb_add(b, " ");
        sb_add(b, sr_type_name(rr->type, nb));
        for (size_t f = 0; f < rr->field_count; f++) {
            sb_add(b, " ");
            sb_add(b, rr->fields[f].value != NULL ? rr->fields[f].value : "");
        }
        if (!b->failed)
            fn(arg, b->p);
    }
}

/* Every entry of every shard, under its shard's lock, to dump_entry()
 * (one JSON object per entry) or zone_entry() (master-file lines). */
static void walk(cache_t *c, uint32_t now, bool zone, void (*fn)(void *arg, const char *line),
                 void *arg)
{
    strbuf_t b = {NULL, 0, 0, false};
    size_t tmpcap = UINT16_MAX + OPT_LEN;
    uint8_t *tmp = NULL;
    sr_msg_t *msg = NULL;

    if (c == NULL || fn == NULL)
        return;
    tmp = sr_malloc(tmpcap);
    msg = sr_msg_new();
    if (tmp == NULL || msg == NULL)
        goto done;
    for (unsigned i = 0; i < c->nshards; i++) {
        shard_t *s = c->shards[i];
        shard_lock(s);
        for (centry_t *e = s->head; e != NULL; e = e->lru_next) {
            if (zone) {
                zone_entry(e, now, msg, tmp, tmpcap, &b, fn, arg);
                continue;
            }
            b.failed = false;
            dump_entry(e, now, msg, tmp, tmpcap, &b);
            if (!b.failed && b.p != NULL)
                fn(arg, b.p);
        }
        shard_unlock(s);
    }
done:
    sr_msg_free(msg);
    sr_free(tmp);
    sr_free(b.p);
}

void cache_dump_zone(cache_t *c, uint32_t now, void (*fn)(void *arg, const char *line), void *arg)
{
    walk(c, now, true, fn, arg);
}

void cache_dump(cache_t *c, uint32_t now, void (*fn)(void *arg, const char *line), void *arg)
{
    walk(c, now, false, fn, arg);
}
