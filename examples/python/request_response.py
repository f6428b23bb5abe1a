"""Request/response with shoal's helpers: a responder process and a requester,
with round-trip times (docs/response-channels.md).

    python examples/python/request_response.py [--kind ipc|udp] [-n 10000] [--size 32]

The parent hosts an embedded driver and the requester; a child process serves
(client.responder, echoing the payload). Over UDP the requests and responses go
through the driver's sender and receiver on 127.0.0.1 (response channels, as
Aeron's); over IPC through shared memory. Prints the median, p90 and p99 round
trip of `req.request(...)` in microseconds: one request at a time, Python on
both ends.
"""
import argparse
import multiprocessing
import os
import socket
import time

import shoal


def free_port() -> int:
    """A UDP port of 127.0.0.1 that nothing uses now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(directory, request_channel, response_channel, ready, stop):
    with shoal.Context(dir=directory) as ctx, shoal.Client(ctx) as client:
        rsp = client.responder(request_channel, 1, response_channel, 2, lambda view, header: view)
        ready.set()
        while not stop.is_set():
            rsp.poll(64, timeout=0.1)
        rsp.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kind", choices=["ipc", "udp"], default="ipc")
    ap.add_argument("-n", type=int, default=10000, help="requests to time")
    ap.add_argument("--size", type=int, default=32, help="payload bytes")
    args = ap.parse_args()
    if args.kind == "ipc":
        request_channel = response_channel = "aeron:ipc"
    else:
        request_channel = "aeron:udp?endpoint=127.0.0.1:%d" % free_port()
        response_channel = "aeron:udp?control=127.0.0.1:%d" % free_port()
    directory = "/dev/shm/shoal-rr-%d" % os.getpid()
    with shoal.Context(dir=directory, DIR_DELETE_ON_SHUTDOWN=1, TERM_LENGTH="1m", IPC_TERM_LENGTH="1m") as ctx, \
            shoal.Driver(ctx), shoal.Client(ctx) as client:
        mp = multiprocessing.get_context("spawn")
        ready, stop = mp.Event(), mp.Event()
        child = mp.Process(target=serve, args=(directory, request_channel, response_channel, ready, stop))
        child.start()
        try:
            ready.wait(10)
            with client.requester(request_channel, 1, response_channel, 2) as req:
                req.wait_connected(timeout=10)
                payload = b"x" * args.size
                for _ in range(min(1000, args.n)):  # warm-up
                    req.request(payload, timeout=5)
                rtts = []
                for _ in range(args.n):
                    t0 = time.perf_counter_ns()
                    answer = req.request(payload, timeout=5)
                    rtts.append(time.perf_counter_ns() - t0)
                    assert answer == payload
        finally:
            stop.set()
            child.join(10)
    rtts.sort()

    def pct(p):
        return rtts[min(len(rtts) - 1, int(p / 100.0 * len(rtts)))] / 1000.0

    print("python request/response over %s: %d requests of %d bytes, round trip median %.1f us, p90 %.1f us, "
          "p99 %.1f us (requester and responder: separate Python processes)"
          % (args.kind, args.n, args.size, pct(50), pct(90), pct(99)))


if __name__ == "__main__":
    main()
