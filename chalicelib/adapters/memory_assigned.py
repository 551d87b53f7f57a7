"""The in-memory store's case assignments (which PHB advisor has a case), as `MemoryReferrals`
keeps them on each referral; the same promises as `DynamoReferrals.assign` and `assigned_to`
(tests/contract)."""

from __future__ import annotations

import dataclasses
from typing import Any

from chalicelib.domain.dates import now_iso
from chalicelib.domain.identity import same_address
from chalicelib.domain.records import Event, StoredReferral


class MemoryAssignments:
    """The assignment methods of `MemoryReferrals` (which holds the referrals and the lock)."""

    _lock: Any
    _held: dict[str, Any]

    def assign(self, seen: StoredReferral, to: str, actor: str) -> None:
        with self._lock:
            held = self._held[seen.reference]
            held.stored = dataclasses.replace(held.stored, assigned_to=to)
            held.events.append(Event("assigned", actor, now_iso(), {"to": to}))

    def assigned_to(self, email: str, size: int) -> list[StoredReferral]:
        with self._lock:
            theirs = [h.stored for h in self._held.values()
                      if h.stored.assigned_to and same_address(h.stored.assigned_to, email)]
        return sorted(theirs, key=lambda r: (r.created_at, r.reference), reverse=True)[:size]
