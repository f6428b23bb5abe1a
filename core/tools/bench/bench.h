/*
 * shoal-bench: the source of every performance figure quoted for shoal.
 *
 * One process, an embedded driver on a private directory (it serves both
 * ends of the IPC and of the UDP loopback scenarios), publisher and
 * subscriber threads; each scenario runs one warm-up (not recorded) and then
 * --runs timed runs, and reports median, min and max across the runs side by
 * side with ZeroMQ peers run in the same invocation on the same machine. A
 * shoal scenario and its Aeron mirror run alternately, run for run
 * (bench_run_pair), unless --sequential.
 * Timed loops neither allocate nor format: buffers and histograms are made
 * before, errors are recorded as codes and formatted after the loop ends.
 * Round trips go into a log-linear histogram (tool_histogram.h); with --rate
 * each ping has an intended send time and its latency is measured from that
 * time, so a stall delays every ping behind it and shows in the percentiles
 * (no coordinated omission).
 *
 * The pieces, one file each:
 *   bench_options.c     command line and the scenario table
 *   bench_scenario.c    one scenario: channel, publications/subscriptions or peer, warm-up + timed runs
 *   bench_throughput.c  publisher and subscriber threads of the throughput scenarios
 *   bench_rtt.c         pinger and ponger threads of the round-trip scenarios
 *   bench_wake.c        publisher and subscriber threads of the wake-up scenarios
 *   bench_zmq.c         the ZeroMQ peer's sockets (its send/receive calls sit in the loops above)
 *   bench_archive.c     archive-record (an embedded archive server recording) and its write(2) ceiling
 *   bench_archive_replay.c  archive-replay (a recording replayed to a subscriber) and its read(2) ceiling
 *   bench_aeron.c       the Aeron C peer (only with -DSHOAL_AERON_DIR; DEVELOPERS.md)
 *   bench_machine.c     machine description and thread pinning
 *   bench_clock.c       the clock of every timed loop (TSC or CLOCK_MONOTONIC, bench_clock.h)
 *   bench_report.c      statistics, and the table, JSON and CSV output
 *   bench_main.c        the embedded driver and the run over sizes and scenarios
 */
#ifndef SHOAL_BENCH_H
#define SHOAL_BENCH_H

#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "shoal/shoal.h"
#include "shoal/shoal_archive.h"
#include "bench_aeron.h"
#include "tool_histogram.h"

#define MAX_RUNS      100
#define MAX_SIZES     16
#define MAX_SCENARIOS 32 /* the table in bench_options.c holds fewer */
#define MAX_SETTINGS  32 /* --set */
#define MIN_SIZE      8  /* the sequence number lives in the first 8 bytes */
#define MAX_SIZE      (16 * 1024 * 1024)
#define MAX_PUB       16 /* --publishers */
#define IPC_TERM_MIB  64 /* the driver's defaults (shoal_context.c) */
#define UDP_TERM_MIB  16
#define BATCH         256           /* poll_batch / poll limit of throughput subscribers */
#define STALL_NS      10000000000LL /* no progress for 10 s: the run is declared stalled */
#define ZMQ_HWM       1000000       /* messages; lowered for large sizes so a queue stays under ZMQ_HWM_BYTES */
#define ZMQ_HWM_BYTES (256 << 20)
#define STOP_SEQ      UINT64_MAX /* ping carrying this sequence number stops the ponger */
#define COLD_MESSAGES 1000000    /* cold-start runs: the first million messages into a fresh log */
#define SEQ_SHIFT     48         /* several publishers: publisher index in the top bits of the sequence */

#define AERON_HOWTO                                                                                                    \
    "scripts/aeron_peer.sh AERON_SOURCE_DIR, then configure with -DSHOAL_AERON_DIR=$PWD/build/aeron/install "          \
    "(DEVELOPERS.md)"

enum
{
    K_TPUT,
    K_RTT,
    K_WAKE /* reported as round trips are (percentiles), plus the subscriber's CPU % */
};
enum
{
    M_EXCL_BATCH,
    M_EXCL_POLL,
    M_CONC,
    M_CONC2,
    M_CLAIM,
    Z_INPROC,
    Z_IPC,
    Z_TCP,
    W_WAIT,           /* wake-up: shoal_subscription_wait */
    W_SPIN,           /* wake-up: busy poll_batch */
    M_ARCHIVE_RECORD, /* an archive server records the stream (bench_archive.c) */
    M_WRITE_CEILING,  /* write(2) of the same bytes: archive-record's peer */
    M_ARCHIVE_REPLAY, /* an archive server replays a recording to a subscriber (bench_archive_replay.c) */
    M_READ_CEILING    /* read(2) of the same bytes from files: archive-replay's peer */
};
#define WAKE_MAX_SAMPLES 2000 /* messages per wake-up run (at most --samples): ~1.1 s at 100..1000 us apart */

typedef struct
{
    const char *name;
    int kind, zmq, mode, udp;
    const char *peer; /* the ZeroMQ scenario a shoal scenario is compared with */
    const char *what;
    const char *mirror; /* aeron-* scenarios: the shoal scenario whose loops they run against Aeron C */
    int cold;           /* every run on a fresh log (new publication, or new Aeron driver): first-touch costs count */
} scenario_t;

extern const scenario_t SCENARIOS[];
extern const size_t N_SCENARIOS;

/* The command line. */
typedef struct
{
    int selected[MAX_SCENARIOS], any_selected;
    long runs, messages, samples, term_mib, max_mib, publishers, rate;
    size_t sizes[MAX_SIZES];
    int nsizes, json, csv, no_zmq, no_aeron, pin, pin_driver, yield; /* pin_driver: a role, -1 none */
    int sequential; /* --sequential: an aeron-* scenario runs after its shoal one, not alternating with it */
    int clock_tsc;  /* --clock: 1 tsc (where the kernel keeps time with it), 0 monotonic */
    const char *note;
    const char *archive_dir; /* --archive-dir: where the archive scenarios write (else a directory of their own) */
    const char *settings[MAX_SETTINGS]; /* --set KEY=VALUE for the embedded driver */
    int nsettings;
} bench_options_t;

/* Fills opt from the command line; on a bad one prints why and exits 2. Returns 1 when --help was
 * printed (nothing to run), else 0. */
int bench_parse_options(bench_options_t *opt, int argc, char **argv);
void bench_bad(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Thread pinning (--pin): the first two CPUs this process may run on. */
typedef struct
{
    int enabled;
    int cpu[2];             /* [0] publisher(s)/pinger, [1] subscriber/ponger */
    int driver_role;        /* --pin-driver: the role whose CPU the driver threads share; -1: they float */
    cpu_set_t saved;        /* the starting thread's own mask, between BENCH_PIN_DRIVER_BEGIN and _END */
    int attempts, failures; /* updated atomically by the benchmark threads */
} bench_pin_t;

/* Pins the calling thread to pin->cpu[role] when pinning is enabled; role
 * BENCH_PIN_DRIVER_BEGIN / _END (bench_aeron.h) bracket the start of an
 * embedded driver and client (see bench_pin_t.driver_role). */
void bench_pin_self(bench_pin_t *pin, int role);

typedef struct
{
    char cpu[128], kernel[256], date[32], pinned[192], note[256], loadavg[64];
    char clock[256]; /* bench_clock_init: which clock times the runs */
    long nproc;
    int zmaj, zmin, zpat;
} bench_machine_t;

/* Describes the machine and chooses the pin targets. */
void bench_read_machine(bench_machine_t *machine, bench_pin_t *pin);
/* After the runs: what pinning achieved, into machine->pinned. */
void bench_describe_pinning(bench_machine_t *machine, const bench_pin_t *pin);

/* Percentiles of the latency distribution (all timed runs merged) in --json. */
#define N_DIST 12
extern const double DIST_Q[N_DIST];

/* One scenario at one size. */
typedef struct
{
    const scenario_t *sc;
    size_t size;
    int nruns, npub;
    long messages;             /* per throughput run */
    double tput[MAX_RUNS];     /* msgs/s per run; wake-up scenarios: the subscriber's CPU % per run */
    double pct[MAX_RUNS][5];   /* us per run */
    double cmean[MAX_RUNS];    /* us per run: mean of the round trips between its p10 and p90 */
    double setup_ms[MAX_RUNS]; /* cold start, per run: its stream's set-up (shoal: add_subscription +
                                  add_publication, pre-touch included; Aeron: driver start + adds) */
    double dist[N_DIST];       /* us, every timed round trip of every run */
    uint64_t recorded;         /* round trips in dist */
    char uri[256];
    char error[320];
    int skipped; /* not a failure: the scenario cannot run at this size */
    int paired;  /* its runs alternated with those of its Aeron pair (bench_run_pair) */
} result_t;

/* One invocation: the options, the embedded driver's client, and what the runs found. */
typedef struct
{
    const bench_options_t *opt;
    bench_pin_t pin;
    bench_machine_t machine;
    shoal_context_t *ctx; /* the embedded driver's (the archive server connects with it too) */
    shoal_client_t *client;
    int32_t next_stream; /* each scenario takes two fresh stream ids */
    int zmq_endpoints;   /* ZeroMQ endpoints made so far (their names are numbered) */
    result_t *results;
    int nresults;
    /* the last archive-record run: the bytes its recording held, for write-ceiling's runs of the same size */
    int64_t archive_bytes;
    size_t archive_size;
    long archive_messages;
    /* the last archive-replay run's recording: its bytes, for read-ceiling's runs of the same size */
    int64_t replay_bytes;
    size_t replay_size;
    long replay_messages;
} bench_t;

/* Runs res->sc at res->size: one warm-up and opt->runs timed runs into res. */
void bench_run_scenario(bench_t *b, result_t *res);
/* 1 when sc's runs can alternate with its Aeron mirror's (throughput and round trip, not cold start). */
int bench_pairable(const scenario_t *sc);
/* A shoal scenario and its aeron-* mirror at one size, both set up at once:
 * the warm-ups, then timed run k of one right after timed run k of the other
 * (which goes first alternates), so that both meet the same machine: a VM's
 * slow phase cannot fall on one side's runs only. The ratio of run k to run
 * k is then a paired measurement (bench_report.c). A side that fails stops
 * with its error and the other runs on alone (neither is then "paired"). */
void bench_run_pair(bench_t *b, result_t *shoal, result_t *aeron);
/* The same for archive-record and write-ceiling (bench_archive.c) on channel. */
void bench_run_archive(bench_t *b, result_t *res, const char *channel);
/* archive-replay and read-ceiling (bench_archive_replay.c) on channel. */
void bench_run_archive_replay(bench_t *b, result_t *res, const char *channel);
/* Waits (up to a few seconds) for archive a to list an active recording of stream and session: its id, or -1. */
int64_t bench_find_recording(shoal_archive_t *a, int32_t stream, int32_t session);
/* bench_archive.c: the archive scenarios' directory (--archive-dir, else one of our own), its removal (our own
 * only), and the bytes count messages of size take in a log (frames of the default mtu). */
void bench_archive_dir(const bench_t *b, char *dir, size_t len);
/* What the archive scenarios share: the directory (bench_archive_dir), the
 * URI shown, the message count (--messages, capped by --max-mib). */
void bench_archive_setup(const bench_t *b, result_t *res, const char *channel, char *dir, size_t len);
/* The warm-up and the timed runs: run returns msgs/s, or -1 with err set (the scenario's error then). */
typedef double (*bench_archive_run_fn)(void *ctx, char *err, size_t err_len);
void bench_archive_runs(const bench_options_t *opt, result_t *res, bench_archive_run_fn run, void *ctx);
void bench_archive_remove_dir(const char *dir);
/* The ceilings' files: bytes written with write(2) in CEILING_CHUNK calls into
 * dir/name-<i>.dat of CEILING_SEGMENT bytes each (the archive's default
 * segment length); *files counts those created (to remove, even after a
 * failure); -1 with err set. */
#define CEILING_CHUNK   (1 << 20)
#define CEILING_SEGMENT (128LL << 20)
int bench_ceiling_write(const char *dir, const char *name, int64_t bytes, int *files, char *err, size_t err_len);
void bench_ceiling_remove(const char *dir, const char *name, int files);
int64_t bench_framed_bytes(size_t size, long count);

/* ---- throughput: 1..MAX_PUB publisher threads, one subscriber thread ---- */
/* What the subscriber writes per message sits on cache lines of its own
 * (128-byte pairs: the adjacent-line prefetcher moves lines in pairs):
 * sharing one with what a publisher reads per offer would make every message
 * pay a cache-line transfer between the two cores (a benchmark artefact). */
typedef struct
{
    size_t size;
    int mode, npub, ready, go, abort;
    int yield; /* --yield */
    long count;
    bench_pin_t *pin;
    shoal_publication_t *pub;
    shoal_subscription_t *sub;
    void *zpush, *zpull;
    uint8_t *zbuf;
    int64_t t_start[MAX_PUB]; /* first offer per publisher */
    char err[256];
    _Alignas(128) long received, bad; /* bad: out of order or wrong length */
    uint64_t expected[MAX_PUB];       /* next sequence number per publisher */
    int64_t t_end;                    /* last message received */
    _Alignas(128) char pad_;
} tput_t;

/* One throughput run of count messages; returns msgs/s or -1 with t->err set. */
double bench_tput_run(tput_t *t, long count);

/* ---- round trip: pinger and ponger threads ---- */
/* What one thread writes while the other spins sits on 128-byte pairs of
 * cache lines of its own: the pinger records every round trip into hist, and the ponger reads
 * the set-up fields and stop on each poll (sharing a line cost shoal's loop
 * a coherence miss per round trip, which the Aeron loop, with its own
 * struct, did not pay). */
typedef struct
{
    size_t size;
    long n;
    double interval_ns; /* --rate: intended gap between pings; 0 = each ping right after the last pong */
    int yield;          /* --yield */
    bench_pin_t *pin;
    shoal_publication_t *ping_pub, *pong_pub;
    shoal_subscription_t *ping_sub, *pong_sub;
    void *zping, *zpong;
    _Alignas(128) int ready, stop;
    _Alignas(128) tool_hist_t hist; /* round trips of the current run, ns: the pinger's */
    char err[256];
    _Alignas(128) char pad_;
} rtt_t;

/* One round-trip run of n samples; fills pct[5] in us (p50 p90 p99 p99.9 max); -1 with r->err set.
 * r->hist holds the run's round trips afterwards. */
int bench_rtt_run(rtt_t *r, long n, double pct[5]);
/* A run's p50, p90, p99, p99.9 and max from its histogram (ns), in us. */
void bench_run_percentiles(const tool_hist_t *hist, double pct[5]);
/* bench_rtt_run for the Aeron peer: its own threads, the same histogram and percentiles. */
int bench_aeron_rtt_percentiles(rtt_t *r, long n, double pct[5]);

/* ---- wake-up: a publisher pausing 100..1000 us between messages, a subscriber waiting ---- */
typedef struct
{
    size_t size;
    long n;
    int mode; /* W_WAIT or W_SPIN (shoal), or a ZeroMQ mode with zpub/zsub */
    bench_pin_t *pin;
    tool_hist_t hist; /* publish -> held by the subscriber, ns */
    shoal_publication_t *pub;
    shoal_subscription_t *sub;
    void *zpub, *zsub;
    int ready, abort;
    int64_t cpu_ns, wall_ns; /* the subscriber thread's, over the run */
    char err[256];
} wake_t;

/* One wake-up run of n messages; fills pct[5] in us (p50 p90 p99 p99.9 max) and the subscriber's CPU % of
 * wall time; -1 with w->err set. */
int bench_wake_run(wake_t *w, long n, double pct[5], double *cpu_pct);

/* ---- the ZeroMQ peer ---- */
typedef struct
{
    void *ctx, *socket[2]; /* [0] PUSH or pinger's PAIR, [1] PULL or ponger's PAIR */
    char endpoint[256];    /* as asked for */
    char bound[256];       /* as bound (tcp: the port the kernel chose) */
} bench_zmq_t;

/* Sockets for scenario sc (mode Z_INPROC, Z_IPC or Z_TCP) at message size size; endpoint_number makes
 * the name unique. 0, or -1 with err set (z is then ready for bench_zmq_close). */
int bench_zmq_open(bench_zmq_t *z, const scenario_t *sc, size_t size, int endpoint_number, char *err, size_t err_len);
void bench_zmq_close(bench_zmq_t *z, const scenario_t *sc);
/* "major.minor.patch" of the libzmq linked in. */
void bench_zmq_version(int *major, int *minor, int *patch);

/* ---- report ---- */
void bench_print_table(const bench_t *b);
void bench_print_json(const bench_t *b);
void bench_print_csv(const bench_t *b);
/* 1 when the result has figures (no error, at least one run). */
int bench_result_ok(const result_t *r);

#endif
