/* 1,000,000 random-size messages over UDP with 30 % loss each way: in
 * order, exactly once, byte-identical (see udp_loss_test.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "../shoal_test_main.h"
#include "udp_loss_test.h"

static void test_million_messages_under_30_percent_loss(void **state)
{
    (void)state;
    assert_int_equal(0, run_loss_test("loss30", "0.3", "16m", loss_test_messages(1000000), 240000));
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_million_messages_under_30_percent_loss),
})
