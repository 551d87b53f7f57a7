"""Taking a validated referral in: store it first, then start its workflow."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from chalicelib import aws, pathway, rules, workflow
from chalicelib.config import Settings
from chalicelib.store import Created, ReferralStore

if TYPE_CHECKING:
    from chalicelib.referral import Referral

log = logging.getLogger(__name__)


def submit(referral: Referral, settings: Settings, idempotency_key: str | None) -> Created:
    """Store the referral (once per idempotency key) and start its execution.

    The referral is safe in the table before the workflow starts. A replayed submission starts
    the execution again, which is a no-op when it is running, so a referral whose first start
    failed is picked up by the client's retry.
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
    if created.status != "submitted":
        return created
    try:
        workflow.start(aws.client("stepfunctions"), settings.state_machine_arn, created.reference)
    except Exception as exc:  # the referral is stored: never lose it to a workflow outage
        log.exception("could not start the workflow for %s", created.reference)
        referrals.transition(
            created.reference,
            "needs_attention",
            pathway.allowed_from("needs_attention"),
            actor="system",
            what="workflow_start_failed",
            detail={"error": type(exc).__name__},
        )
        return Created(created.reference, "needs_attention", created.replayed)
    return created
