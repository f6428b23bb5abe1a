#include "transport/udp/shoal_udp_sender.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/shoal_clock.h"
#include "util/shoal_error.h"

#define SHOAL_UDP_CONTROL_SLOT 2048

static void on_sender_command(int32_t type, const shoal_udp_command_t *cmd, void *clientd);

int shoal_udp_sender_init(shoal_udp_sender_t *s, shoal_udp_command_queue_t *to_conductor)
{
    memset(s, 0, sizeof(*s));
    return shoal_udp_duty_init(&s->duty, to_conductor, SHOAL_UDP_CONTROL_SLOT, on_sender_command, s);
}

static void on_sender_command(int32_t type, const shoal_udp_command_t *cmd, void *clientd)
{
    shoal_udp_sender_t *s = clientd;
    switch (type)
    {
        case SHOAL_UDP_CMD_ADD_PUBLICATION:
            if (shoal_send_channel_endpoint_add_publication(cmd->endpoint, cmd->object) < 0 ||
                SHOAL_POINTER_LIST_ADD(s, publications, cmd->object) < 0)
            {
                shoal_send_channel_endpoint_remove_publication(cmd->endpoint, cmd->object);
                shoal_udp_command_queue_post_outcome(s->duty.to_conductor, -1, -1, "sender");
            }
            break;
        case SHOAL_UDP_CMD_REMOVE_PUBLICATION:
            shoal_send_channel_endpoint_remove_publication(cmd->endpoint, cmd->object);
            SHOAL_UDP_DUTY_RELEASE(s, publications, type, cmd->object);
            break;
        case SHOAL_UDP_CMD_ADD_SEND_ENDPOINT: SHOAL_UDP_DUTY_TRACK(s, endpoints, cmd->object, "sender"); break;
        case SHOAL_UDP_CMD_REMOVE_SEND_ENDPOINT: SHOAL_UDP_DUTY_RELEASE(s, endpoints, type, cmd->object); break;
        case SHOAL_UDP_CMD_ADD_DESTINATION:
            shoal_udp_command_queue_post_outcome(s->duty.to_conductor, cmd->correlation_id,
                shoal_send_channel_endpoint_add_destination(cmd->endpoint, &cmd->address, cmd->registration_id,
                    shoal_nano_time()),
                "add_destination");
            break;
        case SHOAL_UDP_CMD_REMOVE_DESTINATION:
            shoal_udp_command_queue_post_outcome(s->duty.to_conductor, cmd->correlation_id,
                shoal_send_channel_endpoint_remove_destination(cmd->endpoint, &cmd->address, shoal_nano_time()),
                "remove_destination");
            break;
        default: break;
    }
}

void shoal_udp_sender_close(shoal_udp_sender_t *s)
{
    shoal_udp_duty_close(&s->duty, s->publications, s->endpoints);
    memset(s, 0, sizeof(*s));
}

int shoal_udp_sender_do_work(shoal_udp_sender_t *s, int64_t now_ns)
{
    int work = shoal_udp_duty_do_commands(&s->duty);
    /* Control frames first: status messages open the windows the sends below use. */
    for (int32_t i = 0; i < s->endpoints_count; i++)
    {
        work += shoal_send_channel_endpoint_poll(s->endpoints[i], &s->duty.batch, now_ns);
    }
    int32_t count = s->publications_count;
    if (count > 0)
    {
        uint32_t start = s->round_robin++ % (uint32_t)count;
        for (int32_t n = 0; n < count; n++)
        {
            int32_t i = (int32_t)((start + (uint32_t)n) % (uint32_t)count);
            work += shoal_network_publication_send(s->publications[i], now_ns);
        }
    }
    if (shoal_udp_duty_idle_due(&s->duty, now_ns))
    {
        for (int32_t i = 0; i < s->endpoints_count; i++)
        {
            work += shoal_send_channel_endpoint_on_idle(s->endpoints[i], now_ns);
        }
    }
    return work;
}

void shoal_udp_sender_on_response_setup(void *clientd, int64_t response_correlation_id, int32_t response_session_id)
{
    shoal_udp_sender_t *s = clientd;
    shoal_udp_command_t msg;
    memset(&msg, 0, offsetof(shoal_udp_command_t, message));
    msg.correlation_id = response_correlation_id;
    msg.session_id = response_session_id;
    /* A full queue drops it: the responder repeats it with every status message. */
    if (!shoal_udp_command_queue_offer(s->duty.to_conductor, SHOAL_UDP_MSG_RESPONSE_SETUP, &msg))
    {
        shoal_err_clear();
    }
}
