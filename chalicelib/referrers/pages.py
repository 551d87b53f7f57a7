"""A referrer's own referrals (/my-referrals): the list, one referral with its history, and what
they can do from here: open the step waiting on them, have its email sent again, withdraw.

Every route but sign-in starts with `sessions.require_referrer`, and every route about one
referral with `_own`: a referral whose referrer is not the signed-in address is "not found",
exactly as one that does not exist, so nothing of another referrer's shows, not even that a
reference is real. What they do is what the emailed links and the staff console do
(`chalicelib/actions/commands.py`, `chalicelib/staff/correct.py`), recorded in the history
under the referrer's address as the referral holds it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from chalice.app import Response

from chalicelib.domain.errors import BadPageToken, FieldError
from chalicelib.domain.identity import find_address, same_address
from chalicelib.domain.policy import (
    DAY,
    PAGE_SIZE,
    REFERRER_RESEND_CAP,
    REFERRER_RESEND_CAP_SECONDS,
)
from chalicelib.domain.records import StoredReferral
from chalicelib.referrers import sessions
from chalicelib.referrers.sessions import ReferrerSession
from chalicelib.web.requests import query_of
from chalicelib.web.responses import form_context, page, redirect

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services

DONE = {
    "resent": "The email has been sent to you again, with a new link. Earlier links still "
              "work until the step is done.",
    "withdrawn": "The referral has been withdrawn. Nothing more will happen with it, and "
                 "everyone waiting on it will be told.",
}
NOT_FOUND = ("Referral not found",
             "There is no referral of yours with that reference. Check the reference in your "
             "email, or sign in with the address you made the referral with.")


def _path(reference: str) -> str:
    return f"{sessions.HOME}/{reference}"


def home(svc: Services, request: Any) -> Response:
    """The referrer's referrals, newest first, 25 a page, each with what waits on them."""
    from chalicelib.referrers.views import card

    session = sessions.require_referrer(svc, request)
    if isinstance(session, Response):
        return session
    query = query_of(request)
    after = query.get("after") or None
    try:
        found = svc.store.referrals.for_referrer(session.email, PAGE_SIZE, after)
    except BadPageToken:
        return sessions.problem("That page of referrals does not exist",
                                "Go back to the first page of your referrals.", 400)
    cards = [card(svc, stored, session.email) for stored in found.referrals]
    return page("referrers/list.html", session=session, cards=cards,
                waiting=[c for c in cards if c.step], next_page=found.next_page,
                first_page=after is None, message=DONE.get(query.get("done", ""), ""))


def _own(svc: Services, request: Any,
         reference: str) -> Response | tuple[ReferrerSession, StoredReferral]:
    """The signed-in referrer and their referral; or the answer to give instead (sign in, a
    CSRF refusal, or 404 for a referral that is not theirs or not there)."""
    session = sessions.require_referrer(svc, request)
    if isinstance(session, Response):
        return session
    stored = svc.store.referrals.find(reference)
    if stored is None or not stored.referrer_email or not stored.answers \
            or not same_address(stored.referrer_email, session.email):
        return sessions.problem(*NOT_FOUND, 404)
    return session, stored


def referral(svc: Services, request: Any, reference: str) -> Response:
    """One referral: where it is, what waits on the referrer, and its history."""
    opened = _own(svc, request, reference)
    if isinstance(opened, Response):
        return opened
    session, stored = opened
    return _referral_page(svc, session, stored,
                          message=DONE.get(query_of(request).get("done", ""), ""))


def _referral_page(svc: Services, session: ReferrerSession, stored: StoredReferral,
                   status: int = 200, message: str = "", problem: str = "",
                   errors: list[FieldError] | None = None) -> Response:
    from chalicelib.domain.referral import load_stored
    from chalicelib.referrers.views import card, timeline

    history = timeline(svc.store.referrals.history(stored.reference),
                       load_stored(stored.answers), svc.settings)
    return page("referrers/referral.html", status=status, session=session,
                card=card(svc, stored, session.email), history=history, message=message,
                problem=problem, title=f"Referral {stored.reference}", anchor=lambda n: n,
                **form_context(errors))


def withdraw_page(svc: Services, request: Any, reference: str) -> Response:
    """The form to withdraw the referral: a reason (optional), and a button."""
    opened = _own(svc, request, reference)
    if isinstance(opened, Response):
        return opened
    session, stored = opened
    return _withdraw_form(svc, session, stored)


def _withdraw_form(svc: Services, session: ReferrerSession, stored: StoredReferral,
                   status: int = 200, errors: list[FieldError] | None = None,
                   values: dict[str, str] | None = None) -> Response:
    from chalicelib.referrers.views import card

    found = card(svc, stored, session.email)
    if not found.can_withdraw:
        return _referral_page(svc, session, stored, status=409,
                              problem="This referral has ended, so there is nothing to "
                                      "withdraw.")
    return page("referrers/withdraw.html", status=status, session=session, card=found,
                title="Withdraw the referral", anchor=lambda n: n,
                **form_context(errors, values))


def act(svc: Services, request: Any, reference: str, action: str) -> Response:
    """POST `open`, `resend` or `withdraw` on the referrer's own referral."""
    opened = _own(svc, request, reference)
    if isinstance(opened, Response):
        return opened
    session, stored = opened
    if action == "withdraw":
        return _withdraw(svc, session, stored)
    from chalicelib.referrers.views import card

    step = card(svc, stored, session.email).step
    if step is None:
        return _referral_page(svc, session, stored, status=409,
                              problem="Nothing waits on you for this referral now. The page "
                                      "shows where it is.")
    if action == "open":
        return _open_step(svc, session, stored, step)
    return _resend(svc, session, stored, step)


def _open_step(svc: Services, session: ReferrerSession, stored: StoredReferral,
               step: str) -> Response:
    """Straight to the step's page, by a new one-time link of the referrer's own (the one in
    their email is stored only hashed): the link's page then checks and acts as ever."""
    from chalicelib.actions import links
    from chalicelib.domain.pathway import ACTION_FOR_STEP
    from chalicelib.staff.case import waiting_for

    _, waits_for = waiting_for(svc, stored)
    recipient = find_address(session.email, waits_for) or session.email
    action = ACTION_FOR_STEP[step]
    link_id = links.issue(svc.store.links, action, recipient,
                          svc.settings.link_valid_days * DAY, reference=stored.reference,
                          step=step)
    return redirect(f"/act/{action}/{link_id}")


def _resend(svc: Services, session: ReferrerSession, stored: StoredReferral,
            step: str) -> Response:
    from chalicelib.staff.correct import resend_or_why

    # A resend is an email to the referrer's own mailbox: capped as sign-in links are, so a
    # stolen session cannot flood it.
    if not svc.store.caps.take("referrer_resend", stored.referrer_email, REFERRER_RESEND_CAP,
                               REFERRER_RESEND_CAP_SECONDS, int(time.time())):
        return _referral_page(svc, session, stored, status=429,
                              problem="The email has been sent to you several times in the "
                                      "last 15 minutes. Check your inbox, or try again later.")
    errors = resend_or_why(svc, stored, step, stored.referrer_email)
    if errors:
        return _referral_page(svc, session, stored, status=422, errors=errors)
    return redirect(f"{_path(stored.reference)}?done=resent")


def _withdraw(svc: Services, session: ReferrerSession, stored: StoredReferral) -> Response:
    from chalicelib.actions import commands
    from chalicelib.actions.forms import validate
    from chalicelib.domain.referral import load_stored
    from chalicelib.referrers.views import card

    if not card(svc, stored, session.email).can_withdraw:
        return _withdraw_form(svc, session, stored)  # says it has ended
    errors, done = validate("withdraw", session.form, load_stored(stored.answers))
    if errors:
        return _withdraw_form(svc, session, stored, status=422, errors=errors,
                              values=session.form)
    try:
        commands.withdraw(svc, stored, stored.referrer_email, str(done["reason"]))
    except commands.AlreadyDone:
        return _referral_page(svc, session, svc.store.referrals.get(stored.reference),
                              status=409, problem="The referral changed while you were "
                                                  "withdrawing it, so nothing was changed. The "
                                                  "page shows where it is now.")
    return redirect(f"{_path(stored.reference)}?done=withdrawn")
