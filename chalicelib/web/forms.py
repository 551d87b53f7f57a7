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


def parse_date(values: dict[str, str], name: str) -> tuple[str | None, str | None]:
    """(ISO date, error) from the three boxes `name[day]`, `name[month]`, `name[year]`."""
    from datetime import date

    parts = [values.get(f"{name}[{p}]", "").strip() for p in ("day", "month", "year")]
    if all(p == "" for p in parts):
        return None, None
    if any(p == "" for p in parts):
        missing = [n for n, p in zip(("day", "month", "year"), parts, strict=True) if p == ""]
        return None, f"must include a {' and '.join(missing)}"
    if not all(is_number(p) for p in parts) or len(parts[2]) != 4:
        return None, "must be a real date, like 27 3 1990"
    try:
        return date(int(parts[2]), int(parts[1]), int(parts[0])).isoformat(), None
    except ValueError:
        return None, "must be a real date, like 27 3 1990"
