#include "transport/udp/shoal_udp_agents.h"

#include <stdlib.h>
#include <string.h>

#include "util/shoal_error.h"

#define SHOAL_UDP_IDLE_INTERVAL_NS (1000 * 1000LL)
#define SHOAL_UDP_CONTROL_SLOT 2048
/* Batches read from one receive endpoint per cycle before moving on. */
#define SHOAL_UDP_RECEIVE_BATCHES_PER_CYCLE 4

static int list_add(void **items, int32_t *count, int32_t *capacity, void *item)
{
    if (*count == *capacity)
    {
        int32_t cap = *capacity ? *capacity * 2 : 8;
        void **grown = realloc(*items, (size_t)cap * sizeof(void *));
        if (NULL == grown)
        {
            return shoal_set_err(SHOAL_ENOMEM, "driver: out of memory");
        }
        *items = grown;
        *capacity = cap;
    }
    ((void **)*items)[(*count)++] = item;
    return 0;
}

static void list_remove(void **items, int32_t *count, const void *item)
{
    for (int32_t i = 0; i < *count; i++)
    {
        if (items[i] == item)
        {
            items[i] = items[--(*count)];
            return;
        }
    }
}

#define LIST_ADD(o, name, item) list_add((void **)&(o)->name, &(o)->name##_count, &(o)->name##_capacity, (item))
#define LIST_REMOVE(o, name, item) list_remove((void **)(o)->name, &(o)->name##_count, (item))

/* ------------------------------------------------------------------ sender */

int shoal_udp_sender_init(shoal_udp_sender_t *s)
{
    memset(s, 0, sizeof(*s));
    return shoal_udp_recv_batch_init(&s->control_batch, SHOAL_UDP_CONTROL_SLOT);
}

void shoal_udp_sender_close(shoal_udp_sender_t *s)
{
    shoal_udp_recv_batch_close(&s->control_batch);
    free(s->publications);
    free(s->endpoints);
    memset(s, 0, sizeof(*s));
}

int shoal_udp_sender_add_publication(shoal_udp_sender_t *s, shoal_network_publication_t *pub)
{
    return LIST_ADD(s, publications, pub);
}

void shoal_udp_sender_remove_publication(shoal_udp_sender_t *s, shoal_network_publication_t *pub)
{
    LIST_REMOVE(s, publications, pub);
}

int shoal_udp_sender_add_endpoint(shoal_udp_sender_t *s, shoal_send_channel_endpoint_t *ep)
{
    return LIST_ADD(s, endpoints, ep);
}

void shoal_udp_sender_remove_endpoint(shoal_udp_sender_t *s, shoal_send_channel_endpoint_t *ep)
{
    LIST_REMOVE(s, endpoints, ep);
}

int shoal_udp_sender_do_work(shoal_udp_sender_t *s, int64_t now_ns)
{
    int work = 0;
    for (int32_t i = 0; i < s->endpoints_count; i++)
    {
        work += shoal_send_channel_endpoint_poll(s->endpoints[i], &s->control_batch, now_ns);
    }
    int32_t count = s->publications_count;
    if (count > 0)
    {
        uint32_t start = s->round_robin++ % (uint32_t)count;
        for (int32_t n = 0; n < count; n++)
        {
            int32_t i = (int32_t)((start + (uint32_t)n) % (uint32_t)count);
            work += shoal_network_publication_send(s->publications[i], now_ns);
        }
    }
    if (now_ns - s->time_of_last_idle_ns >= SHOAL_UDP_IDLE_INTERVAL_NS)
    {
        s->time_of_last_idle_ns = now_ns;
        for (int32_t i = 0; i < s->endpoints_count; i++)
        {
            work += shoal_send_channel_endpoint_on_idle(s->endpoints[i], now_ns);
        }
    }
    return work;
}

/* ---------------------------------------------------------------- receiver */

int shoal_udp_receiver_init(shoal_udp_receiver_t *r)
{
    memset(r, 0, sizeof(*r));
    return shoal_udp_recv_batch_init(&r->data_batch, SHOAL_UDP_MAX_DATAGRAM);
}

void shoal_udp_receiver_close(shoal_udp_receiver_t *r)
{
    shoal_udp_recv_batch_close(&r->data_batch);
    free(r->endpoints);
    free(r->images);
    memset(r, 0, sizeof(*r));
}

int shoal_udp_receiver_add_endpoint(shoal_udp_receiver_t *r, shoal_receive_channel_endpoint_t *ep)
{
    return LIST_ADD(r, endpoints, ep);
}

void shoal_udp_receiver_remove_endpoint(shoal_udp_receiver_t *r, shoal_receive_channel_endpoint_t *ep)
{
    LIST_REMOVE(r, endpoints, ep);
}

int shoal_udp_receiver_add_image(shoal_udp_receiver_t *r, shoal_publication_image_t *image)
{
    return LIST_ADD(r, images, image);
}

void shoal_udp_receiver_remove_image(shoal_udp_receiver_t *r, shoal_publication_image_t *image)
{
    LIST_REMOVE(r, images, image);
}

int shoal_udp_receiver_do_work(shoal_udp_receiver_t *r, int64_t now_ns)
{
    int work = 0;
    for (int32_t i = 0; i < r->endpoints_count; i++)
    {
        for (int b = 0; b < SHOAL_UDP_RECEIVE_BATCHES_PER_CYCLE; b++)
        {
            int n = shoal_receive_channel_endpoint_poll(r->endpoints[i], &r->data_batch, now_ns);
            work += n;
            if (n < SHOAL_UDP_BATCH)
            {
                break;
            }
        }
    }
    for (int32_t i = 0; i < r->images_count; i++)
    {
        work += shoal_publication_image_do_work(r->images[i], now_ns);
    }
    if (now_ns - r->time_of_last_idle_ns >= SHOAL_UDP_IDLE_INTERVAL_NS)
    {
        r->time_of_last_idle_ns = now_ns;
        for (int32_t i = 0; i < r->endpoints_count; i++)
        {
            work += shoal_receive_channel_endpoint_on_idle(r->endpoints[i], now_ns);
        }
    }
    return work;
}
