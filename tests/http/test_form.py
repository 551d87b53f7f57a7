"""The clinician's referral form, page by page, through chalice.test.Client on moto."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.adapters import aws
from chalicelib.config import get_settings
from devstack.outbox import sent_emails
from tests.conftest import services, wait_for, wait_for_acknowledgement

TARGET = date.today() + timedelta(days=45)

VALID: dict[str, dict[str, str]] = {
    "referrer": {
        "referrer.name": "Sam Okafor", "referrer.role": "Care coordinator",
        "referrer.team": "Hackney CMHT", "referrer.organisation": "ELFT",
        "referrer.email": "sam.okafor@nhs.net", "referrer.phone": "020 7946 0000",
    },
    "person": {
        "person.first_name": "Alex", "person.last_name": "Morgan",
        "person.date_of_birth[day]": "1", "person.date_of_birth[month]": "5",
        "person.date_of_birth[year]": "1985", "person.nhs_number": "943 476 5919",
        "person.postcode": "e8 1dy", "person.borough": "city_and_hackney", "person.email": "",
        "person.phone": "", "person.ethnicity": "N", "person.section_117_aftercare": "no",
    },
    "goals": {
        "goals.0.area": "physical_health", "goals.0.goal": "Swim weekly",
        "goals.0.target_date[day]": str(TARGET.day),
        "goals.0.target_date[month]": str(TARGET.month),
        "goals.0.target_date[year]": str(TARGET.year),
        "goals.1.goal": "", "goals.2.goal": "",
    },
    "support": {"how_phb_helps": "Swimming lifts mood.",
                "alternatives_considered": "Free sessions are full."},
    "items": {"items.0.description": "Swimming pass", "items.0.category": "membership",
              "items.0.supplier": "Better", "items.0.cost_pence": "120.50",
              "items.0.recurrence": "one_off", "items.0.months": ""},
    "outcomes": {**{f"reqol10_baseline.items.{i}": "2" for i in range(10)},
                 "reqol10_baseline.physical_health": "3"},
    "budget": {"budget_management": "direct_payment"},
    "consent": {"person.consent": "yes"},
}


class Browser:
    """Just enough of a browser: keeps the draft cookie and posts urlencoded forms."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.cookie = ""

    def get(self, path: str) -> Any:
        return self.client.http.get(path, headers={"Cookie": self.cookie})

    def post(self, path: str, fields: dict[str, str] | str) -> Any:
        body = fields if isinstance(fields, str) else urlencode(fields)
        response = self.client.http.post(
            path, body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": self.cookie})
        if "Set-Cookie" in response.headers:
            self.cookie = response.headers["Set-Cookie"].split(";", 1)[0]
        return response

    def start(self) -> Any:
        return self.post("/referral/start", {})

    def fill_all(self, **changes: dict[str, str]) -> None:
        self.start()
        for slug, fields in VALID.items():
            response = self.post(f"/referral/{slug}", {**fields, **changes.get(slug, {})})
            assert response.status_code == 303, (slug, html_errors(response))


def html(response: Any) -> str:
    return response.body.decode() if isinstance(response.body, bytes) else response.body


def html_errors(response: Any) -> list[str]:
    return re.findall(r'<a href="#([^"]+)">', html(response))


def referral_items() -> list[dict[str, Any]]:
    items = aws.client("dynamodb").scan(TableName=get_settings().table_name)["Items"]
    return [i for i in items if i["sk"]["S"] == "REFERRAL"]


@pytest.fixture
def browser(client: Any) -> Browser:
    return Browser(client)


def test_start_page_explains_and_starts(browser: Browser) -> None:
    page = browser.get("/referral")
    assert page.status_code == 200
    assert "Refer someone for a personal health budget" in html(page)
    started = browser.start()
    assert started.status_code == 303
    assert started.headers["Location"] == "/referral/referrer"
    assert "HttpOnly" in started.headers["Set-Cookie"]
    assert "SameSite=Lax" in started.headers["Set-Cookie"]


def test_whole_form_submits_a_referral_and_sends_the_acknowledgement(browser: Browser) -> None:
    browser.fill_all()
    check = browser.get("/referral/check")
    assert check.status_code == 200
    page = html(check)
    for shown in ("Alex Morgan", "943 476 5919", "E8 1DY", "£120.50", "Swimming pass",
                  "You sign this request off yourself"):
        assert shown in page
    assert 'href="/referral/person?change=1#person.nhs_number"' in page

    sent = browser.post("/referral/check", {})
    assert sent.status_code == 303
    reference = sent.headers["Location"].rsplit("/", 1)[1]
    confirmation = browser.get(sent.headers["Location"])
    assert reference in html(confirmation) and "Referral sent" in html(confirmation)
    assert "What happens next" in html(confirmation)
    assert 'href="/my-referrals"' in html(confirmation)
    wait_for_acknowledgement(reference)
    emails = wait_for(sent_emails)
    assert emails[0].to == "sam.okafor@nhs.net" and reference in emails[0].subject


def test_an_error_is_shown_at_the_top_and_on_the_field_with_values_kept(
    browser: Browser,
) -> None:
    browser.start()
    response = browser.post("/referral/person", {**VALID["person"],
                                                 "person.nhs_number": "943 476 5918",
                                                 "person.postcode": "nowhere"})
    assert response.status_code == 422
    page = html(response)
    assert "<title>Error: " in page
    assert "There is a problem" in page
    assert html_errors(response) == ["person.nhs_number", "person.postcode"]
    assert 'id="person.nhs_number-error"' in page
    assert "not a valid NHS number" in page
    assert 'value="943 476 5918"' in page and 'value="nowhere"' in page
    assert 'value="Alex"' in page
    # Fixing it moves on.
    fixed = browser.post("/referral/person", VALID["person"])
    assert fixed.status_code == 303 and fixed.headers["Location"] == "/referral/goals"


def boxes_in_error(response: Any, name: str) -> list[str]:
    """Which of a date's boxes are highlighted as wrong."""
    boxes = re.findall(rf'<input class="([^"]*)" id="{re.escape(name)}-(day|month|year)"',
                       html(response))
    assert len(boxes) == 3, boxes
    return [part for classes, part in boxes if "nhsuk-input--error" in classes]


@pytest.mark.parametrize("day, month, year, message, wrong", [
    ("1", "5", "", "Date of birth must include a year", ["year"]),
    ("31", "", "1985", "Date of birth must include a month", ["month"]),
    ("", "", "1985", "Date of birth must include a day and month", ["day", "month"]),
    ("1", "5", "84", "Year must include 4 numbers", ["year"]),
    ("31", "2", "1985", "Date of birth must be a real date", ["day", "month", "year"]),
    ("1", "Smarch", "1985", "Date of birth must be a real date", ["day", "month", "year"]),
    ("1", "5", "2999", "date of birth must be in the past", ["day", "month", "year"]),
])
def test_date_of_birth_errors_follow_the_gov_uk_date_input_pattern(
    browser: Browser, day: str, month: str, year: str, message: str, wrong: list[str],
) -> None:
    """The message names what is wrong, only the boxes it is about are highlighted, and the
    error summary links to the first of them."""
    browser.start()
    response = browser.post("/referral/person", {
        **VALID["person"], "person.date_of_birth[day]": day,
        "person.date_of_birth[month]": month, "person.date_of_birth[year]": year})
    assert response.status_code == 422
    assert message in html(response)
    assert boxes_in_error(response, "person.date_of_birth") == wrong
    assert html_errors(response) == [f"person.date_of_birth-{wrong[0]}"]


@pytest.mark.parametrize("month", ["June", "Jun", "june", "6", "06"])
def test_a_month_may_be_typed_as_its_name(browser: Browser, month: str) -> None:
    browser.start()
    saved = browser.post("/referral/person", {**VALID["person"],
                                              "person.date_of_birth[month]": month})
    assert saved.status_code == 303, html_errors(saved)


def test_a_postcode_outside_the_borough_chosen_is_refused_naming_it(browser: Browser) -> None:
    browser.start()
    response = browser.post("/referral/person", {**VALID["person"],
                                                 "person.postcode": "sw1a 1aa"})
    assert response.status_code == 422
    assert html_errors(response) == ["person.postcode"]
    assert "SW1A 1AA is not in City &amp; Hackney" in html(response)
    elsewhere = browser.post("/referral/person", {**VALID["person"], "person.postcode": "E1 6AN",
                                                  "person.borough": "newham"})
    assert "E1 6AN is in Tower Hamlets, not Newham" in html(elsewhere)


def test_a_stray_optional_goal_can_be_removed_without_javascript(browser: Browser) -> None:
    browser.start()
    stray = {**VALID["goals"], "goals.1.area": "social"}
    blocked = browser.post("/referral/goals", stray)
    assert blocked.status_code == 422
    page = html(blocked)
    assert 'name="remove" value="1"' in page and "Remove goal 2" in page
    assert "Remove goal 1" not in page and "Remove goal 3" not in page
    removed = browser.post("/referral/goals", {**stray, "remove": "1"})
    assert removed.status_code == 200
    assert 'value="social" checked' not in html(removed)
    assert "Swim weekly" in html(removed)  # goal 1 is kept
    assert browser.post("/referral/goals", VALID["goals"]).status_code == 303


def test_the_goal_and_month_limits_are_said_where_they_apply(browser: Browser) -> None:
    browser.start()
    assert "Within 6 months of today, normally within 3" in html(browser.get("/referral/goals"))
    assert "Goals end within 6 months" in html(browser.get("/referral/items"))


def monthly(months: str, **changes: str) -> dict[str, str]:
    return {**VALID["items"], "items.0.recurrence": "monthly", "items.0.cost_pence": "15",
            "items.0.months": months, **changes}


def test_a_monthly_item_paid_after_the_last_goal_is_pointed_out_and_flagged(
    browser: Browser,
) -> None:
    shown = fill_up_to_items(browser, **monthly("6"))
    assert shown.status_code == 200
    page = html(shown)
    assert "Check these before you continue" in page
    assert "runs past the last goal&#39;s target date" in page
    mark = re.search(r'name="cautions_seen" value="([0-9a-f]+)"', page)
    assert mark
    # Read once, Save and continue goes on.
    onward = browser.post("/referral/items", {**monthly("6"), "cautions_seen": mark.group(1)})
    assert onward.headers["Location"] == "/referral/outcomes"
    for slug in ("outcomes", "budget", "consent"):
        browser.post(f"/referral/{slug}", VALID[slug])
    check = html(browser.get("/referral/check"))
    assert "A PHB advisor will also check it" in check and "runs past the last goal" in check
    # One month, within the goal, says nothing.
    assert fill_up_to_items(Browser(browser.client), **monthly("1")).status_code == 303


def test_an_excluded_item_and_the_smartphone_caps_are_said_on_the_items_page(
    browser: Browser,
) -> None:
    fryer = fill_up_to_items(browser, **{"items.0.description": "Air fryer",
                                         "items.0.category": "equipment"})
    assert fryer.status_code == 200
    assert "Household items are not normally funded by a PHB" in html(fryer)
    phone = browser.post("/referral/items", {**VALID["items"], "items.0.description": "Smartphone",
                                             "items.0.category": "smartphone_data",
                                             "items.0.cost_pence": "250"})
    assert phone.status_code == 200
    assert "smartphone up to £200.00" in html(phone)
    assert "Item 1 is not, so the request is signed off by its total" in html(phone)


def test_cost_is_typed_in_pounds(browser: Browser) -> None:
    browser.start()
    response = browser.post("/referral/items", {**VALID["items"], "items.0.cost_pence": "lots"})
    assert response.status_code == 422
    assert "in pounds and pence" in html(response)


def test_digits_python_reads_but_int_refuses_are_field_errors(browser: Browser) -> None:
    browser.start()
    response = browser.post("/referral/items", {**VALID["items"],
                                                "items.0.recurrence": "monthly",
                                                "items.0.months": "\u00b2"})
    assert response.status_code == 422
    assert html_errors(response) == ["items.0.months"]
    response = browser.post("/referral/person", {**VALID["person"],
                                                 "person.date_of_birth[day]": "\u00b2"})
    assert response.status_code == 422
    assert html_errors(response) == ["person.date_of_birth-day"]
    assert referral_items() == []


def test_items_can_be_added_and_removed_without_javascript(browser: Browser) -> None:
    browser.start()
    added = browser.post("/referral/items", {**VALID["items"], "action": "add"})
    assert added.status_code == 200
    assert 'name="items.1.description"' in html(added)
    removed = browser.post("/referral/items", {**VALID["items"], "items.1.description": "",
                                               "remove": "0"})
    assert 'name="items.1.description"' not in html(removed)
    assert 'value="Swimming pass"' not in html(removed)


def test_change_link_returns_to_check_your_answers(browser: Browser) -> None:
    browser.fill_all()
    changed = browser.post("/referral/person?change=1",
                           {**VALID["person"], "person.first_name": "Alexis"})
    assert changed.headers["Location"] == "/referral/check"
    assert "Alexis Morgan" in html(browser.get("/referral/check"))


def test_missing_answers_are_listed_on_check_your_answers(browser: Browser) -> None:
    browser.start()
    browser.post("/referral/referrer", VALID["referrer"])
    check = browser.get("/referral/check")
    assert check.status_code == 422
    assert 'href="/referral/person?change=1#person.first_name"' in html(check)
    assert browser.post("/referral/check", {}).status_code == 422
    assert referral_items() == []


def fill_up_to_items(browser: Browser, **items: str) -> Any:
    """Start, fill the pages before the items, and save the items page (with `items`)."""
    browser.start()
    for slug in ("referrer", "person", "goals", "support"):
        assert browser.post(f"/referral/{slug}", VALID[slug]).status_code == 303, slug
    return browser.post("/referral/items", {**VALID["items"], **items})


MANAGER = {"approving_manager.name": "Jo Patel", "approving_manager.email": "jo.patel@nhs.net"}


def test_the_manager_is_asked_for_after_the_items_when_the_total_reaches_250_pounds(
    browser: Browser,
) -> None:
    assert 'name="approving_manager.name"' not in html(browser.get("/referral/referrer"))
    saved = fill_up_to_items(browser, **{"items.0.cost_pence": "250"})
    assert saved.headers["Location"] == "/referral/manager"
    asked = html(browser.get("/referral/manager"))
    assert "The request totals £250.00" in asked and 'name="approving_manager.name"' in asked
    assert "Section 6 of 9" in asked
    missing = browser.post("/referral/manager", {"approving_manager.name": "",
                                                 "approving_manager.email": ""})
    assert missing.status_code == 422
    assert html_errors(missing) == ["approving_manager.name"]
    assert "Enter your approving manager" in html(missing)
    given = browser.post("/referral/manager", MANAGER)
    assert given.headers["Location"] == "/referral/outcomes"
    assert 'href="/referral/manager"' in html(browser.get("/referral/outcomes"))


def test_under_250_pounds_the_manager_is_not_asked_for(browser: Browser) -> None:
    saved = fill_up_to_items(browser)
    assert saved.headers["Location"] == "/referral/outcomes"
    outcomes = html(browser.get("/referral/outcomes"))
    assert 'href="/referral/items"' in outcomes and "Section 6 of 8" in outcomes
    # Reached by its address all the same, it may be left blank.
    blank = browser.post("/referral/manager", {"approving_manager.name": ""})
    assert blank.headers["Location"] == "/referral/outcomes"
    browser.fill_all()
    assert "Approving manager" not in html(browser.get("/referral/check"))


def test_a_change_over_250_pounds_asks_for_the_manager_and_check_still_shows_every_answer(
    browser: Browser,
) -> None:
    browser.fill_all()
    changed = browser.post("/referral/items?change=1",
                           {**VALID["items"], "items.0.cost_pence": "300"})
    assert changed.headers["Location"] == "/referral/manager?change=1"
    # Going straight back to check your answers: the answers, and the one to fix beside them.
    check = browser.get("/referral/check")
    assert check.status_code == 422
    page = html(check)
    for shown in ("Alex Morgan", "943 476 5919", "E8 1DY", "Swimming pass", "£300.00",
                  "Swimming lifts mood."):
        assert shown in page, shown
    assert re.search(r"Approving manager\s*</dt>\s*<dd[^>]*>\s*<span class=\"nhsuk-error-message\""
                     r"[^>]*>.*Enter your approving manager", page, re.S)
    assert 'href="/referral/manager?change=1#approving_manager.name"' in page
    assert "Send referral" not in page
    assert browser.post("/referral/manager?change=1", MANAGER).headers["Location"] == \
        "/referral/check"
    ready = html(browser.get("/referral/check"))
    assert "Jo Patel, jo.patel@nhs.net" in ready and "Send referral" in ready


def test_check_your_answers_shows_what_was_given_beside_what_is_missing(
    browser: Browser,
) -> None:
    browser.start()
    browser.post("/referral/referrer", VALID["referrer"])
    page = html(browser.get("/referral/check"))
    assert "Sam Okafor" in page and "sam.okafor@nhs.net" in page
    assert "Enter the person&#39;s first name" in page or "Enter the person's" in page


def test_submitting_twice_never_creates_two_referrals(browser: Browser) -> None:
    browser.fill_all()
    first = browser.post("/referral/check", {})
    second = browser.post("/referral/check", {})
    assert first.headers["Location"] == second.headers["Location"]
    assert len(referral_items()) == 1
    # The back button to any page of a sent form leads to its confirmation.
    assert browser.get("/referral/person").headers["Location"] == first.headers["Location"]


def test_answers_changed_in_another_tab_after_sending_are_not_lost_silently(
    browser: Browser,
) -> None:
    from chalicelib.intake.pages import draft_id_from

    browser.fill_all()
    sent = browser.post("/referral/check", {})
    reference = sent.headers["Location"].rsplit("/", 1)[1]
    # Another tab, opened before sending, saves a changed answer over the sent draft.
    drafts = services().store.drafts
    draft_id = draft_id_from(browser.cookie)
    assert draft_id
    values = {k: v for k, v in (drafts.load(draft_id) or {}).items()
              if not k.startswith("_")}
    drafts.save(draft_id, {**values, "person.first_name": "Alexis"})
    again = browser.post("/referral/check", {})
    assert again.status_code == 409
    assert f"It was sent as {reference}" in html(again)
    assert len(referral_items()) == 1


def test_a_monthly_item_needs_its_number_of_months(browser: Browser) -> None:
    browser.start()
    response = browser.post("/referral/items", {**VALID["items"],
                                                "items.0.recurrence": "monthly"})
    assert response.status_code == 422
    assert "items.0.months" in html_errors(response)
    assert "needed for a monthly item" in html(response)


def test_a_goal_more_than_3_months_away_is_pointed_out_before_sending(browser: Browser) -> None:
    far = date.today() + timedelta(days=120)
    browser.fill_all(goals={"goals.0.target_date[day]": str(far.day),
                            "goals.0.target_date[month]": str(far.month),
                            "goals.0.target_date[year]": str(far.year)})
    check = browser.get("/referral/check")
    assert check.status_code == 200
    assert "Goal 1 ends more than 3 months from today" in html(check)
    assert browser.post("/referral/check", {}).status_code == 303


def test_a_page_without_a_draft_goes_back_to_the_start(browser: Browser) -> None:
    response = browser.get("/referral/person")
    assert response.status_code == 303
    assert response.headers["Location"] == "/referral?expired=1"


@pytest.mark.parametrize("body, words", [
    ("person.first_name=A&person.first_name=B", "more than once"),
    ("person.first_name=" + "x" * 6000, "too long"),
    ("x=" + "y" * 70000, "too large"),
    ("person.first_name=%ff", "could not be read"),
])
def test_malformed_form_posts_are_refused_and_store_nothing(
    browser: Browser, body: str, words: str
) -> None:
    browser.start()
    response = browser.post("/referral/person", body)
    assert response.status_code == 400
    assert words in html(response)
    assert referral_items() == []


def test_typed_markup_is_shown_as_text(browser: Browser) -> None:
    browser.fill_all(person={"person.first_name": '<script>alert(1)</script>'},
                     support={"how_phb_helps": '<img src=x onerror=alert(1)>\nline two'})
    page = html(browser.get("/referral/check"))
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;<br>line two" in page


def test_pages_send_security_headers(browser: Browser) -> None:
    page = browser.get("/referral")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_styles_are_served_by_the_app(client: Any) -> None:
    page = html(client.http.get("/referral"))
    assert 'href="/static/nhsuk-frontend.min.css"' in page
    # Nothing is loaded from, or sent to, another site.
    assert re.findall(r'(?:src|href|action)="(?:https?:)?//[^"]*"', page) == []
    css = client.http.get("/static/nhsuk-frontend.min.css")
    assert css.status_code == 200 and "nhsuk-button" in html(css)
    assert client.http.get("/static/..%2Fapp.py").status_code == 404


def test_links_and_redirects_keep_the_stage_path_of_an_api_gateway_url(
    browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Reached at https://<id>.execute-api.<region>.amazonaws.com/api, API Gateway strips /api
    # from the request path; every link the app writes must put it back.
    monkeypatch.setenv("PHB_PUBLIC_BASE_URL", "https://abc.execute-api.eu-west-2.amazonaws.com/api")
    get_settings.cache_clear()
    try:
        page = html(browser.get("/referral"))
        assert 'href="/api/static/nhsuk-frontend.min.css"' in page
        assert 'action="/api/referral/start"' in page
        assert re.findall(r'(?:href|action)="/(?!api/)', page) == []
        started = browser.start()
        assert started.headers["Location"] == "/api/referral/referrer"
        assert "Path=/api/referral;" in started.headers["Set-Cookie"]
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize("slug", [s for s in VALID])
def test_a_page_posted_with_its_fields_missing_names_each_one(browser: Browser,
                                                              slug: str) -> None:
    browser.start()
    response = browser.post(f"/referral/{slug}", {})
    assert response.status_code == 422
    linked = html_errors(response)
    assert linked, slug
    for anchor in linked:
        assert f'id="{anchor}"' in html(response), anchor  # each link reaches its field
    assert referral_items() == []
