"""Request/response helpers (shoal/response.py, docs/response-channels.md):
client.requester / client.responder over aeron:ipc and over UDP response channels."""
import os
import socket
import struct
import threading
import time

import pytest

import shoal
from shoal import response


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_next_port = None


def free_port() -> int:
    """A UDP port of 127.0.0.1 that nothing holds now, below the kernel's
    ephemeral range: a port from that range, bound and released, can go to
    any socket bound to port 0 (a driver's) before the test binds it. Each
    process walks its own stretch from 10000 up, starting where its pid says."""
    global _next_port
    first = 10000
    span = _ephemeral_low() - first
    if _next_port is None:
        _next_port = (os.getpid() * 7919) % span
    for _ in range(span):
        port = first + _next_port
        _next_port = (_next_port + 1) % span
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free UDP port below the ephemeral range")


class Serving:
    """Polls a responder on a thread until stopped."""

    def __init__(self, rsp):
        self.rsp = rsp
        self.stop = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            while not self.stop.is_set():
                self.rsp.poll(64, timeout=0.01)
        except BaseException as e:  # reported by close()
            self.error = e

    def close(self):
        self.stop.set()
        self.thread.join(10)
        if self.error is not None:
            raise self.error


def echo(view, header):
    return b"echo:" + bytes(view)


def channels(kind):
    if kind == "ipc":
        return "aeron:ipc", "aeron:ipc"
    return ("aeron:udp?endpoint=127.0.0.1:%d" % free_port(), "aeron:udp?control=127.0.0.1:%d" % free_port())


@pytest.mark.parametrize("kind", ["ipc", "udp"])
def test_request_returns_its_response(client, kind):
    request_channel, response_channel = channels(kind)
    rsp = client.responder(request_channel, 2001, response_channel, 2002, echo)
    serving = Serving(rsp)
    try:
        with client.requester(request_channel, 2001, response_channel, 2002) as req:
            assert isinstance(req, response.Requester)
            assert req.responses.registration_id >= 0 and req.requests.registration_id >= 0
            req.wait_connected(timeout=10)
            for i in range(100):
                assert req.request(b"r%d" % i, timeout=5) == b"echo:r%d" % i
            assert req.request(bytearray(b"any buffer"), timeout=5) == b"echo:any buffer"
    finally:
        serving.close()
        rsp.close()
    assert rsp.served == 101 and rsp.unanswered == 0


@pytest.mark.parametrize("kind", ["ipc", "udp"])
def test_several_requesters_and_threads_get_their_own_answers(client, kind):
    request_channel, response_channel = channels(kind)
    rsp = client.responder(request_channel, 2001, response_channel, 2002, echo)
    serving = Serving(rsp)
    requesters = [client.requester(request_channel, 2001, response_channel, 2002) for _ in range(3)]
    errors = []

    def work(req, tag):
        try:
            for i in range(50):
                payload = b"%s-%d" % (tag, i)
                answer = req.request(payload, timeout=10)
                if answer != b"echo:" + payload:
                    errors.append((payload, answer))
        except BaseException as e:
            errors.append(e)

    try:
        for req in requesters:
            req.wait_connected(timeout=10)
        # Two threads per requester: outstanding requests of one requester at once.
        threads = [threading.Thread(target=work, args=(req, b"q%d.t%d" % (k, t)))
                   for k, req in enumerate(requesters) for t in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors[:3]
        assert rsp.requester_count == 3
    finally:
        for req in requesters:
            req.close()
        serving.close()
        rsp.close()
    assert rsp.served == 300


def test_the_helpers_header_is_an_8_byte_little_endian_id(client):
    """What a C or Lua peer must send: the documented header, then the payload."""
    seen = []
    rsp = client.responder("aeron:ipc", 2001, "aeron:ipc", 2002, lambda v, h: (seen.append(bytes(v)), b"ok")[1])
    # A hand-made requester following the documented format.
    responses = client.add_subscription("aeron:ipc?control-mode=response", 2002)
    requests = client.add_publication("aeron:ipc?response-correlation-id=%d" % responses.registration_id, 2001)
    assert requests.wait_connected(timeout=5)
    requests.offer(struct.pack("<Q", 0xABCDEF) + b"hand made", timeout=5)
    deadline = time.monotonic() + 5
    got = []
    while not got and time.monotonic() < deadline:
        rsp.poll(10, timeout=0.01)
        got = responses.poll_batch(10, copy=True)
    assert seen == [b"hand made"]
    assert got and got[0][0] == struct.pack("<Q", 0xABCDEF) + b"ok"
    assert response.HEADER.size == 8
    requests.close()
    responses.close()
    rsp.close()


def test_request_times_out_when_nobody_answers(client):
    rsp = client.responder("aeron:ipc", 2001, "aeron:ipc", 2002, echo)
    with client.requester("aeron:ipc", 2001, "aeron:ipc", 2002) as req:
        # The responder is not polled: the request stays unanswered.
        start = time.monotonic()
        with pytest.raises(shoal.TimeoutError):
            req.request(b"x", timeout=0.2)
        assert time.monotonic() - start < 2
        # Served late: the late answer is dropped, the next request gets its own.
        serving = Serving(rsp)
        try:
            deadline = time.monotonic() + 10
            while not req.is_connected and time.monotonic() < deadline:
                time.sleep(0.01)
            assert req.request(b"y", timeout=5) == b"echo:y"
        finally:
            serving.close()
    rsp.close()


def test_response_channel_errors_name_the_id(client):
    with pytest.raises(shoal.UriError, match="987654"):
        client.add_publication("aeron:ipc?response-correlation-id=987654", 2001)
    with pytest.raises(shoal.UriError, match="987654"):
        client.add_publication("aeron:ipc?control-mode=response|response-correlation-id=987654", 2002)
    with pytest.raises(TypeError):
        client.responder("aeron:ipc", 2001, "aeron:ipc", 2002, "not callable")
