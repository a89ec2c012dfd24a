/* Building queries (RFC 1035 4.1, EDNS0 per RFC 6891, padding per
 * RFC 7830 and RFC 8467). */
#include "config.h"

#include <string.h>

#include "codec-internal.h"

/* Length of the OPT record without options: root owner, TYPE, CLASS, TTL,
 * RDLENGTH (RFC 6891 6.1.2). */
#define OPT_RR_LEN 11
/* An option's code and length (RFC 6891 6.1.2). */
#define OPT_HDR_LEN 4
/* RFC 6891 6.1.4: the DO bit, first of the OPT TTL's flag bits. */
#define EDNS_DO 0x8000u

/* Is the n bytes at q exactly one uncompressed name (RFC 1035 3.1)? */
static bool valid_wire_name(const uint8_t *q, size_t n)
{
    sr_buf_t b;
    const uint8_t *name;
    size_t len;

    if (q == NULL)
        return false;
    sr_buf_init(&b, q, n);
    return sr_name_plain(&b, &name, &len) == SR_OK && len == n;
}

SR_API sr_status_t sr_query_build(uint8_t *buf, size_t cap, size_t *len, const uint8_t *qname,
                                  size_t qname_len, uint16_t qtype, uint16_t qclass,
                                  const sr_query_opts_t *opts)
{
    sr_status_t status;
    sr_wbuf_t w = {.p = buf, .cap = cap, .len = 0};
    uint16_t flags = 0;
    bool edns;

    if (buf == NULL || opts == NULL || !valid_wire_name(qname, qname_len)) {
        status = SR_E_INVAL;
        goto done;
    }
    edns = opts->edns_size != 0;
    /* Padding lives in an EDNS option: without OPT there is nowhere to put
     * it, and sending the query unpadded would silently weaken privacy.
     * NSID is an option too. */
    if ((opts->pad_block != 0 || opts->nsid) && !edns) {
        status = SR_E_INVAL;
        goto done;
    }
    if (opts->rd)
        flags |= SR_FLAG_RD;
    if (opts->cd)
        flags |= SR_FLAG_CD;

    /* Header (RFC 1035 4.1.1): opcode QUERY, one question, one additional
     * record when EDNS is on. */
    if ((status = sr_wbuf_u16(&w, opts->id)) != SR_OK ||
        (status = sr_wbuf_u16(&w, flags)) != SR_OK || (status = sr_wbuf_u16(&w, 1)) != SR_OK ||
        (status = sr_wbuf_u16(&w, 0)) != SR_OK || (status = sr_wbuf_u16(&w, 0)) != SR_OK ||
        (status = sr_wbuf_u16(&w, edns ? 1 : 0)) != SR_OK)
        goto done;
    if ((status = sr_wbuf_bytes(&w, qname, qname_len)) != SR_OK ||
        (status = sr_wbuf_u16(&w, qtype)) != SR_OK || (status = sr_wbuf_u16(&w, qclass)) != SR_OK)
        goto done;
    if (!edns)
        goto out;

    /* RFC 5001 2.3: a client asks for the NSID with an empty option. */
    size_t rdlen = opts->nsid ? OPT_HDR_LEN : 0, pad = 0;
    if (opts->pad_block != 0) {
        /* RFC 7830 3 / RFC 8467 4.1: the padding option makes the whole
         * message a multiple of the block size; its own header counts. */
        size_t unpadded = w.len + OPT_RR_LEN + rdlen + OPT_HDR_LEN;
        pad = (opts->pad_block - unpadded % opts->pad_block) % opts->pad_block;
        rdlen += OPT_HDR_LEN + pad;
    }
    /* OPT (RFC 6891 6.1.2): root owner, CLASS = UDP payload size, TTL =
     * extended RCODE 0, version 0 and the flags. */
    if ((status = sr_wbuf_zeros(&w, 1)) != SR_OK ||
        (status = sr_wbuf_u16(&w, SR_TYPE_OPT)) != SR_OK ||
        (status = sr_wbuf_u16(&w, opts->edns_size)) != SR_OK ||
        (status = sr_wbuf_u32(&w, opts->do_bit ? EDNS_DO : 0)) != SR_OK ||
        (status = sr_wbuf_u16(&w, (uint16_t)rdlen)) != SR_OK)
        goto done;
    if (opts->nsid && ((status = sr_wbuf_u16(&w, SR_EDNS_OPT_NSID)) != SR_OK ||
                       (status = sr_wbuf_u16(&w, 0)) != SR_OK))
        goto done;
    if (opts->pad_block != 0) {
        if ((status = sr_wbuf_u16(&w, SR_EDNS_OPT_PADDING)) != SR_OK ||
            (status = sr_wbuf_u16(&w, (uint16_t)pad)) != SR_OK ||
            (status = sr_wbuf_zeros(&w, pad)) != SR_OK) /* 0x00 octets (3) */
            goto done;
    }
out:
    *len = w.len;
    status = SR_OK;
done:
    return status;
}
