/* libFuzzer target: the daemon's config file reader (src/daemon/cfg.c,
 * inih underneath) and its state file (src/daemon/state.c).
 *
 * Input: a 2-byte big-endian length L, then L bytes of config file, then
 * the state file. The config file goes through daemon_load(), the very
 * path of `stubresd -c FILE` (file, then the state file it names, then
 * the checks across keys); the state file through state_load() on top of
 * what the config gave, as every start and reload does. Files live in a
 * sandbox (sandbox.h): /fuzz/stubresd.conf and /fuzz/runtime.conf.
 *
 * Besides "no crash, no leak", checks that nothing accepted is something
 * the validator would refuse: every value of a loaded config, in its
 * canonical text, must be accepted again by cfg_set() (the path of the
 * control socket) into a fresh config and keep its text, and the result
 * must pass cfg_check(); cfg_dup() must give the same texts; a failed
 * load must say why. Every entry of the state file that was applied holds
 * the key's value in force, and what state_save() writes must read back
 * to the same settings. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "daemon.h"
#include "fuzz.h"
#include "log.h"
#include "sandbox.h"
#include "state.h"

static void check_errors(const cfg_errors_t *e)
{
    FUZZ_CHECK(e->n <= CFG_MAX_ERRORS);
    for (size_t i = 0; i < e->n; i++)
        FUZZ_CHECK(e->msg[i] != NULL && e->msg[i][0] != '\0');
}

static bool same_text(const char *a, const char *b)
{
    return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

/* Every setting of c, in canonical text, set again on a fresh config. */
static void check_revalidates(const cfg_t *c)
{
    cfg_t *fresh = cfg_new();
    cfg_errors_t errs = {0};
    char err[2048];

    FUZZ_CHECK(fresh != NULL);
    for (size_t i = 0; i < cfg_nkeys(); i++) {
        if (!cfg_key_settable(i) || c->text[i] == NULL)
            continue;
        cfg_status_t st =
            cfg_set(fresh, cfg_key_name(i), c->text[i], NULL, false, err, sizeof(err));
        if (st != CFG_OK)
            fprintf(stderr, "%s = '%s' was accepted, now: %s\n", cfg_key_name(i), c->text[i], err);
        FUZZ_CHECK(st == CFG_OK);
    }
    for (size_t i = 0; i < cfg_nkeys(); i++) {
        if (!same_text(fresh->text[i], c->text[i]))
            fprintf(stderr, "%s: '%s' became '%s'\n", cfg_key_name(i), c->text[i], fresh->text[i]);
        FUZZ_CHECK(same_text(fresh->text[i], c->text[i]));
    }
    int rc = cfg_check(fresh, &errs);
    if (rc != 0)
        fprintf(stderr, "accepted config fails its check when set again: %s\n",
                errs.n ? errs.msg[0] : "?");
    FUZZ_CHECK(rc == 0);
    cfg_errors_clear(&errs);
    cfg_unref(fresh);

    cfg_t *d = cfg_dup(c);
    FUZZ_CHECK(d != NULL);
    for (size_t i = 0; i < cfg_nkeys(); i++)
        FUZZ_CHECK(same_text(d->text[i], c->text[i]));
    cfg_unref(d);
}

/* The state file on top of base (a copy); its applied entries hold what
 * is in force, and saving them reads back the same. */
static void check_state(const cfg_t *base)
{
    cfg_errors_t errs = {0};
    char err[1024], saved[256];
    cfg_t *c = base != NULL ? cfg_dup(base) : cfg_new();
    state_t *st = state_new("/fuzz/runtime.conf");

    FUZZ_CHECK(c != NULL && st != NULL);
    int rc = state_load(st, c, &errs);
    check_errors(&errs);
    FUZZ_CHECK(rc == 0 || errs.n + errs.dropped > 0);
    for (size_t i = 0; i < state_count(st); i++) {
        const char *key, *value;
        state_entry(st, i, &key, &value);
        int k = cfg_key_index(key);
        FUZZ_CHECK(k >= 0 && strcmp(cfg_key_name((size_t)k), key) == 0);
        if (!same_text(c->text[k], value))
            fprintf(stderr, "state %s = '%s', in force '%s'\n", key, value, c->text[k]);
        FUZZ_CHECK(same_text(c->text[k], value));
    }

    /* Written out and read back into what the state was applied to. */
    state_t *out = state_new(sandbox_real("saved.conf", saved, sizeof(saved)));
    FUZZ_CHECK(out != NULL);
    for (size_t i = 0; i < state_count(st); i++) {
        const char *key, *value;
        state_entry(st, i, &key, &value);
        FUZZ_CHECK(state_set(out, key, value, err, sizeof(err)) == 0);
    }
    FUZZ_CHECK(state_save(out, err, sizeof(err)) == 0);
    cfg_t *again = base != NULL ? cfg_dup(base) : cfg_new();
    state_t *back = state_new("/fuzz/saved.conf");
    cfg_errors_t errs2 = {0};
    FUZZ_CHECK(again != NULL && back != NULL);
    rc = state_load(back, again, &errs2);
    if (rc != 0)
        fprintf(stderr, "saved state does not load: %s\n", errs2.n ? errs2.msg[0] : "?");
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(state_count(back) == state_count(out));
    for (size_t i = 0; i < state_count(out); i++) {
        const char *key, *value;
        state_entry(out, i, &key, &value);
        int k = cfg_key_index(key);
        FUZZ_CHECK(same_text(again->text[k], c->text[k]));
    }
    cfg_errors_clear(&errs2);
    state_free(back);
    cfg_unref(again);
    state_free(out);

    /* The settings with the state applied, checked as a start would. */
    cfg_errors_clear(&errs);
    (void)cfg_check(c, &errs);
    check_errors(&errs);
    cfg_errors_clear(&errs);
    state_free(st);
    cfg_unref(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    cfg_errors_t errs = {0};
    state_t *st = NULL;

    if (!init) {
        /* Warnings (a bad state entry) to stderr, nothing chattier. */
        log_init("fuzz_config", true, LOG_LEVEL_ERROR);
        init = true;
    }
    if (size < 2)
        return 0;
    sandbox_enter();
    size_t len = (size_t)data[0] << 8 | data[1];
    if (len > size - 2)
        len = size - 2;
    sandbox_write("stubresd.conf", data + 2, len);
    sandbox_write("runtime.conf", data + 2 + len, size - 2 - len);

    cfg_t *c = daemon_load("/fuzz/stubresd.conf", &st, &errs);
    check_errors(&errs);
    if (c == NULL) {
        FUZZ_CHECK(st == NULL && errs.n + errs.dropped > 0);
    } else {
        FUZZ_CHECK(st != NULL && errs.n == 0 && errs.dropped == 0);
        FUZZ_CHECK(strcmp(c->path, "/fuzz/stubresd.conf") == 0);
        check_revalidates(c);
    }
    cfg_errors_clear(&errs);
    check_state(c);
    state_free(st);
    cfg_unref(c);
    sandbox_leave();
    return 0;
}
