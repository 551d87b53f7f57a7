"""Signing in to the staff console by a one-time emailed link.

A person types their own email; if it is on the staff list (`PHB_STAFF_EMAILS`: people, each by
name and their own address) they are emailed a link that works once, for 15 minutes (the same
one-time links as the action links'), at most `PHB_SIGN_IN_LINKS_CAP` in 15 minutes. The page
answers the same, in the same time, whether or not the address is on the list: the request only
hands the address to the pathway function, which checks it and sends the link a moment later.
Opening the link only shows a "Sign in" button (mail scanners fetch links); its POST uses the
link up and sets the session cookie (`sessions.py`).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from chalice.app import Response

from chalicelib.actions import links
from chalicelib.actions.links import SIGN_IN, LinkProblem, Wording
from chalicelib.domain.errors import FieldError
from chalicelib.domain.identifiers import sha256
from chalicelib.domain.policy import SIGN_IN_CAP_SECONDS, STAFF_SIGN_IN_LINK_SECONDS
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

log = logging.getLogger(__name__)
SEND_LINK_TASK = "sign_in_link"
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


def check_email(text: str) -> str | FieldError:
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


def request_link(svc: Services, body: bytes) -> Response:
    """Email a sign-in link if the address is staff; the answer is the same either way."""
    if secret_for(svc.settings) is None:
        return not_configured()
    try:
        posted = parse_form(body)
    except FormRejected as exc:
        return page("staff/problem.html", status=400, title="There is a problem with the form",
                    message=exc.message)
    typed = posted.get("email", "")
    checked = check_email(typed)
    if isinstance(checked, FieldError):
        return _email_form({"email": typed}, [checked], 422)
    # The same work whatever the address: whether it is staff's, and the link, are the
    # pathway function's to find out after this page has answered, so the time this takes
    # does not tell anyone which addresses are staff's.
    svc.background.start(SEND_LINK_TASK, {"email": checked})
    return page("staff/check_email.html")


def send_link_if_staff(svc: Services, email: str) -> dict[str, str]:
    """The pathway function's task: email a sign-in link if `email` is on the staff list and
    has not had its cap of links in the last 15 minutes (else it is held back, and the
    advisors see that on the worklist)."""
    from chalicelib.web.render import render_email

    settings = svc.settings
    member = staff_member(email, settings)
    if member is None:
        return {"sent": "no"}
    if not svc.store.caps.take("sign_in", member.email, settings.sign_in_links_cap,
                               SIGN_IN_CAP_SECONDS, int(time.time())):
        log.warning("A sign-in link was held back: the address had %d in 15 minutes",
                    settings.sign_in_links_cap)
        return {"sent": "held back"}
    email = member.email
    link_id = links.issue(svc.store.links, SIGN_IN, email, STAFF_SIGN_IN_LINK_SECONDS)
    svc.mailer.send(render_email(
        "sign_in", to=email, settings=settings, subject=f"Sign in to {settings.service_name}",
        link_url=f"{settings.base_url}/staff/sign-in/{link_id}", minutes=MINUTES,
        reference="staff sign-in"))
    return {"sent": "yes"}


def confirm_page(svc: Services, link_id: str) -> Response:
    """What opening the link shows: a button. Only its POST signs in (scanners fetch GETs)."""
    if secret_for(svc.settings) is None:
        return not_configured()
    try:
        links.look_up(svc.store.links, SIGN_IN, link_id, WORDING)
    except LinkProblem as problem:
        return _problem(problem)
    return page("staff/confirm.html")


def use_link(svc: Services, link_id: str) -> Response:
    settings = svc.settings
    secret = secret_for(settings)
    if secret is None:
        return not_configured()
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
    session = new_session(member.email)
    svc.store.sessions.start(sha256(session.csrf), session.email, session.expires)
    cookie = encode_session(session, secret)
    return redirect("/staff/", headers={"Set-Cookie": set_cookie(cookie, settings)})
