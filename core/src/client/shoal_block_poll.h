/*
 * Block poll: the raw frames of an image's log for the archive recorder
 * (shoal_block_poll.c). The subscription's polling thread only, as a poll.
 */
#ifndef SHOAL_BLOCK_POLL_H
#define SHOAL_BLOCK_POLL_H

#include <stddef.h>
#include <stdint.h>

#include "client/shoal_client.h"

/* frames[0..length): whole frames (32-byte headers, 32-byte aligned, padding
 * frames too) of one term, starting at stream position `position`. Valid
 * until the handler returns. */
typedef void (*shoal_block_handler_t)(void *clientd, shoal_image_t *image, const uint8_t *frames, size_t length,
    int64_t position);

/* One block of at most limit bytes (a first frame longer than limit still
 * goes whole) from image's position: the bytes handed out (0: nothing
 * committed there yet). */
int64_t shoal_image_block_poll(shoal_image_t *image, shoal_block_handler_t h, void *clientd, size_t limit);

/* One block from each image of s: the bytes handed out (>= 0), or -1 with
 * SHOAL_ECLOSED (client closed) or SHOAL_EINVAL. */
int shoal_subscription_block_poll(shoal_subscription_t *s, shoal_block_handler_t h, void *clientd, size_t limit);

/* The poller's current image list of s (NULL: none yet), announced as a poll
 * does: the recorder walks it to find new and departed images. */
static inline const shoal_image_list_t *shoal_subscription_poller_images(shoal_subscription_t *s)
{
    return shoal_subscription_load_images(s, true);
}

#endif
