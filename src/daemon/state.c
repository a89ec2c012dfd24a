/* stubresd: the state file (see state.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "state.h"
#include "util.h" /* sr_write_atomic */

/* Most config-file values one entry records: the key's own, and for
 * servers / dns_server the other one's. */
#define FILE_VALUES STATE_RELATED_MAX

typedef struct entry {
    char *key;   /* canonical name */
    char *value; /* NULL: only metadata lines were read */
    int64_t since;
    size_t nfile;
    char *fkey[FILE_VALUES]; /* canonical names */
    char *fval[FILE_VALUES];
    char *where; /* "FILE:LINE" of the value line, for messages */
} entry_t;

struct state {
    char *path;
    char *config; /* the config file the entries belong to ("" unknown) */
    size_t n;
    entry_t *e;
};

static void entry_clear(entry_t *e)
{
    free(e->key);
    free(e->value);
    for (size_t i = 0; i < e->nfile; i++) {
        free(e->fkey[i]);
        free(e->fval[i]);
    }
    free(e->where);
    memset(e, 0, sizeof(*e));
}

static void clear_entries(state_t *st)
{
    for (size_t i = 0; i < st->n; i++)
        entry_clear(&st->e[i]);
    free(st->e);
    st->e = NULL;
    st->n = 0;
}

state_t *state_new(const char *path)
{
    state_t *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    st->path = strdup(path != NULL ? path : "");
    st->config = strdup("");
    if (st->path == NULL || st->config == NULL) {
        state_free(st);
        return NULL;
    }
    return st;
}

void state_free(state_t *st)
{
    if (st == NULL)
        return;
    clear_entries(st);
    free(st->path);
    free(st->config);
    free(st);
}

const char *state_path(const state_t *st)
{
    return st->path;
}

int state_set_config(state_t *st, const char *config_file)
{
    char *d = strdup(config_file != NULL ? config_file : "");
    if (d == NULL)
        return -1;
    free(st->config);
    st->config = d;
    return 0;
}

size_t state_count(const state_t *st)
{
    return st->n;
}

void state_get(const state_t *st, size_t i, state_override_t *out)
{
    const entry_t *e = &st->e[i];

    out->key = e->key;
    out->value = e->value != NULL ? e->value : "";
    out->since = e->since;
    out->file_value = NULL;
    for (size_t j = 0; j < e->nfile; j++)
        if (strcmp(e->fkey[j], e->key) == 0)
            out->file_value = e->fval[j];
}

static void remove_at(state_t *st, size_t i)
{
    entry_clear(&st->e[i]);
    memmove(&st->e[i], &st->e[i + 1], (st->n - i - 1) * sizeof(entry_t));
    st->n--;
}

static int find(const state_t *st, const char *key)
{
    for (size_t i = 0; i < st->n; i++)
        if (strcasecmp(st->e[i].key, key) == 0)
            return (int)i;
    return -1;
}

static bool remove_key(state_t *st, const char *key)
{
    int i = find(st, key);
    if (i < 0)
        return false;
    remove_at(st, (size_t)i);
    return true;
}

/* servers and dns_server describe the same thing (cfg_set keeps the one
 * set last): an entry of either depends on the file's values of both. */
static bool upstream_pair(const char *key)
{
    return strcasecmp(key, "servers") == 0 || strcasecmp(key, "dns_server") == 0;
}

size_t state_related_keys(const char *key, const char *out[STATE_RELATED_MAX])
{
    if (upstream_pair(key)) {
        out[0] = strcasecmp(key, "servers") == 0 ? "servers" : "dns_server";
        out[1] = strcasecmp(key, "servers") == 0 ? "dns_server" : "servers";
        return 2;
    }
    out[0] = key;
    return 1;
}

static entry_t *append(state_t *st, const char *key)
{
    entry_t *e = realloc(st->e, (st->n + 1) * sizeof(*e));
    if (e == NULL)
        return NULL;
    st->e = e;
    e = &st->e[st->n];
    memset(e, 0, sizeof(*e));
    e->key = strdup(key);
    if (e->key == NULL)
        return NULL;
    st->n++;
    return e;
}

/* One line per value, read back by inih: no line breaks, and no ';'
 * after a blank (inih would take it for a comment). A ';' first is after
 * a blank too: the value is written as "key = value". */
static bool keepable(const char *value)
{
    for (const char *p = value; *p; p++)
        if (*p == '\n' || *p == '\r' ||
            (*p == ';' && (p == value || p[-1] == ' ' || p[-1] == '\t')))
            return false;
    return true;
}

/* The canonical text of key in file. */
static const char *file_text(const cfg_t *file, const char *key)
{
    int i = cfg_key_index(key);
    return i >= 0 && file->text[i] != NULL ? file->text[i] : "";
}

int state_set(state_t *st, const cfg_t *file, const char *key, const char *value, int64_t since,
              char *err, size_t errcap)
{
    const char *rel[FILE_VALUES];
    size_t nrel = state_related_keys(key, rel);
    bool same = strcmp(file_text(file, key), value) == 0;
    entry_t *e;

    /* The earlier entry goes even when this value cannot be kept: it no
     * longer says what is in force, and a save would bring it back. */
    remove_key(st, key);
    /* The later of servers / dns_server wins; keep only that one. */
    if (strcasecmp(key, "servers") == 0 && value[0] != '\0')
        remove_key(st, "dns_server");
    if (strcasecmp(key, "dns_server") == 0 && value[0] != '\0')
        remove_key(st, "servers");
    if (same) {
        /* The file's own value for key: nothing is overridden, unless
         * the other of the upstream pair is set in the file (then this
         * value does replace that one). */
        bool other_set = nrel > 1 && value[0] != '\0' && file_text(file, rel[1])[0] != '\0';
        if (!other_set)
            return 0;
    }
    if (!keepable(value)) {
        snprintf(err, errcap, "%s: the value cannot be kept in the state file", key);
        return -1;
    }
    for (size_t i = 0; i < nrel; i++)
        if (!keepable(file_text(file, rel[i]))) {
            snprintf(err, errcap,
                     "%s: the config file's value of %s cannot be kept in the state file", key,
                     rel[i]);
            return -1;
        }
    e = append(st, key);
    if (e == NULL)
        goto nomem;
    e->since = since;
    e->value = strdup(value);
    if (e->value == NULL)
        goto nomem;
    for (size_t i = 0; i < nrel; i++) {
        e->fkey[i] = strdup(rel[i]);
        e->fval[i] = strdup(file_text(file, rel[i]));
        e->nfile++;
        if (e->fkey[i] == NULL || e->fval[i] == NULL)
            goto nomem;
    }
    return 0;
nomem:
    if (e != NULL)
        remove_key(st, key);
    snprintf(err, errcap, "%s: out of memory", key);
    return -1;
}

bool state_remove(state_t *st, const char *key_in)
{
    char key[128];
    /* key may be an entry's own name, freed by the first removal. */
    snprintf(key, sizeof(key), "%s", key_in);
    bool any = remove_key(st, key);
    if (upstream_pair(key)) {
        any = remove_key(st, "servers") || any;
        any = remove_key(st, "dns_server") || any;
    }
    return any;
}

static int copy_entry(entry_t *d, const entry_t *s)
{
    d->since = s->since;
    if (s->value != NULL && (d->value = strdup(s->value)) == NULL)
        return -1;
    if (s->where != NULL && (d->where = strdup(s->where)) == NULL)
        return -1;
    for (size_t i = 0; i < s->nfile; i++) {
        d->fkey[i] = strdup(s->fkey[i]);
        d->fval[i] = strdup(s->fval[i]);
        d->nfile++;
        if (d->fkey[i] == NULL || d->fval[i] == NULL)
            return -1;
    }
    return 0;
}

state_t *state_dup(const state_t *st)
{
    state_t *d = state_new(st->path);

    if (d == NULL || state_set_config(d, st->config) != 0)
        goto fail;
    for (size_t i = 0; i < st->n; i++) {
        entry_t *e = append(d, st->e[i].key);
        if (e == NULL || copy_entry(e, &st->e[i]) != 0)
            goto fail;
    }
    return d;
fail:
    state_free(d);
    return NULL;
}

/* ----------------------------------------------------------- reading */

struct read_ctx {
    state_t *st;
    cfg_errors_t *errs;
};

static entry_t *entry_for(state_t *st, const char *key)
{
    int i = find(st, key);
    return i >= 0 ? &st->e[i] : append(st, key);
}

static int set_str(char **slot, const char *value)
{
    char *d = strdup(value);
    if (d == NULL)
        return -1;
    free(*slot);
    *slot = d;
    return 0;
}

/* name is KEY, KEY.since, KEY.file or KEY.file.OTHER (KEY and OTHER
 * config keys, any case), or config_file. */
static void read_line(void *arg, const char *where, const char *section, const char *name,
                      const char *value)
{
    struct read_ctx *x = arg;
    char base[128];
    const char *dot = strchr(name, '.'), *suffix = dot != NULL ? dot + 1 : "";
    size_t blen = dot != NULL ? (size_t)(dot - name) : strlen(name);
    entry_t *e;
    int k;

    if (section[0] != '\0') {
        cfg_errors_add(x->errs, "%s: %s: unexpected section [%s]", where, name, section);
        return;
    }
    if (strcasecmp(name, "config_file") == 0) {
        if (set_str(&x->st->config, value) != 0)
            cfg_errors_add(x->errs, "%s: out of memory", where);
        return;
    }
    k = -1;
    if (blen < sizeof(base)) {
        memcpy(base, name, blen);
        base[blen] = '\0';
        k = cfg_key_index(base);
    }
    if (k < 0) {
        cfg_errors_add(x->errs, "%s: %s: unknown setting", where, name);
        return;
    }
    /* The later of servers / dns_server wins, as in cfg_set. */
    if (dot == NULL && value[0] != '\0' && upstream_pair(base))
        remove_key(x->st, strcasecmp(cfg_key_name((size_t)k), "servers") == 0 ? "dns_server"
                                                                            : "servers");
    e = entry_for(x->st, cfg_key_name((size_t)k));
    if (e == NULL) {
        cfg_errors_add(x->errs, "%s: out of memory", where);
        return;
    }
    if (dot == NULL) {
        if (set_str(&e->value, value) != 0 || set_str(&e->where, where) != 0)
            cfg_errors_add(x->errs, "%s: out of memory", where);
    } else if (strcasecmp(suffix, "since") == 0) {
        char *end;
        errno = 0;
        long long t = strtoll(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || t < 0)
            cfg_errors_add(x->errs, "%s: %s: '%s' is not a time", where, name, value);
        else
            e->since = (int64_t)t;
    } else if (strncasecmp(suffix, "file", 4) == 0 && (suffix[4] == '\0' || suffix[4] == '.')) {
        int o = suffix[4] == '\0' ? k : cfg_key_index(suffix + 5);
        size_t j;
        if (o < 0) {
            cfg_errors_add(x->errs, "%s: %s: unknown setting", where, name);
            return;
        }
        for (j = 0; j < e->nfile; j++)
            if (strcmp(e->fkey[j], cfg_key_name((size_t)o)) == 0)
                break;
        if (j == e->nfile) {
            if (e->nfile == FILE_VALUES) {
                cfg_errors_add(x->errs, "%s: %s: too many config-file values", where, name);
                return;
            }
            if (set_str(&e->fkey[j], cfg_key_name((size_t)o)) != 0) {
                cfg_errors_add(x->errs, "%s: out of memory", where);
                return;
            }
            e->nfile++;
        }
        if (set_str(&e->fval[j], value) != 0)
            cfg_errors_add(x->errs, "%s: out of memory", where);
    } else {
        cfg_errors_add(x->errs, "%s: %s: unknown setting", where, name);
    }
}

int state_read(state_t *st, cfg_errors_t *errs)
{
    struct read_ctx x = {st, errs};
    int rc;

    clear_entries(st);
    if (set_str(&st->config, "") != 0)
        return -1;
    if (st->path[0] == '\0')
        return 0;
    rc = cfg_read_ini(st->path, true, errs, read_line, &x);
    /* Lines of metadata without their value line are no entries. */
    for (size_t i = st->n; i-- > 0;)
        if (st->e[i].value == NULL)
            remove_at(st, i);
    return rc;
}

/* ----------------------------------------------------------- applying */

static void format_time(int64_t t, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (t <= 0 || gmtime_r(&tt, &tm) == NULL || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, cap, "an unknown time");
}

/* Why entry e no longer applies on top of file, or NULL. */
static const char *stale_reason(const state_t *st, const entry_t *e, const cfg_t *file,
                                const char *config_id, char *buf, size_t cap)
{
    if (e->nfile == 0)
        return "it was written by an older stubresd, which did not record the config file's "
               "value it replaced";
    if (st->config[0] == '\0' || strcmp(st->config, config_id) != 0) {
        snprintf(buf, cap, "it was set for the config file %s, not %s",
                 st->config[0] ? st->config : "(unknown)", config_id);
        return buf;
    }
    for (size_t j = 0; j < e->nfile; j++) {
        const char *now = file_text(file, e->fkey[j]);
        if (strcmp(now, e->fval[j]) != 0) {
            char when[40];
            format_time(e->since, when, sizeof(when));
            snprintf(buf, cap, "%s in %s is now '%.200s', was '%.200s' when it was set (%s)",
                     e->fkey[j], config_id, now, e->fval[j], when);
            return buf;
        }
    }
    return NULL;
}

size_t state_apply(state_t *st, const cfg_t *file, const char *config_id, cfg_t *c)
{
    size_t dropped = 0;
    char why[2400], err[2048];

    for (size_t i = 0; i < st->n;) {
        entry_t *e = &st->e[i];
        const char *reason = stale_reason(st, e, file, config_id, why, sizeof(why));
        if (reason == NULL &&
            cfg_set(c, e->key, e->value, e->where, false, err, sizeof(err)) != CFG_OK) {
            snprintf(why, sizeof(why), "%s", err);
            reason = why;
        }
        if (reason == NULL) {
            /* Kept as cfg_set wrote it, as a change at run time is. */
            int k = cfg_key_index(e->key);
            if (c->text[k] != NULL && set_str(&e->value, c->text[k]) != 0)
                log_warnx("state_file: out of memory");
            i++;
            continue;
        }
        /* The config file wins: say so once, with what was dropped. */
        char shown[CFG_VALUE_MAX + 16];
        cfg_redact(e->key, e->value, shown, sizeof(shown));
        log_notice("state_file %s: dropped the run-time change %s = %.300s: %s; the config "
                   "file's value is in force",
                   st->path, e->key, shown, reason);
        remove_at(st, i);
        dropped++;
    }
    if (strcmp(st->config, config_id) != 0) {
        /* From now on the entries belong to this config file. */
        if (state_set_config(st, config_id) != 0)
            log_warnx("state_file: out of memory");
    }
    return dropped;
}

/* ----------------------------------------------------------- writing */

int state_save(const state_t *st, char *err, size_t errcap)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f;
    int rc = 0;

    if (st->path[0] == '\0')
        return 0;
    /* Rendered in memory, then written whole (sr_write_atomic): a reader
     * sees the old state or the new one. */
    f = open_memstream(&buf, &len);
    if (f == NULL) {
        snprintf(err, errcap, "state_file: out of memory");
        return -1;
    }
    fprintf(f, "; stubresd runtime state: settings changed through the control socket\n"
               "; (stubresctl config NAME=VALUE, stubresctl server SPEC...), applied after\n"
               "; the config file at every start and reload while the config file still\n"
               "; has the value each one replaced (KEY.file); when it does not, the config\n"
               "; file wins. Written by stubresd; `stubresctl config reset [NAME]` drops them.\n");
    if (st->config[0] != '\0')
        fprintf(f, "config_file = %s\n", st->config);
    for (size_t i = 0; i < st->n; i++) {
        const entry_t *e = &st->e[i];
        fprintf(f, "%s = %s\n%s.since = %" PRId64 "\n", e->key, e->value, e->key, e->since);
        for (size_t j = 0; j < e->nfile; j++) {
            if (strcmp(e->fkey[j], e->key) == 0)
                fprintf(f, "%s.file = %s\n", e->key, e->fval[j]);
            else
                fprintf(f, "%s.file.%s = %s\n", e->key, e->fkey[j], e->fval[j]);
        }
    }
    if (fclose(f) != 0) {
        snprintf(err, errcap, "state_file: out of memory");
        free(buf);
        return -1;
    }
    if (sr_write_atomic(st->path, 0640, buf, len) != 0) {
        snprintf(err, errcap, "state_file: cannot write %s: %s", st->path, strerror(errno));
        rc = -1;
    }
    free(buf);
    return rc;
}
