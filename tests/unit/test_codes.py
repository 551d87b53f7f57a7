"""Each code has one label table, and the contract's choices are exactly its codes."""

from __future__ import annotations

from typing import Any, get_args

import pytest

from chalicelib.config import Settings
from chalicelib.domain import codes, pathway


@pytest.mark.parametrize("choice, table", [
    (codes.Borough, codes.BOROUGHS), (codes.GoalArea, codes.GOAL_AREAS),
    (codes.Category, codes.CATEGORIES), (codes.Recurrence, codes.RECURRENCES),
    (codes.BudgetManagement, codes.BUDGET_MANAGEMENT), (codes.Ethnicity, codes.ETHNICITIES),
    (codes.Tier, dict.fromkeys(codes.TIERS)),
])
def test_the_contracts_choices_are_the_tables_codes(choice: Any, table: dict[str, str]) -> None:
    assert list(get_args(choice)) == list(table)


def test_every_ethnic_category_is_in_one_broad_group_or_not_stated() -> None:
    grouped = "".join(letters for _, letters in codes.ETHNIC_GROUPS.values())
    assert sorted(grouped + "Z") == sorted(codes.ETHNICITIES)


def test_every_status_and_step_has_words() -> None:
    assert set(pathway.ALLOWED_FROM) <= set(codes.STATUSES)
    assert set(pathway.ACTION_FOR_STEP) == set(codes.STEPS)


def test_tier_labels_are_worded_from_the_thresholds() -> None:
    assert Settings(stage="test").tier_labels == {
        "referrer": "Referring professional (under £250)",
        "manager": "Approving manager (£250 to £500)",
        "panel": "Manager and Oversight Panel (over £500)"}
    assert codes.tier_labels(10050, 70000)["manager"] == "Approving manager (£100.50 to £700)"


def test_choices_carry_their_hints() -> None:
    listed = codes.choices(codes.BUDGET_MANAGEMENT, codes.BUDGET_MANAGEMENT_HINTS)
    assert listed[0] == ("direct_payment", "Direct payment",
                         "Money paid to the person, for example onto a prepaid card")
    assert listed[-1] == ("mixed", "A mix of these", None)
