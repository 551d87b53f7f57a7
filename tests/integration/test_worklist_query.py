"""The staff worklist's queries on DynamoDB: a page of a status view is one query of the status
index, which carries the columns, so it reads the page size whatever the table holds (the other
views read keys from their index, then the page's items by key); never a scan."""

from __future__ import annotations

import threading
import time
from typing import Any

from chalicelib.adapters import aws
from chalicelib.adapters.dynamo import DynamoStore
from chalicelib.adapters.dynamo.referrals import DynamoReferrals
from chalicelib.config import get_settings
from chalicelib.domain.records import NewReferral, View


def store() -> DynamoReferrals:
    return DynamoStore(aws.client("dynamodb"), get_settings().table_name).referrals


def create(referrals: DynamoReferrals, count: int) -> list[str]:
    """`count` submitted referrals, oldest first (each a few milliseconds after the last)."""
    references = []
    for index in range(count):
        made = referrals.create(NewReferral(answers="{}", total_pence=1000 + index,
                                            referrer_email="sam.okafor@nhs.net",
                                            borough="newham", nhs_number="9434765919"),
                                "sam.okafor@nhs.net")
        references.append(made.reference)
        time.sleep(0.003)  # created_at has millisecond resolution
    return references


def test_a_status_page_reads_the_page_and_nothing_more(aws_stack: Any) -> None:
    referrals = store()
    references = create(referrals, 30)
    first = referrals.page(View("status", "submitted"), 25)
    assert [r.reference for r in first.rows] == references[::-1][:25]
    assert all(r.status == "submitted" for r in first.rows)
    assert first.next_page is not None
    assert first.scanned_count == 25 and first.keys_fetched == 0 and first.items_read == 25
    second = referrals.page(View("status", "submitted"), 25, first.next_page)
    assert [r.reference for r in second.rows] == references[::-1][25:]
    assert second.next_page is None
    assert second.items_read == 5


def test_another_view_reads_its_keys_then_the_page_by_key(aws_stack: Any) -> None:
    referrals = store()
    references = create(referrals, 7)
    page = referrals.page(View("borough", "newham"), 5)
    assert [r.reference for r in page.rows] == references[::-1][:5]
    assert (page.scanned_count, page.keys_fetched, page.items_read) == (5, 5, 10)


def test_only_referrals_in_the_status_are_listed(aws_stack: Any) -> None:
    referrals = store()
    references = create(referrals, 6)
    moved = references[1::2]
    for reference in moved:
        referrals.change(reference, "awaiting_sign_off", ("submitted",), actor="system",
                         what="intake_recorded")
    waiting = referrals.page(View("status", "awaiting_sign_off"), 25)
    assert [r.reference for r in waiting.rows] == moved[::-1]
    submitted = referrals.page(View("status", "submitted"), 25)
    assert [r.reference for r in submitted.rows] == [
        r for r in references[::-1] if r not in moved]
    closed = referrals.page(View("status", "closed"), 25)
    assert closed.rows == [] and closed.next_page is None


def test_the_worklist_never_scans(aws_stack: Any) -> None:
    referrals = store()
    create(referrals, 3)
    calls: list[str] = []

    def record(event_name: str, **kwargs: Any) -> None:
        # This thread's calls: the state machine's and SES's events run on their own.
        if threading.get_ident() == mine:
            calls.append(event_name.rsplit(".", 1)[-1])

    mine = threading.get_ident()

    events = aws.client("dynamodb").meta.events
    events.register("before-call.dynamodb", record)
    try:
        referrals.page(View("status", "submitted"), 25)
        statuses = list(calls)
        referrals.page(View("all"), 25)
    finally:
        events.unregister("before-call.dynamodb", record)
    assert statuses == ["Query"]  # one query: the index carries the columns, no fetch by key
    assert calls == ["Query", "Query", "BatchGetItem"]
