"""The three front-ends in one flow, around one driver embedded in this process.

    C feed (basic_publisher) --stream 1001--> Lua strategy (shoal-lua strategy.lua)
        --stream 1002--> Python analytics (this script, numpy)
    stream 1001 --> archive server (embedded here) --> recording on disk
        --> backtest (shoal-lua --replay) and numpy (shoal.archive.open)

This script hosts the embedded driver (shoal.Driver) and an archive server
(shoal.ArchiveServer) on a private directory, subscribes to the strategy's
orders, starts the LuaJIT strategy, asks the archive to record the quote
stream, then starts the C feed; the strategy and the recording both see the
feed from its first message. It reads the orders zero-copy into a numpy
structured array (the shoal_example_order_t layout of
examples/lua/messages.lua) and prints what each stage reported and the
analytics: orders per side, VWAP per side, and the strategy-to-analytics
latency of each order (the strategy stamps CLOCK_MONOTONIC when it claims the
order, this process reads the same clock when it polls it).

Then, with the driver gone, from the recording alone:
  * backtest: the same strategy.lua, unchanged, under shoal-lua --replay
    ARCHIVE:ID --capture DIR: its orders (simulated publication, written to
    DIR/orders.msgs) are compared field by field with the live run's (all but
    ts_ns, which is the live clock in one and the recorded time in the other),
    and its ORDER lines with the live ones;
  * numpy: shoal.archive.open(dir).read_records(id, dtype) loads the quotes
    (32-byte messages, zero copy from the mapped segments), timed over a few
    runs, with the sequence and content checks.

    python3 examples/python/analytics.py --build build/release [-n quotes] [--keep-archive]
"""
from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

import shoal
import shoal.archive

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUOTE_STREAM, ORDER_STREAM = 1001, 1002
# shoal_example_order_t (examples/lua/messages.lua), 48 bytes, little-endian
ORDER = np.dtype([("id", "<i8"), ("quote_seq", "<i8"), ("ts_ns", "<i8"), ("price", "<f8"), ("qty", "<i4"),
                  ("side", "i1"), ("pad", "i1", 3), ("symbol", "S8")])
assert ORDER.itemsize == 48
# basic_publisher -l 32: an 8-byte little-endian sequence number, then byte i = (seq + i) & 0xFF
QUOTE32 = np.dtype([("seq", "<u8"), ("body", "u1", 24)])
# the fields of an order that a backtest must reproduce (ts_ns is the clock of each run)
ORDER_FIELDS = ["id", "quote_seq", "price", "qty", "side", "symbol"]


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


def wait_for_output(proc: subprocess.Popen, text: str, timeout: float) -> bool:
    """Waits until the child printed text (or exited)."""
    f = proc.output_file  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        f.seek(0)
        if text in f.read():
            f.seek(0, os.SEEK_END)
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    return False


def wait_recording(arc: shoal.Archive, stream_id: int, length: int, timeout: float):
    """Waits until the archive wrote length bytes of the recording of stream_id; its descriptor."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        recs = [d for d in arc.recordings() if d.stream_id == stream_id]
        if recs and arc.recording_position(recs[-1].recording_id) - recs[-1].start_position >= length:
            return recs[-1]
        time.sleep(0.01)
    return None


def read_messages(path: str) -> list:
    """The messages shoal-lua --capture wrote: a little-endian uint32 length, then the bytes, each."""
    with open(path, "rb") as f:
        data = f.read()
    out, at = [], 0
    while at < len(data):
        (n,) = struct.unpack_from("<I", data, at)
        out.append(data[at + 4:at + 4 + n])
        at += 4 + n
    return out


def backtest(archive_dir: str, recording_id: int, quotes: int, live_orders, live_lines: list, env: dict) -> bool:
    """Runs strategy.lua over the recording; True when its orders equal the live run's."""
    capture = tempfile.mkdtemp(prefix="shoal-backtest-")
    try:
        cmd = [os.path.join(ROOT, "bindings", "lua", "shoal-lua"), "--replay", "%s:%d" % (archive_dir, recording_id),
               "--capture", capture, os.path.join(ROOT, "examples", "lua", "strategy.lua"), "20", "80", str(quotes)]
        print("\n[backtest]      shoal-lua --replay ARCHIVE:%d --capture DIR examples/lua/strategy.lua 20 80 %d"
              % (recording_id, quotes))
        start = time.perf_counter()
        run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        elapsed = time.perf_counter() - start
        lines = [l for l in run.stdout.splitlines() if l.startswith("ORDER ")]
        for l in run.stdout.splitlines():
            if l.startswith("strategy:") and "latency" not in l:
                print("[backtest]      " + l)
        for l in run.stderr.splitlines():
            if "replay of recording" in l or "loop ended" in l:
                print("[backtest]      " + l.replace("[shoal-lua] ", ""))
        if run.returncode != 0:
            print("[backtest]      FAILED: exit %d\n%s%s" % (run.returncode, run.stdout, run.stderr))
            return False
        msgs = read_messages(os.path.join(capture, "orders.msgs"))
        bad = [m for m in msgs if len(m) != ORDER.itemsize]
        if bad:
            print("[backtest]      FAILED: %d orders are not %d bytes" % (len(bad), ORDER.itemsize))
            return False
        orders = np.frombuffer(b"".join(msgs), dtype=ORDER)
        same_orders = len(orders) == len(live_orders) and all(
            np.array_equal(orders[f], live_orders[f]) for f in ORDER_FIELDS)
        same_lines = lines == live_lines
        print("[backtest]      %d orders in %.2f s (wall, process included); live run: %d orders"
              % (len(orders), elapsed, len(live_orders)))
        for i in range(min(3, len(orders))):
            o, l = orders[i], live_orders[i]
            print("[backtest]        #%d %s %d @ %.2f quote %d   live: #%d %s %d @ %.2f quote %d"
                  % (o["id"], "BUY " if o["side"] > 0 else "SELL", o["qty"], o["price"], o["quote_seq"],
                     l["id"], "BUY " if l["side"] > 0 else "SELL", l["qty"], l["price"], l["quote_seq"]))
        print("[backtest]      orders equal to the live run's (%s): %s"
              % (", ".join(ORDER_FIELDS), "YES" if same_orders else "NO"))
        print("[backtest]      ORDER lines equal to the live run's (%d lines, MA values included): %s"
              % (len(lines), "YES" if same_lines else "NO"))
        if not same_orders:
            n = min(len(orders), len(live_orders))
            diff = [i for i in range(n) if any(orders[i][f] != live_orders[i][f] for f in ORDER_FIELDS)]
            print("[backtest]      first differing order index: %s" % (diff[:1] or "none in the common %d" % n))
        return same_orders and same_lines
    finally:
        shutil.rmtree(capture, ignore_errors=True)


def load_numpy(archive_dir: str, recording_id: int, quotes: int, runs: int = 6) -> bool:
    """Loads the recorded quotes with read_records, timed; True when they are the feed's."""
    with shoal.archive.open(archive_dir) as rd:
        d = rd.describe(recording_id)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            q = rd.read_records(recording_id, QUOTE32)
            times.append(time.perf_counter() - start)
        zero_copy = not q.flags.writeable and type(q.base).__name__ == "_RecordingMap"
        first, times = times[0], times[1:]   # the first read maps the segments; the reader keeps them mapped
        t = sorted(times)[len(times) // 2]
        seq_ok = len(q) == quotes and np.array_equal(q["seq"], np.arange(quotes, dtype=np.uint64))
        seq = q["seq"].astype(np.int64)
        body_ok = bool(np.array_equal(q["body"], ((seq[:, None] + np.arange(8, 32)[None, :]) & 0xFF).astype(np.uint8)))
        span = (d.stop_timestamp_ns - d.start_timestamp_ns) / 1e9
        print("\n[numpy]         recording %d: %s stream %d, positions %d..%d (%.1f MB), recorded over %.2f s"
              % (d.recording_id, d.channel, d.stream_id, d.start_position, d.stop_position,
                 (d.stop_position - d.start_position) / 1e6, span))
        print("[numpy]         read_records(%d, [seq u8, body u1 x24]): %d records, %s"
              % (d.recording_id, len(q), "zero copy (a strided view of the mapped segments)" if zero_copy
                 else "one copy"))
        print("[numpy]           first read (maps the segment files): %.2f ms = %.1f M records/s"
              % (first * 1e3, len(q) / first / 1e6))
        print("[numpy]           then median %.2f ms over %d reads (min %.2f, max %.2f; every frame header checked "
              "each time) = %.1f M records/s" % (t * 1e3, len(times), min(times) * 1e3, max(times) * 1e3,
                                                 len(q) / t / 1e6))
        print("[numpy]         seq 0..%d without a gap: %s; every body byte == (seq + i) & 0xFF: %s"
              % (quotes - 1, "yes" if seq_ok else "NO", "yes" if body_ok else "NO"))
        return seq_ok and body_ok


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"),
                    help="CMake build directory holding basic_publisher and libshoal.so.0")
    ap.add_argument("-n", "--quotes", type=int, default=200_000, help="quotes the C feed publishes")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--keep-archive", action="store_true", help="keep the archive directory (its path is printed)")
    args = ap.parse_args(argv)

    publisher = os.path.join(args.build, "basic_publisher")
    lib = os.path.join(args.build, "libshoal.so.0")
    for f in (publisher, lib):
        if not os.path.exists(f):
            sys.stderr.write("analytics: %s is missing (build it: cmake --build %s)\n" % (f, args.build))
            return 2

    directory = "/dev/shm/shoal-pipeline-%d" % os.getpid()
    archive_dir = tempfile.mkdtemp(prefix="shoal-demo-archive-")
    env = dict(os.environ, SHOAL_LIB=lib)
    print("pipeline: C feed -> Lua strategy -> Python analytics, driver and archive server embedded in Python (%s)"
          % directory)
    print("  archive:      %s (quote stream %d recorded)" % (archive_dir, QUOTE_STREAM))
    recording = None
    with shoal.Context(dir=directory, dir_delete_on_shutdown=True) as ctx, shoal.Driver(ctx), \
            shoal.Client(ctx) as client, client.add_subscription("aeron:ipc", ORDER_STREAM) as orders_sub, \
            shoal.ArchiveServer(ctx, archive_dir), shoal.Archive(client) as arc:
        strategy = child("lua strategy", [os.path.join(ROOT, "bindings", "lua", "shoal-lua"), "--dir", directory,
                                          os.path.join(ROOT, "examples", "lua", "strategy.lua"),
                                          "20", "80", str(args.quotes)], env)
        # The strategy subscribed once it says hello (on_start); the recording
        # subscribes now. The feed's publication then links both at its first message.
        if not wait_for_output(strategy, "strategy: MA cross", 30.0):
            strategy.kill()
            strategy.wait()
            print("analytics: the strategy did not start:\n" + output_of(strategy))
            shutil.rmtree(archive_dir, ignore_errors=True)
            return 1
        recording_sub = arc.start_recording("aeron:ipc", QUOTE_STREAM)
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
        # 32-byte messages are 64-byte frames: the recording is complete at quotes * 64 bytes
        recording = wait_recording(arc, QUOTE_STREAM, args.quotes * 64, 30.0)
        arc.stop_recording(recording_sub)

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
    if recording is None:
        print("\n[archive] FAILED: the recording of stream %d did not reach %d bytes" % (QUOTE_STREAM, args.quotes * 64))
        ok = False
    else:
        ok = backtest(archive_dir, recording.recording_id, args.quotes, orders, order_lines, env) and ok
        ok = load_numpy(archive_dir, recording.recording_id, args.quotes) and ok
    if args.keep_archive:
        print("\narchive kept in %s" % archive_dir)
    else:
        shutil.rmtree(archive_dir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
