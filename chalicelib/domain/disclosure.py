"""What the reports publish: no figure about fewer people than the threshold (5 unless
configured), in pages, charts and CSVs alike, and how each value is shown and written.

NHS England's statistical disclosure practice (and NHS Digital's, for the data sets the ICB
also reads) is to withhold small numbers so no one can be picked out, and to withhold enough
around them that they cannot be worked out by subtraction. Here:

- A count from 1 to threshold - 1 is withheld. A zero is shown: it is about no one, and NHS
  publications show zeros and suppress only 1 to 4 (a table of zeros and withheld cells would
  also tell its reader nothing). A zero can still be withheld as the figure beside a withheld
  one (below), so it is not the zeros that give a withheld figure away.
- A figure worked out from a withheld count, or from 1 to threshold - 1 people (a sum, mean,
  median, percentile, share or difference), is withheld: 50% of 2 people is 1 person.
- Secondary suppression, as those publications do it: where the cells of a row or column add
  up to a total the reader has or can work out (the referrals counted on the page, a table's
  "All" or "Total"), one withheld cell alone could be worked out from the total and the others,
  so the next smallest cell in it is withheld too (and what was worked out from it), until no
  such group has exactly one. This is simpler than rounding every figure and keeps the ones
  shown exact. Every withheld cell reads the same ("fewer than 5"), so which was withheld for
  being small and which for being beside one is not given away either; the page says so.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.money import format_pence
from chalicelib.domain.reports import Table


@dataclass(frozen=True)
class Withheld:
    """A figure not shown: about fewer people than the threshold, or one it could be worked
    out from."""

    threshold: int

    def __str__(self) -> str:
        return f"fewer than {self.threshold}"


def withhold_small_numbers(table: Table, threshold: int) -> Table:
    """The table with each figure about fewer than `threshold` people, and each figure one of
    those could be worked out from, replaced by `Withheld` (the module's docstring says which);
    its `total` too when it is small. A threshold of 1 withholds nothing."""

    def few(people: Any) -> bool:
        return isinstance(people, int) and 0 < people < threshold

    def small(r: int, c: int) -> bool:
        column, row = table.columns[c], rows[r]
        if column.kind == "text" or row[c] is None:
            return False
        return (column.kind == "count" and few(row[c])) or (
            column.of is not None and few(row[column.of])) or (
            table.people is not None and few(table.people[r])) or (
            column.of is not None and column.kind in ("share", "points") and few(table.among))

    rows = [list(row) for row in table.rows]
    withheld = {(r, c) for r in range(len(rows)) for c in range(len(table.columns))
                if small(r, c)}
    while True:
        before = len(withheld)
        # A figure worked out from a withheld count goes with it: a total and an average
        # would give the count back.
        withheld |= {(r, c) for r, row in enumerate(rows)
                     for c, column in enumerate(table.columns)
                     if column.of is not None and (r, column.of) in withheld
                     and row[c] is not None}
        for group in table.groups:
            shown = [cell for cell in group if cell not in withheld
                     and isinstance(rows[cell[0]][cell[1]], int | float)]
            if len(group) - len(shown) == 1 and shown:
                withheld.add(min(shown, key=lambda cell: rows[cell[0]][cell[1]]))
        if len(withheld) == before:
            break
    for r, c in withheld:
        rows[r][c] = Withheld(threshold)
    return dataclasses.replace(table, rows=rows,
                               total=Withheld(threshold) if few(table.total) else table.total)


def show(value: Any, kind: str) -> str:
    """A value as the page shows it."""
    if value is None:
        return "–"
    if isinstance(value, Withheld):
        return str(value)
    if kind == "pence":
        return format_pence(int(value))
    if kind == "share":
        return f"{value * 100:.0f}%"
    if kind == "points":
        return f"{value * 100:+.0f} points"
    if kind in ("days", "score"):
        return f"{value:.1f}"
    return str(value)


def _csv_value(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if isinstance(value, Withheld):
        return str(value)
    if kind == "pence":
        return f"{int(value) / 100:.2f}"
    if kind in ("share", "points"):
        return f"{value:.4f}"
    if kind in ("days", "score"):
        return f"{value:.2f}"
    text = str(value)
    # A spreadsheet would run a cell starting like a formula: keep it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(table: Table) -> str:
    """The table as CSV: a header row, amounts in pounds, shares as fractions of 1, each
    withheld figure as "fewer than 5"."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.heading + (" (£)" if c.kind == "pence" else "") for c in table.columns])
    for row in table.rows:
        writer.writerow([_csv_value(v, c.kind) for v, c in zip(row, table.columns, strict=True)])
    return out.getvalue()
