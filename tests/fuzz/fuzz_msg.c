/* Fuzz target: sr_msg_parse() on arbitrary bytes.
 *
 * Each input is parsed into a fresh message (its packet copy is exactly as
 * long as the input, so ASan sees any read past it) with and without
 * field text, and then into a long-lived message that has seen other
 * inputs, to catch state left over from an earlier parse. Whatever
 * parses is walked completely, and the two modes must agree. */
#include "config.h"

#include <string.h>

#include <stubres/wire.h>

#include "fuzz.h"

/* Touch every byte the message hands out, and check what must hold. */
static void walk(const sr_msg_t *msg, const uint8_t *data, size_t size, bool fields)
{
    size_t wlen;
    const uint8_t *w = sr_msg_wire(msg, &wlen);
    FUZZ_CHECK(wlen == size);
    FUZZ_CHECK(size == 0 || memcmp(w, data, size) == 0);
    FUZZ_CHECK(strcmp(sr_msg_error(msg), "") == 0);
    FUZZ_CHECK(sr_msg_question_end(msg) <= size);
    if (sr_msg_qdcount(msg) > 0) {
        size_t ql;
        const uint8_t *q = sr_msg_qname_wire(msg, &ql);
        char text[SR_NAME_MAX_TEXT];
        /* The two forms of the question name say the same. */
        FUZZ_CHECK(sr_name_to_text(q, ql, text, sizeof(text)) == SR_OK);
        FUZZ_CHECK(strcmp(text, sr_msg_qname(msg)) == 0);
    }
    size_t n = sr_msg_rr_count(msg), per_section = 0;
    for (int s = 0; s < 3; s++)
        per_section += sr_msg_section_count(msg, (sr_section_t)s);
    FUZZ_CHECK(per_section == n);
    for (size_t i = 0; i < n; i++) {
        const sr_rr_t *rr = sr_msg_rr(msg, i);
        uint8_t wire[SR_NAME_MAX_WIRE];
        char text[SR_NAME_MAX_TEXT];
        size_t wl;
        FUZZ_CHECK(rr != NULL);
        FUZZ_CHECK(rr->rdata >= w && rr->end <= size);
        FUZZ_CHECK((size_t)(rr->rdata - w) + rr->rdlength == rr->end);
        FUZZ_CHECK(rr->offset < rr->ttl_offset && rr->ttl_offset + 6 <= rr->end);
        /* Owner texts are valid presentation names of the same name. */
        FUZZ_CHECK(sr_name_from_text(rr->name, wire, sizeof(wire), &wl) == SR_OK);
        FUZZ_CHECK(sr_name_to_text(wire, wl, text, sizeof(text)) == SR_OK);
        FUZZ_CHECK(strcmp(text, rr->name) == 0);
        if (!fields) {
            FUZZ_CHECK(rr->field_count == 0);
            continue;
        }
        FUZZ_CHECK(rr->field_count >= 1 && rr->field_count <= 9); /* RRSIG */
        for (size_t k = 0; k < rr->field_count; k++) {
            FUZZ_CHECK(rr->fields[k].name != NULL);
            (void)strlen(rr->fields[k].value);
            FUZZ_CHECK(sr_rr_field(rr, rr->fields[k].name) != NULL);
        }
    }
    const sr_edns_t *e = sr_msg_edns(msg);
    if (e->present) {
        FUZZ_CHECK(e->end <= size);
        for (size_t k = 0; k < e->opt_count; k++) {
            const sr_edns_opt_t *o = &e->opts[k];
            FUZZ_CHECK(o->len == 0 || (o->data >= w && o->data + o->len <= w + size));
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sr_msg_t *reused;
    sr_msg_t *a = sr_msg_new(), *b = sr_msg_new();
    sr_status_t sa, sb;

    if (reused == NULL)
        reused = sr_msg_new();
    FUZZ_CHECK(a != NULL && b != NULL && reused != NULL);

    sa = sr_msg_parse(a, data, size, 0);
    sb = sr_msg_parse(b, data, size, SR_PARSE_NO_FIELDS);
    /* Skipping the text does not skip any validation. */
    FUZZ_CHECK(sa == sb);
    if (sa == SR_OK) {
        walk(a, data, size, true);
        walk(b, data, size, false);
        FUZZ_CHECK(sr_msg_rr_count(a) == sr_msg_rr_count(b));
        for (size_t i = 0; i < sr_msg_rr_count(a); i++)
            FUZZ_CHECK(strcmp(sr_msg_rr(a, i)->name, sr_msg_rr(b, i)->name) == 0);
    } else {
        FUZZ_CHECK(sa == SR_E_FORMERR || sa == SR_E_MSG_TOO_SHORT);
        FUZZ_CHECK(strcmp(sr_msg_error(a), "") != 0);
        FUZZ_CHECK(sr_msg_rr_count(a) == 0 && sr_msg_rr_count(b) == 0);
    }

    /* A message reused across inputs gives the same answer. */
    FUZZ_CHECK(sr_msg_parse(reused, data, size, 0) == sa);
    if (sa == SR_OK) {
        walk(reused, data, size, true);
        for (size_t i = 0; i < sr_msg_rr_count(a); i++) {
            const sr_rr_t *x = sr_msg_rr(a, i), *y = sr_msg_rr(reused, i);
            FUZZ_CHECK(x->field_count == y->field_count);
            for (size_t k = 0; k < x->field_count; k++)
                FUZZ_CHECK(strcmp(x->fields[k].value, y->fields[k].value) == 0);
        }
    }
    sr_msg_free(a);
    sr_msg_free(b);
    return 0;
}
