/* The soak's report: per stream, what the reference subscribers received
 * against what the publishers sent; the summary; and the verdict. */
#define _GNU_SOURCE
#include <stdio.h>

#include "soak.h"

typedef struct
{
    uint64_t lost_tail[TRANSPORTS], cut[TRANSPORTS], complete[TRANSPORTS];
} stream_totals_t;

/* Per stream, at its reference subscriber: the tail of a stream that
 * finished on the last driver is lost; of any other, cut. */
static void account_streams(const soak_t *soak, stream_totals_t *t)
{
    int final_gen = atomic_load(&soak_driver_gen);
    for (uint32_t tag = 1; tag < soak->next_tag; tag++)
    {
        int tr = soak->tag_transport[tag];
        const subscriber_t *ref = &soak->subs[IPC == tr ? A : U];
        uint64_t got = ref->next_seq[tag];
        long expected = soak->expected[tag], planned = soak->planned[tag];
        if (expected > 0 && soak->tag_gen[tag] == final_gen)
        {
            if (got < (uint64_t)expected)
            {
                if (0 == t->lost_tail[tr])
                {
                    fprintf(stderr, "soak: %s received %" PRIu64 " of publisher %u's %ld messages\n", ref->name, got,
                        tag, expected);
                }
                t->lost_tail[tr] += (uint64_t)expected - got;
            }
            else
            {
                t->complete[tr]++;
            }
        }
        else if (got < (uint64_t)planned)
        {
            t->cut[tr] += (uint64_t)planned - got;
        }
        else
        {
            t->complete[tr]++;
        }
    }
}

static void print_summary(const soak_t *soak, const stream_totals_t *t)
{
    const subscriber_t *subs = soak->subs;
    const error_record_t *errors = &soak->errors;
    printf("soak: %.0f s (seed %" PRIu64 "), driver SIGKILLed and restarted %d times, UDP loss %s each way "
           "(NAKs sent %" PRId64 ", retransmits %" PRId64 ")\n",
        soak->took, soak->seed, soak->driver_kills, LOSS_RATE, soak->naks_sent, soak->retransmits);
    for (int tr = 0; tr < TRANSPORTS; tr++)
    {
        const publisher_stats_t *ps = &soak->pub_stats[tr];
        const subscriber_t *ref = &subs[IPC == tr ? A : U];
        printf("soak: %s: %" PRIu64 " publisher processes (%" PRIu64 " finished, %" PRIu64 " SIGKILLed, %" PRIu64
               " lost their driver), %" PRIu64 " streams complete\n",
            TRANSPORT_NAMES[tr], ps->spawned, ps->finished, ps->killed, ps->driver_lost, t->complete[tr]);
        printf("soak: %s: %s delivered %" PRIu64 " messages (%.1f MB), lost %" PRIu64 ", duplicated %" PRIu64
               ", cut by kills %" PRIu64 "; reconnected %" PRIu64 " times after its driver died\n",
            TRANSPORT_NAMES[tr], ref->name, ref->messages, ref->bytes / 1e6, ref->lost + t->lost_tail[tr],
            ref->duplicated, t->cut[tr], ref->driver_losses);
    }
    printf("soak: B delivered %" PRIu64 " messages, lost %" PRIu64 ", duplicated %" PRIu64 ", over %" PRIu64
           " client restarts (%" PRIu64 " after driver kills), %" PRIu64 " deliberate stalls\n",
        subs[B].messages, subs[B].lost, subs[B].duplicated, subs[B].restarts, subs[B].driver_losses, subs[B].stalls);
    printf("soak: subscriber processes: %" PRIu64 " spawned, %" PRIu64 " SIGKILLed, %" PRIu64
           " lost their driver, %" PRIu64 " messages checked\n",
        soak->subscriber_spawned, soak->subscriber_killed, soak->subscriber_driver_lost, soak->subscriber_checked);
    if (soak->driver_kills > 0)
    {
        printf("soak: a client of a killed driver: error handler SHOAL_ETIMEDOUT \"%s\" (%d times in this process), "
               "then poll -1 SHOAL_ECLOSED \"%s\"\n",
            errors->first, atomic_load(&errors->driver_losses), subs[A].driver_lost_error);
    }
    if (atomic_load(&errors->other) > 0)
    {
        printf("soak: %d other errors reported to the error handler, the first: %s\n", atomic_load(&errors->other),
            errors->first_other);
    }
    if (0 == soak->heap_start && 0 == soak->heap_end)
    {
        /* sanitizer allocators do not fill mallinfo2; LeakSanitizer checks at exit instead */
        printf("soak: fds %d -> %d, heap in use not reported by this allocator, RSS %ld -> %ld KiB\n", soak->fds_start,
            soak->fds_end, soak->rss_start, soak->rss_end);
    }
    else
    {
        printf("soak: fds %d -> %d, heap in use %zu -> %zu bytes, RSS %ld -> %ld KiB\n", soak->fds_start, soak->fds_end,
            soak->heap_start, soak->heap_end, soak->rss_start, soak->rss_end);
    }
}

/* The first broken promise, into soak->error (kept if already set). */
static void judge(soak_t *soak, const stream_totals_t *t)
{
    const subscriber_t *subs = soak->subs;
    char *error = soak->error;
    size_t size = sizeof(soak->error);
    for (int i = 0; i < SUBSCRIBERS && !error[0]; i++)
    {
        if (subs[i].lost || subs[i].duplicated)
        {
            snprintf(error, size, "%s: lost %" PRIu64 ", duplicated %" PRIu64 " on a reliable stream", subs[i].name,
                subs[i].lost, subs[i].duplicated);
        }
    }
    for (int tr = 0; tr < TRANSPORTS && !error[0]; tr++)
    {
        if (t->lost_tail[tr])
        {
            snprintf(error, size, "%s: %" PRIu64 " messages of finished publishers never delivered",
                TRANSPORT_NAMES[tr], t->lost_tail[tr]);
        }
    }
    /* each kill found the reference subscribers subscribed (kills are 30 s
     * apart), unless one was still connecting: at least one loss seen */
    uint64_t kills = (uint64_t)soak->driver_kills;
    if (!error[0] && kills > 0 &&
        (0 == subs[A].driver_losses || subs[A].driver_losses > kills || 0 == subs[U].driver_losses ||
            subs[U].driver_losses > kills))
    {
        snprintf(error, size, "%d driver kills but A saw %" PRIu64 " and U %" PRIu64 " driver losses",
            soak->driver_kills, subs[A].driver_losses, subs[U].driver_losses);
    }
    if (!error[0] && atomic_load(&soak->errors.timed_out) > 0)
    {
        snprintf(error, size, "the driver timed %d live clients out: %s", atomic_load(&soak->errors.timed_out),
            soak->errors.first_other);
    }
    if (!error[0] && soak->fds_end != soak->fds_start)
    {
        snprintf(error, size, "file descriptors %d at start, %d at the end", soak->fds_start, soak->fds_end);
    }
    if (!error[0] && soak->heap_end > soak->heap_start + (1u << 20))
    {
        snprintf(error, size, "heap in use grew by %zu bytes", soak->heap_end - soak->heap_start);
    }
    if (!error[0] &&
        (0 == subs[A].messages || 0 == subs[U].messages || 0 == soak->pub_stats[IPC].finished ||
            0 == soak->pub_stats[UDP].finished))
    {
        snprintf(error, size, "nothing was exchanged on %s", 0 == subs[A].messages ? "ipc" : "udp");
    }
}

int soak_report(soak_t *soak)
{
    stream_totals_t totals = { { 0 } };
    account_streams(soak, &totals);
    print_summary(soak, &totals);
    judge(soak, &totals);
    if (soak->error[0])
    {
        printf("soak: FAIL: %s\n", soak->error);
        return 1;
    }
    printf("soak: PASS\n");
    return 0;
}
