"""The streaming bench's parsing and statistics: load-tool summaries, ladders, GC numbers."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from bench.streaming.results import (
    Ladder,
    Step,
    first_error,
    parse_gc,
    parse_run,
    parse_summary,
    ratio,
)


def step(
    rate: float = 100,
    *,
    delivered: float = 100_000,
    p99: float = 5.0,
    loss: int = 0,
    gaps: int = 0,
    skipped: int = 0,
    target: float | None = None,
) -> dict[str, Any]:
    return {
        "rate_msgs_per_s": rate,
        "target_deliv_per_s": target if target is not None else rate * 1000,
        "deliv_per_s_in_window": delivered,
        "expected_deliveries": 1000,
        "received": 1000 - loss,
        "loss": loss,
        "seq_gaps": gaps,
        "seq_dups_or_reorders": 0,
        "pub_skipped_backlog": skipped,
        "pub_errors": 0,
        "latency": {"p50_ms": 1.5, "p99_ms": p99, "max_ms": p99 * 2},
        "cpu": {"server_cpu_pct": 97.5, "loadgen_cpu_pct": 40.0},
        "server_cpu_us_per_delivery": 3.4,
    }


def summary(*steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "label": "plain/fanout1",
        "connect": {"established": 1000, "errors": 2},
        "memory": {"kb_per_conn": 27.6, "server_rss_idle_kb": 90_000},
        "steps": list(steps),
        "disconnects": 1,
        "server_errors": 0,
        "error_samples": ["conn 7: i/o timeout"],
        **extra,
    }


def test_parse_run_reads_the_last_summary_line() -> None:
    out = "\n".join([
        "connected 1000/1000",
        "SBS_JSON " + orjson.dumps(summary(step(10))).decode(),
        "SBS_JSON " + orjson.dumps(summary(step(50), step(100, loss=3))).decode(),
    ])  # fmt: skip
    run = parse_run(out)
    assert [s.rate for s in run.steps] == [50, 100]
    assert run.connections == 1000
    assert run.kb_per_connection == 27.6
    assert run.lost == 3
    assert run.failed_connections == 3  # 2 refused + 1 dropped
    assert run.steps[0].p99_ms == 5.0
    assert run.steps[0].server_us_per_delivery == 3.4


def test_parse_run_without_summary_is_an_error() -> None:
    with pytest.raises(ValueError, match="SBS_JSON"):
        parse_run("connected 0/1000\n")


def test_missing_and_odd_fields_read_as_zero() -> None:
    run = parse_summary({"steps": [{"rate_msgs_per_s": "x"}]})
    assert run.connections == 0
    assert run.steps[0].rate == 0
    assert run.steps[0].p99_ms == 0
    assert run.errors == ()


@pytest.mark.parametrize(
    ("changes", "keeps"),
    [
        ({}, True),
        ({"p99": 30.0}, False),
        ({"loss": 1}, False),
        ({"gaps": 1}, False),
        ({"skipped": 5}, False),
        ({"delivered": 94_000}, False),
        ({"delivered": 95_000}, True),
    ],
)
def test_keeps_pace(changes: dict[str, Any], keeps: bool) -> None:
    assert Step.from_json(step(**changes)).keeps_pace is keeps


def test_gaps_and_loss_are_not_counted_twice() -> None:
    assert Step.from_json(step(loss=4, gaps=3)).lost == 4
    assert Step.from_json(step(loss=0, gaps=3)).lost == 3


def ladder(*steps: dict[str, Any], extra: int = 2) -> Ladder:
    result = Ladder(extra_steps=extra)
    result.add(parse_summary(summary(*steps)))
    return result


def test_keep_pace_is_the_last_step_before_the_first_fall() -> None:
    lad = ladder(step(10, delivered=10_000), step(50, delivered=50_000),
                 step(100, delivered=60_000), step(200, delivered=200_000))  # fmt: skip
    assert lad.keep_pace is not None and lad.keep_pace.rate == 50
    assert lad.peak is not None and lad.peak.rate == 200


def test_ladder_climbs_while_keeping_pace() -> None:
    assert Ladder().should_continue()
    assert ladder(step(10, delivered=10_000), step(50, delivered=50_000)).should_continue()


def test_ladder_stops_when_deliveries_stop_growing_after_a_fall() -> None:
    lad = ladder(step(100, delivered=100_000), step(200, delivered=150_000),
                 step(300, delivered=152_000))  # fmt: skip
    assert not lad.should_continue()


def test_ladder_goes_on_while_deliveries_still_grow_then_stops_at_the_cap() -> None:
    growing = ladder(step(100, delivered=100_000), step(200, delivered=150_000),
                     step(300, delivered=200_000), extra=2)  # fmt: skip
    assert growing.should_continue()
    steps = [step(100, delivered=100_000), step(200, delivered=150_000),
             step(300, delivered=200_000), step(400, delivered=260_000)]  # fmt: skip
    capped = ladder(*steps, extra=2)
    assert not capped.should_continue()


def test_ladder_never_keeping_pace_has_no_keep_pace_step() -> None:
    lad = ladder(step(10, p99=300.0))
    assert lad.keep_pace is None
    assert lad.lost == 0
    assert lad.failed_connections == 3


def test_parse_gc() -> None:
    raw = orjson.dumps({"collections": [120, 10, 2], "total_ms": 55.5, "max_ms": 21.0,
                        "max_generation": 2, "over_ms": {"1": 9, "20": 1}})  # fmt: skip
    gc = parse_gc(raw)
    assert gc.count == 132
    assert gc.collections[2] == 2
    assert gc.max_ms == 21.0
    assert gc.over_20ms == 1
    assert gc.max_cpu_ms is None  # a hook without CPU times


def test_parse_gc_reads_the_cpu_times() -> None:
    raw = orjson.dumps({"collections": [1, 0, 0], "max_ms": 900.0, "over_ms": {"20": 3},
                        "max_cpu_ms": 4.5, "over_cpu_ms": {"20": 0}})  # fmt: skip
    gc = parse_gc(raw)
    assert (gc.max_ms, gc.max_cpu_ms, gc.over_20ms, gc.over_20ms_cpu) == (900.0, 4.5, 3, 0)


def test_parse_gc_pads_short_generation_lists() -> None:
    assert parse_gc(b'{"collections": [4]}').collections == (4, 0, 0)


def test_ratio() -> None:
    assert ratio(350_000, 89_000) == "3.9x"
    assert ratio(None, 89_000) == "-"
    assert ratio(10.0, 0.0) == "-"


def test_first_error_prefers_an_abort() -> None:
    runs = [parse_summary(summary(aborted="max-run reached")), parse_summary(summary())]
    assert first_error(runs) == "max-run reached"
    assert first_error(runs[1:]) == "conn 7: i/o timeout"
    assert first_error([]) == ""
