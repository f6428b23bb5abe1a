#!/usr/bin/env bash
# The Python wheel: `pip wheel . --no-build-isolation --no-index -w DIST`,
# installed into a fresh venv (--system-site-packages: numpy comes from
# Debian), then used from a directory outside the source tree: version from
# the C header, an embedded driver, a message through it, shoal.stat.
#   scripts/test_wheel.sh [WORK_DIR]     (default build/wheel)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(realpath -m "${1:-$root/build/wheel}")"   # absolute: the script changes directory
py=/usr/bin/python3
rm -rf "$work"
mkdir -p "$work"
cd "$root"
"$py" -m pip wheel . --no-build-isolation --no-index --no-deps -w "$work/dist" > "$work/wheel.log" 2>&1 \
  || { tail -30 "$work/wheel.log"; exit 1; }
wheel=$(ls "$work"/dist/shoal-*.whl)
header_version=$(awk '/#define SHOAL_VERSION_(MAJOR|MINOR|PATCH) / {v = v (v ? "." : "") $3} END {print v}' \
  core/include/shoal/shoal.h)
case "$(basename "$wheel")" in
  shoal-"$header_version"-*) ;;
  *) echo "FAIL: wheel $(basename "$wheel") does not carry the header's version $header_version"; exit 1 ;;
esac
echo "ok: $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KiB): $("$py" -m zipfile -l "$wheel" | awk 'NR > 1 {print $1}' | grep -v dist-info | tr '\n' ' ')"
"$py" -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install --no-index --quiet "$wheel"
cd /  # anywhere but the source tree
"$work/venv/bin/python" - "$header_version" <<'PYEOF'
import os, sys, tempfile
import shoal
from shoal.stat import CncReader
assert shoal.__file__.startswith(sys.prefix), shoal.__file__
assert shoal.version() == sys.argv[1], (shoal.version(), sys.argv[1])
d = tempfile.mkdtemp(prefix="shoal-wheel-", dir="/dev/shm")
os.rmdir(d)
with shoal.Context(dir=d, DIR_DELETE_ON_SHUTDOWN=1) as ctx, shoal.Driver(ctx), shoal.Client(ctx) as c:
    with c.add_subscription("aeron:ipc", 5) as sub, c.add_publication("aeron:ipc", 5) as pub:
        assert pub.wait_connected(10)
        pub.offer(b"from the wheel", timeout=10)
        got = []
        while not got:
            got = [bytes(v) for v, h in sub.poll_batch(8, timeout=1.0)]
        assert got == [b"from the wheel"], got
        with CncReader(d) as cnc:
            assert cnc.counter_values()["Clients active"] == 1
import shoal._swig
print("ok: wheel installed in a fresh venv, used from /: shoal %s at %s, a message through an embedded driver, "
      "shoal.stat and shoal._swig load" % (shoal.version(), os.path.dirname(shoal.__file__)))
PYEOF
