/* Fuzz target: block lists (src/daemon/blocklist.c). The input is a list
 * file. bl_table_parse() must take any bytes (bad lines skipped, never a
 * crash or a read outside the input), and the table it builds must keep
 * its rules for every word of the input that is a domain name:
 *  - a name that matches matches in any case, and so does every name
 *    below it (a listed name blocks itself and all below);
 *  - a name that does not match has no listed parent either: its parent
 *    does not match;
 *  - the file and line reported are the table's one file and a line of
 *    the input. */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include <stubres/wire.h>

#include "blocklist.h"
#include "fuzz.h"
#include "log.h"

/* Words of one input whose rules are checked (each costs a few lookups). */
#define MAX_WORDS 256

static bool match(const bl_table_t *t, const uint8_t *w, size_t n, bl_where_t *where)
{
    return bl_table_match(t, w, n, where);
}

static void check_word(const bl_table_t *t, const char *word, unsigned nlines)
{
    uint8_t wire[SR_NAME_MAX_WIRE], upper[SR_NAME_MAX_WIRE], below[SR_NAME_MAX_WIRE];
    size_t len;
    bl_where_t w;

    if (sr_name_from_text(word, wire, sizeof(wire), &len) != SR_OK || len <= 1)
        return;
    bool hit = match(t, wire, len, &w);
    for (size_t i = 0; i < len; i++)
        upper[i] = (uint8_t)toupper(wire[i]);
    FUZZ_CHECK(match(t, upper, len, NULL) == hit);
    if (len + 2 <= SR_NAME_MAX_WIRE) {
        below[0] = 1;
        below[1] = 'x';
        memcpy(below + 2, wire, len);
        if (hit)
            FUZZ_CHECK(match(t, below, len + 2, NULL));
    }
    if (hit) {
        FUZZ_CHECK(w.file == 0);
        FUZZ_CHECK(w.line >= 1 && w.line <= nlines);
    } else if (wire[0] != 0 && len > 1u + wire[0] + 1u) {
        /* The parent: not listed either, or this name would be. */
        FUZZ_CHECK(!match(t, wire + 1 + wire[0], len - 1 - wire[0], NULL));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    char word[300];
    unsigned nlines = 1, nwords = 0;

    if (!quiet) {
        log_set_level(LOG_LEVEL_ERROR); /* bad lines are the point: do not log each */
        quiet = true;
    }
    bl_table_t *t = bl_table_parse("fuzz", (const char *)data, size);
    if (t == NULL)
        return 0; /* out of memory */
    FUZZ_CHECK(bl_table_nfiles(t) == 1);
    FUZZ_CHECK(bl_table_file_names(t, 0) == bl_table_count(t));
    FUZZ_CHECK(bl_table_count(t) <= (size + 1) / 2); /* "a\n" per name at least */
    for (size_t i = 0; i < size; i++)
        nlines += data[i] == '\n';
    /* Every word (split at blanks, commas, '|', '^', '#', '!'), as a name. */
    for (size_t i = 0; i < size && nwords < MAX_WORDS;) {
        size_t n = 0;
        while (i < size && strchr(" \t\r\n,|^#!", data[i]) != NULL && data[i] != '\0')
            i++;
        while (i + n < size && data[i + n] != '\0' && strchr(" \t\r\n,|^#!", data[i + n]) == NULL)
            n++;
        if (n == 0) {
            i++;
            continue;
        }
        if (n < sizeof(word)) {
            memcpy(word, data + i, n);
            word[n] = '\0';
            check_word(t, word, nlines);
            nwords++;
        }
        i += n;
    }
    bl_table_unref(t);
    return 0;
}
