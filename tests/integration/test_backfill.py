"""The one-off backfill on moto: referrals as an earlier version stored them (no referrer index
keys, no ACTIVITY item, no SURNAME item) are found by a referrer's page, the reports and the
search by last name afterwards; a second run writes nothing; what the service writes between
the backfill's read and its write is never overwritten, and retention's removal of personal data
is never undone. Read through the all-referrals index and by key, never a scan."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from chalicelib.adapters.dynamo import DynamoStore, backfill, table_definition
from chalicelib.adapters.dynamo.backfill import Counts, resume_token, start_after
from chalicelib.adapters.dynamo.items import (
    activity_item,
    partition_key,
    referral_key,
    s,
    status_partition,
)
from chalicelib.adapters.dynamo.referrals import DynamoReferrals
from chalicelib.domain.dates import now_iso
from chalicelib.domain.records import NewReferral
from infra import backfill as command

TABLE = "phb-backfill"
SAM = "sam.okafor@nhs.net"
PRIYA = "priya.shah@nhs.net"
TODAY = now_iso()[:10]


@dataclass(frozen=True)
class Old:
    reference: str
    created_at: str
    status: str = "submitted"
    updated_at: str = ""
    last_name: str = "Smith"
    referrer: str = SAM


# Referrals an earlier version stored: two active, one ended in March 2025, one ended in March
# and since anonymised by retention, one of Priya's (another name), all submitted in 2025.
OLD = (
    Old("PHB-AAAA-AAAA", "2025-01-10T09:00:00.000Z"),
    Old("PHB-BBBB-BBBB", "2025-02-11T09:00:00.000Z", "closed", "2025-03-15T10:00:00.000Z"),
    Old("PHB-CCCC-CCCC", "2025-02-12T09:00:00.000Z", "withdrawn", "2025-03-16T10:00:00.000Z"),
    Old("PHB-DDDD-DDDD", "2025-04-01T09:00:00.000Z", last_name="Okonkwo-Bell", referrer=PRIYA),
    Old("PHB-EEEE-EEEE", "2025-05-02T09:00:00.000Z"),
)
ANONYMISED = "PHB-CCCC-CCCC"


@pytest.fixture
def table() -> Iterator[tuple[Any, DynamoReferrals]]:
    """A table of its own on the session's moto (emptied by deleting it afterwards), holding
    the `OLD` referrals as an earlier version wrote them."""
    from tests.conftest import SESSION

    SESSION.ensure()
    client = boto3.client("dynamodb", region_name="eu-west-2")
    client.create_table(**table_definition(TABLE))
    try:
        referrals = DynamoStore(client, TABLE).referrals
        for old in OLD:
            store_as_before(client, old)
        yield client, referrals
    finally:
        client.delete_table(TableName=TABLE)


def store_as_before(client: Any, old: Old) -> None:
    """A referral's items as an earlier version wrote them: what `create` writes now without the
    referrer index keys, the ACTIVITY item and the SURNAME item; anonymised as retention leaves
    one (no answers, no referrer, facts kept)."""
    answers = json.dumps({"person": {"first_name": "Jo", "last_name": old.last_name}})
    item = DynamoReferrals._new_item(
        NewReferral(answers=answers, total_pence=12000, referrer_email=old.referrer,
                    borough="newham", nhs_number="9434765919", last_name=old.last_name),
        old.reference, old.created_at)
    item = {name: attribute for name, attribute in item.items()
            if name not in ("gsi9pk", "gsi9sk")}
    item.update({"status": s(old.status), "gsi1pk": s(status_partition(old.status)),
                 "updated_at": s(old.updated_at or old.created_at)})
    if old.reference == ANONYMISED:
        for name in ("answers", "referrer_email", "gsi7pk", "gsi7sk"):
            del item[name]
        item.update({"anonymised_at": s("2025-06-01T00:00:00.000Z"),
                     "facts": s(json.dumps({"unspent": []}))})
    client.put_item(TableName=TABLE, Item=item)


def partition_items(client: Any, reference: str) -> dict[str, dict[str, Any]]:
    """Every item of a referral's partition, by sort key."""
    found = client.query(TableName=TABLE, KeyConditionExpression="pk = :pk",
                         ExpressionAttributeValues={":pk": s(f"REFERRAL#{reference}")},
                         ConsistentRead=True)["Items"]
    return {item["sk"]["S"]: item for item in found}


@contextmanager
def dynamodb_calls(client: Any) -> Iterator[list[str]]:
    """The DynamoDB operations the client calls inside the block, in order."""
    calls: list[str] = []

    def record(event_name: str, **kwargs: Any) -> None:
        calls.append(event_name.rsplit(".", 1)[-1])

    client.meta.events.register("before-call.dynamodb", record)
    try:
        yield calls
    finally:
        client.meta.events.unregister("before-call.dynamodb", record)


@contextmanager
def just_before(client: Any, operation: str, reference: str, then: Callable[[], None]
                ) -> Iterator[None]:
    """Run `then` once, just before the client's first `operation` on `reference`'s partition:
    what the service does between the backfill's read and its write."""
    done: list[bool] = []

    def hook(params: dict[str, Any], **kwargs: Any) -> None:
        if not done and f"REFERRAL#{reference}" in json.dumps(params):
            done.append(True)
            then()

    event = f"before-parameter-build.dynamodb.{operation}"
    client.meta.events.register(event, hook)
    try:
        yield
    finally:
        client.meta.events.unregister(event, hook)
    assert done, f"no {operation} on {reference}"


def references(found: Any) -> list[str]:
    return [r.reference for r in found]


def test_older_referrals_are_found_by_the_referrer_the_reports_and_the_last_name(
        table: tuple[Any, DynamoReferrals]) -> None:
    client, referrals = table
    # As an earlier version left them: found by none of the three.
    assert referrals.for_referrer(SAM, 50).referrals == []
    assert referrals.active_between("2025-01-01", TODAY) == []
    assert referrals.for_last_name("smith", 50) == []

    with dynamodb_calls(client) as calls:
        counts = backfill.backfill(client, TABLE)

    assert counts == Counts(referrals=5, anonymised=1, keys_added=4, activity_written=5,
                            surnames_written=4, already_present=0, changed_meanwhile=0)
    assert "Scan" not in calls
    assert set(calls) == {"Query", "BatchGetItem", "PutItem", "UpdateItem", "TransactWriteItems"}
    # Newest first, the anonymised one not among them.
    assert references(referrals.for_referrer(SAM, 50).referrals) == [
        "PHB-EEEE-EEEE", "PHB-BBBB-BBBB", "PHB-AAAA-AAAA"]
    assert references(referrals.for_referrer(PRIYA, 50).referrals) == ["PHB-DDDD-DDDD"]
    assert references(referrals.for_last_name("SMITH ", 50)) == [
        "PHB-EEEE-EEEE", "PHB-BBBB-BBBB", "PHB-AAAA-AAAA"]
    assert references(referrals.for_last_name("okonkwo-bell", 50)) == ["PHB-DDDD-DDDD"]
    # Each filed where it counts: those that ended in March 2025 are in a range from then, not
    # in one starting after it; the active ones are in both.
    assert references(referrals.active_between("2025-01-01", TODAY)) == [
        old.reference for old in OLD]
    assert references(referrals.active_between("2025-04-01", TODAY)) == [
        "PHB-AAAA-AAAA", "PHB-DDDD-DDDD", "PHB-EEEE-EEEE"]
    # Submitted after the range's end: not in it.
    assert references(referrals.active_between("2025-01-01", "2025-03-31")) == [
        "PHB-AAAA-AAAA", "PHB-BBBB-BBBB", "PHB-CCCC-CCCC"]


def test_an_anonymised_referral_gets_its_activity_item_and_neither_a_name_nor_a_referrer(
        table: tuple[Any, DynamoReferrals]) -> None:
    client, _ = table
    backfill.backfill(client, TABLE)
    items = partition_items(client, ANONYMISED)
    assert set(items) == {"REFERRAL", "ACTIVITY"}
    assert items["ACTIVITY"]["gsi8pk"] == s("ENDED#2025-03")
    assert not {"gsi9pk", "gsi9sk", "gsi7pk", "answers", "referrer_email"} & set(items["REFERRAL"])


def test_a_second_run_writes_nothing(table: tuple[Any, DynamoReferrals]) -> None:
    client, _ = table
    backfill.backfill(client, TABLE)
    before = {old.reference: partition_items(client, old.reference) for old in OLD}
    with dynamodb_calls(client) as calls:
        again = backfill.backfill(client, TABLE)
    assert again == Counts(referrals=5, anonymised=1, already_present=13)
    assert set(calls) == {"Query", "BatchGetItem"}
    assert {old.reference: partition_items(client, old.reference) for old in OLD} == before


def test_it_reads_page_by_page_and_resumes_after_the_page_a_stopped_run_printed(
        table: tuple[Any, DynamoReferrals], monkeypatch: pytest.MonkeyPatch) -> None:
    client, referrals = table
    # Two referrals a page, their six keys read four at a time.
    monkeypatch.setattr(backfill, "PAGE_SIZE", 2)
    monkeypatch.setattr(backfill, "BATCH_KEYS", 4)
    tokens: list[str] = []

    class Stopped(Exception):
        pass

    def stop_after_the_first_page(counts: Counts, last: dict[str, Any] | None) -> None:
        assert last is not None
        tokens.append(resume_token(last))
        raise Stopped

    with pytest.raises(Stopped):
        backfill.backfill(client, TABLE, on_page=stop_after_the_first_page)
    with dynamodb_calls(client) as calls:
        rest = backfill.backfill(client, TABLE, after=start_after(tokens[0]))
    assert rest.referrals == 3
    assert calls.count("Query") == 2 and calls.count("BatchGetItem") == 3
    assert references(referrals.active_between("2025-01-01", TODAY)) == [
        old.reference for old in OLD]
    with pytest.raises(ValueError):
        start_after(resume_token({**start_after(tokens[0]), "gsi2pk": s("STATUS#submitted")}))


def test_an_activity_item_the_service_writes_meanwhile_is_not_overwritten(
        table: tuple[Any, DynamoReferrals]) -> None:
    client, _ = table
    reference = "PHB-AAAA-AAAA"

    def close_it() -> None:
        # As `change` does when the referral ends: the status and its ACTIVITY item, newer than
        # what the backfill read (an active referral).
        client.update_item(TableName=TABLE, Key=referral_key(reference),
                           UpdateExpression="SET #s = :closed, updated_at = :at",
                           ExpressionAttributeNames={"#s": "status"},
                           ExpressionAttributeValues={":closed": s("closed"), ":at": s(now_iso())})
        client.put_item(TableName=TABLE, Item=activity_item(
            reference, OLD[0].created_at, f"ENDED#{TODAY[:7]}"))

    with just_before(client, "PutItem", reference, close_it):
        counts = backfill.backfill(client, TABLE)
    assert counts.changed_meanwhile == 1 and counts.activity_written == 4
    assert partition_items(client, reference)["ACTIVITY"]["gsi8pk"] == s(f"ENDED#{TODAY[:7]}")


def test_retention_meanwhile_is_not_undone(table: tuple[Any, DynamoReferrals]) -> None:
    client, referrals = table
    reference = "PHB-BBBB-BBBB"

    def remove_personal_data() -> None:
        assert referrals.remove_personal_data(referrals.get(reference), {"unspent": []},
                                              "retention", "(removed)")

    # Between the backfill's read (the referral holds the person's name and its referrer) and
    # its writes of the referrer keys and the SURNAME item.
    with just_before(client, "UpdateItem", reference, remove_personal_data):
        counts = backfill.backfill(client, TABLE)
    assert counts.changed_meanwhile == 2 and counts.keys_added == 3
    assert counts.surnames_written == 3
    items = partition_items(client, reference)
    assert "SURNAME" not in items and "gsi9pk" not in items["REFERRAL"]
    assert reference not in references(referrals.for_referrer(SAM, 50).referrals)


def test_retention_deletes_a_surname_item_written_after_it_read_the_partition(
        table: tuple[Any, DynamoReferrals]) -> None:
    client, referrals = table
    reference = "PHB-AAAA-AAAA"

    def backfill_writes_the_surname() -> None:
        # As the backfill does between retention's deleting the partition's SURNAME item and
        # its transaction removing the personal data (the referral still holds it).
        client.put_item(TableName=TABLE, Item={**partition_key(reference, "SURNAME"),
                                               "gsi7pk": s("SURNAME#x"), "gsi7sk": s("x")})

    with just_before(client, "TransactWriteItems", reference, backfill_writes_the_surname):
        assert referrals.remove_personal_data(referrals.get(reference), {"unspent": []},
                                              "retention", "(removed)")
    assert "SURNAME" not in partition_items(client, reference)


def test_the_command_names_the_table_and_prints_the_counts(
        table: tuple[Any, DynamoReferrals], capsys: pytest.CaptureFixture[str]) -> None:
    assert command.main(["--table", TABLE, "--region", "eu-west-2"]) == 0
    out = capsys.readouterr().out
    assert f"Backfilling {TABLE} in eu-west-2" in out
    for line in ("referrals read: 5", "referrer keys added (gsi9pk/gsi9sk): 4",
                 "ACTIVITY items written: 5", "SURNAME items written: 4", "already present: 0"):
        assert line in out.splitlines()
    command.main(["--table", TABLE, "--region", "eu-west-2"])
    assert "already present: 13" in capsys.readouterr().out.splitlines()


def test_the_command_finds_the_table_in_the_stacks_outputs() -> None:
    class CloudFormation:
        def __init__(self, outputs: list[dict[str, str]]) -> None:
            self.outputs = outputs

        def describe_stacks(self, StackName: str) -> dict[str, Any]:
            assert StackName == "phb-pathway-prod"
            return {"Stacks": [{"Outputs": self.outputs}]}

    assert command.table_of(CloudFormation([
        {"OutputKey": "PublicUrl", "OutputValue": "https://phb.example.org"},
        {"OutputKey": "TableName", "OutputValue": "phb-pathway-prod-PathwayTable-1AB2"},
    ]), "phb-pathway-prod") == "phb-pathway-prod-PathwayTable-1AB2"
    with pytest.raises(SystemExit, match="no TableName output"):
        command.table_of(CloudFormation([]), "phb-pathway-prod")
