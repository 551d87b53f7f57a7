"""One person across referrals, on the in-memory adapters: a split request is signed off on
the person's total, the same NHS number under another name is flagged and never merged, and an
approver is never the referrer."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from chalicelib.bootstrap import Services
from chalicelib.domain import ledger
from chalicelib.domain.validation import validate_referral
from chalicelib.intake import api
from tests.factories import another_person, make_referral, with_change
from tests.usecases.drive import submit


def approve_days_ago(svc: Services, reference: str, days: int) -> None:
    """Sign a referral off as if it had been, `days` ago."""
    referrals = svc.store.referrals
    stored = referrals.get(reference)
    referral = validate_referral(json.loads(stored.answers), svc.settings)
    assert not isinstance(referral, list)
    at = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    referrals.change(reference, "approved", ("awaiting_sign_off",), "test", "approved",
                     fields={"approved_at": at,
                             "ledger": ledger.approve(referral.items, at, stored.tier or "")})


def intake(svc: Services, **changes: Any) -> Any:
    return svc.store.referrals.get(submit(svc, **changes))


def test_a_split_request_is_signed_off_on_the_persons_total(memory: Services) -> None:
    first = intake(memory, total_pence=20000)
    assert first.tier == "referrer"
    approve_days_ago(memory, first.reference, 28)
    second = intake(memory, total_pence=20000)
    assert second.tier == "manager"
    assert second.basis["total_pence"] == 40000
    on = (date.today() - timedelta(days=28))
    assert second.basis["why"] == (f"£200 now + £200 approved on {on.day} {on:%b %Y} = £400: "
                                   "the approving manager signs off")
    recorded = next(e for e in memory.store.referrals.history(second.reference)
                    if e.what == "intake_recorded")
    assert recorded.detail["why"] == second.basis["why"]


@pytest.mark.parametrize("days, tier", [(365, "manager"), (366, "referrer")])
def test_the_window_ends_on_its_last_day(memory: Services, days: int, tier: str) -> None:
    approve_days_ago(memory, submit(memory, total_pence=20000), days)
    assert intake(memory, total_pence=20000).tier == tier


def test_two_requests_sent_together_count_each_other(memory: Services) -> None:
    first = intake(memory, total_pence=15000)
    second = intake(memory, total_pence=15000)  # the first is still waiting for sign-off
    assert (first.tier, second.tier) == ("referrer", "manager")


def test_the_api_asks_for_the_manager_when_the_persons_total_needs_one(
        memory: Services) -> None:
    approve_days_ago(memory, submit(memory, total_pence=20000), 10)
    referral = make_referral(total_pence=20000)
    assert "approving_manager" not in referral  # not asked for under £250 on its own
    response = api.create_referral(memory, json.dumps(referral).encode(), None,
                                   "application/json")
    assert response.status_code == 422
    [error] = json.loads(response.body)["errors"]
    assert error["field"] == "approving_manager"
    assert "the total is £400.00" in error["message"]


def test_the_same_nhs_number_under_another_name_is_flagged_and_not_counted(
        memory: Services) -> None:
    other = submit(memory, total_pence=20000, person={**make_referral()["person"],
                                                      "first_name": "Alexa"})
    approve_days_ago(memory, other, 5)
    mine = intake(memory, total_pence=20000)
    assert mine.tier == "referrer"  # not counted: perhaps another person
    [flag] = [f for f in mine.flags if f["code"] == "possible_mismatch"]
    assert other in flag["reason"] and "check the NHS number" in flag["reason"]
    assert mine.approvers == ("referrer", "advisor")  # an advisor checks it


def test_the_subject_access_export_holds_only_the_persons_own_referrals(
        memory: Services) -> None:
    from chalicelib.staff.dataprotection import subject_access_export

    mine = submit(memory)
    again = submit(memory)
    stranger = submit(memory, person={**make_referral()["person"],
                                      "date_of_birth": "1986-05-01"})
    export = subject_access_export(memory, "9434765919", "Alex", "Morgan", "1985-05-01",
                                   "ann@example.org")
    assert sorted(r["reference"] for r in export["referrals"]) == sorted([mine, again])
    assert [n["reference"] for n in export["not_included"]] == [stranger]
    assert "1986-05-01" not in json.dumps(export)


def test_an_approver_at_another_nhs_domain_with_the_referrers_name_is_flagged(
        memory: Services) -> None:
    stored = intake(memory, total_pence=30000, approving_manager={
        "name": "Sam Okafor", "email": "Sam.Okafor@elft.nhs.uk"})
    assert "approver_may_be_referrer" in [f["code"] for f in stored.flags]
    assert stored.approvers == ("manager", "advisor")


@pytest.mark.parametrize("manager", ["sam.okafor+manager@nhs.net", "SAM.OKAFOR@NHS.NET"])
def test_the_referrers_own_mailbox_cannot_be_the_approving_manager(
        memory: Services, manager: str) -> None:
    referral = with_change(make_referral(total_pence=30000), "approving_manager.email",
                           manager)
    response = api.create_referral(memory, json.dumps(referral).encode(), None,
                                   "application/json")
    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in json.loads(response.body)["errors"]}
    assert "someone other than you" in errors["approving_manager.email"]


def test_a_referrer_on_the_panel_is_not_asked_to_sign_off_their_own_request(
        memory: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.bootstrap import services
    from chalicelib.config import get_settings
    from chalicelib.domain.referral import load_stored
    from chalicelib.workflow.notices import recipients

    monkeypatch.setenv("PHB_PANEL_EMAILS", "ann@nhs.net,Sam.Okafor@NHS.net")
    get_settings.cache_clear()
    svc = services()
    stored = svc.store.referrals.get(submit(svc, total_pence=60000))
    assert recipients("panel", load_stored(stored.answers), svc.settings) == ["ann@nhs.net"]


def test_a_postcode_in_a_shared_or_unlisted_sector_is_taken_and_flagged(
        memory: Services) -> None:
    shared = intake(memory, person=another_person(0, postcode="E2 7QA"))
    [flag] = [f for f in shared.flags if f["code"] == "postcode_shared"]
    assert "shared by Tower Hamlets and City & Hackney" in flag["reason"]
    assert shared.approvers == ("referrer", "advisor")
    unknown = intake(memory, person=another_person(1, postcode="E8 9ZZ"))
    assert "postcode_unknown" in [f["code"] for f in unknown.flags]
    assert intake(memory, person=another_person(2)).flags == []  # E8 1DY: Hackney's alone


def test_a_monthly_item_paid_after_the_last_goal_is_flagged_at_intake(
        memory: Services) -> None:
    data = {"description": "SIM only data plan", "category": "smartphone_data",
            "supplier": "Network", "cost_pence": 1500, "recurrence": "monthly", "months": 12}
    stored = intake(memory, items=[data])
    [flag] = [f for f in stored.flags if f["code"] == "paid_past_goals"]
    assert flag["item"] == 0 and "runs past the last goal's target date" in flag["reason"]
    assert stored.approvers == ("referrer", "advisor")
