"""Contiguous acknowledgement tracking: a file's checkpoint moves only past fully handled batches.

Batches are registered in the order they were sealed; each covers, per file identity, a contiguous
byte range ending at some offset. Batches may be acknowledged out of order (several sink workers);
the committed offset of an identity advances to the end of a batch only once that batch and every
earlier batch touching the identity are acknowledged. This is the same rule Vector's end-to-end
acknowledgements and Filebeat's registrar apply.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping


class AckTracker:
    """Turns out-of-order batch acknowledgements into in-order per-identity checkpoint offsets."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # identity -> deque of [batch seq, end offset, acked?] in seal order
        self._pending: dict[str, deque[list[int]]] = {}

    def register(self, seq: int, ends: Mapping[str, int]) -> None:
        """Record that batch ``seq`` covers each identity up to its end offset.

        Args:
            seq: the batch's sequence number (increasing in seal order).
            ends: identity -> offset just after the last byte of the batch's range.
        """
        with self._lock:
            for key, end in ends.items():
                self._pending.setdefault(key, deque()).append([seq, end, 0])

    def ack(self, seq: int, keys: Mapping[str, int] | list[str]) -> dict[str, int]:
        """Mark batch ``seq`` as handled and return the identities whose checkpoint advanced.

        Args:
            seq: the batch's sequence number.
            keys: the identities the batch covered.

        Returns:
            identity -> new committed offset, for those that advanced.
        """
        advanced: dict[str, int] = {}
        with self._lock:
            for key in keys:
                q = self._pending.get(key)
                if not q:
                    continue
                for entry in q:
                    if entry[0] == seq:
                        entry[2] = 1
                        break
                end = -1
                while q and q[0][2]:
                    end = q.popleft()[1]
                if end >= 0:
                    advanced[key] = end
                if not q:
                    del self._pending[key]
        return advanced

    def in_flight(self) -> int:
        """Number of (batch, identity) ranges not yet committed."""
        with self._lock:
            return sum(len(q) for q in self._pending.values())
