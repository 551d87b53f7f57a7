"""Data protection: a subject-access export, and the retention job.

Export: everything held about one person (found by NHS number across all their referrals): each
referral's answers, status, what each step recorded, its full history and the emails sent. The
export itself is recorded in each referral's history.

Retention (a scheduled function, daily): a referral that ended (closed, rejected, withdrawn or
expired) longer ago than `PHB_RETENTION_DAYS` loses its personal data: the answers, the
referrer's address, what the steps recorded (names typed, questions, reasons), the flags'
reasons, who did what in its history and the addresses its emails went to. What the reports
count is kept in their place as anonymous facts (`chalicelib/facts.py`), with its status and
dates. One history event says it happened. Action links (keyed by a hash, outside the
referral's partition) carry a recipient address and are removed by their own TTL a year after
they stop working.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import pathway
from chalicelib.config import Settings
from chalicelib.store import ReferralStore, StoredReferral, now_iso

RETENTION_ACTOR = "retention job"
REMOVED = "removed"


def subject_access_export(store: ReferralStore, nhs_number: str, actor: str) -> dict[str, Any]:
    """Everything held about the person with this NHS number, as one JSON-ready dict."""
    references = store.references_for_person(nhs_number)
    referrals = []
    for reference in references:
        stored = store.get(reference)
        referrals.append({
            "reference": stored.reference,
            "status": stored.status,
            "submitted_at": stored.created_at,
            "updated_at": stored.updated_at,
            "answers": json.loads(stored.answers) if stored.answers else None,
            "sign_off": {"tier": stored.tier, "approvers": list(stored.approvers),
                         "flags": stored.flags, "final_sign_off_at": stored.approved_at},
            "recorded": stored.recorded,
            "history": [{"at": e.at, "what": e.what, "who": e.who, "detail": e.detail}
                        for e in store.history(reference)],
            "emails": store.emails_sent(reference),
        })
    for reference in references:
        store.add_event(reference, "subject_access_export", actor,
                        {"referrals": len(references)})
    return {"exported_at": now_iso(), "exported_by": actor, "nhs_number": nhs_number,
            "referrals": referrals}


def cutoff(settings: Settings, now: datetime | None = None) -> str:
    """Referrals that ended before this (ISO) lose their personal data."""
    now = now or datetime.now(UTC)
    moment = now - timedelta(days=settings.retention_days)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def run_retention(store: ReferralStore, settings: Settings,
                  now: datetime | None = None) -> list[str]:
    """Remove personal data from every referral that ended before the cutoff; the references.

    One Query per final status on the status index (only those still holding data and ended
    before the cutoff are returned), never a scan. Safe to run again after a failure part way:
    the referral itself is changed last.
    """
    before = cutoff(settings, now)
    done = []
    for status in pathway.FINAL:
        for reference in store.ended_before(status, before):
            if anonymise(store, store.get(reference)):
                done.append(reference)
    return done


def anonymise(store: ReferralStore, stored: StoredReferral) -> bool:
    """Replace one ended referral's personal data by its anonymous facts; False if it changed
    meanwhile (it is looked at again on the next run)."""
    from chalicelib.facts import facts_of

    if stored.status not in pathway.FINAL or stored.anonymised_at:
        return False
    facts = facts_of(stored)
    store.redact_partition(stored.reference, REMOVED)
    return store.replace_personal_data(stored, facts, RETENTION_ACTOR)
