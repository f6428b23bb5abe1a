/*
 * Distinct error log. Layout and memory model in shoal_error_log.h.
 *
 * Finding a repeat scans the records under the lock: the log is small (one
 * record per distinct error) and errors are off the hot path. The scan steps
 * by the writer's private copy of the record lengths, never by the shared
 * ones: any local process can write those.
 */
#include "util/shoal_error_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "util/shoal_error.h"

static inline int32_t *log_length_addr(uint8_t *record)
{
    return (int32_t *)(record + SHOAL_ERROR_LOG_LENGTH_OFFSET);
}

static inline int32_t *log_count_addr(uint8_t *record)
{
    return (int32_t *)(record + SHOAL_ERROR_LOG_OBSERVATION_COUNT_OFFSET);
}

static inline int64_t *log_last_addr(uint8_t *record)
{
    return (int64_t *)(record + SHOAL_ERROR_LOG_LAST_OBSERVATION_OFFSET);
}

static inline int64_t *log_first_addr(uint8_t *record)
{
    return (int64_t *)(record + SHOAL_ERROR_LOG_FIRST_OBSERVATION_OFFSET);
}

static inline int32_t *log_code_addr(uint8_t *record)
{
    return (int32_t *)(record + SHOAL_ERROR_LOG_ERROR_CODE_OFFSET);
}

static int log_remember_length(shoal_error_log_t *log, int32_t length)
{
    if (log->record_count == log->record_capacity)
    {
        size_t capacity = 0 == log->record_capacity ? 16 : 2 * log->record_capacity;
        int32_t *grown = realloc(log->lengths, capacity * sizeof(*grown));
        if (NULL == grown)
        {
            return shoal_set_err(SHOAL_ENOMEM, "error log: out of memory for the index of %zu records",
                log->record_count + 1);
        }
        log->lengths = grown;
        log->record_capacity = capacity;
    }
    log->lengths[log->record_count++] = length;
    return 0;
}

/* A record length is sane if it has a header and stays inside the buffer. */
static bool log_length_valid(int32_t length, size_t offset, size_t capacity)
{
    return length >= SHOAL_ERROR_LOG_HEADER_LENGTH && (size_t)length <= capacity - offset;
}

int shoal_error_log_init(shoal_error_log_t *log, uint8_t *buffer, size_t capacity)
{
    if (log == NULL || buffer == NULL)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_error_log_init: NULL argument");
    }
    if (((uintptr_t)buffer % SHOAL_ERROR_LOG_RECORD_ALIGNMENT) != 0)
    {
        return shoal_set_err(SHOAL_EINVAL, "error log buffer must be 8-byte aligned");
    }
    if (capacity < SHOAL_ERROR_LOG_HEADER_LENGTH)
    {
        return shoal_set_err(SHOAL_EINVAL, "error log buffer of %zu bytes too small", capacity);
    }
    memset(log, 0, sizeof(*log));
    int rc = pthread_mutex_init(&log->lock, NULL);
    if (rc != 0)
    {
        return shoal_set_err_errno(SHOAL_ENOMEM, rc, "error log mutex");
    }
    log->buffer = buffer;
    log->capacity = capacity;

    size_t offset = 0;
    while (offset + SHOAL_ERROR_LOG_HEADER_LENGTH <= capacity)
    {
        int32_t length = shoal_load_acquire(log_length_addr(buffer + offset));
        if (!log_length_valid(length, offset, capacity))
        {
            break;
        }
        if (log_remember_length(log, length) < 0)
        {
            free(log->lengths);
            pthread_mutex_destroy(&log->lock);
            log->buffer = NULL;
            return -1;
        }
        offset += SHOAL_ALIGN((size_t)length, (size_t)SHOAL_ERROR_LOG_RECORD_ALIGNMENT);
    }
    log->next_offset = offset;
    return 0;
}

void shoal_error_log_close(shoal_error_log_t *log)
{
    if (log != NULL && log->buffer != NULL)
    {
        pthread_mutex_destroy(&log->lock);
        free(log->lengths);
        log->lengths = NULL;
        log->record_count = log->record_capacity = 0;
        log->buffer = NULL;
    }
}

static uint8_t *log_find(shoal_error_log_t *log, int32_t error_code, const char *text, size_t text_length)
{
    size_t offset = 0;
    uint8_t *found = NULL;
    for (size_t i = 0; i < log->record_count; i++)
    {
        uint8_t *record = log->buffer + offset;
        const int32_t length = log->lengths[i];
        if (shoal_load_relaxed(log_length_addr(record)) != length)
        {
            /* Readers walk by the shared lengths: put it back for them. */
            shoal_store_release(log_length_addr(record), length);
            log->repaired_count++;
        }
        if (NULL == found && (size_t)length == SHOAL_ERROR_LOG_HEADER_LENGTH + text_length &&
            shoal_load_relaxed(log_code_addr(record)) == error_code &&
            memcmp(record + SHOAL_ERROR_LOG_TEXT_OFFSET, text, text_length) == 0)
        {
            found = record;
        }
        offset += SHOAL_ALIGN((size_t)length, (size_t)SHOAL_ERROR_LOG_RECORD_ALIGNMENT);
    }
    return found;
}

int shoal_error_log_record(shoal_error_log_t *log, int64_t now_ms, int32_t error_code, const char *text)
{
    if (log == NULL || log->buffer == NULL)
    {
        return shoal_set_err(SHOAL_EINVAL, "shoal_error_log_record: NULL or closed log");
    }
    if (text == NULL)
    {
        text = "";
    }
    size_t text_length = strlen(text);
    int result = 0;

    pthread_mutex_lock(&log->lock);
    uint8_t *record = log_find(log, error_code, text, text_length);
    if (record != NULL)
    {
        shoal_get_and_add(log_count_addr(record), 1);
        shoal_store_release(log_last_addr(record), now_ms);
    }
    else
    {
        size_t length = SHOAL_ERROR_LOG_HEADER_LENGTH + text_length;
        size_t aligned = SHOAL_ALIGN(length, (size_t)SHOAL_ERROR_LOG_RECORD_ALIGNMENT);
        if (length > INT32_MAX || aligned > log->capacity - log->next_offset)
        {
            result = shoal_set_err(SHOAL_ENOMEM, "error log full (%zu of %zu bytes used), dropped: %.200s",
                log->next_offset, log->capacity, text);
        }
        else if (log_remember_length(log, (int32_t)length) < 0)
        {
            result = -1;
        }
        else
        {
            record = log->buffer + log->next_offset;
            shoal_store_relaxed(log_count_addr(record), 1);
            shoal_store_relaxed(log_last_addr(record), now_ms);
            shoal_store_relaxed(log_first_addr(record), now_ms);
            shoal_store_relaxed(log_code_addr(record), error_code);
            memcpy(record + SHOAL_ERROR_LOG_TEXT_OFFSET, text, text_length);
            shoal_store_release(log_length_addr(record), (int32_t)length);
            log->next_offset += aligned;
        }
    }
    pthread_mutex_unlock(&log->lock);
    return result;
}

size_t shoal_error_log_read(const uint8_t *buffer, size_t capacity, shoal_error_log_reader_fn fn, void *clientd,
    int64_t since_ms)
{
    if (buffer == NULL)
    {
        return 0;
    }
    size_t offset = 0;
    size_t count = 0;
    while (offset + SHOAL_ERROR_LOG_HEADER_LENGTH <= capacity)
    {
        uint8_t *record = (uint8_t *)(uintptr_t)(buffer + offset);
        int32_t length = shoal_load_acquire(log_length_addr(record));
        if (!log_length_valid(length, offset, capacity))
        {
            break;
        }
        int64_t last_ms = shoal_load_acquire(log_last_addr(record));
        if (last_ms >= since_ms)
        {
            count++;
            if (fn != NULL)
            {
                fn(shoal_load_acquire(log_count_addr(record)), shoal_load_relaxed(log_first_addr(record)), last_ms,
                    shoal_load_relaxed(log_code_addr(record)), (const char *)record + SHOAL_ERROR_LOG_TEXT_OFFSET,
                    (size_t)length - SHOAL_ERROR_LOG_HEADER_LENGTH, clientd);
            }
        }
        offset += SHOAL_ALIGN((size_t)length, (size_t)SHOAL_ERROR_LOG_RECORD_ALIGNMENT);
    }
    return count;
}
