"""Routes that exist only in the local stage: the outbox of every email sent, and the fault
switch that makes the app's next AWS calls fail (devstack/faults.py).

app.py registers this Blueprint only when PHB_STAGE is local or test (and not inside AWS
Lambda), so it is never deployed.
"""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.web.requests import body_of
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


@local.route("/dev/faults", methods=["GET"])
def faults_armed() -> Response:
    from devstack import faults

    return json_response([fault.as_dict() for fault in faults.armed()])


@local.route("/dev/faults", methods=["POST"], content_types=["application/json"])
def arm_fault() -> Response:
    """Arm a fault: `{"operation": "SendRawEmail", "error": "MessageRejected", "times": 1}`,
    optionally with `recipient` or `key`."""
    import json

    from devstack import faults

    try:
        fault = faults.arm(json.loads(body_of(local.current_request) or b"null"))
    except ValueError as bad:  # BadFault, or a body that is not JSON
        return json_response({"error": str(bad)}, status=422)
    return json_response(fault.as_dict(), status=201)


@local.route("/dev/faults", methods=["DELETE"])
def clear_faults() -> Response:
    from devstack import faults

    faults.clear()
    return Response(body="", status_code=204)
