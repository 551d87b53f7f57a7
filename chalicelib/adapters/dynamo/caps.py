"""Email caps per mailbox in DynamoDB: `CAP#<kind>#<mailbox>` (the address without case or a
`+tag`) holds the times of the emails of that kind sent to it within the window (a sliding
window, so "5 in 15 minutes" holds across a boundary too), written with a version condition so
two Lambda instances cannot both take the last one; `HELDBACK`, one item per kind and mailbox,
what was held back, for the advisors. Both expire by TTL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.dynamo.items import n, s
from chalicelib.domain.dates import iso
from chalicelib.domain.identity import mailbox_key
from chalicelib.domain.policy import HELD_BACK_SHOWN_SECONDS
from chalicelib.domain.records import HeldBack

# Two instances taking the same address's count at once: one wins, the other reads again.
ATTEMPTS = 3


class DynamoCaps:
    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def take(self, kind: str, address: str, limit: int, window_seconds: int, now: int) -> bool:
        key = {"pk": s(f"CAP#{kind}#{mailbox_key(address)}"), "sk": s("CAP")}
        for _ in range(ATTEMPTS):
            item = self.client.get_item(TableName=self.table, Key=key,
                                        ConsistentRead=True).get("Item") or {}
            version = int(item.get("version", {}).get("N", "0"))
            recent = [int(t["N"]) for t in item.get("sent", {}).get("L", [])
                      if int(t["N"]) > now - window_seconds]
            if len(recent) >= limit:
                self._hold_back(kind, address, now)
                return False
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item={**key, "sent": {"L": [n(t) for t in [*recent, now]]},
                          "version": n(version + 1), "expires_at": n(now + window_seconds)},
                    ConditionExpression="attribute_not_exists(pk) OR version = :seen",
                    ExpressionAttributeValues={":seen": n(version)})
                return True
            except self.client.exceptions.ConditionalCheckFailedException:
                continue
        # Contended past all attempts: many sends to one address at once is what the cap is
        # for, so this one is held back rather than sent uncounted.
        self._hold_back(kind, address, now)
        return False

    def _hold_back(self, kind: str, address: str, now: int) -> None:
        self.client.update_item(
            TableName=self.table,
            Key={"pk": s("HELDBACK"), "sk": s(f"{kind}#{mailbox_key(address)}")},
            UpdateExpression="ADD held :one SET #kind = :kind, #address = :address, "
                             "last_at = :at, last_epoch = :now, expires_at = :until",
            ExpressionAttributeNames={"#kind": "kind", "#address": "address"},
            ExpressionAttributeValues={
                ":one": n(1), ":kind": s(kind), ":address": s(address),
                ":at": s(iso(datetime.fromtimestamp(now, UTC))), ":now": n(now),
                ":until": n(now + HELD_BACK_SHOWN_SECONDS)})

    def held_back(self, since: int) -> list[HeldBack]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self.table, "KeyConditionExpression": "pk = :pk",
            "FilterExpression": "last_epoch >= :since",
            "ExpressionAttributeValues": {":pk": s("HELDBACK"), ":since": n(since)}}
        while True:
            page = self.client.query(**request)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        held = [HeldBack(kind=i["kind"]["S"], address=i["address"]["S"],
                         count=int(i["held"]["N"]), last_at=i["last_at"]["S"]) for i in items]
        return sorted(held, key=lambda h: h.last_at, reverse=True)
