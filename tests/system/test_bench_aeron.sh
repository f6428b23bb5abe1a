#!/usr/bin/env bash
# shoal-bench's Aeron peer (DEVELOPERS.md): in a shoal-bench built with
# -DSHOAL_AERON_DIR, aeron-ipc-throughput runs and prints a figure, and the
# JSON names Aeron's version, the shoal scenario each aeron-* one mirrors and
# the ratios; the embedded Aeron driver's aeron.dir is gone afterwards.
# CI cannot build the peer (no network, no Aeron checkout): there this test is
# skipped (exit 77, ctest SKIP_RETURN_CODE) and says so. What a build without
# the peer prints is checked by test_tools.sh.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
OUT="$(mktemp -d /tmp/shoal-bench-aeron-XXXXXX)"
trap 'cleanup; rm -rf "$OUT"' EXIT

if [ ! -x "$BUILD/shoal-bench" ]; then
  echo "SKIP: no $BUILD/shoal-bench (SHOAL_BUILD_BENCH off or libzmq missing), so no Aeron peer either"
  exit 77
fi
bench_help=$("$BUILD/shoal-bench" --help)  # (not piped into grep -q: with pipefail a SIGPIPE reads as "no peer")
if ! grep -q '^  aeron-ipc-throughput ' <<< "$bench_help"; then
  echo "SKIP: $BUILD/shoal-bench has no Aeron peer (configured without -DSHOAL_AERON_DIR; CI has neither network nor an"
  echo "      Aeron checkout to build it). To run this test: scripts/aeron_peer.sh AERON_SOURCE_DIR, then configure"
  echo "      with -DSHOAL_AERON_DIR=\$PWD/build/aeron/install (DEVELOPERS.md)."
  exit 77
fi

# ---- the figure, as a user asks for it ----
"$BUILD/shoal-bench" --scenario aeron-ipc-throughput --runs 1 --messages 100000 > "$OUT/table" 2> "$OUT/err" &
bench=$!
wait $bench || fail "shoal-bench aeron-ipc-throughput: $(tail -5 "$OUT/err")"
line=$(grep -E '^aeron-ipc-throughput +32 +1 ' "$OUT/table") || fail "no aeron-ipc-throughput row: $(cat "$OUT/table")"
echo "$line"
$PY -c 'import sys; v = float(sys.argv[1]); assert v > 0, v' "$(awk '{print $4}' <<<"$line")" \
  || fail "aeron-ipc-throughput median is not a positive figure: $line"
grep -q "^          aeron: aeron version=" "$OUT/table" || fail "the header does not name Aeron's version"
ls -d /dev/shm/shoal-bench-aeron-"$bench"-* 2>/dev/null && fail "aeron.dir left behind"
pass "shoal-bench aeron-ipc-throughput: $(awk '{print $4}' <<<"$line") M msgs/s, Aeron's version in the header, no aeron.dir left"

# ---- side by side in one run: JSON with the mirrored scenario and the ratios ----
"$BUILD/shoal-bench" --runs 1 --messages 100000 --samples 1000 --no-zmq --json \
  ipc-throughput-exclusive aeron-ipc-throughput ipc-rtt aeron-ipc-rtt > "$OUT/bench.json" 2> "$OUT/err" \
  || fail "shoal-bench shoal vs aeron: $(tail -5 "$OUT/err")"
$PY - "$OUT/bench.json" <<'PYEOF' || fail "shoal-bench --json shoal vs aeron"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["aeron"]["version"].startswith("aeron version="), d["aeron"]
r = {x["scenario"]: x for x in d["results"]}
for name in r:
    assert r[name]["error"] is None, r[name]
a, b = r["aeron-ipc-throughput"], r["aeron-ipc-rtt"]
assert a["transport"] == "aeron" and a["shoal_peer"] == "ipc-throughput-exclusive" and a["messages"] == 100000
assert a["endpoint"] == r["ipc-throughput-exclusive"]["endpoint"] == "aeron:ipc?term-length=64m", a["endpoint"]  # the driver default
assert a["median_mmsgs_per_s"] > 0 and a["ratio_shoal_over_aeron"] > 0, a
assert b["transport"] == "aeron" and b["shoal_peer"] == "ipc-rtt" and b["round_trips"] == 1000, b
assert 0 < b["p50_us"] <= b["p99_us"] <= b["max_us"] and b["ratio_aeron_p50_over_shoal"] > 0, b
assert r["ipc-rtt"]["transport"] == "shoal" and "shoal_peer" not in r["ipc-rtt"]
# the runs alternated: each aeron-* result carries the ratios of its runs to the shoal runs next to them
assert d["params"]["aeron_runs"] == "alternating", d["params"]
q = a["paired_ratio_shoal_over_aeron"]
assert 0 < q["min"] <= q["median"] <= q["max"], q
runs = r["ipc-throughput-exclusive"]["runs"], a["runs"]
assert abs(q["median"] - runs[0][0] / runs[1][0]) < 1e-3 * q["median"], (q, runs)  # one run each: that run's ratio
for k in ("paired_ratio_aeron_p50_over_shoal", "paired_ratio_aeron_p99_over_shoal"):
    assert 0 < b[k]["min"] <= b[k]["median"] <= b[k]["max"], (k, b)
PYEOF
pass "shoal-bench --json: aeron-* results next to shoal's, same endpoint, with the ratios, runs alternating"

# ---- --sequential: the aeron-* scenario after its shoal one, no run-by-run ratio ----
"$BUILD/shoal-bench" --runs 2 --messages 100000 --no-zmq --json --sequential \
  ipc-throughput-exclusive aeron-ipc-throughput > "$OUT/seq.json" 2> "$OUT/err" \
  || fail "shoal-bench --sequential: $(tail -5 "$OUT/err")"
$PY - "$OUT/seq.json" <<'PYEOF' || fail "shoal-bench --sequential --json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["params"]["aeron_runs"] == "sequential", d["params"]
r = {x["scenario"]: x for x in d["results"]}
a = r["aeron-ipc-throughput"]
assert a["error"] is None and len(a["runs"]) == 2 and a["ratio_shoal_over_aeron"] > 0, a
assert "paired_ratio_shoal_over_aeron" not in a, a
PYEOF
pass "shoal-bench --sequential: the runs one scenario after the other, ratio of medians only"

# ---- a side that cannot run does not take its pair down: the Aeron loop has one publisher thread ----
"$BUILD/shoal-bench" --runs 2 --messages 100000 --no-zmq --json --publishers 2 \
  ipc-throughput-concurrent aeron-ipc-throughput-concurrent > "$OUT/skip.json" 2> "$OUT/err" \
  || fail "shoal-bench --publishers 2 with the Aeron peer: exit status $?: $(tail -5 "$OUT/err")"
$PY - "$OUT/skip.json" <<'PYEOF' || fail "shoal-bench --publishers 2 --json with the Aeron peer"
import json, sys
d = json.load(open(sys.argv[1]))
r = {x["scenario"]: x for x in d["results"]}
s, a = r["ipc-throughput-concurrent"], r["aeron-ipc-throughput-concurrent"]
assert s["error"] is None and len(s["runs"]) == 2 and s["median_mmsgs_per_s"] > 0, s
assert a["error"].startswith("skipped:") and "one publisher thread" in a["error"], a
assert "paired_ratio_shoal_over_aeron" not in a, a
PYEOF
pass "shoal-bench: the Aeron side skipped (--publishers 2), shoal's runs measured alone"
