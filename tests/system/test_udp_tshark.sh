#!/usr/bin/env bash
# Wire check: a UDP stream between two shoald processes (publisher driver and
# subscriber driver, 5 % injected receive loss so NAKs and retransmits
# happen), captured on lo and decoded by tshark's Aeron dissector. Every
# frame type the protocol exchanges must decode, with the expected fields,
# and nothing may be malformed.
source "$(dirname "$0")/lib.sh"

require_command tshark "tshark is not installed (Debian package tshark; scripts/deps.sh installs it)"

PUB_DIR="$DIR-pub"
SUB_DIR="$DIR-sub"
CAP="$DIR-capture.pcap"
mkdir -p "$DIR"
cleanup_udp() {
  cleanup
  rm -rf "$PUB_DIR" "$SUB_DIR" "$CAP" "$DIR.tshark.err" "$DIR.decoded"
}
trap cleanup_udp EXIT

PORT=$((20000 + (RANDOM % 20000)))
STREAM=7
CHANNEL="aeron:udp?endpoint=127.0.0.1:$PORT|term-length=64k"

# -B: a larger capture buffer, so a busy machine does not drop frames from the capture
tshark -i lo -B 64 -f "udp port $PORT" -w "$CAP" -q 2>"$DIR.tshark.err" &
TSHARK=$!
PIDS+=("$TSHARK")
for _ in $(seq 1 200); do
  grep -q "Capturing on" "$DIR.tshark.err" 2>/dev/null && break
  if ! kill -0 "$TSHARK" 2>/dev/null; then
    fail "tshark cannot capture on lo here (needs root or the wireshark group): $(tr '\n' ' ' < "$DIR.tshark.err")"
  fi
  sleep 0.05
done
grep -q "Capturing on" "$DIR.tshark.err" || fail "tshark did not start capturing: $(cat "$DIR.tshark.err")"
pass "tshark captures udp port $PORT on lo"

start_driver() {  # dir, extra settings...
  local dir=$1; shift
  "$BUILD/shoald" --dir "$dir" --quiet --set PUBLICATION_LINGER_MS=500 "$@" &
  PIDS+=("$!")
  wait_driver "$dir" "shoald on $dir"
}
start_driver "$PUB_DIR"
start_driver "$SUB_DIR" --set RCV_LOSS_RATE=0.05 --set LOSS_SEED=3

# The publisher first: until a receiver answers, its driver repeats SETUP
# frames, so the capture holds several rather than one that a busy machine
# could drop from the capture.
"$BUILD/basic_publisher" -d "$PUB_DIR" -c "$CHANNEL" -s $STREAM -n 3000 -l 0 -r 2000 > "$DIR.pub" 2>&1 &
pub=$!; PIDS+=("$pub")
sleep 0.5
"$BUILD/basic_subscriber" -d "$SUB_DIR" -c "$CHANNEL" -s $STREAM -n 3000 -t 60 > "$DIR.sub" 2>&1 &
sub=$!; PIDS+=("$sub")
wait $pub || fail "publisher: $(cat "$DIR.pub")"
wait $sub || fail "subscriber: $(cat "$DIR.sub")"
grep -q "received 3000 messages, 0 errors" "$DIR.sub" || fail "subscriber output: $(cat "$DIR.sub")"
pass "3000 random-size messages over UDP with 5 % loss, in order and intact"
SESSION=$(sed -n 's/.*session \(-\?[0-9]*\).*/\1/p' "$DIR.pub")
sleep 1   # EOS heartbeats while the publication lingers
kill -INT "$TSHARK"; wait "$TSHARK" || true

# One decoding pass; the checks run over its fields.
tshark -r "$CAP" -d "udp.port==$PORT,aeron" -T fields -E separator='|' -E occurrence=a -E aggregator=, \
  -e frame.protocols -e _ws.malformed -e _ws.expert.severity \
  -e aeron.setup.stream_id -e aeron.setup.session_id -e aeron.setup.term_length -e aeron.setup.mtu \
  -e aeron.sm.receiver_window -e aeron.sm.flags -e aeron.sm.session_id \
  -e aeron.data.stream_id -e aeron.data.session_id -e aeron.data.flags -e aeron.data.frame_length \
  -e aeron.nak.session_id -e aeron.nak.length -e aeron.rtt.flags -e aeron.rtt.receiver_id \
  > "$DIR.decoded" 2>/dev/null || fail "tshark could not read the capture"

/usr/bin/python3 - "$DIR.decoded" "$STREAM" "$SESSION" <<'PY' || fail "wire check"
import sys
path, stream, session = sys.argv[1], int(sys.argv[2]), sys.argv[3]
names = ["protocols", "malformed", "severity", "setup_stream", "setup_session", "setup_term_length", "setup_mtu",
         "sm_window", "sm_flags", "sm_session", "data_stream", "data_session", "data_flags", "data_length",
         "nak_session", "nak_length", "rtt_flags", "rtt_receiver"]
rows = []
for line in open(path):
    parts = line.rstrip("\n").split("|")
    parts += [""] * (len(names) - len(parts))
    rows.append({n: [v for v in p.split(",") if v != ""] for n, p in zip(names, parts)})
def num(v):
    return int(v, 16) if v.startswith("0x") else int(v)
def u32(v):
    return num(v) & 0xFFFFFFFF
problems = []
def check(cond, what):
    if not cond:
        problems.append(what)
counts = {}
for kind, key in [("SETUP", "setup_stream"), ("SM", "sm_window"), ("DATA", "data_stream"), ("NAK", "nak_session"),
                  ("RTTM", "rtt_flags")]:
    counts[kind] = sum(len(r[key]) for r in rows)
counts["heartbeat"] = sum(1 for r in rows for l in r["data_length"] if num(l) == 0)
counts["EOS heartbeat"] = sum(1 for r in rows for l, f in zip(r["data_length"], r["data_flags"]) if num(l) == 0 and num(f) & 0x20)
counts["RTTM reply"] = sum(1 for r in rows for f in r["rtt_flags"] if num(f) & 0x80)
counts["BEGIN-only fragment"] = sum(1 for r in rows for f in r["data_flags"] if num(f) & 0xC0 == 0x80)
counts["END-only fragment"] = sum(1 for r in rows for f in r["data_flags"] if num(f) & 0xC0 == 0x40)
print("decoded %d datagrams: %s" % (len(rows), ", ".join("%s %d" % kv for kv in counts.items())))
for kind, n in counts.items():
    check(n > 0, "no %s frames" % kind)
check(all("aeron" in r["protocols"][0] for r in rows if r["protocols"]), "datagrams that do not decode as Aeron")
check(not any(r["malformed"] for r in rows), "malformed frames")
check(not any(num(s) >= 0x00800000 for r in rows for s in r["severity"]), "expert errors")
sessions = {u32(v) for r in rows for v in r["data_session"]}
check(len(sessions) == 1, "data sessions %s" % sessions)
if session:
    check(sessions == {u32(session)}, "data session %s, publisher said %s" % (sessions, session))
check({num(v) for r in rows for v in r["data_stream"]} == {stream}, "data stream ids")
check({num(v) for r in rows for v in r["setup_stream"]} == {stream}, "setup stream ids")
check({u32(v) for r in rows for v in r["setup_session"]} == sessions, "setup session ids")
check({num(v) for r in rows for v in r["setup_term_length"]} == {65536}, "setup term length")
check({num(v) for r in rows for v in r["setup_mtu"]} == {1408}, "setup mtu")
check({u32(v) for r in rows for v in r["nak_session"]} <= sessions, "NAK session ids")
check({u32(v) for r in rows for v in r["sm_session"]} <= sessions | {0}, "SM session ids")
check(all(num(v) > 0 for r in rows for v, f in zip(r["sm_window"], r["sm_flags"]) if not num(f) & 0x80),
      "status messages without a window")
check(all(num(v) > 0 and num(v) % 32 == 0 for r in rows for v in r["nak_length"]), "NAK lengths")
if problems:
    print("wire check failed: " + "; ".join(problems))
    sys.exit(1)
PY
pass "every frame type decodes as Aeron with the expected fields; nothing malformed"

echo "$PASSED checks passed"
