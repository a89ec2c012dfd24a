/* EDNS(0) padding of queries for encrypted transports.
 *
 * RFC 7830 defines the Padding option (code 12) of the OPT record; RFC 8467
 * 4.1 recommends that clients pad queries to the closest multiple of 128
 * octets ("Block-Length Padding"), which hides the query name's length
 * from an observer of the encrypted stream. */
#include "config.h"

#include "upstream-internal.h"

/* Fixed part of an OPT RR with the root owner: name(1) type(2) class(2)
 * ttl(4) rdlength(2). */
#define OPT_RR_LEN 11
/* Option header: code(2) length(2). */
#define OPT_HDR_LEN 4
/* The UDP payload size we advertise in an OPT record we add ourselves
 * (DNS flag day 2020: 1232 avoids fragmentation). Over TLS and HTTPS the
 * value is not used for anything, but the field must hold one. */
#define PAD_EDNS_SIZE 1232

/* Where the OPT RR of a message lies. */
struct opt_loc {
    bool found;
    size_t rdlen_off; /* offset of the RDLENGTH field */
    size_t rdata_off;
    uint16_t rdlen;
};

/* Skip one RR at the cursor, reporting the OPT record if it is one. */
static sr_status_t skip_rr(sr_buf_t *b, bool additional, struct opt_loc *opt)
{
    size_t name_off = b->off;
    uint16_t type, rdlen;
    sr_status_t status;

    status = sr_upstream_skip_name(b);
    if (status != SR_OK)
        return status;
    status = sr_buf_u16(b, &type);
    if (status != SR_OK)
        return status;
    status = sr_buf_skip(b, 6); /* class, ttl */
    if (status != SR_OK)
        return status;
    size_t rdlen_off = b->off;
    status = sr_buf_u16(b, &rdlen);
    if (status != SR_OK)
        return status;
    /* RFC 6891 6.1.1: one OPT, owner the root, in the additional section. */
    if (type == SR_TYPE_OPT) {
        if (!additional || opt->found || b->off - name_off != 1 + 10)
            return SR_E_FORMERR;
        opt->found = true;
        opt->rdlen_off = rdlen_off;
        opt->rdata_off = b->off;
        opt->rdlen = rdlen;
    }
    return sr_buf_skip(b, rdlen);
}

/* Remove every Padding option from the OPT RDATA at q+opt->rdata_off, in
 * place; returns the new RDATA length, or -1 when the options do not
 * parse. */
static long strip_padding(uint8_t *q, const struct opt_loc *opt)
{
    uint8_t *rd = q + opt->rdata_off;
    size_t in = 0, out = 0;

    while (in < opt->rdlen) {
        uint16_t code, olen;
        if (opt->rdlen - in < OPT_HDR_LEN)
            return -1;
        code = sr_get16(rd + in);
        olen = sr_get16(rd + in + 2);
        if (opt->rdlen - in - OPT_HDR_LEN < olen)
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
    sr_buf_t b;
    uint16_t counts[4];
    struct opt_loc opt = {0};
    size_t msglen = *len, base_len, pad, insert_at, grow;
    sr_status_t status = SR_OK;

    if (block == 0)
        return SR_OK;
    sr_buf_init(&b, q, msglen);
    status = sr_buf_skip(&b, 4); /* ID, flags */
    for (int i = 0; status == SR_OK && i < 4; i++)
        status = sr_buf_u16(&b, &counts[i]);
    if (status != SR_OK)
        goto done;
    for (unsigned i = 0; i < counts[0]; i++) {
        status = sr_upstream_skip_name(&b);
        if (status == SR_OK)
            status = sr_buf_skip(&b, 4);
        if (status != SR_OK)
            goto done;
    }
    for (unsigned s = 1; s < 4; s++) {
        for (unsigned i = 0; i < counts[s]; i++) {
            status = skip_rr(&b, s == 3, &opt);
            if (status != SR_OK)
                goto done;
        }
    }
    if (b.off != msglen) {
        status = SR_E_FORMERR; /* trailing bytes: not a message we pad */
        goto done;
    }

    if (opt.found) {
        long rdlen = strip_padding(q, &opt);
        if (rdlen < 0) {
            status = SR_E_FORMERR;
            goto done;
        }
        /* Close the gap the stripped options left. */
        size_t old_end = opt.rdata_off + opt.rdlen;
        size_t new_end = opt.rdata_off + (size_t)rdlen;
        memmove(q + new_end, q + old_end, msglen - old_end);
        msglen -= old_end - new_end;
        opt.rdlen = (uint16_t)rdlen;
        sr_put16(q + opt.rdlen_off, opt.rdlen);
        base_len = msglen + OPT_HDR_LEN;
        insert_at = new_end;
    } else {
        if (counts[3] == 0xffff) {
            status = SR_E_FORMERR; /* no room in ARCOUNT */
            goto done;
        }
        base_len = msglen + OPT_RR_LEN + OPT_HDR_LEN;
        insert_at = msglen;
    }
    pad = (block - base_len % block) % block;
    grow = base_len + pad - msglen;
    if (base_len + pad > cap || base_len + pad > 65535 ||
        (opt.found && (size_t)opt.rdlen + OPT_HDR_LEN + pad > 65535)) {
        /* The stripped message is still whole and valid: report it. */
        *len = msglen;
        status = SR_E_NOBUFS;
        goto done;
    }
    memmove(q + insert_at + grow, q + insert_at, msglen - insert_at);
    uint8_t *p = q + insert_at;
    if (!opt.found) {
        p[0] = 0; /* root owner */
        sr_put16(p + 1, SR_TYPE_OPT);
        sr_put16(p + 3, PAD_EDNS_SIZE);
        sr_put32(p + 5, 0); /* extended RCODE, version 0, no flags */
        sr_put16(p + 9, (uint16_t)(OPT_HDR_LEN + pad));
        p += OPT_RR_LEN;
        sr_put16(q + 10, (uint16_t)(counts[3] + 1)); /* ARCOUNT */
    } else {
        sr_put16(q + opt.rdlen_off, (uint16_t)(opt.rdlen + OPT_HDR_LEN + pad));
    }
    sr_put16(p, SR_EDNS_OPT_PADDING);
    sr_put16(p + 2, (uint16_t)pad);
    /* RFC 7830 4: the padding octets SHOULD be 0x00. */
    memset(p + OPT_HDR_LEN, 0, pad);
    *len = msglen + grow;
done:
    return status;
}
