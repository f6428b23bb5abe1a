#!/usr/bin/env bash
# shoal-archived as a daemon beside shoald: usage errors, no driver, a second
# server on the same archive directory refused, clean stop on SIGINT and
# SIGTERM (exit 0). The crash and recovery case is tests/c/archive/test_archived_crash.c.
source "$(dirname "$0")/lib.sh"
ARCHIVE="$DIR-archive"

grep -q -- "--archive-dir" <<<"$("$BUILD/shoal-archived" --help)" || fail "help lacks --archive-dir"
set +e
"$BUILD/shoal-archived" --dir "$DIR" > /dev/null 2>&1; rc=$?
[ "$rc" = 2 ] || fail "no --archive-dir: exit $rc, not 2"
"$BUILD/shoal-archived" --archive-dir "$ARCHIVE" --set ARCHIVE_FSYNC=always > /dev/null 2>&1; rc=$?
[ "$rc" = 2 ] || fail "bad setting: exit $rc, not 2"
err=$("$BUILD/shoal-archived" --archive-dir "$ARCHIVE" --set ARCHIVE_FSYNC 2>&1 >/dev/null); rc=$?
[ "$rc" = 2 ] || fail "--set without '=': exit $rc, not 2"
grep -q "shoal-archived: --set expects KEY=VALUE" <<<"$err" || fail "--set without '=': $err"
err=$("$BUILD/shoal-archived" --dir "$DIR" --archive-dir "$ARCHIVE" 2>&1 >/dev/null); rc=$?
set -e
[ "$rc" = 1 ] || fail "no driver: exit $rc, not 1"
grep -qi "driver" <<<"$err" || fail "no driver: the message does not say so: $err"
pass "shoal-archived: usage errors exit 2, no driver exits 1 saying so"

start_shoald
for sig in INT TERM; do
  "$BUILD/shoal-archived" --dir "$DIR" --archive-dir "$ARCHIVE" --quiet &
  pid=$!
  PIDS+=("$pid")
  sleep 0.5
  kill -0 "$pid" || fail "shoal-archived exited early"
  # a second server on the same archive directory is refused (exit 3)
  set +e
  "$BUILD/shoal-archived" --dir "$DIR" --archive-dir "$ARCHIVE" --quiet > /dev/null 2>&1; rc=$?
  set -e
  [ "$rc" = 3 ] || fail "second server on one archive: exit $rc, not 3"
  kill -"$sig" "$pid"
  set +e
  wait "$pid"; rc=$?
  set -e
  [ "$rc" = 0 ] || fail "SIG$sig: exit $rc, not 0"
done
[ -f "$ARCHIVE/archive.catalog" ] || fail "no catalog in $ARCHIVE"
pass "shoal-archived: runs beside shoald, a second server on the archive is refused, SIGINT and SIGTERM stop it cleanly"
