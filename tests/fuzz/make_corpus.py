#!/usr/bin/env python3
"""Writes the seed corpora of the libFuzzer targets into tests/fuzz/corpus/<name>/.

Seeds are a few valid inputs per target, built here from the wire and
shared-memory layouts so they are easy to review and regenerate:
    /usr/bin/python3 tests/fuzz/make_corpus.py
Regression inputs (crashes the fuzzers found, named regress-*) are kept as
files and never rewritten by this script.
"""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- frames (protocol/shoal_frames.h, little-endian, Aeron layout) ----
PAD, DATA, NAK, SM, ERR, SETUP, RTTM = 0, 1, 2, 3, 4, 5, 6
RSP_SETUP = 0x0B
BEGIN, END, EOS = 0x80, 0x40, 0x20


def data_frame(term_offset, session, stream, term_id, payload=b"", flags=BEGIN | END, ftype=DATA, length=None):
    if length is None:
        length = 32 + len(payload)
    return struct.pack("<iBBHiiiiq", length, 0, flags, ftype, term_offset, session, stream, term_id, 0) + payload


def aligned(b):
    return b + b"\0" * (-len(b) % 32)


def setup_frame(term_offset, session, stream, initial, active, term_length, mtu, ttl=0):
    return struct.pack("<iBBHiiiiiiii", 40, 0, 0, SETUP, term_offset, session, stream, initial, active, term_length,
                       mtu, ttl)


def sm_frame(session, stream, term_id, term_offset, window, receiver_id, flags=0):
    return struct.pack("<iBBHiiiiiq", 36, 0, flags, SM, session, stream, term_id, term_offset, window, receiver_id)


def nak_frame(session, stream, term_id, term_offset, length):
    return struct.pack("<iBBHiiiii", 28, 0, 0, NAK, session, stream, term_id, term_offset, length)


def rttm_frame(session, stream, echo, delta, receiver_id, flags=0):
    return struct.pack("<iBBHiiqqq", 40, 0, flags, RTTM, session, stream, echo, delta, receiver_id)


def rsp_setup_frame(session, stream, response_session, length=20):
    return struct.pack("<iBBHiii", length, 0, 0, RSP_SETUP, session, stream, response_session)


def err_frame(session, stream, receiver_id, group_tag, code, message):
    m = message.encode()
    return struct.pack("<iBBHiiqqii", 40 + len(m), 0, 0, ERR, session, stream, receiver_id, group_tag, code,
                       len(m)) + m


# ---- uri: channel URI text ----
for i, uri in enumerate([
    "aeron:ipc",
    "aeron:ipc?term-length=64k|mtu=1408|session-id=-5|linger=5s|alias=x",
    "aeron:udp?endpoint=127.0.0.1:40123",
    "aeron:udp?endpoint=[::1]:40123|interface=lo|ttl=8|reliable=false",
    "aeron:udp?control=127.0.0.1:40124|control-mode=dynamic|fc=min,g:1",
    "aeron:udp?control-mode=manual|sparse=true|group=true|tether=false|rcv-window=128k",
    "aeron:udp?endpoint=224.0.1.1:40456|interface=127.0.0.1/8|term-length=1m|linger=250us",
]):
    write("uri", "seed-%d" % i, uri)

# ---- udp_channel: channel URI text, numeric hosts ----
for i, uri in enumerate([
    "aeron:udp?endpoint=127.0.0.1:40123",
    "aeron:udp?endpoint=[::1]:40123",
    "aeron:udp?endpoint=224.0.1.1:40456|interface=127.0.0.1/8|ttl=4",
    "aeron:udp?endpoint=239.255.0.1:40456|interface=lo",
    "aeron:udp?control=127.0.0.1:40124|control-mode=dynamic",
    "aeron:udp?endpoint=127.0.0.1:0|interface=127.0.0.1:5000",
    "aeron:udp?endpoint=[ff02::1]:40456|interface=::1/128",
]):
    write("udp_channel", "seed-%d" % i, uri)

# ---- term_reader: 16 bytes of parameters, then term content ----
def term_params(start=0, tail=-1, term_id=7, max_length=1408 - 32, action=0, which=0xF1):
    return struct.pack("<iiiHBB", start, tail, term_id, max_length, action, which)


msg = aligned(data_frame(0, 1, 2, 7, b"hello"))
frag = aligned(data_frame(len(msg), 1, 2, 7, b"A" * 40, flags=BEGIN))
frag += aligned(data_frame(len(msg) + len(frag), 1, 2, 7, b"B" * 40, flags=0))
frag += aligned(data_frame(len(msg) + len(frag), 1, 2, 7, b"C" * 10, flags=END))
write("term_reader", "seed-messages", term_params() + msg + frag)
write("term_reader", "seed-pad-to-end", term_params(tail=1024) + msg +
      data_frame(len(msg), 1, 2, 7, ftype=PAD, flags=0, length=1024 - len(msg)))
write("term_reader", "seed-claimed", term_params(start=len(msg), tail=512) + msg + struct.pack("<i", -64))
write("term_reader", "seed-hole", term_params(start=len(msg), tail=1024) + msg + b"\0" * 64 +
      aligned(data_frame(len(msg) + 64, 1, 2, 7, b"late")))
write("term_reader", "seed-heartbeat", term_params(which=0) + data_frame(0, 1, 2, 7, flags=0, length=32))

# ---- cnc: 64 bytes of metadata, then the file after its 4096-byte header page ----
def cnc_input(to_driver=64 + 640, to_clients=64 + 384, counters=2, error_log=256, version=0x00030000,
              counter_label=b"bytes sent", error_text=b"hello"):
    meta = struct.pack("<iiiiiiqqqq", version, to_driver, to_clients, counters * 512, counters * 128, error_log,
                       10000, 10000, 1700000000000, 4242)
    meta += b"\0" * (64 - len(meta))
    ring = b"\0" * to_driver
    bcast = b"\0" * to_clients
    cmeta = b""
    cvals = b""
    for i in range(counters):
        state = 1 if i == 0 else 0
        m = struct.pack("<iiq", state, 0, 0) + b"\0" * 112 + struct.pack("<i", len(counter_label)) + counter_label
        cmeta += m + b"\0" * (512 - len(m))
        cvals += struct.pack("<qqq", 5 + i, 0, 0) + b"\0" * (128 - 24)
    rec = struct.pack("<iiqqi", 28 + len(error_text), 1, 1000, 900, 1) + error_text
    rec += b"\0" * (-len(rec) % 8)
    elog = rec + b"\0" * (error_log - len(rec))
    return meta + ring + bcast + cmeta + cvals + elog


write("cnc", "seed-small", cnc_input())
write("cnc", "seed-no-counters-used", cnc_input(counters=4, counter_label=b"", error_text=b""))
write("cnc", "seed-bad-version", cnc_input(version=0x00010100))
write("cnc", "seed-short-regions", cnc_input()[:1024])

# ---- client_broadcast: records of <u8 selector><u16 length><payload> ----
# selector: 0 ON_ERROR, 1 PUBLICATION_READY, 2 OPERATION_SUCCESS, 3 AVAILABLE_IMAGE, 4 UNAVAILABLE_IMAGE,
# 5 EXCLUSIVE_PUBLICATION_READY, 6 SUBSCRIPTION_READY, 7 CLIENT_TIMEOUT (mod 8); >= 0xF0: raw type id.
def rec(selector, payload):
    return struct.pack("<BH", selector, len(payload)) + payload


def image_ready(image_id, sub_id=100, session=5, stream=1001, position_id=1, log=b"fuzz.log", source=b"aeron:ipc"):
    return struct.pack("<qqiiii", image_id, sub_id, session, stream, position_id, len(log)) + log + \
        struct.pack("<i", len(source)) + source


def image_gone(image_id, sub_id=100, stream=1001):
    return struct.pack("<qqi", image_id, sub_id, stream)


write("client_broadcast", "seed-image-cycle",
      rec(3, image_ready(11)) + rec(3, image_ready(12, session=6, source=b"127.0.0.1:40123")) +
      rec(4, image_gone(11)) + rec(4, image_gone(12)))
write("client_broadcast", "seed-responses",
      rec(1, struct.pack("<qqiiiii", 7, 70, 5, 1001, 2, 3, 8) + b"pub.log") +
      rec(2, struct.pack("<q", 7)) + rec(6, struct.pack("<qi", 7, 4)))
write("client_broadcast", "seed-error", rec(0, struct.pack("<qii", 7, 3, 11) + b"bad channel"))
write("client_broadcast", "seed-timeout", rec(7, struct.pack("<q", 0)) + rec(0xF3, b"\0" * 16))

# ---- driver_commands: records of <u8 selector><u16 length><payload> ----
# selector mod 9: 0 ADD_PUBLICATION, 1 REMOVE_PUBLICATION, 2 ADD_EXCLUSIVE_PUBLICATION, 3 ADD_SUBSCRIPTION,
# 4 REMOVE_SUBSCRIPTION, 5 CLIENT_KEEPALIVE, 6 CLIENT_CLOSE; >= 0xF0: raw type id (selector - 0xF8).
def channel_cmd(client, corr, stream, channel):
    c = channel.encode()
    return struct.pack("<qqii", client, corr, stream, len(c)) + c


def remove_cmd(client, corr, reg):
    return struct.pack("<qqq", client, corr, reg)


def corr_cmd(client, corr):
    return struct.pack("<qq", client, corr)


write("driver_commands", "seed-ipc-lifecycle",
      rec(5, corr_cmd(1, 0)) + rec(3, channel_cmd(1, 2, 1001, "aeron:ipc")) +
      rec(0, channel_cmd(1, 3, 1001, "aeron:ipc?term-length=64k")) +
      rec(2, channel_cmd(1, 4, 1001, "aeron:ipc?session-id=9|mtu=1408")) +
      rec(1, remove_cmd(1, 5, 3)) + rec(4, remove_cmd(1, 6, 2)) + rec(6, corr_cmd(1, 7)))
write("driver_commands", "seed-udp",
      rec(3, channel_cmd(1, 2, 1001, "aeron:udp?endpoint=127.0.0.1:0")) +
      rec(0, channel_cmd(1, 3, 1001, "aeron:udp?endpoint=127.0.0.1:0|session-id=5")) +
      rec(2, channel_cmd(1, 4, 1002, "aeron:udp?control=127.0.0.1:0|control-mode=dynamic")) +
      rec(2, channel_cmd(1, 5, 1003, "aeron:udp?control-mode=manual")) + rec(6, corr_cmd(1, 6)))
write("driver_commands", "seed-bad",
      rec(3, channel_cmd(1, 2, 1001, "aeron:bogus")) + rec(0, struct.pack("<qqii", 1, 3, 1001, 5000)) +
      rec(0xF8, corr_cmd(1, 4)) + rec(1, corr_cmd(1, 5)) + rec(5, b"\1"))
write("driver_commands", "seed-two-clients",
      rec(0, channel_cmd(1, 2, 7, "aeron:ipc")) + rec(3, channel_cmd(2, 3, 7, "aeron:ipc")) +
      rec(6, corr_cmd(2, 4)) + rec(4, remove_cmd(1, 5, 3)))

# ---- udp_frames: records of <u8 flags><u16 length><datagram>; flags bit 0: to the publication ----
# Stream 1001, session 7; term ids relative to the initial term id (the harness adds it).
TO_RECEIVER, TO_SENDER = 0, 1
write("udp_frames", "seed-data",
      rec(TO_RECEIVER, aligned(data_frame(0, 7, 1001, 0, b"hello"))) +
      rec(TO_RECEIVER, aligned(data_frame(64, 7, 1001, 0, b"A" * 40, flags=BEGIN)) +
          aligned(data_frame(160, 7, 1001, 0, b"B" * 8, flags=END))) +
      rec(TO_RECEIVER, data_frame(0, 7, 1001, 0, flags=0, length=0)))
write("udp_frames", "seed-gap-and-pad",
      rec(TO_RECEIVER, aligned(data_frame(4096, 7, 1001, 0, b"after a gap"))) +
      rec(TO_RECEIVER, data_frame(65536 - 1024, 7, 1001, 0, ftype=PAD, flags=0, length=1024)))
write("udp_frames", "seed-setup-rttm",
      rec(TO_RECEIVER, setup_frame(0, 7, 1001, 0, 0, 65536, 1408)) +
      rec(TO_RECEIVER, setup_frame(0, 9, 1001, 0, 2, 65536, 1408)) +
      rec(TO_RECEIVER, rttm_frame(7, 1001, 123456, 10, 99, flags=0x80)))
write("udp_frames", "seed-control",
      rec(TO_SENDER, sm_frame(7, 1001, 0, 0, 128 * 1024, 1)) +
      rec(TO_SENDER, sm_frame(0, 1001, 0, 0, 0, 2, flags=0x80)) +
      rec(TO_SENDER, nak_frame(7, 1001, 0, 0, 1024)) +
      rec(TO_SENDER, rttm_frame(7, 1001, 5, 0, 1)) +
      rec(TO_SENDER, err_frame(7, 1001, 1, 0, 3, "nope")))
# Response setup (docs/response-channels.md): to a publication that asked for no response channel, truncated,
# with a frame length beyond the datagram, and at a receiver (harmless there).
write("udp_frames", "seed-response-setup",
      rec(TO_SENDER, rsp_setup_frame(7, 1001, 12345)) +
      rec(TO_SENDER, rsp_setup_frame(7, 1001, 12345)[:12]) +
      rec(TO_SENDER, rsp_setup_frame(7, 1001, 12345, length=64)) +
      rec(TO_RECEIVER, rsp_setup_frame(7, 1001, 12345)) +
      rec(TO_SENDER, sm_frame(7, 1001, 0, 0, 128 * 1024, 1)))
# selector 0xEF: raw bytes at the ring's tail (record header <i32 length><i32 type> included)
write("driver_commands", "seed-raw-ring",
      rec(5, corr_cmd(1, 0)) + rec(0xEF, struct.pack("<ii", 8 + 16, 6) + corr_cmd(1, 0)) +
      rec(0xEF, struct.pack("<ii", 8 + 24 + 9, 4) + channel_cmd(1, 9, 5, "aeron:ipc")) +
      rec(0xEF, struct.pack("<ii", 4000, 1) + b"\0" * 24))
# selector 7 ADD_DESTINATION, 8 REMOVE_DESTINATION (manual MDC publications)
def destination_cmd(client, corr, reg, channel):
    c = channel.encode()
    return struct.pack("<qqqi", client, corr, reg, len(c)) + c


write("driver_commands", "seed-mdc-manual",
      rec(2, channel_cmd(1, 4, 1003, "aeron:udp?control-mode=manual")) +
      rec(7, destination_cmd(1, 5, 4, "aeron:udp?endpoint=127.0.0.1:0")) +
      rec(8, destination_cmd(1, 6, 4, "aeron:udp?endpoint=127.0.0.1:0")) +
      rec(7, destination_cmd(1, 7, 99, "aeron:udp?endpoint=127.0.0.1:0")) + rec(6, corr_cmd(1, 8)))
# flags bit 2: stream 1002, whose subscription is reliable=false
UNRELIABLE = 4
write("udp_frames", "seed-unreliable",
      rec(TO_RECEIVER | UNRELIABLE, aligned(data_frame(0, 7, 1002, 0, b"first"))) +
      rec(TO_RECEIVER | UNRELIABLE, aligned(data_frame(8192, 7, 1002, 0, b"after a gap"))) +
      rec(TO_SENDER | UNRELIABLE, nak_frame(7, 1002, 0, 64, 1024)) +
      rec(TO_SENDER | UNRELIABLE, sm_frame(7, 1002, 0, 0, 128 * 1024, 3)))


# ---- counters and error log (util/shoal_counters.h, util/shoal_error_log.h) ----
# fuzz_counters_errors input: <B counters-1><B flags><H error log length/8 - 1><q since_ms>, then the metadata
# records, the value records, the error log. flags bits 0-1: metadata records 0 as many as values, 1 one more,
# 2 one less; bits 2-3: shoal-stat --once with 0 the counter list, 1 --loss, 2 --json; bit 4: shoal-errors --json.
def counter_metadata(label, type_id, state=1, key=b"", label_length=None):
    lab = label.encode()
    if label_length is None:
        label_length = len(lab)
    return (struct.pack("<iiq", state, type_id, 0) + key.ljust(112, b"\0") + struct.pack("<i", label_length) +
            lab.ljust(380, b"\0")[:380])


def counter_value(value, registration_id=0, owner_id=0):
    return struct.pack("<qqq", value, registration_id, owner_id).ljust(128, b"\0")


def error_record(count, first_ms, last_ms, code, text):
    t = text.encode()
    r = struct.pack("<iiqqi", 28 + len(t), count, last_ms, first_ms, code) + t
    return r + b"\0" * (-len(r) % 8)


def counters_errors(counters, errors, metadata_records=0, log_length=1024, since_ms=0, modes=0):
    """counters: (label, type_id) or (label, type_id, {metadata field overrides})."""
    n = len(counters)
    meta = b"".join(counter_metadata(c[0], c[1], **(c[2] if len(c) > 2 else {})) for c in counters)
    values = b"".join(counter_value(7 * i, i, 1) for i in range(n))
    log = b"".join(error_record(*e) for e in errors)
    head = struct.pack("<BBHq", n - 1, metadata_records | modes, log_length // 8 - 1, since_ms)
    if metadata_records == 1:
        meta += b"\0" * 512
    return head + meta + values + log.ljust(log_length, b"\0")


UDP_URI = "aeron:udp?endpoint=127.0.0.1:40123"
DRIVER_COUNTERS = ([("Bytes sent", 0), ("Bytes received", 0), ("Errors", 0),
                       ("snd-channel NAKs received: " + UDP_URI, 6), ("rcv-channel NAKs sent: " + UDP_URI, 7),
                       ("pub-pos: 12 7 1001 " + UDP_URI, 2), ("snd-pos: 12 7 1001 " + UDP_URI, 12),
                       ("snd-lmt: 12 7 1001 " + UDP_URI, 9), ("snd-bpe: 12 7 1001 " + UDP_URI, 13),
                       ("rcv-hwm: 14 7 1001 " + UDP_URI + " @127.0.0.1:5555", 3),
                       ("rcv-pos: 14 7 1001 " + UDP_URI + " @127.0.0.1:5555", 5),
                       ("sub-pos: 15 7 1001 " + UDP_URI + " @127.0.0.1:5555", 4),
                       ("pub-lmt: 16 9 1002 aeron:ipc", 1), ("client-heartbeat: 3", 11)],
                      [(3, 1700000000000, 1700000001000, 4, "bind failed: address in use"),
                       (1, 1700000000500, 1700000000500, 6, "unknown command \"x\\y\"\n\x01")])
for name, modes in (("list", 0), ("loss", 4), ("json", 8 | 16)):
    write("counters_errors", "seed-driver-" + name, counters_errors(*DRIVER_COUNTERS, modes=modes))
write("counters_errors", "seed-hostile-lengths",
      counters_errors([("label longer than it says", 0, {"label_length": 400}),
                       ("negative", 0, {"label_length": -5}), ("reclaimed", 2, {"state": -1}),
                       ("odd state", 1, {"state": 7, "key": b"\xff" * 112})],
                      [(1, 0, 0, 0, ""), (2, -1, -(2 ** 62), -3, "x" * 40)], metadata_records=2, log_length=128,
                      since_ms=-1))
write("counters_errors", "seed-empty", struct.pack("<BBHq", 0, 1, 0, 0))
# the largest input the target takes: 32 counters with full labels, an 8 KiB log of records
write("counters_errors", "seed-full",
      counters_errors([("rcv-pos: %d 7 1001 %s @127.0.0.1:%d" % (i, UDP_URI + "|x=" + "y" * 300, i), 5)
                       for i in range(32)],
                      [(i + 1, i, 2 * i, i, "error %d " % i + "z" * (i * 7)) for i in range(40)], log_length=8192,
                      modes=4))


# ---- archive (core/src/archive/shoal_archive_format.h) ----
def catalog_header(major=1, minor=0):
    return (b"SHOALCAT" + struct.pack("<iiiiq", major, minor, 2048, 2048, 1700000000000000000)).ljust(2048, b"\0")


def catalog_record(rid, start=0, stop=-1, state=1, version=1, channel=b"aeron:ipc", source=b"",
                   term_length=65536, segment_length=131072, mtu=1408, seal=True):
    body = struct.pack("<iiiqqqqqiiiiiiii", state, version, 0, rid, start, stop, 1700000000000000000,
                       -1 if stop < 0 else 1700000001000000000, 7, term_length, mtu, segment_length, 5, 1001,
                       len(channel), len(source))
    body += channel.ljust(1024, b"\0") + source.ljust(256, b"\0")
    body = body.ljust(2044, b"\0")
    crc = zlib.crc32(body) if seal else 0x12345678
    return struct.pack("<I", crc) + body


write("archive_catalog", "seed-empty", b"\0" + catalog_header())
write("archive_catalog", "seed-two-recordings",
      b"\0" + catalog_header() + catalog_record(0, stop=4096) + catalog_record(1, start=64, source=b"src"))
write("archive_catalog", "seed-purged-and-active",
      b"\2" + catalog_header() + catalog_record(0, state=2, stop=0) + catalog_record(1) + b"\0" * 2048)
write("archive_catalog", "seed-bad-crc-resealed", b"\1" + catalog_header() +
      catalog_record(0, stop=33, term_length=1000, seal=False))
write("archive_catalog", "seed-future-major", b"\0" + catalog_header(major=2) + catalog_record(0))


def archive_segment(mode, stop, frames, index=b""):
    return struct.pack("<BiH", mode, stop, len(index)) + index + frames


def recorded_term(messages, term_id=7, start=0, mtu=1408):
    """Frames as the log holds them from position `start` (session 5, stream 1001)."""
    out = b""
    pos = start
    for seq, length in enumerate(messages):
        payload = bytes((seq + i) & 0xFF for i in range(length))
        chunks = [payload[i:i + mtu - 32] for i in range(0, max(len(payload), 1), mtu - 32)] or [b""]
        for k, chunk in enumerate(chunks):
            flags = (BEGIN if k == 0 else 0) | (END if k == len(chunks) - 1 else 0)
            frame = aligned(data_frame(pos % 65536, 5, 1001, term_id + pos // 65536, chunk, flags=flags))
            out += frame
            pos += len(frame)
    return out, pos


frames, end = recorded_term([8, 100, 0, 3000, 24] * 4)
index = struct.pack("<qqqq", end // 2 // 32 * 32, 10, end, 20)
write("archive_segment", "seed-stopped", archive_segment(0, end, frames, index))
write("archive_segment", "seed-active-torn", archive_segment(1, 0, frames + b"\0\0\0\0" + frames[4:200], index))
frames64, end64 = recorded_term([50] * 30, start=64)
write("archive_segment", "seed-start-64", archive_segment(1 | 4, 0, b"\0" * 64 + frames64))
# a message that does not fit before the term end: PAD to the end, the next in term 8
head, pos = recorded_term([1000] * 64)
pad = data_frame(pos, 5, 1001, 7, flags=BEGIN | END, ftype=PAD, length=65536 - pos)
tail, _ = recorded_term([200] * 5, start=65536)
write("archive_segment", "seed-pad-to-term-end",
      archive_segment(1, 0, head + aligned(pad) + b"\0" * (65536 - pos - 32) + tail))
