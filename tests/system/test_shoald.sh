#!/usr/bin/env bash
# shoald as a daemon: help, settings errors, pub/sub between processes,
# one driver per directory, clean shutdown, tools against a live driver.
source "$(dirname "$0")/lib.sh"

grep -q -- "--dir" <<<"$("$BUILD/shoald" --help)" || fail "help lacks --dir"
# every setting the context reads from SHOAL_* (its SETTINGS table) is listed
src="$(dirname "$0")/../../core/src/common/shoal_context.c"
keys=$(sed -n '/ SETTINGS\[\] = {/,/^};/p' "$src" | grep -o '"[A-Z_]*"' | tr -d '"')
[ "$(echo "$keys" | wc -w)" -gt 20 ] || fail "could not read the settings table from $src"
for k in $keys; do grep -qw "$k" <<<"$("$BUILD/shoald" --help)" || fail "shoald --help lacks setting $k"; done
pass "shoald --help"
if "$BUILD/shoald" --set NOPE=1 2>/tmp/shoald_err_$$; then fail "bad setting accepted"; fi
grep -q "NOPE" /tmp/shoald_err_$$ || fail "bad setting error does not name the key"
err=$("$BUILD/shoald" --set NOPE 2>&1 >/dev/null) && fail "--set without '=' accepted"
grep -q "expects KEY=VALUE, got 'NOPE'" <<<"$err" || fail "--set without '=': $err"
rm -f /tmp/shoald_err_$$
pass "shoald rejects an unknown setting, naming it, and a --set without '='"

start_shoald --set IPC_TERM_LENGTH=256k --set CLIENT_LIVENESS_TIMEOUT_MS=1000
[ "$(stat -c %a "$DIR")" = 700 ] || fail "dir mode $(stat -c %a "$DIR")"
[ "$(stat -c %a "$DIR/cnc.dat")" = 600 ] || fail "cnc mode"
pass "driver directory 0700, cnc.dat 0600"

set +e
"$BUILD/shoald" --dir "$DIR" --quiet 2>/tmp/shoald_err_$$ &
second=$!
wait $second; rc=$?
set -e
[ $rc -eq 3 ] || fail "second shoald exit $rc"
grep -q "another driver is active" /tmp/shoald_err_$$ || fail "second shoald message"
rm -f /tmp/shoald_err_$$
pass "second shoald on a live directory refuses (exit 3)"

# Two processes: random sizes (fragmentation), checked order and content.
"$BUILD/basic_subscriber" -d "$DIR" -s 7 -n 20000 -t 60 > /tmp/sub_$$ &
sub=$!; PIDS+=("$sub")
"$BUILD/basic_publisher" -d "$DIR" -s 7 -n 20000 -l 0 >/dev/null
wait $sub || fail "subscriber: $(cat /tmp/sub_$$)"
grep -q "received 20000 messages, 0 errors" /tmp/sub_$$ || fail "subscriber output"
pass "publisher and subscriber processes exchange 20000 random-size messages"

# Batch polling and an exclusive publisher.
"$BUILD/basic_subscriber" -d "$DIR" -s 8 -n 50000 -b -t 60 > /tmp/sub_$$ &
sub=$!; PIDS+=("$sub")
"$BUILD/basic_publisher" -d "$DIR" -s 8 -n 50000 -l 100 -x >/dev/null
wait $sub || fail "batch subscriber: $(cat /tmp/sub_$$)"
pass "exclusive publisher to poll_batch subscriber, 50000 messages"

# Two subscribers both see everything.
"$BUILD/basic_subscriber" -d "$DIR" -s 9 -n 10000 -t 60 > /tmp/sub_$$ &
s1=$!; PIDS+=("$s1")
"$BUILD/basic_subscriber" -d "$DIR" -s 9 -n 10000 -b -t 60 > /tmp/sub2_$$ &
s2=$!; PIDS+=("$s2")
sleep 0.3
"$BUILD/basic_publisher" -d "$DIR" -s 9 -n 10000 -l 64 >/dev/null
wait $s1 || fail "subscriber 1"
wait $s2 || fail "subscriber 2"
rm -f /tmp/sub_$$ /tmp/sub2_$$
pass "two subscriber processes each receive all 10000 messages"

# A publisher killed while holding a claim does not block the stream forever.
"$BUILD/basic_subscriber" -d "$DIR" -s 10 -n 100 -t 60 > /tmp/sub_$$ &
sub=$!; PIDS+=("$sub")
"$BUILD/basic_publisher" -d "$DIR" -s 10 -n 0 -k > /tmp/pub_$$ &
stuck=$!; PIDS+=("$stuck")
for _ in $(seq 1 200); do grep -q holding /tmp/pub_$$ && break; sleep 0.02; done
grep -q holding /tmp/pub_$$ || fail "stuck publisher did not claim"
kill -9 $stuck
"$BUILD/basic_publisher" -d "$DIR" -s 10 -n 100 >/dev/null
wait $sub || fail "subscriber blocked behind a dead claim: $(cat /tmp/sub_$$)"
rm -f /tmp/sub_$$ /tmp/pub_$$
pass "claim of a SIGKILLed publisher is unblocked; later messages arrive"

# Tools read the live driver.
grep -q "Driver heartbeat" <<<"$("$BUILD/shoal-stat" -d "$DIR" --once)" || fail "shoal-stat output"
"$BUILD/shoal-stat" -d "$DIR" --once --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["alive"] and len(d["counters"]) > 5' \
  || fail "shoal-stat json"
# The SIGKILLed publisher above was timed out: the error log says so, with a count.
grep -q "timed out" <<<"$("$BUILD/shoal-errors" -d "$DIR")" || fail "shoal-errors lacks the client timeout"
"$BUILD/shoal-errors" -d "$DIR" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert any("timed out" in e["message"] and e["count"] >= 1 for e in d["errors"])' \
  || fail "shoal-errors json"
pass "shoal-stat and shoal-errors read the live driver"

kill -TERM "$SHOALD_PID"
wait "$SHOALD_PID" || fail "shoald exit status after SIGTERM"
[ ! -f "$DIR/cnc.dat" ] || fail "cnc.dat left after clean shutdown"
pass "SIGTERM: clean shutdown, cnc.dat removed"

# A driver killed hard leaves a stale directory; the next one cleans it.
start_shoald
kill -9 "$SHOALD_PID"; wait "$SHOALD_PID" 2>/dev/null || true
[ -f "$DIR/cnc.dat" ] || fail "expected a stale cnc.dat"
start_shoald
"$BUILD/basic_subscriber" -d "$DIR" -s 11 -n 10 -t 30 >/dev/null &
sub=$!; PIDS+=("$sub")
"$BUILD/basic_publisher" -d "$DIR" -s 11 -n 10 >/dev/null
wait $sub || fail "pub/sub after restart"
pass "stale directory of a SIGKILLed driver is cleaned by the next shoald"

echo "$PASSED passed, 0 failed"
