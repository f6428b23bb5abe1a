/*
 * consumer: the smallest program a user builds against an installed shoal
 * (CMake package or pkg-config), using <shoal/shoal.h> only. It connects to
 * a running driver, sends N messages to itself over IPC and counts them
 * back, then prints the library version.
 *   consumer [-d dir] [-n count]
 * Exits 0 when every message came back in order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <shoal/shoal.h>

typedef struct
{
    long received;
    long out_of_order;
} tally_t;

static void on_message(void *clientd, const uint8_t *buf, size_t len, const shoal_header_t *hdr)
{
    (void)hdr;
    tally_t *t = clientd;
    long seq = -1;
    if (len == sizeof(seq))
    {
        memcpy(&seq, buf, sizeof(seq));
    }
    t->out_of_order += seq != t->received;
    t->received++;
}

static int fail(const char *what)
{
    fprintf(stderr, "consumer: %s: %s\n", what, shoal_errmsg());
    return 1;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    long count = 1000;
    for (int i = 1; i < argc; i++)
    {
        if (0 == strcmp(argv[i], "-d") && i + 1 < argc)
        {
            dir = argv[++i];
        }
        else if (0 == strcmp(argv[i], "-n") && i + 1 < argc)
        {
            count = atol(argv[++i]);
        }
        else
        {
            fprintf(stderr, "usage: consumer [-d dir] [-n count]\n");
            return 2;
        }
    }
    shoal_context_t *ctx;
    shoal_client_t *client;
    shoal_publication_t *pub;
    shoal_subscription_t *sub;
    if (shoal_context_init(&ctx) < 0 || (dir && shoal_context_set_dir(ctx, dir) < 0))
    {
        return fail("context");
    }
    if (shoal_client_connect(&client, ctx) < 0)
    {
        return fail("connect");
    }
    if (shoal_add_subscription(client, "aeron:ipc", 7, &sub) < 0 ||
        shoal_add_publication(client, "aeron:ipc", 7, &pub) < 0)
    {
        return fail("add");
    }
    tally_t tally = { 0, 0 };
    time_t deadline = time(NULL) + 30;
    long sent = 0;
    while (tally.received < count && time(NULL) < deadline)
    {
        if (sent < count && shoal_publication_offer(pub, (const uint8_t *)&sent, sizeof(sent)) > 0)
        {
            sent++;
        }
        if (shoal_subscription_poll(sub, on_message, &tally, 16) < 0)
        {
            return fail("poll");
        }
    }
    printf("consumer: libshoal %s, %ld of %ld messages back, %ld out of order\n", shoal_version(), tally.received,
        count, tally.out_of_order);
    shoal_publication_close(pub);
    shoal_subscription_close(sub);
    shoal_client_close(client);
    shoal_context_close(ctx);
    return tally.received == count && 0 == tally.out_of_order ? 0 : 1;
}
