/*
 * Sender flow control: turns receivers' status messages into the sender
 * limit (how far the sender may send). Each SM carries a receiver's
 * consumption position and window; position + window is how far that
 * receiver can take.
 *
 *  unicast  one receiver: limit = max(limit, position + window).
 *  max      (multicast/MDC default, as Aeron) the fastest receiver sets the
 *           limit; slower ones recover by NAK while the data is still in
 *           the term buffers, or lose it.
 *  min      (fc=min) the slowest receiver sets it: nobody is outrun. A
 *           receiver silent for the receiver timeout is dropped, so one that
 *           left stalls the others at most that long. "g:/N" (fc=min,g:/3)
 *           waits for N receivers before the stream is connected.
 *
 * Receivers are tracked in a fixed table (no allocation on the SM path).
 * Owned by the sender thread.
 */
#ifndef SHOAL_FLOW_CONTROL_H
#define SHOAL_FLOW_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include "protocol/shoal_frames.h"

#define SHOAL_FLOW_CONTROL_MAX_RECEIVERS 64

typedef enum shoal_flow_control_kind_en
{
    SHOAL_FC_UNICAST = 0,
    SHOAL_FC_MAX,
    SHOAL_FC_MIN
} shoal_flow_control_kind_t;

typedef struct shoal_fc_receiver_stct
{
    int64_t receiver_id;
    int64_t last_position;
    int64_t last_position_plus_window;
    int64_t time_of_last_sm_ns;
} shoal_fc_receiver_t;

typedef struct shoal_flow_control_stct
{
    shoal_flow_control_kind_t kind;
    int32_t group_min_size; /* receivers needed to count as connected */
    int64_t receiver_timeout_ns;
    int32_t receiver_count;
    shoal_fc_receiver_t receivers[SHOAL_FLOW_CONTROL_MAX_RECEIVERS];
} shoal_flow_control_t;

/* Parses the fc= value ("", "max", "min", "min,g:/3", "min,t:2s"). default_kind
 * applies to "". -1 with SHOAL_EURI naming the bad value. */
int shoal_flow_control_init(shoal_flow_control_t *fc, const char *spec, shoal_flow_control_kind_t default_kind,
    int64_t receiver_timeout_ns);

/* A status message at position (computed by the caller) with its window. */
int64_t shoal_flow_control_on_status_message(shoal_flow_control_t *fc, int64_t receiver_id, int64_t position,
    int32_t window, int64_t sender_limit, int64_t now_ns);

/* Periodic: drops silent receivers; returns the new sender limit (which, for
 * min, may move forward once the slowest left; never below sender_position). */
int64_t shoal_flow_control_on_idle(shoal_flow_control_t *fc, int64_t now_ns, int64_t sender_limit,
    int64_t sender_position);

/* Forgets a receiver at once (its destination was removed); the limit
 * follows at the next on_idle. */
void shoal_flow_control_remove_receiver(shoal_flow_control_t *fc, int64_t receiver_id);

/* Lowest consumption position among known receivers (fallback if none). */
int64_t shoal_flow_control_min_position(const shoal_flow_control_t *fc, int64_t fallback);

/* Whether enough receivers are known for the publication to count as connected. */
bool shoal_flow_control_has_required_receivers(const shoal_flow_control_t *fc);

#endif
