"""The numpy path, and refcount / memory stability over many iterations."""
import gc
import sys
import tracemalloc

import numpy as np
import pytest

import shoal
from conftest import URI, drain

TICK = np.dtype([("seq", "<u8"), ("price", "<f8"), ("qty", "<f4"), ("side", "i1"), ("pad", "V11")])


def test_poll_records_structured(pubsub):
    pub, sub = pubsub
    assert TICK.itemsize == 32
    src = np.zeros(500, dtype=TICK)
    src["seq"] = np.arange(500)
    src["price"] = np.linspace(99, 101, 500)
    src["qty"] = 3
    src["side"] = 1
    for rec in src:
        pub.offer(rec.tobytes(), timeout=2.0)
    got = []
    while sum(map(len, got)) < 500:
        got.append(sub.poll_records(TICK, 128, timeout=1.0))
    assert all(len(g) <= 128 for g in got)
    out = np.concatenate(got)
    assert out.dtype == TICK
    assert np.array_equal(out["seq"], src["seq"]) and np.array_equal(out["price"], src["price"])
    assert len(sub.poll_records(TICK, 16)) == 0


def test_offer_numpy_records_in_one_go(pubsub):
    pub, sub = pubsub
    src = np.zeros(10, dtype=TICK)
    src["seq"] = np.arange(10)
    for i in range(10):
        pub.offer(src[i:i + 1])  # a one-record slice: contiguous, no copy
    out = sub.poll_records(TICK, 100, timeout=1.0)
    assert out["seq"].tolist() == list(range(10))


def test_poll_records_length_mismatch(pubsub):
    pub, sub = pubsub
    pub.offer(b"\x01" * 8)
    pub.offer(b"\x02" * 40)
    pub.offer(b"\x03" * 16)
    with pytest.raises(shoal.InvalidArgument) as info:
        sub.poll_records("V16", 10, timeout=1.0)
    recs = info.value.records
    assert len(recs) == 3
    assert bytes(recs[0]) == b"\x01" * 8 + b"\x00" * 8   # zero-padded
    assert bytes(recs[1]) == b"\x02" * 16                 # truncated
    assert bytes(recs[2]) == b"\x03" * 16
    pub.offer(b"\x04" * 4)
    out = sub.poll_records(np.dtype("<u8"), 10, timeout=1.0, strict=False)
    assert out.tolist() == [0x04040404]


def test_poll_into_buffer(pubsub):
    pub, sub = pubsub
    for i in range(10):
        pub.offer(i.to_bytes(8, "little"))
    buf = bytearray(8 * 4)
    n = sub.poll_into(buf, 8, timeout=1.0)
    assert n == 4 and np.frombuffer(buf, "<u8").tolist() == [0, 1, 2, 3]
    arr = np.zeros(100, dtype="<u8")
    assert sub.poll_into(arr, 8) == 6 and arr[:6].tolist() == list(range(4, 10))
    with pytest.raises(shoal.InvalidArgument):
        sub.poll_into(bytearray(4), 8)


def _steady(run, warmup=200, rounds=2000, max_growth=64 * 1024):
    """Runs `run` many times; asserts Python memory stops growing."""
    for _ in range(warmup):
        run()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(rounds):
            run()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after - before < max_growth, "grew %d bytes over %d rounds" % (after - before, rounds)


def test_no_leaks_hot_paths(pubsub):
    pub, sub = pubsub
    payload = b"p" * 32
    barr = bytearray(64)
    arr = np.zeros(4, dtype="<u8")
    handler_calls = [0]

    def handler(view, header):
        handler_calls[0] += 1

    refs = {name: sys.getrefcount(o) for name, o in
            [("payload", payload), ("barr", barr), ("arr", arr), ("handler", handler), ("pub", pub), ("sub", sub)]}

    def round_trip():
        # timeouts: the driver raises the publisher limit on its own duty cycle
        pub.offer(payload, timeout=5.0)
        while pub.offer_nowait(barr) < 0:
            pass
        pub.offer(arr, timeout=5.0)
        pub.offerv([payload, barr], timeout=5.0)
        with pub.try_claim(16, timeout=5.0) as buf:
            buf[:4] = b"abcd"
        sub.poll(handler, 2)
        for view, header in sub.poll_batch(2):
            bytes(view)
        sub.poll_records("V32", 1, strict=False)
        while sub.poll_batch(64):
            pass

    _steady(round_trip)
    after = {name: sys.getrefcount(o) for name, o in
             [("payload", payload), ("barr", barr), ("arr", arr), ("handler", handler), ("pub", pub), ("sub", sub)]}
    assert after == refs
    assert handler_calls[0] > 0


def test_no_leaks_error_paths(pubsub, client):
    pub, sub = pubsub

    def errors():
        with pytest.raises(shoal.UriError):
            client.add_publication("aeron:ipc?bogus=1", 1)
        with pytest.raises(TypeError):
            pub.offer("str")
        with pytest.raises(shoal.MessageTooLarge):
            pub.offer(b"x" * 9000)
        with pytest.raises(KeyError):
            pub.offer(b"x", timeout=5.0)
            sub.poll(lambda v, h: {}["missing"], 1, timeout=1.0)
        with pytest.raises(RuntimeError):
            with pub.try_claim(8, timeout=5.0):
                raise RuntimeError

    _steady(errors, warmup=50, rounds=300)


def test_no_leaks_open_close(client):
    def open_close():
        with client.add_subscription(URI, 77) as sub, client.add_publication(URI, 77) as pub:
            pub.wait_connected(5)
            pub.offer(b"x", timeout=5.0)
            sub.poll_batch(10, timeout=1.0)

    _steady(open_close, warmup=10, rounds=100, max_growth=32 * 1024)
    gc.collect()
    assert not [o for o in gc.get_objects() if type(o) in (shoal.Publication, shoal.Subscription)]


def test_no_leaks_back_pressure_exceptions(pubsub):
    pub, sub = pubsub
    while pub.offer_nowait(b"x" * 1000) != shoal.BACK_PRESSURED:
        pass

    def bp():
        try:
            pub.offer(b"x" * 1000)
        except shoal.BackPressured:
            pass
        assert pub.offer_nowait(b"x" * 1000) == shoal.BACK_PRESSURED

    _steady(bp, rounds=5000)
    drain(sub, 1)
