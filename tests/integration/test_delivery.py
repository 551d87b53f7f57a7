"""Delivery status with moto executing the real state machine: the local mailbox simulator
sends SES's events back through the pathway function, as EventBridge does on AWS. An approving
manager at a `bounce.…` address is flagged to the advisors within seconds, naming the address;
every other email is recorded as delivered."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from chalicelib.domain.records import Email, EmailRecord
from devstack import stack
from tests.conftest import services, wait_for
from tests.factories import make_referral
from tests.http.test_staff_sign_in import body, get, sign_in
from tests.pathway_helpers import emails_to, wait_for_email

BOUNCING = "bounce.priya@nhs.net"
REFERRER = "sam.okafor@nhs.net"
ADVISORS = "phb-advisors@example.org"


def email_record(reference: str, address: str, kind: str) -> EmailRecord | None:
    return next((e for e in services().store.referrals.emails_sent(reference)
                 if e.to == address and e.kind == kind), None)


def status_of(reference: str, address: str, kind: str) -> str | None:
    record = email_record(reference, address, kind)
    return record.status if record else None


def test_a_bouncing_managers_request_is_flagged_to_the_advisors_within_seconds(
        api: Any, client: Any) -> None:
    referral = make_referral(total_pence=30000)
    referral["approving_manager"] = {"name": "Priya Shah", "email": BOUNCING}
    reference = api(referral).json_body["reference"]
    wait_for_email(BOUNCING, "sign off")

    alert = wait_for_email(ADVISORS, "did not arrive", timeout=10)

    assert reference in alert.subject
    assert (f"The email to the approving manager at {BOUNCING} bounced: correct the address "
            "and send it again.") in alert.text
    assert f"http://testserver/staff/referrals/{reference}" in alert.text
    assert status_of(reference, BOUNCING, "sign_off_request") == "bounced"
    # The workflow still waits for the manager's sign-off.
    stored = services().store.referrals.get(reference)
    assert (stored.status, stored.step) == ("awaiting_sign_off", "manager")
    # Every other email arrived.
    wait_for(lambda: status_of(reference, REFERRER, "acknowledgement") == "delivered", 10)

    cookie = sign_in(client)
    case = body(get(client, f"/staff/referrals/{reference}", cookie))
    top = case[:case.index("What you can do now")]
    assert "An email did not arrive" in top and BOUNCING in top
    assert "Bounced: it did not reach the address (the address does not accept mail)" in case
    assert "Delivered" in case
    flagged = body(get(client, "/staff/?view=flagged%3A", cookie))
    assert reference in flagged
    assert len(emails_to(ADVISORS, "did not arrive")) == 1


def test_emails_name_the_configuration_set_as_deployed_and_ses_checks_it(
        aws_stack: Any) -> None:
    """Every email is sent with the configuration set's name, as on AWS (where SES checks it as
    a resource of its own, and publishes the delivery events through it); a set that does not
    exist is refused, as SES refuses it."""
    mailer = services().mailer
    assert mailer.configuration_set == stack.CONFIGURATION_SET
    email = Email(to=REFERRER, subject="s", text="t", html="<p>t</p>", kind="test",
                  reference="PHB-TEST-0001")
    assert mailer.send(email)
    ses = boto3.client("ses", region_name=stack.REGION)
    with pytest.raises(ses.exceptions.ConfigurationSetDoesNotExistException):
        ses.send_raw_email(Source=stack.SENDER, Destinations=[REFERRER],
                           RawMessage={"Data": mailer.to_mime(email)},
                           ConfigurationSetName="no-such-set")
