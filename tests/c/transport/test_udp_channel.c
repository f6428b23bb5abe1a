/* UDP channel parsing and resolution on their own: endpoint, control,
 * interface (address, subnet, name), multicast control group, ttl, the
 * canonical text that decides endpoint sharing, and the errors that name
 * what did not resolve. Loopback addresses only: no network needed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "../shoal_test_main.h"
#include "transport/udp/shoal_udp_channel.h"
#include "util/shoal_error.h"

static int channel(const char *text, shoal_udp_channel_t *ch)
{
    shoal_uri_t uri;
    assert_int_equal(0, shoal_uri_parse(text, &uri));
    shoal_err_clear();
    return shoal_udp_channel_init(ch, &uri);
}

/* text as a channel that must parse and resolve. */
static shoal_udp_channel_t parsed(const char *text)
{
    shoal_udp_channel_t ch;
    assert_int_equal(0, channel(text, &ch));
    return ch;
}

static uint16_t port_of(const struct sockaddr_storage *a)
{
    return AF_INET == a->ss_family ? ntohs(((const struct sockaddr_in *)a)->sin_port)
                                   : ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
}

/* a, as text (address:port), is expected. */
static void assert_addr_text(const char *expected, const struct sockaddr_storage *a)
{
    char text[SHOAL_UDP_ADDR_TEXT_MAX];
    shoal_udp_addr_format(a, text, sizeof(text));
    assert_string_equal(expected, text);
}

static void unicast_endpoint(void **state)
{
    (void)state;
    shoal_udp_channel_t ch = parsed("aeron:udp?endpoint=127.0.0.1:40123");
    assert_true(ch.has_endpoint);
    assert_false(ch.has_control);
    assert_false(ch.has_interface);
    assert_false(ch.is_multicast);
    assert_int_equal(AF_INET, ch.endpoint.ss_family);
    assert_int_equal(40123, port_of(&ch.endpoint));
    assert_int_equal(sizeof(struct sockaddr_in), ch.endpoint_length);
    assert_addr_text("127.0.0.1:40123", &ch.endpoint);
    assert_int_equal(0, ch.ttl);
}

static void ipv6_endpoint(void **state)
{
    (void)state;
    shoal_udp_channel_t ch = parsed("aeron:udp?endpoint=[::1]:40124");
    assert_int_equal(AF_INET6, ch.endpoint.ss_family);
    assert_int_equal(40124, port_of(&ch.endpoint));
    assert_addr_text("[::1]:40124", &ch.endpoint);
    assert_false(shoal_udp_addr_is_multicast(&ch.endpoint));
}

static void multicast_control_is_the_next_group(void **state)
{
    (void)state;
    shoal_udp_channel_t ch = parsed("aeron:udp?endpoint=224.0.1.77:40456|interface=127.0.0.1|ttl=4");
    assert_true(ch.is_multicast);
    assert_true(shoal_udp_addr_is_multicast(&ch.endpoint));
    assert_addr_text("224.0.1.78:40456", &ch.multicast_control);
    assert_true(ch.has_interface);
    assert_addr_text("127.0.0.1:0", &ch.interface_address);
    assert_int_equal(4, ch.ttl);

    ch = parsed("aeron:udp?endpoint=[ff02::1:3]:40457|interface=[::1]");
    assert_true(ch.is_multicast);
    assert_addr_text("[ff02::1:4]:40457", &ch.multicast_control);
}

static void interface_as_subnet_and_name(void **state)
{
    (void)state;
    shoal_udp_channel_t ch = parsed("aeron:udp?endpoint=127.0.0.1:40458|interface=127.0.0.0/8");
    assert_true(ch.has_interface);
    assert_addr_text("127.0.0.1:0", &ch.interface_address); /* the loopback interface's own address */
    assert_true(ch.interface_index > 0);
    ch = parsed("aeron:udp?endpoint=127.0.0.1:40458|interface=lo");
    assert_true(ch.has_interface);
    assert_true(ch.interface_index > 0);
}

static void mdc_control(void **state)
{
    (void)state;
    shoal_udp_channel_t ch = parsed("aeron:udp?control=127.0.0.1:40459|control-mode=dynamic");
    assert_false(ch.has_endpoint);
    assert_true(ch.has_control);
    assert_addr_text("127.0.0.1:40459", &ch.control);
    assert_int_equal(SHOAL_CONTROL_MODE_DYNAMIC, ch.uri.control_mode);
}

static void canonical_text_decides_sharing(void **state)
{
    (void)state;
    /* Parameters that do not change the socket (stream options) share it. */
    shoal_udp_channel_t a = parsed("aeron:udp?endpoint=127.0.0.1:40460");
    shoal_udp_channel_t b = parsed("aeron:udp?endpoint=127.0.0.1:40460|term-length=65536|mtu=1408");
    assert_string_equal(a.canonical, b.canonical);
    b = parsed("aeron:udp?endpoint=localhost:40460");
    assert_string_equal(a.canonical, b.canonical); /* names resolve (IPv4 preferred) */
    /* Another port, an interface or a control address make another socket. */
    b = parsed("aeron:udp?endpoint=127.0.0.1:40461");
    assert_string_not_equal(a.canonical, b.canonical);
    b = parsed("aeron:udp?endpoint=127.0.0.1:40460|interface=127.0.0.1");
    assert_string_not_equal(a.canonical, b.canonical);
    b = parsed("aeron:udp?endpoint=127.0.0.1:40460|control=127.0.0.1:40462");
    assert_string_not_equal(a.canonical, b.canonical);
}

static void errors_name_what_did_not_resolve(void **state)
{
    (void)state;
    shoal_udp_channel_t ch;
    assert_int_equal(-1, channel("aeron:udp?endpoint=no-such-host.invalid:40463", &ch));
    assert_int_equal(SHOAL_EURI, shoal_errcode());
    assert_non_null(strstr(shoal_errmsg(), "endpoint 'no-such-host.invalid:40463'"));
    assert_int_equal(-1, channel("aeron:udp?control=no-such-host.invalid:40464", &ch));
    assert_non_null(strstr(shoal_errmsg(), "control 'no-such-host.invalid:40464'"));
    assert_int_equal(-1, channel("aeron:udp?endpoint=127.0.0.1:40465|interface=10.255.255.0/24", &ch));
    assert_non_null(strstr(shoal_errmsg(), "interface '10.255.255.0/24' not found"));
    assert_int_equal(-1, channel("aeron:udp?endpoint=127.0.0.1:40465|interface=nosuchif0", &ch));
    assert_non_null(strstr(shoal_errmsg(), "interface 'nosuchif0' not found"));
    assert_int_equal(-1, channel("aeron:udp?endpoint=127.0.0.1:40465|interface=127.0.0.0/40", &ch));
    assert_non_null(strstr(shoal_errmsg(), "interface '127.0.0.0/40'"));
}

/* An explicit address this host does not show is left for bind() to judge. */
static void an_unknown_interface_address_is_kept(void **state)
{
    (void)state;
    shoal_udp_channel_t ch = parsed("aeron:udp?endpoint=127.0.0.1:40466|interface=10.255.255.254:7");
    assert_true(ch.has_interface);
    assert_addr_text("10.255.255.254:7", &ch.interface_address);
}

static void resolve_and_compare_addresses(void **state)
{
    (void)state;
    struct sockaddr_storage a, b;
    socklen_t la, lb;
    assert_int_equal(0, shoal_udp_resolve("127.0.0.1:9", &a, &la));
    assert_int_equal(0, shoal_udp_resolve("127.0.0.1:9", &b, &lb));
    assert_true(shoal_udp_addr_equal(&a, &b));
    assert_int_equal(la, shoal_udp_addr_length(&a));
    assert_int_equal(0, shoal_udp_resolve("127.0.0.1:10", &b, &lb));
    assert_false(shoal_udp_addr_equal(&a, &b)); /* the port counts */
    assert_int_equal(0, shoal_udp_resolve("[::1]:9", &b, &lb));
    assert_false(shoal_udp_addr_equal(&a, &b)); /* so does the family */
    assert_int_equal(sizeof(struct sockaddr_in6), shoal_udp_addr_length(&b));
    const char *bad[] = { "127.0.0.1", "127.0.0.1:70000", "127.0.0.1:x", "[::1:9", "[::1]x", ":9" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    {
        shoal_err_clear();
        assert_int_equal(-1, shoal_udp_resolve(bad[i], &a, &la));
        assert_int_equal(SHOAL_EURI, shoal_errcode());
    }
}

SHOAL_TEST_MAIN({
    cmocka_unit_test(unicast_endpoint),
    cmocka_unit_test(ipv6_endpoint),
    cmocka_unit_test(multicast_control_is_the_next_group),
    cmocka_unit_test(interface_as_subnet_and_name),
    cmocka_unit_test(mdc_control),
    cmocka_unit_test(canonical_text_decides_sharing),
    cmocka_unit_test(errors_name_what_did_not_resolve),
    cmocka_unit_test(an_unknown_interface_address_is_kept),
    cmocka_unit_test(resolve_and_compare_addresses),
})
