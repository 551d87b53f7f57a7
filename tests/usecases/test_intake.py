"""Taking a referral in, on the in-memory adapters: what is stored, what is started, what is
refused, and what happens when the workflow cannot start."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.bootstrap import Services
from chalicelib.domain.records import View
from chalicelib.intake import api
from tests.factories import make_referral, with_change
from tests.validation_cases import CASES, IDS


def post(svc: Services, body: Any, key: str | None = None) -> Any:
    return api.create_referral(svc, json.dumps(body).encode(), key, "application/json")


def body_of(response: Any) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(response.body)
    return result


def stored(svc: Services) -> list[str]:
    return [row.reference for row in svc.store.referrals.page(View("all"), 100).rows]


@pytest.mark.parametrize("path, value, field, words", CASES, ids=IDS)
def test_each_refused_referral_names_the_field_and_stores_and_starts_nothing(
        memory: Services, path: str, value: Any, field: str, words: str) -> None:
    response = post(memory, with_change(make_referral(), path, value))
    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in body_of(response)["errors"]}
    assert field in errors and words.lower() in errors[field].lower(), errors
    assert stored(memory) == []
    assert memory.workflow.started == []  # type: ignore[attr-defined]
    assert memory.mailer.sent == []  # type: ignore[attr-defined]


def test_a_valid_referral_is_stored_first_then_its_workflow_started(memory: Services) -> None:
    response = post(memory, make_referral())
    assert response.status_code == 201
    reference = body_of(response)["reference"]
    assert stored(memory) == [reference]
    assert memory.workflow.started == [reference]  # type: ignore[attr-defined]
    assert [e.what for e in memory.store.referrals.history(reference)] == ["submitted"]
    answers = json.loads(memory.store.referrals.get(reference).answers)
    assert answers["person"]["nhs_number"] == "9434765919"


def test_a_replay_with_the_same_key_is_the_same_referral_started_once(memory: Services) -> None:
    first = body_of(post(memory, make_referral(), key="k-1"))
    again = post(memory, make_referral(), key="k-1")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert body_of(again)["reference"] == first["reference"]
    assert memory.workflow.started == [first["reference"]]  # type: ignore[attr-defined]
    clash = post(memory, make_referral(total_pence=999), key="k-1")
    assert clash.status_code == 409 and stored(memory) == [first["reference"]]


class BrokenWorkflow:
    def __init__(self) -> None:
        self.started: list[str] = []

    def start(self, reference: str) -> bool:
        raise ConnectionError("the workflow service is down")

    def complete(self, token: str, outcome: str) -> bool:
        return False


def test_a_workflow_that_cannot_start_leaves_the_referral_safe_and_the_advisors_told(
        memory: Services) -> None:
    from dataclasses import replace

    from chalicelib.intake import submission

    broken = replace(memory, workflow=BrokenWorkflow())
    response = post(broken, make_referral(), key="k-2")
    assert response.status_code == 201
    reference = body_of(response)["reference"]
    held = memory.store.referrals.get(reference)
    assert held.status == "needs_attention"
    assert submission.never_started(held)
    [alert] = memory.mailer.sent  # type: ignore[attr-defined]
    assert alert.to == "phb-advisors@example.org" and reference in alert.subject
    # The same submission again, once the workflow works, starts it (as its second attempt:
    # the first may yet turn out to have started).
    replay = post(memory, make_referral(), key="k-2")
    assert body_of(replay)["status"] == "submitted"
    assert memory.workflow.started == [f"{reference}-2"]  # type: ignore[attr-defined]
    assert not submission.never_started(memory.store.referrals.get(reference))
