/* libFuzzer target: stubresd's query parser (src/daemon/forwarder.c,
 * fwd_parse_query) and the error replies built from what it found, and the
 * control protocol's line parser (src/daemon/ctlproto.c, ctl_parse): the
 * two parsers of the daemon that read bytes from outside. The first input
 * byte chooses which one; the rest is the input. Checks that every pointer
 * the query parser returns lies inside the packet, and that a reply to a
 * parsed query echoes its ID. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctlproto.h"
#include "forwarder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1) {
        /* A control line: NUL-terminated copy (the socket reads lines). */
        char *line = malloc(size);
        ctl_request_t *req = malloc(sizeof(*req));
        char err[512];
        if (line == NULL || req == NULL) {
            free(line);
            free(req);
            return 0;
        }
        memcpy(line, data + 1, size - 1);
        line[size - 1] = '\0';
        if (ctl_parse(line, req, err, sizeof(err)) == 0) {
            for (int i = 0; i < req->argc; i++)
                if (req->argv[i] < req->buf || req->argv[i] >= req->buf + sizeof(req->buf))
                    abort();
        }
        free(req);
        free(line);
        return 0;
    }
    /* A query packet: an exact-size heap copy so ASan sees any overread. */
    size_t len = size - 1;
    uint8_t *pkt = malloc(len ? len : 1);
    uint8_t out[1024];
    fwd_qinfo_t qi;
    if (pkt == NULL)
        return 0;
    memcpy(pkt, data + 1, len);
    fwd_verdict_t v = fwd_parse_query(pkt, len, &qi);
    if (qi.has_question && (qi.qname < pkt || qi.qname + qi.qname_len > pkt + len))
        abort();
    if (v != FWD_DROP) {
        static const unsigned rcodes[] = {1, 2, 4, 5, 16};
        size_t n = fwd_error_reply(&qi, pkt, rcodes[len % 5], 1232, out, sizeof(out));
        if (n < 12 || (out[0] != pkt[0] || out[1] != pkt[1]))
            abort();
    }
    free(pkt);
    return 0;
}
