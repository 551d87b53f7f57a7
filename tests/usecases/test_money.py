"""The money of a referral on the in-memory adapters: approved at final sign-off, released in
entries never past it (monthly items reminded month by month), unspent money recorded and
settled, and the reports reconciling it all."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.actions import commands, pages
from chalicelib.bootstrap import Services
from chalicelib.domain import ledger
from chalicelib.workflow import tasks
from tests.factories import another_person
from tests.usecases.drive import emails_to, link_of, request, submit

REFERRER = "sam.okafor@nhs.net"
ADVISORS = "phb-advisors@example.org"
STAFF = "amara.nwosu@example.org"  # a person on the test stage's staff list
GYM = {"description": "Gym membership", "category": "membership", "supplier": "Better",
       "cost_pence": 8499, "recurrence": "one_off"}
DATA = {"description": "SIM only data plan", "category": "smartphone_data",
        "supplier": "Giffgaff", "cost_pence": 1000, "recurrence": "monthly", "months": 3}


def accepted(svc: Services, **changes: Any) -> str:
    """A referral signed off by each approver in turn and its agreement accepted."""
    reference = submit(svc, **changes)
    referrals = svc.store.referrals
    while (stored := referrals.get(reference)).status == "awaiting_sign_off":
        commands.decide(svc, stored, stored.step or "", f"{stored.step}@nhs.net", "approved")
    commands.accept_agreement(svc, referrals.get(reference), "Alex Morgan")
    return reference


def release(svc: Services, reference: str, pence: int, on: date | None = None) -> None:
    commands.record_release(svc, svc.store.referrals.get(reference), ADVISORS, pence,
                            on or date.today(), "prepaid_card", "CARD-1", "direct_payment")


def test_the_final_sign_off_fixes_what_is_approved(memory: Services) -> None:
    reference = submit(memory, items=[GYM, DATA])
    commands.decide(memory, memory.store.referrals.get(reference), "referrer", REFERRER,
                    "approved")
    stored = memory.store.referrals.get(reference)
    assert ledger.approved_total(stored.ledger) == 8499 + 3000
    assert [i["total_pence"] for i in stored.ledger["approved"]["items"]] == [8499, 3000]
    assert stored.ledger["approved"]["at"] == stored.approved_at


def test_release_through_the_link_is_bounded_by_the_approved_total(memory: Services) -> None:
    reference = submit(memory, items=[GYM])
    commands.decide(memory, memory.store.referrals.get(reference), "referrer", REFERRER,
                    "approved")
    commands.accept_agreement(memory, memory.store.referrals.get(reference), "Alex Morgan")
    request(memory, reference, "release_request", step="release")
    link = link_of(emails_to(memory, ADVISORS, "release the money")[-1], "release")
    form = {"management": "direct_payment", "how": "bank_transfer", "reference": "BACS-9",
            "released": "yes"}
    for typed in ("94.99", "84.991", "9" * 4200):
        over = pages.act(memory, "release", link, urlencode({**form, "amount": typed}).encode())
        assert over.status_code == 422, typed
        assert 'id="amount-error"' in over.body
    assert memory.store.referrals.get(reference).status == "agreement_accepted"
    done = pages.act(memory, "release", link, urlencode({**form, "amount": "84.99"}).encode())
    assert done.status_code == 200, done.body
    stored = memory.store.referrals.get(reference)
    assert (stored.status, ledger.released_total(stored.ledger)) == ("funds_released", 8499)
    [entry] = stored.ledger["releases"]
    assert (entry["how"], entry["reference"], entry["by"]) == ("bank_transfer", "BACS-9",
                                                               ADVISORS)


def test_a_partial_release_is_followed_by_the_rest_and_no_more(memory: Services) -> None:
    reference = accepted(memory, items=[GYM])
    release(memory, reference, 4000)
    release(memory, reference, 4499)
    stored = memory.store.referrals.get(reference)
    assert [r["amount_pence"] for r in stored.ledger["releases"]] == [4000, 4499]
    assert [e.what for e in memory.store.referrals.history(reference)][-2:] == [
        "funds_released", "money_released"]
    with pytest.raises(ledger.Refused):
        release(memory, reference, 1)
    from chalicelib.staff.case import available_actions

    assert "release" not in available_actions(stored, None)


def test_monthly_releases_are_reminded_on_each_due_date_once(
        memory: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    reference = accepted(memory, items=[DATA], person=another_person(0))
    first = date.today() - timedelta(days=40)  # so two months are due by today
    release(memory, reference, 1000, first)
    stored = memory.store.referrals.get(reference)
    due = ledger.next_due(stored.ledger, first)
    assert due is not None and stored.next_release_due == due.isoformat()
    assert memory.store.referrals.releases_due(date.today().isoformat()) == [reference]
    for _ in range(2):  # a second run on the same day sends nothing more
        tasks.run(memory, {"task": "releases_due"})
    [reminder] = emails_to(memory, ADVISORS, "a monthly release is due")
    assert f"/staff/referrals/{reference}" in reminder.text
    assert "Alex" not in reminder.text and "SIM" not in reminder.text
    release(memory, reference, 1000)
    release(memory, reference, 1000)
    assert memory.store.referrals.get(reference).next_release_due is None
    assert memory.store.referrals.releases_due(date.today().isoformat()) == []


def test_unspent_money_is_recorded_to_recover_then_settled(memory: Services) -> None:
    reference = accepted(memory, items=[GYM])
    release(memory, reference, 8499)
    stored = memory.store.referrals.get(reference)
    review = {"bought": "partly", "goals": ["progressing"], "reqol10_items": [2] * 10,
              "reqol10_physical_health": 2, "receipts": "no", "notes": ""}
    with pytest.raises(ledger.Refused):  # more than was released
        commands.record_review(memory, stored, REFERRER, {**review, "unspent_pence": 8500})
    commands.record_review(memory, stored, REFERRER, {**review, "unspent_pence": 2000})
    stored = memory.store.referrals.get(reference)
    [entry] = stored.ledger["unspent"]
    assert (entry["amount_pence"], entry["state"], entry["step"]) == (2000, "to_recover",
                                                                      "review")
    commands.settle_unspent(memory, stored, ADVISORS, entry["id"], "written_off")
    settled = memory.store.referrals.get(reference)
    assert settled.ledger["unspent"][0]["state"] == "written_off"
    assert [e.detail for e in memory.store.referrals.history(reference)
            if e.what == "unspent_settled"] == [{"state": "written_off", "amount_pence": 2000}]
    with pytest.raises(ledger.Refused):
        commands.settle_unspent(memory, settled, ADVISORS, entry["id"], "recovered")


def test_the_money_report_reconciles(memory: Services) -> None:
    from chalicelib.domain.reports import money
    from chalicelib.staff.reports import load_facts

    one = accepted(memory, items=[GYM], person=another_person(1))
    two = accepted(memory, items=[{**GYM, "cost_pence": 10000}], person=another_person(2))
    release(memory, one, 8499)
    release(memory, two, 6000)
    table = money(load_facts(memory, date.today(), date.today()), date.today(), date.today())
    rows = {row[0].strip(): row[1:] for row in table.rows}
    assert rows["Approved at final sign-off"] == [2, 18499]
    assert rows["of which released by the end date"] == [2, 14499]
    assert rows["of which not yet released"] == [1, 4000]
    assert rows["Released (any PHB)"] == [2, 14499]
    approved = rows["Approved at final sign-off"][1]
    assert approved == rows["of which released by the end date"][1] + \
        rows["of which not yet released"][1]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(cost=st.integers(1, 1_000_000), parts=st.lists(st.integers(1, 100), max_size=4),
       unspent=st.integers(0, 100), months=st.integers(1, 12))
def test_every_report_and_csv_answers_for_any_amount_the_forms_accept(
        memory: Services, memory_client: Any, cost: int, parts: list[int], unspent: int,
        months: int) -> None:
    """Amounts at and between the bounds (a penny to the contract's £10,000 an item, every
    release up to what is left, unspent up to what was released): the reports page and every
    CSV answer 200."""
    item = {**DATA, "cost_pence": cost, "months": months, "description": "Gym membership",
            "category": "membership"} if cost % 2 else {**GYM, "cost_pence": cost}
    reference = accepted(memory, items=[item], total_pence=cost,
                         person=another_person(cost % 8), approving_manager={
                             "name": "Jo Patel", "email": "jo.patel@nhs.net"})
    stored = memory.store.referrals.get(reference)
    approved = ledger.approved_total(stored.ledger)
    for share in parts:
        left = ledger.remaining(memory.store.referrals.get(reference).ledger)
        if left:
            release(memory, reference, max(1, left * share // 100))
    stored = memory.store.referrals.get(reference)
    if stored.status == "funds_released":
        released = ledger.released_total(stored.ledger)
        commands.record_review(memory, stored, REFERRER, {
            "bought": "yes", "goals": ["achieved"], "reqol10_items": [4] * 10,
            "reqol10_physical_health": 4, "receipts": "yes", "notes": "",
            "unspent_pence": released * unspent // 100})
    assert approved >= 1
    cookie = _staff_cookie(memory, memory_client)
    page = memory_client.http.get("/staff/reports", headers={"Cookie": cookie})
    assert page.status_code == 200, page.body[:300]
    names = set(re.findall(r'/staff/reports/([a-z-]+)\.csv', page.body.decode()))
    assert "money" in names and len(names) == 11
    for name in names:
        answer = memory_client.http.get(f"/staff/reports/{name}.csv",
                                        headers={"Cookie": cookie})
        assert answer.status_code == 200, (name, answer.body[:300])


def _staff_cookie(svc: Services, client: Any) -> str:
    # Every generated example signs in on the same store: its sign-in cap (proven in
    # tests/hostile/test_email_caps.py) is not what this test is about.
    svc.store.caps.forget()  # type: ignore[attr-defined]
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    client.http.post("/staff/sign-in", body=urlencode({"email": STAFF}), headers=form)
    sent = [e for e in svc.mailer.sent if e.kind == "sign_in"]  # type: ignore[attr-defined]
    link_id = sent[-1].text.split("/staff/sign-in/", 1)[1].split()[0]
    response = client.http.post(f"/staff/sign-in/{link_id}", body="", headers=form)
    return str(response.headers["Set-Cookie"].split(";", 1)[0])
