"""The fault suite's machinery: which referral and which part of the pathway each of the app's
AWS calls is made for, a record of those calls, and faults from the fault switch
(devstack/faults.py) that fire only within the parts of one referral's step.

A *scope* is (reference, part): a part is one Lambda task of the state machine
(`notify:sign_off_request:manager`, `await:agreement`, `record_intake`, ...) or one request a
person makes (`POST sign-off:manager`, `GET agreement`, ...). The pathway function is wrapped to
set the scope of each task from its event; the test sets it around each request. Every referral
runs in its own scope, so many referrals can run at once, each with its own faults, and the
advisors' alert (the `mark_needs_attention` task, in no step) is never the call that fails.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from devstack import faults

SERVICES = ("dynamodb", "ses", "stepfunctions")
_local = threading.local()


def current() -> tuple[str, str] | None:
    """The (reference, part) the calls of this thread are made for, if any."""
    value: tuple[str, str] | None = getattr(_local, "scope", None)
    return value


@contextlib.contextmanager
def scope(reference: str, part: str) -> Iterator[None]:
    """Attribute this thread's AWS calls to `reference` and `part` until the block ends."""
    before = current()
    _local.scope = (reference, part)
    try:
        yield
    finally:
        _local.scope = before


def part_of(event: dict[str, Any]) -> str:
    """The part a state machine task is: its name, then its email kind and step if any."""
    names = [str(event.get(k)) for k in ("task", "kind", "step") if event.get(k)]
    return ":".join(names)


def scoped(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """The pathway function, with each task's calls attributed to its referral and part."""

    def run(event: Any, context: Any) -> Any:
        if not isinstance(event, dict) or not event.get("referral_id"):
            return handler(event, context)
        with scope(str(event["referral_id"]), part_of(event)):
            return handler(event, context)

    return run


@dataclass(frozen=True)
class Call:
    reference: str
    part: str
    operation: str


@dataclass
class Restriction:
    """Where an armed fault may fire: within these parts of this referral only."""

    reference: str
    parts: frozenset[str]
    active: bool = True
    hits: list[str] = field(default_factory=list)  # the parts whose calls it was let fail


@dataclass
class Switch:
    """Hooked into the app's own AWS clients (after the fault switch's own hook): records every
    scoped call, and lets a fault armed through `arm` fire only in its scope."""

    calls: list[Call] = field(default_factory=list)
    restrictions: dict[str, Restriction] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def attach(self) -> None:
        from chalicelib.adapters import aws

        for service in SERVICES:
            aws.client(service).meta.events.register_last(
                "before-parameter-build", self._before_call, unique_id=f"phb-scope-{service}")

    def detach(self) -> None:
        from chalicelib.adapters import aws

        for service in SERVICES:
            aws.client(service).meta.events.unregister(
                "before-parameter-build", self._before_call, unique_id=f"phb-scope-{service}")

    def _before_call(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        where = current()
        if where is not None:
            with self.lock:
                self.calls.append(Call(where[0], where[1], model.name))
        ids = context.get("phb_faults")
        if not ids:
            return
        with self.lock:
            allowed = [i for i in ids if self._may_fire(i, where)]
        if allowed:
            context["phb_faults"] = allowed
        else:
            del context["phb_faults"]

    def _may_fire(self, fault_id: str, where: tuple[str, str] | None) -> bool:
        restriction = self.restrictions.get(fault_id)
        if restriction is None:
            return True  # not one of ours: the fault switch decides alone
        if restriction.active and where is not None and where[0] == restriction.reference \
                and where[1] in restriction.parts:
            restriction.hits.append(where[1])
            return True
        return False

    def arm(self, spec: dict[str, Any], reference: str, parts: Iterable[str]) -> faults.Fault:
        """Arm a fault with the fault switch that fires only in `parts` of `reference`."""
        fault = faults.arm(spec)
        with self.lock:
            self.restrictions[fault.id] = Restriction(reference, frozenset(parts))
        return fault

    def disarm(self, fault: faults.Fault) -> int:
        """Stop a fault firing (the outage is over); how many calls it failed."""
        with self.lock:
            self.restrictions[fault.id].active = False
        # faults.arm returns the armed fault itself: its count of failed calls is live.
        return fault.failed

    def operations(self, reference: str, parts: Iterable[str]) -> list[str]:
        """The operations called in `parts` of `reference`, in the order first called."""
        wanted = set(parts)
        with self.lock:
            found = [c.operation for c in self.calls
                     if c.reference == reference and c.part in wanted]
        return list(dict.fromkeys(found))

