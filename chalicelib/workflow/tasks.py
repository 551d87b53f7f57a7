"""The state machine's Lambda tasks. Each takes `{"task": ..., "referral_id": ...}`, reads and
writes the referral by id, and returns only small, non-personal results for the execution.

Tasks are safe to retry: status changes are conditional and each email is recorded once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import traceback
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.domain import ledger, pathway
from chalicelib.domain.dates import iso, long_date, parse_iso
from chalicelib.domain.errors import TransitionRefused
from chalicelib.domain.records import StoredReferral
from chalicelib.workflow import notices
from chalicelib.workflow.failures import (
    AWSError,
    ExecutionTooOld,
    Resuming,
    StepFailed,
    TransientError,
    UnknownTask,
    classify,
)

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services
    from chalicelib.domain.referral import Referral

SYSTEM = "system"
Event = dict[str, Any]
log = logging.getLogger(__name__)


def _load(svc: Services, event: Event) -> tuple[StoredReferral, Referral]:
    from chalicelib.domain.referral import load_stored

    stored = svc.store.referrals.get(event["referral_id"])
    return stored, load_stored(stored.answers)


# --- intake -----------------------------------------------------------------------------------


def record_intake(svc: Services, event: Event) -> dict[str, Any]:
    """Work out who signs the referral off, on the person's total, and move it to
    awaiting_sign_off."""
    from chalicelib.intake.decision import approvers_for, decide

    if int(event.get("attempt") or 1) > 1:
        # Resumed: the state machine's Catch sends it to the Resume state.
        raise Resuming(str(event.get("referral_id", "")))
    referrals = svc.store.referrals
    stored, referral = _load(svc, event)
    if stored.status != "submitted":
        # A retry after the change was made: report what was decided, change nothing.
        return _intake(svc, stored)
    decision = decide(svc, referral, stored.reference)
    approvers, flags = approvers_for(decision, referral)
    basis = {**decision.basis.as_dict(), "why": decision.why}
    # A retry after the change was made changes nothing.
    with contextlib.suppress(TransitionRefused):
        referrals.change(
            stored.reference, "awaiting_sign_off", ("submitted",), actor=SYSTEM,
            what="intake_recorded",
            detail={"tier": decision.sign_off.tier, "total_pence": decision.sign_off.total_pence,
                    "streamlined": decision.sign_off.streamlined, "approvers": approvers,
                    "flags": flags, "why": decision.why},
            fields={"tier": decision.sign_off.tier, "flags": flags, "approvers": approvers,
                    "step": approvers[0], "basis": basis},
        )
    return _intake(svc, referrals.get(stored.reference))


def _intake(svc: Services, stored: StoredReferral) -> dict[str, Any]:
    """What the execution carries of the referral's sign-off (as `$.intake`): its approvers
    in order, how long each wait lasts before a reminder, and the revision it follows."""
    return {"tier": stored.tier, "approvers": list(stored.approvers),
            "wait_seconds": svc.settings.reminder_after_seconds, "revision": stored.revision}


# After an amendment, where the execution goes on, by the referral's status.
_AFTER_AMENDMENT = {
    **dict.fromkeys(("awaiting_sign_off", "awaiting_information", "rejected"), "sign_off"),
    **dict.fromkeys(("approved", "agreement_accepted", "funds_released", "reviewed"),
                    "agreement"),
    "withdrawn": "withdrawn", "expired": "expired",
}


def resume(svc: Services, event: Event) -> dict[str, Any]:
    """A resumed execution starts here: where the referral is (`next`: intake, sign-off, the
    agreement, the release, the review, closure, or the email that ends it), with the
    sign-off it follows."""
    from chalicelib.workflow.recovery import RESUME_AT

    stored = svc.store.referrals.get(event["referral_id"])
    intake = _intake(svc, stored)
    # Sign-off goes on from the approver it waits on (or who asked the open question): those
    # before have signed off, and a question open is not theirs to answer.
    current = stored.recorded.get("question", {}).get("step") \
        if stored.status == "awaiting_information" else stored.step
    if stored.status in ("awaiting_sign_off", "awaiting_information") \
            and current in stored.approvers:
        intake["approvers"] = list(stored.approvers[stored.approvers.index(current):])
    return {**intake, "next": RESUME_AT.get(stored.status, "unexpected")}


def after_amendment(svc: Services, event: Event) -> dict[str, Any]:
    """An amendment ended a wait: where the execution goes on (`next`: sign-off again, from the
    first approver now required; the agreement, to be accepted again; or the end), with the
    sign-off it now follows."""
    stored = svc.store.referrals.get(event["referral_id"])
    return {**_intake(svc, stored), "next": _AFTER_AMENDMENT.get(stored.status, "unexpected")}


def _stale(stored: StoredReferral, event: Event) -> bool:
    """Whether the execution follows an older revision than the referral's: an amendment has
    changed what it waits for since."""
    return int(event.get("revision", 0)) != stored.revision


# --- emails -----------------------------------------------------------------------------------


def notify(svc: Services, event: Event) -> dict[str, Any]:
    """Send the email a state asks for: a request with its links, or an outcome."""
    stored, referral = _load(svc, event)
    kind, notice = event["kind"], event.get("notice", "")
    if "revision" in event and _stale(stored, event):
        return {"sent": 0}  # the amendment's wait is ended; the execution carries on
    if kind == "acknowledgement":
        return {"sent": notices.acknowledge(svc, stored, referral)}
    if kind in ("rejected", "expired", "withdrawn", "closed"):
        return {"sent": len(notices.tell_referrer(svc, kind, stored, referral))}
    if kind == "agreement_copy":
        return {"sent": len(notices.agreement_copy(svc, stored, referral))}
    step = event.get("step") or stored.step or ""
    if kind == "sign_off_request":
        # The map's item (one approver's turn), or the referral's step if none is given.
        step = event.get("step") or stored.step or ""
        answered = any(e.what == "information_given" and e.detail.get("step") == step
                       for e in svc.store.referrals.history(stored.reference))
        kind = "sign_off_answered" if answered else kind
    elif kind not in ("information_request", "agreement_request", "release_request",
                      "review_request", "closure_request"):
        raise ValueError(f"unknown email kind {kind}")
    if pathway.outcome_if_done(stored, step):
        return {"sent": 0}
    return {"sent": len(notices.request(svc, step, stored, referral, notice, kind))}


# --- waiting for people -----------------------------------------------------------------------


def await_step(svc: Services, event: Event) -> dict[str, Any]:
    """Keep the task token of the step now waiting. If the step was already acted on (a person
    was quicker than the state machine), complete the wait at once."""
    referrals = svc.store.referrals
    reference, step, token = event["referral_id"], event["step"], event["token"]
    referrals.save_task_token(reference, step, token)
    stored = referrals.get(reference)
    outcome = "amended" if _stale(stored, event) else pathway.outcome_if_done(stored, step)
    if outcome:
        svc.workflow.complete(token, outcome)
    elif step not in pathway.DUE_STEPS:  # waiting for a time, not a person: never overdue
        due = datetime.now(UTC) + timedelta(seconds=svc.settings.reminder_after_seconds)
        referrals.mark_waiting(stored, step, iso(due))
    return {"waiting": outcome is None}


def remind(svc: Services, event: Event) -> dict[str, Any]:
    """No answer in time: remind, then escalate to the advisors, then (where a step can) expire."""
    referrals, settings = svc.store.referrals, svc.settings
    stored, referral = _load(svc, event)
    step, notice = event["step"], event.get("notice", "")
    if _stale(stored, event) or pathway.outcome_if_done(stored, step):
        return _reminded()  # the wait, entered again, ends at once
    too_old = _too_old(settings, event.get("started"))
    if too_old:
        return _reminded(handover="ExecutionTooOld", step=step)
    count = referrals.count_reminder(stored.reference, step)
    limit = settings.reminders_before_escalation
    # An agreement to accept again once money has been paid never expires the PHB: the
    # advisors are told, and the person reminded, until they accept or it is withdrawn.
    expires = step in pathway.EXPIRING_STEPS and not (
        step == "agreement" and ledger.released_total(stored.ledger))
    # A step that cannot expire (release, review, closure) is reminded every period, so the
    # person always holds a working link; past the last reminder it is handed to the advisors,
    # so that no execution grows towards Step Functions' limits (25,000 events, a year).
    if not expires and count > max(settings.reminders_before_handover, limit + 1):
        return _reminded(handover="RemindersRanOut", step=step, reminders=count - 1)
    if count <= limit + 1 or not expires:
        reminded = notices.recipients(step, referral, settings, stored.recorded.get("corrected"))
        notices.request(svc, step, stored, referral, notice, kind="reminder")
        referrals.add_event(stored.reference, "reminder_sent", SYSTEM,
                            {"step": step, "count": count, "to": reminded})
    if count == limit + 1:
        notices.send(svc, "escalation" if expires else "escalation_open", stored,
                     list(settings.advisor_emails), notice, step=step, reminders=count - 1,
                     period=notices.describe_seconds(settings.reminder_after_seconds))
        referrals.add_event(stored.reference, "escalated", SYSTEM,
                            {"step": step, "to": list(settings.advisor_emails)})
    if count > limit + 1 and expires:
        return _reminded(expired=_expire(svc, stored, step))
    return _reminded()


def _reminded(expired: bool = False, handover: str = "", step: str = "",
              reminders: int = 0) -> dict[str, Any]:
    """What a reminder tells the execution: expired, handed over to the advisors (`code`
    says why), or waiting again. Every key is always there: the state machine selects them."""
    return {"expired": expired, "handover": bool(handover), "code": handover or None,
            "step": step, "reminders": reminders}


def _too_old(settings: Any, started: str | None) -> bool:
    """Whether an execution that started at `started` is near Step Functions' one-year limit
    (the configured maximum age): it is handed over, to be resumed as a new one."""
    if not started:
        return False
    return datetime.now(UTC) - _started(started) > timedelta(days=settings.execution_max_days)


def _started(started: str) -> datetime:
    """An execution's start time as Step Functions gives it (`...T12:00:00.123Z`)."""
    return parse_iso(started.replace("Z", "+00:00"))


def _expire(svc: Services, stored: StoredReferral, step: str) -> bool:
    from chalicelib.actions.amend import restorable, restore
    from chalicelib.actions.commands import AlreadyDone

    referrals = svc.store.referrals
    if restorable(stored) and step in (*pathway.SIGN_OFF_STEPS, "information"):
        # An amendment of an approved PHB not signed off in time: the PHB goes on as it was
        # (someone acting meanwhile is AlreadyDone: the wait, entered again, finds what).
        with contextlib.suppress(AlreadyDone):
            restore(svc, stored, SYSTEM, {"reason": "Nobody signed the change off in time."},
                    step)
        return False
    try:
        referrals.change(stored.reference, "expired", pathway.allowed_from("expired"),
                         actor=SYSTEM, what="expired", detail={"step": step},
                         fields={"progress": {**stored.recorded, "expired": {"step": step}}})
    except TransitionRefused:
        return pathway.outcome_if_done(referrals.get(stored.reference), step) == "expired"
    return True


def schedule(svc: Services, event: Event) -> dict[str, Any]:
    """When the next wait ends: a UTC timestamp, and the seconds from now for the timeout of
    the task that waits for it."""
    settings = svc.settings
    stored, referral = _load(svc, event)
    now = datetime.now(UTC)
    if event["step"] == "review":
        released = _when(stored.recorded.get("release", {}).get("at")) or now
        at = released + timedelta(seconds=settings.review_after_seconds)
    else:
        goal_date = max(goal.target_date for goal in referral.goals)
        at = datetime(goal_date.year, goal_date.month, goal_date.day, 9, tzinfo=UTC)
        if settings.closure_at_most_seconds_after_review:
            reviewed = _when(stored.recorded.get("review", {}).get("at")) or now
            at = min(at, reviewed + timedelta(
                seconds=settings.closure_at_most_seconds_after_review))
    at = max(at, now)
    # The waiting task's timeout: a whole number of seconds, at least 1.
    seconds = max(1, math.ceil((at - now).total_seconds()))
    # A wait that would end past the execution's maximum age is handed over instead (the
    # task's catch marks the referral): a resume starts a new execution, a new year.
    started = event.get("started")
    if started and at - _started(str(started)) > timedelta(days=settings.execution_max_days):
        raise ExecutionTooOld(event["step"])
    return {"at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "seconds": seconds}


def _when(value: str | None) -> datetime | None:
    return parse_iso(value) if value else None


# --- failures ---------------------------------------------------------------------------------


def mark_needs_attention(svc: Services, event: Event) -> dict[str, Any]:
    """A step failed after its retries (or the pathway cannot go on): the referral is handed to
    the advisors with the cause in plain words; the raw error stays in the execution's
    history and the log."""
    from chalicelib.workflow import recovery

    code, reason = recovery.failure(event.get("error") or {})
    recovery.mark(svc, event["referral_id"], code, reason)
    return {"status": "needs_attention"}


# --- the monthly release schedule ---------------------------------------------------------


def releases_due(svc: Services, event: Event) -> dict[str, Any]:
    """Daily (an EventBridge schedule invokes this task): remind the advisors of each monthly
    release due by today, once per due date."""
    from datetime import date

    today = date.today().isoformat()
    reminded = 0
    for reference in svc.store.referrals.releases_due(today):
        stored = svc.store.referrals.get(reference)
        due = stored.next_release_due
        if due is None or stored.status in pathway.FINAL:
            continue
        reminded += len(notices.send(svc, "release_due", stored,
                                     list(svc.settings.advisor_emails), notice=due,
                                     page=notices.staff_case(reference),
                                     due=long_date(due)))
    return {"reminded": reminded}


def sign_in_link(svc: Services, event: Event) -> dict[str, Any]:
    """A staff sign-in link, handed off by the sign-in page (which answers without waiting)."""
    from chalicelib.staff.sign_in import send_link_if_staff

    return send_link_if_staff(svc, str(event.get("email", "")))


def referrer_sign_in_link(svc: Services, event: Event) -> dict[str, Any]:
    """A referrer's sign-in link, handed off by their sign-in page (which does not wait)."""
    from chalicelib.referrers.sign_in import send_link_if_referrer

    return send_link_if_referrer(svc, str(event.get("email", "")))


TASKS: dict[str, Callable[[Services, Event], dict[str, Any]]] = {
    "record_intake": record_intake,
    "resume": resume,
    "after_amendment": after_amendment,
    "notify": notify,
    "await": await_step,
    "remind": remind,
    "schedule": schedule,
    "mark_needs_attention": mark_needs_attention,
    "releases_due": releases_due,
    "sign_in_link": sign_in_link,
    "referrer_sign_in_link": referrer_sign_in_link,
}


def delivery_event(svc: Services, event: Event) -> dict[str, Any]:
    """What SES says became of an email (an EventBridge rule on `aws.ses` events)."""
    from chalicelib.workflow import delivery

    return delivery.record(svc, event)


def run(svc: Services, event: Event) -> dict[str, Any]:
    """The entry point of the `pathway` Lambda function: the state machine's tasks, the daily
    schedule's, and SES's delivery events.

    A failure is raised named by its AWS error code (TransientError for one worth retrying),
    with a message that says only which task, email and step failed: no personal data reaches
    the execution's history, and recovery.failure turns it into words for the advisors."""
    name = str(event.get("task", ""))
    task = TASKS.get(name)
    if task is None and event.get("source") == "aws.ses":
        task, name = delivery_event, "delivery_event"
    if task is None:
        raise UnknownTask(name)
    try:
        return task(svc, event)
    except Resuming:
        raise  # not a failure: how a resumed execution is routed (its Catch), so not logged
    except Exception as exc:
        named = classify(exc)
        # Already named for the state machine (an adapter raised TransientError itself).
        known = named is not exc or isinstance(exc, (TransientError, AWSError,
                                                     ExecutionTooOld))
        code = type(named).__name__ if known else "ServiceError"
        about = {"task": name, "kind": event.get("kind"), "step": event.get("step"),
                 "code": code, "referral_id": event.get("referral_id")}
        # The raw error's text can hold an address (SES names the one it refused): the log
        # gets its type and where it happened, not its text.
        log.error("task %s failed: %s (%s)\n%s", name, code, type(exc).__name__,
                  "".join(traceback.format_tb(exc.__traceback__)))
        if not known:
            raise StepFailed(json.dumps(about)) from exc
        raise type(named)(json.dumps(about)) from exc
