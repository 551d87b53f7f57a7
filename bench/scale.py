"""Scale: what the staff worklist's first page (25 referrals in a status, newest first) reads,
with 1,000 and with 50,000 referrals stored; the same for its other views (all, a borough,
a tier, flagged, overdue), each a query of its own index and then the page's referrals by key;
and what finding a referral reads: by the person's NHS number, their last name and the
referrer's email address.

moto answers an index query by walking every item, so its timings say nothing about DynamoDB:
this counts the items DynamoDB would read (the query's ScannedCount plus the referral items then
fetched by key) and estimates the read request units from their sizes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.awscalls import item_size, read_units

TABLE = "phb-pathway-bench-scale"
SIZES = (1_000, 50_000)
PAGE = 25
# A plausible mix of statuses for a service a few years old: most referrals are finished.
MIX = (
    ("closed", 60), ("rejected", 8), ("withdrawn", 4), ("expired", 3),
    ("funds_released", 8), ("reviewed", 5), ("agreement_accepted", 2), ("approved", 3),
    ("awaiting_sign_off", 5), ("awaiting_information", 1), ("submitted", 1),
)
WORKLIST_STATUS = "awaiting_sign_off"
BOROUGHS = ("city_and_hackney", "tower_hamlets", "newham")
TIERS = ("referrer",) * 7 + ("manager",) * 2 + ("panel",)
# Statuses in which a step waits for a person. A wait ends within (reminders + 1) periods (then
# the referral expires), so only the newest referrals can be waiting: those submitted in the
# last WAITING_WINDOW before "now" (the newest referral's time plus an hour).
WAITING_STATUSES = ("awaiting_sign_off", "awaiting_information", "approved",
                    "agreement_accepted")
REMINDER_AFTER = timedelta(days=3)
WAITING_WINDOW = REMINDER_AFTER * 3
SPACING = timedelta(minutes=17)
VIEWS = (("all", ""), ("borough", "newham"), ("tier", "manager"), ("flagged", ""),
         ("overdue", ""))
# The people searched for, all among the first 1,000 loaded (so in both tables): one person
# with two referrals, a rare last name on three people's, one referrer's ten. Everyone else has
# an NHS number of their own and one of a few referrers; one in 50 is a Morgan (the example
# referral's name), a common name whose search stops at the search size.
SEARCHED_NHS = "9434765919"
SEARCHED_NHS_AT = (100, 600)
RARE_NAME = "Okonkwo-Bell"
RARE_NAME_AT = (200, 400, 800)
COMMON_NAME = "Morgan"
SEARCHED_REFERRER = "priya.shah@nhs.net"
SEARCH_SIZE = 50


@dataclass
class PageRead:
    stored: int
    status: str
    in_status: int
    returned: int
    scanned_count: int
    keys_fetched: int
    next_key: bool
    newest_first: bool
    rru: float  # estimated: the index query (eventually consistent) plus each item fetched

    @property
    def items_read(self) -> int:
        return self.scanned_count + self.keys_fetched


@dataclass
class SearchRead:
    """What one search read: index entries (ScannedCount) and items by key, and the calls."""

    stored: int
    label: str
    found: int
    index_entries: int
    items_fetched: int
    operations: list[str]

    @property
    def items_read(self) -> int:
        return self.index_entries + self.items_fetched


class _Counting:
    """A DynamoDB client that counts what its queries and reads by key return."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.index_entries = 0
        self.items_fetched = 0
        self.operations: list[str] = []

    def query(self, **kwargs: Any) -> Any:
        page = self._client.query(**kwargs)
        self.operations.append("Query")
        self.index_entries += int(page.get("ScannedCount", len(page["Items"])))
        return page

    def batch_get_item(self, **kwargs: Any) -> Any:
        found = self._client.batch_get_item(**kwargs)
        self.operations.append("BatchGetItem")
        self.items_fetched += sum(len(items) for items in found["Responses"].values())
        return found

    def get_item(self, **kwargs: Any) -> Any:
        found = self._client.get_item(**kwargs)
        self.operations.append("GetItem")
        self.items_fetched += "Item" in found
        return found

    def __getattr__(self, name: str) -> Any:
        if name not in ("exceptions", "meta"):
            self.operations.append(name)  # any other call (a scan would show here)
        return getattr(self._client, name)


def _searches(client: Any, stored: int) -> list[SearchRead]:
    """Each way an advisor finds a referral, as the worklist's search calls the store."""
    from chalicelib.adapters.dynamo import DynamoStore

    def by_nhs_number(referrals: Any) -> int:
        return len([referrals.get(r) for r in referrals.references_for_person(SEARCHED_NHS)])

    searches: list[tuple[str, Callable[[Any], int]]] = [
        ("NHS number (2 referrals)", by_nhs_number),
        ("last name, rare (3)", lambda r: len(r.for_last_name(RARE_NAME, SEARCH_SIZE))),
        ("referrer's email (10)",
         lambda r: len(r.for_referrer(SEARCHED_REFERRER, SEARCH_SIZE).referrals)),
        (f"last name, common (1 in 50; at most {SEARCH_SIZE} listed)",
         lambda r: len(r.for_last_name(COMMON_NAME, SEARCH_SIZE))),
    ]
    out = []
    for label, search in searches:
        counting = _Counting(client)
        found = search(DynamoStore(counting, TABLE).referrals)
        out.append(SearchRead(stored, label, found, counting.index_entries,
                              counting.items_fetched, sorted(set(counting.operations))))
    return out


@dataclass
class Scale:
    pages: list[PageRead] = field(default_factory=list)
    second_pages: list[PageRead] = field(default_factory=list)
    load_s: float = 0.0
    item_bytes: int = 0

    views: list[PageRead] = field(default_factory=list)
    searches: list[SearchRead] = field(default_factory=list)

    def first(self, stored: int) -> PageRead:
        return next(p for p in self.pages if p.stored == stored)

    def view(self, stored: int, name: str) -> PageRead:
        return next(p for p in self.views if p.stored == stored and p.status == name)


def _statuses(count: int) -> list[str]:
    wheel = [status for status, share in MIX for _ in range(share)]
    return [wheel[(index * 37) % len(wheel)] for index in range(count)]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _created(epoch: datetime, index: int) -> str:
    return _iso(epoch + SPACING * index)


def _load(client: Any, start: int, count: int, answers: str, epoch: datetime) -> dict[str, int]:
    """Referral-shaped items with the index keys intake and the steps give them, 25 to a
    BatchWriteItem: status, all, borough, tier, flagged (one in ten) and, for the newest in a
    waiting status, waiting (due a reminder period after submission)."""
    from chalicelib.adapters.dynamo.items import (
        ALL_INDEX,
        BOROUGH_INDEX,
        FLAGGED_INDEX,
        PERSON_INDEX,
        REFERRER_INDEX,
        TIER_INDEX,
        WAITING_INDEX,
        index_entry,
        person_partition,
        referral_key,
        referrer_partition,
        s,
        sort_key,
        status_partition,
        surname_item,
    )

    per_status: dict[str, int] = {}
    statuses = _statuses(start + count)[start:]
    batch: list[dict[str, Any]] = []
    newest = epoch + SPACING * (start + count - 1)
    for offset, status in enumerate(statuses):
        index = start + offset
        reference = _reference(index)
        created = _created(epoch, index)
        nhs, last_name, referrer = _who(index)
        item = {
            **referral_key(reference),
            "gsi1pk": s(status_partition(status)), "gsi1sk": s(sort_key(created, reference)),
            **index_entry(ALL_INDEX, "REFERRALS", created, reference),
            **index_entry(BOROUGH_INDEX, f"BOROUGH#{BOROUGHS[index % 3]}", created, reference),
            **index_entry(TIER_INDEX, f"TIER#{TIERS[index % len(TIERS)]}", created, reference),
            **index_entry(PERSON_INDEX, person_partition(nhs), created, reference),
            **index_entry(REFERRER_INDEX, referrer_partition(referrer), created, reference),
            "reference": {"S": reference}, "status": {"S": status},
            "created_at": {"S": created}, "updated_at": {"S": created},
            "answers": {"S": _named(answers, last_name)}, "total_pence": {"N": "12000"},
            "referrer_email": {"S": referrer}, "tier": {"S": TIERS[index % 10]},
        }
        batch.append({"PutRequest": {"Item": surname_item(reference, created, last_name)}})
        if index % 10 == 3:
            item.update(index_entry(FLAGGED_INDEX, "FLAGGED", created, reference))
        when = epoch + SPACING * index
        if status in WAITING_STATUSES and newest - when < WAITING_WINDOW:
            item.update(index_entry(WAITING_INDEX, "WAITING", created, reference))
            item["due_at"] = {"S": _iso(when + REMINDER_AFTER)}
            item["waiting_step"] = {"S": "sign_off"}
        batch.append({"PutRequest": {"Item": item}})
        per_status[status] = per_status.get(status, 0) + 1
        if len(batch) >= 24:  # two items each: the referral and its SURNAME item
            _write(client, batch)
            batch = []
    if batch:
        _write(client, batch)
    return per_status


def _who(index: int) -> tuple[str, str, str]:
    """The person's NHS number and last name and the referrer of the `index`th referral."""
    nhs = SEARCHED_NHS if index in SEARCHED_NHS_AT else f"8{index:09d}"
    last_name = RARE_NAME if index in RARE_NAME_AT else (
        COMMON_NAME if index % 50 == 7 else f"Name{index}")
    referrer = SEARCHED_REFERRER if index < 1_000 and index % 100 == 11 else \
        f"clinician{index % 40}@nhs.net"
    return nhs, last_name, referrer


def _named(answers: str, last_name: str) -> str:
    """The example referral's answers for a person of this last name."""
    referral = json.loads(answers)
    referral["person"]["last_name"] = last_name
    return json.dumps(referral)


def _reference(index: int) -> str:
    return f"PHB-{index // 10000:04d}-{index % 10000:04d}"


def _stop_waiting(client: Any, now: datetime) -> None:
    """Referrals loaded earlier whose waits are over by `now` (they expired or moved on) leave
    the waiting index, as the status change that ends a wait takes them off it."""
    from chalicelib.adapters.dynamo.items import WAITING_INDEX

    kwargs: dict[str, Any] = {
        "TableName": TABLE, "IndexName": WAITING_INDEX,
        "KeyConditionExpression": f"{WAITING_INDEX}pk = :w AND {WAITING_INDEX}sk < :old",
        "ExpressionAttributeValues": {":w": {"S": "WAITING"},
                                      ":old": {"S": _iso(now - WAITING_WINDOW)}},
    }
    while True:
        page = client.query(**kwargs)
        for key in page["Items"]:
            client.update_item(TableName=TABLE, Key={"pk": key["pk"], "sk": key["sk"]},
                               UpdateExpression=f"REMOVE {WAITING_INDEX}pk, {WAITING_INDEX}sk, "
                                                "due_at, waiting_step")
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _write(client: Any, batch: list[dict[str, Any]]) -> None:
    pending = {TABLE: batch}
    while pending:
        pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def _read_page(client: Any, stored: int, status: str, in_status: int,
               after: str | None = None) -> tuple[PageRead, str | None]:
    from chalicelib.adapters.dynamo import DynamoStore
    from chalicelib.domain.records import View

    store = DynamoStore(client, TABLE).referrals
    page = store.page(View("status", status), PAGE, after)
    # Read units: what the query read from the KEYS_ONLY index (always eventually consistent),
    # then each referral item fetched by strongly consistent BatchGetItem.
    index_bytes = sum(
        item_size({"pk": {"S": f"REFERRAL#{r.reference}"}, "sk": {"S": "REFERRAL"},
                   "gsi1pk": {"S": f"STATUS#{status}"},
                   "gsi1sk": {"S": f"{r.created_at}#{r.reference}"}})
        for r in page.rows
    )
    return _page_read(client, stored, status, in_status, page,
                      read_units(index_bytes, consistent=False)), page.next_page


def _page_read(client: Any, stored: int, label: str, in_view: int, page: Any,
               index_rru: float) -> PageRead:
    """What reading `page` cost: its index read units plus each referral item on it read by
    key, strongly consistent (read units are charged on the whole item)."""
    rru = index_rru
    for referral in page.rows:
        item = client.get_item(TableName=TABLE, Key={"pk": {"S": f"REFERRAL#{referral.reference}"},
                                                     "sk": {"S": "REFERRAL"}})["Item"]
        rru += read_units(item_size(item), consistent=True)
    created = [r.created_at for r in page.rows]
    return PageRead(
        stored=stored, status=label, in_status=in_view, returned=len(page.rows),
        scanned_count=page.scanned_count, keys_fetched=page.keys_fetched,
        next_key=page.next_page is not None,
        newest_first=created == sorted(created, reverse=True), rru=rru)


def _read_view(client: Any, stored: int, view: str, value: str, in_view: int,
               now: datetime) -> PageRead:
    """The first page of another worklist view: a Query on the view's KEYS_ONLY index (for
    overdue, filtered by due time), then the page's referrals by key (BatchGetItem; read units
    are charged on each whole item, whatever the projection)."""
    from chalicelib.adapters.dynamo import DynamoStore
    from chalicelib.domain.records import View

    store = DynamoStore(client, TABLE).referrals
    page = store.page(View(view, value), PAGE, now=_iso(now))
    entry = 4 * 40  # pk, sk and the index's two keys: about 40 bytes each
    return _page_read(client, stored, f"{view}:{value}" if value else view, in_view, page,
                      read_units(entry * page.scanned_count, consistent=False))


def _in_view(client: Any, size: int, view: str, now: datetime) -> int:
    """How many referrals the view holds (counted from the load's rules; overdue by a query)."""
    from chalicelib.adapters.dynamo.items import WAITING_INDEX

    if view == "overdue":
        return int(client.query(
            TableName=TABLE, IndexName=WAITING_INDEX, Select="COUNT",
            KeyConditionExpression=f"{WAITING_INDEX}pk = :w", FilterExpression="due_at < :now",
            ExpressionAttributeValues={":w": {"S": "WAITING"}, ":now": {"S": _iso(now)}},
        )["Count"])
    tests: dict[str, Callable[[int], bool]] = {
        "all": lambda i: True, "borough": lambda i: BOROUGHS[i % 3] == "newham",
        "tier": lambda i: TIERS[i % len(TIERS)] == "manager", "flagged": lambda i: i % 10 == 3}
    test = tests[view]
    return sum(1 for i in range(size) if test(i))


def measure() -> Scale:
    import boto3
    from moto import mock_aws

    from chalicelib.adapters.dynamo import table_definition
    from chalicelib.config import get_settings
    from chalicelib.domain.validation import validate_referral
    from devstack.example import make_referral

    referral = validate_referral(make_referral(total_pence=12000), get_settings())
    assert not isinstance(referral, list), referral
    answers = referral.model_dump_json()
    epoch = datetime(2024, 1, 1, tzinfo=UTC)
    result = Scale()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-2")
        client.create_table(**table_definition(TABLE))
        counts: dict[str, int] = {}
        loaded = 0
        for size in SIZES:
            started = time.perf_counter()
            for status, count in _load(client, loaded, size - loaded, answers, epoch).items():
                counts[status] = counts.get(status, 0) + count
            result.load_s += time.perf_counter() - started
            loaded = size
            page, next_key = _read_page(client, size, WORKLIST_STATUS, counts[WORKLIST_STATUS])
            result.pages.append(page)
            second, _ = _read_page(client, size, WORKLIST_STATUS, counts[WORKLIST_STATUS],
                                   next_key)
            result.second_pages.append(second)
            largest, _ = _read_page(client, size, "closed", counts["closed"])
            result.pages.append(largest)
            now = epoch + SPACING * (size - 1) + timedelta(hours=1)
            _stop_waiting(client, now)
            for view, value in VIEWS:
                result.views.append(_read_view(client, size, view, value,
                                               _in_view(client, size, view, now), now))
            result.searches += _searches(client, size)
        sample = client.get_item(TableName=TABLE, Key={"pk": {"S": "REFERRAL#PHB-0000-0000"},
                                                       "sk": {"S": "REFERRAL"}})["Item"]
        result.item_bytes = item_size(sample)
    json.dumps([p.__dict__ for p in result.pages])  # plain data only
    return result
