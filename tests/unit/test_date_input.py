"""Dates typed in three boxes, worded as the GOV.UK date input pattern words its errors."""

from __future__ import annotations

import pytest

from chalicelib.web.forms import date_input, parse_date


def boxes(day: str, month: str, year: str) -> dict[str, str]:
    return {"d[day]": day, "d[month]": month, "d[year]": year}


@pytest.mark.parametrize("day, month, year, message", [
    ("1", "5", "", "Date of birth must include a year"),
    ("", "5", "", "Date of birth must include a day and year"),
    ("", "", "1985", "Date of birth must include a day and month"),
    ("1", "5", "84", "Year must include 4 numbers"),
    ("1", "5", "19845", "Year must include 4 numbers"),
    ("30", "2", "1985", "Date of birth must be a real date"),
    ("1", "13", "1985", "Date of birth must be a real date"),
    ("1", "Ju", "1985", "Date of birth must be a real date"),
    ("x", "5", "1985", "Date of birth must be a real date"),
    ("\u00b2", "5", "1985", "Date of birth must be a real date"),
])
def test_each_mistake_has_the_gov_uk_message(day: str, month: str, year: str,
                                             message: str) -> None:
    assert date_input(boxes(day, month, year), "d", "Date of birth") == (None, message)


@pytest.mark.parametrize("month", ["6", "06", "June", "june", "JUNE", "Jun", "jun."])
def test_the_month_may_be_a_number_or_a_name(month: str) -> None:
    assert date_input(boxes("15", month, "1984"), "d", "Date of birth") == ("1984-06-15", None)


def test_sept_is_september_and_all_blank_is_no_date() -> None:
    assert date_input(boxes("1", "Sept", "2027"), "d", "Target date")[0] == "2027-09-01"
    assert date_input(boxes(" ", "", ""), "d", "Target date") == (None, None)


def test_parse_date_still_gives_the_end_of_a_sentence_for_other_forms() -> None:
    assert parse_date(boxes("1", "5", ""), "d") == (None, "must include a year")
    assert parse_date(boxes("1", "5", "84"), "d") == (
        None, "must include a year of 4 numbers, like 2027")
    assert parse_date(boxes("1", "June", "2026"), "d") == ("2026-06-01", None)
