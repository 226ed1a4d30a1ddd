"""Shared tamper-evidence rules: ranges, digest bodies, hashes."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditlog.agent.signing import load_key
from auditlog.indexer.integrity import (
    SHORT_HASH_BYTES,
    UNKNOWN_HASH,
    Columns,
    Record,
    by_stream,
    decode_runs,
    decode_seqs,
    digest_body,
    digest_hash,
    digest_hashes,
    digest_id,
    digest_listing,
    encode_runs,
    encode_seqs,
    hash_root,
    holes,
    load_public_keys,
    merge_ranges,
    recent_ranges,
    seq_ranges,
    stream_ranges,
    window_body,
)
from tests.indexer import integrity_reference


def _records() -> list[Record]:
    return [Record("audit-basic-x", f"e{i}", bytes([i]) * 32, f"2026-12-02T10:00:0{i}Z", "s", i) for i in (1, 2, 4)]


def test_seq_ranges_compress_runs() -> None:
    """Numbers become sorted inclusive runs."""
    assert seq_ranges([5, 1, 2, 3, 9, 10]) == [[1, 3], [5, 5], [9, 10]]


def test_seq_ranges_of_gapless_numbers_are_one_range() -> None:
    """Numbers without a gap are one range (the shortcut), and one gap still splits them."""
    assert (seq_ranges(range(7, 20_007)), seq_ranges([*range(3, 10), 11])) == ([[7, 20_006]], [[3, 9], [11, 11]])


def test_merge_ranges_joins_touching_runs() -> None:
    """Touching and overlapping runs merge into one."""
    assert merge_ranges([[1, 3], [8, 9]], [[4, 5]], [[9, 12]]) == [[1, 5], [8, 12]]


@settings(max_examples=300, deadline=None)
@given(st.sets(st.integers(1, 400), max_size=300), st.data(), st.integers(0, 12))
def test_recent_ranges_claim_nothing_undelivered_keep_their_own_and_stay_bounded(
    numbers: set[int], data: st.DataObject, limit: int,
) -> None:
    """What a digest carries is a suffix of what was delivered holding its own numbers: the newest limit + 1 ranges,
    or from the range of its oldest own number on when that lies further back."""
    delivered = seq_ranges(numbers)
    own_numbers = data.draw(st.sets(st.sampled_from(sorted(numbers)), max_size=20)) if numbers else set()
    kept = recent_ranges(delivered, seq_ranges(own_numbers), limit)
    carried = {n for a, b in kept for n in range(a, b + 1)}
    assert kept == delivered[len(delivered) - len(kept):] and own_numbers <= carried
    oldest = min(own_numbers, default=None)
    reach = next(i for i, (a, b) in enumerate(delivered) if a <= oldest <= b) if oldest is not None else len(delivered)
    assert len(kept) == max(min(len(delivered), limit + 1), len(delivered) - reach)


def test_recent_ranges_keep_the_newest_history() -> None:
    """Beyond the limit, the oldest holes go and the newest stay."""
    assert recent_ranges([[1, 1], [3, 3], [5, 5], [7, 7], [9, 9]], [[9, 9]], limit=2) == [[5, 5], [7, 7], [9, 9]]


def test_an_old_number_sealed_late_carries_the_ranges_around_it() -> None:
    """A seal of a number far behind the newest (a replayed dead letter) carries the range holding it and every later
    one: a verify that reads only this digest sees the true holes (15, 17, 19), not a made-up 14..15."""
    delivered = [[1, 10], [12, 14], [16, 16], [18, 18], [20, 20]]
    kept = recent_ranges(delivered, [[13, 13]], limit=2)
    assert (kept, holes(kept)) == ([[12, 14], [16, 16], [18, 18], [20, 20]], [(15, 15), (17, 17), (19, 19)])


def test_holes_are_the_missing_runs() -> None:
    """The runs between merged ranges are what never arrived."""
    assert holes([[1, 5], [7, 7], [10, 12]]) == [(6, 6), (8, 9)]


def test_digest_body_lists_numbered_events_by_position() -> None:
    """Numbered events are listed by their stream numbers (no ids), with short hashes in that order, and a root."""
    records = list(reversed(_records()))  # delivery order does not matter: positions follow the numbers
    body = digest_body(agent="a", public_key="k", seq=3, prev="p", prev_index="i", index="audit-basic-x",
                       records=records, delivered={"s": [[1, 4]]})
    assert (body["v"], body["width"], body["ids"], body["first"], body["last"], body["streams"]) == (
        3, 2, [], "2026-12-02T10:00:01Z", "2026-12-02T10:00:04Z",
        {"s": {"seqs": encode_seqs([1, 2, 4]), "delivered": [[1, 4]]}})
    assert digest_hashes(body) == [r.hash[:SHORT_HASH_BYTES] for r in _records()]
    assert body["root"] == hashlib.sha256(b"".join(r.hash for r in _records())).hexdigest()


def test_digest_body_lists_unnumbered_and_repeated_events_by_id_after_the_numbered() -> None:
    """Events without a number, and a second event with a number already listed, are listed by id, in order."""
    records = [*_records(), Record("x", "other", b"\7" * 32, "2026-12-02T10:00:05Z"),
               Record("x", "again", b"\x08" * 32, "2026-12-02T10:00:06Z", "s", 2)]
    listing = digest_listing(digest_body(agent="a", public_key="k", seq=1, prev=None, prev_index=None,
                                         index="x", records=records))
    assert [listing.where(i) for i in range(len(listing))] == [
        "stream s seq 1", "stream s seq 2", "stream s seq 4", "other", "again"]
    assert [listing.signed(i) for i in (3, 4)] == [b"\7" * SHORT_HASH_BYTES, b"\x08" * SHORT_HASH_BYTES]


def test_digest_body_marks_unknown_hashes_by_position() -> None:
    """An event whose hash the agent could not know (a 409 re-send) is listed as unknown at its position."""
    records = [r._replace(hash=UNKNOWN_HASH) if r.seq == 2 else r for r in _records()]
    body = digest_body(agent="a", public_key="k", seq=1, prev=None, prev_index=None, index="x", records=records)
    assert digest_listing(body).unknown == {1}


def test_digest_listing_reads_format_1() -> None:
    """A digest written before format 2 (ids and full hashes, no ``v``) still reads: every event by id."""
    body = {"ids": ["e1", "e2"], "hashes": base64.b64encode(b"\1" * 32 + bytes(32)).decode(),
            "streams": {"s": {"seqs": [[1, 2]], "delivered": [[1, 2]]}}}
    listing = digest_listing(body)
    assert ([listing.where(0), listing.where(1)], listing.signed(0), listing.unknown, listing.root) == (
        ["e1", "e2"], b"\1" * 32, {1}, None)


def test_digest_listing_refuses_hashes_that_do_not_fit_the_positions() -> None:
    """A format-2 digest with one hash too few is unreadable, not silently shifted."""
    body = digest_body(agent="a", public_key="k", seq=1, prev=None, prev_index=None, index="x", records=_records())
    body["hashes"] = base64.b64encode(base64.b64decode(body["hashes"])[:-SHORT_HASH_BYTES]).decode()
    with pytest.raises(ValueError, match="do not match"):
        digest_listing(body)


def test_digest_listing_reads_format_2() -> None:
    """A format-2 digest (stream numbers as varint runs, 4-byte hashes) still reads position by position."""
    hashes = [bytes([i]) * 32 for i in (1, 2, 3)]
    body = {"v": 2, "streams": {"s": {"runs": encode_runs([[1, 2], [5, 5]]), "delivered": [[1, 5]]}}, "ids": [],
            "width": 4, "hashes": base64.b64encode(b"".join(h[:4] for h in hashes)).decode(), "unknown": [],
            "root": hash_root(hashes)}
    listing = digest_listing(body)
    assert ([listing.where(i) for i in range(3)], listing.signed(2), listing.root) == (
        ["stream s seq 1", "stream s seq 2", "stream s seq 5"], b"\3" * 4, hash_root(hashes))


def test_seqs_round_trip_through_their_gap_form() -> None:
    """Numbers, large ones and long gaps included, come back from the MessagePack gaps unchanged."""
    numbers = [1, 3, 4, 200, 202, 10**12, 10**12 + 5]
    assert decode_seqs(encode_seqs(numbers)) == numbers


def test_seqs_that_do_not_ascend_are_refused() -> None:
    """A gap of zero (a number listed twice) is an error, not a listing with a repeated position."""
    with pytest.raises(ValueError, match="ascending"):
        decode_seqs(base64.b64encode(bytes([0x93, 5, 1, 0])).decode())


def test_by_stream_orders_interleaved_streams_and_leaves_out_repeats() -> None:
    """Streams come by name, numbers ascending, other producers' events and a repeated number left out."""
    streams = ["b", "a", "b", None, "a", "b"]
    seqs = [7, 2, 5, None, 1, 7]
    assert by_stream(streams, seqs) == [("a", [4, 1], [1, 2]), ("b", [2, 0], [5, 7])]


def test_window_over_positions_is_the_window_of_those_events() -> None:
    """A body built from positions in larger columns equals the body built from just those events."""
    others = [Record("audit-basic-y", f"o{i}", bytes([9 + i]) * 32, "2026-12-02T11:00:00Z", "s", 10 + i)
              for i in range(3)]
    mixed = [others[0], *_records()[:2], others[1], _records()[2], others[2]]
    window = window_body(agent="a", public_key="k", seq=1, prev=None, prev_index=None, index="audit-basic-x",
                         events=Columns.of(mixed), at=[1, 2, 4])
    assert window == digest_body(agent="a", public_key="k", seq=1, prev=None, prev_index=None, index="audit-basic-x",
                                 records=_records())


def test_runs_round_trip_through_their_compact_form() -> None:
    """Ranges, large numbers and long gaps included, come back from the varint form unchanged."""
    ranges = [[1, 1], [3, 200], [202, 202], [10**12, 10**12 + 5]]
    assert decode_runs(encode_runs(ranges)) == ranges


def test_runs_cut_short_are_refused() -> None:
    """A runs field missing its last varint is an error, not a shorter listing."""
    text = encode_runs([[5, 6]])
    with pytest.raises(ValueError, match="truncated"):
        decode_runs(base64.b64encode(base64.b64decode(text)[:-1]).decode())


def test_digest_hash_ignores_key_order() -> None:
    """The chain link is over sorted-key JSON, so a re-serialised digest links the same."""
    body = digest_body(agent="a", public_key="k", seq=1, prev=None, prev_index=None, index="x", records=_records())
    assert digest_hash(dict(reversed(list(body.items())))) == digest_hash(body)


def test_digest_hashes_refuses_a_wrong_length() -> None:
    """Hashes that do not match the ids are an error, not a silent truncation."""
    body = {"ids": ["a", "b"], "hashes": base64.b64encode(b"\0" * 33).decode()}
    with pytest.raises(ValueError, match="do not match"):
        digest_hashes(body)


def test_digest_ids_sort_by_seq() -> None:
    """Digest ids are zero-padded so they sort in chain order."""
    assert sorted([digest_id("a", 10), digest_id("a", 9)]) == [digest_id("a", 9), digest_id("a", 10)]


def test_public_keys_are_read_from_pem(tmp_path: Path) -> None:
    """Two concatenated PEM keys give both raw keys."""
    a, b = load_key(tmp_path / "a"), load_key(tmp_path / "b")
    assert load_public_keys((a.public_pem() + b.public_pem()).encode()) == [a.public_raw, b.public_raw]


def test_text_without_a_key_is_refused() -> None:
    """A file without a PEM public key is a usage error, not an empty pin list."""
    with pytest.raises(ValueError, match="no PEM public key"):
        load_public_keys(b"hello")


_hash = st.sampled_from([UNKNOWN_HASH, bytes(16) + b"\x01" * 16, b"\x01" * 16 + bytes(16)]) | st.binary(
    min_size=32, max_size=32)


@st.composite
def _seal(draw: st.DrawFn) -> tuple[Columns, list[int] | None]:
    """Columns as a seal loads them (numbered or not, repeats, out of order, unknown hashes, any times) and a window."""
    count = draw(st.integers(0, 60))
    column = st.lists
    streams = draw(column(st.sampled_from([None, "a", "b", "c"]), min_size=count, max_size=count))
    seqs = draw(column(st.none() | st.integers(0, 40) | st.integers(0, 2**40), min_size=count, max_size=count))
    events = Columns(draw(column(st.sampled_from(["i1", "i2"]), min_size=count, max_size=count)),
                     [f"e{i}" for i in range(count)], draw(column(_hash, min_size=count, max_size=count)),
                     draw(column(st.sampled_from(["2026-12-02T10:00:00Z", "2026-12-01T23:59:59.5Z", ""]) | st.text(
                         max_size=3), min_size=count, max_size=count)), streams, seqs)
    at = draw(st.none() | st.lists(st.integers(0, max(count - 1, 0)), unique=True).map(sorted)) if count else None
    return events, at


@settings(max_examples=400, deadline=None)
@given(_seal(), st.booleans())
def test_window_body_is_byte_for_byte_the_plain_reference(
        seal: tuple[Columns, list[int] | None], with_delivered: bool) -> None:
    """The C-level body (joined hashes, one set of streams, sorted times, one-range shortcut) is the reference's."""
    events, at = seal
    delivered = stream_ranges(events.streams, events.seqs) if with_delivered else None
    args: dict[str, object] = {"agent": "a", "public_key": "k", "seq": 3, "prev": "p", "prev_index": "x",
                               "index": "i1", "events": events, "at": at, "delivered": delivered}
    assert orjson.dumps(window_body(**args)) == orjson.dumps(integrity_reference.window_body(**args))  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(_seal())
def test_stream_ranges_are_the_plain_reference_ranges(seal: tuple[Columns, list[int] | None]) -> None:
    """Per stream the delivered ranges are the reference's (the shortcut for one gapless range included)."""
    events, _at = seal
    assert stream_ranges(events.streams, events.seqs) == integrity_reference.stream_ranges(events.streams, events.seqs)


def test_window_body_refuses_a_hash_that_is_not_32_bytes() -> None:
    """Short hashes are cut from the hashes end to end, so a hash of another length fails the window."""
    events = Columns(["i"], ["e"], [b"\x01" * 31], ["t"], [None], [None])
    with pytest.raises(ValueError, match="32 bytes"):
        window_body(agent="a", public_key="k", seq=1, prev=None, prev_index=None, index="i", events=events)
