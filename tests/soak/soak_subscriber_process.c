/* The --subscribe role: a subscriber process, SIGKILLed by the soak at
 * random, whose count of checked messages the soak reads through a shared
 * mapping. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "soak.h"

/* A subscriber process, SIGKILLed by the soak: checks every message after
 * each join, publishes its count in count_path, exits 1 on a problem, 3 when
 * its driver went away. */
int soak_subscribe_main(const char *dir, const char *channel, const char *count_path, uint64_t seed)
{
    static error_record_t errors = { .lock = PTHREAD_MUTEX_INITIALIZER };
    int fd = open(count_path, O_RDWR);
    uint64_t *count = fd < 0 ? MAP_FAILED : mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (fd >= 0)
    {
        close(fd);
    }
    shoal_context_t *ctx = soak_client_context(dir, &errors);
    if (MAP_FAILED == count || NULL == ctx)
    {
        fprintf(stderr, "soak subscriber process: %s: %s\n", count_path,
            NULL == ctx ? shoal_errmsg() : strerror(errno));
        return 1;
    }
    subscriber_t s;
    soak_subscriber_init(&s, "subscriber process", channel, ctx, 1, seed);
    shoal_client_t *client = NULL;
    shoal_subscription_t *sub = NULL;
    int status = 0;
    if (shoal_client_connect(&client, ctx) < 0 || shoal_add_subscription(client, channel, STREAM, &sub) < 0)
    {
        fprintf(stderr, "soak subscriber process: connect: %s\n", shoal_errmsg());
        status = soak_driver_gone_code(shoal_errcode()) ? EXIT_DRIVER_LOST : 1;
    }
    while (0 == status)
    {
        int n = shoal_subscription_poll(sub, soak_subscriber_on_message, &s, 64);
        if (n < 0)
        {
            fprintf(stderr, "soak subscriber process: poll: %s\n", shoal_errmsg());
            status = SHOAL_ECLOSED == shoal_errcode() ? EXIT_DRIVER_LOST : 1;
        }
        else if (s.error[0] || s.lost || s.duplicated)
        {
            fprintf(stderr, "soak: %s (lost %" PRIu64 ", duplicated %" PRIu64 ")\n", s.error, s.lost, s.duplicated);
            status = 1;
        }
        *(volatile uint64_t *)count = s.messages;
        if (0 == n)
        {
            sched_yield();
        }
    }
    if (NULL != client)
    {
        shoal_client_close(client);
    }
    shoal_context_close(ctx);
    soak_subscriber_free(&s);
    munmap(count, sizeof(uint64_t));
    return status;
}

int soak_spawn_subscriber(const char *self, const char *dir, const char *channel, const char *count_path, child_t *c,
    uint64_t *rng)
{
    char seed[32];
    snprintf(seed, sizeof(seed), "%" PRIu64, soak_rng_next(rng));
    char *argv[] = { (char *)self, "--subscribe", (char *)dir, (char *)channel, (char *)count_path, seed, NULL };
    return soak_spawn(&c->pid, argv);
}
