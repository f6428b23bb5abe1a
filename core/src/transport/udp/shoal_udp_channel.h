/*
 * A UDP channel: a parsed aeron:udp URI with its addresses resolved.
 *
 *   endpoint=host:port     data destination (publication) / bind address (subscription);
 *                          a multicast group address makes the channel multicast
 *   interface=addr[/bits]  local interface: an address, a subnet, or a name (lo, eth0)
 *   control=host:port      MDC control address: the publication binds it, subscribers
 *                          send status messages there to join
 *   control-mode=dynamic|manual
 *   ttl=N                  multicast hops
 *
 * Multicast follows Aeron: data goes to the group G:port, control frames (status
 * messages, NAKs) to the group G+1:port, so G's last octet should be odd.
 *
 * Resolution uses getaddrinfo/getifaddrs: conductor only, never a hot path.
 */
#ifndef SHOAL_UDP_CHANNEL_H
#define SHOAL_UDP_CHANNEL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util/shoal_uri.h"

#define SHOAL_UDP_ADDR_TEXT_MAX 64
#define SHOAL_UDP_CANONICAL_MAX 256

typedef struct shoal_udp_channel_stct
{
    shoal_uri_t uri;
    bool has_endpoint;
    struct sockaddr_storage endpoint;
    socklen_t endpoint_length;
    bool has_control;
    struct sockaddr_storage control;
    socklen_t control_length;
    bool has_interface;
    struct sockaddr_storage interface_address; /* port 0 unless given */
    unsigned int interface_index;              /* 0 when unknown */
    bool is_multicast;
    struct sockaddr_storage multicast_control; /* group + 1, same port (multicast only) */
    int ttl;                                   /* 0: OS default */
    /* Identity of the socket the channel needs: equal text = shareable endpoint. */
    char canonical[SHOAL_UDP_CANONICAL_MAX];
} shoal_udp_channel_t;

/* Parses and resolves uri (already validated by shoal_uri_parse) into *out.
 * -1 with SHOAL_EURI naming the host/interface that did not resolve. */
int shoal_udp_channel_init(shoal_udp_channel_t *out, const shoal_uri_t *uri);

/* Resolves "host:port" / "[v6]:port" (IPv4 preferred for names). */
int shoal_udp_resolve(const char *host_port, struct sockaddr_storage *out, socklen_t *length);

/* "a.b.c.d:port" or "[v6]:port" into buf (always NUL-terminated). */
void shoal_udp_addr_format(const struct sockaddr_storage *addr, char *buf, size_t length);

socklen_t shoal_udp_addr_length(const struct sockaddr_storage *addr);
bool shoal_udp_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
bool shoal_udp_addr_is_multicast(const struct sockaddr_storage *addr);

#endif
