#!/usr/bin/env bash
# Several hosts, each a network namespace with its own shoald (its own
# directory); basic_publisher on one, basic_subscriber on the others. Every
# message must arrive once, in order and intact (the subscriber checks sequence
# and content), and loss must show as NAKs and retransmits on the counters.
#
# Unicast: namespaces A and B joined by a veth pair (10.77.0.1, 10.77.0.2).
#   Clean link; the subscriber driver's loss generator dropping 5 %; the
#   kernel dropping 5 % of UDP both ways in B (nftables numgen), and netem
#   (1 ms delay, 5 % loss, reordering) on both ends when the kernel has it.
# Multicast: A, B and C on a LAN (a bridge in a fourth namespace, 10.78.0.0/24),
#   publisher on A, subscribers on B and C, endpoint=224.0.1.77 with
#   interface= (each host's own address, then the subnet) and ttl=1, no
#   multicast route: the interface alone must steer the traffic. Clean with
#   fc=max and fc=min (g:/2: the publisher waits for both), with 5 % dropped
#   by both subscriber drivers' loss generators, and with 5 % dropped per port
#   by the bridge (nftables).
#
# Needs root and a kernel with network namespaces, veth and bridges: without
# them it fails saying why. Without netem (sch_netem) it says "netem
# unavailable: <reason>" and without nft "nftables loss skipped: <reason>",
# and runs the rest.
source "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
  echo "FAIL: network namespaces need root (running as uid $(id -u)); run as root or skip this test"
  exit 1
fi
require_command ip "'ip' (iproute2) is not installed; scripts/deps.sh installs it"

TAG="$$"
NS_A="shoal-a-$TAG"
NS_B="shoal-b-$TAG"
NS_C="shoal-c-$TAG"      # second multicast subscriber
NS_LAN="shoal-l-$TAG"    # holds the bridge the multicast hosts hang on
VETH_A="shva$TAG"        # interface names are at most 15 characters
VETH_B="shvb$TAG"
ADDR_A=10.77.0.1
ADDR_B=10.77.0.2
A_DIR="$DIR-a"
B_DIR="$DIR-b"
C_DIR="$DIR-c"
mkdir -p "$DIR"

cleanup_netns() {
  cleanup
  # Deleting a namespace deletes its end of the veth pair, and so the pair.
  ip netns del "$NS_A" 2>/dev/null || true
  ip netns del "$NS_B" 2>/dev/null || true
  ip netns del "$NS_C" 2>/dev/null || true
  ip netns del "$NS_LAN" 2>/dev/null || true
  ip link del "$VETH_A" 2>/dev/null || true
  rm -rf "$A_DIR" "$B_DIR" "$B_DIR-lossy" "$C_DIR" "$C_DIR-lossy"
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
  wait_driver "$dir" "shoald in $ns"
}
# A's driver runs its conductor, sender and receiver on their own threads;
# B's (and the multicast hosts') share one: the unicast runs cross modes.
start_driver_in "$NS_A" "$A_DIR" --set THREADING_MODE=dedicated
start_driver_in "$NS_B" "$B_DIR"
pass "shoald running in each namespace ($A_DIR threading dedicated, $B_DIR shared)"

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

# Kernel-side loss, independent of shoal's own generator: nftables in B drops
# 5 % of the UDP datagrams B receives (data, setups, heartbeats) and 5 % of
# those it sends (status messages, NAKs).
nft_loss() {  # namespace family hook...: a table "shoal_loss" dropping 5 % of UDP at each hook
  local ns=$1 family=$2
  shift 2
  local rules="table $family shoal_loss {"$'\n'
  local match="meta l4proto udp"
  [ "$family" = bridge ] && match="ether type ip ip protocol udp"
  for hook in "$@"; do
    rules+="  chain $hook { type filter hook $hook priority 0; policy accept; $match numgen random mod 100 < 5 drop; }"$'\n'
  done
  rules+="}"
  ip netns exec "$ns" nft -f - <<<"$rules" 2>"$err"
}
nft_ok=1
if ! command -v nft >/dev/null 2>&1; then
  echo "nftables loss skipped: nft is not installed (scripts/deps.sh installs nftables)"
  nft_ok=0
elif ! nft_loss "$NS_B" inet input output; then
  echo "nftables loss skipped: nft in $NS_B failed: $(tr '\n' ' ' < "$err")"
  nft_ok=0
fi
if [ "$nft_ok" -eq 1 ]; then
  naks_before=$(counter "$B_DIR" "NAKs sent")
  retransmits_before=$(counter "$A_DIR" "Retransmits sent")
  run_stream 14 5000 10000 "kernel loss (nftables drops 5 % of UDP into and out of B)"
  naks=$(( $(counter "$B_DIR" "NAKs sent") - naks_before ))
  retransmits=$(( $(counter "$A_DIR" "Retransmits sent") - retransmits_before ))
  [ "$naks" -gt 0 ] && [ "$retransmits" -gt 0 ] || fail "nftables loss did not show in NAKs ($naks) / retransmits ($retransmits)"
  pass "kernel loss repaired: $naks NAKs from B, $retransmits retransmits from A"
  ip netns exec "$NS_B" nft delete table inet shoal_loss
  PORT=$((PORT + 1))
fi

# netem on both ends: data one way, status messages and NAKs the other.
NETEM="delay 1ms loss 5% reorder 25% 50%"
netem_ok=1
for side in "$NS_A:$VETH_A" "$NS_B:$VETH_B"; do
  ns=${side%%:*}; dev=${side#*:}
  if ! ip netns exec "$ns" tc qdisc add dev "$dev" root netem $NETEM 2>"$err"; then
    why="tc: $(tr '\n' ' ' < "$err")"
    if [ -r /proc/config.gz ] && command -v zcat >/dev/null 2>&1; then
      # The kernel's own configuration says whether any package could help.
      netem_cfg=$(zcat /proc/config.gz | grep -E '^(# )?CONFIG_NET_SCH_NETEM[= ]' || echo "CONFIG_NET_SCH_NETEM absent")
      modules_cfg=$(zcat /proc/config.gz | grep -E '^(# )?CONFIG_MODULES[= ]' || echo "CONFIG_MODULES absent")
      why+="- kernel $(uname -r) config: '$netem_cfg', '$modules_cfg'"
      case "$netem_cfg$modules_cfg" in
        *"CONFIG_NET_SCH_NETEM is not set"*"CONFIG_MODULES is not set"*)
          why+=" (netem not built in and no loadable modules: no package can add it)" ;;
      esac
    else
      why+="- kernel $(uname -r) without sch_netem, or tc missing"
    fi
    echo "netem unavailable: $why; delay and reordering runs skipped (loss is covered by the loss generator and nftables)"
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
  for side in "$NS_A:$VETH_A" "$NS_B:$VETH_B"; do
    ip netns exec "${side%%:*}" tc qdisc del dev "${side#*:}" root 2>/dev/null || true
  done
  PORT=$((PORT + 1))
fi

# ---- Multicast: A, B and C on one LAN (a bridge in namespace L) ----
if ! ip netns add "$NS_C" 2>"$err" || ! ip netns add "$NS_LAN" 2>>"$err"; then
  fail "cannot create namespaces $NS_C / $NS_LAN: $(tr '\n' ' ' < "$err")"
fi
ip -n "$NS_C" link set lo up
if ! ip -n "$NS_LAN" link add br0 type bridge mcast_snooping 0 2>"$err"; then
  fail "cannot create a bridge (kernel without CONFIG_BRIDGE): $(tr '\n' ' ' < "$err")"
fi
ip -n "$NS_LAN" link set br0 up
LAN_NET=10.78.0.0/24
GROUP=224.0.1.77
declare -A LAN_ADDR=([a]=10.78.0.1 [b]=10.78.0.2 [c]=10.78.0.3)
declare -A LAN_NS=([a]="$NS_A" [b]="$NS_B" [c]="$NS_C")
for h in a b c; do
  # Created inside the namespaces (never in the host's): host end shm<h>, bridge port shp<h>.
  ip -n "$NS_LAN" link add "shp$h$TAG" type veth peer name "shm$h$TAG" netns "${LAN_NS[$h]}" 2>"$err" ||
    fail "cannot create the veth for host $h: $(tr '\n' ' ' < "$err")"
  ip -n "$NS_LAN" link set "shp$h$TAG" master br0 up
  ip -n "${LAN_NS[$h]}" addr add "${LAN_ADDR[$h]}/24" dev "shm$h$TAG"
  ip -n "${LAN_NS[$h]}" link set "shm$h$TAG" multicast on up
done
pass "LAN $LAN_NET: $NS_A, $NS_B, $NS_C on bridge br0 in $NS_LAN (no multicast routes)"
start_driver_in "$NS_C" "$C_DIR"

run_mcast() {  # stream count rate fc what iface_a iface_b iface_c pub_dir sub_dir_b sub_dir_c
  local stream=$1 count=$2 rate=$3 fc=$4 what=$5 if_a=$6 if_b=$7 if_c=$8 pdir=$9 bdir=${10} cdir=${11}
  local base="aeron:udp?endpoint=$GROUP:$PORT|ttl=1|term-length=1m"
  local subs=() h
  for h in b c; do
    local ns=${LAN_NS[$h]} ifv="if_$h" dv="${h}dir"
    ip netns exec "$ns" "$BUILD/basic_subscriber" -d "${!dv}" -c "$base|interface=${!ifv}" -s "$stream" \
      -n "$count" -t 20 > "$DIR/msub$stream$h" 2>&1 &
    subs+=("$!")
    PIDS+=("$!")
  done
  for h in b c; do
    for _ in $(seq 1 200); do
      grep -q "ready" "$DIR/msub$stream$h" 2>/dev/null && break
      sleep 0.02
    done
  done
  local start_ns end_ns
  start_ns=$(date +%s%N)
  ip netns exec "$NS_A" "$BUILD/basic_publisher" -d "$pdir" -c "$base|interface=$if_a|fc=$fc" -s "$stream" \
    -n "$count" -l 0 -r "$rate" > "$DIR/mpub$stream" 2>&1 || fail "$what: publisher: $(cat "$DIR/mpub$stream")"
  local ok=1
  wait "${subs[0]}" || ok=0
  wait "${subs[1]}" || ok=0
  end_ns=$(date +%s%N)
  for h in b c; do
    local dv="${h}dir"
    grep -q "received $count messages, 0 errors" "$DIR/msub$stream$h" ||
      fail "$what: subscriber on $h: $(cat "$DIR/msub$stream$h")
publisher: $(cat "$DIR/mpub$stream")
loss report of the driver on $h:
$("$BUILD/shoal-stat" -d "${!dv}" --once --loss 2>&1)
loss report of the driver on a:
$("$BUILD/shoal-stat" -d "$pdir" --once --loss 2>&1)"
  done
  [ "$ok" -eq 1 ] || fail "$what: a subscriber exited non-zero: $(cat "$DIR/msub${stream}b" "$DIR/msub${stream}c")"
  pass "$what: $count random-size messages from $NS_A to both $NS_B and $NS_C, in order and intact ($(( (end_ns - start_ns) / 1000000 )) ms)"
  PORT=$((PORT + 1))
}

# fc=max lets the fastest receiver set the pace: a receiver that falls further
# behind than the publisher's term buffer (3 x 1 MiB here) cannot be repaired
# (Aeron semantics), and on a busy machine a receiver driver that is not
# scheduled for ~100 ms loses datagrams in its socket buffer even on a clean
# link, so the fc=max runs go slower than the fc=min ones.
declare -A MCAST_RATE=([min]=20000 [max]=${SHOAL_MCAST_MAX_RATE:-2000})
declare -A MCAST_LOSS_RATE=([min]=10000 [max]=${SHOAL_MCAST_MAX_RATE:-2000})
# The publisher waits for both receivers (g:/2) so neither joins late. First
# each host names its own address, then all name the subnet.
run_mcast 21 5000 "${MCAST_RATE[min]}" "min,g:/2" "multicast, fc=min, interface=own address" \
  "${LAN_ADDR[a]}" "${LAN_ADDR[b]}" "${LAN_ADDR[c]}" "$A_DIR" "$B_DIR" "$C_DIR"
run_mcast 22 5000 "${MCAST_RATE[max]}" "max,g:/2" "multicast, fc=max, interface=$LAN_NET" \
  "$LAN_NET" "$LAN_NET" "$LAN_NET" "$A_DIR" "$B_DIR" "$C_DIR"

# Both subscriber hosts lose 5 % in their drivers' loss generators (different seeds).
start_driver_in "$NS_C" "$C_DIR-lossy" --set RCV_LOSS_RATE=0.05 --set LOSS_SEED=11
for fc in min max; do
  naks_b=$(counter "$B_DIR_LOSSY" "NAKs sent"); naks_c=$(counter "$C_DIR-lossy" "NAKs sent")
  retransmits=$(counter "$A_DIR" "Retransmits sent")
  run_mcast $((23 + ${#fc})) 5000 "${MCAST_LOSS_RATE[$fc]}" "$fc,g:/2" "multicast, fc=$fc, 5 % dropped by both subscriber drivers" \
    "$LAN_NET" "$LAN_NET" "$LAN_NET" "$A_DIR" "$B_DIR_LOSSY" "$C_DIR-lossy"
  naks_b=$(( $(counter "$B_DIR_LOSSY" "NAKs sent") - naks_b )); naks_c=$(( $(counter "$C_DIR-lossy" "NAKs sent") - naks_c ))
  retransmits=$(( $(counter "$A_DIR" "Retransmits sent") - retransmits ))
  [ "$naks_b" -gt 0 ] && [ "$naks_c" -gt 0 ] && [ "$retransmits" -gt 0 ] ||
    fail "multicast loss (fc=$fc) did not show: NAKs from B $naks_b, from C $naks_c, retransmits $retransmits"
  pass "multicast loss repaired (fc=$fc): NAKs $naks_b from B, $naks_c from C; $retransmits retransmits from A"
done

# The bridge drops 5 % of the UDP it forwards, independently on each port:
# data to each subscriber, and their status messages and NAKs to everyone.
if [ "$nft_ok" -eq 0 ]; then
  echo "nftables loss skipped on the LAN too (see above)"
elif ! nft_loss "$NS_LAN" bridge forward; then
  echo "nftables loss skipped on the LAN: nft in $NS_LAN failed: $(tr '\n' ' ' < "$err")"
else
  naks_b=$(counter "$B_DIR" "NAKs sent"); naks_c=$(counter "$C_DIR" "NAKs sent")
  retransmits=$(counter "$A_DIR" "Retransmits sent")
  run_mcast 27 5000 10000 "min,g:/2" "multicast, fc=min, bridge drops 5 % per port (nftables)" \
    "$LAN_NET" "$LAN_NET" "$LAN_NET" "$A_DIR" "$B_DIR" "$C_DIR"
  naks_b=$(( $(counter "$B_DIR" "NAKs sent") - naks_b )); naks_c=$(( $(counter "$C_DIR" "NAKs sent") - naks_c ))
  retransmits=$(( $(counter "$A_DIR" "Retransmits sent") - retransmits ))
  [ $((naks_b + naks_c)) -gt 0 ] && [ "$retransmits" -gt 0 ] ||
    fail "bridge loss did not show: NAKs from B $naks_b, from C $naks_c, retransmits $retransmits"
  pass "bridge loss repaired: NAKs $naks_b from B, $naks_c from C; $retransmits retransmits from A"
fi

echo "$PASSED checks passed"
