"""The funding and routing rules: who signs a request off, and what is flagged for an advisor.

The rules' data is configuration (`chalicelib/funding_rules.json`, loaded by `config.py`):
exclusions matched by category or by words in an item's description, and the smartphone and
data catalogue caps of the streamlined pathway. The thresholds are settings, in pence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.codes import Tier
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
    """An exclusion one item hit: the request also needs a PHB advisor's decision."""

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
    """The tier by total (the streamlined pathway goes to the referrer whatever the total),
    with the exclusion flags that add an advisor."""
    total = total_pence(items)
    streamlined = is_streamlined(items, rules)
    tier: Tier = "referrer" if streamlined else tier_for_total(total, referrer_below, manager_up_to)
    return SignOff(tier, total, streamlined, exclusion_flags(items, rules))
