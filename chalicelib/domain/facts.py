"""The anonymous facts the reports count, one small dict per referral.

Worked out from a referral's answers and what its steps recorded while it holds personal data;
once retention has removed that data, the facts it kept in their place (`facts` on the record)
are read instead. No names, contact details, NHS numbers, dates of birth, postcodes or free
text: only codes, amounts, dates of steps and ReQoL-10 totals.
"""

from __future__ import annotations

from typing import Any

from chalicelib.domain import ledger
from chalicelib.domain.money import item_total_pence
from chalicelib.domain.pathway import FINAL
from chalicelib.domain.records import StoredReferral
from chalicelib.domain.referral import load_stored


def facts_of(stored: StoredReferral) -> dict[str, Any]:
    """The facts of one referral (its status and dates as they are now)."""
    if stored.facts is not None:
        return {**stored.facts, "status": stored.status}
    referral = load_stored(stored.answers)
    recorded = stored.recorded
    release = recorded.get("release")
    review = recorded.get("review")
    closure = recorded.get("closure")
    closure_reqol = (closure or {}).get("reqol10") or {}
    money = stored.ledger or {}
    return {
        "reference": stored.reference,
        "submitted_at": stored.created_at,
        "status": stored.status,
        "tier": stored.tier,
        "flagged": bool(stored.flags),
        "borough": referral.person.borough,
        "ethnicity": referral.person.ethnicity,
        "section_117": referral.person.section_117_aftercare,
        "budget_management": referral.budget_management,
        "total_pence": stored.total_pence,
        "items": [{"category": item.category, "cost_pence": item_total_pence(item)}
                  for item in referral.items],
        "signed_off_at": stored.approved_at,
        "released": {"at": release["at"], "management": release["management"],
                     # Every release, not only the first (monthly items are paid monthly).
                     "amount_pence": ledger.released_total(money) or int(release["amount_pence"])}
        if release else None,
        "approved_pence": ledger.approved_total(money) if money else None,
        "releases": [{"on": r["on"], "amount_pence": int(r["amount_pence"])}
                     for r in money.get("releases", [])],
        "unspent": [{"reported_at": u["reported_at"], "amount_pence": int(u["amount_pence"]),
                     "state": u["state"], "settled_at": u.get("settled_at")}
                    for u in money.get("unspent", [])],
        "reqol_baseline": sum(referral.reqol10_baseline.items),
        "reqol_review": sum(review["reqol10_items"]) if review else None,
        "reqol_closure": closure_reqol.get("final_total") if closure else None,
        "reliable_improvement": closure_reqol.get("reliable_improvement") if closure else None,
        "closed_at": closure["at"] if closure else None,
        "ended_at": stored.updated_at if stored.status in FINAL else None,
    }


def ended_on(stored: StoredReferral) -> str | None:
    """The day (YYYY-MM-DD) a referral stopped mattering to the reports: the day of its last
    change once it has ended (closed, not approved, expired or withdrawn) with no unspent money
    still to recover; None while it is open, or while money is still to recover (the money
    report counts what is still to recover at the end of any later range).

    The stores file each referral by it, so the reports read the referrals active in a range
    (`Referrals.active_between`) rather than every referral submitted before its end."""
    if stored.status not in FINAL:
        return None
    money = stored.facts if stored.facts is not None else (stored.ledger or {})
    if any(u["state"] == "to_recover" for u in money.get("unspent") or []):
        return None
    return stored.updated_at[:10]
