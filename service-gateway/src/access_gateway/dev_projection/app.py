"""The development projection upstream: the routes the gateway's table forwards to.

Not for production: a stand-in for the projection service so ``make run`` answers every
built-in route with real-looking data. It echoes the ``X-Tenant-ID`` it was sent as
``tenant_id``, which makes the gateway's tenant handling visible.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Query
from pydantic import BaseModel, Field
from pydantic_settings import SettingsConfigDict

from access_common.app import build_app
from access_common.errors import BadRequest, NotFound
from access_common.responses import JsonBytesResponse
from access_common.settings import ServiceSettings, load_settings
from access_gateway.dev_projection import data

__all__ = ["DevProjectionSettings", "create_app"]

_FILTERABLE = frozenset({"commodity", "region", "type", "currency", "unit", "exchange"})

TenantHeader = Annotated[str | None, Header(alias="x-tenant-id")]


class DevProjectionSettings(ServiceSettings):
    """``ACCESS_DEV_PROJECTION_*``: its own prefix, so it never takes the gateway's port."""

    model_config = SettingsConfigDict(
        env_prefix="ACCESS_DEV_PROJECTION_", extra="ignore", frozen=True
    )

    port: int = Field(default=8020, ge=1, le=65535)


class BulkRequest(BaseModel):
    """``{"curve_ids": [...]}``."""

    curve_ids: list[str] = Field(min_length=1, max_length=100)


class RecomputeRequest(BaseModel):
    """Which curves to recompute (all when empty)."""

    curve_ids: list[str] = Field(default_factory=list, max_length=100)


def _filters(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    wanted: dict[str, str] = {}
    for part in text.split(","):
        field, _, value = part.partition(":")
        if field not in _FILTERABLE or not value:
            raise BadRequest(
                f"Cannot filter on {field!r}",
                code="FILTER_INVALID",
                details={"filterable": sorted(_FILTERABLE)},
            )
        wanted[field] = value
    return wanted


router = APIRouter()


@router.get("/instruments")
async def instruments(
    tenant: TenantHeader = None,
    page: Annotated[int, Query(ge=1)] = 1,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    filters: str | None = None,
) -> JsonBytesResponse:
    """A page of instruments, filtered; the total in X-Total-Count."""
    wanted = _filters(filters)
    matching = [
        inst.public()
        for inst in data.INSTRUMENTS
        if all(str(getattr(inst, k)).lower() == v.lower() for k, v in wanted.items())
    ]
    start = (page - 1) * limit
    body = {"tenant_id": tenant, "page": page, "limit": limit, "total": len(matching),
            "items": matching[start : start + limit]}  # fmt: skip
    return JsonBytesResponse(body, headers={"X-Total-Count": str(len(matching))})


@router.get("/instruments/{instrument_id}")
async def instrument(instrument_id: str, tenant: TenantHeader = None) -> JsonBytesResponse:
    """One instrument."""
    found = data.instrument(instrument_id)
    if found is None:
        raise NotFound(f"No instrument {instrument_id}", code="INSTRUMENT_NOT_FOUND")
    return JsonBytesResponse({"tenant_id": tenant, **found.public()})


@router.get("/curves/{curve_id}")
async def curve(
    curve_id: str, tenant: TenantHeader = None, as_of: date | None = None
) -> JsonBytesResponse:
    """One forward curve."""
    found = data.curve(curve_id, as_of)
    if found is None:
        raise NotFound(f"No curve {curve_id}", code="CURVE_NOT_FOUND")
    return JsonBytesResponse(
        {"tenant_id": tenant, **found}, headers={"X-Projection-As-Of": f"{time.time():.3f}"}
    )


@router.post("/curves/bulk")
async def curves_bulk(request: BulkRequest, tenant: TenantHeader = None) -> JsonBytesResponse:
    """Many curves; unknown ids are listed under ``missing``."""
    curves: list[dict[str, Any]] = []
    missing: list[str] = []
    for curve_id in request.curve_ids:
        found = data.curve(curve_id)
        if found is None:
            missing.append(curve_id)
        else:
            curves.append(found)
    return JsonBytesResponse({"tenant_id": tenant, "curves": curves, "missing": missing})


@router.post("/curves/recompute", status_code=202)
async def recompute(request: RecomputeRequest, tenant: TenantHeader = None) -> JsonBytesResponse:
    """Pretend to recompute curves (a short pause stands for the work)."""
    ids = request.curve_ids or data.curve_ids()
    unknown = [i for i in ids if data.curve(i, months=1) is None]
    if unknown:
        raise NotFound("Unknown curves", code="CURVE_NOT_FOUND", details={"missing": unknown})
    await asyncio.sleep(0.05)
    body = {"tenant_id": tenant, "job_id": uuid.uuid4().hex, "status": "accepted",
            "curves": len(ids)}  # fmt: skip
    return JsonBytesResponse(body, status_code=202)


@router.get("/prices/latest")
async def prices_latest(
    tenant: TenantHeader = None, instruments: str | None = None
) -> JsonBytesResponse:
    """Latest prices (they move every second)."""
    now = time.time()
    ids = instruments.split(",") if instruments else None
    body = {"tenant_id": tenant, "prices": data.latest_prices(ids, now)}
    return JsonBytesResponse(body, headers={"X-Projection-As-Of": f"{now:.3f}"})


def create_app(settings: DevProjectionSettings | None = None) -> FastAPI:
    """Build the development projection app."""
    settings = settings or load_settings(DevProjectionSettings)
    return build_app(
        settings,
        service="dev-projection",
        title="254Carbon development projection (sample data)",
        description="A stand-in upstream for local runs; not for production.",
        routers=[router],
        access_log=False,
    )
