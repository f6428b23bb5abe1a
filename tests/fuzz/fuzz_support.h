/* Shared by the fuzz targets: where their scratch files go. scripts/fuzz.sh
 * sets SHOAL_FUZZ_TMPDIR to a directory it removes afterwards (a crashing
 * target leaves its files behind); /dev/shm otherwise, as file I/O there is
 * what the real driver sees. */
#ifndef SHOAL_FUZZ_SUPPORT_H
#define SHOAL_FUZZ_SUPPORT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void fuzz_scratch_dir(char *buf, size_t length, const char *name)
{
    const char *base = getenv("SHOAL_FUZZ_TMPDIR");
    snprintf(buf, length, "%s/shoal-fuzz-%s-%ld", NULL != base && '\0' != base[0] ? base : "/dev/shm", name,
        (long)getpid());
}

/* Monitoring-API handlers that read every byte they are given (so ASan sees any read past the end of
 * what the parser hands out) and add the lengths into *(size_t *)clientd. */
static inline void fuzz_on_counter(int32_t id, int32_t type_id, const uint8_t *key, size_t key_length,
    const char *label, size_t label_length, int64_t value, void *clientd)
{
    size_t *total = clientd;
    volatile uint8_t sum = (uint8_t)((uint64_t)id + (uint64_t)type_id + (uint64_t)value);
    for (size_t i = 0; i < key_length; i++)
    {
        sum = (uint8_t)(sum + key[i]);
    }
    for (size_t i = 0; i < label_length; i++)
    {
        sum = (uint8_t)(sum + (uint8_t)label[i]);
    }
    (void)sum;
    *total += label_length;
}

static inline void fuzz_on_error(int32_t count, int64_t first_ms, int64_t last_ms, int32_t code, const char *text,
    size_t text_length, void *clientd)
{
    size_t *total = clientd;
    volatile uint8_t sum = (uint8_t)((uint64_t)count + (uint64_t)first_ms + (uint64_t)last_ms + (uint64_t)code);
    for (size_t i = 0; i < text_length; i++)
    {
        sum = (uint8_t)(sum + (uint8_t)text[i]);
    }
    (void)sum;
    *total += text_length;
}

/* A fragment handler that reads every byte of the message it is given and
 * adds its length into *(size_t *)clientd. Needs shoal.h. */
#ifdef SHOAL_H
static inline void fuzz_on_message(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    size_t *total = clientd;
    volatile uint8_t sum = (uint8_t)hdr->position;
    for (size_t i = 0; i < len; i++)
    {
        sum = (uint8_t)(sum + buf[i]);
    }
    (void)sum;
    *total += len;
}
#endif

#endif
