"""Date arithmetic the rules need: ages and calendar months."""

from __future__ import annotations

from datetime import UTC, date, datetime


def age_on(date_of_birth: date, on: date) -> int:
    years = on.year - date_of_birth.year
    if (on.month, on.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years


def add_months(start: date, months: int) -> date:
    """The same day `months` later, clamped to the month's last day (31 Aug + 6 -> 28/29 Feb)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    for day in range(start.day, 27, -1):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    return date(year, month, min(start.day, 28))


def now_iso() -> str:
    """Now in UTC as the table stores times: `2026-12-01T07:42:00.079Z`."""
    return iso(datetime.now(UTC))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def date_time(stamp: str) -> str:
    """`2026-12-01T07:42:00.079957+00:00` -> `1 Dec 2026, 07:42` (UTC, as stored)."""
    moment = parse_iso(stamp)
    return f"{moment.day} {moment:%b %Y, %H:%M}"


def short_date(value: date | str) -> str:
    """`2026-11-28...` -> `28 Nov`, or `28 Nov 2025` in another year: a date in a list."""
    day = date.fromisoformat(value[:10]) if isinstance(value, str) else value
    return f"{day.day} {day:%b}" if day.year == date.today().year else f"{day.day} {day:%b %Y}"


def long_date(value: date | str) -> str:
    """`2026-12-01` -> `1 December 2026`: a date as people read it."""
    day = date.fromisoformat(value[:10]) if isinstance(value, str) else value
    return f"{day.day} {day:%B %Y}"
