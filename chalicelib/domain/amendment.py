"""A change to a referral's items after it was sent: what changed, in words, and what it needs.

Until the money is fully released, a PHB advisor or the referrer can change the items, their
costs or suppliers. A change that raises the total, or needs an approver the referral did not
have (a higher tier, or an item a PHB advisor must check), is signed off again from the first
approver of the tier now required. Anything else is recorded without a new sign-off. Once the
person has accepted the agreement, any change means they accept it again: the agreement lists
the items. A change signed off again that is then refused (or not signed off in time) leaves a
referral that was approved before as it was approved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from chalicelib.domain import codes, ledger
from chalicelib.domain.money import CostedItem, format_pence, item_total_pence

# While being signed off, and after approval until the money has all been released.
AMENDABLE = ("awaiting_sign_off", "awaiting_information", "approved", "agreement_accepted",
             "funds_released", "reviewed")
# Approved already: refusing a change returns the referral to where it was.
APPROVED = ("approved", "agreement_accepted", "funds_released", "reviewed")
# The person has accepted the agreement the change alters.
ACCEPTED = ("agreement_accepted", "funds_released", "reviewed")

SIGN_OFF, ACCEPT, RECORDED = "sign_off", "agreement", "recorded"


class Priced(CostedItem, Protocol):
    """What a change compares of an item (the contract's `Item`): its cost, and who sells it."""

    @property
    def supplier(self) -> str: ...


def can_amend(status: str, money: ledger.Ledger | None) -> bool:
    """Whether the items can still change: an open referral whose money is not all released."""
    if status not in AMENDABLE:
        return False
    return ledger.released_total(money) == 0 or ledger.remaining(money) > 0


def _price(item: Priced) -> str:
    if item.recurrence == "monthly":
        return f"{format_pence(item.cost_pence)} a month for {item.months} months"
    return format_pence(item.cost_pence)


def _described(item: Priced) -> str:
    return f"{item.description} from {item.supplier}, {_price(item)}"


def changes(before: Sequence[Priced], after: Sequence[Priced]) -> list[str]:
    """Each difference in words, item by item ("Item 1 cost: £30.00 → £35.00")."""
    lines = []
    for index in range(max(len(before), len(after))):
        n = index + 1
        if index >= len(before):
            lines.append(f"Item {n} added: {_described(after[index])}")
            continue
        if index >= len(after):
            lines.append(f"Item {n} removed: {_described(before[index])}")
            continue
        old, new = before[index], after[index]
        compared = (
            ("what it is", old.description, new.description),
            ("supplier", old.supplier, new.supplier),
            ("category", codes.CATEGORIES.get(old.category, old.category),
             codes.CATEGORIES.get(new.category, new.category)),
            ("cost", _price(old), _price(new)),
        )
        lines += [f"Item {n} {what}: {was} → {now}" for what, was, now in compared if was != now]
    return lines


def total(items: Sequence[Priced]) -> int:
    return sum(item_total_pence(item) for item in items)


_RANK = {"referrer": 0, "manager": 1, "panel": 2}


@dataclass(frozen=True)
class Plan:
    """What a referral asks for and who signs it off: before a change, and after it."""

    total_pence: int
    tier: str
    approvers: tuple[str, ...]

    def outranked_by(self, other: Plan) -> bool:
        """Whether `other` needs someone this plan's sign-off did not have: a higher tier, or
        a PHB advisor's check."""
        return (_RANK.get(other.tier, 0) > _RANK.get(self.tier, 0)
                or ("advisor" in other.approvers and "advisor" not in self.approvers))


def needed(status: str, before: Plan, after: Plan) -> str:
    """What the change needs: SIGN_OFF again, the agreement to be ACCEPTed again, or only
    RECORDED."""
    if after.total_pence > before.total_pence or before.outranked_by(after):
        return SIGN_OFF
    if status in ACCEPTED:
        return ACCEPT
    return RECORDED


def refused_below_released(after_pence: int, money: ledger.Ledger | None) -> str | None:
    """Why a new total cannot be taken: less than has been released already."""
    released = ledger.released_total(money)
    if after_pence < released:
        return (f"The new total, {format_pence(after_pence)}, is less than the "
                f"{format_pence(released)} already released")
    return None
