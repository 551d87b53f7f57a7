"""With moto executing the real state machine, faults armed through the local fault switch: a
step that fails after its retries hands the referral to the advisors, who resume it from the
case page and watch it go on with what was done kept; an execution stopped from outside is
found and resumed; an advisor corrects a mistyped address and the request goes to it; a wait
that cannot expire is handed over after its last reminder, well inside Step Functions' limits."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters import aws
from chalicelib.adapters.stepfunctions import execution_arn
from chalicelib.config import get_settings
from devstack import faults
from tests.conftest import wait_for, wait_for_execution
from tests.factories import make_referral
from tests.integration.test_pathway import (  # noqa: F401 (fixtures used by name)
    no_email_identifies_the_person,
    quick_pathway,
    store,
    wait_for_status,
)
from tests.integration.test_people_and_changes import (  # noqa: F401 (a fixture by name)
    ACCEPT,
    ADVISORS,
    APPROVE,
    GYM,
    PANEL,
    STAFF,
    act,
    advisor_session,
    mixed_case_settings,
    staff_post,
)
from tests.pathway_helpers import body, emails_to, link_path, wait_for_email

REFERRER = "sam.okafor@nhs.net"
MANAGER = "priya.shah@nhs.net"


def referral_over_500(manager: str = MANAGER) -> dict[str, Any]:
    referral = make_referral(items=[{**GYM, "cost_pence": 60000}])
    referral["approving_manager"] = {"name": "Priya Shah", "email": manager}
    return referral


def test_a_failed_sign_off_request_is_resumed_from_the_case_page_keeping_what_was_given(
        api: Any, client: Any) -> None:
    reference = api(referral_over_500()).json_body["reference"]
    # SES refuses the panel's address from now on: after the manager signs off, that step
    # fails after its retries.
    faults.arm({"operation": "SendRawEmail", "error": "MessageRejected", "times": 1000,
                "recipient": PANEL})
    act(client, MANAGER, "sign off", "sign-off", APPROVE)
    wait_for_status(reference, "needs_attention")
    alert = wait_for_email(ADVISORS, "needs attention")
    reason = ("The email asking the PHB Oversight Panel to sign off could not be sent: the "
              "address was refused.")
    assert reason in alert.text

    session = advisor_session(client)
    page = body(client.http.get(f"/staff/referrals/{reference}",
                                headers={"Cookie": session[0]}))
    assert reason in page and "Resume from the PHB Oversight Panel&#39;s sign-off" in page
    for raw in ("Traceback", "/var/task", "errorMessage", "stackTrace", ".py"):
        assert raw not in page

    faults.clear()  # the cause is fixed
    resumed = staff_post(client, session, f"/staff/referrals/{reference}/resume", {})
    assert resumed.status_code == 303, body(resumed)
    act(client, PANEL, "sign off", "sign-off", APPROVE)
    wait_for_status(reference, "approved")
    # The manager's approval stood: they were asked once.
    assert len(emails_to(MANAGER, "sign off")) == 1
    assert [e.who for e in store().history(reference) if e.what == "approved"] == [
        MANAGER, PANEL]
    sfn = aws.client("stepfunctions")
    first = sfn.describe_execution(executionArn=execution_arn(
        get_settings().state_machine_arn, reference))
    assert first["status"] == "FAILED"
    second = sfn.describe_execution(executionArn=execution_arn(
        get_settings().state_machine_arn, reference, 2))
    assert second["status"] == "RUNNING"
    # A second advisor resuming (a second tab) gets a clear 409, nothing started twice.
    again = staff_post(client, session, f"/staff/referrals/{reference}/resume", {})
    assert again.status_code == 409


def test_a_stopped_execution_is_found_its_links_pause_and_a_resume_goes_on(
        api: Any, client: Any) -> None:
    reference = api(make_referral()).json_body["reference"]
    request = wait_for_email(REFERRER, "sign off")
    sfn = aws.client("stepfunctions")
    arn = execution_arn(get_settings().state_machine_arn, reference)
    # Stopped by hand in the console. (moto ends a stopped execution only when its wait
    # ends; AWS at once: the event below is what AWS then sends.)
    sfn.stop_execution(executionArn=arn, cause="stopped by hand in the console")
    # EventBridge hands the event to the reconcile function.
    event = client.events.generate_cw_event(
        source="aws.states", detail_type="Step Functions Execution Status Change",
        detail={"executionArn": arn, "name": reference, "status": "ABORTED",
                "stateMachineArn": get_settings().state_machine_arn}, resources=[arn])
    assert client.lambda_.invoke("reconcile", event).payload == {"marked": True}
    assert store().get(reference).recorded["attention"]["reason"] == "The pathway was stopped."
    paused = client.http.get(link_path(request, "sign-off"))
    assert paused.status_code == 409 and "This referral is paused" in body(paused)

    session = advisor_session(client)
    assert staff_post(client, session, f"/staff/referrals/{reference}/resume",
                      {}).status_code == 303
    act(client, REFERRER, "sign off", "sign-off", APPROVE, count=2)
    wait_for_status(reference, "approved")


def test_a_mistyped_managers_address_is_corrected_and_the_request_sent_to_it(
        api: Any, client: Any) -> None:
    reference = api(referral_over_500(manager="priya.shha@nhs.net")).json_body["reference"]
    old = wait_for_email("priya.shha@nhs.net", "sign off")
    wait_for(lambda: store().get(reference).waiting_step == "manager")
    session = advisor_session(client)
    corrected = staff_post(client, session, f"/staff/referrals/{reference}/correct",
                           {"whose": "manager", "new_address": MANAGER})
    assert corrected.status_code == 303, body(corrected)
    assert "done=correct-resent" in corrected.headers["Location"]
    refused = client.http.get(link_path(old, "sign-off"))
    assert refused.status_code in (403, 410), body(refused)
    act(client, MANAGER, "sign off", "sign-off", APPROVE)
    act(client, PANEL, "sign off", "sign-off", APPROVE)
    wait_for_status(reference, "approved")
    [event] = [e for e in store().history(reference) if e.what == "address_corrected"]
    assert (event.detail["before"], event.detail["after"], event.who) == (
        "priya.shha@nhs.net", MANAGER, STAFF)


@pytest.fixture
def reminders_every_second(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHB_REMINDER_AFTER_SECONDS", "1")
    monkeypatch.setenv("PHB_REMINDERS_BEFORE_ESCALATION", "1")
    monkeypatch.setenv("PHB_REMINDERS_BEFORE_HANDOVER", "3")
    get_settings.cache_clear()


def test_an_unanswered_release_is_handed_over_after_its_last_reminder(
        api: Any, client: Any, reminders_every_second: None) -> None:
    reference = api(make_referral()).json_body["reference"]
    act(client, REFERRER, "sign off", "sign-off", APPROVE)
    act(client, REFERRER, "agreement to share", "agreement", ACCEPT)
    wait_for_status(reference, "needs_attention")
    held = store().get(reference)
    assert held.recorded["attention"]["code"] == "RemindersRanOut"
    assert held.recorded["attention"]["reason"] == (
        "The referral waited for a PHB advisor to record that the money was released through 3 "
        "reminders with no answer.")
    assert held.recorded["attention"]["from"] == "agreement_accepted"
    assert len(emails_to(ADVISORS, "Reminder")) == 3
    execution = wait_for_execution(reference)
    events = aws.client("stepfunctions").get_execution_history(
        executionArn=execution["executionArn"], maxResults=1000)["events"]
    entered = [e.get("stateEnteredEventDetails", {}).get("name") for e in events]
    first, handed_over = entered.index("RemindRelease"), entered.index("HandOver")
    per_reminder = (handed_over - first) / 3
    # The 4 waits that cannot expire (the agreement once money is paid, the release, the
    # review, closure), each reminded as often as a deployment may configure (100 times),
    # stay far inside Step Functions' 25,000 events; the rest of the pathway costs the same
    # as here, and its sign-off steps expire.
    assert (len(events) - (handed_over - first)) + 4 * 100 * per_reminder < 25_000, (
        per_reminder, len(events))
    # Resumed, the release is asked for again and the pathway goes on.
    session = advisor_session(client)
    staff_post(client, session, f"/staff/referrals/{reference}/resume", {})
    act(client, ADVISORS, "release the money", "release", {
        "management": "direct_payment", "amount": "120.00", "how": "prepaid_card",
        "reference": "CARD-1", "released": "yes"}, count=1)
    wait_for_status(reference, "funds_released")
