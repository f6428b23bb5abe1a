#!/usr/bin/env bash
# Two hosts: network namespaces A and B joined by a veth pair (10.77.0.1 and
# 10.77.0.2), a shoald in each (its own directory), basic_publisher on A and
# basic_subscriber on B over aeron:udp unicast. First over the clean link,
# then with the subscriber driver's loss generator dropping 5 %, then with
# netem on both ends (1 ms delay, 5 % loss, reordering): every message must
# still arrive once, in order and intact (the subscriber checks sequence and
# content), with NAKs and retransmits on the counters.
#
# Needs root and a kernel with network namespaces and veth: without them it
# fails saying why. Without netem (sch_netem) it says "netem unavailable:
# <reason>" and runs the clean-link part only.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
  echo "FAIL: network namespaces need root (running as uid $(id -u)); run as root or skip this test"
  exit 1
fi
if ! command -v ip >/dev/null 2>&1; then
  echo "FAIL: 'ip' (iproute2) is not installed; scripts/deps.sh installs it"
  exit 1
fi

TAG="$$"
NS_A="shoal-a-$TAG"
NS_B="shoal-b-$TAG"
VETH_A="shva$TAG"        # interface names are at most 15 characters
VETH_B="shvb$TAG"
ADDR_A=10.77.0.1
ADDR_B=10.77.0.2
A_DIR="$DIR-a"
B_DIR="$DIR-b"
mkdir -p "$DIR"

cleanup_netns() {
  cleanup
  # Deleting a namespace deletes its end of the veth pair, and so the pair.
  ip netns del "$NS_A" 2>/dev/null || true
  ip netns del "$NS_B" 2>/dev/null || true
  ip link del "$VETH_A" 2>/dev/null || true
  rm -rf "$A_DIR" "$B_DIR" "$B_DIR-lossy"
}
trap cleanup_netns EXIT

err="$DIR/ip.err"
if ! ip netns add "$NS_A" 2>"$err" || ! ip netns add "$NS_B" 2>>"$err"; then
  echo "FAIL: cannot create network namespaces (kernel without CONFIG_NET_NS, or no CAP_SYS_ADMIN here): $(tr '\n' ' ' < "$err")"
  exit 1
fi
if ! ip link add "$VETH_A" type veth peer name "$VETH_B" 2>"$err"; then
  echo "FAIL: cannot create a veth pair (kernel without veth): $(tr '\n' ' ' < "$err")"
  exit 1
fi
ip link set "$VETH_A" netns "$NS_A"
ip link set "$VETH_B" netns "$NS_B"
ip -n "$NS_A" addr add "$ADDR_A/24" dev "$VETH_A"
ip -n "$NS_B" addr add "$ADDR_B/24" dev "$VETH_B"
for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
ip -n "$NS_A" link set "$VETH_A" up
ip -n "$NS_B" link set "$VETH_B" up
# Neither namespace can see the host's interfaces: traffic can only cross the veth.
# (Captured first: with pipefail, "ip ... | grep -q" fails when grep exits
# before ip has written everything and ip dies of SIGPIPE.)
addrs=$(ip -n "$NS_B" -o addr show)
case "$addrs" in *"$ADDR_B/24"*) ;; *) fail "namespace B has no $ADDR_B: $addrs" ;; esac
pass "namespaces $NS_A ($ADDR_A) and $NS_B ($ADDR_B) joined by $VETH_A <-> $VETH_B"

start_driver_in() {  # namespace dir [--set K=V ...]
  local ns=$1 dir=$2
  shift 2
  ip netns exec "$ns" "$BUILD/shoald" --dir "$dir" --quiet --set PUBLICATION_LINGER_MS=500 \
    --set IMAGE_LIVENESS_TIMEOUT_MS=3000 "$@" &
  PIDS+=("$!")
  for _ in $(seq 1 200); do
    [ -f "$dir/cnc.dat" ] && "$BUILD/shoal-stat" -d "$dir" --once >/dev/null 2>&1 && return 0
    sleep 0.02
  done
  fail "shoald in $ns did not start"
}
start_driver_in "$NS_A" "$A_DIR"
start_driver_in "$NS_B" "$B_DIR"
pass "shoald running in each namespace ($A_DIR, $B_DIR)"

counter() {  # dir label-prefix: sum of the counters whose label starts so
  "$BUILD/shoal-stat" -d "$1" --once --json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
prefix = sys.argv[1]
data = json.load(sys.stdin)
items = data.get("counters", data) if isinstance(data, dict) else data
print(sum(int(c.get("value", 0)) for c in items if isinstance(c, dict) and str(c.get("label", "")).startswith(prefix)))
' "$2"
}

PORT=$((20000 + (RANDOM % 20000)))
run_stream() {  # stream count rate what
  local stream=$1 count=$2 rate=$3 what=$4
  local channel="aeron:udp?endpoint=$ADDR_B:$PORT|term-length=1m"
  ip netns exec "$NS_B" "$BUILD/basic_subscriber" -d "$B_DIR" -c "$channel" -s "$stream" -n "$count" -t 120 \
    > "$DIR/sub$stream" 2>&1 &
  local sub=$!
  PIDS+=("$sub")
  for _ in $(seq 1 200); do
    grep -q "ready" "$DIR/sub$stream" 2>/dev/null && break
    sleep 0.02
  done
  ip netns exec "$NS_A" "$BUILD/basic_publisher" -d "$A_DIR" -c "$channel" -s "$stream" -n "$count" -l 0 \
    -r "$rate" > "$DIR/pub$stream" 2>&1 || fail "$what: publisher: $(cat "$DIR/pub$stream")"
  wait "$sub" || fail "$what: subscriber: $(cat "$DIR/sub$stream")"
  grep -q "received $count messages, 0 errors" "$DIR/sub$stream" || fail "$what: $(cat "$DIR/sub$stream")"
  pass "$what: $count random-size messages from $NS_A to $NS_B, in order and intact"
}

run_stream 11 5000 20000 "clean link"

# The drivers' own loss generator across the veth, netem or not: a second
# subscriber driver in B drops 5 % of what it receives (data, setups,
# heartbeats); the NAKs cross back to A and the retransmits come over again.
B_DIR_LOSSY="$B_DIR-lossy"
start_driver_in "$NS_B" "$B_DIR_LOSSY" --set RCV_LOSS_RATE=0.05 --set LOSS_SEED=9
B_DIR_CLEAN="$B_DIR"
B_DIR="$B_DIR_LOSSY"
PORT=$((PORT + 1))
run_stream 13 5000 10000 "driver loss generator (5 % of datagrams into B dropped)"
naks=$(counter "$B_DIR" "NAKs sent")
[ "$naks" -gt 0 ] || fail "loss generator: no NAKs from $B_DIR"
pass "loss generator: $naks NAKs sent from B, $(counter "$A_DIR" "Retransmits sent") retransmits from A"
B_DIR="$B_DIR_CLEAN"
PORT=$((PORT + 1))

# netem on both ends: data one way, status messages and NAKs the other.
NETEM="delay 1ms loss 5% reorder 25% 50%"
netem_ok=1
for side in "$NS_A:$VETH_A" "$NS_B:$VETH_B"; do
  ns=${side%%:*}; dev=${side#*:}
  if ! ip netns exec "$ns" tc qdisc add dev "$dev" root netem $NETEM 2>"$err"; then
    echo "netem unavailable: $(tr '\n' ' ' < "$err")(kernel without sch_netem, or tc missing)"
    netem_ok=0
    break
  fi
done
if [ "$netem_ok" -eq 1 ]; then
  pass "netem on both veth ends: $NETEM"
  naks_before=$(counter "$B_DIR" "NAKs sent")
  retransmits_before=$(counter "$A_DIR" "Retransmits sent")
  run_stream 12 5000 5000 "netem ($NETEM)"
  naks=$(( $(counter "$B_DIR" "NAKs sent") - naks_before ))
  retransmits=$(( $(counter "$A_DIR" "Retransmits sent") - retransmits_before ))
  echo "# subscriber driver sent $naks NAKs, publisher driver sent $retransmits retransmits"
  [ "$naks" -gt 0 ] && [ "$retransmits" -gt 0 ] || fail "netem loss did not show in NAKs ($naks) / retransmits ($retransmits)"
  pass "loss was repaired: NAKs $naks, retransmits $retransmits"
fi

echo "$PASSED checks passed"
