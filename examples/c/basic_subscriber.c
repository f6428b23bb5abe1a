/*
 * basic_subscriber: receives numbered messages from basic_publisher and
 * checks order and content per session.
 *   basic_subscriber [-d dir] [-c channel] [-s stream] [-n count] [-t timeout_s] [-b]
 * Exits 0 when count messages arrived intact and in order; 1 otherwise.
 * -b polls with poll_batch instead of poll.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "example_util.h"
#include "shoal/shoal.h"

typedef struct
{
    long received;
    long errors;
    int32_t session_ids[16];
    uint64_t next_seq[16];
    int sessions;
} state_t;

static void on_message(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    state_t *s = clientd;
    int k = 0;
    while (k < s->sessions && s->session_ids[k] != hdr->session_id)
    {
        k++;
    }
    if (k == s->sessions && s->sessions < 16)
    {
        s->session_ids[s->sessions] = hdr->session_id;
        s->next_seq[s->sessions++] = 0;
    }
    uint64_t seq = s->next_seq[k];
    if (len >= 8)
    {
        memcpy(&seq, buf, 8);
    }
    if (seq != s->next_seq[k])
    {
        if (s->errors++ < 5)
        {
            fprintf(stderr, "basic_subscriber: session %d expected seq %llu got %llu\n", hdr->session_id,
                (unsigned long long)s->next_seq[k], (unsigned long long)seq);
        }
    }
    for (size_t i = 8; i < len; i++)
    {
        if (buf[i] != (uint8_t)(seq + i))
        {
            if (s->errors++ < 5)
            {
                fprintf(stderr, "basic_subscriber: seq %llu byte %zu corrupt\n", (unsigned long long)seq, i);
            }
            break;
        }
    }
    s->next_seq[k] = seq + 1;
    s->received++;
}

int main(int argc, char **argv)
{
    example_options_t o = { .channel = "aeron:ipc", .stream = 1001, .count = 1000, .timeout_s = 30 };
    int batch = 0, opt;
    const char *usage = "basic_subscriber [-d dir] [-c channel] [-s stream] [-n count] [-t timeout] [-b]";
    while ((opt = example_getopt(argc, argv, "d:c:s:n:t:bh", usage, &o)) != -1)
    {
        if ('b' == opt)
        {
            batch = 1;
        }
    }
    shoal_context_t *ctx;
    shoal_client_t *client;
    shoal_subscription_t *sub;
    if (example_connect(o.dir, &ctx, &client) < 0 || shoal_add_subscription(client, o.channel, o.stream, &sub) < 0)
    {
        return example_failed("basic_subscriber");
    }
    printf("basic_subscriber: ready\n");
    fflush(stdout);
    state_t state;
    memset(&state, 0, sizeof(state));
    shoal_fragment_t frags[64];
    time_t deadline = time(NULL) + o.timeout_s;
    while (state.received < o.count && time(NULL) < deadline)
    {
        int n;
        if (batch)
        {
            n = shoal_subscription_poll_batch(sub, frags, 64);
            for (int i = 0; i < n; i++)
            {
                on_message(&state, frags[i].data, frags[i].length, &frags[i].header);
            }
        }
        else
        {
            n = shoal_subscription_poll(sub, on_message, &state, 64);
        }
        if (n < 0)
        {
            return example_failed("basic_subscriber: poll");
        }
        if (0 == n)
        {
            usleep(10);
        }
    }
    printf("basic_subscriber: received %ld messages, %ld errors\n", state.received, state.errors);
    shoal_subscription_close(sub);
    shoal_client_close(client);
    shoal_context_close(ctx);
    return (state.received == o.count && 0 == state.errors) ? 0 : 1;
}
