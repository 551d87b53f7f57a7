"""Each report figure against a small data set worked out by hand (the comments show the sums).

Range: 1 April to 30 June 2026 (Q1 of 2026/27). R1–R7 were submitted in it; R0 before it
(its PHB was still in place at the quarter's end) and R8 after it.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import pytest

from chalicelib.config import Settings, load_population
from chalicelib.domain import disclosure, reports
from chalicelib.web.charts import bar_chart

START, END = date(2026, 4, 1), date(2026, 6, 30)
TIERS = Settings(stage="test").tier_labels
POPULATION = {"area": "Testborough", "source": "made up for the test",
              "shares": {"white": 0.5, "mixed": 0.1, "asian": 0.2, "black": 0.1, "other": 0.1}}


def fact(reference: str, submitted: str, status: str, tier: str | None, borough: str,
         ethnicity: str, items: list[tuple[str, int]], baseline: int, *,
         section_117: bool = False, signed_off: str | None = None,
         released: tuple[str, int, str] | None = None, review: int | None = None,
         closure: int | None = None, reliable: bool | None = None,
         ended: str | None = None) -> dict[str, Any]:
    return {
        "reference": reference, "submitted_at": submitted, "status": status, "tier": tier,
        "flagged": False, "borough": borough, "ethnicity": ethnicity,
        "section_117": section_117, "budget_management": "direct_payment",
        "total_pence": sum(cost for _, cost in items),
        "items": [{"category": c, "cost_pence": cost} for c, cost in items],
        "signed_off_at": signed_off,
        "released": {"at": released[0], "amount_pence": released[1],
                     "management": released[2]} if released else None,
        "reqol_baseline": baseline, "reqol_review": review, "reqol_closure": closure,
        "reliable_improvement": reliable, "closed_at": ended if status == "closed" else None,
        "ended_at": ended,
    }


FACTS = [
    fact("R0", "2026-03-20T09:00:00.000Z", "funds_released", "referrer", "newham", "N",
         [("travel", 8000)], 12, section_117=True, signed_off="2026-03-21T09:00:00.000Z",
         released=("2026-03-25T10:00:00.000Z", 8000, "direct_payment")),
    fact("R1", "2026-04-01T09:00:00.000Z", "closed", "referrer", "city_and_hackney", "N",
         [("smartphone_data", 12000)], 20, signed_off="2026-04-02T09:00:00.000Z",  # 1 day
         released=("2026-04-03T10:00:00.000Z", 12000, "direct_payment"), review=24,
         closure=28, reliable=True, ended="2026-06-10T12:00:00.000Z"),
    fact("R2", "2026-04-05T09:00:00.000Z", "reviewed", "referrer", "tower_hamlets", "K",
         [("membership", 20000)], 15, section_117=True,
         signed_off="2026-04-08T09:00:00.000Z",  # 3 days
         released=("2026-04-10T10:00:00.000Z", 20000, "notional"), review=18),
    fact("R3", "2026-04-10T09:00:00.000Z", "funds_released", "referrer", "newham", "A",
         [("course", 10000), ("equipment", 5000)], 22,
         signed_off="2026-04-15T21:00:00.000Z",  # 5.5 days
         released=("2026-07-02T10:00:00.000Z", 15000, "direct_payment")),  # in Q2
    fact("R4", "2026-05-01T09:00:00.000Z", "agreement_accepted", "manager", "city_and_hackney",
         "M", [("equipment", 30000)], 18, signed_off="2026-05-03T09:00:00.000Z"),  # 2 days
    fact("R5", "2026-05-02T09:00:00.000Z", "closed", "manager", "city_and_hackney", "Z",
         [("activity", 40000)], 10, signed_off="2026-05-06T09:00:00.000Z",  # 4 days
         released=("2026-05-07T10:00:00.000Z", 40000, "third_party"), review=12, closure=12,
         reliable=False, ended="2026-06-20T12:00:00.000Z"),
    fact("R6", "2026-05-10T09:00:00.000Z", "awaiting_sign_off", "panel", "newham", "D",
         [("course", 60000)], 25),
    fact("R7", "2026-06-01T09:00:00.000Z", "rejected", "referrer", "tower_hamlets", "R",
         [("other", 5000)], 30, ended="2026-06-03T09:00:00.000Z"),
    fact("R8", "2026-07-05T09:00:00.000Z", "submitted", None, "newham", "A",
         [("course", 9000)], 5),
]


@pytest.fixture(scope="module")
def tables() -> dict[str, reports.Table]:
    return {t.name: t for t in reports.all_reports(FACTS, START, END, POPULATION, TIERS)}


def rows(table: reports.Table) -> dict[str, list[Any]]:
    return {row[0]: row[1:] for row in table.rows}


def test_counts_by_status_tier_and_borough_keep_to_the_range(tables: dict[str, Any]) -> None:
    # R1–R7 only: R0 was submitted before the range and R8 after it.
    assert tables["status"].total == 7
    status = rows(tables["status"])
    assert status["Closed"] == [2]  # R1, R5
    assert status["Reviewed: closure at the goal date to come"] == [1]  # R2
    assert status["Money released: 6-week review to come"] == [1]  # R3 (not R0)
    assert status["Agreement accepted: waiting for the money to be released"] == [1]  # R4
    assert status["Waiting for sign-off"] == [1]  # R6
    assert status["Not approved"] == [1]  # R7
    assert status["Submitted"] == [0]  # R8 is outside the range; every status is listed
    assert sum(n for n, in status.values()) == 7

    tier = rows(tables["tier"])
    assert tier["Referring professional (under £250)"] == [4]  # R1, R2, R3, R7
    assert tier["Approving manager (£250 to £500)"] == [2]  # R4, R5
    assert tier["Manager and Oversight Panel (over £500)"] == [1]  # R6

    assert rows(tables["borough"]) == {"City & Hackney": [3],  # R1, R4, R5
                                       "Tower Hamlets": [2],  # R2, R7
                                       "Newham": [2]}  # R3, R6


def test_counts_by_category_of_item(tables: dict[str, Any]) -> None:
    # [referrals asking for it, items, cost requested in pence]
    assert rows(tables["category"]) == {
        "Equipment": [2, 2, 35000],  # R3 5000 + R4 30000
        "Membership": [1, 1, 20000],  # R2
        "Course": [2, 2, 70000],  # R3 10000 + R6 60000
        "Activity": [1, 1, 40000],  # R5
        "Smartphone or data": [1, 1, 12000],  # R1
        "Travel (in the UK)": [0, 0, 0],  # only R0, outside the range
        "Other": [1, 1, 5000],  # R7
    }


def test_time_to_final_sign_off_per_tier(tables: dict[str, Any]) -> None:
    table = rows(tables["sign-off"])
    # Referrer tier: R1 1 day, R2 3 days, R3 5.5 days. Median 3; 90th percentile by nearest
    # rank: ceil(0.9 × 3) = 3rd value = 5.5; within 3 days: R1 and R2 = 2 of 3.
    assert table["Referring professional (under £250)"] == [3, 3.0, 5.5, pytest.approx(2 / 3),
                                                           "2 to 3 days"]
    # Manager tier: R4 2 days, R5 4 days. Median 3; nearest rank ceil(1.8) = 2nd = 4;
    # within 3 days: R4 = 1 of 2.
    assert table["Approving manager (£250 to £500)"] == [2, 3.0, 4.0, 0.5, "None set"]
    # Panel tier: R6 not signed off yet.
    assert table["Manager and Oversight Panel (over £500)"] == [0, None, None, None, "None set"]
    assert tables["sign-off"].total == 5


def test_spend_by_budget_management(tables: dict[str, Any]) -> None:
    # Released among R1–R7: R1 £120 and R3 £150 direct payment, R2 £200 notional, R5 £400
    # third party. [PHBs, total, average] in pence.
    assert rows(tables["spend-management"]) == {
        "Direct payment": [2, 27000, 13500],
        "Notional budget": [1, 20000, 20000],
        "Third-party budget": [1, 40000, 40000],
        "A mix of these": [0, 0, None],
        "All": [4, 87000, 21750],  # 87000 / 4
    }


def test_spend_by_category(tables: dict[str, Any]) -> None:
    # The agreed cost of the released PHBs' (R1, R2, R3, R5) items.
    assert rows(tables["spend-category"]) == {
        "Equipment": [1, 5000, 5000],  # R3
        "Membership": [1, 20000, 20000],  # R2
        "Course": [1, 10000, 10000],  # R3 (R6 was not released)
        "Activity": [1, 40000, 40000],  # R5
        "Smartphone or data": [1, 12000, 12000],  # R1
        "Travel (in the UK)": [0, 0, None],
        "Other": [0, 0, None],  # R7 was rejected
    }


def test_reqol_at_baseline_review_and_closure(tables: dict[str, Any]) -> None:
    table = rows(tables["reqol"])
    # Baseline: (20 + 15 + 22 + 18 + 10 + 25 + 30) / 7 = 140 / 7 = 20.
    assert table["Baseline (referral)"] == [7, 20.0, None, None]
    # Review: R1 24, R2 18, R5 12 → 54 / 3 = 18; changes +4, +3, +2 → 3.
    assert table["6-week review"] == [3, 18.0, 3.0, None]
    # Closure: R1 28, R5 12 → 20; changes +8, +2 → 5; reliable improvement: R1 only → 1 of 2.
    assert table["Closure"] == [2, 20.0, 5.0, 0.5]


def test_equality_compares_holders_with_the_population(tables: dict[str, Any]) -> None:
    # Holders (money released) among R1–R7: R1 Black (N), R2 Asian (K), R3 White (A), R5 not
    # stated (Z). Shares are of the 3 who stated an ethnicity.
    table = rows(tables["equality"])
    third = pytest.approx(1 / 3)
    assert table["White"] == [1, third, 0.5, pytest.approx(1 / 3 - 0.5)]
    assert table["Mixed or multiple"] == [0, 0.0, 0.1, pytest.approx(-0.1)]
    assert table["Asian or Asian British"] == [1, third, 0.2, pytest.approx(1 / 3 - 0.2)]
    assert table["Black or Black British"] == [1, third, 0.1, pytest.approx(1 / 3 - 0.1)]
    assert table["Other ethnic group"] == [0, 0.0, 0.1, pytest.approx(-0.1)]
    assert table["Not stated"] == [1, None, None, None]
    assert "Testborough" in tables["equality"].note


def test_nhs_england_quarterly_counts_by_budget_management(tables: dict[str, Any]) -> None:
    # Columns: direct payment, notional, third party, mixed, total.
    table = {(q, cohort, measure): counts for q, cohort, measure, *counts
             in tables["nhse-quarterly"].rows}
    assert len(table) == 4  # one quarter × two cohorts × two measures
    # Section 117: R2 released in Q1 (notional); in place at 30 June: R0 (released in March,
    # submitted before the range) and R2.
    assert table[("Q1 2026/27", "Section 117 aftercare", "New in the quarter")] == [0, 1, 0, 0, 1]
    assert table[("Q1 2026/27", "Section 117 aftercare",
                  "In place at the quarter's end")] == [1, 1, 0, 0, 2]
    # Other: R1 (direct payment) and R5 (third party) released in Q1, both closed by 30 June;
    # R3's money came in Q2.
    assert table[("Q1 2026/27", "Other mental health", "New in the quarter")] == [1, 0, 1, 0, 2]
    assert table[("Q1 2026/27", "Other mental health",
                  "In place at the quarter's end")] == [0, 0, 0, 0, 0]


@pytest.mark.parametrize(("start", "end", "expected"), [
    (date(2026, 4, 1), date(2026, 6, 30), ["Q1 2026/27"]),
    (date(2026, 2, 15), date(2026, 5, 1), ["Q4 2025/26", "Q1 2026/27"]),
    (date(2026, 11, 1), date(2027, 1, 10), ["Q3 2026/27", "Q4 2026/27"]),
    (date(2026, 12, 31), date(2026, 12, 31), ["Q3 2026/27"]),
])
def test_financial_quarters(start: date, end: date, expected: list[str]) -> None:
    quarters = reports.financial_quarters(start, end)
    assert [name for name, _, _ in quarters] == expected
    assert quarters[0][1] <= start and quarters[-1][2] >= end


def test_no_referrals_gives_empty_figures_not_errors() -> None:
    tables = {t.name: t for t in reports.all_reports([], START, END, POPULATION, TIERS)}
    assert rows(tables["sign-off"])["Referring professional (under £250)"][:4] == [
        0, None, None, None]
    assert rows(tables["reqol"])["Closure"] == [0, None, None, None]
    assert rows(tables["spend-management"])["All"] == [0, 0, None]
    assert "<rect" not in str(bar_chart(tables["sign-off"]))


def test_nearest_rank_percentile() -> None:
    # Ten values 1..10: the 90th percentile is the 9th; of one value, that value.
    assert reports.nearest_rank([float(v) for v in range(10, 0, -1)], 90) == 9.0
    assert reports.nearest_rank([7.0], 90) == 7.0
    assert reports.nearest_rank([], 90) is None


def test_each_report_as_csv(tables: dict[str, Any]) -> None:
    parsed = list(csv.reader(io.StringIO(disclosure.to_csv(tables["spend-management"]))))
    assert parsed[0] == ["Budget management", "PHBs", "Total released (£)",
                         "Average per PHB (£)"]
    assert parsed[1] == ["Direct payment", "2", "270.00", "135.00"]
    assert parsed[4] == ["A mix of these", "0", "0.00", ""]
    sign_off = list(csv.reader(io.StringIO(disclosure.to_csv(tables["sign-off"]))))
    assert sign_off[1] == ["Referring professional (under £250)", "3", "3.00", "5.50", "0.6667",
                           "2 to 3 days"]
    # Every report downloads, header plus its rows.
    for table in tables.values():
        assert len(list(csv.reader(io.StringIO(disclosure.to_csv(table))))) == len(table.rows) + 1


def test_csv_cells_that_look_like_formulas_stay_text() -> None:
    table = reports.Table("t", "T", [reports.Column("Name"), reports.Column("N", "count")],
                          [["=HYPERLINK(\"http://x\")", 1], ["@SUM(A1)", 2], ["-1+1", 3]])
    parsed = list(csv.reader(io.StringIO(disclosure.to_csv(table))))
    assert [row[0] for row in parsed[1:]] == ["'=HYPERLINK(\"http://x\")", "'@SUM(A1)", "'-1+1"]


def test_charts_are_svg_with_escaped_labels_and_bars_to_scale() -> None:
    table = reports.Table("t", "Spend <by> kind",
                          [reports.Column("Kind"), reports.Column("Amount", "pence")],
                          [["<script>alert(1)</script>", 20000], ["Second", 10000]])
    svg = str(bar_chart(table))
    assert svg.startswith("<svg") and 'role="img"' in svg
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "<title id=\"chart-t\">Spend &lt;by&gt; kind: Amount</title>" in svg
    # The larger value fills the bar width (300); the other is half of it.
    assert 'width="300.0"' in svg and 'width="150.0"' in svg
    assert "£200.00" in svg and "£100.00" in svg


def test_shown_values() -> None:
    assert disclosure.show(None, "pence") == "–"
    assert disclosure.show(12345, "pence") == "£123.45"
    assert disclosure.show(2 / 3, "share") == "67%"
    assert disclosure.show(-0.1, "points") == "-10 points"
    assert disclosure.show(3.25, "days") == "3.2"


def test_the_configured_population_file_is_valid(tmp_path: Any) -> None:
    population = load_population(Settings(stage="test").population_file)
    assert population["shares"]["black"] == 0.22  # DOMAIN.md: 22% of the borough's people
    bad = tmp_path / "population.json"
    bad.write_text('{"area": "x", "source": "y", "shares": {"white": 0.9}}')
    with pytest.raises(ValueError, match="broad ethnic group"):
        load_population(str(bad))


def test_tier_labels_follow_the_configured_thresholds() -> None:
    default = {row[0] for row in reports.all_reports(FACTS, START, END, POPULATION,
                                                     TIERS)[1].rows}
    assert "Referring professional (under £250)" in default
    assert "Approving manager (£250 to £500)" in default
    tiers = Settings(stage="test", referrer_signoff_below_pence=40000,
                     manager_signoff_up_to_pence=80050).tier_labels
    tier_table = reports.all_reports(FACTS, START, END, POPULATION, tiers)[1]
    assert [row[0] for row in tier_table.rows][:3] == [
        "Referring professional (under £400)", "Approving manager (£400 to £800.50)",
        "Manager and Oversight Panel (over £800.50)"]
    sign_off = reports.sign_off_times(FACTS, tiers)
    assert [row[0] for row in sign_off.rows] == list(tiers.values())
