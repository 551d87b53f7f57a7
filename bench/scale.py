"""Scale: what the staff worklist's first page (25 referrals in a status, newest first) reads,
with 1,000 and with 50,000 referrals stored.

moto answers an index query by walking every item, so its timings say nothing about DynamoDB:
this counts the items DynamoDB would read (the query's ScannedCount plus the referral items then
fetched by key) and estimates the read request units from their sizes.
"""

from __future__ import annotations

import json
import time
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
class Scale:
    pages: list[PageRead] = field(default_factory=list)
    second_pages: list[PageRead] = field(default_factory=list)
    load_s: float = 0.0
    item_bytes: int = 0

    def first(self, stored: int) -> PageRead:
        return next(p for p in self.pages if p.stored == stored)


def _statuses(count: int) -> list[str]:
    wheel = [status for status, share in MIX for _ in range(share)]
    return [wheel[(index * 37) % len(wheel)] for index in range(count)]


def _load(client: Any, start: int, count: int, answers: str, epoch: datetime) -> dict[str, int]:
    """Referral-shaped items with their status index keys, 25 to a BatchWriteItem."""
    from chalicelib.store import _referral_key, _status_index

    per_status: dict[str, int] = {}
    statuses = _statuses(start + count)[start:]
    batch: list[dict[str, Any]] = []
    for offset, status in enumerate(statuses):
        index = start + offset
        reference = f"PHB-{index // 10000:04d}-{index % 10000:04d}"
        created = (epoch + timedelta(minutes=17 * index)).isoformat(timespec="milliseconds")
        created = created.replace("+00:00", "Z")
        batch.append({"PutRequest": {"Item": {
            **_referral_key(reference),
            **_status_index(status, created, reference),
            "reference": {"S": reference}, "status": {"S": status},
            "created_at": {"S": created}, "updated_at": {"S": created},
            "answers": {"S": answers}, "total_pence": {"N": "12000"},
            "referrer_email": {"S": "sam.okafor@nhs.net"}, "tier": {"S": "referrer"},
        }}})
        per_status[status] = per_status.get(status, 0) + 1
        if len(batch) == 25:
            _write(client, batch)
            batch = []
    if batch:
        _write(client, batch)
    return per_status


def _write(client: Any, batch: list[dict[str, Any]]) -> None:
    pending = {TABLE: batch}
    while pending:
        pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}


def _read_page(client: Any, stored: int, status: str, in_status: int,
               start_key: dict[str, Any] | None = None) -> tuple[PageRead, Any]:
    from chalicelib.store import ReferralStore

    store = ReferralStore(client, TABLE)
    page = store.list_by_status(status, limit=PAGE, start_key=start_key)
    # Read units: what the query read from the KEYS_ONLY index (always eventually consistent),
    # then each referral item fetched by strongly consistent BatchGetItem.
    index_bytes = sum(
        item_size({"pk": {"S": f"REFERRAL#{r.reference}"}, "sk": {"S": "REFERRAL"},
                   "gsi1pk": {"S": f"STATUS#{status}"},
                   "gsi1sk": {"S": f"{r.created_at}#{r.reference}"}})
        for r in page.referrals
    )
    rru = read_units(index_bytes, consistent=False)
    for referral in page.referrals:
        item = client.get_item(TableName=TABLE, Key={"pk": {"S": f"REFERRAL#{referral.reference}"},
                                                     "sk": {"S": "REFERRAL"}})["Item"]
        rru += read_units(item_size(item), consistent=True)
    created = [r.created_at for r in page.referrals]
    return PageRead(
        stored=stored, status=status, in_status=in_status, returned=len(page.referrals),
        scanned_count=page.scanned_count, keys_fetched=page.keys_fetched,
        next_key=page.next_key is not None,
        newest_first=created == sorted(created, reverse=True), rru=rru,
    ), page.next_key


def measure() -> Scale:
    import boto3
    from moto import mock_aws

    from chalicelib.config import get_settings
    from chalicelib.referral import validate_referral
    from chalicelib.store import table_definition
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
        sample = client.get_item(TableName=TABLE, Key={"pk": {"S": "REFERRAL#PHB-0000-0000"},
                                                       "sk": {"S": "REFERRAL"}})["Item"]
        result.item_bytes = item_size(sample)
    json.dumps([p.__dict__ for p in result.pages])  # plain data only
    return result
