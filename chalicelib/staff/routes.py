"""The staff console's routes. Every one except the two sign-in routes starts with
`sessions.require_staff` (through the handlers it calls); tests/http/test_staff_sign_in.py
checks each."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.bootstrap import services
from chalicelib.web.requests import body_of

staff = Blueprint(__name__)
FORM = ["application/x-www-form-urlencoded"]


@staff.route("/staff/sign-in", methods=["GET"])
def staff_sign_in() -> Response:
    from chalicelib.staff import sign_in

    return sign_in.sign_in_page(services())


@staff.route("/staff/sign-in", methods=["POST"], content_types=FORM)
def staff_sign_in_request() -> Response:
    from chalicelib.staff import sign_in

    request = staff.current_request
    return sign_in.request_link(services(), body_of(request))


@staff.route("/staff/sign-in/{link_id}", methods=["GET"])
def staff_sign_in_confirm(link_id: str) -> Response:
    from chalicelib.staff import sign_in

    return sign_in.confirm_page(services(), link_id)


@staff.route("/staff/sign-in/{link_id}", methods=["POST"], content_types=FORM)
def staff_sign_in_use(link_id: str) -> Response:
    from chalicelib.staff import sign_in

    return sign_in.use_link(services(), link_id)


@staff.route("/staff/sign-out", methods=["POST"], content_types=FORM)
def staff_sign_out() -> Response:
    from chalicelib.staff import sessions

    return sessions.sign_out(services(), staff.current_request)


@staff.route("/staff", methods=["GET"])
def staff_worklist() -> Response:
    from chalicelib.staff import worklist

    return worklist.worklist(services(), staff.current_request)


@staff.route("/staff/referrals/{reference}", methods=["GET"])
def staff_case(reference: str) -> Response:
    from chalicelib.staff import case

    return case.case(services(), staff.current_request, reference)


@staff.route("/staff/referrals/{reference}/amend", methods=["GET"])
def staff_amend(reference: str) -> Response:
    from chalicelib.staff import case

    return case.amend_page(services(), staff.current_request, reference)


@staff.route("/staff/referrals/{reference}/amend", methods=["POST"], content_types=FORM)
def staff_amend_change(reference: str) -> Response:
    # Its own route: the page's GET route would otherwise hide the case actions' POST route.
    from chalicelib.staff import case

    return case.act(services(), staff.current_request, reference, "amend")


@staff.route("/staff/referrals/{reference}/{action}", methods=["POST"], content_types=FORM)
def staff_case_action(reference: str, action: str) -> Response:
    from chalicelib.staff import case

    return case.act(services(), staff.current_request, reference, action)


@staff.route("/staff/reports", methods=["GET"])
def staff_reports() -> Response:
    from chalicelib.staff import reports

    return reports.reports_page(services(), staff.current_request)


@staff.route("/staff/reports/{name}", methods=["GET"])
def staff_report_csv(name: str) -> Response:
    from chalicelib.staff import reports

    return reports.download_csv(services(), staff.current_request, name)
