#include "transport/shoal_subscriber_positions.h"

#include <stdlib.h>

#include "concurrent/shoal_atomic.h"
#include "util/shoal_array.h"

int shoal_subscriber_positions_add(shoal_subscriber_positions_t *set, int64_t subscription_registration_id,
    int64_t image_id, int32_t counter_id, int64_t *value, const shoal_tether_params_t *tether, int64_t join_position,
    int64_t now_ns)
{
    if (shoal_array_ensure((void **)&set->items, set->count, &set->capacity, sizeof(*set->items),
            "publication: adding a subscriber") < 0)
    {
        return -1;
    }
    shoal_store_release(value, join_position);
    set->items[set->count++] = (shoal_subscriber_position_t){
        .subscription_registration_id = subscription_registration_id,
        .image_id = image_id,
        .counter_id = counter_id,
        .value = value,
        .sampled = join_position,
        .tether = *tether,
        .state = SHOAL_TETHER_ACTIVE,
        .time_of_last_update_ns = now_ns,
    };
    return set->count - 1;
}

int32_t shoal_subscriber_positions_remove(shoal_subscriber_positions_t *set, int64_t subscription_registration_id)
{
    for (int32_t i = 0; i < set->count; i++)
    {
        if (set->items[i].subscription_registration_id == subscription_registration_id)
        {
            int32_t counter_id = set->items[i].counter_id;
            set->items[i] = set->items[--set->count];
            return counter_id;
        }
    }
    return -1;
}

void shoal_subscriber_positions_close(shoal_subscriber_positions_t *set)
{
    free(set->items);
    set->items = NULL;
    set->count = set->capacity = 0;
}

bool shoal_subscriber_positions_any_working(const shoal_subscriber_positions_t *set)
{
    for (int32_t i = 0; i < set->count; i++)
    {
        if (SHOAL_TETHER_RESTING != set->items[i].state)
        {
            return true;
        }
    }
    return false;
}

/* A subscriber reads only what was produced, and the limit keeps the
 * producer within the term window (plus one message) of the slowest counted
 * subscriber: any value outside [producer - term length, producer] was
 * written by a broken or hostile client. It is clamped (INT64_MAX would make
 * the cleaning loop run for hours, a negative one index outside the log) and
 * counted once per excursion. */
static int64_t clamped_position(shoal_subscriber_positions_t *set, shoal_subscriber_position_t *s,
    int64_t producer_position, int64_t term_length)
{
    const int64_t value = s->sampled;
    const int64_t lowest = producer_position - term_length;
    const int64_t clamped = value > producer_position ? producer_position : value < lowest ? lowest : value;
    if (clamped != value && !s->out_of_range)
    {
        set->invalid_position_count++;
        set->last_invalid_position = value;
        set->last_invalid_subscription_registration_id = s->subscription_registration_id;
    }
    s->out_of_range = clamped != value;
    return clamped;
}

void shoal_subscriber_positions_sample(shoal_subscriber_positions_t *set)
{
    for (int32_t i = 0; i < set->count; i++)
    {
        set->items[i].sampled = shoal_load_acquire(set->items[i].value);
    }
}

bool shoal_subscriber_positions_bounds(shoal_subscriber_positions_t *set, int64_t producer_position,
    int64_t term_length, int64_t *min, int64_t *max)
{
    bool any = false;
    int64_t lo = INT64_MAX;
    int64_t hi = INT64_MIN;
    for (int32_t i = 0; i < set->count; i++)
    {
        shoal_subscriber_position_t *s = &set->items[i];
        if (SHOAL_TETHER_RESTING == s->state)
        {
            /* Its reader has let go: the value is stale and nobody's business. */
            s->out_of_range = false;
            continue;
        }
        int64_t p = clamped_position(set, s, producer_position, term_length);
        lo = p < lo ? p : lo;
        hi = p > hi ? p : hi;
        any = true;
    }
    if (any)
    {
        *min = lo;
        *max = hi;
    }
    return any;
}

bool shoal_subscriber_positions_any_out_of_range(const shoal_subscriber_positions_t *set)
{
    for (int32_t i = 0; i < set->count; i++)
    {
        if (set->items[i].out_of_range)
        {
            return true;
        }
    }
    return false;
}

static void change_state(shoal_subscriber_position_t *s, shoal_tether_state_t state, int64_t now_ns,
    shoal_tether_change_fn on_change, void *clientd)
{
    s->state = state;
    s->time_of_last_update_ns = now_ns;
    on_change(clientd, s, state);
}

int shoal_subscriber_positions_check_tethers(shoal_subscriber_positions_t *set, int64_t now_ns,
    int64_t window_limit_position, int64_t live_position, shoal_tether_change_fn on_change, void *clientd)
{
    int changes = 0;
    for (int32_t i = 0; i < set->count; i++)
    {
        shoal_subscriber_position_t *s = &set->items[i];
        if (s->tether.tether)
        {
            continue;
        }
        switch (s->state)
        {
            case SHOAL_TETHER_ACTIVE:
                if (shoal_load_acquire(s->value) > window_limit_position)
                {
                    s->time_of_last_update_ns = now_ns;
                }
                else if (now_ns - s->time_of_last_update_ns > s->tether.window_limit_timeout_ns)
                {
                    change_state(s, SHOAL_TETHER_LINGER, now_ns, on_change, clientd);
                    changes++;
                }
                break;
            case SHOAL_TETHER_LINGER:
                if (now_ns - s->time_of_last_update_ns > s->tether.window_limit_timeout_ns)
                {
                    change_state(s, SHOAL_TETHER_RESTING, now_ns, on_change, clientd);
                    changes++;
                }
                break;
            case SHOAL_TETHER_RESTING:
                if (now_ns - s->time_of_last_update_ns > s->tether.resting_timeout_ns)
                {
                    /* The position first: the client reads it as the new
                     * image's join position when told it is available. */
                    shoal_store_release(s->value, live_position);
                    s->out_of_range = false;
                    change_state(s, SHOAL_TETHER_ACTIVE, now_ns, on_change, clientd);
                    changes++;
                }
                break;
        }
    }
    return changes;
}
