#!/usr/bin/env bash
# Compares the ABI of a built libshoal (RelWithDebInfo: it needs debug info)
# with the stored baseline abi/<soname>.abi, using libabigail's abidiff and
# only the types of the public headers (core/include/shoal).
#   scripts/abi_check.sh BUILD_DIR            check; fails on an incompatible change
#   scripts/abi_check.sh --update BUILD_DIR   rewrite the baseline (after a deliberate
#                                             change: incompatible ones need a SONAME bump)
# Added functions are compatible: listed, not failed (update the baseline to record them).
# Anything else that differs (changed signatures, POD view layouts, removed symbols) fails.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
update=0
if [ "${1:-}" = "--update" ]; then update=1; shift; fi
build="${1:?usage: abi_check.sh [--update] BUILD_DIR}"
"$root/scripts/deps.sh" abigail-tools
lib="$build/libshoal.so.0"
[ -f "$lib" ] || { echo "abi: $lib not built"; exit 1; }
soname="$(objdump -p "$lib" | awk '/SONAME/ {print $2}')"
baseline="$root/abi/$soname.abi"
headers="$root/core/include/shoal"
if [ "$update" = 1 ]; then
  mkdir -p "$root/abi"
  abidw --headers-dir "$headers" --no-corpus-path "$lib" > "$baseline"
  echo "abi: baseline $baseline written ($(grep -c '<function-decl' "$baseline") functions)"
  exit 0
fi
if [ ! -f "$baseline" ]; then
  echo "abi: no baseline for SONAME $soname ($baseline): a new SONAME needs 'scripts/abi_check.sh --update $build'"
  exit 1
fi
set +e
report="$(abidiff --headers-dir2 "$headers" --no-added-syms "$baseline" "$lib" 2>&1)"
status=$?
set -e
# abidiff's status is a bit mask: 1 error, 2 usage, 4 ABI change, 8 incompatible change
if (( status & 3 )); then
  echo "abi: abidiff failed ($status):"; echo "$report"; exit 1
fi
# With --no-added-syms any remaining change touches what users already link
# against (a signature, a POD view's layout, a removed symbol): abidiff flags
# layout changes behind pointers as "change" (4), not "incompatible" (8), so both fail.
if (( status & 12 )); then
  echo "abi: INCOMPATIBLE change against $baseline:"; echo "$report"
  echo "abi: keep the ABI, or bump the SONAME and record a new baseline"
  exit 1
fi
added="$(abidiff --headers-dir2 "$headers" "$baseline" "$lib" 2>&1 | grep -E "^  \[A\] '" || true)"
if [ -n "$added" ]; then
  echo "abi: added since the baseline (compatible; record with --update):"; echo "$added"
fi
echo "abi: ok, $soname compatible with its baseline"
