"""Intake overhead: a valid `POST /api/referrals` through chalice.test.Client on moto, against
the bare AWS calls it has to make (the TransactWriteItems of store.create_referral: referral
item, event item, `ACTIVITY` item and `SURNAME` item; then StartExecution), in one process,
interleaved.

The request is sent without an Idempotency-Key, so the app makes exactly those two calls (a key
adds a GetItem and a third item in the transaction). Both sides start a real execution of the
state machine; after each call the benchmark waits (untimed) until its execution waits for the
referrer's sign-off, stops it and empties the table, so no background work overlaps a timed call
and every call meets the same table.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bench.inprocess import TimedHandler, http_client, moto_stack, wait_for

SETTLE_AFTER = 4


@dataclass
class Intake:
    runs: int
    api_s: list[float]
    bare_s: list[float]
    unsettled: int  # pairs whose executions did not reach the sign-off wait in time

    @property
    def api_median(self) -> float:
        return statistics.median(self.api_s)

    @property
    def bare_median(self) -> float:
        return statistics.median(self.bare_s)

    @property
    def ratio(self) -> float:
        return self.api_median / self.bare_median


def _empty(ddb: Any, table: str) -> None:
    """Untimed: delete every item, so each timed call meets the same near-empty table (moto
    deep-copies the whole table for every item of a TransactWriteItems, so a growing table
    would slow both sides alike and hide the app's share)."""
    from devstack.outbox import clear

    clear()
    pages = ddb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="pk, sk")
    keys = [item for page in pages for item in page["Items"]]
    for start in range(0, len(keys), 25):
        ddb.batch_write_item(RequestItems={table: [
            {"DeleteRequest": {"Key": key}} for key in keys[start:start + 25]]})


def _bare(ddb: Any, sfn: Any, table: str, machine: str, answers: str, total: int,
          email: str, reference: str, now: str, borough: str, nhs_number: str,
          last_name: str = "Morgan") -> None:
    """What intake has to do, and nothing else: the same transaction shape (the referral with
    its index keys, its first event, its entry for the reports' range and its last name's
    entry in the person index), then the start."""
    from chalicelib.adapters.dynamo.items import (
        ALL_INDEX,
        BOROUGH_INDEX,
        PERSON_INDEX,
        REFERRER_INDEX,
        activity_item,
        activity_partition,
        index_entry,
        person_partition,
        referrer_partition,
        surname_item,
    )

    pk = {"S": f"REFERRAL#{reference}"}
    ddb.transact_write_items(TransactItems=[
        {"Put": {
            "TableName": table,
            "Item": {
                "pk": pk, "sk": {"S": "REFERRAL"},
                "gsi1pk": {"S": "STATUS#submitted"}, "gsi1sk": {"S": f"{now}#{reference}"},
                **index_entry(ALL_INDEX, "REFERRALS", now, reference),
                **index_entry(BOROUGH_INDEX, f"BOROUGH#{borough}", now, reference),
                **index_entry(PERSON_INDEX, person_partition(nhs_number), now, reference),
                **index_entry(REFERRER_INDEX, referrer_partition(email), now, reference),
                "reference": {"S": reference}, "status": {"S": "submitted"},
                "created_at": {"S": now}, "updated_at": {"S": now},
                "answers": {"S": answers}, "total_pence": {"N": str(total)},
                "referrer_email": {"S": email},
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }},
        {"Put": {
            "TableName": table,
            "Item": {
                "pk": pk, "sk": {"S": f"EVENT#{now}#{secrets.token_hex(4)}"},
                "what": {"S": "submitted"}, "who": {"S": email}, "at": {"S": now},
                "detail": {"S": "{}"},
            },
            "ConditionExpression": "attribute_not_exists(pk)",
        }},
        {"Put": {"TableName": table,
                 "Item": activity_item(reference, now, activity_partition(None))}},
        {"Put": {"TableName": table, "Item": surname_item(reference, now, last_name)}},
    ])
    sfn.start_execution(stateMachineArn=machine, name=reference,
                        input=json.dumps({"referral_id": reference, "attempt": 1}))


@contextlib.contextmanager
def _parse_definition_once() -> Iterator[None]:
    """moto parses the state machine's ASL again for every execution (~0.5 s of ANTLR here);
    while intake is measured, parse it once. Only the untimed background work gets faster,
    and each execution is stopped at its first wait anyway."""
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    original = ExecutionWorker._get_evaluation_entrypoint
    parsed: dict[str, Any] = {}

    def cached(self: Any) -> Any:
        definition = self._evaluation_details.state_machine_details.definition
        if definition not in parsed:
            parsed[definition] = original(self)
        return parsed[definition]

    ExecutionWorker._get_evaluation_entrypoint = cached  # type: ignore[method-assign]
    try:
        yield
    finally:
        ExecutionWorker._get_evaluation_entrypoint = original  # type: ignore[method-assign]


def _settle(handler: TimedHandler, store: Any, sfn: Any, machine: str, reference: str,
            threads: int, empty: Callable[[], None]) -> bool:
    """Untimed: let the execution reach the referrer's sign-off wait (four pathway invocations:
    intake, acknowledgement, request, await), then stop it and release its waiting task, so no
    background work overlaps the next timed call. False if it did not get there in time."""
    from chalicelib.adapters.stepfunctions import execution_arn

    try:
        wait_for(lambda: len(handler.durations) >= SETTLE_AFTER, timeout=15, interval=0.005)
        settled = True
    except TimeoutError:
        settled = False
    handler.take()
    token = store.task_token(reference, "referrer")
    with contextlib.suppress(Exception):
        sfn.stop_execution(executionArn=execution_arn(machine, reference))
    if token:
        with contextlib.suppress(Exception):
            sfn.send_task_failure(taskToken=token, error="BenchmarkStop")
    with contextlib.suppress(TimeoutError):
        wait_for(lambda: threading.active_count() <= threads, timeout=5, interval=0.005)
    empty()
    return settled


def measure(runs: int = 200, warmup: int = 10) -> Intake:
    from chalicelib.adapters import aws
    from chalicelib.adapters.dynamo import DynamoStore
    from chalicelib.config import get_settings
    from chalicelib.domain.dates import now_iso
    from chalicelib.domain.identifiers import new_reference
    from chalicelib.domain.validation import validate_referral
    from devstack.example import make_referral

    api_s: list[float] = []
    bare_s: list[float] = []
    unsettled = 0
    handler = TimedHandler()
    with _parse_definition_once(), moto_stack(handler) as stack, http_client() as client:
        get_settings.cache_clear()
        settings = get_settings()
        data = make_referral(total_pence=12000)
        body = json.dumps(data)
        referral = validate_referral(data, settings)
        assert not isinstance(referral, list), referral
        answers = referral.model_dump_json()
        ddb, sfn = aws.client("dynamodb"), aws.client("stepfunctions")
        store = DynamoStore(ddb, settings.table_name).referrals
        headers = {"Content-Type": "application/json"}

        def api() -> str:
            started = time.perf_counter()
            response = client.http.post("/api/referrals", headers=headers, body=body)
            elapsed = time.perf_counter() - started
            if response.status_code != 201:
                raise RuntimeError(f"POST /api/referrals answered {response.status_code}")
            times.append(("api", elapsed))
            return str(response.json_body["reference"])

        def bare() -> str:
            reference = new_reference()
            now = now_iso()
            started = time.perf_counter()
            _bare(ddb, sfn, settings.table_name, stack.state_machine_arn, answers,
                  referral.total_pence, referral.referrer.email, reference, now,
                  referral.person.borough, referral.person.nhs_number)
            times.append(("bare", time.perf_counter() - started))
            return reference

        def settle(reference: str) -> bool:
            return _settle(handler, store, sfn, stack.state_machine_arn, reference, threads,
                           lambda: _empty(ddb, settings.table_name))

        threads = threading.active_count()
        for index in range(warmup + runs):
            times: list[tuple[str, float]] = []
            order = (api, bare) if index % 2 == 0 else (bare, api)
            for step in order:
                if not settle(step()):
                    unsettled += 1
            if index >= warmup:
                for kind, elapsed in times:
                    (api_s if kind == "api" else bare_s).append(elapsed)
    return Intake(runs, api_s, bare_s, unsettled)
