"""An advisor corrects an email address on a referral (a mistyped manager's address, a bounced
email) and the waiting step's request goes again to the corrected address; and sending a
step's request again, which never answers 500 when SES refuses it.

The referrer's, the approving manager's and the person's addresses are corrected in the
referral's answers (checked as intake checks them: a work address for the referrer and the
manager, never the referrer's own mailbox for the manager); a panel member's for this referral
only (`progress["corrected"]`: the panel's list is the deployment's). The history keeps the
address before and after. Links the step sent before stop working: they were for the old
address, and any link of the step issued before the correction is refused as replaced.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from chalicelib.domain.dates import now_iso
from chalicelib.domain.errors import FieldError, TransitionRefused
from chalicelib.domain.identity import address_key, same_address, same_mailbox
from chalicelib.domain.records import StoredReferral

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services
    from chalicelib.domain.referral import Referral

FIELD = "new_address"


def addresses(svc: Services, stored: StoredReferral, referral: Referral) -> list[
        tuple[str, str, str]]:
    """Whose address can be corrected: (choice value, who, address now)."""
    from chalicelib.workflow.notices import corrected

    found = [("referrer", "The referrer", referral.referrer.email)]
    if referral.approving_manager:
        found.append(("manager", "The approving manager", referral.approving_manager.email))
    if referral.person.email:
        found.append(("person", "The person", referral.person.email))
    fixed = stored.recorded.get("corrected") or {}
    for index, address in enumerate(svc.settings.panel_emails):
        found.append((f"panel:{index}", "A panel member", corrected(address, fixed)))
    return found


def correct(svc: Services, stored: StoredReferral, referral: Referral, actor: str,
            form: dict[str, str]) -> tuple[list[FieldError], str, str]:
    """Correct the chosen address; the field errors, or none and whose address it was and the
    step to send again (empty when the step waiting now is not theirs)."""
    choices = {value: (who, now) for value, who, now in addresses(svc, stored, referral)}
    chosen = form.get("whose", "")
    new = (form.get(FIELD) or "").strip()
    if chosen not in choices:
        return [FieldError("whose", "Select whose address to correct")], "", ""
    who, before = choices[chosen]
    errors, answers, new = _checked(svc, referral, chosen, new)
    if not errors and same_address(before, new):
        errors = [FieldError(FIELD, "Enter an address different from the one held now")]
    if errors:
        return errors, "", ""
    progress: dict[str, Any] = dict(stored.recorded)
    fields: dict[str, Any] = {}
    if answers is not None:
        fields["answers"] = answers
        if chosen == "referrer":
            fields["referrer_email"] = new
    else:
        progress["corrected"] = {**(progress.get("corrected") or {}),
                                 address_key(svc.settings.panel_emails[int(chosen[6:])]): new}
    step = _waiting_on(svc, stored, referral, before)
    if step:
        progress["links_from"] = {**(progress.get("links_from") or {}), step: now_iso()}
    fields["progress"] = progress
    try:
        svc.store.referrals.record(stored, actor, "address_corrected",
                                   {"whose": who, "before": before, "after": new,
                                    "resent": step or None}, fields=fields)
    except TransitionRefused:
        return [FieldError(FIELD, "The referral changed meanwhile: look again and try once "
                                  "more")], "", ""
    if chosen == "referrer":
        _acknowledge_again(svc, stored.reference, actor)
    return [], who, step


def _acknowledge_again(svc: Services, reference: str, actor: str) -> None:
    """The acknowledgement again, to the referrer's corrected address: their links to withdraw
    and to change the request (the old address's no longer work)."""
    from chalicelib.domain.referral import load_stored
    from chalicelib.workflow.notices import acknowledge
    from chalicelib.workflow.recovery import code_of, why

    stored = svc.store.referrals.get(reference)
    try:
        acknowledge(svc, stored, load_stored(stored.answers),
                    key=f"acknowledgement:corrected {now_iso()}")
    except Exception as exc:  # the correction stands; the advisor can send it again
        code = code_of(exc)
        svc.store.referrals.add_event(reference, "email_failed", actor,
                                      {"step": "acknowledgement", "code": code,
                                       "reason": why(code)})


def _checked(svc: Services, referral: Referral, chosen: str,
             new: str) -> tuple[list[FieldError], str | None, str]:
    """The field errors of the new address, the answers with it (None for a panel member's,
    kept beside the answers) and the address as it is kept (in its ASCII form, its domain in
    lower case). Only the address is checked: the rest of the answers was checked when taken
    in, perhaps under older rules, and is kept as it is."""
    from pydantic import TypeAdapter, ValidationError

    from chalicelib.domain.referral import Email, WorkEmail

    try:
        if chosen in ("referrer", "manager"):
            new = TypeAdapter(WorkEmail).validate_python(new, context={"settings": svc.settings})
        else:
            new = TypeAdapter(Email).validate_python(new)
    except ValidationError as invalid:
        message = str(invalid.errors()[0]["msg"])
        return [FieldError(FIELD, message[:1].upper() + message[1:])], None, new
    manager = referral.approving_manager
    if chosen == "referrer":
        if manager and same_mailbox(new, manager.email):
            return [FieldError(FIELD, "Must not be the approving manager's address: the "
                                      "manager signs off independently")], None, new
        updated = referral.model_copy(update={"referrer": referral.referrer.model_copy(
            update={"email": new})})
    elif chosen == "manager" and manager:
        if same_mailbox(new, referral.referrer.email):
            return [FieldError(FIELD, "Must not be the referrer's own address: the approving "
                                      "manager signs off independently")], None, new
        updated = referral.model_copy(update={"approving_manager": manager.model_copy(
            update={"email": new})})
    elif chosen == "person":
        updated = referral.model_copy(update={"person": referral.person.model_copy(
            update={"email": new})})
    else:
        if same_mailbox(new, referral.referrer.email):
            return [FieldError(FIELD, "Must not be the referrer's own address: the panel "
                                      "signs off independently")], None, new
        return [], None, new
    return [], updated.model_dump_json(), new


def _waiting_on(svc: Services, stored: StoredReferral, referral: Referral, before: str) -> str:
    """The step waiting now, if the address corrected is one it waits for."""
    from chalicelib.domain.identity import find_address
    from chalicelib.workflow.notices import recipients

    step = stored.waiting_step or (stored.step if stored.status == "awaiting_sign_off" else None)
    if stored.status == "awaiting_information":
        step = "information"
    if step is None or not referral:
        return ""
    waiting_for = recipients(step, referral, svc.settings, stored.recorded.get("corrected"))
    return step if find_address(before, waiting_for) else ""


def resend(svc: Services, stored: StoredReferral, step: str, actor: str) -> list[str]:
    """Send the waiting step's request again, with a new link; returns who was emailed."""
    from chalicelib.domain.referral import load_stored
    from chalicelib.workflow.notices import request

    sent = request(svc, step, stored, load_stored(stored.answers), notice=f"resent {now_iso()}")
    svc.store.referrals.add_event(stored.reference, "email_resent", actor,
                                  {"step": step, "to": sent})
    # Sent again: the step is chased afresh, its reminders counting again from nought.
    svc.store.referrals.reset_reminders(stored.reference, step)
    return sent


def resend_or_why(svc: Services, stored: StoredReferral, step: str,
                  actor: str) -> list[FieldError]:
    """Send the step's request again; a field error saying why if SES refused it (the
    attempt is in the history), never a 500."""
    from chalicelib.workflow.recovery import code_of, why

    try:
        resend(svc, stored, step, actor)
    except Exception as exc:
        code = code_of(exc)
        log.warning("resending %s of %s failed: %s", step, stored.reference, code)
        svc.store.referrals.add_event(stored.reference, "email_failed", actor,
                                      {"step": step, "code": code, "reason": why(code)})
        return [FieldError("resend", f"The email could not be sent: {why(code)}. Correct the "
                                     "address, or try again later.")]
    return []
