"""Image handlers: Client.add_subscription(uri, stream_id, on_available=, on_unavailable=)."""
import gc
import socket
import sys
import threading
import time
import weakref

import pytest

import shoal
from conftest import URI, new_dir


class Recorder:
    """Collects (kind, image, thread name) events from the handler threads."""

    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def available(self, image):
        self._add("available", image)

    def unavailable(self, image):
        self._add("unavailable", image)

    def _add(self, kind, image):
        with self.cond:
            # Read everything now: the fields must be right while the handler runs.
            self.events.append((kind, image, dict(
                session_id=image.session_id, stream_id=image.stream_id, correlation_id=image.correlation_id,
                source_identity=image.source_identity, join_position=image.join_position,
                position=image.position, is_closed=image.is_closed), threading.current_thread().name))
            self.cond.notify_all()

    def wait(self, count, timeout=10.0):
        with self.cond:
            ok = self.cond.wait_for(lambda: len(self.events) >= count, timeout)
            assert ok, "waited %.0f s for %d image events, got %r" % (
                timeout, count, [(k, f) for k, _, f, _ in self.events])
            return list(self.events)


def test_ipc_available_then_unavailable_on_publication_close(client):
    rec = Recorder()
    sub = client.add_subscription(URI, 1001, on_available=rec.available, on_unavailable=rec.unavailable)
    pub = client.add_publication(URI, 1001)
    assert pub.wait_connected(timeout=5.0)
    kind, image, fields, thread = rec.wait(1)[0]
    assert kind == "available"
    assert isinstance(image, shoal.Image)
    assert fields["session_id"] == pub.session_id
    assert fields["stream_id"] == 1001
    assert fields["source_identity"] == "aeron:ipc"
    assert fields["correlation_id"] > 0
    assert fields["join_position"] == 0 and fields["position"] == 0
    assert fields["is_closed"] is False
    assert "session %d" % pub.session_id in repr(image)

    for i in range(3):
        pub.offer(b"x" * 10, timeout=5.0)
    got = 0
    deadline = time.monotonic() + 10
    while got < 3:
        assert time.monotonic() < deadline, "messages did not arrive (got %d of 3)" % got
        got += len(sub.poll_batch(16, timeout=0.05))
    assert image.position == pub.position  # live while the image is available

    pub.close()
    events = rec.wait(2)
    kind, image2, fields2, thread2 = events[1]
    assert kind == "unavailable"
    assert image2 is image, "on_unavailable gets the same Image object as on_available"
    assert fields2["is_closed"] is True
    assert fields2["session_id"] == fields["session_id"]
    assert fields2["correlation_id"] == fields["correlation_id"]
    assert fields2["position"] == image.position  # the last value stays after close
    assert image.is_closed
    assert len(events) == 2
    sub.close()
    assert len(rec.events) == 2, "no second unavailable for an image already gone"


def test_unavailable_on_subscription_close_runs_on_closing_thread(client):
    rec = Recorder()
    sub = client.add_subscription(URI, 1002, on_available=rec.available, on_unavailable=rec.unavailable)
    pub = client.add_publication(URI, 1002)
    assert pub.wait_connected(timeout=5.0)
    rec.wait(1)
    sub.close()  # the image is still there: on_unavailable runs before close returns
    assert [e[0] for e in rec.events] == ["available", "unavailable"]
    assert rec.events[1][3] == threading.current_thread().name
    assert rec.events[1][1].is_closed
    pub.close()


def test_unavailable_on_client_close(ctx, driver):
    rec = Recorder()
    with shoal.Client(ctx) as c:
        sub = c.add_subscription(URI, 1003, on_unavailable=rec.unavailable)  # one handler is enough
        pub = c.add_publication(URI, 1003)
        session_id = pub.session_id
        assert pub.wait_connected(timeout=5.0)
        deadline = time.monotonic() + 10
        while sub.image_count < 1:
            assert time.monotonic() < deadline, "subscription never saw the image"
            time.sleep(0.01)
    assert [e[0] for e in rec.events] == ["unavailable"]
    assert rec.events[0][2]["session_id"] == session_id


def test_handler_exceptions_do_not_crash(client, monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(u))
    rec = Recorder()

    def bad_available(image):
        rec.available(image)
        raise RuntimeError("boom in on_available")

    def bad_unavailable(image):
        rec.unavailable(image)
        raise ValueError("boom in on_unavailable")

    sub = client.add_subscription(URI, 1004, on_available=bad_available, on_unavailable=bad_unavailable)
    pub = client.add_publication(URI, 1004)
    assert pub.wait_connected(timeout=5.0)
    rec.wait(1)
    pub.close()
    rec.wait(2)
    # Both exceptions went to sys.unraisablehook; the client still works.
    deadline = time.monotonic() + 10
    while len(reported) < 2:
        assert time.monotonic() < deadline, "exceptions were not reported: %r" % reported
        time.sleep(0.01)
    assert {type(u.exc_value) for u in reported} == {RuntimeError, ValueError}
    pub2 = client.add_publication(URI, 1004)
    assert pub2.wait_connected(timeout=5.0)
    rec.wait(3)
    assert rec.events[2][0] == "available" and rec.events[2][2]["session_id"] == pub2.session_id
    pub2.offer(b"still alive", timeout=5.0)
    deadline = time.monotonic() + 10
    msgs = []
    while not msgs:
        assert time.monotonic() < deadline, "no message after the handler exceptions"
        msgs = [bytes(v) for v, _ in sub.poll_batch(4, timeout=0.05)]
    assert msgs == [b"still alive"]
    sub.close()
    pub2.close()


def test_handler_cannot_add_or_close(client, monkeypatch):
    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(u))
    errors = []
    done = threading.Event()
    holder = {}

    def on_available(image):
        for call in (lambda: client.add_publication(URI, 9), lambda: holder["sub"].close(), client.close):
            try:
                call()
            except shoal.InvalidStateError as e:
                errors.append(e)
            except KeyError:  # sub not yet returned by add_subscription
                errors.append(None)
        done.set()

    holder["sub"] = sub = client.add_subscription(URI, 1005, on_available=on_available)
    pub = client.add_publication(URI, 1005)
    assert pub.wait_connected(timeout=5.0)
    assert done.wait(10), "on_available was not called"
    assert len(errors) == 3 and all(isinstance(e, shoal.InvalidStateError) or e is None for e in errors)
    assert isinstance(errors[0], shoal.InvalidStateError)
    assert not client.is_closed
    assert reported == []
    sub.close()
    pub.close()


@pytest.mark.parametrize("kw", [dict(on_available=1), dict(on_unavailable="nope"),
                                dict(on_available=print, on_unavailable=3)])
def test_non_callable_handlers_raise_type_error(client, kw):
    with pytest.raises(TypeError, match="must be callable"):
        client.add_subscription(URI, 1006, **kw)
    # Nothing was added: a plain subscription still works on the same stream.
    client.add_subscription(URI, 1006, on_available=None, on_unavailable=None).close()


def test_bad_uri_with_handlers_keeps_nothing(client):
    calls = []
    with pytest.raises(shoal.UriError):
        client.add_subscription("aeron:ipc?bogus=1", 1007, on_available=calls.append)
    assert calls == []


def test_image_cannot_be_created_by_users():
    with pytest.raises(TypeError):
        shoal.Image()


def test_handlers_are_released_on_close(client):
    class Handler:
        def __call__(self, image):
            pass

    h = Handler()
    ref = weakref.ref(h)
    sub = client.add_subscription(URI, 1008, on_available=h, on_unavailable=h)
    del h
    gc.collect()
    assert ref() is not None, "the subscription keeps its handlers alive"
    sub.close()
    gc.collect()
    assert ref() is None, "close released the handlers"


def test_handler_referencing_its_subscription_is_released_by_client_close(ctx, driver):
    class Handler:
        def __call__(self, image):
            pass

    c = shoal.Client(ctx)
    h = Handler()
    h.sub = c.add_subscription(URI, 1009, on_available=h)  # a cycle: h -> sub -> its handlers -> h
    ref = weakref.ref(h)
    del h
    gc.collect()
    assert ref() is not None
    c.close()  # closes the subscription, which drops its handlers: the cycle is broken
    gc.collect()
    assert ref() is None


def _free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_udp_unicast_available_and_unavailable():
    """Publisher and subscriber on two drivers (two directories), as on two hosts."""
    dirs = [new_dir(), new_dir()]
    uri = "aeron:udp?endpoint=127.0.0.1:%d|term-length=64k" % _free_udp_port()
    rec = Recorder()
    with shoal.Context(dir=dirs[0], DIR_DELETE_ON_SHUTDOWN=1) as sctx, shoal.Driver(sctx), \
            shoal.Client(sctx) as sc, \
            shoal.Context(dir=dirs[1], DIR_DELETE_ON_SHUTDOWN=1) as pctx, shoal.Driver(pctx), \
            shoal.Client(pctx) as pc:
        sub = sc.add_subscription(uri, 2001, on_available=rec.available, on_unavailable=rec.unavailable)
        pub = pc.add_publication(uri, 2001)
        assert pub.wait_connected(timeout=10.0)
        kind, image, fields, _ = rec.wait(1)[0]
        assert kind == "available"
        assert fields["session_id"] == pub.session_id and fields["stream_id"] == 2001
        host, _, port = fields["source_identity"].rpartition(":")
        assert host == "127.0.0.1" and 0 < int(port) < 65536, fields["source_identity"]
        assert fields["is_closed"] is False
        pub.close()  # end of stream: the image goes away
        kind, image2, fields2, _ = rec.wait(2, timeout=20.0)[1]
        assert kind == "unavailable" and image2 is image and fields2["is_closed"] is True
        sub.close()
    assert len(rec.events) == 2
