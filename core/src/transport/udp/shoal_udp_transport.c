#include "transport/udp/shoal_udp_transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "concurrent/shoal_atomic.h"
#include "util/shoal_counters.h"
#include "util/shoal_error.h"

/* Each endpoint counter's label, and the system counter (all endpoints
 * together) it also adds to, -1 for none. */
static const struct
{
    const char *name;
    int32_t system_counter;
} COUNTERS[SHOAL_UDP_COUNTER_COUNT] = {
    [SHOAL_UDP_COUNTER_BYTES_SENT] = { "bytes sent", SHOAL_SYSTEM_COUNTER_BYTES_SENT },
    [SHOAL_UDP_COUNTER_BYTES_RECEIVED] = { "bytes received", SHOAL_SYSTEM_COUNTER_BYTES_RECEIVED },
    [SHOAL_UDP_COUNTER_FRAMES_SENT] = { "datagrams sent", -1 },
    [SHOAL_UDP_COUNTER_FRAMES_RECEIVED] = { "datagrams received", -1 },
    [SHOAL_UDP_COUNTER_NAKS_SENT] = { "NAKs sent", SHOAL_SYSTEM_COUNTER_NAKS_SENT },
    [SHOAL_UDP_COUNTER_NAKS_RECEIVED] = { "NAKs received", SHOAL_SYSTEM_COUNTER_NAKS_RECEIVED },
    [SHOAL_UDP_COUNTER_RETRANSMITS_SENT] = { "retransmits sent", SHOAL_SYSTEM_COUNTER_RETRANSMITS_SENT },
    [SHOAL_UDP_COUNTER_SMS_SENT] = { "status messages sent", SHOAL_SYSTEM_COUNTER_STATUS_MESSAGES_SENT },
    [SHOAL_UDP_COUNTER_SMS_RECEIVED] = { "status messages received", SHOAL_SYSTEM_COUNTER_STATUS_MESSAGES_RECEIVED },
    [SHOAL_UDP_COUNTER_SHORT_SENDS] = { "short sends", SHOAL_SYSTEM_COUNTER_SHORT_SENDS },
    [SHOAL_UDP_COUNTER_INVALID_FRAMES] = { "invalid frames", SHOAL_SYSTEM_COUNTER_INVALID_FRAMES },
    [SHOAL_UDP_COUNTER_HEARTBEATS_SENT] = { "heartbeats sent", SHOAL_SYSTEM_COUNTER_HEARTBEATS_SENT },
    [SHOAL_UDP_COUNTER_NAKS_UNSERVED] = { "NAKs for data no longer held", SHOAL_SYSTEM_COUNTER_NAKS_UNSERVED },
    [SHOAL_UDP_COUNTER_SETUPS_REFUSED_IMAGE_LIMIT] = { "SETUPs refused: image limit",
        SHOAL_SYSTEM_COUNTER_SETUPS_REFUSED_IMAGE_LIMIT },
    [SHOAL_UDP_COUNTER_SETUPS_REFUSED_TERM_LENGTH] = { "SETUPs refused: term length",
        SHOAL_SYSTEM_COUNTER_SETUPS_REFUSED_TERM_LENGTH },
    [SHOAL_UDP_COUNTER_FRAMES_FROM_WRONG_SOURCE] = { "frames from wrong source",
        SHOAL_SYSTEM_COUNTER_FRAMES_FROM_WRONG_SOURCE },
    [SHOAL_UDP_COUNTER_NAKS_FROM_UNKNOWN_RECEIVERS] = { "NAKs from unknown receivers",
        SHOAL_SYSTEM_COUNTER_NAKS_FROM_UNKNOWN_RECEIVERS },
    [SHOAL_UDP_COUNTER_NAKS_OVER_BUDGET] = { "NAKs over retransmit budget", SHOAL_SYSTEM_COUNTER_NAKS_OVER_BUDGET },
    [SHOAL_UDP_COUNTER_SM_WINDOWS_CLAMPED] = { "status message windows clamped",
        SHOAL_SYSTEM_COUNTER_SM_WINDOWS_CLAMPED },
};

const char *shoal_udp_counter_name(int which)
{
    return which >= 0 && which < SHOAL_UDP_COUNTER_COUNT ? COUNTERS[which].name : "unknown";
}

int32_t shoal_udp_counter_system_counter(int which)
{
    return which >= 0 && which < SHOAL_UDP_COUNTER_COUNT ? COUNTERS[which].system_counter : -1;
}

void shoal_udp_counters_add(shoal_udp_counters_t *c, int which, int64_t delta)
{
    if (NULL == c || 0 == delta)
    {
        return;
    }
    if (NULL != c->endpoint[which])
    {
        shoal_store_release(c->endpoint[which], shoal_load_relaxed(c->endpoint[which]) + delta);
    }
    if (NULL != c->system[which])
    {
        shoal_get_and_add(c->system[which], delta);
    }
}

static int set_nonblocking(int fd)
{
    int flags = fcntl(fd, F_GETFL, 0);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

static void set_buffers(int fd, uint32_t rcvbuf, uint32_t sndbuf)
{
    /* Best effort: the kernel caps at net.core.{r,w}mem_max. */
    if (rcvbuf > 0)
    {
        int v = (int)rcvbuf;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
    }
    if (sndbuf > 0)
    {
        int v = (int)sndbuf;
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
    }
}

static int open_socket(int family, const shoal_udp_transport_params_t *p)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
    {
        return shoal_set_err_errno(SHOAL_EIO, errno, "udp: socket()");
    }
    if (set_nonblocking(fd) < 0)
    {
        int e = errno;
        close(fd);
        return shoal_set_err_errno(SHOAL_EIO, e, "udp: O_NONBLOCK");
    }
    if (p->reuse_address)
    {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    }
    set_buffers(fd, p->rcvbuf, p->sndbuf);
    return fd;
}

static int bind_to(int fd, const struct sockaddr_storage *addr)
{
    if (bind(fd, (const struct sockaddr *)addr, shoal_udp_addr_length(addr)) < 0)
    {
        char text[SHOAL_UDP_ADDR_TEXT_MAX];
        shoal_udp_addr_format(addr, text, sizeof(text));
        return shoal_set_err_errno(SHOAL_EIO, errno, "udp: cannot bind %s", text);
    }
    return 0;
}

static void any_address(int family, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof(*out));
    out->ss_family = (sa_family_t)family;
}

static int multicast_send_options(int fd, const shoal_udp_channel_t *ch, int family)
{
    if (AF_INET == family)
    {
        if (ch->has_interface && AF_INET == ch->interface_address.ss_family)
        {
            struct in_addr ifaddr = ((const struct sockaddr_in *)&ch->interface_address)->sin_addr;
            if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &ifaddr, sizeof(ifaddr)) < 0)
            {
                return shoal_set_err_errno(SHOAL_EIO, errno, "udp: IP_MULTICAST_IF");
            }
        }
        if (ch->ttl > 0)
        {
            int ttl = ch->ttl;
            if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) < 0)
            {
                return shoal_set_err_errno(SHOAL_EIO, errno, "udp: IP_MULTICAST_TTL");
            }
        }
        int loop = 1;
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop));
    }
    else
    {
        if (ch->interface_index > 0)
        {
            unsigned int index = ch->interface_index;
            if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &index, sizeof(index)) < 0)
            {
                return shoal_set_err_errno(SHOAL_EIO, errno, "udp: IPV6_MULTICAST_IF");
            }
        }
        if (ch->ttl > 0)
        {
            int hops = ch->ttl;
            setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops));
        }
        int loop = 1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &loop, sizeof(loop));
    }
    return 0;
}

static int join_group(int fd, const struct sockaddr_storage *group, const shoal_udp_channel_t *ch)
{
    if (AF_INET == group->ss_family)
    {
        struct ip_mreq mreq;
        mreq.imr_multiaddr = ((const struct sockaddr_in *)group)->sin_addr;
        mreq.imr_interface.s_addr = htonl(INADDR_ANY);
        if (ch->has_interface && AF_INET == ch->interface_address.ss_family)
        {
            mreq.imr_interface = ((const struct sockaddr_in *)&ch->interface_address)->sin_addr;
        }
        if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) < 0)
        {
            return shoal_set_err_errno(SHOAL_EIO, errno, "udp: IP_ADD_MEMBERSHIP");
        }
        int loop = 1;
        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop));
        return 0;
    }
    struct ipv6_mreq mreq6;
    mreq6.ipv6mr_multiaddr = ((const struct sockaddr_in6 *)group)->sin6_addr;
    mreq6.ipv6mr_interface = ch->interface_index;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, &mreq6, sizeof(mreq6)) < 0)
    {
        return shoal_set_err_errno(SHOAL_EIO, errno, "udp: IPV6_JOIN_GROUP");
    }
    return 0;
}

static void local_address(int fd, struct sockaddr_storage *out)
{
    socklen_t len = sizeof(*out);
    memset(out, 0, sizeof(*out));
    getsockname(fd, (struct sockaddr *)out, &len);
}

int shoal_udp_transport_open(shoal_udp_transport_t *t, const shoal_udp_transport_params_t *p,
    shoal_udp_counters_t *counters)
{
    memset(t, 0, sizeof(*t));
    t->send_fd = -1;
    t->recv_fd = -1;
    t->counters = counters;
    shoal_loss_generator_init(&t->send_loss, p->send_loss_rate, p->loss_seed * 2 + 1);
    shoal_loss_generator_init(&t->recv_loss, p->recv_loss_rate, p->loss_seed * 2 + 2);
    const shoal_udp_channel_t *ch = p->channel;

    int family = AF_INET;
    if (NULL != p->bind_address)
    {
        family = p->bind_address->ss_family;
    }
    else if (ch->has_endpoint)
    {
        family = ch->endpoint.ss_family;
    }
    else if (ch->has_interface)
    {
        family = ch->interface_address.ss_family;
    }

    /* The socket that sends; for unicast also the one that receives. */
    int fd = open_socket(family, p);
    if (fd < 0)
    {
        return -1;
    }
    struct sockaddr_storage bind_address;
    if (NULL != p->join_group)
    {
        /* multicast: send_fd binds the interface (ephemeral port) */
        if (ch->has_interface && ch->interface_address.ss_family == family)
        {
            bind_address = ch->interface_address;
        }
        else
        {
            any_address(family, &bind_address);
        }
    }
    else if (NULL != p->bind_address)
    {
        bind_address = *p->bind_address;
    }
    else if (ch->has_interface && ch->interface_address.ss_family == family)
    {
        bind_address = ch->interface_address;
    }
    else
    {
        any_address(family, &bind_address);
    }
    if (bind_to(fd, &bind_address) < 0 ||
        ((ch->is_multicast || NULL != p->join_group) && multicast_send_options(fd, ch, family) < 0))
    {
        close(fd);
        return -1;
    }
    t->send_fd = fd;
    t->recv_fd = fd;
    local_address(fd, &t->local);

    if (NULL != p->join_group)
    {
        shoal_udp_transport_params_t rp = *p;
        rp.reuse_address = true;
        int rfd = open_socket(family, &rp);
        if (rfd < 0)
        {
            shoal_udp_transport_close(t);
            return -1;
        }
        /* Binding the group address (not any) filters out other groups on the port. */
        struct sockaddr_storage group_bind = NULL != p->bind_address ? *p->bind_address : *p->join_group;
        if (bind_to(rfd, &group_bind) < 0 || join_group(rfd, p->join_group, ch) < 0)
        {
            close(rfd);
            shoal_udp_transport_close(t);
            return -1;
        }
        t->recv_fd = rfd;
    }
    local_address(t->recv_fd, &t->recv_local);
    return 0;
}

void shoal_udp_transport_close(shoal_udp_transport_t *t)
{
    if (t->recv_fd >= 0 && t->recv_fd != t->send_fd)
    {
        close(t->recv_fd);
    }
    if (t->send_fd >= 0)
    {
        close(t->send_fd);
    }
    t->send_fd = -1;
    t->recv_fd = -1;
}

int shoal_udp_recv_batch_init(shoal_udp_recv_batch_t *b, size_t slot_length)
{
    memset(b, 0, sizeof(*b));
    slot_length = SHOAL_ALIGN(slot_length, 64);
    b->buffers = aligned_alloc(64, slot_length * SHOAL_UDP_BATCH);
    if (NULL == b->buffers)
    {
        return shoal_set_err(SHOAL_ENOMEM, "udp: out of memory for receive buffers");
    }
    b->slot_length = slot_length;
    for (int i = 0; i < SHOAL_UDP_BATCH; i++)
    {
        b->iov[i].iov_base = b->buffers + (size_t)i * slot_length;
        b->iov[i].iov_len = slot_length;
    }
    return 0;
}

void shoal_udp_recv_batch_close(shoal_udp_recv_batch_t *b)
{
    free(b->buffers);
    b->buffers = NULL;
}

int shoal_udp_transport_recv(shoal_udp_transport_t *t, shoal_udp_recv_batch_t *b)
{
    for (int i = 0; i < SHOAL_UDP_BATCH; i++)
    {
        struct msghdr *h = &b->msgs[i].msg_hdr;
        h->msg_name = &b->addrs[i];
        h->msg_namelen = sizeof(b->addrs[i]);
        h->msg_iov = &b->iov[i];
        h->msg_iovlen = 1;
        h->msg_control = NULL;
        h->msg_controllen = 0;
        h->msg_flags = 0;
        b->msgs[i].msg_len = 0;
    }
    int n = recvmmsg(t->recv_fd, b->msgs, SHOAL_UDP_BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0)
    {
        return 0;
    }
    int64_t bytes = 0;
    int invalid = 0;
    for (int i = 0; i < n; i++)
    {
        bytes += b->msgs[i].msg_len;
        if (b->msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
        {
            b->msgs[i].msg_len = 0;
            invalid++;
        }
        else if (shoal_loss_generator_should_drop(&t->recv_loss))
        {
            b->msgs[i].msg_len = 0;
        }
    }
    shoal_udp_counters_add(t->counters, SHOAL_UDP_COUNTER_BYTES_RECEIVED, bytes);
    shoal_udp_counters_add(t->counters, SHOAL_UDP_COUNTER_FRAMES_RECEIVED, n);
    shoal_udp_counters_add(t->counters, SHOAL_UDP_COUNTER_INVALID_FRAMES, invalid);
    return n;
}

static int64_t msg_bytes(const struct msghdr *h)
{
    int64_t bytes = 0;
    for (size_t k = 0; k < h->msg_iovlen; k++)
    {
        bytes += (int64_t)h->msg_iov[k].iov_len;
    }
    return bytes;
}

int shoal_udp_transport_sendmmsg(shoal_udp_transport_t *t, struct mmsghdr *msgs, int count)
{
    int sent = 0;
    int64_t bytes = 0;
    if (SHOAL_LIKELY(!shoal_loss_generator_active(&t->send_loss)))
    {
        while (sent < count)
        {
            int n = sendmmsg(t->send_fd, msgs + sent, (unsigned)(count - sent), MSG_DONTWAIT);
            if (n <= 0)
            {
                if (n < 0 && EAGAIN != errno && EWOULDBLOCK != errno && ENOBUFS != errno)
                {
                    /* Hard error on this datagram (e.g. unreachable): skip it, as lost. */
                    sent++;
                    continue;
                }
                break;
            }
            for (int i = sent; i < sent + n; i++)
            {
                bytes += msgs[i].msg_len;
            }
            sent += n;
        }
    }
    else
    {
        for (; sent < count; sent++)
        {
            if (shoal_loss_generator_should_drop(&t->send_loss))
            {
                bytes += msg_bytes(&msgs[sent].msg_hdr);
                continue;
            }
            ssize_t n = sendmsg(t->send_fd, &msgs[sent].msg_hdr, MSG_DONTWAIT);
            if (n < 0 && (EAGAIN == errno || EWOULDBLOCK == errno || ENOBUFS == errno))
            {
                break;
            }
            bytes += n > 0 ? n : 0;
        }
    }
    shoal_udp_counters_add(t->counters, SHOAL_UDP_COUNTER_BYTES_SENT, bytes);
    shoal_udp_counters_add(t->counters, SHOAL_UDP_COUNTER_FRAMES_SENT, sent);
    if (sent < count)
    {
        shoal_udp_counters_add(t->counters, SHOAL_UDP_COUNTER_SHORT_SENDS, 1);
    }
    return sent;
}

ssize_t shoal_udp_transport_sendto(shoal_udp_transport_t *t, const void *buf, size_t length,
    const struct sockaddr_storage *to)
{
    if (shoal_loss_generator_should_drop(&t->send_loss))
    {
        shoal_udp_counters_add(t->counters, SHOAL_UDP_COUNTER_BYTES_SENT, (int64_t)length);
        shoal_udp_counters_add(t->counters, SHOAL_UDP_COUNTER_FRAMES_SENT, 1);
        return (ssize_t)length;
    }
    ssize_t n = sendto(t->send_fd, buf, length, MSG_DONTWAIT, (const struct sockaddr *)to, shoal_udp_addr_length(to));
    if (n < 0)
    {
        shoal_udp_counters_add(t->counters, SHOAL_UDP_COUNTER_SHORT_SENDS, 1);
        return (EAGAIN == errno || EWOULDBLOCK == errno || ENOBUFS == errno) ? 0 : -1;
    }
    shoal_udp_counters_add(t->counters, SHOAL_UDP_COUNTER_BYTES_SENT, n);
    shoal_udp_counters_add(t->counters, SHOAL_UDP_COUNTER_FRAMES_SENT, 1);
    return n;
}
