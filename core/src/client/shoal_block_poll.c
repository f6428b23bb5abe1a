/*
 * Block poll (Aeron's blockPoll): hands out the frames of an image as they
 * sit in the log, headers and padding included, so a recorder can copy them
 * to disk as they are and keep the stream's positions. A block is a run of
 * committed frames from the image's position, never crossing the end of its
 * term; the position advances past it once the handler returns.
 */
#include "client/shoal_block_poll.h"

#include "concurrent/shoal_atomic.h"
#include "logbuffer/shoal_term_reader.h"
#include "util/shoal_error.h"

/* How far ahead of the frame being checked the scan asks for the log: each
 * check is a load that depends on the previous frame's length, so without it
 * every frame header written on another core is a miss the scan waits for. */
#define BLOCK_POLL_PREFETCH_AHEAD 4096

int64_t shoal_image_block_poll(shoal_image_t *image, shoal_block_handler_t h, void *clientd, size_t limit)
{
    const int64_t position = image->position;
    const int32_t term_length = image->term_length;
    const int32_t term_offset = (int32_t)(position & (term_length - 1));
    const uint8_t *term = image->terms[shoal_logbuffer_index_by_position(position, image->position_bits_to_shift)];
    const int32_t limit_offset =
        limit < (size_t)(term_length - term_offset) ? term_offset + (int32_t)limit : term_length;

    const shoal_frame_expect_t expect = shoal_image_frame_expect(image, position);

    int32_t offset = term_offset;
    while (offset < limit_offset)
    {
        __builtin_prefetch(term + offset + BLOCK_POLL_PREFETCH_AHEAD);
        const int32_t frame_length = shoal_term_frame_length_checked(term, offset, &expect);
        if (frame_length <= 0 || frame_length > term_length - offset)
        {
            break; /* not committed yet (a corrupt length: never past the term) */
        }
        const int32_t aligned = SHOAL_ALIGN(frame_length, SHOAL_FRAME_ALIGNMENT);
        if (aligned > limit_offset - offset && offset > term_offset)
        {
            break; /* the next block starts with it (a first frame goes whatever its length) */
        }
        offset += aligned;
    }
    const int32_t length = offset - term_offset;
    if (length > 0)
    {
        h(clientd, image, term + term_offset, (size_t)length, position);
        image->position = position + length;
        shoal_store_release(image->subscriber_position, image->position);
    }
    return length;
}

int shoal_subscription_block_poll(shoal_subscription_t *s, shoal_block_handler_t h, void *clientd, size_t limit)
{
    if (NULL == s || NULL == h || 0 == limit)
    {
        return shoal_set_err(SHOAL_EINVAL, "block poll: sub and handler must not be NULL, limit not 0");
    }
    if (shoal_load_relaxed(s->client_closed))
    {
        return shoal_set_err(SHOAL_ECLOSED, "subscription's client is closed: %s", s->client->close_reason);
    }
    shoal_image_list_t *list = shoal_subscription_load_images(s, true);
    int64_t bytes = 0;
    for (int32_t i = 0; NULL != list && i < list->count; i++)
    {
        bytes += shoal_image_block_poll(list->images[i], h, clientd, limit);
    }
    return bytes > INT32_MAX ? INT32_MAX : (int)bytes;
}
