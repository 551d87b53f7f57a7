"""Reading many referrals: the worklist's views, the reports' range, one person's referrals, one
referrer's and the retention job's candidates. Index queries only, never a scan, so what a page
costs does not grow with the table."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import secrets
import time
from typing import Any

from chalicelib.adapters.dynamo.items import (
    ACTIVITY_INDEX,
    ALL_INDEX,
    BOROUGH_INDEX,
    FLAGGED_INDEX,
    PERSON_INDEX,
    REFERRER_INDEX,
    RELEASE_INDEX,
    STATUS_INDEX,
    TIER_INDEX,
    WAITING_INDEX,
    WORKLIST_COLUMNS,
    assigned_partition,
    event_item,
    index_entry,
    partition_key,
    person_partition,
    reference_of,
    referral_from_item,
    referral_key,
    referrer_partition,
    row_from_item,
    s,
    status_partition,
    surname_partition,
)
from chalicelib.domain.codes import STATUSES
from chalicelib.domain.dates import now_iso
from chalicelib.domain.errors import BadPageToken
from chalicelib.domain.person import name_key
from chalicelib.domain.records import (
    ReferralPage,
    StoredReferral,
    View,
    WorklistPage,
    WorklistRow,
    person_name_in,
)

# view kind -> (index, partition of a value)
VIEWS: dict[str, tuple[str, str]] = {
    "status": (STATUS_INDEX, "STATUS#{}"),
    "all": (ALL_INDEX, "REFERRALS"),
    "borough": (BOROUGH_INDEX, "BOROUGH#{}"),
    "tier": (TIER_INDEX, "TIER#{}"),
    "flagged": (FLAGGED_INDEX, "FLAGGED"),
    "overdue": (WAITING_INDEX, "WAITING"),
}


class ReferralQueries:
    """The queries of `DynamoReferrals` (which sets `client` and `table`)."""

    client: Any
    table: str

    # --- the worklist ----------------------------------------------------------------------------

    def page(self, view: View, size: int, after: str | None = None,
             now: str | None = None) -> WorklistPage:
        index, partition = VIEWS[view.kind]
        kwargs: dict[str, Any] = {
            "TableName": self.table, "IndexName": index,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": f"{index}pk"},
            "ExpressionAttributeValues": {":pk": s(partition.format(view.value))},
            "ScanIndexForward": False,
        }
        if view.kind == "overdue":
            kwargs["FilterExpression"] = "due_at < :now"
            kwargs["ExpressionAttributeValues"][":now"] = s(now or now_iso())
        start = _decode_token(after, index) if after else None
        # Every view then reads its page's referrals by key, the status view too (its index
        # carries the other columns, not the person's name, which no index copies).
        keys, scanned, last = self._keys(kwargs, size, start)
        return WorklistPage(self._rows(keys), _encode_token(last), scanned_count=scanned,
                            keys_fetched=len(keys))

    def _keys(self, kwargs: dict[str, Any], size: int, start: dict[str, Any] | None
              ) -> tuple[list[dict[str, Any]], int, dict[str, Any] | None]:
        """Up to `size` referral keys from a keys-only view; a filtered page can come back
        short, so ask again for the rest until the page is full."""
        keys: list[dict[str, Any]] = []
        scanned = 0
        last = start
        while True:
            kwargs["Limit"] = size - len(keys)
            if last:
                kwargs["ExclusiveStartKey"] = last
            page = self.client.query(**kwargs)
            scanned += int(page.get("ScannedCount", len(page["Items"])))
            keys.extend({"pk": i["pk"], "sk": i["sk"]} for i in page["Items"])
            last = page.get("LastEvaluatedKey")
            if last is None or len(keys) >= size:
                return keys, scanned, last

    def _rows(self, keys: list[dict[str, Any]]) -> list[WorklistRow]:
        """The worklist columns of these referrals, in the order of `keys` (BatchGetItem)."""
        found = {item["reference"]["S"]: row_from_item(item) for item in batch_get(
            self.client, self.table, keys, consistent=True,
            columns=(*WORKLIST_COLUMNS, "due_at", "answers"))}
        return [found[reference_of(k)] for k in keys if reference_of(k) in found]

    # --- the reports, data protection and retention ----------------------------------------------

    def active_between(self, since: str, until: str) -> list[StoredReferral]:
        from chalicelib.domain.facts import ended_on

        # The active referrals submitted by `until`, then those that ended in each month from
        # `since`'s to this one and were submitted by `until`: each a range of one partition
        # of the activity index. Only the month `since` falls in can hold referrals that ended
        # before it (read, then left out).
        before = {":until": s(f"{until}~")}  # sort keys are `<created_at>#<reference>`
        partitions = ["ACTIVE", *(f"ENDED#{month}" for month in _months(since[:7],
                                                                        now_iso()[:7]))]
        keys = [{"pk": i["pk"], "sk": s("REFERRAL")} for partition in partitions
                for i in self._query_all(
                    IndexName=ACTIVITY_INDEX,
                    KeyConditionExpression="#pk = :pk AND #sk < :until",
                    ExpressionAttributeNames={"#pk": f"{ACTIVITY_INDEX}pk",
                                              "#sk": f"{ACTIVITY_INDEX}sk"},
                    ExpressionAttributeValues={":pk": s(partition), **before})]
        found = [stored for stored in self._referrals(keys)
                 if (ended_on(stored) or since) >= since]
        return sorted(found, key=lambda r: (r.created_at, r.reference))

    def _referrals(self, keys: list[dict[str, Any]], consistent: bool = False
                   ) -> list[StoredReferral]:
        """The referrals at these keys, in their order (BatchGetItem, 100 at a time)."""
        found = {stored.reference: stored for stored in map(
            referral_from_item, batch_get(self.client, self.table, keys, consistent))}
        return [found[reference_of(k)] for k in keys if reference_of(k) in found]

    def named(self, rows: list[WorklistRow]) -> list[WorklistRow]:
        names = {item["reference"]["S"]: person_name_in(item["answers"]["S"] if "answers" in item
                                                        else "")
                 for item in batch_get(self.client, self.table,
                                       [referral_key(row.reference) for row in rows],
                                       columns=("reference", "answers"))}
        return [dataclasses.replace(row, person_name=names.get(row.reference, ""))
                for row in rows]

    def for_last_name(self, last_name: str, size: int) -> list[StoredReferral]:
        wanted = name_key(last_name)
        found = self.client.query(
            TableName=self.table, IndexName=PERSON_INDEX, KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": f"{PERSON_INDEX}pk"},
            ExpressionAttributeValues={":pk": s(surname_partition(last_name))},
            ScanIndexForward=False, Limit=size)
        keys = [{"pk": i["pk"], "sk": s("REFERRAL")} for i in found["Items"]]
        # The name itself is checked on the referral (the key is a hash), and one whose
        # personal data retention removed meanwhile is not found.
        return [r for r in self._referrals(keys, consistent=True)
                if r.answers and name_key(r.last_name) == wanted]

    def for_referrer(self, email: str, size: int, after: str | None = None) -> ReferralPage:
        partition = referrer_partition(email)
        start = _decode_token(after, REFERRER_INDEX) if after else None
        # A token from another referrer's page is refused, not followed into their partition.
        if start is not None and start[f"{REFERRER_INDEX}pk"]["S"] != partition:
            raise BadPageToken(after or "")
        kwargs: dict[str, Any] = {
            "TableName": self.table, "IndexName": REFERRER_INDEX,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": f"{REFERRER_INDEX}pk"},
            "ExpressionAttributeValues": {":pk": s(partition)},
            "ScanIndexForward": False, "Limit": size,
            **({"ExclusiveStartKey": start} if start else {}),
        }
        found = self.client.query(**kwargs)
        keys = [{"pk": i["pk"], "sk": i["sk"]} for i in found["Items"]]
        # Read consistently: the index lags the table, and the page shows where each one is
        # now. One whose address was corrected away meanwhile is not this referrer's.
        referrals = [r for r in self._referrals(keys, consistent=True)
                     if referrer_partition(r.referrer_email) == partition]
        return ReferralPage(referrals, _encode_token(found.get("LastEvaluatedKey")))

    def assign(self, seen: StoredReferral, to: str, actor: str) -> None:
        at = now_iso()
        # Not the referral's `updated_at`: an assignment does not change where it is, nor for
        # how long it has waited. The `ASSIGNED` item files it under the advisor.
        self.client.transact_write_items(TransactItems=[
            {"Update": {"TableName": self.table, "Key": referral_key(seen.reference),
                        "UpdateExpression": "SET assigned_to = :to",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": {":to": s(to)}}},
            {"Put": {"TableName": self.table, "Item": {
                "pk": s(f"REFERRAL#{seen.reference}"), "sk": s("ASSIGNED"), "to": s(to),
                **index_entry(REFERRER_INDEX, assigned_partition(to), seen.created_at,
                              seen.reference)}}},
            {"Put": {"TableName": self.table,
                     "Item": event_item(seen.reference, "assigned", actor, {"to": to}, at)}},
        ])

    def assigned_to(self, email: str, size: int) -> list[StoredReferral]:
        partition = assigned_partition(email)
        found = self.client.query(
            TableName=self.table, IndexName=REFERRER_INDEX, KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": f"{REFERRER_INDEX}pk"},
            ExpressionAttributeValues={":pk": s(partition)}, ScanIndexForward=False, Limit=size)
        keys = [{"pk": i["pk"], "sk": s("REFERRAL")} for i in found["Items"]]
        # Read consistently, and only those still assigned to this advisor (the index lags).
        return [r for r in self._referrals(keys, consistent=True)
                if r.assigned_to and assigned_partition(r.assigned_to) == partition]

    def releases_due(self, by: str) -> list[str]:
        return [reference_of(i) for i in self._query_all(
            IndexName=RELEASE_INDEX, KeyConditionExpression="#pk = :pk AND #sk < :by",
            ExpressionAttributeNames={"#pk": f"{RELEASE_INDEX}pk", "#sk": f"{RELEASE_INDEX}sk"},
            # Sort keys are `<date>#<reference>`: every one due on `by` sorts before `by~`.
            ExpressionAttributeValues={":pk": s("RELEASE_DUE"), ":by": s(f"{by}~")})]

    def references_for_person(self, nhs_number: str) -> list[str]:
        return [reference_of(i) for i in self._query_all(
            IndexName=PERSON_INDEX, KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": f"{PERSON_INDEX}pk"},
            ExpressionAttributeValues={":pk": s(person_partition(nhs_number))})]

    def in_statuses(self, statuses: tuple[str, ...]) -> list[WorklistRow]:
        return [row_from_item(i) for status in statuses for i in self._query_all(
            IndexName=STATUS_INDEX, KeyConditionExpression="gsi1pk = :status",
            ExpressionAttributeValues={":status": s(status_partition(status))})]

    def inactive_before(self, before: str) -> list[str]:
        # One Query per status on the status index; only those still holding data.
        return [i["reference"]["S"] for status in STATUSES for i in self._query_all(
            IndexName=STATUS_INDEX, KeyConditionExpression="gsi1pk = :status",
            FilterExpression="updated_at < :before AND attribute_exists(referrer_email)",
            ExpressionAttributeValues={":status": s(status_partition(status)),
                                       ":before": s(before)})]

    def remove_personal_data(self, seen: StoredReferral, facts: dict[str, Any], actor: str,
                             removed: str) -> bool:
        # The referral itself is changed last, so a run that fails part way is done again.
        self._redact_partition(seen.reference, removed)
        at = now_iso()
        try:
            self.client.transact_write_items(TransactItems=[
                {"Update": {
                    "TableName": self.table, "Key": referral_key(seen.reference),
                    "UpdateExpression": ("SET facts = :facts, anonymised_at = :at REMOVE answers, "
                                         "referrer_email, progress, flags, basis, ledger, "
                                         "undelivered, #p7, #s7, #p9, #s9"),
                    "ConditionExpression": "updated_at = :seen AND attribute_not_exists("
                                           "anonymised_at)",
                    "ExpressionAttributeNames": {"#p7": f"{PERSON_INDEX}pk",
                                                 "#s7": f"{PERSON_INDEX}sk",
                                                 "#p9": f"{REFERRER_INDEX}pk",
                                                 "#s9": f"{REFERRER_INDEX}sk"},
                    "ExpressionAttributeValues": {
                        ":facts": s(json.dumps(facts, sort_keys=True)), ":at": s(at),
                        ":seen": s(seen.updated_at)},
                }},
                {"Put": {"TableName": self.table,
                         "Item": event_item(seen.reference, "personal_data_removed", actor,
                                            {"retention": "ended before the retention period"},
                                            at),
                         "ConditionExpression": "attribute_not_exists(pk)"}},
                # Deleted again with the name it stands for (`_redact_partition` did first):
                # one written since, by the one-off backfill (which checks in its own
                # transaction that the referral still holds its personal data), goes too.
                {"Delete": {"TableName": self.table,
                            "Key": partition_key(seen.reference, "SURNAME")}},
            ])
        except self.client.exceptions.TransactionCanceledException:
            return False
        return True

    def _redact_partition(self, reference: str, removed: str) -> None:
        """Events keep what happened and when; who keeps roles, loses addresses. Email records
        lose their recipient; task tokens and reminder counts go."""
        for item in self._partition(reference, ""):
            key = {"pk": item["pk"], "sk": item["sk"]}
            kind = item["sk"]["S"].split("#", 1)[0]
            if kind == "EVENT":
                who, what = item["who"]["S"], item["what"]["S"]
                if "@" in what:  # `email_sent:kind:step:notice:address`
                    what = f"{what.rsplit(':', 1)[0]}:{removed}"
                self.client.update_item(
                    TableName=self.table, Key=key,
                    UpdateExpression="SET #who = :who, #what = :what, #detail = :detail",
                    ExpressionAttributeNames={"#who": "who", "#what": "what",
                                              "#detail": "detail"},
                    ExpressionAttributeValues={":who": s(removed if "@" in who else who),
                                               ":what": s(what), ":detail": s("{}")})
            elif kind == "EMAIL" and "@" in item["sk"]["S"] + item["to"]["S"]:
                # The record's key names its recipient (`EMAIL#kind:step:notice:address`):
                # write it again under a key without it.
                head = item["sk"]["S"].rsplit(":", 1)[0] if ":" in item["sk"]["S"] else \
                    item["sk"]["S"]
                self.client.put_item(TableName=self.table, Item={
                    **item, "sk": s(f"{head}:{removed}-{secrets.token_hex(4)}"),
                    "to": s(removed)})
                self.client.delete_item(TableName=self.table, Key=key)
            elif kind in ("TOKEN", "REMINDERS", "SURNAME"):
                self.client.delete_item(TableName=self.table, Key=key)

    # --- helpers ---------------------------------------------------------------------------------

    def _partition(self, reference: str, prefix: str) -> list[dict[str, Any]]:
        """Every item of a referral's partition whose sort key starts with `prefix` (all for
        an empty prefix), read consistently."""
        if prefix:
            return self._query_all(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues={":pk": s(f"REFERRAL#{reference}"),
                                           ":prefix": s(prefix)}, ConsistentRead=True)
        return self._query_all(KeyConditionExpression="pk = :pk", ConsistentRead=True,
                               ExpressionAttributeValues={":pk": s(f"REFERRAL#{reference}")})

    def _query_all(self, **kwargs: Any) -> list[dict[str, Any]]:
        """Every item a query finds, page after page."""
        items: list[dict[str, Any]] = []
        kwargs["TableName"] = self.table
        while True:
            page = self.client.query(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


# A BatchGetItem asks for at most 100 keys; keys DynamoDB leaves unprocessed (throttled) are
# asked for again after these waits, then the read gives up rather than loop for ever.
BATCH_KEYS = 100
RETRY_SECONDS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)


def batch_get(client: Any, table: str, keys: list[dict[str, Any]], consistent: bool = False,
              columns: tuple[str, ...] = (), per_call: int = BATCH_KEYS) -> list[dict[str, Any]]:
    """The items that exist at these keys (only `columns` of each, when given), by as many
    BatchGetItem calls as it takes; RuntimeError if DynamoDB keeps some unprocessed."""
    projection: dict[str, Any] = {
        "ProjectionExpression": ", ".join(f"#c{i}" for i in range(len(columns))),
        "ExpressionAttributeNames": {f"#c{i}": name for i, name in enumerate(columns)},
    } if columns else {}
    found: list[dict[str, Any]] = []
    for offset in range(0, len(keys), per_call):
        request: dict[str, Any] = {table: {"Keys": keys[offset:offset + per_call],
                                           "ConsistentRead": consistent, **projection}}
        for wait in (0.0, *RETRY_SECONDS):
            time.sleep(wait)
            response = client.batch_get_item(RequestItems=request)
            found.extend(response["Responses"].get(table, []))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        else:
            raise RuntimeError("DynamoDB kept keys of a BatchGetItem unprocessed")
    return found


def _months(first: str, last: str) -> list[str]:
    """Each month (YYYY-MM) from `first` to `last`, inclusive."""
    months = []
    year, month = int(first[:4]), int(first[5:7])
    while f"{year:04d}-{month:02d}" <= last:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _encode_token(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def _decode_token(token: str, index: str) -> dict[str, Any]:
    """The key to start after; BadPageToken unless it is a key of this view's index."""
    expected = {"pk", "sk", f"{index}pk", f"{index}sk"}
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise BadPageToken(token) from None
    if not isinstance(key, dict) or set(key) != expected or not all(
            isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str)
            and 0 < len(v["S"]) <= 300 for v in key.values()):
        raise BadPageToken(token)
    return key
