"""The reports pages: figures from referrals stored through the real intake, the date range,
and each report as CSV. The figures themselves are checked in tests/unit/test_reports.py."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.factories import another_person
from tests.http.test_staff_console import Staff, submit
from tests.http.test_staff_sign_in import body, get


@pytest.fixture
def staff(client: Any) -> Staff:
    return Staff(client)


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def cells(page: str, heading: str) -> list[str]:
    """The cells of the table row headed `heading`, as text."""
    row = re.search(rf'<th scope="row" class="nhsuk-table__header">{re.escape(heading)}</th>'
                    rf'(.*?)</tr>', page, re.S)
    assert row, heading
    return [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]


def test_reports_show_figures_of_the_referrals_stored(staff: Staff, api: Any) -> None:
    for n in range(5):
        submit(api, total_pence=12000, person=another_person(n))
    submit(api, total_pence=30000, person=another_person(5, borough="newham"))
    page = staff.get(f"/staff/reports?from={today()}&to={today()}")
    assert page.status_code == 200, body(page)
    html = body(page)
    assert "Referrals submitted from" in html and "<strong>6</strong>" in html
    assert cells(html, "City &amp; Hackney") == ["5"]
    # Newham's one is fewer than 5; Tower Hamlets' 0 is withheld beside it, or the total of 6
    # less Hackney's 5 would give Newham's away.
    assert cells(html, "Newham") == ["fewer than 5"]
    assert cells(html, "Tower Hamlets") == ["fewer than 5"]
    assert cells(html, "Waiting for sign-off") == ["6"]
    assert cells(html, "Submitted") == ["0"]
    assert cells(html, "Referring professional (under £250)")[0] == "5"
    assert cells(html, "Approving manager (£250 to £500)")[0] == "fewer than 5"
    # The mean ReQoL-10 of 6 people is shown.
    assert cells(html, "Baseline (referral)")[:2] == ["6", "20.0"]
    assert "So that no one can be picked out" in html
    # Each report has its chart (server-rendered SVG) and a CSV link for the same range.
    assert html.count('<svg class="phb-chart" role="img"') == 10
    assert html.count(f'.csv?from={today()}&amp;to={today()}"') == 11
    assert "<script" not in html.split("</header>", 1)[-1].split("<footer", 1)[0]


def test_small_counts_and_figures_from_few_people_read_fewer_than_5(staff: Staff,
                                                                    api: Any) -> None:
    submit(api, total_pence=12000)
    submit(api, total_pence=12000, person=another_person(0, ethnicity="A"))
    html = body(staff.get(f"/staff/reports?from={today()}&to={today()}"))
    assert "<strong>fewer than 5</strong>" in html
    assert cells(html, "Waiting for sign-off") == ["fewer than 5"]
    assert cells(html, "City &amp; Hackney") == ["fewer than 5"]
    # The mean of 2 people's ReQoL-10 and the cost 2 people asked for are not shown.
    assert cells(html, "Baseline (referral)")[:2] == ["fewer than 5", "fewer than 5"]
    assert cells(html, "Membership") == ["fewer than 5"] * 3
    assert "£240.00" not in html and ">20.0<" not in html and "50%" not in html
    # Nor in the charts: a withheld figure has no bar.
    category = html.split('id="chart-category"', 1)[1].split("</svg>", 1)[0]
    assert "fewer than 5" in category
    reqol = html.split('id="chart-reqol"', 1)[1].split("</svg>", 1)[0]
    assert "<rect" not in reqol and "fewer than 5" in reqol
    # And the same in the CSVs.
    rows = list(csv.reader(io.StringIO(body(staff.get(
        f"/staff/reports/reqol.csv?from={today()}&to={today()}")))))
    assert rows[1] == ["Baseline (referral)", "fewer than 5", "fewer than 5", "", ""]
    rows = list(csv.reader(io.StringIO(body(staff.get(
        f"/staff/reports/category.csv?from={today()}&to={today()}")))))
    assert ["Membership", "fewer than 5", "fewer than 5", "fewer than 5"] in rows
    assert not any("240" in cell for row in rows for cell in row)


def test_a_range_before_any_referral_counts_nothing(staff: Staff, api: Any) -> None:
    submit(api)
    earlier = (datetime.now(UTC).date() - timedelta(days=30)).isoformat()
    html = body(staff.get(f"/staff/reports?from={earlier}&to={earlier}"))
    assert "<strong>0</strong>" in html
    assert cells(html, "Waiting for sign-off") == ["0"]


def test_without_dates_the_financial_year_so_far(staff: Staff, api: Any) -> None:
    submit(api)
    html = body(staff.get("/staff/reports"))
    assert f'value="{today()}"' in html
    assert "<strong>fewer than 5</strong>" in html


@pytest.mark.parametrize(("query", "field", "message"), [
    ("from=2026-02-30&to=2026-03-01", "from", "Enter the start date as a real date"),
    ("from=2026-04-01&to=soon", "to", "Enter the end date as a real date"),
    ("from=2026-05-01&to=2026-04-01", "to", "The end date must be the same as or after"),
    ("from=0001-01-01&to=2026-04-01", "from", "Choose dates no more than 10 years apart"),
])
def test_a_bad_date_range_names_the_field(staff: Staff, query: str, field: str,
                                          message: str) -> None:
    page = staff.get(f"/staff/reports?{query}")
    assert page.status_code == 422
    html = body(page)
    assert f'href="#{field}"' in html and message in html
    assert "phb-chart" not in html
    csv_answer = staff.get(f"/staff/reports/status.csv?{query}")
    assert csv_answer.status_code == 422 and message in body(csv_answer)


def test_each_report_downloads_as_csv(staff: Staff, api: Any) -> None:
    submit(api, total_pence=12000)
    answer = staff.get(f"/staff/reports/borough.csv?from={today()}&to={today()}")
    assert answer.status_code == 200, body(answer)
    assert answer.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert answer.headers["Content-Disposition"] == (
        f'attachment; filename="phb-borough-{today()}-to-{today()}.csv"')
    # One referral: fewer than 5, and the first zero beside it (the page's total would give
    # it away otherwise).
    assert list(csv.reader(io.StringIO(body(answer)))) == [
        ["Borough", "Referrals"], ["City & Hackney", "fewer than 5"],
        ["Tower Hamlets", "fewer than 5"], ["Newham", "0"]]
    for name in ("status", "tier", "category", "sign-off", "money", "spend-management",
                 "spend-category", "reqol", "equality", "nhse-quarterly"):
        assert staff.get(f"/staff/reports/{name}.csv").status_code == 200, name
    assert staff.get("/staff/reports/salaries.csv").status_code == 404
    assert staff.get("/staff/reports/borough").status_code == 404


def test_reports_need_a_signed_in_advisor(client: Any) -> None:
    for path in ("/staff/reports", "/staff/reports/borough.csv"):
        answer = get(client, path, "")
        assert answer.status_code == 303
        assert answer.headers["Location"].endswith("/staff/sign-in")
