"""Round trips through the hand-written extension."""
import array
import os
import subprocess
import sys

import numpy as np
import pytest

import shoal
from conftest import URI, drain


def test_import_from_any_directory():
    out = subprocess.run([sys.executable, "-c", "import shoal, shoal._swig, os; print(shoal.__file__)"],
                         cwd="/", capture_output=True, text=True, check=True).stdout
    assert "site-packages" in out or "dist-packages" in out


def test_version():
    assert shoal.version() == shoal.__version__
    major, minor, patch = (int(x) for x in shoal.version().split("."))
    assert shoal.VERSION_NUMBER == (major << 16 | minor << 8 | patch)


def test_round_trip_bytes(pubsub):
    pub, sub = pubsub
    positions = [pub.offer(b"message %d" % i) for i in range(100)]
    assert positions == sorted(positions) and positions[0] > 0
    got = drain(sub, 100)
    assert [m for m, _ in got] == [b"message %d" % i for i in range(100)]
    assert [h.position for _, h in got] == positions
    h = got[0][1]
    assert h.stream_id == 1001 and h.session_id == pub.session_id
    assert h.flags & shoal.FLAG_BEGIN and h.flags & shoal.FLAG_END
    assert h.frame_length == 32 + len(b"message 0")
    assert "Header(" in repr(h)


@pytest.mark.parametrize("make", [
    lambda b: bytearray(b),
    lambda b: memoryview(b),
    lambda b: memoryview(b"xx" + b)[2:],
    lambda b: array.array("B", b),
    lambda b: np.frombuffer(b, dtype=np.uint8),
    lambda b: np.frombuffer(b, dtype=np.uint32).reshape(2, -1),
])
def test_offer_any_buffer(pubsub, make):
    pub, sub = pubsub
    payload = bytes(range(32))
    pub.offer(make(payload))
    assert drain(sub, 1)[0][0] == payload


def test_empty_message(pubsub):
    pub, sub = pubsub
    pub.offer(b"")
    assert drain(sub, 1)[0][0] == b""


def test_poll_callback(pubsub):
    pub, sub = pubsub
    for i in range(20):
        pub.offer(bytes([i]) * 10)
    seen = []

    def handler(view, header):
        assert isinstance(view, memoryview) and view.readonly
        seen.append((bytes(view), header.position))

    total = 0
    while total < 20:
        total += sub.poll(handler, 7, timeout=1.0)
    assert [m for m, _ in seen] == [bytes([i]) * 10 for i in range(20)]


def test_poll_limit(pubsub):
    pub, sub = pubsub
    for i in range(10):
        pub.offer(b"x")
    assert sub.poll(lambda v, h: None, 3) == 3
    assert len(sub.poll_batch(4)) == 4
    assert len(sub.poll_batch(100)) == 3
    assert sub.poll_batch(100) == []
    assert sub.poll(lambda v, h: None, 10) == 0


def test_poll_timeout_waits_and_returns(pubsub):
    import time
    pub, sub = pubsub
    t = time.monotonic()
    assert sub.poll_batch(10, timeout=0.1) == []
    assert sub.poll(lambda v, h: None, 10, timeout=0.1) == 0
    assert time.monotonic() - t >= 0.18


def test_exclusive_publication(client):
    with client.add_subscription(URI, 7) as sub, client.add_publication(URI, 7, exclusive=True) as pub:
        assert pub.exclusive
        assert pub.wait_connected(5)
        for i in range(50):
            pub.offer(b"%d" % i)
        assert [m for m, _ in drain(sub, 50)] == [b"%d" % i for i in range(50)]
    with client.add_exclusive_publication(URI, 8) as pub:
        assert pub.exclusive


def test_offerv_gathers(pubsub):
    pub, sub = pubsub
    pub.offerv([b"ab", bytearray(b"cd"), memoryview(b"ef"), np.array([0x67], dtype=np.uint8)])
    assert drain(sub, 1)[0][0] == b"abcdefg"


def test_two_subscriptions_see_everything(client):
    with client.add_subscription(URI, 3) as s1, client.add_subscription(URI, 3) as s2, \
            client.add_publication(URI, 3) as pub:
        assert pub.wait_connected(5)
        for i in range(30):
            pub.offer(b"%d" % i, timeout=2.0)
        assert [m for m, _ in drain(s1, 30)] == [m for m, _ in drain(s2, 30)]


def test_two_publications_one_subscription(client):
    with client.add_subscription(URI, 4) as sub, client.add_exclusive_publication(URI, 4) as p1, \
            client.add_exclusive_publication(URI, 4) as p2:
        assert p1.wait_connected(5) and p2.wait_connected(5)
        assert p1.session_id != p2.session_id
        import time
        deadline = time.monotonic() + 5
        while sub.image_count < 2 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert sub.image_count == 2
        for i in range(10):
            p1.offer(b"a%d" % i)
            p2.offer(b"b%d" % i)
        got = drain(sub, 20)
        by_session = {}
        for m, h in got:
            by_session.setdefault(h.session_id, []).append(m)
        assert by_session[p1.session_id] == [b"a%d" % i for i in range(10)]
        assert by_session[p2.session_id] == [b"b%d" % i for i in range(10)]


def test_controlled_poll_actions(pubsub):
    pub, sub = pubsub
    for i in range(5):
        pub.offer(bytes([i]))
    seen = []

    def abort_on_2(view, header):
        if view[0] == 2:
            return shoal.ACTION_ABORT
        seen.append(view[0])
        return None

    assert sub.controlled_poll(abort_on_2, 10) == 2
    assert seen == [0, 1]
    # Aborted: message 2 is delivered again. BREAK stops after consuming it.
    assert sub.controlled_poll(lambda v, h: (seen.append(v[0]), shoal.ACTION_BREAK)[1], 10) == 1
    assert sub.controlled_poll(lambda v, h: (seen.append(v[0]), shoal.ACTION_COMMIT)[1], 10) == 2
    assert seen == [0, 1, 2, 3, 4]
    pub.offer(b"x")
    with pytest.raises(shoal.InvalidArgument):
        sub.controlled_poll(lambda v, h: 99, 10, timeout=1.0)


def test_publication_properties(client):
    with client.add_publication(URI, 11) as pub:
        assert pub.stream_id == 11 and pub.channel == URI and pub.client is client
        assert not pub.is_connected  # no subscriber yet
        assert pub.max_payload_length == 1408 - 32
        assert pub.max_message_length == 64 * 1024 // 8
        assert pub.position == 0 and pub.position_limit >= 0
        assert not pub.is_closed and not pub.closed
        assert "stream 11" in repr(pub)
        with pytest.raises(shoal.NotConnected):
            pub.offer(b"nobody listens")
        assert pub.offer_nowait(b"nobody listens") == shoal.NOT_CONNECTED
        assert not pub.wait_connected(timeout=0.05)
    assert pub.is_closed and "closed" in repr(pub)


def test_subscription_properties(client):
    with client.add_subscription(URI, 12) as sub:
        assert sub.stream_id == 12 and sub.channel == URI and sub.client is client
        assert not sub.is_connected and sub.image_count == 0
        with client.add_publication(URI, 12):
            assert sub.wait_connected(5) and sub.image_count == 1
    assert sub.is_closed


def test_context_settings(shoal_dir):
    with shoal.Context(shoal_dir, ipc_term_length=65536, driver_timeout_ms=5000, idle_strategy="yield",
                       dir_delete_on_shutdown=True, SHOAL_MTU="4096") as ctx:
        assert ctx.dir == shoal_dir
        ctx.set("publication_unblock_timeout_ms", 2000)
        ctx.set("dir", shoal_dir + "/")
        assert ctx.dir == shoal_dir
        with shoal.Driver(ctx) as drv, shoal.Client(ctx) as client:
            assert shoal.Driver.is_active(shoal_dir)
            assert drv.dir == shoal_dir and drv.context is ctx and client.context is ctx
            assert client.client_id >= 0 and not client.is_closed
            with pytest.raises(shoal.InvalidStateError):
                ctx.set("mtu", 1408)  # read by a live driver
            # the default IPC term length applies when the URI has none
            with client.add_publication("aeron:ipc", 1) as pub:
                assert pub.max_message_length == 65536 // 8
        assert not shoal.Driver.is_active(shoal_dir, timeout=0.5)
    assert ctx.closed and "closed" in repr(ctx)


def test_context_env_and_default_dir(monkeypatch, shoal_dir):
    monkeypatch.setenv("SHOAL_DIR", shoal_dir)
    with shoal.Context() as ctx:
        assert ctx.dir == shoal_dir
    monkeypatch.setenv("SHOAL_MTU", "100")
    with pytest.raises(shoal.InvalidArgument, match="SHOAL_MTU"):
        shoal.Context()


def test_driver_cleans_directory(shoal_dir):
    with shoal.Context(dir=shoal_dir, dir_delete_on_shutdown=True) as ctx:
        with shoal.Driver(ctx):
            assert os.path.exists(os.path.join(shoal_dir, "cnc.dat"))
        assert not os.path.exists(shoal_dir)


def test_try_claim_round_trip(pubsub):
    pub, sub = pubsub
    with pub.try_claim(12) as buf:
        assert isinstance(buf, memoryview) and not buf.readonly and len(buf) == 12
        buf[:] = b"zero-copy!!!"
    assert drain(sub, 1)[0][0] == b"zero-copy!!!"
