/* Unit tests for netwatch.c: the netlink datagram parser (every length
 * checked against the bytes received, hostile datagrams refused without a
 * read past their end), the debounce (a burst is one change) and the
 * resume check. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "check-main.h"
#include "netwatch.h"

/* Append a message of type with plen payload bytes at buf + *off. */
static void put(uint8_t *buf, size_t *off, uint16_t type, size_t plen)
{
    struct nlmsghdr h;

    memset(&h, 0, sizeof(h));
    h.nlmsg_len = (uint32_t)(sizeof(h) + plen);
    h.nlmsg_type = type;
    memcpy(buf + *off, &h, sizeof(h));
    memset(buf + *off + sizeof(h), 0xAA, plen);
    *off += NLMSG_ALIGN(sizeof(h) + plen);
}

/* The parser on an exact heap copy: ASan sees any read past the end. */
static int parse_exact(const uint8_t *buf, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);
    int r;

    ck_assert_ptr_nonnull(copy);
    memcpy(copy, buf, n);
    r = netwatch_parse(copy, n);
    free(copy);
    return r;
}

START_TEST(test_parse_events)
{
    uint8_t buf[1024];
    size_t n = 0;

    put(buf, &n, RTM_NEWADDR, 24);
    put(buf, &n, RTM_NEWROUTE, 28);
    put(buf, &n, RTM_NEWNEIGH, 28); /* neighbours are no change */
    put(buf, &n, RTM_DELLINK, 16);
    put(buf, &n, NLMSG_DONE, 4);
    ck_assert_int_eq(parse_exact(buf, n), 3);
    /* The last message without its padding (5 bytes of payload). */
    n = 0;
    put(buf, &n, RTM_NEWLINK, 16);
    put(buf, &n, RTM_DELADDR, 5);
    ck_assert_int_eq(parse_exact(buf, n - 3), 2);
    /* Only messages that are no change. */
    n = 0;
    put(buf, &n, NLMSG_NOOP, 0);
    ck_assert_int_eq(parse_exact(buf, n), 0);
    ck_assert_int_eq(parse_exact(buf, 0), 0);
    /* An overrun or an error: look again. */
    n = 0;
    put(buf, &n, NLMSG_OVERRUN, 0);
    ck_assert_int_eq(parse_exact(buf, n), 1);
}
END_TEST

START_TEST(test_parse_hostile)
{
    uint8_t buf[256];
    struct nlmsghdr h;
    size_t n = 0;

    /* A piece of a header. */
    put(buf, &n, RTM_NEWADDR, 8);
    for (size_t cut = 1; cut < sizeof(h); cut++)
        ck_assert_int_eq(parse_exact(buf, cut), -1);
    /* Whole messages, then a piece of a header. */
    ck_assert_int_eq(parse_exact(buf, n + 3), -1);
    /* A length shorter than the header (0 would loop forever). */
    for (uint32_t len = 0; len < sizeof(h); len++) {
        memset(&h, 0, sizeof(h));
        h.nlmsg_len = len;
        h.nlmsg_type = RTM_NEWLINK;
        memcpy(buf, &h, sizeof(h));
        ck_assert_int_eq(parse_exact(buf, sizeof(h) + 16), -1);
    }
    /* A length past the datagram, by one byte and by nearly 4 GB (the
     * alignment must not wrap). */
    const uint32_t lens[] = {sizeof(h) + 17, 0xFFFFFFFFu, 0xFFFFFFFDu, 0x80000000u};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        memset(&h, 0, sizeof(h));
        h.nlmsg_len = lens[i];
        h.nlmsg_type = RTM_NEWADDR;
        memcpy(buf, &h, sizeof(h));
        ck_assert_int_eq(parse_exact(buf, sizeof(h) + 16), -1);
    }
    /* A good message, then a bad length: the whole datagram is bad. */
    n = 0;
    put(buf, &n, RTM_NEWADDR, 8);
    memset(&h, 0, sizeof(h));
    h.nlmsg_len = 200;
    memcpy(buf + n, &h, sizeof(h));
    ck_assert_int_eq(parse_exact(buf, n + sizeof(h)), -1);
    /* At an odd address (buf + 1): no alignment assumed. */
    uint8_t odd[64];
    n = 0;
    put(buf, &n, RTM_NEWROUTE, 12);
    memcpy(odd + 1, buf, n);
    ck_assert_int_eq(netwatch_parse(odd + 1, n), 1);
}
END_TEST

START_TEST(test_debounce)
{
    netwatch_debounce_t db;

    memset(&db, 0, sizeof(db));
    ck_assert(!netwatch_due(&db, 1000)); /* nothing armed */
    /* A burst: the first event arms, the others are absorbed. */
    ck_assert(netwatch_event(&db, 1000));
    for (uint64_t t = 1001; t < 1400; t += 7)
        ck_assert(!netwatch_event(&db, t));
    ck_assert(!netwatch_due(&db, 1000 + NETWATCH_DEBOUNCE_MS - 1));
    ck_assert(netwatch_due(&db, 1000 + NETWATCH_DEBOUNCE_MS));
    ck_assert(!netwatch_due(&db, 1000 + NETWATCH_DEBOUNCE_MS + 1)); /* once */
    ck_assert_uint_eq(db.absorbed, 57);
    /* The next event after the change: a new change. */
    ck_assert(netwatch_event(&db, 2000));
    ck_assert(netwatch_due(&db, 2600));
}
END_TEST

START_TEST(test_resumed)
{
    int64_t last = 5;

    ck_assert(!netwatch_resumed(&last, 5));
    ck_assert(!netwatch_resumed(&last, 5 + NETWATCH_SUSPEND_MS)); /* 2 s: not yet */
    ck_assert_int_eq(last, 5 + NETWATCH_SUSPEND_MS);
    ck_assert(netwatch_resumed(&last, last + 60000)); /* a minute asleep */
    ck_assert(!netwatch_resumed(&last, last));        /* and only once */
    ck_assert(!netwatch_resumed(&last, last - 3));    /* clock jitter */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("netwatch");
    add_tcase(s, "parse", NULL, NULL, TESTS(test_parse_events, test_parse_hostile));
    add_tcase(s, "debounce", NULL, NULL, TESTS(test_debounce, test_resumed));
    return run_suite(s);
}
