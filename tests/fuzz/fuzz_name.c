/* Fuzz target: names. The first two bytes of the input are an offset, the
 * rest is a packet:
 *  - sr_name_unpack() at that offset, and where it succeeds the text of
 *    the name must read back (sr_name_from_text) to the very same bytes;
 *  - the message parser's text reader, with its name cache, must agree
 *    with sr_name_unpack() + sr_name_to_text() at every offset;
 *  - the input as a text name: what sr_name_from_text() accepts must be
 *    stable through to_text and from_text again. */
#include "config.h"

#include <string.h>

#include <stubres/wire.h>

#include "codec-internal.h"
#include "fuzz.h"

/* How many offsets of one input go through the cache comparison. */
#define MAX_OFFSETS 512

static void check_unpacked(const uint8_t *wire, size_t wl)
{
    char text[SR_NAME_MAX_TEXT];
    uint8_t again[SR_NAME_MAX_WIRE];
    size_t al;
    FUZZ_CHECK(wl >= 1 && wl <= SR_NAME_MAX_WIRE);
    FUZZ_CHECK(sr_name_to_text(wire, wl, text, sizeof(text)) == SR_OK);
    FUZZ_CHECK(sr_name_from_text(text, again, sizeof(again), &al) == SR_OK);
    FUZZ_CHECK(al == wl && memcmp(again, wire, wl) == 0);
    FUZZ_CHECK(sr_name_equal(wire, wl, again, al));
}

static void unpack_at_every_offset(const uint8_t *pkt, size_t len)
{
    static sr_arena_t arena;
    static sr_namecache_t cache;

    arena.len = 0;
    sr_namecache_reset(&cache);
    for (size_t o = 0; o < len && o < MAX_OFFSETS; o++) {
        uint8_t wire[SR_NAME_MAX_WIRE];
        char text[SR_NAME_MAX_TEXT];
        size_t wl, off1 = o, off2 = o, toff;
        sr_status_t s1 = sr_name_unpack(pkt, len, &off1, wire, &wl);
        sr_status_t s2 = sr_name_read_text(pkt, len, &off2, &arena, &cache, &toff);
        FUZZ_CHECK(s1 == s2 || s2 == SR_E_NOMEM);
        if (s1 != SR_OK || s2 != SR_OK)
            continue;
        FUZZ_CHECK(off1 == off2 && off1 > o && off1 <= len);
        check_unpacked(wire, wl);
        FUZZ_CHECK(sr_name_to_text(wire, wl, text, sizeof(text)) == SR_OK);
        FUZZ_CHECK(strcmp(text, arena.buf + toff) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 2) {
        size_t off = ((size_t)data[0] << 8) | data[1];
        const uint8_t *pkt = data + 2;
        size_t len = size - 2, start = off;
        uint8_t wire[SR_NAME_MAX_WIRE];
        size_t wl;
        sr_status_t st = sr_name_unpack(pkt, len, &off, wire, &wl);
        if (st == SR_OK) {
            FUZZ_CHECK(off > start && off <= len);
            check_unpacked(wire, wl);
        } else {
            FUZZ_CHECK(st == SR_E_FORMERR || st == SR_E_MSG_TOO_SHORT);
        }
        unpack_at_every_offset(pkt, len);
    }

    /* The input as presentation text. */
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    uint8_t w1[SR_NAME_MAX_WIRE], w2[SR_NAME_MAX_WIRE];
    char t1[SR_NAME_MAX_TEXT];
    size_t l1, l2;
    if (sr_name_from_text(text, w1, sizeof(w1), &l1) == SR_OK) {
        FUZZ_CHECK(sr_name_to_text(w1, l1, t1, sizeof(t1)) == SR_OK);
        FUZZ_CHECK(sr_name_from_text(t1, w2, sizeof(w2), &l2) == SR_OK);
        FUZZ_CHECK(l1 == l2 && memcmp(w1, w2, l1) == 0);
    }
    free(text);
    return 0;
}
