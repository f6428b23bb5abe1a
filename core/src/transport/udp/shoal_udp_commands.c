#include "transport/udp/shoal_udp_commands.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "concurrent/shoal_atomic.h"
#include "concurrent/shoal_ring_buffer_descriptor.h"

int shoal_udp_command_queue_init(shoal_udp_command_queue_t *q, size_t capacity)
{
    memset(q, 0, sizeof(*q));
    size_t length = capacity + SHOAL_RB_TRAILER_LENGTH;
    q->buffer = aligned_alloc(SHOAL_CACHE_LINE_LENGTH, SHOAL_ALIGN(length, SHOAL_CACHE_LINE_LENGTH));
    if (NULL == q->buffer)
    {
        return shoal_set_err(SHOAL_ENOMEM, "driver: out of memory for a command queue");
    }
    memset(q->buffer, 0, length);
    if (shoal_mpsc_rb_init(&q->rb, q->buffer, length) < 0)
    {
        free(q->buffer);
        q->buffer = NULL;
        return -1;
    }
    return 0;
}

void shoal_udp_command_queue_close(shoal_udp_command_queue_t *q)
{
    free(q->buffer);
    memset(q, 0, sizeof(*q));
}

static size_t record_length(int32_t type, const shoal_udp_command_t *cmd)
{
    if (SHOAL_UDP_MSG_RESULT == type || SHOAL_UDP_MSG_ERROR == type)
    {
        return offsetof(shoal_udp_command_t, message) + strnlen(cmd->message, sizeof(cmd->message) - 1) + 1;
    }
    return offsetof(shoal_udp_command_t, message);
}

bool shoal_udp_command_queue_offer(shoal_udp_command_queue_t *q, int32_t type, const shoal_udp_command_t *cmd)
{
    return 0 == shoal_mpsc_rb_write(&q->rb, type, cmd, record_length(type, cmd));
}

int shoal_udp_command_queue_post(shoal_udp_command_queue_t *q, int32_t type, const shoal_udp_command_t *cmd)
{
    size_t length = record_length(type, cmd);
    for (;;)
    {
        if (0 == shoal_mpsc_rb_write(&q->rb, type, cmd, length))
        {
            return 0;
        }
        if (SHOAL_EDRIVER != shoal_errcode())
        {
            return -1;
        }
        if (q->shared)
        {
            /* Same thread: make room by running the consumer now, unless we
             * are inside it already (it cannot read its own ring twice). */
            if (q->draining || NULL == q->drain_in_place)
            {
                return shoal_set_err(SHOAL_EDRIVER, "driver: command queue full (%zu bytes)", q->rb.capacity);
            }
            q->drain_in_place(q->drain_clientd);
        }
        else
        {
            if (NULL != q->stop && shoal_load_acquire(q->stop))
            {
                return shoal_set_err(SHOAL_EDRIVER, "driver: stopping, command dropped");
            }
            sched_yield();
        }
    }
}

typedef struct drain_context_stct
{
    shoal_udp_command_handler_t handler;
    void *clientd;
} drain_context_t;

static void on_record(int32_t type, const uint8_t *buffer, size_t length, void *clientd)
{
    const drain_context_t *dc = clientd;
    /* Records are written by this process only; copy out so the handler
     * gets an aligned, terminated command whatever was queued. */
    shoal_udp_command_t cmd;
    size_t n = length < sizeof(cmd) ? length : sizeof(cmd);
    memcpy(&cmd, buffer, n);
    if (n < sizeof(cmd))
    {
        memset((uint8_t *)&cmd + n, 0, sizeof(cmd) - n);
    }
    cmd.message[sizeof(cmd.message) - 1] = '\0';
    dc->handler(type, &cmd, dc->clientd);
}

int shoal_udp_command_queue_drain(shoal_udp_command_queue_t *q, shoal_udp_command_handler_t handler, void *clientd,
    size_t limit)
{
    if (q->draining)
    {
        return 0;
    }
    drain_context_t dc = { handler, clientd };
    q->draining = true;
    size_t n = shoal_mpsc_rb_read(&q->rb, on_record, &dc, limit);
    q->draining = false;
    return (int)n;
}

static void post_to_conductor(shoal_udp_command_queue_t *q, int32_t type, shoal_udp_command_t *cmd)
{
    if (shoal_udp_command_queue_post(q, type, cmd) < 0)
    {
        shoal_err_clear();
    }
}

void shoal_udp_command_queue_post_released(shoal_udp_command_queue_t *q, int32_t command, void *object)
{
    shoal_udp_command_t msg;
    memset(&msg, 0, offsetof(shoal_udp_command_t, message));
    msg.command = command;
    msg.object = object;
    post_to_conductor(q, SHOAL_UDP_MSG_RELEASED, &msg);
}

void shoal_udp_command_queue_post_outcome(shoal_udp_command_queue_t *q, int64_t correlation_id, int rc,
    const char *what)
{
    shoal_udp_command_t msg;
    memset(&msg, 0, offsetof(shoal_udp_command_t, message));
    msg.correlation_id = correlation_id;
    msg.code = rc < 0 ? shoal_errcode() : 0;
    snprintf(msg.message, sizeof(msg.message), "%s: %s", what, rc < 0 ? shoal_errmsg() : "ok");
    shoal_err_clear();
    post_to_conductor(q, correlation_id >= 0 ? SHOAL_UDP_MSG_RESULT : SHOAL_UDP_MSG_ERROR, &msg);
}
