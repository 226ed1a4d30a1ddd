"""Harvester: one reader per file identity, from the checkpointed offset, in bounded chunks.

The harvester owns one open file descriptor and reads with ``pread`` at explicit positions, so a
rename, a delete or a new file at the same path never changes what it reads: after rename+create it
keeps reading the old file to its end, after a delete it drains the still-open file. Lines are
returned whole (``\\n``-terminated); a trailing partial line waits for more data, and only becomes a
line when the file is closed for good (:meth:`take_partial`).

A harvester can be parked (descriptor closed, positions kept) when the agent tracks more files than
it may keep open, and resumed with a new descriptor of the same file.

Memory is bounded by ``chunk_bytes + max_line_bytes``: a line that grows past ``max_line_bytes``
is not buffered further; the harvester keeps only its first bytes as a preview, skips to its end
and reports it as :class:`Overlong` so the pipeline dead-letters it.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field

from auditlog.agent.deadletter import PREVIEW_BYTES
from auditlog.agent.identity import FileIdentity

DEFAULT_CHUNK_BYTES = 256 * 1024
DEFAULT_MAX_LINE_BYTES = 1024 * 1024
#: how many of the bytes just before the read position a harvester keeps to tell the file was rewritten under it:
#: enough for a whole line of most producers (an emitter line is under 1 KiB), so the window holds an event's id
#: and time, not only a line end that every JSON line of a file may share
MARK_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Overlong:
    """A line longer than the limit: its full length and its first bytes."""

    length: int
    preview: bytes


#: One line as read: (byte offset of its first byte, its bytes without ``\n`` or an Overlong).
Line = tuple[int, "bytes | Overlong"]


@dataclass(slots=True)
class Block:
    """Consecutive lines of one file identity and the offset just after the last one."""

    key: str
    path: str
    lines: list[Line] = field(default_factory=list)
    end: int = 0


@dataclass(frozen=True, slots=True)
class FileStatus:
    """What ``fstat`` says about the harvested file."""

    size: int
    nlink: int
    truncated: bool


def split_lines_py(out: list[Line], data: bytes, held: bytes, offset: int) -> tuple[int, bytes]:
    """Append ``data``'s complete lines to ``out`` as ``(offset, line)``; return the offset after them and the rest.

    ``held`` (a partial line kept from the last read, no newline in it) joins the first line; ``offset`` is
    where that line starts. No length bound is applied (the caller checks overlong lines itself). The reference
    for the C extension's ``split_lines`` (``agent/_linescan.c``), held equal by tests/agent/test_harvester.py.

    Args:
        out: where the lines go.
        data: a chunk just read.
        held: the partial line kept from the last read.
        offset: the file offset of ``held``'s first byte (of ``data``'s when ``held`` is empty).

    Returns:
        The file offset after the last complete line, and the unterminated rest (``held`` included).
    """
    # The partial line joins the first part only (copying it before the whole chunk cost more than splitting)
    parts = data.split(b"\n")
    if held:
        parts[0] = held + parts[0]
    rest = parts.pop()
    for part in parts:
        out.append((offset, part))
        offset += len(part) + 1
    return offset, rest


try:  # the same without a Python frame per line, beside the C line check: 0.59 -> 0.31 us per line (benchmarks 30)
    from auditlog.agent._linescan import split_lines as _split_lines
except ImportError:
    _split_lines = split_lines_py


class Harvester:
    """Reads complete lines from one open file, starting at a checkpointed offset."""

    def __init__(
        self,
        fd: int,
        ident: FileIdentity,
        path: str,
        offset: int = 0,
        *,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
        max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    ) -> None:
        """Take over ``fd`` (closed by :meth:`close`) and start reading at ``offset``."""
        if chunk_bytes <= 0 or max_line_bytes <= 0:
            raise ValueError("chunk_bytes and max_line_bytes must be positive")
        self.fd = fd
        self.ident = ident
        self.key = ident.key
        self.path = path
        self.offset = offset  # start of the next line not yet returned
        self.pos = offset  # next byte to read
        self.size = 0
        self.chunk_bytes = chunk_bytes
        self.max_line_bytes = max_line_bytes
        self._buf = b""
        self._skip_start = -1  # >= 0 while skipping the rest of an overlong line
        self._skip_len = 0
        self._preview = b""
        # The last bytes read, ending at pos (None: not known, after a rewind or a hole skipped): a file cut back
        # to a prefix longer than its fingerprint and written past pos again is told apart by them (mark_holds)
        self._mark: bytes | None = None

    def read(self, budget: int) -> Block | None:
        """Read up to about ``budget`` bytes and return the complete lines found.

        Args:
            budget: how many bytes to read at most in this call (fairness between files).

        Returns:
            A block (possibly with no lines but an advanced ``end``) or ``None`` when nothing new
            was read.
        """
        out: list[Line] = []
        got = False
        max_line = self.max_line_bytes
        while budget > 0:
            if self._skip_start >= 0:
                self._skip_hole()
            try:
                data = os.pread(self.fd, min(self.chunk_bytes, budget), self.pos)
            except OSError:
                if not got:
                    raise
                break  # the lines read so far are returned (the offsets moved past them); the error comes back next
            if not data:
                break
            got = True
            n = len(data)
            self.pos += n
            mark = self._mark
            self._mark = data[-MARK_BYTES:] if n >= MARK_BYTES or mark is None else (mark + data)[-MARK_BYTES:]
            budget -= n
            if self._skip_start >= 0:
                i = data.find(b"\n")
                if i < 0:
                    self._skip_len += n
                    continue
                self._skip_len += i
                out.append((self._skip_start, Overlong(self._skip_len, self._preview)))
                self.offset = self._skip_start + self._skip_len + 1
                self._skip_start, self._skip_len, self._preview = -1, 0, b""
                data = data[i + 1:]
            if len(self._buf) + len(data) <= max_line:  # no line here can be overlong
                off, rest = _split_lines(out, data, self._buf, self.offset)
            else:  # a part may be overlong: check each
                parts = data.split(b"\n")
                if self._buf:  # the partial line kept from the last read joins the first part only
                    parts[0] = self._buf + parts[0]
                rest = parts.pop()
                off = self.offset
                for part in parts:
                    ln = len(part)
                    out.append((off, part if ln <= max_line else Overlong(ln, part[:PREVIEW_BYTES])))
                    off += ln + 1
            self.offset = off
            if len(rest) > max_line:
                self._skip_start, self._skip_len, self._preview = off, len(rest), rest[:PREVIEW_BYTES]
                self._buf = b""
            else:
                self._buf = rest
        if not got:
            return None
        return Block(self.key, self.path, out, self.offset)

    def _skip_hole(self) -> None:
        """While skipping an overlong line, jump over a hole of a sparse file instead of reading its zeros.

        A hole holds no line end (it reads as NUL bytes), so it belongs to the line being skipped. Without this
        a hole of a few TiB (free for whoever may write the file) took hours of a core at every start.
        """
        try:
            data = os.lseek(self.fd, self.pos, os.SEEK_DATA)
        except OSError as exc:  # ENXIO: only a hole from here to the end; EINVAL: no SEEK_DATA on this file system
            if exc.errno != errno.ENXIO:
                return
            data = max(os.fstat(self.fd).st_size, self.pos)
        if data > self.pos:
            self._skip_len += data - self.pos
            self.pos = data
            self._mark = None  # a hole's zeros were not read

    def rewind(self, offset: int) -> None:
        """Read again from ``offset`` (a line start at or before :attr:`offset`): lines returned but never handled."""
        self.offset = self.pos = min(offset, self.offset)
        self._buf = b""
        self._skip_start, self._skip_len, self._preview = -1, 0, b""
        self._mark = None

    def take_partial(self) -> Block | None:
        """Return the unterminated last line as a block (the file is closed for good), if any."""
        if self._skip_start >= 0:
            line: Line = (self._skip_start, Overlong(self._skip_len, self._preview))
            self.offset = self._skip_start + self._skip_len
            self._skip_start, self._skip_len, self._preview = -1, 0, b""
        elif self._buf:
            line = (self.offset, self._buf)
            self.offset += len(self._buf)
            self._buf = b""
        else:
            return None
        return Block(self.key, self.path, [line], self.offset)

    def mark_holds(self) -> bool:
        """Whether the bytes just before the read position are still those read there (True when not known).

        The fingerprint (the file's first bytes) cannot tell a file cut back to a longer prefix and written past
        the read position again before the next look: reading on at the old position would skip every line
        written after the cut. One ``pread`` of :data:`MARK_BYTES` per look at a file that grew. A new content
        identical to the old over those bytes before the position is taken for the same (lines that repeat
        byte for byte over 4 KiB, with no id or time in them).

        Raises:
            OSError: when the file cannot be read.
        """
        mark = self._mark
        return mark is None or os.pread(self.fd, len(mark), self.pos - len(mark)) == mark

    def status(self) -> FileStatus:
        """Return size, link count and whether the file shrank below what was read (copytruncate)."""
        st = os.fstat(self.fd)
        self.size = st.st_size
        return FileStatus(st.st_size, st.st_nlink, st.st_size < self.pos)

    @property
    def parked(self) -> bool:
        """True while the file is closed to save a descriptor (see :meth:`park`)."""
        return self.fd < 0

    def park(self) -> None:
        """Close the descriptor but keep the read state (positions, a partial last line) for :meth:`resume`."""
        self.close()

    def resume(self, fd: int, path: str) -> None:
        """Continue reading from the same positions through ``fd``, a new descriptor of the same file."""
        self.fd = fd
        self.path = path

    def close(self) -> None:
        """Close the file descriptor."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
