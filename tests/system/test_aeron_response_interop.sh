#!/usr/bin/env bash
# Response channels against Aeron C (docs/response-channels.md), over loopback,
# each side on its own driver (aeronmd, shoald):
#   1. two of Aeron's stock response_clients at once -> shoal's response_server (one control
#      port): every request each sent ("yay!") is answered ("Response to stream"), shoal served
#      as many as they sent;
#   2. shoal's response_client -> Aeron's stock response_server: every request answered.
# Needs an Aeron C install with Aeron's sample programs built into it:
#   scripts/aeron_peer.sh AERON_SOURCE_DIR   (builds Aeron C and the samples into build/aeron/install)
# or, for an install made elsewhere: scripts/aeron_response_samples.sh AERON_SOURCE_DIR INSTALL_DIR,
# then SHOAL_AERON_DIR=INSTALL_DIR. CI has neither network nor an Aeron checkout: there this
# test is skipped (exit 77) and says so; the shoal-to-shoal tests run there instead.
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
AERON="${SHOAL_AERON_DIR:-$ROOT/build/aeron/install}"
MESSAGES=${AERON_RESPONSE_MESSAGES:-6}

for f in bin/aeronmd bin/aeron_response_server bin/aeron_response_client; do
  if [ ! -x "$AERON/$f" ]; then
    echo "SKIP: no Aeron C peer: $AERON/$f is missing. To run this test: scripts/aeron_peer.sh AERON_SOURCE_DIR"
    echo "      (builds Aeron C and its response samples into build/aeron/install), or"
    echo "      scripts/aeron_response_samples.sh AERON_SOURCE_DIR INSTALL_DIR and SHOAL_AERON_DIR=INSTALL_DIR."
    exit 77
  fi
done
for f in response_server response_client shoald; do
  [ -x "$BUILD/$f" ] || fail "no $BUILD/$f (build the examples)"
done

OUT=$(mktemp -d /tmp/shoal-aeron-response-XXXXXX)
AERON_DIR_PATH="$DIR-aeron"
trap 'cleanup; rm -rf "$OUT" "$AERON_DIR_PATH"' EXIT
port() { /usr/bin/python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_shoald --set TERM_LENGTH=1m
# Aeron gates response channels behind its experimental features switch.
AERON_DIR="$AERON_DIR_PATH" AERON_ENABLE_EXPERIMENTAL_FEATURES=true AERON_DIR_DELETE_ON_START=true \
  AERON_DIR_DELETE_ON_SHUTDOWN=true AERON_TERM_BUFFER_LENGTH=1048576 "$AERON/bin/aeronmd" > "$OUT/aeronmd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 250); do [ -f "$AERON_DIR_PATH/cnc.dat" ] && break; sleep 0.02; done
[ -f "$AERON_DIR_PATH/cnc.dat" ] || fail "aeronmd did not start: $(cat "$OUT/aeronmd.log")"
sleep 0.2

# ---- 1. Aeron requesters -> shoal responder (two at once, sharing its one control port) ----
rp=$(port); cp=$(port)
"$BUILD/response_server" -d "$DIR" -c "aeron:udp?endpoint=localhost:$rp" -C "aeron:udp?control=localhost:$cp" \
  -t 60 > "$OUT/shoal_server.log" 2>&1 &
server=$!
PIDS+=("$server")
sleep 0.3
for k in 1 2; do
  timeout 60 "$AERON/bin/aeron_response_client" -p "$AERON_DIR_PATH" -m "$MESSAGES" \
    -c "aeron:udp?endpoint=localhost:$rp" -d "aeron:udp?control=localhost:$cp" > "$OUT/aeron_client$k.log" 2>&1 &
  clients[$k]=$!
done
wait "${clients[1]}" "${clients[2]}" || true
kill -INT "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
served=$(sed -n 's/^response_server: served \([0-9]*\) requests.*/\1/p' "$OUT/shoal_server.log")
total=0
for k in 1 2; do
  sent=$(grep -c 'yay!' "$OUT/aeron_client$k.log" || true)
  answered=$(grep -c '^Response to stream' "$OUT/aeron_client$k.log" || true)
  session=$(sed -n 's/^Available image.*sessionId=\(-\?[0-9]*\).* from \(.*\)$/session \1 from \2/p' "$OUT/aeron_client$k.log" | head -1)
  echo "Aeron response_client $k -> shoal response_server: $sent of $MESSAGES requests sent, $answered responses ($session)"
  [ "$sent" -ge $((MESSAGES - 1)) ] || fail "Aeron client $k sent only $sent requests: $(cat "$OUT/aeron_client$k.log")"
  [ "$answered" -eq "$sent" ] || fail "Aeron client $k got $answered responses to $sent requests: $(cat "$OUT/aeron_client$k.log"; cat "$OUT/shoal_server.log")"
  # each hears only its own answers: as many as it asked, none of the other's
  total=$((total + sent))
done
echo "shoal response_server served ${served:-?} requests"
[ "${served:-0}" -eq "$total" ] || fail "shoal served ${served:-?} requests, the Aeron clients sent $total"
pass "2 Aeron requesters -> shoal responder (one control port): $total/$total answered"

# ---- 2. shoal requester -> Aeron responder ----
rp=$(port); cp=$(port)
"$AERON/bin/aeron_response_server" -p "$AERON_DIR_PATH" -c "aeron:udp?endpoint=localhost:$rp" \
  -d "aeron:udp?control=localhost:$cp" > "$OUT/aeron_server.log" 2>&1 &
aserver=$!
PIDS+=("$aserver")
sleep 0.5
rc=0
timeout 60 "$BUILD/response_client" -d "$DIR" -c "aeron:udp?endpoint=localhost:$rp" -C "aeron:udp?control=localhost:$cp" \
  -m "$MESSAGES" -t 30 > "$OUT/shoal_client.log" 2>&1 || rc=$?
kill -INT "$aserver" 2>/dev/null || true
wait "$aserver" 2>/dev/null || true
summary=$(grep '^response_client:' "$OUT/shoal_client.log" || true)
echo "shoal response_client -> Aeron response_server: ${summary#response_client: }"
grep -m1 '^Response to stream' "$OUT/shoal_client.log" || true
[ "$rc" -eq 0 ] || fail "shoal requester (exit $rc): $(cat "$OUT/shoal_client.log"; cat "$OUT/aeron_server.log")"
[ "$(grep -c '^Response to stream' "$OUT/shoal_client.log")" -eq "$MESSAGES" ] || fail "responses missing"
pass "shoal requester -> Aeron responder: $MESSAGES/$MESSAGES answered"
