"""Data protection: a subject-access export, and the retention job.

Export: everything held about one person (found by NHS number across all their referrals): each
referral's answers, status, what each step recorded, its full history and the emails sent. The
export itself is recorded in each referral's history.

Retention (a scheduled function, daily): a referral last changed longer ago than
`PHB_RETENTION_DAYS` loses its personal data, whatever its status (ended, or left open or
needing attention): the answers, the
referrer's address, what the steps recorded (names typed, questions, reasons), the flags'
reasons, who did what in its history and the addresses its emails went to. What the reports
count is kept in their place as anonymous facts (`chalicelib/domain/facts.py`), with its status
and dates. One history event says it happened. One-time links (keyed by a hash, outside the
referral's partition) carry a recipient address and are removed by their own TTL a year after
they stop working.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from chalicelib.domain.dates import iso, now_iso
from chalicelib.domain.records import StoredReferral

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services

RETENTION_ACTOR = "retention job"
REMOVED = "removed"


def subject_access_export(svc: Services, nhs_number: str, first_name: str, last_name: str,
                          date_of_birth: str, actor: str) -> dict[str, Any]:
    """Everything held about this person, as one JSON-ready dict: their referrals by NHS
    number whose name and date of birth are theirs too. Any under another name or date of
    birth are listed apart by reference only (never merged): an advisor resolves them."""
    from chalicelib.domain.person import same_identity
    from chalicelib.intake.decision import other_phb

    store = svc.store.referrals
    references, mismatched = [], []
    for reference in store.references_for_person(nhs_number):
        other = other_phb(store.get(reference))
        if other is not None and same_identity(other, first_name, last_name, date_of_birth):
            references.append(reference)
        else:
            mismatched.append(reference)
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
            "money": stored.ledger,
            "history": [{"at": e.at, "what": e.what, "who": e.who, "detail": e.detail}
                        for e in store.history(reference)],
            "emails": [asdict(email) for email in store.emails_sent(reference)],
        })
    for reference in references:
        store.add_event(reference, "subject_access_export", actor,
                        {"referrals": len(references)})
    return {"exported_at": now_iso(), "exported_by": actor, "nhs_number": nhs_number,
            "referrals": referrals,
            "not_included": [{"reference": reference, "why": "The same NHS number under another "
                              "name or date of birth: check which person it is"}
                             for reference in mismatched]}


def cutoff(days: int, now: datetime | None = None) -> str:
    """Referrals that ended before this (ISO) lose their personal data."""
    return iso((now or datetime.now(UTC)) - timedelta(days=days))


def run_retention(svc: Services, now: datetime | None = None) -> list[str]:
    """Remove personal data from every referral that ended before the cutoff; the references.

    Safe to run again after a failure part way: each referral itself is changed last.
    """
    referrals = svc.store.referrals
    before = cutoff(svc.settings.retention_days, now)
    return [reference for reference in referrals.inactive_before(before)
            if anonymise(svc, referrals.get(reference))]


def anonymise(svc: Services, stored: StoredReferral) -> bool:
    """Replace one referral's personal data by its anonymous facts; False if it changed
    meanwhile (it is looked at again on the next run). Any status: a referral left open or
    needing attention for the whole period keeps its data no longer than one that ended."""
    from chalicelib.domain.facts import facts_of

    if stored.anonymised_at:
        return False
    return svc.store.referrals.remove_personal_data(stored, facts_of(stored), RETENTION_ACTOR,
                                                    REMOVED)
