"""The answers about each goal, whatever shape a referral's review or closure was stored in,
and what the answers raise for an advisor to follow up."""

from __future__ import annotations

import pytest

from chalicelib.domain.outcomes import follow_ups, goal_answers, overall_achieved


def test_answers_stored_goal_by_goal_are_read_goal_by_goal() -> None:
    closure = {"goals": [{"goal": "Swim", "achieved": "yes"}, {"goal": "Club", "achieved": "no"}]}
    assert goal_answers(closure, "achieved", 2) == ["yes", "no"]


def test_a_review_stored_as_a_list_of_codes_still_reads() -> None:
    assert goal_answers({"goals": ["progressing"]}, "progress", 2) == ["progressing", None]


def test_a_closure_stored_with_one_answer_reads_as_that_answer_for_every_goal() -> None:
    assert goal_answers({"achieved": "partly"}, "achieved", 3) == ["partly"] * 3


def test_nothing_recorded_is_no_answer_for_any_goal() -> None:
    assert goal_answers(None, "progress", 2) == [None, None]


@pytest.mark.parametrize("answers, overall", [
    (["yes"], "yes"), (["yes", "yes"], "yes"), (["no", "no"], "no"), (["yes", "no"], "partly"),
    (["partly"], "partly"),
])
def test_the_goals_together(answers: list[str], overall: str) -> None:
    assert overall_achieved(answers) == overall


def test_a_review_with_everything_bought_receipted_and_spent_raises_nothing() -> None:
    assert follow_ups("review", {"bought": "yes", "receipts": "yes", "unspent_pence": 0}) == []


def test_each_answer_that_needs_following_up_raises_its_own_flag() -> None:
    raised = follow_ups("review", {"bought": "no", "receipts": "no", "unspent_pence": 1250})
    assert [f["code"] for f in raised] == ["review_not_bought", "review_no_receipts",
                                           "review_unspent"]
    assert raised[-1]["reason"] == "6-week review: £12.50 is unspent, to recover"
    assert all(f["item"] is None for f in raised)


def test_closure_raises_only_money_unspent() -> None:
    assert [f["code"] for f in follow_ups("closure", {"bought": "no", "unspent_pence": 1})] == [
        "closure_unspent"]
