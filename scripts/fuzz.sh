#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang, ASan and UBSan
# into build/fuzz and runs each for a bounded time on a copy of its seed corpus
# (tests/fuzz/corpus/<name>/, regression inputs included). Fails if any target
# finds a crash, a leak, undefined behaviour or a timeout; crashing inputs are
# kept in build/fuzz/artifacts/. Prints: target, executions, corpus size, result.
# Usage: scripts/fuzz.sh [seconds_per_target] [target ...]   (default 20 s, all)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-20}"
shift || true
build="$root/build/fuzz"

if ! command -v clang >/dev/null; then
  echo "fuzz: clang not found (scripts/deps.sh installs it)" >&2
  exit 1
fi
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSHOAL_FUZZ=ON -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build" --target fuzz -j"$(nproc)" >/dev/null

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in "$root"/tests/fuzz/fuzz_*.c; do
    name="$(basename "$src" .c)"
    targets+=("${name#fuzz_}")
  done
fi

mkdir -p "$build/artifacts" "$build/logs"
SHOAL_FUZZ_TMPDIR="$(mktemp -d /dev/shm/shoal-fuzz.XXXXXX)"
export SHOAL_FUZZ_TMPDIR
trap 'rm -rf "$SHOAL_FUZZ_TMPDIR"' EXIT
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
failed=0
rows=()
for t in "${targets[@]}"; do
  bin="$build/tests/fuzz/fuzz_$t"
  seeds="$root/tests/fuzz/corpus/$t"
  work="$build/corpus/$t"
  log="$build/logs/$t.log"
  mkdir -p "$work" "$seeds"
  # The work corpus persists between runs in build/fuzz, so each run starts
  # where the last one stopped; the seeds (with regression inputs) always run.
  set +e
  (cd "$build" && "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" "$work" "$seeds") >"$log" 2>&1
  rc=$?
  set -e
  execs="$(awk '/stat::number_of_executed_units/ {print $2}' "$log" | tail -1)"
  corpus="$(find "$work" -type f | wc -l)"
  if [ "$rc" -eq 0 ]; then
    result="ok"
  else
    result="FAIL (rc $rc, log $log)"
    failed=1
    echo "--- fuzz_$t failed; last lines of $log:"
    tail -40 "$log"
  fi
  rows+=("$(printf '%-20s %12s %8s  %s' "fuzz_$t" "${execs:-?}" "$corpus" "$result")")
done

printf '\n%-20s %12s %8s  %s\n' target executions corpus result
for r in "${rows[@]}"; do echo "$r"; done
exit "$failed"
