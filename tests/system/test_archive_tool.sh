#!/usr/bin/env bash
# shoal-archive against an archive made without a driver (archive_fixture):
# list, describe and verify (text and --json) of a closed recording and of one
# a crash left active with a torn tail, migrate recovering it, verify finding
# a corrupted segment, and clear errors for unknown ids, bad command lines, a
# missing archive and a catalog another process holds.
source "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
ARC="$(mktemp -d /tmp/shoal-archive-tool-XXXXXX)"
trap 'cleanup; rm -rf "$ARC"' EXIT
TOOL="$BUILD/shoal-archive"

read -r -d '' -a made < <("$BUILD/tests/archive_fixture" "$ARC/a" 500; printf '\0') || true
stop0=${made[0]}; whole1=${made[1]}; messages1=${made[2]}
[ -n "$stop0" ] && [ -n "$messages1" ] || fail "archive_fixture printed '${made[*]}'"

# ---- list ----
"$TOOL" --archive-dir "$ARC/a" list > "$ARC/list.txt" || fail "list"
grep -q "^2 recordings" "$ARC/list.txt" || fail "list text: $(cat "$ARC/list.txt")"
grep -q " recording " "$ARC/list.txt" || fail "list text shows the active one: $(cat "$ARC/list.txt")"
"$TOOL" --archive-dir "$ARC/a" list --json > "$ARC/list.json" || fail "list --json"
$PY - "$ARC/list.json" "$stop0" <<'EOF' || fail "list --json: $(cat "$ARC/list.json")"
import json, sys
d = json.load(open(sys.argv[1]))["recordings"]
assert [r["recording_id"] for r in d] == [0, 1], d
r0, r1 = d
assert r0["stop_position"] == int(sys.argv[2]) and r0["start_position"] == 0
assert r1["stop_position"] == -1 and r1["stop_timestamp_ns"] == -1
for r in d:
    assert r["channel"] == "aeron:ipc?term-length=64k" and r["source_identity"] == "test"
    assert (r["term_length"], r["segment_length"], r["mtu"], r["initial_term_id"]) == (65536, 131072, 1408, 7)
    assert (r["session_id"], r["stream_id"]) == (0x5107, 1001)
    assert r["start_timestamp_ns"] > 0
EOF
pass "list: both recordings, every descriptor field (text and --json)"

# ---- describe ----
"$TOOL" --archive-dir "$ARC/a" describe 0 > "$ARC/d0.txt" || fail "describe 0"
grep -q "stop position $stop0" "$ARC/d0.txt" || fail "describe text: $(cat "$ARC/d0.txt")"
"$TOOL" --archive-dir "$ARC/a" --json describe 0 > "$ARC/d0.json" || fail "describe 0 --json"
$PY - "$ARC/d0.json" "$stop0" <<'EOF' || fail "describe --json: $(cat "$ARC/d0.json")"
import json, sys
d = json.load(open(sys.argv[1]))
stop = int(sys.argv[2])
assert d["recording"]["stop_position"] == stop
segs = d["segments"]
assert [s["base"] for s in segs] == [i * 131072 for i in range(len(segs))], segs
assert len(segs) == (stop - 1) // 131072 + 1, (len(segs), stop)
assert all(s["bytes"] == 131072 and s["file"].endswith("0-%d.rec" % s["base"]) for s in segs)
assert d["time_index_entries"] > 0
EOF
pass "describe: descriptor, segment files and time index (text and --json)"

# ---- verify ----
"$TOOL" --archive-dir "$ARC/a" verify 0 > "$ARC/v0.txt" || fail "verify 0: $(cat "$ARC/v0.txt")"
grep -q "500 whole messages" "$ARC/v0.txt" && grep -q "^ok$" "$ARC/v0.txt" || fail "verify 0 text: $(cat "$ARC/v0.txt")"
"$TOOL" --archive-dir "$ARC/a" verify 1 --json > "$ARC/v1.json" || fail "verify 1 (active)"
$PY - "$ARC/v1.json" "$whole1" "$messages1" <<'EOF' || fail "verify 1 --json: $(cat "$ARC/v1.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is True and d["active"] is True and d["problems"] == []
assert d["checked_to"] == int(sys.argv[2]) and d["messages"] == int(sys.argv[3]), d
EOF
pass "verify: the closed recording is whole (500 messages); the active one is read up to its last whole message"

# ---- migrate: recovers the recording the crash left active ----
"$TOOL" --archive-dir "$ARC/a" migrate --json > "$ARC/m.json" || fail "migrate"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["recovered"] == 1 and d["records"] == 2 and d["catalog_version"] == "1.0", d' "$ARC/m.json" \
  || fail "migrate --json: $(cat "$ARC/m.json")"
"$TOOL" --archive-dir "$ARC/a" --json verify 1 > "$ARC/v1b.json" || fail "verify 1 after recovery: $(cat "$ARC/v1b.json")"
$PY - "$ARC/v1b.json" "$whole1" "$messages1" <<'EOF' || fail "verify 1 after recovery: $(cat "$ARC/v1b.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is True and d["active"] is False and d["problems"] == [], d
assert d["stop_position"] == int(sys.argv[2]) and d["messages"] == int(sys.argv[3]), d
EOF
"$TOOL" --archive-dir "$ARC/a" migrate > "$ARC/m2.txt" || fail "migrate again"
grep -q "nothing to migrate; 0 recordings left active by a crash recovered" "$ARC/m2.txt" || fail "migrate text: $(cat "$ARC/m2.txt")"
pass "migrate: the crashed recording recovered to its last whole message ($whole1), torn tail cut, verify clean"

# ---- verify finds a corrupt segment ----
printf '\x07\x00\x00\x00' | dd of="$ARC/a/0-0.rec" bs=1 seek=8 conv=notrunc status=none
set +e
"$TOOL" --archive-dir "$ARC/a" verify 0 > "$ARC/v0c.txt"; rc=$?
set -e
[ "$rc" = 1 ] && grep -q "corrupt segment: frame at 0: term id or offset" "$ARC/v0c.txt" && grep -q FAILED "$ARC/v0c.txt" \
  || fail "verify of a corrupted segment: rc $rc: $(cat "$ARC/v0c.txt")"
pass "verify: a corrupted frame header is found (exit 1, position named)"

# ---- errors ----
expect_error() {  # rc, text, command...
  local want_rc=$1 want=$2; shift 2
  set +e; "$@" > "$ARC/out" 2> "$ARC/err"; local rc=$?; set -e
  [ "$rc" = "$want_rc" ] && grep -q -- "$want" "$ARC/err" || fail "$*: rc $rc, stderr: $(cat "$ARC/err")"
}
expect_error 1 "unknown recording id 9" "$TOOL" --archive-dir "$ARC/a" describe 9
expect_error 2 "usage" "$TOOL" --archive-dir "$ARC/a" describe
expect_error 2 "bad recording id 'x'" "$TOOL" --archive-dir "$ARC/a" verify x
expect_error 2 "usage" "$TOOL" --archive-dir "$ARC/a" frobnicate
expect_error 2 "usage" "$TOOL" list
expect_error 1 "cannot open the archive catalog" "$TOOL" --archive-dir "$ARC/none" list
if command -v flock > /dev/null; then
  flock -n "$ARC/a/archive.catalog" sleep 30 &
  PIDS+=($!)
  sleep 0.2
  expect_error 1 "open for writing by another process" "$TOOL" --archive-dir "$ARC/a" migrate
fi
pass "errors: unknown id, bad command lines, missing archive, catalog held by another process"
