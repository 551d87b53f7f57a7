"""Emails: rendered from Jinja2 (HTML and plain text), sent through SES.

Emails between health and care organisations are only secure on accredited systems, so every
email carries the referral reference, what is being asked and a link: never patient details.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.config import Settings
from chalicelib.render import render

SUBJECTS = {
    "acknowledgement": "PHB referral {reference} received",
}


@dataclass(frozen=True)
class Email:
    kind: str
    to: str
    subject: str
    text: str
    html: str


def compose(kind: str, to: str, settings: Settings, subject: str | None = None,
            **context: Any) -> Email:
    context = {"settings": settings, **context}
    context["subject"] = subject or SUBJECTS[kind].format(**context)
    return Email(
        kind=kind,
        to=to,
        subject=context["subject"],
        text=render(f"emails/{kind}.txt", **context),
        html=render(f"emails/{kind}.html", **context),
    )


def to_mime(email: Email, settings: Settings) -> bytes:
    """A multipart/alternative message: plain text first, HTML preferred by mail clients."""
    from email.message import EmailMessage
    from email.utils import formataddr, formatdate, make_msgid

    message = EmailMessage()
    message["Subject"] = email.subject
    message["From"] = formataddr((settings.service_name, settings.sender_email))
    message["To"] = email.to
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=settings.sender_email.rsplit("@", 1)[-1])
    message["X-PHB-Kind"] = email.kind
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message.as_bytes()


def send(ses: Any, settings: Settings, email: Email) -> str:
    """Send through SES; returns the message id. Errors propagate so the workflow retries."""
    kwargs: dict[str, Any] = {
        "Source": settings.sender_email,
        "Destinations": [email.to],
        "RawMessage": {"Data": to_mime(email, settings)},
        "Tags": [{"Name": "kind", "Value": email.kind}],
    }
    if settings.ses_configuration_set:
        kwargs["ConfigurationSetName"] = settings.ses_configuration_set
    response = ses.send_raw_email(**kwargs)
    return str(response["MessageId"])
