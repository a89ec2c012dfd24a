/* Internals of the wire codec shared by name.c, msg.c and rdata.c (not
 * installed). */
#ifndef STUBRES_CODEC_INTERNAL_H
#define STUBRES_CODEC_INTERNAL_H

#include "lib-internal.h"
#include <stubres/wire.h>

/* ---- text arena ----
 * All strings of a parsed message live in one grow-only buffer that is
 * reused across parses. It may move when it grows, so while a parse runs
 * strings are referred to by their offset in it. */
typedef struct sr_arena {
    char *buf;
    size_t len;
    size_t cap;
} sr_arena_t;

/* Grow the arena so that at least n more bytes fit (cold path). */
sr_status_t sr_arena_grow(sr_arena_t *a, size_t n);

/* Make room for n more bytes; writes of up to n bytes at buf + len are then
 * safe without further checks. */
static inline sr_status_t sr_arena_reserve(sr_arena_t *a, size_t n)
{
    if (a->cap - a->len >= n)
        return SR_OK;
    return sr_arena_grow(a, n);
}

/* An arena offset parked in a pointer slot of a public struct until the
 * arena stops moving (msg.c turns them into pointers at the end of a
 * parse). Integer-to-pointer conversion is implementation-defined, and
 * exact on every platform we build for. */
static inline const char *sr_off_as_ptr(size_t off)
{
    return (const char *)(uintptr_t)off;
}

static inline size_t sr_ptr_as_off(const char *p)
{
    return (size_t)(uintptr_t)p;
}

/* ---- walks over wire bytes ----
 * The one home of every walk over names and records of a packet; nothing
 * else in the library or the daemon steps through labels itself. */

/* Skip the possibly compressed name at the cursor: labels up to the root
 * label or a compression pointer, which ends the name and is checked
 * (RFC 1035 4.1.4: before the name's start and past the header) but not
 * followed. SR_E_MSG_TOO_SHORT, or SR_E_FORMERR for a bad pointer, the
 * extended label types (RFC 6891 5) or a name over 255 bytes. Inline: the
 * daemon skips the OPT owner of every client's query with it. */
static inline sr_status_t sr_name_skip(sr_buf_t *b)
{
    size_t start = b->off, total = 0;

    /* Each step consumes at least one byte, so the loop ends with the
     * data; total bounds the inline part (RFC 1035 2.3.4). */
    for (;;) {
        uint8_t len, lo;
        sr_status_t status = sr_buf_u8(b, &len);
        if (status != SR_OK)
            return status;
        if ((len & 0xC0u) == 0xC0u) {
            status = sr_buf_u8(b, &lo);
            if (status != SR_OK)
                return status;
            size_t ptr = ((size_t)(len & 0x3Fu) << 8) | lo;
            if (ptr < SR_HEADER_LEN || ptr >= start)
                return SR_E_FORMERR;
            return SR_OK;
        }
        if ((len & 0xC0u) != 0)
            return SR_E_FORMERR; /* RFC 6891 5: extended labels are gone */
        if (len == 0)
            return SR_OK;
        total += (size_t)len + 1;
        if (total + 1 > SR_NAME_MAX_WIRE)
            return SR_E_FORMERR;
        status = sr_buf_skip(b, len);
        if (status != SR_OK)
            return status;
    }
}

/* Read the uncompressed name at the cursor (a question's: a query has no
 * earlier name a pointer could refer to) without copying: *name points at
 * its first length byte in the packet, *len is its wire length. A pointer
 * or an extended label is SR_E_FORMERR, as is a name over 255 bytes; the
 * packet ending inside it is SR_E_MSG_TOO_SHORT. Inline: the daemon reads
 * every client's question with it. */
static inline sr_status_t sr_name_plain(sr_buf_t *b, const uint8_t **name, size_t *len)
{
    size_t start = b->off, total = 0;

    for (;;) {
        uint8_t l;
        sr_status_t status = sr_buf_u8(b, &l);
        if (status != SR_OK)
            return status;
        total += 1u + l;
        if (total > SR_NAME_MAX_WIRE)
            return SR_E_FORMERR;
        if (l == 0)
            break;
        if (l > SR_LABEL_MAX) /* a pointer or the obsolete 0x40/0x80 kinds */
            return SR_E_FORMERR;
        status = sr_buf_skip(b, l);
        if (status != SR_OK)
            return status;
    }
    *name = b->data + start;
    *len = total;
    return SR_OK;
}

/* Is the uncompressed wire name (len bytes, well formed) zone itself or a
 * name below it, on label boundaries and ASCII case-insensitively? zone is
 * an uncompressed wire name in lowercase; the root (one zero byte) holds
 * every name. Walks the labels of name once: the cache asks it for every
 * entry of a subtree flush (a forward rule changed, `cache flush NAME
 * --subtree`). */
static inline bool sr_name_below(const uint8_t *name, size_t len, const uint8_t *zone, size_t zlen)
{
    size_t off = 0;

    while (off < len && len - off > zlen)
        off += 1u + name[off];
    if (off >= len || len - off != zlen)
        return false;
    /* Length bytes (<= 63) are below 'A', so folding every byte leaves
     * them alone. */
    for (size_t i = 0; i < zlen; i++) {
        uint8_t ch = name[off + i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (uint8_t)(ch + 32);
        if (ch != zone[i])
            return false;
    }
    return true;
}

/* What sr_msg_check() saw of a message. */
typedef struct sr_msg_shape {
    uint16_t counts[4];   /* QD, AN, NS, AR */
    size_t end;           /* offset just past the last record walked */
    bool opt_found;       /* the OPT record (RFC 6891), then: */
    size_t opt_rdlen_off; /* offset of its RDLENGTH field */
    size_t opt_rdata_off;
    uint16_t opt_rdlen;
} sr_msg_shape_t;

/* Structural check of a whole DNS message: header, question, every RR
 * within bounds, compression pointers backwards. SR_OK, SR_E_MSG_TOO_SHORT
 * or SR_E_FORMERR. With question_only, records are not walked (a TC=1
 * answer may be cut anywhere after the question). Bytes after the last
 * record are allowed; shape->end tells where it ended. With shape (may be
 * NULL) the OPT rules of RFC 6891 6.1.1 are enforced as well (at most one
 * OPT, owned by the root, in the additional section) and its place is
 * reported. */
sr_status_t sr_msg_check(const uint8_t *m, size_t len, bool question_only, sr_msg_shape_t *shape);

/* RFC 8467 padding: make q (length *len, capacity cap) a multiple of block,
 * adding an OPT record when it has none or a padding option to it. An
 * existing padding option is replaced. SR_E_NOBUFS when cap is too small,
 * SR_E_FORMERR when q does not parse. */
/* (padding.c) */
sr_status_t sr_query_pad(uint8_t *q, size_t *len, size_t cap, uint16_t block);

/* ---- name text cache ----
 * Responses name the same few domains again and again through compression
 * pointers (RFC 1035 4.1.4). The presentation text of the name that starts
 * at a given offset depends only on the bytes from there on, so the text
 * made once is reused for every pointer to that offset (and for every
 * pointer to one of its label boundaries, whose text is a suffix of it).
 * Direct-mapped by offset; a generation number invalidates it per parse. */
#define SR_NAMECACHE_SIZE 64

typedef struct sr_namecache_entry {
    uint32_t gen;
    uint32_t woff;     /* wire offset of the label the text starts with */
    uint32_t text_off; /* arena offset of the NUL-terminated text */
    uint16_t text_len; /* strlen of that text */
    uint16_t wire_len; /* uncompressed wire length of the name from woff */
} sr_namecache_entry_t;

typedef struct sr_namecache {
    uint32_t gen;
    sr_namecache_entry_t e[SR_NAMECACHE_SIZE];
} sr_namecache_t;

/* Invalidate every entry (start of a parse). */
void sr_namecache_reset(sr_namecache_t *nc);

/* Read the possibly compressed name at *off of pkt[0..pktlen) with the
 * rules of sr_name_unpack(), append its presentation text (NUL-terminated)
 * to the arena or reuse a cached one, store the text's arena offset in
 * *text_off and advance *off past the name. nc may be NULL. */
sr_status_t sr_name_read_text(const uint8_t *pkt, size_t pktlen, size_t *off, sr_arena_t *a,
                              sr_namecache_t *nc, size_t *text_off);

/* Presentation form of n bytes (stubres-query(1), OUTPUT) into out,
 * which must hold 4 * n bytes: bytes outside the printable range as \DDD,
 * '\' escaped; in a label (label true) also '.' escaped and the space
 * written \032. Returns the number of chars written. Inline, so that each
 * caller gets a copy with label fixed: names and strings are the hot part
 * of making record text. */
static inline size_t sr_escape_bytes(char *out, const uint8_t *p, size_t n, bool label)
{
    const uint8_t lo = label ? 0x21 : 0x20;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c >= lo && c < 0x7F) {
            if (c == '\\' || (label && c == '.'))
                out[o++] = '\\';
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = (char)('0' + c / 100);
            out[o++] = (char)('0' + c / 10 % 10);
            out[o++] = (char)('0' + c % 10);
        }
    }
    return o;
}

/* One label's bytes: sr_escape_bytes() with label set. */
size_t sr_name_escape_label(char *out, const uint8_t *p, size_t n);

/* Presentation -> wire for names inside master-file RDATA text: the n
 * bytes at text (not NUL-terminated). With any_escape, "\X" stands for X
 * for every non-digit X (RFC 1035 5.1); otherwise only \. \\ and \DDD are
 * accepted, as sr_name_from_text() documents. */
sr_status_t sr_name_parse(const char *text, size_t n, bool any_escape, uint8_t *wire, size_t cap,
                          size_t *len);

/* ---- RDATA decoding ---- */

/* Growable vector of the fields of a message. While parsing, value holds
 * an arena offset (sr_off_as_ptr). */
typedef struct sr_fieldvec {
    sr_field_t *v;
    size_t len;
    size_t cap;
} sr_fieldvec_t;

/* The most fields any decoder adds for one record (RRSIG). */
#define SR_RDATA_MAX_FIELDS 9

/* What a decoder works on: the whole message (names may point anywhere
 * before them), where text goes, and where fields go. */
typedef struct sr_dec {
    const uint8_t *pkt;
    size_t pktlen;
    sr_arena_t *arena;
    sr_namecache_t *names;
    sr_fieldvec_t *fields; /* NULL: validate only, make no text */
} sr_dec_t;

/* Validate the RDATA of one record at pkt[rdoff..rdoff+rdlen) and, when
 * d->fields is set, append its fields (room for SR_RDATA_MAX_FIELDS must
 * have been reserved). SR_E_FORMERR when the RDATA disagrees with its
 * length; SR_E_NOMEM. */
sr_status_t sr_rdata_decode(sr_dec_t *d, uint16_t type, uint16_t rclass, size_t rdoff,
                            size_t rdlen);

/* The layout of a type decoded and encoded from a table (rdata.c), one
 * letter per field, or NULL: '1' '2' '4' unsigned integers of that many
 * bytes; 'N' a domain name; 'T' a type mnemonic (16 bits); 'D' a time
 * (32 bits, YYYYMMDDHHmmSS, RFC 4034 3.2); 'H' a salt (a length byte and
 * hex, "-" when empty, RFC 5155 3.3); 'Z' a length byte and base32hex
 * (RFC 5155 3.3); 'C' a CAA tag (a length byte and 1-255 letters or
 * digits); the rest of the RDATA as 'X' hex, 'B' base64, 'M' a type bit
 * map (RFC 4034 4.1.2), 'Q' a quoted string, 'U' a quoted non-empty string,
 * 'P' SvcParams (RFC 9460 2.1), or 'L' all of LOC (RFC 1876, six
 * fields). */
const char *sr_rdata_layout(uint16_t type);

/* The mnemonic of a SvcParamKey (RFC 9460 14.3.2: "alpn", "port", ...),
 * or "key<n>" written into buf. */
const char *sr_svc_key_name(uint16_t key, char buf[16]);

/* The types decoded field by field; class-specific ones (A, AAAA, WKS,
 * SRV, NAPTR: RFC 3597 section 4) only in class IN. */
bool sr_rdata_has_decoder(uint16_t type, uint16_t rclass);

/* ---- a bounds-checked writer over a caller's buffer ---- */
typedef struct sr_wbuf {
    uint8_t *p;
    size_t cap;
    size_t len;
} sr_wbuf_t;

static inline sr_status_t sr_wbuf_bytes(sr_wbuf_t *w, const void *data, size_t n)
{
    if (w->cap - w->len < n)
        return SR_E_NOBUFS;
    if (n > 0)
        memcpy(w->p + w->len, data, n);
    w->len += n;
    return SR_OK;
}

static inline sr_status_t sr_wbuf_u8(sr_wbuf_t *w, uint8_t v)
{
    return sr_wbuf_bytes(w, &v, 1);
}

static inline sr_status_t sr_wbuf_u16(sr_wbuf_t *w, uint16_t v)
{
    uint8_t b[2];
    sr_put16(b, v);
    return sr_wbuf_bytes(w, b, 2);
}

static inline sr_status_t sr_wbuf_u32(sr_wbuf_t *w, uint32_t v)
{
    uint8_t b[4];
    sr_put32(b, v);
    return sr_wbuf_bytes(w, b, 4);
}

static inline sr_status_t sr_wbuf_zeros(sr_wbuf_t *w, size_t n)
{
    if (w->cap - w->len < n)
        return SR_E_NOBUFS;
    memset(w->p + w->len, 0, n);
    w->len += n;
    return SR_OK;
}

/* ---- a growable writer with a size cap ----
 * The one buffer that messages are built in when their size is not known
 * beforehand (DoH JSON answers turned into wire form, the test and fuzz
 * packet builders). It grows by doubling from 512 bytes and never beyond
 * max, so a peer that sends a huge answer cannot make it grow without
 * bound. p and len may be read and p[0..len) written directly. */
typedef struct sr_dbuf {
    uint8_t *p; /* owned; NULL until the first byte is reserved */
    size_t len; /* bytes written */
    size_t cap; /* bytes allocated */
    size_t max; /* the cap: len never exceeds it */
} sr_dbuf_t;

/* An empty buffer that may grow to max bytes (allocates nothing). */
void sr_dbuf_init(sr_dbuf_t *b, size_t max);
/* Free the bytes and make b empty again (b itself is the caller's). */
void sr_dbuf_free(sr_dbuf_t *b);
/* Make room for n more bytes: SR_E_MSGSIZE past max, SR_E_NOMEM. */
sr_status_t sr_dbuf_reserve(sr_dbuf_t *b, size_t n);
/* Append n bytes (data may be NULL when n is 0). */
sr_status_t sr_dbuf_put(sr_dbuf_t *b, const void *data, size_t n);
/* Append big-endian values. */
sr_status_t sr_dbuf_u8(sr_dbuf_t *b, uint8_t v);
sr_status_t sr_dbuf_u16(sr_dbuf_t *b, uint16_t v);
sr_status_t sr_dbuf_u32(sr_dbuf_t *b, uint32_t v);
/* Hand the bytes to the caller (who frees them with sr_free) and make b
 * empty; *len gets their count. NULL when nothing was reserved. */
uint8_t *sr_dbuf_take(sr_dbuf_t *b, size_t *len);

/* ---- small text helpers ---- */

/* Decimal text of v into out (room for 10 chars); returns the length.
 * Counts the digits first and writes them from the end: no copy. */
static inline size_t sr_fmt_u32(char *out, uint32_t v)
{
    size_t n = 1;
    for (uint32_t t = v; t >= 10; t /= 10)
        n++;
    for (size_t i = n; i > 0; i--) {
        out[i - 1] = (char)('0' + v % 10);
        v /= 10;
    }
    return n;
}

/* Decimal text of one byte (an IPv4 octet): the hot case of A records. */
static inline size_t sr_fmt_u8(char *out, unsigned v)
{
    if (v >= 100) {
        out[0] = (char)('0' + v / 100);
        out[1] = (char)('0' + v / 10 % 10);
        out[2] = (char)('0' + v % 10);
        return 3;
    }
    if (v >= 10) {
        out[0] = (char)('0' + v / 10);
        out[1] = (char)('0' + v % 10);
        return 2;
    }
    out[0] = (char)('0' + v);
    return 1;
}

/* Value of a hex digit, or -1. */
static inline int sr_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
