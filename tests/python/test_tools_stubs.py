"""python -m shoal.stat, python -m shoal.demo, and the type stubs."""
import ast
import json
import os
import subprocess
import sys
import time

import shoal
from shoal import _shoal
import shoal.demo  # noqa: F401
from shoal.stat import CncError, CncReader
from conftest import URI, new_dir

import pytest


def test_stat_reader(client):
    with client.add_subscription(URI, 3) as sub, client.add_publication(URI, 3) as pub:
        assert pub.wait_connected(5)
        pub.offer(b"x" * 100)
        with CncReader(client.context.dir) as cnc:
            assert cnc.pid == os.getpid() and cnc.is_alive()
            values = cnc.counter_values()
            assert values["Publications active"] == 1 and values["Subscriptions active"] == 1
            assert values["Clients active"] == 1
            labels = [c.label for c in cnc.counters()]
            assert any(l.startswith("pub-pos") for l in labels) and any(l.startswith("sub-pos") for l in labels)
            pos = [c for c in cnc.counters() if c.label.startswith("pub-pos")][0]
            assert pos.type_id == 2 and 0 <= pos.value <= pub.position  # the driver updates it each duty cycle


def test_stat_cli(client):
    d = client.context.dir
    out = subprocess.run([sys.executable, "-m", "shoal.stat", "-d", d, "--once"], capture_output=True, text=True,
                         check=True).stdout
    assert "Clients active" in out and "heartbeat" in out
    out = subprocess.run([sys.executable, "-m", "shoal.stat", "-d", d, "--json", "-n", "2", "-i", "20"],
                         capture_output=True, text=True, check=True).stdout
    docs = [json.loads(line) for line in out.splitlines()]
    assert len(docs) == 2 and docs[0]["alive"] and docs[0]["pid"] == os.getpid()
    assert {c["label"] for c in docs[1]["counters"]} >= {"Clients active", "Errors"}


def test_stat_without_driver():
    d = new_dir()
    with pytest.raises(CncError):
        CncReader(d)
    r = subprocess.run([sys.executable, "-m", "shoal.stat", "-d", d, "--once"], capture_output=True, text=True)
    assert r.returncode == 1 and "no driver" in r.stderr


def test_demo_runs():
    r = subprocess.run([sys.executable, "-m", "shoal.demo", "-n", "20000", "-d", new_dir()],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stdout.splitlines() if "msgs/s" in l]
    assert len(lines) == 3 and "sequence gaps 0" in r.stdout


def test_demo_consumer_of_external_publisher(client, tmp_path):
    """--consume reads a publisher it did not start (here: another Python process)."""
    script = tmp_path / "pub.py"
    script.write_text(
        "import sys, struct, shoal\n"
        "with shoal.Context(dir=sys.argv[1]) as ctx, shoal.Client(ctx) as c, c.add_publication('aeron:ipc', 1001) as p:\n"
        "    assert p.wait_connected(20)\n"
        "    for i in range(5000):\n"
        "        p.offer(struct.pack('<Q', i) + bytes(24), timeout=10)\n")
    d = client.context.dir
    consumer = subprocess.Popen([sys.executable, "-m", "shoal.demo", "--consume", "-d", d, "-n", "5000", "-t", "60"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    publisher = subprocess.run([sys.executable, str(script), d], capture_output=True, text=True, timeout=60)
    out, err = consumer.communicate(timeout=60)
    assert publisher.returncode == 0, publisher.stderr
    assert consumer.returncode == 0, err
    assert "received 5000 records, sequence gaps 0" in out


def _stub_classes():
    """The stub's public names, and each class's members including those it inherits from
    the stub-only (@type_check_only, underscore) helper classes such as _Handle."""
    path = os.path.join(os.path.dirname(shoal.__file__), "_shoal.pyi")
    with open(path) as f:
        tree = ast.parse(f.read())
    classes = {}
    bases = {}
    names = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            classes[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)} | \
                                 {n.target.id for n in node.body if isinstance(n, ast.AnnAssign)}
            bases[node.name] = [b.id for b in node.bases if isinstance(b, ast.Name)]
            if not node.name.startswith("_"):
                names.add(node.name)
        elif isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            names.add(node.target.id)

    def members(name):
        inherited = set().union(*(members(b) for b in bases[name] if b in classes))
        return classes[name] | inherited

    return names, {name: members(name) for name in classes}


def test_stubs_match_the_extension():
    names, classes = _stub_classes()
    public = {n for n in dir(_shoal) if not n.startswith("_")}
    assert public - names == set(), "missing from _shoal.pyi"
    assert {n for n in names if n not in ("BufferLike", "Seconds", "Handler", "ControlledHandler")} - public == set()
    for cls in ("Context", "Driver", "Client", "Publication", "Subscription", "Claim", "Header", "Image",
                "ArchiveReader", "RecordingCursor", "ArchiveServer", "Archive", "ReplayMerge"):
        runtime = {n for n in dir(getattr(_shoal, cls)) if not n.startswith("_")}
        assert runtime - classes[cls] == set(), cls
        assert classes[cls] - runtime - {"__init__", "__enter__", "__exit__"} == set(), cls
    assert os.path.exists(os.path.join(os.path.dirname(shoal.__file__), "py.typed"))


def test_docstrings():
    for obj in (shoal, shoal.Context, shoal.Driver, shoal.Client, shoal.Publication, shoal.Subscription,
                shoal.Claim, shoal.Header, shoal.Publication.offer, shoal.Publication.offer_nowait,
                shoal.Publication.try_claim, shoal.Subscription.poll, shoal.Subscription.poll_batch,
                shoal.Subscription.poll_records, shoal.stat, shoal.demo):
        assert obj.__doc__ and len(obj.__doc__) > 20, obj
    import inspect
    assert str(inspect.signature(shoal.Publication.offer)) == "(self, /, data, timeout=None)"
    assert str(inspect.signature(shoal.Context)) == "(dir=None, **settings)"


def test_stat_reader_errors_loss_and_closed(client):
    with CncReader(client.context.dir) as cnc:
        assert cnc.errors() == []
        assert cnc.loss() == []          # IPC only: no receiver, no gaps
        assert 0 <= cnc.heartbeat_age_ms() <= cnc.driver_timeout_ms
    with pytest.raises(CncError):
        cnc.counters()
    raw = _shoal.Cnc(client.context.dir)
    raw.close()
    raw.close()                          # idempotent
    assert raw.closed
    with pytest.raises(shoal.ClosedError):
        raw.counters()
    with pytest.raises(shoal.NoDriverError):
        _shoal.Cnc(new_dir())


def test_stat_loss_report_after_receive_loss(shoal_dir):
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    uri = "aeron:udp?endpoint=127.0.0.1:%d" % port
    with shoal.Context(dir=shoal_dir, DIR_DELETE_ON_SHUTDOWN=1, RCV_LOSS_RATE="0.1", LOSS_SEED=3) as ctx, \
            shoal.Driver(ctx), shoal.Client(ctx) as client:
        with client.add_subscription(uri, 77) as sub, client.add_publication(uri, 77) as pub:
            assert pub.wait_connected(10)
            got = 0
            for i in range(2000):
                pub.offer(b"y" * 200, timeout=30)
                got += len(sub.poll_batch(256, timeout=0))
            deadline = time.monotonic() + 60
            while got < 2000 and time.monotonic() < deadline:
                got += len(sub.poll_batch(256, timeout=0.05))
            assert got == 2000
            with CncReader(shoal_dir) as cnc:
                entries = [e for e in cnc.loss() if e.stream_id == 77]
                assert len(entries) == 1, cnc.loss()
                e = entries[0]
                assert e.observations >= 1 and e.bytes_lost >= 32 and 0 < e.first_ms <= e.last_ms
                assert e.channel == uri and e.source.startswith("127.0.0.1:") and e.session_id == pub.session_id
