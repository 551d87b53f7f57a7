"""PHB Pathway: HTTP routes and Lambda entry points.

Each handler parses the request, calls one function in chalicelib and shapes the response.
Heavy modules (pydantic models, Jinja2, boto3) load on first use, not at import: importing this
file is every Lambda cold start.
"""

from __future__ import annotations

import os
from typing import Any

from chalice import Chalice, Rate, Response

from chalicelib import web

app = Chalice(app_name="phb-pathway")
FORM = ["application/x-www-form-urlencoded"]


# --- JSON API -------------------------------------------------------------------------------


# Every Content-Type reaches the handler, which answers an unsupported one with the documented
# JSON error (415) rather than Chalice's own {"Code": ..., "Message": ...} body.
@app.route("/api/referrals", methods=["POST"], content_types=["*/*"])
def create_referral() -> Response:
    from chalicelib import api

    request = app.current_request
    return api.create_referral(request.raw_body or b"", request.headers.get("idempotency-key"),
                               request.headers.get("content-type"))


@app.route("/api/referrals/{reference}", methods=["GET"], content_types=["*/*"])
def referral_status(reference: str) -> Response:
    from chalicelib import api

    return api.referral_status(reference)


@app.route("/openapi.json", methods=["GET"], content_types=["*/*"])
def openapi_document() -> Response:
    from chalicelib import openapi

    return web.json_response(openapi.document())


# --- The referral form ----------------------------------------------------------------------


def _draft_id() -> str | None:
    from chalicelib.pages import draft_id_from

    return draft_id_from(app.current_request.headers.get("cookie"))


def _changing() -> bool:
    return (app.current_request.query_params or {}).get("change") == "1"


@app.route("/", methods=["GET"])
def home() -> Response:
    return web.redirect("/referral")


@app.route("/referral", methods=["GET"])
def referral_start() -> Response:
    from chalicelib import pages

    return pages.start_page(expired=(app.current_request.query_params or {}).get("expired") == "1")


@app.route("/referral/start", methods=["POST"], content_types=FORM)
def referral_new() -> Response:
    from chalicelib import pages

    return pages.start_draft()


@app.route("/referral/check", methods=["GET"])
def referral_check() -> Response:
    from chalicelib import pages

    return pages.check_page(_draft_id())


@app.route("/referral/check", methods=["POST"], content_types=FORM)
def referral_submit() -> Response:
    from chalicelib import pages

    return pages.submit(_draft_id())


@app.route("/referral/confirmation/{reference}", methods=["GET"])
def referral_confirmation(reference: str) -> Response:
    from chalicelib import pages

    return pages.confirmation(reference)


@app.route("/referral/{section}", methods=["GET"])
def referral_section(section: str) -> Response:
    from chalicelib import pages

    return pages.section_page(section, _draft_id(), _changing())


@app.route("/referral/{section}", methods=["POST"], content_types=FORM)
def referral_section_save(section: str) -> Response:
    from chalicelib import pages

    return pages.save_section(section, _draft_id(), app.current_request.raw_body or b"",
                              _changing())


@app.route("/referrals/{reference}", methods=["GET"])
def referral_status_page(reference: str) -> Response:
    from chalicelib import pages

    return pages.status_page(reference)


# --- Action links (sign-off, agreement, release, review, closure, withdrawal) -------------------


@app.route("/act/{action}/{link_id}", methods=["GET"])
def action_page(action: str, link_id: str) -> Response:
    from chalicelib import actions

    return actions.show(action, link_id)


@app.route("/act/{action}/{link_id}", methods=["POST"], content_types=FORM)
def action_submit(action: str, link_id: str) -> Response:
    from chalicelib import actions

    return actions.act(action, link_id, app.current_request.raw_body or b"")


@app.route("/static/{name}", methods=["GET"])
def static(name: str) -> Response:
    return web.static_file(name)


# --- Step Functions tasks -------------------------------------------------------------------


@app.lambda_function(name="pathway")
def pathway(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from chalicelib import tasks

    return tasks.run(event)


@app.schedule(Rate(1, unit=Rate.DAYS), name="retention")
def retention(event: Any) -> dict[str, Any]:
    """Daily: remove personal data from referrals that ended before the retention period."""
    from chalicelib import aws
    from chalicelib.config import get_settings
    from chalicelib.dataprotection import run_retention
    from chalicelib.store import ReferralStore

    settings = get_settings()
    done = run_retention(ReferralStore(aws.client("dynamodb"), settings.table_name), settings)
    return {"anonymised": len(done)}


# --- Local stage only -----------------------------------------------------------------------

if os.environ.get("PHB_STAGE", "local") in ("local", "test"):
    from chalicelib import devroutes

    devroutes.register(app)


# --- Staff ----------------------------------------------------------------------------------
# Every /staff route except the two sign-in ones starts with staff.require_staff (through the
# handlers in chalicelib/staff.py); tests/http/test_staff_sign_in.py checks each one.


@app.route("/staff/sign-in", methods=["GET"])
def staff_sign_in() -> Response:
    from chalicelib import staff

    return staff.sign_in_page()


@app.route("/staff/sign-in", methods=["POST"], content_types=FORM)
def staff_sign_in_request() -> Response:
    from chalicelib import staff

    request = app.current_request
    return staff.request_link(request.raw_body or b"", request.headers)


@app.route("/staff/sign-in/{link_id}", methods=["GET"])
def staff_sign_in_confirm(link_id: str) -> Response:
    from chalicelib import staff

    return staff.confirm_page(link_id)


@app.route("/staff/sign-in/{link_id}", methods=["POST"], content_types=FORM)
def staff_sign_in_use(link_id: str) -> Response:
    from chalicelib import staff

    return staff.use_link(link_id, app.current_request.headers)


@app.route("/staff", methods=["GET"])
def staff_worklist() -> Response:
    from chalicelib import console

    return console.worklist(app.current_request)


@app.route("/staff/referrals/{reference}", methods=["GET"])
def staff_case(reference: str) -> Response:
    from chalicelib import console

    return console.case(app.current_request, reference)


@app.route("/staff/referrals/{reference}/{action}", methods=["POST"], content_types=FORM)
def staff_case_action(reference: str, action: str) -> Response:
    from chalicelib import console

    if action == "export":
        return console.export(app.current_request, reference)
    return console.act(app.current_request, reference, action)


@app.route("/staff/reports", methods=["GET"])
def staff_reports() -> Response:
    from chalicelib import staff_reports

    return staff_reports.reports_page(app.current_request)


@app.route("/staff/reports/{name}", methods=["GET"])
def staff_report_csv(name: str) -> Response:
    from chalicelib import staff_reports

    return staff_reports.download(app.current_request, name)


@app.route("/staff/sign-out", methods=["POST"], content_types=FORM)
def staff_sign_out() -> Response:
    from chalicelib import staff

    return staff.sign_out(app.current_request)
