"""The pathway's use cases on the in-memory adapters: the tasks the state machine runs and the
actions people take through their links, without AWS. (tests/integration/ walks the same
pathway with moto executing the real state machine.)"""

from __future__ import annotations

import pytest

from chalicelib.actions import commands, links, pages
from chalicelib.bootstrap import Services
from chalicelib.domain.records import View
from chalicelib.workflow import tasks
from tests.usecases.drive import emails_to, link_of, request, submit

REFERRER = "sam.okafor@nhs.net"
MANAGER = "jo.patel@nhs.net"
PANEL = "phb-panel@example.org"
ADVISORS = "phb-advisors@example.org"
AIR_FRYER = {"description": "Air fryer", "category": "equipment", "supplier": "Shop",
             "cost_pence": 6000, "recurrence": "one_off"}


def decide(svc: Services, to: str, fields: bytes) -> int:
    link_id = link_of(emails_to(svc, to, "sign off")[-1], "sign-off")
    return pages.act(svc, "sign-off", link_id, fields).status_code


def test_intake_files_the_referral_under_its_tier_and_flags(memory: Services) -> None:
    fast = submit(memory, total_pence=12000)
    flagged = submit(memory, items=[AIR_FRYER])
    panel = submit(memory, total_pence=60000)
    referrals = memory.store.referrals
    assert (referrals.get(panel).tier, referrals.get(panel).approvers) == (
        "panel", ("manager", "panel"))
    assert referrals.get(flagged).approvers == ("referrer", "advisor")
    assert [r.reference for r in referrals.page(View("flagged"), 10).rows] == [flagged]
    assert [r.reference for r in referrals.page(View("tier", "referrer"), 10).rows] == [
        flagged, fast]
    [ack] = emails_to(memory, REFERRER, f"{fast} received")
    assert "sign this request off yourself" in ack.text


def test_each_approver_in_turn_then_the_agreement(memory: Services) -> None:
    reference = submit(memory, total_pence=60000)
    request(memory, reference, "sign_off_request")
    assert decide(memory, MANAGER, b"decision=approved") == 200
    stored = memory.store.referrals.get(reference)
    assert (stored.status, stored.step) == ("awaiting_sign_off", "panel")
    # The state machine was told the manager's wait is over.
    assert memory.workflow.completed == [  # type: ignore[attr-defined]
        (f"token-{reference}-manager-t1", "approved")]
    request(memory, reference, "sign_off_request", notice="t2")
    assert decide(memory, PANEL, b"decision=approved") == 200
    assert memory.store.referrals.get(reference).status == "approved"
    approvals = [e.who for e in memory.store.referrals.history(reference)
                 if e.what == "approved"]
    assert approvals == [MANAGER, PANEL]


def test_a_link_works_once_and_a_raced_decision_changes_nothing(memory: Services) -> None:
    reference = submit(memory, total_pence=30000)
    request(memory, reference, "sign_off_request")
    link_id = link_of(emails_to(memory, MANAGER, "sign off")[-1], "sign-off")
    assert pages.act(memory, "sign-off", link_id, b"decision=approved").status_code == 200
    again = pages.act(memory, "sign-off", link_id, b"decision=rejected&reason=No")
    assert again.status_code == 409
    seen = memory.store.referrals.get(reference)
    with pytest.raises(commands.AlreadyDone):
        commands.decide(memory, seen, "manager", MANAGER, "rejected", "too late")
    assert memory.store.referrals.get(reference).status == "approved"


def test_a_question_goes_to_the_referrer_and_the_answer_back_to_who_asked(
        memory: Services) -> None:
    reference = submit(memory, total_pence=30000)
    request(memory, reference, "sign_off_request")
    asked = b"decision=more_information&question=Which+gym%3F"
    assert decide(memory, MANAGER, asked) == 200
    assert memory.store.referrals.get(reference).status == "awaiting_information"
    request(memory, reference, "information_request", step="information")
    answer = link_of(emails_to(memory, REFERRER, "a question for you")[-1], "answer")
    assert pages.act(memory, "answer", answer, b"answer=Hackney+Leisure").status_code == 200
    stored = memory.store.referrals.get(reference)
    assert (stored.status, stored.step) == ("awaiting_sign_off", "manager")
    request(memory, reference, "sign_off_request", notice="t3")
    assert emails_to(memory, MANAGER, "the referrer has answered")


def test_no_answer_is_reminded_then_escalated_then_expired(memory: Services) -> None:
    reference = submit(memory, total_pence=30000)
    request(memory, reference, "sign_off_request")
    limit = memory.settings.reminders_before_escalation
    results = [tasks.run(memory, {"task": "remind", "referral_id": reference,
                                  "step": "manager", "notice": f"r{n}"})
               for n in range(limit + 2)]
    assert [r["expired"] for r in results] == [False] * (limit + 1) + [True]
    assert len(emails_to(memory, MANAGER, "Reminder")) == limit + 1
    assert len(emails_to(memory, ADVISORS, "Escalated")) == 1
    assert memory.store.referrals.get(reference).status == "expired"


def test_a_step_that_cannot_expire_is_reminded_every_period(memory: Services) -> None:
    reference = submit(memory, total_pence=12000)
    referrals = memory.store.referrals
    stored = referrals.get(reference)
    referrals.change(reference, "approved", ("awaiting_sign_off",), "test", "approved")
    referrals.change(reference, "agreement_accepted", ("approved",), "test", "accepted")
    assert stored.status == "awaiting_sign_off"
    results = [tasks.run(memory, {"task": "remind", "referral_id": reference,
                                  "step": "release", "notice": f"r{n}"}) for n in range(6)]
    assert not any(r["expired"] for r in results)
    assert len(emails_to(memory, ADVISORS, "Reminder")) == 6
    assert referrals.get(reference).status == "agreement_accepted"


def test_withdrawing_ends_every_wait_and_tells_the_referrer(memory: Services) -> None:
    reference = submit(memory, total_pence=30000)
    request(memory, reference, "sign_off_request")
    withdraw = link_of(emails_to(memory, REFERRER, "received")[-1], "withdraw")
    response = pages.act(memory, "withdraw", withdraw, b"reason=Moved+away")
    assert response.status_code == 200
    assert memory.store.referrals.get(reference).status == "withdrawn"
    assert (f"token-{reference}-manager-t1", "withdrawn") in \
        memory.workflow.completed  # type: ignore[attr-defined]
    assert emails_to(memory, REFERRER, "withdrawn")
    # The manager's link now says it is done.
    assert decide(memory, MANAGER, b"decision=approved") == 409


def test_links_are_stored_hashed_and_bound_to_their_action(memory: Services) -> None:
    reference = submit(memory, total_pence=30000)
    link_id = links.issue(memory.store.links, "sign-off", MANAGER, 60, reference=reference,
                          step="manager")
    assert memory.store.links.get(link_id) is None
    found = links.look_up(memory.store.links, "sign-off", link_id)
    assert (found.reference, found.step, found.recipient) == (reference, "manager", MANAGER)
    with pytest.raises(links.LinkProblem) as wrong:
        links.look_up(memory.store.links, "agreement", link_id)
    assert wrong.value.status == 404
