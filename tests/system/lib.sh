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

# A test that cannot run without a command fails saying how to get it.
require_command() {  # command, message
  command -v "$1" >/dev/null 2>&1 || { echo "FAIL: $2"; exit 1; }
}

# Waits (4 s at most) until the driver in dir answers shoal-stat; else fails: "<what> did not start".
wait_driver() {  # dir, what
  for _ in $(seq 1 200); do
    [ -f "$1/cnc.dat" ] && "$BUILD/shoal-stat" -d "$1" --once >/dev/null 2>&1 && return 0
    sleep 0.02
  done
  fail "$2 did not start"
}

start_shoald() {
  "$BUILD/shoald" --dir "$DIR" --quiet "$@" &
  SHOALD_PID=$!
  PIDS+=("$SHOALD_PID")
  wait_driver "$DIR" shoald
}
