#!/usr/bin/env bash
# The standard comparison shoal vs Aeron C vs ZeroMQ, in one shoal-bench
# invocation (same machine, same moment): IPC (exclusive and concurrent
# publications) and UDP-loopback throughput and round trip at 32 B, 1 KiB and
# 64 KiB, 5 runs each (median, min..max), shoal's and Aeron's runs alternating
# (shoal-bench pairs them; "run by run" is the median of the paired ratios);
# 2,000,000 messages per throughput run (at most 256 MiB), 10,000 round trips
# per latency run. Threads busy-poll; on 2 cores UDP starves the driver
# threads unless `-- --yield` is given (it then applies to every scenario).
# Writes bench/results/vs_aeron.json (shoal-bench --json) and
# bench/results/vs_aeron.md (the table, also printed).
#
#   bash scripts/bench_vs_aeron.sh                 # the standard comparison, 10-30 min on 2 cores
#   bash scripts/bench_vs_aeron.sh --quick         # fewer runs and messages: checks the pipeline
#   bash scripts/bench_vs_aeron.sh -- --yield      # anything after -- goes to shoal-bench
#
# Needs the Aeron peer: scripts/aeron_peer.sh AERON_SOURCE_DIR (DEVELOPERS.md).
# Environment: AERON_DIR (default build/aeron/install), BENCH_BUILD (default
# build/release-aeron; a build directory of its own, so build/release keeps its
# configuration), BENCH_OUT (default bench/results), BENCH_NOTE (a line about
# the conditions, printed in the header and the table).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
aeron="${AERON_DIR:-$root/build/aeron/install}"
build="${BENCH_BUILD:-$root/build/release-aeron}"
out="${BENCH_OUT:-$root/bench/results}"
args=(--runs 5 --messages 2000000 --samples 10000)   # as scripts/bench.sh's standard set
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) args=(--runs 2 --messages 300000 --samples 5000) ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "bench_vs_aeron.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ ! -f "$aeron/include/aeron/aeronc.h" ]; then
  echo "bench_vs_aeron.sh: no Aeron peer in $aeron; build it first: scripts/aeron_peer.sh AERON_SOURCE_DIR" \
    "(DEVELOPERS.md says where a checkout comes from)" >&2
  exit 2
fi
[ -n "${BENCH_NOTE:-}" ] && extra+=(--note "$BENCH_NOTE")

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSHOAL_BUILD_TESTS=OFF -DSHOAL_AERON_DIR="$aeron" >/dev/null
cmake --build "$build" -j"$(nproc)" --target shoal-bench >/dev/null
mkdir -p "$out"
echo "bench_vs_aeron: $(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/shoal-bench" "${args[@]}" --size 32,1024,65536 --json "${extra[@]}" \
  ipc-throughput-exclusive aeron-ipc-throughput zmq-inproc-throughput \
  ipc-throughput-concurrent aeron-ipc-throughput-concurrent \
  ipc-cold-start aeron-ipc-cold-start \
  udp-throughput aeron-udp-throughput zmq-tcp-throughput \
  ipc-rtt aeron-ipc-rtt zmq-inproc-rtt udp-rtt aeron-udp-rtt zmq-tcp-rtt > "$out/vs_aeron.json.tmp"
mv "$out/vs_aeron.json.tmp" "$out/vs_aeron.json"
echo "bench_vs_aeron: done $(date -u +%H:%M:%S) UTC"

/usr/bin/python3 - "$out/vs_aeron.json" "$out/vs_aeron.md" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
res = {(r["scenario"], r["size"]): r for r in d["results"]}
sizes = sorted({r["size"] for r in d["results"]})
m, p = d["machine"], d["params"]
# --term-length, else each transport's driver default (grown for messages > term / 8): read from the URIs.
by = {}
for r in d["results"]:
    if r["transport"] == "shoal" and "term-length=" in r["endpoint"]:
        by.setdefault(r["scenario"].split("-")[0], set()).add(r["endpoint"].split("term-length=")[1])
terms = ", ".join("%s %s" % (k, "/".join(sorted(v))) for k, v in sorted(by.items()))
L = ["shoal %s vs %s vs libzmq %s, %s" % (d["shoal_version"], d["aeron"]["version"], d["zmq_version"], d["date"]), "",
     "Machine: %d cores, %s, %s, load average at start %s. %s" % (m["nproc"], m["cpu"], m["kernel"], m["loadavg"],
                                                                 m["user_note"] or ""),
     "%d timed runs (+1 warm-up) each, %d messages per throughput run (at most %d MiB), %d round trips per run; "
     "term length (the same URI for shoal and Aeron): %s; shoal driver: %s; %s." % (p["runs"], p["messages"],
     p["max_mib_per_run"], p["samples"], terms, d["driver"],
     "threads yield when idle (--yield)" if d["client_yield"] else "busy-polling threads"),
     "", d["aeron"]["note"] + ".", ""]

def ok(r):
    return r is not None and not r["error"]

def tput(r):
    if not ok(r):
        return "error" if r else "-"
    return "%.3g (%.3g..%.3g)" % (r["median_mmsgs_per_s"], r["min_mmsgs_per_s"], r["max_mmsgs_per_s"])

def paired(b, key):
    # run by run (shoal and Aeron runs alternate): median (min..max) of the ratios of paired runs
    q = b.get(key) if ok(b) else None
    return "%.2fx (%.2f..%.2f)" % (q["median"], q["min"], q["max"]) if q else "-"

L += ["| throughput, M msgs/s median (min..max) | size | shoal | Aeron C | ZeroMQ | shoal / Aeron | "
      "run by run, median (min..max) | shoal / ZeroMQ |",
      "|---|---:|---:|---:|---:|---:|---:|---:|"]
for shoal, aeron, zmq in (("ipc-throughput-exclusive", "aeron-ipc-throughput", "zmq-inproc-throughput"),
                          ("ipc-throughput-concurrent", "aeron-ipc-throughput-concurrent", "zmq-inproc-throughput"),
                          ("ipc-cold-start", "aeron-ipc-cold-start", "zmq-inproc-throughput"),
                          ("udp-throughput", "aeron-udp-throughput", "zmq-tcp-throughput")):
    for s in sizes:
        a, b, c = res.get((shoal, s)), res.get((aeron, s)), res.get((zmq, s))
        ra = "%.2fx" % (a["median_mmsgs_per_s"] / b["median_mmsgs_per_s"]) if ok(a) and ok(b) else "-"
        rz = "%.2fx" % (a["median_mmsgs_per_s"] / c["median_mmsgs_per_s"]) if ok(a) and ok(c) else "-"
        L.append("| %s / %s / %s | %d | %s | %s | %s | %s | %s | %s |" % (shoal, aeron, zmq, s, tput(a), tput(b),
                 tput(c), ra, paired(b, "paired_ratio_shoal_over_aeron"), rz))
setups = []
for s in sizes:
    a, b = res.get(("ipc-cold-start", s)), res.get(("aeron-ipc-cold-start", s))
    if ok(a) and ok(b) and "setup_ms" in a and "setup_ms" in b:
        setups.append("%d B %.0f / %.0f" % (s, a["setup_ms"]["median"], b["setup_ms"]["median"]))
if setups:
    L += ["", "Cold start set-up, ms, median of runs, shoal / Aeron (outside the timed messages; shoal: the adds "
          "until connected, PRE_TOUCH's pass over the publication's log included; Aeron: its driver's start and "
          "the adds): " + "; ".join(setups) + "."]
L += ["", "| round trip, us: p50 / p99 / p99.9 (p50 min..max) | size | shoal | Aeron C | ZeroMQ | "
      "Aeron / shoal p50, p99, p99.9 | run by run p50; p99 | central mean (p10..p90), us: shoal / Aeron; run by run |",
      "|---|---:|---:|---:|---:|---|---|---|"]

def cmean(a, b):
    # mean of each run's round trips between its p10 and p90 (not stuck to the clock's steps), median across runs
    if not ok(a) or not ok(b) or "central_mean_us" not in a or "central_mean_us" not in b:
        return "-"
    return "%.4g / %.4g; %s" % (a["central_mean_us"]["median"], b["central_mean_us"]["median"],
                                paired(b, "paired_ratio_aeron_central_mean_over_shoal"))

def lat(r):
    if not ok(r):
        return "error" if r else "-"
    return "%.3g / %.3g / %.3g (%.3g..%.3g)" % (r["p50_us"], r["p99_us"], r["p99_9_us"], r["p50_min_us"],
                                                r["p50_max_us"])

for shoal, aeron, zmq in (("ipc-rtt", "aeron-ipc-rtt", "zmq-inproc-rtt"), ("udp-rtt", "aeron-udp-rtt", "zmq-tcp-rtt")):
    for s in sizes:
        a, b, c = res.get((shoal, s)), res.get((aeron, s)), res.get((zmq, s))
        q = "-"
        if ok(a) and ok(b):
            q = ", ".join("%.2fx" % (b[k] / a[k]) for k in ("p50_us", "p99_us", "p99_9_us"))
        pq = "%s; %s" % (paired(b, "paired_ratio_aeron_p50_over_shoal"), paired(b, "paired_ratio_aeron_p99_over_shoal"))
        L.append("| %s / %s / %s | %d | %s | %s | %s | %s | %s | %s |" % (shoal, aeron, zmq, s, lat(a), lat(b), lat(c),
                                                                          q, pq, cmean(a, b)))
errors = [r for r in d["results"] if r["error"]]
if errors:
    L += ["", "Errors: " + "; ".join("%s %d B: %s" % (r["scenario"], r["size"], r["error"]) for r in errors)]
L += ["", "Ratios > 1 mean shoal is better (throughput: shoal / other; latency: other / shoal). " +
      ("Shoal's and Aeron's runs alternate, so \"run by run\" pairs each shoal run with the Aeron run next to it "
       "(cold start: Aeron's runs after shoal's)." if p.get("aeron_runs") == "alternating"
       else "Aeron's runs followed shoal's (--sequential).")]
open(sys.argv[2], "w").write("\n".join(L) + "\n")
print("\n".join(L))
EOF
echo "bench_vs_aeron: wrote $out/vs_aeron.json $out/vs_aeron.md"
