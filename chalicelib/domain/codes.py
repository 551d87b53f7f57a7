"""Every code the service uses and the words people read for it: one table each.

The referral contract's choices are `Literal` types beside their tables (pydantic needs them at
class definition); tests/unit/test_codes.py proves each type lists exactly its table's codes.
"""

from __future__ import annotations

from typing import Literal

from chalicelib.domain.money import format_whole_pounds

Borough = Literal["city_and_hackney", "tower_hamlets", "newham"]
BOROUGHS: dict[str, str] = {
    "city_and_hackney": "City & Hackney",
    "tower_hamlets": "Tower Hamlets",
    "newham": "Newham",
}

GoalArea = Literal["mental_health", "physical_health", "social"]
GOAL_AREAS: dict[str, str] = {
    "mental_health": "Mental health",
    "physical_health": "Physical health",
    "social": "Social",
}

Category = Literal[
    "equipment", "membership", "course", "activity", "smartphone_data", "travel", "other"
]
CATEGORIES: dict[str, str] = {
    "equipment": "Equipment",
    "membership": "Membership",
    "course": "Course",
    "activity": "Activity",
    "smartphone_data": "Smartphone or data",
    "travel": "Travel (in the UK)",
    "other": "Other",
}

Recurrence = Literal["one_off", "monthly"]
RECURRENCES: dict[str, str] = {"one_off": "One-off payment", "monthly": "Monthly"}

BudgetManagement = Literal["direct_payment", "notional", "third_party", "mixed"]
BUDGET_MANAGEMENT: dict[str, str] = {
    "direct_payment": "Direct payment",
    "notional": "Notional budget",
    "third_party": "Third-party budget",
    "mixed": "A mix of these",
}
# What each choice means, shown under it where people choose.
BUDGET_MANAGEMENT_HINTS: dict[str, str] = {
    "direct_payment": "Money paid to the person, for example onto a prepaid card",
    "notional": "The NHS holds the money and arranges what is agreed",
    "third_party": "An organisation holds and manages the money for the person",
}

# NHS Data Dictionary ethnic category codes; Z = not stated.
Ethnicity = Literal["A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "R",
                    "S", "Z"]
ETHNICITIES: dict[str, str] = {
    "A": "White: British", "B": "White: Irish", "C": "White: any other White background",
    "D": "Mixed: White and Black Caribbean", "E": "Mixed: White and Black African",
    "F": "Mixed: White and Asian", "G": "Mixed: any other mixed background",
    "H": "Asian or Asian British: Indian", "J": "Asian or Asian British: Pakistani",
    "K": "Asian or Asian British: Bangladeshi",
    "L": "Asian or Asian British: any other Asian background",
    "M": "Black or Black British: Caribbean", "N": "Black or Black British: African",
    "P": "Black or Black British: any other Black background", "R": "Other: Chinese",
    "S": "Other: any other ethnic group", "Z": "Not stated",
}
# The Census's broad groups, for equality monitoring: (label, the ethnic category codes in it).
ETHNIC_GROUPS: dict[str, tuple[str, str]] = {
    "white": ("White", "ABC"),
    "mixed": ("Mixed or multiple", "DEFG"),
    "asian": ("Asian or Asian British", "HJKL"),
    "black": ("Black or Black British", "MNP"),
    "other": ("Other ethnic group", "RS"),
}

# Progress towards a goal, asked at the 6-week review.
PROGRESS: dict[str, str] = {
    "achieved": "Achieved",
    "progressing": "Making progress",
    "not_yet": "No progress yet",
    "no_longer_relevant": "No longer relevant",
}

# Whether each goal was achieved, asked at closure.
ACHIEVED: dict[str, str] = {"yes": "Yes", "partly": "Partly", "no": "No"}

# What a 6-week review or a closure answered that a PHB advisor follows up: each raises a flag
# of this code on the referral (beside intake's), with this reason ("{amount}" filled in).
FOLLOW_UPS: dict[str, str] = {
    "review_not_bought": "6-week review: the item or service was not bought",
    "review_partly_bought": "6-week review: only part of what was agreed was bought",
    "review_no_receipts": "6-week review: no receipts are held for what was bought",
    "review_unspent": "6-week review: {amount} is unspent, to recover",
    "closure_unspent": "Closure: {amount} is unspent, to recover",
}

STATUSES: dict[str, str] = {
    "submitted": "Submitted",
    "awaiting_sign_off": "Waiting for sign-off",
    "awaiting_information": "Waiting for more information from the referrer",
    "approved": "Signed off: waiting for the person to accept the agreement",
    "agreement_accepted": "Agreement accepted: waiting for the money to be released",
    "funds_released": "Money released: 6-week review to come",
    "reviewed": "Reviewed: closure at the goal date to come",
    "closed": "Closed",
    "rejected": "Not approved",
    "expired": "Expired: nobody answered in time",
    "withdrawn": "Withdrawn",
    "needs_attention": "Needs attention from a PHB advisor",
}

# What each step waits for, in a sentence: "waiting for {label}".
STEPS: dict[str, str] = {
    "referrer": "the referrer's sign-off",
    "manager": "the approving manager's sign-off",
    "panel": "the PHB Oversight Panel's sign-off",
    "advisor": "a PHB advisor's decision",
    "information": "more information from the referrer",
    "agreement": "the person's acceptance of the direct payment agreement",
    "release": "a PHB advisor to record that the money was released",
    "review": "the 6-week review",
    "closure": "closure at the goal date",
}

Tier = Literal["referrer", "manager", "panel"]
TIERS: tuple[Tier, ...] = ("referrer", "manager", "panel")


def tier_labels(referrer_below_pence: int, manager_up_to_pence: int) -> dict[str, str]:
    """Who signs off each tier, with its bounds from the configured thresholds."""
    below = format_whole_pounds(referrer_below_pence)
    up_to = format_whole_pounds(manager_up_to_pence)
    return {
        "referrer": f"Referring professional (under {below})",
        "manager": f"Approving manager ({below} to {up_to})",
        "panel": f"Manager and Oversight Panel (over {up_to})",
    }


def choices(table: dict[str, str],
            hints: dict[str, str] | None = None) -> list[tuple[str, str, str | None]]:
    """A table as the radio and select fields list it: (code, label, hint)."""
    return [(code, label, (hints or {}).get(code)) for code, label in table.items()]


# Any code's label, for pages that show codes of several kinds (derived, not another table).
LABELS: dict[str, str] = {**BOROUGHS, **GOAL_AREAS, **CATEGORIES, **RECURRENCES,
                          **BUDGET_MANAGEMENT}

# How money was released to the person (a release entry's `how`).
RELEASE_METHODS: dict[str, str] = {
    "prepaid_card": "Prepaid card",
    "bank_transfer": "Bank transfer",
    "supplier": "Paid to the supplier",
    "notional": "Notional (held by the NHS)",
}
# What becomes of money reported unspent.
UNSPENT_STATES: dict[str, str] = {
    "to_recover": "To recover",
    "recovered": "Recovered",
    "written_off": "Written off",
}

# What became of an email, as the case page says it (chalicelib/domain/delivery.py).
DELIVERY_STATUSES: dict[str, str] = {
    "sent": "Sent",
    "delayed": "Delayed: the recipient's mail server has not accepted it yet",
    "delivered": "Delivered",
    "bounced": "Bounced: it did not reach the address",
    "complained": "Reported as spam by the recipient",
    "rejected": "Not sent: the email service refused it",
}
# A bounce's type, as the case page says it after "Bounced".
BOUNCE_TYPES: dict[str, str] = {
    "permanent": "the address does not accept mail",
    "transient": "the mailbox was unavailable (full, or away) while SES retried",
    "undetermined": "the reason was not given",
}
