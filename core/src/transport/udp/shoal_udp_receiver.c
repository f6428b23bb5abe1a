#include "transport/udp/shoal_udp_receiver.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/shoal_clock.h"
#include "util/shoal_error.h"

/* Batches read from one receive endpoint per cycle before moving on. */
#define SHOAL_UDP_RECEIVE_BATCHES_PER_CYCLE 4

void shoal_udp_receiver_on_setup(void *clientd, shoal_receive_channel_endpoint_t *ep, const shoal_setup_header_t *setup,
    const struct sockaddr_storage *control, const struct sockaddr_storage *source, int64_t now_ns)
{
    (void)now_ns;
    shoal_udp_receiver_t *r = clientd;
    shoal_udp_command_t msg;
    memset(&msg, 0, offsetof(shoal_udp_command_t, message));
    msg.endpoint = ep;
    msg.setup = *setup;
    msg.address = *control;
    msg.source = *source;
    /* A full queue drops it: the sender repeats SETUP until it hears us. */
    if (!shoal_udp_command_queue_offer(r->duty.to_conductor, SHOAL_UDP_MSG_SETUP, &msg))
    {
        shoal_err_clear();
    }
}

static void on_receiver_command(int32_t type, const shoal_udp_command_t *cmd, void *clientd)
{
    shoal_udp_receiver_t *r = clientd;
    switch (type)
    {
        case SHOAL_UDP_CMD_ADD_STREAM:
            shoal_udp_duty_check_added(&r->duty,
                shoal_receive_channel_endpoint_add_stream(cmd->endpoint, cmd->stream_id, cmd->has_session_id,
                    cmd->session_id),
                "receiver");
            break;
        case SHOAL_UDP_CMD_REMOVE_STREAM:
            shoal_receive_channel_endpoint_remove_stream(cmd->endpoint, cmd->stream_id, cmd->has_session_id,
                cmd->session_id);
            break;
        case SHOAL_UDP_CMD_ADD_RECEIVE_ENDPOINT: SHOAL_UDP_DUTY_TRACK(r, endpoints, cmd->object, "receiver"); break;
        case SHOAL_UDP_CMD_REMOVE_RECEIVE_ENDPOINT: SHOAL_UDP_DUTY_RELEASE(r, endpoints, type, cmd->object); break;
        case SHOAL_UDP_CMD_ADD_IMAGE:
            if (shoal_receive_channel_endpoint_add_image(cmd->endpoint, cmd->object) < 0 ||
                SHOAL_POINTER_LIST_ADD(r, images, cmd->object) < 0)
            {
                shoal_receive_channel_endpoint_remove_image(cmd->endpoint, cmd->object, shoal_nano_time(), 0);
                shoal_udp_command_queue_post_outcome(r->duty.to_conductor, -1, -1, "receiver");
            }
            break;
        case SHOAL_UDP_CMD_REMOVE_IMAGE:
            shoal_receive_channel_endpoint_remove_image(cmd->endpoint, cmd->object, shoal_nano_time(),
                cmd->cooldown_ns);
            SHOAL_UDP_DUTY_RELEASE(r, images, type, cmd->object);
            break;
        default: break;
    }
}

int shoal_udp_receiver_init(shoal_udp_receiver_t *r, shoal_udp_command_queue_t *to_conductor)
{
    memset(r, 0, sizeof(*r));
    return shoal_udp_duty_init(&r->duty, to_conductor, SHOAL_UDP_MAX_DATAGRAM, on_receiver_command, r);
}

void shoal_udp_receiver_close(shoal_udp_receiver_t *r)
{
    shoal_udp_duty_close(&r->duty, r->endpoints, r->images);
    memset(r, 0, sizeof(*r));
}

/* A busy endpoint gets a few full batches, then the next one its turn. */
static int receive_datagrams(shoal_udp_receiver_t *r, int64_t now_ns)
{
    int work = 0;
    for (int32_t i = 0; i < r->endpoints_count; i++)
    {
        for (int b = 0; b < SHOAL_UDP_RECEIVE_BATCHES_PER_CYCLE; b++)
        {
            int n = shoal_receive_channel_endpoint_poll(r->endpoints[i], &r->duty.batch, now_ns);
            work += n;
            if (n < SHOAL_UDP_BATCH)
            {
                break;
            }
        }
    }
    return work;
}

int shoal_udp_receiver_do_work(shoal_udp_receiver_t *r, int64_t now_ns)
{
    int work = shoal_udp_duty_do_commands(&r->duty) + receive_datagrams(r, now_ns);
    for (int32_t i = 0; i < r->images_count; i++)
    {
        work += shoal_publication_image_do_work(r->images[i], now_ns);
    }
    if (shoal_udp_duty_idle_due(&r->duty, now_ns))
    {
        for (int32_t i = 0; i < r->endpoints_count; i++)
        {
            work += shoal_receive_channel_endpoint_on_idle(r->endpoints[i], now_ns);
        }
    }
    return work;
}
