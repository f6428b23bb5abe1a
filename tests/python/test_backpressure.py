"""Back pressure: typed exceptions, the non-raising variant, waiting offers."""
import threading
import time

import pytest

import shoal
from conftest import drain

MSG = b"x" * 1000


def fill_until_back_pressured(pub, limit=1000):
    for i in range(limit):
        r = pub.offer_nowait(MSG)
        if r == shoal.BACK_PRESSURED:
            return i
        assert r > 0 or r == shoal.ADMIN_ACTION, shoal.result_name(r)
    raise AssertionError("never back pressured")


def test_back_pressured_raised_and_returned(pubsub):
    pub, sub = pubsub
    sent = fill_until_back_pressured(pub)
    assert 10 < sent < 200  # a 64 KiB term: the window is half a term or so
    with pytest.raises(shoal.BackPressured) as info:
        pub.offer(MSG)
    assert info.value.code == shoal.BACK_PRESSURED
    assert isinstance(info.value, shoal.OfferError) and isinstance(info.value, shoal.ShoalError)
    assert pub.offer_nowait(MSG) == shoal.BACK_PRESSURED
    with pytest.raises(shoal.BackPressured):
        with pub.try_claim(10):
            pass
    with pytest.raises(shoal.BackPressured, match="waiting"):
        pub.try_claim(10, timeout=0.05)
    t = time.monotonic()
    with pytest.raises(shoal.BackPressured, match="waiting"):
        pub.offer(MSG, timeout=0.1)
    assert 0.09 <= time.monotonic() - t < 2.0
    # Draining makes room again.
    drain(sub, sent)
    assert pub.offer(MSG, timeout=5.0) > 0  # the driver raises the limit on its next duty cycle


def test_offer_with_timeout_waits_for_consumer(pubsub):
    pub, sub = pubsub
    fill_until_back_pressured(pub)
    received = []
    stop = threading.Event()

    def consume():
        while not stop.is_set():
            for v, _ in sub.poll_batch(64, timeout=0.01):
                received.append(len(v))

    t = threading.Thread(target=consume)
    t.start()
    try:
        for _ in range(300):  # several windows' worth: needs the consumer thread to run
            pub.offer(MSG, timeout=5.0)
    finally:
        time.sleep(0.2)
        stop.set()
        t.join()
    assert len(received) >= 300


def test_not_connected_then_wait(client):
    from conftest import URI
    with client.add_publication(URI, 5) as pub:
        with pytest.raises(shoal.NotConnected):
            pub.offer(b"x")
        assert pub.offer_nowait(b"x") == shoal.NOT_CONNECTED

        def subscribe_later():
            time.sleep(0.1)
            return client.add_subscription(URI, 5)

        holder = []
        t = threading.Thread(target=lambda: holder.append(subscribe_later()))
        t.start()
        assert pub.offer(b"late", timeout=5.0) > 0  # waits (GIL released) until the subscriber joins
        t.join()
        assert drain(holder[0], 1)[0][0] == b"late"
        holder[0].close()


def test_not_connected_once_the_last_subscriber_closes(client):
    from conftest import URI
    sub = client.add_subscription(URI, 6)
    with client.add_publication(URI, 6) as pub:
        assert pub.wait_connected(timeout=5.0)
        assert pub.offer(b"before", timeout=5.0) > 0
        assert drain(sub, 1)[0][0] == b"before"
        sub.close()
        deadline = time.monotonic() + 5.0
        while pub.is_connected and time.monotonic() < deadline:
            time.sleep(0.001)
        assert not pub.is_connected
        # Nothing more is written for nobody: the very next offer is refused.
        assert pub.offer_nowait(b"after") == shoal.NOT_CONNECTED
        with pytest.raises(shoal.NotConnected):
            pub.offer(b"after")
        assert pub.position_limit <= pub.position
        again = client.add_subscription(URI, 6)
        assert pub.offer(b"again", timeout=5.0) > 0  # waits until the new subscriber joins
        assert drain(again, 1)[0][0] == b"again"
        again.close()


def test_raise_for_code_and_names():
    shoal.raise_for_code(64)
    for code, exc in [(shoal.NOT_CONNECTED, shoal.NotConnected), (shoal.BACK_PRESSURED, shoal.BackPressured),
                      (shoal.ADMIN_ACTION, shoal.AdminAction), (shoal.CLOSED, shoal.ClosedError),
                      (shoal.MAX_POSITION_EXCEEDED, shoal.MaxPositionExceeded)]:
        with pytest.raises(exc) as info:
            shoal.raise_for_code(code)
        assert info.value.code == code
        assert shoal.result_name(code) != "POSITION"
    assert shoal.result_name(10) == "POSITION"
    assert shoal.Closed is shoal.ClosedError
