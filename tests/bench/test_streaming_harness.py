"""The streaming bench's pieces that need no load: docs blocks, ladders, frames, reports."""

from __future__ import annotations

import os

import orjson

from bench.streaming.blaster import Blaster, frame, parse_client_frames
from bench.streaming.docs import replace_block
from bench.streaming.loadgen import Subscribe
from bench.streaming.report import render
from bench.streaming.results import Ladder, parse_summary
from bench.streaming.scenarios import QUICK, Outcome, chunks
from bench.streaming.yardstick import YardRun
from bench.streaming.yardstick import render as render_yardstick


def test_replace_block_in_place_keeps_the_rest() -> None:
    text = "# B\n\nauth\n\n<!-- s:begin -->\nold\n<!-- s:end -->\n\ntail\n"
    out = replace_block(text, "s", "new")
    assert out == "# B\n\nauth\n\n<!-- s:begin -->\nnew\n<!-- s:end -->\n\ntail\n"


def test_replace_block_appends_or_follows_its_anchor() -> None:
    assert replace_block("# B\n", "s", "x") == "# B\n\n<!-- s:begin -->\nx\n<!-- s:end -->\n"
    text = "<!-- s:begin -->\nx\n<!-- s:end -->\n\nlater\n"
    out = replace_block(text, "y", "yard", after="s")
    assert out.index("<!-- y:begin -->") < out.index("later")
    assert replace_block(out, "y", "again", after="s").count("y:begin") == 1


def test_replace_block_body_with_backslashes_is_literal() -> None:
    out = replace_block("<!-- s:begin -->\n<!-- s:end -->", "s", r"a\1b")
    assert r"a\1b" in out


def test_chunks() -> None:
    assert chunks((1, 2, 3, 4, 5), 2) == [(1, 2), (3, 4), (5,)]
    assert chunks((), 3) == []


def test_subscribe_args_name_the_seed003_adapter_and_batch_publisher() -> None:
    args = Subscribe("ws://h/ws/stream?token={{token}}", "http://h/dev/publish", "t").args()
    assert args[args.index("-proto") + 1] == "seed003"
    assert args[args.index("-pub-url") + 1] == "http://h/dev/publish"
    assert args[args.index("-token") + 1] == "t"
    assert "[{{items}}]" in args


def masked(payload: bytes, opcode: int = 0x1) -> bytes:
    key = os.urandom(4)
    body = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    n = len(payload)
    length = bytes((0x80 | n,)) if n < 126 else bytes((0x80 | 126,)) + n.to_bytes(2, "big")
    return bytes((0x80 | opcode,)) + length + key + body


def test_client_frames_are_unmasked_and_partial_ones_wait() -> None:
    long = b"x" * 300
    buf = bytearray(masked(b'{"action":"ping"}') + masked(long) + masked(b"tail")[:3])
    frames = parse_client_frames(buf)
    assert frames == [(0x1, b'{"action":"ping"}'), (0x1, long)]
    assert len(buf) == 3


def test_server_frame_lengths() -> None:
    assert frame(b"hi")[:2] == b"\x81\x02"
    assert frame(b"x" * 200)[:4] == b"\x81\x7e\x00\xc8"
    assert frame(b"x" * 70_000)[1] == 127


class FakeConnection:
    def __init__(self) -> None:
        self.topics: set[str] = set()
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)


def test_blaster_writes_one_joined_blob_per_subscriber_with_data_unchanged() -> None:
    blaster = Blaster()
    subs = [FakeConnection(), FakeConnection()]
    blaster.subscribers["t"] = set(subs)  # type: ignore[arg-type]
    body = orjson.dumps([{"topic": "t", "data": {"seq": 1}}, {"topic": "t", "data": {"seq": 2}},
                         {"topic": "nobody", "data": {}}])  # fmt: skip
    answer = orjson.loads(blaster.publish(body))
    assert answer == {"published": 3, "delivered": 4}
    for conn in subs:
        assert len(conn.writes) == 1
        blob = conn.writes[0]
        first = orjson.loads(blob[2 : 2 + blob[1]])
        assert first["type"] == "data" and first["data"] == {"seq": 1}


def outcome(target: str, scenario: str, *delivered: float) -> Outcome:
    lad = Ladder()
    steps = [{"rate_msgs_per_s": d / 1000, "target_deliv_per_s": d, "deliv_per_s_in_window": d,
              "received": 1, "latency": {"p50_ms": 1, "p99_ms": 2}} for d in delivered]  # fmt: skip
    lad.add(parse_summary({"steps": steps}))
    return Outcome(target, scenario, lad)


def test_report_shows_ratios_to_the_baseline_and_unavailable_servers() -> None:
    outcomes = [
        Outcome("plain baseline", "idle", idle=parse_summary({"connect": {"established": 10}})),
        outcome("plain baseline", "fanout1", 10_000, 50_000),
        outcome("blaster", "fanout1", 10_000, 50_000, 200_000),
        Outcome("streaming service", "fanout1", error="no POST /dev/publish"),
    ]
    text = render(outcomes, QUICK, bus="memory", load="load average 1")
    assert "| blaster | 200,000/s" in text
    assert "4.0x / 4.0x" in text
    assert "| streaming service | not available (no POST /dev/publish)" in text
    assert "<details>" in text


def test_yardstick_table_has_one_column_per_server() -> None:
    run = parse_summary({"steps": [{"rate_msgs_per_s": 10, "target_deliv_per_s": 10_000,
                                    "deliv_per_s_in_window": 10_000, "received": 5,
                                    "latency": {"p99_ms": 3}}]})  # fmt: skip
    results = [
        YardRun("engine", "fanout1", run=run),
        YardRun("plain", "fanout1", run=run),
        YardRun("seed003", "fanout1", error="streaming: not there"),
    ]
    text = render_yardstick(results, when="now", note="shared")
    assert "| fanout1: keeps pace (p99 < 30 ms, nothing lost) up to | 10,000/s" in text
    assert "not available (streaming: not there)" in text


def test_issue_targets_judge_the_streaming_service_against_the_baseline() -> None:
    from bench.streaming.report import targets  # noqa: PLC0415
    from bench.streaming.results import GcStats  # noqa: PLC0415

    ours = outcome("streaming service", "fanout1", 50_000, 400_000)
    ours.gc = GcStats((10, 1, 0), 5.0, 25.0, 1, 1)
    outcomes = [
        outcome("plain baseline", "fanout1", 10_000, 50_000),
        ours,
        Outcome("streaming service", "idle", idle=parse_summary({"memory": {"kb_per_conn": 26}})),
    ]
    text = "\n".join(targets(outcomes))
    assert "keeps pace at ≥ 4x the plain baseline's rate: met (8.0x)" in text
    assert "peak ≥ 3.5x the plain baseline's: met (8.0x)" in text
    assert "≤ 27 KB per idle connection: met" in text
    assert "no GC pause over 20 ms: not met" in text
    assert targets([outcome("plain baseline", "fanout1", 10_000)]) == []
