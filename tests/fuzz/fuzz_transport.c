/* libFuzzer target: the byte-level parsers of the transport layer
 * (upstream.c's message check and host:port split, padding.c, tls.c's pin
 * list).
 *
 * Invariants besides "no crash, no leak, no read past the input":
 * - whatever the wire codec parses, the transport's structural check
 *   accepts (it may only be more lenient, never reject a good answer);
 * - a query that pads successfully is a multiple of 128 bytes and still
 *   passes the check, and parses with the codec when the input did. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec-internal.h"
#include "upstream-internal.h"
#include <stubres/wire.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sr_msg_t *msg = sr_msg_new();
    bool codec_ok;
    uint8_t *buf;
    size_t len;
    char text[512], host[300];
    uint16_t port = 53;
    sr_upstream_t up;

    if (msg == NULL || size > 65535) {
        sr_msg_free(msg);
        return 0;
    }
    /* As a reply. */
    codec_ok = sr_msg_parse(msg, data, size, SR_PARSE_NO_FIELDS) == SR_OK;
    if (codec_ok && sr_msg_check(data, size, false, NULL) != SR_OK)
        abort();
    (void)sr_msg_check(data, size, true, NULL);

    /* As a query to pad, in a buffer with exactly the room we give. */
    buf = malloc(size + 11 + 4 + 128);
    if (buf != NULL) {
        memcpy(buf, data, size);
        len = size;
        if (sr_query_pad(buf, &len, size + 11 + 4 + 128, 128) == SR_OK) {
            if (len % 128 != 0 || sr_msg_check(buf, len, false, NULL) != SR_OK)
                abort();
            if (codec_ok && sr_msg_parse(msg, buf, len, SR_PARSE_NO_FIELDS) != SR_OK)
                abort();
        }
        free(buf);
    }

    /* As text: a server spec and a pin list. */
    len = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
    memcpy(text, data, len);
    text[len] = '\0';
    if (sr_hostport_split(text, host, sizeof(host), &port) == SR_OK &&
        (strlen(host) == 0 || strlen(host) >= sizeof(host) || port == 0))
        abort();
    memset(&up, 0, sizeof(up));
    if (sr_tls_pins_parse(&up, text) == SR_OK && up.npins > 0 && up.pins == NULL)
        abort();
    sr_free(up.pins);
    sr_msg_free(msg);
    return 0;
}
