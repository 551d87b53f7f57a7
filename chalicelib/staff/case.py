"""A referral's case page and what advisors do there.

The actions call the same functions as the emailed action links (`chalicelib/actions/`), so a
change made here is the same conditional status change with its history event, and completes
the state machine's wait just as a link would. Opening a case is itself recorded in the
history (who looked at whose data, when).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from chalice.app import Response

from chalicelib.domain import codes, delivery, pathway
from chalicelib.domain.dates import now_iso
from chalicelib.domain.errors import FieldError
from chalicelib.domain.policy import MAX_TEXT
from chalicelib.domain.records import StoredReferral
from chalicelib.staff.sessions import StaffSession, require_staff
from chalicelib.web.forms import checked_text
from chalicelib.web.requests import query_of
from chalicelib.web.responses import download, form_context, page, redirect

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services

DONE_MESSAGES = {
    "decide": "Your decision has been recorded.",
    "release": "The release of the money has been recorded.",
    "ask": "Your question has been sent to the referrer.",
    "note": "Your note has been added to the history.",
    "assign": "The case has been assigned.",
    "resend": "The email has been sent again, with a new link.",
    "withdraw": "The referral has been withdrawn. The referrer is emailed to say so (the emails "
                "below show when it went).",
    "resume": "The referral has been resumed: its pathway goes on from where it stopped.",
    "correct": "The address has been corrected.",
    "correct-resent": "The address has been corrected and the request sent to it, with a new "
                      "link. The earlier links no longer work.",
    "resend-failed": "The email could not be sent. The page says why: fix the cause, then "
                     "send it again.",
    "settle": "The unspent money has been settled.",
    "amend-sign_off": "The change has been recorded. It needs signing off again, from the "
                      "start of the tier it now needs: the first approver has been emailed.",
    "amend-agreement": "The change has been recorded. The person has been asked to accept the "
                       "changed agreement.",
    "amend-recorded": "The change has been recorded. No new sign-off is needed.",
}


def _open(svc: Services, request: Any,
          reference: str) -> Response | tuple[StaffSession, StoredReferral]:
    """The signed-in advisor and the referral a case route is about; or the answer to give
    instead (sign in, a CSRF refusal, or 404)."""
    session = require_staff(svc, request)
    if isinstance(session, Response):
        return session
    stored = svc.store.referrals.find(reference)
    if stored is None:
        return page("staff/problem.html", status=404, title="Referral not found",
                    message="There is no referral with that reference.")
    return session, stored


def waiting_for(svc: Services, stored: StoredReferral) -> tuple[str | None, list[str]]:
    """The step the referral waits on now and the addresses it waits for."""
    from chalicelib.domain.referral import load_stored
    from chalicelib.workflow.notices import recipients

    step = stored.waiting_step
    if step is None and stored.status == "awaiting_sign_off":
        step = stored.step
    if step is None and stored.status == "awaiting_information":
        step = "information"
    if step is None or stored.status in pathway.FINAL or not stored.answers:
        return None, []
    return step, recipients(step, load_stored(stored.answers), svc.settings,
                            stored.recorded.get("corrected"))


def available_actions(stored: StoredReferral, step: str | None) -> list[str]:
    """What an advisor can do to the referral now."""
    from chalicelib.actions.commands import ledger_of
    from chalicelib.domain import ledger
    from chalicelib.domain.amendment import can_amend
    from chalicelib.workflow.recovery import attention_of

    money = ledger_of(stored) if stored.approved_at and stored.answers else None
    settle = ["settle"] if ledger.unspent_total(money, "to_recover") else []
    resume = ["resume"] if attention_of(stored) and stored.answers else []
    if stored.status in pathway.FINAL:
        return [*resume, "note", *settle]
    actions = [*resume, "assign", *(["correct"] if stored.answers else [])]
    if stored.answers and can_amend(stored.status, money):
        actions.append("amend")
    if stored.status == "awaiting_sign_off" and stored.step == "advisor":
        actions.append("decide")
    if stored.status == "agreement_accepted" or (
            stored.status in ("funds_released", "reviewed") and ledger.remaining(money) > 0):
        actions.append("release")
    actions += settle
    if stored.status == "awaiting_sign_off":
        actions.append("ask")
    actions.append("note")
    if step is not None:
        actions.append("resend")
    actions.append("withdraw")
    return actions


def _actions_now(svc: Services, stored: StoredReferral, step: str | None) -> list[str]:
    return available_actions(stored, step)


def case(svc: Services, request: Any, reference: str) -> Response:
    opened = _open(svc, request, reference)
    if isinstance(opened, Response):
        return opened
    session, stored = opened
    svc.store.referrals.add_event(stored.reference, "viewed", session.email, {"page": "case"})
    done = query_of(request).get("done", "")
    return _case_page(svc, session, stored, message=DONE_MESSAGES.get(done, ""))


def _case_page(svc: Services, session: StaffSession, stored: StoredReferral, status: int = 200,
               message: str = "", errors: list[FieldError] | None = None,
               values: dict[str, str] | None = None, problem: str = "") -> Response:
    from chalicelib.actions.pages import decided_flags, money_view
    from chalicelib.domain.referral import load_stored
    from chalicelib.intake.decision import related
    from chalicelib.intake.form import anchor
    from chalicelib.staff.correct import addresses
    from chalicelib.staff.timeline import People, timeline
    from chalicelib.workflow.recovery import attention_of, resume_label
    from chalicelib.workflow.wording import UNDELIVERED_OUTCOMES

    referrals = svc.store.referrals
    referral = load_stored(stored.answers) if stored.answers else None
    step, waits_for = waiting_for(svc, stored)
    emails = referrals.emails_sent(stored.reference)
    history = referrals.history(stored.reference)
    # Staff by the staff list's names, here as in the timeline ("Amara Nwosu, PHB advisor").
    people = People(referral, svc.settings, history)
    return page(
        "staff/case.html", status=status, session=session, title=stored.reference,
        stored=stored, referral=referral,
        flags=decided_flags(svc, stored, referral) if referral else [],
        money=money_view(stored) if referral else {},
        basis=stored.basis or {}, related=related(svc, stored, referral) if referral else [],
        timeline=timeline(history, referral, svc.settings),
        waits_on=[f"{named} ({address})" if named != address else address
                  for address in waits_for for named in (people.name(address),)],
        assigned_to=people.name(stored.assigned_to) if stored.assigned_to else "",
        emails=emails, undelivered=delivery.undelivered_requests(emails, stored),
        delivery_labels=codes.DELIVERY_STATUSES, bounce_labels=codes.BOUNCE_TYPES,
        outcomes=UNDELIVERED_OUTCOMES,
        step=step, step_label=codes.STEPS.get(step or "", ""), waits_for=waits_for,
        actions=_actions_now(svc, stored, step), status_labels=codes.STATUSES,
        attention=attention_of(stored), resume_from=resume_label(svc, stored),
        addresses=[(value, f"{who}: {address}") for value, who, address in
                   addresses(svc, stored, referral)] if referral else [],
        message=message, problem=problem, now=now_iso(), anchor=anchor,
        **form_context(errors, values))


def act(svc: Services, request: Any, reference: str, action: str) -> Response:
    """POST an action from the case page; on success, back to the case page (303)."""
    from chalicelib.actions.commands import AlreadyDone
    from chalicelib.domain.ledger import Refused

    opened = _open(svc, request, reference)
    if isinstance(opened, Response):
        return opened
    session, stored = opened
    if action == "export":
        return export(svc, session, stored)
    if action == "amend":
        return _amend(svc, session, stored)
    step, _ = waiting_for(svc, stored)
    if action not in _actions_now(svc, stored, step):
        return _case_page(svc, session, stored, status=409,
                          problem="That cannot be done at this stage of the referral. The page "
                                  "shows what can be done now.")
    if action == "correct":
        return _correct(svc, session, stored)
    try:
        errors = perform(svc, action, session, stored, step)
    except Refused as refused:  # an amount past what the ledger allows
        errors = [FieldError(refused.field, refused.message)]
    except AlreadyDone:
        return _case_page(svc, session, svc.store.referrals.get(stored.reference), status=409,
                          problem="Someone else acted on this step first, so nothing was "
                                  "changed. The page now shows where the referral is.")
    if errors:
        return _case_page(svc, session, stored, status=422, errors=errors, values=session.form)
    return redirect(f"/staff/referrals/{stored.reference}?done={action}")


def amend_page(svc: Services, request: Any, reference: str) -> Response:
    """The form to change a referral's items, costs or suppliers."""
    from chalicelib.actions import amend_form
    from chalicelib.domain.referral import load_stored

    opened = _open(svc, request, reference)
    if isinstance(opened, Response):
        return opened
    session, stored = opened
    if "amend" not in available_actions(stored, None):
        return _case_page(svc, session, stored, status=409, problem=CANNOT_AMEND)
    return page("staff/amend.html", session=session,
                **amend_form.context(stored, load_stored(stored.answers)))


CANNOT_AMEND = ("The items can no longer be changed: the referral has ended, or its money has "
                "all been released.")


def _amend(svc: Services, session: StaffSession, stored: StoredReferral) -> Response:
    from chalicelib.actions import amend_form
    from chalicelib.actions.commands import AlreadyDone
    from chalicelib.domain.referral import load_stored

    if "amend" not in available_actions(stored, None):
        return _case_page(svc, session, stored, status=409, problem=CANNOT_AMEND)
    referral = load_stored(stored.answers)
    try:
        result, values, errors = amend_form.submit(svc, stored, referral, session.email,
                                                   session.form)
    except AlreadyDone:
        return _case_page(svc, session, svc.store.referrals.get(stored.reference), status=409,
                          problem="The referral changed while you were changing its items, so "
                                  "nothing was changed. The page now shows where it is.")
    if result is None:
        return page("staff/amend.html", status=422, session=session,
                    **amend_form.context(stored, referral, values, errors))
    return redirect(f"/staff/referrals/{stored.reference}?done=amend-{result.needed}")


# What each typed answer is called at the start of a message about what it holds.
WHAT = {"ask_question": "your question", "note": "the note", "withdraw_reason": "the reason"}


def _text(posted: dict[str, str], name: str, message: str, errors: list[FieldError]) -> str:
    text, error = checked_text(posted, name, WHAT[name])
    if not text:
        errors.append(FieldError(name, message))
    elif error:
        errors.append(error)
    elif len(text) > MAX_TEXT:
        errors.append(FieldError(name, f"Must be {MAX_TEXT} characters or fewer"))
    return text


def perform(svc: Services, action: str, session: StaffSession, stored: StoredReferral,
            step: str | None) -> list[FieldError]:
    """Do `action`, as the signed-in advisor; the field errors if the form was not right."""
    from chalicelib.staff.assign import assign

    handlers: dict[str, Callable[[Services, StaffSession, StoredReferral, str | None],
                                 list[FieldError]]] = {
        "decide": _decide, "release": _release, "ask": _ask, "note": _note,
        "resend": _resend, "resume": _resume, "withdraw": _withdraw, "settle": _settle,
        "assign": assign,
    }
    return handlers[action](svc, session, stored, step)


def _checked(stored: StoredReferral, action: str, form: dict[str, str],
             step: str) -> tuple[list[FieldError], dict[str, Any]]:
    from chalicelib.actions.forms import validate
    from chalicelib.domain.referral import load_stored

    return validate(action, form, load_stored(stored.answers), step)


def _decide(svc: Services, session: StaffSession, stored: StoredReferral,
            step: str | None) -> list[FieldError]:
    from chalicelib.actions import commands

    errors, done = _checked(stored, "sign-off", session.form, "advisor")
    if not errors:
        commands.decide(svc, stored, "advisor", session.email, done["outcome"],
                        done.get("text", ""))
    return errors


def _release(svc: Services, session: StaffSession, stored: StoredReferral,
             step: str | None) -> list[FieldError]:
    from chalicelib.actions import commands

    first = stored.status == "agreement_accepted"
    errors, done = _checked(stored, "release", session.form, "release" if first else "more")
    if not errors:
        commands.record_release(svc, stored, session.email, done["amount_pence"], done["on"],
                                done["how"], done["reference"], done.get("management"))
    return errors


def _settle(svc: Services, session: StaffSession, stored: StoredReferral,
            step: str | None) -> list[FieldError]:
    from chalicelib.actions import commands

    commands.settle_unspent(svc, stored, session.email, session.form.get("entry", ""),
                            session.form.get("state", ""))
    return []


def _ask(svc: Services, session: StaffSession, stored: StoredReferral,
         step: str | None) -> list[FieldError]:
    from chalicelib.actions import commands

    errors: list[FieldError] = []
    question = _text(session.form, "ask_question", "Enter your question for the referrer", errors)
    if not errors:
        commands.decide(svc, stored, stored.step or "", session.email, "more_information",
                        question)
    return errors


def _note(svc: Services, session: StaffSession, stored: StoredReferral,
          step: str | None) -> list[FieldError]:
    errors: list[FieldError] = []
    note = _text(session.form, "note", "Enter the note", errors)
    if not errors:
        svc.store.referrals.add_event(stored.reference, "note_added", session.email,
                                      {"note": note})
    return errors


def _resend(svc: Services, session: StaffSession, stored: StoredReferral,
            step: str | None) -> list[FieldError]:
    from chalicelib.staff.correct import resend_or_why

    return resend_or_why(svc, stored, step or "", session.email)


def _resume(svc: Services, session: StaffSession, stored: StoredReferral,
            step: str | None) -> list[FieldError]:
    from chalicelib.actions.commands import AlreadyDone
    from chalicelib.workflow.recovery import resume

    if not resume(svc, stored, session.email):
        raise AlreadyDone()
    return []


def _correct(svc: Services, session: StaffSession, stored: StoredReferral) -> Response:
    """Correct an address; then, if the step waiting now waits for it, its request again to
    the corrected address (the earlier links stop working)."""
    from chalicelib.domain.referral import load_stored
    from chalicelib.staff.correct import correct, resend_or_why

    errors, _, step = correct(svc, stored, load_stored(stored.answers), session.email,
                              session.form)
    if errors:
        return _case_page(svc, session, stored, status=422, errors=errors, values=session.form)
    stored = svc.store.referrals.get(stored.reference)
    if not step:
        return redirect(f"/staff/referrals/{stored.reference}?done=correct")
    errors = resend_or_why(svc, stored, step, session.email)
    if errors:
        return _case_page(svc, session, stored, status=502, errors=errors,
                          problem="The address was corrected, but the request could not be "
                                  "sent to it. " + errors[0].message)
    return redirect(f"/staff/referrals/{stored.reference}?done=correct-resent")


def _withdraw(svc: Services, session: StaffSession, stored: StoredReferral,
              step: str | None) -> list[FieldError]:
    from chalicelib.actions import commands

    errors: list[FieldError] = []
    reason = _text(session.form, "withdraw_reason", "Enter why the referral is being withdrawn",
                   errors)
    if not errors:
        commands.withdraw(svc, stored, session.email, reason)
    return errors


def export(svc: Services, session: StaffSession, stored: StoredReferral) -> Response:
    """Everything held about this referral's person, as a JSON download (recorded)."""
    if not stored.answers:
        return _case_page(svc, session, stored, status=409,
                          problem="This referral no longer holds personal data.")
    from chalicelib.domain.referral import load_stored
    from chalicelib.staff.dataprotection import subject_access_export

    who = load_stored(stored.answers).person
    data = subject_access_export(svc, who.nhs_number, who.first_name, who.last_name,
                                 who.date_of_birth.isoformat(), session.email)
    return download(json.dumps(data, indent=2, ensure_ascii=False),
                    "application/json; charset=utf-8",
                    f"subject-access-{stored.reference}.json")
