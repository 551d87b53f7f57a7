"""The reports publish no small numbers: counts below the threshold, figures worked out from
fewer people, and the figure beside a lone withheld one in a total, read "fewer than 5"."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import pytest

from chalicelib.config import Settings, settings_from_environ
from chalicelib.domain import reports
from chalicelib.domain.disclosure import Withheld, show, to_csv, withhold_small_numbers
from chalicelib.domain.reports import Column, Table
from chalicelib.web.charts import bar_chart
from tests.unit.test_reports import END, FACTS, POPULATION, START, TIERS, fact

W = Withheld(5)


def counts(*values: int, grouped: bool = True) -> Table:
    rows: list[list[Any]] = [[f"Row {i}", v] for i, v in enumerate(values)]
    return Table("t", "T", [Column("What"), Column("Referrals", "count")], rows,
                 total=sum(values), groups=[[(r, 1) for r in range(len(rows))]] if grouped
                 else [])


def shown(table: Table) -> list[list[Any]]:
    return [row[1:] for row in withhold_small_numbers(table, 5).rows]


def test_a_count_of_one_to_four_is_withheld_and_zero_is_shown() -> None:
    assert shown(counts(12, 1, 4, 0, 5, grouped=False)) == [[12], [W], [W], [0], [5]]
    assert show(W, "count") == "fewer than 5"
    assert str(Withheld(10)) == "fewer than 10"


def test_a_lone_withheld_count_in_a_total_takes_the_next_smallest_with_it() -> None:
    # 3 alone could be worked out from the total (123) less 120: the next smallest goes too,
    # a zero when there is one (and "fewer than 5" is then true of it).
    assert shown(counts(120, 0, 3)) == [[120], [W], [W]]
    # No zero: the next smallest, however large, reads the same, so which one was small is
    # not given away.
    assert shown(counts(120, 98, 3)) == [[120], [W], [W]]
    # Two withheld already: nothing more to hide; none withheld: nothing to do.
    assert shown(counts(120, 2, 3, 0)) == [[120], [W], [W], [0]]
    assert shown(counts(120, 98, 0)) == [[120], [98], [0]]


def test_figures_worked_out_from_fewer_than_five_people_are_withheld() -> None:
    table = Table("spend", "Spend", [Column("How"), Column("PHBs", "count"),
                                     Column("Total", "pence", of=1),
                                     Column("Average", "pence", of=1),
                                     Column("Share", "share", of=1)],
                  [["One person", 1, 40000, 40000, 1.0], ["Nobody", 0, 0, None, None],
                   ["Seven", 7, 70000, 10000, 0.5]])
    assert shown(table) == [[W, W, W, W], [0, 0, None, None], [7, 70000, 10000, 0.5]]


def test_an_average_goes_with_a_count_withheld_beside_a_small_one() -> None:
    # Notional 3 is withheld; the next smallest (mixed, 6) goes with it, and so do their
    # totals and averages (a total and an average give the count back). "All" is their total.
    table = reports.spend_by_management([
        *(fact(f"D{i}", "2026-04-01T09:00:00.000Z", "funds_released", "referrer", "newham", "A",
               [("course", 1000)], 10, released=("2026-04-02T09:00:00.000Z", 1000, how))
          for i, how in enumerate(["direct_payment"] * 10 + ["notional"] * 3
                                  + ["third_party"] * 7 + ["mixed"] * 6))])
    assert shown(table) == [[10, 10000, 1000], [W, W, W], [7, 7000, 1000], [W, W, W],
                            [26, 26000, 1000]]


def test_the_ethnicity_of_two_people_is_not_published_as_shares() -> None:
    two = [fact(f"E{i}", "2026-04-01T09:00:00.000Z", "funds_released", "referrer", "newham",
                letter, [("course", 1000)], 10,
                released=("2026-04-02T09:00:00.000Z", 1000, "direct_payment"))
           for i, letter in enumerate("AN")]
    table = withhold_small_numbers(reports.equality(two, POPULATION), 5)
    by_group = {row[0]: row[1:] for row in table.rows}
    # Not 50% and 50%: the counts, the shares of holders and their differences are withheld;
    # shares of 2 people are withheld even at 0%. The population's own shares are shown.
    assert by_group["White"] == [W, W, 0.5, W]
    assert by_group["Black or Black British"] == [W, W, 0.1, W]
    assert by_group["Mixed or multiple"] == [0, W, 0.1, W]
    assert by_group["Not stated"] == [0, None, None, None]
    assert "50%" not in str(bar_chart(table)) and "fewer than 5" in str(bar_chart(table))


def test_one_person_in_an_ethnic_group_takes_a_zero_with_it() -> None:
    # Without it, "fewer than 5" Black beside zeros and a known total of holders would say
    # who: the first zero (White, before the others) reads the same.
    one = [fact("E0", "2026-04-01T09:00:00.000Z", "funds_released", "referrer", "newham", "N",
                [("course", 1000)], 10,
                released=("2026-04-02T09:00:00.000Z", 1000, "direct_payment"))]
    table = withhold_small_numbers(reports.equality(one, POPULATION), 5)
    assert [row[1] for row in table.rows] == [W, 0, 0, W, 0, 0]


def test_release_entries_of_fewer_than_five_people_are_withheld() -> None:
    # Six monthly releases to one person are six entries but one person's money.
    monthly = {**fact("M1", "2026-04-01T09:00:00.000Z", "funds_released", "referrer", "newham",
                      "A", [("membership", 6000)], 10, signed_off="2026-04-02T09:00:00.000Z"),
               "approved_pence": 6000, "unspent": [],
               "releases": [{"on": f"2026-0{m}-01", "amount_pence": 1000} for m in range(4, 10)]}
    table = withhold_small_numbers(reports.money([monthly], date(2026, 4, 1),
                                                 date(2026, 9, 30)), 5)
    by_row = {row[0].strip(): row[1:] for row in table.rows}
    assert by_row["Released (any PHB)"] == [W, W]
    assert by_row["Approved at final sign-off"] == [W, W]
    assert by_row["Reported unspent"] == [0, 0]


def test_a_quarterly_row_withholds_two_ways_of_managing_or_none() -> None:
    table = Table("q", "Q", [Column("Quarter"), Column("Cohort"), Column("Measure"),
                             *[Column(h, "count") for h in ("DP", "N", "TP", "Mix")],
                             Column("Total", "count")],
                  [["Q1", "Other", "New", 40, 2, 20, 9, 71]],
                  groups=[[(0, c) for c in range(3, 7)]])
    assert withhold_small_numbers(table, 5).rows == [["Q1", "Other", "New", 40, W, 20, W, 71]]


def test_every_report_keeps_the_rule(threshold: int = 5) -> None:
    # The hand-worked data set of tests/unit/test_reports.py: no count of 1 to 4 is left, no
    # group holds exactly one withheld cell, and the total of fewer than 5 is withheld.
    for table in reports.all_reports(FACTS, START, END, POPULATION, TIERS):
        safe = withhold_small_numbers(table, threshold)
        for row, column in ((row, c) for row in safe.rows for c in range(len(table.columns))):
            if table.columns[column].kind == "count":
                assert not (isinstance(row[column], int) and 0 < row[column] < threshold)
        for group in safe.groups:
            assert sum(isinstance(safe.rows[r][c], Withheld) for r, c in group) != 1, table.name
        assert safe.total == (W if 0 < table.total < threshold else table.total)


def test_withheld_figures_read_the_same_in_the_csv_and_have_no_bar_in_the_chart() -> None:
    table = withhold_small_numbers(
        Table("spend", "Spend", [Column("How"), Column("PHBs", "count"),
                                 Column("Total", "pence", of=1)],
              [["Few", 2, 9000], ["Many", 8, 80000]], chart=(0, 2)), 5)
    assert list(csv.reader(io.StringIO(to_csv(table)))) == [
        ["How", "PHBs", "Total (£)"], ["Few", "fewer than 5", "fewer than 5"],
        ["Many", "8", "800.00"]]
    svg = str(bar_chart(table))
    assert svg.count("<rect") == 1 and 'width="300.0"' in svg  # the scale is the shown one
    assert "fewer than 5" in svg and "£90.00" not in svg


def test_a_threshold_of_one_withholds_nothing() -> None:
    assert withhold_small_numbers(counts(120, 0, 3), 1).rows == counts(120, 0, 3).rows


def test_the_threshold_is_a_bounded_setting() -> None:
    assert Settings(stage="test").small_number_threshold == 5
    assert settings_from_environ({"PHB_STAGE": "test", "PHB_SMALL_NUMBER_THRESHOLD": "10"}
                                 ).small_number_threshold == 10
    with pytest.raises(ValueError, match="small_number_threshold must be from 1 to 100"):
        Settings(stage="test", small_number_threshold=0)
