/*
 * response_client: sends requests and waits for each answer over a response
 * channel, as Aeron's aeron-samples response_client does (and talks to its
 * response_server on the wire).
 *
 *   response_client [-d dir] [-c request-channel] [-C response-control-channel]
 *                   [-s request-stream] [-r response-stream] [-m messages] [-t timeout_s]
 *
 * First a subscription on "<response-control-channel>|control-mode=response"
 * (it hears nothing until the server names its response session), then the
 * request publication on "<request-channel>|response-correlation-id=<that
 * subscription's registration id>". Once both are connected it sends
 * "Hello World! <i>" and waits for each response. Exits 0 when every
 * request was answered.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "example_util.h"
#include "shoal/shoal.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_response(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    long *responses = clientd;
    (*responses)++;
    printf("Response to stream %d from session %d (%zu bytes) <<%.*s>>\n", hdr->stream_id, hdr->session_id, len,
        (int)len, (const char *)buf);
}

int main(int argc, char **argv)
{
    /* -c and -s: the request channel and stream */
    example_options_t o = { .channel = "aeron:udp?endpoint=localhost:20125", .stream = 10000, .timeout_s = 10 };
    const char *response_control_channel = "aeron:udp?control=localhost:20126";
    int32_t response_stream = 10001;
    long messages = 10;
    int opt;
    const char *usage = "response_client [-d dir] [-c request-channel] [-C response-control-channel] "
                        "[-s request-stream] [-r response-stream] [-m messages] [-t timeout_s]";
    while ((opt = example_getopt(argc, argv, "d:c:C:s:r:m:t:h", usage, &o)) != -1)
    {
        switch (opt)
        {
            case 'C': response_control_channel = optarg; break;
            case 'r': response_stream = atoi(optarg); break;
            case 'm': messages = atol(optarg); break;
        }
    }
    shoal_context_t *ctx;
    shoal_client_t *client;
    shoal_subscription_t *sub;
    shoal_publication_t *pub;
    char channel[512];
    snprintf(channel, sizeof(channel), "%s|control-mode=response", response_control_channel);
    if (example_connect(o.dir, &ctx, &client) < 0 || shoal_add_subscription(client, channel, response_stream, &sub) < 0)
    {
        return example_failed("response_client");
    }
    printf("Subscribing to response channel %s on stream %d\n", channel, response_stream);
    snprintf(channel, sizeof(channel), "%s|response-correlation-id=%" PRId64, o.channel,
        shoal_subscription_registration_id(sub));
    if (shoal_add_publication(client, channel, o.stream, &pub) < 0)
    {
        return example_failed("response_client");
    }
    printf("Publishing to channel %s on stream %d\n", channel, o.stream);
    fflush(stdout);

    int64_t deadline = now_ms() + o.timeout_s * 1000;
    /* Connected both ways: the server heard us and its response stream reached us. */
    while ((!shoal_publication_is_connected(pub) || !shoal_subscription_is_connected(sub)) && now_ms() < deadline)
    {
        usleep(1000);
    }
    long responses = 0, sent = 0;
    for (long i = 0; i < messages && now_ms() < deadline; i++)
    {
        char message[64];
        int n = snprintf(message, sizeof(message), "Hello World! %ld", i);
        int64_t result;
        while ((result = shoal_publication_offer(pub, (const uint8_t *)message, (size_t)n)) < 0 && now_ms() < deadline)
        {
            if (SHOAL_CLOSED == result || SHOAL_ERROR == result)
            {
                return example_failed("response_client: offer");
            }
            usleep(100);
        }
        if (result < 0)
        {
            break;
        }
        sent++;
        while (responses < sent && now_ms() < deadline)
        {
            if (0 == shoal_subscription_poll(sub, on_response, &responses, 16))
            {
                usleep(50);
            }
        }
    }
    printf("response_client: %ld requests sent, %ld responses\n", sent, responses);
    shoal_publication_close(pub);
    shoal_subscription_close(sub);
    shoal_client_close(client);
    shoal_context_close(ctx);
    return sent == messages && responses == messages ? 0 : 1;
}
