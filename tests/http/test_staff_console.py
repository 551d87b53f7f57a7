"""The staff console: the worklist's views, the case page, each action and its history event,
the subject-access export and the retention job; moto running the real state machine."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.adapters import aws
from chalicelib.config import get_settings
from chalicelib.domain.ports import Referrals
from tests.conftest import services, wait_for, wait_for_acknowledgement, wait_for_execution
from tests.factories import NHS_NUMBER, another_person, in_borough, make_referral
from tests.http.test_staff_sign_in import STAFF, STAFF_NAME, body, csrf_of, get, sign_in
from tests.pathway_helpers import link_path, post_form, wait_for_email

REFERRER = "sam.okafor@nhs.net"
MANAGER = "jo.patel@nhs.net"
AIR_FRYER = {"description": "Air fryer for healthier cooking", "category": "equipment",
             "supplier": "Shop", "cost_pence": 6000, "recurrence": "one_off"}


def store() -> Referrals:
    return services().store.referrals


class Staff:
    """A signed-in advisor's browser."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.cookie = sign_in(client)
        self.csrf = csrf_of(client, self.cookie)

    def get(self, path: str) -> Any:
        return get(self.client, path, self.cookie)

    def post(self, path: str, fields: dict[str, str] | None = None, csrf: bool = True) -> Any:
        form = {**({"csrf": self.csrf} if csrf else {}), **(fields or {})}
        return self.client.http.post(path, body=urlencode(form), headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": self.cookie})

    def act(self, reference: str, action: str, fields: dict[str, str] | None = None) -> Any:
        return self.post(f"/staff/referrals/{reference}/{action}", fields)


@pytest.fixture
def staff(client: Any) -> Staff:
    return Staff(client)


def submit(api: Any, **changes: Any) -> str:
    reference = str(api(make_referral(**changes)).json_body["reference"])
    wait_for_acknowledgement(reference)
    wait_for(lambda: store().get(reference).waiting_step is not None)
    return reference


@pytest.fixture
def four(api: Any) -> dict[str, str]:
    """Four people's referrals waiting for sign-off, submitted in this order."""
    return {
        "fast": submit(api, total_pence=12000, person=another_person(0)),
        "manager": submit(api, total_pence=30000, person=another_person(
            1, borough="newham", last_name="Okonkwo-Bell")),
        "flagged": submit(api, items=[AIR_FRYER],
                          person=another_person(2, borough="tower_hamlets")),
        "panel": submit(api, total_pence=60000, person=another_person(3)),
    }


def references_on(page: Any) -> list[str]:
    assert page.status_code == 200, body(page)
    return re.findall(r'href="/staff/referrals/(PHB-[A-Z0-9-]+)"', body(page))


@pytest.fixture
def scans() -> Iterator[list[str]]:
    """Every DynamoDB Scan made while the test runs (there must be none)."""
    made: list[str] = []
    events = aws.client("dynamodb").meta.events

    def count(**kwargs: Any) -> None:
        made.append(kwargs.get("model").name if kwargs.get("model") else "Scan")

    events.register("before-call.dynamodb.Scan", count)
    yield made
    events.unregister("before-call.dynamodb.Scan", count)


# --- the worklist ----------------------------------------------------------------------------


def test_each_view_lists_its_referrals_newest_first_without_a_scan(
        staff: Staff, four: dict[str, str], scans: list[str]) -> None:
    fast, manager, flagged, panel = four["fast"], four["manager"], four["flagged"], four["panel"]
    views = {
        "all:": [panel, flagged, manager, fast],
        "status:awaiting_sign_off": [panel, flagged, manager, fast],
        "status:closed": [],
        "borough:newham": [manager],
        "borough:tower_hamlets": [flagged],
        "borough:city_and_hackney": [panel, fast],
        "tier:referrer": [flagged, fast],
        "tier:manager": [manager],
        "tier:panel": [panel],
        "flagged:": [flagged],
        "overdue:": [],
    }
    for view, expected in views.items():
        assert references_on(staff.get(f"/staff/?{urlencode({'view': view})}")) == expected, view
    assert scans == []


def test_each_row_says_where_it_is_in_words_and_who_signs_off(
        staff: Staff, four: dict[str, str]) -> None:
    from chalicelib.domain.dates import short_date

    html = body(staff.get("/staff/?view=all%3A"))
    rows = {ref: html.split(f'href="/staff/referrals/{ref}"', 1)[1].split("</tr>", 1)[0]
            for ref in four.values()}
    today = short_date(store().get(four["fast"]).updated_at)
    assert f"Waiting for the referrer&#39;s sign-off since {today}" in rows[four["fast"]]
    assert "Referring professional (under £250)" in rows[four["fast"]]
    assert f"Waiting for the approving manager&#39;s sign-off since {today}" in \
        rows[four["manager"]]
    assert "Approving manager (£250 to £500)" in rows[four["manager"]]
    assert "sam.okafor@nhs.net" in rows[four["manager"]] and "£300.00" in rows[four["manager"]]
    # Each row names the person, whichever view lists it.
    assert ">Person1 Okonkwo-Bell</a>" in rows[four["manager"]]
    status = body(staff.get("/staff/?view=status%3Aawaiting_sign_off"))
    assert all(f">Person{n} " in status for n in range(4))
    assert "Signed off by" not in html and ">Who signs off<" in html
    # An advisor's first page is what waits on them: none of these four does yet.
    first = staff.get("/staff/")
    assert references_on(first) == [] and 'value="action:" selected' in body(first)


def test_a_case_is_assigned_and_listed_under_assigned_to_me(
        staff: Staff, four: dict[str, str]) -> None:
    mine = staff.get("/staff/?view=mine%3A")
    assert references_on(mine) == []
    assigned = staff.act(four["manager"], "assign", {"assign_to": STAFF.upper()})
    assert assigned.status_code == 303, body(assigned)
    page = body(staff.get(assigned.headers["Location"]))
    assert "The case has been assigned." in page
    assert f"Assigned to {STAFF_NAME}, PHB advisor by {STAFF_NAME}, PHB advisor" in page
    assert references_on(staff.get("/staff/?view=mine%3A")) == [four["manager"]]
    # Only someone on the staff list can have a case.
    refused = staff.act(four["fast"], "assign", {"assign_to": "someone@nhs.net"})
    assert refused.status_code == 422 and "Choose someone on the staff list" in body(refused)
    assert references_on(staff.get("/staff/?view=mine%3A")) == [four["manager"]]


def assigned_to(page: str) -> str:
    """The case summary's "Assigned to" value."""
    found = re.search(r">\s*Assigned to\s*</dt>\s*<dd[^>]*>\s*(.*?)\s*</dd>", page, re.S)
    assert found, "no Assigned to row"
    return found.group(1)


def test_the_assign_choice_lists_the_staff_list_by_name(
        staff: Staff, four: dict[str, str]) -> None:
    page = body(staff.get(f"/staff/referrals/{four['manager']}"))
    [choice] = re.findall(r'<select[^>]*name="assign_to".*?</select>', page, re.S)
    options = re.findall(r'<option value="([^"]+)"( selected)?>([^<]+)</option>', choice)
    # Each person by name (the one signed in chosen and marked), never the advisors' inbox.
    assert options == [(STAFF, " selected", f"{STAFF_NAME} (you)"),
                       ("daniel.price@example.org", "", "Daniel Price")]
    assert assigned_to(page) == "Nobody yet"
    assigned = staff.act(four["manager"], "assign", {"assign_to": "daniel.price@example.org"})
    assert assigned.status_code == 303, body(assigned)
    page = body(staff.get(assigned.headers["Location"]))
    assert assigned_to(page) == "Daniel Price, PHB advisor"
    assert f"Assigned to Daniel Price, PHB advisor by {STAFF_NAME}, PHB advisor" in page
    assert store().get(four["manager"]).assigned_to == "daniel.price@example.org"


def test_overdue_lists_referrals_waiting_past_their_reminder_time(
        staff: Staff, four: dict[str, str]) -> None:
    waiting = store().get(four["manager"])
    assert waiting.due_at and waiting.due_at > waiting.updated_at  # the reminder is to come
    for reference in (four["manager"], four["fast"]):
        aws.client("dynamodb").update_item(
            TableName=get_settings().table_name,
            Key={"pk": {"S": f"REFERRAL#{reference}"}, "sk": {"S": "REFERRAL"}},
            UpdateExpression="SET due_at = :past",
            ExpressionAttributeValues={":past": {"S": "2020-01-01T00:00:00.000Z"}})
    page = staff.get("/staff/?view=overdue%3A")
    assert references_on(page) == [four["manager"], four["fast"]]
    assert body(page).count("Overdue since 1 Jan 2020") == 2
    # Once the step is acted on, the referral is no longer waiting, so no longer overdue.
    staff.act(four["manager"], "withdraw", {"withdraw_reason": "Moved away"})
    assert references_on(staff.get("/staff/?view=overdue%3A")) == [four["fast"]]


def test_pages_of_the_worklist(staff: Staff, four: dict[str, str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.staff import worklist

    monkeypatch.setattr(worklist, "PAGE_SIZE", 3)
    for view in ("all:", "status:awaiting_sign_off"):
        first = staff.get(f"/staff/?{urlencode({'view': view})}")
        assert references_on(first) == [four["panel"], four["flagged"], four["manager"]]
        match = re.search(r'href="(/staff/\?view=[^"]+&amp;after=[^"]+)"', body(first))
        assert match, view
        second = staff.get(match.group(1).replace("&amp;", "&"))
        assert references_on(second) == [four["fast"]]
        assert "Next page" not in body(second)


@pytest.mark.parametrize("query", ["view=status%3Aeverything", "view=nonsense", "view=tier%3A",
                                   "view=all%3A&after=bm9wZQ", "view=all%3A&after=%25%25"])
def test_a_bad_view_or_page_link_is_a_clear_400(staff: Staff, query: str) -> None:
    page = staff.get(f"/staff/?{query}")
    assert page.status_code == 400
    assert 'href="#view"' in body(page)


def test_find_by_reference_forgives_case_and_spacing(staff: Staff, api: Any) -> None:
    reference = submit(api)
    typed = reference.lower().replace("-", " ")
    found = staff.get(f"/staff/?{urlencode({'reference': typed})}")
    assert found.status_code == 303
    assert found.headers["Location"] == f"/staff/referrals/{reference}"
    missing = staff.get("/staff/?reference=PHB-2222-2222")
    assert missing.status_code == 404
    assert "No referral was found for that" in body(missing)
    assert staff.get("/staff/?reference=").status_code == 422


def test_find_by_nhs_number_last_name_or_referrers_email_lists_theirs_by_index_not_scan(
        staff: Staff, four: dict[str, str], scans: list[str]) -> None:
    person = another_person(1)["nhs_number"]  # the manager-tier referral's person
    by_person = staff.get(f"/staff/?{urlencode({'reference': person[:3] + ' ' + person[3:]})}")
    assert references_on(by_person) == [four["manager"]]
    assert "Found for" in body(by_person)
    by_referrer = staff.get(f"/staff/?{urlencode({'reference': 'Sam.Okafor@NHS.net'})}")
    assert set(references_on(by_referrer)) == set(four.values())
    nobody = staff.get(f"/staff/?{urlencode({'reference': 'nobody@nhs.net'})}")
    assert nobody.status_code == 404 and "No referral was found for that" in body(nobody)
    by_last_name = staff.get(f"/staff/?{urlencode({'reference': ' okonkwo-BELL'})}")
    assert references_on(by_last_name) == [four["manager"]]
    assert ">Person1 Okonkwo-Bell</a>" in body(by_last_name)
    morgans = staff.get(f"/staff/?{urlencode({'reference': 'Morgan'})}")
    assert set(references_on(morgans)) == set(four.values()) - {four["manager"]}
    nobody_called = staff.get(f"/staff/?{urlencode({'reference': 'Okonkwo'})}")
    assert nobody_called.status_code == 404
    assert scans == []


# --- the case page ---------------------------------------------------------------------------


def test_the_case_page_shows_everything_and_records_the_view(staff: Staff, api: Any) -> None:
    reference = submit(api, items=[AIR_FRYER])
    page = staff.get(f"/staff/referrals/{reference}")
    html = body(page)
    assert page.status_code == 200, html
    for shown in ("Alex Morgan", "943 476 5919", "E8 1DY", "Black or Black British: African",
                  "Air fryer for healthier cooking", "£60.00", "Household items",
                  "Go to the gym twice a week", "Free park exercise groups",
                  "Waiting for sign-off",
                  "the referrer&#39;s sign-off from Sam Okafor, referrer (sam.okafor@nhs.net)",
                  "signed off by referrer, then advisor", "Checked at intake",
                  "Referral submitted by Sam Okafor, referrer",
                  "Sign-off request emailed to Sam Okafor, referrer"):
        assert shown in html, shown
    # The emails sent: the acknowledgement and the sign-off request, each with when and to whom.
    sent = html.split(">Emails sent</h2>")[1].split(">Data protection</h2>")[0]
    assert sent.count(">sam.okafor@nhs.net</td>") == 2
    assert f"PHB referral {reference}" in sent
    viewed = [e for e in store().history(reference) if e.what == "viewed"]
    assert [(e.who, bool(e.at)) for e in viewed] == [(STAFF, True)]


def test_the_case_page_shows_the_flags_intake_recorded_even_after_the_rules_change(
        staff: Staff, api: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    reference = submit(api, items=[AIR_FRYER])
    with open(get_settings().funding_rules_file, encoding="utf-8") as original:
        rules = json.load(original)
    rules["exclusions"] = [e for e in rules["exclusions"] if e["code"] != "household_items"]
    changed = tmp_path / "funding_rules.json"
    changed.write_text(json.dumps(rules), encoding="utf-8")
    monkeypatch.setenv("PHB_FUNDING_RULES_FILE", str(changed))
    get_settings.cache_clear()
    page = body(staff.get(f"/staff/referrals/{reference}"))
    assert "Household items are not normally funded" in page


def test_an_unknown_case_is_404(staff: Staff) -> None:
    assert staff.get("/staff/referrals/PHB-2222-2222").status_code == 404
    assert staff.act("PHB-2222-2222", "note", {"note": "x"}).status_code == 404


# --- actions ---------------------------------------------------------------------------------


def events(reference: str, what: str) -> list[Any]:
    return [e for e in store().history(reference) if e.what == what]


def test_a_note_is_added_to_the_history_and_shown_as_text(staff: Staff, api: Any) -> None:
    reference = submit(api)
    assert staff.post(f"/staff/referrals/{reference}/note", {"note": "x"},
                      csrf=False).status_code == 403
    empty = staff.act(reference, "note", {"note": "  "})
    assert empty.status_code == 422
    assert 'href="#note"' in body(empty)
    done = staff.act(reference, "note", {"note": "Called <b>Sam</b> about the gym"})
    assert done.status_code == 303
    assert done.headers["Location"] == f"/staff/referrals/{reference}?done=note"
    [note] = events(reference, "note_added")
    assert (note.who, note.detail) == (STAFF, {"note": "Called <b>Sam</b> about the gym"})
    page = body(staff.get(done.headers["Location"]))
    assert "Your note has been added" in page
    assert "Called &lt;b&gt;Sam&lt;/b&gt; about the gym" in page


def test_the_advisor_decides_the_advisor_step_and_records_the_release(
        staff: Staff, api: Any, client: Any) -> None:
    reference = submit(api, items=[AIR_FRYER])
    assert staff.act(reference, "decide", {"decision": "approved"}).status_code == 409
    sign_off_path = link_path(wait_for_email(REFERRER, "sign off"), "sign-off")
    post_form(client, sign_off_path, {"decision": "approved"})
    wait_for(lambda: store().get(reference).waiting_step == "advisor")
    missing = staff.act(reference, "decide", {"decision": "rejected"})
    assert missing.status_code == 422
    assert "Enter why you are rejecting" in body(missing)
    assert staff.act(reference, "decide", {"decision": "approved"}).status_code == 303
    wait_for(lambda: store().get(reference).status == "approved")
    assert [e.who for e in events(reference, "approved")] == [REFERRER, STAFF]
    # The pathway goes on: the agreement, then the release recorded here.
    agreement = link_path(wait_for_email(REFERRER, "agreement"), "agreement")
    post_form(client, agreement, {"name": "Alex Morgan", "accept": "yes", "choice": "accept"})
    wait_for(lambda: store().get(reference).status == "agreement_accepted")
    unticked = staff.act(reference, "release", {"management": "notional", "amount": "60"})
    assert unticked.status_code == 422
    assert staff.act(reference, "release", {"management": "notional", "amount": "60.00",
                                            "how": "supplier", "reference": "INV-204",
                                            "released": "yes"}).status_code == 303
    [released] = events(reference, "funds_released")
    assert (released.who, released.detail["amount_pence"], released.detail["management"]) == (
        STAFF, 6000, "notional")
    # The state machine was told: it now waits for the 6-week review.
    wait_for(lambda: store().get(reference).status == "funds_released")
    assert store().get(reference).recorded["release"]["by"] == STAFF


def test_asking_the_referrer_sends_the_question_and_waits(
        staff: Staff, api: Any, client: Any) -> None:
    reference = submit(api)
    assert staff.act(reference, "ask", {"ask_question": ""}).status_code == 422
    assert staff.act(reference, "ask",
                     {"ask_question": "Which gym is nearest?"}).status_code == 303
    assert store().get(reference).status == "awaiting_information"
    [asked] = events(reference, "information_requested")
    assert (asked.who, asked.detail["question"]) == (STAFF, "Which gym is nearest?")
    answer = link_path(wait_for_email(REFERRER, "question"), "answer")
    assert post_form(client, answer, {"answer": "Hackney Leisure"}).status_code == 200
    wait_for(lambda: store().get(reference).status == "awaiting_sign_off")


def test_resending_sends_the_waiting_request_again_with_a_new_link(
        staff: Staff, api: Any, client: Any) -> None:
    reference = submit(api, total_pence=30000)
    first = wait_for_email(MANAGER, "sign off")
    assert staff.act(reference, "resend").status_code == 303
    second = wait_for_email(MANAGER, "sign off", count=2)
    assert link_path(first, "sign-off") != link_path(second, "sign-off")
    [resent] = events(reference, "email_resent")
    assert (resent.who, resent.detail) == (STAFF, {"step": "manager", "to": [MANAGER]})
    # The new link works.
    assert post_form(client, link_path(second, "sign-off"),
                     {"decision": "approved"}).status_code == 200
    wait_for(lambda: store().get(reference).status == "approved")


def test_withdrawing_ends_the_referral_and_tells_the_referrer(staff: Staff, api: Any) -> None:
    reference = submit(api, total_pence=60000)
    assert staff.act(reference, "withdraw", {"withdraw_reason": ""}).status_code == 422
    assert staff.act(reference, "withdraw",
                     {"withdraw_reason": "The person moved away"}).status_code == 303
    assert store().get(reference).status == "withdrawn"
    [withdrawn] = events(reference, "withdrawn")
    assert (withdrawn.who, withdrawn.detail) == (STAFF, {"reason": "The person moved away"})
    wait_for_email(REFERRER, "withdrawn")
    assert wait_for_execution(reference)["status"] == "SUCCEEDED"
    # Only a note can be added to an ended referral.
    again = staff.act(reference, "withdraw", {"withdraw_reason": "Again"})
    assert again.status_code == 409
    assert "cannot be done at this stage" in body(again)


def test_an_advisor_resumes_a_referral_whose_pathway_could_not_start(
        staff: Staff, api: Any) -> None:
    from devstack import faults

    faults.arm({"operation": "StartExecution", "error": "StateMachineDoesNotExist"})
    reference = api(make_referral()).json_body["reference"]
    page = body(staff.get(f"/staff/referrals/{reference}"))
    assert "The pathway could not be started" in page
    assert "Resume from intake: working out who signs off" in page
    assert staff.act(reference, "resume").status_code == 303
    wait_for_acknowledgement(reference)
    [resumed] = events(reference, "resumed")
    assert (resumed.who, resumed.detail["attempt"]) == (STAFF, 2)
    wait_for_email(REFERRER, "sign off")
    # Once it runs there is nothing to resume.
    assert "Resume from" not in body(staff.get(f"/staff/referrals/{reference}"))
    assert staff.act(reference, "resume").status_code == 409


@pytest.mark.parametrize("action", ["decide", "release", "ask", "note", "resend", "withdraw",
                                    "resume", "correct", "export"])
@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_every_case_action_without_the_sessions_csrf_token_is_refused(
        staff: Staff, api: Any, action: str, token: str | None) -> None:
    from devstack.outbox import sent_emails

    reference = submit(api, total_pence=30000)
    before = [e.what for e in store().history(reference)]
    emails = len(sent_emails())
    fields = {"note": "x", "withdraw_reason": "x", "ask_question": "x", "decision": "approved",
              **({} if token is None else {"csrf": token})}
    response = staff.post(f"/staff/referrals/{reference}/{action}", fields, csrf=False)
    assert response.status_code == 403
    assert [e.what for e in store().history(reference)] == before
    assert store().get(reference).status == "awaiting_sign_off"
    assert len(sent_emails()) == emails


def test_an_action_raced_by_a_link_is_refused_and_changes_nothing(
        staff: Staff, api: Any, client: Any) -> None:
    reference = submit(api, items=[AIR_FRYER])
    post_form(client, link_path(wait_for_email(REFERRER, "sign off"), "sign-off"),
              {"decision": "approved"})
    wait_for(lambda: store().get(reference).waiting_step == "advisor")
    seen = store().get(reference)
    # An advisor's emailed link decides first ...
    from chalicelib.actions import commands

    commands.decide(services(), seen, "advisor", "phb-advisors@example.org", "rejected", "No")
    # ... so the console's decision, made from a page loaded before, is refused.
    from chalicelib.staff.case import available_actions

    with pytest.raises(commands.AlreadyDone):
        commands.decide(services(), seen, "advisor", STAFF, "approved")
    assert available_actions(store().get(reference), None) == ["note"]
    assert store().get(reference).status == "rejected"


# --- data protection -------------------------------------------------------------------------


def test_subject_access_export_has_everything_about_the_person(
        staff: Staff, api: Any) -> None:
    first = submit(api)
    second = submit(api, total_pence=30000)
    other = submit(api, person={**make_referral()["person"], "nhs_number": "9434765870"})
    staff.act(first, "note", {"note": "Spoke to Alex"})
    response = staff.act(first, "export")
    assert response.status_code == 200, body(response)
    assert response.headers["Content-Type"].startswith("application/json")
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(body(response))
    assert data["nhs_number"] == NHS_NUMBER
    assert data["exported_by"] == STAFF
    assert sorted(r["reference"] for r in data["referrals"]) == sorted([first, second])
    assert other not in body(response)
    exported = {r["reference"]: r for r in data["referrals"]}[first]
    assert exported["answers"]["person"]["last_name"] == "Morgan"
    assert exported["answers"]["reqol10_baseline"]["items"][0] == 2
    assert {"submitted", "intake_recorded", "note_added"} <= {e["what"] for e in exported[
        "history"]}
    assert [e["kind"] for e in exported["emails"]][:1] == ["acknowledgement"]
    for reference in (first, second):
        assert [e.who for e in events(reference, "subject_access_export")] == [STAFF]
    assert events(other, "subject_access_export") == []


def run_retention(client: Any) -> Any:
    """The daily scheduled function, invoked as EventBridge would."""
    event = client.events.generate_cw_event(source="aws.events", detail_type="Scheduled Event",
                                            detail={}, resources=[])
    return client.lambda_.invoke("retention", event).payload


def test_retention_removes_personal_data_of_every_referral_inactive_for_the_period(
        staff: Staff, api: Any, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ended = submit(api, total_pence=30000, person=in_borough("newham", ethnicity="M"))
    # The same person again (with the approving manager their total now needs).
    still_open = submit(api, total_pence=30000)
    staff.act(ended, "withdraw", {"withdraw_reason": "Alex moved to Leeds"})
    staff.act(ended, "note", {"note": "Alex said thank you"})
    wait_for_execution(ended)

    # Not yet: the referral ended less than the retention period ago.
    assert run_retention(client) == {"anonymised": 0}
    monkeypatch.setenv("PHB_RETENTION_DAYS", "0")
    get_settings.cache_clear()
    # Both: the one that ended, and the one left waiting for its approving manager.
    assert run_retention(client) == {"anonymised": 2}

    items = aws.client("dynamodb").query(
        TableName=get_settings().table_name, KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"REFERRAL#{ended}"}})["Items"]
    held = json.dumps(items)
    for personal in ("Alex", "Morgan", "9434765919", "E8 1DY", "1985-05-01", "sam.okafor",
                     "jo.patel", "Leeds", "Gym membership", "Go to the gym", STAFF):
        assert personal not in held, [i for i in items if personal in json.dumps(i)]
    assert not any(i["sk"]["S"].startswith(("TOKEN#", "REMINDERS#")) for i in items)
    anonymised = store().get(ended)
    assert anonymised.status == "withdrawn"
    assert anonymised.facts is not None
    assert (anonymised.facts["borough"], anonymised.facts["ethnicity"],
            anonymised.facts["total_pence"], anonymised.facts["tier"]) == (
        "newham", "M", 30000, "manager")
    removed = events(ended, "personal_data_removed")
    assert [e.who for e in removed] == ["retention job"]
    assert store().references_for_person(NHS_NUMBER) == []

    # The figures are still there for the reports, and the case page says what happened.
    from chalicelib.staff.reports import load_facts

    facts = {f["reference"]: f for f in load_facts(services(), date.today(), date.today())}
    assert facts[ended]["status"] == "withdrawn"
    assert facts[ended]["borough"] == "newham"
    page = body(staff.get(f"/staff/referrals/{ended}"))
    assert "personal data of this referral was removed" in page
    # The open one keeps its status and its figures, not its data; a second run finds nothing
    # more to do.
    left = store().get(still_open)
    assert (left.status, left.answers, left.facts is not None) == ("awaiting_sign_off", "", True)
    assert run_retention(client) == {"anonymised": 0}
