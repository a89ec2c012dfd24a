/* Unit tests: the error table (src/lib/error.c). */
#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stubres/error.h>

#include "check-main.h"

START_TEST(test_texts_of_the_reference)
{
    ck_assert_str_eq(sr_strerror(100), "No records were found.");
    ck_assert_str_eq(sr_strerror(SR_E_RECORD_INDEX), "Invalid record index.");
    ck_assert_str_eq(sr_strerror(224), "Could not determine DNS server address.");
    ck_assert_str_eq(sr_strerror(119), "Message too short.");
    ck_assert_str_eq(sr_strerror(276), "Error during handshake.");
    ck_assert_str_eq(sr_strerror(10060), "[10060] Connection timed out.");
    ck_assert_str_eq(sr_strerror(11004),
                     "[11004] Valid name, no data record (check DNS setup).");
    ck_assert_str_eq(sr_strerror(SR_OK), "OK");
}
END_TEST

START_TEST(test_unknown_code)
{
    ck_assert_str_eq(sr_strerror(12345), "Unknown error.");
    ck_assert_str_eq(sr_strerror(-1), "Unknown error.");
}
END_TEST

/* errno and getaddrinfo codes to statuses; unlisted errno values fall
 * back to "Invalid argument". */
static const struct {
    const char *what;
    bool gai; /* sr_status_from_gai, else sr_status_from_errno */
    int in;
    sr_status_t want;
} MAPPINGS[] = {
    {"errno 0", false, 0, SR_OK},
    {"ETIMEDOUT", false, ETIMEDOUT, 10060},
    {"ECONNREFUSED", false, ECONNREFUSED, 10061},
    {"EADDRINUSE", false, EADDRINUSE, 10048},
    {"ENOMEM", false, ENOMEM, SR_E_NOMEM},
    {"EAGAIN", false, EAGAIN, 10035},
    {"EDOM (unlisted)", false, EDOM, 10022},
    {"gai 0", true, 0, SR_OK},
    {"EAI_NONAME", true, EAI_NONAME, 11001},
    {"EAI_AGAIN", true, EAI_AGAIN, 11002},
    {"EAI_FAIL", true, EAI_FAIL, 11003},
};

START_TEST(test_mapping)
{
    sr_status_t got = MAPPINGS[_i].gai ? sr_status_from_gai(MAPPINGS[_i].in)
                                       : sr_status_from_errno(MAPPINGS[_i].in);

    ck_assert_msg(got == MAPPINGS[_i].want, "%s: %d, want %d", MAPPINGS[_i].what, got,
                  MAPPINGS[_i].want);
}
END_TEST

/* Every code of the enum has its own text, not the fallback. */
START_TEST(test_every_code_has_text)
{
    static const int codes[] = {100, 104, 106, 107, 109, 112, 113, 114, 115,
        116, 117, 118, 119, 220, 221, 222, 223, 224, 225, 270, 271, 272, 273,
        274, 275, 276, 280, 281, 282, 283, 284, 434, 10004, 10009, 10013,
        10014, 10022, 10024, 10035, 10036, 10037, 10038, 10039, 10040, 10041,
        10042, 10043, 10044, 10045, 10046, 10047, 10048, 10049, 10050, 10051,
        10052, 10053, 10054, 10055, 10056, 10057, 10058, 10059, 10060, 10061,
        10062, 10063, 10064, 10065, 10066, 10067, 10068, 10069, 10070, 10071,
        10091, 10092, 10093, 11001, 11002, 11003, 11004};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        const char *t = sr_strerror(codes[i]);
        ck_assert_msg(strcmp(t, "Unknown error.") != 0, "code %d", codes[i]);
        if (codes[i] >= 10000) {
            char prefix[16];
            snprintf(prefix, sizeof(prefix), "[%d] ", codes[i]);
            ck_assert_msg(strncmp(t, prefix, strlen(prefix)) == 0, "%s", t);
        }
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("error");
    TCase *tc =
        add_tcase(s, "core", NULL, NULL,
                  TESTS(test_texts_of_the_reference, test_unknown_code, test_every_code_has_text));
    tcase_add_loop_test(tc, test_mapping, 0, (int)(sizeof(MAPPINGS) / sizeof(MAPPINGS[0])));
    return run_suite(s);
}
