"""Routes that exist only in the local stage: the outbox of every email sent.

app.py registers this Blueprint only when PHB_STAGE is local or test, so it is never deployed.
"""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.web.responses import json_response, page

local = Blueprint(__name__)


@local.route("/dev/outbox", methods=["GET"])
def outbox() -> Response:
    from devstack.outbox import sent_emails

    return page("dev/outbox.html", emails=list(reversed(sent_emails())))


@local.route("/dev/outbox.json", methods=["GET"])
def outbox_json() -> Response:
    from devstack.outbox import sent_emails

    return json_response([email.as_dict() for email in sent_emails()])


@local.route("/dev/outbox/{message_id}", methods=["GET"])
def outbox_email(message_id: str) -> Response:
    from devstack.outbox import sent_emails

    for email in sent_emails():
        if email.id == message_id:
            # The email's own HTML, as a mail client shows it: inline styles, no scripts.
            return Response(
                body=email.html,
                status_code=200,
                headers={
                    "Content-Type": "text/html; charset=utf-8",
                    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
                    "Referrer-Policy": "no-referrer",
                },
            )
    return page("error.html", status=404, title="Email not found",
                message="There is no email with that id in the outbox.")
