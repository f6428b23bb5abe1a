"""``python -m shoal.demo``: an embedded driver, a publisher thread and a Python consumer.

Three runs over ``aeron:ipc`` with 32-byte messages, each printing the msgs/s measured
in this run:

1. ``poll_batch``: the consumer takes (view, header) pairs, no per-message callback;
2. ``poll``: the consumer's handler is called once per message;
3. ``numpy``: the analytics path -- every message is a 32-byte tick record
   (seq, price, qty, side), the consumer pulls thousands at a time into a structured
   numpy array with ``poll_records`` and computes the sequence check and a VWAP
   vectorised.

``--consume`` turns it into a consumer only, for a publisher running elsewhere (e.g.
the C ``basic_publisher -l 32`` against ``shoald``): it reads records of
``[('seq', '<u8'), ('payload', 'u1', 24)]`` and reports msgs/s and sequence gaps::

    python -m shoal.demo --consume -d /dev/shm/shoal-$USER -s 1001 -n 100000
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import Callable, Optional

import shoal

CHANNEL = "aeron:ipc?term-length=4m"
MSG_LENGTH = 32

try:
    import numpy as np
except ImportError:  # the demo's numpy run is skipped without numpy
    np = None  # type: ignore[assignment]


def tick_dtype():
    """The 32-byte record of the analytics run."""
    return np.dtype([("seq", "<u8"), ("price", "<f8"), ("qty", "<f8"), ("side", "<i4"), ("pad", "<i4")])


def _publisher(pub: shoal.Publication, payloads: Callable[[int, int], memoryview], count: int,
               stats: dict) -> None:
    """Offers count 32-byte messages as fast as the subscriber takes them."""
    back_pressured = 0
    chunk = 8192
    sent = 0
    offer = pub.offer_nowait
    while sent < count:
        n = min(chunk, count - sent)
        block = payloads(sent, n)
        for i in range(0, n * MSG_LENGTH, MSG_LENGTH):
            msg = block[i:i + MSG_LENGTH]
            while offer(msg) < 0:
                back_pressured += 1
                if pub.is_closed:
                    stats["error"] = "publication closed"
                    return
        sent += n
    stats["back_pressured"] = back_pressured


def _seq_payloads(start: int, n: int) -> memoryview:
    if np is not None:
        a = np.zeros((n, MSG_LENGTH // 8), dtype="<u8")
        a[:, 0] = np.arange(start, start + n, dtype="<u8")
        return memoryview(a.tobytes())
    out = bytearray(n * MSG_LENGTH)
    for i in range(n):
        out[i * MSG_LENGTH:i * MSG_LENGTH + 8] = (start + i).to_bytes(8, "little")
    return memoryview(bytes(out))


def _tick_payloads(start: int, n: int) -> memoryview:
    a = np.zeros(n, dtype=tick_dtype())
    seq = np.arange(start, start + n, dtype="<u8")
    a["seq"] = seq
    a["price"] = 100.0 + (seq % 100) * 0.01
    a["qty"] = 1.0 + (seq % 7)
    a["side"] = (seq % 2) * 2 - 1
    return memoryview(a.tobytes())


def _run(client: shoal.Client, stream: int, count: int, payloads, consume) -> tuple:
    with client.add_subscription(CHANNEL, stream) as sub, client.add_exclusive_publication(CHANNEL, stream) as pub:
        if not pub.wait_connected(timeout=5.0):
            raise shoal.NotConnected("subscriber did not connect")
        stats: dict = {}
        t = threading.Thread(target=_publisher, args=(pub, payloads, count, stats), daemon=True)
        start = time.perf_counter()
        t.start()
        result = consume(sub, count)
        elapsed = time.perf_counter() - start
        t.join()
        if "error" in stats:
            raise RuntimeError(stats["error"])
        return count / elapsed, result, stats.get("back_pressured", 0)


def _consume_batch(sub: shoal.Subscription, count: int) -> str:
    received = 0
    last = -1
    while received < count:
        batch = sub.poll_batch(256, timeout=1.0)
        if not batch:
            continue
        received += len(batch)
        last = int.from_bytes(batch[-1][0][:8], "little")
    return "last seq %d" % last


def _consume_poll(sub: shoal.Subscription, count: int) -> str:
    state = {"n": 0, "bytes": 0}

    def on_message(view: memoryview, header: shoal.Header) -> None:
        state["n"] += 1
        state["bytes"] += len(view)

    while state["n"] < count:
        sub.poll(on_message, 256, timeout=1.0)
    return "%d bytes" % state["bytes"]


def _consume_numpy(sub: shoal.Subscription, count: int) -> str:
    dt = tick_dtype()
    received = 0
    gaps = 0
    expected = 0
    notional = 0.0
    volume = 0.0
    while received < count:
        recs = sub.poll_records(dt, 4096, timeout=1.0)
        if len(recs) == 0:
            continue
        seq = recs["seq"]
        gaps += int(seq[0] != expected) + int(np.count_nonzero(np.diff(seq) != 1))
        expected = int(seq[-1]) + 1
        notional += float(np.dot(recs["price"], recs["qty"]))
        volume += float(recs["qty"].sum())
        received += len(recs)
    return "sequence gaps %d, VWAP %.4f over %.0f qty" % (gaps, notional / volume, volume)


def consume_external(ctx: shoal.Context, channel: str, stream: int, count: int, timeout: float) -> int:
    """Consumer only: records [('seq','<u8'), ('payload','u1',24)] from any publisher."""
    dt = np.dtype([("seq", "<u8"), ("payload", "u1", MSG_LENGTH - 8)])
    with shoal.Client(ctx) as client, client.add_subscription(channel, stream) as sub:
        print("consuming %s stream %d in %s (Ctrl-C stops)" % (channel, stream, ctx.dir))
        received = gaps = 0
        expected: Optional[int] = None
        start = None
        deadline = time.monotonic() + timeout
        while received < count and time.monotonic() < deadline:
            recs = sub.poll_records(dt, 4096, timeout=0.1)
            if len(recs) == 0:
                continue
            if start is None:
                start = time.perf_counter()
            seq = recs["seq"]
            if expected is not None:
                gaps += int(seq[0] != expected)
            gaps += int(np.count_nonzero(np.diff(seq) != 1))
            expected = int(seq[-1]) + 1
            received += len(recs)
        elapsed = time.perf_counter() - start if start else 0.0
        rate = received / elapsed if elapsed > 0 else 0.0
        print("received %d records, sequence gaps %d, %.0f msgs/s" % (received, gaps, rate))
        return 0 if received else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shoal.demo", description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--count", type=int, default=1_000_000, help="messages per run (default 1000000)")
    parser.add_argument("-d", "--dir", help="driver directory (default: a private one in /dev/shm)")
    parser.add_argument("--consume", action="store_true",
                        help="consumer only, for a publisher elsewhere (needs a running driver in --dir)")
    parser.add_argument("-c", "--channel", default="aeron:ipc", help="channel for --consume (default aeron:ipc)")
    parser.add_argument("-s", "--stream", type=int, default=1001, help="stream id for --consume (default 1001)")
    parser.add_argument("-t", "--timeout", type=float, default=60.0, help="--consume gives up after this many s")
    args = parser.parse_args(argv)

    if args.consume:
        if np is None:
            sys.stderr.write("shoal.demo --consume needs numpy (Debian: python3-numpy)\n")
            return 2
        with shoal.Context(dir=args.dir) as ctx:
            return consume_external(ctx, args.channel, args.stream, args.count, args.timeout)

    directory = args.dir or "/dev/shm/shoal-demo-py-%d" % os.getpid()
    print("shoal %s Python demo: embedded driver in %s, %d x %d-byte messages per run"
          % (shoal.version(), directory, args.count, MSG_LENGTH))
    with shoal.Context(dir=directory, dir_delete_on_shutdown=True) as ctx, shoal.Driver(ctx), \
            shoal.Client(ctx) as client:
        runs = [("poll_batch", _seq_payloads, _consume_batch), ("poll (callback)", _seq_payloads, _consume_poll)]
        if np is not None:
            runs.append(("numpy poll_records", _tick_payloads, _consume_numpy))
        for stream, (name, payloads, consume) in enumerate(runs, start=1001):
            rate, result, bp = _run(client, stream, args.count, payloads, consume)
            print("  %-20s %12.0f msgs/s   (%s; publisher back pressured %d times)" % (name, rate, result, bp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
