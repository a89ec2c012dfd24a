/* stubresd: the state file (see state.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "state.h"

struct state {
    char *path;
    size_t n;
    char **key;
    char **value;
};

state_t *state_new(const char *path)
{
    state_t *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    st->path = strdup(path != NULL ? path : "");
    if (st->path == NULL) {
        free(st);
        return NULL;
    }
    return st;
}

void state_free(state_t *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->n; i++) {
        free(st->key[i]);
        free(st->value[i]);
    }
    free(st->key);
    free(st->value);
    free(st->path);
    free(st);
}

const char *state_path(const state_t *st)
{
    return st->path;
}

size_t state_count(const state_t *st)
{
    return st->n;
}

void state_entry(const state_t *st, size_t i, const char **key, const char **value)
{
    *key = st->key[i];
    *value = st->value[i];
}

static void remove_at(state_t *st, size_t i)
{
    free(st->key[i]);
    free(st->value[i]);
    memmove(&st->key[i], &st->key[i + 1], (st->n - i - 1) * sizeof(char *));
    memmove(&st->value[i], &st->value[i + 1], (st->n - i - 1) * sizeof(char *));
    st->n--;
}

static void remove_key(state_t *st, const char *key)
{
    for (size_t i = 0; i < st->n; i++)
        if (strcasecmp(st->key[i], key) == 0) {
            remove_at(st, i);
            return;
        }
}

int state_set(state_t *st, const char *key, const char *value, char *err, size_t errcap)
{
    char **k, **v;
    bool keepable = true;

    /* One line per entry, read back by inih: no line breaks, and no ';'
     * after a blank (inih would take it for a comment). A ';' first is
     * after a blank too: the entry is written as "key = value". */
    for (const char *p = value; *p; p++)
        if (*p == '\n' || *p == '\r' ||
            (*p == ';' && (p == value || p[-1] == ' ' || p[-1] == '\t')))
            keepable = false;
    /* The earlier entry goes even when this value cannot be kept: it no
     * longer says what is in force, and a save would bring it back. */
    remove_key(st, key);
    /* The later of servers / dns_server wins; keep only that one. */
    if (strcasecmp(key, "servers") == 0 && value[0] != '\0')
        remove_key(st, "dns_server");
    if (strcasecmp(key, "dns_server") == 0 && value[0] != '\0')
        remove_key(st, "servers");
    if (!keepable) {
        snprintf(err, errcap, "%s: the value cannot be kept in the state file", key);
        return -1;
    }
    k = realloc(st->key, (st->n + 1) * sizeof(*k));
    if (k == NULL)
        goto nomem;
    st->key = k;
    v = realloc(st->value, (st->n + 1) * sizeof(*v));
    if (v == NULL)
        goto nomem;
    st->value = v;
    st->key[st->n] = strdup(key);
    st->value[st->n] = strdup(value);
    if (st->key[st->n] == NULL || st->value[st->n] == NULL) {
        free(st->key[st->n]);
        free(st->value[st->n]);
        goto nomem;
    }
    st->n++;
    return 0;
nomem:
    snprintf(err, errcap, "%s: out of memory", key);
    return -1;
}

state_t *state_dup(const state_t *st)
{
    state_t *d = state_new(st->path);
    char err[256];

    if (d == NULL)
        return NULL;
    for (size_t i = 0; i < st->n; i++)
        if (state_set(d, st->key[i], st->value[i], err, sizeof(err)) != 0) {
            state_free(d);
            return NULL;
        }
    return d;
}

static void record(void *arg, const char *name, const char *value)
{
    state_t *st = arg;
    char err[256];
    if (state_set(st, name, value, err, sizeof(err)) != 0)
        log_warnx("%s: %s", st->path, err);
}

int state_load(state_t *st, cfg_t *cfg, cfg_errors_t *errs)
{
    if (st->path[0] == '\0')
        return 0;
    return cfg_load_file(cfg, st->path, true, errs, record, st);
}

int state_save(const state_t *st, char *err, size_t errcap)
{
    char *tmp = NULL, *dircopy = NULL;
    FILE *f = NULL;
    int fd = -1, rc = -1;
    size_t plen;

    if (st->path[0] == '\0')
        return 0;
    plen = strlen(st->path);
    tmp = malloc(plen + 16);
    if (tmp == NULL) {
        snprintf(err, errcap, "state_file: out of memory");
        return -1;
    }
    /* The temporary file sits next to the real one: rename() is atomic
     * only within one file system. */
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", st->path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errcap, "state_file: cannot write %s: %s", st->path, strerror(errno));
        goto done;
    }
    fchmod(fd, 0640);
    f = fdopen(fd, "w");
    if (f == NULL) {
        snprintf(err, errcap, "state_file: %s: %s", tmp, strerror(errno));
        goto done;
    }
    fd = -1;
    fprintf(f, "; stubresd runtime state: settings changed through the control socket\n"
               "; (stubresctl config NAME=VALUE, stubresctl server SPEC...). Applied after\n"
               "; the config file at every start and reload. Written by stubresd;\n"
               "; delete a line to return that setting to the config file's value.\n");
    for (size_t i = 0; i < st->n; i++)
        fprintf(f, "%s = %s\n", st->key[i], st->value[i]);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        snprintf(err, errcap, "state_file: cannot write %s: %s", tmp, strerror(errno));
        goto done;
    }
    if (fclose(f) != 0) {
        f = NULL;
        snprintf(err, errcap, "state_file: cannot write %s: %s", tmp, strerror(errno));
        goto done;
    }
    f = NULL;
    if (rename(tmp, st->path) != 0) {
        snprintf(err, errcap, "state_file: cannot replace %s: %s", st->path, strerror(errno));
        goto done;
    }
    /* Make the rename itself durable. */
    dircopy = strdup(st->path);
    if (dircopy != NULL) {
        int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    rc = 0;
done:
    if (f != NULL)
        fclose(f);
    if (fd >= 0)
        close(fd);
    if (rc != 0 && tmp != NULL)
        unlink(tmp);
    free(dircopy);
    free(tmp);
    return rc;
}
