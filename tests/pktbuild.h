/* A DNS packet under construction, for unit tests and fuzz targets: the
 * library's growable writer (sr_dbuf_t) with a sticky failure flag, so a
 * builder writes a whole message and checks once at the end. */
#ifndef STUBRES_TESTS_PKTBUILD_H
#define STUBRES_TESTS_PKTBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec-internal.h"

typedef struct tpkt {
    sr_dbuf_t d;       /* d.p[0..d.len): the bytes so far */
    uint16_t count[4]; /* records per section (QD, AN, NS, AR) */
    bool bad;          /* a write did not fit under the cap */
} tpkt_t;

/* An empty packet of at most max bytes, allocated at once (a builder then
 * allocates nothing, whatever an allocation-failure test has armed), with
 * room for a header of zeros when header is true. */
void tpkt_init(tpkt_t *b, size_t max, bool header);
/* Free the bytes. */
void tpkt_free(tpkt_t *b);

/* Append; past the cap nothing is written and b->bad is set. */
void tpkt_put(tpkt_t *b, const void *p, size_t n);
void tpkt_u8(tpkt_t *b, uint8_t v);
void tpkt_u16(tpkt_t *b, uint16_t v);
void tpkt_u32(tpkt_t *b, uint32_t v);
/* A name in presentation form, written out in wire form (bad text sets
 * b->bad). */
void tpkt_name(tpkt_t *b, const char *text);
/* A record head: owner (wire form), type, class, TTL and RDLENGTH; counts
 * it in section (0-3). */
void tpkt_rr(tpkt_t *b, unsigned section, const uint8_t *owner, size_t olen, uint16_t type,
             uint16_t rclass, uint32_t ttl, uint16_t rdlen);
/* Write ID, flags and the four counts into the header. */
void tpkt_header(tpkt_t *b, uint16_t id, uint16_t flags);

#endif
