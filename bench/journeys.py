"""Whole referrals, submission to closure, driven through the action links in the emails as
tests/integration/test_pathway.py does, with every AWS call counted and every Lambda invocation
timed, after one uncounted warm-up journey. Each person opens their link (GET) and then
submits its form (POST); the first time a
person opens a page their browser also fetches the layout's static files (cached for a day
after that), which the app serves too, so those are API Gateway requests and Lambda calls.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from bench.awscalls import CallCounter, Tally
from bench.inprocess import TimedHandler, http_client, moto_stack, wait_for

REFERRER = "sam.okafor@nhs.net"
MANAGER = "jo.patel@nhs.net"
PANEL = "phb-panel@example.org"
ADVISORS = "phb-advisors@example.org"
STATIC_ASSETS = ("/static/nhsuk-frontend.min.css", "/static/app.css", "/static/favicon.svg")
TIMINGS = {"PHB_REVIEW_AFTER_SECONDS": "0", "PHB_CLOSURE_AT_MOST_SECONDS_AFTER_REVIEW": "1"}
LINK = re.compile(r"https?://[^/\s]+(/act/([a-z-]+)/([A-Za-z0-9_-]+))")


@dataclass
class Journey:
    name: str
    total_pence: int
    reference: str = ""
    tally: Tally = field(default_factory=Tally)
    http: list[tuple[str, str, int, float]] = field(default_factory=list)  # method, path, status, s
    pathway_s: list[float] = field(default_factory=list)
    transitions: int = 0
    outcome: str = ""
    wall_s: float = 0.0
    stored_bytes: int = 0  # what the referral leaves in the table (items + 100 B each)

    @property
    def api_requests(self) -> int:
        return len(self.http)


class Person:
    """Just enough of a browser: fetches the static files on its first page."""

    def __init__(self, driver: Driver, address: str) -> None:
        self.driver, self.address, self.has_assets = driver, address, False

    def open(self, path: str) -> Any:
        response = self.driver.request("GET", path)
        if not self.has_assets:
            for asset in STATIC_ASSETS:
                self.driver.request("GET", asset)
            self.has_assets = True
        return response


class Driver:
    def __init__(self, client: Any, counter: CallCounter, journey: Journey) -> None:
        self.client, self.counter, self.journey = client, counter, journey
        self.people: dict[str, Person] = {}

    def request(self, method: str, path: str, body: str | None = None,
                headers: dict[str, str] | None = None) -> Any:
        started = time.perf_counter()
        if method == "GET":
            response = self.client.http.get(path, headers=headers or {})
        else:
            response = self.client.http.post(path, headers=headers or {}, body=body or "")
        elapsed = time.perf_counter() - started
        shown = re.sub(r"/act/([a-z-]+)/[^/]+$", r"/act/\1/<id>", path)
        self.journey.http.append((method, shown, response.status_code, elapsed))
        return response

    def person(self, address: str) -> Person:
        return self.people.setdefault(address, Person(self, address))

    def email(self, address: str, words: str, count: int = 1) -> Any:
        from devstack.outbox import sent_emails

        def found() -> Any:
            matching = [e for e in sent_emails() if e.to == address and words in e.subject]
            return matching[-1] if len(matching) >= count else None

        return wait_for(found)

    def act(self, address: str, words: str, action: str, fields: dict[str, str]) -> None:
        """Open the link in the newest matching email, then submit its form."""
        email = self.email(address, words)
        paths = [m.group(1) for m in LINK.finditer(email.text) if m.group(2) == action]
        if not paths:
            raise RuntimeError(f"no {action} link in {email.subject!r}")
        page = self.person(address).open(paths[0])
        if page.status_code != 200:
            raise RuntimeError(f"GET {action} answered {page.status_code}")
        done = self.request("POST", paths[0], urlencode(fields),
                            {"Content-Type": "application/x-www-form-urlencoded"})
        if done.status_code != 200:
            raise RuntimeError(f"POST {action} answered {done.status_code}: {done.body[:500]!r}")


def _reqol(score: str) -> dict[str, str]:
    return {**{f"reqol10.items.{i}": score for i in range(10)}, "reqol10.physical_health": score}


def _table_bytes() -> int:
    """Storage DynamoDB would bill for the table now: each item's size plus 100 bytes, and a
    status-index entry (keys, the worklist's columns, plus 100 bytes; approximated by the keys
    plus 100 bytes) for each item in the status index."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib.config import get_settings

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["eu-west-2"].get_table(
        get_settings().table_name)
    total = 0
    for item in table.all_items():
        total += item.size() + 100
        if "gsi1pk" in item.attrs:
            keys = ("pk", "sk", "gsi1pk", "gsi1sk")
            total += 100 + sum(len(k) + item.attrs[k].size() for k in keys if k in item.attrs)
    return total


def _execution(reference: str) -> tuple[str, int]:
    """The execution's status and its state transitions (StateEntered events, as AWS bills)."""
    from chalicelib.adapters import aws
    from chalicelib.adapters.stepfunctions import execution_arn
    from chalicelib.config import get_settings

    sfn = aws.client("stepfunctions")
    arn = execution_arn(get_settings().state_machine_arn, reference)

    def finished() -> str | None:
        status = sfn.describe_execution(executionArn=arn)["status"]
        return None if status == "RUNNING" else str(status)

    status = wait_for(finished, timeout=60)
    transitions = 0
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
        transitions += sum(1 for e in page["events"] if e["type"].endswith("StateEntered"))
    return status, transitions


def run_one(client: Any, counter: CallCounter, handler: TimedHandler, journey: Journey,
            approvers: list[str]) -> Journey:
    from devstack.example import make_referral
    from devstack.outbox import clear

    with counter.paused():
        clear()
    handler.take()
    bytes_before = _table_bytes()
    started = time.perf_counter()
    journey.tally = counter.start()
    driver = Driver(client, counter, journey)
    try:
        submitted = driver.request("POST", "/api/referrals",
                                   json.dumps(make_referral(total_pence=journey.total_pence)),
                                   {"Content-Type": "application/json"})
        if submitted.status_code != 201:
            raise RuntimeError(f"submission answered {submitted.status_code}")
        journey.reference = submitted.json_body["reference"]
        for approver in approvers:
            driver.act(approver, "sign off", "sign-off", {"decision": "approved"})
        driver.act(REFERRER, "agreement", "agreement",
                   {"name": "Alex Morgan", "accept": "yes", "choice": "accept"})
        pounds = f"{journey.total_pence / 100:.2f}"
        driver.act(ADVISORS, "release the money", "release",
                   {"management": "direct_payment", "amount": pounds, "how": "prepaid_card",
                    "reference": "CARD-1", "released": "yes"})
        driver.act(REFERRER, "6-week review", "review",
                   {"bought": "yes", "goals.0.progress": "progressing", "receipts": "yes",
                    **_reqol("3")})
        driver.act(REFERRER, "time to close", "closure",
                   {"goals.0.achieved": "yes", "unspent": "0", **_reqol("4")})
        with counter.paused():
            driver.email(REFERRER, "is closed")
            journey.outcome, journey.transitions = _execution(journey.reference)
            journey.stored_bytes = _table_bytes() - bytes_before
    finally:
        counter.stop()
        journey.pathway_s = handler.take()
        journey.wall_s = time.perf_counter() - started
    return journey


def run_pages(client: Any, counter: CallCounter, reference: str) -> Journey:
    """A few page views on their own (the form's first pages, a status page, the API's status,
    the OpenAPI document), for the count of Scan calls on request paths."""
    pages = Journey("page views", 0, reference)
    pages.tally = counter.start()
    driver = Driver(client, counter, pages)
    try:
        driver.request("GET", "/referral")
        started = driver.request("POST", "/referral/start", "",
                                 {"Content-Type": "application/x-www-form-urlencoded"})
        cookie = started.headers.get("Set-Cookie", "").split(";", 1)[0]
        driver.request("GET", "/referral/referrer", headers={"Cookie": cookie})
        driver.request("GET", f"/referrals/{reference}")
        driver.request("GET", f"/api/referrals/{reference}")
        driver.request("GET", "/openapi.json")
    finally:
        counter.stop()
    return pages


def measure(counter: CallCounter) -> tuple[list[Journey], Journey, list[str]]:
    """The two journeys and the extra page views. Returns them and any problems seen."""
    from chalicelib.config import get_settings

    handler = TimedHandler()
    journeys = [
        Journey("fast track: £120, the referrer signs off", 12000),
        Journey("over £500: £600, the manager then the panel", 60000),
    ]
    approvers = {12000: [REFERRER], 60000: [MANAGER, PANEL]}
    problems: list[str] = []
    with moto_stack(handler, counter.install) as _stack, http_client() as client:
        get_settings.cache_clear()
        # One journey first, not counted: templates compiled and modules imported, so the
        # durations below are a warm function's (cold starts are costed separately).
        run_one(client, counter, handler, Journey("warm-up", 12000), [REFERRER])
        for journey in journeys:
            run_one(client, counter, handler, journey, approvers[journey.total_pence])
            if journey.outcome != "SUCCEEDED":
                problems.append(f"{journey.name}: execution {journey.outcome}")
        pages = run_pages(client, counter, journeys[0].reference)
    problems.extend(counter.handler_errors)
    return journeys, pages, problems
