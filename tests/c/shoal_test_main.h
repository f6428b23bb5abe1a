/* The main every cmocka test program has, written once. */
#ifndef SHOAL_TEST_MAIN_H
#define SHOAL_TEST_MAIN_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* Runs the listed tests (cmocka_unit_test(...) and the like) as one group
 * without group setup or teardown; the exit status is the number that
 * failed, which is what ctest reads. */
#define SHOAL_TEST_MAIN(...)                                                                                           \
    int main(void)                                                                                                     \
    {                                                                                                                  \
        const struct CMUnitTest tests[] = { __VA_ARGS__ };                                                             \
        return cmocka_run_group_tests(tests, NULL, NULL);                                                              \
    }

#endif
