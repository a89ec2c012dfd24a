/* Domain names: presentation <-> wire form, decompression, IDNA.
 *
 * Wire rules (RFC 1035 3.1, 4.1.4): a name is a sequence of labels of at
 * most 63 bytes, ended by the root label or a compression pointer, at most
 * 255 bytes uncompressed. Label types 01 and 10 (RFC 6891 section 5,
 * RFC 2673, obsoleted by RFC 6891) are rejected. A pointer must point
 * strictly before the start of the label sequence it ends and not into the
 * header: every hop then moves backwards, so a name cannot loop and the
 * number of hops is bounded by the packet length. */
#include "config.h"

#include <ctype.h>
#include <idn2.h>
#include <stdlib.h>
#include <string.h>

#include "codec-internal.h"

/* Label type bits of the length byte (RFC 1035 4.1.4). */
#define LABEL_TYPE_MASK 0xC0u
#define LABEL_POINTER 0xC0u

void sr_namecache_reset(sr_namecache_t *nc)
{
    nc->gen++;
    /* Generation 0 is what zeroed memory holds: never use it. */
    if (nc->gen == 0) {
        memset(nc->e, 0, sizeof(nc->e));
        nc->gen = 1;
    }
}

size_t sr_name_escape_label(char *out, const uint8_t *p, size_t n)
{
    return sr_escape_bytes(out, p, n, true);
}

/* Follow the pointer whose first byte is at b->off: checks and moves the
 * cursor to the target. *seq_start is the start of the current label
 * sequence; the target must lie before it and after the header. */
static sr_status_t follow_pointer(sr_buf_t *b, size_t *seq_start)
{
    uint16_t ptr;
    sr_status_t status = sr_buf_u16(b, &ptr);
    if (status != SR_OK)
        return status;
    size_t target = ptr & 0x3FFFu;
    if (target >= *seq_start || target < SR_HEADER_LEN)
        return SR_E_FORMERR;
    *seq_start = target;
    b->off = target;
    return SR_OK;
}

/* A walk over the labels of a possibly compressed name that follows its
 * pointers: the one loop under sr_name_unpack() and sr_name_read_text(). */
typedef struct name_walk {
    sr_buf_t b;
    size_t seq_start; /* start of the current label sequence */
    size_t end;       /* where the name ends in the packet */
    bool jumped;      /* a pointer was followed (end is set) */
    size_t wlen;      /* uncompressed wire length so far */
} name_walk_t;

typedef enum { WALK_LABEL, WALK_ROOT, WALK_JUMP } walk_step_t;

static inline void walk_init(name_walk_t *w, const uint8_t *pkt, size_t pktlen, size_t off)
{
    sr_buf_init(&w->b, pkt, pktlen);
    w->b.off = off;
    w->seq_start = off;
    w->end = 0;
    w->jumped = false;
    w->wlen = 0;
}

/* One step: a label (*p, *n: its bytes), the root label (the name ends,
 * w->end is set), or a pointer followed (the cursor is at its target). */
static inline sr_status_t walk_next(name_walk_t *w, walk_step_t *step, const uint8_t **p,
                                    uint8_t *n)
{
    sr_status_t status;

    if (sr_buf_remaining(&w->b) < 1)
        return SR_E_MSG_TOO_SHORT;
    uint8_t c = w->b.data[w->b.off];
    if ((c & LABEL_TYPE_MASK) == LABEL_POINTER) {
        size_t here = w->b.off;
        status = follow_pointer(&w->b, &w->seq_start);
        if (status != SR_OK)
            return status;
        if (!w->jumped) {
            w->end = here + 2;
            w->jumped = true;
        }
        *step = WALK_JUMP;
        return SR_OK;
    }
    if ((c & LABEL_TYPE_MASK) != 0)
        return SR_E_FORMERR;
    w->b.off++;
    if (c == 0) {
        w->wlen++;
        if (!w->jumped)
            w->end = w->b.off;
        *step = WALK_ROOT;
        return SR_OK;
    }
    /* Room for this label and at least the root label after it. */
    if (w->wlen + 1 + c + 1 > SR_NAME_MAX_WIRE)
        return SR_E_FORMERR;
    status = sr_buf_fetch(&w->b, c, p);
    if (status != SR_OK)
        return status;
    w->wlen += 1u + c;
    *n = c;
    *step = WALK_LABEL;
    return SR_OK;
}

SR_API sr_status_t sr_name_unpack(const uint8_t *pkt, size_t pktlen, size_t *off, uint8_t *wire,
                                  size_t *wlen)
{
    sr_status_t status;
    name_walk_t w;
    walk_step_t step;
    const uint8_t *p = NULL;
    uint8_t c = 0;
    size_t n = 0;

    walk_init(&w, pkt, pktlen, *off);
    do {
        status = walk_next(&w, &step, &p, &c);
        if (status != SR_OK)
            return status;
        if (step == WALK_LABEL) {
            wire[n++] = c;
            memcpy(wire + n, p, c);
            n += c;
        }
    } while (step != WALK_ROOT);
    wire[n++] = 0;
    *off = w.end;
    *wlen = n;
    return SR_OK;
}

/* Where each label of a name read by sr_name_read_text() starts: wire
 * offset, and its position in the text and in the uncompressed name. */
typedef struct label_pos {
    uint32_t woff;
    uint16_t tpos;
    uint16_t wpos;
} label_pos_t;

/* Remember the text of every label read as the text of the name that
 * starts there, for pointers to it later in the packet. */
static void namecache_fill(sr_namecache_t *nc, const label_pos_t *lab, size_t nlab, size_t base,
                           size_t tlen, size_t wlen)
{
    for (size_t i = 0; i < nlab; i++) {
        /* Only offsets a pointer can reach (14 bits) are worth keeping. */
        if (lab[i].woff > 0x3FFFu)
            continue;
        sr_namecache_entry_t *e = &nc->e[lab[i].woff % SR_NAMECACHE_SIZE];
        e->gen = nc->gen;
        e->woff = lab[i].woff;
        e->text_off = (uint32_t)(base + lab[i].tpos);
        e->text_len = (uint16_t)(tlen - lab[i].tpos);
        e->wire_len = (uint16_t)(wlen - lab[i].wpos);
    }
}

sr_status_t sr_name_read_text(const uint8_t *pkt, size_t pktlen, size_t *off, sr_arena_t *a,
                              sr_namecache_t *nc, size_t *text_off)
{
    sr_status_t status;
    label_pos_t lab[SR_NAME_MAX_WIRE / 2];
    size_t nlab = 0;
    const sr_namecache_entry_t *hit = NULL;
    name_walk_t w;
    walk_step_t step;
    const uint8_t *p = NULL;
    uint8_t c = 0;
    size_t tlen = 0;

    status = sr_arena_reserve(a, SR_NAME_MAX_TEXT);
    if (status != SR_OK)
        return status;
    char *out = a->buf + a->len;

    walk_init(&w, pkt, pktlen, *off);
    for (;;) {
        status = walk_next(&w, &step, &p, &c);
        if (status != SR_OK)
            return status;
        if (step == WALK_ROOT)
            break;
        if (step == WALK_JUMP) {
            if (nc != NULL) {
                const sr_namecache_entry_t *e = &nc->e[w.b.off % SR_NAMECACHE_SIZE];
                if (e->gen == nc->gen && e->woff == w.b.off) {
                    hit = e;
                    break;
                }
            }
            continue;
        }
        lab[nlab].woff = (uint32_t)(p - pkt - 1);
        lab[nlab].tpos = (uint16_t)tlen;
        lab[nlab].wpos = (uint16_t)(w.wlen - 1u - c);
        nlab++;
        tlen += sr_name_escape_label(out + tlen, p, c);
        out[tlen++] = '.';
    }

    if (hit != NULL) {
        w.wlen += hit->wire_len;
        if (w.wlen > SR_NAME_MAX_WIRE)
            return SR_E_FORMERR;
        if (nlab == 0) {
            /* The whole name is a pointer to one already made: share it. */
            *text_off = hit->text_off;
            *off = w.end;
            return SR_OK;
        }
        memcpy(out + tlen, a->buf + hit->text_off, hit->text_len);
        tlen += hit->text_len;
    } else if (nlab == 0) {
        out[tlen++] = '.'; /* the root */
    } else {
        tlen--; /* no trailing dot */
    }
    out[tlen] = '\0';

    if (nc != NULL)
        namecache_fill(nc, lab, nlab, a->len, tlen, w.wlen);
    *text_off = a->len;
    a->len += tlen + 1;
    *off = w.end;
    return SR_OK;
}

/* Value of the three decimal digits at s, or -1. */
static int ddd_value(const char *s, size_t left)
{
    if (left < 3 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
        !isdigit((unsigned char)s[2]))
        return -1;
    int v = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    return v <= 255 ? v : -1;
}

sr_status_t sr_name_parse(const char *text, size_t n, bool any_escape, uint8_t *wire, size_t cap,
                          size_t *len)
{
    sr_status_t status = SR_OK;
    uint8_t tmp[SR_NAME_MAX_WIRE];
    size_t w = 0;      /* bytes written to tmp */
    size_t lstart = 0; /* position of the current label's length byte */
    size_t i = 0;

    /* "" and "." are the root. */
    if (n == 0 || (n == 1 && text[0] == '.'))
        goto root;

    tmp[w++] = 0;
    while (i < n) {
        unsigned char c = (unsigned char)text[i];
        int byte;
        if (c == '.') {
            size_t llen = w - lstart - 1;
            if (llen == 0) {
                status = SR_E_INVAL; /* empty label */
                goto done;
            }
            tmp[lstart] = (uint8_t)llen;
            i++;
            if (i == n)
                break; /* trailing dot: absolute name */
            if (w >= SR_NAME_MAX_WIRE) {
                status = SR_E_INVAL;
                goto done;
            }
            lstart = w;
            tmp[w++] = 0;
            continue;
        }
        if (c == '\\') {
            int v = ddd_value(text + i + 1, n - i - 1);
            if (v >= 0) {
                byte = v;
                i += 4;
            } else if (i + 1 < n && (text[i + 1] == '.' || text[i + 1] == '\\' ||
                                     (any_escape && !isdigit((unsigned char)text[i + 1]) &&
                                      (unsigned char)text[i + 1] < 0x80))) {
                byte = (unsigned char)text[i + 1];
                i += 2;
            } else {
                status = SR_E_INVAL; /* bad escape */
                goto done;
            }
        } else if (c >= 0x80 || c == 0) {
            status = SR_E_INVAL; /* IDNs go through sr_name_idn() first */
            goto done;
        } else {
            byte = c;
            i++;
        }
        if (w - lstart - 1 >= SR_LABEL_MAX || w >= SR_NAME_MAX_WIRE - 1) {
            status = SR_E_INVAL;
            goto done;
        }
        tmp[w++] = (uint8_t)byte;
    }
    /* Close the last label (when the text had no trailing dot). */
    if (tmp[lstart] == 0) {
        size_t llen = w - lstart - 1;
        if (llen == 0) {
            status = SR_E_INVAL;
            goto done;
        }
        tmp[lstart] = (uint8_t)llen;
    }
    if (w + 1 > SR_NAME_MAX_WIRE) {
        status = SR_E_INVAL;
        goto done;
    }
    tmp[w++] = 0;
    goto copy;

root:
    tmp[w++] = 0;
copy:
    if (w > cap) {
        status = SR_E_NOBUFS;
        goto done;
    }
    memcpy(wire, tmp, w);
    *len = w;
done:
    return status;
}

SR_API sr_status_t sr_name_from_text(const char *text, uint8_t *wire, size_t cap, size_t *len)
{
    if (text == NULL)
        return SR_E_INVAL;
    return sr_name_parse(text, strlen(text), false, wire, cap, len);
}

SR_API sr_status_t sr_name_to_text(const uint8_t *wire, size_t len, char *out, size_t cap)
{
    sr_status_t status = SR_OK;
    char tmp[SR_NAME_MAX_TEXT];
    size_t t = 0;
    sr_buf_t b;

    if (len > SR_NAME_MAX_WIRE) {
        status = SR_E_FORMERR;
        goto done;
    }
    sr_buf_init(&b, wire, len);
    for (;;) {
        uint8_t c;
        const uint8_t *p;
        status = sr_buf_u8(&b, &c);
        if (status != SR_OK) {
            status = SR_E_FORMERR; /* no root label */
            goto done;
        }
        if (c == 0)
            break;
        if (c > SR_LABEL_MAX) {
            status = SR_E_FORMERR; /* pointer or reserved label type */
            goto done;
        }
        status = sr_buf_fetch(&b, c, &p);
        if (status != SR_OK) {
            status = SR_E_FORMERR;
            goto done;
        }
        t += sr_name_escape_label(tmp + t, p, c);
        tmp[t++] = '.';
    }
    if (sr_buf_remaining(&b) != 0) {
        status = SR_E_FORMERR; /* bytes after the root label */
        goto done;
    }
    if (t == 0)
        tmp[t++] = '.';
    else
        t--;
    if (t + 1 > cap) {
        status = SR_E_NOBUFS;
        goto done;
    }
    memcpy(out, tmp, t);
    out[t] = '\0';
done:
    return status;
}

SR_API bool sr_name_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    if (alen != blen)
        return false;
    /* Mostly the same bytes (a response echoes the question as asked):
     * one memcmp instead of the folding loop. */
    if (memcmp(a, b, alen) == 0)
        return true;
    /* Length bytes are <= 63 and never fold, so folding every byte compares
     * the labels ASCII case-insensitively (RFC 4343). */
    for (size_t i = 0; i < alen; i++) {
        uint8_t x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z')
            x = (uint8_t)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (uint8_t)(y + 32);
        if (x != y)
            return false;
    }
    return true;
}

SR_API sr_status_t sr_name_idn(const char *utf8, char *out, size_t cap)
{
    sr_status_t status = SR_OK;
    char *ace = NULL;
    const char *res = utf8;
    bool ascii = true;

    if (utf8 == NULL) {
        status = SR_E_INVAL;
        goto done;
    }
    for (const char *s = utf8; *s != '\0'; s++) {
        if ((unsigned char)*s >= 0x80) {
            ascii = false;
            break;
        }
    }
    /* ASCII is left alone: UTS#46 mapping would lowercase it and reject
     * names that are fine in the DNS, such as _sip._tcp. */
    if (!ascii) {
        /* IDNA2008 with the UTS#46 mapping, non-transitional (so "ß"
         * stays "ß"), input normalised to NFC first. */
        int rc = idn2_to_ascii_8z(utf8, &ace, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
        if (rc != IDN2_OK) {
            status = SR_E_INVAL;
            goto done;
        }
        res = ace;
    }
    size_t n = strlen(res);
    if (n + 1 > cap) {
        status = SR_E_NOBUFS;
        goto done;
    }
    memcpy(out, res, n + 1);
done:
    idn2_free(ace);
    return status;
}
