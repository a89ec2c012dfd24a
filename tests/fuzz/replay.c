/* Replays a libFuzzer corpus through LLVMFuzzerTestOneInput without
 * libFuzzer, so that make check runs every committed input on every build
 * (and under ASan/UBSan in the sanitizer build).
 *
 * Usage: replay_X [FILE|DIR]...; without arguments the corpus directory
 * compiled in as CORPUS_DIR. Exits non-zero when an input cannot be read
 * (a crash of the target is a crash of this program). */
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs larger than this are not fuzz inputs (libFuzzer's -max_len is
 * far below it); refusing them keeps the replay bounded. */
#define REPLAY_MAX_INPUT (4u << 20)

/* Run one file; returns 0 on success. */
static int replay_file(const char *path)
{
    struct stat st;
    uint8_t *buf = NULL;
    FILE *f = NULL;
    int rc = 1;

    f = fopen(path, "rb");
    if (f == NULL || fstat(fileno(f), &st) != 0 || st.st_size < 0 ||
        (uintmax_t)st.st_size > REPLAY_MAX_INPUT) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        goto done;
    }
    /* An exact-size heap copy: ASan flags any read past the input. */
    buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
    if (buf == NULL ||
        fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        goto done;
    }
    LLVMFuzzerTestOneInput(buf, (size_t)st.st_size);
    rc = 0;

done:
    free(buf);
    if (f != NULL)
        fclose(f);
    return rc;
}

/* Run a file, or every regular file of a directory (not recursive). */
static int replay_path(const char *path, unsigned *count)
{
    struct stat st;
    struct dirent *de;
    DIR *dir;
    int rc = 0;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: not found\n", path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return replay_file(path);
    }
    dir = opendir(path);
    if (dir == NULL) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return 1;
    }
    while ((de = readdir(dir)) != NULL) {
        char full[4096];
        if (de->d_name[0] == '.')
            continue;
        if ((size_t)snprintf(full, sizeof(full), "%s/%s", path, de->d_name) >=
            sizeof(full)) {
            rc = 1;
            continue;
        }
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
            (*count)++;
            rc |= replay_file(full);
        }
    }
    closedir(dir);
    return rc;
}

int main(int argc, char **argv)
{
    unsigned count = 0;
    int rc = 0;

    if (argc < 2) {
        rc = replay_path(CORPUS_DIR, &count);
    } else {
        for (int i = 1; i < argc; i++)
            rc |= replay_path(argv[i], &count);
    }
    printf("replayed %u inputs\n", count);
    if (count == 0)
        rc = 1; /* an empty corpus is a broken test, not a pass */
    return rc;
}
