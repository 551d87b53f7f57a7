"""Reading posted forms: urlencoded bodies, refused whole when malformed rather than guessed at."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from chalicelib.domain import text
from chalicelib.domain.errors import FieldError
from chalicelib.domain.policy import (
    MAX_BODY_BYTES,
    MAX_FORM_FIELD_CHARS,
    MAX_FORM_FIELDS,
    MAX_GOALS,
    MAX_ITEMS,
)

# The form's lists and how many rows each may have. A field naming a row beyond them is
# refused before anything loops over rows: a loop up to the largest index named would let a
# 40-byte body (`items.1000000000000.description=a`) hold a Lambda to its timeout.
ROW_LIMITS = {"goals": MAX_GOALS, "items": MAX_ITEMS}
ROW_FIELD = re.compile(r"^(goals|items)\.([^.]*)\.")


class FormRejected(Exception):
    """The request itself is malformed (not a user's typing mistake)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_form(body: bytes) -> dict[str, str]:
    """Decode a urlencoded body; a field sent twice or far too long is refused, not guessed at."""
    if len(body) > MAX_BODY_BYTES:
        raise FormRejected("The form is too large to send. Shorten your answers and try again.")
    try:
        text = body.decode("utf-8")
        fields = parse_qs(text, keep_blank_values=True, strict_parsing=False,
                          max_num_fields=MAX_FORM_FIELDS, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise FormRejected("The form could not be read. Go back and try again.") from None
    result = {}
    for name, values in fields.items():
        if len(values) != 1:
            raise FormRejected(f"The form sent the field {_shown(name)} more than once.")
        if len(values[0]) > MAX_FORM_FIELD_CHARS:
            raise FormRejected(f"The answer in {_shown(name)} is too long.")
        _check_row(name)
        result[name] = values[0]
    return result


def _check_row(name: str) -> None:
    """Refuse a row index the form cannot have: not a plain number from 0 (no leading zero, so
    one row has one name), or past the list's limit."""
    match = ROW_FIELD.match(name)
    if match is None:
        return
    index = match.group(2)
    limit = ROW_LIMITS[match.group(1)]
    if not (is_number(index) and len(index) <= 2 and (index == "0" or index[0] != "0")
            and int(index) < limit):
        raise FormRejected(f"The form sent a row that does not exist ({_shown(name)}). Go "
                           "back and try again.")


def _shown(name: str) -> str:
    """A posted field's name as a message may quote it: short (names are the sender's text)."""
    return repr(name if len(name) <= 40 else name[:40] + "…")


def typed_text(posted: dict[str, str], name: str) -> str:
    """A text box's answer, trimmed, with browsers' line endings made plain."""
    return posted.get(name, "").strip().replace("\r\n", "\n")


def checked_text(posted: dict[str, str], name: str, what: str, *, one_line: bool = False,
                 a_name: bool = False) -> tuple[str, FieldError | None]:
    """A text box's answer, trimmed and made one form (`chalicelib/domain/text.py`), and the
    field error when it holds characters nobody can see, a line break in a line of text, or,
    for a person's name, no letter. `what` begins the message ("the reason"). A blank answer
    has no error here: whether one is needed is the form's to say."""
    value = typed_text(posted, name)
    if not value:
        return value, None
    try:
        if a_name:
            return text.clean_name(value), None
        return text.clean(value, multi_line=not one_line), None
    except text.Refused as refused:
        return value, FieldError(name, f"{what[:1].upper()}{what[1:]} {refused.message}")


def is_number(text: str) -> bool:
    """Digits 0-9 only: str.isdigit() also accepts "²", which int() refuses."""
    return text.isascii() and text.isdigit()


# Month names people type in the month box ("June", "jun", "Sept"), as GOV.UK's date input
# accepts them: three letters or more, the start of the month's name.
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
_PARTS = ("day", "month", "year")


def _month_number(text: str) -> str | None:
    """A month box's answer as its number ("6", "06", "June", "jun", "Sept" -> "6")."""
    if is_number(text):
        return text
    word = text.lower().rstrip(".")
    for number, month in enumerate(_MONTHS, start=1):
        if len(word) >= 3 and month.startswith(word):
            return str(number)
    return None


def date_input(values: dict[str, str], name: str, what: str) -> tuple[str | None, str | None]:
    """(ISO date, error message) from the boxes `name[day]`, `name[month]`, `name[year]`,
    worded as the GOV.UK date input pattern words them: "`What` must include a year", "Year
    must include 4 numbers", "`What` must be a real date". `what` begins the message ("Date of
    birth"). All three blank is (None, None): whether a date is needed is the caller's to say.
    """
    from datetime import date

    parts = [values.get(f"{name}[{p}]", "").strip() for p in _PARTS]
    if all(p == "" for p in parts):
        return None, None
    missing = [part for part, typed in zip(_PARTS, parts, strict=True) if typed == ""]
    if missing:
        return None, f"{what} must include a {' and '.join(missing)}"
    day, month, year = parts[0], _month_number(parts[1]), parts[2]
    if not (is_number(day) and month is not None and is_number(year)):
        return None, f"{what} must be a real date"
    if len(year) != 4:
        return None, "Year must include 4 numbers"
    try:
        return date(int(year), int(month), int(day)).isoformat(), None
    except ValueError:
        return None, f"{what} must be a real date"


def date_parts_in_error(message: str | None) -> tuple[str, ...]:
    """Which of a date's boxes an error is about, so only those are highlighted and the error
    summary links to the first (GOV.UK's date input pattern): the parts it must include, the
    year for its length, all three for a date that is not real."""
    if not message:
        return ()
    words = message.lower()
    if words.startswith("year must"):
        return ("year",)
    if "must include a " in words:
        wanted = words.split("must include a ", 1)[1]
        return tuple(part for part in _PARTS if part in wanted) or _PARTS
    return _PARTS


def parse_date(values: dict[str, str], name: str) -> tuple[str | None, str | None]:
    """(ISO date, the end of an error message) from the three boxes `name[day]`, `name[month]`,
    `name[year]`: the caller puts what the date is in front ("must include a month"). Prefer
    `date_input`, whose messages are whole (a year of 2 numbers is about the year box)."""
    value, error = date_input(values, name, "")
    if error == "Year must include 4 numbers":
        return None, "must include a year of 4 numbers, like 2027"
    return value, error.strip() if error else None
