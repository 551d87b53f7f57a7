"""One person across referrals: the NHS number identifies them, their name and date of birth
confirm it, and what their other PHBs asked for or were approved decides the sign-off tier.

A request cannot be split to stay under a threshold: the tier is decided on this request plus
what the person's other PHBs had approved within a rolling window (and what they are still
asking for, so two requests sent together count each other). The same NHS number under another
name or date of birth is a possible mismatch: flagged for an advisor, never merged.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from chalicelib.domain.money import format_whole_pounds

# Still asking: what they ask for counts as if approved.
IN_SIGN_OFF = ("submitted", "awaiting_sign_off", "awaiting_information")
# Ended without the money: only what was released counts.
ENDED_UNPAID = ("withdrawn", "expired")


@dataclass(frozen=True)
class PriorItem:
    """An item of another PHB, as the streamlined caps count it."""

    description: str
    category: str
    cost_pence: int
    recurrence: str
    months: int | None


@dataclass(frozen=True)
class OtherPHB:
    """Another referral with the same NHS number, as stored."""

    reference: str
    status: str
    submitted_at: str
    first_name: str
    last_name: str
    date_of_birth: str  # YYYY-MM-DD
    requested_pence: int
    approved_pence: int | None  # fixed at final sign-off
    approved_at: str | None
    released_pence: int
    ended_at: str | None
    items: tuple[PriorItem, ...] = ()


def name_key(text: str) -> str:
    """A name as compared and searched for: case, spacing and compatibility forms ignored."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def same_identity(other: OtherPHB, first_name: str, last_name: str, date_of_birth: str) -> bool:
    """The same person: the same name (ignoring case and spacing) and date of birth."""
    return (name_key(other.first_name), name_key(other.last_name), other.date_of_birth) == (
        name_key(first_name), name_key(last_name), date_of_birth)


def _day(stamp: str) -> date:
    return date.fromisoformat(stamp[:10])


def counted_pence(other: OtherPHB, today: date, window_days: int) -> int | None:
    """What another PHB adds to the person's total today; None when it does not count."""
    if other.status in IN_SIGN_OFF:
        return other.requested_pence
    if other.approved_at is None or _day(other.approved_at) < today - timedelta(days=window_days):
        return None
    if other.status in ENDED_UNPAID:
        return other.released_pence or None
    return other.approved_pence if other.approved_pence is not None else other.requested_pence


@dataclass(frozen=True)
class Counted:
    reference: str
    pence: int
    on: str  # the date it was approved, or submitted while still in sign-off
    approved: bool


@dataclass(frozen=True)
class Basis:
    """What the sign-off tier was decided on, and why, in words."""

    this_pence: int
    counted: tuple[Counted, ...]
    window_days: int

    @property
    def total_pence(self) -> int:
        return self.this_pence + sum(c.pence for c in self.counted)

    def words(self, who: str) -> str:
        """`£200 now + £200 approved on 3 Nov 2026 = £400: the approving manager signs off`."""
        if not self.counted:
            return f"{format_whole_pounds(self.this_pence)}: {who} signs off"
        parts = [f"{format_whole_pounds(self.this_pence)} now"] + [
            f"{format_whole_pounds(c.pence)} {'approved' if c.approved else 'asked for'} on "
            f"{_long(c.on)}" for c in self.counted]
        return f"{' + '.join(parts)} = {format_whole_pounds(self.total_pence)}: {who} signs off"

    def as_dict(self) -> dict[str, object]:
        return {"this_pence": self.this_pence, "window_days": self.window_days,
                "total_pence": self.total_pence,
                "counted": [{"reference": c.reference, "pence": c.pence, "on": c.on,
                             "approved": c.approved} for c in self.counted]}


def _long(stamp: str) -> str:
    day = _day(stamp)
    return f"{day.day} {day:%b %Y}"


def basis(this_pence: int, others: list[OtherPHB], first_name: str, last_name: str,
          date_of_birth: str, today: date, window_days: int) -> Basis:
    """This request and what the same person's other PHBs count for, oldest first."""
    counted = []
    for other in sorted(others, key=lambda o: o.submitted_at):
        if not same_identity(other, first_name, last_name, date_of_birth):
            continue
        pence = counted_pence(other, today, window_days)
        if pence:
            on = other.approved_at if other.status not in IN_SIGN_OFF and other.approved_at \
                else other.submitted_at
            counted.append(Counted(other.reference, pence, on[:10], other.status not in
                                   IN_SIGN_OFF))
    return Basis(this_pence, tuple(counted), window_days)


def mismatches(others: list[OtherPHB], first_name: str, last_name: str,
               date_of_birth: str) -> list[OtherPHB]:
    """Other referrals with this NHS number under another name or date of birth."""
    return [o for o in others if not same_identity(o, first_name, last_name, date_of_birth)]


def current(others: list[OtherPHB], today: date, window_days: int) -> list[OtherPHB]:
    """The PHBs worth showing beside a new one: open, or ended within the window."""
    start = today - timedelta(days=window_days)
    return [o for o in others if o.ended_at is None or _day(o.ended_at) >= start]


def prior_items(others: list[OtherPHB], first_name: str, last_name: str, date_of_birth: str,
                today: date, window_days: int) -> list[PriorItem]:
    """The items of the person's counted PHBs, for the per-person catalogue caps."""
    return [item for o in others
            if same_identity(o, first_name, last_name, date_of_birth)
            and counted_pence(o, today, window_days) for item in o.items]
