"""The routes of a referrer's own referrals. Every one except the two sign-in routes starts
with `sessions.require_referrer` (through the handlers it calls), and every one naming a
reference answers 404 unless the referral is the signed-in referrer's:
tests/http/test_my_referrals.py checks each route the app has under /my-referrals."""

from __future__ import annotations

from chalice.app import Blueprint, Response

from chalicelib.bootstrap import services
from chalicelib.web.requests import body_of

referrers = Blueprint(__name__)
FORM = ["application/x-www-form-urlencoded"]


@referrers.route("/my-referrals/sign-in", methods=["GET"])
def referrer_sign_in() -> Response:
    from chalicelib.referrers import sign_in

    return sign_in.sign_in_page(services())


@referrers.route("/my-referrals/sign-in", methods=["POST"], content_types=FORM)
def referrer_sign_in_request() -> Response:
    from chalicelib.referrers import sign_in

    return sign_in.request_link(services(), body_of(referrers.current_request))


@referrers.route("/my-referrals/sign-in/{link_id}", methods=["GET"])
def referrer_sign_in_confirm(link_id: str) -> Response:
    from chalicelib.referrers import sign_in

    return sign_in.confirm_page(services(), link_id)


@referrers.route("/my-referrals/sign-in/{link_id}", methods=["POST"], content_types=FORM)
def referrer_sign_in_use(link_id: str) -> Response:
    from chalicelib.referrers import sign_in

    return sign_in.use_link(services(), link_id)


@referrers.route("/my-referrals/sign-out", methods=["POST"], content_types=FORM)
def referrer_sign_out() -> Response:
    from chalicelib.referrers import sessions

    return sessions.sign_out(services(), referrers.current_request)


@referrers.route("/my-referrals", methods=["GET"])
def my_referrals() -> Response:
    from chalicelib.referrers import pages

    return pages.home(services(), referrers.current_request)


@referrers.route("/my-referrals/{reference}", methods=["GET"])
def my_referral(reference: str) -> Response:
    from chalicelib.referrers import pages

    return pages.referral(services(), referrers.current_request, reference)


@referrers.route("/my-referrals/{reference}/withdraw", methods=["GET"])
def my_referral_withdraw_page(reference: str) -> Response:
    from chalicelib.referrers import pages

    return pages.withdraw_page(services(), referrers.current_request, reference)


@referrers.route("/my-referrals/{reference}/withdraw", methods=["POST"], content_types=FORM)
def my_referral_withdraw(reference: str) -> Response:
    from chalicelib.referrers import pages

    return pages.act(services(), referrers.current_request, reference, "withdraw")


@referrers.route("/my-referrals/{reference}/open", methods=["POST"], content_types=FORM)
def my_referral_open(reference: str) -> Response:
    from chalicelib.referrers import pages

    return pages.act(services(), referrers.current_request, reference, "open")


@referrers.route("/my-referrals/{reference}/resend", methods=["POST"], content_types=FORM)
def my_referral_resend(reference: str) -> Response:
    from chalicelib.referrers import pages

    return pages.act(services(), referrers.current_request, reference, "resend")
