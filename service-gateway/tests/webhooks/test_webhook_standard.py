"""Standard Webhooks (and Svix's header names) through the standardwebhooks package."""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime

import orjson
from standardwebhooks.webhooks import Webhook

from access_gateway.webhooks.testing import AppClient, generic_body, standard_signed

KEY_NEW = "whsec_" + base64.b64encode(b"n" * 32).decode()
KEY_OLD = "whsec_" + base64.b64encode(b"o" * 32).decode()


def _sources(*keys: str) -> dict[str, object]:
    return {"partner": {"scheme": "standard", "secrets": list(keys)}}


async def test_webhook_and_svix_headers_are_accepted(make_client: AppClient) -> None:
    async with make_client(webhook_sources=_sources(KEY_NEW)) as client:
        for prefix in ("webhook", "svix"):
            body = generic_body()
            headers = standard_signed(
                body, KEY_NEW, msg_id=f"msg_{uuid.uuid4().hex}", timestamp=int(time.time()),
                prefix=prefix,
            )  # fmt: skip
            response = await client.post("/webhook/partner", content=body, headers=headers)
            assert response.status_code == 202, response.text


async def test_several_signatures_during_rotation(make_client: AppClient) -> None:
    body = generic_body()
    msg_id, now = f"msg_{uuid.uuid4().hex}", int(time.time())
    old = standard_signed(body, KEY_OLD, msg_id=msg_id, timestamp=now)["webhook-signature"]
    new = standard_signed(body, KEY_NEW, msg_id=msg_id, timestamp=now)
    new["webhook-signature"] = f"{old} {new['webhook-signature']}"
    async with make_client(webhook_sources=_sources(KEY_NEW)) as client:
        response = await client.post("/webhook/partner", content=body, headers=new)
    assert response.status_code == 202, response.text


async def test_wrong_key_stale_timestamp_and_missing_headers(make_client: AppClient) -> None:
    body = generic_body()
    async with make_client(webhook_sources=_sources(KEY_NEW)) as client:
        wrong = await client.post(
            "/webhook/partner",
            content=body,
            headers=standard_signed(body, KEY_OLD, msg_id="msg_1", timestamp=int(time.time())),
        )
        stale = await client.post(
            "/webhook/partner",
            content=body,
            headers=standard_signed(
                body, KEY_NEW, msg_id="msg_2", timestamp=int(time.time()) - 900
            ),
        )
        seed_hmac = await client.post(
            "/webhook/partner", content=body, headers={"content-type": "application/json"}
        )
        garbled = await client.post(
            "/webhook/partner",
            content=body,
            headers={
                **standard_signed(body, KEY_NEW, msg_id="msg_3", timestamp=int(time.time())),
                "webhook-signature": "v1 no-comma",
            },
        )
    assert wrong.json()["code"] == "GW-001"
    assert stale.json()["code"] == "GW-002"
    assert seed_hmac.json()["code"] == "GW-001"
    assert garbled.json()["code"] == "GW-001"


async def test_same_webhook_id_is_a_duplicate(make_client: AppClient) -> None:
    msg_id = f"msg_{uuid.uuid4().hex}"
    async with make_client(webhook_sources=_sources(KEY_NEW)) as client:
        first_body = generic_body()
        first = await client.post(
            "/webhook/partner",
            content=first_body,
            headers=standard_signed(first_body, KEY_NEW, msg_id=msg_id, timestamp=int(time.time())),
        )
        # The same message id with another body (a replay re-signed by the sender's library).
        second_body = generic_body(instrument="ETHUSD")
        second = await client.post(
            "/webhook/partner",
            content=second_body,
            headers=standard_signed(
                second_body, KEY_NEW, msg_id=msg_id, timestamp=int(time.time())
            ),
        )
    assert first.status_code == 202
    assert second.status_code == 409
    assert second.json()["code"] == "GW-006"
    assert orjson.loads(first.content)["id"] == second.json()["details"]["id"]


async def test_signed_by_the_standardwebhooks_library(make_client: AppClient) -> None:
    """Interop: what the sender-side library signs, the gateway accepts."""
    body = generic_body()
    msg_id = f"msg_{uuid.uuid4().hex}"
    moment = datetime.now(UTC)
    signature = Webhook(KEY_NEW).sign(msg_id, moment, body.decode())
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signature,
    }
    async with make_client(webhook_sources=_sources(KEY_NEW)) as client:
        response = await client.post("/webhook/partner", content=body, headers=headers)
    assert response.status_code == 202, response.text
