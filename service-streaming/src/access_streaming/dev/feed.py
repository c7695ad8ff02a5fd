"""The development feed: moving prices, curves and market data on the local bus.

Runs inside the streaming service when ``ACCESS_ENV=local`` (``make run``), so a subscriber
sees data at once. Thirty-six instruments across oil, gas, power, coal, carbon, LNG and
metals in their regions take a small random walk; every tick publishes a few price
updates (``served.market.latest_prices.v1``), market data (``market.data.updates.v1``) and,
now and then, a forward curve (``pricing.curve.updates.v1``), each only while some connection
of this instance subscribes to its topic. Payloads carry ``commodity`` and ``region`` so
filters like ``{"commodity": "oil"}`` have something to select.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime

from access_common.errors import AccessError
from access_streaming.dev.publish import PublishItem, publish_many
from access_streaming.runtime import StreamingRuntime

__all__ = ["INSTRUMENTS", "DevFeed", "Instrument"]

logger = logging.getLogger("access_streaming.dev.feed")

PRICES = "served.market.latest_prices.v1"
CURVES = "pricing.curve.updates.v1"
MARKET = "market.data.updates.v1"
_TENORS = ("M+1", "M+2", "M+3", "Q+1", "Q+2", "Cal+1")


@dataclass(slots=True)
class Instrument:
    """One instrument and its current price."""

    instrument_id: str
    commodity: str
    region: str
    unit: str
    currency: str
    price: float
    volatility: float


def _instruments() -> list[Instrument]:
    rows = [
        ("BRENT_CRUDE", "oil", "north_sea", "bbl", "USD", 75.5, 0.004),
        ("WTI_CUSHING", "oil", "north_america", "bbl", "USD", 71.2, 0.004),
        ("DUBAI_CRUDE", "oil", "middle_east", "bbl", "USD", 74.1, 0.004),
        ("FORTIES", "oil", "north_sea", "bbl", "USD", 75.9, 0.004),
        ("URALS", "oil", "europe", "bbl", "USD", 61.3, 0.005),
        ("GASOIL_ARA", "oil", "europe", "t", "USD", 690.0, 0.004),
        ("NBP_GAS", "gas", "uk", "therm", "GBp", 82.4, 0.008),
        ("TTF_GAS", "gas", "europe", "MWh", "EUR", 34.6, 0.008),
        ("HENRY_HUB", "gas", "north_america", "MMBtu", "USD", 2.9, 0.01),
        ("PEG_GAS", "gas", "europe", "MWh", "EUR", 33.9, 0.008),
        ("AECO_GAS", "gas", "north_america", "GJ", "CAD", 1.9, 0.012),
        ("JKM_LNG", "lng", "asia", "MMBtu", "USD", 11.8, 0.007),
        ("DES_NWE_LNG", "lng", "europe", "MMBtu", "USD", 10.9, 0.007),
        ("DE_BASE_POWER", "power", "germany", "MWh", "EUR", 88.0, 0.012),
        ("FR_BASE_POWER", "power", "france", "MWh", "EUR", 71.5, 0.012),
        ("UK_BASE_POWER", "power", "uk", "MWh", "GBP", 79.3, 0.012),
        ("NORDIC_SYS_POWER", "power", "nordics", "MWh", "EUR", 41.0, 0.015),
        ("PJM_WEST_POWER", "power", "north_america", "MWh", "USD", 48.7, 0.015),
        ("ERCOT_NORTH_POWER", "power", "north_america", "MWh", "USD", 39.2, 0.02),
        ("CAISO_SP15_POWER", "power", "north_america", "MWh", "USD", 52.4, 0.018),
        ("API2_COAL", "coal", "europe", "t", "USD", 112.0, 0.006),
        ("NEWC_COAL", "coal", "asia", "t", "USD", 136.0, 0.006),
        ("RB_COAL", "coal", "africa", "t", "USD", 104.0, 0.006),
        ("EUA_CARBON", "carbon", "europe", "tCO2", "EUR", 68.4, 0.007),
        ("UKA_CARBON", "carbon", "uk", "tCO2", "GBP", 37.9, 0.009),
        ("CCA_CARBON", "carbon", "north_america", "tCO2", "USD", 29.1, 0.006),
        ("RGGI_CARBON", "carbon", "north_america", "tCO2", "USD", 21.7, 0.006),
        ("NZU_CARBON", "carbon", "oceania", "tCO2", "NZD", 58.0, 0.008),
        ("CBL_NGO_OFFSET", "carbon", "global", "tCO2", "USD", 1.2, 0.02),
        ("LME_COPPER", "metals", "global", "t", "USD", 9450.0, 0.004),
        ("LME_ALUMINIUM", "metals", "global", "t", "USD", 2480.0, 0.004),
        ("LME_NICKEL", "metals", "global", "t", "USD", 16800.0, 0.006),
        ("COMEX_GOLD", "metals", "north_america", "ozt", "USD", 2310.0, 0.002),
        ("RBOB_GASOLINE", "oil", "north_america", "gal", "USD", 2.35, 0.005),
        ("ULSD_NYH", "oil", "north_america", "gal", "USD", 2.52, 0.005),
        ("JET_FUEL_NWE", "oil", "europe", "t", "USD", 745.0, 0.004),
    ]
    return [Instrument(*row) for row in rows]


INSTRUMENTS = _instruments()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class DevFeed:
    """Publish a tick of updates every ``interval`` seconds until stopped."""

    def __init__(self, runtime: StreamingRuntime, *, interval: float, seed: int | None = None):
        self._runtime = runtime
        self._interval = interval
        self._random = random.Random(seed)  # noqa: S311 - simulated prices
        self._instruments = _instruments()
        self._task: asyncio.Task[None] | None = None
        self.ticks = 0

    def _move(self, instrument: Instrument) -> float:
        change = instrument.price * self._random.gauss(0.0, instrument.volatility)
        instrument.price = max(0.01, instrument.price + change)
        return change

    def tick(self) -> list[PublishItem]:
        """The messages of one tick (prices, market data, sometimes a curve)."""
        rng = self._random
        items: list[PublishItem] = []
        stamp = _now()
        for instrument in rng.sample(self._instruments, 6):
            change = self._move(instrument)
            price = round(instrument.price, 4)
            spread = max(0.0001, round(price * 0.0004, 4))
            common = {
                "instrument_id": instrument.instrument_id,
                "commodity": instrument.commodity,
                "region": instrument.region,
                "currency": instrument.currency,
                "unit": instrument.unit,
            }
            items.append(PublishItem(topic=PRICES, key=instrument.instrument_id, data={
                **common, "price": price, "bid": round(price - spread, 4),
                "ask": round(price + spread, 4), "change": round(change, 4),
                "volume": rng.randrange(100, 5000, 50), "timestamp": stamp,
            }))  # fmt: skip
            items.append(PublishItem(topic=MARKET, key=instrument.instrument_id, data={
                **common, "last": price, "high": round(price + abs(change) * 2, 4),
                "low": round(price - abs(change) * 2, 4),
                "open_interest": rng.randrange(10_000, 90_000),
                "source": "dev-feed", "timestamp": stamp,
            }))  # fmt: skip
        if self.ticks % 4 == 0:
            instrument = rng.choice(self._instruments)
            slope = rng.uniform(-0.01, 0.015)
            points = [
                {"tenor": tenor, "price": round(instrument.price * (1 + slope * (i + 1)), 4)}
                for i, tenor in enumerate(_TENORS)
            ]
            items.append(PublishItem(topic=CURVES, key=instrument.instrument_id, data={
                "curve_id": f"{instrument.instrument_id}_FWD",
                "instrument_id": instrument.instrument_id,
                "commodity": instrument.commodity, "region": instrument.region,
                "currency": instrument.currency, "as_of": stamp, "points": points,
            }))  # fmt: skip
        self.ticks += 1
        return items

    async def _run(self) -> None:
        failing = False
        hub = self._runtime.hub
        while True:
            # Only what someone watches is published, so an idle `make run` neither burns
            # CPU nor fills the local JetStream store; prices keep moving regardless.
            items = [item for item in self.tick() if hub.has_subscribers(item.topic)]
            try:
                if items:
                    await publish_many(self._runtime, items)
                if failing:
                    logger.info("dev feed publishing again")
                failing = False
            except AccessError as exc:
                if not failing:
                    logger.warning("dev feed cannot publish: %s", exc.code)
                failing = True
            await asyncio.sleep(self._interval)

    def start(self) -> None:
        """Start publishing in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="dev feed")
            logger.info("dev feed publishing %d instruments", len(self._instruments))

    async def stop(self) -> None:
        """Stop publishing."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
