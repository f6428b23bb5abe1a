/*
 * Sender side of loss recovery: turns NAKs into retransmissions, at most one
 * per range per linger period. Receivers may NAK the same gap again (their
 * retry timer, or several multicast receivers at once); while a range is
 * lingering those NAKs are ignored, so one loss costs one resend per
 * linger however many ask.
 *
 * A fixed table of SHOAL_RETRANSMIT_MAX ranges: no allocation per NAK. When
 * it is full the NAK is dropped (the receiver asks again).
 * Owned by the sender thread.
 */
#ifndef SHOAL_RETRANSMIT_HANDLER_H
#define SHOAL_RETRANSMIT_HANDLER_H

#include <stdbool.h>
#include <stdint.h>

#define SHOAL_RETRANSMIT_MAX 64

typedef struct shoal_retransmit_entry_stct
{
    int32_t term_id;
    int32_t term_offset;
    int64_t expiry_ns;
} shoal_retransmit_entry_t;

typedef struct shoal_retransmit_handler_stct
{
    int32_t count;
    int64_t linger_ns;
    shoal_retransmit_entry_t entries[SHOAL_RETRANSMIT_MAX];
} shoal_retransmit_handler_t;

void shoal_retransmit_handler_init(shoal_retransmit_handler_t *h, int64_t linger_ns);

/* Whether a NAK for (term_id, term_offset) should be resent now; if so the
 * range starts lingering. */
bool shoal_retransmit_handler_on_nak(shoal_retransmit_handler_t *h, int32_t term_id, int32_t term_offset,
    int64_t now_ns);

/* Ends lingering ranges; returns how many ended. */
int shoal_retransmit_handler_process_timeouts(shoal_retransmit_handler_t *h, int64_t now_ns);

#endif
