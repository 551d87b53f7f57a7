"""In-memory stand-ins for the store and the mailer (the workflow engine's is in
memory_workflow.py), for tests of the use cases without AWS. They keep the same promises as the
real adapters (conditional changes, links used once, pages newest first, idempotent
submission): `tests/contract/` runs one set of tests against these and against DynamoDB
alike."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.adapters.memory_assigned import MemoryAssignments
from chalicelib.adapters.memory_caps import MemoryCaps
from chalicelib.adapters.memory_emails import MemoryEmails
from chalicelib.domain.dates import now_iso
from chalicelib.domain.errors import (
    BadPageToken,
    IdempotencyConflict,
    NotFound,
    TransitionRefused,
)
from chalicelib.domain.identifiers import new_reference, parse_reference, sha256
from chalicelib.domain.identity import same_address
from chalicelib.domain.person import name_key
from chalicelib.domain.policy import DRAFT_SECONDS
from chalicelib.domain.records import (
    Created,
    Email,
    EmailRecord,
    Event,
    Link,
    NewReferral,
    ReferralPage,
    StoredReferral,
    View,
    WorklistPage,
    WorklistRow,
)

# What a change's `fields` may set on a referral (the rest of a record is the store's own).
_CHANGEABLE = {"tier", "flags", "approvers", "step", "progress", "approved_at", "basis", "ledger",
               "next_release_due", "answers", "total_pence", "revision", "referrer_email"}


@dataclass
class _Held:
    """A referral with what the table keeps beside it."""

    stored: StoredReferral
    borough: str
    person: str | None  # the person's hash, until retention removes it
    flagged: bool = False
    events: list[Event] = field(default_factory=list)
    emails: dict[str, EmailRecord] = field(default_factory=dict)
    undelivered: set[str] = field(default_factory=set)
    tokens: dict[str, str] = field(default_factory=dict)
    reminders: dict[str, int] = field(default_factory=dict)


class MemoryReferrals(MemoryEmails, MemoryAssignments):
    def __init__(self, links: MemoryLinks,
                 make_reference: Callable[[], str] = new_reference) -> None:
        self._links = links
        self._make_reference = make_reference
        self._held: dict[str, _Held] = {}
        self._keys: dict[str, tuple[str, str]] = {}  # idempotency key hash -> (body, reference)
        self._lock = threading.RLock()

    def create(self, new: NewReferral, actor: str, idempotency_key: str | None = None
               ) -> Created:
        with self._lock:
            key_hash = sha256(idempotency_key) if idempotency_key else None
            if key_hash in self._keys:
                body, reference = self._keys[key_hash]
                if body != sha256(new.answers):
                    raise IdempotencyConflict(reference)
                return Created(reference, self.get(reference).status, replayed=True)
            reference = self._make_reference()
            while reference in self._held:
                reference = self._make_reference()
            at = now_iso()
            stored = StoredReferral(reference=reference, status="submitted", created_at=at,
                                    updated_at=at, answers=new.answers,
                                    total_pence=new.total_pence, tier=None, flags=[],
                                    referrer_email=new.referrer_email)
            self._held[reference] = _Held(stored, new.borough, sha256(new.nhs_number),
                                          events=[Event("submitted", actor, at, {})])
            if key_hash:
                self._keys[key_hash] = (sha256(new.answers), reference)
            return Created(reference, "submitted", replayed=False)

    def replay_of(self, idempotency_key: str) -> str | None:
        held = self._keys.get(sha256(idempotency_key))
        return held[1] if held else None

    def _one(self, reference: str) -> _Held:
        if reference not in self._held:
            raise NotFound(reference)
        return self._held[reference]

    def get(self, reference: str) -> StoredReferral:
        return self._one(reference).stored

    def find(self, typed_reference: str) -> StoredReferral | None:
        from urllib.parse import unquote

        reference = parse_reference(unquote(typed_reference))
        held = self._held.get(reference or "")
        return held.stored if held else None

    def change(self, reference: str, to: str, from_statuses: tuple[str, ...], actor: str,
               what: str, detail: dict[str, Any] | None = None,
               fields: dict[str, Any] | None = None, when: dict[str, str] | None = None,
               using_link: Link | None = None) -> None:
        unknown = set(fields or {}) - _CHANGEABLE
        if unknown:
            raise ValueError(f"not a field a change sets: {sorted(unknown)}")
        with self._lock:
            held = self._one(reference)
            current = held.stored
            link_ok = using_link is None or self._links.usable(using_link.id_hash)
            if (current.status not in from_statuses or not link_ok
                    or any(getattr(current, name, None) != wanted
                           for name, wanted in (when or {}).items())):
                raise TransitionRefused(f"{reference}: {to} refused")
            if using_link is not None:
                self._links.use(using_link.id_hash, int(time.time()))
            at = now_iso()
            changes = dict(fields or {})
            if "approvers" in changes:
                changes["approvers"] = tuple(changes["approvers"])
            held.stored = dataclasses.replace(current, status=to, updated_at=at,
                                              waiting_step=None, due_at=None, **changes)
            held.flagged = held.flagged or bool(changes.get("flags"))
            held.events.append(Event(what, actor, at, dict(detail or {})))

    def record(self, seen: StoredReferral, actor: str, what: str,
               detail: dict[str, Any] | None = None, fields: dict[str, Any] | None = None) -> None:
        unknown = set(fields or {}) - _CHANGEABLE
        if unknown:
            raise ValueError(f"not a field a record sets: {sorted(unknown)}")
        with self._lock:
            held = self._one(seen.reference)
            if held.stored.updated_at != seen.updated_at:
                raise TransitionRefused(f"{seen.reference}: {what} refused")
            at = now_iso()
            held.stored = dataclasses.replace(held.stored, updated_at=at, **(fields or {}))
            held.events.append(Event(what, actor, at, dict(detail or {})))

    def add_event(self, reference: str, what: str, who: str,
                  detail: dict[str, Any] | None = None) -> None:
        with self._lock:
            self._one(reference).events.append(Event(what, who, now_iso(), dict(detail or {})))

    def history(self, reference: str) -> list[Event]:
        return list(self._one(reference).events)

    def save_task_token(self, reference: str, step: str, token: str) -> None:
        self._one(reference).tokens[step] = token

    def task_token(self, reference: str, step: str) -> str | None:
        return self._one(reference).tokens.get(step)

    def task_tokens(self, reference: str) -> dict[str, str]:
        return dict(self._one(reference).tokens)

    def mark_waiting(self, seen: StoredReferral, step: str, due_at: str) -> bool:
        with self._lock:
            held = self._one(seen.reference)
            if held.stored.updated_at != seen.updated_at:
                return False
            held.stored = dataclasses.replace(held.stored, waiting_step=step,
                                              due_at=held.stored.due_at or due_at)
            return True

    def count_reminder(self, reference: str, step: str) -> int:
        with self._lock:
            reminders = self._one(reference).reminders
            reminders[step] = reminders.get(step, 0) + 1
            return reminders[step]

    def reset_reminders(self, reference: str, step: str) -> None:
        self._one(reference).reminders.pop(step, None)

    # --- queries ---------------------------------------------------------------------------------

    def page(self, view: View, size: int, after: str | None = None,
             now: str | None = None) -> WorklistPage:
        if view.kind not in _VIEWS:
            raise KeyError(view.kind)
        wanted = _VIEWS[view.kind]
        moment = now or now_iso()
        held = sorted((h for h in self._held.values() if wanted(h, view.value, moment)),
                      key=lambda h: (h.stored.created_at, h.stored.reference), reverse=True)
        start = 0
        if after:
            start = _start_after(after, view, [h.stored.reference for h in held])
        chosen = held[start:start + size]
        more = start + size < len(held)
        token = _token(view, chosen[-1].stored.reference) if more and chosen else None
        rows = [WorklistRow.of(h.stored) for h in chosen]
        return WorklistPage(rows, token, scanned_count=len(rows))

    def active_between(self, since: str, until: str) -> list[StoredReferral]:
        from chalicelib.domain.facts import ended_on

        found = [h.stored for h in self._held.values() if h.stored.created_at[:10] <= until
                 and (ended_on(h.stored) or since) >= since]
        return sorted(found, key=lambda r: (r.created_at, r.reference))

    def releases_due(self, by: str) -> list[str]:
        due = sorted((h.stored.next_release_due, h.stored.reference) for h in self._held.values()
                     if h.stored.next_release_due and h.stored.next_release_due[:10] <= by)
        return [reference for _, reference in due]

    def references_for_person(self, nhs_number: str) -> list[str]:
        person = sha256(nhs_number.replace(" ", ""))
        return [h.stored.reference for h in sorted(
            self._held.values(), key=lambda h: (h.stored.created_at, h.stored.reference))
            if h.person == person]

    def for_referrer(self, email: str, size: int, after: str | None = None) -> ReferralPage:
        # Another referrer's token names a reference not in this list: it is refused.
        mine = sorted((h.stored for h in self._held.values()
                       if h.stored.referrer_email and same_address(h.stored.referrer_email,
                                                                   email)),
                      key=lambda r: (r.created_at, r.reference), reverse=True)
        view = View("referrer")
        start = _start_after(after, view, [r.reference for r in mine]) if after else 0
        chosen = mine[start:start + size]
        more = start + size < len(mine)
        return ReferralPage(chosen, _token(view, chosen[-1].reference) if more and chosen
                            else None)

    def for_last_name(self, last_name: str, size: int) -> list[StoredReferral]:
        wanted = name_key(last_name)
        theirs = [h.stored for h in self._held.values()
                  if h.stored.answers and name_key(h.stored.last_name) == wanted]
        return sorted(theirs, key=lambda r: (r.created_at, r.reference), reverse=True)[:size]

    def named(self, rows: list[WorklistRow]) -> list[WorklistRow]:
        return [dataclasses.replace(row, person_name=self._held[row.reference].stored.person_name
                                    if row.reference in self._held else "") for row in rows]

    def in_statuses(self, statuses: tuple[str, ...]) -> list[WorklistRow]:
        return [_row(h.stored) for h in self._held.values() if h.stored.status in statuses]

    def inactive_before(self, before: str) -> list[str]:
        return [h.stored.reference for h in self._held.values()
                if h.stored.updated_at < before and h.stored.referrer_email]

    def remove_personal_data(self, seen: StoredReferral, facts: dict[str, Any], actor: str,
                             removed: str) -> bool:
        with self._lock:
            held = self._one(seen.reference)
            held.events = [_redacted(event, removed) for event in held.events]
            held.emails = {_without_address(key, removed):
                           dataclasses.replace(e, to=removed,
                                               key=_without_address(key, removed))
                           for key, e in held.emails.items()}
            held.undelivered.clear()
            held.tokens.clear()
            held.reminders.clear()
            current = held.stored
            if current.updated_at != seen.updated_at or current.anonymised_at:
                return False
            at = now_iso()
            held.stored = dataclasses.replace(current, facts=dict(facts), anonymised_at=at,
                                              answers="", referrer_email="", progress={},
                                              flags=[], basis=None, ledger=None)
            held.person = None
            held.events.append(Event("personal_data_removed", actor, at,
                                     {"retention": "ended before the retention period"}))
            return True


def _without_address(key: str, removed: str) -> str:
    """An email record's key (`kind:step:notice:address`) without its recipient."""
    return f"{key.rsplit(':', 1)[0]}:{removed}" if "@" in key else key


def _redacted(event: Event, removed: str) -> Event:
    what = f"{event.what.rsplit(':', 1)[0]}:{removed}" if "@" in event.what else event.what
    return Event(what, removed if "@" in event.who else event.who, event.at, {})


_VIEWS: dict[str, Callable[[_Held, str, str], bool]] = {
    "status": lambda h, value, now: h.stored.status == value,
    "all": lambda h, value, now: True,
    "borough": lambda h, value, now: h.borough == value,
    "tier": lambda h, value, now: h.stored.tier == value,
    "flagged": lambda h, value, now: h.flagged,
    "overdue": lambda h, value, now: h.stored.waiting_step is not None
    and (h.stored.due_at or "") < now,
}


def _row(stored: StoredReferral) -> WorklistRow:
    # The status index projects no name (the reconciler's open referrals need none): the
    # DynamoDB store's rows from it have none either, until `named`.
    return dataclasses.replace(WorklistRow.of(stored), person_name="")


def _token(view: View, last: str) -> str:
    data = json.dumps({"view": view.kind, "after": last}).encode()
    return base64.urlsafe_b64encode(data).decode()


def _start_after(token: str, view: View, references: list[str]) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise BadPageToken(token) from None
    if not isinstance(data, dict) or data.get("view") != view.kind \
            or data.get("after") not in references:
        raise BadPageToken(token)
    return references.index(data["after"]) + 1


class MemoryLinks:
    def __init__(self) -> None:
        self._links: dict[str, Link] = {}
        self._lock = threading.RLock()

    def put(self, link: Link, kept_seconds: int) -> None:
        with self._lock:
            if link.id_hash in self._links:
                raise ValueError("a link with that id exists")
            self._links[link.id_hash] = link

    def get(self, id_hash: str) -> Link | None:
        return self._links.get(id_hash)

    def usable(self, id_hash: str) -> bool:
        link = self._links.get(id_hash)
        return link is not None and link.used_at is None and not link.expired

    def use(self, id_hash: str, now: int) -> bool:
        with self._lock:
            link = self._links.get(id_hash)
            if link is None or link.used_at is not None or link.valid_until <= now:
                return False
            self._links[id_hash] = dataclasses.replace(link, used_at=now_iso())
            return True


class MemorySessions:
    def __init__(self) -> None:
        self._sessions: dict[str, tuple[str, int]] = {}

    def start(self, id_hash: str, email: str, expires: int) -> None:
        self._sessions[id_hash] = (email, expires)

    def is_live(self, id_hash: str, now: int) -> bool:
        return id_hash in self._sessions and self._sessions[id_hash][1] > now

    def end(self, id_hash: str) -> None:
        self._sessions.pop(id_hash, None)


class MemoryDrafts:
    def __init__(self) -> None:
        self._drafts: dict[str, tuple[dict[str, str], float]] = {}

    def save(self, draft_id: str, values: dict[str, str]) -> None:
        self._drafts[draft_id] = (dict(values), time.time() + DRAFT_SECONDS)

    def load(self, draft_id: str) -> dict[str, str] | None:
        values, expires = self._drafts.get(draft_id, ({}, 0.0))
        return dict(values) if expires >= time.time() else None


@dataclass
class MemoryStore:
    links: MemoryLinks = field(default_factory=MemoryLinks)
    sessions: MemorySessions = field(default_factory=MemorySessions)
    drafts: MemoryDrafts = field(default_factory=MemoryDrafts)
    caps: MemoryCaps = field(default_factory=MemoryCaps)
    referrals: MemoryReferrals = field(init=False)

    def __post_init__(self) -> None:
        self.referrals = MemoryReferrals(self.links)


class MemoryMailer:
    """Keeps every email it is given, in order (`sent`)."""

    def __init__(self) -> None:
        self.sent: list[Email] = []

    def send(self, email: Email) -> str:
        self.sent.append(email)
        return f"memory-{len(self.sent)}"
