"""The email caps per address, in memory: the same sliding window as `dynamo/caps.py`, for the
use-case tests (tests/contract proves the two keep the same promises)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from chalicelib.domain.dates import iso, parse_iso
from chalicelib.domain.identity import mailbox_key
from chalicelib.domain.records import HeldBack


class MemoryCaps:
    """The same sliding window as DynamoDB's caps, in a dict."""

    def __init__(self) -> None:
        self._sent: dict[tuple[str, str], list[int]] = {}
        self._held: dict[tuple[str, str], HeldBack] = {}
        self._lock = threading.RLock()

    def take(self, kind: str, address: str, limit: int, window_seconds: int, now: int) -> bool:
        key = (kind, mailbox_key(address))
        with self._lock:
            recent = [t for t in self._sent.get(key, []) if t > now - window_seconds]
            if len(recent) >= limit:
                before = self._held.get(key)
                self._held[key] = HeldBack(kind, address, (before.count if before else 0) + 1,
                                           iso(datetime.fromtimestamp(now, UTC)))
                return False
            self._sent[key] = [*recent, now]
            return True

    def forget(self) -> None:
        """Start every count again (a test that signs in afresh for each generated example)."""
        with self._lock:
            self._sent.clear()
            self._held.clear()

    def held_back(self, since: int) -> list[HeldBack]:
        with self._lock:
            held = [h for h in self._held.values()
                    if parse_iso(h.last_at).timestamp() >= since]
        return sorted(held, key=lambda h: h.last_at, reverse=True)
