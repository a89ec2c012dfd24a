/* Corpus replayer: a main() for a libFuzzer target built without
 * libFuzzer, so that `make check` runs every committed corpus file
 * through the target (with the sanitizers of the build).
 *
 *   replay [FILE|DIR]...
 *
 * With no arguments it replays FUZZ_CORPUS_DIR (set by Makefile.am).
 * Directories are read one level deep, in name order. Prints
 * "N passed, 0 failed"; a crash or an abort in the target is the
 * failure. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path, unsigned long *count)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;

    if (f == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (;;) {
        if (len == cap) {
            size_t ncap = cap != 0 ? cap * 2 : 4096;
            uint8_t *nb = realloc(buf, ncap);
            if (nb == NULL) {
                rc = -1;
                goto done;
            }
            buf = nb;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f)) {
        fprintf(stderr, "replay: %s: read error\n", path);
        rc = -1;
        goto done;
    }
    LLVMFuzzerTestOneInput(buf, len);
    (*count)++;
done:
    free(buf);
    fclose(f);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path, unsigned long *count)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path, count);

    DIR *d = opendir(path);
    if (d == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap != 0 ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof(*nn));
            if (nn == NULL) {
                rc = -1;
                break;
            }
            names = nn;
        }
        size_t need = strlen(path) + strlen(de->d_name) + 2;
        names[n] = malloc(need);
        if (names[n] == NULL) {
            rc = -1;
            break;
        }
        snprintf(names[n], need, "%s/%s", path, de->d_name);
        n++;
    }
    closedir(d);
    if (rc == 0 && n > 0)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            rc = run_file(names[i], count);
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    unsigned long count = 0;
    int rc = 0;

    if (argc < 2) {
#ifdef FUZZ_CORPUS_DIR
        rc = run_path(FUZZ_CORPUS_DIR, &count);
#else
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
#endif
    }
    for (int i = 1; i < argc && rc == 0; i++)
        rc = run_path(argv[i], &count);
    if (rc != 0)
        return 1;
    if (count == 0) {
        fprintf(stderr, "replay: no corpus files\n");
        return 1;
    }
    printf("%s: %lu passed, 0 failed\n", argv[0], count);
    return 0;
}
