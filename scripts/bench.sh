#!/usr/bin/env bash
# The standard benchmark: builds Release, runs shoal-bench side by side with
# ZeroMQ, writes bench/results/*.json, a summary table and PNG plots.
#
#   bash scripts/bench.sh            # the standard set, a few minutes
#   bash scripts/bench.sh --quick    # fewer runs and messages: checks the pipeline, figures are rough
#   bash scripts/bench.sh --plots    # only redo summary.md and the plots from the JSON already there
#
# Environment: BENCH_BUILD (build dir, default build/release), BENCH_OUT
# (default bench/results), BENCH_NOTE (a line about the conditions, printed in
# every header and in the summary), BENCH_PIN=1 (pass --pin).
#
# What runs:
#   standard.json  32-byte messages: IPC and UDP-loopback throughput and round trip,
#                  ZeroMQ inproc/ipc/tcp peers; 5 runs each (median and min..max)
#   sweep.json     throughput by message size 32 B .. 64 KiB: shoal IPC and UDP,
#                  ZeroMQ inproc and tcp; 3 runs each
# and from them summary.md (the tables quoted in docs/performance.md),
# throughput_by_size.png and latency_percentiles.png (gnuplot).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BENCH_BUILD:-$root/build/release}"
out="${BENCH_OUT:-$root/bench/results}"
quick=0
plots_only=0
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;
    --plots) plots_only=1 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument '$a' (try --help)" >&2; exit 2 ;;
  esac
done

bash "$root/scripts/deps.sh" gnuplot-nox
PY=/usr/bin/python3
mkdir -p "$out"

if [ $plots_only = 0 ]; then
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target shoal-bench >/dev/null
bench="$build/shoal-bench"
mkdir -p "$out"

if [ $quick = 1 ]; then
  std=(--runs 2 --messages 300000 --samples 5000)
  swp=(--runs 1 --messages 200000 --max-mib 16)
else
  std=(--runs 5 --messages 2000000 --samples 10000)
  swp=(--runs 3 --messages 1000000 --max-mib 32)
fi
common=()
[ -n "${BENCH_NOTE:-}" ] && common+=(--note "$BENCH_NOTE")
[ "${BENCH_PIN:-0}" = 1 ] && common+=(--pin)

echo "bench: standard set (32 B), $(date -u +%H:%M:%S) UTC"
"$bench" "${std[@]}" "${common[@]}" --size 32 --json \
  ipc-throughput-exclusive ipc-throughput-concurrent ipc-throughput-claim udp-throughput \
  zmq-inproc-throughput zmq-ipc-throughput zmq-tcp-throughput \
  ipc-rtt udp-rtt zmq-inproc-rtt zmq-tcp-rtt > "$out/standard.json.tmp"
mv "$out/standard.json.tmp" "$out/standard.json"

echo "bench: size sweep 32 B .. 64 KiB, $(date -u +%H:%M:%S) UTC"
"$bench" "${swp[@]}" "${common[@]}" --size 32,128,512,2048,8192,65536 --json \
  ipc-throughput-exclusive udp-throughput zmq-inproc-throughput zmq-tcp-throughput > "$out/sweep.json.tmp"
mv "$out/sweep.json.tmp" "$out/sweep.json"
echo "bench: done $(date -u +%H:%M:%S) UTC; tables and plots"
fi

# Tables (markdown) and the data files gnuplot reads.
"$PY" - "$out" <<'EOF'
import json, os, sys
out = sys.argv[1]
std = json.load(open(os.path.join(out, "standard.json")))
swp = json.load(open(os.path.join(out, "sweep.json")))

def f(v, fmt="%.2f"):
    return "-" if v is None else fmt % v

lines = []
m = std["machine"]
lines.append("shoal %s vs libzmq %s, %s" % (std["shoal_version"], std["zmq_version"], std["date"]))
lines.append("")
lines.append("Machine: %d cores, %s, %s, load average at start %s. %s" % (
    m["nproc"], m["cpu"], m["kernel"], m["loadavg"], m["user_note"] or ""))
p = std["params"]
lines.append("Standard set: %d timed runs (+1 warm-up), %d messages per throughput run, %d round trips per latency run; "
             "driver: %s." % (p["runs"], p["messages"], p["samples"], std.get("driver", "default settings")))
lines.append("")
def results_table(header, separator, kind, cells):
    # The standard set's results of kind, one row each: cells(r) after the
    # scenario, or why there are none ("error", "skipped") and blank cells.
    lines.append(header)
    lines.append(separator)
    blanks = header.count("|") - 3
    for r in std["results"]:
        if r["kind"] != kind:
            continue
        if r["error"]:
            lines.append("| %s | %s |" % (r["scenario"], "skipped" if r.get("skipped") else "error") + " |" * blanks)
        else:
            lines.append("| %s | %s |" % (r["scenario"], cells(r)))
    lines.append("")

def throughput_cells(r):
    ratio = "%.2fx %s" % (r["ratio_vs_zmq"], r["zmq_peer"]) if r.get("ratio_vs_zmq") else ""
    return "%.2f | %.2f..%.2f | %.0f | %s" % (r["median_mmsgs_per_s"], r["min_mmsgs_per_s"], r["max_mmsgs_per_s"],
                                              r["median_mb_per_s"], ratio)

def rtt_cells(r):
    ratio = ""
    if r.get("ratio_zmq_p50_over_shoal"):
        ratio = "%.2fx, %.2fx (%s)" % (r["ratio_zmq_p50_over_shoal"], r["ratio_zmq_p99_over_shoal"] or 0, r["zmq_peer"])
    return "%.1f | %.1f | %.1f | %.1f | %.1f | %.1f..%.1f | %s" % (r["p50_us"], r["p90_us"], r["p99_us"], r["p99_9_us"],
                                                                  r["max_us"], r["p50_min_us"], r["p50_max_us"], ratio)

results_table("| throughput, 32 B | M msgs/s median | min..max | MB/s | vs ZeroMQ |", "|---|---:|---:|---:|---|",
              "throughput", throughput_cells)
results_table("| round trip, 32 B, us | p50 | p90 | p99 | p99.9 | max | p50 min..max | ZeroMQ / shoal p50, p99 |",
              "|---|---:|---:|---:|---:|---:|---:|---|", "rtt", rtt_cells)
sizes = sorted({r["size"] for r in swp["results"]})
names = ["ipc-throughput-exclusive", "udp-throughput", "zmq-inproc-throughput", "zmq-tcp-throughput"]
val = {(r["scenario"], r["size"]): r for r in swp["results"]}
lines.append("| throughput by size, MB/s (M msgs/s) | " + " | ".join("%d B" % s for s in sizes) + " |")
lines.append("|---|" + "---:|" * len(sizes))
for n in names:
    cells = []
    for s in sizes:
        r = val.get((n, s))
        cells.append("-" if not r or r["error"] else "%.0f (%.3f)" % (r["median_mb_per_s"], r["median_mmsgs_per_s"]))
    lines.append("| %s | %s |" % (n, " | ".join(cells)))
open(os.path.join(out, "summary.md"), "w").write("\n".join(lines) + "\n")

# gnuplot data: one block per scenario, separated by two blank lines (index 0, 1, ...).
with open(os.path.join(out, "throughput_by_size.dat"), "w") as d:
    for n in names:
        d.write("# %s: size msgs_per_s_median min max mb_per_s\n" % n)
        for s in sizes:
            r = val.get((n, s))
            if r and not r["error"]:
                d.write("%d %g %g %g %g\n" % (s, r["median_mmsgs_per_s"] * 1e6, r["min_mmsgs_per_s"] * 1e6,
                                              r["max_mmsgs_per_s"] * 1e6, r["median_mb_per_s"]))
        d.write("\n\n")
rtt = ["ipc-rtt", "udp-rtt", "zmq-inproc-rtt", "zmq-tcp-rtt"]
with open(os.path.join(out, "latency_percentiles.dat"), "w") as d:
    for n in rtt:
        r = [x for x in std["results"] if x["scenario"] == n]
        d.write("# %s: percentile x=1/(1-p) latency_us\n" % n)
        if r and not r[0]["error"]:
            for q, us in r[0]["distribution_us"]:
                if 0 < q < 100:
                    d.write("%g %g %g\n" % (q, 1.0 / (1.0 - q / 100.0), us))
        d.write("\n\n")
print(open(os.path.join(out, "summary.md")).read())
EOF

gnuplot <<EOF
set terminal pngcairo size 1200,520 font "sans,10"
set output "$out/throughput_by_size.png"
set multiplot layout 1,2 title "Throughput by message size (median of runs, bars: min..max) — $(date -u +%Y-%m-%d), $(nproc) cores"
set logscale xy 2
set xrange [24:90000]
set logscale y 10
set xlabel "message size, bytes"
set xtics ("32" 32, "128" 128, "512" 512, "2K" 2048, "8K" 8192, "64K" 65536)
set grid
set key top right
set ylabel "messages/s"
plot "$out/throughput_by_size.dat" index 0 using 1:2:3:4 with yerrorlines lw 2 title "shoal aeron:ipc", \
     "" index 1 using 1:2:3:4 with yerrorlines lw 2 title "shoal aeron:udp 127.0.0.1", \
     "" index 2 using 1:2:3:4 with yerrorlines lw 2 dt 2 title "zmq inproc", \
     "" index 3 using 1:2:3:4 with yerrorlines lw 2 dt 2 title "zmq tcp 127.0.0.1"
set ylabel "MB/s (10^6 payload bytes)"
set key top left
plot "$out/throughput_by_size.dat" index 0 using 1:5 with linespoints lw 2 title "shoal aeron:ipc", \
     "" index 1 using 1:5 with linespoints lw 2 title "shoal aeron:udp 127.0.0.1", \
     "" index 2 using 1:5 with linespoints lw 2 dt 2 title "zmq inproc", \
     "" index 3 using 1:5 with linespoints lw 2 dt 2 title "zmq tcp 127.0.0.1"
unset multiplot

set output "$out/latency_percentiles.png"
set terminal pngcairo size 900,560 font "sans,10"
set title "Round trip, 32 B: percentile distribution (all timed runs merged)"
unset logscale
set xrange [1.5:200000]
set autoscale y
set logscale x 10
set logscale y 10
set xlabel "percentile"
set ylabel "round trip, us"
set xtics ("50%%" 2, "90%%" 10, "99%%" 100, "99.9%%" 1000, "99.99%%" 10000, "99.999%%" 100000)  # labels are formats
set key top left
set grid
plot "$out/latency_percentiles.dat" index 0 using 2:3 with linespoints lw 2 title "shoal aeron:ipc", \
     "" index 1 using 2:3 with linespoints lw 2 title "shoal aeron:udp 127.0.0.1", \
     "" index 2 using 2:3 with linespoints lw 2 dt 2 title "zmq inproc", \
     "" index 3 using 2:3 with linespoints lw 2 dt 2 title "zmq tcp 127.0.0.1"
EOF
echo "bench: wrote $out/standard.json $out/sweep.json $out/summary.md $out/throughput_by_size.png $out/latency_percentiles.png"
