"""The fault suite: at every step of the pathway, each AWS operation the step calls fails, once
as a transient fault and once as a permanent one, and the referral must get through.

Which operations a step calls is found, not listed: two referrals walk every step with no
fault while each of the app's AWS calls is recorded by referral and by the task or request
making it (tests/faults/harness.py). Then, for each operation, more referrals walk the same
journeys (tests/faults/journeys.py), each with that operation failing at every step that calls
it, in the state machine's tasks (*system*) or in the person's own request (*person*):

- transient (throttling): botocore's retries, or the state machine's when a task outlasts
  them, absorb it: the step is done, nothing is lost, no email goes twice, nobody is alerted;
- permanent (access denied; the address refused): the referral reaches needs attention with
  the advisors emailed the reason; the outage then ends, an advisor resumes it from the staff
  console, and it goes on to the end of its journey; in a person's request, the person sees a
  clear page (never a 500), nothing is half-written, and trying again works.

Every referral runs at once with faults only for itself, on moto executing the real state
machine; the matrix of what happened is written to docs/FAULTS.md by `make faults`
(PHB_WRITE_FAULT_MATRIX=1). botocore's backoff sleeps are shortened twenty-fold here (the state
machine's are not): what is proven is which attempts fail and what the app does then.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from chalicelib.config import get_settings
from chalicelib.domain.identifiers import new_reference
from devstack import faults, lambdas, stack
from tests.faults.harness import Switch, scoped
from tests.faults.journeys import (
    JOURNEYS,
    OUTSIDE_STEPS,
    STEPS,
    Cell,
    Driver,
    World,
)

MATRIX = Path(__file__).resolve().parents[2] / "docs" / "FAULTS.md"
KINDS = ("system", "person")
FAULTS = ("transient", "permanent")
# The steps each journey is the proof for (intake is walked by both, counted in A).
COVERS = {"A": {s for seg in JOURNEYS["A"] for s in (seg.action.step, *seg.steps)},
          "B": {s for seg in JOURNEYS["B"] for s in (seg.action.step, *seg.steps)} - {
              "intake"}}
WORKERS = 24


@pytest.fixture
def world(aws_stack: Any, client: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The app with the scoping switch on its own AWS clients (made afresh, with a full retry
    quota, and made afresh again after, so nothing here drains a later test's), the pathway
    function attributing each task's calls, one signed-in advisor, references pinned."""
    import botocore.endpoint

    from chalicelib.adapters import aws
    from tests.http.test_staff_console import Staff

    # The review due at once, closure a second after it: a journey walks to its end.
    monkeypatch.setenv("PHB_REVIEW_AFTER_SECONDS", "0")
    monkeypatch.setenv("PHB_CLOSURE_AT_MOST_SECONDS_AFTER_REVIEW", "1")
    get_settings.cache_clear()
    monkeypatch.setattr(botocore.endpoint, "time", _QuickBackoff())
    aws.reset()
    switch = Switch()
    switch.attach()
    original = lambdas.routed_functions()[stack.PATHWAY_FUNCTION]
    lambdas.install({stack.PATHWAY_FUNCTION: scoped(original)})
    built = World(client=client, staff=Staff(client), switch=switch)
    unpin = built.pin_references()
    try:
        yield built
    finally:
        unpin()
        lambdas.install({stack.PATHWAY_FUNCTION: original})
        switch.detach()
        faults.clear()
        aws.reset()


class _QuickBackoff:
    """botocore.endpoint's `time`, with each retry's backoff sleep a twentieth as long."""

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(seconds / 20)


# --- finding what each step calls -----------------------------------------------------------

_found: dict[tuple[str, str], list[str]] = {}


def operations(world: World) -> dict[tuple[str, str], list[str]]:
    """(step, kind) -> the AWS operations its parts call, from two referrals walking every step
    with no fault (once per run of this module)."""
    if not _found:
        drivers = [Driver(name, n, new_reference(), world) for n, name in enumerate(JOURNEYS)]
        run_all(drivers)
        for step in STEPS:
            for kind in KINDS:
                ops: list[str] = []
                for driver in drivers:
                    ops += world.switch.operations(driver.reference, step.parts(kind))
                _found[(step.name, kind)] = list(dict.fromkeys(ops))
        parts = {call.part for call in world.switch.calls}
        known = {p for step in STEPS for kind in KINDS for p in step.parts(kind)}
        _found[("(unknown parts)", "")] = sorted(parts - known - OUTSIDE_STEPS)
    return _found


def run_all(drivers: list[Driver]) -> list[str]:
    """Walk every driver at once; the failures, each naming its journey, fault and step."""

    def walk(driver: Driver) -> str | None:
        try:
            driver.walk()
        except AssertionError as failed:
            return describe(driver, failed)
        except Exception as failed:  # an error of the app under a fault: report it the same
            return describe(driver, failed)
        return None

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        stopped = [f for f in pool.map(walk, drivers) if f]
    return [f for d in drivers for f in d.failures] + stopped


def describe(driver: Driver, failed: BaseException) -> str:
    """The failure, naming the journey, the fault and the steps it left unproven: a failed
    cell for each fault armed then, and one saying so for each step not reached."""
    settled = {(c.step, c.kind) for c in driver.cells}
    pending = sorted((step, kind) for kind, steps in driver.at.items() for step in steps
                     if (step, kind) not in settled)
    message = str(failed).splitlines()[0][:300] if str(failed) else type(failed).__name__
    live = {(f.step, f.kind) for f in driver.live}
    driver.cells += [Cell(driver.journey, step, kind, driver.operation, driver.fault,
                          f"FAILED: {message}" if (step, kind) in live else
                          "not reached: the walk stopped before", False)
                     for step, kind in pending]
    where = f"{driver.fault} {driver.operation}" if driver.operation else "no fault"
    return f"journey {driver.journey}, {where}: {type(failed).__name__}: {failed}"


def test_every_call_of_the_pathway_belongs_to_a_named_step(world: World) -> None:
    """Each task and request that calls AWS is in a step of the matrix (a new one must be put
    in one), and every step calls AWS somewhere."""
    found = operations(world)
    assert found[("(unknown parts)", "")] == []
    for step in STEPS:
        assert found[(step.name, "system")] or found[(step.name, "person")], step.name
    assert "SendRawEmail" in found[("acknowledgement", "system")]
    assert "TransactWriteItems" in found[("sign-off: manager", "person")]
    assert "SendTaskSuccess" in found[("agreement", "person")]


def test_every_step_survives_each_fault_of_each_operation(world: World) -> None:
    found = operations(world)
    drivers = []
    for journey in JOURNEYS:
        # Each operation's fault at every step of the journey that calls it, in its tasks
        # and in its person's requests (their scopes never overlap), on one referral.
        at: dict[str, dict[str, set[str]]] = {}
        for step in COVERS[journey]:
            for kind in KINDS:
                for operation in found[(step, kind)]:
                    at.setdefault(operation, {}).setdefault(kind, set()).add(step)
        for operation, steps in sorted(at.items()):
            for fault in FAULTS:
                drivers.append(Driver(journey, 100 + len(drivers), new_reference(), world,
                                      operation, fault,
                                      {kind: frozenset(s) for kind, s in steps.items()}))
    failures = run_all(drivers)
    cells = [cell for driver in drivers for cell in driver.cells]
    if os.environ.get("PHB_WRITE_FAULT_MATRIX") == "1":
        MATRIX.write_text(matrix(cells, found), encoding="utf-8")
    expected = sum(len(steps) for d in drivers for steps in d.at.values())
    assert not failures, "\n".join(failures)
    assert len(cells) == expected, (len(cells), expected)


# --- the matrix -------------------------------------------------------------------------------


def matrix(cells: list[Cell], found: dict[tuple[str, str], list[str]]) -> str:
    """docs/FAULTS.md: step × operation × fault → outcome."""
    lines = [
        "# The fault matrix",
        "",
        "Written by `make faults` (tests/faults/test_fault_matrix.py): at each step, each AWS "
        "operation the step was seen to call fails, in the state machine's tasks (*system*) "
        "or in the request of the person acting (*person*), once as a transient fault "
        "(throttling: armed 6 times in a task, one more than botocore tries, so the state "
        "machine's retry absorbs it; 5 times in a request, so botocore's do) and once as a "
        "permanent one (access denied, or SES refusing the address, until the outage is "
        "ended). Each row is one referral's walk through that step on moto executing the "
        "real state machine; its journey goes on to its end (the closure email, or a "
        "withdrawal) with nothing lost or done twice.",
        "",
        "| step | where | operation | transient | permanent |",
        "|---|---|---|---|---|",
    ]
    by_key = {(c.step, c.kind, c.operation, c.fault): c for c in cells}
    for step in STEPS:
        for kind in KINDS:
            for operation in found.get((step.name, kind), []):
                row = [by_key.get((step.name, kind, operation, f)) for f in FAULTS]
                outcomes = [_cell(c) for c in row]
                lines.append(f"| {step.name} | {kind} | {operation} | {outcomes[0]} | "
                             f"{outcomes[1]} |")
    failed = [c for c in cells if not c.ok]
    lines += ["", f"{len(cells)} faults, {len(failed)} failed.", ""]
    return "\n".join(lines)


def _cell(cell: Cell | None) -> str:
    if cell is None:
        return "—"
    text = cell.outcome.replace("|", "\\|")
    return text if cell.ok else f"**{text}**"
