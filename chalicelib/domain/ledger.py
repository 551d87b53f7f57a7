"""The money of one referral: what was approved, what was released, what was left unspent.

The approved amount, per item and in total, is fixed at final sign-off. Money is released in
entries (amount, date, how, a payment reference, who recorded it), never past the approved
total: more money is an amendment. Monthly items are released month by month, on a schedule
from the first release. Money reported unspent at the review or at closure is an entry of its
own, to recover, then recovered or written off by an advisor.

The ledger is a plain dict (it is stored as JSON on the referral); these functions read it and
return a new one, never change it in place.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import date
from typing import Any

from chalicelib.domain.dates import add_months
from chalicelib.domain.money import CostedItem, item_total_pence

Ledger = dict[str, Any]


class Refused(Exception):
    """An entry the ledger cannot take; `field` names the form field, `message` says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def approve(items: Iterable[CostedItem], at: str, tier: str,
            before: Ledger | None = None) -> Ledger:
    """The ledger at final sign-off: each item's approved amount and the total (releases and
    unspent money recorded before, under an earlier approval, stay)."""
    approved = [{"index": index, "description": item.description, "category": item.category,
                 "cost_pence": item.cost_pence, "recurrence": item.recurrence,
                 "months": item.months, "total_pence": item_total_pence(item)}
                for index, item in enumerate(items)]
    return {"approved": {"items": approved, "total_pence": sum(i["total_pence"]
                                                              for i in approved),
                         "at": at, "tier": tier},
            "releases": list((before or {}).get("releases", [])),
            "unspent": list((before or {}).get("unspent", []))}


def approved_total(ledger: Ledger | None) -> int:
    return int(((ledger or {}).get("approved") or {}).get("total_pence", 0))


def released_total(ledger: Ledger | None) -> int:
    return sum(int(r["amount_pence"]) for r in (ledger or {}).get("releases", []))


def remaining(ledger: Ledger | None) -> int:
    """What may still be released."""
    return approved_total(ledger) - released_total(ledger)


def unspent_total(ledger: Ledger | None, state: str | None = None) -> int:
    return sum(int(u["amount_pence"]) for u in (ledger or {}).get("unspent", [])
               if state is None or u["state"] == state)


def release(ledger: Ledger, amount_pence: int, on: date, how: str, reference: str, by: str,
            at: str) -> Ledger:
    """The ledger with a release entry added; Refused when it would pass the approved total."""
    left = remaining(ledger)
    if amount_pence <= 0 or amount_pence > left:
        from chalicelib.domain.money import format_pence

        raise Refused("amount", f"Enter an amount from £0.01 to {format_pence(left)}: what "
                                "is left of the approved total" if left > 0 else
                      "The approved total has all been released: more money is an amendment")
    entry = {"id": secrets.token_hex(4), "amount_pence": amount_pence, "on": on.isoformat(),
             "how": how, "reference": reference, "by": by, "at": at}
    return {**ledger, "releases": [*ledger.get("releases", []), entry]}


def report_unspent(ledger: Ledger, amount_pence: int, step: str, by: str, at: str) -> Ledger:
    """Money reported unspent at the review or closure, to recover; at most what was released
    and not already reported."""
    left = released_total(ledger) - unspent_total(ledger)
    if amount_pence < 0 or amount_pence > left:
        from chalicelib.domain.money import format_pence

        raise Refused("unspent", f"Enter an amount from £0.00 to {format_pence(left)}: what "
                                 "was released and not yet reported unspent")
    if amount_pence == 0:
        return ledger
    entry = {"id": secrets.token_hex(4), "amount_pence": amount_pence, "step": step,
             "reported_by": by, "reported_at": at, "state": "to_recover"}
    return {**ledger, "unspent": [*ledger.get("unspent", []), entry]}


def settle(ledger: Ledger, entry_id: str, state: str, by: str, at: str) -> Ledger:
    """An advisor settles unspent money: recovered or written off."""
    if state not in ("recovered", "written_off"):
        raise Refused("state", "Select whether the money was recovered or written off")
    entries = ledger.get("unspent", [])
    if not any(u["id"] == entry_id and u["state"] == "to_recover" for u in entries):
        raise Refused("entry", "That unspent money has already been settled")
    settled = [{**u, "state": state, "settled_by": by, "settled_at": at}
               if u["id"] == entry_id else u for u in entries]
    return {**ledger, "unspent": settled}


def schedule(ledger: Ledger, first: date) -> list[tuple[date, int]]:
    """When money is due, from the first release: the one-off items and the first month of
    each monthly item then, each later month on the same day of its month; (date, the total
    due by then), in date order."""
    due: dict[date, int] = {first: 0}
    for item in (ledger.get("approved") or {}).get("items", []):
        if item["recurrence"] != "monthly":
            due[first] += int(item["total_pence"])
            continue
        for month in range(int(item["months"] or 1)):
            when = add_months(first, month)
            due[when] = due.get(when, 0) + int(item["cost_pence"])
    running, out = 0, []
    for when in sorted(due):
        running += due[when]
        out.append((when, running))
    return out


def next_due(ledger: Ledger | None, first: date | None) -> date | None:
    """The first date of the schedule by which more was due than has been released; None when
    nothing more is due (or nothing has been released yet: the first release starts it)."""
    if not ledger or first is None:
        return None
    released = released_total(ledger)
    return next((when for when, by_then in schedule(ledger, first) if by_then > released),
                None)
