"""Waiting without spinning: Subscription.wait, poll*(timeout=) on the library's wait,
asyncio receive()/messages(), and offer(timeout=) on back pressure.

No timing thresholds: the assertions are about behaviour (what comes back, and that
an idle wait uses far less CPU than the wall time it takes).
"""
import asyncio
import threading
import time

import pytest

import shoal

from conftest import URI


def _offer_later(pub, data, delay):
    def run():
        time.sleep(delay)
        pub.offer(data, timeout=5.0)

    t = threading.Thread(target=run)
    t.start()
    return t


def test_wait_returns_false_after_timeout_and_true_with_data(pubsub):
    pub, sub = pubsub
    assert sub.wait(0) is False
    assert sub.wait(0.05) is False
    pub.offer(b"there", timeout=5.0)
    assert sub.wait(0) is True
    assert sub.wait() is True  # consumes nothing
    assert [bytes(v) for v, _ in sub.poll_batch(10)] == [b"there"]
    assert sub.wait(0) is False


def test_wait_is_woken_by_an_offer_and_idles_without_cpu(pubsub):
    pub, sub = pubsub
    t = _offer_later(pub, b"wake", 0.5)
    wall, cpu = time.monotonic(), time.thread_time()
    assert sub.wait(10.0) is True
    cpu, wall = time.thread_time() - cpu, time.monotonic() - wall
    t.join()
    assert cpu * 5 < wall, "an idle wait should use little CPU (%.3f s CPU in %.3f s)" % (cpu, wall)


def test_poll_timeout_waits_for_a_message(pubsub):
    pub, sub = pubsub
    got = []
    assert sub.poll(lambda v, h: got.append(bytes(v)), timeout=0.05) == 0
    t = _offer_later(pub, b"poll", 0.2)
    cpu = time.thread_time()
    wall = time.monotonic()
    assert sub.poll(lambda v, h: got.append(bytes(v)), timeout=10.0) == 1
    cpu, wall = time.thread_time() - cpu, time.monotonic() - wall
    t.join()
    assert got == [b"poll"]
    assert cpu * 5 < wall


def test_poll_batch_and_recv_into_timeouts(pubsub):
    pub, sub = pubsub
    assert sub.poll_batch(10, timeout=0.05) == []
    assert sub.recv_into(bytearray(16), timeout=0.05) is None
    t = _offer_later(pub, b"batch", 0.1)
    assert [bytes(v) for v, _ in sub.poll_batch(10, timeout=10.0)] == [b"batch"]
    t.join()
    t = _offer_later(pub, b"recv", 0.1)
    buf = bytearray(16)
    assert sub.recv_into(buf, timeout=10.0) == 4
    assert bytes(buf[:4]) == b"recv"
    t.join()


def test_wait_ends_when_the_subscription_closes(pubsub):
    pub, sub = pubsub
    errors = []

    def run():
        try:
            sub.wait(30.0)
        except shoal.ClosedError as e:
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.1)
    sub.close()
    t.join(10.0)
    assert not t.is_alive()
    assert len(errors) == 1


def test_offer_timeout_waits_for_the_subscriber(client):
    sub = client.add_subscription(URI, 1002)
    pub = client.add_exclusive_publication(URI, 1002)
    assert pub.wait_connected(timeout=5.0)
    n = 0
    while pub.offer_nowait(b"x" * 1000) > 0:
        n += 1
    assert pub.offer_nowait(b"x" * 1000) == shoal.BACK_PRESSURED

    def consume():
        time.sleep(0.2)
        got = 0
        while got < n:
            got += len(sub.poll_batch(256, timeout=1.0))

    t = threading.Thread(target=consume)
    t.start()
    cpu, wall = time.thread_time(), time.monotonic()
    assert pub.offer(b"y", timeout=10.0) > 0
    cpu, wall = time.thread_time() - cpu, time.monotonic() - wall
    t.join()
    assert cpu * 5 < wall, "a back-pressured offer(timeout=) should sleep (%.3f s CPU in %.3f s)" % (cpu, wall)
    pub.close()
    sub.close()


def test_receive_returns_view_and_header(pubsub):
    pub, sub = pubsub

    async def main():
        assert await sub.receive(timeout=0.05) is None
        t = _offer_later(pub, b"async", 0.1)
        view, header = await sub.receive(timeout=10.0)
        t.join()
        return bytes(view), header.position

    data, position = asyncio.run(main())
    assert data == b"async"
    assert position > 0


def test_receive_keeps_the_event_loop_free(pubsub):
    pub, sub = pubsub
    ticks = []

    async def ticker():
        while True:
            ticks.append(1)
            await asyncio.sleep(0.01)

    async def main():
        task = asyncio.create_task(ticker())
        t = _offer_later(pub, b"late", 0.3)
        got = await sub.receive(timeout=10.0, copy=True)
        task.cancel()
        t.join()
        return got

    data, _ = asyncio.run(main())
    assert data == b"late"
    assert len(ticks) > 5, "the loop should have run other tasks while receive() waited"


def test_cancelled_receive_then_receive_again(pubsub):
    pub, sub = pubsub

    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(sub.receive(), 0.05)
        pub.offer(b"after", timeout=5.0)
        return await sub.receive(timeout=10.0, copy=True)

    data, _ = asyncio.run(main())
    assert data == b"after"


def test_messages_iterates_in_order_and_ends_at_close(pubsub):
    pub, sub = pubsub

    def produce():
        for i in range(100):
            pub.offer(i.to_bytes(4, "little"), timeout=5.0)
            if i % 10 == 0:
                time.sleep(0.01)

    async def main():
        t = threading.Thread(target=produce)
        t.start()
        got = []
        async for view, header in sub.messages(batch=16):
            got.append(int.from_bytes(view, "little"))
            if len(got) == 100:
                break
        t.join()
        return got

    assert asyncio.run(main()) == list(range(100))

    async def until_closed():
        async def close_soon():
            await asyncio.sleep(0.1)
            sub.close()

        closer = asyncio.create_task(close_soon())
        count = 0
        async for _ in sub.messages():
            count += 1
        await closer
        return count

    assert asyncio.run(until_closed()) == 0
