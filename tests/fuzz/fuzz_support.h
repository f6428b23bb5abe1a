/* Shared by the fuzz targets: where their scratch files go. scripts/fuzz.sh
 * sets SHOAL_FUZZ_TMPDIR to a directory it removes afterwards (a crashing
 * target leaves its files behind); /dev/shm otherwise, as file I/O there is
 * what the real driver sees. */
#ifndef SHOAL_FUZZ_SUPPORT_H
#define SHOAL_FUZZ_SUPPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static inline void fuzz_scratch_dir(char *buf, size_t length, const char *name)
{
    const char *base = getenv("SHOAL_FUZZ_TMPDIR");
    snprintf(buf, length, "%s/shoal-fuzz-%s-%ld", NULL != base && '\0' != base[0] ? base : "/dev/shm", name,
        (long)getpid());
}

/* The scratch directory of a target that writes one file there: dir (made)
 * and the file's path, for the target's own statics. */
static inline void fuzz_scratch_file(char *dir, size_t dir_length, char *path, size_t path_length, const char *name,
    const char *file)
{
    fuzz_scratch_dir(dir, dir_length, name);
    snprintf(path, path_length, "%s/%s", dir, file);
    mkdir(dir, 0700);
}

/* An input read as records: a selector byte, a little-endian 16-bit length,
 * then that many bytes (fewer when the input ends first). */
typedef struct
{
    uint8_t selector;
    const uint8_t *body;
    size_t length;
} fuzz_record_t;

/* The record at *at, which moves past it; false when no record header is
 * left. */
static inline bool fuzz_next_record(const uint8_t *data, size_t size, size_t *at, fuzz_record_t *r)
{
    if (*at + 3 > size)
    {
        return false;
    }
    r->selector = data[*at];
    r->length = (size_t)data[*at + 1] | ((size_t)data[*at + 2] << 8);
    *at += 3;
    if (r->length > size - *at)
    {
        r->length = size - *at;
    }
    r->body = data + *at;
    *at += r->length;
    return true;
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
