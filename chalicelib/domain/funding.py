"""The funding and routing rules: who signs a request off, and what is flagged for an advisor.

The rules' data is configuration (`chalicelib/funding_rules.json`, loaded by `config.py`):
exclusions matched by category or by words in an item's description, and the smartphone and
data catalogue caps of the streamlined pathway. The thresholds are settings, in pence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.codes import Tier
from chalicelib.domain.dates import add_months, long_date
from chalicelib.domain.money import CostedItem, total_pence


class Exclusion(BaseModel):
    """One funding exclusion: a request that matches it is flagged for a PHB advisor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    reason: str
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


class CatalogueCap(BaseModel):
    """The streamlined smartphone and data pathway: the most one item of a kind may cost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    label: str
    keywords: tuple[str, ...]
    max_pence: int = Field(gt=0)
    recurrence: Literal["one_off", "monthly"]
    max_months: int = Field(default=1, ge=1, le=12)


class FundingRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    exclusions: tuple[Exclusion, ...]
    smartphone_data_catalogue: tuple[CatalogueCap, ...]


Approver = Literal["referrer", "manager", "panel", "advisor"]


@dataclass(frozen=True)
class Flag:
    """Something a PHB advisor must look at: an exclusion an item hit (`item` its index), or
    something about the people (`item` None)."""

    code: str
    reason: str
    item: int | None = None

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
        by_tier: dict[Tier, tuple[Approver, ...]] = {
            "referrer": ("referrer",),
            "manager": ("manager",),
            "panel": ("manager", "panel"),
        }
        steps = by_tier[self.tier]
        return (*steps, "advisor") if self.needs_advisor else steps


def tier_for_total(total: int, referrer_below: int, manager_up_to: int) -> Tier:
    """Under the first threshold the referrer; up to the second the manager; above, the panel."""
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


def is_streamlined(items: Sequence[CostedItem], rules: FundingRules,
                   before: Sequence[CostedItem] = ()) -> bool:
    """Only smartphone and data items, each matching a catalogue entry within its caps, and
    the person's use of each entry (with `before`: the items of their counted PHBs, whatever
    they cost) within it: its one-off cost, or its number of months."""
    if not items or any(_cap_for(item, rules, within=True) is None for item in items):
        return False
    used: dict[str, int] = {}
    for item in [*items, *before]:
        cap = _cap_for(item, rules, within=False)
        if cap is not None:
            used[cap.code] = used.get(cap.code, 0) + _use(item)
    return all(used.get(cap.code, 0) <= _allowance(cap)
               for cap in rules.smartphone_data_catalogue)


def outside_caps(items: Sequence[CostedItem], rules: FundingRules) -> list[int]:
    """The indexes of smartphone and data items that match no catalogue entry within its caps
    (one such item takes the whole request off the streamlined pathway)."""
    return [index for index, item in enumerate(items)
            if item.category == "smartphone_data" and _cap_for(item, rules, within=True) is None]


def _cap_for(item: CostedItem, rules: FundingRules, within: bool) -> CatalogueCap | None:
    """The catalogue entry an item is of (and, `within`, whose caps it keeps to)."""
    if item.category != "smartphone_data":
        return None
    return next((cap for cap in rules.smartphone_data_catalogue
                 if (_within_cap(item, cap) if within else _of_kind(item, cap))), None)


def _use(item: CostedItem) -> int:
    return (item.months or 1) if item.recurrence == "monthly" else item.cost_pence


def _allowance(cap: CatalogueCap) -> int:
    return cap.max_months if cap.recurrence == "monthly" else cap.max_pence


def _of_kind(item: CostedItem, cap: CatalogueCap) -> bool:
    return item.recurrence == cap.recurrence and any(
        _words_match(item.description, word) for word in cap.keywords)


def _within_cap(item: CostedItem, cap: CatalogueCap) -> bool:
    if not _of_kind(item, cap) or item.cost_pence > cap.max_pence:
        return False
    return item.recurrence != "monthly" or (item.months or 1) <= cap.max_months


def sign_off(
    items: Sequence[CostedItem],
    rules: FundingRules,
    referrer_below: int,
    manager_up_to: int,
    person_total: int | None = None,
    before: Sequence[CostedItem] = (),
    flags: Sequence[Flag] = (),
) -> SignOff:
    """The tier by the person's total (this request's, when there is nothing else; the
    streamlined pathway goes to the referrer whatever it is), with the exclusion flags and any
    other `flags` that add an advisor."""
    total = total_pence(items)
    streamlined = is_streamlined(items, rules, before)
    tier: Tier = "referrer" if streamlined else tier_for_total(
        total if person_total is None else person_total, referrer_below, manager_up_to)
    return SignOff(tier, total, streamlined, (*exclusion_flags(items, rules), *flags))


def paid_past_the_goals(items: Sequence[CostedItem], goals_end: date | None,
                        today: date) -> tuple[Flag, ...]:
    """Monthly items still paid for after the last goal's target date (`goals_end`): goals end
    within 6 months, a monthly item may run 12, and months bought after every goal is due are
    for a PHB advisor to weigh. An item's first month is paid now, its last `months - 1` later.
    """
    if goals_end is None:
        return ()
    flags = []
    for index, item in enumerate(items):
        if item.recurrence != "monthly" or not item.months:
            continue
        last_month = add_months(today, item.months - 1)
        if last_month > goals_end:
            flags.append(Flag("paid_past_goals", (
                f"A monthly item runs past the last goal's target date ({long_date(goals_end)})"
                f": the last of its {item.months} months is paid from {long_date(last_month)}"),
                index))
    return tuple(flags)
