"""The in-memory store's email records and what became of each (delivered, bounced, ...), as
`MemoryReferrals` keeps them beside each referral; the same promises as
`chalicelib/adapters/dynamo/emails.py`."""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

from chalicelib.domain import delivery
from chalicelib.domain.dates import now_iso
from chalicelib.domain.records import EmailRecord, Event


class HeldEmails(Protocol):
    """What a held referral keeps of its emails."""

    events: list[Event]
    emails: dict[str, EmailRecord]
    undelivered: set[str]  # the keys of emails it was flagged for
    flagged: bool


class MemoryEmails:
    """The email methods of `MemoryReferrals` (which holds the referrals and the lock)."""

    _lock: Any

    def _one(self, reference: str) -> HeldEmails:
        raise NotImplementedError

    def email_already_sent(self, reference: str, key: str) -> bool:
        return key in self._one(reference).emails

    def record_email(self, reference: str, key: str, to: str, subject: str,
                     message_id: str) -> None:
        with self._lock:
            held = self._one(reference)
            if key not in held.emails:
                at = now_iso()
                held.emails[key] = EmailRecord(key.split(":", 1)[0], to, subject, at, key=key,
                                               message_id=message_id)
                held.events.append(Event(f"email_sent:{key}", "system", at, {"to": to}))

    def emails_sent(self, reference: str) -> list[EmailRecord]:
        return sorted(self._one(reference).emails.values(), key=lambda e: e.at)

    def email_by_message_id(self, reference: str, message_id: str) -> EmailRecord | None:
        return next((e for e in self.emails_sent(reference) if e.message_id == message_id),
                    None)

    def record_delivery(self, reference: str, key: str, status: str, at: str,
                        bounce_type: str | None = None) -> bool:
        with self._lock:
            held = self._one(reference)
            email = held.emails.get(key)
            if email is None or email.status not in delivery.replaces(status):
                return False
            held.emails[key] = dataclasses.replace(email, status=status, status_at=at,
                                                   bounce_type=bounce_type)
            if status in delivery.IN_HISTORY:
                held.events.append(Event(f"email_{status}", "system", now_iso(),
                                         delivery.event_detail(email, bounce_type)))
            return True

    def flag_undelivered(self, reference: str, key: str, detail: dict[str, Any]) -> bool:
        with self._lock:
            held = self._one(reference)
            if key in held.undelivered:
                return False
            held.undelivered.add(key)
            held.flagged = True
            held.events.append(Event("flagged_undelivered", "system", now_iso(), dict(detail)))
            return True

