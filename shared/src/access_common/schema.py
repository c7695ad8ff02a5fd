"""JSON Schema of a pydantic model for a hand-written OpenAPI ``requestBody``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

__all__ = ["inline_schema"]


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's schema with its ``$defs`` put in place.

    A route that reads its body itself documents it through ``openapi_extra``; pydantic's
    ``#/$defs/...`` references do not resolve inside an OpenAPI document, and pointing
    them at ``#/components/schemas`` works only while another route happens to register
    the same models there.
    """
    schema = model.model_json_schema()
    defs: dict[str, Any] = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return dict(walk(schema))
