/*
 * Broadcast receiver; layout and invariants in shoal_broadcast_descriptor.h.
 *
 * A record at position p is trustworthy only while p + capacity > tail
 * intent. Every read of the record (header, then the payload copied into
 * scratch) is followed by that check; the transmitter raises the intent
 * before overwriting and its stores are release, so if any word we read came
 * from an overwrite, the check sees the raised intent and the record is
 * dropped. Dropping counts a lap and jumps to the latest record: everything
 * in between is gone anyway, and the latest is the most useful to resume at.
 */
#include <stdlib.h>

#include "concurrent/shoal_broadcast_receiver.h"
#include "concurrent/shoal_shared_copy.h"
#include "util/shoal_error.h"

int shoal_broadcast_receiver_init(shoal_broadcast_receiver_t *rx, void *buffer, size_t length)
{
    size_t capacity = 0; /* gcc cannot see that the check fails only by returning -1 */
    if (NULL == rx)
    {
        return shoal_set_err(SHOAL_EINVAL, "broadcast receiver: rx is NULL");
    }
    rx->scratch = NULL;
    if (shoal_broadcast_buffer_check("receiver", buffer, length, &capacity) < 0)
    {
        return -1;
    }

    /* max message length is capacity / 8 with capacity >= 64: already a whole
     * number of words, as shoal_shared_copy_from needs. */
    const size_t scratch_length = SHOAL_BROADCAST_MAX_MESSAGE_LENGTH(capacity);
    uint8_t *scratch = (uint8_t *)malloc(scratch_length);
    if (NULL == scratch)
    {
        return shoal_set_err(SHOAL_ENOMEM, "broadcast receiver: cannot allocate %zu byte scratch buffer",
            scratch_length);
    }

    rx->buffer = (uint8_t *)buffer;
    rx->descriptor = (shoal_broadcast_descriptor_t *)(rx->buffer + capacity);
    rx->capacity = capacity;
    rx->mask = capacity - 1;
    rx->cursor = shoal_load_acquire(&rx->descriptor->tail_counter);
    rx->next_record = rx->cursor;
    rx->record_offset = (int64_t)((size_t)rx->cursor & rx->mask);
    rx->lapped_count = 0;
    rx->corrupt_count = 0;
    rx->scratch = scratch;
    rx->scratch_length = scratch_length;
    return 0;
}

void shoal_broadcast_receiver_close(shoal_broadcast_receiver_t *rx)
{
    if (NULL != rx)
    {
        free(rx->scratch);
        rx->scratch = NULL;
        rx->scratch_length = 0;
    }
}

static inline bool shoal_broadcast_receiver_is_intact(const shoal_broadcast_receiver_t *rx, int64_t position)
{
    return position + (int64_t)rx->capacity > shoal_load_acquire(&rx->descriptor->tail_intent_counter);
}

int shoal_broadcast_receiver_receive(shoal_broadcast_receiver_t *rx, shoal_broadcast_handler_t handler, void *clientd)
{
    shoal_broadcast_descriptor_t *d = rx->descriptor;
    int received = 0;
    /* Only what was there on entry: a busy transmitter must not keep us here. */
    int64_t limit = shoal_load_acquire(&d->tail_counter);

    while (rx->next_record < limit)
    {
        const int64_t cursor = rx->next_record;
        const size_t offset = (size_t)cursor & rx->mask;
        const shoal_broadcast_record_descriptor_t *record =
            (const shoal_broadcast_record_descriptor_t *)(rx->buffer + offset);
        const int32_t record_length = shoal_load_acquire(&record->length);
        const int32_t msg_type_id = shoal_load_acquire(&record->msg_type_id);
        bool intact = shoal_broadcast_receiver_is_intact(rx, cursor);

        if (intact)
        {
            if (record_length < SHOAL_BROADCAST_RECORD_HEADER_LENGTH ||
                SHOAL_ALIGN((size_t)record_length, (size_t)SHOAL_BROADCAST_RECORD_ALIGNMENT) > rx->capacity - offset ||
                (msg_type_id < 1 && SHOAL_BROADCAST_PADDING_MSG_TYPE_ID != msg_type_id) ||
                (SHOAL_BROADCAST_PADDING_MSG_TYPE_ID != msg_type_id &&
                    (size_t)record_length - SHOAL_BROADCAST_RECORD_HEADER_LENGTH > rx->scratch_length))
            {
                /* Skip everything there now: staying would read the same
                 * record forever, and nothing after it can be located. */
                rx->corrupt_count++;
                rx->next_record = limit;
                return shoal_set_err(SHOAL_EIO,
                    "broadcast receiver: corrupt record at position %lld (offset %zu): length %d, type id %d; "
                    "skipped to position %lld",
                    (long long)cursor, offset, record_length, msg_type_id, (long long)limit);
            }

            const int64_t next_record =
                cursor + (int64_t)SHOAL_ALIGN((size_t)record_length, (size_t)SHOAL_BROADCAST_RECORD_ALIGNMENT);
            if (SHOAL_BROADCAST_PADDING_MSG_TYPE_ID == msg_type_id)
            {
                rx->next_record = next_record;
                continue;
            }

            const size_t length = (size_t)record_length - SHOAL_BROADCAST_RECORD_HEADER_LENGTH;
            shoal_shared_copy_from(rx->scratch, rx->buffer + SHOAL_BROADCAST_MESSAGE_OFFSET(offset), length);
            intact = shoal_broadcast_receiver_is_intact(rx, cursor);
            if (intact)
            {
                rx->cursor = cursor;
                rx->record_offset = (int64_t)offset;
                rx->next_record = next_record;
                handler(msg_type_id, rx->scratch, length, clientd);
                received++;
                continue;
            }
        }

        /* Overtaken: what we read may be torn; resume at the newest record. */
        rx->lapped_count++;
        rx->next_record = shoal_load_acquire(&d->latest_counter);
        limit = shoal_load_acquire(&d->tail_counter);
        if (!shoal_broadcast_receiver_is_intact(rx, rx->next_record))
        {
            /* Only counters out of step (a transmitter that died mid-write
             * and is being replaced, or corruption) get here; spinning would
             * not help, the next call tries again. */
            break;
        }
    }
    return received;
}
