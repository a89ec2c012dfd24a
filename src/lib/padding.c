/* EDNS(0) padding of queries for encrypted transports.
 *
 * RFC 7830 defines the Padding option (code 12) of the OPT record; RFC 8467
 * 4.1 recommends that clients pad queries to the closest multiple of 128
 * octets ("Block-Length Padding"), which hides the query name's length
 * from an observer of the encrypted stream. */
#include "config.h"

#include "codec-internal.h"

/* Fixed part of an OPT RR with the root owner: name(1) type(2) class(2)
 * ttl(4) rdlength(2). */
#define OPT_RR_LEN 11
/* Option header: code(2) length(2). */
#define OPT_HDR_LEN 4
/* The UDP payload size we advertise in an OPT record we add ourselves
 * (DNS flag day 2020: 1232 avoids fragmentation). Over TLS and HTTPS the
 * value is not used for anything, but the field must hold one. */
#define PAD_EDNS_SIZE 1232

/* Remove every Padding option from the OPT RDATA at q+opt->opt_rdata_off, in
 * place; returns the new RDATA length, or -1 when the options do not
 * parse. */
static long strip_padding(uint8_t *q, const sr_msg_shape_t *opt)
{
    uint8_t *rd = q + opt->opt_rdata_off;
    size_t in = 0, out = 0;

    while (in < opt->opt_rdlen) {
        uint16_t code, olen;
        if (opt->opt_rdlen - in < OPT_HDR_LEN)
            return -1;
        code = sr_get16(rd + in);
        olen = sr_get16(rd + in + 2);
        if (opt->opt_rdlen - in - OPT_HDR_LEN < olen)
            return -1;
        if (code != SR_EDNS_OPT_PADDING) {
            memmove(rd + out, rd + in, OPT_HDR_LEN + (size_t)olen);
            out += OPT_HDR_LEN + (size_t)olen;
        }
        in += OPT_HDR_LEN + (size_t)olen;
    }
    return (long)out;
}

sr_status_t sr_query_pad(uint8_t *q, size_t *len, size_t cap, uint16_t block)
{
    sr_msg_shape_t shape;
    size_t msglen = *len, base_len, pad, insert_at, grow;
    sr_status_t status = SR_OK;

    if (block == 0)
        return SR_OK;
    status = sr_msg_check(q, msglen, false, &shape);
    if (status != SR_OK)
        goto done;
    if (shape.end != msglen) {
        status = SR_E_FORMERR; /* trailing bytes: not a message we pad */
        goto done;
    }

    if (shape.opt_found) {
        long rdlen = strip_padding(q, &shape);
        if (rdlen < 0) {
            status = SR_E_FORMERR;
            goto done;
        }
        /* Close the gap the stripped options left. */
        size_t old_end = shape.opt_rdata_off + shape.opt_rdlen;
        size_t new_end = shape.opt_rdata_off + (size_t)rdlen;
        memmove(q + new_end, q + old_end, msglen - old_end);
        msglen -= old_end - new_end;
        shape.opt_rdlen = (uint16_t)rdlen;
        sr_put16(q + shape.opt_rdlen_off, shape.opt_rdlen);
        base_len = msglen + OPT_HDR_LEN;
        insert_at = new_end;
    } else {
        if (shape.counts[3] == 0xffff) {
            status = SR_E_FORMERR; /* no room in ARCOUNT */
            goto done;
        }
        base_len = msglen + OPT_RR_LEN + OPT_HDR_LEN;
        insert_at = msglen;
    }
    pad = (block - base_len % block) % block;
    grow = base_len + pad - msglen;
    if (base_len + pad > cap || base_len + pad > 65535 ||
        (shape.opt_found && (size_t)shape.opt_rdlen + OPT_HDR_LEN + pad > 65535)) {
        /* The stripped message is still whole and valid: report it. */
        *len = msglen;
        status = SR_E_NOBUFS;
        goto done;
    }
    memmove(q + insert_at + grow, q + insert_at, msglen - insert_at);
    uint8_t *p = q + insert_at;
    if (!shape.opt_found) {
        p[0] = 0; /* root owner */
        sr_put16(p + 1, SR_TYPE_OPT);
        sr_put16(p + 3, PAD_EDNS_SIZE);
        sr_put32(p + 5, 0); /* extended RCODE, version 0, no flags */
        sr_put16(p + 9, (uint16_t)(OPT_HDR_LEN + pad));
        p += OPT_RR_LEN;
        sr_put16(q + 10, (uint16_t)(shape.counts[3] + 1)); /* ARCOUNT */
    } else {
        sr_put16(q + shape.opt_rdlen_off, (uint16_t)(shape.opt_rdlen + OPT_HDR_LEN + pad));
    }
    sr_put16(p, SR_EDNS_OPT_PADDING);
    sr_put16(p + 2, (uint16_t)pad);
    /* RFC 7830 4: the padding octets SHOULD be 0x00. */
    memset(p + OPT_HDR_LEN, 0, pad);
    *len = msglen + grow;
done:
    return status;
}
