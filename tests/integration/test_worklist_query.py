"""The staff worklist's query: one page of referrals in a status, newest first, from the
status index (never a scan)."""

from __future__ import annotations

import time
from typing import Any

from chalicelib import aws, rules
from chalicelib.config import get_settings
from chalicelib.store import ReferralStore


def store() -> ReferralStore:
    return ReferralStore(aws.client("dynamodb"), get_settings().table_name)


def create(referrals: ReferralStore, count: int) -> list[str]:
    """`count` submitted referrals, oldest first (each a few milliseconds after the last)."""
    references = []
    for index in range(count):
        created = referrals.create_referral(
            answers="{}", total_pence=1000 + index, referrer_email="sam.okafor@nhs.net",
            actor="sam.okafor@nhs.net", new_reference=rules.new_reference,
        )
        references.append(created.reference)
        time.sleep(0.003)  # created_at has millisecond resolution
    return references


def test_a_page_is_the_newest_first_and_the_next_key_gives_the_rest(aws_stack: Any) -> None:
    referrals = store()
    references = create(referrals, 30)

    first = referrals.list_by_status("submitted")
    assert [r.reference for r in first.referrals] == references[::-1][:25]
    assert all(r.status == "submitted" for r in first.referrals)
    created = [r.created_at for r in first.referrals]
    assert created == sorted(created, reverse=True)
    assert first.next_key is not None
    assert first.scanned_count == 25 and first.keys_fetched == 0 and first.items_read == 25

    second = referrals.list_by_status("submitted", start_key=first.next_key)
    assert [r.reference for r in second.referrals] == references[::-1][25:]
    assert second.next_key is None
    assert second.items_read == 5


def test_the_page_size_is_the_limit(aws_stack: Any) -> None:
    referrals = store()
    references = create(referrals, 7)
    pages, start_key = [], None
    while True:
        page = referrals.list_by_status("submitted", limit=3, start_key=start_key)
        pages.append([r.reference for r in page.referrals])
        start_key = page.next_key
        if start_key is None:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [reference for page in pages for reference in page] == references[::-1]


def test_only_referrals_in_the_status_are_listed(aws_stack: Any) -> None:
    referrals = store()
    references = create(referrals, 6)
    moved = references[1::2]
    for reference in moved:
        referrals.transition(reference, "awaiting_sign_off", ("submitted",), actor="system",
                             what="intake_recorded")

    waiting = referrals.list_by_status("awaiting_sign_off")
    assert [r.reference for r in waiting.referrals] == moved[::-1]
    assert all(r.status == "awaiting_sign_off" for r in waiting.referrals)
    submitted = referrals.list_by_status("submitted")
    assert [r.reference for r in submitted.referrals] == [
        r for r in references[::-1] if r not in moved
    ]
    assert referrals.list_by_status("closed").referrals == []
    assert referrals.list_by_status("closed").next_key is None


def test_the_worklist_never_scans(aws_stack: Any) -> None:
    referrals = store()
    create(referrals, 3)
    calls: list[str] = []

    def record(event_name: str, **kwargs: Any) -> None:
        calls.append(event_name.rsplit(".", 1)[-1])

    events = referrals.client.meta.events
    events.register("before-call.dynamodb", record)
    try:
        referrals.list_by_status("submitted")
    finally:
        events.unregister("before-call.dynamodb", record)
    assert calls == ["Query"]  # one query: the index carries the columns, no fetch by key
