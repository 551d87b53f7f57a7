"""Taking a validated referral in: store it first, then start its workflow.

The referral is safe in the store before the workflow starts. If the start fails, the referral
is marked for an advisor, who is emailed; a replay of the same submission (or the advisor, from
the staff console) starts it again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from chalicelib.domain import pathway
from chalicelib.domain.errors import TransitionRefused
from chalicelib.domain.records import Created, NewReferral, StoredReferral

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services
    from chalicelib.domain.referral import Referral

log = logging.getLogger(__name__)

START_FAILED = "workflow_start_failed"
RESTARTED = "workflow_restarted"


def submit(svc: Services, referral: Referral, idempotency_key: str | None) -> Created:
    """Store the referral (once per idempotency key) and start its execution."""
    referrals = svc.store.referrals
    created = referrals.create(
        NewReferral(answers=referral.model_dump_json(), total_pence=referral.total_pence,
                    referrer_email=referral.referrer.email, borough=referral.person.borough,
                    nhs_number=referral.person.nhs_number),
        actor=referral.referrer.email, idempotency_key=idempotency_key)
    if created.status == "needs_attention" and created.replayed:
        stored = referrals.get(created.reference)
        if never_started(svc, stored):
            return restart(svc, stored, referral.referrer.email)
    if created.status != "submitted":
        return created
    status = _start(svc, created.reference)
    return Created(created.reference, status, created.replayed)


def never_started(svc: Services, stored: StoredReferral) -> bool:
    """True for a referral held in the store whose workflow could not be started."""
    if stored.status != "needs_attention":
        return False
    starts = [e.what for e in svc.store.referrals.history(stored.reference)
              if e.what in (START_FAILED, RESTARTED)]
    return bool(starts) and starts[-1] == START_FAILED


def restart(svc: Services, stored: StoredReferral, actor: str) -> Created:
    """Start the workflow of a referral whose first start failed."""
    referrals = svc.store.referrals
    try:
        referrals.change(stored.reference, "submitted", pathway.allowed_from("submitted"),
                         actor=actor, what=RESTARTED)
    except TransitionRefused:  # someone else restarted it first
        return Created(stored.reference, referrals.get(stored.reference).status, True)
    return Created(stored.reference, _start(svc, stored.reference), True)


def _start(svc: Services, reference: str) -> str:
    try:
        svc.workflow.start(reference)
    except Exception as exc:  # the referral is stored: never lose it to a workflow outage
        log.exception("could not start the workflow for %s", reference)
        svc.store.referrals.change(
            reference, "needs_attention", pathway.allowed_from("needs_attention"),
            actor="system", what=START_FAILED, detail={"error": type(exc).__name__})
        from chalicelib.workflow.notices import alert_advisors

        alert_advisors(svc, reference)
        return "needs_attention"
    return "submitted"
