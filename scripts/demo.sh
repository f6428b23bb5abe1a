#!/usr/bin/env bash
# The main demo, real figures from this machine:
#  1. C: shoal_demo, an embedded driver, IPC throughput (exclusive and
#     concurrent publication) and round-trip latency between two threads;
#  2. Python: python -m shoal.demo, poll_batch / poll / numpy consumers;
#  3. LuaJIT: bindings/lua/bench.lua, the same loops from Lua and from C;
#  4. all three together around one driver embedded in Python:
#     C feed -> Lua strategy -> orders -> Python analytics
#     (examples/python/analytics.py); an archive server embedded there too
#     records the feed, then the Lua strategy is backtested on the recording
#     (shoal-lua --replay: its orders must equal the live run's) and the
#     recording is loaded into numpy (shoal.archive.open(dir).read_records);
#  5. C over UDP: shoal-bench on aeron:udp 127.0.0.1 (Aeron's wire
#     protocol through the driver's sender and receiver).
# Installs the Debian packages it needs; builds into build/release and .venv.
#   scripts/demo.sh [--quick]     (--quick: smaller runs)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/deps.sh"
build="$root/build/release"
n_c=5000000 n_py=1000000 n_quotes=200000 n_udp=2000000 n_rtt=20000
if [ "${1:-}" = "--quick" ]; then n_c=500000 n_py=100000 n_quotes=20000 n_udp=200000 n_rtt=5000; fi
step() { printf '\n=== %s\n' "$*"; }

step "building (Release) into ${build#$root/} and .venv"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target shoal shoal_demo basic_publisher shoal-bench >/dev/null
"$root/scripts/python_venv.sh" "$root/.venv"
py="$root/.venv/bin/python"

step "C: embedded driver, aeron:ipc, 32-byte messages"
"$build/shoal_demo" "$n_c"

step "Python: python -m shoal.demo"
"$py" -P -m shoal.demo -n "$n_py"

step "LuaJIT: bindings/lua/bench.lua (FFI) next to the same loop in C"
SHOAL_LIB="$build/libshoal.so.0" SHOAL_BUILD_DIR="$build" luajit "$root/bindings/lua/bench.lua" --runs 3

step "C feed -> Lua strategy -> Python analytics (one driver, embedded in Python), recorded; backtest; numpy"
"$py" -P "$root/examples/python/analytics.py" --build "$build" -n "$n_quotes"

step "C over UDP: aeron:udp on 127.0.0.1 (embedded driver sends and receives)"
"$build/shoal-bench" --scenario udp-throughput,udp-rtt --yield --no-zmq --runs 3 --messages "$n_udp" \
  --samples "$n_rtt" --note "demo: 3 runs; scripts/bench.sh compares with ZeroMQ"
