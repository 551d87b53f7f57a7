"""Referrals in DynamoDB: storing one, changing its status, its history, emails and waits.

Every write that matters is conditional: a referral, its first event and its idempotency record
are written in one transaction (all or nothing), and a status change happens only from an
allowed status, in the same transaction as its event and the link it uses up.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from chalicelib.adapters.dynamo.emails import EmailRecords
from chalicelib.adapters.dynamo.items import (
    ALL_INDEX,
    BOROUGH_INDEX,
    FLAGGED_INDEX,
    PERSON_INDEX,
    REFERRER_INDEX,
    RELEASE_INDEX,
    TIER_INDEX,
    WAITING_INDEX,
    activity_item,
    activity_partition,
    event_from_item,
    event_item,
    index_entry,
    link_key,
    n,
    partition_key,
    person_partition,
    referral_from_item,
    referral_key,
    referrer_partition,
    s,
    sort_key,
    status_partition,
    surname_item,
    value,
)
from chalicelib.domain.dates import now_iso
from chalicelib.domain.errors import IdempotencyConflict, NotFound, TransitionRefused
from chalicelib.domain.identifiers import new_reference, parse_reference, sha256
from chalicelib.domain.policy import IDEMPOTENCY_SECONDS
from chalicelib.domain.records import (
    Created,
    Event,
    Link,
    NewReferral,
    StoredReferral,
)


class DynamoReferrals(EmailRecords):
    def __init__(self, client: Any, table: str,
                 make_reference: Callable[[], str] = new_reference) -> None:
        self.client = client
        self.table = table
        self.make_reference = make_reference

    # --- storing a referral --------------------------------------------------------------------

    def create(self, new: NewReferral, actor: str, idempotency_key: str | None = None,
               attempts: int = 5) -> Created:
        body_hash = sha256(new.answers)
        key_hash = sha256(idempotency_key) if idempotency_key else None
        for _ in range(attempts):
            if key_hash:
                existing = self._idempotent_result(key_hash, body_hash)
                if existing:
                    return existing
            reference = self.make_reference()
            created_at = now_iso()
            items: list[dict[str, Any]] = [
                {"Put": {"TableName": self.table, "Item": self._new_item(new, reference,
                                                                          created_at),
                         "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": self._event_put(reference, "submitted", actor, {}, created_at)},
                {"Put": {"TableName": self.table,
                         "Item": activity_item(reference, created_at, activity_partition(None))}},
            ]
            if new.last_name:
                items.append({"Put": {"TableName": self.table,
                                      "Item": surname_item(reference, created_at,
                                                           new.last_name)}})
            if key_hash:
                items.append({"Put": {
                    "TableName": self.table,
                    "Item": {"pk": s(f"IDEMPOTENCY#{key_hash}"), "sk": s("IDEMPOTENCY"),
                             "body_sha256": s(body_hash), "reference": s(reference),
                             "expires_at": n(int(time.time()) + IDEMPOTENCY_SECONDS)},
                    "ConditionExpression": "attribute_not_exists(pk)"}})
            try:
                self.client.transact_write_items(TransactItems=items)
            except self.client.exceptions.TransactionCanceledException:
                # A reference collision or a concurrent request with the same key: look again.
                continue
            return Created(reference, "submitted", replayed=False)
        raise RuntimeError("could not store the referral: too many conflicting writes")

    @staticmethod
    def _new_item(new: NewReferral, reference: str, created_at: str) -> dict[str, Any]:
        return {
            **referral_key(reference),
            "gsi1pk": s(status_partition("submitted")),
            "gsi1sk": s(sort_key(created_at, reference)),
            **index_entry(ALL_INDEX, "REFERRALS", created_at, reference),
            **index_entry(BOROUGH_INDEX, f"BOROUGH#{new.borough}", created_at, reference),
            **index_entry(PERSON_INDEX, person_partition(new.nhs_number), created_at, reference),
            **index_entry(REFERRER_INDEX, referrer_partition(new.referrer_email), created_at,
                          reference),
            "reference": s(reference),
            "status": s("submitted"),
            "created_at": s(created_at),
            "updated_at": s(created_at),
            "answers": s(new.answers),
            "total_pence": n(new.total_pence),
            "referrer_email": s(new.referrer_email),
        }

    def replay_of(self, idempotency_key: str) -> str | None:
        item = self._idempotency_item(sha256(idempotency_key))
        return item["reference"]["S"] if item else None

    def _idempotency_item(self, key_hash: str) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.client.get_item(
            TableName=self.table,
            Key={"pk": s(f"IDEMPOTENCY#{key_hash}"), "sk": s("IDEMPOTENCY")},
            ConsistentRead=True,
        ).get("Item")
        return item

    def _idempotent_result(self, key_hash: str, body_hash: str) -> Created | None:
        item = self._idempotency_item(key_hash)
        if not item:
            return None
        reference = item["reference"]["S"]
        if item["body_sha256"]["S"] != body_hash:
            raise IdempotencyConflict(reference)
        return Created(reference, self.get(reference).status, replayed=True)

    # --- reading one -----------------------------------------------------------------------------

    def get(self, reference: str) -> StoredReferral:
        item = self.client.get_item(
            TableName=self.table, Key=referral_key(reference), ConsistentRead=True
        ).get("Item")
        if not item:
            raise NotFound(reference)
        return referral_from_item(item)

    def find(self, typed_reference: str) -> StoredReferral | None:
        from urllib.parse import unquote

        reference = parse_reference(unquote(typed_reference))
        if reference is None:
            return None
        try:
            return self.get(reference)
        except NotFound:
            return None

    # --- changing status -------------------------------------------------------------------------

    def change(self, reference: str, to: str, from_statuses: tuple[str, ...], actor: str,
               what: str, detail: dict[str, Any] | None = None,
               fields: dict[str, Any] | None = None, when: dict[str, str] | None = None,
               using_link: Link | None = None) -> None:
        at = now_iso()
        current = self.get(reference)
        sort = sort_key(current.created_at, reference)
        values: dict[str, Any] = {":to": s(to), ":at": s(at),
                                  ":gsi1pk": s(status_partition(to)), ":gsi1sk": s(sort)}
        names = {"#status": "status", "#updated": "updated_at", "#g1": "gsi1pk", "#g1s": "gsi1sk"}
        sets = ["#status = :to", "#updated = :at", "#g1 = :gsi1pk", "#g1s = :gsi1sk"]
        # The step waited for has changed: off the waiting (overdue) view until the next wait.
        removes = [f"{WAITING_INDEX}pk", f"{WAITING_INDEX}sk", "due_at", "waiting_step"]
        self._assign(self._with_views(fields or {}, sort), names, values, sets, removes)
        for index, status in enumerate(from_statuses):
            values[f":from{index}"] = s(status)
        conditions = [f"#status IN ({', '.join(f':from{i}' for i in range(len(from_statuses)))})"]
        for index, (name, wanted) in enumerate((when or {}).items()):
            names[f"#w{index}"] = name
            values[f":w{index}"] = s(wanted)
            conditions.append(f"#w{index} = :w{index}")
        items = self._update_with_event(reference, sets, removes, conditions, names, values,
                                        what, actor, detail, at)
        items.extend(self._refile_activity(current, fields or {}, at, to))
        if using_link is not None:
            items.append({"Update": self._use_link_update(using_link.id_hash, int(time.time()))})
        self._transact(items, f"{reference}: {to}")

    def record(self, seen: StoredReferral, actor: str, what: str,
               detail: dict[str, Any] | None = None, fields: dict[str, Any] | None = None) -> None:
        at = now_iso()
        names: dict[str, str] = {"#updated": "updated_at"}
        values: dict[str, Any] = {":at": s(at), ":seen": s(seen.updated_at)}
        sets: list[str] = ["#updated = :at"]
        removes: list[str] = []
        self._assign(self._with_views(fields or {}, sort_key(seen.created_at, seen.reference)),
                     names, values, sets, removes)
        items = self._update_with_event(seen.reference, sets, removes, ["#updated = :seen"],
                                        names, values, what, actor, detail, at)
        items.extend(self._refile_activity(seen, fields or {}, at, seen.status))
        self._transact(items, f"{seen.reference}: {what}")

    @staticmethod
    def _assign(fields: dict[str, Any], names: dict[str, str], values: dict[str, Any],
                sets: list[str], removes: list[str]) -> None:
        """SET each field (None: REMOVE it)."""
        for index, (name, python) in enumerate(fields.items()):
            if python is None:
                removes.append(name)
                continue
            names[f"#f{index}"] = name
            values[f":f{index}"] = value(python)
            sets.append(f"#f{index} = :f{index}")

    def _update_with_event(self, reference: str, sets: list[str], removes: list[str],
                           conditions: list[str], names: dict[str, str],
                           values: dict[str, Any], what: str, actor: str,
                           detail: dict[str, Any] | None, at: str) -> list[dict[str, Any]]:
        for index, name in enumerate(removes):
            names[f"#r{index}"] = name
        expression = "SET " + ", ".join(sets) + (
            " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removes))) if removes else "")
        return [
            {"Update": {
                "TableName": self.table, "Key": referral_key(reference),
                "UpdateExpression": expression, "ConditionExpression": " AND ".join(conditions),
                "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}},
            {"Put": self._event_put(reference, what, actor, detail or {}, at)},
        ]

    def _transact(self, items: list[dict[str, Any]], what: str) -> None:
        try:
            self.client.transact_write_items(TransactItems=items)
        except self.client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            raise TransitionRefused(f"{what} refused ({reasons})") from None

    @staticmethod
    def _with_views(fields: dict[str, Any], sort: str) -> dict[str, Any]:
        """The fields, and the index keys that file the referral in the tier and flagged views
        when intake records its tier and flags, in the release schedule while a monthly
        release is due, and under the referrer's address when an advisor corrects it."""
        extra: dict[str, Any] = {}
        if "tier" in fields:
            extra.update({f"{TIER_INDEX}pk": f"TIER#{fields['tier']}", f"{TIER_INDEX}sk": sort})
        if fields.get("flags"):
            extra.update({f"{FLAGGED_INDEX}pk": "FLAGGED", f"{FLAGGED_INDEX}sk": sort})
        if "next_release_due" in fields:
            due = fields["next_release_due"]
            extra.update({f"{RELEASE_INDEX}pk": "RELEASE_DUE" if due else None,
                          f"{RELEASE_INDEX}sk": f"{due}#{sort.rsplit('#', 1)[1]}" if due
                          else None})
        if fields.get("referrer_email"):
            extra.update({f"{REFERRER_INDEX}pk": referrer_partition(fields["referrer_email"]),
                          f"{REFERRER_INDEX}sk": sort})
        return {**fields, **extra}

    def _refile_activity(self, before: StoredReferral, fields: dict[str, Any], at: str,
                         status: str) -> list[dict[str, Any]]:
        """The Put that files the referral's `ACTIVITY` item anew, in the same transaction as
        the change, when the change ends it, reopens it or moves its end to another month;
        nothing otherwise (most changes leave it where it is, and cost the index nothing)."""
        from chalicelib.domain.facts import ended_on

        after = dataclasses.replace(before, status=status, updated_at=at,
                                    ledger=fields.get("ledger", before.ledger))
        partition = activity_partition(ended_on(after))
        if partition == activity_partition(ended_on(before)):
            return []
        return [{"Put": {"TableName": self.table,
                         "Item": activity_item(before.reference, before.created_at, partition)}}]

    def _use_link_update(self, id_hash: str, now: int) -> dict[str, Any]:
        return {
            "TableName": self.table, "Key": link_key(id_hash),
            "UpdateExpression": "SET used_at = :at",
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(used_at) "
                                   "AND valid_until > :now",
            "ExpressionAttributeValues": {":at": s(now_iso()), ":now": n(now)},
        }

    # --- history ---------------------------------------------------------------------------------

    def _event_put(self, reference: str, what: str, who: str, detail: dict[str, Any],
                   at: str) -> dict[str, Any]:
        return {"TableName": self.table, "Item": event_item(reference, what, who, detail, at),
                "ConditionExpression": "attribute_not_exists(pk)"}

    def add_event(self, reference: str, what: str, who: str,
                  detail: dict[str, Any] | None = None) -> None:
        self.client.put_item(**self._event_put(reference, what, who, detail or {}, now_iso()))

    def history(self, reference: str) -> list[Event]:
        return [event_from_item(i) for i in self._partition(reference, "EVENT#")]

    # --- waiting steps ---------------------------------------------------------------------------

    def save_task_token(self, reference: str, step: str, token: str) -> None:
        self.client.put_item(TableName=self.table, Item={
            **partition_key(reference, f"TOKEN#{step}"), "token": s(token), "at": s(now_iso())})

    def task_token(self, reference: str, step: str) -> str | None:
        item = self._get(partition_key(reference, f"TOKEN#{step}"))
        return item["token"]["S"] if item else None

    def task_tokens(self, reference: str) -> dict[str, str]:
        return {item["sk"]["S"].split("#", 1)[1]: item["token"]["S"]
                for item in self._partition(reference, "TOKEN#")}

    def mark_waiting(self, seen: StoredReferral, step: str, due_at: str) -> bool:
        # Kept as it was through reminders: due is when the wait began plus the reminder period.
        try:
            self.client.update_item(
                TableName=self.table, Key=referral_key(seen.reference),
                UpdateExpression=("SET #pk6 = :waiting, #sk6 = if_not_exists(#sk6, :sort), "
                                  "due_at = if_not_exists(due_at, :due), waiting_step = :step"),
                ConditionExpression="updated_at = :seen",
                ExpressionAttributeNames={"#pk6": f"{WAITING_INDEX}pk",
                                          "#sk6": f"{WAITING_INDEX}sk"},
                ExpressionAttributeValues={
                    ":waiting": s("WAITING"), ":sort": s(sort_key(seen.created_at,
                                                                  seen.reference)),
                    ":due": s(due_at), ":step": s(step), ":seen": s(seen.updated_at)},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def count_reminder(self, reference: str, step: str) -> int:
        response = self.client.update_item(
            TableName=self.table, Key=partition_key(reference, f"REMINDERS#{step}"),
            UpdateExpression="ADD #count :one", ExpressionAttributeNames={"#count": "count"},
            ExpressionAttributeValues={":one": n(1)}, ReturnValues="UPDATED_NEW")
        return int(response["Attributes"]["count"]["N"])

    def reset_reminders(self, reference: str, step: str) -> None:
        self.client.delete_item(TableName=self.table,
                                Key=partition_key(reference, f"REMINDERS#{step}"))

    # --- helpers ---------------------------------------------------------------------------------

    def _get(self, key: dict[str, Any]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.client.get_item(
            TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        return item

