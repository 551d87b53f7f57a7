"""The one-off backfill of referrals stored by a version before this one: each is given what this
version writes at submission and its reads rely on, where it is missing.

  - its referrer index keys (`gsi9pk`/`gsi9sk` on the `REFERRAL` item), without which the
    referrer's /my-referrals page does not list it;
  - its `ACTIVITY` item, without which the reports leave it out;
  - its `SURNAME` item, without which an advisor's search by last name does not find it.

A referral whose personal data retention removed gets its `ACTIVITY` item only: neither a
name's key nor a referrer's comes back.

Every referral is read through the all-referrals index (keys only, a page at a time, never a
scan), then each page's items by key; only what is missing is written, each write conditional
on it still being missing. So a second run writes nothing, a run alongside live traffic never
overwrites what the service wrote meanwhile (an `ACTIVITY` item filed anew because the referral
ended), and a run stopped part way is resumed by running it again (or from the page it printed).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from chalicelib.adapters.dynamo.items import (
    ALL_INDEX,
    REFERRER_INDEX,
    activity_item,
    activity_partition,
    partition_key,
    reference_of,
    referral_from_item,
    referral_key,
    referrer_partition,
    s,
    sort_key,
    surname_item,
)
from chalicelib.adapters.dynamo.queries import batch_get
from chalicelib.domain.facts import ended_on
from chalicelib.domain.records import StoredReferral

# Referral keys per page of the index; their items are then read 100 keys (BatchGetItem's
# most) at a time, three per referral.
PAGE_SIZE = 100
BATCH_KEYS = 100


@dataclass
class Counts:
    """What a run did. A piece is `already_present` when it was found in place, and
    `changed_meanwhile` when a conditional write found the service had written it (or retention
    had removed the personal data) between the read and the write: left as it is."""

    referrals: int = 0
    anonymised: int = 0
    keys_added: int = 0
    activity_written: int = 0
    surnames_written: int = 0
    already_present: int = 0
    changed_meanwhile: int = 0

    @property
    def written(self) -> int:
        """Every write the run made."""
        return self.keys_added + self.activity_written + self.surnames_written

    def lines(self) -> list[str]:
        """The counts as a person reads them, one a line."""
        labels = {
            "referrals": "referrals read",
            "anonymised": "  of which anonymised (given ACTIVITY only)",
            "keys_added": "referrer keys added (gsi9pk/gsi9sk)",
            "activity_written": "ACTIVITY items written",
            "surnames_written": "SURNAME items written",
            "already_present": "already present",
            "changed_meanwhile": "changed meanwhile by the service (left as they are)",
        }
        return [f"{labels[f.name]}: {getattr(self, f.name)}" for f in fields(self)]


# A page's end: the index's last key, handed back to resume after it.
PageDone = Callable[[Counts, dict[str, Any] | None], None]


def backfill(client: Any, table: str, after: dict[str, Any] | None = None,
             on_page: PageDone | None = None) -> Counts:
    """Give every referral in `table` what is missing of its referrer keys, `ACTIVITY` item and
    `SURNAME` item; the counts of what it found and wrote. `after` starts after that key of
    the all-referrals index (a page's end, as `on_page` is told it after each page)."""
    counts = Counts()
    query: dict[str, Any] = {
        "TableName": table, "IndexName": ALL_INDEX, "KeyConditionExpression": "#pk = :pk",
        "ExpressionAttributeNames": {"#pk": f"{ALL_INDEX}pk"},
        "ExpressionAttributeValues": {":pk": s("REFERRALS")}, "Limit": PAGE_SIZE,
    }
    start = after
    while True:
        if start:
            query["ExclusiveStartKey"] = start
        page = client.query(**query)
        # Only referral items are filed in the index: anything else would be read for nothing.
        _fill(client, table, [reference_of(i) for i in page["Items"]
                              if i["sk"]["S"] == "REFERRAL"], counts)
        start = page.get("LastEvaluatedKey")
        if on_page is not None:
            on_page(counts, start)
        if start is None:
            return counts


def _fill(client: Any, table: str, references: list[str], counts: Counts) -> None:
    """What is missing of these referrals' pieces, written."""
    keys = [key for reference in references for key in (
        referral_key(reference), partition_key(reference, "ACTIVITY"),
        partition_key(reference, "SURNAME"))]
    found = _items(client, table, keys)
    for reference in references:
        pk = f"REFERRAL#{reference}"
        item = found.get((pk, "REFERRAL"))
        if item is not None:  # the index lags the table: nothing to give a referral not there
            _fill_one(client, table, item, {sk for sk in ("ACTIVITY", "SURNAME")
                                            if (pk, sk) in found}, counts)


def _fill_one(client: Any, table: str, item: dict[str, Any], present: set[str],
              counts: Counts) -> None:
    """What is missing of one referral's pieces (`present`: which of its `ACTIVITY` and
    `SURNAME` items were found), written."""
    counts.referrals += 1
    stored = referral_from_item(item)
    _tally(counts, "activity_written", "ACTIVITY" in present,
           lambda: _put_activity(client, table, stored))
    if stored.anonymised_at:
        counts.anonymised += 1
        return
    if stored.referrer_email:
        _tally(counts, "keys_added", f"{REFERRER_INDEX}pk" in item,
               lambda: _add_referrer_keys(client, table, stored))
    if stored.last_name:
        _tally(counts, "surnames_written", "SURNAME" in present,
               lambda: _put_surname(client, table, stored))


def _tally(counts: Counts, written: str, present: bool, write: Callable[[], bool]) -> None:
    """Count a piece found in place; otherwise write it and count what the write did."""
    if present:
        counts.already_present += 1
    elif write():
        setattr(counts, written, getattr(counts, written) + 1)
    else:
        counts.changed_meanwhile += 1


def _items(client: Any, table: str, keys: list[dict[str, Any]]
           ) -> dict[tuple[str, str], dict[str, Any]]:
    """The items at these keys that exist, by (pk, sk), read consistently (BatchGetItem)."""
    try:
        found = batch_get(client, table, keys, consistent=True, per_call=BATCH_KEYS)
    except RuntimeError:
        raise RuntimeError("the table kept keys unprocessed: run the backfill again later") \
            from None
    return {(item["pk"]["S"], item["sk"]["S"]): item for item in found}


def _put_activity(client: Any, table: str, stored: StoredReferral) -> bool:
    # Filed where the service would file it now. Only if still missing: the service writes it
    # anew whenever the referral ends or reopens, and that is newer than what was read here.
    item = activity_item(stored.reference, stored.created_at,
                         activity_partition(ended_on(stored)))
    try:
        client.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def _add_referrer_keys(client: Any, table: str, stored: StoredReferral) -> bool:
    # Only while the referral has no such keys (an advisor's correction of the address sets
    # them), still has this address and still holds personal data (retention removes both).
    try:
        client.update_item(
            TableName=table, Key=referral_key(stored.reference),
            UpdateExpression="SET #pk = :pk, #sk = :sk",
            ConditionExpression=("attribute_not_exists(#pk) AND attribute_not_exists(#anon) "
                                 "AND #email = :email"),
            ExpressionAttributeNames={"#pk": f"{REFERRER_INDEX}pk", "#sk": f"{REFERRER_INDEX}sk",
                                      "#anon": "anonymised_at", "#email": "referrer_email"},
            ExpressionAttributeValues={
                ":pk": s(referrer_partition(stored.referrer_email)),
                ":sk": s(sort_key(stored.created_at, stored.reference)),
                ":email": s(stored.referrer_email)})
    except client.exceptions.ConditionalCheckFailedException:
        return False
    return True


def _put_surname(client: Any, table: str, stored: StoredReferral) -> bool:
    # In one transaction with a check that retention has not removed the personal data since
    # it was read (retention deletes the SURNAME item in its own transaction): a name's key
    # never outlives the name.
    try:
        client.transact_write_items(TransactItems=[
            {"ConditionCheck": {"TableName": table, "Key": referral_key(stored.reference),
                                "ConditionExpression": "attribute_not_exists(anonymised_at)"}},
            {"Put": {"TableName": table,
                     "Item": surname_item(stored.reference, stored.created_at, stored.last_name),
                     "ConditionExpression": "attribute_not_exists(pk)"}},
        ])
    except client.exceptions.TransactionCanceledException:
        return False
    return True


def resume_token(key: dict[str, Any]) -> str:
    """A page's end as text, to start a later run after it (`start_after`)."""
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def start_after(token: str) -> dict[str, Any]:
    """The key a `resume_token` stands for; ValueError unless it is one of the all-referrals
    index's keys."""
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ValueError("not a resume token") from None
    if not (isinstance(key, dict) and set(key) == {"pk", "sk", f"{ALL_INDEX}pk", f"{ALL_INDEX}sk"}
            and key[f"{ALL_INDEX}pk"] == s("REFERRALS")
            and all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str)
                    for v in key.values())):
        raise ValueError("not a resume token of the all-referrals index")
    return key
