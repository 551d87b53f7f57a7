"""The reports pages of the staff console: `/staff/reports` and each report as CSV.

The date range is two `YYYY-MM-DD` query parameters, `from` and `to` (inclusive); without them,
the financial year so far. The figures are worked out per request from the anonymous facts
(`chalicelib.facts`, one index Query and batched reads by key; never a scan).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from chalice import Response

from chalicelib.errors import FieldError
from chalicelib.staff import StaffSession, require_staff
from chalicelib.web import page

MAX_RANGE_DAYS = 3653  # 10 years: the quarterly return lists every quarter in the range


def _financial_year_start(today: date) -> date:
    return date(today.year if today.month >= 4 else today.year - 1, 4, 1)


def date_range(query: dict[str, str]) -> tuple[date, date, list[FieldError]]:
    """The range asked for, or the financial year so far; field errors for a bad one."""
    today = datetime.now(UTC).date()
    errors: list[FieldError] = []
    chosen = {}
    for name, default, label in (("from", _financial_year_start(today), "start"),
                                 ("to", today, "end")):
        text = (query.get(name) or "").strip()
        try:
            chosen[name] = date.fromisoformat(text) if text else default
            if len(text) not in (0, 10):
                raise ValueError(text)
        except ValueError:
            chosen[name] = default
            errors.append(FieldError(name, f"Enter the {label} date as a real date, for "
                                           f"example {default.isoformat()}"))
    if not errors and chosen["to"] < chosen["from"]:
        errors.append(FieldError("to", "The end date must be the same as or after the start "
                                       "date"))
    elif not errors and (chosen["to"] - chosen["from"]).days > MAX_RANGE_DAYS:
        errors.append(FieldError("from", "Choose dates no more than 10 years apart"))
    return chosen["from"], chosen["to"], errors


def _tables(start: date, end: date) -> list[Any]:
    from chalicelib import reports
    from chalicelib.config import get_settings
    from chalicelib.console import _store
    from chalicelib.facts import load_facts

    settings = get_settings()
    facts = load_facts(_store(settings), until=end)
    return reports.all_reports(facts, start, end, reports.load_population(settings.population_file))


def reports_page(request: Any) -> Response:
    session = require_staff(request)
    if isinstance(session, Response):
        return session
    query = dict(request.query_params or {})
    start, end, errors = date_range(query)
    typed = {"from": query.get("from") or start.isoformat(),
             "to": query.get("to") or end.isoformat()}
    return _page(session, start, end, errors, [] if errors else _tables(start, end), typed)


def _page(session: StaffSession, start: date, end: date, errors: list[FieldError],
          tables: list[Any], typed: dict[str, str]) -> Response:
    from chalicelib import reports

    return page("staff/reports.html", status=422 if errors else 200,
                session=session, title="Reports", tables=tables, start=start, end=end,
                values=typed,
                errors=errors, error_for={e.field: e.message for e in errors},
                anchor=lambda name: name, show=reports.show, chart=reports.bar_chart)


def download(request: Any, name: str) -> Response:
    """One report as CSV: `/staff/reports/<name>.csv?from=…&to=…`."""
    session = require_staff(request)
    if isinstance(session, Response):
        return session
    from chalicelib import reports

    start, end, errors = date_range(dict(request.query_params or {}))
    slug = name.removesuffix(".csv")
    if errors:
        return Response(body="\n".join(f"{e.field}: {e.message}" for e in errors) + "\n",
                        status_code=422, headers={"Content-Type": "text/plain; charset=utf-8"})
    table = next((t for t in _tables(start, end) if t.name == slug), None) \
        if name.endswith(".csv") else None
    if table is None:
        return page("staff/problem.html", status=404, title="Report not found",
                    message="There is no report with that name.")
    return Response(
        body=reports.to_csv(table), status_code=200,
        headers={"Content-Type": "text/csv; charset=utf-8",
                 "Content-Disposition": f'attachment; filename="phb-{slug}-{start}-to-{end}.csv"',
                 "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
