"""File-name stems from untrusted text (tui.filenames)."""

from __future__ import annotations

from auditlog.tui.filenames import MAX_STEM, safe_stem


def test_short_ids_keep_their_safe_characters() -> None:
    """A short id keeps letters, digits, dot, dash and underscore; every other run becomes one underscore."""
    assert "auditlog-event-a_b.c-1_x_" == safe_stem("auditlog-event-a/b.c-1 [x]")


def test_a_512_character_id_is_cut_with_a_hash() -> None:
    """A 512-character id gives a stem of MAX_STEM characters ending in a dash and a 12-digit hash."""
    stem = safe_stem("auditlog-event-" + "x" * 512)
    assert (MAX_STEM, "-", 12) == (len(stem), stem[-13], len(stem.rsplit("-", 1)[1]))


def test_long_ids_sharing_a_prefix_get_different_stems() -> None:
    """Two long ids that differ only at the end do not collide."""
    assert safe_stem("e" * 500 + "1") != safe_stem("e" * 500 + "2")


def test_a_stem_never_hides_or_vanishes() -> None:
    """A stem of dots only is neither hidden nor empty."""
    assert "_" == safe_stem("...")
