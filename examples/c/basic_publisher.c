/*
 * basic_publisher: publishes numbered messages to a running driver (shoald).
 *   basic_publisher [-d dir] [-c channel] [-s stream] [-n count] [-l length]
 *                   [-x] [-r rate_per_s] [-k]
 * -x uses an exclusive publication; -l 0 picks random lengths 1..4*mtu;
 * -k claims a message and never commits it, then sleeps (fault tests).
 * Each message starts with its 8-byte sequence number; every other byte is
 * (seq + index) & 0xFF so a subscriber can check the content.
 */
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "example_util.h"
#include "shoal/shoal.h"

static void fill(uint8_t *buf, size_t len, uint64_t seq)
{
    for (size_t i = 0; i < len; i++)
    {
        buf[i] = (uint8_t)(seq + i);
    }
    if (len >= 8)
    {
        memcpy(buf, &seq, 8);
    }
}

int main(int argc, char **argv)
{
    example_options_t o = { .channel = "aeron:ipc", .stream = 1001, .count = 1000 };
    long length = 32, rate = 0;
    int exclusive = 0, stuck_claim = 0, opt;
    const char *usage = "basic_publisher [-d dir] [-c channel] [-s stream] [-n count] [-l length] [-x] [-r rate] [-k]";
    while ((opt = example_getopt(argc, argv, "d:c:s:n:l:xr:kh", usage, &o)) != -1)
    {
        switch (opt)
        {
            case 'l': length = atol(optarg); break;
            case 'x': exclusive = 1; break;
            case 'r': rate = atol(optarg); break;
            case 'k': stuck_claim = 1; break;
        }
    }
    shoal_context_t *ctx;
    shoal_client_t *client;
    shoal_publication_t *pub;
    if (example_connect(o.dir, &ctx, &client) < 0)
    {
        return example_failed("basic_publisher");
    }
    int rc = exclusive ? shoal_add_exclusive_publication(client, o.channel, o.stream, &pub)
                       : shoal_add_publication(client, o.channel, o.stream, &pub);
    if (rc < 0)
    {
        return example_failed("basic_publisher");
    }
    while (!shoal_publication_is_connected(pub))
    {
        if (shoal_client_is_closed(client))
        {
            fprintf(stderr, "basic_publisher: client closed while waiting for a subscriber\n");
            return 1;
        }
        usleep(1000);
    }
    size_t max = shoal_publication_max_message_length(pub);
    size_t mtu_payload = shoal_publication_max_payload_length(pub);
    uint8_t *buf = malloc(max);
    srand(42);
    long back_pressured = 0;
    struct timespec gap = { 0, rate > 0 ? 1000000000L / rate : 0 };
    for (long i = 0; i < o.count; i++)
    {
        size_t len = length > 0 ? (size_t)length : 1 + (size_t)rand() % (4 * mtu_payload);
        if (len > max)
        {
            len = max;
        }
        fill(buf, len, (uint64_t)i);
        int64_t r;
        while ((r = shoal_publication_offer(pub, buf, len)) < 0)
        {
            if (SHOAL_ERROR == r || SHOAL_CLOSED == r || (SHOAL_NOT_CONNECTED == r && shoal_client_is_closed(client)))
            {
                fprintf(stderr, "basic_publisher: offer failed at %ld: %ld %s\n", i, (long)r, shoal_errmsg());
                return 1;
            }
            back_pressured++;
            /* Give the core away while waiting: the driver thread that moves
             * the window may need it (fewer cores than busy threads). */
            sched_yield();
        }
        if (rate > 0)
        {
            nanosleep(&gap, NULL);
        }
    }
    if (stuck_claim)
    {
        shoal_claim_t claim;
        while (shoal_publication_try_claim(pub, 64, &claim) < 0)
        {
        }
        printf("basic_publisher: claimed and holding, never committing\n");
        fflush(stdout);
        for (;;)
        {
            sleep(1);
        }
    }
    printf("basic_publisher: sent %ld messages (%ld back-pressured retries) session %d\n", o.count, back_pressured,
        shoal_publication_session_id(pub));
    free(buf);
    shoal_publication_close(pub);
    shoal_client_close(client);
    shoal_context_close(ctx);
    return 0;
}
