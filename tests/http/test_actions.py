"""The pages behind the emailed links, through HTTP on the in-memory adapters: the decision's
boxes revealed under their choices, and read only for the choice made."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.bootstrap import Services
from chalicelib.domain.policy import MAX_TEXT
from tests.usecases.drive import emails_to, link_of, request, submit

REFERRER = "sam.okafor@nhs.net"
MANAGER = "jo.patel@nhs.net"
PANEL = "phb-panel@example.org"
ADVISORS = "phb-advisors@example.org"


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
