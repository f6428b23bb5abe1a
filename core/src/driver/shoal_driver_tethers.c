/* Untethered subscribers, driver side: the state machine lives with the
 * positions (transport/shoal_subscriber_positions.h); here its changes
 * become image events for the subscriber's client and counts in the system
 * counters, so a drop and a rejoin can be seen in shoal-stat. */
#include "driver/shoal_driver_conductor.h"

shoal_tether_params_t shoal_driver_tether_params(const shoal_subscription_link_t *link,
    const shoal_publication_resource_t *r)
{
    return (shoal_tether_params_t){
        .tether = link->tether,
        .window_limit_timeout_ns = link->untethered_window_limit_timeout_ns > 0
            ? link->untethered_window_limit_timeout_ns
            : r->untethered_window_limit_timeout_ns,
        .resting_timeout_ns = link->untethered_resting_timeout_ns > 0 ? link->untethered_resting_timeout_ns
                                                                      : r->untethered_resting_timeout_ns,
    };
}

typedef struct tether_event_stct
{
    shoal_driver_conductor_t *c;
    const shoal_publication_resource_t *r;
} tether_event_t;

static void on_tether_change(void *clientd, const shoal_subscriber_position_t *s, shoal_tether_state_t state)
{
    tether_event_t *e = clientd;
    switch (state)
    {
        case SHOAL_TETHER_LINGER:
            shoal_driver_send_image_unavailable(e->c, s->image_id, s->subscription_registration_id, e->r->stream_id);
            (*e->c->system_counters[SHOAL_SYSTEM_COUNTER_UNTETHERED_DROPS])++;
            break;
        case SHOAL_TETHER_RESTING: break;
        case SHOAL_TETHER_ACTIVE:
            /* The same image id and position counter: the client makes a new
             * image that starts where the counter now says (its join position). */
            shoal_driver_send_image_available_for(e->c, e->r->session_id, e->r->stream_id, e->r->log_file, "aeron:ipc",
                s->subscription_registration_id, s->image_id, s->counter_id);
            (*e->c->system_counters[SHOAL_SYSTEM_COUNTER_UNTETHERED_REJOINS])++;
            break;
    }
}

int shoal_driver_check_tethers(shoal_driver_conductor_t *c, shoal_subscriber_positions_t *set,
    const shoal_publication_resource_t *r, int64_t window_limit_position, int64_t live_position, int64_t now_ns)
{
    tether_event_t e = { c, r };
    return shoal_subscriber_positions_check_tethers(set, now_ns, window_limit_position, live_position, on_tether_change,
        &e);
}
