#!/usr/bin/env bash
# Debian packages: builds them with CPack (libshoal0, libshoal-dev,
# shoal-tools), lists them (dpkg -c), runs lintian (no errors allowed),
# installs them with dpkg -i, builds examples/c/consumer against /usr both
# ways (CMake package, pkg-config), runs it against the packaged shoald
# (started directly: CI containers run no systemd), then purges them.
#   scripts/test_deb.sh [BUILD_DIR]     (default build/deb; needs root for dpkg -i)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(realpath -m "${1:-$root/build/deb}")"
"$root/scripts/deps.sh" lintian dpkg-dev fakeroot adduser
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: scripts/test_deb.sh installs packages with dpkg -i and needs root"
  exit 0
fi
if dpkg-query -W -f='${Status}' libshoal0 2>/dev/null | grep -q "ok installed"; then
  echo "FAIL: libshoal0 is already installed on this machine: refusing to replace it"; exit 1
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr -DSHOAL_INSTALL_SERVICE=ON \
  -DBUILD_TESTING=OFF -DSHOAL_BUILD_SWIG=OFF > /dev/null
cmake --build "$build" -j"$(nproc)" > /dev/null
rm -f "$build"/*.deb
(cd "$build" && cpack -G DEB > cpack.log 2>&1) || { cat "$build/cpack.log"; exit 1; }
debs=("$build"/libshoal0_*.deb "$build"/libshoal-dev_*.deb "$build"/shoal-tools_*.deb)
for deb in "${debs[@]}"; do
  [ -f "$deb" ] || { echo "FAIL: $deb not built"; ls "$build"; exit 1; }
  echo "--- $(basename "$deb")"
  dpkg-deb -f "$deb" Package Version Depends Section | sed 's/^/    /'
  dpkg -c "$deb" | awk '{print "    " $1 " " $6 ($7 ? " " $7 " " $8 : "")}'
done
rm -rf "$build/deb-x" && dpkg-deb -x "${debs[0]}" "$build/deb-x"
soname=$(objdump -p "$build"/deb-x/usr/lib/*/libshoal.so.0.* | awk '/SONAME/ {print $2}')
[ "$soname" = libshoal.so.0 ] || { echo "FAIL: SONAME '$soname'"; exit 1; }
echo "ok: SONAME $soname; shlibs: $(dpkg-deb -I "${debs[0]}" shlibs); symbols: $(dpkg-deb -I "${debs[0]}" symbols | grep -c '@SHOAL_0') functions"

echo "--- lintian"
set +e
lintian --no-tag-display-limit "${debs[@]}" > "$build/lintian.log" 2>&1
set -e
cat "$build/lintian.log"
errors=$(grep -c '^E: ' "$build/lintian.log" || true)
echo "lintian: $errors errors, $(grep -c '^W: ' "$build/lintian.log" || true) warnings"
[ "$errors" = 0 ] || { echo "FAIL: lintian errors"; exit 1; }

echo "--- dpkg -i"
installed=0
purge() { [ $installed = 1 ] && dpkg --purge shoal-tools libshoal-dev libshoal0 > /dev/null 2>&1 || true; }
dir="/dev/shm/shoal-debtest-$$"
work="$(mktemp -d /tmp/shoal-deb-XXXXXX)"
trap 'kill $shoald_pid 2>/dev/null || true; purge; rm -rf "$work" "$dir"' EXIT
shoald_pid=""
dpkg -i "${debs[@]}" > "$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; exit 1; }
installed=1
getent passwd shoal > /dev/null || { echo "FAIL: the shoal user was not created"; exit 1; }
[ -f /lib/systemd/system/shoald.service ] && [ -f /etc/default/shoald ] || { echo "FAIL: unit or defaults missing"; exit 1; }
echo "ok: installed; user shoal exists; $(command -v shoald) $(shoald --version)"

/usr/bin/shoald --dir "$dir" --quiet &
shoald_pid=$!
for _ in $(seq 1 200); do /usr/bin/shoal-stat -d "$dir" --once > /dev/null 2>&1 && break; sleep 0.05; done
cmake -S "$root/examples/c/consumer" -B "$work/cmake" > "$work/log" 2>&1 || { cat "$work/log"; exit 1; }
cmake --build "$work/cmake" > "$work/log" 2>&1 || { cat "$work/log"; exit 1; }
"$work/cmake/consumer" -d "$dir" -n 1000
mkdir -p "$work/pc"
make -s -C "$work/pc" -f "$root/examples/c/consumer/Makefile" > "$work/log" 2>&1 || { cat "$work/log"; exit 1; }
"$work/pc/consumer" -d "$dir" -n 1000
# Outputs captured first: with pipefail, "cmd | grep -q" fails whenever grep
# exits on its match before cmd has written the rest (SIGPIPE).
linked=$(ldd "$work/pc/consumer")
grep -q 'lib/x86_64-linux-gnu/libshoal.so.0' <<< "$linked" || { echo "FAIL: not linked to /usr's libshoal: $linked"; exit 1; }
metrics=$(/usr/bin/shoal-stat -d "$dir" --prometheus)
grep -q '^shoal_driver_up 1' <<< "$metrics" || { echo "FAIL: packaged shoal-stat"; exit 1; }
echo "ok: examples/c/consumer built against /usr (find_package and pkg-config) ran against the packaged shoald"

# The unit as systemd would run it (no systemd here): checked by
# systemd-analyze, then its ExecStart as its user with its umask and
# environment file, in a runtime directory like its RuntimeDirectory.
if command -v systemd-analyze > /dev/null; then
  verify=$(systemd-analyze verify /lib/systemd/system/shoald.service 2>&1 || true)
  [ -z "$verify" ] || { echo "FAIL: systemd-analyze verify: $verify"; exit 1; }
  echo "ok: systemd-analyze verify shoald.service: no findings"
else
  echo "SKIP: systemd-analyze not installed: the unit is not verified"
fi
kill "$shoald_pid"; wait "$shoald_pid" 2>/dev/null || true
run_dir="/run/shoal-debtest-$$"
mkdir -m 0700 "$run_dir" && chown shoal:shoal "$run_dir"
chmod 755 "$work" "$work/pc"
runuser -u shoal -- sh -c "umask 0077; set -a; . /etc/default/shoald; SHOAL_DIR=$run_dir/driver; exec /usr/bin/shoald \$SHOALD_OPTS --quiet" &
shoald_pid=$!
for _ in $(seq 1 200); do [ -f "$run_dir/driver/cnc.dat" ] && break; sleep 0.05; done
perms=$(stat -c '%U %a' "$run_dir/driver" "$run_dir/driver/cnc.dat" | tr '\n' ' ')
[ "$perms" = "shoal 700 shoal 600 " ] || { echo "FAIL: service files: $perms"; exit 1; }
runuser -u shoal -- "$work/pc/consumer" -d "$run_dir/driver" -n 1000
echo "ok: shoald as the service runs it (user shoal, UMask 0077, /etc/default/shoald): $perms; consumer as shoal ran"
kill "$shoald_pid"; wait "$shoald_pid" 2>/dev/null || true
rm -rf "$run_dir"
