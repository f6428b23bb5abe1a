"""Threads publishing and polling concurrently; a publisher in another process."""
import os
import signal
import struct
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import shoal
from conftest import URI, drain

REC = struct.Struct("<QQ")  # thread id, sequence


def test_multithreaded_publish(client):
    threads_n, per_thread = 4, 3000
    with client.add_subscription(URI, 21) as sub, client.add_publication(URI, 21) as pub:
        assert pub.wait_connected(5)
        errors = []

        def publish(tid):
            try:
                for seq in range(per_thread):
                    pub.offer(REC.pack(tid, seq), timeout=10.0)
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=publish, args=(t,)) for t in range(threads_n)]
        for t in threads:
            t.start()
        expected = {t: 0 for t in range(threads_n)}
        received = 0
        deadline = time.monotonic() + 30
        while received < threads_n * per_thread and time.monotonic() < deadline:
            for view, _ in sub.poll_batch(256, timeout=0.05):
                tid, seq = REC.unpack(view)
                assert seq == expected[tid], "thread %d: got %d, expected %d" % (tid, seq, expected[tid])
                expected[tid] += 1
                received += 1
        for t in threads:
            t.join()
        assert not errors
        assert received == threads_n * per_thread


def test_exclusive_publication_from_waiting_threads(client):
    """offer(timeout=) on an exclusive publication from two threads is serialised, not corrupted."""
    with client.add_subscription(URI, 22) as sub, client.add_exclusive_publication(URI, 22) as pub:
        assert pub.wait_connected(5)
        n = 2000

        def publish(tid):
            for seq in range(n):
                pub.offer(REC.pack(tid, seq), timeout=10.0)

        threads = [threading.Thread(target=publish, args=(t,)) for t in range(2)]
        for t in threads:
            t.start()
        got = [REC.unpack(m) for m, _ in drain(sub, 2 * n, timeout=30)]
        for t in threads:
            t.join()
        for tid in range(2):
            assert [s for t, s in got if t == tid] == list(range(n))


def test_close_from_another_thread_wakes_waiters(client):
    sub = client.add_subscription(URI, 23)
    pub = client.add_publication(URI, 23)
    assert pub.wait_connected(5)
    while pub.offer_nowait(b"x" * 1000) != shoal.BACK_PRESSURED:
        pass
    outcomes = {}

    def blocked_offer():
        try:
            pub.offer(b"y", timeout=30.0)
            outcomes["offer"] = "sent"
        except shoal.ClosedError:
            outcomes["offer"] = "closed"

    sub2 = client.add_subscription(URI, 24)

    def blocked_poll():
        try:
            sub2.poll_batch(10, timeout=30.0)
            outcomes["poll"] = "returned"
        except shoal.ClosedError:
            outcomes["poll"] = "closed"

    threads = [threading.Thread(target=blocked_offer), threading.Thread(target=blocked_poll)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    t0 = time.monotonic()
    pub.close()
    sub2.close()
    for t in threads:
        t.join(10)
    assert time.monotonic() - t0 < 5
    assert outcomes == {"offer": "closed", "poll": "closed"}
    sub.close()


def test_concurrent_publish_and_poll_threads(client):
    n = 20000
    with client.add_subscription(URI, 25) as sub, client.add_publication(URI, 25) as pub:
        assert pub.wait_connected(5)
        got = []

        def consume():
            while len(got) < n:
                got.extend(int.from_bytes(v, "little") for v, _ in sub.poll_batch(512, timeout=1.0))

        t = threading.Thread(target=consume)
        t.start()
        for i in range(n):
            pub.offer(i.to_bytes(4, "little"), timeout=10.0)
        t.join(30)
        assert got == list(range(n))


PUBLISHER = textwrap.dedent("""
    import sys, struct, shoal
    directory, count = sys.argv[1], int(sys.argv[2])
    with shoal.Context(dir=directory) as ctx, shoal.Client(ctx) as client:
        with client.add_publication("%s", 31) as pub:
            if not pub.wait_connected(timeout=10):
                sys.exit(3)
            for seq in range(count):
                pub.offer(struct.pack("<Q", seq) + b"p" * (seq %% 3000), timeout=10.0)
            print("sent", count, flush=True)
""" % URI)


def test_publisher_in_subprocess(client, tmp_path):
    script = tmp_path / "publisher.py"
    script.write_text(PUBLISHER)
    count = 5000
    with client.add_subscription(URI, 31) as sub:
        proc = subprocess.Popen([sys.executable, str(script), client.context.dir, str(count)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            received = 0
            deadline = time.monotonic() + 60
            while received < count and time.monotonic() < deadline:
                for view, header in sub.poll_batch(256, timeout=0.1):
                    seq = struct.unpack_from("<Q", view)[0]
                    assert seq == received
                    assert len(view) == 8 + seq % 3000
                    received += 1
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 0, err
        assert out.strip() == "sent %d" % count
        assert received == count


def test_killed_publisher_process_does_not_hurt(shoal_dir, tmp_path):
    script = tmp_path / "publisher.py"
    script.write_text(PUBLISHER)
    # Killed mid-offer, the publisher may leave an uncommitted frame: the driver pads it after the
    # unblock timeout, then drops the image after the linger time. Keep both short.
    with shoal.Context(dir=shoal_dir, dir_delete_on_shutdown=True, client_liveness_timeout_ms=500,
                       publication_unblock_timeout_ms=500, publication_linger_ms=500) as ctx, \
            shoal.Driver(ctx), shoal.Client(ctx) as client, client.add_subscription(URI, 31) as sub:
        proc = subprocess.Popen([sys.executable, str(script), shoal_dir, "100000000"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert sub.wait_connected(timeout=20)
            assert len(drain(sub, 100, timeout=20)) >= 100
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        # The driver times the dead client out and the image goes away; polling stays safe.
        deadline = time.monotonic() + 20
        while sub.is_connected and time.monotonic() < deadline:
            sub.poll_batch(256, timeout=0.01)
        assert not sub.is_connected
        sub.poll_batch(256)


def test_gil_released_while_waiting(pubsub):
    """A thread waiting in poll_batch/offer(timeout=) lets the others run Python code."""
    pub, sub = pubsub
    done = threading.Event()

    def wait_in_poll():
        sub.poll_batch(10, timeout=0.5)
        done.set()

    t = threading.Thread(target=wait_in_poll)
    t.start()
    spins = 0
    while not done.is_set():
        spins += 1
    t.join()
    assert spins > 100000  # the main thread kept running while the other waited


SIGINT_SCRIPT = textwrap.dedent("""
    import faulthandler, os, signal, sys, time, shoal
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # where it is, should it ever hang
    # A process started with SIGINT ignored (a background job of a
    # non-interactive shell, as CI runners start us) keeps ignoring it, and
    # Python then installs no KeyboardInterrupt handler: give it the handler
    # a terminal user has, which is what this test is about.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    directory = sys.argv[1]
    with shoal.Context(dir=directory, dir_delete_on_shutdown=True) as ctx, shoal.Driver(ctx), \\
            shoal.Client(ctx) as client, client.add_subscription("%s", 1) as sub, \\
            client.add_publication("%s", 1) as pub:
        assert pub.wait_connected(5)
        while pub.offer_nowait(b"x" * 1000) != shoal.BACK_PRESSURED:
            pass
        print("waiting", flush=True)
        t = time.monotonic()
        try:
            pub.offer(b"x", timeout=60)
        except KeyboardInterrupt:
            print("interrupted after %%.1f s" %% (time.monotonic() - t), flush=True)
""" % (URI, URI))


def test_ctrl_c_interrupts_a_waiting_offer(tmp_path, shoal_dir):
    script = tmp_path / "sigint.py"
    script.write_text(SIGINT_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), shoal_dir], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "waiting"
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            # Show the Python stacks of every thread before failing.
            proc.send_signal(signal.SIGUSR1)
            time.sleep(1)
            proc.kill()
            out, err = proc.communicate()
            pytest.fail("no exit 20 s after SIGINT; stdout %r; stacks:\n%s" % (out, err))
    finally:
        if proc.poll() is None:
            proc.kill()
    assert out.startswith("interrupted after") and proc.returncode == 0
    assert float(out.split()[2]) < 5
