"""The pages behind the emailed links, through HTTP on the in-memory adapters: the decision's
boxes revealed under their choices (and read only for the choice made), review and closure
asked goal by goal, the answers a PHB advisor follows up flagging the case, and the page after
each action saying what happens next."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.actions import commands
from chalicelib.actions.pages import decided_flags
from chalicelib.bootstrap import Services
from chalicelib.domain.policy import MAX_TEXT
from chalicelib.domain.records import View
from chalicelib.domain.referral import load_stored
from tests.usecases.drive import emails_to, link_of, request, submit

REFERRER = "sam.okafor@nhs.net"
MANAGER = "jo.patel@nhs.net"
PANEL = "phb-panel@example.org"
ADVISORS = "phb-advisors@example.org"
SOON = (date.today() + timedelta(days=30)).isoformat()
LATER = (date.today() + timedelta(days=80)).isoformat()
TWO_GOALS = [{"area": "physical_health", "goal": "Swim once a week", "target_date": SOON},
             {"area": "social", "goal": "Join the swimming club's social evening",
              "target_date": LATER}]
REQOL = {**{f"reqol10.items.{i}": "3" for i in range(10)}, "reqol10.physical_health": "3"}
CLEAN_REVIEW = {"bought": "yes", "goals.0.progress": "progressing", "receipts": "yes",
                "unspent": "0", **REQOL}


def text(response: Any) -> str:
    return response.body.decode() if isinstance(response.body, bytes) else str(response.body)


def post(client: Any, path: str, fields: dict[str, str]) -> Any:
    return client.http.post(path, body=urlencode(fields),
                            headers={"Content-Type": "application/x-www-form-urlencoded"})


def path_in(svc: Services, to: str, subject: str, action: str) -> str:
    return f"/act/{action}/{link_of(emails_to(svc, to, subject)[-1], action)}"


def box(page: str, choice_id: str) -> str:
    """The conditional box under a radio, with its classes, as served."""
    found = re.search(rf'<div class="([^"]*)" id="conditional-{choice_id}">(.*?)</div>\s*'
                      r'(?:<div class="nhsuk-radios__(?:item|conditional)|</div>)', page, re.S)
    assert found, choice_id
    return found.group(1) + "|" + found.group(2)


def signing(svc: Services, total: int = 30000) -> tuple[str, str]:
    """A referral waiting for the approving manager, and the manager's sign-off link."""
    reference = submit(svc, total_pence=total)
    request(svc, reference, "sign_off_request")
    return reference, path_in(svc, MANAGER, "sign off", "sign-off")


def released(svc: Services, **changes: Any) -> str:
    """A referral signed off, its agreement accepted and its money released."""
    reference = submit(svc, **changes)
    referrals = svc.store.referrals
    while (stored := referrals.get(reference)).status == "awaiting_sign_off":
        commands.decide(svc, stored, stored.step or "", f"{stored.step}@nhs.net", "approved")
    commands.accept_agreement(svc, referrals.get(reference), "Alex Morgan")
    commands.record_release(svc, referrals.get(reference), ADVISORS, 12000, date.today(),
                            "prepaid_card", "CARD-1", "direct_payment")
    return reference


def reviewing(svc: Services, **changes: Any) -> tuple[str, str]:
    reference = released(svc, **changes)
    request(svc, reference, "review_request", step="review")
    return reference, path_in(svc, REFERRER, "6-week review", "review")


def closing(svc: Services, client: Any, review: dict[str, str], **changes: Any
            ) -> tuple[str, str]:
    reference, path = reviewing(svc, **changes)
    assert post(client, path, review).status_code == 200
    request(svc, reference, "closure_request", step="closure", notice="t2")
    return reference, path_in(svc, REFERRER, "time to close", "closure")


# --- the decision's boxes, under their choices ----------------------------------------------


def test_the_reason_and_the_question_are_revealed_under_their_choices(
        memory: Services, memory_client: Any) -> None:
    _, path = signing(memory)
    page = text(memory_client.http.get(path))
    assert re.search(r'value="rejected"[^>]*data-aria-controls="conditional-decision-2"', page)
    assert re.search(r'value="more_information"[^>]*data-aria-controls="conditional-decision-3"',
                     page)
    rejected, question = box(page, "decision-2"), box(page, "decision-3")
    # Served hidden (the site's script hides them only once it runs: without it, all show).
    assert "nhsuk-radios__conditional--hidden" in rejected.split("|")[0]
    assert 'name="reason"' in rejected and "If you reject it: why?" in rejected
    assert 'name="question"' in question and "If you have a question" in question
    assert 'name="question"' not in rejected
    assert "conditional-decision\"" not in page  # approving opens no box
    assert '<script src="/static/radios.js"></script>' in page


def test_the_referrers_own_sign_off_reveals_a_reason_and_asks_no_question(
        memory: Services, memory_client: Any) -> None:
    reference = submit(memory, total_pence=12000)
    request(memory, reference, "sign_off_request")
    page = text(memory_client.http.get(path_in(memory, REFERRER, "sign off", "sign-off")))
    assert 'name="reason"' in box(page, "decision-2")
    assert 'name="question"' not in page


def test_the_reveal_script_is_the_sites_own_file(memory_client: Any) -> None:
    served = memory_client.http.get("/static/radios.js")
    assert served.status_code == 200
    assert served.headers["Content-Type"].startswith("text/javascript")
    assert "nhsuk-radios__conditional--hidden" in text(served)
    assert "script-src 'self'" in served.headers["Content-Security-Policy"]


@pytest.mark.parametrize("decision, filled, message, open_box", [
    ("rejected", "question", "Enter why you are rejecting the request", "decision-2"),
    ("more_information", "reason", "Enter your question for the referrer", "decision-3"),
])
def test_the_box_of_the_choice_made_must_be_filled_and_another_box_does_not_count(
        memory: Services, memory_client: Any, decision: str, filled: str, message: str,
        open_box: str) -> None:
    reference, path = signing(memory)
    response = post(memory_client, path, {"decision": decision, filled: "Typed in the other box"})
    assert response.status_code == 422
    page = text(response)
    assert message in page
    # The choice is kept, so its box is served open with the error in it.
    classes, inside = box(page, open_box).split("|", 1)
    assert "--hidden" not in classes and message in inside
    assert memory.store.referrals.get(reference).status == "awaiting_sign_off"


def test_only_the_box_of_the_choice_made_is_read(memory: Services, memory_client: Any) -> None:
    reference, path = signing(memory)
    response = post(memory_client, path, {
        "decision": "rejected", "reason": "The gym is not near enough",
        # A box of another choice, typed in and then left: too long, and not read at all.
        "question": "x" * (MAX_TEXT + 1)})
    assert response.status_code == 200, text(response)
    stored = memory.store.referrals.get(reference)
    assert stored.status == "rejected"
    assert stored.recorded["rejected"]["reason"] == "The gym is not near enough"
    assert "question" not in stored.recorded


def test_approving_ignores_what_was_typed_in_the_boxes(memory: Services,
                                                        memory_client: Any) -> None:
    reference, path = signing(memory)
    response = post(memory_client, path, {"decision": "approved", "reason": "\x07" * 10,
                                          "question": "Which gym?"})
    assert response.status_code == 200, text(response)
    [approved] = [e for e in memory.store.referrals.history(reference) if e.what == "approved"]
    assert "reason" not in approved.detail and "question" not in approved.detail


# --- review and closure, goal by goal -------------------------------------------------------


def test_the_review_asks_about_each_goal_and_keeps_each_answer_with_its_goal(
        memory: Services, memory_client: Any) -> None:
    reference, path = reviewing(memory, goals=TWO_GOALS)
    page = text(memory_client.http.get(path))
    assert "Goal 1: Swim once a week" in page
    assert "Goal 2: Join the swimming club&#39;s social evening" in page
    missing = post(memory_client, path, CLEAN_REVIEW)
    assert missing.status_code == 422
    assert "Select the progress on goal 2" in text(missing)
    done = post(memory_client, path, {**CLEAN_REVIEW, "goals.0.progress": "achieved",
                                      "goals.1.progress": "not_yet"})
    assert done.status_code == 200, text(done)
    review = memory.store.referrals.get(reference).recorded["review"]
    assert review["goals"] == [{"goal": 1, "progress": "achieved"},
                               {"goal": 2, "progress": "not_yet"}]


def test_closure_asks_whether_each_goal_was_achieved_and_keeps_each_answer(
        memory: Services, memory_client: Any) -> None:
    review = {**CLEAN_REVIEW, "goals.1.progress": "not_yet"}
    reference, path = closing(memory, memory_client, review, goals=TWO_GOALS)
    page = text(memory_client.http.get(path))
    assert "Was each goal achieved?" in page and "Was the goal achieved?" not in page
    assert re.search(r"Goal 1: Swim once a week.*At the 6-week review: making progress",
                     page, re.S)
    assert "At the 6-week review: no progress yet" in page
    fields = {"unspent": "0", **REQOL, "goals.0.achieved": "yes"}
    missing = post(memory_client, path, fields)
    assert missing.status_code == 422
    assert "Select whether goal 2 was achieved" in text(missing)
    assert post(memory_client, path, {**fields, "goals.1.achieved": "no"}).status_code == 200
    closure = memory.store.referrals.get(reference).recorded["closure"]
    assert closure["goals"] == [{"goal": 1, "achieved": "yes"}, {"goal": 2, "achieved": "no"}]
    assert closure["achieved"] == "partly"  # the goals together, as closures said before


# --- answers an advisor follows up ----------------------------------------------------------


@pytest.mark.parametrize("answers, code, reason", [
    ({"bought": "no"}, "review_not_bought", "the item or service was not bought"),
    ({"bought": "partly"}, "review_partly_bought", "only part of what was agreed was bought"),
    ({"receipts": "no"}, "review_no_receipts", "no receipts are held"),
    ({"unspent": "20.00"}, "review_unspent", "£20.00 is unspent, to recover"),
])
def test_a_review_answer_that_needs_following_up_flags_the_case_for_an_advisor(
        memory: Services, memory_client: Any, answers: dict[str, str], code: str,
        reason: str) -> None:
    reference, path = reviewing(memory)
    done = post(memory_client, path, {**CLEAN_REVIEW, **answers})
    assert done.status_code == 200, text(done)
    stored = memory.store.referrals.get(reference)
    assert [(f["code"], f["item"]) for f in stored.flags] == [(code, None)]
    assert reason in stored.flags[0]["reason"]
    # The worklist's flagged view lists it; its case page shows the flag's reason.
    flagged = memory.store.referrals.page(View("flagged"), 10).rows
    assert [r.reference for r in flagged] == [reference]
    assert decided_flags(memory, stored, load_stored(stored.answers)) == stored.flags
    # The referrer is told an advisor will follow it up.
    assert "A PHB advisor will follow up what you told us" in text(done)
    assert reason in text(done)


def test_a_clean_review_flags_nothing(memory: Services, memory_client: Any) -> None:
    reference, path = reviewing(memory)
    done = post(memory_client, path, CLEAN_REVIEW)
    assert done.status_code == 200, text(done)
    assert memory.store.referrals.get(reference).flags == []
    assert memory.store.referrals.page(View("flagged"), 10).rows == []
    assert "follow up" not in text(done)


def test_money_unspent_at_closure_flags_the_case_to_recover_it(
        memory: Services, memory_client: Any) -> None:
    reference, path = closing(memory, memory_client, CLEAN_REVIEW)
    done = post(memory_client, path, {"goals.0.achieved": "yes", "unspent": "15.50", **REQOL})
    assert done.status_code == 200, text(done)
    [flag] = memory.store.referrals.get(reference).flags
    assert (flag["code"], flag["reason"]) == ("closure_unspent",
                                              "Closure: £15.50 is unspent, to recover")


# --- the page after acting ------------------------------------------------------------------


def what_next(response: Any) -> str:
    page = text(response)
    assert response.status_code == 200, page
    assert "You can close this page" not in page
    assert "What happens next" in page
    return page


MY_REFERRALS = '<a href="/my-referrals">See your referrals and what is waiting for you</a>'


def test_the_referrers_own_sign_off_says_what_happens_next_and_links_to_their_referrals(
        memory: Services, memory_client: Any) -> None:
    reference = submit(memory, total_pence=12000)
    request(memory, reference, "sign_off_request")
    page = what_next(post(memory_client, path_in(memory, REFERRER, "sign off", "sign-off"),
                          {"decision": "approved"}))
    assert "The request is signed off." in page
    assert "the direct payment agreement is emailed to you to share with them" in page
    assert "6-week review" in page
    assert MY_REFERRALS in page


def test_a_managers_approval_says_who_signs_off_next(memory: Services,
                                                      memory_client: Any) -> None:
    _, path = signing(memory, total=60000)
    page = what_next(post(memory_client, path, {"decision": "approved"}))
    assert "It now goes to the PHB Oversight Panel to sign off." in page
    assert "/my-referrals" not in page  # the manager has no referrals here


def test_a_question_says_the_answer_comes_back_with_a_new_link(memory: Services,
                                                                 memory_client: Any) -> None:
    reference, path = signing(memory)
    page = what_next(post(memory_client, path, {"decision": "more_information",
                                                "question": "Which gym?"}))
    assert "we will email you a new link" in page
    request(memory, reference, "information_request", step="information")
    answered = what_next(post(memory_client, path_in(memory, REFERRER, "a question for you",
                                                     "answer"), {"answer": "Hackney Leisure"}))
    assert "gone back to the approving manager" in answered and MY_REFERRALS in answered


def test_accepting_the_agreement_says_the_money_comes_next(memory: Services,
                                                            memory_client: Any) -> None:
    reference = submit(memory, total_pence=12000)
    commands.decide(memory, memory.store.referrals.get(reference), "referrer", REFERRER,
                    "approved")
    request(memory, reference, "agreement_request", step="agreement")
    page = what_next(post(memory_client, path_in(memory, REFERRER, "agreement", "agreement"),
                          {"name": "Alex Morgan", "accept": "yes", "choice": "accept"}))
    assert "A PHB advisor now arranges for the money to be released." in page
    assert "/my-referrals" not in page  # the person's page, not the referrer's


def test_recording_the_release_says_when_the_review_is_and_links_to_the_case(
        memory: Services, memory_client: Any) -> None:
    reference = submit(memory, total_pence=12000)
    commands.decide(memory, memory.store.referrals.get(reference), "referrer", REFERRER,
                    "approved")
    commands.accept_agreement(memory, memory.store.referrals.get(reference), "Alex Morgan")
    request(memory, reference, "release_request", step="release")
    page = what_next(post(memory_client, path_in(memory, ADVISORS, "release the money",
                                                 "release"),
                          {"management": "direct_payment", "amount": "120.00",
                           "how": "prepaid_card", "reference": "CARD-1", "released": "yes"}))
    assert "The referrer will be emailed a link to the 6-week review on" in page
    assert f'href="/staff/referrals/{reference}"' in page


def test_the_review_and_the_closure_say_what_comes_next_and_link_to_the_referrals(
        memory: Services, memory_client: Any) -> None:
    reference, review = reviewing(memory)
    page = what_next(post(memory_client, review, CLEAN_REVIEW))
    goal_date = load_stored(memory.store.referrals.get(reference).answers).goals[0].target_date
    assert f"close the PHB at the goal date, {goal_date.day} {goal_date:%B %Y}" in page
    assert MY_REFERRALS in page
    request(memory, reference, "closure_request", step="closure", notice="t2")
    closed = what_next(post(memory_client, path_in(memory, REFERRER, "time to close", "closure"),
                            {"goals.0.achieved": "yes", "unspent": "0", **REQOL}))
    assert "There is nothing more for you to do." in closed and MY_REFERRALS in closed


def test_withdrawing_says_everyone_has_been_told_and_links_to_the_referrals(
        memory: Services, memory_client: Any) -> None:
    submit(memory, total_pence=12000)
    page = what_next(post(memory_client, path_in(memory, REFERRER, "received", "withdraw"),
                          {"reason": ""}))
    assert "everyone waiting on it has been told" in page and MY_REFERRALS in page
