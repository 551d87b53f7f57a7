"""Taking a validated referral in: store it first, then start its workflow.

The referral is safe in the store before the workflow starts. If the start fails, the referral
is marked for an advisor, who is emailed; a replay of the same submission (or the advisor,
resuming it from the staff console) starts it again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from chalicelib.domain.records import Created, NewReferral, StoredReferral

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services
    from chalicelib.domain.referral import Referral

log = logging.getLogger(__name__)

NOT_STARTED = "NotStarted"


def submit(svc: Services, referral: Referral, idempotency_key: str | None) -> Created:
    """Store the referral (once per idempotency key) and start its execution."""
    from chalicelib.workflow import recovery

    referrals = svc.store.referrals
    created = referrals.create(
        NewReferral(answers=referral.model_dump_json(), total_pence=referral.total_pence,
                    referrer_email=referral.referrer.email, borough=referral.person.borough,
                    nhs_number=referral.person.nhs_number,
                    last_name=referral.person.last_name),
        actor=referral.referrer.email, idempotency_key=idempotency_key)
    if created.status == "needs_attention" and created.replayed:
        # The same submission again, after its workflow could not start: start it now.
        stored = referrals.get(created.reference)
        if never_started(stored):
            recovery.resume(svc, stored, referral.referrer.email)
            return Created(created.reference, referrals.get(created.reference).status, True)
    if created.status != "submitted":
        return created
    status = _start(svc, created.reference)
    return Created(created.reference, status, created.replayed)


def never_started(stored: StoredReferral) -> bool:
    """True for a referral held in the store whose workflow has not started."""
    from chalicelib.workflow.recovery import attention_of

    attention = attention_of(stored) or {}
    return stored.status == "needs_attention" and attention.get("from") == "submitted"


def _start(svc: Services, reference: str) -> str:
    from chalicelib.workflow import recovery

    try:
        svc.workflow.start(reference)
    except Exception as exc:  # the referral is stored: never lose it to a workflow outage
        code = recovery.code_of(exc)
        log.warning("could not start the workflow for %s: %s", reference, code)
        recovery.mark(svc, reference, NOT_STARTED,
                      f"The pathway could not be started: {recovery.why(code)}.")
        return "needs_attention"
    return "submitted"
