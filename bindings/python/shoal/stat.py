"""``python -m shoal.stat``: a running driver's counters, read from its CnC file.

A pure-Python reader of the documented layout (core/src/protocol/shoal_cnc_descriptor.h,
core/src/util/shoal_counters.h, core/src/concurrent/shoal_ring_buffer_descriptor.h);
the file is mapped read-only, so the driver is never disturbed. Same output as the
``shoal-stat`` tool::

    python -m shoal.stat [-d DIR] [--once] [--json] [-i INTERVAL_MS] [-n ITERATIONS]

Use from code::

    from shoal.stat import CncReader
    with CncReader("/dev/shm/my-app") as cnc:
        for c in cnc.counters():
            print(c.id, c.label, c.value)
"""
from __future__ import annotations

import argparse
import json
import mmap
import os
import struct
import sys
import time
from typing import Dict, Iterator, List, NamedTuple, Optional

CNC_FILE = "cnc.dat"
CNC_VERSION = 0x00010000          # major << 16 | minor << 8 | patch
CNC_HEADER_LENGTH = 4096
# int32 cnc_version, to_driver, to_clients, counters_metadata, counters_values, error_log
# lengths; int64 client_liveness_timeout_ms, driver_timeout_ms, start_timestamp_ms, pid
_CNC_META = struct.Struct("<6i4q")

COUNTER_METADATA_LENGTH = 512
COUNTER_VALUE_LENGTH = 128
COUNTER_STATE_UNUSED = 0
COUNTER_STATE_ALLOCATED = 1
COUNTER_STATE_RECLAIMED = -1
COUNTER_TYPE_ID_OFFSET = 4
COUNTER_KEY_OFFSET = 16
COUNTER_MAX_KEY_LENGTH = 112
COUNTER_LABEL_LENGTH_OFFSET = 128
COUNTER_LABEL_OFFSET = 132
COUNTER_MAX_LABEL_LENGTH = 380
COUNTER_REGISTRATION_ID_OFFSET = 8
COUNTER_OWNER_ID_OFFSET = 16

CACHE_PAD_LENGTH = 128
RB_TRAILER_LENGTH = 5 * CACHE_PAD_LENGTH
RB_CONSUMER_HEARTBEAT_OFFSET = 4 * CACHE_PAD_LENGTH  # in the trailer

#: Counter type ids (shoal_counters.h).
COUNTER_TYPES = {
    0: "system",
    1: "publisher-limit",
    2: "publisher-position",
    3: "receiver-hwm",
    4: "subscriber-position",
    5: "receiver-position",
    9: "sender-limit",
    11: "client-heartbeat",
    12: "sender-position",
    13: "sender-bpe",
}


class CncError(Exception):
    """The directory has no (valid) CnC file."""


class Counter(NamedTuple):
    id: int
    type_id: int
    label: str
    value: int
    registration_id: int
    owner_id: int
    key: bytes


class CncReader:
    """Maps ``<dir>/cnc.dat`` read-only and reads the driver's counters."""

    def __init__(self, directory: Optional[str] = None) -> None:
        self.dir = directory or os.environ.get("SHOAL_DIR") or default_dir()
        path = os.path.join(self.dir, CNC_FILE)
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise CncError("no driver: %s does not exist" % path) from None
        try:
            size = os.fstat(fd).st_size
            if size < CNC_HEADER_LENGTH:
                raise CncError("%s is too short (%d bytes): driver starting?" % (path, size))
            self._map = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ)
        finally:
            os.close(fd)
        (self.cnc_version, self.to_driver_length, self.to_clients_length, self.counters_metadata_length,
         self.counters_values_length, self.error_log_length, self.client_liveness_timeout_ms,
         self.driver_timeout_ms, self.start_timestamp_ms, self.pid) = _CNC_META.unpack_from(self._map, 0)
        if (self.cnc_version >> 16) != (CNC_VERSION >> 16):
            self.close()
            raise CncError("%s: CnC version 0x%08x, this reader knows 0x%08x" % (path, self.cnc_version, CNC_VERSION))
        self.to_driver_offset = CNC_HEADER_LENGTH
        self.to_clients_offset = self.to_driver_offset + self.to_driver_length
        self.counters_metadata_offset = self.to_clients_offset + self.to_clients_length
        self.counters_values_offset = self.counters_metadata_offset + self.counters_metadata_length
        self.error_log_offset = self.counters_values_offset + self.counters_values_length
        end = self.error_log_offset + self.error_log_length
        if end > size:
            self.close()
            raise CncError("%s: header describes %d bytes, file has %d" % (path, end, size))
        self.max_counter_id = min(self.counters_metadata_length // COUNTER_METADATA_LENGTH,
                                  self.counters_values_length // COUNTER_VALUE_LENGTH)

    # -- context manager -------------------------------------------------
    def close(self) -> None:
        m = getattr(self, "_map", None)
        if m is not None:
            self._map = None
            m.close()

    def __enter__(self) -> "CncReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads -----------------------------------------------------------
    def _i32(self, offset: int) -> int:
        return struct.unpack_from("<i", self._map, offset)[0]

    def _i64(self, offset: int) -> int:
        return struct.unpack_from("<q", self._map, offset)[0]

    def heartbeat_ms(self) -> int:
        """Epoch ms of the driver conductor's last duty cycle (to-driver ring trailer)."""
        trailer = self.to_driver_offset + self.to_driver_length - RB_TRAILER_LENGTH
        return self._i64(trailer + RB_CONSUMER_HEARTBEAT_OFFSET)

    def heartbeat_age_ms(self) -> int:
        return int(time.time() * 1000) - self.heartbeat_ms()

    def is_alive(self) -> bool:
        return self.heartbeat_age_ms() <= self.driver_timeout_ms

    def counters(self) -> Iterator[Counter]:
        """Every ALLOCATED counter, in id order (the first UNUSED record ends the scan)."""
        if self._map is None:
            raise CncError("reader is closed")
        meta0 = self.counters_metadata_offset
        values0 = self.counters_values_offset
        for cid in range(self.max_counter_id):
            meta = meta0 + cid * COUNTER_METADATA_LENGTH
            state = self._i32(meta)
            if state == COUNTER_STATE_UNUSED:
                break
            if state != COUNTER_STATE_ALLOCATED:
                continue
            type_id = self._i32(meta + COUNTER_TYPE_ID_OFFSET)
            label_length = max(0, min(self._i32(meta + COUNTER_LABEL_LENGTH_OFFSET), COUNTER_MAX_LABEL_LENGTH))
            label = bytes(self._map[meta + COUNTER_LABEL_OFFSET:meta + COUNTER_LABEL_OFFSET + label_length])
            key = bytes(self._map[meta + COUNTER_KEY_OFFSET:meta + COUNTER_KEY_OFFSET + COUNTER_MAX_KEY_LENGTH])
            value_at = values0 + cid * COUNTER_VALUE_LENGTH
            yield Counter(cid, type_id, label.decode("utf-8", "replace"), self._i64(value_at),
                          self._i64(value_at + COUNTER_REGISTRATION_ID_OFFSET),
                          self._i64(value_at + COUNTER_OWNER_ID_OFFSET), key)

    def counter_values(self) -> Dict[str, int]:
        """{label: value} of every allocated counter (later duplicates get ' #id')."""
        out: Dict[str, int] = {}
        for c in self.counters():
            name = c.label if c.label not in out else "%s #%d" % (c.label, c.id)
            out[name] = c.value
        return out


def default_dir() -> str:
    user = os.environ.get("USER")
    if not user:
        try:
            import pwd
            user = pwd.getpwuid(os.getuid()).pw_name
        except (ImportError, KeyError):
            user = "default"
    return "/dev/shm/shoal-%s" % user


def _print_text(reader: CncReader, counters: List[Counter], rates: Dict[int, float], clear: bool) -> None:
    if clear:
        sys.stdout.write("\033[H\033[2J")
    age = reader.heartbeat_age_ms()
    when = time.strftime("%Y-%m-%d %H:%M:%S")
    sys.stdout.write("shoal-stat %s  %s  driver pid %d  heartbeat %d ms ago%s\n" % (
        when, reader.dir, reader.pid, age, "  (DRIVER NOT RESPONDING)" if age > reader.driver_timeout_ms else ""))
    sys.stdout.write("%4s  %20s %14s  %s\n" % ("id", "value", "rate", "label"))
    for c in counters:
        sys.stdout.write("%4d: %20d %12.0f/s  %s\n" % (c.id, c.value, rates.get(c.id, 0.0), c.label))


def _print_json(reader: CncReader, counters: List[Counter], rates: Dict[int, float]) -> None:
    age = reader.heartbeat_age_ms()
    doc = {
        "dir": reader.dir,
        "pid": reader.pid,
        "heartbeat_age_ms": age,
        "alive": age <= reader.driver_timeout_ms,
        "counters": [{"id": c.id, "type": c.type_id, "value": c.value, "rate_per_s": round(rates.get(c.id, 0.0), 1),
                      "label": c.label} for c in counters],
    }
    sys.stdout.write(json.dumps(doc) + "\n")  # one JSON document per line and refresh


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shoal.stat",
                                     description="Shows a running driver's counters and their rates.")
    parser.add_argument("-d", "--dir", help="driver directory (default $SHOAL_DIR or /dev/shm/shoal-$USER)")
    parser.add_argument("-o", "--once", action="store_true", help="print once and exit")
    parser.add_argument("-j", "--json", action="store_true", help="JSON output")
    parser.add_argument("-i", "--interval", type=int, default=1000, help="refresh interval in ms (default 1000)")
    parser.add_argument("-n", "--iterations", type=int, default=-1, help="stop after N refreshes")
    args = parser.parse_args(argv)
    if args.interval < 10:
        parser.error("interval must be at least 10 ms")
    try:
        reader = CncReader(args.dir)
    except CncError as e:
        sys.stderr.write("shoal.stat: %s\n" % e)
        return 1
    previous: Dict[int, int] = {}
    last = 0.0
    n = 0
    try:
        with reader:
            while args.iterations < 0 or n < args.iterations:
                now = time.monotonic()
                seconds = now - last if last else 0.0
                last = now
                counters = list(reader.counters())
                rates = {c.id: (c.value - previous.get(c.id, c.value)) / seconds if seconds > 0 else 0.0
                         for c in counters}
                previous = {c.id: c.value for c in counters}
                if args.json:
                    _print_json(reader, counters, rates)
                else:
                    _print_text(reader, counters, rates, clear=not args.once)
                sys.stdout.flush()
                n += 1
                if args.once:
                    break
                time.sleep(args.interval / 1000.0)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
