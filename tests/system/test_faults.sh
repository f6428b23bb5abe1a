#!/usr/bin/env bash
# Faults with real processes: drivers racing for one directory, a driver
# SIGKILLed under a running subscriber (clear error, then reconnect to a new
# driver), a directory on a full filesystem, a directory the user may not
# write, and a client of another user attaching to a driver it may not read.
source "$(dirname "$0")/lib.sh"

# Five drivers started together on one directory: exactly one serves it, the
# others refuse with exit code 3 (another driver is active).
codes=()
racers=()
for _ in 1 2 3 4 5; do
  "$BUILD/shoald" --dir "$DIR" --quiet 2>>"$DIR.race.err" &
  racers+=($!)
done
PIDS+=("${racers[@]}")
sleep 1.5
alive=0
for p in "${racers[@]}"; do
  if kill -0 "$p" 2>/dev/null; then alive=$((alive + 1)); survivor=$p; else
    set +e; wait "$p"; codes+=($?); set -e
  fi
done
[ "$alive" = 1 ] || fail "$alive drivers alive after the race (want 1)"
for c in "${codes[@]}"; do [ "$c" = 3 ] || fail "a losing driver exited $c (want 3): $(cat "$DIR.race.err")"; done
grep -q "active" "$DIR.race.err" || fail "losers did not say another driver is active: $(cat "$DIR.race.err")"
"$BUILD/basic_subscriber" -d "$DIR" -s 21 -n 100 -t 30 >/dev/null & sub=$!; PIDS+=("$sub")
"$BUILD/basic_publisher" -d "$DIR" -s 21 -n 100 >/dev/null
wait "$sub" || fail "pub/sub through the race's winner"
kill -TERM "$survivor"; wait "$survivor" 2>/dev/null || true
rm -f "$DIR.race.err"
pass "5 drivers racing for one directory: one serves it, 4 exit 3"

# A driver SIGKILLed under a waiting subscriber: the subscriber reports the
# lost driver within its driver timeout (1 s here) instead of hanging; then a
# new driver on the same directory serves new clients.
start_shoald
SHOAL_DRIVER_TIMEOUT_MS=1000 "$BUILD/basic_subscriber" -d "$DIR" -s 22 -n 1000000 -t 60 >"$DIR.sub.out" 2>&1 &
sub=$!; PIDS+=("$sub")
for _ in $(seq 1 100); do grep -q ready "$DIR.sub.out" 2>/dev/null && break; sleep 0.05; done
kill -9 "$SHOALD_PID"; wait "$SHOALD_PID" 2>/dev/null || true
t0=$SECONDS
set +e; wait "$sub"; code=$?; set -e
took=$((SECONDS - t0))
[ "$code" != 0 ] || fail "subscriber exited 0 although its driver died"
[ "$took" -le 15 ] || fail "subscriber took ${took}s to notice its driver died (driver timeout 1 s)"
grep -qi "driver" "$DIR.sub.out" || fail "subscriber's error does not mention the driver: $(cat "$DIR.sub.out")"
start_shoald
"$BUILD/basic_subscriber" -d "$DIR" -s 22 -n 100 -t 30 >/dev/null & sub=$!; PIDS+=("$sub")
"$BUILD/basic_publisher" -d "$DIR" -s 22 -n 100 >/dev/null
wait "$sub" || fail "pub/sub after the driver restart"
kill -TERM "$SHOALD_PID"; wait "$SHOALD_PID" 2>/dev/null || true
pass "driver SIGKILLed: subscriber exits in ${took}s with '$(tail -1 "$DIR.sub.out" | cut -c1-80)'; new driver serves new clients"
rm -f "$DIR.sub.out"

# No space for the driver's files: a clear error, not a crash. As root a
# 256 KiB tmpfs is mounted; otherwise RLIMIT_FSIZE (prlimit) caps file sizes.
small="$DIR.small"
mkdir -p "$small"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=256k tmpfs "$small" 2>/dev/null; then
  how="256 KiB tmpfs"
  set +e; "$BUILD/shoald" --dir "$small/d" >"$DIR.full.out" 2>&1; code=$?; set -e
  umount "$small"
else
  # SIGXFSZ ignored (inherited through exec) so the limit shows as EFBIG, as a full disk shows as ENOSPC
  how="prlimit --fsize=65536"
  set +e; bash -c 'trap "" XFSZ; exec prlimit --fsize=65536 "$@"' _ "$BUILD/shoald" --dir "$small/d" \
    >"$DIR.full.out" 2>&1; code=$?; set -e
fi
[ "$code" != 0 ] || fail "shoald started on a full filesystem ($how)"
[ "$code" -lt 128 ] || fail "shoald died of signal $((code - 128)) on a full filesystem ($how)"
grep -qiE "space|too large|cnc|no room|EFBIG|ENOSPC" "$DIR.full.out" || fail "no clear error on a full filesystem: $(cat "$DIR.full.out")"
pass "full filesystem ($how): shoald exits $code with '$(head -1 "$DIR.full.out" | cut -c1-90)'"
rm -rf "$small" "$DIR.full.out"

# Permissions. As root (which bypasses file modes) the checks run as user
# nobody; otherwise with a directory made read-only for the current user.
start_shoald
if [ "$(id -u)" = 0 ]; then
  as_other() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
  set +e; as_other "$BUILD/basic_subscriber" -d "$DIR" -s 23 -n 1 -t 5 >"$DIR.perm.out" 2>&1; code=$?; set -e
  [ "$code" != 0 ] || fail "another user attached to the driver"
  grep -qiE "permission|denied|EACCES|access" "$DIR.perm.out" || fail "no clear error for another user: $(cat "$DIR.perm.out")"
  pass "a client of another user cannot attach: '$(head -1 "$DIR.perm.out" | cut -c1-90)'"
  ro="/tmp/shoal-ro-$$"; mkdir -p "$ro"; chmod 0755 "$ro"
  set +e; as_other "$BUILD/shoald" --dir "$ro/d" >"$DIR.perm.out" 2>&1; code=$?; set -e
  rmdir "$ro"
else
  ro="$DIR.ro"; mkdir -p "$ro"; chmod 0500 "$ro"
  set +e; "$BUILD/shoald" --dir "$ro/d" >"$DIR.perm.out" 2>&1; code=$?; set -e
  chmod 0700 "$ro"; rmdir "$ro"
fi
[ "$code" != 0 ] && [ "$code" -lt 128 ] || fail "shoald in a directory it may not write: exit $code"
grep -qiE "permission|denied|EACCES" "$DIR.perm.out" || fail "no clear error for an unwritable directory: $(cat "$DIR.perm.out")"
pass "unwritable parent directory: shoald exits $code with '$(head -1 "$DIR.perm.out" | cut -c1-90)'"
rm -f "$DIR.perm.out"
kill -TERM "$SHOALD_PID"; wait "$SHOALD_PID" 2>/dev/null || true

echo "$PASSED passed, 0 failed"
