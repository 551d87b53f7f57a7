"""Money: always integer pence, shown as pounds; item and referral totals."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol


class CostedItem(Protocol):
    """What a total needs of an item (the contract's `Item`, or a plain stand-in in tests)."""

    @property
    def description(self) -> str: ...

    @property
    def category(self) -> str: ...

    @property
    def cost_pence(self) -> int: ...

    @property
    def recurrence(self) -> str: ...

    @property
    def months(self) -> int | None: ...


def item_total_pence(item: CostedItem) -> int:
    """A one-off item's cost, or a monthly item's cost times its months."""
    if item.recurrence == "monthly":
        return item.cost_pence * (item.months or 1)
    return item.cost_pence


def total_pence(items: Iterable[CostedItem]) -> int:
    return sum(item_total_pence(item) for item in items)


def format_pence(pence: int) -> str:
    """`123456` -> `£1,234.56`."""
    pounds, rest = divmod(pence, 100)
    return f"£{pounds:,}.{rest:02d}"


def format_whole_pounds(pence: int) -> str:
    """`25000` -> `£250`, `25050` -> `£250.50`: a threshold as people say it."""
    return format_pence(pence).removesuffix(".00")


# At most £999,999,999.99: no typed amount can be large enough to break a sum or a report.
_MONEY = re.compile(r"^£?\s*([0-9]{1,3}(,[0-9]{3}){1,2}|[0-9]{1,9})(\.([0-9]{1,2}))?$")


def parse_pounds(text: str) -> int | None:
    """`45`, `45.5`, `£1,200.00` -> pence; None when it is not an amount of money (or is more
    than anyone could type for a PHB: a billion pounds or over)."""
    match = _MONEY.match(text.strip())
    if not match:
        return None
    pounds = int(match.group(1).replace(",", ""))
    pence = int((match.group(4) or "0").ljust(2, "0"))
    return pounds * 100 + pence
