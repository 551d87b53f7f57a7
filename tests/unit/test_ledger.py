"""The money of one referral: approved at final sign-off, released in entries never past it,
monthly items on a schedule, unspent money to recover; no AWS involved."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from chalicelib.domain import ledger
from tests.unit.test_rules import item

FIRST = date(2026, 12, 1)


def approved(*items: Any) -> ledger.Ledger:
    return ledger.approve(items or [item(cost_pence=8499)], "2026-11-30T10:00:00.000Z",
                          "referrer")


def release(money: ledger.Ledger, pence: int, on: date = FIRST) -> ledger.Ledger:
    return ledger.release(money, pence, on, "prepaid_card", "CARD-1", "ann@x.org", "now")


def test_final_sign_off_fixes_each_item_and_the_total() -> None:
    money = approved(item(cost_pence=5000), item("Data", "smartphone_data", 1500, "monthly", 3))
    assert [i["total_pence"] for i in money["approved"]["items"]] == [5000, 4500]
    assert ledger.approved_total(money) == 9500 and ledger.remaining(money) == 9500
    assert (money["releases"], money["unspent"]) == ([], [])


def test_exactly_what_is_left_may_be_released_and_not_a_penny_more() -> None:
    money = approved()
    with pytest.raises(ledger.Refused) as over:
        release(money, 8500)
    assert over.value.field == "amount" and "£84.99" in over.value.message
    done = release(money, 8499)
    assert ledger.remaining(done) == 0
    with pytest.raises(ledger.Refused) as more:
        release(done, 1)
    assert "more money is an amendment" in more.value.message
    for nothing in (0, -1):
        with pytest.raises(ledger.Refused):
            release(money, nothing)


def test_a_partial_release_is_followed_by_the_rest() -> None:
    money = release(release(approved(), 4000), 4499, date(2027, 1, 1))
    assert [r["amount_pence"] for r in money["releases"]] == [4000, 4499]
    assert ledger.released_total(money) == 8499 and ledger.remaining(money) == 0


def test_monthly_items_are_released_month_by_month() -> None:
    money = approved(item(cost_pence=5000), item("Data", "smartphone_data", 2000, "monthly", 3))
    assert ledger.schedule(money, FIRST) == [(FIRST, 7000), (date(2027, 1, 1), 9000),
                                             (date(2027, 2, 1), 11000)]
    assert ledger.next_due(money, None) is None  # nothing released yet: no schedule
    first = release(money, 7000)
    assert ledger.next_due(first, FIRST) == date(2027, 1, 1)
    second = release(first, 2000, date(2027, 1, 2))
    assert ledger.next_due(second, FIRST) == date(2027, 2, 1)
    assert ledger.next_due(release(second, 2000), FIRST) is None
    # A month paid short is still due.
    assert ledger.next_due(release(first, 1999), FIRST) == date(2027, 1, 1)


def test_unspent_money_is_at_most_what_was_released_and_is_settled_once() -> None:
    money = release(approved(), 8000)
    with pytest.raises(ledger.Refused) as over:
        ledger.report_unspent(money, 8001, "review", "sam@nhs.net", "t")
    assert over.value.field == "unspent" and "£80.00" in over.value.message
    assert ledger.report_unspent(money, 0, "review", "sam@nhs.net", "t") == money
    reported = ledger.report_unspent(money, 3000, "review", "sam@nhs.net", "t")
    [entry] = reported["unspent"]
    assert (entry["amount_pence"], entry["state"]) == (3000, "to_recover")
    with pytest.raises(ledger.Refused):  # with 30.00 reported, at most 50.00 more
        ledger.report_unspent(reported, 5001, "closure", "sam@nhs.net", "t")
    settled = ledger.settle(reported, entry["id"], "recovered", "ann@x.org", "t2")
    assert ledger.unspent_total(settled, "recovered") == 3000
    assert ledger.unspent_total(settled, "to_recover") == 0
    with pytest.raises(ledger.Refused):
        ledger.settle(settled, entry["id"], "written_off", "ann@x.org", "t3")
    with pytest.raises(ledger.Refused):
        ledger.settle(reported, entry["id"], "lost", "ann@x.org", "t3")


def test_nothing_changes_the_ledger_it_is_given() -> None:
    money = approved()
    release(money, 100)
    assert money["releases"] == []


@pytest.mark.parametrize("typed, pence", [("84.99", 8499), ("£1,200", 120000),
                                          ("999999999.99", 99999999999),
                                          ("1000000000", None), ("9" * 4200, None),
                                          ("-5", None), ("1e3", None)])
def test_typed_amounts_are_bounded(typed: str, pence: int | None) -> None:
    from chalicelib.domain.money import parse_pounds

    assert parse_pounds(typed) == pence
