"""The archive (docs/archive.md), offline: an archive directory read with no driver and no server.

    import numpy as np
    import shoal.archive

    with shoal.archive.open("/var/lib/shoal/archive") as arc:
        for d in arc.recordings():              # RecordingDescriptor named tuples
            print(d.recording_id, d.channel, d.stream_id, d.start_position, d.stop_position)
        quotes = arc.read_records(0, np.dtype([("seq", "<i8"), ("px", "<f8"), ...]))  # a numpy array
        for view, header in arc.messages(1):      # messages of any length
            ...

``read_records`` maps the segment files: when every message of the recording is a
single frame of ``dtype.itemsize`` bytes and there is no padding (a term length that is
a multiple of the aligned frame, e.g. 32-byte records in 64-byte frames), the array is a
read-only strided view of the mapping, no copy; otherwise the messages are copied once
into a new array. A recording still being written reads as far as it is written.

Through a running archive server instead (recording, replay, replay merge):
:class:`shoal.Archive` and :class:`shoal.ArchiveServer`.
"""
from __future__ import annotations

import os
from typing import Union

from ._shoal import ArchiveReader, RecordingCursor, RecordingDescriptor, UnknownRecordingError  # noqa: F401

__all__ = ["open", "ArchiveReader", "RecordingCursor", "RecordingDescriptor", "UnknownRecordingError"]


def open(archive_dir: Union[str, "os.PathLike[str]"]) -> ArchiveReader:  # noqa: A001 - the documented name
    """Opens ``archive_dir`` read-only (no driver): an :class:`ArchiveReader`, a context manager.

    Raises :class:`shoal.ShoalIOError` when the directory holds no readable catalog.
    """
    return ArchiveReader(os.fspath(archive_dir))
