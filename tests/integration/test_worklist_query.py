"""The staff worklist's queries on DynamoDB: a page of any view is one query of its index, then
the page's referrals by key (the person's name is copied into no index), so it reads twice the
page size whatever the table holds; never a scan. Finding someone by last name is one query of
the person index."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib.adapters import aws
from chalicelib.adapters.dynamo import DynamoStore
from chalicelib.adapters.dynamo.items import PERSON_INDEX, surname_partition
from chalicelib.adapters.dynamo.referrals import DynamoReferrals
from chalicelib.config import get_settings
from chalicelib.domain.records import NewReferral, View


def store() -> DynamoReferrals:
    return DynamoStore(aws.client("dynamodb"), get_settings().table_name).referrals


def create(referrals: DynamoReferrals, count: int, last_name: str = "Bloggs") -> list[str]:
    """`count` submitted referrals, oldest first (each a few milliseconds after the last), of
    people called Jo <index> <last_name>."""
    references = []
    for index in range(count):
        answers = json.dumps({"person": {"first_name": f"Jo {index}", "last_name": last_name}})
        made = referrals.create(NewReferral(answers=answers, total_pence=1000 + index,
                                            referrer_email="sam.okafor@nhs.net",
                                            borough="newham", nhs_number="9434765919",
                                            last_name=last_name),
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
    assert first.scanned_count == 25 and first.keys_fetched == 25 and first.items_read == 50
    assert [r.person_name for r in first.rows[:2]] == ["Jo 29 Bloggs", "Jo 28 Bloggs"]
    second = referrals.page(View("status", "submitted"), 25, first.next_page)
    assert [r.reference for r in second.rows] == references[::-1][25:]
    assert second.next_page is None
    assert second.items_read == 10


def test_a_last_name_finds_that_persons_referrals_by_one_query(aws_stack: Any) -> None:
    referrals = store()
    theirs = create(referrals, 3, last_name="Okonkwo-Bell")
    create(referrals, 4, last_name="Bloggs")
    with dynamodb_calls() as calls:
        found = referrals.for_last_name("  okonkwo-BELL ", 50)
    assert [r.reference for r in found] == theirs[::-1]
    assert [r.person_name for r in found] == ["Jo 2 Okonkwo-Bell", "Jo 1 Okonkwo-Bell",
                                              "Jo 0 Okonkwo-Bell"]
    assert calls == ["Query", "BatchGetItem"]
    assert referrals.for_last_name("Okonkwo", 50) == []
    # Retention takes the name's key out of the index with the rest of the personal data.
    for reference in theirs:
        assert referrals.remove_personal_data(referrals.get(reference), {}, "retention job",
                                              "removed")
    left = aws.client("dynamodb").query(
        TableName=get_settings().table_name, IndexName=PERSON_INDEX,
        KeyConditionExpression="gsi7pk = :pk",
        ExpressionAttributeValues={":pk": {"S": surname_partition("Okonkwo-Bell")}})
    assert left["Items"] == []


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


@contextmanager
def dynamodb_calls() -> Iterator[list[str]]:
    """The DynamoDB operations this thread calls inside the block, in order."""
    calls: list[str] = []
    mine = threading.get_ident()

    def record(event_name: str, **kwargs: Any) -> None:
        # This thread's calls: the state machine's and SES's events run on their own.
        if threading.get_ident() == mine:
            calls.append(event_name.rsplit(".", 1)[-1])

    events = aws.client("dynamodb").meta.events
    events.register("before-call.dynamodb", record)
    try:
        yield calls
    finally:
        events.unregister("before-call.dynamodb", record)


def test_the_worklist_never_scans(aws_stack: Any) -> None:
    referrals = store()
    create(referrals, 3)
    with dynamodb_calls() as statuses:
        referrals.page(View("status", "submitted"), 25)
    with dynamodb_calls() as calls:
        referrals.page(View("all"), 25)
        referrals.named(referrals.in_statuses(("submitted",)))
    # One query, then the page's referrals (their names) by key.
    assert statuses == ["Query", "BatchGetItem"]
    assert calls == ["Query", "BatchGetItem", "Query", "BatchGetItem"]
