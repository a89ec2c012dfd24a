/* stubresd: block lists (see blocklist.h).
 *
 * The table. Every distinct name is one arena entry: four bytes of
 * "where" (file index in the top 8 bits, line in the low 24), one length
 * byte and the lowercased wire name, packed back to back (about 26 bytes
 * for a typical ad server name). The slots are pairs of 32-bit words: the
 * entry's arena offset (0: empty) and the top half of the name's hash as
 * a tag, so a probe reads 8 bytes and compares names only when the tags
 * agree. Linear probing, load at most 7/10: a miss reads 2-6 slots, one
 * cache line. A million names take 2^21 slots (16 MiB) and a 26 MiB arena.
 *
 * The hash runs over the labels from the last to the first, each label
 * (length byte included) folded into the hash of the suffix on its right
 * with the folded multiply of cache.c (wyhash's mum): the hash of a
 * name's every parent suffix comes out of one pass. It is keyed with 256
 * bits from sr_random_bytes() per table, because the lists come from the
 * internet: a list made to collide under a known hash would turn every
 * lookup into a walk through one long probe run.
 *
 * Lists are built in two passes: every line parsed and its names appended
 * to the arena (duplicates too), then the slots sized from the count and
 * filled, the first appearance of a name winning. No rehash, one hash per
 * name. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stubres/wire.h>

#include "codec-internal.h"

#include "blocklist.h"
#include "log.h"

#define RCODE_NXDOMAIN 3
#define RCODE_REFUSED 5
/* Bytes readable past any name the hash reads (it loads 8 at a time). */
#define HASH_SLACK 8u
/* An arena entry: where (4), length (1), name. */
#define ENTRY_HEAD 5u
#define LINE_MASK 0xFFFFFFu

typedef struct bl_slot {
    uint32_t off; /* arena offset of the entry; 0: empty */
    uint32_t tag; /* the hash's top 32 bits */
} bl_slot_t;

struct bl_table {
    atomic_int refs;
    uint64_t k[4];
    uint8_t *arena; /* entries from offset 1 on, HASH_SLACK bytes after */
    size_t arena_len, arena_cap;
    bl_slot_t *slots;
    size_t mask; /* slots - 1 */
    size_t count;
    size_t entries;  /* in the arena, duplicates included */
    bool added;      /* block_names: every entry is "block add" */
    uint64_t labels; /* bit n: a name of n labels is listed (n >= 63: bit 63) */
    size_t nfiles;
    char **files;
    size_t *file_names;
};

struct bl_snap {
    atomic_int refs;
    bl_table_t *files; /* the lists (or NULL) */
    bl_table_t *names; /* block_names (or NULL) */
};

struct blocklist {
    pthread_mutex_t mu;
    atomic_uint_fast64_t gen; /* bumped at every publish */
    bl_snap_t *cur;           /* in force (NULL: nothing blocked); mu */
    bl_table_t *files;        /* cur's tables; mu */
    bl_table_t *names;
    /* the loader thread; mu */
    pthread_t thread;
    bool joinable; /* started and not joined */
    bool busy;     /* running */
    char *want;    /* files to load next */
    atomic_bool stop;
    cache_t *cache; /* emptied of what a change could block (or NULL) */
};

/* ------------------------------------------------------------------ hash */

/* Fold the n bytes at p (one label with its length byte; HASH_SLACK
 * readable bytes after them) into h. */
static inline uint64_t fold_label(const uint64_t k[4], uint64_t h, const uint8_t *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        h = sr_fold_mul(sr_load64le(p + i) ^ k[1], h ^ k[2]);
    if (i < n)
        h = sr_fold_mul((sr_load64le(p + i) & (~0ull >> (64 - 8 * (n - i)))) ^ k[3], h ^ k[2]);
    return h;
}

/* The hashes of name (lowercase wire form, HASH_SLACK readable bytes
 * after it) and of each parent suffix: h[i] and start[i] for the suffix
 * that begins with label i (0: the whole name). Returns the number of
 * labels (the root label not counted), 0 for the root or a bad name. */
static size_t suffix_hashes(const uint64_t k[4], const uint8_t *name, size_t len, uint64_t *h,
                            uint8_t *start)
{
    size_t n = 0, off = 0;

    while (off < len && name[off] != 0) {
        if (name[off] > SR_LABEL_MAX || off + 1 + name[off] >= len)
            return 0;
        start[n++] = (uint8_t)off;
        off += 1u + name[off];
    }
    uint64_t acc = k[0];
    for (size_t i = n; i-- > 0;) {
        acc = fold_label(k, acc, name + start[i], 1u + name[start[i]]);
        h[i] = acc;
    }
    return n;
}

/* ---------------------------------------------------------------- table */

static bl_table_t *table_new(void)
{
    uint8_t seed[32];
    bl_table_t *t = sr_calloc(1, sizeof(*t));

    if (t == NULL)
        return NULL;
    atomic_init(&t->refs, 1);
    if (!sr_random_bytes(seed, sizeof(seed))) {
        sr_free(t);
        return NULL;
    }
    for (size_t i = 0; i < 4; i++)
        t->k[i] = sr_load64le(seed + 8 * i);
    t->arena_len = 1; /* offset 0 marks an empty slot */
    return t;
}

void bl_table_ref(bl_table_t *t)
{
    atomic_fetch_add(&t->refs, 1);
}

void bl_table_unref(bl_table_t *t)
{
    if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    for (size_t i = 0; i < t->nfiles; i++)
        sr_free(t->files[i]);
    sr_free(t->files);
    sr_free(t->file_names);
    sr_free(t->arena);
    sr_free(t->slots);
    sr_free(t);
}

size_t bl_table_count(const bl_table_t *t)
{
    return t->count;
}

size_t bl_table_nfiles(const bl_table_t *t)
{
    return t->nfiles;
}

const char *bl_table_file(const bl_table_t *t, size_t i)
{
    return i < t->nfiles ? t->files[i] : NULL;
}

size_t bl_table_file_names(const bl_table_t *t, size_t i)
{
    return i < t->nfiles ? t->file_names[i] : 0;
}

size_t bl_table_bytes(const bl_table_t *t)
{
    return t->arena_cap + (t->slots != NULL ? (t->mask + 1) * sizeof(bl_slot_t) : 0);
}

/* Room for extra more arena bytes. */
static bool table_reserve(bl_table_t *t, size_t extra)
{
    size_t cap;
    uint8_t *a;

    if (t->arena_len + extra + HASH_SLACK <= t->arena_cap)
        return true;
    cap = t->arena_cap < 65536 ? 65536 : t->arena_cap * 2;
    while (cap < t->arena_len + extra + HASH_SLACK)
        cap *= 2;
    if (cap > UINT32_MAX)
        return false; /* offsets are 32 bits; BLOCK_MAX_NAMES stays far below */
    a = sr_realloc(t->arena, cap);
    if (a == NULL)
        return false;
    t->arena = a;
    t->arena_cap = cap;
    return true;
}

/* Append one name (lowercase wire form) listed at file:line. */
static bool table_append(bl_table_t *t, const uint8_t *wire, size_t len, unsigned file,
                         unsigned line)
{
    size_t need = ENTRY_HEAD + len;
    uint32_t where = ((uint32_t)file << 24) | (line > LINE_MASK ? LINE_MASK : line);

    if (!table_reserve(t, need))
        return false;
    memcpy(t->arena + t->arena_len, &where, 4);
    t->arena[t->arena_len + 4] = (uint8_t)len;
    memcpy(t->arena + t->arena_len + ENTRY_HEAD, wire, len);
    t->arena_len += need;
    t->entries++;
    return true;
}

static inline const uint8_t *probe(const bl_table_t *t, uint64_t h, const uint8_t *name, size_t len)
{
    uint32_t tag = (uint32_t)(h >> 32);

    for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
        const bl_slot_t *s = &t->slots[i];
        if (s->off == 0)
            return NULL;
        if (s->tag == tag) {
            const uint8_t *e = t->arena + s->off;
            if (e[4] == len && memcmp(e + ENTRY_HEAD, name, len) == 0)
                return e;
        }
    }
}

/* The second pass: size the slots and enter every name once. */
static bool table_build(bl_table_t *t)
{
    size_t slots = 16;
    uint64_t h[SR_NAME_MAX_WIRE / 2 + 1];
    uint8_t start[SR_NAME_MAX_WIRE / 2 + 1];

    while (slots * 7 < t->entries * 10)
        slots *= 2;
    t->slots = sr_calloc(slots, sizeof(*t->slots));
    if (t->slots == NULL)
        return false;
    t->mask = slots - 1;
    /* Give back what the doubling left unused. */
    if (t->arena_cap > t->arena_len + HASH_SLACK) {
        uint8_t *a = sr_realloc(t->arena, t->arena_len + HASH_SLACK);
        if (a != NULL) {
            t->arena = a;
            t->arena_cap = t->arena_len + HASH_SLACK;
        }
    }
    if (t->arena != NULL)
        memset(t->arena + t->arena_len, 0, HASH_SLACK);
    for (size_t off = 1; off < t->arena_len;) {
        const uint8_t *e = t->arena + off;
        size_t len = e[4];
        uint32_t where;
        memcpy(&where, e, 4);
        size_t n = suffix_hashes(t->k, e + ENTRY_HEAD, len, h, start);
        if (n > 0 && probe(t, h[0], e + ENTRY_HEAD, len) == NULL) {
            size_t i = h[0] & t->mask;
            while (t->slots[i].off != 0)
                i = (i + 1) & t->mask;
            t->slots[i].off = (uint32_t)off;
            t->slots[i].tag = (uint32_t)(h[0] >> 32);
            t->count++;
            t->labels |= 1ull << (n >= 63 ? 63 : n);
            if (!t->added && (where >> 24) < t->nfiles)
                t->file_names[where >> 24]++;
        }
        off += ENTRY_HEAD + len;
    }
    return true;
}

bool bl_table_match(const bl_table_t *t, const uint8_t *qname, size_t qname_len, bl_where_t *where)
{
    uint8_t buf[SR_NAME_MAX_WIRE + HASH_SLACK];
    uint8_t start[SR_NAME_MAX_WIRE / 2 + 1];
    size_t n = 0, off = 0, i;
    const uint8_t *hit = NULL;
    uint64_t w, acc;

    if (t == NULL || t->count == 0 || qname_len > SR_NAME_MAX_WIRE)
        return false;
    if (qname_len < 8) {
        for (i = 0; i < qname_len; i++) {
            uint8_t ch = qname[i];
            buf[i] = (uint8_t)(ch + ((unsigned)(ch - 'A') < 26u ? 32u : 0u));
        }
    } else {
        for (i = 0; i + 8 <= qname_len; i += 8) {
            memcpy(&w, qname + i, 8);
            w = sr_fold8(w);
            memcpy(buf + i, &w, 8);
        }
        /* The last, partial word: the final eight bytes folded again. */
        memcpy(&w, qname + qname_len - 8, 8);
        w = sr_fold8(w);
        memcpy(buf + qname_len - 8, &w, 8);
    }
    memset(buf + qname_len, 0, HASH_SLACK);
    while (off < qname_len && buf[off] != 0) {
        if (buf[off] > SR_LABEL_MAX || off + 1 + buf[off] >= qname_len)
            return false;
        start[n++] = (uint8_t)off;
        off += 1u + buf[off];
    }
    /* From the last label to the first, each suffix probed as its hash
     * comes out; only suffixes with as many labels as some listed name.
     * The query path stops at the first hit; `block check` (where) wants
     * the longest. */
    acc = t->k[0];
    uint64_t bit = 1; /* of the label count of the suffix (63: 63 or more) */
    for (i = n; i-- > 0;) {
        acc = fold_label(t->k, acc, buf + start[i], 1u + buf[start[i]]);
        bit = bit == 1ull << 63 ? bit : bit << 1;
        if (!(t->labels & bit))
            continue;
        const uint8_t *e = probe(t, acc, buf + start[i], qname_len - start[i]);
        if (e == NULL)
            continue;
        hit = e;
        if (where == NULL)
            return true;
    }
    if (hit == NULL)
        return false;
    uint32_t packed;
    memcpy(&packed, hit, 4);
    where->file = t->added ? BL_ADDED : packed >> 24;
    where->line = packed & LINE_MASK;
    return true;
}

/* ---------------------------------------------------------------- parsing */

/* The next word of a comma- or blank-separated list at *p: its start and
 * length, or NULL at the end. */
static const char *next_item(const char **p, size_t *n)
{
    const char *s = *p, *start;

    while (*s == ',' || isspace((unsigned char)*s))
        s++;
    if (*s == '\0') {
        *p = s;
        return NULL;
    }
    start = s;
    while (*s != '\0' && *s != ',' && !isspace((unsigned char)*s))
        s++;
    *n = (size_t)(s - start);
    *p = s;
    return start;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

/* A listed name (host name characters and '_', an optional leading "*."
 * and trailing dot) into lowercase wire form. 0, or -1 when it is not
 * one; the root never is (it would block everything). */
static int name_to_wire(const char *s, size_t n, uint8_t *wire, size_t *wlen)
{
    size_t out = 0, lab = 0;

    if (n >= 2 && s[0] == '*' && s[1] == '.') {
        s += 2;
        n -= 2;
    }
    if (n > 0 && s[n - 1] == '.')
        n--;
    if (n == 0 || n > 253)
        return -1;
    wire[out++] = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (wire[lab] == 0)
                return -1; /* empty label */
            lab = out++;
            wire[lab] = 0;
            continue;
        }
        if (!name_char(c) || wire[lab] == SR_LABEL_MAX)
            return -1;
        wire[out++] = (uint8_t)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        wire[lab]++;
    }
    if (wire[lab] == 0)
        return -1;
    wire[out++] = 0;
    *wlen = out;
    return 0;
}

/* Addresses of a hosts-format line that block (RFC 1122's "this host" and
 * the loopback addresses, which hosts-format lists use). */
static bool blocking_address(const char *s, size_t n)
{
    static const char *const addrs[] = {"0.0.0.0", "127.0.0.1", "::", "::1"};
    for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
        if (strlen(addrs[i]) == n && memcmp(addrs[i], s, n) == 0)
            return true;
    return false;
}

/* Something that reads as an address (a hosts line for another address:
 * a hosts file's own entries, not a block). */
static bool looks_like_address(const char *s, size_t n)
{
    bool colon = false, digit_dot = true;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ':')
            colon = true;
        if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '.')
            digit_dot = false;
    }
    return colon || digit_dot;
}

/* The names a hosts file gives its own host: not blocks. */
static bool hosts_own_name(const char *s, size_t n)
{
    static const char *const own[] = {"localhost",     "localhost.localdomain", "local",
                                      "ip6-localhost", "ip6-loopback",          "broadcasthost"};
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        if (strlen(own[i]) == n && strncasecmp(own[i], s, n) == 0)
            return true;
    return false;
}

typedef struct parse_ctx {
    bl_table_t *t;
    const char *file;
    unsigned index;
    unsigned bad;
    bool full; /* BLOCK_MAX_NAMES reached */
    bool nomem;
} parse_ctx_t;

static void bad_line(parse_ctx_t *pc, unsigned line, const char *why)
{
    if (pc->bad++ < BLOCK_MAX_WARNINGS)
        log_warnx("%s:%u: %s; line skipped", pc->file, line, why);
}

static void add_name(parse_ctx_t *pc, const uint8_t *wire, size_t len, unsigned line)
{
    if (pc->t->entries >= BLOCK_MAX_NAMES) {
        if (!pc->full)
            log_warnx("%s:%u: more than %u names in the block lists; the rest is ignored", pc->file,
                      line, BLOCK_MAX_NAMES);
        pc->full = true;
        return;
    }
    if (!table_append(pc->t, wire, len, pc->index, line))
        pc->nomem = true;
}

/* One line (NUL-terminated, newline removed; modified). */
static void parse_line(parse_ctx_t *pc, char *s, unsigned line)
{
    uint8_t wire[SR_NAME_MAX_WIRE];
    size_t wlen, n, len;
    char *hash = strchr(s, '#');
    const char *p, *w;

    if (hash != NULL)
        *hash = '\0';
    while (isspace((unsigned char)*s))
        s++;
    len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    if (len == 0 || s[0] == '!')
        return; /* blank, or a comment (# anywhere, ! adblock-style) */
    if (s[0] == '|' && s[1] == '|') {
        /* Adblock-style: ||NAME^ and nothing after it. */
        char *caret = strchr(s + 2, '^');
        if (caret == NULL || caret[1] != '\0' ||
            name_to_wire(s + 2, (size_t)(caret - (s + 2)), wire, &wlen) != 0) {
            bad_line(pc, line, "not an adblock rule of the form ||NAME^");
            return;
        }
        add_name(pc, wire, wlen, line);
        return;
    }
    p = s;
    w = next_item(&p, &n);
    if (w == NULL) {
        bad_line(pc, line, "not a domain name, hosts line or ||NAME^ rule"); /* only commas */
        return;
    }
    if (*p == '\0') {
        /* One word: a name. */
        if (name_to_wire(w, n, wire, &wlen) != 0) {
            bad_line(pc, line, "not a domain name, hosts line or ||NAME^ rule");
            return;
        }
        add_name(pc, wire, wlen, line);
        return;
    }
    /* ADDRESS NAME...: a hosts-format line. */
    if (!looks_like_address(w, n)) {
        bad_line(pc, line, "not a domain name, hosts line or ||NAME^ rule");
        return;
    }
    if (!blocking_address(w, n))
        return; /* a hosts file's own entry (255.255.255.255 broadcasthost) */
    while ((w = next_item(&p, &n)) != NULL) {
        if (hosts_own_name(w, n) || looks_like_address(w, n))
            continue; /* 127.0.0.1 localhost, 0.0.0.0 0.0.0.0 */
        if (name_to_wire(w, n, wire, &wlen) != 0) {
            bad_line(pc, line, "not a domain name after the address");
            return;
        }
        add_name(pc, wire, wlen, line);
    }
}

static bool add_file(bl_table_t *t, const char *path, size_t n)
{
    char **files = sr_realloc(t->files, (t->nfiles + 1) * sizeof(*files));
    if (files == NULL)
        return false;
    t->files = files;
    size_t *counts = sr_realloc(t->file_names, (t->nfiles + 1) * sizeof(*counts));
    if (counts == NULL)
        return false;
    t->file_names = counts;
    t->files[t->nfiles] = sr_malloc(n + 1);
    if (t->files[t->nfiles] == NULL)
        return false;
    memcpy(t->files[t->nfiles], path, n);
    t->files[t->nfiles][n] = '\0';
    t->file_names[t->nfiles] = 0;
    t->nfiles++;
    return true;
}

static void file_done(parse_ctx_t *pc)
{
    if (pc->bad > BLOCK_MAX_WARNINGS)
        log_warnx("%s: %u more bad lines skipped", pc->file, pc->bad - BLOCK_MAX_WARNINGS);
}

/* Read one list file into t. 0, or -1 with err. */
static int read_file(bl_table_t *t, unsigned index, const atomic_bool *stop, char *err,
                     size_t errcap)
{
    const char *path = t->files[index];
    parse_ctx_t pc = {.t = t, .file = path, .index = index};
    char line[BLOCK_LINE_MAX + 2];
    unsigned lineno = 0;
    struct stat sb;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    FILE *f;

    if (fd < 0) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(err, errcap, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    /* The file's size bounds what its names take in the arena (a name's
     * entry is at most its line plus four bytes): reserving it at once
     * spares the copies of doubling; pages never written cost nothing,
     * and table_build() gives back what is left. */
    if (sb.st_size > 0 && (uint64_t)sb.st_size < UINT32_MAX / 2)
        table_reserve(t, (size_t)sb.st_size + (size_t)sb.st_size / 4);
    f = fdopen(fd, "r");
    if (f == NULL) {
        snprintf(err, errcap, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t len = strlen(line);
        lineno++;
        if ((lineno & 4095) == 0 && stop != NULL && atomic_load(stop))
            break;
        if (len > 0 && line[len - 1] == '\n') {
            line[--len] = '\0';
        } else if (!feof(f)) {
            int ch;
            while ((ch = getc(f)) != EOF && ch != '\n')
                ;
            bad_line(&pc, lineno, "line too long");
            continue;
        }
        if (len > 0 && line[len - 1] == '\r')
            line[--len] = '\0';
        if (memchr(line, '\0', len) != NULL) {
            bad_line(&pc, lineno, "NUL byte in the line");
            continue;
        }
        parse_line(&pc, line, lineno);
        if (pc.nomem)
            break;
    }
    if (ferror(f) || pc.nomem) {
        snprintf(err, errcap, "%s: %s", path, pc.nomem ? "out of memory" : strerror(errno));
        fclose(f);
        return -1;
    }
    fclose(f);
    file_done(&pc);
    return 0;
}

bl_table_t *bl_table_load(const char *files, const atomic_bool *stop, char *err, size_t errcap)
{
    bl_table_t *t = table_new();
    const char *p = files, *w;
    size_t n;

    if (t == NULL) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    while ((w = next_item(&p, &n)) != NULL) {
        if (t->nfiles >= BLOCK_MAX_FILES) {
            snprintf(err, errcap, "more than %u block lists", BLOCK_MAX_FILES);
            goto fail;
        }
        if (!add_file(t, w, n)) {
            snprintf(err, errcap, "out of memory");
            goto fail;
        }
        if (read_file(t, (unsigned)(t->nfiles - 1), stop, err, errcap) != 0)
            goto fail;
        if (stop != NULL && atomic_load(stop)) {
            snprintf(err, errcap, "stopped");
            goto fail;
        }
    }
    if (!table_build(t)) {
        snprintf(err, errcap, "out of memory");
        goto fail;
    }
    return t;
fail:
    bl_table_unref(t);
    return NULL;
}

bl_table_t *bl_table_parse(const char *name, const char *data, size_t len)
{
    bl_table_t *t = table_new();
    parse_ctx_t pc = {.t = t, .file = name, .index = 0};
    char line[BLOCK_LINE_MAX + 1];
    unsigned lineno = 0;
    size_t off = 0;

    if (t == NULL || !add_file(t, name, strlen(name)))
        goto fail;
    while (off < len && !pc.nomem) {
        const char *nl = memchr(data + off, '\n', len - off);
        size_t n = nl != NULL ? (size_t)(nl - (data + off)) : len - off;
        lineno++;
        if (n > BLOCK_LINE_MAX || memchr(data + off, '\0', n) != NULL) {
            bad_line(&pc, lineno, n > BLOCK_LINE_MAX ? "line too long" : "NUL byte in the line");
        } else {
            memcpy(line, data + off, n);
            line[n] = '\0';
            if (n > 0 && line[n - 1] == '\r')
                line[n - 1] = '\0';
            parse_line(&pc, line, lineno);
        }
        off += n + 1;
    }
    file_done(&pc);
    if (pc.nomem || !table_build(t))
        goto fail;
    return t;
fail:
    bl_table_unref(t);
    return NULL;
}

bl_table_t *bl_table_names(const char *text, char *err, size_t errcap)
{
    bl_table_t *t = table_new();
    uint8_t wire[SR_NAME_MAX_WIRE];
    const char *p = text, *w;
    size_t n, wlen;

    if (t == NULL) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    t->added = true;
    while ((w = next_item(&p, &n)) != NULL) {
        if (name_to_wire(w, n, wire, &wlen) != 0) {
            snprintf(err, errcap, "'%.*s' is not a domain name", (int)(n > 255 ? 255 : n), w);
            goto fail;
        }
        if (!table_append(t, wire, wlen, 0, 0)) {
            snprintf(err, errcap, "out of memory");
            goto fail;
        }
    }
    if (!table_build(t)) {
        snprintf(err, errcap, "out of memory");
        goto fail;
    }
    return t;
fail:
    bl_table_unref(t);
    return NULL;
}

/* ---------------------------------------------------------------- snapshots */

static void snap_unref(bl_snap_t *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    bl_table_unref(s->files);
    bl_table_unref(s->names);
    sr_free(s);
}

bool bl_snap_match(const bl_snap_t *s, const uint8_t *qname, size_t qname_len)
{
    return s != NULL && (bl_table_match(s->files, qname, qname_len, NULL) ||
                         bl_table_match(s->names, qname, qname_len, NULL));
}

/* Put b->files and b->names in force (mu held). False when out of
 * memory (the old snapshot stays). */
static bool publish(blocklist_t *b)
{
    bl_snap_t *s = NULL;
    bool files = b->files != NULL && b->files->count > 0;
    bool names = b->names != NULL && b->names->count > 0;

    if (files || names) {
        s = sr_calloc(1, sizeof(*s));
        if (s == NULL)
            return false;
        atomic_init(&s->refs, 1);
        if (files) {
            bl_table_ref(b->files);
            s->files = b->files;
        }
        if (names) {
            bl_table_ref(b->names);
            s->names = b->names;
        }
    }
    snap_unref(b->cur);
    b->cur = s;
    atomic_fetch_add_explicit(&b->gen, 1, memory_order_release);
    return true;
}

blocklist_t *blocklist_new(void)
{
    blocklist_t *b = sr_calloc(1, sizeof(*b));

    if (b == NULL)
        return NULL;
    if (pthread_mutex_init(&b->mu, NULL) != 0) {
        sr_free(b);
        return NULL;
    }
    atomic_init(&b->gen, 1);
    atomic_init(&b->stop, false);
    return b;
}

void blocklist_free(blocklist_t *b)
{
    bool join;

    if (b == NULL)
        return;
    pthread_mutex_lock(&b->mu);
    atomic_store(&b->stop, true);
    sr_free(b->want);
    b->want = NULL;
    join = b->joinable;
    pthread_mutex_unlock(&b->mu);
    if (join)
        pthread_join(b->thread, NULL);
    snap_unref(b->cur);
    bl_table_unref(b->files);
    bl_table_unref(b->names);
    pthread_mutex_destroy(&b->mu);
    sr_free(b);
}

/* Does t list a name that old does not block (t's names, one by one,
 * until the first)? Such a name may have answers in the cache. */
static bool blocks_more(const bl_table_t *t, const bl_table_t *old)
{
    size_t off = 1;

    if (t == NULL || t->count == 0)
        return false;
    if (old == NULL || old->count == 0)
        return true;
    for (size_t i = 0; i < t->entries; i++) {
        const uint8_t *name = t->arena + off + ENTRY_HEAD;
        size_t len = t->arena[off + 4];
        if (!bl_table_match(old, name, len, NULL))
            return true;
        off += ENTRY_HEAD + len;
    }
    return false;
}

/* Loaded: put t in force (mu held); what to log into note (empty when
 * nothing). True when the cache must be emptied (t lists a name the lists
 * before did not): no cached answer may be one the lists now block, since
 * the query path looks at the lists only on a cache miss. The caller logs
 * note after emptying it, so that a name the log says is listed is
 * answered as blocked from then on. */
static bool loaded(blocklist_t *b, bl_table_t *t, char *note, size_t cap)
{
    bl_table_t *old = b->files;
    bool more = blocks_more(t, old);

    b->files = t;
    if (!publish(b)) {
        b->files = old;
        bl_table_unref(t);
        log_warnx("block lists: out of memory; the lists loaded before stay in force");
        note[0] = '\0';
        return false;
    }
    bl_table_unref(old);
    snprintf(note, cap, "block lists: %zu names from %zu files (%zu bytes)", t->count, t->nfiles,
             bl_table_bytes(t));
    return more && b->cache != NULL;
}

/* After a publish (mu not held, so that no worker waits for the walk):
 * every answer cached before it goes. */
static void flush_all(blocklist_t *b)
{
    size_t n = cache_flush(b->cache, NULL, 0);
    log_info("block lists: %zu cached answers dropped", n);
}

static void *loader(void *arg)
{
    blocklist_t *b = arg;
    char err[1024];

    pthread_mutex_lock(&b->mu);
    while (b->want != NULL && !atomic_load(&b->stop)) {
        char *files = b->want;
        b->want = NULL;
        pthread_mutex_unlock(&b->mu);
        bl_table_t *t = bl_table_load(files, &b->stop, err, sizeof(err));
        pthread_mutex_lock(&b->mu);
        if (t != NULL) {
            bool flush = loaded(b, t, err, sizeof(err));
            pthread_mutex_unlock(&b->mu);
            if (flush)
                flush_all(b);
            if (err[0] != '\0')
                log_notice("%s", err);
            pthread_mutex_lock(&b->mu);
        } else if (!atomic_load(&b->stop)) {
            log_warnx("block lists not reloaded: %s; the lists loaded before stay in force", err);
        }
        sr_free(files);
    }
    b->busy = false;
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

int blocklist_load(blocklist_t *b, const char *files, bool wait, char *err, size_t errcap)
{
    if (wait) {
        bl_table_t *t = bl_table_load(files, NULL, err, errcap);
        if (t == NULL)
            return -1;
        char note[256];
        pthread_mutex_lock(&b->mu);
        bool flush = loaded(b, t, note, sizeof(note));
        pthread_mutex_unlock(&b->mu);
        if (flush)
            flush_all(b);
        if (note[0] != '\0')
            log_notice("%s", note);
        return 0;
    }
    pthread_mutex_lock(&b->mu);
    sr_free(b->want);
    b->want = sr_strdup(files);
    if (b->want == NULL) {
        pthread_mutex_unlock(&b->mu);
        log_warnx("block lists not reloaded: out of memory");
        return 0;
    }
    if (!b->busy) {
        if (b->joinable)
            pthread_join(b->thread, NULL); /* it has finished: busy is off */
        b->joinable = false;
        if (pthread_create(&b->thread, NULL, loader, b) != 0) {
            log_warnx("block lists not reloaded: cannot start a thread");
            sr_free(b->want);
            b->want = NULL;
        } else {
            b->joinable = true;
            b->busy = true;
        }
    }
    pthread_mutex_unlock(&b->mu);
    return 0;
}

int blocklist_set_names(blocklist_t *b, const char *names, char *err, size_t errcap)
{
    bl_table_t *t = bl_table_names(names, err, errcap), *old;

    if (t == NULL)
        return -1;
    pthread_mutex_lock(&b->mu);
    old = b->names;
    b->names = t;
    if (!publish(b)) {
        b->names = old;
        pthread_mutex_unlock(&b->mu);
        bl_table_unref(t);
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    cache_t *cache = b->cache;
    bl_table_ref(t);
    pthread_mutex_unlock(&b->mu);
    /* A name added (not blocked before): its cached answers, and those
     * of the names below it, go (block add NAME drops NAME's subtree).
     * After the publish: what a worker caches later it checked against
     * the new names. */
    size_t off = 1;
    for (size_t i = 0; cache != NULL && i < t->entries; i++) {
        const uint8_t *name = t->arena + off + ENTRY_HEAD;
        size_t len = t->arena[off + 4];
        if (old == NULL || !bl_table_match(old, name, len, NULL))
            cache_flush_below(cache, name, len);
        off += ENTRY_HEAD + len;
    }
    bl_table_unref(t);
    bl_table_unref(old);
    return 0;
}

void blocklist_set_cache(blocklist_t *b, cache_t *c)
{
    pthread_mutex_lock(&b->mu);
    b->cache = c;
    pthread_mutex_unlock(&b->mu);
}

const bl_snap_t *blocklist_view(blocklist_t *b, bl_view_t *view)
{
    uint64_t gen = atomic_load_explicit(&b->gen, memory_order_acquire);

    if (gen == view->gen)
        return view->snap;
    pthread_mutex_lock(&b->mu);
    snap_unref(view->snap);
    view->snap = b->cur;
    if (view->snap != NULL)
        atomic_fetch_add(&view->snap->refs, 1);
    view->gen = atomic_load(&b->gen);
    pthread_mutex_unlock(&b->mu);
    return view->snap;
}

void blocklist_view_release(bl_view_t *view)
{
    snap_unref(view->snap);
    view->snap = NULL;
    view->gen = 0;
}

bool blocklist_check(blocklist_t *b, const uint8_t *qname, size_t qname_len, char *by, size_t bycap)
{
    bl_where_t w;
    bool found;

    pthread_mutex_lock(&b->mu);
    found = bl_table_match(b->names, qname, qname_len, &w) ||
            bl_table_match(b->files, qname, qname_len, &w);
    if (found) {
        if (w.file == BL_ADDED || b->files == NULL || w.file >= b->files->nfiles)
            snprintf(by, bycap, "block add");
        else
            snprintf(by, bycap, "%s:%u", b->files->files[w.file], w.line);
    }
    pthread_mutex_unlock(&b->mu);
    return found;
}

void blocklist_tables(blocklist_t *b, bl_table_t **files, bl_table_t **names)
{
    pthread_mutex_lock(&b->mu);
    *files = b->files;
    *names = b->names;
    if (*files != NULL)
        bl_table_ref(*files);
    if (*names != NULL)
        bl_table_ref(*names);
    pthread_mutex_unlock(&b->mu);
}

/* ---------------------------------------------------------------- answers */

size_t blocklist_render(int mode, const cache_query_t *q, uint8_t *out, size_t cap)
{
    unsigned rcode = mode == BLOCK_NXDOMAIN  ? RCODE_NXDOMAIN
                     : mode == BLOCK_REFUSED ? RCODE_REFUSED
                                             : 0;
    size_t rdlen = 0, off;

    if (mode == BLOCK_NULL && q->qclass == SR_CLASS_IN)
        rdlen = q->qtype == SR_TYPE_A ? 4 : q->qtype == SR_TYPE_AAAA ? 16 : 0;
    off = SR_HEADER_LEN + q->qname_len + 4;
    if (off + (rdlen ? 12 + rdlen : 0) + (q->edns ? 11 : 0) > cap)
        return 0;
    sr_put16(out, q->id);
    sr_put16(out + 2,
             (uint16_t)(SR_FLAG_QR | SR_FLAG_RA | (q->flags & (SR_FLAG_RD | SR_FLAG_CD)) | rcode));
    sr_put16(out + 4, 1);
    sr_put16(out + 6, rdlen ? 1 : 0);
    sr_put16(out + 8, 0);
    sr_put16(out + 10, q->edns ? 1 : 0);
    /* The question as the client wrote it (RFC 1035 7.1: its case). */
    memcpy(out + SR_HEADER_LEN, q->qname, q->qname_len);
    sr_put16(out + SR_HEADER_LEN + q->qname_len, q->qtype);
    sr_put16(out + SR_HEADER_LEN + q->qname_len + 2, q->qclass);
    if (rdlen) {
        sr_put16(out + off, 0xC000 | SR_HEADER_LEN); /* the question's name */
        sr_put16(out + off + 2, q->qtype);
        sr_put16(out + off + 4, q->qclass);
        sr_put32(out + off + 6, BLOCK_TTL);
        sr_put16(out + off + 10, (uint16_t)rdlen);
        memset(out + off + 12, 0, rdlen); /* 0.0.0.0 or :: */
        off += 12 + rdlen;
    }
    if (q->edns) {
        out[off] = 0;
        sr_put16(out + off + 1, SR_TYPE_OPT);
        sr_put16(out + off + 3, CACHE_EDNS_UDP_SIZE);
        sr_put32(out + off + 5, q->do_bit ? 0x8000u : 0u);
        sr_put16(out + off + 9, 0);
        off += 11;
    }
    return off;
}

size_t blocklist_answer(const bl_snap_t *s, int mode, const cache_query_t *q, uint8_t *out,
                        size_t cap)
{
    if (s == NULL || !bl_snap_match(s, q->qname, q->qname_len))
        return 0;
    return blocklist_render(mode, q, out, cap);
}

bool blocklist_cloaked(const bl_snap_t *s, const sr_msg_t *msg)
{
    uint8_t name[SR_NAME_MAX_WIRE];
    size_t wlen, len, n = sr_msg_rr_count(msg);
    const uint8_t *wire;
    bool cname = false;

    if (s == NULL)
        return false;
    for (size_t i = 0; i < n && !cname; i++) {
        const sr_rr_t *rr = sr_msg_rr(msg, i);
        cname = rr->section == SR_SECTION_ANSWER && rr->type == SR_TYPE_CNAME;
    }
    if (!cname)
        return false; /* only the question's name, checked before asking */
    wire = sr_msg_wire(msg, &wlen);
    for (size_t i = 0; i < n; i++) {
        const sr_rr_t *rr = sr_msg_rr(msg, i);
        size_t off = rr->offset;
        if (rr->section != SR_SECTION_ANSWER)
            continue;
        if (sr_name_unpack(wire, wlen, &off, name, &len) == SR_OK && bl_snap_match(s, name, len))
            return true;
        if (rr->type != SR_TYPE_CNAME)
            continue;
        off = rr->end - rr->rdlength;
        if (sr_name_unpack(wire, wlen, &off, name, &len) == SR_OK && bl_snap_match(s, name, len))
            return true;
    }
    return false;
}
