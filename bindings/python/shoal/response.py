"""Request/response over response channels (docs/response-channels.md).

``client.requester(...)`` and ``client.responder(...)`` make these; correlating
answers with requests by hand is what users get wrong, so the helpers do it.

Wire format of the helpers (what a C or Lua peer must follow to talk to them):
every request and every response starts with an 8-byte little-endian unsigned
request id (:data:`HEADER`); the payload follows. The requester numbers its
requests; the responder copies the id of a request into its response. The
response channel is the requester's alone (one response stream per requester,
Aeron's response channels), so ids only need to be unique per requester.
"""
import itertools
import struct
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import _shoal

#: The helpers' message header: request id, uint64 little-endian.
HEADER = struct.Struct("<Q")

Handler = Callable[[memoryview, Any], Any]


def _with_param(uri: str, param: str) -> str:
    """uri with key=value param appended (after '?' or '|')."""
    return uri + ("|" if "?" in uri else "?") + param


def _response_subscription_uri(uri: str) -> str:
    return uri if "control-mode=response" in uri else _with_param(uri, "control-mode=response")


class Requester:
    """Sends requests and returns their responses; see :meth:`request`.

    Made by ``client.requester(request_channel, request_stream_id, response_channel,
    response_stream_id)``: a subscription on ``response_channel`` with
    ``control-mode=response`` (added when missing), then a publication on
    ``request_channel`` with ``response-correlation-id`` set to that subscription's
    registration id. For UDP, response_channel names the responder's control address
    (``aeron:udp?control=host:port``); on one host ``aeron:ipc`` for both channels.
    Thread-safe: any number of threads may have requests outstanding at once.
    """

    def __init__(self, client: "_shoal.Client", request_channel: str, request_stream_id: int,
                 response_channel: str, response_stream_id: int) -> None:
        self.responses = client.add_subscription(_response_subscription_uri(response_channel), response_stream_id)
        try:
            self.requests = client.add_publication(
                _with_param(request_channel, "response-correlation-id=%d" % self.responses.registration_id),
                request_stream_id)
        except BaseException:
            self.responses.close()
            raise
        self._ids = itertools.count(1)
        self._id_lock = threading.Lock()
        self._cond = threading.Condition()
        self._waiting: Dict[int, Optional[bytes]] = {}
        self._poll_lock = threading.Lock()  # one thread polls the response stream at a time

    @property
    def is_connected(self) -> bool:
        """True once the responder heard us and its response stream reached us."""
        return self.requests.is_connected and self.responses.is_connected

    def wait_connected(self, timeout: float = 5.0) -> None:
        """Waits until :attr:`is_connected`; shoal.TimeoutError otherwise."""
        deadline = _now() + timeout
        if not self.requests.wait_connected(timeout=timeout):
            raise _shoal.TimeoutError("the responder did not hear the request publication within %.3f s" % timeout)
        while not self.responses.is_connected:
            if _now() >= deadline:
                raise _shoal.TimeoutError("no response stream from the responder within %.3f s" % timeout)
            time.sleep(0.001)

    def _on_response(self, view: memoryview, header: Any) -> None:
        if len(view) < HEADER.size:
            return
        (request_id,) = HEADER.unpack_from(view)
        with self._cond:
            if request_id in self._waiting:  # else: answered after its request timed out
                self._waiting[request_id] = bytes(view[HEADER.size:])
                self._cond.notify_all()

    def request(self, data: Any, timeout: float = 1.0) -> bytes:
        """Sends data (any bytes-like) and returns the response's payload.

        Waits up to timeout seconds in all (sending included); shoal.TimeoutError when
        no answer came (a late answer is dropped). The thread waiting polls the
        response stream itself while no other does, so no helper thread is needed.
        """
        with self._id_lock:
            request_id = next(self._ids)
        deadline = _now() + timeout
        with self._cond:
            self._waiting[request_id] = None
        try:
            self.requests.offerv([HEADER.pack(request_id), data], timeout=max(0.0, deadline - _now()))
            while True:
                with self._cond:
                    answer = self._waiting[request_id]
                    if answer is not None:
                        return answer
                left = deadline - _now()
                if left <= 0:
                    raise _shoal.TimeoutError("no response to request %d within %.3f s" % (request_id, timeout))
                if self._poll_lock.acquire(blocking=False):
                    try:
                        self.responses.poll(self._on_response, 64, timeout=min(left, 0.05))
                    finally:
                        self._poll_lock.release()
                else:
                    with self._cond:
                        if self._waiting[request_id] is None:
                            self._cond.wait(min(left, 0.001))
        finally:
            with self._cond:
                self._waiting.pop(request_id, None)

    def close(self) -> None:
        self.requests.close()
        self.responses.close()

    def __enter__(self) -> "Requester":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Responder:
    """Answers requests: ``handler(view, header) -> bytes-like`` per request, in :meth:`poll`.

    Made by ``client.responder(request_channel, request_stream_id, response_channel,
    response_stream_id, handler)``: a subscription on ``request_channel``; for every
    requester (an image of it) a publication on ``response_channel`` with
    ``control-mode=response|response-correlation-id=<the image's correlation id>``,
    which reaches that requester only. ``view`` is the request's payload (a memoryview
    valid during the call), ``header`` its shoal.Header. One thread polls at a time.
    """

    def __init__(self, client: "_shoal.Client", request_channel: str, request_stream_id: int,
                 response_channel: str, response_stream_id: int, handler: Handler,
                 offer_timeout: float = 1.0) -> None:
        if not callable(handler):
            raise TypeError("handler must be callable: handler(view, header) -> bytes-like")
        self._client = client
        self._handler = handler
        self._response_channel = response_channel
        self._response_stream_id = response_stream_id
        self.offer_timeout = offer_timeout
        self._lock = threading.Lock()
        self._arrived: List[Tuple[int, int]] = []  # (image correlation id, session id), from the image handlers
        self._gone: List[int] = []
        self._by_session: Dict[int, Tuple[int, Any]] = {}  # session -> (image correlation id, publication)
        self.requests = client.add_subscription(request_channel, request_stream_id,
                                                on_available=self._on_available, on_unavailable=self._on_unavailable)
        self.served = 0
        self.unanswered = 0

    def _on_available(self, image: Any) -> None:
        with self._lock:
            self._arrived.append((image.correlation_id, image.session_id))

    def _on_unavailable(self, image: Any) -> None:
        with self._lock:
            self._gone.append(image.correlation_id)

    def _update(self) -> None:
        """Response publications for new requesters; closes those of requesters gone."""
        with self._lock:
            arrived, self._arrived = self._arrived, []
            gone, self._gone = self._gone, []
        for correlation_id, session_id in arrived:
            uri = _with_param(self._response_channel,
                              "control-mode=response|response-correlation-id=%d" % correlation_id)
            self._by_session[session_id] = (correlation_id,
                                            self._client.add_publication(uri, self._response_stream_id))
        for correlation_id in gone:
            for session_id, (cid, pub) in list(self._by_session.items()):
                if cid == correlation_id:
                    pub.close()
                    del self._by_session[session_id]

    @property
    def requester_count(self) -> int:
        return len(self._by_session)

    def _on_request(self, view: memoryview, header: Any) -> None:
        entry = self._by_session.get(header.session_id)
        if entry is None:
            self._update()  # the image handler ran after our last update
            entry = self._by_session.get(header.session_id)
        if entry is None or len(view) < HEADER.size:
            self.unanswered += 1
            return
        answer = self._handler(view[HEADER.size:], header)
        entry[1].offerv([view[:HEADER.size], answer], timeout=self.offer_timeout)
        self.served += 1

    def poll(self, limit: int = 10, timeout: Optional[float] = None) -> int:
        """Serves up to limit requests; returns how many. With timeout (seconds) waits
        (GIL released) for one when none is there. Exceptions of the handler propagate
        (that request stays unanswered)."""
        self._update()
        return self.requests.poll(self._on_request, limit, timeout=timeout)

    def close(self) -> None:
        self.requests.close()
        for _, pub in self._by_session.values():
            pub.close()
        self._by_session.clear()

    def __enter__(self) -> "Responder":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


_now = time.monotonic


def requester(client: "_shoal.Client", request_channel: str, request_stream_id: int, response_channel: str,
              response_stream_id: int) -> Requester:
    return Requester(client, request_channel, request_stream_id, response_channel, response_stream_id)


def responder(client: "_shoal.Client", request_channel: str, request_stream_id: int, response_channel: str,
              response_stream_id: int, handler: Handler, offer_timeout: float = 1.0) -> Responder:
    return Responder(client, request_channel, request_stream_id, response_channel, response_stream_id, handler,
                     offer_timeout)
