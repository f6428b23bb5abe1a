#!/usr/bin/python3
"""Hostile Aeron-format frames from a foreign socket (stdlib only), for
tests/system/test_udp_hostile.sh. Each attack prints one line of JSON with
what it sent and what came back.

  setup-flood ENDPOINT STREAM COUNT RATE   SETUPs of COUNT distinct sessions at RATE/s
  nak-flood   SENDER SESSION STREAM COUNT  spoofed NAKs, each for a whole term; counts
                                           the bytes resent to this socket
  foreign     ENDPOINT SESSION STREAM      DATA, PAD and an EOS heartbeat for a live session
ADDRESS is host:port."""
import json
import socket
import struct
import sys
import time

HDR_PAD, HDR_DATA, HDR_NAK, HDR_SETUP = 0x00, 0x01, 0x02, 0x05
FLAG_UNFRAGMENTED, FLAG_EOS = 0xC0, 0x20


def address(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def setup_frame(session, stream, term_length=64 * 1024, mtu=1408):
    # frame length, version, flags, type; term offset, session, stream, initial/active term, term length, mtu, ttl
    return struct.pack("<iBBHiiiiiiii", 40, 0, 0, HDR_SETUP, 0, session, stream, 7, 7, term_length, mtu, 0)


def data_frame(kind, flags, session, stream, term_offset, term_id, payload=b""):
    length = 32 + len(payload) if kind == HDR_DATA else 128
    if flags & FLAG_EOS:
        length = 0
    return struct.pack("<iBBHiiiiq", length, 0, flags, kind, term_offset, session, stream, term_id, 0) + payload


def nak_frame(session, stream, term_id, term_offset, length):
    return struct.pack("<iBBHiiiii", 28, 0, 0, HDR_NAK, session, stream, term_id, term_offset, length)


def foreign_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    return s


def setup_flood(endpoint, stream, count, rate):
    s = foreign_socket()
    start = time.monotonic()
    for i in range(count):
        # Paced: i-th SETUP at i/rate seconds.
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        s.sendto(setup_frame(2000000 + i, stream), endpoint)
    return {"attack": "setup-flood", "sent": count, "seconds": round(time.monotonic() - start, 3)}


def bytes_back(s, quiet_s):
    total = 0
    s.settimeout(quiet_s)
    try:
        while True:
            total += len(s.recv(65536))
    except socket.timeout:
        return total


def nak_flood(sender, session, stream, count):
    s = foreign_socket()
    # The term id is unknown to an off-path attacker; try a spread of them.
    for i in range(count):
        s.sendto(nak_frame(session, stream, i % 64, 0, 16 * 1024 * 1024), sender)
    return {"attack": "nak-flood", "sent": count, "bytes_back": bytes_back(s, 0.5)}


def foreign(endpoint, session, stream):
    s = foreign_socket()
    frames = [data_frame(HDR_DATA, FLAG_UNFRAGMENTED, session, stream, 0, 0, b"forged!!"),
              data_frame(HDR_PAD, FLAG_UNFRAGMENTED, session, stream, 0, 0),
              data_frame(HDR_DATA, FLAG_UNFRAGMENTED | FLAG_EOS, session, stream, 0, 0)]
    for f in frames:
        s.sendto(f, endpoint)
    return {"attack": "foreign", "sent": len(frames)}


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == "setup-flood":
        out = setup_flood(address(argv[2]), int(argv[3]), int(argv[4]), float(argv[5]))
    elif cmd == "nak-flood":
        out = nak_flood(address(argv[2]), int(argv[3]), int(argv[4]), int(argv[5]))
    elif cmd == "foreign":
        out = foreign(address(argv[2]), int(argv[3]), int(argv[4]))
    else:
        sys.exit(__doc__)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv)
