/* The growable writer of codec-internal.h: one buffer type with a size cap
 * for everything that builds a message of unknown size. */
#include "config.h"

#include <string.h>

#include "codec-internal.h"

/* First allocation: a typical DNS message fits. */
#define DBUF_FIRST 512

void sr_dbuf_init(sr_dbuf_t *b, size_t max)
{
    *b = (sr_dbuf_t){.max = max};
}

void sr_dbuf_free(sr_dbuf_t *b)
{
    sr_free(b->p);
    sr_dbuf_init(b, b->max);
}

sr_status_t sr_dbuf_reserve(sr_dbuf_t *b, size_t n)
{
    size_t ncap;
    uint8_t *np;

    if (n > b->max - b->len)
        return SR_E_MSGSIZE;
    if (b->cap - b->len >= n)
        return SR_OK;
    ncap = b->cap != 0 ? b->cap : DBUF_FIRST;
    while (ncap - b->len < n)
        ncap *= 2;
    if (ncap > b->max)
        ncap = b->max;
    np = sr_realloc(b->p, ncap);
    if (np == NULL)
        return SR_E_NOMEM;
    b->p = np;
    b->cap = ncap;
    return SR_OK;
}

sr_status_t sr_dbuf_put(sr_dbuf_t *b, const void *data, size_t n)
{
    sr_status_t status = sr_dbuf_reserve(b, n);
    if (status != SR_OK)
        return status;
    if (n > 0)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    return SR_OK;
}

sr_status_t sr_dbuf_u8(sr_dbuf_t *b, uint8_t v)
{
    return sr_dbuf_put(b, &v, 1);
}

sr_status_t sr_dbuf_u16(sr_dbuf_t *b, uint16_t v)
{
    uint8_t tmp[2];
    sr_put16(tmp, v);
    return sr_dbuf_put(b, tmp, 2);
}

sr_status_t sr_dbuf_u32(sr_dbuf_t *b, uint32_t v)
{
    uint8_t tmp[4];
    sr_put32(tmp, v);
    return sr_dbuf_put(b, tmp, 4);
}

uint8_t *sr_dbuf_take(sr_dbuf_t *b, size_t *len)
{
    uint8_t *p = b->p;
    *len = b->len;
    sr_dbuf_init(b, b->max);
    return p;
}
