"""What SES says became of each email, on the in-memory adapters: the pathway function given
SES's EventBridge events (built as the local simulator builds them) records each email's
status, and an email that never reached whoever a step waits on flags the referral for the
advisors, naming the address to correct, once."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.actions import pages
from chalicelib.bootstrap import Services
from chalicelib.domain.records import EmailRecord, View
from chalicelib.workflow import delivery, tasks
from devstack.simulator import ses_event
from tests.usecases.drive import emails_to, link_of, request, submit

BOUNCING = "bounce.priya@nhs.net"
ADVISORS = "phb-advisors@example.org"
PERSONAL = ("Alex", "Morgan", "9434765919", "943 476 5919", "E8 1DY", "Gym membership")


def manager_referral(svc: Services, manager: str = BOUNCING) -> str:
    """A referral waiting for its approving manager's sign-off, the request sent."""
    reference = submit(svc, total_pence=30000,
                       approving_manager={"name": "Priya Shah", "email": manager})
    request(svc, reference, "sign_off_request")
    return reference


def email_to(svc: Services, reference: str, address: str, kind: str) -> EmailRecord:
    return next(e for e in svc.store.referrals.emails_sent(reference)
                if e.to == address and e.kind == kind)


def ses(svc: Services, reference: str, email: EmailRecord, event_type: str,
        **options: Any) -> dict[str, Any]:
    """SES's event about one of the referral's emails, given to the pathway function."""
    return tasks.run(svc, ses_event(event_type, email.message_id, [email.to],
                                    {"kind": email.kind, "reference": reference}, **options))


def history(svc: Services, reference: str) -> list[str]:
    return [e.what for e in svc.store.referrals.history(reference)]


def test_a_bounced_sign_off_request_flags_the_referral_and_names_the_address(
        memory: Services) -> None:
    reference = manager_referral(memory)
    asked = email_to(memory, reference, BOUNCING, "sign_off_request")
    assert asked.status == "sent"

    assert ses(memory, reference, asked, "Bounce") == {"recorded": True, "flagged": True}

    bounced = email_to(memory, reference, BOUNCING, "sign_off_request")
    assert (bounced.status, bounced.bounce_type) == ("bounced", "permanent")
    assert history(memory, reference)[-3:] == [
        "email_bounced", "flagged_undelivered", f"email_sent:undelivered:manager:"
        f"{asked.message_id}:{ADVISORS}"]
    [alert] = emails_to(memory, ADVISORS, "did not arrive")
    assert (f"The email to the approving manager at {BOUNCING} bounced: correct the address "
            "and send it again.") in alert.text
    # Plain text is not HTML: what it says is written as it is, not escaped.
    assert "It asked for the approving manager's sign-off." in alert.text
    assert f"/staff/referrals/{reference}" in alert.text
    assert "works once" not in alert.text  # the case page needs signing in, not a link's id
    for personal in PERSONAL:
        assert personal not in alert.text + alert.html + alert.subject
    # The workflow still waits for the manager; the referral is in the advisors' flagged view.
    stored = memory.store.referrals.get(reference)
    assert (stored.status, stored.step) == ("awaiting_sign_off", "manager")
    assert reference in [r.reference for r in memory.store.referrals.page(View("flagged"), 10).rows]


def test_the_same_event_twice_changes_nothing_more(memory: Services) -> None:
    reference = manager_referral(memory)
    asked = email_to(memory, reference, BOUNCING, "sign_off_request")
    ses(memory, reference, asked, "Bounce")
    before = history(memory, reference)

    assert ses(memory, reference, asked, "Bounce") == {"recorded": False, "flagged": True}

    assert history(memory, reference) == before
    assert len(emails_to(memory, ADVISORS, "did not arrive")) == 1


def test_a_complaint_flags_and_a_late_delivery_does_not_undo_it(memory: Services) -> None:
    reference = manager_referral(memory, "complaint.jo@nhs.net")
    asked = email_to(memory, reference, "complaint.jo@nhs.net", "sign_off_request")
    ses(memory, reference, asked, "Complaint")
    # SES's events come in any order: a delivery reported after the complaint changes nothing.
    assert ses(memory, reference, asked, "Delivery")["recorded"] is False

    assert email_to(memory, reference, "complaint.jo@nhs.net", "sign_off_request").status == \
        "complained"
    [alert] = emails_to(memory, ADVISORS, "did not arrive")
    assert "complaint.jo@nhs.net was reported as spam by its recipient" in alert.text


def test_a_delivery_is_recorded_on_the_email_and_not_in_the_history(memory: Services) -> None:
    reference = manager_referral(memory, "jo.patel@nhs.net")
    asked = email_to(memory, reference, "jo.patel@nhs.net", "sign_off_request")
    before = history(memory, reference)

    assert ses(memory, reference, asked, "Delivery") == {"recorded": True, "flagged": False}

    delivered = email_to(memory, reference, "jo.patel@nhs.net", "sign_off_request")
    assert (delivered.status, delivered.status_at is not None) == ("delivered", True)
    assert history(memory, reference) == before
    assert emails_to(memory, ADVISORS, "did not arrive") == []


def test_a_transient_bounce_is_recorded_and_flags_nothing(memory: Services) -> None:
    reference = manager_referral(memory)
    asked = email_to(memory, reference, BOUNCING, "sign_off_request")

    assert ses(memory, reference, asked, "Bounce", bounce_type="Transient") == {
        "recorded": True, "flagged": False}

    assert email_to(memory, reference, BOUNCING, "sign_off_request").bounce_type == "transient"
    assert "flagged_undelivered" not in history(memory, reference)
    assert emails_to(memory, ADVISORS, "did not arrive") == []


def test_a_bounce_of_a_step_already_done_or_of_no_request_flags_nothing(
        memory: Services) -> None:
    reference = manager_referral(memory, "bounce.late@nhs.net")
    asked = email_to(memory, reference, "bounce.late@nhs.net", "sign_off_request")
    # The manager signed off (from another copy of the link) before the bounce came back.
    link_id = link_of(emails_to(memory, "bounce.late@nhs.net", "sign off")[-1], "sign-off")
    assert pages.act(memory, "sign-off", link_id, b"decision=approved").status_code == 200
    acknowledgement = email_to(memory, reference, "sam.okafor@nhs.net", "acknowledgement")

    assert ses(memory, reference, asked, "Bounce")["flagged"] is False
    assert ses(memory, reference, acknowledgement, "Bounce")["flagged"] is False

    assert emails_to(memory, ADVISORS, "did not arrive") == []
    assert email_to(memory, reference, "sam.okafor@nhs.net", "acknowledgement").status == \
        "bounced"


def test_unknown_messages_and_other_events_are_ignored(memory: Services) -> None:
    reference = manager_referral(memory)
    asked = email_to(memory, reference, BOUNCING, "sign_off_request")
    before = history(memory, reference)
    unknown = EmailRecord("sign_off_request", BOUNCING, "", "", message_id="not-ours")
    untagged = ses_event("Bounce", asked.message_id, [BOUNCING], {"kind": "sign_in"})
    opened = ses_event("Delivery", asked.message_id, [BOUNCING], {"reference": reference})
    opened["detail"]["eventType"] = "Open"

    # The referral's, but not recorded yet (an instant reject): it fails, so that Lambda
    # delivers the event again a minute later, when the record is there.
    from chalicelib.workflow.failures import StepFailed

    with pytest.raises(StepFailed):
        ses(memory, reference, unknown, "Bounce")
    assert ses(memory, "PHB-ZZZZ-ZZZZ", asked, "Bounce") == {"recorded": False}
    for event in (untagged, opened, {"source": "aws.ses", "detail": "nonsense"}):
        assert tasks.run(memory, event) == {"recorded": False}

    assert history(memory, reference) == before
    assert email_to(memory, reference, BOUNCING, "sign_off_request").status == "sent"


def test_the_advisors_email_never_names_the_persons_own_address(memory: Services) -> None:
    person = {**submit_person(), "email": "bounce.alex@example.com"}
    reference = submit(memory, person=person)
    stored = memory.store.referrals.get(reference)

    named = delivery.recipient(stored, "agreement", "Bounce.Alex@example.com")
    manager = delivery.recipient(stored, "manager", "jo.patel@nhs.net")

    assert "example.com" not in named and "case page" in named
    assert manager == "the approving manager at jo.patel@nhs.net"


def submit_person() -> dict[str, Any]:
    from tests.factories import make_referral

    person: dict[str, Any] = make_referral()["person"]
    return person
