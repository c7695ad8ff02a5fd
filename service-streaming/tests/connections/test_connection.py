from __future__ import annotations

import asyncio

from access_streaming.connections import CloseCode, Connection, Owner
from access_streaming.fanout import control

OWNER = Owner("u", "t", (), 0.0)


async def test_writer_gets_everything_queued_in_one_batch() -> None:
    conn = Connection("sse", OWNER, max_queue=10)
    waiting = asyncio.create_task(conn.next_batch())
    await asyncio.sleep(0)
    frames = [control("pong"), control("pong"), control("pong")]
    for frame in frames:
        conn.push(frame)
    assert await waiting == frames
    conn.push(frames[0])
    conn.push(frames[1])
    assert await conn.next_batch() == frames[:2]


async def test_close_wakes_the_writer_and_the_first_close_wins() -> None:
    conn = Connection("websocket", OWNER, max_queue=10)
    waiting = asyncio.create_task(conn.next_batch())
    await asyncio.sleep(0)
    conn.close(CloseCode.TOKEN_EXPIRED, "token expired")
    conn.close(CloseCode.NORMAL, "")
    assert await waiting is None
    assert (conn.close_code, conn.close_reason) == (4001, "token expired")
    conn.push(control("pong"))
    assert not conn.queue


async def test_a_cancelled_wait_does_not_lose_the_next_frame() -> None:
    conn = Connection("sse", OWNER, max_queue=10)
    try:
        async with asyncio.timeout(0.01):
            await conn.next_batch()
    except TimeoutError:
        pass
    frame = control("pong")
    conn.push(frame)
    assert await conn.next_batch() == [frame]
