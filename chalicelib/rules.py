"""The funding and routing rules: plain functions over plain values, no I/O.

Everything a PHB advisor would call "policy" is here or in `funding_rules.json`, so a rule can be
found in one guess and unit-tested without AWS.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from chalicelib.funding_rules import CatalogueCap, FundingRules


# ---------------------------------------------------------------------------------------------
# Identifiers


def normalise_nhs_number(value: str) -> str:
    """Strip spaces and hyphens; the caller validates the result."""
    return re.sub(r"[\s-]", "", value)


def nhs_number_is_valid(digits: str) -> bool:
    """Modulus 11: weights 10..2 on the first nine digits; 11 - remainder; 11 -> 0; 10 invalid."""
    if not re.fullmatch(r"[0-9]{10}", digits):
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10:
        return False
    return check == int(digits[9])


def format_nhs_number(digits: str) -> str:
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}"


# Outward code + inward code, per the Royal Mail format (including GIR 0AA).
_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?|GIR)([0-9][A-Z]{2})$")


def normalise_postcode(value: str) -> str | None:
    """`e81dy`, ` E8  1DY ` -> `E8 1DY`; None when it is not a UK postcode."""
    compact = re.sub(r"\s+", "", value).upper()
    match = _POSTCODE.match(compact)
    if not match:
        return None
    return f"{match.group(1)} {match.group(2)}"


# No 0/O, 1/I/L, and no U (avoids accidental words): easy to read aloud and retype.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_PREFIX = "PHB"


def new_reference() -> str:
    """`PHB-7K3M-QX9R`: 30^8 ≈ 6.6e11 values; uniqueness is enforced by a conditional write."""
    chars = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"{REFERENCE_PREFIX}-{chars[:4]}-{chars[4:]}"


def parse_reference(value: str) -> str | None:
    """Accept what people retype: any case, spaces or no dashes, and O/I/L for 0/1 mistakes."""
    compact = re.sub(r"[\s-]", "", value).upper()
    if compact.startswith(REFERENCE_PREFIX):
        compact = compact[len(REFERENCE_PREFIX) :]
    if len(compact) != 8 or any(c not in REFERENCE_ALPHABET for c in compact):
        return None
    return f"{REFERENCE_PREFIX}-{compact[:4]}-{compact[4:]}"


# ---------------------------------------------------------------------------------------------
# Dates


def age_on(date_of_birth: date, on: date) -> int:
    years = on.year - date_of_birth.year
    if (on.month, on.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years


def add_months(start: date, months: int) -> date:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    # Clamp to the last day of the month (31 Aug + 6 months -> 28/29 Feb).
    for day in range(start.day, 27, -1):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    return date(year, month, min(start.day, 28))


# ---------------------------------------------------------------------------------------------
# Money


class CostedItem(Protocol):
    description: str
    category: str
    cost_pence: int
    recurrence: str
    months: int | None


def item_total_pence(item: CostedItem) -> int:
    if item.recurrence == "monthly":
        return item.cost_pence * (item.months or 1)
    return item.cost_pence


def total_pence(items: Iterable[CostedItem]) -> int:
    return sum(item_total_pence(item) for item in items)


def format_pence(pence: int) -> str:
    pounds, rest = divmod(pence, 100)
    return f"£{pounds:,}.{rest:02d}"


# ---------------------------------------------------------------------------------------------
# Sign-off

Tier = Literal["referrer", "manager", "panel"]
Approver = Literal["referrer", "manager", "panel", "advisor"]


@dataclass(frozen=True)
class Flag:
    code: str
    reason: str
    item: int  # index into the referral's items

    def as_dict(self) -> dict[str, object]:
        return {"code": self.code, "reason": self.reason, "item": self.item}


@dataclass(frozen=True)
class SignOff:
    """Who must sign a referral off, in order."""

    tier: Tier
    total_pence: int
    streamlined: bool
    flags: tuple[Flag, ...] = field(default=())

    @property
    def needs_advisor(self) -> bool:
        return bool(self.flags)

    @property
    def approvers(self) -> tuple[Approver, ...]:
        steps: tuple[Approver, ...] = {
            "referrer": ("referrer",),
            "manager": ("manager",),
            "panel": ("manager", "panel"),
        }[self.tier]
        return (*steps, "advisor") if self.needs_advisor else steps


def tier_for_total(total: int, referrer_below: int, manager_up_to: int) -> Tier:
    if total < referrer_below:
        return "referrer"
    if total <= manager_up_to:
        return "manager"
    return "panel"


def _words_match(text: str, phrase: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(phrase.lower())}(?![\w])", text.lower()) is not None


def exclusion_flags(items: Sequence[CostedItem], rules: FundingRules) -> tuple[Flag, ...]:
    """Every exclusion an item hits, by category or by words in its description."""
    flags = []
    for index, item in enumerate(items):
        for exclusion in rules.exclusions:
            if item.category in exclusion.categories or any(
                _words_match(item.description, word) for word in exclusion.keywords
            ):
                flags.append(Flag(exclusion.code, exclusion.reason, index))
    return tuple(flags)


def is_streamlined(items: Sequence[CostedItem], rules: FundingRules) -> bool:
    """Only smartphone and data items, each matching a catalogue entry within its caps."""
    if not items:
        return False
    for item in items:
        if item.category != "smartphone_data":
            return False
        if not any(_within_cap(item, cap) for cap in rules.smartphone_data_catalogue):
            return False
    return True


def _within_cap(item: CostedItem, cap: CatalogueCap) -> bool:
    if item.recurrence != cap.recurrence or item.cost_pence > cap.max_pence:
        return False
    if item.recurrence == "monthly" and (item.months or 1) > cap.max_months:
        return False
    return any(_words_match(item.description, word) for word in cap.keywords)


def sign_off(
    items: Sequence[CostedItem],
    rules: FundingRules,
    referrer_below: int,
    manager_up_to: int,
) -> SignOff:
    total = total_pence(items)
    streamlined = is_streamlined(items, rules)
    tier: Tier = "referrer" if streamlined else tier_for_total(total, referrer_below, manager_up_to)
    return SignOff(tier, total, streamlined, exclusion_flags(items, rules))
