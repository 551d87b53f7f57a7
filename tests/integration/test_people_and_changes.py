"""With moto executing the real state machine: every role's address typed in mixed case works
at every step and through a resend; an amendment after money was released is signed off again
at the tier now required and the agreement accepted again, the pathway going on where its money
was; a refused amendment leaves the PHB going on as approved."""

from __future__ import annotations

import re
from typing import Any

import pytest

from chalicelib.config import get_settings
from chalicelib.domain import ledger
from tests.conftest import wait_for, wait_for_execution
from tests.factories import make_referral
from tests.integration.test_pathway import (  # noqa: F401 (fixtures used by name)
    no_email_identifies_the_person,
    quick_pathway,
    status,
    store,
    wait_for_status,
)
from tests.pathway_helpers import body, emails_to, link_path, post_form, reqol, wait_for_email

REFERRER = "Sam.Okafor@nhs.net"  # typed Sam.Okafor@NHS.net: the domain is kept lowercased
MANAGER = "Priya.Shah@nhs.net"
PANEL = "PHB-Panel@Example.org"
ADVISORS = "PHB-Advisors@Example.org"
# A person on the staff list, listed with capitals (the advisors' inbox is not on it).
STAFF = "Amara.Nwosu@example.org"  # listed as Amara.Nwosu@Example.org: kept domain lowercased
PERSON = "Alex.Morgan@example.com"
GYM = {"description": "Gym membership", "category": "membership", "supplier": "Better Leisure",
       "recurrence": "one_off"}
AIR_FRYER = {"description": "Air fryer for healthier cooking", "category": "equipment",
             "supplier": "Shop", "cost_pence": 6000, "recurrence": "one_off"}


@pytest.fixture(autouse=True)
def mixed_case_settings(monkeypatch: pytest.MonkeyPatch, quick_pathway: None) -> None:  # noqa: F811
    """The panel's, the advisors' and the staff list's addresses configured with capitals."""
    monkeypatch.setenv("PHB_PANEL_EMAILS", PANEL)
    monkeypatch.setenv("PHB_ADVISOR_EMAILS", ADVISORS)
    monkeypatch.setenv("PHB_STAFF_EMAILS", "Amara Nwosu <Amara.Nwosu@Example.org>")
    get_settings.cache_clear()


def act(client: Any, address: str, subject: str, action: str, fields: dict[str, str],
        count: int = 1) -> Any:
    """Open the newest link for `action` emailed to `address`, see the page, and act."""
    path = link_path(wait_for_email(address, subject, count), action)
    page = client.http.get(path)
    assert page.status_code == 200, (address, body(page))
    done = post_form(client, path, fields)
    assert done.status_code == 200, (address, body(done))
    return done


def advisor_session(client: Any) -> tuple[str, str]:
    """An advisor signs in typing their address in yet another case: (cookie, csrf)."""
    post_form(client, "/staff/sign-in", {"email": "amara.nwosu@EXAMPLE.org"})
    email = wait_for_email(STAFF, "Sign in")
    [link_id] = re.findall(r"/staff/sign-in/([A-Za-z0-9_-]+)", email.text)
    signed_in = post_form(client, f"/staff/sign-in/{link_id}", {})
    assert signed_in.status_code == 303, body(signed_in)
    cookie = signed_in.headers["Set-Cookie"].split(";", 1)[0]
    page = client.http.get("/staff", headers={"Cookie": cookie})
    csrf = re.search(r'name="csrf" value="([^"]+)"', body(page))
    assert csrf, body(page)
    return cookie, csrf.group(1)


def staff_post(client: Any, session: tuple[str, str], path: str, fields: dict[str, str]) -> Any:
    from urllib.parse import urlencode

    cookie, csrf = session
    return client.http.post(path, body=urlencode({"csrf": csrf, **fields}), headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})


APPROVE = {"decision": "approved"}
ACCEPT = {"name": "Alex Morgan", "accept": "yes", "choice": "accept"}


def test_every_role_typed_with_capitals_acts_at_every_step_and_after_a_resend(
        api: Any, client: Any) -> None:
    referral = make_referral(items=[{**GYM, "cost_pence": 55000}, AIR_FRYER])
    referral["referrer"]["email"] = "Sam.Okafor@NHS.net"
    referral["approving_manager"] = {"name": "Priya Shah", "email": "Priya.Shah@NHS.net"}
    referral["person"]["email"] = "Alex.Morgan@Example.com"
    reference = api(referral).json_body["reference"]
    wait_for_status(reference, "awaiting_sign_off")
    assert store().get(reference).approvers == ("manager", "panel", "advisor")

    # The advisor resends the manager's request from the console; the new link works.
    wait_for(lambda: store().get(reference).waiting_step == "manager")
    session = advisor_session(client)
    resent = staff_post(client, session, f"/staff/referrals/{reference}/resend", {})
    assert resent.status_code == 303, body(resent)
    act(client, MANAGER, "sign off", "sign-off", APPROVE, count=2)
    act(client, PANEL, "sign off", "sign-off", APPROVE)
    act(client, ADVISORS, "sign off", "sign-off", APPROVE)
    wait_for_status(reference, "approved")
    act(client, PERSON, "your direct payment agreement", "agreement", ACCEPT)
    act(client, ADVISORS, "release the money", "release", {
        "management": "direct_payment", "amount": "610.00", "how": "bank_transfer",
        "reference": "BACS-1", "released": "yes"})
    act(client, REFERRER, "6-week review", "review", {
        "bought": "yes", "goals.0.progress": "progressing", "receipts": "yes",
        **reqol(score="3")})
    act(client, REFERRER, "time to close", "closure", {"goals.0.achieved": "yes", "unspent": "0",
                                                       **reqol(score="4")})
    assert wait_for_execution(reference)["status"] == "SUCCEEDED"
    history = store().history(reference)
    assert [e.who for e in history if e.what == "approved"] == [MANAGER, PANEL, ADVISORS]
    assert [e.who for e in history if e.what == "email_resent"] == [STAFF]
    assert status(reference) == "closed"


def part_released(api: Any, client: Any, pence: int, manager: str | None = None) -> str:
    """A gym membership of `pence` signed off (by the referrer, or `manager`), its agreement
    accepted (through the referrer: the person has no email) and £100 of it released."""
    referral = make_referral(items=[{**GYM, "cost_pence": pence}])
    referral["referrer"]["email"] = REFERRER
    if manager:
        referral["approving_manager"] = {"name": "Priya Shah", "email": manager}
    reference = str(api(referral).json_body["reference"])
    act(client, manager or REFERRER, "sign off", "sign-off", APPROVE)
    act(client, REFERRER, "agreement to share", "agreement", ACCEPT)
    act(client, ADVISORS, "release the money", "release", {
        "management": "direct_payment", "amount": "100.00", "how": "prepaid_card",
        "reference": "CARD-1", "released": "yes"})
    wait_for_status(reference, "funds_released")
    return reference


def test_an_amendment_after_a_release_is_signed_off_again_and_accepted_again(
        api: Any, client: Any) -> None:
    reference = part_released(api, client, 20000)

    # The gym's price rises: the referrer changes it through their acknowledgement's link.
    amend = link_path(wait_for_email(REFERRER, "received"), "amend")
    assert client.http.get(amend).status_code == 200
    changed = post_form(client, amend, {
        **{f"items.0.{name}": value for name, value in GYM.items()}, "items.0.cost_pence": "300",
        "approving_manager.name": "Priya Shah", "approving_manager.email": "Priya.Shah@NHS.net",
        "reason": "The gym's price went up"})
    assert changed.status_code == 200, body(changed)
    assert "approving manager signs off" in body(changed)

    # The manager signs off the new total; the person accepts the changed agreement.
    act(client, MANAGER, "sign off", "sign-off", APPROVE)
    act(client, REFERRER, "agreement to share", "agreement", ACCEPT, count=2)
    # Copies for each acceptance; the PHB goes on from where its money was: the review.
    wait_for_email(REFERRER, "agreement has been accepted", count=2)
    wait_for_email(REFERRER, "6-week review")
    stored = store().get(reference)
    assert stored.status == "funds_released"
    assert (ledger.approved_total(stored.ledger), ledger.released_total(stored.ledger)) == (
        30000, 10000)
    assert [a["total_pence"] for a in stored.recorded["agreements"]] == [20000, 30000]
    # The rest of the approved total can now be released from the console.
    session = advisor_session(client)
    more = staff_post(client, session, f"/staff/referrals/{reference}/release", {
        "amount": "200.00", "how": "prepaid_card", "reference": "CARD-2", "released": "yes"})
    assert more.status_code == 303, body(more)
    assert ledger.remaining(store().get(reference).ledger) == 0


def test_a_refused_amendment_leaves_the_phb_going_on_as_approved(api: Any, client: Any) -> None:
    reference = part_released(api, client, 30000, manager=MANAGER)

    session = advisor_session(client)
    form = client.http.get(f"/staff/referrals/{reference}/amend",
                           headers={"Cookie": session[0]})
    assert form.status_code == 200 and 'value="300.00"' in body(form)
    changed = staff_post(client, session, f"/staff/referrals/{reference}/amend", {
        **{f"items.0.{name}": value for name, value in GYM.items()}, "items.0.cost_pence": "600",
        "reason": "A year's membership instead"})
    assert changed.status_code == 303, body(changed)
    wait_for_status(reference, "awaiting_sign_off")
    act(client, MANAGER, "sign off", "sign-off", APPROVE, count=2)
    act(client, PANEL, "sign off", "sign-off", {"decision": "rejected",
                                                "reason": "Six months is enough"})
    wait_for_status(reference, "funds_released")
    wait_for_email(REFERRER, "change was not approved")
    # The execution goes on to the review, as it would have without the change.
    wait_for_email(REFERRER, "6-week review")
    stored = store().get(reference)
    assert (stored.total_pence, ledger.approved_total(stored.ledger)) == (30000, 30000)
    assert len(emails_to(REFERRER, "agreement has been accepted")) == 1


def test_a_referrer_signs_in_to_their_referrals_through_the_pathway_function(
        api: Any, client: Any) -> None:
    """The sign-in page hands the address to the pathway function, which finds the referrer's
    referrals (the referrer index, then each by key) and emails the link: on the moto stack,
    so every call it makes is checked against that function's policy (tests/test_iam.py)."""
    referral = make_referral()
    referral["referrer"]["email"] = "sam.okafor@nhs.net"
    made = api(referral)
    assert made.status_code == 201, made.json_body
    asked = post_form(client, "/my-referrals/sign-in", {"email": "Sam.Okafor@NHS.net"})
    assert asked.status_code == 200, body(asked)
    email = wait_for_email("Sam.Okafor@nhs.net", "Sign in")  # as typed, its domain lowercased
    [link_id] = re.findall(r"/my-referrals/sign-in/([A-Za-z0-9_-]+)", email.text)
    signed_in = post_form(client, f"/my-referrals/sign-in/{link_id}", {})
    assert signed_in.status_code == 303, body(signed_in)
    cookie = signed_in.headers["Set-Cookie"].split(";", 1)[0]
    mine = client.http.get("/my-referrals", headers={"Cookie": cookie})
    assert made.json_body["reference"] in body(mine)
