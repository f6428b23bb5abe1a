/*
 * Many-producer single-consumer ring buffer; layout and invariants in
 * shoal_ring_buffer_descriptor.h.
 *
 * Protocol:
 *   producer: CAS the tail forward over the space it needs (plus padding to
 *     the end when the record would wrap), publish padding if any, store the
 *     header with a NEGATIVE length, copy the payload, then store-release the
 *     positive length. The negative length marks "claimed, in progress" so
 *     the consumer stops there and unblock can tell a live-but-slow writer's
 *     size from an unclaimed hole.
 *   consumer: load-acquire each record length from head; stop at <= 0;
 *     after the handlers, zero what was consumed and store-release head.
 *     Zeroing keeps the invariant that free space reads as length 0.
 *
 * Happens-before: consumer zeroing -> release head -> producer acquire head
 * (possibly via the head cache, itself release/acquire) -> producer writes.
 * Producer writes -> release length -> consumer acquire length -> reads.
 */
#include <inttypes.h>
#include <string.h>

#include "concurrent/shoal_mpsc_rb.h"
#include "concurrent/shoal_ring_message.h"
#include "util/shoal_error.h"

/* C99 has no _Static_assert: a negative array size fails the build instead. */
typedef char shoal_rb_trailer_length_check[(sizeof(shoal_rb_descriptor_t) == SHOAL_RB_TRAILER_LENGTH) ? 1 : -1];
typedef char
    shoal_rb_record_header_check[(sizeof(shoal_rb_record_descriptor_t) == SHOAL_RB_RECORD_HEADER_LENGTH) ? 1 : -1];

/*
 * Keeps a record's payload from becoming visible before its negative header,
 * so unblock's forward scan meets a header before any payload of the same
 * record. TSan cannot model standalone fences (gcc rejects them with
 * -fsanitize=thread); its builds run on x86, where stores are not reordered.
 */
#if defined(__SANITIZE_THREAD__)
#define SHOAL_RB_STORE_STORE_FENCE() ((void)0)
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHOAL_RB_STORE_STORE_FENCE() ((void)0)
#endif
#endif
#ifndef SHOAL_RB_STORE_STORE_FENCE
#define SHOAL_RB_STORE_STORE_FENCE() shoal_fence_release()
#endif

static inline shoal_rb_record_descriptor_t *shoal_rb_record_at(const shoal_mpsc_rb_t *rb, size_t index)
{
    return (shoal_rb_record_descriptor_t *)(rb->buffer + index);
}

int shoal_mpsc_rb_init(shoal_mpsc_rb_t *rb, void *buffer, size_t length)
{
    if (NULL == rb || NULL == buffer)
    {
        return shoal_set_err(SHOAL_EINVAL, "mpsc ring buffer: %s is NULL", NULL == rb ? "rb" : "buffer");
    }
    if (((uintptr_t)buffer & (SHOAL_RB_RECORD_ALIGNMENT - 1)) != 0)
    {
        return shoal_set_err(SHOAL_EINVAL, "mpsc ring buffer: buffer %p is not 8-byte aligned", buffer);
    }
    if (length < SHOAL_RB_TRAILER_LENGTH)
    {
        return shoal_set_err(SHOAL_EINVAL, "mpsc ring buffer: length %zu is less than the trailer length %d", length,
            SHOAL_RB_TRAILER_LENGTH);
    }

    const size_t capacity = length - SHOAL_RB_TRAILER_LENGTH;
    if (!SHOAL_IS_POWER_OF_TWO(capacity))
    {
        return shoal_set_err(SHOAL_EINVAL,
            "mpsc ring buffer: capacity %zu (length %zu - trailer %d) is not a power of 2", capacity, length,
            SHOAL_RB_TRAILER_LENGTH);
    }
    if (capacity < SHOAL_RB_MIN_CAPACITY || capacity > SHOAL_RB_MAX_CAPACITY)
    {
        return shoal_set_err(SHOAL_EINVAL, "mpsc ring buffer: capacity %zu is outside [%d, %u]", capacity,
            SHOAL_RB_MIN_CAPACITY, SHOAL_RB_MAX_CAPACITY);
    }

    rb->buffer = (uint8_t *)buffer;
    rb->descriptor = (shoal_rb_descriptor_t *)(rb->buffer + capacity);
    rb->capacity = capacity;
    rb->max_message_length = SHOAL_RB_MAX_MESSAGE_LENGTH(capacity);
    rb->corrupt_skips = 0;
    return 0;
}

#define SHOAL_RB_CLAIM_FULL    (-1)
#define SHOAL_RB_CLAIM_CORRUPT (-2)

/*
 * Reads the real head for a claim at tail (read before it). Returns 1 if
 * [head, tail] spans at most the capacity; 0 if the consumer has moved past
 * a tail that other producers advanced meanwhile (stale: claim again); -1 if
 * the positions are not ones any producer or consumer writes.
 */
static int shoal_mpsc_rb_read_head(const shoal_rb_descriptor_t *d, int64_t tail, uint64_t capacity, uint64_t *head)
{
    *head = (uint64_t)shoal_load_acquire(&d->head_position);
    const uint64_t used = (uint64_t)tail - *head;
    if (used <= capacity)
    {
        return 1;
    }
    if ((int64_t)used < 0 && shoal_load_acquire(&d->tail_position) != tail)
    {
        return 0;
    }
    return -1;
}

/*
 * Returns the index of the claimed record, SHOAL_RB_CLAIM_FULL if there is no
 * room, or SHOAL_RB_CLAIM_CORRUPT if the positions in shared memory are not
 * ones any producer or consumer writes (a misaligned tail would place the
 * record at a misaligned address; a head past a tail nobody moves, or more
 * than the capacity behind it, would overflow the arithmetic). Positions are
 * compared in unsigned arithmetic so hostile values cannot overflow. Reads
 * the head cache first: the real head sits on the consumer's hot line, and
 * most claims fit within the (stale but conservative) cached value.
 */
static int64_t shoal_mpsc_rb_claim(shoal_mpsc_rb_t *rb, size_t required)
{
    shoal_rb_descriptor_t *d = rb->descriptor;
    const uint64_t capacity = (uint64_t)rb->capacity;
    const uint64_t mask = capacity - 1;
    const uint64_t needed = (uint64_t)required;
    uint64_t head = (uint64_t)shoal_load_acquire(&d->head_cache_position);
    int64_t tail;
    uint64_t padding;

    for (;;)
    {
        tail = shoal_load_acquire(&d->tail_position);
        if (0 != ((uint64_t)tail & (SHOAL_RB_RECORD_ALIGNMENT - 1)))
        {
            return SHOAL_RB_CLAIM_CORRUPT;
        }
        uint64_t used = (uint64_t)tail - head;
        if (used > capacity || needed > capacity - used)
        {
            /* The cache may lag the head by any amount: only the real head says. */
            const int state = shoal_mpsc_rb_read_head(d, tail, capacity, &head);
            if (state <= 0)
            {
                if (0 == state)
                {
                    continue;
                }
                return SHOAL_RB_CLAIM_CORRUPT;
            }
            used = (uint64_t)tail - head;
            if (needed > capacity - used)
            {
                return SHOAL_RB_CLAIM_FULL;
            }
            shoal_store_release(&d->head_cache_position, (int64_t)head);
        }

        padding = 0;
        const uint64_t tail_index = (uint64_t)tail & mask;
        const uint64_t to_buffer_end = capacity - tail_index;
        if (needed > to_buffer_end)
        {
            /* Wrapping: the record goes at index 0, so [0, required) must be
             * free too, i.e. head must have moved past `required` in this lap. */
            uint64_t head_index = head & mask;
            if (needed > head_index)
            {
                const int state = shoal_mpsc_rb_read_head(d, tail, capacity, &head);
                if (state <= 0)
                {
                    if (0 == state)
                    {
                        continue;
                    }
                    return SHOAL_RB_CLAIM_CORRUPT;
                }
                head_index = head & mask;
                used = (uint64_t)tail - head;
                if (needed > head_index || needed + to_buffer_end > capacity - used)
                {
                    return SHOAL_RB_CLAIM_FULL;
                }
                shoal_store_release(&d->head_cache_position, (int64_t)head);
            }
            padding = to_buffer_end;
        }
        if (shoal_cas(&d->tail_position, &tail, (int64_t)((uint64_t)tail + needed + padding)))
        {
            break;
        }
    }

    const uint64_t tail_index = (uint64_t)tail & mask;
    if (0 != padding)
    {
        shoal_rb_record_descriptor_t *pad = shoal_rb_record_at(rb, (size_t)tail_index);
        pad->msg_type_id = SHOAL_RB_PADDING_MSG_TYPE_ID;
        shoal_store_release(&pad->length, (int32_t)padding);
        return 0;
    }
    return (int64_t)tail_index;
}

int shoal_mpsc_rb_write(shoal_mpsc_rb_t *rb, int32_t msg_type_id, const void *msg, size_t length)
{
    if (shoal_ring_message_check("mpsc ring buffer", msg_type_id, msg, length, rb->max_message_length) < 0)
    {
        return -1;
    }

    const size_t record_length = length + SHOAL_RB_RECORD_HEADER_LENGTH;
    const size_t required = SHOAL_ALIGN(record_length, (size_t)SHOAL_RB_RECORD_ALIGNMENT);
    const int64_t index = shoal_mpsc_rb_claim(rb, required);
    if (SHOAL_RB_CLAIM_CORRUPT == index)
    {
        return shoal_set_err(SHOAL_EDRIVER,
            "to-driver ring corrupt: tail %" PRId64 " / head %" PRId64 " are not positions a producer writes",
            shoal_load_acquire(&rb->descriptor->tail_position), shoal_load_acquire(&rb->descriptor->head_position));
    }
    if (index < 0)
    {
        return shoal_set_err(SHOAL_EDRIVER, "to-driver ring full: no room for a %zu byte record (capacity %zu)",
            required, rb->capacity);
    }

    shoal_rb_record_descriptor_t *record = shoal_rb_record_at(rb, (size_t)index);
    shoal_store_release(&record->length, -(int32_t)record_length);
    SHOAL_RB_STORE_STORE_FENCE();
    record->msg_type_id = msg_type_id;
    if (length > 0)
    {
        memcpy(rb->buffer + SHOAL_RB_MESSAGE_OFFSET((size_t)index), msg, length);
    }
    shoal_store_release(&record->length, (int32_t)record_length);
    return 0;
}

/* Reads records from head up to the end of the data region at most; returns bytes consumed. */
static size_t shoal_mpsc_rb_read_block(shoal_mpsc_rb_t *rb, shoal_rb_handler_t handler, void *clientd, size_t limit,
    size_t *messages_read)
{
    shoal_rb_descriptor_t *d = rb->descriptor;
    const int64_t head = shoal_load_relaxed(&d->head_position); /* only this thread writes head */
    if (0 != ((uint64_t)head & (SHOAL_RB_RECORD_ALIGNMENT - 1)))
    {
        /* Only this thread writes head, always aligned: something else wrote
         * the shared descriptor. Realign so records are read at aligned
         * addresses; the length checks below vet whatever is found there. */
        shoal_store_release(&d->head_position,
            (int64_t)(((uint64_t)head + SHOAL_RB_RECORD_ALIGNMENT - 1) & ~(uint64_t)(SHOAL_RB_RECORD_ALIGNMENT - 1)));
        rb->corrupt_skips++;
        return 0;
    }
    const size_t head_index = (size_t)head & (rb->capacity - 1);
    const size_t block_length = rb->capacity - head_index;
    size_t bytes_read = 0;

    while (bytes_read < block_length && *messages_read < limit)
    {
        const size_t record_index = head_index + bytes_read;
        shoal_rb_record_descriptor_t *record = shoal_rb_record_at(rb, record_index);
        const int32_t record_length = shoal_load_acquire(&record->length);
        if (record_length <= 0)
        {
            break;
        }
        if ((size_t)record_length < SHOAL_RB_RECORD_HEADER_LENGTH ||
            SHOAL_ALIGN((size_t)record_length, (size_t)SHOAL_RB_RECORD_ALIGNMENT) > block_length - bytes_read)
        {
            /* Not a header any producer writes: nothing up to the tail can be
             * trusted. Skip to it (never past this block or the tail, so head
             * stays <= tail), zeroing as usual, and let the caller count it. */
            const int64_t tail = shoal_load_acquire(&d->tail_position);
            const int64_t claimed = (int64_t)((uint64_t)tail - ((uint64_t)head + bytes_read));
            size_t skip = 0;
            if (claimed > 0)
            {
                skip = (uint64_t)claimed < block_length - bytes_read ? (size_t)claimed : block_length - bytes_read;
                skip &= ~((size_t)SHOAL_RB_RECORD_ALIGNMENT - 1);
            }
            if (skip > 0)
            {
                bytes_read += skip;
                rb->corrupt_skips++;
            }
            break;
        }

        bytes_read += SHOAL_ALIGN((size_t)record_length, (size_t)SHOAL_RB_RECORD_ALIGNMENT);
        const int32_t msg_type_id = record->msg_type_id;
        if (SHOAL_RB_PADDING_MSG_TYPE_ID == msg_type_id)
        {
            continue;
        }

        ++*messages_read;
        handler(msg_type_id, rb->buffer + SHOAL_RB_MESSAGE_OFFSET(record_index),
            (size_t)record_length - SHOAL_RB_RECORD_HEADER_LENGTH, clientd);
    }

    if (bytes_read > 0)
    {
        memset(rb->buffer + head_index, 0, bytes_read);
        shoal_store_release(&d->head_position, (int64_t)((uint64_t)head + bytes_read));
    }
    return bytes_read;
}

size_t shoal_mpsc_rb_read(shoal_mpsc_rb_t *rb, shoal_rb_handler_t handler, void *clientd, size_t message_count_limit)
{
    size_t messages_read = 0;
    const size_t head_index = (size_t)shoal_load_relaxed(&rb->descriptor->head_position) & (rb->capacity - 1);

    /* A block stops at the end of the data region; if it got there, records
     * continue at index 0 and a caller asking for more expects them now. */
    const size_t bytes = shoal_mpsc_rb_read_block(rb, handler, clientd, message_count_limit, &messages_read);
    if (bytes > 0 && head_index + bytes == rb->capacity && messages_read < message_count_limit)
    {
        shoal_mpsc_rb_read_block(rb, handler, clientd, message_count_limit, &messages_read);
    }
    return messages_read;
}

int64_t shoal_mpsc_rb_next_correlation_id(shoal_mpsc_rb_t *rb)
{
    /* Unsigned: the counter lives in shared memory and may hold anything. */
    return (int64_t)((uint64_t)shoal_get_and_add(&rb->descriptor->correlation_counter, 1) + 1u);
}

void shoal_mpsc_rb_consumer_heartbeat_time(shoal_mpsc_rb_t *rb, int64_t now_ms)
{
    shoal_store_release(&rb->descriptor->consumer_heartbeat, now_ms);
}

int64_t shoal_mpsc_rb_consumer_heartbeat_time_value(const shoal_mpsc_rb_t *rb)
{
    return shoal_load_acquire(&rb->descriptor->consumer_heartbeat);
}

int64_t shoal_mpsc_rb_producer_position(const shoal_mpsc_rb_t *rb)
{
    return shoal_load_acquire(&rb->descriptor->tail_position);
}

int64_t shoal_mpsc_rb_consumer_position(const shoal_mpsc_rb_t *rb)
{
    return shoal_load_acquire(&rb->descriptor->head_position);
}

/* True if every record header slot in [from, to) still reads zero. */
static bool shoal_mpsc_rb_still_zeroed(const shoal_mpsc_rb_t *rb, size_t from, size_t to)
{
    for (size_t i = from; i < to; i += SHOAL_RB_RECORD_ALIGNMENT)
    {
        if (0 != shoal_load_acquire(&shoal_rb_record_at(rb, i)->length))
        {
            return false;
        }
    }
    return true;
}

static void shoal_mpsc_rb_pad(shoal_mpsc_rb_t *rb, size_t index, size_t length)
{
    shoal_rb_record_descriptor_t *record = shoal_rb_record_at(rb, index);
    record->msg_type_id = SHOAL_RB_PADDING_MSG_TYPE_ID;
    shoal_store_release(&record->length, (int32_t)length);
}

bool shoal_mpsc_rb_unblock(shoal_mpsc_rb_t *rb)
{
    shoal_rb_descriptor_t *d = rb->descriptor;
    const size_t capacity = rb->capacity;
    const int64_t head = shoal_load_acquire(&d->head_position);
    const int64_t tail = shoal_load_acquire(&d->tail_position);
    if (tail == head || 0 != ((uint64_t)head & (SHOAL_RB_RECORD_ALIGNMENT - 1)))
    {
        return false; /* empty, or a corrupt head the next read realigns */
    }

    const size_t consumer_index = (size_t)head & (capacity - 1);
    const size_t producer_index = (size_t)tail & (capacity - 1);
    shoal_rb_record_descriptor_t *record = shoal_rb_record_at(rb, consumer_index);
    const int32_t length = shoal_load_acquire(&record->length);

    if (length < 0)
    {
        /* Header written, commit never came: its length says how much to skip
         * (a corrupt one no further than the tail or the end of the data region). */
        size_t skip = (size_t) - (int64_t)length;
        if (skip > capacity - consumer_index)
        {
            skip = capacity - consumer_index;
        }
        const uint64_t claimed = (uint64_t)tail - (uint64_t)head;
        if (claimed <= capacity && claimed < skip)
        {
            skip = (size_t)claimed;
        }
        shoal_mpsc_rb_pad(rb, consumer_index, skip);
        return true;
    }
    if (length > 0)
    {
        return false; /* committed meanwhile: nothing is stuck */
    }

    /* Claimed but not even the header written: the dead claim ends where the
     * next claimed record's header starts. Scan for it, then re-check that
     * the gap is still all zero so a writer that just started is not lost. */
    const size_t limit = producer_index > consumer_index ? producer_index : capacity;
    for (size_t i = consumer_index + SHOAL_RB_RECORD_ALIGNMENT; i < limit; i += SHOAL_RB_RECORD_ALIGNMENT)
    {
        if (0 != shoal_load_acquire(&shoal_rb_record_at(rb, i)->length))
        {
            if (shoal_mpsc_rb_still_zeroed(rb, consumer_index, i))
            {
                shoal_mpsc_rb_pad(rb, consumer_index, i - consumer_index);
                return true;
            }
            return false;
        }
    }

    /* Nothing up to the end, yet the tail is past the end: everything from
     * here to the end belongs to claims (the dead one's own wrap padding
     * included), and all of it is still unwritten. */
    const uint64_t claimed = (uint64_t)tail - (uint64_t)head;
    if (limit == capacity && claimed <= capacity && claimed > capacity - consumer_index &&
        shoal_mpsc_rb_still_zeroed(rb, consumer_index, capacity))
    {
        shoal_mpsc_rb_pad(rb, consumer_index, capacity - consumer_index);
        return true;
    }
    return false;
}
