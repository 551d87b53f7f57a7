"""The staff console: the worklist, a referral's case page and what advisors do there.

Every handler starts with `staff.require_staff` (signed in; on POST, the CSRF token checked).
The actions call the same functions as the emailed action links (`chalicelib.actions`), so a
change made here is the same conditional status change with its history event, and completes
the state machine's wait just as a link would. Opening a case is itself recorded in the
history (who looked at whose data, when).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from chalice import Response

from chalicelib import aws, pathway
from chalicelib.config import Settings, get_settings
from chalicelib.errors import FieldError
from chalicelib.intake import never_started, restart
from chalicelib.staff import StaffSession, require_staff
from chalicelib.store import (
    VIEW_INDEXES,
    ReferralStore,
    StatusPage,
    StoredReferral,
    find_referral,
    now_iso,
)
from chalicelib.web import page, redirect

PAGE_SIZE = 25
MAX_NOTE = 2000
TIERS = ("referrer", "manager", "panel")
# The email that asks for a step, to send again.
REQUEST_KIND = {
    **{step: "sign_off_request" for step in pathway.SIGN_OFF_STEPS},
    "information": "information_request",
    "agreement": "agreement_request",
    "release": "release_request",
    "review": "review_request",
    "closure": "closure_request",
}
DONE_MESSAGES = {
    "decide": "Your decision has been recorded.",
    "release": "The release of the money has been recorded.",
    "ask": "Your question has been sent to the referrer.",
    "note": "Your note has been added to the history.",
    "resend": "The email has been sent again, with a new link.",
    "withdraw": "The referral has been withdrawn and the referrer told.",
    "start": "The referral's pathway has been started.",
}


def _store(settings: Settings) -> ReferralStore:
    return ReferralStore(aws.client("dynamodb"), settings.table_name)


# --- the worklist ----------------------------------------------------------------------------


def view_choices() -> list[dict[str, str]]:
    """Every worklist view, as the select box lists them: value `view:value`."""
    from chalicelib.form import BOROUGHS

    choices = [{"value": "all:", "text": "All referrals"},
               {"value": "overdue:", "text": "Overdue: waiting past the reminder time"},
               {"value": "flagged:", "text": "Flagged for a PHB advisor"}]
    choices += [{"value": f"status:{code}", "text": f"Status: {label}"}
                for code, label in pathway.STATUS_LABELS.items()]
    choices += [{"value": f"borough:{code}", "text": f"Borough: {label}"}
                for code, label in BOROUGHS]
    choices += [{"value": f"tier:{tier}", "text": f"Signed off by: {tier}"} for tier in TIERS]
    return choices


def _page_token(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def _start_key(token: str, view: str) -> dict[str, Any] | None:
    """The page to start after, from the `after` parameter; None if it is not one of ours."""
    index = "gsi1" if view == "status" else VIEW_INDEXES[view]
    expected = {"pk", "sk", f"{index}pk", f"{index}sk"}
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    if not isinstance(key, dict) or set(key) != expected:
        return None
    if not all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str)
               and 0 < len(v["S"]) <= 300 for v in key.values()):
        return None
    return key


def worklist(request: Any) -> Response:
    session = require_staff(request)
    if isinstance(session, Response):
        return session
    settings = get_settings()
    query = dict(request.query_params or {})
    store = _store(settings)
    if "reference" in query:
        typed = query["reference"].strip()
        found = find_referral(store, typed) if typed and len(typed) <= 40 else None
        if found is not None:
            return redirect(f"/staff/referrals/{found.reference}")
        message = ("Enter a reference, like PHB-ABCD-2345" if not typed else
                   "No referral has that reference. Check it and try again")
        return _worklist_page(session, store, "all", "", None, status=404 if typed else 422,
                              errors=[FieldError("reference", message)], typed=typed)
    view, _, value = query.get("view", "all:").partition(":")
    if "value" in query:
        value = query["value"]
    if not _valid_view(view, value):
        return _worklist_page(session, store, "all", "", None, status=400,
                              errors=[FieldError("view", "Select a list to show")])
    start_key = None
    if query.get("after"):
        start_key = _start_key(query["after"], view)
        if start_key is None:
            return _worklist_page(session, store, view, value, None, status=400, errors=[
                FieldError("view", "That page link is not valid: start again from the first "
                                   "page")])
    return _worklist_page(session, store, view, value, start_key)


def _valid_view(view: str, value: str) -> bool:
    from chalicelib.form import BOROUGHS

    return {
        "all": value == "", "overdue": value == "", "flagged": value == "",
        "status": value in pathway.STATUS_LABELS,
        "borough": value in dict(BOROUGHS),
        "tier": value in TIERS,
    }.get(view, False)


def list_page(store: ReferralStore, view: str, value: str,
              start_key: dict[str, Any] | None) -> StatusPage:
    """One page of a view: the status index for a status, the view's own index otherwise."""
    if view == "status":
        return store.list_by_status(value, PAGE_SIZE, start_key)
    return store.list_view(view, value, PAGE_SIZE, start_key)


def _worklist_page(session: StaffSession, store: ReferralStore, view: str, value: str,
                   start_key: dict[str, Any] | None, status: int = 200,
                   errors: list[FieldError] | None = None, typed: str = "") -> Response:
    listed = list_page(store, view, value, start_key)
    return page(
        "staff/worklist.html", status=status, session=session, title="Referrals",
        rows=listed.referrals, next_token=_page_token(listed.next_key),
        view=view, value=value, selected=f"{view}:{value}", choices=view_choices(),
        first_page=start_key is None, errors=errors or [],
        error_for={e.field: e.message for e in errors or []}, typed=typed,
        anchor=lambda name: name, status_labels=pathway.STATUS_LABELS)


# --- the case page ---------------------------------------------------------------------------


def _open(request: Any, reference: str) -> Response | tuple[
        StaffSession, Settings, ReferralStore, StoredReferral]:
    """The signed-in advisor and the referral a case route is about; or the answer to give
    instead (sign in, a CSRF refusal, or 404)."""
    session = require_staff(request)
    if isinstance(session, Response):
        return session
    settings = get_settings()
    store = _store(settings)
    stored = find_referral(store, reference)
    if stored is None:
        return _not_found()
    return session, settings, store, stored


def _not_found() -> Response:
    return page("staff/problem.html", status=404, title="Referral not found",
                message="There is no referral with that reference.")


def waiting_for(stored: StoredReferral, settings: Settings) -> tuple[str | None, list[str]]:
    """The step the referral waits on now and the addresses it waits for."""
    from chalicelib.notices import recipients
    from chalicelib.referral import load_stored

    step = stored.waiting_step
    if step is None and stored.status == "awaiting_sign_off":
        step = stored.step
    if step is None and stored.status == "awaiting_information":
        step = "information"
    if step is None or stored.status in pathway.FINAL or not stored.answers:
        return None, []
    return step, recipients(step, load_stored(stored.answers), settings)


def available_actions(stored: StoredReferral, step: str | None,
                      never_started: bool = False) -> list[str]:
    if stored.status in pathway.FINAL:
        return ["note"]
    actions = ["start"] if never_started else []
    if stored.status == "awaiting_sign_off" and stored.step == "advisor":
        actions.append("decide")
    if stored.status == "agreement_accepted":
        actions.append("release")
    if stored.status == "awaiting_sign_off":
        actions.append("ask")
    actions.append("note")
    if step is not None:
        actions.append("resend")
    actions.append("withdraw")
    return actions


def case(request: Any, reference: str) -> Response:
    opened = _open(request, reference)
    if isinstance(opened, Response):
        return opened
    session, settings, store, stored = opened
    store.add_event(stored.reference, "viewed", session.email, {"page": "case"})
    done = (request.query_params or {}).get("done", "")
    return _case_page(session, store, stored, settings, message=DONE_MESSAGES.get(done, ""))


def _case_page(session: StaffSession, store: ReferralStore, stored: StoredReferral,
               settings: Settings, status: int = 200, message: str = "",
               errors: list[FieldError] | None = None, values: dict[str, str] | None = None,
               problem: str = "") -> Response:
    from chalicelib import form
    from chalicelib.actions import decided_flags
    from chalicelib.referral import load_stored

    referral = load_stored(stored.answers) if stored.answers else None
    step, waits_for = waiting_for(stored, settings)
    history = store.history(stored.reference)
    return page(
        "staff/case.html", status=status, session=session, title=stored.reference,
        stored=stored, referral=referral,
        flags=decided_flags(stored, referral, settings) if referral else [],
        history=history, emails=store.emails_sent(stored.reference),
        step=step, step_label=pathway.STEP_LABELS.get(step or "", ""), waits_for=waits_for,
        actions=available_actions(stored, step, never_started(store, stored)),
        status_labels=pathway.STATUS_LABELS,
        labels=form.LABELS, ethnicities=form.ETHNICITY_LABELS, form_budget=form.BUDGET_MANAGEMENT,
        message=message, problem=problem, errors=errors or [], now=now_iso(),
        error_for={e.field: e.message for e in errors or []}, values=values or {},
        anchor=form.anchor)


def act(request: Any, reference: str, action: str) -> Response:
    """POST an action from the case page; on success, back to the case page (303)."""
    opened = _open(request, reference)
    if isinstance(opened, Response):
        return opened
    session, settings, store, stored = opened
    step, _ = waiting_for(stored, settings)
    if action not in available_actions(stored, step, never_started(store, stored)):
        return _case_page(session, store, stored, settings, status=409,
                          problem="That cannot be done at this stage of the referral. The page "
                                  "shows what can be done now.")
    from chalicelib.actions import AlreadyDone

    try:
        errors = perform(action, session, store, stored, step, settings)
    except AlreadyDone:
        return _case_page(session, store, store.get(stored.reference), settings, status=409,
                          problem="Someone else acted on this step first, so nothing was "
                                  "changed. The page now shows where the referral is.")
    if errors:
        return _case_page(session, store, stored, settings, status=422, errors=errors,
                          values=session.form)
    return redirect(f"/staff/referrals/{stored.reference}?done={action}")


def _text(posted: dict[str, str], name: str, message: str,
          errors: list[FieldError]) -> str:
    text = posted.get(name, "").strip().replace("\r\n", "\n")
    if not text:
        errors.append(FieldError(name, message))
    elif len(text) > MAX_NOTE:
        errors.append(FieldError(name, f"Must be {MAX_NOTE} characters or fewer"))
    return text


def perform(action: str, session: StaffSession, store: ReferralStore, stored: StoredReferral,
            step: str | None, settings: Settings) -> list[FieldError]:
    """Do `action`, as the signed-in advisor; the field errors if the form was not right."""
    from chalicelib import actions
    from chalicelib.referral import load_stored

    posted, actor = session.form, session.email
    errors: list[FieldError] = []
    if action in ("decide", "release"):
        link_action = "sign-off" if action == "decide" else "release"
        errors, done = actions.validate(link_action, posted, load_stored(stored.answers),
                                        "advisor" if action == "decide" else "release")
        if errors:
            return errors
        if action == "decide":
            actions.decide(store, stored, "advisor", actor, done["outcome"], done.get("text", ""))
        else:
            actions.record_release(store, stored, actor, done["management"],
                                   done["amount_pence"])
    elif action == "ask":
        question = _text(posted, "ask_question", "Enter your question for the referrer", errors)
        if not errors:
            actions.decide(store, stored, stored.step or "", actor, "more_information", question)
    elif action == "note":
        note = _text(posted, "note", "Enter the note", errors)
        if not errors:
            store.add_event(stored.reference, "note_added", actor, {"note": note})
    elif action == "resend":
        resend(store, stored, step or "", actor, settings)
    elif action == "start":
        restart(store, stored, actor, settings)
    elif action == "withdraw":
        reason = _text(posted, "withdraw_reason", "Enter why the referral is being withdrawn",
                       errors)
        if not errors:
            actions.withdraw(store, stored, actor, reason, settings)
    return errors


def resend(store: ReferralStore, stored: StoredReferral, step: str, actor: str,
           settings: Settings) -> list[str]:
    """Send the waiting step's request again, with a new link; returns who was emailed."""
    from chalicelib.notices import ACTION_FOR_STEP, Notifier, recipients
    from chalicelib.referral import load_stored

    referral = load_stored(stored.answers)
    kind = REQUEST_KIND[step]
    if kind == "agreement_request" and not referral.person.email:
        kind = "agreement_request_via_referrer"
    to = recipients(step, referral, settings)
    sent = Notifier(store, settings).send(kind, stored, to, notice=f"resent {now_iso()}",
                                          step=step, link_action=ACTION_FOR_STEP[step])
    store.add_event(stored.reference, "email_resent", actor, {"step": step, "to": sent})
    return sent


# --- data protection -------------------------------------------------------------------------


def export(request: Any, reference: str) -> Response:
    """POST: everything held about this referral's person, as a JSON download (recorded)."""
    opened = _open(request, reference)
    if isinstance(opened, Response):
        return opened
    session, settings, store, stored = opened
    if not stored.answers:
        return _case_page(session, store, stored, settings, status=409,
                          problem="This referral no longer holds personal data.")
    from chalicelib.dataprotection import subject_access_export
    from chalicelib.referral import load_stored

    nhs_number = load_stored(stored.answers).person.nhs_number
    data = subject_access_export(store, nhs_number, session.email)
    return Response(
        body=json.dumps(data, indent=2, ensure_ascii=False),
        status_code=200,
        headers={"Content-Type": "application/json; charset=utf-8",
                 "Content-Disposition":
                     f'attachment; filename="subject-access-{stored.reference}.json"',
                 "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
