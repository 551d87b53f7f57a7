"""Taking a validated referral in: store it first, then start its workflow."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from chalicelib import aws, pathway, rules, workflow
from chalicelib.config import Settings
from chalicelib.store import Created, ReferralStore, StoredReferral, TransitionRefused

if TYPE_CHECKING:
    from chalicelib.referral import Referral

log = logging.getLogger(__name__)

START_FAILED = "workflow_start_failed"
RESTARTED = "workflow_restarted"


def submit(referral: Referral, settings: Settings, idempotency_key: str | None) -> Created:
    """Store the referral (once per idempotency key) and start its execution.

    The referral is safe in the table before the workflow starts. If the start fails, the
    referral is marked for an advisor, who is emailed; a replay of the same submission (or the
    advisor, from the staff console) starts it again.
    """
    referrals = ReferralStore(aws.client("dynamodb"), settings.table_name)
    created = referrals.create_referral(
        answers=referral.model_dump_json(),
        total_pence=referral.total_pence,
        referrer_email=referral.referrer.email,
        actor=referral.referrer.email,
        new_reference=rules.new_reference,
        idempotency_key=idempotency_key,
        borough=referral.person.borough,
        nhs_number=referral.person.nhs_number,
    )
    if created.status == "needs_attention" and created.replayed:
        stored = referrals.get(created.reference)
        if never_started(referrals, stored):
            return restart(referrals, stored, referral.referrer.email, settings)
    if created.status != "submitted":
        return created
    status = _start(referrals, created.reference, settings)
    return Created(created.reference, status, created.replayed)


def never_started(referrals: ReferralStore, stored: StoredReferral) -> bool:
    """True for a referral held in the table whose workflow could not be started."""
    if stored.status != "needs_attention":
        return False
    starts = [e.what for e in referrals.history(stored.reference)
              if e.what in (START_FAILED, RESTARTED)]
    return bool(starts) and starts[-1] == START_FAILED


def restart(referrals: ReferralStore, stored: StoredReferral, actor: str,
            settings: Settings) -> Created:
    """Start the workflow of a referral whose first start failed."""
    try:
        referrals.transition(stored.reference, "submitted", ("needs_attention",), actor=actor,
                             what=RESTARTED)
    except TransitionRefused:  # someone else restarted it first
        return Created(stored.reference, referrals.get(stored.reference).status, True)
    return Created(stored.reference, _start(referrals, stored.reference, settings), True)


def _start(referrals: ReferralStore, reference: str, settings: Settings) -> str:
    try:
        workflow.start(aws.client("stepfunctions"), settings.state_machine_arn, reference)
    except Exception as exc:  # the referral is stored: never lose it to a workflow outage
        log.exception("could not start the workflow for %s", reference)
        referrals.transition(
            reference,
            "needs_attention",
            pathway.allowed_from("needs_attention"),
            actor="system",
            what=START_FAILED,
            detail={"error": type(exc).__name__},
        )
        from chalicelib.notices import alert_advisors

        alert_advisors(referrals, reference, settings)
        return "needs_attention"
    return "submitted"

