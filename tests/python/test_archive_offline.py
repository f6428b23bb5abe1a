"""shoal.archive.open: an archive read offline (no driver), recordings made by an embedded ArchiveServer."""
import os
import shutil
import time

import numpy as np
import pytest

import shoal
import shoal.archive

RECORDED = "aeron:ipc"
STREAM = 3001
#: 32-byte records: 64-byte frames tile a 64 KiB term exactly (the zero-copy case).
REC32 = np.dtype([("seq", "<u8"), ("price", "<f8"), ("qty", "<i4"), ("side", "i1"), ("pad", "u1", 11)])
#: 48-byte records: 96-byte frames leave padding at each term's end (the copy case).
REC48 = np.dtype([("seq", "<u8"), ("body", "u1", 40)])
assert REC32.itemsize == 32 and REC48.itemsize == 48


@pytest.fixture
def archive_dir(tmp_path):
    d = tmp_path / "archive"
    yield str(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def env(shoal_dir, archive_dir):
    """Driver, client, archive server and archive client; 64 KiB IPC terms and 256 KiB segments."""
    with shoal.Context(dir=shoal_dir, DIR_DELETE_ON_SHUTDOWN=1, ipc_term_length="64k",
                       archive_segment_length="256k") as ctx, shoal.Driver(ctx), shoal.Client(ctx) as client, \
            shoal.ArchiveServer(ctx, archive_dir) as server, shoal.Archive(client) as arc:
        yield client, server, arc


def records(dtype, n, first=0):
    r = np.zeros(n, dtype=dtype)
    r["seq"] = np.arange(first, first + n)
    if "price" in dtype.names:
        r["price"] = 100 + np.arange(n) * 0.25
        r["qty"] = np.arange(n) % 7
        r["side"] = np.where(np.arange(n) % 2 == 0, 1, -1)
    else:
        r["body"] = (np.arange(n)[:, None] + np.arange(40)[None, :]) % 251
    return r


def wait_recorded(arc, pub, timeout=10.0):
    """Waits until the archive has written everything pub published; returns the recording id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec = [d for d in arc.recordings() if d.stream_id == STREAM and d.session_id == pub.session_id]
        if rec and arc.recording_position(rec[-1].recording_id) >= pub.position:
            return rec[-1].recording_id
        time.sleep(0.01)
    raise AssertionError("the archive did not record up to %d" % pub.position)


def record(env, messages, stop=True):
    """Publishes messages (a list of buffers) on a recorded stream; returns (recording id, positions)."""
    client, _, arc = env
    sub_id = arc.start_recording(RECORDED, STREAM)
    with client.add_exclusive_publication(RECORDED, STREAM) as pub:
        assert pub.wait_connected(timeout=5.0)
        positions = [pub.offer(m, timeout=5.0) for m in messages]
        rid = wait_recorded(arc, pub)
    if stop:
        arc.stop_recording(sub_id)
    return rid, positions


def test_open_missing_directory_raises_io_error(tmp_path):
    with pytest.raises(shoal.ShoalIOError):
        shoal.archive.open(str(tmp_path / "nothing-here"))


def test_recordings_and_describe(env, archive_dir):
    rid, positions = record(env, [r.tobytes() for r in records(REC32, 10)])
    with shoal.archive.open(archive_dir) as rd:
        assert rd.dir == archive_dir
        (d,) = rd.recordings()
        assert isinstance(d, shoal.RecordingDescriptor)
        assert d == rd.describe(rid)
        assert d.recording_id == rid and d.stream_id == STREAM and d.channel.startswith("aeron:ipc")
        assert d.stop_position == positions[-1] and d.term_length == 65536 and d.segment_length == 262144
        assert 0 < d.start_timestamp_ns <= d.stop_timestamp_ns
        with pytest.raises(shoal.UnknownRecordingError) as e:
            rd.describe(rid + 100)
        assert isinstance(e.value, LookupError) and isinstance(e.value, shoal.InvalidArgument)
        assert rd.recordings(from_id=rid + 1) == []
    with pytest.raises(shoal.ClosedError):
        rd.recordings()


def test_read_records_zero_copy_across_terms_and_segments(env, archive_dir):
    # 10000 x 64-byte frames = 640000 bytes: ten 64 KiB terms, three 256 KiB segments
    src = records(REC32, 10000)
    rid, _ = record(env, [src[i:i + 1].tobytes() for i in range(len(src))])
    with shoal.archive.open(archive_dir) as rd:
        got = rd.read_records(rid, REC32)
        assert got.dtype == REC32 and len(got) == len(src)
        np.testing.assert_array_equal(got, src)
        assert not got.flags.writeable, "a zero-copy view of the mapped segments is read-only"
        assert type(got.base).__name__ == "_RecordingMap" and got.strides == (64,)
        np.testing.assert_array_equal(rd.read_records(rid, REC32, 9990), src[9990:])
        np.testing.assert_array_equal(rd.read_records(rid, REC32, 100, 200), src[100:200])
        np.testing.assert_array_equal(rd.read_records(rid, REC32, -5), src[-5:])
        np.testing.assert_array_equal(rd.read_records(rid, REC32, start=4000, stop=4001)["seq"], [4000])
        assert len(rd.read_records(rid, REC32, 20000)) == 0
    # the view outlives the reader: it holds the mapping
    assert got["seq"][-1] == 9999


def test_read_records_with_padding_copies(env, archive_dir):
    src = records(REC48, 3000)   # 96-byte frames: padding at every term's end
    rid, _ = record(env, [src[i:i + 1].tobytes() for i in range(len(src))])
    with shoal.archive.open(archive_dir) as rd:
        got = rd.read_records(rid, REC48)
        np.testing.assert_array_equal(got, src)
        assert got.flags.writeable, "a copy, not a view of the mapping"
        np.testing.assert_array_equal(rd.read_records(rid, REC48, 681, 700), src[681:700])


def test_read_records_joins_fragments(env, archive_dir):
    big = np.dtype([("seq", "<u8"), ("blob", "u1", 3000)])   # longer than the mtu: fragmented
    src = np.zeros(20, dtype=big)
    src["seq"] = np.arange(20)
    src["blob"] = np.arange(3000) % 253
    rid, _ = record(env, [src[i:i + 1].tobytes() for i in range(20)])
    with shoal.archive.open(archive_dir) as rd:
        np.testing.assert_array_equal(rd.read_records(rid, big), src)


def test_read_records_refuses_other_lengths(env, archive_dir):
    rid, _ = record(env, [b"x" * 32, b"y" * 32, b"z" * 40])
    with shoal.archive.open(archive_dir) as rd:
        with pytest.raises(shoal.InvalidArgument, match="40 bytes, not the dtype's 32"):
            rd.read_records(rid, REC32)
        with pytest.raises(shoal.UnknownRecordingError):
            rd.read_records(rid + 1, REC32)
        with pytest.raises(shoal.InvalidArgument):
            rd.read_records(rid, np.dtype([]))


def test_messages_as_delivered(env, archive_dir):
    msgs = [b"m%d" % i * (1 + i % 5) for i in range(50)] + [bytes(range(256)) * 12]   # the last one fragmented
    rid, positions = record(env, msgs)
    with shoal.archive.open(archive_dir) as rd:
        got = list(rd.messages(rid))
        assert [bytes(v) for v, _ in got] == msgs
        assert [h.position for _, h in got] == positions
        assert all(h.stream_id == STREAM for _, h in got)
        # from a position (a frame boundary) for a length
        part = [bytes(v) for v, _ in rd.messages(rid, position=positions[9], length=positions[19] - positions[9])]
        assert part == msgs[10:20]
        times = [t for _, _, t in rd.messages(rid, timestamps=True)]
        d = rd.describe(rid)
        assert times == sorted(times) and d.start_timestamp_ns <= times[0] and times[-1] <= d.stop_timestamp_ns
        with pytest.raises(shoal.InvalidArgument):
            list(rd.messages(rid, position=positions[0] + 8))   # not a frame boundary
        with pytest.raises(shoal.UnknownRecordingError):
            rd.messages(rid + 7)


def test_a_recording_in_progress_reads_as_far_as_written(env, archive_dir):
    client, _, arc = env
    sub_id = arc.start_recording(RECORDED, STREAM)
    src = records(REC32, 500)
    with client.add_exclusive_publication(RECORDED, STREAM) as pub:
        assert pub.wait_connected(timeout=5.0)
        for i in range(300):
            pub.offer(src[i:i + 1].tobytes(), timeout=5.0)
        rid = wait_recorded(arc, pub)
        with shoal.archive.open(archive_dir) as rd:
            assert rd.describe(rid).stop_position == -1
            np.testing.assert_array_equal(rd.read_records(rid, REC32), src[:300])
            assert len(list(rd.messages(rid))) == 300
        for i in range(300, 500):
            pub.offer(src[i:i + 1].tobytes(), timeout=5.0)
        wait_recorded(arc, pub)
    arc.stop_recording(sub_id)
    with shoal.archive.open(archive_dir) as rd:
        np.testing.assert_array_equal(rd.read_records(rid, REC32), src)


def test_corrupt_segment_is_a_clear_error(env, archive_dir):
    rid, positions = record(env, [r.tobytes() for r in records(REC32, 100)])
    d = shoal.archive.open(archive_dir).describe(rid)
    seg = [f for f in os.listdir(archive_dir) if f.startswith("%d-" % rid) and f.endswith(".rec")]
    assert len(seg) == 1
    frame = d.start_position + 64 * 50     # the 51st frame's length word
    with open(os.path.join(archive_dir, seg[0]), "r+b") as f:
        f.seek(frame - int(seg[0][len("%d-" % rid):-4]))
        f.write((7).to_bytes(4, "little"))   # a frame length no frame can have
    with shoal.archive.open(archive_dir) as rd:
        with pytest.raises(shoal.ShoalIOError, match="position %d" % frame):
            rd.read_records(rid, REC32)
        with pytest.raises(shoal.ShoalIOError):
            list(rd.messages(rid))
    os.remove(os.path.join(archive_dir, seg[0]))
    with shoal.archive.open(archive_dir) as rd:
        with pytest.raises(shoal.ShoalIOError, match="segment"):
            rd.read_records(rid, REC32)


def test_reader_closes_after_its_cursors(env, archive_dir):
    rid, _ = record(env, [b"%08d" % i for i in range(1000)])
    rd = shoal.archive.open(archive_dir)
    it = rd.messages(rid)
    assert bytes(next(it)[0]) == b"00000000"
    rd.close()                       # deferred: the cursor still reads through it
    with pytest.raises(shoal.ClosedError):
        for _ in it:
            pass
    assert rd.closed
