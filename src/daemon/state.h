/* stubresd: the state file.
 *
 * What an operator changes through the control socket (`config
 * NAME=VALUE`, `server SPEC...`) is written to state_file as `key = value`
 * lines and applied again after the config file at every start and
 * reload, so a restart loses nothing an operator set. The file is
 * replaced atomically (write a temporary file, fsync, rename), so a crash
 * leaves either the old or the new state, never half of one. */
#ifndef STUBRESD_STATE_H
#define STUBRESD_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "cfg.h"

typedef struct state state_t;

/* A state for path ("" or NULL: nothing is persisted). */
state_t *state_new(const char *path);
state_t *state_dup(const state_t *st);
void state_free(state_t *st);
const char *state_path(const state_t *st);

/* Read the file (missing is fine) into cfg and remember its entries.
 * Returns 0, or -1 with errors (naming file:line:key) in errs. */
int state_load(state_t *st, cfg_t *cfg, cfg_errors_t *errs);
/* Record key = value (canonical key name), replacing an earlier value;
 * servers and dns_server replace each other (the last one set wins, as
 * in cfg_set). Returns 0, or -1 with err when the value cannot be written
 * as one line; the earlier value is dropped then too. */
int state_set(state_t *st, const char *key, const char *value, char *err, size_t errcap);
/* Write the file atomically. 0, or -1 with err. No-op without a path. */
int state_save(const state_t *st, char *err, size_t errcap);
/* Number of entries, and entry i. */
size_t state_count(const state_t *st);
void state_entry(const state_t *st, size_t i, const char **key, const char **value);

#endif
