"""GC tuning: relaxed thresholds inside a hot loop, the previous ones afterwards."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from auditlog.core.gc_tuning import RELAXED, relax_for_process, relaxed


@pytest.fixture(autouse=True)
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_relaxed_raises_thresholds_inside_and_restores_them() -> None:
    """Inside the block the thresholds are RELAXED; after it, what they were."""
    gc.set_threshold(700, 10, 10)
    with relaxed():
        inside = gc.get_threshold()
    assert (inside, gc.get_threshold()) == (RELAXED, (700, 10, 10))


def test_relaxed_restores_after_an_error() -> None:
    """An exception in the block still restores the previous thresholds."""
    gc.set_threshold(500, 5, 5)
    with pytest.raises(RuntimeError), relaxed():
        raise RuntimeError("boom")
    assert gc.get_threshold() == (500, 5, 5)


def test_relax_for_process_freezes_existing_objects() -> None:
    """Objects alive before the call leave the collector's generations; thresholds are RELAXED."""
    relax_for_process()
    assert (gc.get_freeze_count() > 0, gc.get_threshold()) == (True, RELAXED)
