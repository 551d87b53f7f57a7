"""When the pathway stops: marking the referral for the advisors, in plain words, and resuming
it from where it is.

Whatever stops a referral's execution (a step failing after its retries, an execution stopped,
timed out or never started, reminders that ran out) ends here: `mark` moves an open referral
to needs attention, keeping the status it had, with the cause in words a PHB advisor can act
on, and emails the advisors once. The raw error goes to the log only, without personal data.
An ended referral whose last email failed keeps its status and is marked the same way.

`resume` is the advisor's way on: the referral goes back to the status it had and a new
execution (named by the reference and an attempt number) starts at the step that status waits
on, so sign-offs already given stay given.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from chalicelib.domain import pathway
from chalicelib.domain.codes import STEPS
from chalicelib.domain.dates import now_iso
from chalicelib.domain.errors import TransitionRefused
from chalicelib.domain.records import StoredReferral

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services

log = logging.getLogger(__name__)
SYSTEM = "system"

WHO = {"referrer": "the referrer", "manager": "the approving manager",
       "panel": "the PHB Oversight Panel", "advisor": "the PHB advisors",
       "information": "the referrer", "agreement": "the person",
       "release": "the PHB advisors", "review": "the referrer", "closure": "the referrer"}
EMAILS = {
    "acknowledgement": "The acknowledgement to the referrer",
    "information_request": "The question to the referrer",
    "agreement_request": "The direct payment agreement email",
    "agreement_copy": "The copy of the accepted agreement",
    "release_request": "The request to the PHB advisors to release the money",
    "review_request": "The 6-week review request to the referrer",
    "closure_request": "The closure request to the referrer",
    "rejected": "The email telling the referrer the request was not approved",
    "expired": "The email telling the referrer the referral expired",
    "withdrawn": "The email telling the referrer the referral was withdrawn",
    "closed": "The email telling the referrer the PHB was closed",
}
BUSY = "AWS was busy or could not be reached, and retrying did not help"
WHY = {
    "MessageRejected": "the address was refused",
    "MailFromDomainNotVerifiedException": "the sender's domain is not verified in SES",
    "ConfigurationSetDoesNotExistException": "SES does not know the email configuration set",
    "ConfigurationSetSendingPausedException": "sending is paused for the configuration set",
    "AccountSendingPausedException": "sending is paused on the AWS account",
    "TransientError": BUSY,
    "ResourceNotFoundException": "a table or function it needs was not found",
    "AccessDeniedException": "the service is not allowed to do it: check its permissions",
    "ValidationException": "AWS refused the request as not valid",
    "States.Timeout": "it took too long",
    "ServiceError": "an error in the service (the log has the details)",
    "Sandbox.Timedout": "it took too long",
}
# What stopped the pathway, when it is not one step failing.
STOPPED = {
    "NotStarted": "The pathway did not start",
    "ABORTED": "The pathway was stopped",
    "TIMED_OUT": "The pathway ran out of time",
    "FAILED": "The pathway failed",
    "SUCCEEDED": "The pathway ended while the referral was still open",
    "NotRunning": "The pathway was not running when a step was done",
    "RemindersRanOut": "The referral waited for {step} through {reminders} reminders with no "
                       "answer",
    "ExecutionTooOld": "The pathway had run for nearly a year",
    "UnexpectedOutcome": "The pathway reached a point it cannot go on from",
    "UnexpectedStatus": "The pathway reached a point it cannot go on from",
}


def failure(error: dict[str, Any]) -> tuple[str, str]:
    """The error code and a plain-English cause for a step's failure as the state machine
    caught it (`{"Error": ..., "Cause": ...}`): what could not be done, and why."""
    code = str(error.get("Error") or "Unknown")
    about = _about(error.get("Cause"))
    code = str(about.get("code") or code)
    if code in STOPPED:
        step = str(about.get("step") or "")
        return code, STOPPED[code].format(step=STEPS.get(step, "the step"),
                                          reminders=about.get("reminders", "its")) + "."
    return code, f"{_what(about)}: {why(code)}."


def _about(cause: Any) -> dict[str, Any]:
    """What the pathway function said of its failure (tasks.run makes its message a small
    JSON object with no personal data); empty for anything else."""
    try:
        payload = json.loads(cause) if isinstance(cause, str) else {}
        if isinstance(payload, dict) and "errorMessage" in payload:
            payload = json.loads(payload["errorMessage"])
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _what(about: dict[str, Any]) -> str:
    task, kind, step = (str(about.get(k) or "") for k in ("task", "kind", "step"))
    who = WHO.get(step, "")
    if task == "notify" and kind in ("sign_off_request", "sign_off_answered"):
        return f"The email asking {who or 'the approver'} to sign off could not be sent"
    if task == "notify" and kind in EMAILS:
        return f"{EMAILS[kind]} could not be sent"
    if task == "remind":
        return f"The reminder to {who or 'whoever the step waits for'} could not be sent"
    if task == "record_intake":
        return "Intake (working out who signs the request off) could not be completed"
    if task == "await":
        return f"The wait for {STEPS.get(step.removesuffix('_due'), 'the next step')} could " \
               "not be set up"
    if task == "schedule":
        return f"The {'6-week review' if step == 'review' else 'closure'} could not be scheduled"
    if task in ("after_amendment", "resume"):
        return "The pathway could not work out where to go on"
    return "A step of the pathway failed"


def why(code: str) -> str:
    """Why AWS failed, in words, by its error code."""
    if code in WHY:
        return WHY[code]
    if "Throttl" in code or "TooManyRequests" in code or code.startswith("Lambda.") \
            or code.endswith(("LimitExceeded", "LimitExceededException")):
        return BUSY
    return f"AWS refused it ({code})" if code[:1].isupper() else "an error in the service"


# --- marking --------------------------------------------------------------------------------


def mark(svc: Services, reference: str, code: str, reason: str, actor: str = SYSTEM) -> bool:
    """Hand the referral to the advisors: needs attention (an ended one keeps its status), with
    the cause, the status to resume at, and one email to the advisors. False if it was marked
    already (the advisors were told then)."""
    from chalicelib.workflow.notices import alert_advisors

    referrals = svc.store.referrals
    for _ in range(3):  # someone may act meanwhile: read again and mark what it is now
        stored = referrals.get(reference)
        if stored.status == "needs_attention" or (
                stored.status in pathway.FINAL and stored.recorded.get("attention")):
            return False
        attention = {"from": stored.status, "code": code, "reason": reason, "at": now_iso()}
        progress = {**stored.recorded, "attention": attention}
        detail = {"code": code, "reason": reason}
        try:
            if stored.status in pathway.FINAL:
                referrals.record(stored, actor, "needs_attention", detail,
                                 fields={"progress": progress})
            else:
                referrals.change(reference, "needs_attention",
                                 pathway.allowed_from("needs_attention"), actor,
                                 "needs_attention", detail, fields={"progress": progress},
                                 when={"updated_at": stored.updated_at})
        except TransitionRefused:
            continue
        log.warning("referral %s needs attention: %s", reference, code)
        alert_advisors(svc, reference, reason, notice=attention["at"])
        return True
    return False


def attention_of(stored: StoredReferral) -> dict[str, Any] | None:
    """What stopped the referral, while it waits for an advisor to resume it."""
    attention = stored.recorded.get("attention")
    if not attention:
        return None
    if stored.status == "needs_attention" or stored.status in pathway.FINAL:
        return dict(attention)
    return None


def attempt_of(stored: StoredReferral) -> int:
    """Which execution of the referral is the current one (1: the first, by its reference)."""
    return int(stored.recorded.get("attempt", 1))


# --- resuming -------------------------------------------------------------------------------

# Where a resumed execution starts, by the status the referral goes back to.
RESUME_AT = {
    "submitted": "intake",
    "awaiting_sign_off": "sign_off", "awaiting_information": "sign_off",
    "approved": "agreement", "agreement_accepted": "agreement_copy",
    "funds_released": "review_schedule", "reviewed": "closure_schedule",
    "closed": "closed", "rejected": "rejected", "withdrawn": "withdrawn", "expired": "expired",
}


# Every step a referral can wait on, whose reminders a resume counts again.
WAITED_ON = ("referrer", "manager", "panel", "advisor", "information", "agreement", "release",
             "review", "closure")


def resume_label(svc: Services, stored: StoredReferral) -> str:
    """The step a resume starts from, in words ("Resume from …")."""
    attention = attention_of(stored) or {}
    status = str(attention.get("from") or stored.status)
    point = RESUME_AT.get(status, "")
    if point == "intake":
        return "intake: working out who signs off"
    if point == "sign_off":
        if not svc.store.referrals.email_already_sent(stored.reference, "acknowledgement"):
            return "the acknowledgement to the referrer"
        step = "information" if status == "awaiting_information" else stored.step or ""
        return STEPS.get(step, "sign-off")
    if point == "agreement_copy":
        return "the copy of the agreement, then the release of the money"
    labels = {"agreement": STEPS["agreement"], "review_schedule": STEPS["review"],
              "closure_schedule": STEPS["closure"]}
    return labels.get(point, f"telling the referrer the referral {status.replace('_', ' ')}")


def resume(svc: Services, stored: StoredReferral, actor: str) -> bool:
    """The advisor resumes a referral that needs attention: back to the status it had, and a
    new execution from there. False if someone else resumed it first (one wins)."""
    referrals = svc.store.referrals
    attention = attention_of(stored)
    if attention is None:
        return False
    attempt = attempt_of(stored) + 1
    back_to = str(attention["from"])
    progress = {k: v for k, v in stored.recorded.items() if k != "attention"}
    progress["attempt"] = attempt
    detail = {"from": resume_label(svc, stored), "attempt": attempt,
              "after": attention.get("reason", "")}
    try:
        if stored.status in pathway.FINAL:
            referrals.record(stored, actor, "resumed", detail, fields={"progress": progress})
        else:
            referrals.change(stored.reference, back_to, ("needs_attention",), actor, "resumed",
                             detail, fields={"progress": progress},
                             when={"updated_at": stored.updated_at})
    except TransitionRefused:
        return False
    # The steps waited on are chased afresh: their reminders count again from nought.
    for step in WAITED_ON:
        referrals.reset_reminders(stored.reference, step)
    _start(svc, stored.reference, attempt)
    return True


def _start(svc: Services, reference: str, attempt: int) -> None:
    try:
        # An attempt that failed to start may have started after all: only one may run.
        if svc.workflow.status(reference, attempt - 1) == "RUNNING":
            svc.workflow.stop(reference, attempt - 1)
        svc.workflow.start(reference, attempt)
    except Exception as exc:  # the resume is recorded; the referral must not be left silent
        code = code_of(exc)
        log.warning("could not start attempt %s of %s: %s", attempt, reference, code)
        mark(svc, reference, code, f"The pathway could not be started again: {why(code)}.")


def code_of(exc: Exception) -> str:
    """The AWS error code of an exception (TransientError for one worth retrying)."""
    from chalicelib.workflow.failures import classify

    named = classify(exc)
    return "TransientError" if type(named).__name__ == "TransientError" \
        else type(named).__name__
