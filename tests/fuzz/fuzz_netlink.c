/* Fuzz target: the netlink datagram parser of network_watch
 * (netwatch_parse, src/daemon/netwatch.c). The input is one datagram, as
 * read from the NETLINK_ROUTE socket, on an exact heap copy so that a read
 * past its end is caught. A model written from netlink(7) (a plain walk,
 * not the parser's) predicts the result: the count of link, address and
 * route messages (and errors, overruns), or -1 when a header is cut short
 * or a length is shorter than a header or runs past the datagram. The
 * input then drives the debounce: one change per burst. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <linux/netlink.h>

#include "fuzz.h"
#include "netwatch.h"

static long model(const uint8_t *d, size_t n)
{
    long count = 0;
    size_t off = 0;

    while (off < n) {
        if (n - off < 16)
            return -1;
        uint32_t len = (uint32_t)d[off] | (uint32_t)d[off + 1] << 8 | (uint32_t)d[off + 2] << 16 |
                       (uint32_t)d[off + 3] << 24; /* host order: little-endian here */
        uint16_t type = (uint16_t)(d[off + 4] | d[off + 5] << 8);
        if (len < 16 || len > n - off)
            return -1;
        switch (type) {
        case 2:  /* NLMSG_ERROR */
        case 4:  /* NLMSG_OVERRUN */
        case 16: /* RTM_NEWLINK */
        case 17: /* RTM_DELLINK */
        case 20: /* RTM_NEWADDR */
        case 21: /* RTM_DELADDR */
        case 24: /* RTM_NEWROUTE */
        case 25: /* RTM_DELROUTE */ count++; break;
        default: break;
        }
        size_t step = ((size_t)len + 3) & ~(size_t)3;
        if (step >= n - off)
            break;
        off += step;
    }
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    netwatch_debounce_t db;
    uint64_t now = 1000, changes = 0, events = 0;

    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data, size);
    int r = netwatch_parse(copy, size);
    free(copy);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    FUZZ_CHECK(r == model(data, size));
#endif
    FUZZ_CHECK(r >= -1 && (size_t)(r < 0 ? 0 : r) <= size / sizeof(struct nlmsghdr));

    /* Each byte a step of time (ms) before an event: changes come once
     * per burst, never more than one per NETWATCH_DEBOUNCE_MS. */
    memset(&db, 0, sizeof(db));
    uint64_t last_change = 0;
    for (size_t i = 0; i < size; i++) {
        now += data[i] * 4u;
        if (netwatch_due(&db, now)) {
            FUZZ_CHECK(changes == 0 || now - last_change >= NETWATCH_DEBOUNCE_MS);
            last_change = now;
            changes++;
        }
        events++;
        netwatch_event(&db, now);
    }
    if (netwatch_due(&db, now + NETWATCH_DEBOUNCE_MS))
        changes++;
    FUZZ_CHECK(changes + db.absorbed == events);
    FUZZ_CHECK(!db.pending);
    return 0;
}
