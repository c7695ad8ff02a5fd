"""The development data set: instruments, forward curves and latest prices that move.

Prices are a deterministic function of time, so every process agrees on them.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

__all__ = ["INSTRUMENTS", "Instrument", "curve", "curve_ids", "latest_prices"]


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable instrument of the sample set."""

    id: str
    name: str
    commodity: str
    region: str
    type: str
    currency: str
    unit: str
    exchange: str
    base_price: float

    def public(self) -> dict[str, Any]:
        """The instrument as served (the base price is internal)."""
        data = asdict(self)
        del data["base_price"]
        data["curve_id"] = f"{self.id}-FWD"
        return data


# id | name | commodity | region | type | currency | unit | exchange | base price
_TABLE = """\
NG-HH|Henry Hub Natural Gas|gas|north_america|future|USD|MMBtu|NYMEX|3.12
NG-TETCO-M3|TETCO M3 Gas|gas|north_america|basis|USD|MMBtu|ICE|3.45
NG-SOCAL|SoCal Citygate Gas|gas|north_america|basis|USD|MMBtu|ICE|4.05
NG-AECO|AECO Natural Gas|gas|north_america|basis|CAD|GJ|NGX|2.10
TTF|Dutch TTF Gas|gas|europe|future|EUR|MWh|ICE Endex|34.8
NBP|UK NBP Gas|gas|europe|future|GBp|therm|ICE|86.5
THE|Trading Hub Europe Gas|gas|europe|future|EUR|MWh|EEX|35.6
JKM|Japan Korea Marker LNG|lng|asia|swap|USD|MMBtu|ICE|11.9
LNG-DES-NWE|LNG DES Northwest Europe|lng|europe|swap|USD|MMBtu|ICE|11.1
BRENT|Brent Crude|oil|europe|future|USD|bbl|ICE|78.4
WTI|WTI Crude|oil|north_america|future|USD|bbl|NYMEX|74.9
DUBAI|Dubai Crude|oil|middle_east|swap|USD|bbl|Platts|77.2
RBOB|RBOB Gasoline|oil|north_america|future|USD|gal|NYMEX|2.31
HO|NY Harbor ULSD|oil|north_america|future|USD|gal|NYMEX|2.52
GASOIL|ICE Low Sulphur Gasoil|oil|europe|future|USD|t|ICE|712.0
COAL-API2|API2 Rotterdam Coal|coal|europe|future|USD|t|ICE|112.0
COAL-NEWC|Newcastle Coal|coal|asia|future|USD|t|ICE|134.0
EUA|EU Allowance|emissions|europe|future|EUR|tCO2|ICE Endex|68.3
UKA|UK Allowance|emissions|europe|future|GBP|tCO2|ICE|41.7
CCA|California Carbon Allowance|emissions|north_america|future|USD|tCO2|ICE|31.2
RGGI|RGGI Allowance|emissions|north_america|future|USD|tCO2|ICE|21.5
PWR-PJMW-PEAK|PJM West Hub Peak|power|north_america|future|USD|MWh|ICE|58.6
PWR-PJMW-OFF|PJM West Hub Off-Peak|power|north_america|future|USD|MWh|ICE|39.9
PWR-ERCOTN-PEAK|ERCOT North Hub Peak|power|north_america|future|USD|MWh|ICE|52.3
PWR-ERCOTH-PEAK|ERCOT Houston Hub Peak|power|north_america|future|USD|MWh|ICE|55.1
PWR-CAISO-SP15|CAISO SP15 Peak|power|north_america|future|USD|MWh|ICE|61.4
PWR-MISO-IND|MISO Indiana Hub Peak|power|north_america|future|USD|MWh|ICE|49.8
PWR-NYISO-J|NYISO Zone J Peak|power|north_america|future|USD|MWh|NYMEX|72.4
PWR-ISONE-MH|ISO-NE Mass Hub Peak|power|north_america|future|USD|MWh|ICE|66.0
PWR-DE-BASE|German Power Baseload|power|europe|future|EUR|MWh|EEX|88.5
PWR-FR-BASE|French Power Baseload|power|europe|future|EUR|MWh|EEX|79.2
PWR-UK-BASE|UK Power Baseload|power|europe|future|GBP|MWh|ICE|81.7
PWR-NORDIC|Nordic System Price|power|europe|future|EUR|MWh|Nasdaq|41.3
PWR-JEPX|JEPX Tokyo Baseload|power|asia|future|JPY|kWh|TOCOM|12.6
PWR-NEM-NSW|NEM NSW Baseload|power|oceania|future|AUD|MWh|ASX|98.4
FRT-C5|Capesize C5 Freight|freight|oceania|swap|USD|t|Baltic|9.8
"""


def _parse(table: str) -> tuple[Instrument, ...]:
    rows = []
    for line in table.strip().splitlines():
        id_, name, commodity, region, kind, currency, unit, exchange, price = line.split("|")
        rows.append(
            Instrument(id_, name, commodity, region, kind, currency, unit, exchange, float(price))
        )
    return tuple(rows)


INSTRUMENTS: tuple[Instrument, ...] = _parse(_TABLE)

_BY_ID = {instrument.id: instrument for instrument in INSTRUMENTS}


def _phase(seed: str) -> float:
    return int(hashlib.blake2b(seed.encode(), digest_size=4).hexdigest(), 16) / 2**32 * 2 * math.pi


def curve_ids() -> list[str]:
    """Every curve id (one forward curve per instrument)."""
    return [f"{instrument.id}-FWD" for instrument in INSTRUMENTS]


def instrument(instrument_id: str) -> Instrument | None:
    """An instrument by id."""
    return _BY_ID.get(instrument_id)


def curve(curve_id: str, as_of: date | None = None, months: int = 24) -> dict[str, Any] | None:
    """A monthly forward curve: contango plus a seasonal shape, shifted by the as-of date."""
    inst = _BY_ID.get(curve_id.removesuffix("-FWD")) if curve_id.endswith("-FWD") else None
    if inst is None:
        return None
    day = as_of or datetime.now(UTC).date()
    phase = _phase(inst.id)
    seasonal = 0.12 if inst.commodity in {"gas", "power", "lng"} else 0.02
    drift = 0.03 * math.sin(day.toordinal() / 17 + phase)
    points = []
    year, month = day.year, day.month
    for step in range(1, months + 1):
        m = (month - 1 + step) % 12 + 1
        y = year + (month - 1 + step) // 12
        shape = 1 + seasonal * math.cos((m - 1) / 12 * 2 * math.pi) + 0.002 * step + drift
        points.append({"tenor": f"{y:04d}-{m:02d}", "price": round(inst.base_price * shape, 4)})
    return {
        "curve_id": curve_id,
        "instrument_id": inst.id,
        "as_of": day.isoformat(),
        "currency": inst.currency,
        "unit": inst.unit,
        "points": points,
    }


def latest_price(inst: Instrument, now: float) -> dict[str, Any]:
    """The instrument's price now: slow waves and a fast wiggle around its base."""
    phase = _phase(inst.id)
    move = 0.03 * math.sin(now / 600 + phase) + 0.006 * math.sin(now / 9 + 2 * phase)
    previous = 0.03 * math.sin((now - 86_400) / 600 + phase)
    price = inst.base_price * (1 + move)
    return {
        "instrument_id": inst.id,
        "price": round(price, 4),
        "change_pct_1d": round((move - previous) * 100, 3),
        "currency": inst.currency,
        "unit": inst.unit,
        "ts": datetime.fromtimestamp(int(now), UTC).isoformat(),
    }


def latest_prices(ids: list[str] | None, now: float | None = None) -> list[dict[str, Any]]:
    """Latest prices of some instruments (all when ``ids`` is None); unknown ids skipped."""
    moment = time.time() if now is None else now
    chosen = INSTRUMENTS if ids is None else tuple(_BY_ID[i] for i in ids if i in _BY_ID)
    return [latest_price(inst, moment) for inst in chosen]
