/*
 * The subscribers reading one publication's log in place: the subscriptions
 * of an IPC stream, and the spies of a UDP publication. Each has a position
 * counter its client writes as it reads; the publication keeps its
 * publisher within a term window of the slowest of them.
 *
 * Tethered subscribers (the default) hold the publisher back for as long as
 * they like. An untethered one (tether=false on its subscription) is let go
 * when it stays behind, as in Aeron:
 *
 *   ACTIVE   counted in the publisher limit; more than three quarters of a
 *            window behind the stream for the window-limit timeout: its image
 *            is made unavailable (the client stops reading it) -> LINGER
 *   LINGER   still counted, so a reader that was mid-poll is not overwritten
 *            under its feet; after another window-limit timeout -> RESTING
 *   RESTING  not counted (the publisher runs free); after the resting
 *            timeout the position is moved to the live position and the image
 *            made available again -> ACTIVE
 *
 * So a publisher waits for a stalled untethered reader at most about twice
 * its window-limit timeout. What the publication calls "behind" and "live"
 * is its own: the furthest subscriber and the producer for IPC, the sender
 * position for a UDP publication's spies.
 *
 * Positions are memory any client can write: a value is only believed inside
 * [producer - term length, producer]; outside it is clamped and counted.
 *
 * Conductor only (the driver thread that owns the publication).
 */
#ifndef SHOAL_SUBSCRIBER_POSITIONS_H
#define SHOAL_SUBSCRIBER_POSITIONS_H

#include <stdbool.h>
#include <stdint.h>

typedef enum shoal_tether_state_en
{
    SHOAL_TETHER_ACTIVE,
    SHOAL_TETHER_LINGER,
    SHOAL_TETHER_RESTING
} shoal_tether_state_t;

/* How an untethered subscriber is let go (ns); tethered ones ignore them. */
typedef struct shoal_tether_params_stct
{
    bool tether;
    int64_t window_limit_timeout_ns;
    int64_t resting_timeout_ns;
} shoal_tether_params_t;

typedef struct shoal_subscriber_position_stct
{
    int64_t subscription_registration_id;
    int64_t image_id;
    int32_t counter_id;
    int64_t *value;
    int64_t sampled;   /* value at the last shoal_subscriber_positions_sample */
    bool out_of_range; /* its last value was clamped */
    shoal_tether_params_t tether;
    shoal_tether_state_t state;
    int64_t time_of_last_update_ns; /* last time it was within reach (or changed state) */
} shoal_subscriber_position_t;

typedef struct shoal_subscriber_positions_stct
{
    shoal_subscriber_position_t *items;
    int32_t count;
    int32_t capacity;
    /* Times a position went out of range, and the last such value, for the
     * conductor to count and log. */
    int64_t invalid_position_count;
    int64_t last_invalid_position;
    int64_t last_invalid_subscription_registration_id;
} shoal_subscriber_positions_t;

/* Adds a subscriber (ACTIVE) whose counter is set to join_position first.
 * Returns its index, or -1 with SHOAL_ENOMEM. */
int shoal_subscriber_positions_add(shoal_subscriber_positions_t *set, int64_t subscription_registration_id,
    int64_t image_id, int32_t counter_id, int64_t *value, const shoal_tether_params_t *tether, int64_t join_position,
    int64_t now_ns);
/* Removes the subscriber of that subscription; returns its counter id, or -1
 * if it is not here. */
int32_t shoal_subscriber_positions_remove(shoal_subscriber_positions_t *set, int64_t subscription_registration_id);
void shoal_subscriber_positions_close(shoal_subscriber_positions_t *set);

/* Whether any subscriber counts in the publisher limit (not RESTING). */
bool shoal_subscriber_positions_any_working(const shoal_subscriber_positions_t *set);
/* Reads every subscriber's position. Call it before reading the producer
 * position that bounds checks them against: a subscriber may read on between
 * the two reads, and only a position read first is sure to be at or behind
 * the producer position read after it (a subscriber reads only what was
 * published). The other order made honest subscribers look "beyond what was
 * published" and logged errors against them. */
void shoal_subscriber_positions_sample(shoal_subscriber_positions_t *set);
/* Slowest and furthest position of the subscribers not RESTING, as sampled,
 * each clamped to [producer - term_length, producer]; false (min, max
 * untouched) when there are none. */
bool shoal_subscriber_positions_bounds(shoal_subscriber_positions_t *set, int64_t producer_position,
    int64_t term_length, int64_t *min, int64_t *max);
/* Whether any clamped value was read by the last bounds call. */
bool shoal_subscriber_positions_any_out_of_range(const shoal_subscriber_positions_t *set);

/* The publication's side of a tether change: the image goes (ACTIVE ->
 * LINGER), the position stops counting (LINGER -> RESTING), or the
 * subscriber rejoins (RESTING -> ACTIVE: its counter already holds the live
 * position). */
typedef void (
    *shoal_tether_change_fn)(void *clientd, const shoal_subscriber_position_t *s, shoal_tether_state_t new_state);

/* Runs the untethered subscribers' state machine (top of this file): behind
 * means at or below window_limit_position; a rejoin joins at
 * live_position. Returns the number of changes. */
int shoal_subscriber_positions_check_tethers(shoal_subscriber_positions_t *set, int64_t now_ns,
    int64_t window_limit_position, int64_t live_position, shoal_tether_change_fn on_change, void *clientd);

/* The window limit Aeron uses: a quarter window short of a whole window
 * behind the given position. */
static inline int64_t shoal_untethered_window_limit(int64_t position, int64_t term_window_length)
{
    return position - term_window_length + term_window_length / 4;
}

#endif
