/* What every unit suite's main() shares: a TCase made in one call, and
 * the run. */
#ifndef CHECK_MAIN_H
#define CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

/* The NULL-terminated list of the tests named, for add_tcase. */
#define TESTS(...) ((const TTest *const[]){__VA_ARGS__, NULL})

/* A TCase called name, added to s: its fixture (NULL, NULL for none) and
 * tests (TESTS(test_a, test_b), or NULL for none but loop tests). Returns
 * it for loop tests and timeouts. */
static inline TCase *add_tcase(Suite *s, const char *name, SFun setup, SFun teardown,
                               const TTest *const *tests)
{
    TCase *tc = tcase_create(name);

    if (setup != NULL || teardown != NULL)
        tcase_add_checked_fixture(tc, setup, teardown);
    for (; tests != NULL && *tests != NULL; tests++)
        tcase_add_test(tc, *tests);
    suite_add_tcase(s, tc);
    return tc;
}

/* Run s; EXIT_SUCCESS when no test failed. */
static inline int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
