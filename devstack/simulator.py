"""SES's mailbox simulator and its delivery events, locally (never deployed).

On AWS, SES publishes what became of each message (delivered, bounced, complained of) to
EventBridge, whose rule invokes the pathway function. moto sends nothing back, so this hook on
the app's own SES client (`chalicelib.adapters.aws.CLIENT_HOOKS`) does it instead: a moment
after each SendRawEmail succeeds, it gives the pathway function the event SES would publish, in
the same EventBridge shape, through the same handler real events reach.

As SES's simulator addresses do (`bounce@simulator.amazonses.com`), an address whose local part
starts with `bounce` (`bounce.priya@nhs.net`) bounces permanently and one starting with
`complaint` is complained of; every other address is delivered.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

DELAY_SECONDS = 1.0
ACCOUNT = "123456789012"
REGION = "eu-west-2"
CONFIGURATION_SET = "phb-pathway-local-email"  # the local stack's (devstack/stack.py)

# SES's event type -> the EventBridge detail-type it is published under.
DETAIL_TYPES = {"Bounce": "Email Bounced", "Complaint": "Email Complaint Received",
                "Delivery": "Email Delivered", "Reject": "Email Rejected",
                "DeliveryDelay": "Email Delivery Delayed"}

Handler = Callable[[dict[str, Any], Any], Any]
_handler: list[Handler] = []  # the pathway function events go to (the last stack's)


def outcome_for(address: str) -> str:
    """What SES's simulator would make of a message to `address`: its event type."""
    local = address.rsplit("@", 1)[0].strip().casefold()
    if local.startswith("bounce"):
        return "Bounce"
    if local.startswith("complaint"):
        return "Complaint"
    return "Delivery"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ses_event(event_type: str, message_id: str, destination: list[str],
              tags: dict[str, str] | None = None, source: str = "phb-pathway@example.org",
              bounce_type: str = "Permanent", sent_at: datetime | None = None,
              configuration_set: str = CONFIGURATION_SET) -> dict[str, Any]:
    """The EventBridge event SES publishes for a message: `detail` holds the event record
    (`eventType`, `mail` with its `messageId` and `tags`, and the object of its type), as in
    SES's documentation of event publishing."""
    sent = sent_at or datetime.now(UTC)
    now = _stamp(max(datetime.now(UTC), sent + timedelta(milliseconds=1)))
    mail = {
        "timestamp": _stamp(sent), "source": source, "sendingAccountId": ACCOUNT,
        "sourceArn": f"arn:aws:ses:{REGION}:{ACCOUNT}:identity/{source}",
        "messageId": message_id, "destination": list(destination), "headersTruncated": False,
        "tags": {"ses:configuration-set": [configuration_set],
                 "ses:from-domain": [source.rsplit("@", 1)[-1]],
                 **{name: [value] for name, value in (tags or {}).items()}},
    }
    recipients = [{"emailAddress": address} for address in destination]
    detail: dict[str, Any] = {"eventType": event_type, "mail": mail}
    if event_type == "Bounce":
        detail["bounce"] = {
            "bounceType": bounce_type,
            "bounceSubType": "General" if bounce_type == "Permanent" else "MailboxFull",
            "bouncedRecipients": [{**r, "action": "failed", "status": "5.1.1",
                                   "diagnosticCode": "smtp; 550 5.1.1 user unknown"}
                                  for r in recipients],
            "timestamp": now, "feedbackId": f"{uuid.uuid4()}-000000",
            "reportingMTA": "dsn; simulator.amazonses.com"}
    elif event_type == "Complaint":
        detail["complaint"] = {"complainedRecipients": recipients, "timestamp": now,
                               "feedbackId": f"{uuid.uuid4()}-000000",
                               "complaintFeedbackType": "abuse"}
    elif event_type == "Delivery":
        detail["delivery"] = {"timestamp": now, "recipients": list(destination),
                              "processingTimeMillis": 400, "smtpResponse": "250 2.6.0 Message "
                              "received", "reportingMTA": "simulator.amazonses.com"}
    elif event_type == "Reject":
        detail["reject"] = {"reason": "Bad content"}
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": DETAIL_TYPES[event_type],
        "source": "aws.ses", "account": ACCOUNT, "time": now, "region": REGION,
        "resources": [f"arn:aws:ses:{REGION}:{ACCOUNT}:configuration-set/{configuration_set}"],
        "detail": detail,
    }


def install(handler: Handler) -> None:
    """Send simulated SES events to `handler` (the Chalice app's pathway function) for every
    email the app's SES client sends from now on."""
    from chalicelib.adapters import aws

    _handler[:] = [handler]
    if hook not in aws.CLIENT_HOOKS:
        aws.CLIENT_HOOKS.append(hook)


def hook(client: Any) -> None:
    """Watch SendRawEmail on the app's SES client (other clients are left alone)."""
    if client.meta.service_model.service_name != "ses":
        return
    client.meta.events.register("before-parameter-build.ses.SendRawEmail", _remember)
    client.meta.events.register("after-call.ses.SendRawEmail", _after_send)


def _remember(params: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> None:
    context["phb_simulator"] = (list(params.get("Destinations") or []),
                                {t["Name"]: t["Value"] for t in params.get("Tags") or []},
                                str(params.get("Source", "")),
                                str(params.get("ConfigurationSetName") or CONFIGURATION_SET))


def _after_send(http_response: Any, parsed: dict[str, Any], context: dict[str, Any],
                **kwargs: Any) -> None:
    sent = context.get("phb_simulator")
    if sent is None or http_response.status_code >= 300 or not _handler:
        return
    destinations, tags, source, configuration_set = sent
    event_type = outcome_for(destinations[0]) if destinations else "Delivery"
    event = ses_event(event_type, str(parsed.get("MessageId", "")), destinations, tags,
                      source=source, configuration_set=configuration_set)
    timer = threading.Timer(DELAY_SECONDS, _deliver, args=(_handler[0], event))
    timer.daemon = True
    timer.start()


def _deliver(handler: Handler, event: dict[str, Any]) -> None:
    """Hand the event to the pathway function. By now the test or the local stack that sent
    the email may be gone (its table emptied, moto stopped): nothing is left to update."""
    try:
        handler(event, None)
    except Exception:
        log.debug("a simulated SES event found nothing to update", exc_info=True)
