"""A valid example referral: `python -m devstack.example` prints one as JSON for the API.

The tests build on the same example (tests/factories.py).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

# NHS numbers starting with 9 never belong to real people.
NHS_NUMBER = "9434765919"


def make_items(total_pence: int) -> list[dict[str, Any]]:
    return [
        {
            "description": "Gym membership",
            "category": "membership",
            "supplier": "Better Leisure",
            "cost_pence": total_pence,
            "recurrence": "one_off",
        }
    ]


def make_referral(total_pence: int = 12000, **overrides: Any) -> dict[str, Any]:
    """A referral as the JSON API takes it, totalling `total_pence`."""
    today = date.today()
    referral: dict[str, Any] = {
        "referrer": {
            "name": "Sam Okafor",
            "role": "Care coordinator",
            "team": "Hackney CMHT",
            "organisation": "East London NHS Foundation Trust",
            "email": "sam.okafor@nhs.net",
            "phone": "020 7946 0000",
        },
        "person": {
            "first_name": "Alex",
            "last_name": "Morgan",
            "date_of_birth": "1985-05-01",
            "nhs_number": NHS_NUMBER,
            "postcode": "E8 1DY",
            "borough": "city_and_hackney",
            "ethnicity": "N",
            "section_117_aftercare": False,
            "consent": True,
        },
        "goals": [
            {
                "area": "physical_health",
                "goal": "Go to the gym twice a week to manage medication side effects",
                "target_date": (today + timedelta(days=75)).isoformat(),
            }
        ],
        "how_phb_helps": "A membership lets Alex exercise regularly, which lifts mood.",
        "alternatives_considered": "Free park exercise groups: the times clash with work.",
        "items": make_items(total_pence),
        "budget_management": "direct_payment",
        "reqol10_baseline": {"items": [2, 2, 1, 3, 2, 2, 1, 2, 3, 2], "physical_health": 2},
    }
    if total_pence >= 25000:
        referral["approving_manager"] = {"name": "Jo Patel", "email": "jo.patel@nhs.net"}
    for key, value in overrides.items():
        referral[key] = value
    return referral


if __name__ == "__main__":
    print(json.dumps(make_referral(), indent=2))
