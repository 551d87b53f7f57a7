"""Email caps per recipient address, counted in DynamoDB with a TTL so they hold across Lambda
instances: at most 5 sign-in links per 15 minutes and 20 acknowledgements per hour (settings).
Past a cap nothing is sent, the page says the same, and the advisors see what was held back.
And a sign-in does the same work whether or not the address is staff's. Before this, 50
sign-in requests sent 50 emails, 20 API referrals naming one clinician sent them 40, and a
known address's sign-in took 12 ms to an unknown one's 1.5 ms."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.adapters import aws
from chalicelib.bootstrap import Services
from chalicelib.config import get_settings
from chalicelib.workflow import tasks
from devstack import lambdas
from devstack.outbox import sent_emails
from tests.factories import make_referral, unique_person
from tests.hostile.test_free_text import form, post_api

STAFF = "amara.nwosu@example.org"  # a person on the test stage's staff list


def sign_in_emails(svc: Services, to: str = STAFF) -> list[Any]:
    return [e for e in svc.mailer.sent  # type: ignore[attr-defined]
            if e.kind == "sign_in" and e.to.lower() == to]


def staff_cookie(svc: Services, client: Any) -> str:
    link_id = sign_in_emails(svc)[0].text.split("/staff/sign-in/", 1)[1].split()[0]
    used = form(client, f"/staff/sign-in/{link_id}", {})
    assert used.status_code == 303
    return str(used.headers["Set-Cookie"].split(";", 1)[0])


def test_fifty_sign_in_requests_for_one_address_send_five_links_and_the_advisors_see_it(
        memory: Services, memory_client: Any) -> None:
    pages = {form(memory_client, "/staff/sign-in", {"email": typed}).body
             for typed in [STAFF, STAFF.upper()] * 25}
    assert len(pages) == 1  # the same page every time, sent or held back
    assert len(sign_in_emails(memory)) == 5
    worklist = memory_client.http.get("/staff/", headers={
        "Cookie": staff_cookie(memory, memory_client)}).body.decode()
    held = worklist.split('id="held-back"', 1)[1].split("</table>", 1)[0]
    assert "Staff sign-in links" in held and STAFF in held.lower()
    assert re.search(r">\s*45\s*<", held)


def test_twenty_five_referrals_naming_one_clinician_send_twenty_acknowledgements(
        memory: Services, memory_client: Any) -> None:
    references = []
    for n in range(25):
        # A +tag is the same mailbox: it gets no more acknowledgements for it.
        referral = make_referral(person=unique_person())
        if n % 2:
            referral["referrer"]["email"] = f"Sam.Okafor+{n}@nhs.net"
        made = post_api(memory_client, referral)
        assert made.status_code == 201
        references.append(made.json_body["reference"])
        for event in ({"task": "record_intake"}, {"task": "notify",
                                                   "kind": "acknowledgement"}):
            tasks.run(memory, {**event, "referral_id": references[-1], "notice": "t0"})
    acknowledged = [e for e in memory.mailer.sent  # type: ignore[attr-defined]
                    if e.kind == "acknowledgement" and e.to.lower().startswith("sam.okafor")]
    assert len(acknowledged) == 20
    held = [r for r in references if any(
        e.what == "acknowledgement_held_back" for e in memory.store.referrals.history(r))]
    assert held == references[20:]
    # Each case's history says so, and so does the worklist.
    form(memory_client, "/staff/sign-in", {"email": STAFF})
    cookie = staff_cookie(memory, memory_client)
    worklist = memory_client.http.get("/staff/", headers={"Cookie": cookie}).body.decode()
    panel = worklist.split('id="held-back"', 1)[1].split("</table>", 1)[0]
    assert "Referral acknowledgements" in panel and "sam.okafor" in panel.lower()
    assert re.search(r">\s*5\s*<", panel)


def test_the_caps_are_settings(memory: Services, memory_client: Any,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHB_SIGN_IN_LINKS_CAP", "2")
    get_settings.cache_clear()
    for _ in range(4):
        form(memory_client, "/staff/sign-in", {"email": STAFF})
    assert len(sign_in_emails(memory)) == 2


# --- on DynamoDB, through the pathway function, as deployed ------------------------------------


def test_the_sign_in_cap_holds_across_lambda_instances(client: Any) -> None:
    """Counted in the table, not in memory: a new instance (new clients, new services) sees
    the links sent by the last one."""
    from chalicelib import bootstrap

    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    for attempt in range(7):
        client.http.post("/staff/sign-in", body=urlencode({"email": STAFF}), headers=headers)
        lambdas.wait_for_events()
        if attempt == 2:  # another Lambda instance from here on
            aws.reset()
            bootstrap.reset()
    assert len([e for e in sent_emails() if e.to == STAFF]) == 5
    item = aws.client("dynamodb").get_item(
        TableName=get_settings().table_name,
        Key={"pk": {"S": f"CAP#sign_in#{STAFF}"}, "sk": {"S": "CAP"}})["Item"]
    assert len(item["sent"]["L"]) == 5 and "expires_at" in item


@pytest.fixture
def calls() -> Iterator[list[str]]:
    """The AWS calls the app makes from the request's own thread (not the pathway function's,
    which runs on another thread here, as on another Lambda on AWS)."""
    made: list[str] = []
    request_thread = threading.get_ident()

    def record(model: Any, **_: Any) -> None:
        if threading.get_ident() == request_thread:
            made.append(f"{model.service_model.service_name}.{model.name}")

    clients = [aws.client(service) for service in ("dynamodb", "ses", "stepfunctions",
                                                   "lambda")]
    for made_client in clients:
        made_client.meta.events.register("before-call", record)
    yield made
    for made_client in clients:
        made_client.meta.events.unregister("before-call", record)


def test_a_sign_in_does_the_same_work_whether_or_not_the_address_is_staffs(
        client: Any, calls: list[str]) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    answers = []
    done: list[list[str]] = []
    for typed in (STAFF, "someone.else@nhs.net", STAFF.upper(), "nobody@example.org"):
        calls.clear()
        answers.append(client.http.post("/staff/sign-in", body=urlencode({"email": typed}),
                                        headers=headers).body)
        done.append(list(calls))
        lambdas.wait_for_events()
    assert done == [["lambda.Invoke"]] * 4
    assert len(set(answers)) == 1
    # And then only the staff address was emailed, once for each time it asked.
    assert sorted(e.to for e in sent_emails()) == [STAFF, STAFF]
