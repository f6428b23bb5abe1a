"""shoal.Archive and shoal.ArchiveServer: recording, listing, replay, truncate, purge, replay merge."""
import threading
import time

import numpy as np
import pytest

import shoal
import shoal.archive
from test_archive_offline import STREAM, archive_dir, env, record, wait_recorded  # noqa: F401 (fixtures)


def drain(sub, count, timeout=10.0):
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < count and time.monotonic() < deadline:
        out.extend((bytes(v), h.position) for v, h in sub.poll_batch(256, timeout=0.05))
    return out


def test_record_list_position_stop(env, archive_dir):
    client, server, arc = env
    assert server.archive_dir == archive_dir and arc.client is client and arc.control_session_id >= 0
    rid, positions = record(env, [b"hello %d" % i for i in range(100)], stop=False)
    (d,) = arc.recordings()
    assert d.recording_id == rid and d.stop_position == -1, "still recording"
    assert arc.recording_position(rid) == positions[-1]
    with pytest.raises(shoal.InvalidArgument):
        arc.stop_recording(123456789)
    assert arc.recordings(from_id=rid + 1) == []


def test_replay_keeps_positions_and_stops(env, archive_dir):
    _, _, arc = env
    msgs = [b"replayed %05d" % i for i in range(2000)]
    rid, positions = record(env, msgs)
    sub = arc.replay(rid, "aeron:ipc", 3101)
    assert isinstance(sub, shoal.Subscription) and arc.replay_session_id(sub) >= 0
    got = drain(sub, len(msgs))
    assert [m for m, _ in got] == msgs
    assert [p for _, p in got] == positions, "a replay keeps the recording's positions"
    sub.close()
    # from a position, for a length
    sub = arc.replay(rid, "aeron:ipc", 3102, position=positions[99], length=positions[199] - positions[99])
    got = drain(sub, 100)
    assert [m for m, _ in got] == msgs[100:200]
    sub.close()
    # stopped early: a replay the subscriber holds back (a window behind) is still running
    sub = arc.replay(rid, "aeron:ipc", 3105)
    assert len(drain(sub, 10)) >= 10
    replay_id = arc.replay_session_id(sub)
    arc.stop_replay(sub)
    with pytest.raises(shoal.InvalidArgument, match="no replay session"):
        arc.stop_replay(replay_id)           # the server has no such session any more
    with pytest.raises(shoal.InvalidArgument):
        arc.replay_session_id(sub)           # nor does the Archive
    sub.close()
    with pytest.raises(shoal.ShoalError):
        arc.replay(rid + 9, "aeron:ipc", 3103)
    with pytest.raises(shoal.ShoalError):
        arc.replay(rid, "aeron:ipc", 3104, position=positions[0] + 8)   # not a frame boundary


def test_truncate_and_purge(env, archive_dir):
    _, _, arc = env
    rid, positions = record(env, [b"%06d" % i for i in range(500)])
    arc.truncate(rid, positions[249])
    with shoal.archive.open(archive_dir) as rd:
        assert rd.describe(rid).stop_position == positions[249]
        assert [bytes(v) for v, _ in rd.messages(rid)] == [b"%06d" % i for i in range(250)]
    arc.purge(rid)
    assert arc.recordings() == []
    with shoal.archive.open(archive_dir) as rd:
        with pytest.raises(shoal.UnknownRecordingError):
            rd.describe(rid)
    with pytest.raises(shoal.ShoalError):
        arc.purge(rid)


def test_archive_closes_with_its_client(env):
    client, _, arc = env
    other = shoal.Archive(client)
    assert not other.closed
    other.close()
    assert other.closed
    with pytest.raises(shoal.ClosedError):
        other.recordings()


def test_no_server_is_a_timeout(shoal_dir):
    with shoal.Context(dir=shoal_dir, DIR_DELETE_ON_SHUTDOWN=1, archive_message_timeout_ms=300) as ctx, \
            shoal.Driver(ctx), shoal.Client(ctx) as client:
        t = time.monotonic()
        with pytest.raises(shoal.TimeoutError):
            shoal.Archive(client)
        assert time.monotonic() - t < 5


def test_replay_merge_no_gap_no_duplicate(env, archive_dir):
    client, _, arc = env
    sub_id = arc.start_recording("aeron:ipc", STREAM)
    pub = client.add_exclusive_publication("aeron:ipc", STREAM)
    assert pub.wait_connected(timeout=5.0)
    n_before, n_total = 3000, 8000
    for i in range(n_before):
        pub.offer(np.int64(i).tobytes(), timeout=5.0)
    rid = wait_recorded(arc, pub)
    stop = threading.Event()

    def publish_more():   # the publisher keeps publishing during the merge
        for i in range(n_before, n_total):
            pub.offer(np.int64(i).tobytes(), timeout=10.0)
            if i % 100 == 0:
                time.sleep(0.001)
        stop.set()

    th = threading.Thread(target=publish_more)
    th.start()
    seen = []
    went_live_at = None
    with arc.replay_merge(rid, 0, "aeron:ipc", 3201, "aeron:ipc", STREAM) as merge:
        deadline = time.monotonic() + 30
        while len(seen) < n_total and time.monotonic() < deadline:
            for view, header in merge.poll_batch(256):
                seen.append(int(np.frombuffer(view, "<i8")[0]))
            if merge.is_live and went_live_at is None:
                went_live_at = len(seen)
            if not seen or len(seen) % 1000 == 0:
                time.sleep(0.0005)
        assert merge.position == pub.position or len(seen) < n_total
    th.join()
    pub.close()
    arc.stop_recording(sub_id)
    assert went_live_at is not None, "the merge switched to the live stream"
    assert seen == list(range(n_total)), "every sequence number exactly once, in order"
