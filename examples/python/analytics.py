"""The three front-ends in one flow, around one driver embedded in this process.

    C feed (basic_publisher) --stream 1001--> Lua strategy (shoal-lua strategy.lua)
        --stream 1002--> Python analytics (this script, numpy)

This script hosts the embedded driver (shoal.Driver) on a private directory,
subscribes to the strategy's orders, starts the LuaJIT strategy and then the C
feed as child processes on that directory, and reads the orders zero-copy into
a numpy structured array (the shoal_example_order_t layout of
examples/lua/messages.lua). It prints what each stage reported and the
analytics: orders per side, VWAP per side, and the strategy-to-analytics
latency of each order (the strategy stamps CLOCK_MONOTONIC when it claims the
order, this process reads the same clock when it polls it).

    python3 examples/python/analytics.py --build build/release [-n quotes]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import shoal

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUOTE_STREAM, ORDER_STREAM = 1001, 1002
# shoal_example_order_t (examples/lua/messages.lua), 48 bytes, little-endian
ORDER = np.dtype([("id", "<i8"), ("quote_seq", "<i8"), ("ts_ns", "<i8"), ("price", "<f8"), ("qty", "<i4"),
                  ("side", "i1"), ("pad", "i1", 3), ("symbol", "S8")])
assert ORDER.itemsize == 48


def child(name: str, cmd: list, env: dict) -> subprocess.Popen:
    print("  starting %-13s %s" % (name + ":", " ".join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c
                                                         for c in cmd)))
    # Output goes to a file, not a pipe: this process reads it only at the end,
    # and a child blocked on a full pipe would stall the whole flow.
    out = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    proc.output_file = out  # type: ignore[attr-defined]
    return proc


def output_of(proc: subprocess.Popen) -> str:
    f = proc.output_file  # type: ignore[attr-defined]
    f.seek(0)
    text = f.read()
    f.close()
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"),
                    help="CMake build directory holding basic_publisher and libshoal.so.0")
    ap.add_argument("-n", "--quotes", type=int, default=200_000, help="quotes the C feed publishes")
    ap.add_argument("--timeout", type=float, default=120.0)
    args = ap.parse_args(argv)

    publisher = os.path.join(args.build, "basic_publisher")
    lib = os.path.join(args.build, "libshoal.so.0")
    for f in (publisher, lib):
        if not os.path.exists(f):
            sys.stderr.write("analytics: %s is missing (build it: cmake --build %s)\n" % (f, args.build))
            return 2

    directory = "/dev/shm/shoal-pipeline-%d" % os.getpid()
    env = dict(os.environ, SHOAL_LIB=lib)
    print("pipeline: C feed -> Lua strategy -> Python analytics, driver embedded in Python (%s)" % directory)
    with shoal.Context(dir=directory, dir_delete_on_shutdown=True) as ctx, shoal.Driver(ctx), \
            shoal.Client(ctx) as client, client.add_subscription("aeron:ipc", ORDER_STREAM) as orders_sub:
        strategy = child("lua strategy", [os.path.join(ROOT, "bindings", "lua", "shoal-lua"), "--dir", directory,
                                          os.path.join(ROOT, "examples", "lua", "strategy.lua"),
                                          "20", "80", str(args.quotes)], env)
        # the feed waits until a subscriber (the strategy) is connected before it publishes
        feed = child("c feed", [publisher, "-d", directory, "-s", str(QUOTE_STREAM), "-x", "-l", "32",
                                "-n", str(args.quotes)], env)
        chunks, latencies = [], []
        start = time.perf_counter()
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            recs = orders_sub.poll_records(ORDER, 256, timeout=0.05)
            if len(recs):
                now = time.monotonic_ns()
                latencies.append(now - recs["ts_ns"])
                chunks.append(recs.copy())
            elif strategy.poll() is not None:
                recs = orders_sub.poll_records(ORDER, 4096, timeout=0.2)  # anything still in flight
                if len(recs) == 0:
                    break
                chunks.append(recs.copy())
        elapsed = time.perf_counter() - start
        for p in (feed, strategy):
            try:
                p.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        feed_out, strat_out = output_of(feed), output_of(strategy)

    print("\n[c feed]       " + "\n[c feed]       ".join(l for l in feed_out.splitlines() if l.strip()))
    order_lines = [l for l in strat_out.splitlines() if l.startswith("ORDER ")]
    for l in order_lines[:3]:
        print("[lua strategy] " + l)
    if len(order_lines) > 3:
        print("[lua strategy] ... %d more ORDER lines" % (len(order_lines) - 3))
    for l in strat_out.splitlines():
        if l.startswith("strategy:") or "error" in l.lower():
            print("[lua strategy] " + l)

    orders = np.concatenate(chunks) if chunks else np.zeros(0, dtype=ORDER)
    ok = feed.returncode == 0 and strategy.returncode == 0
    print("\n[python analytics] %d orders received in %.2f s (feed %d quotes, exit codes: feed %s, strategy %s)"
          % (len(orders), elapsed, args.quotes, feed.returncode, strategy.returncode))
    if len(orders):
        ids = orders["id"]
        gaps = int(ids[0] != 1) + int(np.count_nonzero(np.diff(ids) != 1))
        for side, name in ((1, "buys "), (-1, "sells")):
            o = orders[orders["side"] == side]
            if len(o):
                vwap = float(np.dot(o["price"], o["qty"]) / o["qty"].sum())
                print("[python analytics]   %s %4d orders, %6d qty, VWAP %.4f" % (name, len(o), int(o["qty"].sum()),
                                                                                   vwap))
        lat = np.concatenate(latencies) / 1e3 if latencies else np.zeros(0)
        if len(lat):
            p50, p99 = np.percentile(lat, [50, 99])
            print("[python analytics]   order id gaps %d; strategy -> analytics latency p50 %.1f us, p99 %.1f us, "
                  "max %.1f us (%d orders timed)" % (gaps, p50, p99, lat.max(), len(lat)))
        ok = ok and gaps == 0 and len(orders) == len(order_lines)
    else:
        ok = False
    if not ok:
        print("[python analytics] FAILED: the strategy said %d orders, analytics got %d\n--- strategy output:\n%s"
              % (len(order_lines), len(orders), strat_out))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
