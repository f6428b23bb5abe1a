"""asyncio for subscriptions: ``await sub.receive()`` and ``async for view, header in sub.messages()``.

How the event loop waits without spinning
  The wait itself is ``Subscription.wait`` (``shoal_subscription_wait``: a futex in
  the log, no CPU while idle, woken by the publisher's commit). It blocks, so it
  runs on a thread of a small pool owned by this module (``loop.run_in_executor``,
  GIL released while it sleeps); the event loop only sees a future complete.
  Polling happens on the event loop thread once the wait returns, so views come
  from the loop's own thread and the subscription is never polled and waited on
  at once.

  Why not a file descriptor made readable by a waiter thread? It would need the
  same thread to wait, plus a hand-off (a write to the fd, then the loop's
  readiness callback) for every message, and the thread would still have to stop
  while the loop polls (a wait must not run during a poll of the same
  subscription). The executor gives the same latency with one moving part.

  Each wait is at most ``WAIT_SLICE`` seconds, then the loop looks again: a
  cancelled ``receive`` (``asyncio.wait_for``, task cancellation) leaves its
  thread busy for at most that long, and the next ``receive`` of the same
  subscription first lets that wait finish. One thread per subscription waiting
  at the same time: the pool grows to ``MAX_WAITERS``.
"""
import asyncio
import concurrent.futures
import threading

from ._shoal import ClosedError

__all__ = ["receive", "messages", "WAIT_SLICE", "MAX_WAITERS"]

WAIT_SLICE = 0.25
MAX_WAITERS = 64

_pool = None
_pool_lock = threading.Lock()
# A wait still running for a subscription (its receive was cancelled): the
# next poll must not start before it ends.
_pending = {}


def _executor():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = concurrent.futures.ThreadPoolExecutor(max_workers=MAX_WAITERS, thread_name_prefix="shoal-wait")
        return _pool


async def _settle(sub):
    pending = _pending.get(id(sub))
    if pending is not None and not pending.done():
        await asyncio.wait({pending})


async def _wait(sub, loop, seconds):
    future = loop.run_in_executor(_executor(), sub.wait, seconds)
    key = id(sub)
    _pending[key] = future
    future.add_done_callback(lambda f, key=key: _pending.pop(key, None) if _pending.get(key) is f else None)
    return await asyncio.shield(future)


async def receive(sub, timeout=None, copy=False):
    """The next message as (view, header), or None after timeout seconds (None: no timeout)."""
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    while True:
        await _settle(sub)
        batch = sub.poll_batch(1, copy=copy)
        if batch:
            return batch[0]
        left = WAIT_SLICE if deadline is None else min(WAIT_SLICE, deadline - loop.time())
        if left <= 0:
            return None
        await _wait(sub, loop, left)


async def messages(sub, batch=256, copy=False):
    """Every message, as (view, header) pairs, until the subscription (or its client) closes."""
    loop = asyncio.get_running_loop()
    try:
        while True:
            await _settle(sub)
            got = sub.poll_batch(batch, copy=copy)
            if got:
                for pair in got:
                    yield pair
                continue
            await _wait(sub, loop, WAIT_SLICE)
    except ClosedError:
        return
