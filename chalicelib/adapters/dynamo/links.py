"""One-time links in DynamoDB (`LINK#<hash of id>`): action links and staff sign-in alike."""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamo.items import link_from_item, link_key, n, s
from chalicelib.domain.dates import now_iso
from chalicelib.domain.records import Link


class DynamoLinks:
    def __init__(self, client: Any, table: str) -> None:
        self.client = client
        self.table = table

    def put(self, link: Link, kept_seconds: int) -> None:
        item = {**link_key(link.id_hash), "action": s(link.action),
                "recipient": s(link.recipient), "valid_until": n(link.valid_until),
                "created_at": s(link.created_at),
                # Kept a while after it stops working, for the audit trail; then TTL removes it.
                "expires_at": n(link.valid_until + kept_seconds)}
        if link.reference:
            item.update({"reference": s(link.reference), "step": s(link.step)})
        self.client.put_item(TableName=self.table, Item=item,
                             ConditionExpression="attribute_not_exists(pk)")

    def get(self, id_hash: str) -> Link | None:
        item = self.client.get_item(TableName=self.table, Key=link_key(id_hash),
                                    ConsistentRead=True).get("Item")
        return link_from_item(item) if item else None

    def use(self, id_hash: str, now: int) -> bool:
        try:
            self.client.update_item(
                TableName=self.table, Key=link_key(id_hash),
                UpdateExpression="SET used_at = :at",
                ConditionExpression=("attribute_exists(pk) AND attribute_not_exists(used_at) "
                                     "AND valid_until > :now"),
                ExpressionAttributeValues={":at": s(now_iso()), ":now": n(now)},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True
