#!/usr/bin/env bash
# A longer soak than the 30 s one ctest runs: one embedded driver, publisher
# processes started and SIGKILLed at random, restarting subscribers, every
# message checked, fds and heap compared at the end (tests/soak/shoal_soak.c).
#   scripts/soak.sh [seconds (default 300)] [seed]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/deps.sh"
build="$root/build/test"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target shoal_soak >/dev/null
args=(-t "${1:-300}")
if [ -n "${2:-}" ]; then args+=(-s "$2"); fi
"$build/tests/shoal_soak" "${args[@]}"
