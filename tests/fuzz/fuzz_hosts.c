/* libFuzzer target: the parsers of local answers (src/daemon/localdata.c):
 * `local` record lines (through the library's master-file RDATA parser)
 * and hosts files, then the answers built from them.
 *
 * Input: one flags byte (bit 0 special_names, bit 1 the client sent
 * EDNS, bit 2 a 512-byte client), then the `local` key's text (records
 * separated by ", ") up to the first NUL byte, then a hosts file's text.
 *
 * Checks:
 * - a record local_rec_parse() accepts gives canonical text that it
 *   accepts again, with the same owner, type, TTL and RDATA;
 * - the table builds from the accepted records and the hosts text (or
 *   refuses with a message: a CNAME beside other data);
 * - every listed record parses again;
 * - for every accepted owner and a few fixed names, each of several
 *   types gets a reply that the codec parses, with the client's ID and
 *   question, AA set, no longer than the client takes. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <stubres/wire.h>

#include "fuzz.h"
#include "localdata.h"

#define MAX_RECS 64

typedef struct ctx {
    char *recs[MAX_RECS];
    size_t n;
    local_rec_t a, b;
} ctx_t;

static int take(void *arg, const char *text)
{
    ctx_t *x = arg;
    char canon[LOCAL_RDATA_MAX + SR_NAME_MAX_TEXT + 64], err[600];

    if (x->n == MAX_RECS ||
        local_rec_parse(text, &x->a, canon, sizeof(canon), err, sizeof(err)) != 0)
        return 0;
    /* The canonical text means the same record. */
    if (local_rec_parse(canon, &x->b, NULL, 0, err, sizeof(err)) != 0)
        abort();
    if (x->a.type != x->b.type || x->a.has_ttl != x->b.has_ttl || x->a.ttl != x->b.ttl ||
        !sr_name_equal(x->a.name, x->a.name_len, x->b.name, x->b.name_len) ||
        x->a.rdlen != x->b.rdlen || memcmp(x->a.rdata, x->b.rdata, x->a.rdlen) != 0)
        abort();
    x->recs[x->n] = strdup(canon);
    if (x->recs[x->n] != NULL)
        x->n++;
    return 0;
}

static void relisted(void *arg, const char *line)
{
    ctx_t *x = arg;
    char err[600];
    if (local_rec_parse(line, &x->b, NULL, 0, err, sizeof(err)) != 0)
        abort();
}

static void ask(const localdata_t *ld, sr_msg_t *m, const uint8_t *qname, size_t qlen,
                uint16_t type, uint8_t flags)
{
    static uint8_t out[65535 + 64];
    cache_query_t q;
    size_t n = 0;

    memset(&q, 0, sizeof(q));
    q.id = 0xBEEF;
    q.flags = SR_FLAG_RD;
    q.qname = qname;
    q.qname_len = qlen;
    q.qtype = type;
    q.qclass = SR_CLASS_IN;
    q.edns = (flags & 2) != 0;
    q.max_len = (flags & 4) ? 512 : 65535;
    if (localdata_answer(ld, &q, NULL, NULL, out, sizeof(out), &n) == LOCAL_NONE)
        return;
    if (n == 0 || n > q.max_len || sr_msg_parse(m, out, n, 0) != SR_OK)
        abort();
    size_t rl = 0;
    const uint8_t *rq = sr_msg_qname_wire(m, &rl);
    if (((unsigned)out[0] << 8 | out[1]) != 0xBEEF || !(sr_msg_flags(m) & SR_FLAG_AA) ||
        rq == NULL || rl != qlen || memcmp(rq, qname, qlen) != 0 || sr_msg_qtype(m) != type)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint16_t types[] = {SR_TYPE_A,   SR_TYPE_AAAA, SR_TYPE_PTR, SR_TYPE_CNAME,
                                     SR_TYPE_TXT, SR_TYPE_MX,   SR_TYPE_ANY};
    static const char *const fixed[] = {
        "localhost",     "x.home.arpa", "1.0.0.127.in-addr.arpa", "1.1.20.172.in-addr.arpa",
        "printer.local", "example"};
    ctx_t *x;
    char *text, err[600];
    uint8_t flags;
    size_t tl;

    if (size < 1 || size > 64 * 1024)
        return 0;
    flags = data[0];
    data++;
    size--;
    for (tl = 0; tl < size && data[tl] != 0; tl++)
        ;
    x = calloc(1, sizeof(*x));
    text = malloc(tl + 1);
    if (x == NULL || text == NULL)
        goto done;
    memcpy(text, data, tl);
    text[tl] = '\0';
    local_split(text, take, x);

    local_src_t src = {
        .records = (const char *const *)x->recs,
        .nrecords = x->n,
        .local_ttl = 300,
        .special_names = (flags & 1) != 0,
        .hosts_text = tl < size ? (const char *)data + tl + 1 : NULL,
        .hosts_text_len = tl < size ? size - tl - 1 : 0,
    };
    localdata_t *ld = localdata_new(&src, err, sizeof(err));
    if (ld == NULL) {
        if (err[0] == '\0')
            abort(); /* a refusal says why */
        goto done;
    }
    localdata_list(ld, relisted, x);
    sr_msg_t *m = sr_msg_new();
    if (m != NULL) {
        for (size_t i = 0; i < x->n; i++) {
            if (local_rec_parse(x->recs[i], &x->a, NULL, 0, err, sizeof(err)) != 0)
                abort();
            for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
                ask(ld, m, x->a.name, x->a.name_len, types[t], flags);
        }
        for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
            uint8_t w[SR_NAME_MAX_WIRE];
            size_t wl;
            if (sr_name_from_text(fixed[i], w, sizeof(w), &wl) == SR_OK)
                for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
                    ask(ld, m, w, wl, types[t], flags);
        }
        sr_msg_free(m);
    }
    localdata_unref(ld);
done:
    if (x != NULL)
        for (size_t i = 0; i < x->n; i++)
            free(x->recs[i]);
    free(x);
    free(text);
    return 0;
}
