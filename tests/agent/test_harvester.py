"""Harvester: bounded reads of complete lines with offsets, overlong lines skipped with a preview."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditlog.agent.harvester import Harvester, Line, Overlong, split_lines_py
from auditlog.agent.identity import FileIdentity

IDENT = FileIdentity(1, 2, 3, "fp")


def open_h(path: Path, offset: int = 0, **kw: int) -> Harvester:
    return Harvester(os.open(path, os.O_RDONLY), IDENT, str(path), offset, **kw)


def test_lines_carry_their_byte_offsets(tmp_path: Path) -> None:
    """Each line comes with the offset of its first byte; the block ends after the last newline."""
    p = tmp_path / "f"
    p.write_bytes(b"ab\ncde\n\nf")
    h = open_h(p)
    block = h.read(1 << 20)
    assert block is not None
    assert (block.lines, block.end) == ([(0, b"ab"), (3, b"cde"), (7, b"")], 8)


def test_starts_at_offset(tmp_path: Path) -> None:
    """Reading starts at the checkpointed offset."""
    p = tmp_path / "f"
    p.write_bytes(b"ab\ncd\n")
    block = open_h(p, 3).read(100)
    assert block is not None
    assert block.lines == [(3, b"cd")]


def test_nothing_new_returns_none(tmp_path: Path) -> None:
    """At end of file the harvester returns None."""
    p = tmp_path / "f"
    p.write_bytes(b"ab\n")
    h = open_h(p)
    h.read(100)
    assert h.read(100) is None


def test_small_chunks_reassemble_lines(tmp_path: Path) -> None:
    """Lines split across chunk boundaries come out whole."""
    p = tmp_path / "f"
    data = b"".join(b"line-%03d\n" % i for i in range(50))
    p.write_bytes(data)
    h = open_h(p, chunk_bytes=7)
    block = h.read(1 << 20)
    assert block is not None
    assert [b"line-%03d" % i for i in range(50)] == [ln for _o, ln in block.lines]


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=25),
       tail=st.binary(max_size=8).map(lambda b: b.replace(b"\n", b"")), chunk=st.integers(1, 40),
       budget=st.integers(1, 90), max_line=st.integers(1, 24))
def test_any_chunking_gives_each_line_with_its_offset_once(tmp_path_factory: pytest.TempPathFactory,
                                                          lines: list[bytes], tail: bytes, chunk: int, budget: int,
                                                          max_line: int) -> None:
    """Whatever the chunk size and budget, every complete line comes once with its offset (overlong ones as markers)."""
    p = tmp_path_factory.mktemp("h") / "f"
    p.write_bytes(b"".join(line + b"\n" for line in lines) + tail)
    h = open_h(p, chunk_bytes=chunk, max_line_bytes=max_line)
    got: list[tuple[int, bytes | int]] = []
    try:
        while (block := h.read(budget)) is not None:
            got.extend((o, ln.length if isinstance(ln, Overlong) else ln) for o, ln in block.lines)
    finally:
        h.close()
    want, off = [], 0
    for line in lines:
        want.append((off, line if len(line) <= max_line else len(line)))
        off += len(line) + 1
    assert got == want
    assert h.offset == off


@settings(max_examples=500, deadline=None)
@given(data=st.binary(max_size=60).map(lambda b: b.replace(b"\0", b"\n")),
       held=st.binary(max_size=10).map(lambda b: b.replace(b"\n", b"")), offset=st.integers(0, 2**62))
def test_the_c_split_gives_what_the_python_reference_gives(data: bytes, held: bytes, offset: int) -> None:
    """The C extension's split of a chunk appends the same (offset, line) items and returns the same rest."""
    from auditlog.agent._linescan import split_lines  # the tests require the C extension (agent/linescan.py)

    ours: list[Line] = [(0, b"before")]
    ref: list[Line] = [(0, b"before")]
    assert split_lines(ours, data, held, offset) == split_lines_py(ref, data, held, offset)
    assert ours == ref
    assert all(type(line) is bytes for _off, line in ours)


def test_the_c_split_refuses_what_is_not_a_list_bytes_and_a_non_negative_offset() -> None:
    """Wrong argument types or a negative offset raise rather than read memory they do not own."""
    from auditlog.agent._linescan import split_lines

    bad: tuple[tuple[object, object, object, int], ...] = (
        ((), b"a\n", b"", 0), ([], "a\n", b"", 0), ([], b"a\n", bytearray(), 0), ([], b"a\n", b"", -1),
        ([], b"a\n", b"", 2**64))
    for args in bad:
        with pytest.raises((TypeError, ValueError, OverflowError)):
            split_lines(*args)


def test_take_partial_returns_unterminated_last_line(tmp_path: Path) -> None:
    """When a file is closed for good, its unterminated last line becomes a line."""
    p = tmp_path / "f"
    p.write_bytes(b"a\nbc")
    h = open_h(p)
    h.read(100)
    block = h.take_partial()
    assert block is not None
    assert (block.lines, block.end) == ([(2, b"bc")], 4)


def test_overlong_line_is_skipped_with_preview(tmp_path: Path) -> None:
    """A line over the limit becomes an Overlong with its length; the lines around it are intact."""
    p = tmp_path / "f"
    p.write_bytes(b"ok\n" + b"x" * 50_000 + b"\nafter\n")
    h = open_h(p, chunk_bytes=4096, max_line_bytes=10_000)
    lines = []
    while (block := h.read(8192)) is not None:
        lines += block.lines
    assert lines[0] == (0, b"ok")
    off, big = lines[1]
    assert (off, isinstance(big, Overlong), big.length, big.preview[:100]) == (3, True, 50_000, b"x" * 100)  # type: ignore[union-attr]
    assert lines[2] == (50_004, b"after")


def test_ten_megabyte_line_keeps_memory_bounded(tmp_path: Path) -> None:
    """Reading a 10 MB line with a 1 MiB limit allocates far less than the line's size."""
    p = tmp_path / "f"
    with p.open("wb") as fh:
        fh.write(b"{" + b"a" * (10 * 1024 * 1024) + b"}\n{}\n")
    h = open_h(p, chunk_bytes=64 * 1024, max_line_bytes=1024 * 1024)
    tracemalloc.start()
    out = []
    while (block := h.read(1 << 20)) is not None:
        out += block.lines
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert isinstance(out[0][1], Overlong)
    assert (out[0][1].length, out[1][1]) == (10 * 1024 * 1024 + 2, b"{}")
    assert peak < 4 * 1024 * 1024


def test_status_detects_truncation(tmp_path: Path) -> None:
    """A file shorter than what was read is reported truncated."""
    p = tmp_path / "f"
    p.write_bytes(b"abc\n")
    h = open_h(p)
    h.read(100)
    os.truncate(p, 0)
    assert h.status().truncated


def test_a_hole_of_a_sparse_file_inside_an_overlong_line_is_jumped_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An 8 GiB hole in a line costs a handful of reads (it was read as zeros, 0.3 GiB/s); lengths stay exact."""
    p = tmp_path / "f"
    with p.open("wb") as fh:
        fh.write(b"ok\n" + b"x" * 20_000)
        fh.truncate(8 << 30)  # a hole: no disk space, no line end
        fh.seek(0, os.SEEK_END)
        fh.write(b"y\nafter\n")
    h = open_h(p, chunk_bytes=4096, max_line_bytes=10_000)
    reads: list[int] = []
    real = os.pread

    def counted(fd: int, n: int, at: int) -> bytes:
        reads.append(n)
        return real(fd, n, at)

    monkeypatch.setattr(os, "pread", counted)
    lines = []
    while (block := h.read(1 << 20)) is not None:
        lines += block.lines
    big = lines[1][1]
    assert (lines[0], isinstance(big, Overlong), lines[2]) == ((0, b"ok"), True, ((8 << 30) + 2, b"after"))
    assert (big.length, len(reads) < 50) == ((8 << 30) + 1 - 3, True)  # type: ignore[union-attr]
