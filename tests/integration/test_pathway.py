"""The whole pathway with moto executing the real state machine, driven through the links in
the emails as each person would."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from chalicelib.config import get_settings
from chalicelib.domain.ports import Referrals
from tests.conftest import services, wait_for, wait_for_execution
from tests.factories import make_referral
from tests.pathway_helpers import (
    body,
    emails_to,
    link_path,
    post_form,
    reqol,
    wait_for_email,
)

REFERRER = "sam.okafor@nhs.net"
MANAGER = "jo.patel@nhs.net"
PANEL = "phb-panel@example.org"
ADVISORS = "phb-advisors@example.org"


@pytest.fixture(autouse=True)
def quick_pathway(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reviews due at once and closure a second after review, so a test walks the pathway."""
    monkeypatch.setenv("PHB_REVIEW_AFTER_SECONDS", "0")
    monkeypatch.setenv("PHB_CLOSURE_AT_MOST_SECONDS_AFTER_REVIEW", "1")
    get_settings.cache_clear()


PERSONAL = ("Alex", "Morgan", "9434765919", "943 476 5919", "E8 1DY", "1985",
            "Gym membership", "Go to the gym", "Air fryer", "Driving lessons", "smartphone")


@pytest.fixture(autouse=True)
def no_email_identifies_the_person() -> Iterator[None]:
    """Whatever path a test walks (reminders, escalations, expiry, withdrawal, failures), no
    email on it carries anything that identifies the person or what was asked for."""
    yield
    from devstack.outbox import sent_emails

    for email in sent_emails():
        for personal in PERSONAL:
            assert personal not in email.text + email.html + email.subject, (personal, email)


def store() -> Referrals:
    return services().store.referrals


def status(reference: str) -> str:
    return store().get(reference).status


def wait_for_status(reference: str, wanted: str) -> None:
    wait_for(lambda: status(reference) == wanted)


def sign_off(client: Any, address: str, decision: str = "approved", count: int = 1,
             **extra: str) -> Any:
    email = wait_for_email(address, "sign off", count)
    path = link_path(email, "sign-off")
    page = client.http.get(path)
    assert page.status_code == 200, body(page)
    return post_form(client, path, {"decision": decision, **extra})


def accept_agreement(client: Any, address: str) -> Any:
    path = link_path(wait_for_email(address, "agreement"), "agreement")
    return post_form(client, path, {"name": "Alex Morgan", "accept": "yes",
                                    "choice": "accept"})


def release(client: Any) -> Any:
    path = link_path(wait_for_email(ADVISORS, "release the money"), "release")
    return post_form(client, path, {"management": "direct_payment", "amount": "120.00",
                                    "how": "prepaid_card", "reference": "CARD-1",
                                    "released": "yes"})


def opened_twice_changes_nothing(client: Any, reference: str, email_to: str, subject: str,
                                 action: str) -> str:
    """Open an email's link twice, as a mail scanner would: the page shows, nothing changes."""
    path = link_path(wait_for_email(email_to, subject), action)

    def acted() -> tuple[str, list[str]]:
        # The state machine records each email it sends just after sending it, so emails
        # landing meanwhile are not counted: only status changes and people's actions.
        return status(reference), [e.what for e in store().history(reference)
                                   if not e.what.startswith("email_sent")]

    before = acted()
    for _ in range(2):
        assert client.http.get(path).status_code == 200
    assert acted() == before
    return path


def test_fast_track_referral_from_submission_to_closure(api: Any, client: Any) -> None:
    reference = api(make_referral(total_pence=12000)).json_body["reference"]
    wait_for_status(reference, "awaiting_sign_off")
    opened_twice_changes_nothing(client, reference, REFERRER, "received", "withdraw")
    done = sign_off(client, REFERRER)
    assert done.status_code == 200, body(done)
    wait_for_status(reference, "approved")

    # The person has no email address: the referrer gets the agreement to share.
    opened_twice_changes_nothing(client, reference, REFERRER, "agreement", "agreement")
    agreement = accept_agreement(client, REFERRER)
    assert agreement.status_code == 200, body(agreement)
    wait_for_status(reference, "agreement_accepted")

    opened_twice_changes_nothing(client, reference, ADVISORS, "release the money", "release")
    assert release(client).status_code == 200
    wait_for_status(reference, "funds_released")

    review_path = opened_twice_changes_nothing(client, reference, REFERRER, "6-week review",
                                               "review")
    review = post_form(client, review_path, {"bought": "yes", "goals.0.progress": "progressing",
                                             "receipts": "yes", **reqol(score="3")})
    assert review.status_code == 200, body(review)
    wait_for_status(reference, "reviewed")

    closure_path = opened_twice_changes_nothing(client, reference, REFERRER, "time to close",
                                                "closure")
    closed = post_form(client, closure_path, {"goals.0.achieved": "yes", "unspent": "0",
                                              **reqol(score="4")})
    assert closed.status_code == 200, body(closed)
    wait_for_email(REFERRER, "is closed")
    assert wait_for_execution(reference)["status"] == "SUCCEEDED"
    stored = store().get(reference)
    assert stored.status == "closed"
    outcome = stored.recorded["closure"]["reqol10"]
    assert outcome == {"baseline_total": 20, "final_total": 40, "change": 20,
                       "reliable_improvement": True, "reliable_deterioration": False}
    assert stored.recorded["review"]["reqol10_items"] == [3] * 10
    assert stored.recorded["release"]["amount_pence"] == 12000

    # The anonymous facts the reports count, taken from what the steps recorded.
    from chalicelib.domain.facts import facts_of

    facts = facts_of(stored)
    assert (facts["tier"], facts["signed_off_at"]) == ("referrer", stored.approved_at)
    assert facts["submitted_at"] < facts["signed_off_at"] < facts["released"]["at"]
    assert facts["released"] | {"at": None} == {"at": None, "amount_pence": 12000,
                                                 "management": "direct_payment"}
    assert (facts["reqol_baseline"], facts["reqol_review"], facts["reqol_closure"],
            facts["reliable_improvement"]) == (20, 30, 40, True)
    assert facts["closed_at"] == stored.recorded["closure"]["at"]
    assert facts["ended_at"] == stored.updated_at

    # Every step is in the history, each with who and when.
    whats = [e.what for e in store().history(reference) if not e.what.startswith("email_sent")]
    assert whats == ["submitted", "intake_recorded", "approved", "agreement_accepted",
                     "funds_released", "reviewed", "closed"]
    # No email on the way carried anything that identifies the person (checked after every
    # test by no_email_identifies_the_person).
    from devstack.outbox import sent_emails

    assert len(sent_emails()) >= 7


def test_review_and_closure_forms_say_what_is_missing(api: Any, client: Any) -> None:
    reference = api(make_referral()).json_body["reference"]
    sign_off(client, REFERRER)
    accept_agreement(client, REFERRER)
    release(client)
    path = link_path(wait_for_email(REFERRER, "6-week review"), "review")
    response = post_form(client, path, {"bought": "yes"})
    assert response.status_code == 422
    page = body(response)
    assert "Select the progress on goal 1" in page and "Select a score for question 1" in page
    assert re.search(r'id="bought"[^>]*value="yes"[^>]*checked', page)  # answers kept
    assert status(reference) == "funds_released"


# --- routing: each tier and boundary --------------------------------------------------------


@pytest.mark.parametrize("total, first, then", [
    (24999, REFERRER, None),
    (25000, MANAGER, None),
    (50000, MANAGER, None),
    (50001, MANAGER, PANEL),
])
def test_sign_off_goes_to_the_right_people_by_amount(
    api: Any, client: Any, total: int, first: str, then: str | None
) -> None:
    reference = api(make_referral(total_pence=total)).json_body["reference"]
    assert sign_off(client, first).status_code == 200
    if then:
        wait_for_status(reference, "awaiting_sign_off")
        wait_for(lambda: store().get(reference).step == "panel")
        assert sign_off(client, then).status_code == 200
    wait_for_status(reference, "approved")
    approvals = [e for e in store().history(reference) if e.what == "approved"]
    assert [e.who for e in approvals] == [first] + ([then] if then else [])


def test_smartphone_and_data_within_caps_is_signed_off_by_the_referrer(
    api: Any, client: Any
) -> None:
    items = [
        {"description": "Android smartphone", "category": "smartphone_data",
         "supplier": "Shop", "cost_pence": 19000, "recurrence": "one_off"},
        # Paid for 3 months, all before the goal's target date: 12 would run past it, which
        # an advisor is asked to check (tests/usecases/test_person.py).
        {"description": "SIM only data plan", "category": "smartphone_data",
         "supplier": "Network", "cost_pence": 2000, "recurrence": "monthly", "months": 3},
    ]
    referral = make_referral(total_pence=25000, items=items)
    reference = api(referral).json_body["reference"]
    assert sign_off(client, REFERRER).status_code == 200
    wait_for_status(reference, "approved")
    assert store().get(reference).tier == "referrer"


def test_a_flagged_request_also_needs_an_advisor(api: Any, client: Any) -> None:
    item = {"description": "Air fryer for healthier cooking", "category": "equipment",
            "supplier": "Shop", "cost_pence": 6000, "recurrence": "one_off"}
    reference = api(make_referral(items=[item])).json_body["reference"]
    sign_off(client, REFERRER)
    wait_for(lambda: store().get(reference).step == "advisor")
    page = client.http.get(link_path(wait_for_email(ADVISORS, "sign off"), "sign-off"))
    assert "Flagged for a PHB advisor" in body(page)
    assert "Household items are not normally funded" in body(page)
    assert sign_off(client, ADVISORS).status_code == 200
    wait_for_status(reference, "approved")


# --- more information ---------------------------------------------------------------------------


def test_a_question_goes_to_the_referrer_and_the_answer_back_to_the_approver(
    api: Any, client: Any
) -> None:
    reference = api(make_referral(total_pence=30000)).json_body["reference"]
    asked = sign_off(client, MANAGER, "more_information", question="Which gym, and why?")
    assert asked.status_code == 200
    wait_for_status(reference, "awaiting_information")

    question_email = wait_for_email(REFERRER, "a question for you")
    assert "Which gym" not in question_email.text  # the question is behind the link
    path = link_path(question_email, "answer")
    assert "Which gym, and why?" in body(client.http.get(path))
    answered = post_form(client, path, {"answer": "Better Leisure, it is nearest."})
    assert answered.status_code == 200
    wait_for_status(reference, "awaiting_sign_off")

    back = wait_for_email(MANAGER, "referrer has answered")
    decide = body(client.http.get(link_path(back, "sign-off")))
    assert "Which gym, and why?" in decide and "Better Leisure, it is nearest." in decide
    assert post_form(client, link_path(back, "sign-off"),
                     {"decision": "approved"}).status_code == 200
    wait_for_status(reference, "approved")
    given = next(e for e in store().history(reference) if e.what == "information_given")
    assert given.detail == {"step": "manager", "question": "Which gym, and why?",
                            "answer": "Better Leisure, it is nearest."}
    assert given.who == REFERRER


# --- rejection at each level ----------------------------------------------------------------


@pytest.mark.parametrize("total, approvers", [
    (12000, [REFERRER]),
    (30000, [MANAGER]),
    (60000, [MANAGER, PANEL]),
])
def test_rejection_at_each_level_ends_with_an_email_saying_why(
    api: Any, client: Any, total: int, approvers: list[str]
) -> None:
    reference = api(make_referral(total_pence=total)).json_body["reference"]
    for approver in approvers[:-1]:
        sign_off(client, approver)
    response = sign_off(client, approvers[-1], "rejected", reason="Free classes are available.")
    assert response.status_code == 200
    email = wait_for_email(REFERRER, "was not approved")
    assert "Free classes" not in email.text
    assert "Free classes are available." in body(client.http.get(link_path(email, "outcome")))
    assert wait_for_execution(reference)["status"] == "SUCCEEDED"
    assert status(reference) == "rejected"


def test_rejection_by_the_advisor_of_a_flagged_request(api: Any, client: Any) -> None:
    item = {"description": "Driving lessons", "category": "other", "supplier": "School",
            "cost_pence": 20000, "recurrence": "one_off"}
    reference = api(make_referral(items=[item])).json_body["reference"]
    sign_off(client, REFERRER)
    wait_for(lambda: store().get(reference).step == "advisor")
    sign_off(client, ADVISORS, "rejected", reason="Driving lessons are excluded.")
    wait_for_email(REFERRER, "was not approved")
    assert status(reference) == "rejected"


def test_a_decision_needs_its_reason_or_question(api: Any, client: Any) -> None:
    reference = api(make_referral()).json_body["reference"]
    response = sign_off(client, REFERRER, "rejected", reason="  ")
    assert response.status_code == 422
    assert "Enter why you are rejecting" in body(response)
    assert sign_off(client, REFERRER, "bogus").status_code == 422
    assert status(reference) == "awaiting_sign_off"


# --- nobody answers -------------------------------------------------------------------------


def test_no_answer_gives_reminders_then_escalation_then_expiry(
    api: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHB_REMINDER_AFTER_SECONDS", "1")
    monkeypatch.setenv("PHB_REMINDERS_BEFORE_ESCALATION", "1")
    get_settings.cache_clear()
    reference = api(make_referral(total_pence=30000)).json_body["reference"]
    wait_for_email(MANAGER, "Reminder", 2, timeout=30)
    wait_for_email(ADVISORS, "Escalated", timeout=30)
    expired = wait_for_email(REFERRER, "has expired", timeout=30)
    assert "approving manager" in expired.text
    assert wait_for_execution(reference)["status"] == "SUCCEEDED"
    assert status(reference) == "expired"
    whats = [e.what for e in store().history(reference)]
    assert whats.count("reminder_sent") == 2 and "escalated" in whats and "expired" in whats
    # Every reminder carries a working link; the first request's link still works until used,
    # but the referral has ended.
    late = client.http.get(link_path(wait_for_email(MANAGER, "sign off"), "sign-off"))
    assert late.status_code == 409


# --- agreement, withdrawal ------------------------------------------------------------------


def test_the_agreement_goes_to_the_person_when_they_have_an_email(api: Any,
                                                                  client: Any) -> None:
    referral = make_referral()
    referral["person"]["email"] = "alex@example.com"
    reference = api(referral).json_body["reference"]
    sign_off(client, REFERRER)
    email = wait_for_email("alex@example.com", "agreement")
    page = body(client.http.get(link_path(email, "agreement")))
    for words in ("£120.00", "must be spent only on", "can ask for it back",
                  "withdraw from this agreement", "Type your full name"):
        assert words in page
    response = accept_agreement(client, "alex@example.com")
    assert response.status_code == 200
    accepted = store().get(reference).recorded["agreement"]
    assert accepted["name"] == "Alex Morgan" and accepted["version"] == "2026-11"
    assert accepted["at"]


def test_the_agreement_needs_a_typed_name_and_the_box_ticked(api: Any, client: Any) -> None:
    reference = api(make_referral()).json_body["reference"]
    sign_off(client, REFERRER)
    path = link_path(wait_for_email(REFERRER, "agreement"), "agreement")
    response = post_form(client, path, {"name": "", "choice": "accept"})
    assert response.status_code == 422
    assert "Type your full name" in body(response) and "Tick the box" in body(response)
    wait_for_status(reference, "approved")


def test_money_cannot_be_recorded_as_released_before_the_agreement(api: Any,
                                                                   client: Any) -> None:
    from chalicelib.actions.commands import AlreadyDone, record_release

    reference = api(make_referral()).json_body["reference"]
    sign_off(client, REFERRER)
    wait_for_status(reference, "approved")
    with pytest.raises(AlreadyDone):
        record_release(services(), store().get(reference), ADVISORS, 12000, date.today(),
                       "prepaid_card", "CARD-1", "direct_payment")
    assert status(reference) == "approved"


def test_the_person_can_decline_the_agreement(api: Any, client: Any) -> None:
    reference = api(make_referral()).json_body["reference"]
    sign_off(client, REFERRER)
    path = link_path(wait_for_email(REFERRER, "agreement"), "agreement")
    assert post_form(client, path, {"choice": "decline"}).status_code == 200
    wait_for_email(REFERRER, "withdrawn")
    assert wait_for_execution(reference)["status"] == "SUCCEEDED"
    assert status(reference) == "withdrawn"


def test_the_referrer_can_withdraw_while_waiting_for_sign_off(api: Any, client: Any) -> None:
    reference = api(make_referral(total_pence=30000)).json_body["reference"]
    manager_link = link_path(wait_for_email(MANAGER, "sign off"), "sign-off")
    path = link_path(wait_for_email(REFERRER, "received"), "withdraw")
    # While the manager's sign-off waits (its task token kept), as this test means: withdrawn
    # in the moment before, the execution and the link can both send the email (at least once).
    wait_for(lambda: store().task_token(reference, "manager"))
    assert post_form(client, path, {"reason": "Found a free class"}).status_code == 200
    wait_for_email(REFERRER, "withdrawn")
    assert wait_for_execution(reference)["status"] == "SUCCEEDED"
    # The withdrawal sends the email at once; the state machine's own step does not repeat it.
    assert len(emails_to(REFERRER, "withdrawn")) == 1
    # The manager's link now says it is too late.
    assert client.http.get(manager_link).status_code == 409


# --- failures -------------------------------------------------------------------------------


def test_an_email_that_keeps_failing_is_retried_then_escalated_to_the_advisors(
    api: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.adapters.ses import SesMailer
    from chalicelib.domain.records import Email
    from chalicelib.workflow.failures import TransientError

    real_send = SesMailer.send
    attempts = []

    def failing_for_the_manager(mailer: SesMailer, email: Email) -> str:
        if email.to == MANAGER:
            attempts.append(email.subject)
            raise TransientError("SES unavailable")
        return real_send(mailer, email)

    monkeypatch.setattr(SesMailer, "send", failing_for_the_manager)
    reference = api(make_referral(total_pence=30000)).json_body["reference"]
    alert = wait_for_email(ADVISORS, "needs attention", timeout=30)
    assert reference in alert.subject
    assert wait_for_execution(reference)["status"] == "FAILED"
    assert status(reference) == "needs_attention"
    assert len(attempts) == 4  # the first try and 3 retries with backoff


# --- more routes through the state machine ----------------------------------------------------


def test_smartphone_and_data_over_the_caps_follows_the_amount(api: Any, client: Any) -> None:
    items = [
        {"description": "Top of the range smartphone", "category": "smartphone_data",
         "supplier": "Shop", "cost_pence": 90000, "recurrence": "one_off"},
    ]
    reference = api(make_referral(total_pence=90000, items=items)).json_body["reference"]
    assert sign_off(client, MANAGER).status_code == 200
    wait_for(lambda: store().get(reference).step == "panel")
    assert sign_off(client, PANEL).status_code == 200
    wait_for_status(reference, "approved")
    assert store().get(reference).tier == "panel"


def test_a_flagged_request_over_500_goes_to_manager_panel_then_advisor(
    api: Any, client: Any
) -> None:
    items = [{"description": "Air fryer for healthier cooking", "category": "equipment",
              "supplier": "Shop", "cost_pence": 6000, "recurrence": "one_off"},
             {"description": "Cooking course", "category": "course", "supplier": "College",
              "cost_pence": 54000, "recurrence": "one_off"}]
    reference = api(make_referral(total_pence=60000, items=items)).json_body["reference"]
    for approver, step in ((MANAGER, "manager"), (PANEL, "panel"), (ADVISORS, "advisor")):
        wait_for(lambda step=step: store().get(reference).step == step)  # type: ignore[misc]
        assert sign_off(client, approver).status_code == 200
    wait_for_status(reference, "approved")
    approvals = [e.who for e in store().history(reference) if e.what == "approved"]
    assert approvals == [MANAGER, PANEL, ADVISORS]


@pytest.mark.parametrize("asker", ["panel", "advisor"])
def test_a_question_from_a_later_approver_comes_back_to_them(
    api: Any, client: Any, asker: str
) -> None:
    if asker == "panel":
        reference = api(make_referral(total_pence=60000)).json_body["reference"]
        sign_off(client, MANAGER)
        address = PANEL
    else:
        item = {"description": "Driving lessons", "category": "other", "supplier": "School",
                "cost_pence": 20000, "recurrence": "one_off"}
        reference = api(make_referral(items=[item])).json_body["reference"]
        sign_off(client, REFERRER)
        address = ADVISORS
    wait_for(lambda: store().get(reference).step == asker)
    sign_off(client, address, "more_information", question="What else was tried?")
    path = link_path(wait_for_email(REFERRER, "a question for you"), "answer")
    post_form(client, path, {"answer": "Buses, but they are too crowded."})
    back = wait_for_email(address, "referrer has answered")
    assert store().get(reference).step == asker
    assert post_form(client, link_path(back, "sign-off"),
                     {"decision": "approved"}).status_code == 200
    wait_for_status(reference, "approved")


def test_the_referrer_signing_off_cannot_ask_themselves_a_question(api: Any,
                                                                   client: Any) -> None:
    reference = api(make_referral()).json_body["reference"]
    path = link_path(wait_for_email(REFERRER, "sign off"), "sign-off")
    assert "Ask the referrer a question" not in body(client.http.get(path))
    response = post_form(client, path, {"decision": "more_information", "question": "Why?"})
    assert response.status_code == 422
    assert status(reference) == "awaiting_sign_off"


# --- withdrawal at every open step ----------------------------------------------------------


def walk_to(client: Any, reference: str, stage: str) -> None:
    """Take a £300 referral (manager sign-off) to `stage`, acting through the emails."""
    if stage == "awaiting_information":
        sign_off(client, MANAGER, "more_information", question="Which gym?")
        wait_for_status(reference, stage)
        return
    sign_off(client, MANAGER)
    wait_for_status(reference, "approved")
    if stage == "approved":
        return
    accept_agreement(client, REFERRER)
    wait_for_status(reference, "agreement_accepted")
    if stage == "agreement_accepted":
        return
    path = link_path(wait_for_email(ADVISORS, "release the money"), "release")
    post_form(client, path, {"management": "notional", "amount": "300.00", "how": "notional",
                             "reference": "NOTIONAL-1", "released": "yes"})
    wait_for_status(reference, "funds_released")


@pytest.mark.parametrize("stage", ["awaiting_information", "approved", "agreement_accepted",
                                   "funds_released"])
def test_withdrawal_at_any_step_ends_the_execution_and_tells_the_referrer(
    api: Any, client: Any, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    # The review is weeks away: the execution is waiting for its time, not for a person.
    monkeypatch.setenv("PHB_REVIEW_AFTER_SECONDS", "3600")
    get_settings.cache_clear()
    reference = api(make_referral(total_pence=30000)).json_body["reference"]
    withdraw_path = link_path(wait_for_email(REFERRER, "received"), "withdraw")
    walk_to(client, reference, stage)
    if stage == "funds_released":
        wait_for(lambda: "review_due" in store().task_tokens(reference))
    # Withdrawn while the step waits (its own task token kept, not an earlier step's): the case
    # this test is about. (Withdrawn in the moment before, the execution and the link can both
    # send the email: sending is at least once.)
    waiting = {"awaiting_information": "information", "approved": "agreement",
               "agreement_accepted": "release", "funds_released": "review_due"}[stage]
    wait_for(lambda: waiting in store().task_tokens(reference))
    response = post_form(client, withdraw_path, {"reason": "The person moved away"})
    assert response.status_code == 200, body(response)
    assert status(reference) == "withdrawn"
    assert wait_for_execution(reference, timeout=15)["status"] == "SUCCEEDED"
    assert len(emails_to(REFERRER, "withdrawn")) == 1
    withdrawn = next(e for e in store().history(reference) if e.what == "withdrawn")
    assert (withdrawn.who, withdrawn.detail) == (REFERRER, {"reason": "The person moved away"})


# --- reminders on the steps after sign-off --------------------------------------------------


@pytest.fixture
def quick_reminders(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reminder every 3 seconds, escalation after the first: each step expires (where it
    can) 9 seconds after it starts waiting; the tests act on each step within a second."""
    monkeypatch.setenv("PHB_REMINDER_AFTER_SECONDS", "3")
    monkeypatch.setenv("PHB_REMINDERS_BEFORE_ESCALATION", "1")
    get_settings.cache_clear()


def test_a_review_not_done_is_reminded_escalated_and_still_reminded_until_done(
    api: Any, client: Any, quick_reminders: None
) -> None:
    reference = api(make_referral()).json_body["reference"]
    sign_off(client, REFERRER)
    accept_agreement(client, REFERRER)
    release(client)
    wait_for_email(REFERRER, "6-week review")
    escalated = wait_for_email(ADVISORS, "waiting for the 6-week review", timeout=30)
    assert escalated.subject.startswith("Escalated") and "stays open" in escalated.text
    # Past the escalation it does not expire and does not fall silent: the referrer is still
    # reminded, each reminder with a working link.
    third = wait_for_email(REFERRER, "is waiting for the 6-week review", count=3, timeout=30)
    assert status(reference) == "funds_released"
    response = post_form(client, link_path(third, "review"),
                         {"bought": "yes", "goals.0.progress": "achieved", "receipts": "yes",
                          **reqol(score="3")})
    assert response.status_code == 200, body(response)
    wait_for_status(reference, "reviewed")
    reminders = [e for e in store().history(reference) if e.what == "reminder_sent"]
    assert [e.detail["count"] for e in reminders if e.detail["step"] == "review"][:3] == [1, 2, 3]


def test_an_agreement_never_accepted_expires_after_reminders_and_escalation(
    api: Any, client: Any, quick_reminders: None
) -> None:
    reference = api(make_referral()).json_body["reference"]
    sign_off(client, REFERRER)
    wait_for_email(REFERRER, "agreement")
    escalated = wait_for_email(ADVISORS, "waiting for the person's acceptance", timeout=30)
    assert escalated.subject.startswith("Escalated") and "will expire" in escalated.text
    expired = wait_for_email(REFERRER, "has expired", timeout=30)
    assert "agreement" in expired.text
    assert wait_for_execution(reference)["status"] == "SUCCEEDED"
    assert status(reference) == "expired"
    late = accept_agreement(client, REFERRER)
    assert late.status_code == 409 and status(reference) == "expired"
