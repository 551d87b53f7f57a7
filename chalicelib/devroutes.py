"""Routes that exist only in the local stage: the outbox of every email sent.

Registered by app.py when PHB_STAGE is local or test, so they are never deployed.
"""

from __future__ import annotations

from chalice import Chalice, Response

from chalicelib import web


def register(app: Chalice) -> None:
    @app.route("/dev/outbox", methods=["GET"])
    def outbox() -> Response:
        from devstack.outbox import sent_emails

        emails = list(reversed(sent_emails()))
        return web.page("dev/outbox.html", emails=emails)

    @app.route("/dev/outbox.json", methods=["GET"])
    def outbox_json() -> Response:
        from devstack.outbox import sent_emails

        return web.json_response([email.as_dict() for email in sent_emails()])

    @app.route("/dev/outbox/{message_id}", methods=["GET"])
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
        return web.page("error.html", status=404, title="Email not found",
                        message="There is no email with that id in the outbox.")

