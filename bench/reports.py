"""Scale: what the staff reports read for a range, with 1,000 and with 50,000 referrals stored.

The reports read the referrals active in the range (`referrals.active_between(since, until)`:
submitted by its end and not ended before its start), by the activity entries of index `gsi8`
(`ACTIVE`, or `ENDED#<month>`), then the referrals by key. Referrals are loaded one every 17
minutes (as the worklist's benchmark does), each with its `ACTIVITY` item; three in ten end a
week after submission (not approved, withdrawn, expired) and the rest are closed 100 days after
it, unless that is still to come (then they are open). So the same range at the two sizes has
about the same referrals active in it: what it reads should follow them, not the table.

moto answers an index query by walking every item, so this counts what DynamoDB would read:
each query's ScannedCount (index entries) plus the referral items fetched by BatchGetItem,
and estimates the read units (index entries eventually consistent, about 120 bytes each;
each item fetched rounded on its own, as BatchGetItem is charged). The reads before this
version, every referral submitted up to the range's end, are shown beside them.

    python -m bench.reports    # this section alone, printed as Markdown (about a minute)
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.awscalls import item_size, read_units

TABLE = "phb-pathway-bench-reports"
SIZES = (1_000, 50_000)
SPACING = timedelta(minutes=17)
SHORT, LONG = timedelta(days=7), timedelta(days=100)
# (name, days before "now" the range starts, its length in days)
RANGES = (("last week", 7, 7), ("last month", 30, 30), ("last quarter", 91, 91))
INDEX_ENTRY_BYTES = 120  # pk, sk, gsi8pk, gsi8sk


@dataclass
class RangeRead:
    stored: int
    name: str
    since: str
    until: str
    active: int  # referrals active in the range (what the reports need)
    returned: int
    queries: int
    index_entries: int
    fetched: int
    rru: float
    # What the previous query read: every referral submitted up to `until`, its index entry
    # and then its item.
    before: int

    @property
    def items_read(self) -> int:
        return self.index_entries + self.fetched


@dataclass
class ReportsScale:
    reads: list[RangeRead] = field(default_factory=list)
    load_s: float = 0.0
    item_bytes: int = 0

    def read(self, stored: int, name: str) -> RangeRead:
        return next(r for r in self.reads if r.stored == stored and r.name == name)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _life(epoch: datetime, index: int, now: datetime) -> tuple[datetime, datetime | None, str]:
    """When referral `index` was submitted, when it ended (None: still open) and its status."""
    created = epoch + SPACING * index
    short = index % 10 < 3
    ended = created + (SHORT if short else LONG)
    if ended > now:
        return created, None, "funds_released"
    return created, ended, ("rejected", "withdrawn", "expired")[index % 3] if short else "closed"


def _load(client: Any, start: int, count: int, answers: str, epoch: datetime,
          now: datetime) -> None:
    from chalicelib.adapters.dynamo.items import (
        ALL_INDEX,
        activity_item,
        activity_partition,
        index_entry,
        referral_key,
        s,
        sort_key,
        status_partition,
    )

    batch: list[dict[str, Any]] = []
    for index in range(start, start + count):
        reference = f"PHB-{index // 10000:04d}-{index % 10000:04d}"
        created_at, ended_at, status = _life(epoch, index, now)
        created, updated = _iso(created_at), _iso(ended_at or created_at)
        batch.append({"PutRequest": {"Item": {
            **referral_key(reference),
            "gsi1pk": s(status_partition(status)), "gsi1sk": s(sort_key(created, reference)),
            **index_entry(ALL_INDEX, "REFERRALS", created, reference),
            "reference": s(reference), "status": s(status), "created_at": s(created),
            "updated_at": s(updated), "answers": s(answers), "total_pence": {"N": "12000"},
            "referrer_email": s("sam.okafor@nhs.net"), "tier": s("referrer")}}})
        activity = activity_item(reference, created, activity_partition(
            updated[:10] if ended_at else None))
        batch.append({"PutRequest": {"Item": activity}})
        if len(batch) == 24:
            _write(client, batch)
            batch = []
    if batch:
        _write(client, batch)


def _write(client: Any, batch: list[dict[str, Any]]) -> None:
    pending = {TABLE: batch}
    while pending:
        pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


class _Counting:
    """The DynamoDB client, counting what queries and BatchGetItem read."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.exceptions = client.exceptions
        self.queries = self.index_entries = self.fetched = 0
        self.rru = 0.0

    def query(self, **kwargs: Any) -> Any:
        page = self._client.query(**kwargs)
        self.queries += 1
        scanned = int(page.get("ScannedCount", len(page["Items"])))
        self.index_entries += scanned
        self.rru += read_units(INDEX_ENTRY_BYTES * scanned, consistent=False)
        return page

    def batch_get_item(self, **kwargs: Any) -> Any:
        response = self._client.batch_get_item(**kwargs)
        for items in response["Responses"].values():
            self.fetched += len(items)
            self.rru += sum(read_units(item_size(i), consistent=False) for i in items)
        return response


def _read(client: Any, stored: int, name: str, since: date, until: date, epoch: datetime,
          now: datetime) -> RangeRead:
    from chalicelib.adapters.dynamo import DynamoStore

    counting = _Counting(client)
    store = DynamoStore(counting, TABLE).referrals
    with _clock(now):
        found = store.active_between(since.isoformat(), until.isoformat())
    lives = [_life(epoch, i, now) for i in range(SIZES[-1] - stored, SIZES[-1])]
    active = sum(1 for created, ended, _ in lives if created.date() <= until
                 and (ended is None or ended.date() >= since))
    before = 2 * sum(1 for created, _, _ in lives if created.date() <= until)
    assert len(found) == active, (name, stored, len(found), active)
    return RangeRead(stored=stored, name=name, since=since.isoformat(),
                     until=until.isoformat(), active=active, returned=len(found),
                     queries=counting.queries, index_entries=counting.index_entries,
                     fetched=counting.fetched, rru=round(counting.rru, 1), before=before)


def _clock(moment: datetime) -> Any:
    """The adapter's `now` (the last month it reads) set to the data set's."""
    from unittest import mock

    return mock.patch("chalicelib.adapters.dynamo.queries.now_iso", lambda: _iso(moment))


def measure() -> ReportsScale:
    """Load 1,000 then 50,000 referrals into moto and read each range at both sizes."""
    import boto3
    from moto import mock_aws

    from chalicelib.adapters.dynamo import table_definition
    from chalicelib.config import get_settings
    from chalicelib.domain.validation import validate_referral
    from devstack.example import make_referral

    referral = validate_referral(make_referral(total_pence=12000), get_settings())
    assert not isinstance(referral, list), referral
    answers = referral.model_dump_json()
    result = ReportsScale()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-2")
        client.create_table(**table_definition(TABLE))
        # "Now" is an hour after the newest referral; the smaller table is the newest 1,000,
        # so both end at the same moment and the ranges are the same dates.
        epoch = datetime(2024, 1, 1, tzinfo=UTC)
        now = epoch + SPACING * (SIZES[-1] - 1) + timedelta(hours=1)
        loaded = 0
        for size in SIZES:
            started = time.perf_counter()
            first = SIZES[-1] - size
            _load(client, first, SIZES[-1] - loaded - first, answers, epoch, now)
            result.load_s += time.perf_counter() - started
            loaded = SIZES[-1] - first
            for name, back, days in RANGES:
                since = (now - timedelta(days=back)).date()
                until = since + timedelta(days=days - 1)
                result.reads.append(_read(client, loaded, name, since, until, epoch, now))
        newest = SIZES[-1] - 1
        result.item_bytes = item_size(client.get_item(TableName=TABLE, Key={
            "pk": {"S": f"REFERRAL#PHB-{newest // 10000:04d}-{newest % 10000:04d}"},
            "sk": {"S": "REFERRAL"}})["Item"])
    return result


def section(r: ReportsScale | None) -> list[str]:
    """The section of docs/PERFORMANCE.md."""
    if r is None:
        return []
    out = [
        "## Scale: the reports' range",
        "",
        "`referrals.active_between(since, until)` (`chalicelib/adapters/dynamo/queries.py`) "
        "queries index `gsi8`'s `ACTIVE` partition and each `ENDED#<month>` partition from "
        "the range's start to now for referrals submitted by its end, then fetches them by "
        "key (`BatchGetItem`). Referrals are loaded one every 17 minutes, each with its "
        "`ACTIVITY` item (`bench/reports.py`: three in ten end a week after submission, the "
        "rest 100 days after it); the smaller table is the newest 1,000, so a range is the "
        f"same dates at both sizes. Referral items are {r.item_bytes / 1024:.1f} KB; "
        f"loading took {r.load_s:.0f} s. Items read are counted as in the worklist's "
        "section; \"before\" is what the previous query read for the same range (every "
        "referral submitted up to its end).",
        "",
        "| stored | range | referrals active in it | queries | index entries read "
        "| referrals fetched | items read | est. RRU | before: items read |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for read in r.reads:
        out.append(f"| {read.stored:,} | {read.name} ({read.since} to {read.until}) | "
                   f"{read.active:,} | {read.queries} | {read.index_entries:,} | "
                   f"{read.fetched:,} | {read.items_read:,} | {read.rru:g} | "
                   f"{read.before:,} |")
    out.append("")
    return out


if __name__ == "__main__":
    from bench.inprocess import prepare_environment

    prepare_environment({})
    print("\n".join(section(measure())), file=sys.stdout)
