from __future__ import annotations

from typing import Any, cast

from access_streaming.dev.feed import CURVES, INSTRUMENTS, MARKET, PRICES, DevFeed


def test_a_few_dozen_instruments_across_commodities_and_regions() -> None:
    assert len(INSTRUMENTS) >= 30
    assert len({i.commodity for i in INSTRUMENTS}) >= 6
    assert len({i.region for i in INSTRUMENTS}) >= 8


def test_ticks_move_prices_and_carry_filterable_fields() -> None:
    feed = DevFeed(cast(Any, None), interval=1, seed=7)
    first = feed.tick()
    topics = {item.topic for item in first}
    assert topics == {PRICES, MARKET, CURVES}
    price = next(item for item in first if item.topic == PRICES)
    assert {"instrument_id", "commodity", "region", "price", "bid", "ask", "timestamp"} <= set(
        price.data
    )
    assert price.data["bid"] < price.data["ask"]
    assert price.key == price.data["instrument_id"]
    later = [feed.tick() for _ in range(50)]
    seen = {item.data["price"] for tick in later for item in tick if item.topic == PRICES}
    assert len(seen) > 100
