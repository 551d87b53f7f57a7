"""What ends each step's wait, and which status changes are allowed: no AWS involved."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from chalicelib.domain import pathway


@dataclass
class Referral:
    status: str
    step: str | None = None
    approvers: tuple[str, ...] = ("manager", "panel")
    progress: dict[str, Any] = field(default_factory=dict)

    @property
    def recorded(self) -> dict[str, Any]:
        return self.progress


@pytest.mark.parametrize("referral, step, outcome", [
    (Referral("awaiting_sign_off", "manager"), "manager", None),
    (Referral("awaiting_sign_off", "panel"), "manager", "approved"),
    (Referral("awaiting_sign_off", "manager"), "panel", None),
    (Referral("approved"), "panel", "approved"),
    (Referral("rejected", "panel"), "panel", "rejected"),
    (Referral("awaiting_information", "manager", progress={"question": {"step": "manager"}}),
     "manager", "more_information"),
    (Referral("awaiting_information"), "information", None),
    (Referral("awaiting_sign_off", "manager"), "information", "answered"),
    (Referral("approved"), "agreement", None),
    (Referral("agreement_accepted"), "agreement", "accepted"),
    # Accepted again after an amendment: the pathway resumes where the money was.
    (Referral("funds_released"), "agreement", "released"),
    (Referral("reviewed"), "agreement", "reviewed"),
    (Referral("agreement_accepted"), "release", None),
    (Referral("funds_released"), "release", "released"),
    (Referral("funds_released"), "review", None),
    (Referral("reviewed"), "review", "reviewed"),
    (Referral("reviewed"), "closure", None),
    (Referral("closed"), "closure", "closed"),
    (Referral("withdrawn"), "review", "withdrawn"),
    (Referral("expired"), "manager", "expired"),
    (Referral("needs_attention"), "manager", None),
    # Waiting for the review's or closure's time: only the referral ending cuts it short.
    (Referral("funds_released"), "review_due", None),
    (Referral("reviewed"), "closure_due", None),
    (Referral("withdrawn"), "review_due", "withdrawn"),
    (Referral("withdrawn"), "closure_due", "withdrawn"),
])
def test_what_ends_a_wait(referral: Referral, step: str, outcome: str | None) -> None:
    assert pathway.outcome_if_done(referral, step) == outcome


def test_money_is_released_only_after_the_agreement_is_accepted() -> None:
    assert pathway.allowed_from("funds_released") == ("agreement_accepted",)


def test_nothing_leaves_a_final_status() -> None:
    for to in pathway.ALLOWED_FROM:
        assert not set(pathway.allowed_from(to)) & set(pathway.FINAL), to


def test_next_approver_follows_the_order() -> None:
    assert pathway.next_approver(["manager", "panel", "advisor"], "panel") == "advisor"
    assert pathway.next_approver(["referrer"], "referrer") is None


@pytest.mark.parametrize("final, reliable, change, improved, worse", [
    ([3] * 10, 5, 10, True, False),     # 20 -> 30
    ([2] * 9 + [6], 5, 4, False, False),  # 20 -> 24: below the threshold
    ([2] * 5 + [3] * 5, 5, 5, True, False),  # exactly the threshold counts
    ([1] * 10, 5, -10, False, True),    # worse
    ([2] * 10, 5, 0, False, False),
])
def test_reqol_change_against_the_reliable_change_threshold(
    final: list[int], reliable: int, change: int, improved: bool, worse: bool
) -> None:
    from chalicelib.domain.outcomes import reqol_change

    result = reqol_change([2] * 10, final, reliable)
    assert result == {"baseline_total": 20, "final_total": 20 + change, "change": change,
                      "reliable_improvement": improved, "reliable_deterioration": worse}


@pytest.mark.parametrize("seconds, words", [
    (259200, "3 days"), (86400, "1 day"), (600, "10 minutes"), (3600, "1 hour"),
    (1209600, "2 weeks"), (90, "90 seconds"), (1, "1 second"),
])
def test_a_reminder_period_in_words(seconds: int, words: str) -> None:
    from chalicelib.workflow.notices import describe_seconds

    assert describe_seconds(seconds) == words
