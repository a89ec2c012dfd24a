/* stubresd: answers stubresd gives itself (see localdata.h).
 *
 * Built once per settings (or hosts file change) into flat arrays: the
 * names (lowercase wire form), a hash over them, the RRsets of each name
 * as ready answer records whose owner is a pointer to the question (0xC00C),
 * so a hit copies them behind the client's own question and is done. A
 * CNAME's target records are copied the same way with the owner pointing
 * at the CNAME's RDATA in the reply. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "codec-internal.h" /* sr_get16/sr_put16/sr_put32 */
#include "localdata.h"

#define RCODE_NOERROR 0u
#define RCODE_NXDOMAIN 3u
#define OPT_LEN 11u
#define QFIXED 4u
/* Owner name of a record that is the question's: a pointer to offset 12. */
#define PTR_QNAME_HI 0xC0u
#define PTR_QNAME_LO 0x0Cu
/* Bytes of a record beside its owner and RDATA: type, class, TTL, length. */
#define RR_FIXED 10u
/* CNAMEs followed inside the table for one answer. */
#define LOCAL_MAX_CHAIN 8
/* Largest hosts file read (a bigger one is refused with a warning). */
#define LOCAL_HOSTS_MAX (64u * 1024u * 1024u)
/* Hosts files of one `hosts` key. */
#define LOCAL_MAX_FILES 16
/* Records the table holds, all sources. */
#define LOCAL_MAX_RECORDS (4u * 1024u * 1024u)

enum { SRC_LOCAL = 0, SRC_HOSTS = 1, SRC_SPECIAL = 2 };

/* A record while the table is built. */
typedef struct brec {
    uint8_t *name; /* lowercase wire form (owned) */
    uint8_t *rdata;
    uint32_t ttl;
    uint32_t seq;
    uint16_t rdlen;
    uint16_t type;
    uint8_t name_len;
    uint8_t source;
    bool synth; /* a PTR made for an A/AAAA record */
} brec_t;

typedef struct lset {
    uint16_t type;
    uint16_t count;
    uint32_t off; /* into blob */
    uint32_t len;
} lset_t;

typedef struct lnode {
    uint32_t hash;
    uint32_t next; /* chain: index + 1, 0 ends */
    uint32_t name_off;
    uint32_t set0;
    uint16_t nsets;
    uint8_t name_len;
    uint8_t source;
    int cname; /* index of its CNAME set, or -1 */
} lnode_t;

typedef struct hfile {
    char *path;
    bool exists;
    struct timespec mtime;
    off_t size;
} hfile_t;

struct localdata {
    atomic_int refs;
    bool special;
    uint32_t local_ttl;
    /* the table */
    lnode_t *nodes;
    size_t nnodes;
    uint32_t *buckets; /* node index + 1, 0 empty */
    uint64_t lens[4];  /* bit n: a name of wire length n is in the table */
    size_t mask;
    lset_t *sets;
    size_t nsets;
    uint8_t *names;
    uint8_t *blob;
    /* building */
    brec_t *recs;
    size_t nrecs, caprecs;
    unsigned max_warnings;
    void (*warn)(void *arg, const char *msg);
    void *warn_arg;
    /* the `local` records, for `stubresctl local` */
    char **texts;
    size_t ntexts;
    hfile_t files[LOCAL_MAX_FILES];
    size_t nfiles;
};

const char *local_source_name(local_source_t s)
{
    switch (s) {
    case LOCAL_LOCAL: return "local";
    case LOCAL_HOSTS: return "hosts";
    case LOCAL_SPECIAL: return "special";
    default: return "none";
    }
}

/* ------------------------------------------------------------ parsing */

static uint8_t lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* The next blank-separated token of *p into tok (cap bytes); false at the
 * end or when it is too long. */
static bool next_token(const char **p, char *tok, size_t cap)
{
    const char *s = *p;
    size_t n = 0;

    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '\0')
        return false;
    while (*s != '\0' && *s != ' ' && *s != '\t') {
        if (*s == '\\' && s[1] != '\0') { /* an escaped blank stays in */
            if (n + 1 >= cap)
                return false;
            tok[n++] = *s++;
        }
        if (n + 1 >= cap)
            return false;
        tok[n++] = *s++;
    }
    tok[n] = '\0';
    *p = s;
    return true;
}

static bool all_digits(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* Types a record may not have: OPT (RFC 6891 6.1.1) and the query-only
 * types (RFC 6895 3.1: 128-255 are QTYPEs and meta-types). */
static bool storable_type(int t)
{
    return t > 0 && t != SR_TYPE_OPT && (t < 128 || t > 255);
}

int local_rec_parse(const char *text, local_rec_t *r, char *canon, size_t canon_cap, char *err,
                    size_t errcap)
{
    char tok[SR_NAME_MAX_TEXT + 8], name[SR_NAME_MAX_TEXT + 8], tb[16];
    const char *p = text;
    int type = -1;
    bool has_class = false;

    memset(r, 0, offsetof(local_rec_t, rdata));
    r->rdlen = 0;
    if (!next_token(&p, name, sizeof(name))) {
        snprintf(err, errcap, "expected NAME [TTL] [IN] TYPE RDATA");
        return -1;
    }
    if (sr_name_from_text(name, r->name, sizeof(r->name), &r->name_len) != SR_OK) {
        snprintf(err, errcap, "'%.80s' is not a domain name", name);
        return -1;
    }
    /* TTL and class come in either order (RFC 1035 5.1). */
    for (;;) {
        if (!next_token(&p, tok, sizeof(tok))) {
            snprintf(err, errcap, "%.80s: no type", name);
            return -1;
        }
        if (!r->has_ttl && all_digits(tok)) {
            char *end;
            errno = 0;
            unsigned long t = strtoul(tok, &end, 10);
            if (errno != 0 || t > 0x7FFFFFFFul) { /* RFC 2181 8 */
                snprintf(err, errcap, "%.80s: TTL %.20s is over 2147483647", name, tok);
                return -1;
            }
            r->ttl = (uint32_t)t;
            r->has_ttl = true;
            continue;
        }
        if (!has_class && strcasecmp(tok, "IN") == 0) {
            has_class = true;
            continue;
        }
        if (!has_class && (strcasecmp(tok, "CH") == 0 || strcasecmp(tok, "HS") == 0 ||
                           strcasecmp(tok, "CS") == 0)) {
            snprintf(err, errcap, "%.80s: class %s: only class IN is served", name, tok);
            return -1;
        }
        break;
    }
    type = sr_type_from_name(tok);
    if (type < 0) {
        snprintf(err, errcap, "%.80s: '%.40s' is not a record type", name, tok);
        return -1;
    }
    if (!storable_type(type)) {
        snprintf(err, errcap, "%.80s: %s is not a type a record can have", name, tok);
        return -1;
    }
    r->type = (uint16_t)type;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t rl = strlen(p);
    while (rl > 0 && (p[rl - 1] == ' ' || p[rl - 1] == '\t'))
        rl--;
    char *rd = strndup(p, rl);
    if (rd == NULL) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    sr_status_t st = rl == 0
                         ? SR_E_FORMERR
                         : sr_rdata_from_text(r->type, rd, r->rdata, sizeof(r->rdata), &r->rdlen);
    if (st != SR_OK) {
        snprintf(err, errcap, "%.80s %s: '%.100s' is not %s RDATA%s", name,
                 sr_type_name(r->type, tb), rd, sr_type_name(r->type, tb),
                 st == SR_E_NOBUFS ? " (too long)" : "");
        free(rd);
        return -1;
    }
    if (canon != NULL) {
        char owner[SR_NAME_MAX_TEXT];
        if (sr_name_to_text(r->name, r->name_len, owner, sizeof(owner)) != SR_OK)
            snprintf(owner, sizeof(owner), "%.*s", (int)sizeof(owner) - 1, name);
        if (r->has_ttl)
            snprintf(canon, canon_cap, "%s %u IN %s %s", owner, r->ttl, sr_type_name(r->type, tb),
                     rd);
        else
            snprintf(canon, canon_cap, "%s IN %s %s", owner, sr_type_name(r->type, tb), rd);
    }
    free(rd);
    return 0;
}

int local_split(const char *text, int (*fn)(void *arg, const char *rec), void *arg)
{
    char *copy = strdup(text), *start, *p;
    bool quoted = false;
    int rc = 0;

    if (copy == NULL)
        return -1;
    start = copy;
    for (p = copy;; p++) {
        bool end = *p == '\0';
        if (!end && *p == '\\' && p[1] != '\0') {
            p++;
            continue;
        }
        if (!end && *p == '"')
            quoted = !quoted;
        if (end || (!quoted && p[0] == ',' && (p[1] == ' ' || p[1] == '\t'))) {
            char *s = start, *e = p;
            *p = '\0';
            while (*s == ' ' || *s == '\t')
                s++;
            while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            *e = '\0';
            if (*s != '\0' && (rc = fn(arg, s)) != 0)
                break;
            if (end)
                break;
            start = p + 1;
        }
    }
    free(copy);
    return rc;
}

/* ------------------------------------------------------------ building */

static void warnf(localdata_t *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(localdata_t *ld, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    if (ld->warn == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    ld->warn(ld->warn_arg, buf);
}

static int add_rec(localdata_t *ld, const uint8_t *name, size_t name_len, uint16_t type,
                   uint32_t ttl, const uint8_t *rdata, size_t rdlen, int source, bool synth)
{
    brec_t *r;

    if (ld->nrecs >= LOCAL_MAX_RECORDS || rdlen > UINT16_MAX || name_len > SR_NAME_MAX_WIRE)
        return -1;
    if (ld->nrecs == ld->caprecs) {
        size_t cap = ld->caprecs ? ld->caprecs * 2 : 64;
        brec_t *n = realloc(ld->recs, cap * sizeof(*n));
        if (n == NULL)
            return -1;
        ld->recs = n;
        ld->caprecs = cap;
    }
    r = &ld->recs[ld->nrecs];
    memset(r, 0, sizeof(*r));
    r->name = malloc(name_len + rdlen + 1);
    if (r->name == NULL)
        return -1;
    for (size_t i = 0; i < name_len; i++)
        r->name[i] = lower(name[i]);
    r->rdata = r->name + name_len;
    memcpy(r->rdata, rdata, rdlen);
    r->name_len = (uint8_t)name_len;
    r->rdlen = (uint16_t)rdlen;
    r->type = type;
    r->ttl = ttl;
    r->seq = (uint32_t)ld->nrecs;
    r->source = (uint8_t)source;
    r->synth = synth;
    ld->nrecs++;
    return 0;
}

/* The hosts-format line's address: A or AAAA data. */
static int parse_addr(const char *s, uint16_t *type, uint8_t *a)
{
    if (inet_pton(AF_INET, s, a) == 1) {
        *type = SR_TYPE_A;
        return 0;
    }
    if (inet_pton(AF_INET6, s, a) == 1) {
        *type = SR_TYPE_AAAA;
        return 0;
    }
    return -1;
}

/* One hosts line (comment cut): ADDRESS NAME [ALIAS...]. Returns the
 * names taken, -1 when the line is bad (why in err). */
static int hosts_line(localdata_t *ld, char *line, bool *bad, char *err, size_t errcap)
{
    char tok[SR_NAME_MAX_TEXT + 8], addr[64];
    const char *p = line;
    uint8_t a[16], wire[SR_NAME_MAX_WIRE];
    uint16_t type;
    size_t wl;
    int n = 0;

    if (!next_token(&p, tok, sizeof(tok)))
        return 0; /* blank */
    snprintf(addr, sizeof(addr), "%.63s", tok);
    if (parse_addr(addr, &type, a) != 0) {
        snprintf(err, errcap, "'%.60s' is not an IP address", addr);
        *bad = true;
        return 0;
    }
    while (next_token(&p, tok, sizeof(tok))) {
        if (sr_name_from_text(tok, wire, sizeof(wire), &wl) != SR_OK || wl <= 1) {
            snprintf(err, errcap, "'%.80s' is not a host name", tok);
            *bad = true;
            continue;
        }
        if (add_rec(ld, wire, wl, type, ld->local_ttl, a, type == SR_TYPE_A ? 4 : 16, SRC_HOSTS,
                    false) != 0) {
            snprintf(err, errcap, "too many records");
            return -1;
        }
        n++;
    }
    if (n == 0 && !*bad) {
        snprintf(err, errcap, "%s: no host name", addr);
        *bad = true;
    }
    return n;
}

/* The lines of one hosts file; returns the number of names taken. */
static size_t add_hosts_text(localdata_t *ld, const char *file, const char *text, size_t len)
{
    unsigned warned = 0, skipped = 0, max = ld->max_warnings ? ld->max_warnings : 10;
    size_t taken = 0, lineno = 0, i = 0;
    char line[1024], err[256];

    while (i < len) {
        size_t n = 0;
        bool long_line = false;
        lineno++;
        while (i < len && text[i] != '\n') {
            if (n + 1 < sizeof(line))
                line[n++] = text[i];
            else
                long_line = true;
            i++;
        }
        i++; /* the newline */
        line[n] = '\0';
        for (size_t j = 0; j < n; j++) {
            if (line[j] == '#' || line[j] == '\r' || line[j] == '\0') {
                line[j] = '\0';
                break;
            }
        }
        bool bad = long_line;
        int r = long_line ? 0 : hosts_line(ld, line, &bad, err, sizeof(err));
        if (long_line)
            snprintf(err, sizeof(err), "line longer than %zu bytes", sizeof(line) - 1);
        if (r > 0)
            taken += (size_t)r;
        if (r < 0) {
            if (warned < max)
                warnf(ld, "%s:%zu: %s; stopped reading", file, lineno, err);
            break;
        }
        if (bad) {
            if (warned < max)
                warnf(ld, "%s:%zu: %s; skipped", file, lineno, err);
            else
                skipped++;
            warned++;
        }
    }
    if (skipped > 0)
        warnf(ld, "%s: %u more bad lines skipped", file, skipped);
    return taken;
}

static void read_hosts_file(localdata_t *ld, hfile_t *hf)
{
    struct stat sb;
    FILE *f = fopen(hf->path, "re");
    char *buf = NULL;
    size_t got = 0;

    hf->exists = false;
    if (f == NULL) {
        warnf(ld, "hosts %s: %s", hf->path, strerror(errno));
        /* Remember the time anyway: a file that appears is read. */
        if (stat(hf->path, &sb) == 0) {
            hf->exists = true;
            hf->mtime = sb.st_mtim;
            hf->size = sb.st_size;
        }
        return;
    }
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > LOCAL_HOSTS_MAX) {
        warnf(ld, "hosts %s: not a regular file of at most %u bytes", hf->path, LOCAL_HOSTS_MAX);
        goto done;
    }
    hf->exists = true;
    hf->mtime = sb.st_mtim;
    hf->size = sb.st_size;
    buf = malloc((size_t)sb.st_size + 1);
    if (buf == NULL) {
        warnf(ld, "hosts %s: out of memory", hf->path);
        goto done;
    }
    got = fread(buf, 1, (size_t)sb.st_size, f);
    add_hosts_text(ld, hf->path, buf, got);
done:
    free(buf);
    fclose(f);
}

/* Order: name, then source (local before hosts before special), then
 * type, then the order written. */
static int rec_cmp(const void *pa, const void *pb)
{
    const brec_t *a = pa, *b = pb;
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int c = memcmp(a->name, b->name, n);

    if (c != 0)
        return c;
    if (a->name_len != b->name_len)
        return a->name_len < b->name_len ? -1 : 1;
    if (a->source != b->source)
        return a->source < b->source ? -1 : 1;
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    if (a->synth != b->synth)
        return a->synth ? 1 : -1; /* a given PTR before a made one */
    if (!a->synth) {
        /* Equal records side by side (an RRset has no order); made PTRs
         * stay in the order written, the first name first. */
        if (a->rdlen != b->rdlen)
            return a->rdlen < b->rdlen ? -1 : 1;
        c = memcmp(a->rdata, b->rdata, a->rdlen);
        if (c != 0)
            return c;
    }
    return a->seq < b->seq ? -1 : (a->seq > b->seq ? 1 : 0);
}

/* The PTR of every A/AAAA record of local and hosts (RFC 1035 3.5,
 * RFC 3596 2.5), except for the unspecified addresses (a block list's
 * 0.0.0.0 lines would make one name of thousands). */
static int add_ptrs(localdata_t *ld)
{
    size_t n = ld->nrecs;
    for (size_t i = 0; i < n; i++) {
        brec_t r = ld->recs[i];
        char a[64], rev[96];
        uint8_t wire[SR_NAME_MAX_WIRE];
        size_t wl;
        static const uint8_t zero[16];

        if ((r.type != SR_TYPE_A && r.type != SR_TYPE_AAAA) || r.source == SRC_SPECIAL ||
            memcmp(r.rdata, zero, r.rdlen) == 0)
            continue;
        if (inet_ntop(r.type == SR_TYPE_A ? AF_INET : AF_INET6, r.rdata, a, sizeof(a)) == NULL ||
            sr_reverse_name(a, rev, sizeof(rev)) != SR_OK ||
            sr_name_from_text(rev, wire, sizeof(wire), &wl) != SR_OK)
            continue;
        if (add_rec(ld, wire, wl, SR_TYPE_PTR, r.ttl, r.name, r.name_len, r.source, true) != 0)
            return -1;
    }
    return 0;
}

/* The names special_names answers with data: localhost (RFC 6761 6.3)
 * and the PTR of its addresses, as unbound's default zones do. */
static int add_special(localdata_t *ld)
{
    static const uint8_t lh[] = "\x09localhost";
    static const uint8_t v4[] = {127, 0, 0, 1};
    static const uint8_t v6[16] = {[15] = 1};
    static const char *const rev[] = {
        "1.0.0.127.in-addr.arpa",
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa"};
    uint8_t wire[SR_NAME_MAX_WIRE];
    size_t wl;

    if (add_rec(ld, lh, sizeof(lh), SR_TYPE_A, ld->local_ttl, v4, 4, SRC_SPECIAL, false) != 0 ||
        add_rec(ld, lh, sizeof(lh), SR_TYPE_AAAA, ld->local_ttl, v6, 16, SRC_SPECIAL, false) != 0)
        return -1;
    for (size_t i = 0; i < 2; i++)
        if (sr_name_from_text(rev[i], wire, sizeof(wire), &wl) != SR_OK ||
            add_rec(ld, wire, wl, SR_TYPE_PTR, ld->local_ttl, lh, sizeof(lh), SRC_SPECIAL, false) !=
                0)
            return -1;
    return 0;
}

/* A hash of the name that ignores ASCII case, eight bytes at a step: OR
 * 0x20 into every byte folds A-Z onto a-z (and a few other bytes onto
 * each other, which costs only a compare). It runs for every query, so
 * it must cost little next to a cache hit (a byte-wise FNV-1a took a
 * tenth of one). The table never changes after the build, so crafted
 * query names cannot lengthen a chain. */
static uint32_t name_hash(const uint8_t *name, size_t len)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ len, w;
    uint8_t tail[8] = {0};

    for (; len >= 8; name += 8, len -= 8) {
        memcpy(&w, name, 8);
        h = (h ^ (w | 0x2020202020202020ull)) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
    }
    if (len > 0) {
        memcpy(tail, name, len);
        memcpy(&w, tail, 8);
        h = (h ^ (w | 0x2020202020202020ull)) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
    }
    return (uint32_t)h;
}

static bool same_rec(const brec_t *a, const brec_t *b)
{
    return a->type == b->type && a->rdlen == b->rdlen && memcmp(a->rdata, b->rdata, a->rdlen) == 0;
}

/* Sorted records into nodes, sets and the blob. Records of a name from a
 * later source than its first are dropped (local wins over hosts, both
 * over the special names), and so are repeated records, and made PTRs
 * beside a given one (or after the first made one). */
static int freeze(localdata_t *ld, char *err, size_t errcap)
{
    size_t blob_len = 0, names_len = 0, nnodes = 0, nsets = 0, head = 0, last = SIZE_MAX;
    brec_t *r = ld->recs;
    size_t n = ld->nrecs;
    bool *keep = calloc(n ? n : 1, sizeof(bool));

    if (keep == NULL)
        goto nomem;
    if (n > 0) /* qsort's base may not be NULL, even for no elements */
        qsort(r, n, sizeof(*r), rec_cmp);
    for (size_t i = 0; i < n; i++) {
        bool first_of_name = i == 0 || r[i - 1].name_len != r[i].name_len ||
                             memcmp(r[i - 1].name, r[i].name, r[i].name_len) != 0;
        if (first_of_name)
            head = i; /* the name's first record: its source wins */
        if (r[i].source != r[head].source)
            continue;
        /* Sorted, a repeat is next to what it repeats, and a made PTR
         * comes after every other PTR of its name: one look back each
         * (thousands of block-list names on 127.0.0.1 make thousands of
         * PTRs of one name). */
        bool new_set = last == SIZE_MAX || last < head || r[last].type != r[i].type;
        if (!new_set && (r[i].synth || same_rec(&r[last], &r[i])))
            continue;
        keep[i] = true;
        last = i;
        if (first_of_name) {
            nnodes++;
            names_len += r[i].name_len;
        }
        if (new_set)
            nsets++;
        blob_len += 2 + RR_FIXED + r[i].rdlen;
    }
    if (blob_len > UINT32_MAX)
        goto nomem;
    ld->nodes = calloc(nnodes ? nnodes : 1, sizeof(*ld->nodes));
    ld->sets = calloc(nsets ? nsets : 1, sizeof(*ld->sets));
    ld->names = malloc(names_len ? names_len : 1);
    ld->blob = malloc(blob_len ? blob_len : 1);
    size_t nb = 16;
    while (nb < nnodes * 2)
        nb *= 2;
    ld->buckets = calloc(nb, sizeof(*ld->buckets));
    ld->mask = nb - 1;
    if (ld->nodes == NULL || ld->sets == NULL || ld->names == NULL || ld->blob == NULL ||
        ld->buckets == NULL)
        goto nomem;

    size_t bo = 0, no = 0;
    lnode_t *node = NULL;
    lset_t *set = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!keep[i])
            continue;
        if (node == NULL || node->name_len != r[i].name_len ||
            memcmp(ld->names + node->name_off, r[i].name, r[i].name_len) != 0) {
            node = &ld->nodes[ld->nnodes];
            node->name_off = (uint32_t)no;
            node->name_len = r[i].name_len;
            node->source = r[i].source;
            node->set0 = (uint32_t)ld->nsets;
            node->cname = -1;
            memcpy(ld->names + no, r[i].name, r[i].name_len);
            no += r[i].name_len;
            node->hash = name_hash(r[i].name, r[i].name_len);
            ld->lens[r[i].name_len >> 6] |= 1ull << (r[i].name_len & 63);
            node->next = ld->buckets[node->hash & ld->mask];
            ld->buckets[node->hash & ld->mask] = (uint32_t)(ld->nnodes + 1);
            ld->nnodes++;
            set = NULL;
        }
        if (set == NULL || set->type != r[i].type) {
            set = &ld->sets[ld->nsets++];
            set->type = r[i].type;
            set->off = (uint32_t)bo;
            if (set->type == SR_TYPE_CNAME)
                node->cname = (int)(ld->nsets - 1 - node->set0);
            node->nsets++;
        }
        uint8_t *p = ld->blob + bo;
        p[0] = PTR_QNAME_HI;
        p[1] = PTR_QNAME_LO;
        sr_put16(p + 2, r[i].type);
        sr_put16(p + 4, SR_CLASS_IN);
        sr_put32(p + 6, r[i].ttl);
        sr_put16(p + 10, r[i].rdlen);
        memcpy(p + 12, r[i].rdata, r[i].rdlen);
        bo += 2 + RR_FIXED + r[i].rdlen;
        set->len = (uint32_t)(bo - set->off);
        set->count++;
    }
    /* RFC 2181 5.2: one TTL per RRset, the least. RFC 1034 3.6.2: a CNAME
     * has no other data beside it (and is one record). */
    for (size_t s = 0; s < ld->nsets; s++) {
        uint32_t m = UINT32_MAX;
        uint8_t *p = ld->blob + ld->sets[s].off, *end = p + ld->sets[s].len;
        for (uint8_t *q = p; q < end; q += 2 + RR_FIXED + sr_get16(q + 10))
            m = sr_get32(q + 6) < m ? sr_get32(q + 6) : m;
        for (uint8_t *q = p; q < end; q += 2 + RR_FIXED + sr_get16(q + 10))
            sr_put32(q + 6, m);
    }
    for (size_t k = 0; k < ld->nnodes; k++) {
        lnode_t *nd = &ld->nodes[k];
        if (nd->cname >= 0 && (nd->nsets > 1 || ld->sets[nd->set0 + (size_t)nd->cname].count > 1)) {
            char t[SR_NAME_MAX_TEXT];
            if (sr_name_to_text(ld->names + nd->name_off, nd->name_len, t, sizeof(t)) != SR_OK)
                snprintf(t, sizeof(t), "?");
            snprintf(err, errcap,
                     "local: %s: a CNAME must be the only record of its name (RFC 1034 3.6.2)", t);
            free(keep);
            return -1;
        }
    }
    free(keep);
    return 0;
nomem:
    free(keep);
    snprintf(err, errcap, "out of memory");
    return -1;
}

static void free_recs(localdata_t *ld)
{
    for (size_t i = 0; i < ld->nrecs; i++)
        free(ld->recs[i].name);
    free(ld->recs);
    ld->recs = NULL;
    ld->nrecs = ld->caprecs = 0;
}

struct local_add {
    localdata_t *ld;
    local_rec_t *rec;
    char *err;
    size_t errcap;
};

static int add_local_text(localdata_t *ld, local_rec_t *rec, const char *text, char *err,
                          size_t errcap)
{
    char e[400], canon[LOCAL_RDATA_MAX + SR_NAME_MAX_TEXT + 64], tb[16];
    char owner[SR_NAME_MAX_TEXT];

    if (local_rec_parse(text, rec, canon, sizeof(canon), e, sizeof(e)) != 0) {
        snprintf(err, errcap, "local: %s", e);
        return -1;
    }
    uint32_t ttl = rec->has_ttl ? rec->ttl : ld->local_ttl;
    if (add_rec(ld, rec->name, rec->name_len, rec->type, ttl, rec->rdata, rec->rdlen, SRC_LOCAL,
                false) != 0) {
        snprintf(err, errcap, "local: out of memory");
        return -1;
    }
    /* The listing shows every record with the TTL it is served with. */
    const char *rd = strstr(canon, " IN ");
    rd = rd != NULL ? strchr(rd + 4, ' ') : NULL;
    if (sr_name_to_text(rec->name, rec->name_len, owner, sizeof(owner)) != SR_OK)
        owner[0] = '\0';
    char **t = realloc(ld->texts, (ld->ntexts + 1) * sizeof(*t));
    if (t == NULL)
        return -1;
    ld->texts = t;
    size_t cap = strlen(canon) + 32;
    ld->texts[ld->ntexts] = malloc(cap);
    if (ld->texts[ld->ntexts] == NULL)
        return -1;
    snprintf(ld->texts[ld->ntexts], cap, "%s %u IN %s%s", owner, ttl, sr_type_name(rec->type, tb),
             rd != NULL ? rd : "");
    ld->ntexts++;
    return 0;
}

localdata_t *localdata_new(const local_src_t *src, char *err, size_t errcap)
{
    localdata_t *ld = calloc(1, sizeof(*ld));
    local_rec_t *rec = malloc(sizeof(*rec));

    if (ld == NULL || rec == NULL) {
        snprintf(err, errcap, "out of memory");
        goto fail;
    }
    atomic_init(&ld->refs, 1);
    ld->special = src->special_names;
    ld->local_ttl = src->local_ttl;
    ld->max_warnings = src->max_warnings;
    ld->warn = src->warn;
    ld->warn_arg = src->warn_arg;
    for (size_t i = 0; i < src->nrecords; i++)
        if (add_local_text(ld, rec, src->records[i], err, errcap) != 0)
            goto fail;
    if (src->hosts != NULL && src->hosts[0] != '\0') {
        const char *p = src->hosts;
        while (*p != '\0') {
            size_t l;
            while (*p == ' ' || *p == '\t' || *p == ',')
                p++;
            l = strcspn(p, ",");
            while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\t'))
                l--;
            if (l == 0)
                break;
            if (ld->nfiles == LOCAL_MAX_FILES) {
                snprintf(err, errcap, "hosts: at most %d files", LOCAL_MAX_FILES);
                goto fail;
            }
            hfile_t *hf = &ld->files[ld->nfiles++];
            hf->path = strndup(p, l);
            if (hf->path == NULL) {
                snprintf(err, errcap, "out of memory");
                goto fail;
            }
            read_hosts_file(ld, hf);
            p += l;
            p += strcspn(p, ",");
        }
    }
    if (src->hosts_text != NULL)
        add_hosts_text(ld, "(text)", src->hosts_text, src->hosts_text_len);
    if ((ld->special && add_special(ld) != 0) || add_ptrs(ld) != 0) {
        snprintf(err, errcap, "out of memory");
        goto fail;
    }
    if (freeze(ld, err, errcap) != 0)
        goto fail;
    free_recs(ld);
    free(rec);
    return ld;
fail:
    free(rec);
    localdata_unref(ld);
    return NULL;
}

void localdata_ref(localdata_t *ld)
{
    if (ld != NULL)
        atomic_fetch_add_explicit(&ld->refs, 1, memory_order_relaxed);
}

void localdata_unref(localdata_t *ld)
{
    if (ld == NULL || atomic_fetch_sub_explicit(&ld->refs, 1, memory_order_acq_rel) != 1)
        return;
    free_recs(ld);
    free(ld->nodes);
    free(ld->buckets);
    free(ld->sets);
    free(ld->names);
    free(ld->blob);
    for (size_t i = 0; i < ld->ntexts; i++)
        free(ld->texts[i]);
    free(ld->texts);
    for (size_t i = 0; i < ld->nfiles; i++)
        free(ld->files[i].path);
    free(ld);
}

bool localdata_hosts_changed(const localdata_t *ld)
{
    struct stat sb;

    if (ld == NULL)
        return false;
    for (size_t i = 0; i < ld->nfiles; i++) {
        const hfile_t *hf = &ld->files[i];
        bool exists = stat(hf->path, &sb) == 0;
        if (exists != hf->exists)
            return true;
        if (exists && (sb.st_mtim.tv_sec != hf->mtime.tv_sec ||
                       sb.st_mtim.tv_nsec != hf->mtime.tv_nsec || sb.st_size != hf->size))
            return true;
    }
    return false;
}

void localdata_list(const localdata_t *ld, void (*fn)(void *arg, const char *line), void *arg)
{
    if (ld == NULL)
        return;
    for (size_t i = 0; i < ld->ntexts; i++)
        fn(arg, ld->texts[i]);
}

size_t localdata_names(const localdata_t *ld)
{
    return ld != NULL ? ld->nnodes : 0;
}

/* ------------------------------------------------------------ answering */

static const lnode_t *find(const localdata_t *ld, const uint8_t *name, size_t len)
{
    if (len > SR_NAME_MAX_WIRE || !(ld->lens[len >> 6] & (1ull << (len & 63))))
        return NULL; /* no name of that length: no hash */
    uint32_t h = name_hash(name, len);

    for (uint32_t i = ld->buckets[h & ld->mask]; i != 0; i = ld->nodes[i - 1].next) {
        const lnode_t *nd = &ld->nodes[i - 1];
        if (nd->hash != h || nd->name_len != len)
            continue;
        const uint8_t *s = ld->names + nd->name_off;
        size_t k = 0;
        while (k < len && lower(name[k]) == s[k])
            k++;
        if (k == len)
            return nd;
    }
    return NULL;
}

static const lset_t *find_set(const localdata_t *ld, const lnode_t *nd, uint16_t type)
{
    for (size_t i = 0; i < nd->nsets; i++)
        if (ld->sets[nd->set0 + i].type == type)
            return &ld->sets[nd->set0 + i];
    return NULL;
}

/* A reply being written: bytes past cap are not written, and over marks
 * it (the reply is then sent truncated). */
typedef struct wr {
    uint8_t *p;
    size_t cap, len;
    bool over;
    uint16_t an, ns;
} wr_t;

static void put(wr_t *w, const void *b, size_t n)
{
    if (w->over || n > w->cap - w->len) {
        w->over = true;
        return;
    }
    memcpy(w->p + w->len, b, n);
    w->len += n;
}

/* The records of set, owner as in the image (the question) when owner is
 * 0, else a pointer to offset owner. */
static void put_set(wr_t *w, const localdata_t *ld, const lset_t *set, size_t owner)
{
    const uint8_t *p = ld->blob + set->off, *end = p + set->len;

    if (owner == 0) {
        put(w, p, set->len);
    } else {
        for (; p < end; p += 2 + RR_FIXED + sr_get16(p + 10)) {
            uint8_t o[2] = {(uint8_t)(0xC0u | (owner >> 8)), (uint8_t)owner};
            put(w, o, 2);
            put(w, p + 2, RR_FIXED + sr_get16(p + 10));
        }
    }
    w->an = (uint16_t)(w->an + set->count);
}

/* A CNAME's target: the owner of the records that follow, as a pointer to
 * the RDATA just written (offset < 0x4000 always: a local answer is small
 * unless sets are huge; else the chain stops). */
static void follow_chain(wr_t *w, const localdata_t *ld, const lnode_t *nd, uint16_t qtype)
{
    size_t owner = 0; /* the question's name first */

    for (int hop = 0; hop < LOCAL_MAX_CHAIN && nd->cname >= 0; hop++) {
        const lset_t *cs = &ld->sets[nd->set0 + (size_t)nd->cname];
        const uint8_t *rec = ld->blob + cs->off;
        size_t rdoff = w->len + 2 + RR_FIXED;
        put_set(w, ld, cs, owner);
        if (w->over || rdoff >= 0x4000)
            return;
        nd = find(ld, rec + 2 + RR_FIXED, sr_get16(rec + 10));
        owner = rdoff;
        if (nd == NULL)
            return; /* not ours: the forwarder resolves it (localdata_has) */
        const lset_t *s = find_set(ld, nd, qtype);
        if (s != NULL) {
            put_set(w, ld, s, owner);
            return;
        }
    }
}

/* ---- special-use names ---- */

enum zone_kind {
    ZONE_LOCALHOST, /* RFC 6761 6.3: every name below is loopback */
    ZONE_NXDOMAIN,  /* nothing exists (RFC 6761 6.4, RFC 6303, RFC 8375, RFC 6762) */
};

typedef struct zone {
    const char *name; /* wire form, lowercase */
    uint8_t len;
    uint8_t kind;
} zone_t;

/* The table as written (clang-format would spread each row). */
/* clang-format off */
#define Z(s, k) {s, (uint8_t)sizeof(s), k}
/* Zones whose last label is "arpa": RFC 6303 4.1-4.6 and RFC 8375. */
static const zone_t arpa_zones[] = {
    Z("\x02" "10\x07in-addr\x04" "arpa", ZONE_NXDOMAIN),
    Z("\x03" "127\x07in-addr\x04" "arpa", ZONE_NXDOMAIN),
    Z("\x03" "254\x03" "169\x07in-addr\x04" "arpa", ZONE_NXDOMAIN),
    Z("\x03" "168\x03" "192\x07in-addr\x04" "arpa", ZONE_NXDOMAIN),
    Z("\x01" "d\x01" "f\x03ip6\x04" "arpa", ZONE_NXDOMAIN),
    Z("\x01" "8\x01" "e\x01" "f\x03ip6\x04" "arpa", ZONE_NXDOMAIN),
    Z("\x01" "9\x01" "e\x01" "f\x03ip6\x04" "arpa", ZONE_NXDOMAIN),
    Z("\x01" "a\x01" "e\x01" "f\x03ip6\x04" "arpa", ZONE_NXDOMAIN),
    Z("\x01" "b\x01" "e\x01" "f\x03ip6\x04" "arpa", ZONE_NXDOMAIN),
    Z("\x04home\x04" "arpa", ZONE_NXDOMAIN),
};
static const zone_t localhost_zone = Z("\x09localhost", ZONE_LOCALHOST);
static const zone_t invalid_zone = Z("\x07invalid", ZONE_NXDOMAIN);
static const zone_t local_zone = Z("\x05local", ZONE_NXDOMAIN);
#undef Z
/* clang-format on */

/* Does the name's suffix starting at off equal z (case-insensitively)? */
static bool suffix_is(const uint8_t *name, size_t len, size_t off, const zone_t *z)
{
    if (len - off != z->len)
        return false;
    for (size_t i = 0; i < z->len; i++)
        if (lower(name[off + i]) != (uint8_t)z->name[i])
            return false;
    return true;
}

/* The special-use zone name is in, or NULL; *zoff is where the zone's
 * name starts in name. 16-31.172.in-addr.arpa is matched by number. */
/* Whether the name may end in zone's last label: its bytes just before
 * the root (a label's content may look the same: the walk decides). */
static bool may_end_in(const uint8_t *name, size_t len, const char *label, size_t l)
{
    if (len < l + 2 || name[len - l - 2] != l)
        return false;
    for (size_t i = 0; i < l; i++)
        if (lower(name[len - l - 1 + i]) != (uint8_t)label[i])
            return false;
    return true;
}

static const zone_t *special_zone(const uint8_t *name, size_t len, size_t *zoff)
{
    size_t offs[SR_NAME_MAX_WIRE / 2 + 1], n = 0, o = 0;

    /* Most names end in none of the four labels: say so without a walk. */
    if (!may_end_in(name, len, "arpa", 4) && !may_end_in(name, len, "local", 5) &&
        !may_end_in(name, len, "localhost", 9) && !may_end_in(name, len, "invalid", 7))
        return NULL;

    while (o < len && name[o] != 0) {
        offs[n++] = o;
        o += 1u + name[o];
    }
    if (n == 0)
        return NULL;
    size_t last = offs[n - 1];
    if (suffix_is(name, len, last, &localhost_zone)) {
        *zoff = last;
        return &localhost_zone;
    }
    if (suffix_is(name, len, last, &invalid_zone)) {
        *zoff = last;
        return &invalid_zone;
    }
    if (suffix_is(name, len, last, &local_zone)) {
        *zoff = last;
        return &local_zone;
    }
    if (name[last] != 4 || lower(name[last + 1]) != 'a' || lower(name[last + 2]) != 'r' ||
        lower(name[last + 3]) != 'p' || lower(name[last + 4]) != 'a')
        return NULL;
    /* Longest zones are tried first from the top down: a name matches at
     * most one of these (none is below another). */
    for (size_t i = n; i-- > 0;) {
        for (size_t z = 0; z < sizeof(arpa_zones) / sizeof(arpa_zones[0]); z++) {
            if (suffix_is(name, len, offs[i], &arpa_zones[z])) {
                *zoff = offs[i];
                return &arpa_zones[z];
            }
        }
        /* RFC 6303 4.2: 16.172.in-addr.arpa through 31.172.in-addr.arpa. */
        static const uint8_t tail[] = "\x03"
                                      "172\x07in-addr\x04"
                                      "arpa";
        const uint8_t *l = name + offs[i];
        if (l[0] == 2 && len - offs[i] == 3 + sizeof(tail) && isdigit(l[1]) && isdigit(l[2])) {
            int v = (l[1] - '0') * 10 + (l[2] - '0');
            size_t k = 0;
            while (k < sizeof(tail) && lower(l[3 + k]) == tail[k])
                k++;
            if (k == sizeof(tail) && v >= 16 && v <= 31) {
                static const zone_t priv172 = {"", 0, ZONE_NXDOMAIN};
                *zoff = offs[i];
                return &priv172;
            }
        }
    }
    return NULL;
}

/* The SOA of a special zone's negative answer (as unbound's default
 * zones give it): owner and MNAME the zone (a pointer into the question),
 * RNAME nobody.invalid, MINIMUM the TTL, so a cache downstream keeps the
 * NXDOMAIN or NODATA as long as RFC 2308 5 allows. */
static void put_soa(wr_t *w, size_t zone_off, uint32_t ttl)
{
    static const uint8_t rname[] = "\x06nobody\x07invalid";
    uint8_t rr[2 + RR_FIXED + 2 + sizeof(rname) + 20];
    size_t ptr = SR_HEADER_LEN + zone_off;
    uint8_t *p = rr;

    p[0] = (uint8_t)(0xC0u | (ptr >> 8));
    p[1] = (uint8_t)ptr;
    sr_put16(p + 2, SR_TYPE_SOA);
    sr_put16(p + 4, SR_CLASS_IN);
    sr_put32(p + 6, ttl);
    sr_put16(p + 10, (uint16_t)(2 + sizeof(rname) + 20));
    p += 12;
    p[0] = rr[0];
    p[1] = rr[1];
    memcpy(p + 2, rname, sizeof(rname));
    p += 2 + sizeof(rname);
    sr_put32(p, 1);           /* SERIAL */
    sr_put32(p + 4, 3600);    /* REFRESH */
    sr_put32(p + 8, 1200);    /* RETRY */
    sr_put32(p + 12, 604800); /* EXPIRE */
    sr_put32(p + 16, ttl);    /* MINIMUM */
    put(w, rr, sizeof(rr));
    w->ns++;
}

/* ---- the reply ---- */

/* Header and question as the client sent it (its case). */
static void put_question(wr_t *w, const cache_query_t *q)
{
    uint8_t h[SR_HEADER_LEN] = {0};
    uint8_t f[QFIXED];

    put(w, h, sizeof(h));
    put(w, q->qname, q->qname_len);
    sr_put16(f, q->qtype);
    sr_put16(f + 2, q->qclass);
    put(w, f, sizeof(f));
}

/* Header fields and OPT; TC with nothing but the question when the reply
 * is over the client's size. Returns the length (0: does not fit cap). */
static size_t finish(wr_t *w, const cache_query_t *q, unsigned rcode)
{
    size_t qend = SR_HEADER_LEN + q->qname_len + QFIXED;
    size_t opt = q->edns ? OPT_LEN : 0;
    size_t limit = q->max_len < 512 ? 512 : q->max_len;
    bool tc = false;

    if (w->over || w->len + opt > limit) {
        /* RFC 2181 9: no partial RRset; the client asks again over TCP. */
        tc = true;
        w->len = qend;
        w->an = w->ns = 0;
    }
    if (w->len + opt > w->cap || w->len < qend)
        return 0;
    uint16_t flags = (uint16_t)(SR_FLAG_QR | SR_FLAG_AA | SR_FLAG_RA |
                                (q->flags & (SR_FLAG_RD | SR_FLAG_CD)) | (rcode & 0xFu));
    if (tc)
        flags |= SR_FLAG_TC;
    sr_put16(w->p, q->id);
    sr_put16(w->p + 2, flags);
    sr_put16(w->p + 4, 1);
    sr_put16(w->p + 6, w->an);
    sr_put16(w->p + 8, w->ns);
    sr_put16(w->p + 10, opt != 0 ? 1 : 0);
    if (opt != 0) {
        /* RFC 6891 6.1.2, as a cache hit's. */
        uint8_t *o = w->p + w->len;
        o[0] = 0;
        sr_put16(o + 1, SR_TYPE_OPT);
        sr_put16(o + 3, CACHE_EDNS_UDP_SIZE);
        o[5] = 0;
        o[6] = 0;
        sr_put16(o + 7, q->do_bit ? 0x8000u : 0u);
        sr_put16(o + 9, 0);
    }
    return w->len + opt;
}

static void answer_node(wr_t *w, const localdata_t *ld, const lnode_t *nd, uint16_t qtype)
{
    const lset_t *s;

    if (qtype == SR_TYPE_ANY) {
        for (size_t i = 0; i < nd->nsets; i++)
            put_set(w, ld, &ld->sets[nd->set0 + i], 0);
    } else if ((s = find_set(ld, nd, qtype)) != NULL) {
        put_set(w, ld, s, 0);
    } else if (nd->cname >= 0) {
        follow_chain(w, ld, nd, qtype);
    }
    /* else NODATA: NOERROR, nothing in the answer (RFC 2308 2.2) */
}

static void answer_special(wr_t *w, const localdata_t *ld, const zone_t *z, size_t zoff,
                           uint16_t qtype, unsigned *rcode)
{
    static const uint8_t a[] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 127, 0, 0, 1};
    uint8_t aaaa[2 + RR_FIXED + 16] = {0xC0, 0x0C, 0, 28, 0, 1, 0, 0, 0, 0, 0, 16};
    uint8_t rr[sizeof(aaaa)];

    aaaa[sizeof(aaaa) - 1] = 1; /* ::1 */
    if (z->kind == ZONE_NXDOMAIN) {
        *rcode = RCODE_NXDOMAIN;
        put_soa(w, zoff, ld->local_ttl);
        return;
    }
    /* localhost: loopback for A and AAAA, NODATA for the rest. */
    if (qtype == SR_TYPE_A || qtype == SR_TYPE_ANY) {
        memcpy(rr, a, sizeof(a));
        sr_put32(rr + 6, ld->local_ttl);
        put(w, rr, sizeof(a));
        w->an++;
    }
    if (qtype == SR_TYPE_AAAA || qtype == SR_TYPE_ANY) {
        memcpy(rr, aaaa, sizeof(aaaa));
        sr_put32(rr + 6, ld->local_ttl);
        put(w, rr, sizeof(aaaa));
        w->an++;
    }
    if (w->an == 0)
        put_soa(w, zoff, ld->local_ttl);
}

/* A name of the table: its records. */
__attribute__((noinline)) static local_source_t answer_found(const localdata_t *ld,
                                                             const lnode_t *nd,
                                                             const cache_query_t *q, uint8_t *out,
                                                             size_t cap, size_t *outlen)
{
    wr_t w = {out, cap, 0, false, 0, 0};

    put_question(&w, q);
    answer_node(&w, ld, nd, q->qtype);
    *outlen = finish(&w, q, RCODE_NOERROR);
    return nd->source == SRC_LOCAL ? LOCAL_LOCAL
                                   : (nd->source == SRC_HOSTS ? LOCAL_HOSTS : LOCAL_SPECIAL);
}

/* A name that may be in a special-use zone: the zone's rule, if it is. */
__attribute__((noinline)) static local_source_t
answer_zone(const localdata_t *ld, const cache_query_t *q, local_covered_fn covered,
            void *covered_arg, uint8_t *out, size_t cap, size_t *outlen)
{
    wr_t w = {out, cap, 0, false, 0, 0};
    unsigned rcode = RCODE_NOERROR;
    size_t zoff = 0;
    const zone_t *z = special_zone(q->qname, q->qname_len, &zoff);

    if (z == NULL || (covered != NULL && covered(covered_arg, q->qname, q->qname_len)))
        return LOCAL_NONE;
    put_question(&w, q);
    answer_special(&w, ld, z, zoff, q->qtype, &rcode);
    *outlen = finish(&w, q, rcode);
    return LOCAL_SPECIAL;
}

/* Could the name end in arpa, local, invalid or localhost? Two bytes each
 * (the length byte of a last label of that length and its first letter):
 * most names are ruled out here, the rest by special_zone(). */
static inline bool maybe_special(const uint8_t *n, size_t len)
{
    return (len >= 6 && n[len - 6] == 4 && (n[len - 5] | 0x20) == 'a') ||
           (len >= 7 && n[len - 7] == 5 && (n[len - 6] | 0x20) == 'l') ||
           (len >= 9 && n[len - 9] == 7 && (n[len - 8] | 0x20) == 'i') ||
           (len >= 11 && n[len - 11] == 9 && (n[len - 10] | 0x20) == 'l');
}

/* The names the quick test below let through. */
__attribute__((noinline)) static local_source_t
answer_slow(const localdata_t *ld, const cache_query_t *q, local_covered_fn covered,
            void *covered_arg, uint8_t *out, size_t cap, size_t *outlen)
{
    const lnode_t *nd = find(ld, q->qname, q->qname_len);

    if (nd != NULL)
        return answer_found(ld, nd, q, out, cap, outlen);
    if (!ld->special)
        return LOCAL_NONE;
    return answer_zone(ld, q, covered, covered_arg, out, cap, outlen);
}

local_source_t localdata_answer(const localdata_t *ld, const cache_query_t *q,
                                local_covered_fn covered, void *covered_arg, uint8_t *out,
                                size_t cap, size_t *outlen)
{
    size_t len = q->qname_len;

    *outlen = 0;
    if (ld == NULL || q->qclass != SR_CLASS_IN || len > SR_NAME_MAX_WIRE)
        return LOCAL_NONE;
    /* Every query comes here, and most are not ours: a leaf that calls
     * nothing rules them out (no name of this length in the table, no
     * special-use last label). */
    if (!((ld->lens[len >> 6] >> (len & 63)) & 1u) &&
        !(ld->special && maybe_special(q->qname, len)))
        return LOCAL_NONE;
    return answer_slow(ld, q, covered, covered_arg, out, cap, outlen);
}

bool localdata_has(const localdata_t *ld, const uint8_t *name, size_t len)
{
    return ld != NULL && find(ld, name, len) != NULL;
}
