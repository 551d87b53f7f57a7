"""The emails sent about a referral, in its partition (`EMAIL#<key>`), and what became of each:
SES's delivery events set the record's status, and an email that did not reach whoever a step
waits on flags the referral for the advisors."""

from __future__ import annotations

import contextlib
from typing import Any

from chalicelib.adapters.dynamo.items import (
    FLAGGED_INDEX,
    event_item,
    partition_key,
    referral_from_item,
    referral_key,
    s,
    sort_key,
)
from chalicelib.adapters.dynamo.queries import ReferralQueries
from chalicelib.domain import delivery
from chalicelib.domain.dates import now_iso
from chalicelib.domain.identifiers import sha256
from chalicelib.domain.records import EmailRecord


def email_from_item(item: dict[str, Any]) -> EmailRecord:
    key = item["sk"]["S"].split("#", 1)[1]
    return EmailRecord(
        kind=key.split(":", 1)[0], to=item["to"]["S"], subject=item["subject"]["S"],
        at=item["at"]["S"], key=key, message_id=item.get("message_id", {}).get("S", ""),
        status=item.get("status", {}).get("S", "sent"),
        status_at=item.get("status_at", {}).get("S"),
        bounce_type=item.get("bounce_type", {}).get("S"))


class EmailRecords(ReferralQueries):
    """The email methods of `DynamoReferrals`."""

    def _event(self, reference: str, what: str, detail: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": self.table,
                        "Item": event_item(reference, what, "system", detail, now_iso()),
                        "ConditionExpression": "attribute_not_exists(pk)"}}

    def _email_item(self, reference: str, key: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.client.get_item(
            TableName=self.table, Key=partition_key(reference, f"EMAIL#{key}"),
            ConsistentRead=True).get("Item")
        return item

    def email_already_sent(self, reference: str, key: str) -> bool:
        return self._email_item(reference, key) is not None

    def record_email(self, reference: str, key: str, to: str, subject: str,
                     message_id: str) -> None:
        at = now_iso()
        # A second record of the same email (a retried task) is a no-op.
        with contextlib.suppress(self.client.exceptions.TransactionCanceledException):
            self.client.transact_write_items(TransactItems=[
                {"Put": {"TableName": self.table,
                         "Item": {**partition_key(reference, f"EMAIL#{key}"), "to": s(to),
                                  "subject": s(subject), "message_id": s(message_id),
                                  "at": s(at)},
                         "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": self.table,
                         "Item": event_item(reference, f"email_sent:{key}", "system",
                                            {"to": to}, at),
                         "ConditionExpression": "attribute_not_exists(pk)"}},
            ])

    def emails_sent(self, reference: str) -> list[EmailRecord]:
        emails = [email_from_item(i) for i in self._partition(reference, "EMAIL#")]
        return sorted(emails, key=lambda e: e.at)

    def email_by_message_id(self, reference: str, message_id: str) -> EmailRecord | None:
        # One query of the referral's own email records (a few dozen at most).
        items = self._query_all(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            FilterExpression="message_id = :id", ConsistentRead=True,
            ExpressionAttributeValues={":pk": s(f"REFERRAL#{reference}"),
                                       ":prefix": s("EMAIL#"), ":id": s(message_id)})
        return email_from_item(items[0]) if items else None

    def record_delivery(self, reference: str, key: str, status: str, at: str,
                        bounce_type: str | None = None) -> bool:
        replaced = delivery.replaces(status)
        item = self._email_item(reference, key)
        if item is None or not replaced:
            return False
        email = email_from_item(item)
        values: dict[str, Any] = {":status": s(status), ":at": s(at)}
        values.update({f":from{i}": s(old) for i, old in enumerate(replaced)})
        earlier = ", ".join(f":from{i}" for i in range(len(replaced)))
        sets = "#status = :status, status_at = :at"
        if bounce_type:
            sets += ", bounce_type = :bounce"
            values[":bounce"] = s(bounce_type)
        items: list[dict[str, Any]] = [{"Update": {
            "TableName": self.table, "Key": partition_key(reference, f"EMAIL#{key}"),
            "UpdateExpression": f"SET {sets}",
            # A record never sent a status is `sent`; a repeated or older event changes nothing.
            "ConditionExpression": "attribute_exists(pk) AND (attribute_not_exists(#status) OR "
                                   f"#status IN ({earlier}))",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": values}}]
        if status in delivery.IN_HISTORY:
            items.append(self._event(reference, f"email_{status}",
                                     delivery.event_detail(email, bounce_type)))
        try:
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException:
            return False
        return True

    def flag_undelivered(self, reference: str, key: str, detail: dict[str, Any]) -> bool:
        item = self.client.get_item(TableName=self.table, Key=referral_key(reference),
                                    ConsistentRead=True).get("Item")
        if not item:
            return False
        stored = referral_from_item(item)
        # The set holds a hash of each email's key: the key names its recipient.
        flagged = sha256(key)
        try:
            self.client.transact_write_items(TransactItems=[
                {"Update": {
                    "TableName": self.table, "Key": referral_key(reference),
                    # Filed in the flagged view as intake files a flagged referral; the status,
                    # `updated_at` and the rest stay, so the workflow's own writes still apply.
                    "UpdateExpression": "ADD undelivered :one SET #fpk = if_not_exists(#fpk, "
                                        ":flagged), #fsk = if_not_exists(#fsk, :sort)",
                    "ConditionExpression": "attribute_exists(pk) AND NOT contains(undelivered, "
                                           ":hash)",
                    "ExpressionAttributeNames": {"#fpk": f"{FLAGGED_INDEX}pk",
                                                 "#fsk": f"{FLAGGED_INDEX}sk"},
                    "ExpressionAttributeValues": {
                        ":one": {"SS": [flagged]}, ":hash": s(flagged), ":flagged": s("FLAGGED"),
                        ":sort": s(sort_key(stored.created_at, reference))}}},
                self._event(reference, "flagged_undelivered", detail),
            ])
        except self.client.exceptions.TransactionCanceledException:
            return False
        return True
