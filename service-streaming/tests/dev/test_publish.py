from __future__ import annotations

import orjson
import pytest

from access_common.errors import ValidationFailed
from access_streaming.dev.publish import PublishItem, parse_items, result_body


def test_one_message_or_a_list() -> None:
    assert parse_items(b'{"topic":"a.b","data":{"x":[1,2.5,null]}}') == [
        PublishItem("a.b", {"x": [1, 2.5, None]})
    ]
    items = parse_items(b'[{"topic":"a","data":1,"key":"k"},{"topic":"b","data":null}]')
    assert items == [PublishItem("a", 1, "k"), PublishItem("b", None)]
    assert parse_items(b"[]") == []


@pytest.mark.parametrize(
    ("body", "loc", "kind"),
    [
        (b"{", ["body"], "json_invalid"),
        (b"", ["body"], "json_invalid"),
        (b"3", ["body"], "model_type"),
        (b'[{"topic":"a","data":1}, "x"]', ["body", 1], "model_type"),
        (b'{"topic":"a"}', ["body", "data"], "missing"),
        (b'[{"data":1}]', ["body", 0, "topic"], "missing"),
        (b'{"topic":"a","data":1,"key":5}', ["body", "key"], "string_type"),
    ],
)
def test_anything_else_is_a_422_naming_the_place(body: bytes, loc: list[object], kind: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_items(body)
    assert caught.value.status == 422
    assert caught.value.code == "VALIDATION_FAILED"
    (error,) = caught.value.details["errors"]
    assert error["loc"] == loc
    assert error["type"] == kind


def test_result_body() -> None:
    assert orjson.loads(result_body([4, 5])) == {"published": 2, "offsets": [4, 5]}
