/* The soak's churn: the loop of the soak process that kills and restarts the
 * driver, spawns publisher and subscriber processes, kills some of them and
 * reaps them all, judging how each one ended. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "soak.h"
#include "util/shoal_counters.h"

/* Whether the reference subscribers A and U are subscribed to the current
 * driver (publishers wait for them); fails the soak if they never are. */
static int references_ready(soak_t *soak, int gen, double now, double *waiting_since)
{
    int ready = atomic_load(&soak->subs[A].subscribed_gen) == gen && atomic_load(&soak->subs[U].subscribed_gen) == gen;
    if (!ready && 0 == *waiting_since)
    {
        *waiting_since = now;
    }
    else if (ready)
    {
        *waiting_since = 0;
    }
    else if (now - *waiting_since > RECONNECT_DEADLINE_S + 10)
    {
        snprintf(soak->error, sizeof(soak->error), "A and U not subscribed to driver %d %.0f s after it started", gen,
            now - *waiting_since);
    }
    return ready;
}

/* SIGKILLs the driver and starts the next generation on the same directory;
 * returns 0, or -1 (soak->error set) when it does not come up. */
static int kill_and_restart_driver(soak_t *soak, double *next_driver_kill)
{
    soak->naks_sent += soak_driver_counter(soak->dir, SHOAL_SYSTEM_COUNTER_NAKS_SENT);
    soak->retransmits += soak_driver_counter(soak->dir, SHOAL_SYSTEM_COUNTER_RETRANSMITS_SENT);
    kill(soak->driver_pid, SIGKILL);
    waitpid(soak->driver_pid, NULL, 0);
    soak->driver_kills++;
    int gen = atomic_fetch_add(&soak_driver_gen, 1) + 1;
    int rc = soak_spawn_driver(soak->self, soak->dir, &soak->driver_pid, soak->seed, gen);
    if (0 != rc || soak_wait_driver_active(soak->dir, soak->driver_pid) < 0)
    {
        snprintf(soak->error, sizeof(soak->error), "driver %d did not start: %s", gen,
            0 != rc ? strerror(rc) : "not active");
        soak->driver_pid = 0;
        return -1;
    }
    *next_driver_kill = soak_now_s() + 30 + (double)(soak_rng_next(&soak->rng) % 30000) / 1000.0;
    return 0;
}

/* Reaps a publisher that ended and judges how it did. */
static void reap_publisher(soak_t *soak, child_t *c, int status, int gen)
{
    publisher_stats_t *ps = &soak->pub_stats[c->transport];
    if (WIFEXITED(status) && 0 == WEXITSTATUS(status))
    {
        soak->expected[c->tag] = c->count;
        ps->finished++;
    }
    else if (WIFSIGNALED(status) && SIGKILL == WTERMSIG(status) && c->kill_at > 0)
    {
        ps->killed++;
    }
    else if (WIFEXITED(status) && EXIT_DRIVER_LOST == WEXITSTATUS(status) && c->gen < gen)
    {
        ps->driver_lost++;
    }
    else
    {
        snprintf(soak->error, sizeof(soak->error), "%s publisher %u (driver %d) failed (status 0x%x)",
            TRANSPORT_NAMES[c->transport], c->tag, c->gen, status);
    }
    c->pid = 0;
}

/* Starts the next publisher in slot i: a new tag, a random count, one in
 * five to be SIGKILLed mid-stream. */
static void start_publisher(soak_t *soak, int i, int gen, double now)
{
    child_t *c = &soak->children[i];
    c->tag = soak->next_tag++;
    c->transport = i == soak->slots - 1 ? UDP : IPC;
    c->gen = gen;
    c->count = UDP == c->transport ? 500 + (long)(soak_rng_next(&soak->rng) % 5000)
                                   : 1000 + (long)(soak_rng_next(&soak->rng) % 30000);
    c->kill_at =
        0 == soak_rng_next(&soak->rng) % 5 ? now + 0.05 + (double)(soak_rng_next(&soak->rng) % 500) / 1000.0 : 0;
    soak->planned[c->tag] = c->count;
    soak->tag_gen[c->tag] = gen;
    soak->tag_transport[c->tag] = (uint8_t)c->transport;
    int rc = soak_spawn_publisher(soak->self, soak->dir, soak->channels[c->transport], c, &soak->rng);
    if (0 != rc)
    {
        snprintf(soak->error, sizeof(soak->error), "posix_spawn: %s", strerror(rc));
        c->pid = 0;
    }
    soak->pub_stats[c->transport].spawned++;
}

/* Reaps, kills and replaces the publisher processes; returns how many live. */
static int tend_publishers(soak_t *soak, int gen, int ready, double now, double end)
{
    int live = 0;
    for (int i = 0; i < soak->slots; i++)
    {
        child_t *c = &soak->children[i];
        if (c->pid > 0)
        {
            int status;
            pid_t r = waitpid(c->pid, &status, WNOHANG);
            if (r == c->pid)
            {
                reap_publisher(soak, c, status, gen);
            }
            else if (c->kill_at > 0 && now >= c->kill_at)
            {
                kill(c->pid, SIGKILL);
            }
        }
        if (0 == c->pid && now < end && ready && soak->next_tag < MAX_TAGS)
        {
            start_publisher(soak, i, gen, now);
        }
        live += c->pid > 0;
    }
    return live;
}

/* Reaps, kills and replaces the subscriber process. */
static void tend_subscriber_process(soak_t *soak, int gen, int ready, double now, double end)
{
    child_t *sp = &soak->subscriber_process;
    if (sp->pid > 0)
    {
        int status;
        if (sp->pid == waitpid(sp->pid, &status, WNOHANG))
        {
            soak->subscriber_checked += *soak->subscriber_count;
            if (WIFSIGNALED(status) && SIGKILL == WTERMSIG(status))
            {
                soak->subscriber_killed++;
            }
            else if (WIFEXITED(status) && EXIT_DRIVER_LOST == WEXITSTATUS(status) && sp->gen < gen)
            {
                soak->subscriber_driver_lost++;
            }
            else
            {
                snprintf(soak->error, sizeof(soak->error), "subscriber process (%s, driver %d) failed (status 0x%x)",
                    TRANSPORT_NAMES[sp->transport], sp->gen, status);
            }
            sp->pid = 0;
        }
        else if (now >= sp->kill_at)
        {
            kill(sp->pid, SIGKILL);
        }
    }
    if (0 == sp->pid && now < end && ready && !soak->error[0])
    {
        sp->transport = (int)(soak_rng_next(&soak->rng) % TRANSPORTS);
        sp->gen = gen;
        sp->kill_at = now + 0.3 + (double)(soak_rng_next(&soak->rng) % 3000) / 1000.0;
        *soak->subscriber_count = 0;
        int rc = soak_spawn_subscriber(soak->self, soak->dir, soak->channels[sp->transport], soak->count_path, sp,
            &soak->rng);
        if (0 != rc)
        {
            snprintf(soak->error, sizeof(soak->error), "posix_spawn: %s", strerror(rc));
            sp->pid = 0;
        }
        soak->subscriber_spawned++;
    }
}

/* The first problem a subscriber thread found becomes the soak's. */
static void take_subscriber_errors(soak_t *soak)
{
    for (int i = 0; i < SUBSCRIBERS && !soak->error[0]; i++)
    {
        if (soak->subs[i].error[0])
        {
            snprintf(soak->error, sizeof(soak->error), "%.255s", soak->subs[i].error);
        }
    }
}

void soak_churn(soak_t *soak)
{
    double end = soak->start + soak->seconds;
    double first_kill = soak->seconds < 75 ? 0.4 * soak->seconds : 30.0;
    double kill_span = soak->seconds < 150 ? 0.2 * soak->seconds : 30.0;
    double next_driver_kill =
        soak->start + first_kill + (double)(soak_rng_next(&soak->rng) % (uint64_t)(kill_span * 1000 + 1)) / 1000.0;
    double waiting_since = 0; /* a new driver is up: publishers wait for A and U to subscribe */
    while (!soak->error[0])
    {
        double now = soak_now_s();
        int gen = atomic_load(&soak_driver_gen);
        int ready = references_ready(soak, gen, now, &waiting_since);
        if (soak->driver_kills_enabled && now >= next_driver_kill && now < end - 5)
        {
            if (kill_and_restart_driver(soak, &next_driver_kill) < 0)
            {
                break;
            }
            gen = atomic_load(&soak_driver_gen);
            ready = 0;
        }
        int live = tend_publishers(soak, gen, ready, now, end);
        tend_subscriber_process(soak, gen, ready, now, end);
        take_subscriber_errors(soak);
        if (0 == live && now >= end)
        {
            break;
        }
        if (now > end + 120)
        {
            snprintf(soak->error, sizeof(soak->error), "publishers still running 120 s after the end");
            soak_dump_counters(soak->self, soak->dir);
            break;
        }
        soak_sleep_ms(10);
    }
}

void soak_finish(soak_t *soak)
{
    for (int i = 0; i < soak->slots; i++)
    {
        if (soak->children[i].pid > 0)
        {
            kill(soak->children[i].pid, SIGKILL);
            waitpid(soak->children[i].pid, NULL, 0);
        }
    }
    if (soak->subscriber_process.pid > 0)
    {
        kill(soak->subscriber_process.pid, SIGKILL);
        waitpid(soak->subscriber_process.pid, NULL, 0);
        soak->subscriber_checked += *soak->subscriber_count;
    }
    atomic_store(&soak->subs[B].stop, 1);
    pthread_join(soak->threads[B], NULL);
    atomic_store(&soak->subs[A].stop, 1);
    atomic_store(&soak->subs[U].stop, 1);
    pthread_join(soak->threads[A], NULL);
    pthread_join(soak->threads[U], NULL);
    take_subscriber_errors(soak);
    /* the driver releases the killed publishers' clients and logs */
    soak_sleep_ms(500);
    soak->fds_end = soak_count_fds();
    soak->heap_end = mallinfo2().uordblks;
    soak->rss_end = soak_rss_kib();
    soak->naks_sent += soak_driver_counter(soak->dir, SHOAL_SYSTEM_COUNTER_NAKS_SENT);
    soak->retransmits += soak_driver_counter(soak->dir, SHOAL_SYSTEM_COUNTER_RETRANSMITS_SENT);
    soak->took = soak_now_s() - soak->start;
    shoal_context_close(soak->ctx);
    soak->ctx = NULL;
    if (soak->driver_pid > 0)
    {
        int status = 0;
        kill(soak->driver_pid, SIGTERM);
        waitpid(soak->driver_pid, &status, 0);
        if (!soak->error[0] && !(WIFEXITED(status) && 0 == WEXITSTATUS(status)))
        {
            snprintf(soak->error, sizeof(soak->error), "the last driver did not shut down cleanly (status 0x%x)",
                status);
        }
    }
}
