"""Staff sessions (`SESSION#<hash>`) and referral form drafts (`DRAFT#<id>`) in DynamoDB."""

from __future__ import annotations

import json
import time
from typing import Any

from chalicelib.adapters.dynamo.items import n, s
from chalicelib.domain.dates import now_iso
from chalicelib.domain.policy import DRAFT_SECONDS


class DynamoSessions:
    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    @staticmethod
    def _key(id_hash: str) -> dict[str, Any]:
        return {"pk": s(f"SESSION#{id_hash}"), "sk": s("SESSION")}

    def start(self, id_hash: str, email: str, expires: int) -> None:
        # Deleted at sign-out, and by TTL after it expires.
        self.client.put_item(
            TableName=self.table,
            Item={**self._key(id_hash), "email": s(email), "created_at": s(now_iso()),
                  "expires_at": n(expires)},
            ConditionExpression="attribute_not_exists(pk)")

    def is_live(self, id_hash: str, now: int) -> bool:
        item = self.client.get_item(TableName=self.table, Key=self._key(id_hash),
                                    ConsistentRead=True).get("Item")
        return bool(item) and int(item["expires_at"]["N"]) > now

    def end(self, id_hash: str) -> None:
        self.client.delete_item(TableName=self.table, Key=self._key(id_hash))


class DynamoDrafts:
    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    @staticmethod
    def _key(draft_id: str) -> dict[str, Any]:
        return {"pk": s(f"DRAFT#{draft_id}"), "sk": s("DRAFT")}

    def save(self, draft_id: str, values: dict[str, str]) -> None:
        self.client.put_item(TableName=self.table, Item={
            **self._key(draft_id), "values": s(json.dumps(values, sort_keys=True)),
            "expires_at": n(int(time.time()) + DRAFT_SECONDS)})

    def load(self, draft_id: str) -> dict[str, str] | None:
        item = self.client.get_item(TableName=self.table, Key=self._key(draft_id),
                                    ConsistentRead=True).get("Item")
        # TTL deletes expired items within days, not at once: an expired draft is gone.
        if not item or int(item["expires_at"]["N"]) < time.time():
            return None
        values: dict[str, str] = json.loads(item["values"]["S"])
        return values
