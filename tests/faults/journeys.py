"""The steps of the pathway as the fault suite names them, the two journeys that pass through
every one of them, and a driver that walks one referral along a journey as its people would
(through the links in the emails), arming a fault at each step and checking what happens.

Each step is the state machine's tasks that do it (*system* parts, by the task's name, email
kind and step) and the requests of the person who acts in it (its *person* part). Journey A
(a £60 flagged request: the referrer, then an advisor, signs it off) goes from intake to the
closure email; journey B (a £600 request: the approving manager asks a question, gets the
answer and signs off, then the panel) ends in a withdrawal.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from devstack import faults
from devstack.outbox import SentEmail, sent_emails
from tests.faults.harness import Switch, scope

ADVISORS = "phb-advisors@example.org"
PANEL = "phb-panel@example.org"
SETTLE_SECONDS = 90.0  # a task's retries (with backoff) and a resume, on a busy machine
POLL_SECONDS = 0.4


@dataclass(frozen=True)
class Step:
    """A step of the pathway: the tasks that do it, and whether a person acts in it."""

    name: str
    system: tuple[str, ...]
    person: bool = True

    @property
    def person_part(self) -> str:
        return f"person:{self.name}"

    def parts(self, kind: str) -> tuple[str, ...]:
        if kind == "person":
            return (self.person_part,) if self.person else ()
        return self.system


def _asked(step: str) -> tuple[str, str]:
    return f"notify:sign_off_request:{step}", f"await:{step}"


STEPS = [
    Step("intake", ("record_intake",)),
    Step("acknowledgement", ("notify:acknowledgement",), person=False),
    Step("sign-off: referrer", _asked("referrer")),
    Step("sign-off: manager", _asked("manager")),
    Step("question", ("notify:information_request:information", "await:information")),
    Step("answer", _asked("manager")),
    Step("sign-off: panel", _asked("panel")),
    Step("sign-off: advisor", _asked("advisor")),
    Step("agreement", ("notify:agreement_request:agreement", "await:agreement")),
    Step("agreement copy", ("notify:agreement_copy",), person=False),
    Step("release", ("notify:release_request:release", "await:release")),
    Step("review", ("schedule:review", "await:review_due", "notify:review_request:review",
                    "await:review")),
    Step("closure", ("schedule:closure", "await:closure_due", "notify:closure_request:closure",
                     "await:closure")),
    Step("closure email", ("notify:closed",), person=False),
    Step("withdrawal", ("notify:withdrawn",)),
]
BY_NAME = {step.name: step for step in STEPS}
# Tasks in no step: the advisors' alert and a resumed execution's first task.
OUTSIDE_STEPS = {"mark_needs_attention", "resume"}


@dataclass(frozen=True)
class Action:
    """What a person does: open the newest link for `action` in their email and send `fields`
    (or, for intake, submit the referral)."""

    step: str
    to: str  # "referrer", "manager", or an address
    subject: str
    action: str
    fields: dict[str, str]


@dataclass(frozen=True)
class Until:
    """Where a segment of the journey ends: the referral waiting for `waiting` in `status`,
    or (no `waiting`) ended in `status` with `email` sent to the referrer."""

    status: str
    waiting: str | None = None
    email: str = ""


@dataclass(frozen=True)
class Segment:
    """A person's action, and the steps whose tasks run after it until `until`."""

    action: Action
    steps: tuple[str, ...]
    until: Until


def _reqol(score: str) -> dict[str, str]:
    return {**{f"reqol10.items.{i}": score for i in range(10)},
            "reqol10.physical_health": score}


APPROVE = {"decision": "approved"}
ACCEPT = {"name": "Alex Morgan", "accept": "yes", "choice": "accept"}
AIR_FRYER = {"description": "Air fryer for healthier cooking", "category": "equipment",
             "supplier": "Shop", "cost_pence": 6000, "recurrence": "one_off"}
SUBMIT = "submit"

JOURNEY_A = [
    Segment(Action("intake", "referrer", "", SUBMIT, {}),
            ("intake", "acknowledgement", "sign-off: referrer"),
            Until("awaiting_sign_off", "referrer")),
    Segment(Action("sign-off: referrer", "referrer", "please sign off", "sign-off", APPROVE),
            ("sign-off: advisor",), Until("awaiting_sign_off", "advisor")),
    Segment(Action("sign-off: advisor", ADVISORS, "please sign off", "sign-off", APPROVE),
            ("agreement",), Until("approved", "agreement")),
    Segment(Action("agreement", "referrer", "agreement to share", "agreement", ACCEPT),
            ("agreement copy", "release"), Until("agreement_accepted", "release")),
    Segment(Action("release", ADVISORS, "release the money", "release", {
        "management": "direct_payment", "amount": "60.00", "how": "prepaid_card",
        "reference": "CARD-1", "released": "yes"}), ("review",), Until("funds_released",
                                                                         "review")),
    Segment(Action("review", "referrer", "6-week review", "review", {
        "bought": "yes", "goals.0.progress": "progressing", "receipts": "yes", **_reqol("3")}),
        ("closure",), Until("reviewed", "closure")),
    Segment(Action("closure", "referrer", "time to close", "closure", {
        "goals.0.achieved": "yes", "unspent": "0", **_reqol("4")}), ("closure email",),
        Until("closed", email="is closed")),
]
JOURNEY_B = [
    Segment(Action("intake", "referrer", "", SUBMIT, {}), ("sign-off: manager",),
            Until("awaiting_sign_off", "manager")),
    Segment(Action("question", "manager", "please sign off", "sign-off", {
        "decision": "more_information", "question": "Which gym, and why?"}), ("question",),
        Until("awaiting_information", "information")),
    Segment(Action("answer", "referrer", "a question for you", "answer", {
        "answer": "Better Leisure: it is the nearest."}), ("answer",),
        Until("awaiting_sign_off", "manager")),
    Segment(Action("sign-off: manager", "manager", "the referrer has answered", "sign-off",
                   APPROVE), ("sign-off: panel",), Until("awaiting_sign_off", "panel")),
    Segment(Action("sign-off: panel", PANEL, "please sign off", "sign-off", APPROVE), (),
            Until("approved", "agreement")),
    Segment(Action("withdrawal", "referrer", "received", "withdraw", {
        "reason": "The person moved away"}), ("withdrawal",),
        Until("withdrawn", email="withdrawn")),
]
JOURNEYS = {"A": JOURNEY_A, "B": JOURNEY_B}
# What each journey must have done exactly once by its end, whatever failed on the way.
DONE_ONCE = {"A": ("submitted", "intake_recorded", "agreement_accepted", "funds_released",
                   "reviewed", "closed"),
             "B": ("submitted", "intake_recorded", "information_requested",
                   "information_given", "withdrawn")}
APPROVALS = {"A": 2, "B": 2}


def referral_for(journey: str, n: int) -> dict[str, Any]:
    """The referral journey `journey` walks, with addresses and a person of its own (`n`), so
    that its emails are its own and no other referral counts towards who signs it off."""
    from tests.factories import make_referral, unique_person

    if journey == "A":
        body = make_referral(items=[AIR_FRYER], person=unique_person())
    else:
        body = make_referral(total_pence=60000, person=unique_person())
        body["approving_manager"] = {"name": "Jo Patel", "email": f"manager-{n}@nhs.net"}
    body["referrer"]["email"] = f"referrer-{n}@nhs.net"
    return body


# --- the outcome of each fault ------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One row of the matrix: a fault at a step, and what came of it."""

    journey: str
    step: str
    kind: str  # system | person
    operation: str
    fault: str  # transient | permanent
    outcome: str
    ok: bool


@dataclass
class Fault:
    """A fault armed at a step of one referral, until the step has settled."""

    step: str
    kind: str
    operation: str
    fault: str
    armed: faults.Fault
    outcome: str = ""


TRANSIENT = {"dynamodb": "ProvisionedThroughputExceededException", "ses": "Throttling",
             "stepfunctions": "ThrottlingException"}
PERMANENT = {"dynamodb": "AccessDeniedException", "ses": "MessageRejected",
             "stepfunctions": "AccessDeniedException"}
SES_OPERATIONS = {"SendRawEmail", "SendEmail"}
SFN_OPERATIONS = {"StartExecution", "SendTaskSuccess", "SendTaskFailure", "StopExecution",
                  "DescribeExecution", "ListExecutions"}
# A task's call fails once more than botocore tries it (6 attempts), so the state machine's
# own retry is what absorbs it; a person's request is never left to the state machine, so its
# fault is one botocore's retries absorb within the request.
TIMES = {"system": 6, "person": 5}


def service_of(operation: str) -> str:
    if operation in SES_OPERATIONS:
        return "ses"
    return "stepfunctions" if operation in SFN_OPERATIONS else "dynamodb"


def fault_spec(operation: str, fault: str, kind: str) -> dict[str, Any]:
    service = service_of(operation)
    if fault == "transient":
        return {"operation": operation, "error": TRANSIENT[service], "times": TIMES[kind]}
    return {"operation": operation, "error": PERMANENT[service], "times": 1000}


class Stuck(AssertionError):
    """The referral did not get where it should: the message says where it is."""


# --- driving one referral ----------------------------------------------------------------------


@dataclass
class Driver:
    """One referral along one journey, acting as its people would, with `fault` of
    `operation` at each step in `at` (by kind: in the step's tasks, or in its person's
    request): armed just before the step, ended (the outage over) once it has settled."""

    journey: str
    n: int
    reference: str
    world: World
    operation: str = ""
    fault: str = ""
    at: dict[str, frozenset[str]] = field(default_factory=dict)
    cells: list[Cell] = field(default_factory=list)
    live: list[Fault] = field(default_factory=list)  # armed and not yet settled
    failures: list[str] = field(default_factory=list)  # wrong, though the walk went on
    reported_twice: set[str] = field(default_factory=set)
    resumes: int = 0

    @property
    def referrer(self) -> str:
        return f"referrer-{self.n}@nhs.net"

    def address(self, who: str) -> str:
        return {"referrer": self.referrer, "manager": f"manager-{self.n}@nhs.net"}.get(who, who)

    # -- faults --

    def arm(self, step: str, kind: str) -> Fault | None:
        parts = BY_NAME[step].parts(kind)
        if step not in self.at.get(kind, ()) or not parts:
            return None
        armed = self.world.switch.arm(fault_spec(self.operation, self.fault, kind),
                                      self.reference, parts)
        fault = Fault(step, kind, self.operation, self.fault, armed)
        self.live.append(fault)
        return fault

    def settled(self, fault: Fault, outcome: str, ok: bool = True) -> None:
        self.world.switch.disarm(fault.armed)
        fault.outcome = outcome
        self.live.remove(fault)
        self.cells.append(Cell(self.journey, fault.step, fault.kind, fault.operation,
                               fault.fault, outcome, ok))

    # -- the walk --

    def walk(self) -> None:
        """The whole journey; Stuck (or another AssertionError) naming the step on failure."""
        segments = JOURNEYS[self.journey]
        for segment in segments:
            system = [f for f in (self.arm(s, "system") for s in segment.steps) if f]
            person = self.arm(segment.action.step, "person")
            if self.act(segment.action, person) and person:
                system.append(person)  # the request went on; what it failed comes later
            self.settle(segment, system)
        self.check_the_end()

    def act(self, action: Action, fault: Fault | None) -> bool:
        """Do the person's action; with a fault armed for it, the person sees a clear page
        (never a 500) and nothing is half-written, and trying again works. True when the
        request succeeded although a permanent fault failed a call of it: the referral is
        then handed to the advisors (settle sees to it)."""
        before = self.snapshot()
        response = self.do(action)
        if fault is None:
            assert response.status_code in (200, 201), (action.step, self.text(response))
            return False
        fired = fault.armed.failed
        if response.status_code in (200, 201):
            if fault.fault == "permanent" and fired:
                return True
            if fault.fault == "transient":
                assert fired == TIMES["person"], (action.step, "the fault did not fire", fired)
            self.settled(fault, "absorbed by retries: done at once" if fired else
                         "not called on this way through")
            return False
        # What the person saw, and what was left: a wrong answer here is recorded (and fails
        # the test at the end) but the walk goes on, so the steps after are still proven.
        problems = []
        page = self.text(response)
        if response.status_code >= 500 and not _says_what_to_do(response, page):
            problems.append(f"the person got a bare {response.status_code}: {page[:100]}")
        after = self.snapshot()
        if after != before:
            problems.append(f"half-written: {_changed(before, after)}")
        self.world.switch.disarm(fault.armed)
        again = self.do(action)
        if again.status_code not in (200, 201):
            problems.append(f"trying again answered {again.status_code}")
        if problems:
            self.settled(fault, "; ".join(problems), ok=False)
            self.failures.append(f"{action.step}: {fault.fault} {fault.operation} in the "
                                 f"person's request: {'; '.join(problems)}")
            if again.status_code not in (200, 201):
                raise Stuck(f"{action.step}: {'; '.join(problems)}")
            return False
        self.settled(fault, f"error page ({response.status_code}), tried again → done")
        return False

    def do(self, action: Action) -> Any:
        world = self.world
        if action.action == SUBMIT:
            body = json.dumps(referral_for(self.journey, self.n))
            with world.requests, scope(self.reference, BY_NAME[action.step].person_part):
                world.next_reference = self.reference
                return world.client.http.post("/api/referrals", body=body,
                                              headers={"Content-Type": "application/json"})
        email = self.wait_for_email(self.address(action.to), action.subject)
        path = link_of(email, action.action)
        with world.requests, scope(self.reference, BY_NAME[action.step].person_part):
            page = world.client.http.get(path)
            if page.status_code != 200:
                return page
            return world.client.http.post(path, body=urlencode(action.fields), headers={
                "Content-Type": "application/x-www-form-urlencoded"})

    def settle(self, segment: Segment, system: list[Fault]) -> None:
        """Wait until the segment's tasks are done: the referral waits for the next person
        (or has ended). Each time a fault hands it to the advisors, check they were told why,
        end the fault (the outage is over) and resume the referral from the staff console."""
        until = segment.until
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            stored = self.stored()
            attention = self.attention(stored)
            if attention:
                self.handed_over(stored, attention, system, segment)
                deadline = time.monotonic() + SETTLE_SECONDS
                continue
            # A fault that has begun to fire is seen through (retried away, or handed over)
            # before the step counts as done: its email may be out while its task still fails.
            firing = [f for f in system if f.armed.failed and not f.outcome and f.kind ==
                      "system" and (f.fault == "permanent" or f.armed.times > 0)]
            # An ending is reached once its execution has ended too: its last task may fail.
            if self.reached(stored, until) and not firing and (
                    until.waiting or self.execution_ended(stored)):
                break
            if time.monotonic() > deadline:
                raise Stuck(f"stuck after {segment.action.step} (faults at "
                            f"{[f.step for f in system]}): {self.where(stored)}")
            time.sleep(POLL_SECONDS)
        for fault in system:
            if fault.outcome:
                continue  # handed over and resumed: settled already
            if fault.kind == "person":
                # The request succeeded without the failed call, and the pathway did its work.
                self.settled(fault, "done; the pathway made up for the failed call")
                continue
            fired = fault.armed.failed
            if fault.fault == "transient":
                assert fired == TIMES["system"], (fault.step, fault.operation, "fired", fired)
                twice = self.emailed_twice(fault)
                if twice:
                    self.settled(fault, f"completed after retries, but emailed twice: {twice}",
                                 ok=False)
                    self.failures.append(f"{fault.step}: transient {fault.operation}: "
                                         f"emailed twice: {twice}")
                else:
                    self.settled(fault, "completed after retries")
            else:
                assert fired == 0, (fault.step, fault.operation, "failed but went on", fired)
                # The operation is in the step, but this walk took another way through it.
                self.settled(fault, "not called on this way through")

    def emailed_twice(self, fault: Fault) -> list[str]:
        """Emails of this referral that went to someone twice since the last look, when
        `fault` failed an email's task (the steps of a segment run one after another, so the
        first such fault of the segment is the one that did it)."""
        hit = self.world.switch.restrictions[fault.armed.id].hits
        if not any(part.startswith("notify:") for part in hit):
            return []
        mine = [(e.to, e.subject) for e in sent_emails() if self.reference in e.subject]
        twice = {subject for to, subject in mine if mine.count((to, subject)) > 1}
        new = sorted(twice - self.reported_twice)
        self.reported_twice |= twice
        return new

    def handed_over(self, stored: Any, attention: dict[str, Any], system: list[Fault],
                    segment: Segment) -> None:
        fired = [f for f in system if f.armed.failed and not f.outcome]
        assert fired, (f"needs attention after {segment.action.step} with no fault firing: "
                       f"{attention}")
        fault = fired[0]
        assert fault.fault == "permanent", (
            f"{fault.step}: a transient {fault.operation} fault was not absorbed: "
            f"{attention.get('reason')}")
        reason = str(attention.get("reason", ""))
        assert reason, (fault.step, attention)
        self.wait_for_alert(reason)
        part = next(iter(self.world.switch.restrictions[fault.armed.id].hits), "?")
        self.world.switch.disarm(fault.armed)
        self.resume()
        self.settled(fault, f"needs attention ({part}: “{reason}”) → resumed → completed")

    def resume(self) -> None:
        self.resumes += 1
        staff = self.world.staff
        with self.world.requests:
            response = staff.act(self.reference, "resume")
        assert response.status_code == 303, (self.reference, "resume", self.text(response))

    def check_the_end(self) -> None:
        """Nothing lost, nothing done twice: every step's change once, the execution ended,
        every fault ended; with only transient faults, no email twice and no advisor alert."""
        from chalicelib.workflow.recovery import attempt_of

        stored = self.stored()
        whats = [e.what for e in self.world.store().history(self.reference)]
        for what in DONE_ONCE[self.journey]:
            assert whats.count(what) == 1, (what, whats)
        assert whats.count("approved") == APPROVALS[self.journey], whats
        status = self.world.execution_status(self.reference, attempt_of(stored))
        deadline = time.monotonic() + SETTLE_SECONDS
        while status == "RUNNING" and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            status = self.world.execution_status(self.reference, attempt_of(stored))
        assert status == "SUCCEEDED", ("the last execution", status)
        if self.fault != "permanent":
            mine = [(e.to, e.subject) for e in sent_emails() if self.reference in e.subject]
            twice = sorted({m for m in mine if mine.count(m) > 1})
            reported = " ".join(self.failures)
            assert all(subject in reported for _, subject in twice), f"emailed twice: {twice}"
            assert "needs_attention" not in whats, whats

    # -- looking, with clients and scopes the faults never touch --

    def stored(self) -> Any:
        return self.world.store().get(self.reference)

    def snapshot(self) -> tuple[Any, ...]:
        found = self.world.store().find(self.reference)
        if found is None:
            return ("not stored",)
        history = [e.what for e in self.world.store().history(self.reference)]
        return (found.status, found.step, history)

    @staticmethod
    def attention(stored: Any) -> dict[str, Any] | None:
        from chalicelib.workflow.recovery import attention_of

        return attention_of(stored)

    @staticmethod
    def reached(stored: Any, until: Until) -> bool:
        if stored.status != until.status:
            return False
        if until.waiting:
            return bool(stored.waiting_step == until.waiting)
        return any(until.email in e.subject and e.to == stored.referrer_email
                   for e in sent_emails() if stored.reference in e.subject)

    def execution_ended(self, stored: Any) -> bool:
        from chalicelib.workflow.recovery import attempt_of

        return self.world.execution_status(self.reference, attempt_of(stored)) != "RUNNING"

    def where(self, stored: Any) -> str:
        from chalicelib.workflow.recovery import attempt_of

        attempt = attempt_of(stored)
        return (f"{self.reference} is {stored.status}, waiting for {stored.waiting_step}, "
                f"execution {attempt} {self.world.execution_status(self.reference, attempt)}")

    def wait_for_email(self, to: str, subject: str) -> SentEmail:
        deadline = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < deadline:
            found = [e for e in sent_emails() if e.to == to and self.reference in e.subject
                     and subject in e.subject]
            if found:
                return found[-1]
            time.sleep(POLL_SECONDS)
        raise Stuck(f"no email to {to} about {self.reference} saying {subject!r}: "
                    f"{self.where(self.stored())}")

    def wait_for_alert(self, reason: str) -> SentEmail:
        """The advisors' email saying this referral needs attention, giving `reason`."""
        from html import unescape

        deadline = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < deadline:
            for email in sent_emails():
                # Compared unescaped: the plain-text part escapes apostrophes as HTML does.
                if email.to == ADVISORS and self.reference in email.subject and \
                        "needs attention" in email.subject and reason in unescape(email.text):
                    return email
            time.sleep(POLL_SECONDS)
        raise Stuck(f"the advisors were not emailed “{reason}” about {self.reference}")

    @staticmethod
    def text(response: Any) -> str:
        body = response.body
        return body.decode() if isinstance(body, bytes) else str(body)


def _changed(before: tuple[Any, ...], after: tuple[Any, ...]) -> str:
    if len(before) != len(after) or before[:2] != after[:2]:
        return f"{before[:2]} -> {after[:2]}"
    added = after[2][len(before[2]):] if after[2][:len(before[2])] == before[2] else after[2]
    return f"recorded {added}"


def link_of(email: SentEmail, action: str) -> str:
    import re

    found = re.findall(r"http://testserver(/act/" + re.escape(action) + r"/[A-Za-z0-9_-]+)",
                       email.text)
    assert found, (action, email.subject)
    return str(found[0])


@dataclass
class World:
    """What every driver shares: the app through one test client (its requests one at a time:
    a Chalice app holds the current request), a signed-in advisor, the switch."""

    client: Any
    staff: Any
    switch: Switch
    requests: threading.RLock = field(default_factory=threading.RLock)
    next_reference: str = ""

    @staticmethod
    def store() -> Any:
        from chalicelib.bootstrap import services

        return services().store.referrals

    @staticmethod
    def execution_status(reference: str, attempt: int) -> str | None:
        from chalicelib.bootstrap import services

        return services().workflow.status(reference, attempt)

    def pin_references(self) -> Callable[[], None]:
        """Referrals take the reference their driver chose (so faults are armed for it before
        it exists); returns the undo."""
        referrals = self.store()
        original = referrals.make_reference
        referrals.make_reference = lambda: self.next_reference

        def undo() -> None:
            referrals.make_reference = original

        return undo


def _says_what_to_do(response: Any, page: str) -> bool:
    """A page a person reads, or for the API a JSON error whose message says what to do and
    when to try again (Retry-After): not Chalice's bare `InternalServerError`."""
    if "<html" in page.lower():
        return True
    try:
        errors = json.loads(page).get("errors") or []
    except (ValueError, AttributeError):
        return False
    return bool(errors) and "Try again" in errors[0].get("message", "") and bool(
        response.headers.get("Retry-After"))
