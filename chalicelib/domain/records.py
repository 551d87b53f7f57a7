"""What the store keeps and returns, as plain records: a referral, its history, its emails, a
one-time link, a page of the worklist. The adapters (`chalicelib/adapters/`) turn these into
DynamoDB items and back; nothing outside them sees a key."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StoredReferral:
    """A referral as the table holds it now."""

    reference: str
    status: str
    created_at: str
    updated_at: str
    answers: str  # the referral as JSON, exactly as validated; "" once retention removed it
    total_pence: int
    tier: str | None
    flags: list[dict[str, Any]]
    referrer_email: str
    step: str | None = None  # the sign-off step waited for, while awaiting sign-off
    approvers: tuple[str, ...] = ()
    progress: dict[str, Any] | None = None  # what each later step recorded (agreement, ...)
    waiting_step: str | None = None  # the step waiting for a person now, if any
    due_at: str | None = None  # when that step's first reminder is due
    approved_at: str | None = None  # the final sign-off
    facts: dict[str, Any] | None = None  # kept when personal data is removed (retention)
    anonymised_at: str | None = None
    basis: dict[str, Any] | None = None  # what intake decided the tier on (the person's total)
    ledger: dict[str, Any] | None = None  # the money: approved, released, unspent
    next_release_due: str | None = None  # the next monthly release's date, while one is due
    # How many times an amendment has sent the referral back (to sign-off, or to accept the
    # agreement again): the state machine carries the revision it follows, and a wait of an
    # older revision ends at once.
    revision: int = 0
    assigned_to: str | None = None  # the PHB advisor the case is assigned to, if any

    @property
    def recorded(self) -> dict[str, Any]:
        return self.progress or {}

    @property
    def person_name(self) -> str:
        """The person's first and last names as typed; "" once retention removed them."""
        return person_name_in(self.answers)

    @property
    def last_name(self) -> str:
        """The person's last name as typed; "" once retention removed it."""
        return str(_person_in(self.answers).get("last_name") or "")


def _person_in(answers: str) -> dict[str, Any]:
    person = json.loads(answers).get("person") if answers else None
    return person if isinstance(person, dict) else {}


def person_name_in(answers: str) -> str:
    """The person's name in a referral's answers (JSON); "" when there are none."""
    person = _person_in(answers)
    return " ".join(str(person[part]).strip() for part in ("first_name", "last_name")
                    if person.get(part))


@dataclass(frozen=True)
class NewReferral:
    """What intake stores for a validated referral."""

    answers: str  # the referral as JSON
    total_pence: int
    referrer_email: str
    borough: str
    nhs_number: str
    last_name: str = ""  # filed in the person index, for finding someone by their last name


@dataclass(frozen=True)
class Created:
    reference: str
    status: str
    replayed: bool  # True when an idempotency key returned an existing referral


@dataclass(frozen=True)
class Event:
    """One entry of a referral's append-only history: what happened, who did it, when."""

    what: str
    who: str
    at: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class EmailRecord:
    """An email sent about a referral (the email itself is not kept), and what became of it:
    `status` is `sent` until SES reports it delivered, delayed, bounced, complained of or
    rejected (`chalicelib/domain/delivery.py`)."""

    kind: str
    to: str
    subject: str
    at: str
    key: str = ""  # `kind:step:notice:address`, or a bare kind (`acknowledgement`)
    message_id: str = ""  # SES's id of the message, which its delivery events name
    status: str = "sent"
    status_at: str | None = None
    bounce_type: str | None = None  # a bounce's: permanent, transient or undetermined

    @property
    def step(self) -> str | None:
        """The step the email was about, when its key names one."""
        parts = self.key.split(":")
        return parts[1] if len(parts) >= 4 and parts[1] != "-" else None


@dataclass(frozen=True)
class Link:
    """A one-time link: an action on a referral's step for one recipient, or a staff sign-in
    (`action` "sign-in", no referral). Only the SHA-256 of the id in the URL is stored."""

    id_hash: str
    action: str
    recipient: str
    valid_until: int  # epoch seconds
    created_at: str
    reference: str = ""
    step: str = ""
    used_at: str | None = None

    @property
    def expired(self) -> bool:
        return self.valid_until <= int(time.time())


@dataclass(frozen=True)
class WorklistRow:
    """What the worklist shows of a referral."""

    reference: str
    status: str
    created_at: str
    updated_at: str
    total_pence: int
    tier: str | None
    step: str | None
    referrer_email: str
    flagged: bool
    due_at: str | None = None  # when waiting: the first reminder's due time
    # Read with the page's referrals by key, never copied into an index: a name is personal
    # data, kept on the referral alone, so retention removes it in one place.
    person_name: str = ""

    @classmethod
    def of(cls, stored: StoredReferral) -> WorklistRow:
        """A referral as the worklist lists it."""
        return cls(reference=stored.reference, status=stored.status,
                   created_at=stored.created_at, updated_at=stored.updated_at,
                   total_pence=stored.total_pence, tier=stored.tier, step=stored.step,
                   referrer_email=stored.referrer_email, flagged=bool(stored.flags),
                   due_at=stored.due_at, person_name=stored.person_name)


@dataclass(frozen=True)
class View:
    """A worklist view: `all`, `overdue`, `flagged`, or `status`, `borough`, `tier` with the
    value chosen."""

    kind: str
    value: str = ""


@dataclass(frozen=True)
class WorklistPage:
    """One page of a view, newest first, with what it cost in items read."""

    rows: list[WorklistRow]
    next_page: str | None  # an opaque token for the page after; None on the last page
    scanned_count: int = 0  # index entries the query read
    keys_fetched: int = 0  # referral items then read by key

    @property
    def items_read(self) -> int:
        return self.scanned_count + self.keys_fetched


@dataclass(frozen=True)
class ReferralPage:
    """One page of a referrer's own referrals, newest first."""

    referrals: list[StoredReferral]
    next_page: str | None  # an opaque token for the page after; None on the last page


@dataclass(frozen=True)
class Email:
    """An email ready to send: only a reference, what is asked and a link, never patient
    details (emails between health and care organisations are secure only on accredited
    systems)."""

    kind: str
    to: str
    subject: str
    text: str
    html: str
    # The referral it is about (none for a staff sign-in): SES tags the message with it, so a
    # delivery event finds the email's record among that referral's.
    reference: str = ""


@dataclass(frozen=True)
class HeldBack:
    """Emails of one kind not sent to one address because it had had its cap of them."""

    kind: str  # "sign_in" or "acknowledgement"
    address: str
    count: int
    last_at: str
