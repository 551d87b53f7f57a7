"""The intake routes: the JSON API, its OpenAPI document, the referral form and a referral's
public status page. Each parses the request, calls one function and returns its response; the
modules behind them load on first use, so `import app` stays cheap."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.bootstrap import services
from chalicelib.web.requests import body_of, query_of
from chalicelib.web.responses import json_response

intake = Blueprint(__name__)
FORM = ["application/x-www-form-urlencoded"]


# Every Content-Type reaches the handler, which answers an unsupported one with the documented
# JSON error (415) rather than Chalice's own {"Code": ..., "Message": ...} body.
@intake.route("/api/referrals", methods=["POST"], content_types=["*/*"])
def create_referral() -> Response:
    from chalicelib.intake import api

    request = intake.current_request
    return api.create_referral(services(), body_of(request),
                               request.headers.get("idempotency-key"),
                               request.headers.get("content-type"))


@intake.route("/api/referrals/{reference}", methods=["GET"], content_types=["*/*"])
def referral_status(reference: str) -> Response:
    from chalicelib.intake import api

    return api.referral_status(services(), reference)


@intake.route("/openapi.json", methods=["GET"], content_types=["*/*"])
def openapi_document() -> Response:
    from chalicelib.intake import openapi

    return json_response(openapi.document())


def _draft_id() -> str | None:
    from chalicelib.intake.pages import draft_id_from

    return draft_id_from(intake.current_request.headers.get("cookie"))


def _changing() -> bool:
    return query_of(intake.current_request).get("change") == "1"


@intake.route("/referral", methods=["GET"])
def referral_start() -> Response:
    from chalicelib.intake import pages

    expired = query_of(intake.current_request).get("expired") == "1"
    return pages.start_page(expired=expired)


@intake.route("/referral/start", methods=["POST"], content_types=FORM)
def referral_new() -> Response:
    from chalicelib.intake import pages

    return pages.start_draft(services())


@intake.route("/referral/check", methods=["GET"])
def referral_check() -> Response:
    from chalicelib.intake import pages

    return pages.check_page(services(), _draft_id())


@intake.route("/referral/check", methods=["POST"], content_types=FORM)
def referral_submit() -> Response:
    from chalicelib.intake import pages

    return pages.submit(services(), _draft_id())


@intake.route("/referral/confirmation/{reference}", methods=["GET"])
def referral_confirmation(reference: str) -> Response:
    from chalicelib.intake import pages

    return pages.confirmation(services(), reference)


@intake.route("/referral/{section}", methods=["GET"])
def referral_section(section: str) -> Response:
    from chalicelib.intake import pages

    return pages.section_page(services(), section, _draft_id(), _changing())


@intake.route("/referral/{section}", methods=["POST"], content_types=FORM)
def referral_section_save(section: str) -> Response:
    from chalicelib.intake import pages

    return pages.save_section(services(), section, _draft_id(),
                              body_of(intake.current_request), _changing())


@intake.route("/referrals/{reference}", methods=["GET"])
def referral_status_page(reference: str) -> Response:
    from chalicelib.intake import pages

    return pages.status_page(services(), reference)
