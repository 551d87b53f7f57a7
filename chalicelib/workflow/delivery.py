"""What SES says became of each email: its configuration set publishes bounce, complaint,
delivery, delay and reject events to EventBridge, whose rule invokes the pathway function with
them (`tasks.run` hands every `aws.ses` event here). In the local stage the mailbox simulator
(`devstack/simulator.py`) sends the same events to the same function.

Each event sets the status of the email's record (found by the `reference` tag the mailer puts
on every message, then by SES's message id among that referral's emails). An email that asked
someone to act on the step the referral still waits on, and did not reach them, flags the
referral for the advisors: a history event, the flagged view, and an email to the advisors
naming the address to correct. The referral's status does not change: the step still waits,
and an advisor corrects the address and sends it again.

SES delivers events at least once and in any order: recording a status is conditional on the
one it replaces, and flagging and emailing the advisors happen once per email, so a repeated
event changes nothing. Events are untrusted input: anything unexpected is ignored and logged
without personal data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.domain import delivery
from chalicelib.domain.dates import iso, now_iso, parse_iso
from chalicelib.domain.errors import NotFound
from chalicelib.domain.identifiers import parse_reference
from chalicelib.domain.identity import same_address

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services
    from chalicelib.domain.records import EmailRecord, StoredReferral

log = logging.getLogger(__name__)

# SES's event type -> the email's status, and the object of the event that holds its time.
STATUSES = {"Bounce": "bounced", "Complaint": "complained", "Delivery": "delivered",
            "Reject": "rejected", "DeliveryDelay": "delayed"}
DETAIL_OBJECTS = {"Bounce": "bounce", "Complaint": "complaint", "Delivery": "delivery",
                  "Reject": "reject", "DeliveryDelay": "deliveryDelay"}


@dataclass(frozen=True)
class Report:
    """What one SES event says about one message."""

    message_id: str
    reference: str | None  # from the message's `reference` tag
    status: str
    at: str
    bounce_type: str | None = None


def parse(event: dict[str, Any]) -> Report | None:
    """The report in an EventBridge event from SES, or None when it is not one we use."""
    detail = event.get("detail")
    if not isinstance(detail, dict):
        return None
    event_type = str(detail.get("eventType", ""))
    mail = detail.get("mail")
    status = STATUSES.get(event_type)
    if status is None or not isinstance(mail, dict):
        return None
    message_id = mail.get("messageId")
    if not isinstance(message_id, str) or not 0 < len(message_id) <= 200:
        return None
    about = detail.get(DETAIL_OBJECTS[event_type])
    about = about if isinstance(about, dict) else {}
    bounce_type = None
    if status == "bounced":
        typed = str(about.get("bounceType", "")).casefold()
        bounce_type = typed if typed in delivery.BOUNCE_TYPES else "undetermined"
    return Report(message_id, _tagged_reference(mail.get("tags")), status,
                  _when(about.get("timestamp")), bounce_type)


def _tagged_reference(tags: Any) -> str | None:
    values = tags.get("reference") if isinstance(tags, dict) else None
    if not isinstance(values, list) or not values or not isinstance(values[0], str):
        return None
    return parse_reference(values[0][:40])


def _when(stamp: Any) -> str:
    """The event's own time, as the table stores times; now when it has none (a reject)."""
    try:
        return iso(parse_iso(stamp)) if isinstance(stamp, str) else now_iso()
    except ValueError:
        return now_iso()


class NotYetRecorded(Exception):
    """An SES event about a referral's email whose record is not written yet."""


def record(svc: Services, event: dict[str, Any]) -> dict[str, Any]:
    """Record what an SES event says of one of the service's emails; flag its referral for
    the advisors when the email did not reach whoever the referral waits on."""
    report = parse(event)
    if report is None:
        log.info("ignored an SES event: not a delivery event of a message")
        return {"recorded": False}
    referrals = svc.store.referrals
    email = None
    if report.reference:
        try:
            email = referrals.email_by_message_id(report.reference, report.message_id)
        except NotFound:
            email = None
        else:
            if email is None:
                # The referral's email, reported before its record was written (an instant
                # reject): failing lets Lambda deliver the event again, a minute later.
                raise NotYetRecorded(report.message_id)
    if email is None:
        # Not a referral's email (a staff sign-in, or one whose referral is gone). The message
        # id names no one; the address is never logged.
        log.info("no referral's email has SES message id %s (%s)", report.message_id,
                 report.status)
        return {"recorded": False}
    recorded = referrals.record_delivery(report.reference or "", email.key, report.status,
                                         report.at, report.bounce_type)
    flagged = False
    if delivery.stops_the_step(report.status, report.bounce_type):
        # Every copy of the event tries again: flagging and the advisors' email happen once,
        # so a copy after a failure to email them completes what the first began.
        flagged = flag(svc, report, email)
    return {"recorded": recorded, "flagged": flagged}


def flag(svc: Services, report: Report, email: EmailRecord) -> bool:
    """Tell the advisors an email asking someone to act on the step the referral still waits
    on did not arrive, naming the address to correct; True if the referral is flagged."""
    from chalicelib.workflow import notices

    referrals = svc.store.referrals
    stored = referrals.get(report.reference or "")
    step = delivery.asked_to_act(email)
    if step is None or not stored.answers or not delivery.step_still_waits(stored, step):
        return False
    referrals.flag_undelivered(stored.reference, email.key,
                               {"step": step, "email": email.kind, "to": email.to,
                                "status": report.status})
    outcome, remedy = _outcome(report.status)
    notices.send(svc, "undelivered", stored, list(svc.settings.advisor_emails),
                 notice=report.message_id, step=step, page=notices.staff_case(stored.reference),
                 recipient=recipient(stored, step, email.to), outcome=outcome, remedy=remedy)
    return True


def _outcome(status: str) -> tuple[str, str]:
    from chalicelib.workflow.wording import UNDELIVERED_OUTCOMES

    return UNDELIVERED_OUTCOMES[status]


def recipient(stored: StoredReferral, step: str, address: str) -> str:
    """Whom the email was for, as the advisors' email names them: their role and address
    ("the approving manager at jo@nhs.net"), but never the person's own address, which would
    identify them."""
    from chalicelib.domain.referral import load_stored
    from chalicelib.workflow.wording import PERSON_ADDRESS, UNDELIVERED_TO

    referral = load_stored(stored.answers)
    if referral.person.email and same_address(address, referral.person.email):
        return UNDELIVERED_TO["agreement"] + PERSON_ADDRESS
    who = UNDELIVERED_TO.get(step, "the recipient")
    if same_address(address, referral.referrer.email):
        who = UNDELIVERED_TO["referrer"]
    return f"{who} at {address}"
