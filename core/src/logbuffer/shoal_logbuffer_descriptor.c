/*
 * Log buffer metadata initialisation (the rest of the descriptor is inline
 * in the header).
 */
#include "logbuffer/shoal_logbuffer_descriptor.h"

int shoal_logbuffer_metadata_init(shoal_logbuffer_metadata_t *metadata, int32_t term_length, int32_t mtu,
    int32_t page_size, int32_t initial_term_id, int32_t session_id, int32_t stream_id, int64_t correlation_id)
{
    if (NULL == metadata)
    {
        return shoal_set_err(SHOAL_EINVAL, "log buffer metadata is NULL");
    }
    if (shoal_logbuffer_check_term_length(term_length) < 0 || shoal_logbuffer_check_mtu(mtu, term_length) < 0 ||
        shoal_logbuffer_check_page_size(page_size) < 0)
    {
        return -1;
    }

    metadata->correlation_id = correlation_id;
    metadata->initial_term_id = initial_term_id;
    metadata->mtu_length = mtu;
    metadata->term_length = term_length;
    metadata->page_size = page_size;
    metadata->end_of_stream_position = INT64_MAX;
    metadata->is_connected = 0;
    metadata->active_transport_count = 0;
    shoal_logbuffer_fill_default_header(metadata, session_id, stream_id, initial_term_id);

    shoal_logbuffer_initialise_tail_with_term_id(metadata, 0, initial_term_id);
    for (int i = 1; i < SHOAL_LOGBUFFER_PARTITION_COUNT; i++)
    {
        int32_t expected_term_id = (int32_t)((uint32_t)initial_term_id + (uint32_t)i - SHOAL_LOGBUFFER_PARTITION_COUNT);
        shoal_logbuffer_initialise_tail_with_term_id(metadata, (size_t)i, expected_term_id);
    }
    shoal_store_release(&metadata->active_term_count, 0);
    return 0;
}

void shoal_logbuffer_metadata_start_at(shoal_logbuffer_metadata_t *metadata, int32_t term_id, int32_t term_offset)
{
    const int32_t term_count = shoal_logbuffer_compute_term_count(term_id, metadata->initial_term_id);
    const size_t active_index = shoal_logbuffer_index_by_term_count(term_count);
    for (int i = 1; i < SHOAL_LOGBUFFER_PARTITION_COUNT; i++)
    {
        int32_t expected_term_id = (int32_t)((uint32_t)term_id + (uint32_t)i - SHOAL_LOGBUFFER_PARTITION_COUNT);
        shoal_logbuffer_initialise_tail_with_term_id(metadata,
            (active_index + (size_t)i) % SHOAL_LOGBUFFER_PARTITION_COUNT, expected_term_id);
    }
    shoal_store_release(&metadata->term_tail_counters[active_index], shoal_logbuffer_pack_tail(term_id, term_offset));
    shoal_store_release(&metadata->active_term_count, term_count);
}
