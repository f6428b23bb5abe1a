/*
 * Blocks of whole frames appended to a term as they are (Aeron's offerBlock):
 * what a replay does with frames read from a recording, which already hold
 * their headers, fragments and padding at the positions they had when
 * recorded. A block is checked before anything is written: it starts at the
 * writer's tail (term id and offset), every frame follows the previous one
 * (DATA or PAD, 32-byte aligned, its term offset where it lies, the same term
 * id), and the last ends exactly at the block's end, within the term.
 *
 * Writing: the bytes after the first frame's length word are copied, every
 * header gets the publication's session and stream ids, the tail moves past
 * the block (store-release), and the first frame's length is stored last
 * (release), committing the whole block at once: a reader that sees it sees
 * every frame after it (the commit protocol of shoal_term_appender.h).
 *
 * Exclusive writers only (the tail is the writer's own). No allocation, no
 * system call.
 */
#ifndef SHOAL_TERM_BLOCK_H
#define SHOAL_TERM_BLOCK_H

#include <stddef.h>
#include <stdint.h>

/* 0 when frames[0..length) is a block that may go at (term_id, term_offset)
 * of a term of term_length bytes; else -1 with SHOAL_EINVAL and a message
 * naming the frame (by its offset in the block) and what is wrong. */
int shoal_term_block_check(const uint8_t *frames, size_t length, int32_t term_id, int32_t term_offset,
    int32_t term_length);

/* Appends a checked block at term_offset of a term (tail_counter: the
 * partition's raw tail; the writer is an exclusive publication, and the
 * block's first frame is claimed and committed as an appender's:
 * shoal_frame_check.h); returns the term offset after it. */
int32_t shoal_term_block_append(uint8_t *term, int64_t *tail_counter, int32_t term_id, int32_t term_offset,
    const uint8_t *frames, size_t length, int32_t session_id, int32_t stream_id);

#endif
