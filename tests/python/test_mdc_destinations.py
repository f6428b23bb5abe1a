"""Manual MDC destinations from Python: Publication.add_destination /
remove_destination (misuse raises InvalidArgument / UriError)."""
import pytest

import shoal

DEST = "aeron:udp?endpoint=127.0.0.1:40998"


def test_add_remove_destination(client):
    pub = client.add_publication("aeron:udp?control-mode=manual", 7001)
    assert pub.add_destination(DEST) is None
    with pytest.raises(shoal.InvalidArgument, match="already on this publication"):
        pub.add_destination(DEST)
    with pytest.raises(shoal.UriError, match="bogus"):
        pub.add_destination("aeron:udp?endpoint=127.0.0.1:1|bogus=1")
    with pytest.raises(shoal.InvalidArgument):
        pub.add_destination(42)
    pub.remove_destination(DEST)
    with pytest.raises(shoal.InvalidArgument, match="not on this publication"):
        pub.remove_destination(DEST)
    pub.close()
    with pytest.raises(shoal.ClosedError):
        pub.add_destination(DEST)


def test_destination_needs_manual_mdc(client):
    ipc = client.add_publication("aeron:ipc", 7002)
    with pytest.raises(shoal.InvalidArgument, match="not a manual MDC"):
        ipc.add_destination(DEST)
