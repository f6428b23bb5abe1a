/*
 * UDP channel resolution (transport/udp/shoal_udp_channel.c): a URI that
 * parsed, turned into socket addresses, interface and multicast control
 * address. Host names would go to DNS (slow, and no network here), so only
 * numeric hosts (IPv4, [IPv6], with any port text) reach the resolver; the
 * splitting, port and interface/prefix parsing see everything.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transport/udp/shoal_udp_channel.h"
#include "util/shoal_uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True when host_port's host part is a numeric address getaddrinfo will not
 * look up (mirrors the splitting in shoal_udp_channel.c, loosely). */
static int numeric_host(const char *host_port)
{
    char host[256];
    const char *start = host_port;
    size_t length;
    if ('[' == host_port[0])
    {
        const char *close = strchr(host_port, ']');
        if (NULL == close)
        {
            return 1; /* rejected before any lookup */
        }
        start = host_port + 1;
        length = (size_t)(close - start);
    }
    else
    {
        const char *colon = strrchr(host_port, ':');
        length = NULL == colon ? strlen(host_port) : (size_t)(colon - host_port);
    }
    if (length >= sizeof(host))
    {
        return 1; /* rejected as too long */
    }
    memcpy(host, start, length);
    host[length] = '\0';
    unsigned char buf[16];
    return 0 == length || 1 == inet_pton(AF_INET, host, buf) || 1 == inet_pton(AF_INET6, host, buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > SHOAL_URI_MAX_LENGTH)
    {
        return -1;
    }
    char text[SHOAL_URI_MAX_LENGTH + 1];
    memcpy(text, data, size);
    text[size] = '\0';

    shoal_uri_t uri;
    if (0 != shoal_uri_parse(text, &uri) || SHOAL_MEDIA_UDP != uri.media)
    {
        return 0;
    }
    if (!numeric_host(uri.endpoint) || !numeric_host(uri.control))
    {
        return -1;
    }
    shoal_udp_channel_t *channel = malloc(sizeof(*channel));
    if (NULL == channel)
    {
        return 0;
    }
    if (0 == shoal_udp_channel_init(channel, &uri))
    {
        char buf[SHOAL_UDP_ADDR_TEXT_MAX];
        if (channel->has_endpoint)
        {
            shoal_udp_addr_format(&channel->endpoint, buf, sizeof(buf));
            (void)shoal_udp_addr_is_multicast(&channel->endpoint);
            (void)shoal_udp_addr_equal(&channel->endpoint, &channel->control);
        }
        if (channel->has_control)
        {
            shoal_udp_addr_format(&channel->control, buf, sizeof(buf));
        }
        if (channel->is_multicast)
        {
            shoal_udp_addr_format(&channel->multicast_control, buf, sizeof(buf));
        }
    }
    free(channel);
    return 0;
}
