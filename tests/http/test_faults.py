"""The local fault switch over HTTP (local stage only): armed, listed and cleared at /dev/faults,
it makes the app's next matching AWS calls fail as AWS would; and what a person sees when one
fails under them: a plain page, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devstack import faults
from devstack.outbox import sent_emails
from tests.conftest import services, wait_for
from tests.factories import make_referral
from tests.http.test_staff_console import Staff, body, submit


def arm(client: Any, spec: Any) -> Any:
    return client.http.post("/dev/faults", headers={"Content-Type": "application/json"},
                            body=json.dumps(spec))


def test_a_fault_is_armed_listed_and_cleared(memory_client: Any) -> None:
    armed = arm(memory_client, {"operation": "SendRawEmail", "error": "MessageRejected",
                                "times": 2, "recipient": "Jo.Patel@nhs.net"})
    assert armed.status_code == 201
    listed = memory_client.http.get("/dev/faults").json_body
    assert [(f["operation"], f["error"], f["times"], f["recipient"]) for f in listed] == [
        ("SendRawEmail", "MessageRejected", 2, "Jo.Patel@nhs.net")]
    assert memory_client.http.delete("/dev/faults").status_code == 204
    assert memory_client.http.get("/dev/faults").json_body == []


@pytest.mark.parametrize(("spec", "field"), [
    ({"error": "MessageRejected"}, "operation"),
    ({"operation": "SendRawEmail"}, "error"),
    ({"operation": "SendRawEmail", "error": "MessageRejected", "times": 0}, "times"),
    ({"operation": "SendRawEmail", "error": "MessageRejected", "times": "1"}, "times"),
    ({"operation": "SendRawEmail", "error": "X", "status": 200}, "status"),
    ({"operation": "SendRawEmail", "error": "X", "when": "now"}, "when"),
    (["SendRawEmail"], "body"),
])
def test_a_fault_that_cannot_be_armed_names_the_field(memory_client: Any, spec: Any,
                                                      field: str) -> None:
    refused = arm(memory_client, spec)
    assert refused.status_code == 422
    assert refused.json_body["error"].lower().startswith(field)
    assert memory_client.http.get("/dev/faults").json_body == []


def test_a_fault_fails_only_the_calls_it_names_and_only_as_often_as_armed(
        aws_stack: Any) -> None:
    from botocore.exceptions import ClientError

    from chalicelib.adapters import aws

    ses = aws.client("ses")

    def send(to: str) -> str:
        raw = f"To: {to}\r\nSubject: x\r\nDate: Tue, 01 Dec 2026 12:00:00 +0000\r\n\r\nx"
        return str(ses.send_raw_email(Source="phb-pathway@example.org", Destinations=[to],
                                      RawMessage={"Data": raw.encode()})["MessageId"])

    faults.arm({"operation": "SendRawEmail", "error": "MessageRejected",
                "recipient": "jo.patel@nhs.net"})
    assert send("sam.okafor@nhs.net")  # someone else's email goes
    with pytest.raises(ClientError) as refused:
        send("Jo.Patel@NHS.net")
    assert refused.value.response["Error"]["Code"] == "MessageRejected"
    assert send("jo.patel@nhs.net")  # armed once: the next goes
    assert [e.to for e in sent_emails()].count("Jo.Patel@NHS.net") == 0  # nothing was sent

    # A DynamoDB write that fails does not happen.
    dynamodb = aws.client("dynamodb")
    faults.arm({"operation": "PutItem", "error": "InternalServerError", "times": 6,
                "key": "PHB-TEST-0001"})
    with pytest.raises(ClientError):
        dynamodb.put_item(TableName=aws_stack.table_name,
                          Item={"pk": {"S": "REFERRAL#PHB-TEST-0001"}, "sk": {"S": "X"}})
    assert "Item" not in dynamodb.get_item(TableName=aws_stack.table_name, Key={
        "pk": {"S": "REFERRAL#PHB-TEST-0001"}, "sk": {"S": "X"}})


@pytest.fixture
def staff(client: Any) -> Staff:
    return Staff(client)


def test_a_resend_that_ses_refuses_says_why_and_answers_no_500(staff: Staff, api: Any) -> None:
    reference = submit(api)
    faults.arm({"operation": "SendRawEmail", "error": "MessageRejected",
                "recipient": make_referral()["referrer"]["email"]})
    refused = staff.act(reference, "resend")
    assert refused.status_code == 422
    page = body(refused)
    assert "The email could not be sent: the address was refused" in page
    assert "Traceback" not in page
    # Once SES takes it again, the resend goes.
    assert staff.act(reference, "resend").status_code == 303


def test_a_withdrawal_whose_email_fails_stands_and_the_workflow_sends_it(
        staff: Staff, api: Any) -> None:
    reference = submit(api)
    referrer = make_referral()["referrer"]["email"]
    # The page's own send is refused; the workflow's, a moment later, goes.
    faults.arm({"operation": "SendRawEmail", "error": "MessageRejected", "recipient": referrer})
    done = staff.act(reference, "withdraw", {"withdraw_reason": "Moved to Leeds"})
    assert done.status_code == 303, body(done)
    assert wait_for(lambda: [e for e in sent_emails()
                             if e.to == referrer and "withdrawn" in e.subject])


def test_a_request_aws_fails_under_answers_plainly_and_trying_again_works(
        api: Any, client: Any) -> None:
    referral = make_referral()
    faults.arm({"operation": "TransactWriteItems", "error": "AccessDeniedException"})
    refused = api(referral, headers={"Idempotency-Key": "try-again"})
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "60"
    [error] = refused.json_body["errors"]
    assert "Try again in a few minutes" in error["message"]
    again = api(referral, headers={"Idempotency-Key": "try-again"})
    assert again.status_code == 201
    # A page: the same, as a page a person reads.
    reference = again.json_body["reference"]
    # Once its workflow waits for the referrer, only the page reads the referral.
    wait_for(lambda: services().store.referrals.get(reference).waiting_step)
    referrals = services().store.referrals
    wait_for(lambda: len(emails := referrals.emails_sent(reference)) == 2 and all(
        e.status == "delivered" for e in emails))  # and SES's delivery events are in
    faults.arm({"operation": "GetItem", "error": "ProvisionedThroughputExceededException",
                "times": 6, "key": reference})
    page = client.http.get(f"/referrals/{reference}")
    assert page.status_code == 503
    text = body(page)
    assert "Sorry, there is a problem with the service" in text
    assert "Traceback" not in text and "ProvisionedThroughput" not in text
