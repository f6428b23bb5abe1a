/*
 * shoal_soak: a bounded soak of shoal under churn and faults over time.
 *
 *   shoal_soak [-t seconds] [-s seed] [-p IPC publishers at a time] [-K]
 *
 * Processes (this program re-executed in a role):
 *  - the driver (--driver), SIGKILLed every 30 to 60 s (the first kill
 *    within the first 60 % of the run, so a 30 s run has one; -K: never)
 *    and restarted at once on the same directory; its loss generator drops
 *    LOSS_RATE of the UDP datagrams it sends and of those it receives;
 *  - publishers (--publish): -p on IPC and one on UDP (unicast over
 *    127.0.0.1) at a time, each with a fresh client, exclusive or concurrent
 *    (concurrent ones share a session, as in Aeron), random message sizes up
 *    to the maximum message length, a random count; one in five SIGKILLed
 *    mid-stream: the driver must time its client out and unblock what it
 *    left half written;
 *  - one subscriber (--subscribe) on IPC or UDP, SIGKILLed after a random
 *    time and respawned: the driver must time its client out and stop
 *    holding publishers back for it. After each join it checks consecutive,
 *    intact messages and exits 1 on the first problem.
 * Threads of the soak process, which is only a client:
 *  - A (IPC) and U (UDP): the reference subscribers, subscribed before any
 *    publisher of a driver starts, reconnecting only when their driver died;
 *  - B (IPC) restarts its client at random and stalls now and then (back
 *    pressure); after each join it must see consecutive, intact messages.
 *
 * Accounting. A stream is one publisher process's messages (the tag in each
 * message names the publisher); a stream lives on one driver, as a
 * publisher never outlives its driver (it exits 3 once its client reports
 * the driver gone). A reference subscriber counts, per stream, messages
 * delivered (intact, in order), duplicated (a seq already delivered again)
 * and lost (a seq skipped; at the end, the missing tail of a stream whose
 * publisher finished on the driver that was never killed). Messages that
 * never arrived because the stream was cut, its publisher SIGKILLed or its
 * driver killed (what was in the driver's logs and UDP buffers goes with
 * it), are counted as cut, not lost. Every stream here is reliable: lost and
 * duplicated must be 0 (for B and the subscriber process too).
 *
 * A client of a killed driver must get a clear error: its error handler
 * SHOAL_ETIMEDOUT "driver in DIR is not responding (...)", then an offer
 * returns SHOAL_CLOSED and a poll -1 with SHOAL_ECLOSED naming that reason.
 * New clients must then work with the new driver. Any other failure of a
 * client, and any publisher or subscriber process ending otherwise than as
 * expected, fails the soak.
 *
 * At the end the soak process must hold the same file descriptors and
 * (within 1 MiB) the same heap as before the churn, and the last driver must
 * shut down cleanly. Exits 0 with a summary, or 1 naming the first problem.
 * No timing is asserted.
 *
 * The files: soak.h (the message format, the roles, one run's state),
 * soak_driver.c, soak_publisher.c, soak_subscriber.c and
 * soak_subscriber_process.c (the roles), soak_client.c (contexts and the
 * error handler), soak_process.c (spawning, fds, memory), soak_churn.c (the
 * loop that kills and restarts), soak_report.c (accounting and verdict).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../c/transport/udp_test_util.h"
#include "soak.h"

const char *const TRANSPORT_NAMES[TRANSPORTS] = { "ipc", "udp" };

/* Runs a role when this program was re-executed as one; -1 otherwise. */
static int run_role(int argc, char **argv)
{
    if (argc == 4 && 0 == strcmp(argv[1], "--driver"))
    {
        return soak_driver_main(argv[2], argv[3]);
    }
    if (argc == 8 && 0 == strcmp(argv[1], "--publish"))
    {
        return soak_publish_main(argv[2], argv[3], (uint32_t)strtoul(argv[4], NULL, 10), strtoull(argv[5], NULL, 10),
            atol(argv[6]), 0 == strcmp(argv[7], "exclusive"));
    }
    if (argc == 6 && 0 == strcmp(argv[1], "--subscribe"))
    {
        return soak_subscribe_main(argv[2], argv[3], argv[4], strtoull(argv[5], NULL, 10));
    }
    return -1;
}

/* Reads the options into soak; 0, or 2 on a usage error. */
static int parse_options(soak_t *soak, int argc, char **argv)
{
    soak->seconds = 30;
    soak->seed = (uint64_t)time(NULL);
    soak->parallel = 2;
    soak->driver_kills_enabled = 1;
    int opt;
    while ((opt = getopt(argc, argv, "t:s:p:Kh")) != -1)
    {
        switch (opt)
        {
            case 't': soak->seconds = atof(optarg); break;
            case 's': soak->seed = strtoull(optarg, NULL, 10); break;
            case 'p': soak->parallel = atoi(optarg); break;
            case 'K': soak->driver_kills_enabled = 0; break;
            default:
                fprintf(stderr,
                    "usage: shoal_soak [-t seconds] [-s seed] [-p IPC publishers (1..%d)] "
                    "[-K: no driver kills]\n",
                    MAX_CHILDREN);
                return 2;
        }
    }
    if (soak->seconds <= 0 || soak->parallel < 1 || soak->parallel > MAX_CHILDREN)
    {
        fprintf(stderr, "shoal_soak: -t must be > 0 and -p within 1..%d\n", MAX_CHILDREN);
        return 2;
    }
    return 0;
}

/* The subscriber process's count of checked messages, shared through a
 * mapped file; NULL (errno set) on error. */
static volatile uint64_t *map_subscriber_count(const char *count_path)
{
    int count_fd = open(count_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    void *count = MAP_FAILED;
    if (count_fd >= 0 && ftruncate(count_fd, sizeof(uint64_t)) == 0)
    {
        count = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED, count_fd, 0);
    }
    if (count_fd >= 0)
    {
        close(count_fd);
    }
    return MAP_FAILED == count ? NULL : count;
}

int main(int argc, char **argv)
{
    int role = run_role(argc, argv);
    if (role >= 0)
    {
        return role;
    }
    static soak_t soak = { .errors = { .lock = PTHREAD_MUTEX_INITIALIZER } };
    int usage = parse_options(&soak, argc, argv);
    if (0 != usage)
    {
        return usage;
    }
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
    {
        perror("shoal_soak: /proc/self/exe");
        return 1;
    }
    self[n] = '\0';
    char dir[128], count_path[160], udp_channel[128];
    snprintf(dir, sizeof(dir), "/dev/shm/shoal-soak-%ld", (long)getpid());
    snprintf(count_path, sizeof(count_path), "/dev/shm/shoal-soak-%ld.subscriber-count", (long)getpid());
    int port = udp_test_free_port();
    snprintf(udp_channel, sizeof(udp_channel), "aeron:udp?endpoint=127.0.0.1:%d|term-length=128k", port);
    soak.self = self;
    soak.dir = dir;
    soak.count_path = count_path;
    soak.channels[IPC] = IPC_CHANNEL;
    soak.channels[UDP] = udp_channel;
    if (port < 0 || NULL == (soak.subscriber_count = map_subscriber_count(count_path)))
    {
        fprintf(stderr, "shoal_soak: UDP port or %s: %s\n", count_path, strerror(errno));
        return 1;
    }

    int rc = soak_spawn_driver(self, dir, &soak.driver_pid, soak.seed, 0);
    if (0 != rc || soak_wait_driver_active(dir, soak.driver_pid) < 0)
    {
        fprintf(stderr, "shoal_soak: the driver did not start: %s\n", 0 != rc ? strerror(rc) : "not active");
        return 1;
    }
    soak.ctx = soak_client_context(dir, &soak.errors);
    if (NULL == soak.ctx)
    {
        fprintf(stderr, "shoal_soak: context: %s\n", shoal_errmsg());
        return 1;
    }
    uint64_t seed = soak.seed;
    soak_subscriber_init(&soak.subs[A], "A (ipc, reference)", IPC_CHANNEL, soak.ctx, 0, seed * 2 + 1);
    soak_subscriber_init(&soak.subs[U], "U (udp, reference)", udp_channel, soak.ctx, 0, seed * 2 + 3);
    soak_subscriber_init(&soak.subs[B], "B (ipc, restarts, stalls)", IPC_CHANNEL, soak.ctx, 1, seed * 2 + 5);
    /* the baseline: the tables up, before any client churn */
    soak_sleep_ms(200);
    soak.fds_start = soak_count_fds();
    soak.heap_start = mallinfo2().uordblks;
    soak.rss_start = soak_rss_kib();

    for (int i = 0; i < SUBSCRIBERS; i++)
    {
        pthread_create(&soak.threads[i], NULL, soak_subscriber_run, &soak.subs[i]);
    }
    soak.expected = calloc(MAX_TAGS, sizeof(long));
    soak.planned = calloc(MAX_TAGS, sizeof(long));
    soak.tag_gen = calloc(MAX_TAGS, sizeof(int));
    soak.tag_transport = calloc(MAX_TAGS, 1);
    soak.slots = soak.parallel + 1;
    soak.rng = seed | 1;
    soak.next_tag = 1;
    soak.start = soak_now_s();

    soak_churn(&soak);
    soak_finish(&soak);
    munmap((void *)soak.subscriber_count, sizeof(uint64_t));
    unlink(count_path);
    int status = soak_report(&soak);

    for (int i = 0; i < SUBSCRIBERS; i++)
    {
        soak_subscriber_free(&soak.subs[i]);
    }
    free(soak.expected);
    free(soak.planned);
    free(soak.tag_gen);
    free(soak.tag_transport);
    return status;
}
