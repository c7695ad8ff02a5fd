"""NatsBus extras for publishers: a named stream with limits, pipelined batches, connected."""

from __future__ import annotations

import uuid
from pathlib import Path

import nats
import pytest

from access_common.backends.nats_bus import NatsBus, Outgoing
from access_common.errors import BackendError
from access_common.testing import backend_url, nats_server

pytestmark = pytest.mark.nats


async def test_ensure_stream_then_batch_publish_in_order() -> None:
    url = backend_url("nats")
    tag = uuid.uuid4().hex[:10]
    stream, raw, norm = f"batchtest-{tag}", f"batchtest{tag}.raw", f"batchtest{tag}.norm"
    bus = NatsBus(url)
    try:
        streams = await bus.ensure_stream(
            stream, [raw, norm], max_age=600, max_bytes=1 << 20, duplicate_window=60
        )
        assert streams == {raw: stream, norm: stream}
        assert bus.connected
        first = await bus.publish_batch(
            [
                Outgoing(raw, b"r1", headers={"Nats-Msg-Id": "m1"}),
                Outgoing(norm, b"n1", key=b"k", headers={"Nats-Msg-Id": "m2"}),
            ]
        )
        assert first[1] == first[0] + 1
        # The same message ids again: the broker's duplicate window keeps one copy.
        again = await bus.publish_batch([Outgoing(raw, b"r1", headers={"Nats-Msg-Id": "m1"})])
        assert again == first[:1]
        async with await bus.subscribe([norm], start="earliest") as subscription:
            message = await anext(aiter(subscription))
        assert (message.value, message.key, message.offset) == (b"n1", b"k", first[1])
    finally:
        await bus.close()
        nc = await nats.connect(url)
        await nc.jetstream().delete_stream(stream)
        await nc.close()


async def test_batch_fails_cleanly_when_nats_is_gone(tmp_path: Path) -> None:
    server = nats_server(tmp_path / "js")
    server.start()
    bus = NatsBus(f"nats://127.0.0.1:{server.port}", timeout=1.0)
    try:
        await bus.ensure_stream("gone", ["gone.a"], max_age=600, max_bytes=1 << 20)
        assert await bus.publish_batch([Outgoing("gone.a", b"1")]) == [1]
        server.stop()
        with pytest.raises(BackendError):
            await bus.publish_batch([Outgoing("gone.a", b"2")])
        assert not bus.connected
        server.start()
        for _ in range(50):
            try:
                assert (await bus.publish_batch([Outgoing("gone.a", b"3")]))[0] >= 2
                break
            except BackendError:
                continue
        else:
            raise AssertionError("no recovery")
    finally:
        await bus.close()
        server.close()


async def test_batch_times_out_when_acks_never_come() -> None:
    url = backend_url("nats")
    tag = uuid.uuid4().hex[:10]
    stream, topic = f"acktimeout-{tag}", f"acktimeout{tag}.a"
    bus = NatsBus(url, timeout=0.5)
    nc = await nats.connect(url)
    try:
        await bus.ensure_stream(stream, [topic], max_age=600, max_bytes=1 << 20)
        assert len(await bus.publish_batch([Outgoing(topic, b"1")])) == 1
        # The stream goes away and a plain subscriber that never answers takes the
        # subject: no JetStream ack and no "no responders" either, only the deadline.
        await nc.jetstream().delete_stream(stream)
        silent = await nc.subscribe(topic)
        await nc.flush()
        with pytest.raises(BackendError):
            await bus.publish_batch([Outgoing(topic, b"2"), Outgoing(topic, b"3")])
        assert not bus._acks._waiting  # nothing left behind for a late ack
        await silent.unsubscribe()
    finally:
        await bus.close()
        await nc.close()
