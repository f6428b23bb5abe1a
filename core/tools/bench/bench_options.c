/*
 * shoal-bench's command line and its scenario table (bench.h).
 *
 *   shoal-bench [--scenario NAME]... [NAME...] [--runs N] [--messages N] [--samples N]
 *               [--size BYTES[,BYTES...]]... [--publishers N] [--rate MSGS_PER_S]
 *               [--json | --csv] [--no-zmq] [--no-aeron] [--pin] [--yield] [--note TEXT]
 *               [--clock tsc|monotonic]
 *
 * With -DSHOAL_AERON_DIR (scripts/aeron_peer.sh, DEVELOPERS.md) the aeron-*
 * scenarios run the loops of shoal's against Aeron C (bench_aeron.c).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_aeron.h"

#define ZIT "zmq-inproc-throughput"
#define ZTT "zmq-tcp-throughput"
#define ZIR "zmq-inproc-rtt"
#define ZTR "zmq-tcp-rtt"
#define ZIW "zmq-inproc-wake"
const scenario_t SCENARIOS[] = {
    { "ipc-throughput-exclusive", K_TPUT, 0, M_EXCL_BATCH, 0, ZIT, "exclusive publication, offer; poll_batch" },
    { "ipc-throughput-exclusive-poll", K_TPUT, 0, M_EXCL_POLL, 0, ZIT,
        "exclusive publication, offer; poll + callback" },
    { "ipc-throughput-concurrent", K_TPUT, 0, M_CONC, 0, ZIT,
        "concurrent publication, --publishers threads offer (default 1); poll_batch" },
    { "ipc-throughput-concurrent-2pub", K_TPUT, 0, M_CONC2, 0, ZIT, "2 threads offer on one concurrent publication" },
    { "ipc-throughput-claim", K_TPUT, 0, M_CLAIM, 0, ZIT, "exclusive publication, try_claim + commit; poll_batch" },
    { "ipc-cold-start", K_TPUT, 0, M_EXCL_BATCH, 0, ZIT,
        "as ipc-throughput-exclusive, each run the first 1M messages into a fresh log (new publication)", NULL, 1 },
    { "ipc-rtt", K_RTT, 0, M_EXCL_BATCH, 0, ZIR, "ping-pong over 2 streams, exclusive publications" },
    { "ipc-wake-wait", K_WAKE, 0, W_WAIT, 0, ZIW,
        "wake-up: publisher pauses 100..1000 us; subscriber blocks in shoal_subscription_wait" },
    { "ipc-wake-spin", K_WAKE, 0, W_SPIN, 0, ZIW, "wake-up: as ipc-wake-wait, the subscriber busy-polls" },
    { "udp-throughput", K_TPUT, 0, M_EXCL_BATCH, 1, ZTT,
        "aeron:udp 127.0.0.1 unicast, exclusive publication, offer; poll_batch (driver sends and receives)" },
    { "udp-rtt", K_RTT, 0, M_EXCL_BATCH, 1, ZTR, "ping-pong over 2 streams on aeron:udp 127.0.0.1 unicast" },
#ifdef SHOAL_BENCH_AERON
    { "aeron-ipc-throughput", K_TPUT, 0, M_EXCL_BATCH, 0, ZIT,
        "Aeron C, loops of ipc-throughput-exclusive: exclusive publication, offer; poll", "ipc-throughput-exclusive" },
    { "aeron-ipc-throughput-concurrent", K_TPUT, 0, M_CONC, 0, ZIT,
        "Aeron C, loops of ipc-throughput-concurrent: concurrent publication (one publisher thread), offer; poll",
        "ipc-throughput-concurrent" },
    { "aeron-ipc-cold-start", K_TPUT, 0, M_EXCL_BATCH, 0, ZIT,
        "Aeron C, loops of ipc-cold-start: each run a fresh embedded driver and log", "ipc-cold-start", 1 },
    { "aeron-ipc-rtt", K_RTT, 0, M_EXCL_BATCH, 0, ZIR, "Aeron C, loops of ipc-rtt: ping-pong over 2 streams",
        "ipc-rtt" },
    { "aeron-udp-throughput", K_TPUT, 0, M_EXCL_BATCH, 1, ZTT,
        "Aeron C, loops of udp-throughput: aeron:udp 127.0.0.1 unicast (Aeron's driver sends and receives)",
        "udp-throughput" },
    { "aeron-udp-rtt", K_RTT, 0, M_EXCL_BATCH, 1, ZTR, "Aeron C, loops of udp-rtt: ping-pong on aeron:udp 127.0.0.1",
        "udp-rtt" },
#endif
    { "archive-record", K_TPUT, 0, M_ARCHIVE_RECORD, 0, "write-ceiling",
        "exclusive IPC publication recorded by an embedded archive server into --archive-dir; until recorded" },
    { "write-ceiling", K_TPUT, 0, M_WRITE_CEILING, 0, NULL,
        "write(2) of archive-record's bytes into 128 MiB files in --archive-dir (its ceiling; same invocation)" },
    { "archive-replay", K_TPUT, 0, M_ARCHIVE_REPLAY, 0, "read-ceiling",
        "a recording in --archive-dir replayed (aeron:ipc) to a subscriber: from the request to the last message" },
    { "read-ceiling", K_TPUT, 0, M_READ_CEILING, 0, NULL,
        "read(2) of archive-replay's bytes from 128 MiB files in --archive-dir, page cache (its ceiling)" },
    { "zmq-inproc-throughput", K_TPUT, 1, Z_INPROC, 0, NULL, "PUSH/PULL inproc://" },
    { "zmq-ipc-throughput", K_TPUT, 1, Z_IPC, 0, NULL, "PUSH/PULL ipc:// under /tmp (+1 zmq I/O thread)" },
    { "zmq-tcp-throughput", K_TPUT, 1, Z_TCP, 0, NULL, "PUSH/PULL tcp://127.0.0.1 (+1 zmq I/O thread)" },
    { "zmq-inproc-rtt", K_RTT, 1, Z_INPROC, 0, NULL, "PAIR ping-pong inproc://" },
    { "zmq-tcp-rtt", K_RTT, 1, Z_TCP, 0, NULL, "PAIR ping-pong tcp://127.0.0.1 (+1 zmq I/O thread)" },
    { "zmq-inproc-wake", K_WAKE, 1, Z_INPROC, 0, NULL, "wake-up: as ipc-wake-wait, PAIR inproc://, blocking zmq_recv" },
    { "zmq-tcp-wake", K_WAKE, 1, Z_TCP, 0, NULL,
        "wake-up: as ipc-wake-wait, PAIR tcp://127.0.0.1, blocking zmq_recv (+1 zmq I/O thread)" },
};
const size_t N_SCENARIOS = sizeof(SCENARIOS) / sizeof(SCENARIOS[0]);
_Static_assert(sizeof(SCENARIOS) / sizeof(SCENARIOS[0]) <= MAX_SCENARIOS, "raise MAX_SCENARIOS");

static void usage(FILE *out)
{
    fprintf(out,
        "usage: shoal-bench [options]\n"
        "  --scenario NAME   run NAME (repeatable or comma list; default: all below)\n"
        "  --runs N          timed runs per scenario after one warm-up (default 5, max %d)\n"
        "  --messages N      messages per throughput run (default 5000000)\n"
        "  --samples N       round trips per latency run (default 100000)\n"
        "  --term-length MIB shoal IPC and UDP term length in MiB, a power of two (default: the driver's, IPC 64,\n"
        "                    UDP 16; window = term / 2)\n"
        "  --size BYTES      message size, %d..%d (default 32; repeatable or comma list, at most %d sizes)\n"
        "  --max-mib N       cap a throughput run at N MiB of payload (and >= 16 messages): fewer messages\n"
        "                    for large sizes (default 256)\n"
        "  --publishers N    publisher threads of ipc-throughput-concurrent, 1..%d (default 1)\n"
        "  --rate N          rtt scenarios: N pings per second on a fixed schedule, latency from the intended\n"
        "                    send time (coordinated omission counted); default: back to back\n"
        "  --set KEY=VALUE   embedded driver setting, as shoald --set (e.g. IDLE_STRATEGY=busy-spin); repeatable\n"
        "  --archive-dir DIR archive-record and write-ceiling write there (default: a directory of their own\n"
        "                    under /var/tmp, removed after); ARCHIVE_* settings go with --set\n"
        "  --note TEXT       a line about the conditions (e.g. a shared machine), printed in the header\n"
        "  --json | --csv    machine-readable output instead of the table\n"
        "  --no-zmq          skip the ZeroMQ peer scenarios\n"
        "  --no-aeron        skip the Aeron peer scenarios\n"
        "  --sequential      run an aeron-* scenario after its shoal scenario; by default the two are set up\n"
        "                    together and their runs alternate, so a change in machine speed reaches both\n"
        "  --pin             pin publisher/pinger and subscriber/ponger threads to the first two CPUs\n"
        "                    (archive-record: the archive server's threads on the subscriber's CPU)\n"
        "  --pin-driver pub|sub  also pin the embedded drivers' and clients' threads (shoal's and Aeron's)\n"
        "                    to the publisher's or the subscriber's CPU (implies --pin)\n"
        "  --yield           shoal threads sched_yield() when a poll finds nothing or an offer is back\n"
        "                    pressured, so a driver thread is not starved when there are fewer cores than\n"
        "                    busy threads (UDP on 2 cores; IPC whose window the conductor must move)\n"
        "  --clock tsc|monotonic  what times the runs: the TSC (default, where the kernel's clocksource is\n"
        "                    tsc; calibrated, ~10 ns a reading) or clock_gettime(CLOCK_MONOTONIC)\n"
        "  --help            this text\n",
        MAX_RUNS, MIN_SIZE, MAX_SIZE, MAX_SIZES, MAX_PUB);
#ifdef SHOAL_BENCH_AERON
    fprintf(out, "aeron peer: %s\n", bench_aeron_version());
#else
    fprintf(out,
        "aeron peer: not built in (aeron-ipc-throughput, aeron-ipc-throughput-concurrent, aeron-ipc-rtt, "
        "aeron-udp-throughput, aeron-udp-rtt);\n"
        "  to get it: %s\n",
        AERON_HOWTO);
#endif
    fprintf(out, "scenarios (also accepted as plain arguments):\n");
    for (size_t i = 0; i < N_SCENARIOS; i++)
        fprintf(out, "  %-32s %s\n", SCENARIOS[i].name, SCENARIOS[i].what);
}

void bench_bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "shoal-bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see shoal-bench --help)\n");
    va_end(ap);
    exit(2);
}

static long parse_long(const char *name, const char *s, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        bench_bad("%s: '%s' is not an integer in %ld..%ld", name, s, min, max);
    return v;
}

static void parse_list(bench_options_t *opt, const char *arg, int is_size)
{
    char copy[512];
    snprintf(copy, sizeof(copy), "%s", arg);
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
    {
        if (is_size)
        {
            if (opt->nsizes == MAX_SIZES)
                bench_bad("--size: at most %d sizes", MAX_SIZES);
            opt->sizes[opt->nsizes++] = (size_t)parse_long("--size", tok, MIN_SIZE, MAX_SIZE);
            continue;
        }
        size_t i = 0;
        while (i < N_SCENARIOS && strcmp(SCENARIOS[i].name, tok))
            i++;
        if (i == N_SCENARIOS && 0 == strncmp(tok, "aeron-", 6))
            bench_bad("--scenario %s: the Aeron peer is not built into this shoal-bench; to get it: %s", tok,
                AERON_HOWTO);
        if (i == N_SCENARIOS)
            bench_bad("--scenario: unknown scenario '%s'; --help lists them", tok);
        opt->selected[i] = opt->any_selected = 1;
    }
}

int bench_parse_options(bench_options_t *opt, int argc, char **argv)
{
    static const struct option options[] = { { "scenario", required_argument, NULL, 's' },
        { "runs", required_argument, NULL, 'r' }, { "messages", required_argument, NULL, 'm' },
        { "samples", required_argument, NULL, 'n' }, { "term-length", required_argument, NULL, 't' },
        { "size", required_argument, NULL, 'z' }, { "json", no_argument, NULL, 'j' }, { "csv", no_argument, NULL, 'c' },
        { "no-zmq", no_argument, NULL, 'Z' }, { "pin", no_argument, NULL, 'p' },
        { "pin-driver", required_argument, NULL, 'D' }, { "help", no_argument, NULL, 'h' },
        { "max-mib", required_argument, NULL, 'M' }, { "publishers", required_argument, NULL, 'P' },
        { "rate", required_argument, NULL, 'R' }, { "note", required_argument, NULL, 'N' },
        { "set", required_argument, NULL, 'S' }, { "yield", no_argument, NULL, 'Y' },
        { "no-aeron", no_argument, NULL, 'A' }, { "archive-dir", required_argument, NULL, 'a' },
        { "sequential", no_argument, NULL, 'Q' }, { "clock", required_argument, NULL, 'C' }, { NULL, 0, NULL, 0 } };
    *opt = (bench_options_t){ .runs = 5,
        .messages = 5000000,
        .samples = 100000,
        .term_mib = 0,
        .max_mib = 256,
        .publishers = 1,
        .pin_driver = -1,
        .clock_tsc = 1 };
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "", options, NULL)) != -1)
    {
        switch (o)
        {
            case 's': parse_list(opt, optarg, 0); break;
            case 'r': opt->runs = parse_long("--runs", optarg, 1, MAX_RUNS); break;
            case 'm': opt->messages = parse_long("--messages", optarg, 1, 1L << 40); break;
            case 'n': opt->samples = parse_long("--samples", optarg, 1, 100000000); break;
            case 't':
                opt->term_mib = parse_long("--term-length", optarg, 1, 1024);
                if (opt->term_mib & (opt->term_mib - 1))
                    bench_bad("--term-length: %ld is not a power of two", opt->term_mib);
                break;
            case 'z': parse_list(opt, optarg, 1); break;
            case 'j': opt->json = 1; break;
            case 'c': opt->csv = 1; break;
            case 'Z': opt->no_zmq = 1; break;
            case 'A': opt->no_aeron = 1; break;
            case 'p': opt->pin = 1; break;
            case 'D':
                if (0 != strcmp(optarg, "pub") && 0 != strcmp(optarg, "sub"))
                    bench_bad("--pin-driver: '%s' is neither pub nor sub", optarg);
                opt->pin = 1;
                opt->pin_driver = 0 == strcmp(optarg, "pub") ? 0 : 1;
                break;
            case 'Y': opt->yield = 1; break;
            case 'Q': opt->sequential = 1; break;
            case 'C':
                if (0 != strcmp(optarg, "tsc") && 0 != strcmp(optarg, "monotonic"))
                    bench_bad("--clock: '%s' is neither tsc nor monotonic", optarg);
                opt->clock_tsc = 0 == strcmp(optarg, "tsc");
                break;
            case 'M': opt->max_mib = parse_long("--max-mib", optarg, 1, 1L << 20); break;
            case 'P': opt->publishers = parse_long("--publishers", optarg, 1, MAX_PUB); break;
            case 'R': opt->rate = parse_long("--rate", optarg, 1, 1000000000L); break;
            case 'N': opt->note = optarg; break;
            case 'a': opt->archive_dir = optarg; break;
            case 'S':
                if (opt->nsettings == MAX_SETTINGS)
                    bench_bad("--set: at most %d settings", opt->nsettings);
                if (!strchr(optarg, '='))
                    bench_bad("--set: '%s' is not KEY=VALUE", optarg);
                opt->settings[opt->nsettings++] = optarg;
                break;
            case 'h': usage(stdout); return 1;
            default:
                if (optopt)
                    bench_bad("option '%s' %s", argv[optind - 1],
                        strchr(argv[optind - 1], '=') ? "takes no value" : "needs a value");
                bench_bad("unknown option '%s'", argv[optind - 1]);
        }
    }
    for (; optind < argc; optind++)
        parse_list(opt, argv[optind], 0);
    if (opt->json && opt->csv)
        bench_bad("--json and --csv exclude each other");
    if (0 == opt->nsizes)
        opt->sizes[opt->nsizes++] = 32;
    for (size_t i = 0; i < N_SCENARIOS; i++)
    {
        if (opt->no_zmq && SCENARIOS[i].zmq && opt->selected[i])
            bench_bad("--no-zmq contradicts --scenario %s", SCENARIOS[i].name);
        if (opt->no_aeron && SCENARIOS[i].mirror && opt->selected[i])
            bench_bad("--no-aeron contradicts --scenario %s", SCENARIOS[i].name);
        opt->selected[i] = opt->any_selected
            ? opt->selected[i]
            : !(opt->no_zmq && SCENARIOS[i].zmq) && !(opt->no_aeron && SCENARIOS[i].mirror);
    }
    return 0;
}
