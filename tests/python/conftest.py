"""Fixtures for the shoal Python tests.

Every test gets a private driver directory /dev/shm/shoal-pytest-<pid>-<n> with an
embedded driver whose context deletes the directory on shutdown. Run from the repo
root as `.venv-test/bin/python -P -m pytest -q tests/python` (scripts/test_python.sh):
-P keeps the source tree from shadowing the installed package.
"""
import itertools
import os
import shutil
import time

import pytest

import shoal

_counter = itertools.count()

#: Small terms keep the tests fast and make back pressure easy to reach.
URI = "aeron:ipc?term-length=64k"


def new_dir() -> str:
    return "/dev/shm/shoal-pytest-%d-%d" % (os.getpid(), next(_counter))


@pytest.fixture
def shoal_dir():
    d = new_dir()
    yield d
    # A test that failed half way may leave it behind: never leak /dev/shm.
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def ctx(shoal_dir):
    with shoal.Context(dir=shoal_dir, DIR_DELETE_ON_SHUTDOWN=1) as c:
        yield c


@pytest.fixture
def driver(ctx):
    with shoal.Driver(ctx) as d:
        yield d
    assert not os.path.exists(ctx.dir), "DIR_DELETE_ON_SHUTDOWN should remove the driver directory"


@pytest.fixture
def client(ctx, driver):
    with shoal.Client(ctx) as c:
        yield c


@pytest.fixture
def pubsub(client):
    """A connected (publication, subscription) pair on URI, stream 1001."""
    sub = client.add_subscription(URI, 1001)
    pub = client.add_publication(URI, 1001)
    assert pub.wait_connected(timeout=5.0)
    assert sub.wait_connected(timeout=5.0)
    yield pub, sub
    pub.close()
    sub.close()


def drain(sub, count, timeout=5.0, copy=True):
    """Polls until count messages arrived; returns [(bytes, header)]."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < count:
        if time.monotonic() > deadline:
            raise AssertionError("received %d of %d messages" % (len(out), count))
        for view, header in sub.poll_batch(256, timeout=0.05):
            out.append((bytes(view) if copy else view, header))
    return out
