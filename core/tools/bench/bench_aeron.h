/*
 * shoal-bench's Aeron peer: the loops of shoal's throughput and round-trip
 * scenarios written against Aeron C (built by scripts/aeron_peer.sh, compiled
 * in only with -DSHOAL_AERON_DIR), with Aeron's media driver embedded in this
 * process, so that shoal and Aeron are measured side by side in one run.
 *
 * One scenario: bench_aeron_open (driver, client, publications, subscriptions),
 * then warm-up and timed runs, then bench_aeron_close (everything removed,
 * aeron.dir included). Each run returns its figure or fills err.
 */
#ifndef SHOAL_BENCH_AERON_H
#define SHOAL_BENCH_AERON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tool_histogram.h"

/* Roles of bench_aeron_config_t.pin besides 0 and 1: an embedded driver's and
 * client's threads inherit the CPU mask of the thread that starts them, so
 * with --pin-driver that thread takes the driver's CPU from BEGIN to END. */
#define BENCH_PIN_DRIVER_BEGIN 2
#define BENCH_PIN_DRIVER_END   3

/* What shoal-bench decides for every transport alike. */
typedef struct
{
    int yield;        /* sched_yield() on an empty poll or a back-pressured offer, as shoal's --yield */
    int poll_limit;   /* fragments per poll of the throughput subscriber (shoal's BATCH) */
    int concurrent;   /* the throughput publication is a concurrent one (aeron_publication_t), else exclusive */
    int64_t stall_ns; /* no progress for this long: the run fails */
    void (*pin)(void *pin_arg, int role); /* pins the calling thread: 0 publisher/pinger, 1 subscriber/ponger,
                                             or BENCH_PIN_DRIVER_BEGIN / _END around starting driver and client */
    void *pin_arg;
} bench_aeron_config_t;

#ifdef SHOAL_BENCH_AERON

/* Sets up one scenario: an embedded media driver (SHARED threading, its own
 * aeron.dir under /dev/shm), a client, and over uri (aeron:ipc... or
 * aeron:udp...) one publication (exclusive, or concurrent with
 * config->concurrent) + subscription (throughput) or two exclusive ones of
 * each (round trip), connected. 0, or -1 with err set. */
int bench_aeron_open(const bench_aeron_config_t *config, const char *uri, int rtt, size_t size, char *err,
    size_t err_len);

/* One throughput run of count messages of the opened size; msgs/s, or -1 with err set. */
double bench_aeron_tput_run(long count, char *err, size_t err_len);

/* One round-trip run of n pings into hist (ns; reset by the caller); interval_ns > 0 paces the pings
 * as shoal-bench --rate does. 0, or -1 with err set. */
int bench_aeron_rtt_run(long n, double interval_ns, tool_hist_t *hist, char *err, size_t err_len);

void bench_aeron_close(void);

/* Aeron's version text, e.g. "aeron version=1.48.0-SNAPSHOT commit=...". */
const char *bench_aeron_version(void);

#else
/* Not built in: no aeron-* scenario exists, so these are never called. */
static inline int bench_aeron_open(const bench_aeron_config_t *config, const char *uri, int rtt, size_t size, char *err,
    size_t err_len)
{
    (void)config, (void)uri, (void)rtt, (void)size;
    snprintf(err, err_len, "the Aeron peer is not built in");
    return -1;
}
static inline double bench_aeron_tput_run(long count, char *err, size_t err_len)
{
    (void)count;
    snprintf(err, err_len, "the Aeron peer is not built in");
    return -1;
}
static inline int bench_aeron_rtt_run(long n, double interval_ns, tool_hist_t *hist, char *err, size_t err_len)
{
    (void)n, (void)interval_ns, (void)hist;
    snprintf(err, err_len, "the Aeron peer is not built in");
    return -1;
}
static inline void bench_aeron_close(void)
{
}
static inline const char *bench_aeron_version(void)
{
    return "not built in";
}
#endif

#endif
