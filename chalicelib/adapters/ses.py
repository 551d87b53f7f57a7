"""Sending email through SES: real MIME (plain text first, HTML preferred by mail clients)."""

from __future__ import annotations

import re
from typing import Any

from chalicelib.domain.records import Email

TAG_VALUE = re.compile(r"[A-Za-z0-9_-]{1,256}")


class SesMailer:
    def __init__(self, client: Any, sender: str, service_name: str,
                 configuration_set: str = "") -> None:
        self.client = client
        self.sender = sender
        self.service_name = service_name
        self.configuration_set = configuration_set

    def to_mime(self, email: Email) -> bytes:
        """A multipart/alternative message, tagged with its kind."""
        from email.message import EmailMessage
        from email.utils import formataddr, formatdate, make_msgid

        message = EmailMessage()
        message["Subject"] = email.subject
        message["From"] = formataddr((self.service_name, self.sender))
        message["To"] = email.to
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain=self.sender.rsplit("@", 1)[-1])
        message["X-PHB-Kind"] = email.kind
        message.set_content(email.text)
        message.add_alternative(email.html, subtype="html")
        return message.as_bytes()

    def send(self, email: Email) -> str:
        """Send through SES, tagged with the email's kind and referral; SES's message id."""
        kwargs: dict[str, Any] = {
            "Source": self.sender,
            "Destinations": [email.to],
            "RawMessage": {"Data": self.to_mime(email)},
            "Tags": [{"Name": "kind", "Value": email.kind}],
        }
        # SES returns its tags in each delivery event of the message: the reference finds the
        # email's record among the referral's own (tag values allow only letters, digits, _
        # and -, which references are made of).
        if TAG_VALUE.fullmatch(email.reference):
            kwargs["Tags"].append({"Name": "reference", "Value": email.reference})
        if self.configuration_set:
            kwargs["ConfigurationSetName"] = self.configuration_set
        response = self.client.send_raw_email(**kwargs)
        return str(response["MessageId"])
