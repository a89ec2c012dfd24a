/* The shared packet builder of the tests (pktbuild.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <stubres/wire.h>

#include "pktbuild.h"

void tpkt_init(tpkt_t *b, size_t max, bool header)
{
    memset(b, 0, sizeof(*b));
    sr_dbuf_init(&b->d, max);
    if (sr_dbuf_reserve(&b->d, max) != SR_OK)
        abort(); /* a test machine out of memory */
    if (header) {
        memset(b->d.p, 0, SR_HEADER_LEN);
        b->d.len = SR_HEADER_LEN;
    }
}

void tpkt_free(tpkt_t *b)
{
    sr_dbuf_free(&b->d);
}

void tpkt_put(tpkt_t *b, const void *p, size_t n)
{
    if (sr_dbuf_put(&b->d, p, n) != SR_OK)
        b->bad = true;
}

void tpkt_u8(tpkt_t *b, uint8_t v)
{
    tpkt_put(b, &v, 1);
}

void tpkt_u16(tpkt_t *b, uint16_t v)
{
    uint8_t t[2];
    sr_put16(t, v);
    tpkt_put(b, t, 2);
}

void tpkt_u32(tpkt_t *b, uint32_t v)
{
    uint8_t t[4];
    sr_put32(t, v);
    tpkt_put(b, t, 4);
}

void tpkt_name(tpkt_t *b, const char *text)
{
    uint8_t w[SR_NAME_MAX_WIRE];
    size_t n;
    if (sr_name_from_text(text, w, sizeof(w), &n) != SR_OK) {
        b->bad = true;
        return;
    }
    tpkt_put(b, w, n);
}

void tpkt_rr(tpkt_t *b, unsigned section, const uint8_t *owner, size_t olen, uint16_t type,
             uint16_t rclass, uint32_t ttl, uint16_t rdlen)
{
    tpkt_put(b, owner, olen);
    tpkt_u16(b, type);
    tpkt_u16(b, rclass);
    tpkt_u32(b, ttl);
    tpkt_u16(b, rdlen);
    b->count[section & 3]++;
}

void tpkt_header(tpkt_t *b, uint16_t id, uint16_t flags)
{
    if (b->d.len < SR_HEADER_LEN) {
        b->bad = true;
        return;
    }
    sr_put16(b->d.p, id);
    sr_put16(b->d.p + 2, flags);
    for (int i = 0; i < 4; i++)
        sr_put16(b->d.p + 4 + 2 * i, b->count[i]);
}
