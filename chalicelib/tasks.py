"""The state machine's Lambda tasks. Each takes `{"task": ..., "referral_id": ...}`, reads and
writes the referral by id, and returns only small, non-personal results for the execution.

Tasks are safe to retry: status changes are conditional and each email is recorded once.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import aws, mail, pathway
from chalicelib.config import Settings, get_settings
from chalicelib.notices import (
    ACTION_FOR_STEP,
    WITHDRAW_LINK_DAYS,
    Notifier,
    alert_advisors,
    recipients,
)
from chalicelib.referral import Referral, load_stored, sign_off
from chalicelib.store import (
    ReferralStore,
    StoredReferral,
    TransitionRefused,
    intake_index_fields,
)

SYSTEM = "system"
# Steps that end the referral when nobody answers; the rest keep waiting after escalation.
EXPIRING_STEPS = (*pathway.SIGN_OFF_STEPS, "information", "agreement")

NEXT_STEP = {
    "referrer": "The total is under the fast-track limit, so you can sign this request off "
    "yourself. We will email you a link to do that.",
    "manager": "Your approving manager will be emailed a link to sign this request off.",
    "panel": "Your approving manager will be emailed a link to sign this request off. "
    "Because the total is over the manager's limit, the PHB Oversight Panel signs it off next.",
}
ADVISOR_STEP = (
    " A PHB advisor will also check the request, because part of it may not be fundable "
    "by a PHB."
)


class UnknownTask(Exception):
    pass


class TransientError(Exception):
    """An AWS error worth retrying: the state machine retries `TransientError` with backoff."""


class AWSError(Exception):
    """A permanent AWS error; raised as a subclass named after the AWS error code, so the
    execution history (and any Catch) shows e.g. `MessageRejected`."""


TRANSIENT_CODES = {
    "Throttling", "ThrottlingException", "ProvisionedThroughputExceededException",
    "RequestLimitExceeded", "TooManyRequestsException", "ServiceUnavailable",
    "InternalFailure", "InternalServerError", "TransactionConflictException",
}


def store(settings: Settings) -> ReferralStore:
    return ReferralStore(aws.client("dynamodb"), settings.table_name)


def _load(event: dict[str, Any], settings: Settings) -> tuple[ReferralStore, StoredReferral,
                                                               Referral]:
    referrals = store(settings)
    stored = referrals.get(event["referral_id"])
    return referrals, stored, load_stored(stored.answers)


# --- intake -----------------------------------------------------------------------------------


def record_intake(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Work out who signs the referral off, and move it to awaiting_sign_off."""
    referrals, stored, referral = _load(event, settings)
    timing = {"wait_seconds": settings.reminder_after_seconds}
    if stored.status != "submitted":
        # A retry after the change was made: report what was decided, change nothing.
        return {"tier": stored.tier, "approvers": list(stored.approvers), **timing}
    decision = sign_off(referral, settings)
    flags = [flag.as_dict() for flag in decision.flags]
    approvers = list(decision.approvers)
    try:
        referrals.transition(
            stored.reference,
            "awaiting_sign_off",
            ("submitted",),
            actor=SYSTEM,
            what="intake_recorded",
            detail={
                "tier": decision.tier,
                "total_pence": decision.total_pence,
                "streamlined": decision.streamlined,
                "approvers": approvers,
                "flags": flags,
            },
            set_fields={"tier": decision.tier, "flags": flags, "approvers": approvers,
                        "step": approvers[0],
                        **intake_index_fields(stored, decision.tier, bool(flags))},
        )
    except TransitionRefused:
        stored = referrals.get(stored.reference)
        return {"tier": stored.tier, "approvers": list(stored.approvers), **timing}
    return {"tier": decision.tier, "approvers": approvers, **timing}


# --- emails -----------------------------------------------------------------------------------


def notify(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Send the email a state asks for: a request with its links, or an outcome."""
    referrals, stored, referral = _load(event, settings)
    kind, notice = event["kind"], event.get("notice", "")
    step = event.get("step") or stored.step
    notifier = Notifier(referrals, settings)
    if kind == "acknowledgement":
        return {"sent": acknowledge(notifier, stored, referral, settings)}
    if kind == "sign_off_request":
        step = stored.step or ""
        answered = any(e.what == "information_given" and e.detail.get("step") == step
                       for e in referrals.history(stored.reference))
        if pathway.outcome_if_done(stored, step):
            return {"sent": 0}
        sent = notifier.send(
            "sign_off_answered" if answered else "sign_off_request", stored,
            recipients(step, referral, settings), notice, step=step,
            link_action=ACTION_FOR_STEP[step])
        return {"sent": len(sent)}
    if kind in ("information_request", "agreement_request", "release_request",
                "review_request", "closure_request"):
        if pathway.outcome_if_done(stored, step):
            return {"sent": 0}
        wording = kind
        if kind == "agreement_request" and not referral.person.email:
            wording = "agreement_request_via_referrer"
        sent = notifier.send(wording, stored, recipients(step, referral, settings), notice,
                             step=step, link_action=ACTION_FOR_STEP[step])
        return {"sent": len(sent)}
    if kind in ("rejected", "expired", "withdrawn", "closed"):
        return {"sent": len(tell_referrer(notifier, kind, stored, referral))}
    raise ValueError(f"unknown email kind {kind}")


def acknowledge(notifier: Notifier, stored: StoredReferral, referral: Referral,
                settings: Settings) -> int:
    key = "acknowledgement"
    referrals = notifier.store
    if referrals.email_already_sent(stored.reference, key):
        return 0
    from chalicelib import links

    next_step = NEXT_STEP.get(stored.tier or "", NEXT_STEP["manager"])
    if stored.flags:
        next_step += ADVISOR_STEP
    withdraw_id = links.issue(referrals, stored.reference, "any", "withdraw",
                              referral.referrer.email, WITHDRAW_LINK_DAYS)
    email = mail.compose(
        "acknowledgement",
        to=referral.referrer.email,
        settings=settings,
        reference=stored.reference,
        next_step=next_step,
        status_url=f"{settings.public_base_url}/referrals/{stored.reference}",
        withdraw_url=notifier.link_url("withdraw", withdraw_id),
    )
    message_id = mail.send(aws.client("ses"), settings, email)
    referrals.record_email(stored.reference, key, email.to, email.subject, message_id)
    return 1


def tell_referrer(notifier: Notifier, kind: str, stored: StoredReferral,
                  referral: Referral) -> list[str]:
    """The email that ends a referral; the same whether the workflow or a person sends it."""
    link_action = None
    step = stored.step
    if kind == "rejected":
        link_action = "outcome"
        step = str(stored.recorded.get("rejected", {}).get("step", stored.step or ""))
    if kind == "expired":
        step = str(stored.recorded.get("expired", {}).get("step", stored.step or ""))
    return notifier.send(kind, stored, [referral.referrer.email], notice="final", step=step,
                         link_action=link_action, link_step="outcome",
                         link_days=notifier.settings.link_valid_days * 4)


# --- waiting for people -----------------------------------------------------------------------


def await_step(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Keep the task token of the step now waiting. If the step was already acted on (a person
    was quicker than the state machine), complete the wait at once."""
    referrals = store(settings)
    reference, step, token = event["referral_id"], event["step"], event["token"]
    referrals.save_task_token(reference, step, token)
    stored = referrals.get(reference)
    outcome = pathway.outcome_if_done(stored, step)
    if outcome:
        complete_wait(aws.client("stepfunctions"), token, outcome)
    elif step not in pathway.DUE_STEPS:  # waiting for a time, not a person: never overdue
        due = datetime.now(UTC) + timedelta(seconds=settings.reminder_after_seconds)
        referrals.mark_waiting(stored, step, due.isoformat(timespec="milliseconds")
                               .replace("+00:00", "Z"))
    return {"waiting": outcome is None}


def complete_wait(sfn: Any, token: str, outcome: str) -> bool:
    """Tell the state machine a step is done; False if that wait had already ended."""
    try:
        sfn.send_task_success(taskToken=token, output=json.dumps({"outcome": outcome}))
    except (sfn.exceptions.InvalidToken, sfn.exceptions.TaskTimedOut,
            sfn.exceptions.TaskDoesNotExist):
        return False
    return True


def remind(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """No answer in time: remind, then escalate to the advisors, then (where a step can) expire."""
    referrals, stored, referral = _load(event, settings)
    step, notice = event["step"], event.get("notice", "")
    if pathway.outcome_if_done(stored, step):
        return {"expired": False}
    count = referrals.count_reminder(stored.reference, step)
    limit = settings.reminders_before_escalation
    notifier = Notifier(referrals, settings)
    to = recipients(step, referral, settings)
    expires = step in EXPIRING_STEPS
    # A step that cannot expire (release, review, closure) is reminded every period until done,
    # so the person always holds a working link and the execution never waits silently.
    if count <= limit + 1 or not expires:
        notifier.send("reminder", stored, to, notice, step=step,
                      link_action=ACTION_FOR_STEP[step])
        referrals.add_event(stored.reference, "reminder_sent", SYSTEM,
                            {"step": step, "count": count, "to": to})
    if count == limit + 1:
        notifier.send("escalation" if expires else "escalation_open", stored,
                      list(settings.advisor_emails), notice, step=step, reminders=count - 1,
                      period=describe_seconds(settings.reminder_after_seconds))
        referrals.add_event(stored.reference, "escalated", SYSTEM,
                            {"step": step, "to": list(settings.advisor_emails)})
    if count > limit + 1 and expires:
        try:
            referrals.transition(
                stored.reference, "expired", pathway.allowed_from("expired"), actor=SYSTEM,
                what="expired", detail={"step": step},
                set_fields={"progress": {**stored.recorded, "expired": {"step": step}}})
        except TransitionRefused:
            return {"expired": pathway.outcome_if_done(referrals.get(stored.reference),
                                                       step) == "expired"}
        return {"expired": True}
    return {"expired": False}


def describe_seconds(seconds: int) -> str:
    """`259200` -> "3 days", `600` -> "10 minutes": a reminder period in words."""
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def schedule(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """When the next wait ends: a UTC timestamp, and the seconds from now for the timeout of
    the task that waits for it."""
    _, stored, referral = _load(event, settings)
    now = datetime.now(UTC)
    if event["step"] == "review":
        released = _parse(stored.recorded.get("release", {}).get("at")) or now
        at = released + timedelta(seconds=settings.review_after_seconds)
    else:
        goal_date = max(goal.target_date for goal in referral.goals)
        at = datetime(goal_date.year, goal_date.month, goal_date.day, 9, tzinfo=UTC)
        if settings.closure_at_most_seconds_after_review:
            reviewed = _parse(stored.recorded.get("review", {}).get("at")) or now
            at = min(at, reviewed + timedelta(
                seconds=settings.closure_at_most_seconds_after_review))
    at = max(at, now)
    # The waiting task's timeout: a whole number of seconds, at least 1.
    seconds = max(1, math.ceil((at - now).total_seconds()))
    return {"at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "seconds": seconds}


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


# --- failures ---------------------------------------------------------------------------------


def mark_needs_attention(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    referrals = store(settings)
    error = event.get("error") or {}
    with contextlib.suppress(TransitionRefused):
        referrals.transition(
            event["referral_id"],
            "needs_attention",
            pathway.allowed_from("needs_attention"),
            actor=SYSTEM,
            what="needs_attention",
            detail={"error": str(error.get("Error", ""))[:200],
                    "cause": str(error.get("Cause", ""))[:1000]},
        )
    alert_advisors(referrals, event["referral_id"], settings)
    return {"status": "needs_attention"}


TASKS: dict[str, Callable[[dict[str, Any], Settings], dict[str, Any]]] = {
    "record_intake": record_intake,
    "notify": notify,
    "await": await_step,
    "remind": remind,
    "schedule": schedule,
    "mark_needs_attention": mark_needs_attention,
}


def run(event: dict[str, Any]) -> dict[str, Any]:
    """The entry point of the `pathway` Lambda function."""
    task = TASKS.get(event.get("task", ""))
    if task is None:
        raise UnknownTask(str(event.get("task")))
    try:
        return task(event, get_settings())
    except Exception as exc:
        named = classify(exc)
        if named is exc:
            raise
        raise named from exc


def classify(exc: Exception) -> Exception:
    """Name AWS failures for the state machine: transient ones are retried, others caught."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(exc, (ConnectionError, HTTPClientError)):
        return TransientError(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", "ClientError"))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
        if code in TRANSIENT_CODES or status >= 500:
            return TransientError(f"{code}: {exc}")
        name = code if code.isidentifier() else "AWSError"
        return type(name, (AWSError,), {})(str(exc))
    return exc
