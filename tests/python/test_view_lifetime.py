"""Views never crash the process: memory exported from a poll stays mapped as long as
something uses it; copying variants for what must outlive the poll.

The crash scenarios run in a subprocess, so a regression shows as a signal exit
(before the fix: SIGSEGV, exit 139) instead of killing pytest.
"""
import gc
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import shoal
from conftest import URI, drain

_PRELUDE = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    import shoal

    def wait(cond, what, timeout=10.0):
        deadline = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > deadline:
                raise SystemExit("timed out waiting for " + what)
            time.sleep(0.005)

    d = "/dev/shm/shoal-pytest-views-%d" % os.getpid()
    ctx = shoal.Context(dir=d, dir_delete_on_shutdown=True, publication_linger_ms=50,
                        ipc_term_length=65536)
    drv = shoal.Driver(ctx)
    client = shoal.Client(ctx)
""")

# The probe: numpy arrays made from poll_batch views, kept while the
# publication closes and the client's 50 ms linger passes many times over.
_NUMPY_PROBE = _PRELUDE + textwrap.dedent("""
    sub = client.add_subscription("aeron:ipc", 7)
    pub = client.add_publication("aeron:ipc", 7)
    assert pub.wait_connected(5)
    for i in range(10):
        pub.offer(bytes([i]) * 64)
    kept = []
    wait(lambda: len(kept) == 10 or kept.extend(np.frombuffer(v, np.uint8) for v, h in sub.poll_batch(256)),
         "messages")
    pub.close()
    wait(lambda: sub.poll_batch(1) == [] and sub.image_count == 0, "the image to go")
    sub.poll_batch(1)   # the poller moved on: the client may now free the image
    time.sleep(0.5)
    print("sum", sum(int(a.sum()) for a in kept))
    sub.close(); client.close()
    print("after close", sum(int(a.sum()) for a in kept))
""")

# A Python poll handler that sleeps past the linger while another image of the
# same poll goes away (its publication closed by the handler); the poll then
# goes on through the list it loaded. ORDER picks which image the poll visits
# first (each poll moves the round robin on by one).
_SLOW_HANDLER = _PRELUDE + textwrap.dedent("""
    sub = client.add_subscription("aeron:ipc", 8)
    slow = client.add_exclusive_publication("aeron:ipc", 8)
    wait(lambda: sub.image_count == 1, "first image")
    closing = client.add_exclusive_publication("aeron:ipc", 8)
    wait(lambda: sub.image_count == 2, "second image")
    assert closing.wait_connected(5)
    for _ in range(int(sys.argv[1])):
        sub.poll(lambda v, h: None, 1)   # nothing to read: only moves the round robin
    slow.offer(b"\\x5a" * 48)
    seen = []

    def handler(view, header):
        closing.close()
        wait(lambda: sub.image_count == 1, "the closed publication's image to go")
        time.sleep(0.5)                  # 10 x the linger
        seen.append((bytes(view), np.frombuffer(view, np.uint8)))

    wait(lambda: sub.poll(handler, 10) == 1, "the message")
    data, arr = seen[0]
    assert data == b"\\x5a" * 48, data
    sub.poll(lambda v, h: None, 10)
    time.sleep(0.2)
    assert int(arr.sum()) == 0x5a * 48
    print("ok")
""")


def _run(script, *args):
    return subprocess.run([sys.executable, "-P", "-c", script] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=120)


def test_numpy_arrays_from_views_outlive_image_and_client():
    r = _run(_NUMPY_PROBE)
    assert r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr[-2000:])
    assert "sum %d" % (64 * sum(range(10))) in r.stdout
    assert "after close %d" % (64 * sum(range(10))) in r.stdout


@pytest.mark.parametrize("order", [0, 1])
def test_handler_sleeping_past_linger_while_an_image_goes(order):
    r = _run(_SLOW_HANDLER, order)
    assert r.returncode == 0, "exit %d: %s" % (r.returncode, r.stderr[-2000:])
    assert r.stdout.strip().endswith("ok")


def _log_maps(shoal_dir):
    with open("/proc/self/maps") as f:
        return [line for line in f if shoal_dir in line and "cnc.dat" not in line]


def test_last_export_released_unmaps(client, shoal_dir):
    sub = client.add_subscription(URI, 1101)
    pub = client.add_exclusive_publication(URI, 1101)
    assert pub.wait_connected(5)
    pub.offer(b"\x07" * 40)
    view, _ = drain(sub, 1, copy=False)[0]
    arr = np.frombuffer(view, np.uint8)
    del view
    pub.close()
    deadline = time.monotonic() + 10
    while sub.image_count or len(_log_maps(shoal_dir)) != 1:
        assert time.monotonic() < deadline, _log_maps(shoal_dir)
        sub.poll_batch(1)
        time.sleep(0.01)
    # the image and the driver's mapping are gone: only the array holds the log
    assert int(arr.sum()) == 7 * 40
    del arr
    gc.collect()
    assert _log_maps(shoal_dir) == []


def test_slices_keep_the_log_mapped(pubsub):
    pub, sub = pubsub
    pub.offer(b"abcdef")
    view, _ = drain(sub, 1, copy=False)[0]
    part = view[1:4]
    sub.poll_batch(10)      # releases view itself, not the slice
    with pytest.raises(ValueError):
        bytes(view)
    assert bytes(part) == b"bcd"


def test_exporter_gives_nothing_but_the_views(pubsub):
    pub, sub = pubsub
    pub.offer(b"abc")
    view, _ = drain(sub, 1, copy=False)[0]
    with pytest.raises(BufferError):
        memoryview(view.obj)


def test_poll_batch_copy(pubsub):
    pub, sub = pubsub
    for i in range(5):
        pub.offer(bytes([i]) * (i + 1))
    got = []
    deadline = time.monotonic() + 5
    while len(got) < 5 and time.monotonic() < deadline:
        got += sub.poll_batch(256, timeout=0.05, copy=True)
    assert [type(b) for b, _ in got] == [bytes] * 5
    assert [b for b, _ in got] == [bytes([i]) * (i + 1) for i in range(5)]
    assert [h.position for _, h in got] == sorted(h.position for _, h in got)
    sub.poll_batch(10)
    assert got[4][0] == b"\x04" * 5   # copies: untouched by later polls


def test_reassembled_message_is_a_view_of_a_copy(pubsub):
    pub, sub = pubsub
    big = bytes(range(256)) * 24      # 6 KiB: fragmented at mtu 1408
    pub.offer(big, timeout=5)
    view, header = drain(sub, 1, copy=False)[0]
    arr = np.frombuffer(view, np.uint8)
    pub.offer(bytes(len(big)), timeout=5)
    drain(sub, 1)
    assert arr.tobytes() == big


def test_recv_into(pubsub):
    pub, sub = pubsub
    buf = bytearray(16)
    assert sub.recv_into(buf) is None
    pub.offer(b"hello")
    assert sub.recv_into(buf, timeout=5) == 5
    assert bytes(buf[:5]) == b"hello"
    pub.offer(b"x" * 40)
    pub.offer(b"after")
    with pytest.raises(shoal.MessageTooLarge) as e:
        sub.recv_into(buf, timeout=5)
    assert e.value.length == 40 and e.value.code == shoal.EMSGSIZE
    assert "not consumed" in str(e.value)
    big = np.zeros(64, np.uint8)
    assert sub.recv_into(big) == 40           # the message was kept for a bigger buffer
    assert big[:40].tobytes() == b"x" * 40
    assert sub.recv_into(memoryview(buf)) == 5
    assert bytes(buf[:5]) == b"after"
    with pytest.raises(TypeError):
        sub.recv_into(b"read-only")
    sub.close()
    with pytest.raises(shoal.ClosedError):
        sub.recv_into(buf)


def test_recv_into_fragmented(pubsub):
    pub, sub = pubsub
    big = os.urandom(5000)
    pub.offer(big, timeout=5)
    out = bytearray(8192)
    assert sub.recv_into(out, timeout=5) == 5000
    assert bytes(out[:5000]) == big
