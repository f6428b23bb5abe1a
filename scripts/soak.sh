#!/usr/bin/env bash
# A longer soak than the 30 s one ctest runs (tests/soak/, shoal_soak.c): the
# driver in its own process, SIGKILLed every 30-60 s and restarted; IPC and
# lossy UDP publisher processes and a subscriber process started and SIGKILLed
# at random; restarting subscriber clients; every message checked; per
# transport, messages delivered / lost / duplicated (must be 0) / cut by kills;
# fds and heap compared at the end.
#   scripts/soak.sh [seconds (default 300)] [seed]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/deps.sh"
build="$root/build/test"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target shoal_soak shoal-stat >/dev/null
args=(-t "${1:-300}")
if [ -n "${2:-}" ]; then args+=(-s "$2"); fi
"$build/tests/shoal_soak" "${args[@]}"
