#!/usr/bin/env bash
# Hostile UDP traffic against two real drivers while a stream runs between
# them (issue #12 item 4). udp_injector.py sends raw Aeron frames from a
# foreign socket: a SETUP flood (5,000 sessions at 5,000/s) at the
# subscriber's endpoint, spoofed NAKs at the publisher's socket, forged
# DATA/PAD/EOS for the live session. Checked: the refusals are counted
# (shoal-stat --once), nothing is resent to the attacker, local commands
# still work during the flood, and the stream arrives whole.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
INJECT="$PY $(dirname "$0")/udp_injector.py"
OUT="$(mktemp -d /tmp/shoal-hostile-XXXXXX)"
trap 'cleanup; rm -rf "$OUT"' EXIT

free_udp_port() {
  $PY -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
counter() {  # counter DIR LABEL: the value of the system counter with exactly that label
  "$BUILD/shoal-stat" -d "$1" --once | awk -v l="$2" '{ v=$2; $1=""; $2=""; $3=""; sub(/^ +/, ""); if ($0 == l) print v }'
}

start_shoald                       # the subscriber's driver: $DIR
SUB_DIR="$DIR"
PUB_DIR="$DIR-pub"
"$BUILD/shoald" --dir "$PUB_DIR" --quiet &
PIDS+=("$!")
for _ in $(seq 1 200); do "$BUILD/shoal-stat" -d "$PUB_DIR" --once >/dev/null 2>&1 && break; sleep 0.02; done

port=$(free_udp_port)
chan="aeron:udp?endpoint=127.0.0.1:$port"
count=20000
"$BUILD/basic_subscriber" -d "$SUB_DIR" -c "$chan" -s 31 -n $count -t 180 > "$OUT/sub" &
sub=$!; PIDS+=("$sub")
"$BUILD/basic_publisher" -d "$PUB_DIR" -c "$chan" -s 31 -n $count -l 200 -r 2000 > /dev/null &
pub=$!; PIDS+=("$pub")

# The live image: its session and the publisher's socket (where NAKs go).
image=""
for _ in $(seq 1 600); do
  "$BUILD/shoal-stat" -d "$SUB_DIR" --once --json > "$OUT/stat.json"
  image=$($PY -c 'import json,sys; i=[i for i in json.load(open(sys.argv[1]))["udp"]["images"] if i["stream_id"] == 31]; print(i[0]["session_id"], i[0]["source"]) if i else None' "$OUT/stat.json")
  [ -n "$image" ] && break
  sleep 0.1
done
[ -n "$image" ] || fail "no image of the stream: $(cat "$OUT/stat.json")"
read -r session source <<<"$image"

# ---- SETUP flood, with local commands while it runs ----
$INJECT setup-flood "127.0.0.1:$port" 31 5000 5000 > "$OUT/flood" &
flood=$!; PIDS+=("$flood")
sleep 0.3
"$BUILD/basic_subscriber" -d "$SUB_DIR" -s 41 -n 100 -t 60 > "$OUT/ipc_sub" &
ipc_sub=$!; PIDS+=("$ipc_sub")
"$BUILD/basic_publisher" -d "$SUB_DIR" -s 41 -n 100 -l 64 > /dev/null || fail "add_publication during the SETUP flood"
wait $ipc_sub || fail "add_subscription during the SETUP flood: $(cat "$OUT/ipc_sub")"
hb1=$(counter "$SUB_DIR" "Driver heartbeat (epoch ms)")
wait $flood || fail "injector setup-flood"
sleep 0.5
hb2=$(counter "$SUB_DIR" "Driver heartbeat (epoch ms)")
[ "$hb2" -gt "$hb1" ] || fail "driver heartbeat stopped during the flood ($hb1 -> $hb2)"
refused=$(counter "$SUB_DIR" "SETUPs refused: image limit")
images=$("$BUILD/shoal-stat" -d "$SUB_DIR" --once --json | $PY -c 'import json,sys; print(len([i for i in json.load(sys.stdin)["udp"]["images"] if i["stream_id"] == 31]))')
echo "# SETUP flood: $(cat "$OUT/flood"); images of stream 31: $images, refused: $refused"
[ "$images" -le 256 ] || fail "$images images built from the flood (limit 256 per endpoint)"
[ "$refused" -ge 2500 ] || fail "only $refused SETUPs counted as refused of 5000"
pass "SETUP flood: at most 256 images, $refused refused, IPC pub/sub and the driver heartbeat unaffected"

# ---- spoofed NAKs at the publisher's socket ----
before=$(counter "$PUB_DIR" "NAKs from unknown receivers")
$INJECT nak-flood "$source" "$session" 31 1000 > "$OUT/nak"
after=$(counter "$PUB_DIR" "NAKs from unknown receivers")
echo "# spoofed NAKs: $(cat "$OUT/nak"); NAKs from unknown receivers $before -> $after"
$PY -c 'import json,sys; d=json.loads(open(sys.argv[1]).read()); assert d["bytes_back"] == 0, d' "$OUT/nak" \
  || fail "bytes resent to the spoofing socket: $(cat "$OUT/nak")"
[ $((after - before)) -ge 900 ] || fail "spoofed NAKs counted: $before -> $after of 1000 (some may be lost in the socket buffer)"
pass "spoofed NAK flood: nothing resent, $((after - before)) counted from unknown receivers"

# ---- forged DATA/PAD/EOS for the live session ----
before=$(counter "$SUB_DIR" "Frames from wrong source")
$INJECT foreign "127.0.0.1:$port" "$session" 31 > "$OUT/foreign"
for _ in $(seq 1 100); do
  after=$(counter "$SUB_DIR" "Frames from wrong source")
  [ $((after - before)) -ge 3 ] && break
  sleep 0.05
done
[ $((after - before)) -eq 3 ] || fail "forged frames counted: $before -> $after (3 sent)"
pass "forged DATA, PAD and EOS for the live session dropped and counted"

# ---- the stream, whole ----
wait $pub || fail "publisher"
wait $sub || fail "subscriber: $(cat "$OUT/sub")"
grep -q "received $count messages, 0 errors" "$OUT/sub" || fail "stream not whole: $(cat "$OUT/sub")"
pass "the real stream arrived whole ($count messages, 0 errors) through the attacks"
