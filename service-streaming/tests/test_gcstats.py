from __future__ import annotations

import asyncio
import gc

from access_streaming.gcstats import THRESHOLDS, GcPauses


def test_a_full_collection_freezes_what_survived() -> None:
    pauses = GcPauses()
    pauses.start()
    try:
        survivors = [[i] for i in range(1000)]
        before = gc.get_freeze_count()
        gc.collect()
        assert pauses.freezes == 1
        assert gc.get_freeze_count() >= before + len(survivors)
        gc.collect(0)  # a young collection freezes nothing
        assert pauses.freezes == 1
        report = pauses.report()
        assert report["freezes_after_full_collections"] == 1
        assert report["collections"]["gen2"] == 1
        assert "frozen_objects" not in report  # counting them walks the frozen set
    finally:
        pauses.stop()
        gc.unfreeze()


def test_freezing_can_be_turned_off() -> None:
    pauses = GcPauses(freeze=False)
    pauses.start()
    try:
        gc.collect()
        assert pauses.freezes == 0
    finally:
        pauses.stop()


def test_thresholds_are_set_while_started_and_put_back() -> None:
    previous = gc.get_threshold()
    pauses = GcPauses()
    pauses.start()
    try:
        assert gc.get_threshold() == THRESHOLDS
        assert pauses.report()["thresholds"] == list(THRESHOLDS)
    finally:
        pauses.stop()
        gc.unfreeze()
    assert gc.get_threshold() == previous


async def test_a_full_collection_is_followed_by_one_rebase_on_the_loop() -> None:
    # gc.freeze() leaves CPython's count of long-lived objects as the last full collection
    # set it (everything now frozen): one collection of the unfrozen heap resets it.
    pauses = GcPauses()
    pauses.start()
    try:
        gc.collect()
        assert pauses.collections[2] == 1
        await asyncio.sleep(0)  # the re-base runs on the next loop turn
        await asyncio.sleep(0)
        assert pauses.collections[2] == 2
        assert pauses.freezes == 2
        await asyncio.sleep(0.01)
        assert pauses.collections[2] == 2  # the re-base does not schedule another
    finally:
        pauses.stop()
        gc.unfreeze()


async def test_no_rebase_after_stop() -> None:
    pauses = GcPauses()
    pauses.start()
    gc.collect()
    pauses.stop()
    gc.unfreeze()
    await asyncio.sleep(0.01)
    assert pauses.collections[2] == 1


async def test_a_full_collection_in_another_thread_rebases_on_the_loop() -> None:
    pauses = GcPauses()
    pauses.start()
    try:
        await asyncio.to_thread(gc.collect)
        async with asyncio.timeout(2):
            while pauses.collections[2] < 2:
                await asyncio.sleep(0.01)
        assert not pauses._rebase_due
    finally:
        pauses.stop()
        gc.unfreeze()
