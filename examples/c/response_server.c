/*
 * response_server: answers requests over response channels, as Aeron's
 * aeron-samples response_server does (and talks to it on the wire).
 *
 *   response_server [-d dir] [-c request-channel] [-C response-control-channel]
 *                   [-s request-stream] [-r response-stream] [-n requests] [-t timeout_s]
 *
 * It subscribes to the request channel; for every requester (an image of
 * that subscription) it adds a publication on
 * "<response-control-channel>|control-mode=response|response-correlation-id=<image correlation id>",
 * which reaches that requester only, and answers each request on it with
 * "responding to message: <request>". Many requesters share the one control
 * port. Exits 0 after serving -n requests (0: until the timeout or SIGINT),
 * 1 on error.
 * The client runs in conductor-invoker mode, so the image handlers run on
 * the main thread (in shoal_client_do_work and add/close calls) and share
 * the requester table without locks.
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "example_util.h"
#include "shoal/shoal.h"

#define MAX_REQUESTERS 64

static volatile sig_atomic_t running = 1;

static void on_sigint(int signal)
{
    (void)signal;
    running = 0;
}

typedef struct requester_stct
{
    int64_t image_correlation_id;
    int32_t session_id;
    shoal_publication_t *publication; /* NULL until made (main loop: handlers may not add) */
    int gone;
} requester_t;

typedef struct server_stct
{
    const char *response_control_channel;
    int32_t response_stream;
    requester_t requesters[MAX_REQUESTERS];
    int count;
    long served;
    long failed;
} server_t;

static void on_available(void *clientd, shoal_subscription_t *sub, shoal_image_t *image)
{
    (void)sub;
    server_t *s = clientd;
    if (s->count < MAX_REQUESTERS)
    {
        requester_t *r = &s->requesters[s->count++];
        memset(r, 0, sizeof(*r));
        r->image_correlation_id = shoal_image_correlation_id(image);
        r->session_id = shoal_image_session_id(image);
        printf("response_server: requester session %d from %s (image %" PRId64 ")\n", r->session_id,
            shoal_image_source_identity(image), r->image_correlation_id);
        fflush(stdout);
    }
}

static void on_unavailable(void *clientd, shoal_subscription_t *sub, shoal_image_t *image)
{
    (void)sub;
    server_t *s = clientd;
    for (int i = 0; i < s->count; i++)
    {
        if (s->requesters[i].image_correlation_id == shoal_image_correlation_id(image))
        {
            s->requesters[i].gone = 1;
        }
    }
}

/* Adds the response publication of every new requester; closes those of requesters gone. */
static int update_requesters(server_t *s, shoal_client_t *client)
{
    for (int i = 0; i < s->count; i++)
    {
        requester_t *r = &s->requesters[i];
        if (NULL == r->publication && !r->gone)
        {
            char channel[512];
            snprintf(channel, sizeof(channel), "%s|control-mode=response|response-correlation-id=%" PRId64,
                s->response_control_channel, r->image_correlation_id);
            if (shoal_add_publication(client, channel, s->response_stream, &r->publication) < 0)
            {
                fprintf(stderr, "response_server: %s\n", shoal_errmsg());
                return -1;
            }
            printf("response_server: responding on %s stream %d\n", channel, s->response_stream);
            fflush(stdout);
        }
        if (r->gone)
        {
            if (NULL != r->publication)
            {
                shoal_publication_close(r->publication);
            }
            s->requesters[i--] = s->requesters[--s->count];
        }
    }
    return 0;
}

static void on_request(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    server_t *s = clientd;
    shoal_publication_t *pub = NULL;
    for (int i = 0; i < s->count && NULL == pub; i++)
    {
        pub = s->requesters[i].session_id == hdr->session_id ? s->requesters[i].publication : NULL;
    }
    char answer[512];
    int n = snprintf(answer, sizeof(answer), "responding to message: %.*s", (int)(len < 400 ? len : 400),
        (const char *)buf);
    /* The response publication connects once the requester's status
     * messages reach it (a round trip after it was made): wait up to 2 s. */
    int64_t result = SHOAL_NOT_CONNECTED;
    for (int attempt = 0; NULL != pub && attempt < 20000; attempt++)
    {
        result = shoal_publication_offer(pub, (const uint8_t *)answer, (size_t)n);
        if (result > 0 ||
            (SHOAL_NOT_CONNECTED != result && SHOAL_BACK_PRESSURED != result && SHOAL_ADMIN_ACTION != result))
        {
            break;
        }
        usleep(100);
    }
    if (result > 0)
    {
        s->served++;
    }
    else
    {
        s->failed++;
        fprintf(stderr, "response_server: no answer to session %d (%" PRId64 ")\n", hdr->session_id, result);
    }
}

int main(int argc, char **argv)
{
    /* -c and -s: the request channel and stream; -n: requests to serve (0: no limit) */
    example_options_t o = { .channel = "aeron:udp?endpoint=localhost:20125", .stream = 10000, .timeout_s = 60 };
    server_t s;
    memset(&s, 0, sizeof(s));
    s.response_control_channel = "aeron:udp?control=localhost:20126";
    s.response_stream = 10001;
    int opt;
    const char *usage = "response_server [-d dir] [-c request-channel] [-C response-control-channel] "
                        "[-s request-stream] [-r response-stream] [-n requests] [-t timeout_s]";
    while ((opt = example_getopt(argc, argv, "d:c:C:s:r:n:t:h", usage, &o)) != -1)
    {
        switch (opt)
        {
            case 'C': s.response_control_channel = optarg; break;
            case 'r': s.response_stream = atoi(optarg); break;
        }
    }
    shoal_context_t *ctx;
    shoal_client_t *client;
    shoal_subscription_t *sub;
    if (example_context(o.dir, &ctx) < 0 || shoal_context_set_use_conductor_invoker(ctx, true) < 0 ||
        shoal_client_connect(&client, ctx) < 0 ||
        shoal_add_subscription_with_handlers(client, o.channel, o.stream, on_available, on_unavailable, &s, &sub) < 0)
    {
        return example_failed("response_server");
    }
    printf("response_server: ready on %s stream %d\n", o.channel, o.stream);
    fflush(stdout);
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    time_t deadline = time(NULL) + o.timeout_s;
    int rc = 0;
    while (running && (0 == o.count || s.served < o.count) && time(NULL) < deadline)
    {
        if (shoal_client_do_work(client) < 0 || update_requesters(&s, client) < 0)
        {
            rc = 1;
            break;
        }
        int n = shoal_subscription_poll(sub, on_request, &s, 16);
        if (n < 0)
        {
            rc = example_failed("response_server: poll");
            break;
        }
        if (0 == n)
        {
            usleep(100);
        }
    }
    printf("response_server: served %ld requests, %ld unanswered\n", s.served, s.failed);
    shoal_subscription_close(sub);
    for (int i = 0; i < s.count; i++)
    {
        if (NULL != s.requesters[i].publication)
        {
            shoal_publication_close(s.requesters[i].publication);
        }
    }
    shoal_client_close(client);
    shoal_context_close(ctx);
    return 0 == rc && (0 == o.count || s.served >= o.count) ? 0 : 1;
}
