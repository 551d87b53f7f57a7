"""What the items page points out once its items are valid, before the clinician moves on: the
funding rules where they apply (an exclusion an item hits, the smartphone and data catalogue
caps), and a monthly item paid for after the last goal's target date. None of these stops a
referral; each is said where it can still be changed, not only at the end.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import TYPE_CHECKING, Any

from chalicelib.domain import funding
from chalicelib.domain.money import format_pence

if TYPE_CHECKING:
    from chalicelib.config import Settings


def _caps(rules: funding.FundingRules) -> str:
    caps = []
    for cap in rules.smartphone_data_catalogue:
        if cap.recurrence == "monthly":
            caps.append(f"{cap.label.lower()} up to {format_pence(cap.max_pence)} a month for "
                        f"up to {cap.max_months} months")
        else:
            caps.append(f"{cap.label.lower()} up to {format_pence(cap.max_pence)}")
    return "; ".join(caps)


def _item(flag: funding.Flag) -> str:
    return f"Item {flag.item + 1}: " if flag.item is not None else ""


def _goals_end(values: dict[str, str]) -> date | None:
    from chalicelib.intake.form import to_contract

    data, _ = to_contract(values)
    ends = []
    for goal in data.get("goals", []):
        try:
            ends.append(date.fromisoformat(goal.get("target_date", "")))
        except ValueError:
            continue
    return max(ends, default=None)


def item_cautions(values: dict[str, str], settings: Settings,
                  today: date | None = None) -> list[str]:
    """What to point out about the items typed (nothing until they are all valid)."""
    from pydantic import ValidationError

    from chalicelib.domain.referral import Item
    from chalicelib.intake.form import items_from_form

    typed, errors = items_from_form(values)
    try:
        items = [Item.model_validate(item, context={}) for item in typed]
    except ValidationError:
        return []
    if errors or not items:
        return []
    rules = settings.funding_rules
    said = [f"{_item(flag)}{flag.reason}. A PHB advisor will check it before it is approved."
            for flag in funding.exclusion_flags(items, rules)]
    if any(item.category == "smartphone_data" for item in items):
        outside = funding.outside_caps(items, rules)
        said.append(
            "Smartphone and data requests are signed off by you, whatever the total, when "
            f"every item is within the catalogue caps: {_caps(rules)}. " + (
                "These items are within them." if not outside else
                "Item " + ", ".join(str(i + 1) for i in outside) + (" is" if len(outside) == 1
                else " are") + " not, so the request is signed off by its total as usual."))
    said.extend(f"{_item(flag)}{flag.reason}. Goals end within 6 months; a PHB advisor will "
                "check the months after them."
                for flag in funding.paid_past_the_goals(items, _goals_end(values),
                                                        today or date.today()))
    return said


def seen_mark(cautions: list[str]) -> str:
    """A short mark of the cautions shown: posted back, it says they were read (so the same
    cautions do not stop the page twice, and new ones do)."""
    return hashlib.sha256("\n".join(cautions).encode()).hexdigest()[:16]


def context(values: dict[str, str], settings: Settings) -> dict[str, Any]:
    """The items page's cautions and their mark, for the template."""
    cautions = item_cautions(values, settings)
    return {"cautions": cautions, "cautions_mark": seen_mark(cautions) if cautions else ""}
