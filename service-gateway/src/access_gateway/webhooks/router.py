"""The webhook endpoints: ``POST /webhook/{source}`` (and its named forms) and ``/healthz``."""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.requests import ClientDisconnect

from access_common.errors import ErrorBody
from access_common.responses import JsonBytesResponse
from access_common.routes import DirectRoute
from access_gateway.webhooks.errors import BodyTooLarge
from access_gateway.webhooks.payloads import GenericSignal, TradingViewAlert
from access_gateway.webhooks.schemas import AcceptedBody, Healthz
from access_gateway.webhooks.service import Accepted, BodyReader, Inbound, WebhookService
from access_gateway.webhooks.signal import SCHEMA

__all__ = ["webhook_router"]

_REFUSALS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        401: "GW-001 signature, GW-002 replay or nonce",
        403: "GW-012 client address not allowed",
        404: "GW-007 source not allowed",
        409: "GW-006 duplicate",
        413: "GW-008 payload too large",
        415: "GW-009 content type",
        422: "GW-003 malformed payload",
        429: "GW-004 rate limit (Retry-After)",
        500: "GW-010 internal error",
        503: "GW-005 NATS unavailable, GW-011 maintenance, GW-013 store (Retry-After)",
    }.items()
}


def _body_schema(model: type[TradingViewAlert | GenericSignal]) -> dict[str, Any]:
    schema = {"schema": model.model_json_schema()}
    return {"requestBody": {"required": True, "content": {"application/json": schema}}}


def _headers(request: Request) -> dict[str, str]:
    # One dict per request instead of a linear scan of the raw list per lookup (the
    # service and the schemes read six or more headers). ASGI names are lower case;
    # the first of repeated headers wins, as with Starlette's Headers.
    return {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in reversed(request.scope["headers"])
    }


def _reader(request: Request, headers: dict[str, str]) -> BodyReader:
    async def read(limit: int) -> bytes:
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise BodyTooLarge(details={"limit_bytes": limit})
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(details={"limit_bytes": limit})
                if chunk:
                    chunks.append(chunk)
        except ClientDisconnect:
            # The platform's body cap cut the stream (or the client left): too large.
            raise BodyTooLarge(details={"limit_bytes": limit}) from None
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    return read


def _inbound(request: Request, source: str, token: str | None = None) -> Inbound:
    client = request.client
    headers = _headers(request)
    return Inbound(
        source=source,
        headers=headers,
        peer=client.host if client is not None else None,
        read_body=_reader(request, headers),
        path_token=token,
    )


def _answer(accepted: Accepted) -> JsonBytesResponse:
    # The AcceptedBody shape, encoded once with orjson: no response-model validation
    # and serialization per accepted webhook (the route still documents AcceptedBody).
    body = {
        "status": "accepted",
        "id": accepted.id,
        "source": accepted.source,
        "schema": SCHEMA,
        "corr_id": accepted.corr_id,
        "raw_seq": accepted.raw_seq,
        "normalized_seq": accepted.normalized_seq,
    }
    return JsonBytesResponse(orjson.dumps(body), status_code=202)


def webhook_router(service: WebhookService) -> APIRouter:
    """The routes, bound to ``service`` (no dependency to solve per request)."""
    router = APIRouter(tags=["webhooks"], route_class=DirectRoute)
    common: dict[str, Any] = {
        "status_code": 202,
        "response_model": AcceptedBody,
        "responses": _REFUSALS,
        "response_model_by_alias": True,
    }

    @router.post(
        "/webhook/tradingview",
        summary="TradingView alert {ticker, action, price, time}",
        openapi_extra=_body_schema(TradingViewAlert),
        **common,
    )
    async def tradingview(request: Request) -> JsonBytesResponse:
        return _answer(await service.accept(_inbound(request, "tradingview")))

    @router.post(
        "/webhook/generic",
        summary="Generic signal {source, instrument, timestamp, payload}",
        openapi_extra=_body_schema(GenericSignal),
        **common,
    )
    async def generic(request: Request) -> JsonBytesResponse:
        return _answer(await service.accept(_inbound(request, "generic")))

    @router.post("/webhook/{source}", summary="Signal from a configured source", **common)
    async def any_source(source: str, request: Request) -> JsonBytesResponse:
        return _answer(await service.accept(_inbound(request, source)))

    @router.post(
        "/webhook/{source}/{token}",
        summary="Signal from a source whose token travels in the URL",
        **common,
    )
    async def with_path_token(source: str, token: str, request: Request) -> JsonBytesResponse:
        # The access log prints the path: the token must not be in it.
        masked = f"/webhook/{source}/[REDACTED]"
        request.scope["path"] = masked
        request.scope["raw_path"] = masked.encode()
        return _answer(await service.accept(_inbound(request, source, token)))

    @router.get(
        "/healthz",
        response_model=Healthz,
        summary="Seed 004 health: NATS connection state, from memory (no I/O)",
        responses={503: {"model": Healthz, "description": "NATS disconnected"}},
        tags=["health"],
    )
    async def healthz(request: Request) -> JsonBytesResponse:
        state = service.publisher.state()
        body = {
            "ok": state != "disconnected",
            "uptime_s": int(time.monotonic() - request.app.state.health.started),
            "nats": state,
            "version": request.app.state.settings.version,
        }
        return JsonBytesResponse(body, status_code=200 if body["ok"] else 503)

    return router
