"""Spy subscriptions and untethered subscribers (issue 15, parts 2 and 3) from Python."""
import socket
import struct
import threading
import time

import shoal

SEQ = struct.Struct("<q")


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_spy_taps_a_udp_publication(client):
    """A Python tap on a UDP publication of the same driver: ssc=true, no
    receiver on the network, every message read in place."""
    port = free_udp_port()
    channel = "aeron:udp?endpoint=127.0.0.1:%d|term-length=64k|ssc=true" % port
    sources = []
    tap = client.add_subscription("aeron-spy:aeron:udp?endpoint=127.0.0.1:%d" % port, 2001,
                                  on_available=lambda img: sources.append(img.source_identity))
    pub = client.add_exclusive_publication(channel, 2001)
    assert pub.wait_connected(timeout=5.0), "ssc=true: the spy alone makes the publication connected"
    seen = []
    deadline = time.monotonic() + 20
    sent = 0
    while len(seen) < 3000:
        assert time.monotonic() < deadline, "spy got %d of 3000" % len(seen)
        if sent < 3000 and pub.offer_nowait(SEQ.pack(sent) + b"o" * 56) > 0:
            sent += 1
        for view, header in tap.poll_batch(64):
            seen.append(SEQ.unpack_from(view)[0])
    assert seen == list(range(3000))
    assert sources == ["aeron:ipc"]
    pub.close()
    tap.close()


def test_spy_without_ssc_is_not_a_connection(client):
    port = free_udp_port()
    tap = client.add_subscription("aeron-spy:aeron:udp?endpoint=127.0.0.1:%d" % port, 2002)
    pub = client.add_exclusive_publication("aeron:udp?endpoint=127.0.0.1:%d|term-length=64k" % port, 2002)
    time.sleep(0.2)
    assert tap.image_count == 1
    assert not pub.is_connected
    assert pub.offer_nowait(b"x") == shoal.NOT_CONNECTED


def test_spy_uri_errors(client):
    try:
        client.add_subscription("aeron-spy:aeron:ipc", 2003)
    except shoal.ShoalError as e:
        assert "a spy needs an aeron:udp channel" in str(e)
    else:
        raise AssertionError("a spy on aeron:ipc must be refused")


def test_untethered_slow_subscriber_is_dropped_and_rejoins(client):
    """A fast publisher and a tethered subscriber that keeps up, in one loop; an
    untethered subscriber read one message every 20 ms. The slow one is dropped
    (on_unavailable), rests, rejoins later in the stream (on_available, join
    position); the publisher is held back only about twice the 200 ms timeout."""
    uri = "aeron:ipc?term-length=64k"
    events = []
    lock = threading.Lock()

    def on_available(image):
        with lock:
            events.append(("available", image.join_position))

    def on_unavailable(image):
        with lock:
            events.append(("unavailable", image.position))

    slow = client.add_subscription(
        uri + "|tether=false|untethered-window-limit-timeout=200ms|untethered-resting-timeout=200ms", 2004,
        on_available=on_available, on_unavailable=on_unavailable)
    fast = client.add_subscription(uri, 2004)
    pub = client.add_exclusive_publication(uri, 2004)
    assert pub.wait_connected(timeout=5.0)
    deadline = time.monotonic() + 5
    while fast.image_count < 1 or slow.image_count < 1:
        assert time.monotonic() < deadline
        time.sleep(0.001)

    window = 64 * 1024 // 2 // 64  # messages of 32 bytes, 64 framed
    published = 0
    fast_seen = 0
    fast_errors = 0
    slow_seen = []  # (sequence, events seen when it was read)
    window_start, window_count, longest_hold = time.monotonic(), 0, 0.0
    next_slow = time.monotonic()
    end = time.monotonic() + 2.5
    payload = bytearray(32)
    while time.monotonic() < end:
        for _ in range(64):
            SEQ.pack_into(payload, 0, published)
            if pub.offer_nowait(payload) > 0:
                published += 1
            else:
                break
        now = time.monotonic()
        if published - window_count >= window:
            longest_hold = max(longest_hold, now - window_start)
            window_start, window_count = now, published
        for view, header in fast.poll_batch(256):
            fast_errors += SEQ.unpack_from(view)[0] != fast_seen
            fast_seen += 1
        if now >= next_slow:
            next_slow = now + 0.02
            for view, header in slow.poll_batch(1):
                with lock:
                    slow_seen.append((SEQ.unpack_from(view)[0], len(events)))
    longest_hold = max(longest_hold, time.monotonic() - window_start)
    while fast_seen < published:
        for view, header in fast.poll_batch(256):
            fast_errors += SEQ.unpack_from(view)[0] != fast_seen
            fast_seen += 1

    with lock:
        log = list(events)
    joins = [p for kind, p in log if kind == "available"]
    drops = [p for kind, p in log if kind == "unavailable"]
    jumps = [(a, b) for (a, _), (b, _) in zip(slow_seen, slow_seen[1:]) if b != a + 1]
    print("python untethered: published %d, fast read %d (%d out of order), longest time to publish a window "
          "%.0f ms; slow read %d messages, dropped %d times, joins at %s, jumps %s"
          % (published, fast_seen, fast_errors, longest_hold * 1000, len(slow_seen), len(drops), joins, jumps))
    assert fast_seen == published and fast_errors == 0
    assert len(drops) >= 1 and len(joins) >= 2
    assert joins == sorted(joins) and len(set(joins)) == len(joins), "each rejoin is later in the stream"
    assert jumps, "the slow reader skipped what it missed"
    # Every jump is forward and happens across an image event (a rejoin), never inside an image.
    for (a, ev_a), (b, ev_b) in zip(slow_seen, slow_seen[1:]):
        if b != a + 1:
            assert b > a and ev_b > ev_a, (a, b, ev_a, ev_b)
    # Generous: about 2 x 200 ms expected; a tethered reader this slow would hold it for the whole run.
    assert longest_hold < 2.0
    pub.close()
    fast.close()
    slow.close()
