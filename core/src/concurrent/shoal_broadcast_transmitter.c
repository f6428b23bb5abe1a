/*
 * Broadcast transmitter; layout and invariants in shoal_broadcast_descriptor.h.
 *
 * Order of stores, which is what lets receivers detect being overtaken:
 *   1. tail intent = end of what is about to be written (release);
 *   2. padding (if wrapping) and the record, word-atomic, each store release
 *      so none can become visible before the intent;
 *   3. latest = start of the record, then tail = its end (release), so a
 *      receiver that acquires tail sees the whole record.
 */
#include "concurrent/shoal_broadcast_transmitter.h"
#include "concurrent/shoal_ring_message.h"
#include "concurrent/shoal_shared_copy.h"
#include "util/shoal_error.h"

typedef char
    shoal_broadcast_trailer_length_check[(sizeof(shoal_broadcast_descriptor_t) == SHOAL_BROADCAST_TRAILER_LENGTH) ? 1
                                                                                                                  : -1];
typedef char shoal_broadcast_record_header_check
    [(sizeof(shoal_broadcast_record_descriptor_t) == SHOAL_BROADCAST_RECORD_HEADER_LENGTH) ? 1 : -1];

int shoal_broadcast_transmitter_init(shoal_broadcast_transmitter_t *tx, void *buffer, size_t length)
{
    size_t capacity = 0; /* gcc cannot see that the check fails only by returning -1 */
    if (NULL == tx)
    {
        return shoal_set_err(SHOAL_EINVAL, "broadcast transmitter: tx is NULL");
    }
    if (shoal_broadcast_buffer_check("transmitter", buffer, length, &capacity) < 0)
    {
        return -1;
    }

    tx->buffer = (uint8_t *)buffer;
    tx->descriptor = (shoal_broadcast_descriptor_t *)(tx->buffer + capacity);
    tx->capacity = capacity;
    tx->max_message_length = SHOAL_BROADCAST_MAX_MESSAGE_LENGTH(capacity);
    return 0;
}

static inline void shoal_broadcast_write_header(uint8_t *buffer, size_t offset, int32_t length, int32_t msg_type_id)
{
    shoal_broadcast_record_descriptor_t *record = (shoal_broadcast_record_descriptor_t *)(buffer + offset);
    shoal_store_release(&record->msg_type_id, msg_type_id);
    shoal_store_release(&record->length, length);
}

int shoal_broadcast_transmitter_transmit(shoal_broadcast_transmitter_t *tx, int32_t msg_type_id, const void *msg,
    size_t length)
{
    if (shoal_ring_message_check("broadcast transmitter", msg_type_id, msg, length, tx->max_message_length) < 0)
    {
        return -1;
    }

    shoal_broadcast_descriptor_t *d = tx->descriptor;
    const size_t record_length = length + SHOAL_BROADCAST_RECORD_HEADER_LENGTH;
    const size_t aligned_length = SHOAL_ALIGN(record_length, (size_t)SHOAL_BROADCAST_RECORD_ALIGNMENT);
    int64_t tail = shoal_load_relaxed(&d->tail_counter); /* only this thread writes it */
    size_t record_offset = (size_t)tail & (tx->capacity - 1);
    const size_t to_buffer_end = tx->capacity - record_offset;

    if (aligned_length > to_buffer_end)
    {
        shoal_store_release(&d->tail_intent_counter, tail + (int64_t)(to_buffer_end + aligned_length));
        shoal_broadcast_write_header(tx->buffer, record_offset, (int32_t)to_buffer_end,
            SHOAL_BROADCAST_PADDING_MSG_TYPE_ID);
        tail += (int64_t)to_buffer_end;
        record_offset = 0;
    }
    else
    {
        shoal_store_release(&d->tail_intent_counter, tail + (int64_t)aligned_length);
    }

    shoal_broadcast_write_header(tx->buffer, record_offset, (int32_t)record_length, msg_type_id);
    shoal_shared_copy_to(tx->buffer + SHOAL_BROADCAST_MESSAGE_OFFSET(record_offset), msg, length);

    shoal_store_release(&d->latest_counter, tail);
    shoal_store_release(&d->tail_counter, tail + (int64_t)aligned_length);
    return 0;
}
