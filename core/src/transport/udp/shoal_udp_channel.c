#include "transport/udp/shoal_udp_channel.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/shoal_error.h"

socklen_t shoal_udp_addr_length(const struct sockaddr_storage *addr)
{
    return AF_INET6 == addr->ss_family ? (socklen_t)sizeof(struct sockaddr_in6) : (socklen_t)sizeof(struct sockaddr_in);
}

bool shoal_udp_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
    {
        return false;
    }
    if (AF_INET == a->ss_family)
    {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a, *y = (const struct sockaddr_in *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (AF_INET6 == a->ss_family)
    {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a, *y = (const struct sockaddr_in6 *)b;
        return x->sin6_port == y->sin6_port && 0 == memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
    }
    return false;
}

bool shoal_udp_addr_is_multicast(const struct sockaddr_storage *addr)
{
    if (AF_INET == addr->ss_family)
    {
        return IN_MULTICAST(ntohl(((const struct sockaddr_in *)addr)->sin_addr.s_addr));
    }
    if (AF_INET6 == addr->ss_family)
    {
        return IN6_IS_ADDR_MULTICAST(&((const struct sockaddr_in6 *)addr)->sin6_addr);
    }
    return false;
}

void shoal_udp_addr_format(const struct sockaddr_storage *addr, char *buf, size_t length)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (AF_INET == addr->ss_family)
    {
        const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        snprintf(buf, length, "%s:%u", host, (unsigned)ntohs(a->sin_port));
    }
    else if (AF_INET6 == addr->ss_family)
    {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        snprintf(buf, length, "[%s]:%u", host, (unsigned)ntohs(a->sin6_port));
    }
    else
    {
        snprintf(buf, length, "unknown");
    }
}

/* Splits "host:port" / "[v6]:port"; port may be absent (-> 0) when allow_no_port. */
static int split_host_port(const char *text, char *host, size_t host_length, int *port, bool allow_no_port)
{
    const char *colon;
    const char *host_start = text;
    size_t hl;
    if ('[' == text[0])
    {
        const char *close = strchr(text, ']');
        if (NULL == close)
        {
            return shoal_set_err(SHOAL_EURI, "address '%s': missing ']'", text);
        }
        host_start = text + 1;
        hl = (size_t)(close - host_start);
        colon = ':' == close[1] ? close + 1 : NULL;
        if (NULL == colon && '\0' != close[1])
        {
            return shoal_set_err(SHOAL_EURI, "address '%s': junk after ']'", text);
        }
    }
    else
    {
        colon = strrchr(text, ':');
        hl = NULL == colon ? strlen(text) : (size_t)(colon - text);
    }
    if (0 == hl || hl >= host_length)
    {
        return shoal_set_err(SHOAL_EURI, "address '%s': bad host", text);
    }
    memcpy(host, host_start, hl);
    host[hl] = '\0';
    if (NULL == colon)
    {
        if (!allow_no_port)
        {
            return shoal_set_err(SHOAL_EURI, "address '%s': missing ':port'", text);
        }
        *port = 0;
        return 0;
    }
    char *end = NULL;
    long p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || '\0' != *end || p < 0 || p > 65535)
    {
        return shoal_set_err(SHOAL_EURI, "address '%s': port must be 0..65535", text);
    }
    *port = (int)p;
    return 0;
}

static int resolve_host(const char *host, int port, struct sockaddr_storage *out, socklen_t *length)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (0 != rc || NULL == res)
    {
        return shoal_set_err(SHOAL_EURI, "cannot resolve host '%s': %s", host, gai_strerror(rc));
    }
    const struct addrinfo *pick = res;
    for (const struct addrinfo *ai = res; NULL != ai; ai = ai->ai_next)
    {
        if (AF_INET == ai->ai_family)
        {
            pick = ai;
            break;
        }
    }
    memset(out, 0, sizeof(*out));
    memcpy(out, pick->ai_addr, pick->ai_addrlen);
    if (AF_INET == out->ss_family)
    {
        ((struct sockaddr_in *)out)->sin_port = htons((uint16_t)port);
    }
    else
    {
        ((struct sockaddr_in6 *)out)->sin6_port = htons((uint16_t)port);
    }
    *length = shoal_udp_addr_length(out);
    freeaddrinfo(res);
    return 0;
}

int shoal_udp_resolve(const char *host_port, struct sockaddr_storage *out, socklen_t *length)
{
    char host[256];
    int port = 0;
    if (split_host_port(host_port, host, sizeof(host), &port, false) < 0)
    {
        return -1;
    }
    return resolve_host(host, port, out, length);
}

static bool prefix_match(const struct sockaddr *a, const struct sockaddr_storage *b, int bits)
{
    if (a->sa_family != b->ss_family)
    {
        return false;
    }
    const uint8_t *x, *y;
    int total;
    if (AF_INET == a->sa_family)
    {
        x = (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr;
        y = (const uint8_t *)&((const struct sockaddr_in *)b)->sin_addr;
        total = 32;
    }
    else
    {
        x = (const uint8_t *)&((const struct sockaddr_in6 *)a)->sin6_addr;
        y = (const uint8_t *)&((const struct sockaddr_in6 *)b)->sin6_addr;
        total = 128;
    }
    if (bits < 0 || bits > total)
    {
        bits = total;
    }
    for (int i = 0; i < bits; i++)
    {
        uint8_t mask = (uint8_t)(0x80 >> (i % 8));
        if ((x[i / 8] & mask) != (y[i / 8] & mask))
        {
            return false;
        }
    }
    return true;
}

/* interface=addr[:port][/bits] or a name. */
static int resolve_interface(const char *text, shoal_udp_channel_t *ch)
{
    char spec[256];
    snprintf(spec, sizeof(spec), "%s", text);
    int bits = -1;
    char *slash = strchr(spec, '/');
    if (NULL != slash)
    {
        char *end = NULL;
        long b = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || '\0' != *end || b < 0 || b > 128)
        {
            return shoal_set_err(SHOAL_EURI, "interface '%s': bad prefix length", text);
        }
        bits = (int)b;
        *slash = '\0';
    }

    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) < 0)
    {
        return shoal_set_err(SHOAL_EURI, "interface '%s': cannot list interfaces", text);
    }
    char host[256];
    int port = 0;
    struct sockaddr_storage wanted;
    memset(&wanted, 0, sizeof(wanted));
    bool is_address = false;
    if (0 == split_host_port(spec, host, sizeof(host), &port, true))
    {
        struct in_addr v4;
        struct in6_addr v6;
        if (1 == inet_pton(AF_INET, host, &v4))
        {
            struct sockaddr_in *a = (struct sockaddr_in *)&wanted;
            a->sin_family = AF_INET;
            a->sin_addr = v4;
            a->sin_port = htons((uint16_t)port);
            is_address = true;
        }
        else if (1 == inet_pton(AF_INET6, host, &v6))
        {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&wanted;
            a->sin6_family = AF_INET6;
            a->sin6_addr = v6;
            a->sin6_port = htons((uint16_t)port);
            is_address = true;
        }
    }
    int rc = -1;
    for (struct ifaddrs *i = ifs; NULL != i; i = i->ifa_next)
    {
        if (NULL == i->ifa_addr || (AF_INET != i->ifa_addr->sa_family && AF_INET6 != i->ifa_addr->sa_family))
        {
            continue;
        }
        bool match = is_address ? prefix_match(i->ifa_addr, &wanted, bits)
                                : (0 == strcmp(i->ifa_name, spec) && AF_INET == i->ifa_addr->sa_family);
        if (!match)
        {
            continue;
        }
        memset(&ch->interface_address, 0, sizeof(ch->interface_address));
        if (is_address && bits < 0)
        {
            ch->interface_address = wanted;
        }
        else
        {
            memcpy(&ch->interface_address, i->ifa_addr,
                AF_INET == i->ifa_addr->sa_family ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
            if (AF_INET == i->ifa_addr->sa_family)
            {
                ((struct sockaddr_in *)&ch->interface_address)->sin_port = htons((uint16_t)port);
            }
            else
            {
                ((struct sockaddr_in6 *)&ch->interface_address)->sin6_port = htons((uint16_t)port);
            }
        }
        ch->interface_index = if_nametoindex(i->ifa_name);
        ch->has_interface = true;
        rc = 0;
        break;
    }
    freeifaddrs(ifs);
    if (rc < 0 && is_address && bits < 0)
    {
        /* An explicit address we cannot see locally: let bind() judge it. */
        ch->interface_address = wanted;
        ch->has_interface = true;
        rc = 0;
    }
    if (rc < 0)
    {
        return shoal_set_err(SHOAL_EURI, "interface '%s' not found on this host", text);
    }
    return 0;
}

/* Resolves the URI's address text; an error names the parameter (what). */
static int resolve_named(const char *text, const char *what, struct sockaddr_storage *address, socklen_t *length)
{
    if (shoal_udp_resolve(text, address, length) < 0)
    {
        /* The reason lives in the buffer shoal_set_err writes: copy it first. */
        char why[SHOAL_ERRMSG_MAX];
        snprintf(why, sizeof(why), "%s", shoal_errmsg());
        return shoal_set_err(SHOAL_EURI, "%s '%s': %s", what, text, why);
    }
    return 0;
}

int shoal_udp_channel_init(shoal_udp_channel_t *ch, const shoal_uri_t *uri)
{
    memset(ch, 0, sizeof(*ch));
    ch->uri = *uri;
    if ('\0' != uri->endpoint[0])
    {
        if (resolve_named(uri->endpoint, "endpoint", &ch->endpoint, &ch->endpoint_length) < 0)
        {
            return -1;
        }
        ch->has_endpoint = true;
        ch->is_multicast = shoal_udp_addr_is_multicast(&ch->endpoint);
    }
    if ('\0' != uri->control[0])
    {
        if (resolve_named(uri->control, "control", &ch->control, &ch->control_length) < 0)
        {
            return -1;
        }
        ch->has_control = true;
    }
    if ('\0' != uri->interface_name[0] && resolve_interface(uri->interface_name, ch) < 0)
    {
        return -1;
    }
    if (ch->is_multicast)
    {
        ch->multicast_control = ch->endpoint;
        if (AF_INET == ch->endpoint.ss_family)
        {
            struct sockaddr_in *a = (struct sockaddr_in *)&ch->multicast_control;
            a->sin_addr.s_addr = htonl(ntohl(a->sin_addr.s_addr) + 1);
        }
        else
        {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ch->multicast_control;
            a->sin6_addr.s6_addr[15]++;
        }
    }
    ch->ttl = uri->has_ttl ? uri->ttl : 0;

    char e[SHOAL_UDP_ADDR_TEXT_MAX] = "", c[SHOAL_UDP_ADDR_TEXT_MAX] = "", i[SHOAL_UDP_ADDR_TEXT_MAX] = "";
    if (ch->has_endpoint)
    {
        shoal_udp_addr_format(&ch->endpoint, e, sizeof(e));
    }
    if (ch->has_control)
    {
        shoal_udp_addr_format(&ch->control, c, sizeof(c));
    }
    if (ch->has_interface)
    {
        shoal_udp_addr_format(&ch->interface_address, i, sizeof(i));
    }
    snprintf(ch->canonical, sizeof(ch->canonical), "UDP-%s-%s-%s-%d", e, i, c, (int)uri->control_mode);
    return 0;
}
