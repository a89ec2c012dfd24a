/* libFuzzer target: the daemon's config file reader (src/daemon/cfg.c,
 * inih underneath) and its state file (src/daemon/state.c).
 *
 * Input: a 2-byte big-endian length L, then L bytes of config file, then
 * the state file. The config file goes through daemon_load(), the very
 * path of `stubresd -c FILE` (file, then the state file it names, then
 * the checks across keys); the state file through state_read() and
 * state_apply() on top of what the config file gave, as every start and
 * reload does. Files live in a
 * sandbox (sandbox.h): /fuzz/stubresd.conf and /fuzz/runtime.conf.
 *
 * Besides "no crash, no leak", checks that nothing accepted is something
 * the validator would refuse: every value of a loaded config, in its
 * canonical text, must be accepted again by cfg_set() (the path of the
 * control socket) into a fresh config and keep its text, and the result
 * must pass cfg_check(); cfg_dup() must give the same texts; a failed
 * load must say why. Every entry of the state file that was applied holds
 * the key's value in force, and what state_save() writes must read back
 * to the same settings with nothing dropped. */
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

/* The state file on top of base (a copy; a default config when the file
 * did not load); the entries it keeps hold what is in force, and saving
 * them reads back the same, with nothing dropped. */
static void check_state(const cfg_t *base)
{
    cfg_errors_t errs = {0};
    char err[1024], saved[256];
    cfg_t *file = base != NULL ? cfg_dup(base) : cfg_new();
    cfg_t *c = file != NULL ? cfg_dup(file) : NULL;
    state_t *st = state_new("/fuzz/runtime.conf");
    state_override_t o;

    FUZZ_CHECK(c != NULL && st != NULL);
    int rc = state_read(st, &errs);
    check_errors(&errs);
    FUZZ_CHECK(rc == 0 || errs.n + errs.dropped > 0);
    size_t before = state_count(st);
    size_t dropped = state_apply(st, file, "/fuzz/stubresd.conf", c);
    FUZZ_CHECK(dropped + state_count(st) == before);
    for (size_t i = 0; i < state_count(st); i++) {
        state_get(st, i, &o);
        int k = cfg_key_index(o.key);
        FUZZ_CHECK(k >= 0 && strcmp(cfg_key_name((size_t)k), o.key) == 0);
        if (!same_text(c->text[k], o.value))
            fprintf(stderr, "state %s = '%s', in force '%s'\n", o.key, o.value, c->text[k]);
        FUZZ_CHECK(same_text(c->text[k], o.value));
    }

    /* Written out and read back on top of the same file: the same
     * settings, nothing dropped. */
    state_t *out = state_dup(st);
    FUZZ_CHECK(out != NULL);
    state_free(out);
    out = state_new(sandbox_real("saved.conf", saved, sizeof(saved)));
    FUZZ_CHECK(out != NULL && state_set_config(out, "/fuzz/stubresd.conf") == 0);
    for (size_t i = 0; i < state_count(st); i++) {
        state_get(st, i, &o);
        FUZZ_CHECK(state_set(out, file, o.key, o.value, o.since, err, sizeof(err)) == 0);
    }
    FUZZ_CHECK(state_save(out, err, sizeof(err)) == 0);
    cfg_t *again = cfg_dup(file);
    state_t *back = state_new("/fuzz/saved.conf");
    cfg_errors_t errs2 = {0};
    FUZZ_CHECK(again != NULL && back != NULL);
    rc = state_read(back, &errs2);
    if (rc != 0)
        fprintf(stderr, "saved state does not load: %s\n", errs2.n ? errs2.msg[0] : "?");
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(state_count(back) == state_count(out));
    FUZZ_CHECK(state_apply(back, file, "/fuzz/stubresd.conf", again) == 0);
    for (size_t i = 0; i < cfg_nkeys(); i++) {
        if (!same_text(again->text[i], c->text[i]))
            fprintf(stderr, "%s: '%s' in force, '%s' after the saved state\n", cfg_key_name(i),
                    c->text[i], again->text[i]);
        FUZZ_CHECK(same_text(again->text[i], c->text[i]));
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
    cfg_unref(file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    cfg_errors_t errs = {0};
    state_t *st = NULL;
    cfg_t *file = NULL;
    size_t dropped = 0;

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

    cfg_t *c = daemon_load("/fuzz/stubresd.conf", &file, &st, &dropped, &errs);
    check_errors(&errs);
    if (c == NULL) {
        FUZZ_CHECK(st == NULL && file == NULL && errs.n + errs.dropped > 0);
    } else {
        FUZZ_CHECK(st != NULL && file != NULL && errs.n == 0 && errs.dropped == 0);
        FUZZ_CHECK(strcmp(c->path, "/fuzz/stubresd.conf") == 0);
        check_revalidates(c);
    }
    cfg_errors_clear(&errs);
    check_state(file);
    state_free(st);
    cfg_unref(file);
    cfg_unref(c);
    sandbox_leave();
    return 0;
}
