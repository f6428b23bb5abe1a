#include "driver/shoal_driver_conductor.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "protocol/shoal_control_protocol.h"
#include "util/shoal_clock.h"
#include "util/shoal_error.h"

#define SHOAL_TIMER_INTERVAL_MS  1
#define SHOAL_COMMANDS_PER_CYCLE 16

int64_t shoal_driver_now_ms(void)
{
    return shoal_epoch_ms();
}

void shoal_driver_record_error(shoal_driver_conductor_t *c, int32_t code, const char *message)
{
    /* The conductor thread is the only one that records (the sender and
     * receiver report through it), so the repair count needs no lock here. */
    const uint64_t repaired_before = c->error_log.repaired_count;
    shoal_error_log_record(&c->error_log, shoal_epoch_ms(), code, message);
    (*c->system_counters[SHOAL_SYSTEM_COUNTER_ERRORS])++;
    const uint64_t repaired = c->error_log.repaired_count - repaired_before;
    if (repaired > 0)
    {
        char msg[160];
        snprintf(msg, sizeof(msg), "error log: restored %llu record length(s) that a client overwrote in cnc.dat",
            (unsigned long long)repaired);
        shoal_get_and_add(c->system_counters[SHOAL_SYSTEM_COUNTER_INVALID_CLIENT_VALUES], (int64_t)repaired);
        shoal_error_log_record(&c->error_log, shoal_epoch_ms(), SHOAL_EIO, msg);
    }
}

void shoal_driver_refuse_foreign(shoal_driver_conductor_t *c, int64_t client_id, int64_t correlation_id,
    const char *what, int64_t registration_id)
{
    char msg[192];
    snprintf(msg, sizeof(msg),
        "%s registration %lld belongs to another client: client %lld may only close or "
        "change its own",
        what, (long long)registration_id, (long long)client_id);
    (*c->system_counters[SHOAL_SYSTEM_COUNTER_FOREIGN_COMMANDS])++;
    shoal_driver_send_error(c, correlation_id, SHOAL_EINVAL, msg);
}

void shoal_driver_send_channel_error(shoal_driver_conductor_t *c, int64_t correlation_id, int32_t code,
    const char *channel, const char *why)
{
    char msg[SHOAL_ERRMSG_MAX + SHOAL_MAX_CHANNEL_LENGTH];
    snprintf(msg, sizeof(msg), "channel '%s': %s", channel, NULL != why ? why : shoal_errmsg());
    shoal_driver_send_error(c, correlation_id, code, msg);
}

/* Publication and subscription links both start with the registration and
 * its owner, which is all the lookup below reads. */
typedef struct shoal_link_owner_stct
{
    int64_t registration_id;
    int64_t client_id;
} shoal_link_owner_t;

typedef char shoal_publication_link_starts_with_owner[offsetof(shoal_publication_link_t, registration_id) ==
                offsetof(shoal_link_owner_t, registration_id) &&
            offsetof(shoal_publication_link_t, client_id) == offsetof(shoal_link_owner_t, client_id)
        ? 1
        : -1];
typedef char shoal_subscription_link_starts_with_owner[offsetof(shoal_subscription_link_t, registration_id) ==
                offsetof(shoal_link_owner_t, registration_id) &&
            offsetof(shoal_subscription_link_t, client_id) == offsetof(shoal_link_owner_t, client_id)
        ? 1
        : -1];

int32_t shoal_driver_find_own_link(shoal_driver_conductor_t *c, int64_t client_id, int64_t correlation_id,
    int64_t registration_id, const char *what, const void *links, int32_t count, size_t stride)
{
    bool foreign = false;
    for (int32_t i = 0; i < count; i++)
    {
        const shoal_link_owner_t *owner = (const shoal_link_owner_t *)((const uint8_t *)links + (size_t)i * stride);
        if (owner->registration_id != registration_id)
        {
            continue;
        }
        if (owner->client_id == client_id)
        {
            return i;
        }
        foreign = true;
    }
    if (foreign)
    {
        shoal_driver_refuse_foreign(c, client_id, correlation_id, what, registration_id);
        return -2;
    }
    return -1;
}

shoal_subscription_link_t *shoal_driver_add_subscription_link(shoal_driver_conductor_t *c, int64_t client_id,
    int64_t correlation_id, int32_t stream_id, const shoal_uri_t *uri, shoal_media_t media)
{
    shoal_subscription_link_t *link = &c->subscription_links[c->subscription_links_count++];
    memset(link, 0, sizeof(*link));
    link->registration_id = correlation_id;
    link->client_id = client_id;
    link->stream_id = stream_id;
    link->has_session_id = uri->has_session_id;
    link->session_id = uri->session_id;
    link->media = media;
    link->is_response = SHOAL_CONTROL_MODE_RESPONSE == uri->control_mode;
    link->awaiting_response_session = link->is_response;
    link->tether = uri->has_tether ? uri->tether : c->ctx->tether_subscriptions;
    link->untethered_window_limit_timeout_ns =
        uri->has_untethered_window_limit_timeout ? uri->untethered_window_limit_timeout_ns : 0;
    link->untethered_resting_timeout_ns = uri->has_untethered_resting_timeout ? uri->untethered_resting_timeout_ns : 0;
    (*c->system_counters[SHOAL_SYSTEM_COUNTER_SUBSCRIPTIONS_ACTIVE])++;
    shoal_subscription_ready_t r = { correlation_id, -1 };
    shoal_broadcast_transmitter_transmit(&c->to_clients, SHOAL_RSP_ON_SUBSCRIPTION_READY, &r, sizeof(r));
    return link;
}

static void transmit(shoal_driver_conductor_t *c, int32_t type, const void *msg, size_t length)
{
    if (shoal_broadcast_transmitter_transmit(&c->to_clients, type, msg, length) < 0)
    {
        shoal_driver_record_error(c, SHOAL_EDRIVER, shoal_errmsg());
    }
}

static size_t put_string(uint8_t *at, const char *s)
{
    int32_t len = (int32_t)strlen(s);
    memcpy(at, &len, sizeof(len));
    memcpy(at + sizeof(len), s, (size_t)len);
    return sizeof(len) + (size_t)len;
}

void shoal_driver_send_error(shoal_driver_conductor_t *c, int64_t correlation_id, int32_t code, const char *message)
{
    shoal_error_response_t *r = (shoal_error_response_t *)c->scratch;
    size_t len = strlen(message);
    if (len > SHOAL_MAX_ERROR_TEXT)
    {
        len = SHOAL_MAX_ERROR_TEXT;
    }
    r->offending_command_correlation_id = correlation_id;
    r->error_code = code;
    r->error_message_length = (int32_t)len;
    memcpy(c->scratch + sizeof(*r), message, len);
    transmit(c, SHOAL_RSP_ON_ERROR, c->scratch, sizeof(*r) + len);
    shoal_driver_record_error(c, code, message);
}

void shoal_driver_send_operation_success(shoal_driver_conductor_t *c, int64_t correlation_id)
{
    shoal_operation_succeeded_t r = { correlation_id };
    transmit(c, SHOAL_RSP_ON_OPERATION_SUCCESS, &r, sizeof(r));
}

void shoal_driver_send_image_available_for(shoal_driver_conductor_t *c, int32_t session_id, int32_t stream_id,
    const char *log_file, const char *source, int64_t subscription_registration_id, int64_t image_id,
    int32_t position_counter_id)
{
    shoal_image_ready_t *r = (shoal_image_ready_t *)c->scratch;
    r->correlation_id = image_id;
    r->subscription_registration_id = subscription_registration_id;
    r->session_id = session_id;
    r->stream_id = stream_id;
    r->subscriber_position_id = position_counter_id;
    r->log_file_length = (int32_t)strlen(log_file);
    size_t len = sizeof(*r);
    memcpy(c->scratch + len, log_file, (size_t)r->log_file_length);
    len += (size_t)r->log_file_length;
    len += put_string(c->scratch + len, source);
    transmit(c, SHOAL_RSP_ON_AVAILABLE_IMAGE, c->scratch, len);
}

void shoal_driver_send_image_available(shoal_driver_conductor_t *c, const shoal_ipc_publication_t *pub,
    int64_t subscription_registration_id, int64_t image_id, int32_t position_counter_id)
{
    shoal_driver_send_image_available_for(c, pub->resource.session_id, pub->resource.stream_id, pub->resource.log_file,
        "aeron:ipc", subscription_registration_id, image_id, position_counter_id);
}

void shoal_driver_send_image_unavailable(shoal_driver_conductor_t *c, int64_t image_id,
    int64_t subscription_registration_id, int32_t stream_id)
{
    shoal_image_unavailable_t r = { image_id, subscription_registration_id, stream_id };
    transmit(c, SHOAL_RSP_ON_UNAVAILABLE_IMAGE, &r, sizeof(r));
}

static void on_agent_message(int32_t type, const shoal_udp_command_t *msg, void *clientd)
{
    shoal_driver_conductor_t *c = clientd;
    int64_t now_ms = shoal_epoch_ms();
    switch (type)
    {
        case SHOAL_UDP_MSG_RELEASED:
            switch (msg->command)
            {
                case SHOAL_UDP_CMD_REMOVE_PUBLICATION:
                    shoal_driver_on_network_publication_released(c, msg->object, now_ms);
                    break;
                case SHOAL_UDP_CMD_REMOVE_SEND_ENDPOINT:
                    shoal_driver_on_send_endpoint_released(c, msg->object, now_ms);
                    break;
                case SHOAL_UDP_CMD_REMOVE_RECEIVE_ENDPOINT:
                    shoal_driver_on_receive_endpoint_released(c, msg->object, now_ms);
                    break;
                case SHOAL_UDP_CMD_REMOVE_IMAGE: ((shoal_publication_image_t *)msg->object)->released = true; break;
                default: break;
            }
            break;
        case SHOAL_UDP_MSG_SETUP:
            shoal_driver_on_setup(c, msg->endpoint, &msg->setup, &msg->address, &msg->source);
            break;
        case SHOAL_UDP_MSG_RESPONSE_SETUP:
            shoal_driver_on_response_setup(c, msg->correlation_id, msg->session_id);
            break;
        case SHOAL_UDP_MSG_RESULT:
            if (0 == msg->code)
            {
                shoal_driver_send_operation_success(c, msg->correlation_id);
            }
            else
            {
                shoal_driver_send_error(c, msg->correlation_id, msg->code, msg->message);
            }
            break;
        case SHOAL_UDP_MSG_ERROR: shoal_driver_record_error(c, msg->code, msg->message); break;
        default: break;
    }
}

/* What the sender and receiver told the conductor (RELEASED, SETUP,
 * RESULT, ERROR); every cycle, and in place when their queue is full in
 * shared mode. */
static int do_agent_messages(shoal_driver_conductor_t *c)
{
    return shoal_udp_command_queue_drain(&c->to_conductor, on_agent_message, c, SIZE_MAX);
}

static void drain_agent_messages_in_place(void *clientd)
{
    do_agent_messages(clientd);
}

int shoal_driver_conductor_init(shoal_driver_conductor_t *c, const shoal_context_t *ctx, shoal_cnc_view_t *cnc)
{
    memset(c, 0, offsetof(shoal_driver_conductor_t, scratch));
    c->ctx = ctx;
    c->cnc = *cnc;
    if (shoal_mpsc_rb_init(&c->to_driver, cnc->to_driver, (size_t)cnc->meta->to_driver_buffer_length) < 0 ||
        shoal_broadcast_transmitter_init(&c->to_clients, cnc->to_clients, (size_t)cnc->meta->to_clients_buffer_length) <
            0 ||
        shoal_counters_manager_init(&c->counters, cnc->counters_metadata,
            (size_t)cnc->meta->counters_metadata_buffer_length, cnc->counters_values,
            (size_t)cnc->meta->counters_values_buffer_length, 2 * (int64_t)ctx->publication_linger_ms) < 0)
    {
        return -1;
    }
    if (shoal_error_log_init(&c->error_log, cnc->error_log, (size_t)cnc->meta->error_log_buffer_length) < 0)
    {
        shoal_counters_manager_close(&c->counters);
        return -1;
    }
    shoal_loss_report_init(&c->loss_report, cnc->loss_report, cnc->loss_report_length);
    int64_t now_ms = shoal_epoch_ms();
    for (int i = 0; i < SHOAL_SYSTEM_COUNTER_COUNT; i++)
    {
        int32_t id = shoal_counters_manager_allocate(&c->counters, now_ms, SHOAL_COUNTER_TYPE_SYSTEM,
            (const uint8_t *)&i, sizeof(i), shoal_system_counter_label(i), 0, 0);
        if (id < 0)
        {
            shoal_driver_conductor_close(c);
            return -1;
        }
        c->system_counters[i] = shoal_counter_addr(c->counters.values, id);
    }
    c->last_timer_ms = now_ms;
    c->time_of_last_to_driver_position_change_ms = now_ms;
    if (shoal_driver_udp_proxy_init(c, drain_agent_messages_in_place) < 0)
    {
        shoal_driver_conductor_close(c);
        return -1;
    }
    shoal_mpsc_rb_consumer_heartbeat_time(&c->to_driver, now_ms);
    shoal_store_release(c->system_counters[SHOAL_SYSTEM_COUNTER_DRIVER_HEARTBEAT], now_ms);
    return 0;
}

void shoal_driver_conductor_close(shoal_driver_conductor_t *c)
{
    int64_t now_ms = shoal_epoch_ms();
    shoal_driver_udp_close(c);
    shoal_driver_udp_proxy_close(c);
    for (int32_t i = 0; i < c->ipc_publications_count; i++)
    {
        shoal_ipc_publication_delete(c->ipc_publications[i], &c->counters, now_ms);
    }
    free(c->ipc_publications);
    c->ipc_publications = NULL;
    free(c->publication_links);
    c->publication_links = NULL;
    free(c->subscription_links);
    c->subscription_links = NULL;
    free(c->clients);
    c->clients = NULL;
    shoal_error_log_close(&c->error_log);
    shoal_loss_report_close(&c->loss_report);
    shoal_counters_manager_close(&c->counters);
}

/* Copies the channel text that follows a command's fixed part (header bytes),
 * checking every length against the record: the ring is shared memory any
 * local process can write. */
static bool read_text(const uint8_t *buffer, size_t length, size_t header, int32_t text_length, char *out)
{
    if (text_length <= 0 || text_length >= SHOAL_MAX_CHANNEL_LENGTH || header + (size_t)text_length > length)
    {
        return false;
    }
    memcpy(out, buffer + header, (size_t)text_length);
    out[text_length] = '\0';
    return strlen(out) == (size_t)text_length;
}

static bool read_channel(const shoal_channel_command_t *cmd, size_t length, char *out)
{
    return read_text((const uint8_t *)cmd, length, sizeof(*cmd), cmd->channel_length, out);
}

int shoal_driver_parse_request_channel(shoal_driver_conductor_t *c, int64_t correlation_id, const char *channel,
    shoal_uri_t *uri, bool publication)
{
    if (shoal_uri_parse(channel, uri) < 0)
    {
        shoal_driver_send_error(c, correlation_id, shoal_errcode(), shoal_errmsg());
        return -1;
    }
    const char *refused = NULL;
    if (publication && uri->spy)
    {
        refused = "aeron-spy: is for subscriptions (a spy reads a local publication; publish on the aeron:udp channel)";
    }
    else if (!publication && uri->has_position)
    {
        refused = "init-term-id, term-id and term-offset place a publication; a subscription joins where the stream is";
    }
    if (NULL != refused)
    {
        shoal_driver_send_channel_error(c, correlation_id, SHOAL_EURI, channel, refused);
        return -1;
    }
    return 0;
}

/* An add_publication goes to the medium its channel names. */
static void on_add_publication(shoal_driver_conductor_t *c, int64_t client_id, int64_t correlation_id,
    int32_t stream_id, const char *channel, bool exclusive, int64_t now_ms)
{
    shoal_uri_t uri;
    if (shoal_driver_parse_request_channel(c, correlation_id, channel, &uri, true) < 0)
    {
        return;
    }
    if (uri.has_position && !exclusive)
    {
        /* A shared publication's position belongs to all its publishers:
         * only a publication of its own may be placed (as a replay's). */
        shoal_driver_send_channel_error(c, correlation_id, SHOAL_EURI, channel,
            "init-term-id, term-id and term-offset are for exclusive publications only");
        return;
    }
    if (SHOAL_MEDIA_UDP == uri.media)
    {
        shoal_driver_on_add_network_publication(c, client_id, correlation_id, stream_id, channel, &uri, exclusive,
            now_ms);
        return;
    }
    shoal_driver_on_add_ipc_publication(c, client_id, correlation_id, stream_id, channel, &uri, exclusive, now_ms);
}

/* remove_publication / remove_subscription: only the link's own client may. */
static void on_remove(shoal_driver_conductor_t *c, int64_t client_id, int64_t correlation_id, int64_t registration_id,
    bool publication, int64_t now_ms)
{
    const char *what = publication ? "publication" : "subscription";
    int32_t i = publication ? shoal_driver_find_own_link(c, client_id, correlation_id, registration_id, what,
                                  c->publication_links, c->publication_links_count, sizeof(c->publication_links[0]))
                            : shoal_driver_find_own_link(c, client_id, correlation_id, registration_id, what,
                                  c->subscription_links, c->subscription_links_count, sizeof(c->subscription_links[0]));
    if (i >= 0)
    {
        if (publication)
        {
            shoal_driver_remove_publication_link(c, i, now_ms);
        }
        else
        {
            shoal_driver_remove_subscription_link(c, i, now_ms);
        }
        shoal_driver_send_operation_success(c, correlation_id);
    }
    else if (-1 == i)
    {
        char msg[128];
        snprintf(msg, sizeof(msg), "unknown %s registration %lld", what, (long long)registration_id);
        shoal_driver_send_error(c, correlation_id, SHOAL_EINVAL, msg);
    }
}

static void invalid_command(shoal_driver_conductor_t *c, int32_t type, size_t length)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "dropped malformed command type %d length %zu", type, length);
    (*c->system_counters[SHOAL_SYSTEM_COUNTER_INVALID_COMMANDS])++;
    shoal_driver_record_error(c, SHOAL_EINVAL, msg);
}

/* Copies a command's fixed part out of the record (aligned); false, and
 * counted as invalid, if the record is shorter. */
static bool read_fixed_part(shoal_driver_conductor_t *c, int32_t type, const uint8_t *buffer, size_t length, void *cmd,
    size_t size)
{
    if (length < size)
    {
        invalid_command(c, type, length);
        return false;
    }
    memcpy(cmd, buffer, size);
    return true;
}

static void on_command(int32_t type, const uint8_t *buffer, size_t length, void *clientd)
{
    shoal_driver_conductor_t *c = clientd;
    int64_t now_ms = shoal_epoch_ms();
    if (length < sizeof(shoal_correlated_command_t))
    {
        invalid_command(c, type, length);
        return;
    }
    shoal_correlated_command_t correlated;
    memcpy(&correlated, buffer, sizeof(correlated));

    switch (type)
    {
        case SHOAL_CMD_ADD_PUBLICATION:
        case SHOAL_CMD_ADD_EXCLUSIVE_PUBLICATION:
        case SHOAL_CMD_ADD_SUBSCRIPTION:
        {
            char channel[SHOAL_MAX_CHANNEL_LENGTH];
            shoal_channel_command_t cmd;
            if (!read_fixed_part(c, type, buffer, length, &cmd, sizeof(cmd)))
            {
                return;
            }
            if (!read_channel((const shoal_channel_command_t *)buffer, length, channel))
            {
                invalid_command(c, type, length);
                shoal_driver_send_error(c, correlated.correlation_id, SHOAL_EINVAL, "malformed channel in command");
                return;
            }
            if (NULL == shoal_driver_client_touch(c, correlated.client_id, now_ms))
            {
                shoal_driver_send_error(c, correlated.correlation_id, shoal_errcode(), shoal_errmsg());
                return;
            }
            if (SHOAL_CMD_ADD_SUBSCRIPTION == type)
            {
                shoal_driver_on_add_subscription(c, correlated.client_id, correlated.correlation_id, cmd.stream_id,
                    channel, now_ms);
            }
            else
            {
                on_add_publication(c, correlated.client_id, correlated.correlation_id, cmd.stream_id, channel,
                    SHOAL_CMD_ADD_EXCLUSIVE_PUBLICATION == type, now_ms);
            }
            break;
        }
        case SHOAL_CMD_REMOVE_PUBLICATION:
        case SHOAL_CMD_REMOVE_SUBSCRIPTION:
        {
            shoal_remove_command_t cmd;
            if (!read_fixed_part(c, type, buffer, length, &cmd, sizeof(cmd)))
            {
                return;
            }
            shoal_driver_client_touch(c, correlated.client_id, now_ms);
            on_remove(c, correlated.client_id, correlated.correlation_id, cmd.registration_id,
                SHOAL_CMD_REMOVE_PUBLICATION == type, now_ms);
            break;
        }
        case SHOAL_CMD_ADD_DESTINATION:
        case SHOAL_CMD_REMOVE_DESTINATION:
        {
            shoal_destination_command_t cmd;
            char channel[SHOAL_MAX_CHANNEL_LENGTH];
            if (!read_fixed_part(c, type, buffer, length, &cmd, sizeof(cmd)))
            {
                return;
            }
            if (!read_text(buffer, length, sizeof(cmd), cmd.channel_length, channel))
            {
                invalid_command(c, type, length);
                shoal_driver_send_error(c, correlated.correlation_id, SHOAL_EINVAL, "malformed destination in command");
                return;
            }
            shoal_driver_client_touch(c, correlated.client_id, now_ms);
            shoal_driver_on_destination(c, correlated.client_id, correlated.correlation_id, cmd.registration_id,
                channel, SHOAL_CMD_ADD_DESTINATION == type);
            break;
        }
        case SHOAL_CMD_CLIENT_KEEPALIVE: shoal_driver_client_touch(c, correlated.client_id, now_ms); break;
        case SHOAL_CMD_CLIENT_CLOSE: shoal_driver_on_client_close(c, correlated.client_id, now_ms); break;
        default: invalid_command(c, type, length); break;
    }
}

/* A client that died between claiming ring space and committing it would
 * block every command behind it; after the client timeout we pad over it. */
static int check_to_driver_ring(shoal_driver_conductor_t *c, int64_t now_ms)
{
    int64_t consumer = shoal_mpsc_rb_consumer_position(&c->to_driver);
    if (consumer != c->last_to_driver_consumer_position || shoal_mpsc_rb_producer_position(&c->to_driver) == consumer)
    {
        c->last_to_driver_consumer_position = consumer;
        c->time_of_last_to_driver_position_change_ms = now_ms;
        return 0;
    }
    if (now_ms > c->time_of_last_to_driver_position_change_ms + (int64_t)c->ctx->client_liveness_timeout_ms)
    {
        c->time_of_last_to_driver_position_change_ms = now_ms;
        if (shoal_mpsc_rb_unblock(&c->to_driver))
        {
            (*c->system_counters[SHOAL_SYSTEM_COUNTER_UNBLOCKED_COMMANDS])++;
            shoal_driver_record_error(c, SHOAL_EDRIVER, "unblocked the to-driver ring after a client died mid-command");
            return 1;
        }
    }
    return 0;
}

int shoal_driver_conductor_do_work(shoal_driver_conductor_t *c)
{
    const uint64_t corrupt_skips = c->to_driver.corrupt_skips;
    int work = do_agent_messages(c);
    work += (int)shoal_mpsc_rb_read(&c->to_driver, on_command, c, SHOAL_COMMANDS_PER_CYCLE);
    if (c->to_driver.corrupt_skips != corrupt_skips)
    {
        (*c->system_counters[SHOAL_SYSTEM_COUNTER_INVALID_COMMANDS])++;
        shoal_driver_record_error(c, SHOAL_EINVAL, "to-driver ring: skipped records after a corrupt record header");
    }
    int64_t now_ms = shoal_epoch_ms();
    if (now_ms >= c->last_timer_ms + SHOAL_TIMER_INTERVAL_MS)
    {
        c->last_timer_ms = now_ms;
        shoal_mpsc_rb_consumer_heartbeat_time(&c->to_driver, now_ms);
        shoal_store_release(c->system_counters[SHOAL_SYSTEM_COUNTER_DRIVER_HEARTBEAT], now_ms);
        work += shoal_driver_check_client_liveness(c, now_ms);
        work += check_to_driver_ring(c, now_ms);
    }
    work += shoal_driver_tick_publications(c, now_ms);
    if (c->network_publications_count > 0 || c->images_count > 0)
    {
        work += shoal_driver_tick_network_publications(c, now_ms);
        work += shoal_driver_tick_images(c, now_ms);
    }
    if (SHOAL_THREADING_SHARED == c->ctx->threading_mode)
    {
        work += shoal_driver_udp_proxy_do_work(c);
    }
    return work;
}
