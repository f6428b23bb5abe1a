/*
 * UDP frames off the wire: anyone who can reach a driver's port decides
 * them. Two layers:
 *   - the pure validators every datagram meets first
 *     (shoal_udp_datagram_type, shoal_udp_data_datagram_check);
 *   - the real receive path: datagrams sent over loopback to a live
 *     conductor (shared threading mode) that has a UDP subscription with an
 *     image (receive endpoint: DATA/PAD insert, SETUP, RTTM, gap/NAK logic)
 *     and the UDP publication feeding it (send endpoint: SM, NAK, RTTM, ERR,
 *     RSP_SETUP, retransmits, flow control).
 * The conductor lives for the whole run (one handshake, not one per input),
 * so state carries over between inputs as it does on a real network.
 *
 * Term ids in the input are relative to the publication's initial term id
 * (the harness adds it to the term id fields of DATA/PAD, SETUP, SM and
 * NAK), so seeds stay meaningful although the driver picks it at random.
 *
 * Input: records of <u8 flags><u16 length><datagram>; flags bit 0: to the
 * publication's control address instead of the subscription's endpoint;
 * bit 1: leave term ids as they are; bit 2: the second pair, stream 1002 with
 * a reliable=false subscription (receivers pad over gaps instead of NAKing). Inputs with a SETUP naming terms over
 * 1 MiB are refused (each image would take three of them in /dev/shm).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/shoal_context.h"
#include "driver/shoal_driver_conductor.h"
#include "protocol/shoal_cnc_descriptor.h"
#include "protocol/shoal_control_protocol.h"
#include "protocol/shoal_frames.h"
#include "transport/udp/shoal_network_publication.h"
#include "transport/udp/shoal_receive_channel_endpoint.h"
#include "transport/udp/shoal_send_channel_endpoint.h"
#include "transport/udp/shoal_udp_frames.h"
#include "util/shoal_clock.h"
#include "util/shoal_fs.h"

#include "fuzz_driver_support.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STREAM_ID    1001
#define SESSION_ID   7
#define MAX_DATAGRAM 65536

static shoal_context_t *ctx;
static uint8_t *cnc_memory;
static shoal_driver_conductor_t *conductor;
static shoal_mpsc_rb_t to_driver;
static int fd = -1;
/* [0]: stream 1001, reliable; [1]: stream 1002, reliable=false (gaps padded over). */
static struct sockaddr_in receiver_address[2];
static struct sockaddr_in sender_address[2];
static int32_t initial_term_id[2];
static uint8_t datagram[MAX_DATAGRAM];

static void cleanup(void)
{
    if (NULL != conductor)
    {
        shoal_driver_conductor_close(conductor);
    }
    shoal_fs_delete_dir(ctx->dir);
}

static void send_command(int32_t type, int64_t correlation_id, int32_t stream_id, const char *channel)
{
    uint8_t buf[256];
    shoal_channel_command_t cmd = { { 1, correlation_id }, stream_id, (int32_t)strlen(channel) };
    memcpy(buf, &cmd, sizeof(cmd));
    memcpy(buf + sizeof(cmd), channel, strlen(channel));
    if (shoal_mpsc_rb_write(&to_driver, type, buf, sizeof(cmd) + strlen(channel)) < 0)
    {
        abort();
    }
    for (int i = 0; i < 10; i++)
    {
        (void)shoal_driver_conductor_do_work(conductor);
    }
}

static void loopback_address(struct sockaddr_in *out, const struct sockaddr_storage *bound)
{
    memset(out, 0, sizeof(*out));
    out->sin_family = AF_INET;
    out->sin_port = ((const struct sockaddr_in *)bound)->sin_port;
    out->sin_addr = ((const struct sockaddr_in *)bound)->sin_addr;
    if (htonl(INADDR_ANY) == out->sin_addr.s_addr)
    {
        out->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
}

static void set_up(void)
{
    ctx = fuzz_driver_context("udp");
    atexit(cleanup);
    size_t cnc_length = 0;
    cnc_memory = fuzz_cnc_memory(ctx, &cnc_length);
    shoal_cnc_view_t view;
    conductor = aligned_alloc(64, SHOAL_ALIGN(sizeof(*conductor), 64));
    if (shoal_cnc_view_init(&view, cnc_memory, cnc_length) < 0 ||
        shoal_driver_conductor_init(conductor, ctx, &view) < 0 ||
        shoal_mpsc_rb_init(&to_driver, view.to_driver, (size_t)view.meta->to_driver_buffer_length) < 0)
    {
        abort();
    }

    static const char *const SUBSCRIPTIONS[2] = { "aeron:udp?endpoint=127.0.0.1:0",
        "aeron:udp?endpoint=127.0.0.2:0|reliable=false" };
    for (int k = 0; k < 2; k++)
    {
        send_command(SHOAL_CMD_ADD_SUBSCRIPTION, 2 + 2 * k, STREAM_ID + k, SUBSCRIPTIONS[k]);
        if (k + 1 != conductor->receive_endpoints_count)
        {
            fprintf(stderr, "fuzz_udp_frames: no receive endpoint: %s\n", shoal_errmsg());
            abort();
        }
        loopback_address(&receiver_address[k], &conductor->receive_endpoints[k]->udp.transport.recv_local);
        char channel[128];
        snprintf(channel, sizeof(channel), "aeron:udp?endpoint=127.0.0.%d:%u|session-id=%d", 1 + k,
            (unsigned)ntohs(receiver_address[k].sin_port), SESSION_ID);
        send_command(SHOAL_CMD_ADD_PUBLICATION, 3 + 2 * k, STREAM_ID + k, channel);
        if (k + 1 != conductor->send_endpoints_count || k + 1 != conductor->network_publications_count)
        {
            fprintf(stderr, "fuzz_udp_frames: no publication: %s\n", shoal_errmsg());
            abort();
        }
        loopback_address(&sender_address[k], &conductor->send_endpoints[k]->udp.transport.local);
        initial_term_id[k] = conductor->network_publications[k]->log.initial_term_id;
        /* SETUP -> image -> status message: wait until the stream is connected. */
        int64_t deadline = shoal_epoch_ms() + 5000;
        while (conductor->images_count < k + 1 && shoal_epoch_ms() < deadline)
        {
            (void)shoal_driver_conductor_do_work(conductor);
        }
        if (conductor->images_count < k + 1)
        {
            fprintf(stderr, "fuzz_udp_frames: no image after 5 s\n");
            abort();
        }
    }
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
    {
        abort();
    }
}

static void add_initial_term_id(uint8_t *buf, size_t length, size_t offset, int32_t initial)
{
    if (offset + 4 <= length)
    {
        uint32_t v;
        memcpy(&v, buf + offset, 4);
        v += (uint32_t)initial;
        memcpy(buf + offset, &v, 4);
    }
}

/* Term ids in the input are relative to the stream's initial term id. */
static void relocate_term_ids(uint8_t *buf, size_t length, int32_t initial)
{
    if (length < SHOAL_FRAME_HEADER_LENGTH)
    {
        return;
    }
    uint16_t type;
    memcpy(&type, buf + SHOAL_FRAME_TYPE_OFFSET, 2);
    switch (type)
    {
        case SHOAL_HDR_TYPE_DATA:
        case SHOAL_HDR_TYPE_PAD:
            /* every frame of the datagram, at the offsets the validator walks */
            for (size_t at = 0; at + SHOAL_DATA_HEADER_LENGTH <= length;)
            {
                add_initial_term_id(buf, length, at + SHOAL_DATA_TERM_ID_OFFSET, initial);
                int32_t frame_length;
                memcpy(&frame_length, buf + at, 4);
                if (frame_length < SHOAL_DATA_HEADER_LENGTH)
                {
                    break;
                }
                at += SHOAL_ALIGN((size_t)frame_length, SHOAL_FRAME_ALIGNMENT);
            }
            break;
        case SHOAL_HDR_TYPE_SETUP:
            add_initial_term_id(buf, length, 20, initial);
            add_initial_term_id(buf, length, 24, initial);
            break;
        case SHOAL_HDR_TYPE_SM:
        case SHOAL_HDR_TYPE_NAK: add_initial_term_id(buf, length, 16, initial); break;
        default: break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (NULL == ctx)
    {
        set_up();
    }
    /* A SETUP makes the receiver allocate (and pre-touch) three terms of the
     * length it names: up to 1 MiB here, so the fuzzer cannot fill /dev/shm. */
    fuzz_record_t r;
    for (size_t at = 0; fuzz_next_record(data, size, &at, &r);)
    {
        uint16_t type;
        int32_t term_length;
        if (r.length >= 32 && (memcpy(&type, r.body + SHOAL_FRAME_TYPE_OFFSET, 2), SHOAL_HDR_TYPE_SETUP == type) &&
            (memcpy(&term_length, r.body + 28, 4), term_length > 1024 * 1024))
        {
            return -1;
        }
    }
    /* The harness is the client of both streams: stay alive. */
    shoal_correlated_command_t keepalive = { 1, 0 };
    (void)shoal_mpsc_rb_write(&to_driver, SHOAL_CMD_CLIENT_KEEPALIVE, &keepalive, sizeof(keepalive));
    int sent = 0;
    for (size_t at = 0; fuzz_next_record(data, size, &at, &r);)
    {
        uint8_t flags = r.selector;
        size_t length = r.length;
        memcpy(datagram, r.body, length);
        if (0 == (flags & 2))
        {
            relocate_term_ids(datagram, length, initial_term_id[(flags >> 2) & 1]);
        }

        /* Layer 1: the validators, on exactly length bytes. */
        uint8_t *copy = malloc(length + 1);
        if (NULL != copy)
        {
            memcpy(copy, datagram, length);
            int type = shoal_udp_datagram_type(copy, length);
            if ((SHOAL_HDR_TYPE_DATA == type || SHOAL_HDR_TYPE_PAD == type))
            {
                int32_t span = shoal_udp_data_datagram_check(copy, length, 64 * 1024);
                if (span > 64 * 1024)
                {
                    abort();
                }
            }
            free(copy);
        }

        /* Layer 2: over loopback into the driver. */
        const int k = (flags >> 2) & 1;
        const struct sockaddr_in *to = (flags & 1) ? &sender_address[k] : &receiver_address[k];
        if (sendto(fd, datagram, length, 0, (const struct sockaddr *)to, sizeof(*to)) >= 0)
        {
            sent++;
        }
        if (sent % 8 == 0)
        {
            (void)shoal_driver_conductor_do_work(conductor);
        }
    }
    for (int i = 0; i < 3; i++)
    {
        (void)shoal_driver_conductor_do_work(conductor);
    }
    return 0;
}
