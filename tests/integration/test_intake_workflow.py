"""Intake on moto with the real state machine (infra/pathway.asl.json) executing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.adapters import aws
from chalicelib.adapters.dynamo import DynamoStore
from chalicelib.adapters.stepfunctions import execution_arn
from chalicelib.config import get_settings
from chalicelib.domain.errors import TransitionRefused
from chalicelib.domain.ports import Referrals
from chalicelib.domain.records import NewReferral
from devstack import faults
from devstack.outbox import sent_emails
from tests.conftest import services, wait_for_acknowledgement, wait_for_execution
from tests.factories import make_items, make_referral
from tests.pathway_helpers import wait_for_email

REFERRER = make_referral()["referrer"]["email"]
ADVISORS = "phb-advisors@example.org"


def store() -> Referrals:
    return services().store.referrals


def submit(api: Any, referral: dict[str, Any]) -> str:
    response = api(referral)
    assert response.status_code == 201, response.json_body
    reference: str = response.json_body["reference"]
    return reference


@pytest.mark.parametrize("total, tier, approvers", [
    (24999, "referrer", ["referrer"]),
    (25000, "manager", ["manager"]),
    (50000, "manager", ["manager"]),
    (50001, "panel", ["manager", "panel"]),
])
def test_intake_records_the_sign_off_tier(api: Any, total: int, tier: str,
                                          approvers: list[str]) -> None:
    reference = submit(api, make_referral(total_pence=total))
    wait_for_acknowledgement(reference)
    stored = store().get(reference)
    assert (stored.status, stored.tier) == ("awaiting_sign_off", tier)
    assert (list(stored.approvers), stored.step) == (approvers, approvers[0])
    intake = next(e for e in store().history(reference) if e.what == "intake_recorded")
    assert intake.detail["approvers"] == approvers and intake.who == "system"


def test_a_request_hitting_an_exclusion_is_flagged_for_an_advisor(api: Any) -> None:
    referral = make_referral(items=[{**make_items(9000)[0], "description": "Air fryer",
                                     "category": "equipment"}])
    reference = submit(api, referral)
    wait_for_acknowledgement(reference)
    stored = store().get(reference)
    assert stored.approvers == ("referrer", "advisor")
    assert stored.flags == [{"code": "household_items", "item": 0,
                             "reason": "Household items are not normally funded by a PHB"}]
    assert stored.status == "awaiting_sign_off"  # flagged, not rejected
    assert "A PHB advisor will also check" in next(
        e for e in sent_emails() if "received" in e.subject).text


def test_execution_is_named_by_the_reference_and_carries_no_personal_data(api: Any) -> None:
    reference = submit(api, make_referral())
    wait_for_acknowledgement(reference)
    sfn = aws.client("stepfunctions")
    execution = sfn.describe_execution(
        executionArn=execution_arn(get_settings().state_machine_arn, reference))
    assert execution["name"] == reference
    assert json.loads(execution["input"]) == {"referral_id": reference, "attempt": 1}
    history = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
    everything = json.dumps(history, default=str)
    assert "TaskScheduled" in everything
    for personal in ("Alex", "Morgan", "9434765919", "E8 1DY", "1985-05-01", "sam.okafor"):
        assert personal not in everything


def test_acknowledgement_tells_the_referrer_the_reference_and_next_steps_only(api: Any) -> None:
    reference = submit(api, make_referral(total_pence=30000))
    wait_for_acknowledgement(reference)
    [email] = [e for e in sent_emails() if e.to == "sam.okafor@nhs.net"]
    assert email.to == "sam.okafor@nhs.net"
    assert reference in email.subject
    for body in (email.text, email.html):
        assert reference in body
        assert "approving manager will be emailed" in body
        assert "020 3869 9728" in body
        assert f"http://testserver/referrals/{reference}" in body
        for personal in ("Alex", "Morgan", "9434765919", "943 476 5919", "E8 1DY", "1985",
                         "Gym membership", "Jo Patel"):
            assert personal not in body
    assert [e.what for e in store().history(reference)][:3] == [
        "submitted", "intake_recorded", "email_sent:acknowledgement"]


def test_a_transient_email_failure_is_retried_and_sent_once(api: Any) -> None:
    # Throttled more often than botocore retries: the state machine retries the task.
    throttled = faults.arm({"operation": "SendRawEmail", "error": "Throttling", "times": 6,
                            "recipient": REFERRER})
    reference = submit(api, make_referral())
    # botocore backs off up to 20 s between its own tries (random, doubling) before giving up.
    wait_for_acknowledgement(reference, timeout=90)
    assert faults.armed() == [] and throttled.times == 0
    assert len([e for e in sent_emails() if "received" in e.subject]) == 1
    assert store().get(reference).status == "awaiting_sign_off"


def test_a_permanent_email_failure_marks_the_referral_for_an_advisor(api: Any) -> None:
    faults.arm({"operation": "SendRawEmail", "error": "MessageRejected", "times": 1000,
                "recipient": REFERRER})
    reference = submit(api, make_referral())
    execution = wait_for_execution(reference)
    assert execution["status"] == "FAILED"
    stored = store().get(reference)
    assert stored.status == "needs_attention"
    events = {e.what: e for e in store().history(reference)}
    assert events["needs_attention"].detail == {
        "code": "MessageRejected",
        "reason": "The acknowledgement to the referrer could not be sent: the address was "
                  "refused."}
    alert = wait_for_email(ADVISORS, "needs attention")
    assert "the address was refused" in alert.text and f"/staff/referrals/{reference}" \
        in alert.text


def test_when_even_the_advisors_cannot_be_emailed_it_is_recorded(api: Any) -> None:
    aws.client("ses").delete_identity(Identity=get_settings().sender_email)
    reference = submit(api, make_referral())
    assert wait_for_execution(reference)["status"] == "FAILED"
    events = {e.what: e for e in store().history(reference)}
    assert events["needs_attention"].detail["code"] == "MessageRejected"
    assert "advisor_alert_failed" in events


def test_referral_is_kept_when_the_workflow_cannot_start(api: Any) -> None:
    faults.arm({"operation": "StartExecution", "error": "StateMachineDoesNotExist"})
    response = api(make_referral())
    assert response.status_code == 201
    assert response.json_body["status"] == "needs_attention"
    reference = response.json_body["reference"]
    assert store().get(reference).status == "needs_attention"
    [marked] = [e for e in store().history(reference) if e.what == "needs_attention"]
    assert marked.detail["code"] == "NotStarted"
    assert "could not be started" in marked.detail["reason"]
    assert wait_for_email(ADVISORS, "needs attention")


def test_a_referral_whose_workflow_could_not_start_is_started_by_the_retry(api: Any) -> None:
    referral, key = make_referral(), {"Idempotency-Key": "retry-me"}
    faults.arm({"operation": "StartExecution", "error": "ServiceUnavailable", "times": 6})
    first = api(referral, headers=key).json_body
    assert first["status"] == "needs_attention"
    second = api(referral, headers=key)
    assert second.status_code == 201
    assert second.json_body == {**first, "status": "submitted"}
    wait_for_acknowledgement(first["reference"])
    events = [e.what for e in store().history(first["reference"])
              if not e.what.startswith("email_sent")]
    assert events[:4] == ["submitted", "needs_attention", "resumed", "intake_recorded"]
    # Once it runs, a further retry changes nothing.
    assert api(referral, headers=key).json_body["status"] == "awaiting_sign_off"
    assert [e.what for e in store().history(first["reference"])].count("resumed") == 1


def test_starting_a_referral_twice_is_harmless(api: Any) -> None:
    reference = submit(api, make_referral())
    wait_for_acknowledgement(reference)
    sfn = aws.client("stepfunctions")
    arn = get_settings().state_machine_arn
    before = sfn.list_executions(stateMachineArn=arn)["executions"]
    services().workflow.start(reference)  # running, same input: Step Functions says fine
    after = sfn.list_executions(stateMachineArn=arn)["executions"]
    # No second execution (earlier tests' executions of the session's machine stay listed).
    assert len(after) == len(before)
    assert [e["name"] for e in after].count(reference) == 1
    assert len([e for e in sent_emails() if "received" in e.subject]) == 1


def new(total: int, email: str) -> NewReferral:
    return NewReferral(answers="{}", total_pence=total, referrer_email=email,
                       borough="newham", nhs_number="9434765919")


def test_a_reference_collision_takes_a_new_reference(aws_stack: Any) -> None:
    table = get_settings().table_name
    fixed = DynamoStore(aws.client("dynamodb"), table).referrals
    fixed.make_reference = lambda: "PHB-2222-2222"
    first = fixed.create(new(100, "a@nhs.net"), "a@nhs.net")
    candidates = iter(["PHB-2222-2222", "PHB-3333-3333"])
    fixed.make_reference = lambda: next(candidates)
    second = fixed.create(new(200, "b@nhs.net"), "b@nhs.net")
    assert (first.reference, second.reference) == ("PHB-2222-2222", "PHB-3333-3333")
    assert store().get("PHB-2222-2222").total_pence == 100


def test_a_status_change_only_happens_from_an_allowed_status(aws_stack: Any) -> None:
    referrals = store()
    created = referrals.create(new(100, "a@nhs.net"), "a@nhs.net")
    referrals.change(created.reference, "awaiting_sign_off", ("submitted",), "system", "one")
    with pytest.raises(TransitionRefused):
        referrals.change(created.reference, "awaiting_sign_off", ("submitted",), "system",
                         "two")
    assert [e.what for e in referrals.history(created.reference)] == ["submitted", "one"]
