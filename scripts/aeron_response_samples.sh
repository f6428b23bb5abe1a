#!/usr/bin/env bash
# Builds Aeron's own request/response sample programs (aeron-samples/src/main/c/response:
# response_server, response_client) against an Aeron C install made by scripts/aeron_peer.sh,
# as INSTALL/bin/aeron_response_server and INSTALL/bin/aeron_response_client. The interop test
# (tests/system/test_aeron_response_interop.sh) runs them against shoal's response programs.
#
# Usage: scripts/aeron_response_samples.sh AERON_SOURCE_DIR [INSTALL_DIR]
#        (INSTALL_DIR defaults to build/aeron/install; aeron_peer.sh calls this at its end)
# The checkout is only read; the programs are compiled as they are (no change to their source).
set -euo pipefail
if [ $# -lt 1 ] || [ ! -d "$1/aeron-samples/src/main/c/response" ]; then
  echo "usage: $0 AERON_SOURCE_DIR [INSTALL_DIR]" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
samples=$(cd "$1/aeron-samples/src/main/c" && pwd)
inst=$(cd "${2:-$root/build/aeron/install}" && pwd)
if [ ! -f "$inst/lib/libaeron_static.a" ] || [ ! -f "$inst/include/aeron/aeronc.h" ]; then
  echo "aeron_response_samples: no Aeron C install in $inst (run scripts/aeron_peer.sh first)" >&2
  exit 1
fi
for prog in response_server response_client; do
  cc -O2 -std=gnu11 -Wno-cpp -I"$inst/include/aeron" -o "$inst/bin/aeron_$prog" \
    "$samples/response/$prog.c" "$samples/sample_util.c" "$inst/lib/libaeron_static.a" -lpthread -ldl -lm -lbsd -luuid
done
echo "aeron_response_samples: $inst/bin/aeron_response_server, $inst/bin/aeron_response_client"
