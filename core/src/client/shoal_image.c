/* An image: one publication's log as seen by one subscription. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "client/shoal_client.h"
#include "concurrent/shoal_atomic.h"
#include "util/shoal_error.h"

int shoal_image_create(shoal_image_t **imagep, const char *log_file, int64_t correlation_id,
    int64_t subscription_registration_id, int32_t session_id, int32_t stream_id, int64_t *subscriber_position)
{
    shoal_image_t *image = aligned_alloc(64, SHOAL_ALIGN(sizeof(shoal_image_t), 64));
    if (NULL == image)
    {
        return shoal_set_err(SHOAL_ENOMEM, "image: out of memory");
    }
    memset(image, 0, sizeof(*image));
    shoal_logbuffer_metadata_t *meta = NULL;
    if (shoal_log_map(log_file, &image->mapped, &image->mapped_length, &meta, &image->term_length) < 0)
    {
        free(image);
        return -1;
    }
    for (size_t i = 0; i < SHOAL_LOGBUFFER_PARTITION_COUNT; i++)
    {
        image->terms[i] = shoal_logbuffer_term(image->mapped, image->term_length, i);
    }
    image->position_bits_to_shift = shoal_logbuffer_position_bits_to_shift(image->term_length);
    image->subscriber_position = subscriber_position;
    /* The driver set our join position before announcing the image. */
    image->position = shoal_load_acquire(subscriber_position);
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
        munmap(image->mapped, image->mapped_length);
        free(image);
    }
}
