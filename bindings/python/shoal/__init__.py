"""shoal: low-latency messaging over shared memory (and UDP), Aeron style.

Quick start (one process, embedded driver)::

    import shoal

    with shoal.Context(dir="/dev/shm/my-app", dir_delete_on_shutdown=True) as ctx, \\
            shoal.Driver(ctx), shoal.Client(ctx) as client:
        sub = client.add_subscription("aeron:ipc", 1001)
        pub = client.add_publication("aeron:ipc", 1001)
        pub.wait_connected(timeout=5)
        pub.offer(b"hello", timeout=1.0)          # any buffer: bytes, bytearray, numpy ...
        with pub.try_claim(8) as buf:             # zero copy: buf is a writable view of the log
            buf[:] = b"12345678"
        for view, header in sub.poll_batch(256, timeout=1.0):
            print(bytes(view), header.position)

Which offer to use
  * ``pub.offer(data)`` raises a typed exception when it cannot publish now:
    :class:`BackPressured`, :class:`NotConnected`, :class:`AdminAction`,
    :class:`MaxPositionExceeded` (all :class:`OfferError`), :class:`ClosedError`.
    Right for ordinary code.
  * ``pub.offer(data, timeout=0.5)`` retries for up to that many seconds with the GIL
    released (other threads run, Ctrl-C works) and raises only if it still fails.
  * ``pub.offer_nowait(data)`` returns the raw C result -- the new position (> 0) or
    :data:`NOT_CONNECTED`, :data:`BACK_PRESSURED`, :data:`ADMIN_ACTION`, :data:`CLOSED`,
    :data:`MAX_POSITION_EXCEEDED` -- and never raises for those: for hot loops where an
    exception per back-pressured attempt costs too much.

Views and their lifetime
  Poll handlers receive a read-only ``memoryview`` into the log, valid only during the
  call; ``poll_batch`` views are valid until the next poll on the same subscription.
  Views a handler or caller still holds then are released (using them raises
  ``ValueError``), but slices and numpy arrays made from them are not tracked: copy
  (``bytes(view)``) anything that must live longer.

Threads
  The GIL is released while the extension waits (connect, add_*, close, ``offer(...,
  timeout=)``, ``poll*(..., timeout=)``, ``wait_connected``). Concurrent publications
  take offers from any number of threads; a subscription is polled by one thread at a
  time (a second poller gets :class:`InvalidStateError`).

Image handlers
  ``client.add_subscription(uri, stream_id, on_available=f, on_unavailable=g)`` calls
  ``f(image)`` when a publication session becomes visible to the subscription and
  ``g(image)`` when it goes away (an :class:`Image`: session_id, stream_id,
  correlation_id, source_identity, join_position, position, is_closed). They run on the
  client's conductor thread, a non-Python thread (the GIL is taken) -- or, with
  ``Client(ctx, invoker=True)``, inside ``client.do_work()`` on the calling thread -- or,
  for images still there at close, on the thread closing the subscription or client. An exception
  in a handler goes to ``sys.unraisablehook``; the client goes on. Handlers must not add
  or close anything (``InvalidStateError``).

Archive
  ``shoal.ArchiveServer(ctx, dir)`` runs an archive server in this process and
  ``shoal.Archive(client)`` controls one (record, list, replay, replay merge, truncate,
  purge); ``shoal.archive.open(dir)`` reads an archive directory offline (no driver): its
  recordings, their messages, and fixed-size records as numpy arrays
  (:mod:`shoal.archive`, docs/archive.md).

The complete low-level C API is available as :mod:`shoal._swig` (SWIG-generated).
"""
from ._shoal import (  # noqa: F401
    ACTION_ABORT,
    ACTION_BREAK,
    ACTION_COMMIT,
    ACTION_CONTINUE,
    ADMIN_ACTION,
    BACK_PRESSURED,
    CLOSED,
    EACTIVE,
    ECLASH,
    ECLOSED,
    EDRIVER,
    EINVAL,
    EIO,
    EMSGSIZE,
    ENODRIVER,
    ENOMEM,
    ERROR,
    ESTATE,
    ETIMEDOUT,
    EURI,
    FLAG_BEGIN,
    FLAG_END,
    FLAG_EOS,
    MAX_POSITION_EXCEEDED,
    NOT_CONNECTED,
    OK,
    VERSION_NUMBER,
    AdminAction,
    Archive,
    ArchiveReader,
    ArchiveServer,
    BackPressured,
    Claim,
    ClashError,
    Client,
    ClosedError,
    Context,
    Driver,
    DriverActiveError,
    DriverError,
    Header,
    Image,
    InvalidArgument,
    InvalidStateError,
    MaxPositionExceeded,
    MessageTooLarge,
    NoDriverError,
    NotConnected,
    OfferError,
    OutOfMemory,
    Publication,
    RecordingCursor,
    RecordingDescriptor,
    ReplayMerge,
    ShoalError,
    ShoalIOError,
    Subscription,
    TimeoutError,
    UnknownRecordingError,
    UriError,
    last_error,
    raise_for_code,
    version,
)

#: Alias of :class:`ClosedError`.
Closed = ClosedError

__version__ = version()

#: Names of the offer results, for messages and logs.
RESULT_NAMES = {
    NOT_CONNECTED: "NOT_CONNECTED",
    BACK_PRESSURED: "BACK_PRESSURED",
    ADMIN_ACTION: "ADMIN_ACTION",
    CLOSED: "CLOSED",
    MAX_POSITION_EXCEEDED: "MAX_POSITION_EXCEEDED",
    ERROR: "ERROR",
}


def result_name(result: int) -> str:
    """Name of an ``offer_nowait`` result: ``'POSITION'`` for a position, else the code's name."""
    if result >= 0:
        return "POSITION"
    return RESULT_NAMES.get(result, "UNKNOWN(%d)" % result)


__all__ = [
    "Context", "Driver", "Client", "Publication", "Subscription", "Claim", "Header", "Image",
    "ShoalError", "OfferError", "NotConnected", "BackPressured", "AdminAction", "MaxPositionExceeded",
    "ClosedError", "Closed", "InvalidArgument", "UriError", "MessageTooLarge", "OutOfMemory", "ShoalIOError",
    "TimeoutError", "DriverError", "ClashError", "NoDriverError", "DriverActiveError", "InvalidStateError",
    "NOT_CONNECTED", "BACK_PRESSURED", "ADMIN_ACTION", "CLOSED", "MAX_POSITION_EXCEEDED", "ERROR",
    "FLAG_BEGIN", "FLAG_END", "FLAG_EOS", "ACTION_ABORT", "ACTION_BREAK", "ACTION_COMMIT", "ACTION_CONTINUE",
    "version", "last_error", "raise_for_code", "result_name", "RESULT_NAMES", "__version__",
    "ArchiveReader", "RecordingCursor", "RecordingDescriptor", "UnknownRecordingError", "Archive", "ArchiveServer",
    "ReplayMerge",
]

from . import archive  # noqa: E402,F401  (shoal.archive.open)
