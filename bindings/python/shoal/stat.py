"""``python -m shoal.stat``: a running driver's counters, read from its CnC file.

Reads through the C library's public monitoring API (``shoal_cnc_*`` in shoal.h,
exposed as ``shoal._shoal.Cnc``): nothing here knows the file's layout. The file is
mapped read-only, so the driver is never disturbed. Same output as the
``shoal-stat`` tool::

    python -m shoal.stat [-d DIR] [--once] [--json] [-i INTERVAL_MS] [-n ITERATIONS]

Use from code::

    from shoal.stat import CncReader
    with CncReader("/dev/shm/my-app") as cnc:
        for c in cnc.counters():
            print(c.id, c.label, c.value)
        for e in cnc.loss():          # the driver's loss report (gaps per stream and source)
            print(e.stream_id, e.source, e.observations, e.bytes_lost)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Dict, Iterator, List, NamedTuple, Optional

from . import _shoal

#: Counter type ids (SHOAL_COUNTER_TYPE_* in shoal.h).
COUNTER_TYPES = {
    0: "system",
    1: "publisher-limit",
    2: "publisher-position",
    3: "receiver-hwm",
    4: "subscriber-position",
    5: "receiver-position",
    6: "send-channel",
    7: "receive-channel",
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


class DriverErrorRecord(NamedTuple):
    count: int
    first_ms: int
    last_ms: int
    code: int
    text: str


class LossEntry(NamedTuple):
    observations: int
    bytes_lost: int
    first_ms: int
    last_ms: int
    session_id: int
    stream_id: int
    channel: str
    source: str


class CncReader:
    """A driver's CnC file mapped read-only (``shoal_cnc_open``)."""

    def __init__(self, directory: Optional[str] = None) -> None:
        self.dir = directory or os.environ.get("SHOAL_DIR") or default_dir()
        try:
            self._cnc: Optional[_shoal.Cnc] = _shoal.Cnc(self.dir)
        except _shoal.NoDriverError as e:
            raise CncError("no driver: %s" % e) from None
        except _shoal.ShoalError as e:
            raise CncError(str(e)) from None
        self.pid = self._cnc.pid
        self.driver_timeout_ms = self._cnc.driver_timeout_ns // 1000000

    def close(self) -> None:
        cnc, self._cnc = self._cnc, None
        if cnc is not None:
            cnc.close()

    def __enter__(self) -> "CncReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _handle(self) -> "_shoal.Cnc":
        if self._cnc is None:
            raise CncError("reader is closed")
        return self._cnc

    def heartbeat_age_ms(self) -> int:
        return self._handle().heartbeat_age_ns() // 1000000

    def is_alive(self) -> bool:
        return self.heartbeat_age_ms() <= self.driver_timeout_ms

    def counters(self) -> Iterator[Counter]:
        """Every allocated counter, in id order."""
        return iter([Counter(*c) for c in self._handle().counters()])

    def counter_values(self) -> Dict[str, int]:
        """{label: value} of every allocated counter (later duplicates get ' #id')."""
        out: Dict[str, int] = {}
        for c in self.counters():
            name = c.label if c.label not in out else "%s #%d" % (c.label, c.id)
            out[name] = c.value
        return out

    def errors(self) -> List[DriverErrorRecord]:
        """The driver's distinct errors (count, first/last time in epoch ms, code, text)."""
        return [DriverErrorRecord(*e) for e in self._handle().errors()]

    def loss(self) -> List[LossEntry]:
        """The driver's loss report: one entry per image (session, stream, channel, source) that saw a gap."""
        return [LossEntry(*e) for e in self._handle().loss()]


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
