/* libFuzzer target: the DoH JSON API converter (src/lib/doh_json.c).
 *
 * Any input must yield SR_OK or an error, never a crash, a leak or a read
 * past the input; and whatever the converter accepts must be a DNS message
 * the wire codec parses (the converter's output is only ever trusted
 * because the generic code parses it next). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "doh-internal.h"
#include "fuzz.h"
#include <stubres/wire.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The question of the seed corpus: example.test, type from the first
     * byte so that Question checks see matches and mismatches. */
    static const uint8_t qname[] = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0};
    sr_doh_question_t q = {0x4242, qname, sizeof(qname), SR_TYPE_A, SR_CLASS_IN};
    char detail[SR_DOH_DETAIL_MAX];
    uint8_t *out = NULL;
    size_t outlen = 0;
    sr_msg_t *msg;

    if (size > 0 && data[0] != '{')
        q.qtype = data[0];
    if (sr_doh_json_to_wire((const char *)data, size, &q, &out, &outlen, detail, sizeof(detail)) !=
        SR_OK)
        return 0;
    FUZZ_CHECK(outlen >= SR_HEADER_LEN && outlen <= SR_DOH_WIRE_MAX);
    msg = sr_msg_new();
    if (msg != NULL) {
        FUZZ_CHECK(sr_msg_parse(msg, out, outlen, 0) == SR_OK);
        FUZZ_CHECK(sr_msg_id(msg) == q.id);
        FUZZ_CHECK(sr_msg_qdcount(msg) == 1 && sr_msg_qtype(msg) == q.qtype);
        sr_msg_free(msg);
    }
    sr_free(out);
    return 0;
}
