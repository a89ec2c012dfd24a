/* Helpers shared by the codec's Check suites. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../pktbuild.h"
#include "testutil.h"

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

size_t tu_unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p != '\0'; p++) {
        if (*p == ' ' || *p == '\n' || *p == '\t')
            continue;
        int v = hexval((unsigned char)*p);
        ck_assert_msg(v >= 0, "bad hex in test: %s", hex);
        if (hi < 0) {
            hi = v;
            continue;
        }
        ck_assert_msg(n < cap, "hex longer than %zu bytes", cap);
        out[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    ck_assert_msg(hi < 0, "odd hex in test: %s", hex);
    return n;
}

uint8_t *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    if (f == NULL)
        return NULL;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *nb = realloc(buf, cap);
            ck_assert_ptr_nonnull(nb);
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    ck_assert_ptr_nonnull(d);
    return d;
}

static uint8_t *hexdup(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2 + 1;
    uint8_t *b = malloc(n);
    ck_assert_ptr_nonnull(b);
    *len = strcmp(hex, "-") == 0 ? 0 : tu_unhex(hex, b, n);
    return b;
}

static int section_of(const char *s)
{
    if (strcmp(s, "answer") == 0)
        return SR_SECTION_ANSWER;
    if (strcmp(s, "authority") == 0)
        return SR_SECTION_AUTHORITY;
    ck_assert_str_eq(s, "additional");
    return SR_SECTION_ADDITIONAL;
}

/* The text after the n-th blank of line (n >= 1), or "" if none. */
static const char *after_word(const char *line, int n)
{
    const char *p = line;
    for (int i = 0; i < n; i++) {
        p = strchr(p, ' ');
        if (p == NULL)
            return "";
        p++;
    }
    return p;
}

static void load_sidecar(tu_vec_t *v, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[8192], a[64], b[1024], c[64];
    size_t cap = 0;
    tu_rr_t *rr = NULL;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        unsigned u1, u2, u3, u4, u5;
        unsigned long ul;
        size_t z;
        if (sscanf(line, "id %u", &u1) == 1) {
            v->id = u1;
        } else if (sscanf(line, "flags %u", &u1) == 1) {
            v->flags = u1;
        } else if (sscanf(line, "rcode %u", &u1) == 1) {
            v->rcode = u1;
        } else if (sscanf(line, "qdcount %zu", &z) == 1) {
            v->qdcount = z;
        } else if (sscanf(line, "question %1023s %u %u", b, &u1, &u2) == 3) {
            if (v->qname == NULL) {
                v->qname = xstrdup(b);
                v->qtype = u1;
                v->qclass = u2;
            }
        } else if (strcmp(line, "edns none") == 0) {
            v->edns = false;
        } else if (sscanf(line, "edns %u %u %u %u %u", &u1, &u2, &u3, &u4, &u5) == 5) {
            v->edns = true;
            v->udp_size = u1;
            v->ext_rcode = u2;
            v->version = u3;
            v->eflags = u4;
        } else if (sscanf(line, "opt %u %1023s", &u1, b) == 2) {
            ck_assert_uint_lt(v->nopts, 8);
            v->opt_code[v->nopts] = u1;
            v->opt_data[v->nopts] = hexdup(b, &v->opt_len[v->nopts]);
            v->nopts++;
        } else if (sscanf(line, "count %63s %zu", a, &z) == 2) {
            v->count[section_of(a)] = z;
        } else if (strncmp(line, "rr ", 3) == 0) {
            char owner[1100], rdhex[8192];
            if (v->nrr == cap) {
                cap = cap ? cap * 2 : 16;
                tu_rr_t *n = realloc(v->rrs, cap * sizeof(*n));
                ck_assert_ptr_nonnull(n);
                v->rrs = n;
            }
            rr = &v->rrs[v->nrr++];
            memset(rr, 0, sizeof(*rr));
            int k = sscanf(line, "rr %63s %1099s %u %63s %u %lu %8191s %zu", a, owner, &u1, c, &u2,
                           &ul, rdhex, &z);
            ck_assert_msg(k == 8, "bad line in %s: %s", path, line);
            rr->section = section_of(a);
            rr->owner = xstrdup(owner);
            rr->type = u1;
            rr->type_name = xstrdup(c);
            rr->rclass = u2;
            rr->ttl = ul;
            rr->rdata = hexdup(rdhex, &rr->rdlen);
            rr->fields = calloc(z ? z : 1, sizeof(tu_field_t));
            ck_assert_ptr_nonnull(rr->fields);
        } else if (strncmp(line, "field ", 6) == 0) {
            ck_assert_ptr_nonnull(rr);
            ck_assert_int_eq(sscanf(line, "field %63s", a), 1);
            tu_field_t *fl = &rr->fields[rr->nfields++];
            fl->name = xstrdup(a);
            fl->value = xstrdup(after_word(line, 2));
        } else if (strncmp(line, "text ", 5) == 0) {
            ck_assert_ptr_nonnull(rr);
            rr->text = xstrdup(line + 5);
        } else if (strncmp(line, "wire", 4) == 0) {
            ck_assert_ptr_nonnull(rr);
            const char *h = after_word(line, 1);
            rr->wire = hexdup(*h != '\0' ? h : "-", &rr->wire_len);
        } else {
            ck_abort_msg("bad line in %s: %s", path, line);
        }
    }
    fclose(f);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

tu_vec_t *tu_load_vecs(size_t *n)
{
    DIR *d = opendir(TEST_DATA_DIR);
    struct dirent *e;
    char **names = NULL;
    size_t count = 0, cap = 0;
    char path[4096];

    ck_assert_msg(d != NULL, "cannot open %s", TEST_DATA_DIR);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".bin") != 0)
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof(*nn));
            ck_assert_ptr_nonnull(nn);
            names = nn;
        }
        names[count] = xstrdup(e->d_name);
        names[count][l - 4] = '\0';
        count++;
    }
    closedir(d);
    ck_assert_uint_gt(count, 0);
    qsort(names, count, sizeof(*names), name_cmp);

    tu_vec_t *v = calloc(count, sizeof(*v));
    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < count; i++) {
        v[i].name = names[i];
        snprintf(path, sizeof(path), "%s/%s.bin", TEST_DATA_DIR, names[i]);
        v[i].msg = tu_read_file(path, &v[i].len);
        ck_assert_msg(v[i].msg != NULL, "cannot read %s", path);
        snprintf(path, sizeof(path), "%s/%s.txt", TEST_DATA_DIR, names[i]);
        load_sidecar(&v[i], path);
    }
    free(names);
    *n = count;
    return v;
}

void tu_free_vecs(tu_vec_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < v[i].nrr; j++) {
            tu_rr_t *rr = &v[i].rrs[j];
            for (size_t k = 0; k < rr->nfields; k++) {
                free(rr->fields[k].name);
                free(rr->fields[k].value);
            }
            free(rr->fields);
            free(rr->owner);
            free(rr->type_name);
            free(rr->rdata);
            free(rr->text);
            free(rr->wire);
        }
        for (size_t j = 0; j < v[i].nopts; j++)
            free(v[i].opt_data[j]);
        free(v[i].rrs);
        free(v[i].qname);
        free(v[i].msg);
        free(v[i].name);
    }
    free(v);
}

size_t tu_one_rr(uint8_t *out, size_t cap, uint16_t type, uint16_t rclass, const uint8_t *rdata,
                 size_t rdlen)
{
    /* ID 0, QR|RD|RA, no question, one answer owned by the root. */
    static const uint8_t root[] = {0};
    tpkt_t b;
    size_t n;

    tpkt_init(&b, cap, true);
    tpkt_rr(&b, 1, root, sizeof(root), type, rclass, 0, (uint16_t)rdlen);
    tpkt_put(&b, rdata, rdlen);
    tpkt_header(&b, 0, 0x8180);
    ck_assert(!b.bad);
    memcpy(out, b.d.p, b.d.len);
    n = b.d.len;
    tpkt_free(&b);
    return n;
}

sr_msg_t *tu_msg_new(void)
{
    sr_msg_t *msg = sr_msg_new();

    ck_assert_ptr_nonnull(msg);
    return msg;
}

void tu_parse_vec(sr_msg_t *msg, const tu_vec_t *v)
{
    sr_status_t st = sr_msg_parse(msg, v->msg, v->len, 0);

    ck_assert_msg(st == SR_OK, "%s: %d (%s)", v->name, st, sr_msg_error(msg));
}
