"""The table's layout: keys, indexes and how records become items. Only the modules of this
package know it.

One table holds, per referral (partition `REFERRAL#<reference>`):
  sk `REFERRAL`            the answers, status, tier, flags; indexed for the worklist's views
  sk `EVENT#<when>#<rand>` the append-only history: one item per event (what, who, when)
  sk `EMAIL#<key>`         a record of each email sent (sending is retried; this makes it once)
  sk `TOKEN#<step>`        the Step Functions task token of the step waiting now
  sk `REMINDERS#<step>`    how many reminders a step has had
  sk `ACTIVITY`            whether the referral is active or when it ended, for the reports
  sk `SURNAME`             the person's last name's key, for finding them by it
and beside them `LINK#<hash of id>` (a one-time link: an action on a step, or a staff or
referrer sign-in), `SESSION#<hash>` (a staff or referrer session), `IDEMPOTENCY#<hash>` (a
submission key -> its referral) and `DRAFT#<id>` (a form in progress), each with a TTL
(`expires_at`). Referrals stored by an earlier version are given their `ACTIVITY` and `SURNAME`
items and their referrer index keys by the one-off backfill (`backfill.py`).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from chalicelib.domain.identifiers import sha256
from chalicelib.domain.identity import address_key
from chalicelib.domain.person import name_key
from chalicelib.domain.records import Event, Link, StoredReferral, WorklistRow, person_name_in

# The worklist's views, one index each, all sorted `<created_at>#<reference>` newest first.
STATUS_INDEX = "gsi1"  # gsi1pk = STATUS#<status>; carries the worklist's columns
ALL_INDEX = "gsi2"  # every referral: gsi2pk = REFERRALS
BOROUGH_INDEX = "gsi3"  # gsi3pk = BOROUGH#<borough>
TIER_INDEX = "gsi4"  # gsi4pk = TIER#<tier>, from intake
FLAGGED_INDEX = "gsi5"  # gsi5pk = FLAGGED, only on referrals with flags (a sparse index)
# Referrals waiting for a person (sparse): gsi6pk = WAITING while a step waits, with `due_at`
# (when its first reminder is due) projected for the overdue filter. Every status change
# removes it; the state machine sets it again when the next step starts waiting.
WAITING_INDEX = "gsi6"
# One person's referrals, for a subject-access export: gsi7pk = PERSON#<SHA-256 of the NHS
# number>; removed with the rest of the personal data by retention. Overloaded for finding
# people by last name: each referral's `SURNAME` item (beside it in its partition, written once
# at submission, as a name never changes after it) has gsi7pk = SURNAME#<SHA-256 of the name
# without case>, deleted by retention.
PERSON_INDEX = "gsi7"
# Monthly releases to come (sparse): gsi8pk = RELEASE_DUE, gsi8sk = <date due>#<reference>,
# while a referral has one; the daily reminder asks for what is due by today.
RELEASE_INDEX = "gsi8"
# One referrer's referrals, for their own page (/my-referrals): gsi9pk = REFERRER#<SHA-256 of
# the address without case>; moved when an advisor corrects the referrer's address, removed
# with the rest of the personal data by retention.
REFERRER_INDEX = "gsi9"
# The reports' range, in the same index (overloaded, so no second index to build): each
# referral's `ACTIVITY` item (beside it in its partition; the referral item's own gsi8 keys are
# the release schedule's) has gsi8pk = ACTIVE while it counts in every range from now on, or
# ENDED#<YYYY-MM> from the month it ended (`facts.ended_on`), and gsi8sk =
# <created_at>#<reference>. A range then reads the active referrals submitted by its end and
# those ended in each month from its start: what it reads grows with the range, not the table.
ACTIVITY_INDEX = RELEASE_INDEX
# The other indexes carry keys only: their key attributes are written once (at submission or
# intake), so the many later status changes cost them nothing.
KEYS_ONLY_INDEXES = (ALL_INDEX, BOROUGH_INDEX, TIER_INDEX, FLAGGED_INDEX, WAITING_INDEX,
                     PERSON_INDEX, RELEASE_INDEX, REFERRER_INDEX)
WORKLIST_COLUMNS = ("reference", "status", "created_at", "updated_at", "total_pence", "tier",
                    "step", "referrer_email", "flags")


def s(value: str) -> dict[str, str]:
    return {"S": value}


def n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def value(python: Any) -> dict[str, str]:
    """A str or int as itself; anything else (dicts, lists, bools) as JSON text."""
    if isinstance(python, bool) or not isinstance(python, (int, str)):
        return s(json.dumps(python, sort_keys=True))
    return n(python) if isinstance(python, int) else s(python)


def plain(attribute: dict[str, Any]) -> Any:
    if "S" in attribute:
        return attribute["S"]
    if "N" in attribute:
        text = attribute["N"]
        return int(text) if text.lstrip("-").isdigit() else float(text)
    if "BOOL" in attribute:
        return attribute["BOOL"]
    return None


def referral_key(reference: str) -> dict[str, Any]:
    return {"pk": s(f"REFERRAL#{reference}"), "sk": s("REFERRAL")}


def partition_key(reference: str, sk: str) -> dict[str, Any]:
    """An item beside the referral in its partition: `TOKEN#manager`, `EMAIL#...`."""
    return {"pk": s(f"REFERRAL#{reference}"), "sk": s(sk)}


def reference_of(key: dict[str, Any]) -> str:
    return str(key["pk"]["S"]).split("#", 1)[1]


def sort_key(created_at: str, reference: str) -> str:
    return f"{created_at}#{reference}"


def index_entry(index: str, partition: str, created_at: str, reference: str) -> dict[str, Any]:
    return {f"{index}pk": s(partition), f"{index}sk": s(sort_key(created_at, reference))}


def activity_partition(ended_on: str | None) -> str:
    """Where the `ACTIVITY` item files a referral that ended on `ended_on` (None: active)."""
    return f"ENDED#{ended_on[:7]}" if ended_on else "ACTIVE"


def activity_item(reference: str, created_at: str, partition: str) -> dict[str, Any]:
    return {**partition_key(reference, "ACTIVITY"), f"{ACTIVITY_INDEX}pk": s(partition),
            f"{ACTIVITY_INDEX}sk": s(sort_key(created_at, reference))}


def status_partition(status: str) -> str:
    return f"STATUS#{status}"


def person_partition(nhs_number: str) -> str:
    return f"PERSON#{sha256('nhs-number:' + nhs_number.replace(' ', ''))}"


def surname_partition(last_name: str) -> str:
    """The person index's partition of everyone with this last name, however it is typed
    (hashed, like the NHS number's: no name in a key, and a bounded length)."""
    return f"SURNAME#{sha256('surname:' + name_key(last_name))[:32]}"


def surname_item(reference: str, created_at: str, last_name: str) -> dict[str, Any]:
    return {**partition_key(reference, "SURNAME"),
            **index_entry(PERSON_INDEX, surname_partition(last_name), created_at, reference)}


def assigned_partition(email: str) -> str:
    """The referrer index's partition, overloaded, of the cases assigned to a PHB advisor:
    an `ASSIGNED` item beside the referral (never the referral item, whose keys there are its
    referrer's), so assigning adds no index to build."""
    return f"ASSIGNED#{sha256('assigned:' + address_key(email))}"


def referrer_partition(email: str) -> str:
    """The referrer index's partition for an address, however it is typed (hashed: the key
    has a bounded length and no address in it). 128 bits of the hash, as 32 hex digits: all a
    partition needs, and every byte of the referral's item costs each write of it."""
    return f"REFERRER#{sha256('referrer:' + address_key(email))[:32]}"


def link_key(id_hash: str) -> dict[str, Any]:
    return {"pk": s(f"LINK#{id_hash}"), "sk": s("LINK")}


def event_item(reference: str, what: str, who: str, detail: dict[str, Any],
               at: str) -> dict[str, Any]:
    return {
        **partition_key(reference, f"EVENT#{at}#{secrets.token_hex(4)}"),
        "what": s(what), "who": s(who), "at": s(at),
        "detail": s(json.dumps(detail, sort_keys=True)),
    }


def _optional(item: dict[str, Any], name: str) -> str | None:
    return item[name]["S"] if name in item else None


def _json(item: dict[str, Any], name: str, default: Any) -> Any:
    return json.loads(item[name]["S"]) if name in item else default


def referral_from_item(item: dict[str, Any]) -> StoredReferral:
    return StoredReferral(
        reference=item["reference"]["S"],
        status=item["status"]["S"],
        created_at=item["created_at"]["S"],
        updated_at=item["updated_at"]["S"],
        # Both are gone once retention has removed the personal data.
        answers=_optional(item, "answers") or "",
        total_pence=int(item["total_pence"]["N"]),
        tier=_optional(item, "tier"),
        flags=_json(item, "flags", []),
        referrer_email=_optional(item, "referrer_email") or "",
        step=_optional(item, "step"),
        approvers=tuple(_json(item, "approvers", ())),
        progress=_json(item, "progress", {}),
        waiting_step=_optional(item, "waiting_step"),
        due_at=_optional(item, "due_at"),
        approved_at=_optional(item, "approved_at"),
        facts=_json(item, "facts", None),
        anonymised_at=_optional(item, "anonymised_at"),
        basis=_json(item, "basis", None),
        ledger=_json(item, "ledger", None),
        next_release_due=_optional(item, "next_release_due"),
        revision=int(item["revision"]["N"]) if "revision" in item else 0,
        assigned_to=_optional(item, "assigned_to"),
    )


def row_from_item(item: dict[str, Any]) -> WorklistRow:
    return WorklistRow(
        reference=item["reference"]["S"],
        status=item["status"]["S"],
        created_at=item["created_at"]["S"],
        updated_at=item["updated_at"]["S"],
        total_pence=int(item["total_pence"]["N"]),
        tier=_optional(item, "tier"),
        step=_optional(item, "step"),
        referrer_email=_optional(item, "referrer_email") or "",
        flagged=_json(item, "flags", []) != [],
        due_at=_optional(item, "due_at"),
        person_name=person_name_in(_optional(item, "answers") or ""),
    )


def event_from_item(item: dict[str, Any]) -> Event:
    return Event(item["what"]["S"], item["who"]["S"], item["at"]["S"],
                 json.loads(item["detail"]["S"]))


def link_from_item(item: dict[str, Any]) -> Link:
    return Link(
        id_hash=str(item["pk"]["S"]).split("#", 1)[1],
        action=item["action"]["S"],
        recipient=item["recipient"]["S"],
        valid_until=int(item["valid_until"]["N"]),
        created_at=item["created_at"]["S"],
        reference=_optional(item, "reference") or "",
        step=_optional(item, "step") or "",
        used_at=_optional(item, "used_at"),
    )


def table_definition(table_name: str) -> dict[str, Any]:
    """The table's shape for `create_table` (tests and the local stack; infra/ mirrors it)."""
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("pk", "sk", *(f"gsi{i}{part}" for i in range(1, 10)
                                       for part in ("pk", "sk")))
        ],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": STATUS_INDEX,
                "KeySchema": _index_keys(STATUS_INDEX),
                # The worklist's columns ride in the index: a page is one query, no fetches.
                "Projection": {"ProjectionType": "INCLUDE",
                               "NonKeyAttributes": list(WORKLIST_COLUMNS)},
            },
            *(
                {
                    "IndexName": index,
                    "KeySchema": _index_keys(index),
                    "Projection": (
                        {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["due_at"]}
                        if index == WAITING_INDEX else {"ProjectionType": "KEYS_ONLY"}),
                }
                for index in KEYS_ONLY_INDEXES
            ),
        ],
    }


def _index_keys(index: str) -> list[dict[str, str]]:
    return [{"AttributeName": f"{index}pk", "KeyType": "HASH"},
            {"AttributeName": f"{index}sk", "KeyType": "RANGE"}]
