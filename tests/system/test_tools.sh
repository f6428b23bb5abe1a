#!/usr/bin/env bash
# Operator tools against a live shoald, field by field: shoal-stat --json
# (system counters, per-stream counters, the UDP loss report under injected
# loss), shoal-stat --loss, shoal-errors --json for a driver-side error, and
# shoal-bench --json (every scenario name, large sizes, --rate, --publishers, wake-up CPU shares).
# test_shoald.sh already checks that the tools run and see a client time-out;
# this test checks what they report. No assertion depends on timing.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
OUT="$(mktemp -d /tmp/shoal-tools-XXXXXX)"
trap 'cleanup; rm -rf "$OUT"' EXIT

free_udp_port() {
  $PY -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- shoal-errors on a fresh driver: valid JSON, no errors ----
start_shoald --set RCV_LOSS_RATE=0.05 --set LOSS_SEED=7
"$BUILD/shoal-errors" -d "$DIR" --json > "$OUT/errors0.json"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d == {"errors": []}, d' "$OUT/errors0.json" \
  || fail "shoal-errors --json on a fresh driver: $(cat "$OUT/errors0.json")"
pass "shoal-errors --json: empty error list on a fresh driver"

# ---- IPC: counters after a publisher/subscriber exchange ----
"$BUILD/basic_subscriber" -d "$DIR" -s 21 -n 5000 -t 60 > "$OUT/sub" &
sub=$!; PIDS+=("$sub")
"$BUILD/basic_publisher" -d "$DIR" -s 21 -n 5000 -l 64 > /dev/null
wait $sub || fail "ipc subscriber: $(cat "$OUT/sub")"
"$BUILD/shoal-stat" -d "$DIR" --once --json > "$OUT/stat_ipc.json"
$PY - "$OUT/stat_ipc.json" "$SHOALD_PID" <<'EOF' || fail "shoal-stat --json after IPC traffic; the driver's error log: $("$BUILD/shoal-errors" -d "$DIR" 2>&1)"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["pid"] == int(sys.argv[2]), d["pid"]
assert d["alive"] is True and d["heartbeat_age_ms"] >= 0
by_label = {c["label"]: c for c in d["counters"]}
for c in d["counters"]:
    assert set(c) == {"id", "type", "value", "rate_per_s", "label"}, c
    assert isinstance(c["value"], int) and isinstance(c["id"], int)
ids = [c["id"] for c in d["counters"]]
assert ids == sorted(set(ids)), "ids not unique and ascending"
system = ["Bytes sent", "Bytes received", "Errors", "Client liveness timeouts", "Invalid client commands",
          "Publications active", "Subscriptions active", "Clients active", "Back pressure events",
          "NAKs sent", "NAKs received", "Retransmits sent", "Loss gap fills", "Driver heartbeat (epoch ms)"]
for label in system:
    assert label in by_label, "missing system counter " + label
    assert by_label[label]["type"] == 0
# Both clients closed cleanly: no errors, no time-outs, no UDP traffic (publications may still linger).
assert by_label["Errors"]["value"] == 0
assert by_label["Client liveness timeouts"]["value"] == 0
assert by_label["Publications active"]["value"] in (0, 1)
assert by_label["NAKs sent"]["value"] == 0 and by_label["Bytes sent"]["value"] == 0
assert d["udp"]["endpoints"] == [] and d["udp"]["images"] == [] and d["udp"]["publications"] == []
EOF
pass "shoal-stat --json: system counters, ids, values after an IPC exchange"

# ---- UDP with 5% injected receive loss: the loss report while the stream runs ----
port=$(free_udp_port)
chan="aeron:udp?endpoint=127.0.0.1:$port"
"$BUILD/basic_subscriber" -d "$DIR" -c "$chan" -s 22 -n 20000 -t 120 > "$OUT/sub" &
sub=$!; PIDS+=("$sub")
"$BUILD/basic_publisher" -d "$DIR" -c "$chan" -s 22 -n 20000 -l 200 -r 5000 > /dev/null &
pub=$!; PIDS+=("$pub")
# Wait (no deadline beyond the test timeout) until NAKs and an image are visible, then check the report.
seen=0
for _ in $(seq 1 600); do
  "$BUILD/shoal-stat" -d "$DIR" --once --json > "$OUT/stat_udp.json"
  if $PY -c 'import json,sys; u=json.load(open(sys.argv[1]))["udp"]; sys.exit(0 if u["totals"]["naks_sent"] > 0 and u["images"] and u["publications"] else 1)' "$OUT/stat_udp.json"; then
    seen=1; break
  fi
  kill -0 $pub 2>/dev/null || break
  sleep 0.1
done
[ $seen = 1 ] || fail "no NAKs or no image in shoal-stat --json under 5% loss: $(cat "$OUT/stat_udp.json")"
"$BUILD/shoal-stat" -d "$DIR" --once --loss > "$OUT/loss.txt"
$PY - "$OUT/stat_udp.json" "$chan" <<'EOF' || fail "shoal-stat --json udp loss report"
import json, sys
d, chan = json.load(open(sys.argv[1])), sys.argv[2]
u = d["udp"]
t = u["totals"]
for k in ("naks_sent", "naks_received", "retransmits_sent", "loss_gap_fills", "invalid_frames", "short_sends",
          "status_messages_sent", "status_messages_received", "heartbeats_sent", "back_pressure_events"):
    assert isinstance(t[k], int) and t[k] >= 0, k
eps = {e["direction"]: e for e in u["endpoints"] if e["channel"] == chan}
assert set(eps) == {"snd", "rcv"}, u["endpoints"]
snd, rcv = eps["snd"], eps["rcv"]
for e in (snd, rcv):
    for k in ("bytes_sent", "bytes_received", "datagrams_sent", "datagrams_received", "naks_sent", "naks_received",
              "retransmits_sent", "status_messages_sent", "status_messages_received", "short_sends",
              "invalid_frames", "heartbeats_sent"):
        assert isinstance(e[k], int) and e[k] >= 0, (e["direction"], k)
# Counters are read one after another while traffic flows, so only relations that hold at any instant.
assert rcv["naks_sent"] > 0 and snd["datagrams_sent"] > 0 and rcv["status_messages_sent"] > 0
assert snd["naks_sent"] == 0 and rcv["retransmits_sent"] == 0  # each side does its own half
img = [i for i in u["images"] if i["channel"] == chan and i["stream_id"] == 22]
pub = [p for p in u["publications"] if p["channel"] == chan and p["stream_id"] == 22]
assert len(img) == 1 and len(pub) == 1, (u["images"], u["publications"])
img, pub = img[0], pub[0]
assert img["session_id"] == pub["session_id"]
assert img["source"].startswith("127.0.0.1:")
assert img["gap_bytes"] == max(0, img["rcv_hwm"] - img["rcv_pos"])
assert pub["unsent_bytes"] == max(0, pub["pub_pos"] - pub["snd_pos"])
# The report is read after the counter list: counters only grow.
by_label = {c["label"]: c["value"] for c in d["counters"]}
assert by_label["rcv-channel NAKs sent: " + chan] <= rcv["naks_sent"]
assert by_label["snd-channel retransmits sent: " + chan] <= snd["retransmits_sent"]
EOF
grep -q "NAKs-out" "$OUT/loss.txt" && grep -q "$chan" "$OUT/loss.txt" && grep -q "gap (hwm-pos)" "$OUT/loss.txt" \
  && grep -q "unsent (pub-snd)" "$OUT/loss.txt" || fail "shoal-stat --loss text: $(cat "$OUT/loss.txt")"
wait $pub || fail "udp publisher"
wait $sub || fail "udp subscriber under 5% loss: $(cat "$OUT/sub")"
grep -q "received 20000 messages, 0 errors" "$OUT/sub" || fail "udp subscriber output: $(cat "$OUT/sub")"
pass "shoal-stat: UDP loss report (NAKs, retransmits, gap, unsent) per endpoint and stream under 5% loss"

# ---- shoal-errors --json: a driver-side error (UDP port taken) is logged with its details ----
port=$(free_udp_port)
$PY -c 'import socket,sys,time; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", int(sys.argv[1]))); print("bound", flush=True); time.sleep(60)' "$port" > "$OUT/holder" &
holder=$!; PIDS+=("$holder")
for _ in $(seq 1 200); do grep -q bound "$OUT/holder" && break; sleep 0.05; done
if "$BUILD/basic_subscriber" -d "$DIR" -c "aeron:udp?endpoint=127.0.0.1:$port" -s 23 -n 1 -t 10 > "$OUT/sub" 2>&1; then
  fail "subscription on a taken UDP port succeeded"
fi
kill $holder 2>/dev/null || true
"$BUILD/shoal-errors" -d "$DIR" --json > "$OUT/errors1.json"
$PY - "$OUT/errors1.json" "$port" <<'EOF' || fail "shoal-errors --json: $(cat "$OUT/errors1.json")"
import json, re, sys
errors, port = json.load(open(sys.argv[1]))["errors"], sys.argv[2]
hits = [e for e in errors if port in e["message"] and "bind" in e["message"]]
assert len(hits) == 1, errors
e = hits[0]
assert set(e) == {"count", "first", "last", "code", "message"}, e
assert e["count"] == 1 and isinstance(e["code"], int) and e["code"] != 0
stamp = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$"
assert re.match(stamp, e["first"]) and re.match(stamp, e["last"]) and e["first"] <= e["last"]
EOF
grep -q "1 distinct errors" <<<"$("$BUILD/shoal-errors" -d "$DIR")" || fail "shoal-errors text count"
pass "shoal-errors --json: the bind failure with count, code, first/last time"

if [ -x "$BUILD/shoal-bench" ]; then   # (not indented: the block is the whole bench section)
# ---- shoal-bench --json: every scenario, by name ----
# Under TSan: libzmq is not instrumented, so its lock-free pipes look racy; suppress reports from inside it only.
printf 'called_from_lib:libzmq.so.5\nrace:libzmq.so.5\n' > "$OUT/tsan.supp"
export TSAN_OPTIONS="${TSAN_OPTIONS:-} suppressions=$OUT/tsan.supp"
# The bench's streams have the driver's default 64 MiB terms (192 MiB logs), and this
# section checks what the tools report, not pre-touch (tests/c/client/test_pre_touch.c):
# without it, under TSan on the project's VM, the section takes 100 s instead of 225.
export SHOAL_PRE_TOUCH=0
# A failed scenario's error is in the JSON (stderr has progress only on a tty).
bench_errors() {  # json file
  $PY -c 'import json, sys
for r in json.load(open(sys.argv[1])).get("results", []):
    if r.get("error"): print(r["scenario"], r["size"], "B:", r["error"])' "$1" 2>/dev/null | head -5
}
"$BUILD/shoal-bench" --runs 1 --messages 100000 --samples 1000 --max-mib 8 --json > "$OUT/bench.json" 2> "$OUT/bench.err" \
  || fail "shoal-bench exit status: $(tail -5 "$OUT/bench.err") $(bench_errors "$OUT/bench.json")"
names=$("$BUILD/shoal-bench" --help | awk '/^scenarios/ {on=1; next} on {print $1}' | tr '\n' ' ')
$PY - "$OUT/bench.json" $names <<'EOF' || fail "shoal-bench --json"
import json, sys
d, names = json.load(open(sys.argv[1])), sys.argv[2:]
expected = {"ipc-throughput-exclusive", "ipc-throughput-exclusive-poll", "ipc-throughput-concurrent",
            "ipc-throughput-concurrent-2pub", "ipc-throughput-claim", "ipc-cold-start", "ipc-rtt", "udp-throughput", "udp-rtt",
            "zmq-inproc-throughput", "zmq-ipc-throughput", "zmq-tcp-throughput", "zmq-inproc-rtt", "zmq-tcp-rtt",
            "ipc-wake-wait", "ipc-wake-spin", "zmq-inproc-wake", "zmq-tcp-wake", "archive-record", "write-ceiling",
            "archive-replay", "read-ceiling"}
# The Aeron peer's scenarios exist only in a shoal-bench built with -DSHOAL_AERON_DIR (test_bench_aeron.sh).
aeron = {"aeron-ipc-throughput", "aeron-ipc-throughput-concurrent", "aeron-ipc-cold-start", "aeron-ipc-rtt",
         "aeron-udp-throughput", "aeron-udp-rtt"}
assert set(names) in (expected, expected | aeron), names
expected = set(names)
got = [r["scenario"] for r in d["results"]]
assert sorted(got) == sorted(expected), got
m = d["machine"]
assert m["nproc"] >= 1 and m["cpu"] and m["kernel"] and m["loadavg"]
assert d["params"]["runs"] == 1 and d["params"]["messages"] == 100000
for r in d["results"]:
    assert r["error"] is None and not r["skipped"], r
    assert r["size"] == 32 and len(r["runs"]) == 1
    if r["kind"] == "throughput":
        assert r["median_mmsgs_per_s"] > 0 and r["messages"] == 100000
    else:
        assert 0 < r["p50_us"] <= r["p90_us"] <= r["p99_us"] <= r["p99_9_us"] <= r["max_us"], r
        dist = [v for _, v in r["distribution_us"]]
        assert dist == sorted(dist) and r["round_trips"] == 1000
    # peers: zmq for shoal's scenarios; archive-record's is its write(2) ceiling, archive-replay's its read(2) one
    assert (r["transport"] in ("zmq", "write(2)", "read(2)")) == (r["zmq_peer"] is None), r
    if r["zmq_peer"]:
        assert r["zmq_peer"] in expected
        assert (r["ratio_vs_zmq"] if r["kind"] == "throughput" else r["ratio_zmq_p50_over_shoal"]) > 0
assert [r["endpoint"] for r in d["results"] if r["scenario"] == "udp-throughput"][0].startswith("aeron:udp?endpoint=127.0.0.1:")
# Wake-up: the subscriber's CPU share; a subscriber blocked in shoal_subscription_wait is idle
# (far below its wall time) and below the busy-polling one's.
cpu = {r["scenario"]: r["subscriber_cpu_pct"]["median"] for r in d["results"] if r["kind"] == "wake"}
assert set(cpu) == {"ipc-wake-wait", "ipc-wake-spin", "zmq-inproc-wake", "zmq-tcp-wake"}, cpu
assert cpu["ipc-wake-wait"] < 50 and cpu["ipc-wake-wait"] < cpu["ipc-wake-spin"], cpu
EOF
pass "shoal-bench --json: all 22 scenarios with results, machine, ratios, distributions; wake-up CPU shares"

# ---- shoal-bench: 64 KiB messages (fragmented; try_claim skipped), --rate, --publishers ----
"$BUILD/shoal-bench" --runs 1 --messages 200 --samples 300 --size 65536 --rate 2000 --publishers 3 --no-zmq --json \
  ipc-throughput-exclusive ipc-throughput-claim ipc-throughput-concurrent udp-throughput udp-rtt > "$OUT/bench2.json" \
  2> "$OUT/bench.err" || fail "shoal-bench 64 KiB: $(tail -5 "$OUT/bench.err")"
$PY - "$OUT/bench2.json" <<'EOF' || fail "shoal-bench --json at 64 KiB"
import json, sys
d = json.load(open(sys.argv[1]))
r = {x["scenario"]: x for x in d["results"]}
assert d["params"]["rate_per_s"] == 2000 and d["params"]["publishers"] == 3
assert r["ipc-throughput-claim"]["skipped"] is True and "try_claim" in r["ipc-throughput-claim"]["error"]
for name in ("ipc-throughput-exclusive", "ipc-throughput-concurrent", "udp-throughput", "udp-rtt"):
    assert r[name]["error"] is None and r[name]["size"] == 65536, r[name]
assert r["ipc-throughput-concurrent"]["publishers"] == 3 and r["ipc-throughput-exclusive"]["publishers"] == 1
assert r["udp-rtt"]["rate_per_s"] == 2000 and r["udp-rtt"]["round_trips"] == 300
EOF
pass "shoal-bench: 64 KiB over IPC and UDP, try_claim skipped, --rate and --publishers reported"

# ---- shoal-bench --yield over UDP, driver in dedicated threading mode ----
"$BUILD/shoal-bench" --runs 1 --messages 20000 --samples 500 --no-zmq --yield --set THREADING_MODE=dedicated --json \
  udp-throughput udp-rtt > "$OUT/bench3.json" 2> "$OUT/bench.err" \
  || fail "shoal-bench --yield dedicated: $(tail -5 "$OUT/bench.err")"
$PY - "$OUT/bench3.json" <<'EOF' || fail "shoal-bench --yield --set THREADING_MODE=dedicated"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["client_yield"] is True, d.get("client_yield")
assert "THREADING_MODE=dedicated" in d["driver"], d["driver"]
r = {x["scenario"]: x for x in d["results"]}
assert r["udp-throughput"]["error"] is None and r["udp-throughput"]["messages"] == 20000, r["udp-throughput"]
assert r["udp-rtt"]["error"] is None and r["udp-rtt"]["round_trips"] == 500, r["udp-rtt"]
EOF
pass "shoal-bench --yield over UDP with the driver's sender and receiver on their own threads"

# --yield covers throughput too: 64 KiB messages through a 1 MiB IPC term
# (512 KiB window) keep the publisher back pressured, where it now yields.
"$BUILD/shoal-bench" --runs 1 --messages 400 --size 65536 --term-length 1 --no-zmq --yield --json \
  ipc-throughput-exclusive > "$OUT/bench4.json" 2> "$OUT/bench.err" \
  || fail "shoal-bench --yield ipc-throughput: $(tail -5 "$OUT/bench.err")"
$PY - "$OUT/bench4.json" <<'EOF' || fail "shoal-bench --yield ipc-throughput-exclusive"
import json, sys
d = json.load(open(sys.argv[1]))
r = d["results"][0]
assert d["client_yield"] is True and r["scenario"] == "ipc-throughput-exclusive", d
assert r["error"] is None and r["messages"] == 400 and r["size"] == 65536, r
EOF
pass "shoal-bench --yield: a back-pressured IPC publisher yields and every message arrives"

if "$BUILD/shoal-bench" --size 4 --json > /dev/null 2> "$OUT/bench.err"; then fail "size 4 accepted"; fi
grep -q -- "--size" "$OUT/bench.err" || fail "bad size error does not name the option"
if "$BUILD/shoal-bench" no-such-scenario > /dev/null 2> "$OUT/bench.err"; then fail "unknown scenario accepted"; fi
grep -q "no-such-scenario" "$OUT/bench.err" || fail "unknown scenario error does not name it"
pass "shoal-bench rejects a bad size and an unknown scenario, naming them"

# Without the Aeron peer, --help and a request for an aeron-* scenario say how to get it.
# (--help read whole first: grep -q stops reading at its match, and under pipefail the
# SIGPIPE of a help text longer than one stdio buffer would fail the pipeline)
bench_help="$("$BUILD/shoal-bench" --help)"
if grep -q "^aeron peer: not built in" <<<"$bench_help"; then
  grep -q "scripts/aeron_peer.sh AERON_SOURCE_DIR.*-DSHOAL_AERON_DIR=" <<<"$bench_help" \
    || fail "shoal-bench --help does not say how to build the Aeron peer"
  if "$BUILD/shoal-bench" aeron-ipc-throughput > /dev/null 2> "$OUT/bench.err"; then fail "aeron scenario accepted"; fi
  grep -q "aeron-ipc-throughput: the Aeron peer is not built into this shoal-bench.*scripts/aeron_peer.sh" \
    "$OUT/bench.err" || fail "aeron scenario without the peer: $(cat "$OUT/bench.err")"
  pass "shoal-bench without the Aeron peer: --help and --scenario aeron-ipc-throughput say how to build it"
else
  if "$BUILD/shoal-bench" --no-aeron aeron-ipc-rtt > /dev/null 2> "$OUT/bench.err"; then fail "--no-aeron ignored"; fi
  grep -q "no-aeron contradicts" "$OUT/bench.err" || fail "--no-aeron with an aeron scenario: $(cat "$OUT/bench.err")"
  pass "shoal-bench with the Aeron peer: --no-aeron contradicts --scenario aeron-ipc-rtt"
fi
else echo "skip: shoal-bench tests: shoal-bench was not built (SHOAL_BUILD_BENCH, needs libzmq)"; fi

# ---- a CnC file written by someone else: labels and error texts cannot drive the terminal ----
# Whoever can write cnc.dat chooses the counter labels and error texts the
# tools print; control bytes (here ESC sequences that clear the screen and
# retitle the terminal, and a BEL) must come out as \xNN text.
HOSTILE="$DIR-hostile"
mkdir -m 700 "$HOSTILE"
$PY - "$HOSTILE/cnc.dat" <<'EOF'
import struct, sys
to_driver, to_clients = 1024 + 5 * 128, 1024 + 3 * 128   # data + ring / broadcast trailers
evil = b"\x1b[2J\x1b]0;owned\x07"
label = b"rcv-pos: 1 7 1001 aeron:udp?endpoint=127.0.0.1:9" + evil + b" @127.0.0.1:1" + evil
meta = struct.pack("<iiq", 1, 5, 0) + b"\0" * 112 + struct.pack("<i", len(label)) + label.ljust(380, b"\0")
values = struct.pack("<qqq", 42, 1, 0).ljust(128, b"\0")
text = b"error " + evil
log = (struct.pack("<iiqqi", 28 + len(text), 1, 1700000000000, 1700000000000, 4) + text).ljust(256, b"\0")
header = struct.pack("<iiiiiiqqqq", 0x00030000, to_driver, to_clients, len(meta), len(values), len(log),
                     10000, 10000, 0, 1).ljust(4096, b"\0")
open(sys.argv[1], "wb").write(header + b"\0" * (to_driver + to_clients) + meta + values + log)
EOF
"$BUILD/shoal-stat" -d "$HOSTILE" --once > "$OUT/hostile_stat" || fail "shoal-stat on the hostile CnC"
"$BUILD/shoal-stat" -d "$HOSTILE" --once --loss > "$OUT/hostile_loss" || fail "shoal-stat --loss on the hostile CnC"
"$BUILD/shoal-errors" -d "$HOSTILE" > "$OUT/hostile_errors" || fail "shoal-errors on the hostile CnC"
for f in hostile_stat hostile_loss hostile_errors; do
  if LC_ALL=C grep -q $'[\x1b\x07]' "$OUT/$f"; then fail "$f passes control bytes: $(od -c "$OUT/$f" | head)"; fi
  grep -qF '\x1b[2J\x1b]0;owned\x07' "$OUT/$f" || fail "$f does not show them escaped: $(cat "$OUT/$f")"
done
pass "shoal-stat (list, --loss) and shoal-errors print control bytes of CnC labels and error texts as \\xNN"

echo "$PASSED passed, 0 failed"
