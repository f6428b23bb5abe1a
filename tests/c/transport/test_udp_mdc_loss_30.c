/* MDC (dynamic) under 30 % injected loss each way: 1,000,000 random-size
 * messages to three subscriber drivers, every one in order, exactly once,
 * byte-identical (udp_mdc_loss_test.h). About 70 s on two quiet cores;
 * SHOAL_TEST_LOSS_MESSAGES overrides the count. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "udp_mdc_loss_test.h"

static void test_mdc_three_subscribers_under_30_percent_loss(void **state)
{
    (void)state;
    assert_int_equal(0, run_mdc_loss_test("mdcloss30", "0.3", "16m", loss_test_messages(1000000), 480000, false));
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_mdc_three_subscribers_under_30_percent_loss),
})
