/*
 * Driver side of an IPC stream: owns the log buffer file, the publisher
 * limit and position counters, and the positions of the subscribers reading
 * it. Publishers and subscribers touch only shared memory; this object runs
 * on the driver conductor and keeps three invariants:
 *  - publisher limit = slowest subscriber position + term window, so the
 *    publisher never laps a reader (back pressure, never loss), untethered
 *    subscribers that were let go aside (shoal_subscriber_positions.h); with no
 *    subscriber, publisher limit = consumed position (the furthest any
 *    subscriber read), so offers say NOT_CONNECTED instead of writing what
 *    nobody will read;
 *  - the log is never zeroed: readers tell this lap's frames by their
 *    headers (logbuffer/shoal_frame_check.h), so no term needs cleaning
 *    before the publisher enters it again;
 *  - a claim left uncommitted (dead publisher) is padded over after the
 *    unblock timeout, so subscribers do not stall forever.
 * Subscriber positions and the log's tail counters are memory any client can
 * write: a subscriber position is only believed inside
 * [producer position - term length, producer position] (a correct subscriber
 * is at most the term window behind), so no value makes a tick index
 * outside the log.
 * The driver conductor runs the untethered subscribers' state machine on
 * pub->subscribers between ticks (it sends the image events).
 *
 * Lifecycle: ACTIVE while a publisher holds it; DRAINING once the last
 * publisher went, until subscribers consume what was written; LINGER while
 * clients let go of their mappings; then DONE (file removed).
 */
#ifndef SHOAL_IPC_PUBLICATION_H
#define SHOAL_IPC_PUBLICATION_H

/* The trip gain as a part of the term window: a quarter, not Aeron's eighth.
 * Each trip wakes the driver into work (move the limit) on a core a
 * publisher or subscriber may be spinning on; half as many trips took the
 * IPC 64 KiB round trip's p99 from 40-182 us to 37-49 (Aeron's 35-50 in the
 * same invocations) and 1 KiB's p99.9 from 2.2-21.8 to 0.83-0.84 us, with
 * throughput unchanged within the noise; window / 64 doubled the 64 KiB
 * p99 (docs/performance.md). A publisher past half its window still gets
 * every step the subscriber takes. */
#define SHOAL_IPC_PUB_TRIP_GAIN_DIVISOR 4

#include <stdbool.h>
#include <stdint.h>

#include "logbuffer/shoal_log_buffer.h"
#include "transport/shoal_publication_resource.h"
#include "transport/shoal_subscriber_positions.h"
#include "util/shoal_counters.h"

typedef enum shoal_ipc_publication_state_en
{
    SHOAL_IPC_PUB_ACTIVE,
    SHOAL_IPC_PUB_DRAINING,
    SHOAL_IPC_PUB_LINGER,
    SHOAL_IPC_PUB_DONE
} shoal_ipc_publication_state_t;

typedef struct shoal_ipc_publication_stct
{
    shoal_publication_resource_t resource; /* first: publication links point here */
    bool session_id_explicit;
    shoal_ipc_publication_state_t state;
    shoal_log_buffer_t log;
    int64_t term_window_length;
    /* The limit moves only once it could move by
     * trip_gain past the last limit: a conductor that found "work" at every
     * step a subscriber took would never idle, and on a machine with few
     * cores it would take the publisher's or the subscriber's core. */
    int64_t trip_limit;
    int64_t trip_gain; /* term window / SHOAL_IPC_PUB_TRIP_GAIN_DIVISOR */

    shoal_subscriber_positions_t subscribers;

    int64_t consumer_position;      /* furthest position a subscriber was seen at */
    int64_t last_consumer_position; /* slowest subscriber, for the unblock timeout */
    int64_t time_of_last_consumer_change_ms;
    int64_t linger_deadline_ms;
    int64_t unblocked_count;
} shoal_ipc_publication_t;

typedef struct shoal_ipc_publication_params_stct
{
    shoal_publication_resource_params_t resource; /* media IPC; random initial term id (the driver draws it) */
    bool session_id_explicit;
} shoal_ipc_publication_params_t;

/* Creates the log file <dir>/publications/<registration_id>.logbuffer (0600)
 * and the publisher counters. */
int shoal_ipc_publication_create(shoal_ipc_publication_t **pub, const char *dir,
    const shoal_ipc_publication_params_t *params, shoal_counters_manager_t *counters, int64_t now_ms);
void shoal_ipc_publication_delete(shoal_ipc_publication_t *pub, shoal_counters_manager_t *counters, int64_t now_ms);

/* A new subscriber joins at the current producer position (tether NULL:
 * tethered). Returns the index. */
int shoal_ipc_publication_add_subscriber(shoal_ipc_publication_t *pub, int64_t subscription_registration_id,
    int64_t image_id, int32_t counter_id, int64_t *value, const shoal_tether_params_t *tether, int64_t now_ns);
/* Removes and returns the subscriber's counter id, or -1 if not linked. */
int32_t shoal_ipc_publication_remove_subscriber(shoal_ipc_publication_t *pub, int64_t subscription_registration_id);

/* One conductor tick: positions, limit, unblocking, state changes.
 * Returns work done (> 0 if anything moved). */
int shoal_ipc_publication_on_tick(shoal_ipc_publication_t *pub, int64_t now_ms, int64_t unblock_timeout_ms,
    int64_t linger_ms, int64_t *unblocked_counter);

/* Where "behind" starts for untethered subscribers, and where they rejoin. */
int64_t shoal_ipc_publication_untethered_window_limit(const shoal_ipc_publication_t *pub);
int64_t shoal_ipc_publication_join_position(const shoal_ipc_publication_t *pub);

/* Called when the last publisher registration is gone. */
void shoal_ipc_publication_on_publishers_gone(shoal_ipc_publication_t *pub, int64_t now_ms);

#endif
