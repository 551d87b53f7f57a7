"""The state machine's Lambda tasks. Each takes `{"task": ..., "referral_id": ...}`, reads and
writes the referral by id, and returns only small, non-personal results for the execution.

Tasks are safe to retry: status changes are conditional and each email is recorded once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalicelib import aws, mail, pathway
from chalicelib.config import Settings, get_settings
from chalicelib.referral import load_stored, sign_off
from chalicelib.store import ReferralStore, TransitionRefused

SYSTEM = "system"

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


def record_intake(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Work out who signs the referral off, and move it to awaiting_sign_off."""
    referrals = store(settings)
    reference = event["referral_id"]
    stored = referrals.get(reference)
    if stored.status != "submitted":
        # A retry after the change was made: report what was decided, change nothing.
        return {"tier": stored.tier, "needs_advisor": bool(stored.flags)}
    referral = load_stored(stored.answers)
    decision = sign_off(referral, settings)
    flags = [flag.as_dict() for flag in decision.flags]
    try:
        referrals.transition(
            reference,
            "awaiting_sign_off",
            pathway.allowed_from("awaiting_sign_off"),
            actor=SYSTEM,
            what="intake_recorded",
            detail={
                "tier": decision.tier,
                "total_pence": decision.total_pence,
                "streamlined": decision.streamlined,
                "approvers": list(decision.approvers),
                "flags": flags,
            },
            set_fields={"tier": decision.tier, "flags": json.dumps(flags)},
        )
    except TransitionRefused:
        stored = referrals.get(reference)
        return {"tier": stored.tier, "needs_advisor": bool(stored.flags)}
    return {"tier": decision.tier, "needs_advisor": decision.needs_advisor}


def send_acknowledgement(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    referrals = store(settings)
    reference = event["referral_id"]
    if referrals.email_already_sent(reference, "acknowledgement"):
        return {"sent": False}
    stored = referrals.get(reference)
    next_step = NEXT_STEP.get(stored.tier or "", NEXT_STEP["manager"])
    if stored.flags:
        next_step += ADVISOR_STEP
    email = mail.compose(
        "acknowledgement",
        to=stored.referrer_email,
        settings=settings,
        reference=reference,
        next_step=next_step,
        status_url=f"{settings.public_base_url}/referrals/{reference}",
    )
    message_id = mail.send(aws.client("ses"), settings, email)
    referrals.record_email(reference, "acknowledgement", email.to, email.subject, message_id)
    return {"sent": True}


def mark_needs_attention(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    referrals = store(settings)
    error = event.get("error") or {}
    try:
        referrals.transition(
            event["referral_id"],
            "needs_attention",
            pathway.allowed_from("needs_attention"),
            actor=SYSTEM,
            what="needs_attention",
            detail={"error": str(error.get("Error", ""))[:200],
                    "cause": str(error.get("Cause", ""))[:1000]},
        )
    except TransitionRefused:
        pass
    return {"status": "needs_attention"}


TASKS: dict[str, Callable[[dict[str, Any], Settings], dict[str, Any]]] = {
    "record_intake": record_intake,
    "send_acknowledgement": send_acknowledgement,
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
