/*
 * Messages between clients and the driver. Commands travel client -> driver
 * through the to-driver MPSC ring; responses and events travel driver ->
 * clients through the broadcast buffer, where every client sees every
 * message and keeps those matching its correlation ids or subscriptions.
 *
 * All structs are fixed-layout prefixes; variable text (channel, file name)
 * follows as <int32 length><bytes>. The driver validates every length
 * against the record length before use: a malformed command is dropped and
 * counted, never trusted.
 */
#ifndef SHOAL_CONTROL_PROTOCOL_H
#define SHOAL_CONTROL_PROTOCOL_H

#include <stdint.h>

/* client -> driver */
#define SHOAL_CMD_ADD_PUBLICATION           0x01
#define SHOAL_CMD_REMOVE_PUBLICATION        0x02
#define SHOAL_CMD_ADD_EXCLUSIVE_PUBLICATION 0x03
#define SHOAL_CMD_ADD_SUBSCRIPTION          0x04
#define SHOAL_CMD_REMOVE_SUBSCRIPTION       0x05
#define SHOAL_CMD_CLIENT_KEEPALIVE          0x06
#define SHOAL_CMD_CLIENT_CLOSE              0x07
#define SHOAL_CMD_ADD_DESTINATION           0x08
#define SHOAL_CMD_REMOVE_DESTINATION        0x09

/* driver -> clients */
#define SHOAL_RSP_ON_ERROR                       0x0F01
#define SHOAL_RSP_ON_PUBLICATION_READY           0x0F02
#define SHOAL_RSP_ON_OPERATION_SUCCESS           0x0F04
#define SHOAL_RSP_ON_AVAILABLE_IMAGE             0x0F05
#define SHOAL_RSP_ON_UNAVAILABLE_IMAGE           0x0F06
#define SHOAL_RSP_ON_EXCLUSIVE_PUBLICATION_READY 0x0F07
#define SHOAL_RSP_ON_SUBSCRIPTION_READY          0x0F08
#define SHOAL_RSP_ON_CLIENT_TIMEOUT              0x0F0A

#define SHOAL_MAX_CHANNEL_LENGTH 1024
#define SHOAL_MAX_PATH_LENGTH    512
#define SHOAL_MAX_ERROR_TEXT     400

#pragma pack(push, 4)
typedef struct shoal_correlated_command_stct
{
    int64_t client_id;
    int64_t correlation_id;
} shoal_correlated_command_t;

/* ADD_PUBLICATION, ADD_EXCLUSIVE_PUBLICATION, ADD_SUBSCRIPTION */
typedef struct shoal_channel_command_stct
{
    shoal_correlated_command_t correlated;
    int32_t stream_id;
    int32_t channel_length;
    /* char channel[channel_length] */
} shoal_channel_command_t;

/* REMOVE_PUBLICATION, REMOVE_SUBSCRIPTION */
typedef struct shoal_remove_command_stct
{
    shoal_correlated_command_t correlated;
    int64_t registration_id;
} shoal_remove_command_t;

/* ADD_DESTINATION, REMOVE_DESTINATION: a manual MDC publication (by its
 * registration id) gains or loses a destination; answered by
 * OPERATION_SUCCESS or ERROR. */
typedef struct shoal_destination_command_stct
{
    shoal_correlated_command_t correlated;
    int64_t registration_id;
    int32_t channel_length;
    /* char channel[channel_length]: "aeron:udp?endpoint=host:port" */
} shoal_destination_command_t;

typedef struct shoal_error_response_stct
{
    int64_t offending_command_correlation_id;
    int32_t error_code;
    int32_t error_message_length;
    /* char message[error_message_length] */
} shoal_error_response_t;

typedef struct shoal_operation_succeeded_stct
{
    int64_t correlation_id;
} shoal_operation_succeeded_t;

typedef struct shoal_publication_ready_stct
{
    int64_t correlation_id;
    int64_t registration_id;
    int32_t session_id;
    int32_t stream_id;
    int32_t position_limit_counter_id;
    int32_t publisher_position_counter_id;
    int32_t log_file_length;
    /* char log_file[log_file_length] */
} shoal_publication_ready_t;

typedef struct shoal_subscription_ready_stct
{
    int64_t correlation_id;
    int32_t channel_status_indicator_id;
} shoal_subscription_ready_t;

typedef struct shoal_image_ready_stct
{
    int64_t correlation_id; /* image id */
    int64_t subscription_registration_id;
    int32_t session_id;
    int32_t stream_id;
    int32_t subscriber_position_id;
    int32_t log_file_length;
    /* char log_file[log_file_length]; int32 source_length; char source[] */
} shoal_image_ready_t;

typedef struct shoal_image_unavailable_stct
{
    int64_t correlation_id; /* image id */
    int64_t subscription_registration_id;
    int32_t stream_id;
} shoal_image_unavailable_t;

typedef struct shoal_client_timeout_stct
{
    int64_t client_id;
} shoal_client_timeout_t;
#pragma pack(pop)

#endif
