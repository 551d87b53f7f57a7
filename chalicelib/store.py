"""The DynamoDB repository: the only module that knows keys and item shapes.

One table holds, per referral (partition `REFERRAL#<reference>`):
  sk `REFERRAL`            the answers, status, tier, flags; `gsi1` indexes it by status,
                           newest first
  sk `EVENT#<when>#<rand>` the append-only history: one item per event (what, who, when)
  sk `EMAIL#<kind>`        a record of each email sent (sending is retried; this makes it once)
  sk `TOKEN#<step>`        the Step Functions task token of the step waiting now
  sk `REMINDERS#<step>`    how many reminders a step has had
and beside them `LINK#<hash of id>` (a one-time action link: referral, step, action, recipient,
expiry, used), `IDEMPOTENCY#<hash>` (a submission key -> its referral) and `DRAFT#<id>` (a form
in progress), both with a TTL. Every write that matters is conditional, and a referral, its first
event and its idempotency record are written in one transaction: all or nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

STATUS_INDEX = "gsi1"
WORKLIST_COLUMNS = ("reference", "status", "created_at", "updated_at", "total_pence", "tier",
                    "step", "referrer_email", "flags")
# The staff worklist's other views, one index each, all `<created_at>#<reference>` newest first.
# They carry keys only: their key attributes are written once (at submission or intake), so the
# many later status changes cost them nothing; a page is one Query plus one BatchGetItem.
ALL_INDEX = "gsi2"  # every referral: gsi2pk = REFERRALS
BOROUGH_INDEX = "gsi3"  # gsi3pk = BOROUGH#<borough>
TIER_INDEX = "gsi4"  # gsi4pk = TIER#<tier>, from intake
FLAGGED_INDEX = "gsi5"  # gsi5pk = FLAGGED, only on referrals with flags (a sparse index)
# Referrals waiting for a person (sparse): gsi6pk = WAITING while a step waits, with `due_at`
# (when its first reminder is due) projected for the overdue filter. Every status change
# removes it; the state machine sets it again when the next step starts waiting.
WAITING_INDEX = "gsi6"
# One person's referrals, for a subject-access export: gsi7pk = PERSON#<SHA-256 of the NHS
# number>; removed with the rest of the personal data by retention.
PERSON_INDEX = "gsi7"
VIEW_INDEXES = {"all": ALL_INDEX, "borough": BOROUGH_INDEX, "tier": TIER_INDEX,
                "flagged": FLAGGED_INDEX, "overdue": WAITING_INDEX}
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
DRAFT_TTL_SECONDS = 2 * 24 * 3600


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _referral_key(reference: str) -> dict[str, Any]:
    return {"pk": _s(f"REFERRAL#{reference}"), "sk": _s("REFERRAL")}


def _status_index(status: str, created_at: str, reference: str) -> dict[str, Any]:
    return {"gsi1pk": _s(f"STATUS#{status}"), "gsi1sk": _s(f"{created_at}#{reference}")}


def _index_entry(index: str, partition: str, created_at: str, reference: str) -> dict[str, Any]:
    return {f"{index}pk": _s(partition), f"{index}sk": _s(f"{created_at}#{reference}")}


def intake_index_fields(stored: StoredReferral, tier: str, flagged: bool) -> dict[str, str]:
    """What intake adds to a referral for the tier and flagged views (for `set_fields`)."""
    sort = f"{stored.created_at}#{stored.reference}"
    fields = {f"{TIER_INDEX}pk": f"TIER#{tier}", f"{TIER_INDEX}sk": sort}
    if flagged:
        fields.update({f"{FLAGGED_INDEX}pk": "FLAGGED", f"{FLAGGED_INDEX}sk": sort})
    return fields


def sha256(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


class IdempotencyConflict(Exception):
    """The idempotency key was used before with a different body."""

    def __init__(self, reference: str) -> None:
        super().__init__(reference)
        self.reference = reference  # the referral the key was first used for


class TransitionRefused(Exception):
    """The referral was not in a status this change may start from (someone else won)."""


class NotFound(Exception):
    pass


@dataclass(frozen=True)
class StoredReferral:
    reference: str
    status: str
    created_at: str
    updated_at: str
    answers: str  # the referral as JSON, exactly as validated
    total_pence: int
    tier: str | None
    flags: list[dict[str, Any]]
    referrer_email: str
    step: str | None = None  # the sign-off step waited for, while awaiting sign-off
    approvers: tuple[str, ...] = ()
    progress: dict[str, Any] | None = None  # what each later step recorded (agreement, ...)
    waiting_step: str | None = None  # the step waiting for a person now, if any
    due_at: str | None = None  # when that step's first reminder is due
    approved_at: str | None = None  # the final sign-off
    facts: dict[str, Any] | None = None  # kept when personal data is removed (retention)
    anonymised_at: str | None = None

    @property
    def recorded(self) -> dict[str, Any]:
        return self.progress or {}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> StoredReferral:
        return cls(
            reference=item["reference"]["S"],
            status=item["status"]["S"],
            created_at=item["created_at"]["S"],
            updated_at=item["updated_at"]["S"],
            # Both are gone once retention has removed the personal data.
            answers=item["answers"]["S"] if "answers" in item else "",
            total_pence=int(item["total_pence"]["N"]),
            tier=item["tier"]["S"] if "tier" in item else None,
            flags=json.loads(item["flags"]["S"]) if "flags" in item else [],
            referrer_email=item["referrer_email"]["S"] if "referrer_email" in item else "",
            step=item["step"]["S"] if "step" in item else None,
            approvers=tuple(json.loads(item["approvers"]["S"])) if "approvers" in item else (),
            progress=json.loads(item["progress"]["S"]) if "progress" in item else {},
            waiting_step=item["waiting_step"]["S"] if "waiting_step" in item else None,
            due_at=item["due_at"]["S"] if "due_at" in item else None,
            approved_at=item["approved_at"]["S"] if "approved_at" in item else None,
            facts=json.loads(item["facts"]["S"]) if "facts" in item else None,
            anonymised_at=item["anonymised_at"]["S"] if "anonymised_at" in item else None,
        )


@dataclass(frozen=True)
class Event:
    what: str
    who: str
    at: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class Created:
    reference: str
    status: str
    replayed: bool  # True when an idempotency key returned an existing referral


@dataclass(frozen=True)
class WorklistRow:
    """What the worklist shows of a referral: the columns the status index carries."""

    reference: str
    status: str
    created_at: str
    updated_at: str
    total_pence: int
    tier: str | None
    step: str | None
    referrer_email: str
    flagged: bool
    due_at: str | None = None  # when waiting: the first reminder's due time

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> WorklistRow:
        return cls(
            reference=item["reference"]["S"],
            status=item["status"]["S"],
            created_at=item["created_at"]["S"],
            updated_at=item["updated_at"]["S"],
            total_pence=int(item["total_pence"]["N"]),
            tier=item["tier"]["S"] if "tier" in item else None,
            step=item["step"]["S"] if "step" in item else None,
            referrer_email=item["referrer_email"]["S"] if "referrer_email" in item else "",
            flagged=json.loads(item["flags"]["S"]) != [] if "flags" in item else False,
            due_at=item["due_at"]["S"] if "due_at" in item else None,
        )


@dataclass(frozen=True)
class StatusPage:
    """A page of `ReferralStore.list_by_status`, with what it cost in items read."""

    referrals: list[WorklistRow]
    next_key: dict[str, Any] | None  # pass back as `start_key`; None on the last page
    scanned_count: int  # index entries the query read
    keys_fetched: int  # referral items then read by key

    @property
    def items_read(self) -> int:
        return self.scanned_count + self.keys_fetched


class ReferralStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self.client = client
        self.table = table_name

    # --- referrals -------------------------------------------------------------------------

    def create_referral(
        self,
        answers: str,
        total_pence: int,
        referrer_email: str,
        actor: str,
        new_reference: Callable[[], str],
        idempotency_key: str | None = None,
        attempts: int = 5,
        borough: str | None = None,
        nhs_number: str | None = None,
    ) -> Created:
        """Store a new referral with its `submitted` event, once per idempotency key."""
        body_hash = sha256(answers)
        key_hash = sha256(idempotency_key) if idempotency_key else None
        for _ in range(attempts):
            if key_hash:
                existing = self._idempotent_result(key_hash, body_hash)
                if existing:
                    return existing
            reference = new_reference()
            created_at = now_iso()
            items: list[dict[str, Any]] = [
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            **_referral_key(reference),
                            **_status_index("submitted", created_at, reference),
                            **_index_entry(ALL_INDEX, "REFERRALS", created_at, reference),
                            **(_index_entry(BOROUGH_INDEX, f"BOROUGH#{borough}", created_at,
                                            reference) if borough else {}),
                            **(_index_entry(PERSON_INDEX, person_partition(nhs_number),
                                            created_at, reference) if nhs_number else {}),
                            "reference": _s(reference),
                            "status": _s("submitted"),
                            "created_at": _s(created_at),
                            "updated_at": _s(created_at),
                            "answers": _s(answers),
                            "total_pence": _n(total_pence),
                            "referrer_email": _s(referrer_email),
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {"Put": self._event_put(reference, "submitted", actor, {}, created_at)},
            ]
            if key_hash:
                items.append(
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {
                                "pk": _s(f"IDEMPOTENCY#{key_hash}"),
                                "sk": _s("IDEMPOTENCY"),
                                "body_sha256": _s(body_hash),
                                "reference": _s(reference),
                                "expires_at": _n(int(time.time()) + IDEMPOTENCY_TTL_SECONDS),
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    }
                )
            try:
                self.client.transact_write_items(TransactItems=items)
            except self.client.exceptions.TransactionCanceledException:
                # A reference collision or a concurrent request with the same key: look again.
                continue
            return Created(reference, "submitted", replayed=False)
        raise RuntimeError("could not store the referral: too many conflicting writes")

    def _idempotent_result(self, key_hash: str, body_hash: str) -> Created | None:
        item = self.client.get_item(
            TableName=self.table,
            Key={"pk": _s(f"IDEMPOTENCY#{key_hash}"), "sk": _s("IDEMPOTENCY")},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return None
        reference = item["reference"]["S"]
        if item["body_sha256"]["S"] != body_hash:
            raise IdempotencyConflict(reference)
        return Created(reference, self.get(reference).status, replayed=True)

    def get(self, reference: str) -> StoredReferral:
        item = self.client.get_item(
            TableName=self.table, Key=_referral_key(reference), ConsistentRead=True
        ).get("Item")
        if not item:
            raise NotFound(reference)
        return StoredReferral.from_item(item)

    def transition(
        self,
        reference: str,
        to_status: str,
        from_statuses: Iterable[str],
        actor: str,
        what: str,
        detail: dict[str, Any] | None = None,
        set_fields: dict[str, Any] | None = None,
        when_fields: dict[str, str] | None = None,
        also: list[dict[str, Any]] | None = None,
    ) -> None:
        """Change status only from an allowed one, with its history event, atomically.

        `set_fields` are written with it (dicts and lists as JSON), `when_fields` must hold
        these values for the change to happen, and `also` are further transaction items that
        must succeed with it (e.g. using up an action link).
        """
        at = now_iso()
        current = self.get(reference)
        names = {"#status": "status", "#updated": "updated_at", "#g1": "gsi1pk", "#g1s": "gsi1sk"}
        values: dict[str, Any] = {
            ":to": _s(to_status),
            ":at": _s(at),
            **_prefixed(_status_index(to_status, current.created_at, reference)),
        }
        sets = ["#status = :to", "#updated = :at", "#g1 = :gsi1pk", "#g1s = :gsi1sk"]
        for index, (name, value) in enumerate((set_fields or {}).items()):
            names[f"#f{index}"] = name
            values[f":f{index}"] = _value(value)
            sets.append(f"#f{index} = :f{index}")
        allowed = list(from_statuses)
        for index, status in enumerate(allowed):
            values[f":from{index}"] = _s(status)
        conditions = [f"#status IN ({', '.join(f':from{i}' for i in range(len(allowed)))})"]
        for index, (name, value) in enumerate((when_fields or {}).items()):
            names[f"#w{index}"] = name
            values[f":w{index}"] = _s(value)
            conditions.append(f"#w{index} = :w{index}")
        # The step waited for has changed: off the waiting (overdue) view until the next wait.
        names.update({"#w6": f"{WAITING_INDEX}pk", "#w6s": f"{WAITING_INDEX}sk",
                      "#due": "due_at", "#wstep": "waiting_step"})
        removes = " REMOVE #w6, #w6s, #due, #wstep"
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _referral_key(reference),
                            "UpdateExpression": "SET " + ", ".join(sets) + removes,
                            "ConditionExpression": " AND ".join(conditions),
                            "ExpressionAttributeNames": names,
                            "ExpressionAttributeValues": values,
                        }
                    },
                    {"Put": self._event_put(reference, what, actor, detail or {}, at)},
                    *(also or []),
                ]
            )
        except self.client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            raise TransitionRefused(f"{reference}: {to_status} refused ({reasons})") from None

    def list_by_status(
        self, status: str, limit: int = 25, start_key: dict[str, Any] | None = None
    ) -> StatusPage:
        """One page of the referrals in `status`, newest first: the staff worklist's query.

        One Query on index `gsi1`, which carries the worklist's columns, so a page of 25 reads
        25 items whatever the table holds (never a scan, no fetch by key). Pass `next_key`
        back as `start_key` for the next page.
        """
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": "gsi1pk = :status",
            "ExpressionAttributeValues": {":status": _s(f"STATUS#{status}")},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        page = self.client.query(**kwargs)
        return StatusPage(
            referrals=[WorklistRow.from_item(item) for item in page["Items"]],
            next_key=page.get("LastEvaluatedKey"),
            scanned_count=int(page.get("ScannedCount", len(page["Items"]))),
            keys_fetched=0,
        )

    def list_view(
        self, view: str, value: str = "", limit: int = 25,
        start_key: dict[str, Any] | None = None, now: str | None = None,
    ) -> StatusPage:
        """One page of a worklist view, newest first: `all`, `borough` (value: the borough),
        `tier` (value: the tier), `flagged`, or `overdue` (waiting past its first reminder's
        due time, `now` by default). One Query on the view's index, then one BatchGetItem
        for the page's worklist columns; never a scan."""
        index = VIEW_INDEXES[view]
        partition = {"all": "REFERRALS", "borough": f"BOROUGH#{value}", "tier": f"TIER#{value}",
                     "flagged": "FLAGGED", "overdue": "WAITING"}[view]
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": f"{index}pk"},
            "ExpressionAttributeValues": {":pk": _s(partition)},
            "ScanIndexForward": False,
        }
        if view == "overdue":
            kwargs["FilterExpression"] = "due_at < :now"
            kwargs["ExpressionAttributeValues"][":now"] = _s(now or now_iso())
        keys: list[dict[str, Any]] = []
        scanned = 0
        next_key = start_key
        # A filtered page can come back short: ask again for the rest until the page is full.
        while True:
            kwargs["Limit"] = limit - len(keys)
            if next_key:
                kwargs["ExclusiveStartKey"] = next_key
            page = self.client.query(**kwargs)
            scanned += int(page.get("ScannedCount", len(page["Items"])))
            keys.extend({"pk": i["pk"], "sk": i["sk"]} for i in page["Items"])
            next_key = page.get("LastEvaluatedKey")
            if next_key is None or len(keys) >= limit:
                break
        rows = self._worklist_rows(keys)
        return StatusPage(referrals=rows, next_key=next_key, scanned_count=scanned,
                          keys_fetched=len(keys))

    def referrals_submitted_between(self, start: str, end: str) -> list[StoredReferral]:
        """Every referral whose `created_at` sorts between `start` and `end` (ISO prefixes),
        oldest first: a Query on the all-referrals index, then BatchGetItem by 100s."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": ALL_INDEX,
            "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :start AND :end",
            "ExpressionAttributeNames": {"#pk": f"{ALL_INDEX}pk", "#sk": f"{ALL_INDEX}sk"},
            "ExpressionAttributeValues": {":pk": _s("REFERRALS"), ":start": _s(start),
                                          ":end": _s(end)},
        }
        keys: list[dict[str, Any]] = []
        while True:
            page = self.client.query(**kwargs)
            keys.extend({"pk": i["pk"], "sk": i["sk"]} for i in page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        found: dict[str, StoredReferral] = {}
        for offset in range(0, len(keys), 100):
            request: dict[str, Any] = {self.table: {"Keys": keys[offset:offset + 100]}}
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self.table, []):
                    stored = StoredReferral.from_item(item)
                    found[stored.reference] = stored
                request = response.get("UnprocessedKeys") or {}
        return [found[k["pk"]["S"].split("#", 1)[1]] for k in keys
                if k["pk"]["S"].split("#", 1)[1] in found]

    def references_for_person(self, nhs_number: str) -> list[str]:
        """The references of every referral for this NHS number (a Query on its index)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": PERSON_INDEX,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": f"{PERSON_INDEX}pk"},
            "ExpressionAttributeValues": {":pk": _s(person_partition(nhs_number))},
        }
        references = []
        while True:
            page = self.client.query(**kwargs)
            references.extend(i["pk"]["S"].split("#", 1)[1] for i in page["Items"])
            if "LastEvaluatedKey" not in page:
                return references
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def emails_sent(self, reference: str) -> list[dict[str, str]]:
        """Each email recorded for a referral: kind, to, subject, when; oldest first."""
        emails = [{"kind": i["sk"]["S"].split("#", 1)[1].split(":", 1)[0],
                   "to": i["to"]["S"], "subject": i["subject"]["S"], "at": i["at"]["S"]}
                  for i in self._query_partition(reference, "EMAIL#")]
        return sorted(emails, key=lambda e: e["at"])

    def partition_items(self, reference: str) -> list[dict[str, Any]]:
        """Every item of a referral's partition, as plain values (for a subject-access export)."""
        return [{name: _plain(value) for name, value in item.items()}
                for item in self._query_partition(reference, "")]

    def ended_before(self, status: str, before: str) -> list[str]:
        """References in a final `status` whose last change was before `before` and that still
        hold personal data (the retention job's query, on the status index)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": "gsi1pk = :status",
            "FilterExpression": "updated_at < :before AND attribute_exists(referrer_email)",
            "ExpressionAttributeValues": {":status": _s(f"STATUS#{status}"),
                                          ":before": _s(before)},
        }
        references = []
        while True:
            page = self.client.query(**kwargs)
            references.extend(i["reference"]["S"] for i in page["Items"])
            if "LastEvaluatedKey" not in page:
                return references
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def redact_partition(self, reference: str, removed: str) -> None:
        """Remove personal data from a referral's history, email records and waiting steps
        (retention). Events keep what happened and when; who keeps roles, loses addresses."""
        for item in self._query_partition(reference, ""):
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
                    ExpressionAttributeValues={":who": _s(removed if "@" in who else who),
                                               ":what": _s(what), ":detail": _s("{}")})
            elif kind == "EMAIL" and "@" in item["sk"]["S"] + item["to"]["S"]:
                # The record's key names its recipient (`EMAIL#kind:step:notice:address`):
                # write it again under a key without it.
                head = item["sk"]["S"].rsplit(":", 1)[0] if ":" in item["sk"]["S"] else \
                    item["sk"]["S"]
                self.client.put_item(TableName=self.table, Item={
                    **item, "sk": _s(f"{head}:{removed}-{secrets.token_hex(4)}"),
                    "to": _s(removed)})
                self.client.delete_item(TableName=self.table, Key=key)
            elif kind in ("TOKEN", "REMINDERS"):
                self.client.delete_item(TableName=self.table, Key=key)

    def replace_personal_data(self, seen: StoredReferral, facts: dict[str, Any],
                              actor: str) -> bool:
        """Swap a referral's personal data for its anonymous facts, with a history event,
        only if it is unchanged since `seen`; False if not."""
        at = now_iso()
        try:
            self.client.transact_write_items(TransactItems=[
                {"Update": {
                    "TableName": self.table,
                    "Key": _referral_key(seen.reference),
                    "UpdateExpression": (
                        "SET facts = :facts, anonymised_at = :at REMOVE answers, "
                        "referrer_email, progress, flags, #p7, #s7"),
                    "ConditionExpression": "updated_at = :seen AND attribute_not_exists("
                                           "anonymised_at)",
                    "ExpressionAttributeNames": {"#p7": f"{PERSON_INDEX}pk",
                                                 "#s7": f"{PERSON_INDEX}sk"},
                    "ExpressionAttributeValues": {
                        ":facts": _s(json.dumps(facts, sort_keys=True)), ":at": _s(at),
                        ":seen": _s(seen.updated_at)},
                }},
                {"Put": self._event_put(seen.reference, "personal_data_removed", actor,
                                        {"retention": "ended before the retention period"},
                                        at)},
            ])
        except self.client.exceptions.TransactionCanceledException:
            return False
        return True

    def _worklist_rows(self, keys: list[dict[str, Any]]) -> list[WorklistRow]:
        """The worklist columns of these referrals, in the order of `keys` (BatchGetItem)."""
        found: dict[str, dict[str, Any]] = {}
        request: dict[str, Any] = {self.table: {
            "Keys": keys, "ConsistentRead": True,
            "ProjectionExpression": ", ".join(f"#c{i}" for i in range(len(WORKLIST_COLUMNS) + 1)),
            "ExpressionAttributeNames": {
                **{f"#c{i}": name for i, name in enumerate(WORKLIST_COLUMNS)},
                f"#c{len(WORKLIST_COLUMNS)}": "due_at"},
        }}
        while keys and request:
            response = self.client.batch_get_item(RequestItems=request)
            for item in response["Responses"].get(self.table, []):
                found[item["reference"]["S"]] = item
            request = response.get("UnprocessedKeys") or {}
        references = [k["pk"]["S"].split("#", 1)[1] for k in keys]
        return [WorklistRow.from_item(found[r]) for r in references if r in found]

    # --- waiting steps ---------------------------------------------------------------------

    def save_task_token(self, reference: str, step: str, token: str) -> None:
        """The Step Functions token of the step waiting now (replaced each time it waits)."""
        self.client.put_item(
            TableName=self.table,
            Item={"pk": _s(f"REFERRAL#{reference}"), "sk": _s(f"TOKEN#{step}"),
                  "token": _s(token), "at": _s(now_iso())},
        )

    def mark_waiting(self, seen: StoredReferral, step: str, due_at: str) -> bool:
        """Put a referral on the waiting view: `step` waits for a person, its first reminder
        due at `due_at`. Kept as it was through reminders (due is when the wait began plus the
        reminder period). Only if the referral is unchanged since `seen` (a status change
        meanwhile means the step is no longer waiting); False if not."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=_referral_key(seen.reference),
                UpdateExpression=(
                    "SET #pk6 = :waiting, #sk6 = if_not_exists(#sk6, :sort), "
                    "due_at = if_not_exists(due_at, :due), waiting_step = :step"),
                ConditionExpression="updated_at = :seen",
                ExpressionAttributeNames={"#pk6": f"{WAITING_INDEX}pk",
                                          "#sk6": f"{WAITING_INDEX}sk"},
                ExpressionAttributeValues={
                    ":waiting": _s("WAITING"), ":sort": _s(f"{seen.created_at}#{seen.reference}"),
                    ":due": _s(due_at), ":step": _s(step), ":seen": _s(seen.updated_at)},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def task_token(self, reference: str, step: str) -> str | None:
        item = self.client.get_item(
            TableName=self.table,
            Key={"pk": _s(f"REFERRAL#{reference}"), "sk": _s(f"TOKEN#{step}")},
            ConsistentRead=True,
        ).get("Item")
        return item["token"]["S"] if item else None

    def task_tokens(self, reference: str) -> dict[str, str]:
        return {
            item["sk"]["S"].split("#", 1)[1]: item["token"]["S"]
            for item in self._query_partition(reference, "TOKEN#")
        }

    def count_reminder(self, reference: str, step: str) -> int:
        """Add one to the reminders sent for a step; returns the new count."""
        response = self.client.update_item(
            TableName=self.table,
            Key={"pk": _s(f"REFERRAL#{reference}"), "sk": _s(f"REMINDERS#{step}")},
            UpdateExpression="ADD #count :one",
            ExpressionAttributeNames={"#count": "count"},
            ExpressionAttributeValues={":one": _n(1)},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["count"]["N"])

    def reset_reminders(self, reference: str, step: str) -> None:
        self.client.delete_item(
            TableName=self.table,
            Key={"pk": _s(f"REFERRAL#{reference}"), "sk": _s(f"REMINDERS#{step}")},
        )

    # --- action links ----------------------------------------------------------------------

    def put_link(self, id_hash: str, fields: dict[str, Any], valid_until: int) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={
                "pk": _s(f"LINK#{id_hash}"),
                "sk": _s("LINK"),
                **{name: _value(value) for name, value in fields.items()},
                "valid_until": _n(valid_until),
                # Kept a year after it stops working, for the audit trail; then TTL removes it.
                "expires_at": _n(valid_until + 365 * 24 * 3600),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get_link(self, id_hash: str) -> dict[str, Any] | None:
        item = self.client.get_item(
            TableName=self.table, Key={"pk": _s(f"LINK#{id_hash}"), "sk": _s("LINK")},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return None
        return {name: (int(v["N"]) if "N" in v else v["S"]) for name, v in item.items()}

    def use_link_item(self, id_hash: str, now: int) -> dict[str, Any]:
        """A transaction item that marks a link used, only if it is unused and unexpired."""
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": _s(f"LINK#{id_hash}"), "sk": _s("LINK")},
                "UpdateExpression": "SET used_at = :at",
                "ConditionExpression": "attribute_not_exists(used_at) AND valid_until > :now",
                "ExpressionAttributeValues": {":at": _s(now_iso()), ":now": _n(now)},
            }
        }

    # --- staff sign-in links ----------------------------------------------------------------

    def put_sign_in_link(self, id_hash: str, email: str, valid_until: int) -> None:
        """A one-time staff sign-in link, by the SHA-256 of its id (the id is never stored)."""
        self.client.put_item(
            TableName=self.table,
            Item={
                **sign_in_key(id_hash),
                "email": _s(email),
                "created_at": _s(now_iso()),
                "valid_until": _n(valid_until),
                # Kept 30 days after it stops working, for the audit trail; then TTL removes it.
                "expires_at": _n(valid_until + 30 * 24 * 3600),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get_sign_in_link(self, id_hash: str) -> dict[str, Any] | None:
        item = self.client.get_item(
            TableName=self.table, Key=sign_in_key(id_hash), ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        return {name: (int(v["N"]) if "N" in v else v["S"]) for name, v in item.items()
                if name not in ("pk", "sk")}

    def use_sign_in_link(self, id_hash: str, now: int) -> bool:
        """Mark a sign-in link used, only if it exists, is unused and unexpired; False if not."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=sign_in_key(id_hash),
                UpdateExpression="SET used_at = :at",
                ConditionExpression=("attribute_exists(pk) AND attribute_not_exists(used_at) "
                                     "AND valid_until > :now"),
                ExpressionAttributeValues={":at": _s(now_iso()), ":now": _n(now)},
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    # --- staff sessions --------------------------------------------------------------------

    def put_session(self, id_hash: str, email: str, expires: int) -> None:
        """A signed-in staff session, by the SHA-256 of its id; deleted at sign-out, and by
        TTL after it expires."""
        self.client.put_item(
            TableName=self.table,
            Item={"pk": _s(f"SESSION#{id_hash}"), "sk": _s("SESSION"), "email": _s(email),
                  "created_at": _s(now_iso()), "expires_at": _n(expires)},
            ConditionExpression="attribute_not_exists(pk)",
        )

    def session_is_live(self, id_hash: str, now: int) -> bool:
        item = self.client.get_item(
            TableName=self.table, Key={"pk": _s(f"SESSION#{id_hash}"), "sk": _s("SESSION")},
            ConsistentRead=True,
        ).get("Item")
        return bool(item) and int(item["expires_at"]["N"]) > now

    def end_session(self, id_hash: str) -> None:
        self.client.delete_item(TableName=self.table,
                                Key={"pk": _s(f"SESSION#{id_hash}"), "sk": _s("SESSION")})

    # --- history ---------------------------------------------------------------------------

    def _event_put(
        self, reference: str, what: str, who: str, detail: dict[str, Any], at: str
    ) -> dict[str, Any]:
        return {
            "TableName": self.table,
            "Item": {
                "pk": _s(f"REFERRAL#{reference}"),
                "sk": _s(f"EVENT#{at}#{secrets.token_hex(4)}"),
                "what": _s(what),
                "who": _s(who),
                "at": _s(at),
                "detail": _s(json.dumps(detail, sort_keys=True)),
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }

    def add_event(
        self, reference: str, what: str, who: str, detail: dict[str, Any] | None = None
    ) -> None:
        self.client.put_item(**self._event_put(reference, what, who, detail or {}, now_iso()))

    def history(self, reference: str) -> list[Event]:
        items = self._query_partition(reference, "EVENT#")
        return [
            Event(i["what"]["S"], i["who"]["S"], i["at"]["S"], json.loads(i["detail"]["S"]))
            for i in items
        ]

    def _query_partition(self, reference: str, prefix: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": _s(f"REFERRAL#{reference}"),
                ":prefix": _s(prefix),
            },
            "ConsistentRead": True,
        }
        if not prefix:  # the whole partition
            kwargs["KeyConditionExpression"] = "pk = :pk"
            del kwargs["ExpressionAttributeValues"][":prefix"]
        while True:
            page = self.client.query(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # --- emails ----------------------------------------------------------------------------

    def email_already_sent(self, reference: str, kind: str) -> bool:
        item = self.client.get_item(
            TableName=self.table,
            Key={"pk": _s(f"REFERRAL#{reference}"), "sk": _s(f"EMAIL#{kind}")},
            ConsistentRead=True,
        ).get("Item")
        return item is not None

    def record_email(
        self, reference: str, kind: str, to: str, subject: str, message_id: str
    ) -> None:
        """Remember an email was sent, with its event; a second record of the same kind is a
        no-op."""
        at = now_iso()
        with contextlib.suppress(self.client.exceptions.TransactionCanceledException):
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {
                                "pk": _s(f"REFERRAL#{reference}"),
                                "sk": _s(f"EMAIL#{kind}"),
                                "to": _s(to),
                                "subject": _s(subject),
                                "message_id": _s(message_id),
                                "at": _s(at),
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": self._event_put(
                            reference, f"email_sent:{kind}", "system", {"to": to}, at
                        )
                    },
                ]
            )

    # --- form drafts -----------------------------------------------------------------------

    def save_draft(self, draft_id: str, values: dict[str, Any]) -> None:
        self.client.put_item(
            TableName=self.table,
            Item={
                "pk": _s(f"DRAFT#{draft_id}"),
                "sk": _s("DRAFT"),
                "values": _s(json.dumps(values, sort_keys=True)),
                "expires_at": _n(int(time.time()) + DRAFT_TTL_SECONDS),
            },
        )

    def load_draft(self, draft_id: str) -> dict[str, Any] | None:
        item = self.client.get_item(
            TableName=self.table,
            Key={"pk": _s(f"DRAFT#{draft_id}"), "sk": _s("DRAFT")},
            ConsistentRead=True,
        ).get("Item")
        if not item or int(item["expires_at"]["N"]) < time.time():
            return None
        values: dict[str, Any] = json.loads(item["values"]["S"])
        return values


def person_partition(nhs_number: str) -> str:
    return f"PERSON#{sha256('nhs-number:' + nhs_number.replace(' ', ''))}"


def sign_in_key(id_hash: str) -> dict[str, Any]:
    """The key of a staff sign-in link's item (`SIGNIN#<hash of id>`)."""
    return {"pk": _s(f"SIGNIN#{id_hash}"), "sk": _s("SIGNIN")}


def find_referral(store: ReferralStore, typed_reference: str) -> StoredReferral | None:
    """The referral a person's typed reference names, forgiving case and spacing."""
    from urllib.parse import unquote

    from chalicelib.rules import parse_reference

    reference = parse_reference(unquote(typed_reference))
    if reference is None:
        return None
    try:
        return store.get(reference)
    except NotFound:
        return None


def _value(value: Any) -> dict[str, str]:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return _s(json.dumps(value, sort_keys=True))
    return _n(value) if isinstance(value, int) else _s(value)


def _plain(value: dict[str, Any]) -> Any:
    if "S" in value:
        return value["S"]
    if "N" in value:
        return int(value["N"]) if value["N"].lstrip("-").isdigit() else float(value["N"])
    if "BOOL" in value:
        return value["BOOL"]
    return None


def _prefixed(attrs: dict[str, Any]) -> dict[str, Any]:
    return {f":{name}": value for name, value in attrs.items()}


def table_definition(table_name: str) -> dict[str, Any]:
    """The table's shape for `create_table` (tests and the local stack; infra/ mirrors it)."""
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("pk", "sk", *(f"gsi{n}{part}" for n in range(1, 8)
                                       for part in ("pk", "sk")))
        ],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": STATUS_INDEX,
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                # The worklist's columns ride in the index: a page is one query, no fetches.
                "Projection": {
                    "ProjectionType": "INCLUDE",
                    "NonKeyAttributes": list(WORKLIST_COLUMNS),
                },
            },
            *(
                {
                    "IndexName": index,
                    "KeySchema": [
                        {"AttributeName": f"{index}pk", "KeyType": "HASH"},
                        {"AttributeName": f"{index}sk", "KeyType": "RANGE"},
                    ],
                    "Projection": (
                        {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["due_at"]}
                        if index == WAITING_INDEX else {"ProjectionType": "KEYS_ONLY"}),
                }
                for index in (ALL_INDEX, BOROUGH_INDEX, TIER_INDEX, FLAGGED_INDEX, WAITING_INDEX,
                              PERSON_INDEX)
            ),
        ],
    }
