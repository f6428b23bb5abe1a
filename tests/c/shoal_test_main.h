/* The main every cmocka test program has, written once. */
#ifndef SHOAL_TEST_MAIN_H
#define SHOAL_TEST_MAIN_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* SHOAL_TEST_MAIN({ cmocka_unit_test(a), ... }) runs the listed tests as one
 * group without group setup or teardown; the exit status is the number that
 * failed, which is what ctest reads. */
#define SHOAL_TEST_MAIN(...)                                                                                           \
    int main(void)                                                                                                     \
    {                                                                                                                  \
        const struct CMUnitTest tests[] = __VA_ARGS__;                                                                 \
        return cmocka_run_group_tests(tests, NULL, NULL);                                                              \
    }

#endif
