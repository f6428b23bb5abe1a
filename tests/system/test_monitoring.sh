#!/usr/bin/env bash
# Monitoring on the public API against a live shoald with 5% injected
# receive loss: shoal-loss (the driver's loss report), shoal-stat
# --prometheus checked by `promtool check metrics`, and shoal-stat --listen
# serving /metrics while refusing bad requests (400, 404, 405, 408, 431)
# and staying up for the next scrape. No assertion depends on timing.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
OUT="$(mktemp -d /tmp/shoal-monitoring-XXXXXX)"
trap 'cleanup; rm -rf "$OUT"' EXIT
# A port of 127.0.0.1 (SOCK_DGRAM or SOCK_STREAM) that nothing holds now,
# below the kernel's ephemeral range: one from that range, bound and
# released, can go to any socket bound to port 0 before the test binds it.
free_port() {
  $PY - "$1" <<'PYEOF'
import os, socket, sys
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
kind = getattr(socket, sys.argv[1])
span = low - 10000
start = (os.getpid() * 7919) % span
for i in range(span):
    port = 10000 + (start + i) % span
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
    print(port)
    break
else:
    sys.exit("no free port below the ephemeral range")
PYEOF
}

# The monitoring tools use the public header only (no core/src include).
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
internal=$(grep -Hn '#include "' "$SRC"/core/tools/shoal_{stat,errors,loss}.c "$SRC"/core/tools/tool_*.h | grep -v '"shoal/shoal.h"\|"tool_' || true)
[ -z "$internal" ] || fail "monitoring tools include internal headers: $internal"
pass "shoal-stat, shoal-errors, shoal-loss include shoal/shoal.h and their own tool_*.h only"

start_shoald --set RCV_LOSS_RATE=0.05 --set LOSS_SEED=11
"$BUILD/shoal-loss" -d "$DIR" --json > "$OUT/loss0.json"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d == {"loss": []}, d' "$OUT/loss0.json" \
  || fail "shoal-loss on a fresh driver: $(cat "$OUT/loss0.json")"
pass "shoal-loss --json: empty report on a fresh driver"

port=$(free_port SOCK_DGRAM)
chan="aeron:udp?endpoint=127.0.0.1:$port"
"$BUILD/basic_subscriber" -d "$DIR" -c "$chan" -s 31 -n 20000 -t 120 > "$OUT/sub" &
sub=$!; PIDS+=("$sub")
"$BUILD/basic_publisher" -d "$DIR" -c "$chan" -s 31 -n 20000 -l 200 > /dev/null
wait $sub || fail "udp subscriber under loss: $(cat "$OUT/sub")"
"$BUILD/shoal-loss" -d "$DIR" --json > "$OUT/loss.json"
"$BUILD/shoal-loss" -d "$DIR"
$PY - "$OUT/loss.json" "$chan" <<'PYEOF' || fail "shoal-loss after loss: $(cat "$OUT/loss.json")"
import json, sys
entries = json.load(open(sys.argv[1]))["loss"]
mine = [e for e in entries if e["stream_id"] == 31]
assert len(mine) == 1, entries
e = mine[0]
assert e["channel"] == sys.argv[2] and e["source"].startswith("127.0.0.1:"), e
assert e["observations"] >= 1 and e["bytes_lost"] >= 32 * e["observations"], e
assert 0 < e["first_ms"] <= e["last_ms"], e
PYEOF
pass "shoal-loss: one entry for the lossy stream with observations, bytes, times, channel and source"

"$BUILD/shoal-stat" -d "$DIR" --prometheus > "$OUT/metrics.txt" || fail "shoal-stat --prometheus exit status"
for metric in 'shoal_driver_up 1' 'shoal_naks_sent_total ' 'shoal_loss_observations_total{session=' \
    'shoal_udp_naks_received_total{direction="snd",channel="aeron:udp?endpoint=127.0.0.1:' \
    'shoal_clients_active '; do
  grep -qF "$metric" "$OUT/metrics.txt" || fail "--prometheus lacks '$metric'"
done
if command -v promtool > /dev/null; then
  promtool check metrics < "$OUT/metrics.txt" || fail "promtool check metrics rejects the output"
  pass "shoal-stat --prometheus: $(grep -c '^shoal_' "$OUT/metrics.txt") samples, promtool check metrics: ok"
else
  echo "SKIP: promtool not installed (Debian package prometheus): format checked by grep only"
  pass "shoal-stat --prometheus: $(grep -c '^shoal_' "$OUT/metrics.txt") samples"
fi

# ---- --listen: /metrics, bad requests refused, server still up ----
hport=$(free_port SOCK_STREAM)
"$BUILD/shoal-stat" -d "$DIR" --listen "127.0.0.1:$hport" 2> "$OUT/listen.err" &
PIDS+=("$!")
$PY - "$hport" "$OUT/scrape.txt" <<'PYEOF' || fail "shoal-stat --listen: $(cat "$OUT/listen.err")"
import socket, sys, time
port, out = int(sys.argv[1]), sys.argv[2]

def ask(raw, read=True):
    deadline = time.monotonic() + 30
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            break
        except ConnectionRefusedError:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
    if raw:
        s.sendall(raw)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), head, body

status, head, body = ask(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
assert status == 200 and b"text/plain; version=0.0.4" in head, head
assert b"shoal_driver_up 1" in body
open(out, "wb").write(body)
cases = [
    (b"POST /metrics HTTP/1.1\r\n\r\n", 405),
    (b"GET /other HTTP/1.1\r\n\r\n", 404),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage\r\n\r\n", 400),
    (b"GET /metrics\r\n\r\n", 400),
    (b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", 431),
    (b"GET /metr", 408),            # stalls: refused at the read deadline
    (b"", 408),                     # connects and says nothing
]
for raw, expected in cases:
    status, head, body = ask(raw)
    assert status == expected, (raw[:40], status, head)
status, _, body = ask(b"GET /metrics HTTP/1.0\r\n\r\n")
assert status == 200 and b"shoal_driver_up 1" in body
status, head, body = ask(b"HEAD /metrics HTTP/1.1\r\n\r\n")
assert status == 200 and body == b"" and int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]) > 100, head
print("ok: 200, then 405 404 400 400 431 408 408 refused, then 200 again; HEAD: headers only")
PYEOF
if command -v promtool > /dev/null; then
  promtool check metrics < "$OUT/scrape.txt" || fail "promtool rejects the /metrics body"
fi
pass "shoal-stat --listen: /metrics served; bad method, path, request line, oversize and stalled requests refused"

# Without a driver: /metrics still answers, with shoal_driver_up 0.
"$BUILD/shoal-stat" -d "$DIR-none" --prometheus > "$OUT/none.txt" || fail "--prometheus without a driver"
grep -qx 'shoal_driver_up 0' "$OUT/none.txt" || fail "no driver: $(cat "$OUT/none.txt")"
pass "shoal-stat --prometheus without a driver: shoal_driver_up 0"
echo "$PASSED passed, 0 failed"
