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
        "approving_manager.name": "", "approving_manager.email": "",
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


def test_date_errors_link_to_the_day_box(browser: Browser) -> None:
    browser.start()
    response = browser.post("/referral/person", {**VALID["person"],
                                                 "person.date_of_birth[month]": "",
                                                 "person.date_of_birth[day]": "31"})
    assert html_errors(response) == ["person.date_of_birth-day"]
    assert "must include a month" in html(response)


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


def test_manager_is_asked_for_when_the_total_reaches_250_pounds(browser: Browser) -> None:
    browser.fill_all(items={"items.0.cost_pence": "250"})
    check = browser.get("/referral/check")
    assert check.status_code == 422
    assert "approving manager" in html(check)
    assert 'href="/referral/referrer?change=1#approving_manager"' in html(check)


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
