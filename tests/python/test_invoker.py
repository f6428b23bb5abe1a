"""Client(ctx, invoker=True): no conductor thread, the client's work runs in do_work();
and the context's lifetime as the C library keeps it (closing it under a client fails)."""
import threading
import time

import pytest

import shoal
from conftest import URI


class Events:
    """(kind, session id, is_closed, thread) of every image event."""

    def __init__(self):
        self.seen = []

    def available(self, image):
        self.seen.append(("available", image.session_id, image.is_closed, threading.current_thread()))

    def unavailable(self, image):
        self.seen.append(("unavailable", image.session_id, image.is_closed, threading.current_thread()))


def do_work_until(client, done, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "do_work did not get there in %.0f s" % timeout
        assert client.do_work() >= 0
        time.sleep(0.001)


def test_image_handlers_run_only_in_do_work_on_the_calling_thread(ctx, driver):
    events = Events()
    me = threading.current_thread()
    with shoal.Client(ctx, invoker=True) as invoker, shoal.Client(ctx) as threaded:
        assert invoker.invoker and not threaded.invoker
        sub = invoker.add_subscription(URI, 2001, on_available=events.available, on_unavailable=events.unavailable)
        # Published by the threaded client: nothing runs the invoker client's duty but do_work.
        pub = threaded.add_publication(URI, 2001)
        session_id = pub.session_id
        assert pub.wait_connected(timeout=5.0)
        time.sleep(0.2)
        assert events.seen == [] and sub.image_count == 0

        assert invoker.do_work() >= 1
        assert events.seen == [("available", session_id, False, me)]
        assert sub.image_count == 1
        pub.offer(b"through an invoker client", timeout=5.0)
        got = []
        deadline = time.monotonic() + 5
        while not got:
            assert time.monotonic() < deadline
            got = sub.poll_batch(8, copy=True, timeout=0.05)
        assert got[0][0] == b"through an invoker client"

        pub.close()
        time.sleep(0.3)
        assert len(events.seen) == 1, "on_unavailable ran without do_work"
        do_work_until(invoker, lambda: len(events.seen) == 2)
        assert events.seen[1] == ("unavailable", session_id, True, me)
        sub.close()
        assert len(events.seen) == 2


def test_invoker_client_publishes_and_closes_its_images_on_the_closing_thread(ctx, driver):
    events = Events()
    with shoal.Client(ctx, invoker=True) as client:
        sub = client.add_subscription(URI, 2002, on_available=events.available, on_unavailable=events.unavailable)
        pub = client.add_publication(URI, 2002, exclusive=True)
        assert pub.wait_connected(timeout=5.0)
        for i in range(20):
            pub.offer(b"%02d" % i, timeout=5.0)
            client.do_work()
        got = []
        deadline = time.monotonic() + 5
        while len(got) < 20:
            assert time.monotonic() < deadline
            got += [bytes(v) for v, _ in sub.poll_batch(32, timeout=0.05)]
        assert got == [b"%02d" % i for i in range(20)]
        do_work_until(client, lambda: events.seen)
        sub.close()  # the image is still there: on_unavailable runs inside close, on this thread
        assert [e[0] for e in events.seen] == ["available", "unavailable"]
        assert events.seen[1][3] is threading.current_thread()
        pub.close()


def test_do_work_errors(ctx, driver):
    with shoal.Client(ctx) as threaded:
        with pytest.raises(shoal.InvalidStateError, match="own conductor thread"):
            threaded.do_work()
    with pytest.raises(shoal.ClosedError):
        threaded.do_work()
    with pytest.raises(shoal.ClosedError):
        threaded.invoker

    errors = []
    with shoal.Client(ctx, invoker=True) as client:

        def on_available(image):
            try:
                client.do_work()  # from inside do_work: the client would wait for itself
            except shoal.InvalidStateError as e:
                errors.append(e)

        sub = client.add_subscription(URI, 2003, on_available=on_available)
        pub = client.add_publication(URI, 2003)
        do_work_until(client, lambda: errors)
        assert len(errors) == 1 and errors[0].code == shoal.ESTATE
        sub.close()
        pub.close()


def test_keepalives_only_while_do_work_is_called(shoal_dir):
    with shoal.Context(dir=shoal_dir, dir_delete_on_shutdown=True, client_liveness_timeout_ms=300) as ctx, \
            shoal.Driver(ctx):
        with shoal.Client(ctx, invoker=True) as worked, shoal.Client(ctx, invoker=True) as idle:
            until = time.monotonic() + 1.5  # five liveness timeouts
            while time.monotonic() < until:
                assert worked.do_work() >= 0
                time.sleep(0.01)
            assert not worked.is_closed
            worked.add_publication(URI, 2004).close()
            with pytest.raises(shoal.ClosedError, match="timed this client out"):
                idle.do_work()
            assert idle.is_closed
            with pytest.raises(shoal.ClosedError):
                idle.add_publication(URI, 2004)


def test_clients_started_together_get_their_own_mode(ctx, driver):
    made = {}

    def connect(name, invoker):
        made[name] = shoal.Client(ctx, invoker=invoker)

    threads = [threading.Thread(target=connect, args=("c%d" % i, i % 2 == 0)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert {name: c.invoker for name, c in made.items()} == {"c%d" % i: i % 2 == 0 for i in range(6)}
    finally:
        for c in made.values():
            c.close()


def test_context_close_refused_while_a_client_uses_it(shoal_dir):
    ctx = shoal.Context(dir=shoal_dir, dir_delete_on_shutdown=True)
    drv = shoal.Driver(ctx)
    client = shoal.Client(ctx)
    with pytest.raises(shoal.InvalidStateError, match="still used by 1 client") as info:
        ctx.close()
    assert info.value.code == shoal.ESTATE
    assert not ctx.closed and ctx.dir == shoal_dir  # still open and usable
    with pytest.raises(shoal.InvalidStateError):
        ctx.set("mtu", 1408)  # read by the live driver and client
    client.close()
    ctx.close()  # no client left; the driver runs on its own copy of the settings
    assert ctx.closed
    with pytest.raises(shoal.ClosedError):
        shoal.Client(ctx)
    assert drv.dir == shoal_dir and shoal_dir in repr(drv)
    drv.close()
