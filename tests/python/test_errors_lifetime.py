"""Bad input gives typed exceptions; closed handles raise ClosedError; nothing crashes."""
import gc

import numpy as np
import pytest

import shoal
from conftest import URI, drain


def test_exception_hierarchy():
    for exc in (shoal.NotConnected, shoal.BackPressured, shoal.AdminAction, shoal.MaxPositionExceeded):
        assert issubclass(exc, shoal.OfferError)
    for exc in (shoal.OfferError, shoal.ClosedError, shoal.InvalidArgument, shoal.DriverError,
                shoal.TimeoutError, shoal.InvalidStateError, shoal.OutOfMemory, shoal.ShoalIOError):
        assert issubclass(exc, shoal.ShoalError)
    assert issubclass(shoal.UriError, shoal.InvalidArgument) and issubclass(shoal.InvalidArgument, ValueError)
    assert issubclass(shoal.TimeoutError, TimeoutError)
    assert issubclass(shoal.NoDriverError, shoal.DriverError)
    assert issubclass(shoal.DriverActiveError, shoal.DriverError)
    assert issubclass(shoal.ShoalIOError, OSError) and issubclass(shoal.OutOfMemory, MemoryError)
    assert shoal.BackPressured.__module__ == "shoal"


@pytest.mark.parametrize("uri,key", [
    ("aeron:ipc?bogus=1", "bogus"),
    ("aeron:ipc?term-length=12345", "term-length"),
    ("aeron:ipc?term-length=64k|term-length=64k", "term-length"),
    ("aeron:ipc?mtu=abc", "mtu"),
    ("aeron:ipc?endpoint=localhost:4000", "endpoint"),
    ("aeron:ipc?session-id=", "session-id"),
])
def test_bad_uri_names_the_key(client, uri, key):
    for add in (client.add_publication, client.add_subscription):
        with pytest.raises(shoal.UriError) as info:
            add(uri, 1)
        assert info.value.key == key
        assert key in str(info.value).split(" in channel URI")[0]
        assert info.value.code == shoal.EURI


@pytest.mark.parametrize("uri", ["", "ipc", "aeron:", "aeron:tcp", "aeron:ipc?", "aeron:ipc\x00x"])
def test_malformed_uri(client, uri):
    with pytest.raises(shoal.UriError):
        client.add_publication(uri, 1)


def test_wrong_types(client, pubsub):
    pub, sub = pubsub
    with pytest.raises(TypeError):
        client.add_publication(b"aeron:ipc", 1)
    with pytest.raises(TypeError):
        client.add_publication(None, 1)
    with pytest.raises(TypeError):
        client.add_publication(URI, "1")
    with pytest.raises(TypeError):
        client.add_subscription(URI, 1.5)
    with pytest.raises(shoal.InvalidArgument):
        client.add_subscription(URI, 2 ** 31)
    for bad in ("text", 123, None, [1, 2], object()):
        with pytest.raises(TypeError):
            pub.offer(bad)
        with pytest.raises(TypeError):
            pub.offer_nowait(bad)
    with pytest.raises(TypeError):
        pub.offer()
    with pytest.raises(TypeError):
        pub.offer(b"x", 1.0, 2)
    with pytest.raises(TypeError):
        pub.offer(b"x", nonsense=1)
    with pytest.raises(TypeError):
        pub.offer(b"x", timeout="soon")
    with pytest.raises(shoal.InvalidArgument):
        pub.offer(b"x", timeout=-1)
    with pytest.raises(shoal.InvalidArgument):
        pub.offer(np.arange(10)[::2])  # not contiguous
    with pytest.raises(TypeError):
        pub.offerv(b"not a list of buffers")
    with pytest.raises(shoal.InvalidArgument):
        pub.offerv([])
    with pytest.raises(TypeError):
        pub.try_claim("10")
    with pytest.raises(shoal.InvalidArgument):
        pub.try_claim(-1)
    with pytest.raises(TypeError):
        sub.poll("not callable")
    with pytest.raises(shoal.InvalidArgument):
        sub.poll(lambda v, h: None, 0)
    with pytest.raises(shoal.InvalidArgument):
        sub.poll_batch(0)
    with pytest.raises(TypeError):
        sub.poll_into(b"read-only", 8)
    with pytest.raises(TypeError):
        shoal.Driver("not a context")
    with pytest.raises(TypeError):
        shoal.Client(None)
    with pytest.raises(TypeError):
        shoal.Publication()
    with pytest.raises(TypeError):
        shoal.Subscription()


def test_bad_settings(shoal_dir):
    with pytest.raises(shoal.InvalidArgument, match="unknown setting 'NOPE'"):
        shoal.Context(shoal_dir, nope=1)
    with pytest.raises(shoal.InvalidArgument, match="IPC_TERM_LENGTH"):
        shoal.Context(shoal_dir, ipc_term_length=1000)
    with pytest.raises(TypeError):
        shoal.Context(shoal_dir, mtu=1.5)
    with pytest.raises(TypeError):
        shoal.Context(shoal_dir, dir=shoal_dir)
    with pytest.raises(shoal.InvalidArgument):
        shoal.Context("")


def test_no_driver(shoal_dir):
    with shoal.Context(dir=shoal_dir, driver_timeout_ms=200) as ctx:
        with pytest.raises(shoal.NoDriverError) as info:
            shoal.Client(ctx)
        assert info.value.code == shoal.ENODRIVER


def test_second_driver_on_same_dir(ctx, driver):
    with pytest.raises(shoal.DriverActiveError):
        shoal.Driver(ctx)


def _all_calls(pub, sub, claim_pub=True):
    calls = [
        lambda: pub.offer(b"x"), lambda: pub.offer(b"x", timeout=0.1), lambda: pub.offerv([b"x"]),
        lambda: pub.try_claim(4), lambda: pub.position, lambda: pub.position_limit, lambda: pub.session_id,
        lambda: pub.max_message_length, lambda: pub.max_payload_length, lambda: pub.wait_connected(0.01),
        lambda: sub.poll(lambda v, h: None), lambda: sub.poll_batch(), lambda: sub.controlled_poll(lambda v, h: None),
        lambda: sub.poll_records("u8"), lambda: sub.poll_into(bytearray(64), 8), lambda: sub.image_count,
        lambda: sub.wait_connected(0.01), lambda: sub.poll_batch(10, timeout=0.1),
    ]
    return calls


def test_use_after_close_raises(client):
    pub = client.add_publication(URI, 9)
    sub = client.add_subscription(URI, 9)
    pub.close()
    sub.close()
    pub.close()  # idempotent
    sub.close()
    for call in _all_calls(pub, sub):
        with pytest.raises(shoal.ClosedError):
            call()
    assert pub.offer_nowait(b"x") == shoal.CLOSED
    assert not pub.is_connected and pub.is_closed and not sub.is_connected and sub.is_closed
    assert pub.stream_id == 9 and sub.channel == URI and repr(pub) and repr(sub)


def test_client_close_closes_children(ctx, driver):
    client = shoal.Client(ctx)
    pub = client.add_publication(URI, 9)
    sub = client.add_subscription(URI, 9)
    client.close()
    client.close()
    assert client.is_closed and pub.is_closed and sub.is_closed
    for call in _all_calls(pub, sub):
        with pytest.raises(shoal.ClosedError):
            call()
    with pytest.raises(shoal.ClosedError):
        client.add_publication(URI, 1)
    with pytest.raises(shoal.ClosedError):
        client.client_id
    assert "closed" in repr(client)


def test_closed_context_and_driver(shoal_dir):
    ctx = shoal.Context(dir=shoal_dir, dir_delete_on_shutdown=True)
    drv = shoal.Driver(ctx)
    client = shoal.Client(ctx)
    with pytest.raises(shoal.InvalidStateError):
        ctx.close()  # the client still uses it: refused, and it stays open
    assert not ctx.closed
    with client.add_subscription(URI, 1) as sub, client.add_publication(URI, 1) as pub:
        assert pub.wait_connected(5)
        pub.offer(b"still works")
        assert drain(sub, 1)[0][0] == b"still works"
    client.close()
    ctx.close()  # the driver runs on its own copy of the settings
    assert ctx.closed
    with pytest.raises(shoal.ClosedError):
        ctx.dir
    with pytest.raises(shoal.ClosedError):
        ctx.set("mtu", 1408)
    with pytest.raises(shoal.ClosedError):
        shoal.Client(ctx)
    with shoal.Context(dir=shoal_dir) as ctx2, shoal.Client(ctx2) as client2:
        assert client2.client_id > 0  # the driver goes on after its context closed
    drv.close()
    drv.close()
    assert drv.closed and "closed" in repr(drv)
    with pytest.raises(shoal.ClosedError):
        drv.dir


def test_dropping_everything_without_close(shoal_dir):
    ctx = shoal.Context(dir=shoal_dir, dir_delete_on_shutdown=True)
    drv = shoal.Driver(ctx)
    client = shoal.Client(ctx)
    sub = client.add_subscription(URI, 1)
    pub = client.add_publication(URI, 1)
    assert pub.wait_connected(5)
    pub.offer(b"x")
    views = sub.poll_batch(10, timeout=1.0)
    del ctx, client, pub, sub
    gc.collect()
    with pytest.raises(ValueError):
        bytes(views[0][0])  # released when its subscription went away
    del drv, views
    gc.collect()


def test_close_subscription_inside_handler(pubsub):
    pub, sub = pubsub
    for _ in range(5):
        pub.offer(b"abc")
    seen = []

    def handler(view, header):
        seen.append(bytes(view))
        sub.close()  # deferred until the poll returns; later messages are not delivered
        assert bytes(view) == b"abc"  # still mapped

    assert sub.poll(handler, 10) == 1
    assert seen == [b"abc"] and sub.is_closed
    with pytest.raises(shoal.ClosedError):
        sub.poll(handler)


def test_close_client_inside_handler(client):
    sub = client.add_subscription(URI, 2)
    pub = client.add_publication(URI, 2)
    assert pub.wait_connected(5)
    pub.offer(b"abc")
    pub.offer(b"def")

    def handler(view, header):
        client.close()
        assert bytes(view) == b"abc"

    sub.poll(handler, 10, timeout=1.0)
    assert client.is_closed and pub.is_closed and sub.is_closed


def test_poll_reentry_refused(pubsub):
    pub, sub = pubsub
    pub.offer(b"a")
    pub.offer(b"b")
    errors = []

    def handler(view, header):
        try:
            sub.poll_batch(10)
        except shoal.InvalidStateError as e:
            errors.append(e)

    sub.poll(handler, 1, timeout=1.0)
    assert len(errors) == 1
    assert drain(sub, 1)[0][0] == b"b"


def test_handler_exception_propagates_and_rest_is_kept(pubsub):
    pub, sub = pubsub
    for i in range(5):
        pub.offer(bytes([i]))

    def handler(view, header):
        if view[0] == 1:
            raise KeyError("boom")

    with pytest.raises(KeyError):
        sub.poll(handler, 10, timeout=1.0)
    # message 1 was consumed (it raised); 2.. are delivered by the next poll
    assert [m[0] for m, _ in drain(sub, 3)] == [2, 3, 4]


def test_handler_view_released_after_call(pubsub):
    pub, sub = pubsub
    pub.offer(b"hello")
    kept = []
    sub.poll(lambda v, h: kept.append((v, h)), 10, timeout=1.0)
    view, header = kept[0]
    with pytest.raises(ValueError):
        bytes(view)
    assert header.position > 0  # headers are copies: safe to keep


def test_poll_batch_views_released_by_next_poll(pubsub):
    pub, sub = pubsub
    pub.offer(b"one")
    batch = sub.poll_batch(10, timeout=1.0)
    assert bytes(batch[0][0]) == b"one"
    sub.poll_batch(10)
    with pytest.raises(ValueError):
        bytes(batch[0][0])


def test_closed_after_driver_gone(shoal_dir):
    ctx = shoal.Context(dir=shoal_dir, dir_delete_on_shutdown=True, driver_timeout_ms=300)
    drv = shoal.Driver(ctx)
    client = shoal.Client(ctx)
    sub = client.add_subscription(URI, 1)
    pub = client.add_publication(URI, 1)
    assert pub.wait_connected(5)
    drv.close()
    import time
    deadline = time.monotonic() + 10
    while not client.is_closed and time.monotonic() < deadline:
        time.sleep(0.02)
    assert client.is_closed
    assert pub.offer_nowait(b"x") == shoal.CLOSED
    with pytest.raises(shoal.ClosedError):
        pub.offer(b"x")
    with pytest.raises(shoal.ClosedError):
        sub.poll_batch(10)
    with pytest.raises(shoal.ClosedError):
        client.add_publication(URI, 2)
    client.close()
    ctx.close()


def test_error_handler_reports_lost_driver(shoal_dir):
    import threading
    import time
    calls = []
    seen = threading.Event()

    def on_error(code, message):
        calls.append((code, message, threading.current_thread() is threading.main_thread()))
        seen.set()

    with pytest.raises(TypeError):
        shoal.Context(shoal_dir, error_handler=42)
    with shoal.Context(dir=shoal_dir, dir_delete_on_shutdown=True, driver_timeout_ms=300,
                       error_handler=on_error) as ctx:
        drv = shoal.Driver(ctx)
        with pytest.raises(shoal.InvalidStateError):
            ctx.set_error_handler(None)
        with shoal.Client(ctx) as client:
            drv.close()
            assert seen.wait(10), "no asynchronous error reported"
            assert client.is_closed
    code, message, on_main = calls[0]
    assert code == shoal.ETIMEDOUT and message and not on_main


def test_error_handler_exception_is_unraisable(shoal_dir):
    import sys
    import threading
    reported = threading.Event()
    old = sys.unraisablehook
    sys.unraisablehook = lambda u: reported.set()
    try:
        with shoal.Context(dir=shoal_dir, dir_delete_on_shutdown=True, driver_timeout_ms=300,
                           error_handler=lambda c, m: 1 / 0) as ctx:
            drv = shoal.Driver(ctx)
            with shoal.Client(ctx):
                drv.close()
                assert reported.wait(10)
    finally:
        sys.unraisablehook = old


def test_init_twice_is_refused(ctx, driver, client):
    # __init__ again on a running Driver or Client would leak the first one.
    with pytest.raises(shoal.InvalidStateError, match=r"Driver.__init__ called twice"):
        driver.__init__(ctx)
    with pytest.raises(shoal.InvalidStateError, match=r"Client.__init__ called twice"):
        client.__init__(ctx)
    assert client.add_subscription(URI, 9) is not None  # both still work
