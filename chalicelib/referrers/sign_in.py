"""A referrer signing in to see their own referrals, by a one-time emailed link.

The shape of staff sign-in (`chalicelib/staff/sign_in.py`): the page takes an address and
answers the same, in the same time, whatever it is, handing the address to the pathway function
(`referrer_sign_in_link`), which emails a link only if the address is at an allowed referrer
domain (`PHB_ALLOWED_REFERRER_DOMAINS`) and has made at least one referral, at most
`REFERRER_SIGN_IN_CAP` links to one mailbox in 15 minutes. Opening the link only shows a button
(mail scanners fetch links); its POST uses the link up and sets the referrer's cookie
(`sessions.py`). The link is its own action (`referrer-sign-in`): a staff sign-in link does
not work here, nor this one there.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from chalice.app import Response

from chalicelib.actions import links
from chalicelib.actions.links import REFERRER_SIGN_IN, LinkProblem, Wording
from chalicelib.domain.errors import FieldError
from chalicelib.domain.policy import (
    REFERRER_SIGN_IN_CAP,
    REFERRER_SIGN_IN_CAP_SECONDS,
    REFERRER_SIGN_IN_LINK_SECONDS,
)
from chalicelib.referrers import sessions
from chalicelib.web.forms import FormRejected, parse_form
from chalicelib.web.responses import form_context, page, redirect

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services
    from chalicelib.config import Settings

log = logging.getLogger(__name__)
SEND_LINK_TASK = "referrer_sign_in_link"
CAP_KIND = "referrer_sign_in"
MINUTES = REFERRER_SIGN_IN_LINK_SECONDS // 60
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
    return sessions.problem(problem.title, problem.message, problem.status, sign_in=True)


def sign_in_page(svc: Services) -> Response:
    if sessions.secret_for(svc.settings) is None:
        return sessions.not_configured()
    return _email_form({}, [], 200)


def _email_form(values: dict[str, str], errors: list[FieldError], status: int) -> Response:
    return page("referrers/sign_in.html", status=status, anchor=lambda name: name,
                minutes=MINUTES, **form_context(errors, values))


def request_link(svc: Services, body: bytes) -> Response:
    """Email a sign-in link if the address may have one; the answer is the same either way."""
    from chalicelib.staff.sign_in import check_email

    if sessions.secret_for(svc.settings) is None:
        return sessions.not_configured()
    try:
        posted = parse_form(body)
    except FormRejected as exc:
        return sessions.problem("There is a problem with the form", exc.message, 400)
    typed = posted.get("email", "")
    checked = check_email(typed)
    if isinstance(checked, FieldError):
        return _email_form({"email": typed}, [checked], 422)
    # Whether the address is at an allowed domain and has referrals is the pathway function's
    # to find out after this page has answered: the page says nothing about who refers.
    svc.background.start(SEND_LINK_TASK, {"email": checked})
    return page("referrers/check_email.html", minutes=MINUTES)


def allowed_domain(email: str, settings: Settings) -> bool:
    """Whether the address is at one of the referrer domains (subdomains included), as the
    referral form checks a referrer's address."""
    from pydantic import TypeAdapter, ValidationError

    from chalicelib.domain.referral import WorkEmail

    try:
        TypeAdapter(WorkEmail).validate_python(email, context={"settings": settings})
    except ValidationError:
        return False
    return True


def send_link_if_referrer(svc: Services, email: str) -> dict[str, str]:
    """The pathway function's task: email a sign-in link if `email` is at an allowed referrer
    domain, has made a referral, and has not had its cap of links in the last 15 minutes."""
    from chalicelib.web.render import render_email

    settings = svc.settings
    if not email or not allowed_domain(email, settings):
        return {"sent": "no"}
    # Nobody else is emailed a link: an address with nothing to see is not sent mail.
    if not svc.store.referrals.for_referrer(email, 1).referrals:
        return {"sent": "no"}
    if not svc.store.caps.take(CAP_KIND, email, REFERRER_SIGN_IN_CAP,
                               REFERRER_SIGN_IN_CAP_SECONDS, int(time.time())):
        log.warning("A referrer's sign-in link was held back: the address had %d in 15 minutes",
                    REFERRER_SIGN_IN_CAP)
        return {"sent": "held back"}
    link_id = links.issue(svc.store.links, REFERRER_SIGN_IN, email,
                          REFERRER_SIGN_IN_LINK_SECONDS)
    svc.mailer.send(render_email(
        "referrer_sign_in", to=email, settings=settings,
        subject=f"Sign in to see your referrals to {settings.service_name}",
        link_url=f"{settings.base_url}{sessions.SIGN_IN_PATH}/{link_id}",
        minutes=MINUTES, reference="referrer sign-in"))
    return {"sent": "yes"}


def confirm_page(svc: Services, link_id: str) -> Response:
    """What opening the link shows: a button. Only its POST signs in (scanners fetch GETs)."""
    if sessions.secret_for(svc.settings) is None:
        return sessions.not_configured()
    try:
        links.look_up(svc.store.links, REFERRER_SIGN_IN, link_id, WORDING)
    except LinkProblem as problem:
        return _problem(problem)
    return page("referrers/confirm.html")


def use_link(svc: Services, link_id: str) -> Response:
    """Use the link up and start the session; to the referrer's referrals (303)."""
    if sessions.secret_for(svc.settings) is None:
        return sessions.not_configured()
    try:
        link = links.look_up(svc.store.links, REFERRER_SIGN_IN, link_id, WORDING)
        if not svc.store.links.use(link.id_hash, int(time.time())):
            links.look_up(svc.store.links, REFERRER_SIGN_IN, link_id, WORDING)  # used since
            raise LinkProblem(409, *USED)
    except LinkProblem as problem:
        return _problem(problem)
    if not allowed_domain(link.recipient, svc.settings):  # the domains changed since
        return _problem(LinkProblem(403, "You cannot sign in",
                                    "This address is not at a referrer domain of this service."))
    return redirect(sessions.HOME, headers={"Set-Cookie": sessions.start(svc, link.recipient)})
