/* libstubres internals shared by the library's modules (not installed). */
#ifndef STUBRES_LIB_INTERNAL_H
#define STUBRES_LIB_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <stubres/error.h>

#include "util.h"

/* ---- allocation ----
 * Every allocation of the library goes through these, so tests can make the
 * n-th one fail (sr_alloc_fail_after) and check that no path leaks or
 * crashes on SR_E_NOMEM. */
void *sr_malloc(size_t n);
void *sr_calloc(size_t nmemb, size_t size);
void *sr_realloc(void *p, size_t n);
char *sr_strdup(const char *s);
void sr_free(void *p);
/* Test hook: fail every allocation after the next n succeed (n < 0: never
 * fail). Not thread-safe; tests only. */
void sr_alloc_fail_after(long n);

/* ---- the bounds-checked cursor ----
 * All reads of wire data go through it: each fetch checks what remains and
 * returns a status, so a short packet can never be read past its end. */
typedef struct sr_buf {
    const uint8_t *data;
    size_t len;
    size_t off;
} sr_buf_t;

static inline void sr_buf_init(sr_buf_t *b, const uint8_t *data, size_t len)
{
    b->data = data;
    b->len = len;
    b->off = 0;
}

static inline size_t sr_buf_remaining(const sr_buf_t *b)
{
    return b->off <= b->len ? b->len - b->off : 0;
}

static inline sr_status_t sr_buf_u8(sr_buf_t *b, uint8_t *v)
{
    if (sr_buf_remaining(b) < 1)
        return SR_E_MSG_TOO_SHORT;
    *v = b->data[b->off++];
    return SR_OK;
}

static inline sr_status_t sr_buf_u16(sr_buf_t *b, uint16_t *v)
{
    if (sr_buf_remaining(b) < 2)
        return SR_E_MSG_TOO_SHORT;
    *v = (uint16_t)((b->data[b->off] << 8) | b->data[b->off + 1]);
    b->off += 2;
    return SR_OK;
}

static inline sr_status_t sr_buf_u32(sr_buf_t *b, uint32_t *v)
{
    if (sr_buf_remaining(b) < 4)
        return SR_E_MSG_TOO_SHORT;
    const uint8_t *p = b->data + b->off;
    *v = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
         ((uint32_t)p[2] << 8) | (uint32_t)p[3];
    b->off += 4;
    return SR_OK;
}

/* Point *p at the next n bytes and skip them. */
static inline sr_status_t sr_buf_fetch(sr_buf_t *b, size_t n, const uint8_t **p)
{
    if (sr_buf_remaining(b) < n)
        return SR_E_MSG_TOO_SHORT;
    *p = b->data + b->off;
    b->off += n;
    return SR_OK;
}

static inline sr_status_t sr_buf_skip(sr_buf_t *b, size_t n)
{
    if (sr_buf_remaining(b) < n)
        return SR_E_MSG_TOO_SHORT;
    b->off += n;
    return SR_OK;
}

/* Big-endian stores into a caller-checked buffer. */
static inline void sr_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void sr_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline uint16_t sr_get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t sr_get32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

#endif
