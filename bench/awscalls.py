"""Counting every AWS API call, by service and operation, with botocore's event hooks, and
estimating the DynamoDB request units each one uses.

`CallCounter.install(session)` registers `before-call` and `after-call` handlers on a boto3
session: every client created from it afterwards (the app's, and the boto3 lambda client moto's
Step Functions engine creates for each Lambda task) reports its calls here. Calls the benchmark
itself makes (polling for emails, reading execution history) are made inside `paused()`, which
only affects the calling thread, so they are not counted.

Request units follow DynamoDB's on-demand rules, estimated from item sizes:
  writes: 1 WRU per KB (rounded up) of the larger of the item before and after; transactions 2x;
          plus each global secondary index entry the write adds, removes or changes (keys
          changed: delete and put)
  reads:  1 RRU per 4 KB (rounded up) strongly consistent, half that eventually consistent
          (index queries always are); Query/Scan round the total size of items read; each item
          of a BatchGetItem is rounded on its own; transactions 2x.
Item sizes: attribute names plus values (strings and binary by length, numbers ~1 byte per two
digits + 1, maps and lists 3 bytes + 1 per element), as DynamoDB documents them.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

REGION = "eu-west-2"
DDB_WRITE_UNIT = 1024
DDB_READ_UNIT = 4096


def attribute_size(value: dict[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode("utf-8"))
    if kind == "B":
        return len(data)
    if kind == "N":
        digits = data.lstrip("-").replace(".", "").strip("0")
        return (len(digits) + 1) // 2 + 1 if digits else 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in data)
    if kind == "NS":
        return sum(attribute_size({"N": n}) for n in data)
    if kind == "BS":
        return sum(len(b) for b in data)
    if kind == "L":
        return 3 + sum(attribute_size(v) + 1 for v in data)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + attribute_size(v) + 1 for k, v in data.items())
    return 0


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + attribute_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / DDB_WRITE_UNIT))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / DDB_READ_UNIT))
    return float(units) if consistent else units / 2


def _stored(table: str, key: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """The size of an item as moto holds it now (0 when absent), and what each global secondary
    index holds of it (its keys and projected attributes; absent: not in that index)."""
    try:
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        item = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_item(table, key)
    except Exception:
        return 0, {}
    if item is None:
        return 0, {}
    attrs = {name: value.to_json() for name, value in item.attrs.items()}
    return int(item.size()), _index_images(attrs)


def _index_images(attrs: dict[str, Any]) -> dict[str, Any]:
    """Per index of the app's table (`table_definition` in chalicelib/adapters/dynamo/items.py):
    the index entry this item makes, or nothing when it lacks the index's keys (a sparse
    index)."""
    images = {}
    for index in _indexes():
        keys = [k["AttributeName"] for k in index["KeySchema"]]
        if not all(k in attrs for k in keys):
            continue
        projected = keys + index["Projection"].get("NonKeyAttributes", [])
        images[index["IndexName"]] = (
            [repr(attrs[k]) for k in keys],
            sorted((k, repr(attrs[k])) for k in projected if k in attrs),
        )
    return images


def _indexes() -> list[dict[str, Any]]:
    from chalicelib.adapters.dynamo import table_definition

    indexes: list[dict[str, Any]] = table_definition("t").get("GlobalSecondaryIndexes", [])
    return indexes


def index_write_units(before: dict[str, Any], after: dict[str, Any]) -> int:
    """Index writes one table write causes: an entry added or removed is one write, an entry
    whose keys changed is two (delete and put), one whose projected attributes changed is one;
    an index the write left alone costs nothing. Entries here are well under 1 KB."""
    units = 0
    for name in set(before) | set(after):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if old is None or new is None:
            units += 1
        elif old[0] != new[0]:
            units += 2
        else:
            units += 1
    return units


def _key_of(item: dict[str, Any]) -> dict[str, Any]:
    return {name: item[name] for name in ("pk", "sk") if name in item}


def _recipients(request: dict[str, Any]) -> int:
    """Destinations of an SES request as sent on the wire (query protocol)."""
    body = request.get("body") or {}
    if isinstance(body, dict):
        return sum(1 for name in body if name.startswith(("Destinations.member.",
                                                           "Destination.ToAddresses.member.")))
    return 1


@dataclass
class Tally:
    """What one stretch of work (a journey, a few page views) made AWS do."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    wru: float = 0.0
    rru: float = 0.0
    ses_recipients: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def count(self, service: str, operation: str | None = None) -> int:
        return sum(n for (s, o), n in self.calls.items()
                   if s == service and (operation is None or o == operation))

    @property
    def total(self) -> int:
        return sum(self.calls.values())


class CallCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self.tally: Tally | None = None  # None: not recording
        self.handler_errors: list[str] = []

    # --- control -------------------------------------------------------------------------------

    def install(self, session: Any) -> None:
        """Hook a boto3 session: do it before any client is created from it."""
        session.events.register("before-parameter-build.dynamodb", self._parameters)
        session.events.register("before-call", self._before)
        session.events.register("after-call", self._after)

    def start(self) -> Tally:
        with self._lock:
            self.tally = Tally()
            return self.tally

    def stop(self) -> Tally:
        with self._lock:
            tally, self.tally = self.tally, None
        assert tally is not None
        return tally

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """The calling thread's AWS calls are not counted (the benchmark's own look-ups)."""
        previous = getattr(self._local, "paused", False)
        self._local.paused = True
        try:
            yield
        finally:
            self._local.paused = previous

    # --- hooks ---------------------------------------------------------------------------------

    def _recording(self) -> Tally | None:
        if getattr(self._local, "paused", False):
            return None
        return self.tally

    def _parameters(self, params: dict[str, Any], model: Any, context: dict[str, Any],
                    **_: Any) -> None:
        """A DynamoDB call's API parameters (before-call sees only the wire request), and the
        size of each item it will write as it is stored before the write."""
        if self._recording() is None:
            return
        try:
            context["bench_before"] = self._sizes_before(model.name, params)
        except Exception as exc:  # never break the app under measurement
            self.handler_errors.append(f"before-parameter-build: {exc!r}")

    def _before(self, model: Any, params: dict[str, Any], context: dict[str, Any],
                **_: Any) -> None:
        tally = self._recording()
        if tally is None:
            return
        try:
            service = model.service_model.service_name
            operation = model.name
            with self._lock:
                tally.calls[(service, operation)] += 1
                if service == "ses" and operation in ("SendRawEmail", "SendEmail"):
                    # SES bills each recipient of a message.
                    tally.ses_recipients += max(1, _recipients(params))
            if service == "dynamodb":
                context["bench_tally"] = tally
        except Exception as exc:  # never break the app under measurement
            self.handler_errors.append(f"before-call: {exc!r}")

    def _after(self, model: Any, parsed: dict[str, Any], context: dict[str, Any],
               **kwargs: Any) -> None:
        tally = context.get("bench_tally")
        if tally is None:
            return
        try:
            operation = model.name
            if "Error" in parsed:
                with self._lock:
                    tally.errors[f"{operation}:{parsed['Error'].get('Code')}"] += 1
            wru, rru = self._units(operation, context.get("bench_before", {}), parsed)
            with self._lock:
                tally.wru += wru
                tally.rru += rru
        except Exception as exc:
            self.handler_errors.append(f"after-call: {exc!r}")

    # --- request units -------------------------------------------------------------------------

    @staticmethod
    def _writes(operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], int]]:
        """(table, key, size written by the request itself) of each item a write touches."""
        if operation == "PutItem":
            return [(params["TableName"], _key_of(params["Item"]), item_size(params["Item"]))]
        if operation in ("UpdateItem", "DeleteItem"):
            return [(params["TableName"], params["Key"], 0)]
        if operation == "TransactWriteItems":
            touched = []
            for entry in params["TransactItems"]:
                ((kind, body),) = entry.items()
                if kind == "Put":
                    touched.append((body["TableName"], _key_of(body["Item"]),
                                    item_size(body["Item"])))
                else:
                    touched.append((body["TableName"], body["Key"], 0))
            return touched
        if operation == "BatchWriteItem":
            touched = []
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    if "PutRequest" in request:
                        item = request["PutRequest"]["Item"]
                        touched.append((table, _key_of(item), item_size(item)))
                    else:
                        touched.append((table, request["DeleteRequest"]["Key"], 0))
            return touched
        return []

    def _sizes_before(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        writes = self._writes(operation, params)
        return {
            "params": params,
            "writes": [(table, key, own, *_stored(table, key)) for table, key, own in writes],
        }

    def _units(self, operation: str, before: dict[str, Any],
               parsed: dict[str, Any]) -> tuple[float, float]:
        params = before.get("params", {})
        writes = before.get("writes", [])
        if writes:
            factor = 2 if operation == "TransactWriteItems" else 1
            total = 0
            for table, key, own, size_before, indexed_before in writes:
                size_after, indexed_after = _stored(table, key)
                total += factor * write_units(max(own, size_before, size_after))
                total += index_write_units(indexed_before, indexed_after)
            return float(total), 0.0
        consistent = bool(params.get("ConsistentRead")) and "IndexName" not in params
        if operation == "GetItem":
            return 0.0, read_units(item_size(parsed.get("Item")), consistent)
        if operation in ("Query", "Scan"):
            size = sum(item_size(item) for item in parsed.get("Items", []))
            return 0.0, read_units(size, consistent)
        if operation == "BatchGetItem":
            units = 0.0
            for table, request in params.get("RequestItems", {}).items():
                found = {
                    tuple(sorted((k, str(v)) for k, v in _key_of(item).items())): item
                    for item in parsed.get("Responses", {}).get(table, [])
                }
                for key in request["Keys"]:
                    item = found.get(tuple(sorted((k, str(v)) for k, v in key.items())))
                    units += read_units(item_size(item), bool(request.get("ConsistentRead")))
            return 0.0, units
        if operation == "TransactGetItems":
            units = 0.0
            for response in parsed.get("Responses", []):
                units += 2 * read_units(item_size(response.get("Item")), True)
            return 0.0, units
        return 0.0, 0.0
