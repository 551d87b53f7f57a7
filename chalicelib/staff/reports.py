"""The reports pages of the staff console: `/staff/reports` and each report as CSV.

The date range is two `YYYY-MM-DD` query parameters, `from` and `to` (inclusive); without them,
the financial year so far. The figures are worked out per request from the anonymous facts
(`chalicelib/domain/facts.py`) of the referrals active in the range (index queries and batched
reads by key; never a scan), and no figure about fewer people than the threshold is shown
(`chalicelib/domain/disclosure.py`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from chalice.app import Response

from chalicelib.domain.errors import FieldError
from chalicelib.domain.policy import MAX_REPORT_RANGE_DAYS
from chalicelib.staff.sessions import require_staff
from chalicelib.web.requests import query_of
from chalicelib.web.responses import download, form_context, page

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services
    from chalicelib.domain.reports import Table


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
    elif not errors and (chosen["to"] - chosen["from"]).days > MAX_REPORT_RANGE_DAYS:
        errors.append(FieldError("from", "Choose dates no more than 10 years apart"))
    return chosen["from"], chosen["to"], errors


def load_facts(svc: Services, since: date, until: date) -> list[dict[str, Any]]:
    """The facts of every referral active from `since` to `until`, inclusive: submitted by
    `until` and not ended before `since` (one query of the activity index per month from
    `since`, then reads by key; never a scan)."""
    from chalicelib.domain.facts import facts_of

    return [facts_of(stored) for stored in svc.store.referrals.active_between(
        since.isoformat(), until.isoformat())]


def _tables(svc: Services, start: date, end: date) -> list[Table]:
    """Every report for the range, with small numbers withheld (`domain/disclosure.py`)."""
    from chalicelib.domain import reports
    from chalicelib.domain.disclosure import withhold_small_numbers

    settings = svc.settings
    # The quarterly return counts whole financial quarters: from the first one's first day.
    since = reports.financial_quarters(start, end)[0][1]
    tables = reports.all_reports(load_facts(svc, since, end), start, end, settings.population,
                                 settings.tier_labels)
    return [withhold_small_numbers(t, settings.small_number_threshold) for t in tables]


def reports_page(svc: Services, request: Any) -> Response:
    from chalicelib.domain.disclosure import show
    from chalicelib.web.charts import bar_chart

    session = require_staff(svc, request)
    if isinstance(session, Response):
        return session
    query = query_of(request)
    start, end, errors = date_range(query)
    typed = {"from": query.get("from") or start.isoformat(),
             "to": query.get("to") or end.isoformat()}
    return page("staff/reports.html", status=422 if errors else 200,
                session=session, title="Reports", start=start, end=end,
                tables=[] if errors else _tables(svc, start, end),
                anchor=lambda name: name, show=show, chart=bar_chart,
                threshold=svc.settings.small_number_threshold,
                **form_context(errors, typed))


def download_csv(svc: Services, request: Any, name: str) -> Response:
    """One report as CSV: `/staff/reports/<name>.csv?from=…&to=…`."""
    session = require_staff(svc, request)
    if isinstance(session, Response):
        return session
    from chalicelib.domain.disclosure import to_csv

    start, end, errors = date_range(query_of(request))
    slug = name.removesuffix(".csv")
    if errors:
        return Response(body="\n".join(f"{e.field}: {e.message}" for e in errors) + "\n",
                        status_code=422, headers={"Content-Type": "text/plain; charset=utf-8"})
    table = next((t for t in _tables(svc, start, end) if t.name == slug), None) \
        if name.endswith(".csv") else None
    if table is None:
        return page("staff/problem.html", status=404, title="Report not found",
                    message="There is no report with that name.")
    return download(to_csv(table), "text/csv; charset=utf-8",
                    f"phb-{slug}-{start}-to-{end}.csv")
