/* libFuzzer entry point of the targets in tests/fuzz, and a check that
 * aborts (so both libFuzzer and the corpus replayer report it). */
#ifndef STUBRES_FUZZ_H
#define STUBRES_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The input read as a stream of big-endian numbers; past its end, zeros
 * (fuzz_cache and fuzz_client_query drive their programs with it). */
typedef struct fz {
    const uint8_t *p;
    size_t len, off;
} fz_t;

static inline int fz_more(const fz_t *f)
{
    return f->off < f->len;
}

static inline uint8_t u8(fz_t *f)
{
    return f->off < f->len ? f->p[f->off++] : 0;
}

static inline uint16_t u16(fz_t *f)
{
    uint16_t hi = u8(f);
    return (uint16_t)(hi << 8 | u8(f));
}

static inline uint32_t u32(fz_t *f)
{
    uint32_t hi = u16(f);
    return hi << 16 | u16(f);
}

#endif
