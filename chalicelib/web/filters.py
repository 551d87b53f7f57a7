"""Template filters: how money, dates and codes are shown to people."""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

from chalicelib.domain.dates import date_time, long_date, short_date
from chalicelib.domain.identifiers import format_nhs_number
from chalicelib.domain.money import format_pence, format_whole_pounds
from chalicelib.web.forms import date_parts_in_error

_URL = re.compile(r"https?://[^\s<>\"']+")


def linkify(text: str) -> Markup:
    """Escape text, then make its web addresses links (for the local outbox)."""
    escaped = str(escape(text))
    return Markup(_URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped))


def compact(params: dict[str, Any]) -> dict[str, Any]:
    """Drop None values, so an NHS.UK macro sees an absent parameter, not the text "None"."""
    return {key: value for key, value in params.items() if value is not None}


FILTERS: dict[str, Any] = {
    "pounds": format_pence,
    "whole_pounds": format_whole_pounds,
    "long_date": long_date,
    "short_date": short_date,
    "date_time": date_time,
    "nhs_number": format_nhs_number,
    "compact": compact,
    "linkify": linkify,
    "date_parts_in_error": date_parts_in_error,
}
