"""Messages larger than the mtu, and zero-copy claims."""
import gc

import numpy as np
import pytest

import shoal
from conftest import URI, drain


@pytest.mark.parametrize("length", [1376, 1377, 3000, 5000, 8192])
def test_fragmented_round_trip(pubsub, length):
    pub, sub = pubsub
    assert pub.max_payload_length == 1376
    payload = bytes((i * 7) & 0xFF for i in range(length))
    pub.offer(payload, timeout=2.0)
    pub.offer(b"after")
    got = drain(sub, 2)
    assert got[0][0] == payload and got[1][0] == b"after"
    header = got[0][1]
    assert header.flags & shoal.FLAG_BEGIN and header.flags & shoal.FLAG_END
    assert header.position == got[1][1].position - 64


def test_fragmented_with_small_mtu_via_callback(client):
    uri = "aeron:ipc?term-length=64k|mtu=256"
    with client.add_subscription(uri, 2) as sub, client.add_publication(uri, 2) as pub:
        assert pub.wait_connected(5)
        assert pub.max_payload_length == 224
        msgs = [bytes([i]) * (100 + 331 * i) for i in range(20)]
        seen = []
        for m in msgs:  # more than a window in all: poll as we go
            pub.offer(m, timeout=2.0)
            sub.poll(lambda v, h: seen.append(bytes(v)), 3, timeout=1.0)
        while len(seen) < len(msgs):
            sub.poll(lambda v, h: seen.append(bytes(v)), 3, timeout=1.0)
        assert seen == msgs


def test_fragmented_numpy_array(pubsub):
    pub, sub = pubsub
    a = np.arange(1000, dtype=np.float64)  # 8000 bytes, six frames
    pub.offer(a, timeout=2.0)
    view, _ = drain(sub, 1, copy=False)[0]
    assert np.array_equal(np.frombuffer(view, dtype=np.float64), a)


def test_message_too_large(pubsub):
    pub, _ = pubsub
    with pytest.raises(shoal.MessageTooLarge, match="8193"):
        pub.offer(b"x" * 8193)
    with pytest.raises(shoal.MessageTooLarge):
        pub.offer_nowait(b"x" * 8193)  # bad input raises even from the non-raising variant
    with pytest.raises(shoal.MessageTooLarge):
        pub.try_claim(1377)
    assert issubclass(shoal.MessageTooLarge, shoal.InvalidArgument)


def test_claim_commit_and_abort(pubsub):
    pub, sub = pubsub
    with pub.try_claim(4) as buf:
        buf[:] = b"keep"
    with pytest.raises(RuntimeError):
        with pub.try_claim(4) as buf:
            buf[:] = b"drop"
            raise RuntimeError("abort me")
    claim = pub.try_claim(3)
    with claim as buf:
        buf[:] = b"end"
    assert claim.state == "committed" and claim.length == 0 and claim.position > 0
    assert [m for m, _ in drain(sub, 2)] == [b"keep", b"end"]
    assert sub.poll_batch(10) == []


def test_claim_view_released_after_block(pubsub):
    pub, sub = pubsub
    with pub.try_claim(4) as buf:
        buf[:] = b"1234"
    with pytest.raises(ValueError):
        buf[0] = 0  # released: the log is no longer writable through it
    drain(sub, 1)


def test_claim_explicit_commit_abort(pubsub):
    pub, sub = pubsub
    c = pub.try_claim(5)
    memoryview(c)[:] = b"hello"
    pos = c.commit()
    assert pos == c.position
    with pytest.raises(shoal.InvalidStateError):
        c.commit()
    with pytest.raises(shoal.InvalidStateError):
        c.abort()
    with pytest.raises(shoal.ClosedError):
        memoryview(c)
    c2 = pub.try_claim(5)
    c2.abort()
    assert c2.state == "aborted"
    pub.offer(b"next")
    assert [m for m, _ in drain(sub, 2)] == [b"hello", b"next"]


def test_claim_dropped_unentered_is_aborted(pubsub):
    pub, sub = pubsub
    pub.try_claim(16)  # garbage at once: aborted, the log is not blocked
    gc.collect()
    pub.offer(b"flows")
    assert drain(sub, 1)[0][0] == b"flows"


def test_claim_zero_length(pubsub):
    pub, sub = pubsub
    with pub.try_claim(0) as buf:
        assert len(buf) == 0
    assert drain(sub, 1)[0][0] == b""


def test_close_publication_with_open_claim(pubsub):
    pub, sub = pubsub
    claim = pub.try_claim(8)
    buf = claim.__enter__()
    pub.close()  # deferred until the claim is done: the log stays mapped
    assert pub.is_closed
    with pytest.raises(shoal.ClosedError):
        pub.offer(b"x")
    buf[:] = b"12345678"  # still safe
    claim.__exit__(None, None, None)
    del buf, claim
    gc.collect()


def test_claim_numpy_fill(pubsub):
    pub, sub = pubsub
    with pub.try_claim(64) as buf:
        np.frombuffer(buf, dtype=np.int64)[:] = np.arange(8)
    view, _ = drain(sub, 1, copy=False)[0]
    assert np.frombuffer(view, dtype=np.int64).tolist() == list(range(8))
