"""Signing in to the staff console by a one-time emailed link.

A person types their email; if it is on the staff list (`PHB_STAFF_EMAILS`) they are emailed a
link that works once, for 15 minutes (the same one-time links as the action links'). The answer
page is the same whether or not the address is on the list. Opening the link only shows a
"Sign in" button (mail scanners fetch links); its POST uses the link up and sets the session
cookie (`sessions.py`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from chalice.app import Response

from chalicelib.actions import links
from chalicelib.actions.links import SIGN_IN, LinkProblem, Wording
from chalicelib.domain.errors import FieldError
from chalicelib.domain.identifiers import sha256
from chalicelib.domain.policy import STAFF_SIGN_IN_LINK_SECONDS
from chalicelib.staff.sessions import (
    encode_session,
    new_session,
    not_configured,
    secret_for,
    set_cookie,
    staff_member,
)
from chalicelib.web.forms import FormRejected, parse_form
from chalicelib.web.responses import form_context, page, redirect

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services
    from chalicelib.config import Settings

SIGN_IN_PATHS = ("/staff/sign-in", "/staff/sign-in/{link_id}")
MINUTES = STAFF_SIGN_IN_LINK_SECONDS // 60
USED = ("This sign-in link has already been used",
        "Each sign-in link works once. Ask for a new one.")
WORDING = Wording(
    unknown=("This sign-in link is not valid",
             "Check you copied the whole link from the email, or ask for a new one."),
    used=USED,
    expired=("This sign-in link has expired",
             f"Sign-in links work for {MINUTES} minutes. Ask for a new one."),
)


def from_another_site(headers: Any, settings: Settings) -> bool:
    """True for a POST a browser sent from another site's page. The two sign-in forms carry no
    CSRF token (nobody is signed in yet), so a page elsewhere could otherwise sign a visitor in
    as someone else, or send sign-in emails in their name."""
    fetch_site = (headers.get("sec-fetch-site") or "").lower()
    if fetch_site:  # every current browser says where a request comes from
        return fetch_site == "cross-site"
    origin = (headers.get("origin") or "").strip()
    # No Origin (not a browser) or "null" (what browsers send under this service's
    # no-referrer policy): nothing to compare.
    if not origin or origin == "null":
        return False
    ours = urlsplit(settings.public_base_url)
    return origin.rstrip("/").lower() != f"{ours.scheme}://{ours.netloc}".lower()


def _cross_site() -> Response:
    return page("staff/problem.html", status=403, title="You cannot do that",
                message="This form did not come from this service. Open the staff console's "
                        "own sign-in page and try again.", sign_in=True)


def _problem(problem: LinkProblem) -> Response:
    return page("staff/problem.html", status=problem.status, title=problem.title,
                message=problem.message, sign_in=True)


def sign_in_page(svc: Services) -> Response:
    if secret_for(svc.settings) is None:
        return not_configured()
    return _email_form({}, [], 200)


def _email_form(values: dict[str, str], errors: list[FieldError], status: int) -> Response:
    return page("staff/sign_in.html", status=status, anchor=lambda name: name,
                **form_context(errors, values))


def _check_email(text: str) -> str | FieldError:
    """The address typed as every address is kept (one SES can send to), or the error."""
    from chalicelib.domain.identity import sendable_address
    from chalicelib.domain.text import Refused

    text = text.strip()
    if not text:
        return FieldError("email", "Enter your email address")
    if len(text) > 254:
        return FieldError("email", "Email address must be 254 characters or fewer")
    try:
        return sendable_address(text)
    except Refused as refused:
        if refused.code == "email":
            return FieldError("email", "Enter an email address in the correct format, like "
                                       "name@nhs.net")
        return FieldError("email", f"Email address {refused.message}")


def request_link(svc: Services, body: bytes, headers: Any) -> Response:
    """Email a sign-in link if the address is staff; the answer is the same either way."""
    if secret_for(svc.settings) is None:
        return not_configured()
    if from_another_site(headers, svc.settings):
        return _cross_site()
    try:
        posted = parse_form(body)
    except FormRejected as exc:
        return page("staff/problem.html", status=400, title="There is a problem with the form",
                    message=exc.message)
    typed = posted.get("email", "")
    checked = _check_email(typed)
    if isinstance(checked, FieldError):
        return _email_form({"email": typed}, [checked], 422)
    member = staff_member(checked, svc.settings)
    if member is not None:
        _send_link(svc, member)
    return page("staff/check_email.html")


def _send_link(svc: Services, email: str) -> None:
    from chalicelib.web.render import render_email

    settings = svc.settings
    link_id = links.issue(svc.store.links, SIGN_IN, email, STAFF_SIGN_IN_LINK_SECONDS)
    svc.mailer.send(render_email(
        "sign_in", to=email, settings=settings, subject=f"Sign in to {settings.service_name}",
        link_url=f"{settings.public_base_url}/staff/sign-in/{link_id}", minutes=MINUTES,
        reference="staff sign-in"))


def confirm_page(svc: Services, link_id: str) -> Response:
    """What opening the link shows: a button. Only its POST signs in (scanners fetch GETs)."""
    if secret_for(svc.settings) is None:
        return not_configured()
    try:
        links.look_up(svc.store.links, SIGN_IN, link_id, WORDING)
    except LinkProblem as problem:
        return _problem(problem)
    return page("staff/confirm.html")


def use_link(svc: Services, link_id: str, headers: Any) -> Response:
    settings = svc.settings
    secret = secret_for(settings)
    if secret is None:
        return not_configured()
    if from_another_site(headers, settings):
        return _cross_site()
    try:
        link = links.look_up(svc.store.links, SIGN_IN, link_id, WORDING)
        if not svc.store.links.use(link.id_hash, int(time.time())):
            links.look_up(svc.store.links, SIGN_IN, link_id, WORDING)  # used or expired since
            raise LinkProblem(409, *USED)
    except LinkProblem as problem:
        return _problem(problem)
    member = staff_member(link.recipient, settings)
    if member is None:
        return _problem(LinkProblem(403, "You cannot sign in",
                                    "This address is no longer on the staff list."))
    # The history names each person as the staff list does, whatever they typed to sign in.
    session = new_session(member)
    svc.store.sessions.start(sha256(session.csrf), session.email, session.expires)
    cookie = encode_session(session, secret)
    return redirect("/staff/", headers={"Set-Cookie": set_cookie(cookie, settings)})
