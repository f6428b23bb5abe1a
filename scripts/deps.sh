#!/usr/bin/env bash
# Installs the Debian 12 packages shoal needs, only those missing.
# Usage: scripts/deps.sh [extra-package ...]
set -euo pipefail
packages=(
  build-essential cmake pkg-config libcmocka-dev libzmq3-dev          # C core, tests, bench peer
  python3 python3-dev python3-venv python3-pip python3-setuptools     # Python binding
  python3-wheel python3-pytest python3-numpy python3-zmq swig
  luajit libluajit-5.1-dev lua5.1                                     # Lua binding
  tshark iproute2 nftables                                            # UDP wire-format test, netns multi-host test (nft: kernel-side loss)
  clang libclang-rt-14-dev                                            # libFuzzer targets (scripts/fuzz.sh)
  clang-format-14                                                     # the house style check (.clang-format)
  prometheus                                                          # promtool check metrics (shoal-stat --prometheus)
  lintian dpkg-dev fakeroot adduser luarocks                          # packages: scripts/test_deb.sh, test_rock.sh
  "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
