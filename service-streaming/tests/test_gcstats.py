from __future__ import annotations

import gc

from access_streaming.gcstats import GcPauses


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
