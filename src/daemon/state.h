/* stubresd: the state file.
 *
 * What an operator changes through the control socket (`config
 * NAME=VALUE`, `server SPEC...`) is written to state_file and applied
 * again after the config file at every start and reload, so a restart
 * loses nothing an operator set. The file is replaced atomically (write a
 * temporary file, fsync, rename), so a crash leaves either the old or the
 * new state, never half of one.
 *
 * A run-time change overrides the config file only while the file still
 * says what it said when the change was made: every entry records the
 * config file's value it replaced (for servers and dns_server, which
 * replace each other, the file's values of both) and the config file it
 * belongs to. When the operator edits that key in the file, or the state
 * file was written for another config file, the file wins: the entry is
 * dropped and one log line says so. An unbound-control user expects this;
 * the opposite once kept a plaintext udp:// upstream in force after the
 * config file was changed to DoT.
 *
 * The file, as written (inih reads it; nothing else is in it):
 *
 *     config_file = /etc/stubresd.conf
 *     servers = tls://127.0.0.9:8530#dot.example.test
 *     servers.since = 1765060000
 *     servers.file = udp://127.0.0.9:5300
 *     servers.file.dns_server =
 *
 * An entry without `.file` lines was written by an older stubresd, which
 * did not record what it replaced: it is dropped (and logged), since
 * nothing says the file has not changed since. */
#ifndef STUBRESD_STATE_H
#define STUBRESD_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"

typedef struct state state_t;

/* One run-time change in force (pointers owned by the state). */
typedef struct state_override {
    const char *key;        /* canonical key name */
    const char *value;      /* the value in force */
    const char *file_value; /* the config file's value of key it replaced */
    int64_t since;          /* when it was set, Unix time */
} state_override_t;

/* A state for path ("" or NULL: nothing is persisted). */
state_t *state_new(const char *path);
state_t *state_dup(const state_t *st);
void state_free(state_t *st);
const char *state_path(const state_t *st);

/* The config file these changes belong to (the caller passes a canonical
 * path); written to the file and compared by state_apply(). */
int state_set_config(state_t *st, const char *config_file);

/* Read the file (missing is fine) into st, replacing its entries. Returns
 * 0, or -1 with errors (naming file:line:key) in errs; the entries read
 * before an error are kept. */
int state_read(state_t *st, cfg_errors_t *errs);

/* Apply the entries read onto c, which holds the config file's settings
 * (file: the same settings, unchanged by this call; config_id: the
 * canonical path of that file, as state_set_config() takes it). An entry whose recorded file values differ from
 * file's, that was written for another config file or by an older
 * stubresd, or whose value is refused now, is dropped with a log line.
 * Returns the number of entries dropped (the caller saves the state when
 * it is not 0). */
size_t state_apply(state_t *st, const cfg_t *file, const char *config_id, cfg_t *c);

/* Record key = value (canonical key name), set at time since, replacing
 * an earlier value of key; file gives the config file's values it
 * replaces. servers and dns_server replace each other (the last one set
 * wins, as in cfg_set). A value equal to the file's drops the entry
 * instead (nothing is overridden). Returns 0, or -1 with err when the
 * value cannot be written as one line; the earlier value is dropped then
 * too. */
int state_set(state_t *st, const cfg_t *file, const char *key, const char *value, int64_t since,
              char *err, size_t errcap);
/* The keys a change of key stands or falls with, key first: servers and
 * dns_server replace each other (cfg_set), so an entry of either records
 * the config file's values of both, and a reset of either restores both. */
#define STATE_RELATED_MAX 2
size_t state_related_keys(const char *key, const char *out[STATE_RELATED_MAX]);
/* Drop the entry of key (servers and dns_server: both). True when there
 * was one. */
bool state_remove(state_t *st, const char *key);

/* Write the file atomically. 0, or -1 with err. No-op without a path. */
int state_save(const state_t *st, char *err, size_t errcap);

/* Number of entries, and entry i. */
size_t state_count(const state_t *st);
void state_get(const state_t *st, size_t i, state_override_t *out);

#endif
