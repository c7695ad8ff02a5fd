"""The hot path's wire: bodies parsed by pydantic-core straight from bytes, answers by orjson.

``check`` and ``check-batch`` are called for nearly every gateway request and every
subscription. FastAPI's own path (stdlib ``json``, then model validation, then response
validation and ``jsonable_encoder``) cost about a third of a cached check's time in
profiles; this keeps the same models and error model for a fraction of it.
"""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from access_common.errors import ValidationFailed
from access_common.responses import JsonBytesResponse
from access_common.schema import inline_schema
from access_entitlements.decisions.service import Verdict

__all__ = ["body_schema", "parse_body", "verdict_response"]

M = TypeVar("M", bound=BaseModel)


def body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI requestBody of a route that reads its body itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": inline_schema(model)}},
        }
    }


def parse_body(model: type[M], body: bytes) -> M:
    """Validate a JSON body; 422 VALIDATION_FAILED with the failing fields (no values)."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        errors = [
            {"loc": ["body", *(str(p) for p in err["loc"])], "msg": err["msg"], "type": err["type"]}
            for err in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        raise ValidationFailed(details={"errors": errors}) from None


def verdict_response(verdict: Verdict) -> JsonBytesResponse:
    """A check's answer, encoded once."""
    return JsonBytesResponse(
        orjson.dumps(
            {
                "allow": verdict.allow,
                "ttl_seconds": verdict.ttl_seconds,
                "reason": verdict.reason,
                "rule_id": verdict.rule_id,
                "policy_version": verdict.policy_version,
            }
        )
    )
