"""Tailer: discovery + one harvester per file identity + the registry, i.e. the rotation rules.

- A file is tracked by identity (:mod:`agent.identity`), never by path: a new file at a watched
  path after rename+create is a new identity; the renamed one keeps its harvester and is read to
  its end, then closed once it has been out of the globs (or deleted) and quiet for
  ``close_inactive`` seconds.
- Copytruncate: a file whose size drops below the read position (or whose first bytes changed,
  checked before every read) gets a new identity and is read from 0. Bytes written after the last
  read and before the truncation are lost (reported with a warning and counted); including the copy
  in the glob (``audit.jsonl*``) shrinks that window to logrotate's own copy-then-truncate race,
  because the copy's events are re-sent with the same ``event.id`` and answered 409.
- A file rotated away before any scan saw it (created, filled and renamed between two scans: a
  busy machine, backpressure, a restart): when the file at a watched path changed since the last
  scan, or a literal watched path is absent, the files next to it whose names extend it
  (``audit.log.1``, ``audit.log-2026...``; compressed ones excluded) and that were modified since
  that scan are looked at; a rename the watcher reported away from a watched name is followed to
  its destination, whatever its name. A file whose identity is unknown is read from 0 like any
  rotated file; one the registry knows is left alone (never read twice). The scan time is kept in
  the registry, so this also covers files rotated away while the agent was stopped. On a first start
  (no scan recorded) "since the last scan" means since this process started: files rotated away while
  the agent was starting up (imports, pre-flight checks, a loaded machine) are read, older ones are not.
  A chain of renames the watcher reported (``audit.log`` -> ``audit.log.1`` -> ``archive/x``) is followed
  to its end.
- Delete while open: the harvester drains the still-open file, then closes it.
- Many files: at most ``max_open_files`` descriptors are open (default: the process's RLIMIT_NOFILE
  minus a reserve for the registry, sockets and the watcher). Past that, the file quiet for longest
  that was read to its end is parked: its descriptor is closed, its identity, positions and partial
  line are kept. A scan that finds a parked file's size changed reopens it (checking device and inode;
  the first bytes are checked before the next read, as always), parking another idle one if needed;
  a new file that finds no room waits for the next scan (soon: :attr:`Tailer.waiting`). A parked file
  that leaves the globs is reopened where it went and drained. An open that fails with EMFILE parks an
  idle file and tries once more; otherwise the file waits: tracked files are never taken for gone.
  EMFILE also lowers the cap to 16 below the files open at that moment (other descriptors need room)
  and parks idle files down to it.
- Restart: a known identity resumes at its checkpoint; a registry row whose file left the globs is
  searched next to its last path and drained; a row whose file is gone with unshipped bytes is
  reported (``state = gone``) instead of silently forgotten.

The tailer does no parsing and no I/O besides files and the registry: the model test drives it.
"""

from __future__ import annotations

import errno
import glob
import os
import resource
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import structlog

from auditlog.agent import discovery
from auditlog.agent.harvester import DEFAULT_CHUNK_BYTES, DEFAULT_MAX_LINE_BYTES, Block, Harvester
from auditlog.agent.identity import DEFAULT_FINGERPRINT_BYTES, FileIdentity, fingerprint, identify, matches
from auditlog.agent.registry import FileState, Registry

log = structlog.get_logger("auditlog.agent.tailer")

#: seconds after which closed identities (done, truncated, gone) leave the registry.
PRUNE_AFTER = 7 * 86400

#: seconds of modification-time tolerance when looking for files rotated away since the last scan
#: (file times are kernel-tick coarse and may trail the clock the scan time was taken from).
MTIME_SLACK = 2.0


@dataclass(frozen=True)
class TailerSettings:
    """What to harvest and how."""

    paths: tuple[str, ...]
    exclude: tuple[str, ...] = discovery.DEFAULT_EXCLUDE
    fingerprint_bytes: int = DEFAULT_FINGERPRINT_BYTES
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    close_inactive: float = 5.0
    follow_symlinks: bool = False
    max_open_files: int = 0  # 0: derived from RLIMIT_NOFILE (derive_max_open_files)
    #: the agent's state directory: a file in it is never harvested, whatever the globs match (see OWN_FILE)
    own_dir: str | None = None


#: why a file in the agent's own state directory is not read: a glob that reaches it (``/var/log/app/**/*.jsonl``
#: with the state under ``/var/log/app``) read the dead-letter file back, each record failed the contract and was
#: dead-lettered again, quoted inside a longer one: one bad line grew the file to 300 MB in 10 seconds
OWN_FILE = "in the agent's own state directory (state.dir): never harvested"


#: descriptors left for everything that is not a harvested file (SQLite, sockets, the watcher, stdio).
FD_RESERVE = 64


def derive_max_open_files(soft_limit: int | None = None) -> int:
    """How many log files may be open at once, given the soft RLIMIT_NOFILE (read when None)."""
    if soft_limit is None:
        soft_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft_limit == resource.RLIM_INFINITY or soft_limit > 1 << 20:
        soft_limit = 1 << 20
    return max(soft_limit - FD_RESERVE, soft_limit // 2, 1)


def process_started() -> float:
    """Return the wall-clock time this process started (Linux ``/proc``), or now where that is unknown.

    The interpreter's start-up and the agent's pre-flight checks come before the first scan; on a busy
    machine files are rotated away in that time, and they count as rotated since the agent started.
    """
    now = time.time()
    try:
        with open("/proc/self/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()  # the command name may hold spaces and parentheses
        with open("/proc/uptime", "rb") as fh:
            uptime = float(fh.read().split()[0])
        ticks = int(fields[19])  # field 22, starttime: clock ticks after boot
        started = now - uptime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return now
    return min(started, now)


@dataclass(slots=True)
class _Tracked:
    harvester: Harvester
    reachable: bool = True
    last_data: float = 0.0
    deleted: bool = False


class Tailer:
    """Keeps a harvester per live file identity and turns file changes into blocks of lines."""

    def __init__(self, settings: TailerSettings, registry: Registry, *, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time, on_lost: Callable[[str, str, int], None] | None = None,
                 started: float | None = None, on_refused: Callable[[str, str], None] | None = None):
        """Set up tailing (nothing is opened before :meth:`recover` or :meth:`scan`).

        Args:
            settings: what to tail and how.
            registry: the checkpoints.
            clock: monotonic time source.
            wall: wall-clock time source (file modification times are wall-clock).
            on_lost: called with (path, identity, bytes) for bytes that can no longer be read.
            started: wall-clock time the agent started, the horizon for rotated files on a first start
                (no scan recorded yet); default: when this process started.
            on_refused: called with (path, reason) when a matched path is not read, as its warning is logged
                (once until the reason changes).
        """
        self.settings = settings
        self.registry = registry
        self.clock = clock
        self.wall = wall  # file modification times are wall-clock
        self._tracked: dict[str, _Tracked] = {}
        self._by_inode: dict[tuple[int, int], str] = {}
        # Paths truncated to empty: no identity until the first bytes arrive. Polled on every poll() rather
        # than left to the next scan (>= 0.5 s), which a fast copytruncate cycle would beat: the new
        # content would be truncated away again before anyone opened it. Value: reachable flag and the
        # file's modification time (ns) when last looked at: a change while still empty means contents came
        # and went between two looks (their copies are looked for).
        self._awaiting_bytes: dict[str, tuple[bool, int]] = {}
        self._moving: str | None = None  # the identity being moved to its copy: never parked meanwhile
        self._poll_started: float | None = None  # wall-clock start of the latest poll() and of the one before
        self._poll_before: float | None = None
        self._at_path: dict[str, tuple[int, int]] | None = None  # what the previous scan found at each path
        self._last_scan: float | None = None  # wall-clock start of the previous scan
        self._started = process_started() if started is None else started
        # O_NOFOLLOW: a file swapped for a link between the scan's lstat and the open is refused too.
        # O_NONBLOCK: one swapped for a FIFO would block the open until a writer came (the reader, and the
        # agent's stop, with it); every descriptor is checked to be a regular file (_open_regular) anyway.
        self._open_flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | os.O_NONBLOCK | (
            0 if settings.follow_symlinks else getattr(os, "O_NOFOLLOW", 0))
        self._refused: dict[str, str] = {}  # path -> why it could not be opened, as last logged (said once)
        self._failing: dict[str, type[BaseException]] = {}  # identity -> the error its last poll raised (said once)
        self._own_dir = _dir_inode(settings.own_dir) if settings.own_dir else None
        self._literal_paths = [os.path.abspath(os.path.expanduser(p)) for p in settings.paths
                               if not glob.has_magic(p)]
        self.max_open_files = settings.max_open_files or derive_max_open_files()
        self._open_count = 0
        # Open identities, the one that had data longest ago first: who is parked when room is needed.
        self._lru: dict[str, None] = {}
        self.waiting = 0  # files that found no room in the last scan: scan again soon
        self.lost_bytes = 0  # bytes that were never read (copytruncate window, files removed unshipped)
        self.on_lost = on_lost
        self.on_refused = on_refused

    # -- discovery -------------------------------------------------------------------------------

    def scan(self, moves: Iterable[tuple[str, str]] = ()) -> None:
        """Match the globs, open harvesters for new identities, notice files that left the globs.

        Also picks up files that were rotated away before any scan saw them (see the module docs).

        Args:
            moves: (source, destination) renames the watcher saw since the last scan.
        """
        started = self.wall()
        if self._at_path is None:  # first scan of this tailer: continue from the previous run's view
            self._at_path = {row.path: (row.ident.dev, row.ident.ino)
                             for row in self.registry.all() if row.state == "active"}
            self._last_scan = self.registry.last_scan()
            if self._last_scan is None:  # first start: whatever was rotated away since the agent started counts
                self._last_scan = self._started
        found = discovery.expand(self.settings.paths, self.settings.exclude,
                                 follow_symlinks=self.settings.follow_symlinks, on_skip=self._refuse)
        seen: set[str] = set()
        now_at = {f.path: (f.dev, f.ino) for f in found}
        parked_sizes: dict[str, int] = {}
        self.waiting = 0
        for f in found:
            key = self._by_inode.get((f.dev, f.ino))
            if key is not None and self._tracked[key].harvester.parked:
                tr = self._tracked[key]
                tr.reachable = True
                if tr.harvester.path != f.path:
                    tr.harvester.path = f.path
                    self.registry.update(key, path=f.path)
                seen.add(key)
                parked_sizes[key] = f.size
                continue
            if key is not None:
                tr = self._tracked[key]
                self._check_identity(tr)
                key = self._by_inode.get((f.dev, f.ino))
                if key is not None:
                    tr = self._tracked[key]
                    tr.reachable = True
                    if tr.harvester.path != f.path:
                        tr.harvester.path = f.path
                        self.registry.update(key, path=f.path)
                    seen.add(key)
                    continue
            if f.size == 0:
                continue  # nothing to ship yet; its identity needs first bytes
            if not self._room():
                self.waiting += 1
                continue  # every slot is busy: a later scan opens it
            key = self._open(f.path)
            if key is not None:
                seen.add(key)
        for key, tr in self._tracked.items():
            if key not in seen:
                tr.reachable = False
        self._fill(parked_sizes)
        self._adopt_rotated(now_at, moves)
        self._at_path = now_at
        self._last_scan = started
        self.registry.set_last_scan(started)

    def _adopt_rotated(self, now_at: dict[str, tuple[int, int]], moves: Iterable[tuple[str, str]]) -> None:
        """Harvest files that left a watched path before any scan saw them there."""
        before = self._at_path or {}
        changed = {p for p in before.keys() | now_at.keys() if before.get(p) != now_at.get(p)}
        # A named path absent now may have held a file between the scans (absent before too): look as well.
        # A path whose file is unchanged is never searched, so copytruncate's copies are not taken for rotations.
        changed.update(p for p in self._literal_paths if p not in now_at)
        candidates: dict[tuple[int, int], discovery.Found] = {}
        if changed and self._last_scan is not None:
            since = self._last_scan - MTIME_SLACK
            for path in changed:
                for f in discovery.rotated_siblings(path, self.settings.exclude):
                    if f.mtime >= since:
                        candidates.setdefault((f.dev, f.ino), f)
        for dest in follow_moves(moves, self.settings.paths):  # the watcher saw it leave a watched name
            if dest in now_at or discovery.excluded(dest, self.settings.exclude):
                continue
            try:
                st = os.stat(dest) if self.settings.follow_symlinks else os.lstat(dest)
            except OSError:
                continue  # deleted, or moved out of the watched tree (watchdog reports that as a delete)
            if stat.S_ISREG(st.st_mode):
                candidates.setdefault((st.st_dev, st.st_ino), discovery.Found(dest, st.st_dev, st.st_ino, st.st_size))
        for inode, f in sorted(candidates.items(), key=lambda kv: kv[1].path):
            if inode in self._by_inode or f.path in now_at or f.size == 0:
                continue
            self._room()  # a rotated file is never deferred (no later scan may look for it): make room if we can
            fd = self._open_fd(f.path)
            if fd is None:
                continue
            try:
                st = os.fstat(fd)
                known = any(matches(fd, row.ident) for row in self.registry.for_inode(st.st_dev, st.st_ino))
            except OSError:
                known = True
            if known:  # already read (or being read after a restart): never twice
                os.close(fd)
                continue
            log.info("found a file rotated away before it was discovered", path=f.path)
            self._open(f.path, reachable=False, fd=fd)

    def recover(self) -> None:
        """After a start: drain files that left the globs while the agent was down; report lost ones."""
        self.scan()  # before pruning: a closed identity still on disk is recognised, not taken for a new file
        pruned = self.registry.prune(PRUNE_AFTER)
        if pruned:
            log.info("forgot closed files", count=pruned, older_than_days=PRUNE_AFTER // 86400)
        for row in self.registry.all():
            if row.state != "active" or row.key in self._tracked:
                continue
            if self._in_own_dir(row.path):
                # harvested by an agent before OWN_FILE: its row would stay active (lag growing) for ever
                self.registry.update(row.key, state="done")
                log.warning("no longer reading a file of the agent's own state directory", path=row.path,
                            identity=row.key)
                continue
            path = row.path if _same_inode(row.path, row.ident) else None
            if path is None:
                path = discovery.find_inode(os.path.dirname(row.path), row.ident.dev, row.ident.ino)
            if path is None or (row.ident.dev, row.ident.ino) in self._by_inode or not _starts_with(
                    path, row.ident, self._open_flags):
                # Its file is gone or holds another content now: it may have been read from logrotate's copy.
                if self._resume_in_copy(row, row.path if path is None else path):
                    continue
                if path is not None:
                    self._report_lost(row, "file truncated or replaced before it was fully shipped", "truncated")
                    continue
            if path is None:
                self._report_lost(row, "file removed before it was fully shipped", "gone")
                continue
            # Tracked parked (no descriptor yet): opened as room allows; a file still at a watched path
            # that found no room in the scan above is one of these too. Its first bytes and size are
            # checked before the first read: a replaced or shrunk file becomes a new identity.
            self._track_parked(row, path, reachable=self._watched(path))
        self._fill({})

    def _watched(self, path: str) -> bool:
        """True when ``path`` matches the globs (and no exclude): a scan reads such a file on its own."""
        return discovery.matches(path, self.settings.paths) and not discovery.excluded(path, self.settings.exclude)

    def _open(self, path: str, *, reachable: bool = True, fd: int | None = None) -> str | None:
        fd = self._open_fd(path) if fd is None else fd
        if fd is None:
            return None
        try:
            st = os.fstat(fd)
            tracked = self._by_inode.get((st.st_dev, st.st_ino))
            if tracked is not None:  # the path now holds a file already harvested: never a second reader
                os.close(fd)
                return tracked
            row = self._resolve(fd, st.st_dev, st.st_ino, path)
        except OSError as exc:
            os.close(fd)
            log.warning("cannot identify file", path=path, error=str(exc))
            return None
        if row is None:
            os.close(fd)
            return None
        self._track(fd, row, path, reachable=reachable)
        return row.key

    def _track(self, fd: int, row: FileState, path: str, *, reachable: bool, at: FileIdentity | None = None) -> None:
        """Harvest ``row`` through ``fd``; ``at``: the identity of logrotate's copy when ``fd`` is that copy."""
        st = os.fstat(fd)
        h = Harvester(fd, at or row.ident, path, row.offset, chunk_bytes=self.settings.chunk_bytes,
                      max_line_bytes=self.settings.max_line_bytes)
        h.key = row.key
        h.size = st.st_size
        self._tracked[row.key] = _Tracked(h, reachable=reachable, last_data=self.clock())
        self._by_inode[(st.st_dev, st.st_ino)] = row.key
        self._open_count += 1
        self._lru[row.key] = None
        if at is not None:  # the row keeps its own path: a restart looks for the copy next to it again
            if row.state != "active":
                self.registry.update(row.key, state="active")
        elif row.state != "active" or row.path != path:
            self.registry.update(row.key, path=path, state="active")
        log.info("harvesting", path=path, identity=row.key, offset=row.offset, size=st.st_size)

    def _track_parked(self, row: FileState, path: str, *, reachable: bool) -> None:
        """Track a known identity without opening it: a scan or :meth:`_fill` opens it when there is room."""
        h = Harvester(-1, row.ident, path, row.offset, chunk_bytes=self.settings.chunk_bytes,
                      max_line_bytes=self.settings.max_line_bytes)
        h.size = row.size
        self._tracked[row.key] = _Tracked(h, reachable=reachable, last_data=self.clock())
        self._by_inode[(row.ident.dev, row.ident.ino)] = row.key
        if row.path != path:
            self.registry.update(row.key, path=path)

    # -- the open-file budget ----------------------------------------------------------------------

    def _room(self) -> bool:
        """True when one more file may be opened, parking the longest-quiet idle file if that is needed."""
        if self._open_count < self.max_open_files:
            return True
        return self._park_one()

    def _shrink(self) -> None:
        """The process ran out of descriptors below max_open_files: lower it, leaving some for sockets and SQLite."""
        cap = max(1, self._open_count - FD_RESERVE // 4)
        if cap < self.max_open_files:
            log.warning("out of file descriptors: lowering max_open_files", was=self.max_open_files, now=cap)
            self.max_open_files = cap
        while self._open_count > self.max_open_files and self._park_one():
            pass

    def _park_one(self) -> bool:
        for key in self._lru:  # longest without data first
            if key == self._moving:
                continue
            tr = self._tracked[key]
            h = tr.harvester
            if tr.reachable and not tr.deleted and h.pos >= h.size:  # read to its end, still at a watched path
                self._park(key)
                return True
        return False

    def _park(self, key: str) -> None:
        self._tracked[key].harvester.park()
        self._open_count -= 1
        del self._lru[key]

    def _resume(self, key: str, path: str) -> bool:
        """Reopen a parked identity at ``path``; False when it cannot be opened or is another file now."""
        tr = self._tracked[key]
        h = tr.harvester
        fd = self._open_fd(path)
        if fd is None:
            return False
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (h.ident.dev, h.ident.ino):
            os.close(fd)
            return False
        h.resume(fd, path)
        self._open_count += 1
        self._lru[key] = None
        tr.last_data = self.clock()
        return True

    def _fill(self, sizes: dict[str, int]) -> None:
        """Reopen parked files: those that left the globs (to drain them), those whose size changed (room allowing).

        Args:
            sizes: the current size of parked files a scan found at a watched path (others are stat'ed).
        """
        for key in [k for k, tr in self._tracked.items() if tr.harvester.parked]:
            tr = self._tracked[key]
            h = tr.harvester
            if not tr.reachable:
                path = h.path if _same_inode(h.path, h.ident) else discovery.find_inode(
                    os.path.dirname(h.path), h.ident.dev, h.ident.ino)
                if path is None:
                    self._lost(h.path, key, max(h.size - h.offset, 0),
                               "parked file vanished; lines written to it after it was parked cannot be read",
                               offset=h.offset, size=h.size)
                    self._close(key, "gone")
                    continue
                self._room()
                self._resume(key, path)  # drained, then closed after close_inactive, like any rotated file
                continue
            size = sizes.get(key)
            if size is None:
                try:
                    size = os.stat(h.path).st_size
                except OSError:
                    continue  # the next scan says where it went
            if size == h.pos:
                continue
            if not self._room():
                self.waiting += 1
                continue
            self._resume(key, h.path)

    def _resolve(self, fd: int, dev: int, ino: int, path: str) -> FileState | None:
        """Return the registry row this open file continues, creating a new identity when none matches."""
        rows = self.registry.for_inode(dev, ino)
        size = os.fstat(fd).st_size
        for row in rows:  # (a tracked one is being read elsewhere: logrotate's copy)
            if row.state in ("truncated", "copy") or row.key in self._tracked or row.offset > size:
                continue
            if matches(fd, row.ident) and (row.state != "active" or _line_starts_at(fd, row.offset)):
                return row
        for row in rows:  # an older identity on this inode: truncated or replaced while we were away
            if row.state == "active" and row.key not in self._tracked and not self._resume_in_copy(row, path):
                self._report_lost(row, "file truncated or replaced before it was fully shipped", "truncated")
        generation = rows[0].ident.generation + 1 if rows else 0
        ident = identify(fd, self.settings.fingerprint_bytes, generation)
        if ident is None:
            return None
        row = FileState(ident, path, 0, size, "active")
        self.registry.add(row)
        if rows:
            self._adopt_unseen_copies(path, dev, ino)
        return row

    def _report_lost(self, row: FileState, why: str, state: str) -> None:
        lost = max(row.size - row.offset, 0)
        self.registry.update(row.key, state=state if lost or state == "truncated" else "done")
        if lost:
            self._lost(row.path, row.key, lost, why, offset=row.offset, size=row.size)

    def _lost(self, path: str, key: str, lost: int, why: str, **kw: int) -> None:
        self.lost_bytes += lost
        log.warning(why, path=path, identity=key, lost_bytes=lost, **kw)
        if self.on_lost is not None:
            self.on_lost(path, key, lost)

    # -- reading ---------------------------------------------------------------------------------

    def poll(self, budget_per_file: int = 1 << 20) -> list[Block]:
        """Read what is new in every tracked file; close drained files that are gone and quiet.

        Args:
            budget_per_file: the most bytes read from one file in this call.

        Returns:
            Blocks of complete lines (a block may carry no lines but still advance its end).
        """
        out: list[Block] = []
        now = self.clock()
        self._poll_before, self._poll_started = self._poll_started, self.wall()
        if self._awaiting_bytes:
            self._open_refilled()
        for key in list(self._lru):
            if key not in self._lru:
                continue  # parked or closed meanwhile (room made for a reopened file)
            try:
                self._poll_one(key, now, budget_per_file, out)
            except Exception as exc:  # e.g. the registry on a full disk: the blocks of other files are kept
                if self._failing.get(key) is not type(exc):
                    self._failing[key] = type(exc)
                    log.exception("error reading a file; it is tried again at the next poll", identity=key)
            else:
                self._failing.pop(key, None)
        return out

    def _poll_one(self, key: str, now: float, budget_per_file: int, out: list[Block]) -> None:
        """:meth:`poll`'s work on one open file: add its block to ``out``, or handle truncation, deletion, closing."""
        tr = self._tracked[key]
        h = tr.harvester
        prev_size = h.size
        st = h.status()
        # Before reading new bytes, make sure they still belong to this identity: a file truncated and
        # rewritten to at least its old size between two looks (copytruncate, in-place rewrite) is not
        # caught by the size check, and reading it here would attribute another file's lines to it; one cut
        # back to a prefix that keeps its first bytes is caught by the bytes just before the read position.
        if st.truncated or (st.size > h.pos and not (matches(h.fd, h.ident) and h.mark_holds())):
            self._truncated(tr, prev_size)
            return
        block = h.read(budget_per_file)
        if block is not None:
            tr.last_data = now
            del self._lru[key]
            self._lru[key] = None  # most recently active: parked last
            out.append(block)
            return
        if st.nlink == 0 and not tr.deleted:
            tr.deleted = True
            log.info("file deleted while open, draining", path=h.path, identity=key)
        if (not tr.reachable or tr.deleted) and now - tr.last_data >= self.settings.close_inactive:
            last = h.take_partial()
            if last is not None:
                # closed at the next poll, once this block was handled: given back by unread (processing
                # failed), it is read again from the open file, where closing now would have lost it
                out.append(last)
                return
            self._close(key, "done")

    def unread(self, block: Block, offset: int) -> None:
        """Give back the lines of ``block`` from ``offset`` on: the next poll returns them again.

        For a block whose lines were read but not handled (processing failed): its file's harvester reads again from
        there. A file closed meanwhile (drained and gone) cannot be read again: those bytes are counted as lost.

        Args:
            block: a block :meth:`poll` returned.
            offset: the first of its lines not handled (the block's first line when none was).
        """
        tr = self._tracked.get(block.key)
        if tr is not None:
            tr.harvester.rewind(offset)
        elif block.end > offset:
            self._lost(block.path, block.key, block.end - offset, "lines read but not handled, and the file is "
                       "closed; lost", offset=offset)

    def _check_identity(self, tr: _Tracked) -> None:
        """Copytruncate that already grew past the read position: the first bytes changed."""
        h = tr.harvester
        if not matches(h.fd, h.ident):
            self._truncated(tr, h.size)

    def _truncated(self, tr: _Tracked, prev_size: int) -> None:
        """The file was truncated under us: its new content is a new identity; the rest of the old is read
        from logrotate's copy next to it when there is one, else what was not read is lost."""
        h = tr.harvester
        if self._follow_copy(tr, prev_size):
            return
        key = h.key
        lost = max(prev_size - h.offset, 0)
        self.registry.update(key, state="truncated", size=max(prev_size, h.offset))
        if lost:
            self._lost(h.path, key, lost, "file truncated before it was fully read (copytruncate)",
                       offset=h.offset, size=prev_size)
        log.info("file truncated, starting a new identity", path=h.path, identity=key, read=h.pos)
        path, fd, (dev, ino), reachable = h.path, h.fd, (h.ident.dev, h.ident.ino), tr.reachable
        h.fd = -1  # the descriptor moves on to the new identity of the same file
        self._close(key, None)
        self._reopen(path, fd, dev, ino, reachable=reachable)

    def _reopen(self, path: str, fd: int, dev: int, ino: int, *, reachable: bool) -> None:
        """Give the truncated file's new content (descriptor ``fd``) its identity, or wait for its first bytes."""
        if self._open(path, reachable=reachable, fd=fd) is None:
            self._adopt_unseen_copies(path, dev, ino)  # (opening a new identity does this in _resolve)
            try:
                mtime = os.stat(path).st_mtime_ns
            except OSError:
                mtime = 0
            self._awaiting_bytes[path] = (reachable, mtime)  # empty now: open it the moment it has bytes

    def _follow_copy(self, tr: _Tracked, prev_size: int) -> bool:
        """Continue a truncated identity in its copy (copytruncate); its path's new content gets a new identity.

        The copy holds the identity's bytes up to the moment logrotate copied them, so reading goes on there
        at the same position under the same identity (deterministic ids and checkpoints unchanged). Only
        bytes written between the copy and the truncation are lost (counted, as logrotate's own race).

        Returns:
            False when no copy holds at least the bytes already read (nothing changed then).
        """
        h = tr.harvester
        self._moving = h.key  # opening candidates may need room (EMFILE): not by parking this one
        try:
            found = self._find_copy(h.path, h.ident, h.pos, h.offset)
        finally:
            self._moving = None
        if found is None:
            return False
        copy_path, copy_fd, copy_ident = found
        key, path, live_fd, (dev, ino) = h.key, h.path, h.fd, (h.ident.dev, h.ident.ino)
        if self._by_inode.get((h.ident.dev, h.ident.ino)) == key:
            del self._by_inode[(h.ident.dev, h.ident.ino)]
        h.resume(copy_fd, copy_path)
        h.ident = copy_ident
        h.size = os.fstat(copy_fd).st_size
        self._by_inode[(copy_ident.dev, copy_ident.ino)] = key
        reachable = tr.reachable
        tr.reachable = False  # a copy is never a watched file (see _find_copy): drained, then closed
        tr.last_data = self.clock()
        self._remember_copy(copy_ident, copy_path, h.size)
        log.info("file truncated (copytruncate): reading the rest from its copy", path=path, copy=copy_path,
                 identity=key, offset=h.pos, size=h.size)
        if prev_size > h.size:  # written after logrotate's copy, before its truncation
            self._lost(path, key, prev_size - h.size, "lines written between logrotate's copy and its truncation",
                       offset=h.size, size=prev_size)
        self._room()  # the live file's descriptor goes to its new identity: one more open file
        self._reopen(path, live_fd, dev, ino, reachable=reachable)
        return True

    def _resume_in_copy(self, row: FileState, path: str) -> bool:
        """After a restart: go on reading an identity whose file holds another content now from its copy.

        Args:
            row: an active identity that is not tracked.
            path: its file's path (the watched path; its copy is next to it).

        Returns:
            True when a copy was found and is being read (from the acknowledged offset).
        """
        found = self._find_copy(path, row.ident, row.offset, row.offset)
        if found is None:
            return False
        copy_path, fd, copy_ident = found
        self._room()
        self._track(fd, row, copy_path, reachable=False, at=copy_ident)
        self._remember_copy(copy_ident, copy_path, os.fstat(fd).st_size)
        try:
            st = os.stat(path)
        except OSError:
            st = None
        if st is not None and st.st_size == 0 and path not in self._awaiting_bytes and self._watched(path):
            self._awaiting_bytes[path] = (True, st.st_mtime_ns)  # contents that come and go are looked for
        log.info("reading the rest of a truncated file from its copy", path=path, copy=copy_path,
                 identity=row.key, offset=row.offset)
        return True

    def _remember_copy(self, copy: FileIdentity, path: str, size: int) -> None:
        """Record the copy's own inode as read (state ``copy``), so no later search takes it for a new file.

        A ``copy`` row is never resumed (:meth:`_resolve` skips it, as it skips ``truncated`` ones): its bytes
        belong to the other identity's key.
        """
        self.registry.add(FileState(copy, path, size, size, "copy"))

    def _find_copy(self, path: str, ident: FileIdentity, min_size: int,
                   line_start: int) -> tuple[str, int, FileIdentity] | None:
        """Find the copy of identity ``ident`` next to ``path``: a file that is not tracked, starts with the
        same bytes, holds at least ``min_size`` of them and has a line end just before ``line_start`` (where
        reading goes on: another content with the same first bytes rarely has one there).

        Files the globs match (``audit.jsonl*``) are left to the scan, which reads each as its own file, as
        before this search existed: following one here would have the scan read it again once closed.

        Returns:
            (path, open descriptor, the copy's identity under the same fingerprint), or None.
        """
        for f, fd in self._copies_next_to(path, min_size=max(min_size, 1), newest_first=True):
            if (f.dev, f.ino) == (ident.dev, ident.ino):
                os.close(fd)
                continue
            try:
                st = os.fstat(fd)
                copy = FileIdentity(st.st_dev, st.st_ino, ident.fp_len, ident.fingerprint, ident.generation)
                # a file the registry knows as something else (a rotated file, another identity's copy) is not it
                rows = self.registry.for_inode(st.st_dev, st.st_ino)
                other = any(r.key != copy.key and matches(fd, r.ident) for r in rows)
                if stat.S_ISREG(st.st_mode) and st.st_size >= min_size and not other and fingerprint(
                        fd, ident.fp_len) == ident.fingerprint and _line_starts_at(fd, line_start):
                    return f.path, fd, copy
            except OSError:
                pass
            os.close(fd)
        return None

    def _copies_next_to(self, path: str, *, min_size: int, since: float | None = None,
                        newest_first: bool = False) -> Iterator[tuple[discovery.Found, int]]:
        """Yield the files next to ``path`` that may be logrotate's copies, each with an open descriptor.

        Candidates: rotated siblings (names extending the path's, not excluded) that are not tracked, not
        matched by the globs (the scan reads those as files of their own), at least ``min_size`` bytes and
        modified since ``since``. The caller owns (and closes) each descriptor.
        """
        siblings = discovery.rotated_siblings(path, self.settings.exclude)
        if newest_first:  # this rotation's copy before an older file with the same first bytes
            siblings.sort(key=lambda f: -f.mtime)
        for f in siblings:
            if f.size < min_size or (since is not None and f.mtime < since) or (f.dev, f.ino) in self._by_inode or (
                    self._watched(f.path)):
                continue
            fd = self._open_fd(f.path)
            if fd is not None:
                yield f, fd

    def _adopt_unseen_copies(self, path: str, dev: int, ino: int) -> None:
        """Read the copies of contents the file at ``path`` held only between two looks (copytruncate).

        Called when the file got a new identity: under a busy reader, logrotate may have copied and truncated
        it more than once since the agent last looked. A copy next to it, modified since the previous scan,
        that no identity of this file (nor of its own inode) explains, is such a content: read from its start.
        """
        looks = [t for t in (self._last_scan, self._poll_before) if t is not None]
        if not looks:
            return
        since = min(looks) - MTIME_SLACK  # the previous look at this file (a scan or the poll before this one)
        rows = self.registry.for_inode(dev, ino)
        for f, fd in self._copies_next_to(path, min_size=1, since=since):
            try:
                st = os.fstat(fd)
                known = any(fingerprint(fd, row.ident.fp_len) == row.ident.fingerprint for row in rows) or any(
                    matches(fd, row.ident) for row in self.registry.for_inode(st.st_dev, st.st_ino))
            except OSError:
                known = True
            if known:
                os.close(fd)
                continue
            log.info("found the copy of a content truncated away before it was read (copytruncate)", path=f.path,
                     of=path)
            self._room()
            self._open(f.path, reachable=False, fd=fd)

    def _open_refilled(self) -> None:
        """Open truncated paths that have bytes again (unless a scan already did)."""
        for path, (reachable, mtime) in list(self._awaiting_bytes.items()):
            try:
                st = os.stat(path)
            except OSError:  # gone: a scan deals with whatever appears there later
                del self._awaiting_bytes[path]
                continue
            if st.st_size > 0:  # one attempt: if it cannot be opened, the next scan says why (once)
                del self._awaiting_bytes[path]
                self._open(path, reachable=reachable)
            elif st.st_mtime_ns != mtime:  # written and truncated again since the last look: find the copies
                self._adopt_unseen_copies(path, st.st_dev, st.st_ino)
                self._awaiting_bytes[path] = (reachable, st.st_mtime_ns)

    def _close(self, key: str, state: str | None) -> None:
        tr = self._tracked.pop(key)
        h = tr.harvester
        if self._lru.pop(key, 0) is None:  # it was open
            self._open_count -= 1
        if self._by_inode.get((h.ident.dev, h.ident.ino)) == key:
            del self._by_inode[(h.ident.dev, h.ident.ino)]
        if state is not None:
            self.registry.update(key, state=state, size=h.pos)
        h.close()
        log.info("closed file", path=h.path, identity=key, state=state)

    # -- reporting -------------------------------------------------------------------------------

    def sizes(self) -> Iterable[tuple[str, str, int, int]]:
        """Yield (path, identity, read position, size) of every tracked file, for lag metrics.

        Called from the metrics endpoint's thread while the tailer's own thread tracks new files: it walks a
        copy taken in one C call (atomic under the GIL), as the live dict changed size mid-walk once
        (``RuntimeError``, and the scrape got no answer) while 5,000 files were being found.
        """
        for key, tr in list(self._tracked.items()):
            h = tr.harvester
            yield h.path, key, h.pos, h.size

    def save_sizes(self) -> None:
        """Persist the latest sizes (``auditlog agent status`` shows lag from them)."""
        # on the tailer's own thread (after a scan, at close): the live dict cannot change meanwhile
        self.registry.update_sizes([(key, tr.harvester.size) for key, tr in self._tracked.items()])

    @property
    def open_files(self) -> int:
        """How many files are open (tracked files that are parked are not)."""
        return self._open_count

    @property
    def tracked_files(self) -> int:
        """How many file identities are tracked, open or parked."""
        return len(self._tracked)

    def _in_own_dir(self, path: str) -> bool:
        """Whether ``path`` (links followed) is a file of the agent's own state directory (never harvested)."""
        return self._own_dir is not None and _dir_inode(os.path.dirname(os.path.realpath(path))) == self._own_dir

    def _open_fd(self, path: str) -> int | None:
        if self._in_own_dir(path):
            self._refuse(path, OWN_FILE)  # every open of a harvested file comes here: scans, rotations, resumes
            return None
        try:
            fd = self._open_retrying(path)
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE):
                self.waiting += 1
                log.warning("too many open files; the file waits for a free slot (lower inputs.max_open_files)",
                            path=path, open_files=self._open_count)
            else:
                self._refuse(path, exc.strerror or str(exc))
            return None
        self._refused.pop(path, None)
        return fd

    def _open_retrying(self, path: str) -> int:
        """Open ``path``; out of descriptors, free some (idle harvesters) and try once more."""
        try:
            return _open_regular(path, self._open_flags)
        except OSError as exc:
            if exc.errno not in (errno.EMFILE, errno.ENFILE):
                raise
            self._shrink()
            if not self._room():
                raise
        return _open_regular(path, self._open_flags)  # a descriptor was freed: one more try

    def _refuse(self, path: str, why: str) -> None:
        """Say once that ``path`` is not read and why (again only when the reason changes), not at every scan."""
        if self._refused.get(path) == why:
            return
        self._refused.pop(path, None)
        if len(self._refused) >= _REFUSED_KEPT:  # bounded: the oldest is forgotten (said again if seen again)
            del self._refused[next(iter(self._refused))]
        self._refused[path] = why
        log.warning("not reading file (said once until the reason changes)", path=path, reason=why)
        if self.on_refused is not None:
            self.on_refused(path, why)

    def close(self) -> None:
        """Close every harvester (their identities stay active for the next start)."""
        self.save_sizes()
        for key in list(self._tracked):
            tr = self._tracked.pop(key)
            tr.harvester.close()
        self._by_inode.clear()
        self._lru.clear()
        self._open_count = 0


def follow_moves(moves: Iterable[tuple[str, str]], patterns: Iterable[str]) -> list[str]:
    """Return where the files renamed away from a watched name are now, following each chain of renames.

    Args:
        moves: (source, destination) renames in the order they happened.
        patterns: the watched globs.

    Returns:
        The last destination of every file that left a name ``patterns`` match, oldest first.
    """
    patterns = tuple(patterns)
    at: dict[str, None] = {}  # current names of files that left a watched name (ordered: oldest first)
    for src, dest in moves:
        if src in at:  # renamed again (logrotate's numbering shift, an archiver)
            del at[src]
        elif not discovery.matches(src, patterns):
            at.pop(dest, None)  # another file renamed over it: what was there is gone
            continue
        at.pop(dest, None)
        at[dest] = None
    return list(at)


def _dir_inode(path: str) -> tuple[int, int] | None:
    """The device and inode of the directory ``path`` (links followed), or None when it cannot be looked at.

    Compared by inode rather than by name, the state directory is recognised under any name: a link to it, a bind
    mount, a relative path.
    """
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _line_starts_at(fd: int, offset: int) -> bool:
    """True when ``offset`` is the start of a line of ``fd`` (0, or just after a newline).

    An acknowledged offset of an active identity always is: a file with the same first bytes where it is not
    holds another content.
    """
    return offset == 0 or os.pread(fd, 1, offset - 1) == b"\n"


#: paths whose refusal (:meth:`Tailer._refuse`) is remembered so that it is logged once
_REFUSED_KEPT = 4096


def _open_regular(path: str, flags: int) -> int:
    """Open ``path`` and return its descriptor when it is a regular file.

    The type is checked on the descriptor, not on the path: between a scan's look and this open the name may
    have been swapped for a FIFO (opened without blocking, see ``Tailer._open_flags``), a socket or a device.

    Raises:
        OSError: when it cannot be opened, or (``EINVAL``, "not a regular file") is something else.
    """
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise OSError(errno.EINVAL, discovery.not_regular(mode), path)
    return fd


def _starts_with(path: str, ident: FileIdentity, flags: int) -> bool:
    """True when the file at ``path`` starts with ``ident``'s fingerprinted bytes (or cannot be read to tell)."""
    try:
        fd = _open_regular(path, flags)
    except OSError as exc:
        return exc.errno != errno.EINVAL  # cannot tell: the first read checks again; not a regular file: no
    try:
        return fingerprint(fd, ident.fp_len) == ident.fingerprint
    except OSError:
        return True
    finally:
        os.close(fd)


def _same_inode(path: str, ident: FileIdentity) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (ident.dev, ident.ino)
