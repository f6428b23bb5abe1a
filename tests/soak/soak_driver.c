/* The soak's driver: the --driver role (a driver process with a loss
 * generator on its UDP traffic), starting it, and reading its counters. */
#define _GNU_SOURCE
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "protocol/shoal_cnc_descriptor.h"
#include "soak.h"
#include "util/shoal_counters.h"

atomic_int soak_driver_gen;

static volatile int driver_stop_flag = 0;

static void on_sigterm(int sig)
{
    (void)sig;
    driver_stop_flag = 1;
}

int soak_driver_main(const char *dir, const char *loss_seed)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigterm;
    sigaction(SIGTERM, &sa, NULL);
    shoal_context_t *ctx = NULL;
    if (shoal_context_init(&ctx) < 0 || shoal_context_set_dir(ctx, dir) < 0 ||
        shoal_context_set(ctx, "DIR_DELETE_ON_START", "1") < 0 ||
        shoal_context_set(ctx, "DIR_DELETE_ON_SHUTDOWN", "1") < 0 ||
        shoal_context_set(ctx, "DRIVER_TIMEOUT_MS", DRIVER_TIMEOUT_MS) < 0 ||
        /* Short enough that SIGKILLed clients are reclaimed within a run; long
         * enough that a live client whose conductor waits for a core on a
         * loaded 2-core machine (ASan, 36 processes) is not timed out: 1 s was
         * not (the reference subscriber's client, twice). */
        shoal_context_set(ctx, "CLIENT_LIVENESS_TIMEOUT_MS", "3000") < 0 ||
        shoal_context_set(ctx, "PUBLICATION_UNBLOCK_TIMEOUT_MS", "1000") < 0 ||
        shoal_context_set(ctx, "PUBLICATION_LINGER_MS", "100") < 0 ||
        shoal_context_set(ctx, "RCV_LOSS_RATE", LOSS_RATE) < 0 ||
        shoal_context_set(ctx, "SEND_LOSS_RATE", LOSS_RATE) < 0 || shoal_context_set(ctx, "LOSS_SEED", loss_seed) < 0 ||
        shoal_driver_run(ctx, &driver_stop_flag) < 0)
    {
        fprintf(stderr, "soak driver: %s\n", shoal_errmsg());
        shoal_context_close(ctx);
        return 1;
    }
    shoal_context_close(ctx);
    return 0;
}

int soak_spawn_driver(const char *self, const char *dir, pid_t *pid, uint64_t seed, int gen)
{
    char loss_seed[32];
    snprintf(loss_seed, sizeof(loss_seed), "%" PRIu64, (seed + (uint64_t)gen) % 1000000007u + 1);
    char *argv[] = { (char *)self, "--driver", (char *)dir, loss_seed, NULL };
    return soak_spawn(pid, argv);
}

int soak_wait_driver_active(const char *dir, pid_t pid)
{
    for (double deadline = soak_now_s() + 30; soak_now_s() < deadline;)
    {
        if (shoal_driver_is_active(dir, 2000))
        {
            return 0;
        }
        if (pid == waitpid(pid, NULL, WNOHANG))
        {
            return -1;
        }
        soak_sleep_ms(10);
    }
    return -1;
}

int64_t soak_driver_counter(const char *dir, int32_t id)
{
    shoal_cnc_view_t view;
    if (shoal_cnc_map(dir, false, 0, &view) < 0)
    {
        return 0;
    }
    int64_t v = shoal_counter_get_acquire(shoal_counter_addr(view.counters_values, id));
    shoal_cnc_unmap(&view);
    return v;
}

void soak_dump_counters(const char *self, const char *dir)
{
    char cmd[2 * PATH_MAX + 64];
    const char *slash = strrchr(self, '/');
    int len = NULL == slash ? 0 : (int)(slash - self);
    snprintf(cmd, sizeof(cmd), "'%.*s/../shoal-stat' -d '%s' --once 2>&1", len, self, dir);
    printf("soak: counters at the hang (%s):\n", cmd);
    fflush(stdout);
    if (0 != system(cmd))
    {
        printf("soak: shoal-stat did not run\n");
    }
}
