/*
 * Subscriptions. Polling walks the current image list (starting at a
 * rotating index so no image starves), reads whole messages from each
 * image's current term and publishes the new position with a release store
 * the driver reads for flow control. poll_batch hands out views instead of
 * calling back: they point into the log (or an image's reassembly buffer)
 * and stay valid until the next poll: the driver cleans a term only once
 * every subscriber is a whole term past it, which needs another poll, and
 * the client frees an image only once a later poll announced a list without
 * it (shoal_client.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/shoal_client.h"
#include "concurrent/shoal_atomic.h"
#include "protocol/shoal_control_protocol.h"
#include "util/shoal_error.h"
#include "util/shoal_uri.h"
#include "util/shoal_alloc.h"
#include "util/shoal_array.h"

void shoal_subscription_free(shoal_subscription_t *s)
{
    if (NULL != s->images)
    {
        for (int32_t i = 0; i < s->images->count; i++)
        {
            shoal_image_delete(s->images->images[i]);
        }
        free(s->images);
    }
    free(s);
}

void shoal_subscription_release_images(shoal_subscription_t *s)
{
    if (NULL == s->images)
    {
        return;
    }
    for (int32_t i = 0; i < s->images->count; i++)
    {
        shoal_image_t *image = s->images->images[i];
        shoal_store_release(&image->closed, 1);
        if (NULL != s->on_unavailable)
        {
            const shoal_client_t *outer = shoal_client_set_in_handler(s->client);
            s->on_unavailable(s->handlers_clientd, s, image);
            shoal_client_set_in_handler(outer);
        }
    }
}

/* Under the lock: the conductor cannot be in an image event of s now, and
 * once unregistered it never will be again. Nobody polls s any more (close
 * must not race with a poll). */
void shoal_subscription_detach(shoal_client_t *c, shoal_subscription_t *s)
{
    pthread_mutex_lock(&c->lock);
    shoal_pointer_list_remove((void **)c->subscriptions, &c->subscriptions_count, s);
    shoal_subscription_release_images(s);
    shoal_client_free_lingering(c, false, s);
    pthread_mutex_unlock(&c->lock);
}

int shoal_add_subscription(shoal_client_t *c, const char *uri, int32_t stream_id, shoal_subscription_t **sub)
{
    return shoal_add_subscription_with_handlers(c, uri, stream_id, NULL, NULL, NULL, sub);
}

int shoal_add_subscription_with_handlers(shoal_client_t *c, const char *uri, int32_t stream_id,
    shoal_image_handler_t on_available, shoal_image_handler_t on_unavailable, void *clientd, shoal_subscription_t **sub)
{
    if (NULL == c || NULL == uri || NULL == sub)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_add_subscription: client, uri and sub must not be NULL");
    }
    shoal_uri_t parsed;
    if (shoal_uri_parse(uri, &parsed) < 0 || shoal_client_check_open(c) < 0 ||
        shoal_client_check_not_in_handler(c, "shoal_add_subscription") < 0)
    {
        return -1;
    }
    /* Its poller reads it on every poll: on lines of its own, so that a
     * neighbour written by another thread (the other stream of a ping-pong)
     * cannot cost a poll a cache miss. */
    shoal_subscription_t *s = shoal_alloc_cache_aligned(sizeof(*s), "shoal_add_subscription");
    if (NULL == s)
    {
        return -1;
    }
    uint8_t buffer[sizeof(shoal_channel_command_t) + SHOAL_MAX_CHANNEL_LENGTH];
    int64_t correlation_id;
    size_t length = shoal_client_encode_channel_command(c, uri, stream_id, buffer, &correlation_id);
    s->stream_id = stream_id;
    s->registration_id = correlation_id;
    s->client = c;
    s->client_closed = &c->closed;
    s->poller_generation = SHOAL_POLLER_IDLE;
    s->on_available = on_available;
    s->on_unavailable = on_unavailable;
    s->handlers_clientd = clientd;

    pthread_mutex_lock(&c->api_lock);
    /* Registered before the command: the driver announces images right after
     * its answer, and the conductor must find the subscription for them. */
    pthread_mutex_lock(&c->lock);
    int rc = shoal_pointer_list_add((void **)&c->subscriptions, &c->subscriptions_count, &c->subscriptions_capacity, s);
    pthread_mutex_unlock(&c->lock);
    if (0 == rc)
    {
        rc = shoal_client_request(c, SHOAL_CMD_ADD_SUBSCRIPTION, buffer, length, correlation_id);
        if (rc < 0)
        {
            /* Only a late answer (after our timeout) could have brought
             * images; still pair any on_available that fired. */
            shoal_subscription_detach(c, s);
        }
    }
    pthread_mutex_unlock(&c->api_lock);
    if (rc < 0)
    {
        shoal_subscription_free(s);
        return -1;
    }
    *sub = s;
    return 0;
}

int shoal_subscription_close(shoal_subscription_t *s)
{
    return shoal_client_close_handle(NULL != s ? s->client : NULL, s, false);
}

/* ---- hot path ---- */

typedef struct poll_context_stct
{
    shoal_fragment_handler_t handler;
    shoal_controlled_handler_t controlled;
    void *clientd;
    shoal_image_t *image;
    shoal_fragment_t *out;
    size_t out_count;
} poll_context_t;

static inline shoal_controlled_action_t on_message(void *clientd, const uint8_t *buf, size_t len,
    const shoal_header_t *hdr)
{
    poll_context_t *ctx = clientd;
    ctx->handler(ctx->clientd, buf, len, hdr);
    return SHOAL_ACTION_CONTINUE;
}

static inline shoal_controlled_action_t on_controlled_message(void *clientd, const uint8_t *buf, size_t len,
    const shoal_header_t *hdr)
{
    poll_context_t *ctx = clientd;
    shoal_controlled_action_t action = ctx->controlled(ctx->clientd, buf, len, hdr);
    if (SHOAL_ACTION_COMMIT == action)
    {
        ctx->image->position = hdr->position;
        shoal_store_release(ctx->image->subscriber_position, hdr->position);
    }
    return action;
}

static inline shoal_controlled_action_t on_batch_message(void *clientd, const uint8_t *buf, size_t len,
    const shoal_header_t *hdr)
{
    poll_context_t *ctx = clientd;
    shoal_fragment_t *f = &ctx->out[ctx->out_count++];
    f->data = buf;
    f->length = len;
    /* Field by field, not *hdr: the reader has just stored these fields one
     * by one, and a wide copy of them would wait on store forwarding. */
    f->header.session_id = hdr->session_id;
    f->header.stream_id = hdr->stream_id;
    f->header.term_id = hdr->term_id;
    f->header.term_offset = hdr->term_offset;
    f->header.frame_length = hdr->frame_length;
    f->header.flags = hdr->flags;
    f->header.reserved_pad[0] = 0;
    f->header.reserved_pad[1] = 0;
    f->header.reserved_pad[2] = 0;
    f->header.reserved_value = hdr->reserved_value;
    f->header.position = hdr->position;
    /* A reassembled message lives in the image's one assembly buffer, which
     * the next fragmented message would overwrite: end this image's batch. */
    if (buf == ctx->image->assembly.data)
    {
        return SHOAL_ACTION_BREAK;
    }
    return SHOAL_ACTION_CONTINUE;
}

/* Always inlined into each poll with its handler, which the compiler then
 * inlines into the reader's loop. */
static SHOAL_ALWAYS_INLINE int poll_images(shoal_subscription_t *s, shoal_term_message_handler_t handler,
    poll_context_t *ctx, size_t limit)
{
    if (SHOAL_UNLIKELY(shoal_load_relaxed(s->client_closed)))
    {
        return shoal_set_err(SHOAL_ECLOSED, "subscription's client is closed: %s", s->client->close_reason);
    }
    shoal_image_list_t *list = shoal_subscription_load_images(s, true);
    if (NULL == list)
    {
        return 0;
    }
    int32_t count = list->count;
    if (0 == count)
    {
        return 0;
    }
    /* Compare and reset, not a modulo: a division on every poll is on the
     * path from the call to the first frame load. One image: nothing to
     * rotate, and no store to the subscription on the poll's path. */
    uint32_t start = 0;
    if (count > 1)
    {
        start = s->round_robin++;
        if (start >= (uint32_t)count)
        {
            start = 0;
            s->round_robin = 1;
        }
    }
    size_t delivered = 0;
    for (int32_t n = 0; n < count && delivered < limit; n++)
    {
        int32_t i = (int32_t)start + n;
        shoal_image_t *image = list->images[i >= count ? i - count : i];
        ctx->image = image;
        int64_t position = image->position;
        int32_t term_offset = (int32_t)(position & (image->term_length - 1));
        size_t index = shoal_logbuffer_index_by_position(position, image->position_bits_to_shift);
        int64_t term_base = position - term_offset;
        const shoal_frame_expect_t expect = shoal_image_frame_expect(image, position);
        shoal_term_read_result_t r = shoal_term_read_inline(image->terms[index], term_offset, image->term_length,
            term_base, &expect, limit - delivered, handler, ctx, &image->assembly);
        delivered += (size_t)r.messages;
        int64_t new_position = term_base + r.offset;
        if (new_position > image->position)
        {
            image->position = new_position;
            shoal_store_release(image->subscriber_position, new_position);
        }
    }
    return (int)delivered;
}

#define SHOAL_MAX_POLL_LIMIT (1 << 30)

int shoal_subscription_poll(shoal_subscription_t *s, shoal_fragment_handler_t h, void *clientd, size_t limit)
{
    if (SHOAL_UNLIKELY(NULL == s || NULL == h))
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_subscription_poll: sub and handler must not be NULL");
    }
    poll_context_t ctx = { .handler = h, .clientd = clientd };
    return poll_images(s, on_message, &ctx, limit > SHOAL_MAX_POLL_LIMIT ? SHOAL_MAX_POLL_LIMIT : limit);
}

int shoal_subscription_controlled_poll(shoal_subscription_t *s, shoal_controlled_handler_t h, void *clientd,
    size_t limit)
{
    if (SHOAL_UNLIKELY(NULL == s || NULL == h))
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_subscription_controlled_poll: sub and handler must not be NULL");
    }
    poll_context_t ctx = { .controlled = h, .clientd = clientd };
    return poll_images(s, on_controlled_message, &ctx, limit > SHOAL_MAX_POLL_LIMIT ? SHOAL_MAX_POLL_LIMIT : limit);
}

int shoal_subscription_poll_batch(shoal_subscription_t *s, shoal_fragment_t *out, size_t max)
{
    if (SHOAL_UNLIKELY(NULL == s || (NULL == out && max > 0)))
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_subscription_poll_batch: sub and out must not be NULL");
    }
    poll_context_t ctx = { .out = out };
    return poll_images(s, on_batch_message, &ctx, max > SHOAL_MAX_POLL_LIMIT ? SHOAL_MAX_POLL_LIMIT : max);
}

bool shoal_subscription_is_connected(const shoal_subscription_t *s)
{
    if (NULL == s)
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_subscription_is_connected: sub must not be NULL");
        return false;
    }
    return shoal_load_acquire(&s->image_count) > 0;
}

int shoal_subscription_image_count(const shoal_subscription_t *s)
{
    if (NULL == s)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_subscription_image_count: sub must not be NULL");
    }
    return shoal_load_acquire(&s->image_count);
}

int32_t shoal_subscription_stream_id(const shoal_subscription_t *s)
{
    return NULL == s ? shoal_set_err(SHOAL_EINVAL, "shoal_subscription_stream_id: sub must not be NULL") : s->stream_id;
}

int64_t shoal_subscription_registration_id(const shoal_subscription_t *s)
{
    return NULL == s ? shoal_set_err(SHOAL_EINVAL, "shoal_subscription_registration_id: sub must not be NULL")
                     : s->registration_id;
}

int shoal_subscription_retain_mapping(shoal_subscription_t *s, const uint8_t *data, size_t length,
    shoal_mapping_t **mapping)
{
    if (NULL == s || NULL == data || NULL == mapping)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_subscription_retain_mapping: sub, data and mapping must not be NULL");
    }
    *mapping = NULL;
    /* The list of the last poll: it and its images stay until the next one. */
    const shoal_image_list_t *list = s->polled_list;
    for (int32_t i = 0; NULL != list && i < list->count; i++)
    {
        shoal_mapping_t *m = list->images[i]->mapping;
        if (shoal_mapping_contains(m, data, length))
        {
            shoal_mapping_acquire(m);
            *mapping = m;
            return 0;
        }
    }
    return 0;
}
