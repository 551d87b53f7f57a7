"""The reports pages: figures from referrals stored through the real intake, the date range,
and each report as CSV. The figures themselves are checked in tests/unit/test_reports.py."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.factories import in_borough
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
    submit(api, total_pence=12000)
    submit(api, total_pence=30000, person=in_borough("newham"))
    page = staff.get(f"/staff/reports?from={today()}&to={today()}")
    assert page.status_code == 200, body(page)
    html = body(page)
    assert "Referrals submitted from" in html and "<strong>2</strong>" in html
    assert cells(html, "Newham") == ["1"]
    assert cells(html, "City &amp; Hackney") == ["1"]
    assert cells(html, "Waiting for sign-off") == ["2"]
    assert cells(html, "Referring professional (under £250)")[0] == "1"
    # Each report has its chart (server-rendered SVG) and a CSV link for the same range.
    assert html.count('<svg class="phb-chart" role="img"') == 10
    assert html.count(f'.csv?from={today()}&amp;to={today()}"') == 11
    assert "<script" not in html.split("</header>", 1)[-1].split("<footer", 1)[0]


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
    assert "<strong>1</strong>" in html


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
    assert list(csv.reader(io.StringIO(body(answer)))) == [
        ["Borough", "Referrals"], ["City & Hackney", "1"], ["Tower Hamlets", "0"],
        ["Newham", "0"]]
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
