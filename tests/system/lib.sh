# Helpers for system tests: real shoald and example processes.
set -euo pipefail
BUILD="${1:?usage: $0 BUILD_DIR}"
DIR="/dev/shm/shoal-systest-$$-$RANDOM"
PIDS=()
PASSED=0

cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$DIR" "$DIR".* "$DIR"-*   # and the side files tests name after it
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { PASSED=$((PASSED + 1)); echo "ok $PASSED - $*"; }

start_shoald() {
  "$BUILD/shoald" --dir "$DIR" --quiet "$@" &
  SHOALD_PID=$!
  PIDS+=("$SHOALD_PID")
  for _ in $(seq 1 200); do
    [ -f "$DIR/cnc.dat" ] && "$BUILD/shoal-stat" -d "$DIR" --once >/dev/null 2>&1 && return 0
    sleep 0.02
  done
  fail "shoald did not start"
}
