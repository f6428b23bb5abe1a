#!/usr/bin/env bash
# Builds shoal (Release) and runs the demo: embedded driver, IPC throughput
# and round-trip latency, real figures from this machine.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/deps.sh"
build="$root/build/release"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSHOAL_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target shoal_demo >/dev/null
"$build/shoal_demo" "$@"
