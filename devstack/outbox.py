"""Emails sent through moto's SES, read back for the local outbox and for tests.

The app sends real MIME through `SendRawEmail`; moto keeps each message. This module parses
them into what a person would see: who to, the subject, the plain text and HTML bodies.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from email import message_from_bytes, policy
from email.utils import parsedate_to_datetime
from typing import Any


@dataclass(frozen=True)
class SentEmail:
    id: str
    to: str
    subject: str
    text: str
    html: str
    sent_at: str
    kind: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _backend() -> Any:
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    region = os.environ.get("AWS_DEFAULT_REGION", "eu-west-2")
    return ses_backends[DEFAULT_ACCOUNT_ID][region]


# Each message parsed once: a test polling the outbox while hundreds of emails go out must not
# parse every one of them again on every look.
_parsed: dict[str, SentEmail] = {}


def sent_emails() -> list[SentEmail]:
    """Every email sent so far, oldest first."""
    emails = []
    for message in list(_backend().sent_messages):
        raw = getattr(message, "raw_data", None)
        if raw is None:
            continue
        email = _parsed.get(message.id)
        if email is None:
            email = _parsed[message.id] = _parse(message.id, raw)
        emails.append(email)
    return emails


def _parse(message_id: str, raw: str | bytes) -> SentEmail:
    parsed = message_from_bytes(raw.encode() if isinstance(raw, str) else raw,
                                policy=policy.default)
    text_part = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    return SentEmail(
        id=message_id,
        to=str(parsed["To"]),
        subject=str(parsed["Subject"]),
        text=text_part.get_content() if text_part else "",
        html=html_part.get_content() if html_part else "",
        sent_at=parsedate_to_datetime(str(parsed["Date"])).isoformat(),
        kind=str(parsed.get("X-PHB-Kind", "")),
    )


def clear() -> None:
    _backend().sent_messages.clear()
    _parsed.clear()
