#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../shoal_test_main.h"
#include "util/shoal_error.h"
#include "util/shoal_uri.h"

static void assert_uri_error(const char *uri, const char *needle)
{
    shoal_uri_t parsed;
    shoal_err_clear();
    int rc = shoal_uri_parse(uri, &parsed);
    if (rc != -1 || shoal_errcode() != SHOAL_EURI || strstr(shoal_errmsg(), needle) == NULL)
    {
        print_error("uri '%s': rc=%d code=%d msg='%s' (wanted '%s')\n", uri ? uri : "(null)", rc, shoal_errcode(),
            shoal_errmsg(), needle);
        fail();
    }
}

static shoal_uri_t parse_ok(const char *uri)
{
    shoal_uri_t parsed;
    int rc = shoal_uri_parse(uri, &parsed);
    if (rc != 0)
    {
        print_error("uri '%s' failed: %s\n", uri, shoal_errmsg());
        fail();
    }
    return parsed;
}

static void test_ipc_plain(void **state)
{
    (void)state;
    shoal_uri_t u = parse_ok("aeron:ipc");
    assert_int_equal(u.media, SHOAL_MEDIA_IPC);
    assert_false(u.has_term_length);
    assert_false(u.has_mtu);
    assert_string_equal(u.endpoint, "");
    assert_int_equal(u.control_mode, SHOAL_CONTROL_MODE_NONE);
}

static void test_ipc_params(void **state)
{
    (void)state;
    shoal_uri_t u = parse_ok("aeron:ipc?term-length=64k|mtu=8k|session-id=-7|linger=5s|reliable=false|sparse=true|"
                             "tether=false|alias=my pub");
    assert_int_equal(u.media, SHOAL_MEDIA_IPC);
    assert_true(u.has_term_length);
    assert_int_equal(u.term_length, 65536);
    assert_true(u.has_mtu);
    assert_int_equal(u.mtu, 8192);
    assert_true(u.has_session_id);
    assert_int_equal(u.session_id, -7);
    assert_true(u.has_linger);
    assert_int_equal(u.linger_ns, 5000000000LL);
    assert_true(u.has_reliable);
    assert_false(u.reliable);
    assert_true(u.has_sparse);
    assert_true(u.sparse);
    assert_true(u.has_tether);
    assert_false(u.tether);
    assert_string_equal(u.alias, "my pub");
}

static void test_udp_params(void **state)
{
    (void)state;
    shoal_uri_t u = parse_ok(
        "aeron:udp?endpoint=224.0.1.1:40456|interface=192.168.1.0/24|ttl=16|fc=min,g:3|group=true|rcv-window=128K|"
        "term-length=1G|mtu=1408");
    assert_int_equal(u.media, SHOAL_MEDIA_UDP);
    assert_string_equal(u.endpoint, "224.0.1.1:40456");
    assert_string_equal(u.interface_name, "192.168.1.0/24");
    assert_int_equal(u.ttl, 16);
    assert_true(u.has_ttl);
    assert_string_equal(u.fc, "min,g:3");
    assert_true(u.has_group);
    assert_true(u.group);
    assert_int_equal(u.rcv_window, 131072);
    assert_int_equal(u.term_length, 1073741824);
    assert_int_equal(u.mtu, 1408);

    u = parse_ok("aeron:udp?control=localhost:40457|control-mode=dynamic");
    assert_string_equal(u.control, "localhost:40457");
    assert_int_equal(u.control_mode, SHOAL_CONTROL_MODE_DYNAMIC);
    assert_string_equal(u.endpoint, "");

    u = parse_ok("aeron:udp?control-mode=manual");
    assert_int_equal(u.control_mode, SHOAL_CONTROL_MODE_MANUAL);

    /* Response channels (Aeron's keys). */
    u = parse_ok("aeron:udp?control=localhost:20126|control-mode=response|response-correlation-id=42");
    assert_int_equal(u.control_mode, SHOAL_CONTROL_MODE_RESPONSE);
    assert_true(u.has_response_correlation_id);
    assert_int_equal(u.response_correlation_id, 42);
    u = parse_ok("aeron:udp?endpoint=localhost:20125|response-correlation-id=7");
    assert_int_equal(u.control_mode, SHOAL_CONTROL_MODE_NONE);
    assert_int_equal(u.response_correlation_id, 7);
    u = parse_ok("aeron:ipc?control-mode=response");
    assert_int_equal(u.control_mode, SHOAL_CONTROL_MODE_RESPONSE);
    assert_false(u.has_response_correlation_id);

    u = parse_ok("aeron:udp?endpoint=[::1]:40123");
    assert_string_equal(u.endpoint, "[::1]:40123");
    u = parse_ok("aeron:udp?endpoint=localhost:0");
    u = parse_ok("aeron:udp?endpoint=host:65535|fc=max");
    assert_string_equal(u.fc, "max");
    u = parse_ok("aeron:udp?endpoint=host:1|fc=tagged,g:99/3");
    assert_string_equal(u.fc, "tagged,g:99/3");
    u = parse_ok("aeron:udp?endpoint=h:1|ttl=0");
    assert_int_equal(u.ttl, 0);
    u = parse_ok("aeron:udp?endpoint=h:1|ttl=255");
    assert_int_equal(u.ttl, 255);
}

static void test_linger_units(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("aeron:ipc?linger=100ms").linger_ns, 100000000LL);
    assert_int_equal(parse_ok("aeron:ipc?linger=250us").linger_ns, 250000LL);
    assert_int_equal(parse_ok("aeron:ipc?linger=10ns").linger_ns, 10LL);
    assert_int_equal(parse_ok("aeron:ipc?linger=12345").linger_ns, 12345LL);
    assert_int_equal(parse_ok("aeron:ipc?linger=0").linger_ns, 0LL);
    assert_int_equal(parse_ok("aeron:ipc?linger=9223372036s").linger_ns, 9223372036000000000LL);
}

static void test_spy_and_tethering(void **state)
{
    (void)state;
    shoal_uri_t u = parse_ok("aeron-spy:aeron:udp?endpoint=127.0.0.1:40123|tether=false|"
                             "untethered-window-limit-timeout=200ms|untethered-resting-timeout=1s");
    assert_true(u.spy);
    assert_int_equal(u.media, SHOAL_MEDIA_UDP);
    assert_string_equal(u.endpoint, "127.0.0.1:40123");
    assert_true(u.has_tether);
    assert_false(u.tether);
    assert_true(u.has_untethered_window_limit_timeout);
    assert_int_equal(u.untethered_window_limit_timeout_ns, 200000000LL);
    assert_true(u.has_untethered_resting_timeout);
    assert_int_equal(u.untethered_resting_timeout_ns, 1000000000LL);
    assert_false(parse_ok("aeron:udp?endpoint=127.0.0.1:40123").spy);
    u = parse_ok("aeron:udp?endpoint=127.0.0.1:40123|ssc=true");
    assert_true(u.has_ssc && u.ssc);
    u = parse_ok("aeron:ipc?tether=false|untethered-window-limit-timeout=5000000|untethered-resting-timeout=250us");
    assert_int_equal(u.untethered_window_limit_timeout_ns, 5000000LL);
    assert_int_equal(u.untethered_resting_timeout_ns, 250000LL);

    char a[SHOAL_URI_PRINT_MAX_LENGTH];
    u = parse_ok("aeron-spy:aeron:udp?untethered-resting-timeout=2s|endpoint=h:1|ssc=false");
    assert_true(shoal_uri_print(&u, a, sizeof(a)) > 0);
    assert_string_equal(a, "aeron-spy:aeron:udp?endpoint=h:1|ssc=false|untethered-resting-timeout=2000000000");
    shoal_uri_t v = parse_ok(a);
    assert_memory_equal(&u, &v, sizeof(u));

    assert_uri_error("aeron-spy:aeron:ipc", "a spy needs an aeron:udp channel");
    assert_uri_error("aeron-spy:", "must start with 'aeron:' after 'aeron-spy:'");
    assert_uri_error("aeron-spy:aeron-spy:aeron:udp?endpoint=h:1", "must start with 'aeron:' after 'aeron-spy:'");
    assert_uri_error("aeron:ipc?ssc=true", "key 'ssc' is not valid for aeron:ipc");
    assert_uri_error("aeron:udp?endpoint=h:1|ssc=yes", "invalid value 'yes' for key 'ssc'");
    assert_uri_error("aeron:ipc?untethered-resting-timeout=0", "untethered-resting-timeout");
    assert_uri_error("aeron:ipc?untethered-window-limit-timeout=5m", "untethered-window-limit-timeout");
    assert_uri_error("aeron:ipc?untethered-window-limit-timeout=-1s", "untethered-window-limit-timeout");
}

static void test_sizes(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("aeron:ipc?term-length=65536").term_length, 65536);
    assert_int_equal(parse_ok("aeron:ipc?term-length=16m").term_length, 16 * 1024 * 1024);
    assert_int_equal(parse_ok("aeron:ipc?term-length=16M").term_length, 16 * 1024 * 1024);
    assert_int_equal(parse_ok("aeron:ipc?term-length=1g").term_length, 1024 * 1024 * 1024);
    assert_int_equal(parse_ok("aeron:ipc?mtu=64").mtu, 64);
    assert_int_equal(parse_ok("aeron:ipc?mtu=65504").mtu, 65504);
    assert_int_equal(parse_ok("aeron:ipc?session-id=2147483647").session_id, INT32_MAX);
    assert_int_equal(parse_ok("aeron:ipc?session-id=-2147483648").session_id, INT32_MIN);
}

static void test_structural_errors(void **state)
{
    (void)state;
    assert_uri_error(NULL, "NULL");
    assert_uri_error("", "empty");
    assert_uri_error("ipc", "must start with 'aeron:'");
    assert_uri_error("Aeron:ipc", "must start with 'aeron:'");
    assert_uri_error("aeron:", "missing media");
    assert_uri_error("aeron:tcp", "unknown media 'tcp'");
    assert_uri_error("aeron:ipcx", "unknown media 'ipcx'");
    assert_uri_error("aeron:ipc?", "empty parameter");
    assert_uri_error("aeron:ipc?mtu=1408|", "empty parameter");
    assert_uri_error("aeron:ipc?mtu=1408||sparse=true", "empty parameter");
    assert_uri_error("aeron:ipc?=5", "empty key");
    assert_uri_error("aeron:ipc?sparse", "missing '=' after key 'sparse'");
    assert_uri_error("aeron:ipc?mtu=1408|mtu=1408", "duplicate key 'mtu'");
    assert_uri_error("aeron:ipc?foo=1", "unknown key 'foo' in channel URI 'aeron:ipc?foo=1'");
    assert_uri_error("aeron:ipc?Term-Length=64k", "unknown key 'Term-Length'");
    assert_uri_error("aeron:ipc?mtu=", "empty value for key 'mtu'");
    assert_uri_error("aeron:ipc?alias=a\tb", "control character");

    char longer[SHOAL_URI_MAX_LENGTH + 20];
    strcpy(longer, "aeron:ipc?alias=");
    memset(longer + strlen(longer), 'a', sizeof(longer) - strlen(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    assert_uri_error(longer, "longer than 1024");

    shoal_err_clear();
    assert_int_equal(shoal_uri_parse("aeron:ipc", NULL), -1);
    assert_int_equal(shoal_errcode(), SHOAL_EINVAL);
}

static void test_udp_only_keys_on_ipc(void **state)
{
    (void)state;
    assert_uri_error("aeron:ipc?endpoint=localhost:40123", "key 'endpoint' is not valid for aeron:ipc");
    assert_uri_error("aeron:ipc?interface=eth0", "key 'interface' is not valid for aeron:ipc");
    assert_uri_error("aeron:ipc?control=localhost:1", "key 'control' is not valid for aeron:ipc");
    assert_uri_error("aeron:ipc?control-mode=manual", "key 'control-mode' is not valid for aeron:ipc");
    assert_uri_error("aeron:ipc?ttl=1", "key 'ttl' is not valid for aeron:ipc");
    assert_uri_error("aeron:ipc?fc=min", "key 'fc' is not valid for aeron:ipc");
    assert_uri_error("aeron:ipc?group=true", "key 'group' is not valid for aeron:ipc");
    assert_uri_error("aeron:ipc?rcv-window=128k", "key 'rcv-window' is not valid for aeron:ipc");
}

static void test_value_errors(void **state)
{
    (void)state;
    assert_uri_error("aeron:ipc?term-length=1000",
        "term-length 1000 must be a power of two between 65536 and 1073741824");
    assert_uri_error("aeron:ipc?term-length=32k", "term-length 32k must be a power of two");
    assert_uri_error("aeron:ipc?term-length=2g", "term-length 2g must be a power of two");
    assert_uri_error("aeron:ipc?term-length=65537", "term-length");
    assert_uri_error("aeron:ipc?term-length=64kb", "term-length");
    assert_uri_error("aeron:ipc?term-length=-65536", "term-length");
    assert_uri_error("aeron:ipc?term-length=k", "term-length");
    assert_uri_error("aeron:ipc?term-length=99999999999999999999999", "term-length");
    assert_uri_error("aeron:ipc?term-length=9999999999999999g", "term-length");
    assert_uri_error("aeron:ipc?term-length= 65536", "term-length");
    assert_uri_error("aeron:ipc?mtu=1400", "mtu 1400 must be a multiple of 32");
    assert_uri_error("aeron:ipc?mtu=32", "mtu 32");
    assert_uri_error("aeron:ipc?mtu=65536", "mtu 65536");
    assert_uri_error("aeron:ipc?mtu=1408x", "mtu");
    assert_uri_error("aeron:ipc?session-id=2147483648", "'session-id'");
    assert_uri_error("aeron:ipc?session-id=12a", "'session-id'");
    assert_uri_error("aeron:ipc?session-id=-", "'session-id'");
    assert_uri_error("aeron:ipc?session-id=1k", "'session-id'");
    assert_uri_error("aeron:ipc?linger=5m", "'linger'");
    assert_uri_error("aeron:ipc?linger=-1", "'linger'");
    assert_uri_error("aeron:ipc?linger=ms", "'linger'");
    assert_uri_error("aeron:ipc?linger=9223372037s", "'linger'");
    assert_uri_error("aeron:ipc?linger=5 s", "'linger'");
    assert_uri_error("aeron:ipc?reliable=yes", "'reliable'");
    assert_uri_error("aeron:ipc?reliable=TRUE", "'reliable'");
    assert_uri_error("aeron:ipc?sparse=1", "'sparse'");
    assert_uri_error("aeron:ipc?tether=0", "'tether'");
    assert_uri_error("aeron:udp?endpoint=h:1|group=no", "'group'");
    assert_uri_error("aeron:udp?endpoint=h:1|ttl=256", "'ttl'");
    assert_uri_error("aeron:udp?endpoint=h:1|ttl=-1", "'ttl'");
    assert_uri_error("aeron:udp?endpoint=h:1|ttl=1k", "'ttl'");
    assert_uri_error("aeron:udp?endpoint=h:1|rcv-window=0", "'rcv-window'");
    assert_uri_error("aeron:udp?endpoint=h:1|rcv-window=2g", "'rcv-window'");
    assert_uri_error("aeron:udp?endpoint=h:1|rcv-window=12q", "'rcv-window'");
    assert_uri_error("aeron:udp?endpoint=h:1|fc=avg", "'fc'");
    assert_uri_error("aeron:udp?endpoint=h:1|fc=minimum", "'fc'");
    assert_uri_error("aeron:udp?endpoint=h:1|fc=min,", "'fc'");
    assert_uri_error("aeron:udp?endpoint=h:1|control-mode=respond", "'control-mode'");
    assert_uri_error("aeron:udp?endpoint=h:1|response-correlation-id=-1", "'response-correlation-id'");
    assert_uri_error("aeron:udp?endpoint=h:1|response-correlation-id=x", "'response-correlation-id'");
    assert_uri_error("aeron:udp?endpoint=localhost", "'endpoint'");
    assert_uri_error("aeron:udp?endpoint=localhost:", "'endpoint'");
    assert_uri_error("aeron:udp?endpoint=:40123", "'endpoint'");
    assert_uri_error("aeron:udp?endpoint=localhost:65536", "'endpoint'");
    assert_uri_error("aeron:udp?endpoint=localhost:-1", "'endpoint'");
    assert_uri_error("aeron:udp?endpoint=localhost:12ab", "'endpoint'");
    assert_uri_error("aeron:udp?endpoint=::1:40123", "'endpoint'");
    assert_uri_error("aeron:udp?endpoint=[::1:40123", "'endpoint'");
    assert_uri_error("aeron:udp?control=nohost", "'control'");
}

static void test_value_too_long(void **state)
{
    (void)state;
    char uri[SHOAL_URI_MAX_LENGTH + 1];
    snprintf(uri, sizeof(uri), "aeron:ipc?alias=%064d", 0);
    assert_uri_error(uri, "value for key 'alias' is too long");
    snprintf(uri, sizeof(uri), "aeron:ipc?alias=%063d", 0);
    assert_int_equal(strlen(parse_ok(uri).alias), 63);

    snprintf(uri, sizeof(uri), "aeron:udp?endpoint=%0256d:1", 0);
    assert_uri_error(uri, "value for key 'endpoint' is too long");
    snprintf(uri, sizeof(uri), "aeron:udp?endpoint=h:1|interface=%0256d", 0);
    assert_uri_error(uri, "value for key 'interface' is too long");
    snprintf(uri, sizeof(uri), "aeron:udp?endpoint=h:1|fc=min,%060d", 0);
    assert_uri_error(uri, "value for key 'fc' is too long");
}

static void test_semantic_errors(void **state)
{
    (void)state;
    assert_uri_error("aeron:udp", "aeron:udp requires key 'endpoint' or 'control'");
    assert_uri_error("aeron:udp?ttl=4", "requires key 'endpoint'");
    assert_uri_error("aeron:udp?control-mode=dynamic", "control-mode=dynamic requires key 'control'");
    assert_uri_error("aeron:udp?endpoint=h:1|control-mode=dynamic", "control-mode=dynamic requires key 'control'");
    assert_uri_error("aeron:udp?endpoint=h:1|control-mode=response", "control-mode=response requires key 'control'");
}

/* init-term-id, term-id, term-offset: a publication's start position. */
static void test_start_position(void **state)
{
    (void)state;
    shoal_uri_t u = parse_ok("aeron:ipc?term-length=64k|init-term-id=-5|term-id=-3|term-offset=1024");
    assert_true(u.has_position);
    assert_int_equal(u.initial_term_id, -5);
    assert_int_equal(u.term_id, -3);
    assert_int_equal(u.term_offset, 1024);
    u = parse_ok(
        "aeron:udp?endpoint=h:1|term-length=65536|init-term-id=2147483647|term-id=-2147483648|term-offset=65536");
    assert_true(u.has_position); /* term ids wrap: one term after the initial one */
    assert_int_equal(u.term_offset, 65536);
    assert_false(parse_ok("aeron:ipc?term-length=64k").has_position);

    assert_uri_error("aeron:ipc?term-length=64k|init-term-id=1|term-id=1", "must be given together");
    assert_uri_error("aeron:ipc?term-length=64k|term-offset=0", "must be given together");
    assert_uri_error("aeron:ipc?init-term-id=1|term-id=1|term-offset=0", "needs key 'term-length'");
    assert_uri_error("aeron:ipc?term-length=64k|init-term-id=1|term-id=1|term-offset=33",
        "term-offset 33 must be a multiple of 32 between 0 and term-length 65536");
    assert_uri_error("aeron:ipc?term-length=64k|init-term-id=1|term-id=1|term-offset=65568", "term-offset 65568");
    assert_uri_error("aeron:ipc?term-length=64k|init-term-id=1|term-id=0|term-offset=0",
        "term-id 0 is before init-term-id 1");
    assert_uri_error("aeron:ipc?term-length=64k|init-term-id=1|term-id=1|term-offset=-32",
        "invalid value '-32' for key 'term-offset'");
    assert_uri_error("aeron:ipc?term-length=64k|init-term-id=x|term-id=1|term-offset=0",
        "invalid value 'x' for key 'init-term-id'");
    assert_uri_error("aeron:ipc?term-length=64k|init-term-id=1|term-id=2147483648|term-offset=0",
        "invalid value '2147483648' for key 'term-id'");
    assert_uri_error("aeron:ipc?term-length=64k|init-term-id=1|term-id=1|term-id=1|term-offset=0",
        "duplicate key 'term-id'");

    char a[SHOAL_URI_PRINT_MAX_LENGTH];
    u = parse_ok("aeron:ipc?term-offset=96|term-id=7|init-term-id=3|term-length=64k");
    assert_true(shoal_uri_print(&u, a, sizeof(a)) > 0);
    assert_string_equal(a, "aeron:ipc?term-length=65536|init-term-id=3|term-id=7|term-offset=96");
}

static void test_print_canonical(void **state)
{
    (void)state;
    char a[SHOAL_URI_PRINT_MAX_LENGTH];
    char b[SHOAL_URI_PRINT_MAX_LENGTH];
    shoal_uri_t u = parse_ok("aeron:ipc");
    assert_int_equal(shoal_uri_print(&u, a, sizeof(a)), 9);
    assert_string_equal(a, "aeron:ipc");

    u = parse_ok("aeron:ipc?sparse=true|term-length=64k|linger=1ms");
    shoal_uri_t v = parse_ok("aeron:ipc?linger=1000000|term-length=65536|sparse=true");
    assert_true(shoal_uri_print(&u, a, sizeof(a)) > 0);
    assert_true(shoal_uri_print(&v, b, sizeof(b)) > 0);
    assert_string_equal(a, b);
    assert_string_equal(a, "aeron:ipc?term-length=65536|linger=1000000|sparse=true");

    const char *full =
        "aeron:udp?endpoint=224.0.1.1:40456|interface=eth0|control=10.0.0.1:40457|control-mode=dynamic|fc=min|"
        "alias=x|term-length=131072|mtu=1408|session-id=-3|linger=0|ttl=8|reliable=false|sparse=false|group=true|"
        "tether=true|rcv-window=131072|response-correlation-id=9";
    u = parse_ok(full);
    int n = shoal_uri_print(&u, a, sizeof(a));
    assert_int_equal(n, (int)strlen(full));
    assert_string_equal(a, full);
    v = parse_ok(a);
    assert_memory_equal(&u, &v, sizeof(u));

    /* Too small a buffer: error, still terminated. */
    shoal_err_clear();
    char small[16];
    assert_int_equal(shoal_uri_print(&u, small, sizeof(small)), -1);
    assert_int_equal(shoal_errcode(), SHOAL_EINVAL);
    assert_true(strlen(small) < sizeof(small));
    assert_int_equal(shoal_uri_print(NULL, a, sizeof(a)), -1);
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(test_ipc_plain),
    cmocka_unit_test(test_ipc_params),
    cmocka_unit_test(test_udp_params),
    cmocka_unit_test(test_linger_units),
    cmocka_unit_test(test_spy_and_tethering),
    cmocka_unit_test(test_sizes),
    cmocka_unit_test(test_structural_errors),
    cmocka_unit_test(test_udp_only_keys_on_ipc),
    cmocka_unit_test(test_value_errors),
    cmocka_unit_test(test_value_too_long),
    cmocka_unit_test(test_semantic_errors),
    cmocka_unit_test(test_start_position),
    cmocka_unit_test(test_print_canonical),
})
