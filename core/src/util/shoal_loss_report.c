#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "util/shoal_error.h"
#include "util/shoal_loss_report.h"

#define ALIGN_UP(v, a) (((v) + ((a)-1)) & ~((size_t)(a)-1))

static size_t text_length(const char *text)
{
    size_t n = NULL == text ? 0 : strlen(text);
    return n > SHOAL_LOSS_REPORT_MAX_TEXT ? SHOAL_LOSS_REPORT_MAX_TEXT : n;
}

static size_t source_length_offset(size_t channel_length)
{
    return SHOAL_LOSS_REPORT_CHANNEL_OFFSET + sizeof(int32_t) + ALIGN_UP(channel_length, sizeof(int32_t));
}

static size_t entry_length(size_t channel_length, size_t source_length)
{
    return ALIGN_UP(source_length_offset(channel_length) + sizeof(int32_t) + source_length,
        SHOAL_LOSS_REPORT_ENTRY_ALIGNMENT);
}

static int64_t *field64(uint8_t *entry, size_t offset)
{
    return (int64_t *)(entry + offset);
}

static int32_t *field32(uint8_t *entry, size_t offset)
{
    return (int32_t *)(entry + offset);
}

int shoal_loss_report_init(shoal_loss_report_t *report, uint8_t *buffer, size_t capacity)
{
    if (NULL == report || (NULL == buffer && capacity > 0))
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_loss_report_init: NULL argument");
    }
    report->buffer = buffer;
    report->capacity = capacity;
    report->next_offset = 0;
    pthread_mutex_init(&report->lock, NULL);
    return 0;
}

void shoal_loss_report_close(shoal_loss_report_t *report)
{
    if (NULL != report)
    {
        pthread_mutex_destroy(&report->lock);
        report->buffer = NULL;
        report->capacity = 0;
    }
}

int64_t shoal_loss_report_create_entry(shoal_loss_report_t *report, int64_t bytes_lost, int64_t now_ms,
    int32_t session_id, int32_t stream_id, const char *channel, const char *source)
{
    size_t channel_length = text_length(channel), source_length = text_length(source);
    size_t length = entry_length(channel_length, source_length);
    int64_t offset = -1;
    pthread_mutex_lock(&report->lock);
    if (length <= report->capacity - report->next_offset)
    {
        uint8_t *entry = report->buffer + report->next_offset;
        shoal_store_relaxed(field64(entry, SHOAL_LOSS_REPORT_TOTAL_BYTES_LOST_OFFSET), bytes_lost);
        shoal_store_relaxed(field64(entry, SHOAL_LOSS_REPORT_FIRST_OBSERVATION_OFFSET), now_ms);
        shoal_store_relaxed(field64(entry, SHOAL_LOSS_REPORT_LAST_OBSERVATION_OFFSET), now_ms);
        shoal_store_relaxed(field32(entry, SHOAL_LOSS_REPORT_SESSION_ID_OFFSET), session_id);
        shoal_store_relaxed(field32(entry, SHOAL_LOSS_REPORT_STREAM_ID_OFFSET), stream_id);
        shoal_store_relaxed(field32(entry, SHOAL_LOSS_REPORT_CHANNEL_OFFSET), (int32_t)channel_length);
        memcpy(entry + SHOAL_LOSS_REPORT_CHANNEL_OFFSET + sizeof(int32_t), channel, channel_length);
        shoal_store_relaxed(field32(entry, source_length_offset(channel_length)), (int32_t)source_length);
        memcpy(entry + source_length_offset(channel_length) + sizeof(int32_t), source, source_length);
        shoal_store_release(field64(entry, SHOAL_LOSS_REPORT_OBSERVATION_COUNT_OFFSET), (int64_t)1);
        offset = (int64_t)report->next_offset;
        report->next_offset += length;
    }
    pthread_mutex_unlock(&report->lock);
    if (offset < 0)
    {
        shoal_set_err(SHOAL_ENOMEM, "loss report full (%zu of %zu bytes used)", report->next_offset, report->capacity);
    }
    return offset;
}

void shoal_loss_report_record_observation(shoal_loss_report_t *report, int64_t offset, int64_t bytes_lost,
    int64_t now_ms)
{
    uint8_t *entry = report->buffer + offset;
    shoal_get_and_add(field64(entry, SHOAL_LOSS_REPORT_TOTAL_BYTES_LOST_OFFSET), bytes_lost);
    shoal_store_release(field64(entry, SHOAL_LOSS_REPORT_LAST_OBSERVATION_OFFSET), now_ms);
    shoal_get_and_add(field64(entry, SHOAL_LOSS_REPORT_OBSERVATION_COUNT_OFFSET), (int64_t)1);
}

size_t shoal_loss_report_read(const uint8_t *buffer, size_t capacity, shoal_loss_report_reader_fn fn, void *clientd)
{
    size_t offset = 0, count = 0;
    if (NULL == buffer)
    {
        return 0;
    }
    while (offset + SHOAL_LOSS_REPORT_CHANNEL_OFFSET + 2 * sizeof(int32_t) <= capacity)
    {
        uint8_t *entry = (uint8_t *)(uintptr_t)(buffer + offset);
        int64_t observations = shoal_load_acquire(field64(entry, SHOAL_LOSS_REPORT_OBSERVATION_COUNT_OFFSET));
        if (observations <= 0)
        {
            break;
        }
        int32_t channel_length = shoal_load_relaxed(field32(entry, SHOAL_LOSS_REPORT_CHANNEL_OFFSET));
        if (channel_length < 0 || channel_length > SHOAL_LOSS_REPORT_MAX_TEXT ||
            offset + source_length_offset((size_t)channel_length) + sizeof(int32_t) > capacity)
        {
            break;
        }
        int32_t source_length = shoal_load_relaxed(field32(entry, source_length_offset((size_t)channel_length)));
        size_t length = source_length < 0 || source_length > SHOAL_LOSS_REPORT_MAX_TEXT
            ? 0
            : entry_length((size_t)channel_length, (size_t)source_length);
        if (0 == length || length > capacity - offset)
        {
            break;
        }
        if (NULL != fn)
        {
            fn(observations, shoal_load_relaxed(field64(entry, SHOAL_LOSS_REPORT_TOTAL_BYTES_LOST_OFFSET)),
                shoal_load_relaxed(field64(entry, SHOAL_LOSS_REPORT_FIRST_OBSERVATION_OFFSET)),
                shoal_load_acquire(field64(entry, SHOAL_LOSS_REPORT_LAST_OBSERVATION_OFFSET)),
                shoal_load_relaxed(field32(entry, SHOAL_LOSS_REPORT_SESSION_ID_OFFSET)),
                shoal_load_relaxed(field32(entry, SHOAL_LOSS_REPORT_STREAM_ID_OFFSET)),
                (const char *)entry + SHOAL_LOSS_REPORT_CHANNEL_OFFSET + sizeof(int32_t), (size_t)channel_length,
                (const char *)entry + source_length_offset((size_t)channel_length) + sizeof(int32_t),
                (size_t)source_length, clientd);
        }
        count++;
        offset += length;
    }
    return count;
}
