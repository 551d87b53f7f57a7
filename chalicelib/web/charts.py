"""Charts for the reports: inline SVG bar charts drawn from a report's own table, so the chart,
the table beside it and the CSV never disagree (a withheld figure has no bar, only its words,
and the scale is drawn from the figures shown)."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from chalicelib.domain.disclosure import Withheld, show
from chalicelib.domain.reports import Table


def bar_chart(table: Table) -> Any:
    """A horizontal bar chart of the table's chart columns, as inline SVG (escaped labels;
    role=img with a title, the table beside it carrying the same figures)."""
    if table.chart is None:
        return Markup("")
    label_at, value_at = table.chart
    kind = table.columns[value_at].kind
    bars = [(str(row[label_at]), row[value_at]) for row in table.rows
            if isinstance(row[value_at], int | float | Withheld) and row[label_at] != "All"]
    top = max([abs(v) for _, v in bars if not isinstance(v, Withheld)] + [0]) or 1
    # Labels right-aligned before the bars, wide enough for the longest (about 7.5 px a
    # character at the chart's 14 px).
    label_width = round(16 + 7.5 * max([len(label) for label, _ in bars] + [10]))
    bar_width, row_height = 300, 28
    height = row_height * len(bars) + 8
    parts = [f'<svg class="phb-chart" role="img" aria-labelledby="chart-{escape(table.name)}" '
             f'width="{label_width + bar_width + 90}" height="{height}" '
             f'viewBox="0 0 {label_width + bar_width + 90} {height}" '
             f'xmlns="http://www.w3.org/2000/svg">',
             f'<title id="chart-{escape(table.name)}">{escape(table.title)}: '
             f'{escape(table.columns[value_at].heading)}</title>']
    for i, (label, value) in enumerate(bars):
        y = 4 + i * row_height
        # A withheld figure gets no bar: its length would give the figure away.
        width = 0.0 if isinstance(value, Withheld) else round(bar_width * abs(value) / top, 1)
        bar = "" if isinstance(value, Withheld) else (
            f'<rect x="{label_width}" y="{y + 4}" width="{width}" height="{row_height - 10}">'
            f'</rect>')
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 18}" text-anchor="end">{escape(label)}</text>'
            f'{bar}<text x="{label_width + width + 6}" y="{y + 18}">'
            f'{escape(show(value, kind))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
