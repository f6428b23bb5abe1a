#!/usr/bin/env python3
"""Python-side benchmark of shoal, side by side with pyzmq, for 32-byte messages.

    .venv/bin/python bindings/python/bench.py [-n MESSAGES] [-r RUNS]

Every figure is measured in this run, `-r` times (default 5), reporting the median and
the spread (min..max and (max - min) / median). shoal and pyzmq runs are interleaved so
both see the same machine state.

shoal (embedded driver, aeron:ipc, exclusive publication, one Python thread unless said;
the single-thread rows time the operation on 4096-message chunks and untimed the other side):
  offer          pub.offer_nowait(msg)
  poll callback  sub.poll(handler, 256) until N messages were handed to handler(view, header)
  poll_batch     sub.poll_batch(256) until N (view, header) pairs were returned
  numpy batch    sub.poll_records(dtype, 4096) until N records were copied into numpy arrays
  end-to-end     a publisher thread offers N messages while the main thread poll_batch()es them

read_records (a second table; --records N, 0 skips it): an embedded archive server records
N 32-byte messages (64-byte frames) into a temporary archive directory, then, from the
page cache (each run after a warm-up), per run:
  read_records         reader.read_records(id, dtype) on an open reader: the records as a
                       read-only strided view of the mapped segment files (no copy); every
                       frame header is checked at each call, the mapping is the reader's
  read_records, new reader   shoal.archive.open(dir) then read_records: maps the files each run
  read_records + copy  read_records, then numpy.ascontiguousarray (one copy into a new array)
  numpy.fromfile       the peer: numpy.fromfile of the same segment files' bytes (read(2)
                       into a new array), records taken as the strided field of the frames

pyzmq (Debian python3-zmq), PUSH -> PULL over inproc://, HWM unlimited, same shapes:
  offer          push.send(msg)
  poll callback  handler(pull.recv(), None) N times
  poll_batch     pull.recv(NOBLOCK) into a list, 256 at a time
  numpy batch    pull.recv() then copied into a preallocated numpy array, 4096 at a time
  end-to-end     a sender thread and the main thread receiving
"""
import argparse
import glob
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

import numpy as np

# This file sits next to the source package bindings/python/shoal, which has no
# compiled extension: import the installed one instead.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]
import shoal  # noqa: E402
import shoal.archive  # noqa: E402

try:
    import zmq
except ImportError:  # pragma: no cover - the table then has no pyzmq column
    zmq = None

MSG_LENGTH = 32
CHANNEL = "aeron:ipc?term-length=2m"  # 6 MiB of log (paged in by the warm-up), window 1 MiB
DTYPE = np.dtype([("seq", "<u8"), ("a", "<f8"), ("b", "<f8"), ("c", "<u8")])
assert DTYPE.itemsize == MSG_LENGTH


CHUNK = 4096  # messages filled then drained at a time: 256 KiB of log, inside the window


class _Bench:
    """Times each operation chunk by chunk: before(k) and after(k) prepare and clear
    a chunk of k messages outside the clock, measure(k) runs inside it."""

    def _chunks(self):
        left = self.n
        while left > 0:
            k = min(CHUNK, left)
            left -= k
            yield k

    def _timed(self, measure, before, after=None):
        elapsed = 0.0
        for k in self._chunks():
            before(k)
            t = time.perf_counter()
            measure(k)
            elapsed += time.perf_counter() - t
            if after is not None:
                after(k)
        return elapsed

    def _timed_callback(self, deliver):
        """poll callback: times deliver(k, handler, count), which hands k messages to
        handler(data, header); the handler counts them in count[0], 0 at each chunk."""
        count = [0]

        def handler(data, header):
            count[0] += 1

        def measure(k):
            count[0] = 0
            deliver(k, handler, count)

        return self._timed(measure, self._fill)

    def _two_threads(self, send_all, receive_all):
        """end-to-end: one thread sends n messages while this one receives them."""
        t = time.perf_counter()
        th = threading.Thread(target=send_all)
        th.start()
        receive_all()
        th.join()
        return time.perf_counter() - t


class ShoalBench(_Bench):
    def __init__(self, n):
        self.n = n
        self.dir = "/dev/shm/shoal-pybench-%d" % os.getpid()
        self.ctx = shoal.Context(dir=self.dir, dir_delete_on_shutdown=True)
        self.driver = shoal.Driver(self.ctx)
        self.client = shoal.Client(self.ctx)
        self.sub = self.client.add_subscription(CHANNEL, 1)
        self.pub = self.client.add_exclusive_publication(CHANNEL, 1)
        if not self.pub.wait_connected(timeout=5):
            raise SystemExit("bench: publication did not connect")
        self.msg = bytes(MSG_LENGTH)

    def close(self):
        self.pub.close()
        self.sub.close()
        self.client.close()
        self.driver.close()
        self.ctx.close()

    def _room(self, k):
        """Waits until k messages fit in the window (the driver moves the limit each duty cycle)."""
        deadline = time.monotonic() + 5
        while self.pub.position_limit - self.pub.position < k * 64:
            if time.monotonic() > deadline:
                raise SystemExit("bench: publisher limit did not move")
            time.sleep(0.0001)

    def _offer(self, k, offer=None, msg=None):
        offer = offer or self.pub.offer_nowait
        msg = msg or self.msg
        for _ in range(k):
            while offer(msg) < 0:
                pass

    def _fill(self, k):
        self._room(k)
        self._offer(k)

    def _drain(self, k, poll_records=None):
        poll_records = poll_records or self.sub.poll_records
        got = 0
        while got < k:
            got += len(poll_records(DTYPE, 4096))

    def offer(self):
        offer, msg = self.pub.offer_nowait, self.msg
        return self._timed(lambda k: self._offer(k, offer, msg), self._room, self._drain)

    def poll_callback(self):
        def deliver(k, handler, count, poll=self.sub.poll):
            while count[0] < k:
                poll(handler, 256)

        return self._timed_callback(deliver)

    def poll_batch(self):
        def measure(k, poll_batch=self.sub.poll_batch):
            got = 0
            while got < k:
                got += len(poll_batch(256))

        return self._timed(measure, self._fill)

    def numpy_batch(self):
        poll_records = self.sub.poll_records
        return self._timed(lambda k: self._drain(k, poll_records), self._fill)

    def end_to_end(self):
        def receive_all(n=self.n, poll_batch=self.sub.poll_batch):
            got = 0
            while got < n:
                got += len(poll_batch(256))

        return self._two_threads(lambda: self._offer(self.n), receive_all)


class ZmqBench(_Bench):
    def __init__(self, n):
        self.n = n
        self.zctx = zmq.Context()
        self.push = self.zctx.socket(zmq.PUSH)
        self.pull = self.zctx.socket(zmq.PULL)
        for s in (self.push, self.pull):
            s.setsockopt(zmq.SNDHWM, 0)
            s.setsockopt(zmq.RCVHWM, 0)
            s.setsockopt(zmq.LINGER, 0)
        self.pull.bind("inproc://bench")
        self.push.connect("inproc://bench")
        self.msg = bytes(MSG_LENGTH)

    def close(self):
        self.push.close()
        self.pull.close()
        self.zctx.term()

    def _fill(self, k, send=None, msg=None):
        send = send or self.push.send
        msg = msg or self.msg
        for _ in range(k):
            send(msg)

    def _drain(self, k, recv=None):
        recv = recv or self.pull.recv
        for _ in range(k):
            recv()

    def _nothing(self, k):
        pass

    def offer(self):
        send, msg = self.push.send, self.msg
        return self._timed(lambda k: self._fill(k, send, msg), self._nothing, self._drain)

    def poll_callback(self):
        def deliver(k, handler, count, recv=self.pull.recv):
            for _ in range(k):
                handler(recv(), None)

        return self._timed_callback(deliver)

    def poll_batch(self):
        def measure(k, recv=self.pull.recv, again=zmq.Again, noblock=zmq.NOBLOCK):
            got = 0
            while got < k:
                batch = []
                try:
                    for _ in range(256):
                        batch.append(recv(noblock))
                except again:
                    pass
                got += len(batch)

        return self._timed(measure, self._fill)

    def numpy_batch(self):
        def measure(k, recv=self.pull.recv, frombuffer=np.frombuffer):
            out = np.empty(k, dtype=DTYPE)
            raw = out.view(np.uint8).reshape(k, MSG_LENGTH)
            for i in range(k):
                raw[i] = frombuffer(recv(), dtype=np.uint8)

        return self._timed(measure, self._fill)

    def end_to_end(self):
        recv = self.pull.recv
        return self._two_threads(lambda: self._fill(self.n), lambda: self._drain(self.n, recv))


class ReadRecordsBench:
    """read_records of a recording of n 32-byte messages, next to numpy.fromfile of its segment files."""

    def __init__(self, n):
        self.n = n
        self.dir = "/dev/shm/shoal-pybench-rec-%d" % os.getpid()
        self.archive_dir = tempfile.mkdtemp(prefix="shoal-bench-archive-")
        with shoal.Context(dir=self.dir, dir_delete_on_shutdown=True, ipc_term_length="16m",
                           archive_segment_length="256m") as ctx, shoal.Driver(ctx), shoal.Client(ctx) as client, \
                shoal.ArchiveServer(ctx, self.archive_dir), shoal.Archive(client) as arc:
            sub_id = arc.start_recording("aeron:ipc", 7)
            with client.add_exclusive_publication("aeron:ipc", 7) as pub:
                if not pub.wait_connected(timeout=5):
                    raise SystemExit("bench: the recording did not connect")
                rec = np.zeros(n, dtype=DTYPE)
                rec["seq"] = np.arange(n)
                raw = rec.view(np.uint8).reshape(n, MSG_LENGTH)
                offer = pub.offer_nowait
                for i in range(n):
                    while offer(raw[i]) < 0:
                        pass
                deadline = time.monotonic() + 60
                while True:
                    recs = arc.recordings()
                    if recs and arc.recording_position(recs[-1].recording_id) >= pub.position:
                        break
                    if time.monotonic() > deadline:
                        raise SystemExit("bench: the archive did not record everything")
                    time.sleep(0.01)
            arc.stop_recording(sub_id)
        self.reader = shoal.archive.open(self.archive_dir)
        (self.desc,) = self.reader.recordings()
        if self.desc.start_position != 0:
            raise SystemExit("bench: the fromfile peer expects a recording from position 0")
        self.rid = self.desc.recording_id
        self.segments = sorted(glob.glob(os.path.join(self.archive_dir, "%d-*.rec" % self.rid)),
                               key=lambda f: int(f.rsplit("-", 1)[1][:-4]))
        self.frame = np.dtype([("header", "V32"), ("record", DTYPE)])
        self.frames = (self.desc.stop_position - self.desc.start_position) // 64
        first = self.reader.read_records(self.rid, DTYPE)
        if len(first) != n or not np.array_equal(first["seq"], np.arange(n)):
            raise SystemExit("bench: read_records did not return the recorded messages")

    def close(self):
        self.reader.close()
        shutil.rmtree(self.archive_dir, ignore_errors=True)

    def read_records(self):
        t = time.perf_counter()
        r = self.reader.read_records(self.rid, DTYPE)
        return time.perf_counter() - t, r

    def read_records_new_reader(self):
        t = time.perf_counter()
        with shoal.archive.open(self.archive_dir) as reader:
            r = reader.read_records(self.rid, DTYPE)
        return time.perf_counter() - t, r

    def read_records_copy(self):
        t = time.perf_counter()
        r = np.ascontiguousarray(self.reader.read_records(self.rid, DTYPE))
        return time.perf_counter() - t, r

    def fromfile(self):
        t = time.perf_counter()
        parts = []
        left = self.frames
        for seg in self.segments:   # the recording starts at position 0: frames from each file's start
            count = min(left, os.path.getsize(seg) // 64)
            parts.append(np.fromfile(seg, dtype=self.frame, count=count)["record"])
            left -= count
            if left == 0:
                break
        r = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return time.perf_counter() - t, r


READ_OPERATIONS = [
    ("read_records", "read_records", "strided view of the mapped segments (the reader's mapping)"),
    ("read_records, new reader", "read_records_new_reader", "open the archive, map the segments, view"),
    ("read_records + copy", "read_records_copy", "numpy.ascontiguousarray of that view"),
    ("numpy.fromfile", "fromfile", "the same segment bytes read(2) into memory"),
]


def read_records_table(n, runs):
    bench = ReadRecordsBench(n)
    try:
        rates = {op: [] for op, _, _ in READ_OPERATIONS}
        for _, method, _ in READ_OPERATIONS:   # warm-up: the page cache and the allocator
            getattr(bench, method)()
        for _ in range(runs):
            for op, method, _ in READ_OPERATIONS:
                elapsed, r = getattr(bench, method)()
                if len(r) != n:
                    raise SystemExit("bench: %s returned %d records, not %d" % (op, len(r), n))
                rates[op].append(n / elapsed)
        print("\nread_records: %d records of %d bytes (%.0f MB of segments in %s), %d runs; median records/s "
              "(min..max, spread); goal >= 50M/s" % (n, MSG_LENGTH, bench.desc.stop_position / 1e6,
                                                     os.path.dirname(bench.archive_dir), runs))
        header = "%-25s | %-36s | %s" % ("operation", "records/s", "what")
        print(header)
        print("-" * (len(header) + 30))
        for op, _, what in READ_OPERATIONS:
            text, _ = summary(rates[op])
            print("%-25s | %-36s | %s" % (op, text, what))
    finally:
        bench.close()


OPERATIONS = [
    ("offer", "offer_nowait", "send"),
    ("poll callback", "poll(handler)", "recv + handler"),
    ("poll_batch", "poll_batch(256)", "recv(NOBLOCK) x256"),
    ("numpy batch", "poll_records(4096)", "recv -> numpy row"),
    ("end-to-end", "2 threads, poll_batch", "2 threads, recv"),
]


def fmt_rate(x):
    if x >= 999.5e3:
        return "%.2fM" % (x / 1e6)
    return "%.0fk" % (x / 1e3)


def summary(rates):
    med = statistics.median(rates)
    spread = (max(rates) - min(rates)) / med * 100 if med else 0.0
    return "%7s/s (%s..%s, %4.1f%%)" % (fmt_rate(med), fmt_rate(min(rates)), fmt_rate(max(rates)), spread), med


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--messages", type=int, default=100_000, help="messages per run (default 100000)")
    parser.add_argument("-r", "--runs", type=int, default=5, help="runs per cell (default 5)")
    parser.add_argument("--no-zmq", action="store_true", help="skip pyzmq")
    parser.add_argument("--records", type=int, default=2_000_000,
                        help="records of the read_records table (default 2000000; 0: skip it)")
    parser.add_argument("--only-records", action="store_true", help="only the read_records table")
    args = parser.parse_args(argv)
    if args.only_records:
        read_records_table(args.records, args.runs)
        return 0

    benches = {"shoal": ShoalBench(args.messages)}
    if zmq is not None and not args.no_zmq:
        benches["pyzmq"] = ZmqBench(args.messages)
    results = {name: {op: [] for op, _, _ in OPERATIONS} for name in benches}
    try:
        for name, bench in benches.items():  # warm-up: pages the whole log in, warms the caches
            for op, _, _ in OPERATIONS:
                getattr(bench, op.replace(" ", "_").replace("-", "_"))()
        for _ in range(args.runs):
            for op, _, _ in OPERATIONS:
                method = op.replace(" ", "_").replace("-", "_")
                for name, bench in benches.items():
                    elapsed = getattr(bench, method)()
                    results[name][op].append(args.messages / elapsed)
    finally:
        for bench in benches.values():
            bench.close()

    print("shoal %s Python bench: %d-byte messages, %d per run, %d runs; median msgs/s (min..max, spread)"
          % (shoal.version(), MSG_LENGTH, args.messages, args.runs))
    print("Python %s, %d CPUs%s" % (sys.version.split()[0], os.cpu_count() or 0,
                                    ", pyzmq %s / libzmq %s" % (zmq.__version__, zmq.zmq_version())
                                    if "pyzmq" in benches else ""))
    header = "%-14s | %-22s %-28s" % ("operation", "shoal call", "shoal (aeron:ipc)")
    if "pyzmq" in benches:
        header += " | %-19s %-28s | %s" % ("pyzmq call", "pyzmq (PUSH/PULL inproc)", "shoal/pyzmq")
    print(header)
    print("-" * len(header))
    for op, shoal_call, zmq_call in OPERATIONS:
        s_text, s_med = summary(results["shoal"][op])
        line = "%-14s | %-22s %-28s" % (op, shoal_call, s_text)
        if "pyzmq" in benches:
            z_text, z_med = summary(results["pyzmq"][op])
            line += " | %-19s %-28s | %5.1fx" % (zmq_call, z_text, s_med / z_med)
        print(line)
    if args.records > 0:
        read_records_table(args.records, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
