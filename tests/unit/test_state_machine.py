"""The state machine's definition (infra/pathway.asl.json) keeps its promises: every task
retries transient errors with backoff, every failure ends at a step that marks the referral for
an advisor, and every route's choices lead somewhere that exists."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ASL = Path(__file__).resolve().parents[2] / "infra" / "pathway.asl.json"
TRANSIENT = {"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
             "Lambda.TooManyRequestsException", "TransientError"}


def definition() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(ASL.read_text(encoding="utf-8"))
    return result


def states(machine: dict[str, Any],
           inside_map: bool = False) -> Iterator[tuple[str, dict[str, Any], bool]]:
    for name, state in machine["States"].items():
        yield name, state, inside_map
        if state["Type"] == "Map":
            yield from states(state.get("ItemProcessor") or state["Iterator"], True)


def test_every_task_retries_transient_errors_with_backoff() -> None:
    tasks = [(n, s) for n, s, _ in states(definition()) if s["Type"] == "Task"]
    assert len(tasks) > 20
    for name, task in tasks:
        retried = set().union(*(set(r["ErrorEquals"]) for r in task.get("Retry", [])))
        assert retried >= TRANSIENT or "States.ALL" in retried, name
        for rule in task["Retry"]:
            assert rule["MaxAttempts"] >= 3 and rule.get("BackoffRate", 1) > 1, name


def test_every_failure_outside_the_sign_off_map_marks_the_referral() -> None:
    machine = definition()
    for name, state, inside_map in states(machine):
        if state["Type"] not in ("Task", "Map") or inside_map:
            continue
        caught = {e for c in state.get("Catch", []) for e in c["ErrorEquals"]}
        assert "States.ALL" in caught, name
        last = state["Catch"][-1]
        assert last["ErrorEquals"] == ["States.ALL"], name
        expected = "AlertFailed" if name == "NeedsAttention" else "NeedsAttention"
        assert last["Next"] == expected, name
    # Inside the map, failures end the map, whose own Catch marks the referral.
    sign_off = machine["States"]["SignOff"]
    assert sign_off["Catch"][-1] == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                                     "Next": "NeedsAttention"}


def test_every_wait_for_a_person_has_a_timeout_that_reminds() -> None:
    for name, state, _ in states(definition()):
        if not state.get("Resource", "").endswith("waitForTaskToken"):
            continue
        assert "TimeoutSecondsPath" in state, name
        on_timeout = next(c for c in state["Catch"] if "States.Timeout" in c["ErrorEquals"])
        step = state["Parameters"]["Payload"].get("step") or ""
        if step.endswith("_due"):  # the review's or closure's time has come: ask for it
            assert on_timeout["Next"].startswith("Request"), name
        else:
            assert on_timeout["Next"].startswith("Remind"), name


def test_every_next_state_exists() -> None:
    def check(machine: dict[str, Any]) -> None:
        names = set(machine["States"])
        assert machine["StartAt"] in names
        for name, state in machine["States"].items():
            targets = [state.get("Next"), state.get("Default"),
                       *(c["Next"] for c in state.get("Catch", [])),
                       *(c["Next"] for c in state.get("Choices", []))]
            for target in filter(None, targets):
                assert target in names, (name, target)
            if state["Type"] == "Map":
                check(state.get("ItemProcessor") or state["Iterator"])

    check(definition())


def test_the_committed_definition_is_what_the_builder_writes() -> None:
    """infra/pathway.asl.json is written by infra/pathway.py (`make asl`): edit the builder."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("pathway_builder",
                                                  ASL.parent / "pathway.py")
    assert spec is not None and spec.loader is not None
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    assert builder.text() == ASL.read_text(encoding="utf-8"), \
        "infra/pathway.asl.json is out of date: run `make asl`"


def test_every_ask_reminds_and_routes_the_same_way() -> None:
    """Each person's step is one shape: request, wait (a timeout reminds), remind (then back to
    the wait, or expire), route the answer; and every one retries with the one policy."""
    machine = definition()
    inner = machine["States"]["SignOff"]["ItemProcessor"]["States"]
    everything = {**machine["States"], **inner}
    asks = [name[len("Await"):] for name in everything if name.startswith("Await")]
    assert sorted(asks) == ["Agreement", "Closure", "Decision", "Information", "Release",
                            "Review"]
    for name in asks:
        wait = everything[f"Await{name}"]
        assert wait["Next"] == f"Route{name}"
        assert wait["Catch"][0]["Next"] == f"Remind{name}"
        assert everything[f"Remind{name}"]["Next"] == f"After{name}Reminder"
        assert everything[f"After{name}Reminder"]["Default"] == f"Await{name}"
        assert everything[f"Request{name}"]["Next"] == f"Await{name}"
    retries = {json.dumps(s["Retry"]) for _, s, _ in states(machine)
               if s["Type"] == "Task" and s is not machine["States"]["NeedsAttention"]}
    assert len(retries) == 1


def test_every_wait_ends_in_an_amendment_that_the_pathway_takes_up() -> None:
    """An amendment can end any wait after intake: each route sends "amended" on (from the
    sign-off map, by its own error), every wait carries the revision it follows, and taking it
    up leads back to sign-off or the agreement."""
    machine = definition()
    top = machine["States"]
    sign_off = top["SignOff"]
    inner = sign_off["ItemProcessor"]["States"]
    for name in ("Decision", "Information"):
        amended = [c for c in inner[f"Route{name}"]["Choices"] if c["StringEquals"] == "amended"]
        assert [c["Next"] for c in amended] == ["Amended"]
    assert inner["Amended"]["Type"] == "Fail"
    assert {"ErrorEquals": ["Amended"], "ResultPath": None,
            "Next": "AfterAmendment"} in sign_off["Catch"]
    assert sign_off["ItemSelector"]["revision.$"] == "$.intake.revision"
    for route in ("RouteAgreement", "RouteRelease", "RouteReview", "RouteClosure",
                  "AfterReviewDue", "AfterClosureDue"):
        amended = [c for c in top[route]["Choices"] if c["StringEquals"] == "amended"]
        assert [c["Next"] for c in amended] == ["AfterAmendment"], route
    for name, state, inside_map in states(machine):
        if state.get("Resource", "").endswith("waitForTaskToken"):
            revision = state["Parameters"]["Payload"]["revision.$"]
            assert revision == ("$.revision" if inside_map else "$.intake.revision"), name
    assert top["AfterAmendment"]["Next"] == "RouteAmendment"
    routes = {c["StringEquals"]: c["Next"] for c in top["RouteAmendment"]["Choices"]}
    assert (routes["sign_off"], routes["agreement"]) == ("SignOff", "RequestAgreement")
    # Accepted again, the agreement goes on to where the money was.
    after = {c["StringEquals"]: c["Next"] for c in top["AfterAgreement"]["Choices"]}
    assert after == {"accepted": "RequestRelease", "released": "ScheduleReview",
                     "reviewed": "ScheduleClosure"}
