/* An image: one publication's log as seen by one subscription. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/shoal_client.h"
#include "concurrent/shoal_atomic.h"
#include "util/shoal_error.h"
#include "util/shoal_alloc.h"

int shoal_image_create(shoal_image_t **imagep, const char *log_file, int64_t correlation_id,
    int64_t subscription_registration_id, int32_t session_id, int32_t stream_id, int64_t *subscriber_position,
    const char *source_identity)
{
    shoal_image_t *image = shoal_alloc_cache_aligned(sizeof(shoal_image_t), "image");
    if (NULL == image)
    {
        return -1;
    }
    if (shoal_mapping_open(log_file, &image->mapping) < 0)
    {
        free(image);
        return -1;
    }
    /* Copies next to the poller's other hot fields (the mapping is cold). */
    const shoal_log_buffer_t *log = shoal_mapping_log(image->mapping);
    memcpy(image->terms, log->terms, sizeof(image->terms));
    image->term_length = log->term_length;
    image->position_bits_to_shift = log->position_bits_to_shift;
    image->meta = log->meta;
    image->initial_term_id = log->initial_term_id;
    image->laps_uncleaned = 0 != shoal_load_acquire(&log->meta->laps_uncleaned);
    image->subscriber_position = subscriber_position;
    /* The driver set our join position before announcing the image. */
    image->position = shoal_load_acquire(subscriber_position);
    image->join_position = image->position;
    snprintf(image->source_identity, sizeof(image->source_identity), "%s", source_identity);
    image->correlation_id = correlation_id;
    image->subscription_registration_id = subscription_registration_id;
    image->session_id = session_id;
    image->stream_id = stream_id;
    *imagep = image;
    return 0;
}

void shoal_image_delete(shoal_image_t *image)
{
    if (NULL != image)
    {
        shoal_assembly_buffer_close(&image->assembly);
        shoal_mapping_release(image->mapping);
        free(image);
    }
}

/* ---- public accessors: cold, read-only, callable from any thread ---- */

int32_t shoal_image_session_id(const shoal_image_t *image)
{
    return NULL == image ? shoal_set_err(SHOAL_EINVAL, "shoal_image_session_id: image must not be NULL")
                         : image->session_id;
}

int32_t shoal_image_stream_id(const shoal_image_t *image)
{
    return NULL == image ? shoal_set_err(SHOAL_EINVAL, "shoal_image_stream_id: image must not be NULL")
                         : image->stream_id;
}

int64_t shoal_image_correlation_id(const shoal_image_t *image)
{
    return NULL == image ? shoal_set_err(SHOAL_EINVAL, "shoal_image_correlation_id: image must not be NULL")
                         : image->correlation_id;
}

const char *shoal_image_source_identity(const shoal_image_t *image)
{
    if (NULL == image)
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_image_source_identity: image must not be NULL");
        return NULL;
    }
    return image->source_identity;
}

int64_t shoal_image_join_position(const shoal_image_t *image)
{
    return NULL == image ? shoal_set_err(SHOAL_EINVAL, "shoal_image_join_position: image must not be NULL")
                         : image->join_position;
}

int64_t shoal_image_position(const shoal_image_t *image)
{
    if (NULL == image)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_image_position: image must not be NULL");
    }
    /* image->position belongs to the polling thread; the counter it
     * publishes with release is the value other threads may read. */
    return shoal_load_acquire(image->subscriber_position);
}

bool shoal_image_is_closed(const shoal_image_t *image)
{
    if (NULL == image)
    {
        shoal_set_err(SHOAL_EINVAL, "shoal_image_is_closed: image must not be NULL");
        return true;
    }
    return 0 != shoal_load_acquire(&image->closed);
}
