"""The monitoring reports commissioners judge the service by, worked out from anonymous facts.

Every report is a `Table`: the same rows make the page's table, its SVG chart and its CSV, so
the three never disagree; `chalicelib/domain/disclosure.py` withholds its small numbers before
any of them is shown, and shows and writes its values. The functions here are pure (a list of
facts in, tables out); the facts come from `chalicelib/domain/facts.py` (one small dict per
referral, no personal data) and the charts are drawn by `chalicelib/web/charts.py`.

Which referrals each report counts:

- counts, sign-off times, spend, ReQoL-10 and equality: referrals *submitted* in the range;
- NHS England's quarterly return: every financial quarter that overlaps the range, counting
  PHBs by the date the money was released (new in the quarter) and whether they were still in
  place at the quarter's end (released by then and not closed or withdrawn before it).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from chalicelib.domain import codes
from chalicelib.domain.dates import parse_iso
from chalicelib.domain.policy import SIGN_OFF_TARGET_DAYS

# How a column's values are shown on the page and written to the CSV.
KINDS = ("text", "count", "pence", "days", "share", "points", "score")


@dataclass(frozen=True)
class Column:
    heading: str
    kind: str = "text"
    # The column (in the same row) counting the people a figure is worked out from: a sum,
    # mean, median or share is withheld with it when they are few (`domain/disclosure.py`).
    of: int | None = None


@dataclass
class Table:
    name: str  # the CSV's file name, without .csv
    title: str
    columns: list[Column]
    rows: list[list[Any]]
    # The chart: the column holding each bar's label and the column of its value; None: no chart.
    chart: tuple[int, int] | None = (0, 1)
    note: str = ""
    total: Any = field(default=0)  # how many referrals (or PHBs) the table is about
    # For withholding small numbers: cells, (row, column), adding up to a total a reader has
    # or can work out (so one withheld alone could be worked out from the others); per row,
    # how many people its figures are about when that is not its count (entries of money);
    # and how many people its shares are of, when not their row's count.
    groups: list[list[tuple[int, int]]] = field(default_factory=list)
    people: list[int] | None = None
    among: int | None = None


# --- small pieces ----------------------------------------------------------------------------


def _day(stamp: str) -> date:
    return parse_iso(stamp).date()


def _days_between(start: str, end: str) -> float:
    return (parse_iso(end) - parse_iso(start)).total_seconds() / 86400


def nearest_rank(values: list[float], percent: int) -> float | None:
    """The nearest-rank percentile: the smallest value with `percent`% of values at or below."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(percent / 100 * len(ordered))) - 1]


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _released(facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in facts if f.get("released")]


# --- the reports -----------------------------------------------------------------------------


def counts(facts: list[dict[str, Any]], by: str, labels: dict[str, str]) -> Table:
    """How many referrals by status, sign-off tier or borough (`labels`: that code's table);
    every code listed, even at 0."""
    tally = {code: 0 for code in labels}
    for fact in facts:
        code = fact.get(by) or "unknown"
        tally[code] = tally.get(code, 0) + 1
    names = {"status": "Status", "tier": "Signed off by", "borough": "Borough"}
    rows = [[labels.get(code, "Not yet known"), n] for code, n in tally.items()]
    return Table(f"{by}", f"Referrals by {names[by].lower()}",
                 [Column(names[by]), Column("Referrals", "count")], rows, total=len(facts),
                 groups=[[(r, 1) for r in range(len(rows))]])


def categories(facts: list[dict[str, Any]]) -> Table:
    """How many referrals asked for each category of item, how many items, and their cost."""
    labels = codes.CATEGORIES
    referrals = {code: 0 for code in labels}
    items = {code: 0 for code in labels}
    cost = {code: 0 for code in labels}
    for fact in facts:
        for code in {item["category"] for item in fact["items"]}:
            referrals[code] += 1
        for item in fact["items"]:
            items[item["category"]] += 1
            cost[item["category"]] += item["cost_pence"]
    rows = [[labels[c], referrals[c], items[c], cost[c]] for c in labels]
    return Table("category", "Referrals by category of item requested",
                 [Column("Category"), Column("Referrals asking for it", "count"),
                  Column("Items", "count", of=1), Column("Cost requested", "pence", of=1)], rows,
                 note="A referral asking for items in two categories counts once in each.",
                 total=len(facts))


def sign_off_times(facts: list[dict[str, Any]], tiers: dict[str, str]) -> Table:
    """Days from submission to final sign-off, per tier (`tiers`: their labels): median, 90th
    percentile (nearest rank) and the share signed off within the 3-day target (the target is
    for the fast track)."""
    rows = []
    signed = [f for f in facts if f.get("signed_off_at") and f.get("tier")]
    for code, label in tiers.items():
        days = [_days_between(f["submitted_at"], f["signed_off_at"])
                for f in signed if f["tier"] == code]
        within = sum(1 for d in days if d <= SIGN_OFF_TARGET_DAYS)
        rows.append([label, len(days), statistics.median(days) if days else None,
                     nearest_rank(days, 90), _share(within, len(days)),
                     "2 to 3 days" if code == "referrer" else "None set"])
    return Table("sign-off", "Time from submission to final sign-off",
                 [Column("Signed off by"), Column("Signed off", "count"),
                  Column("Median days", "days", of=1),
                  Column("90th percentile days", "days", of=1),
                  Column("Within 3 days", "share", of=1), Column("Target")], rows, chart=(0, 2),
                 note="Referrals that were signed off; days counted to the hour. The 90th "
                      "percentile is the nearest-rank value.", total=len(signed))


def spend_by_management(facts: list[dict[str, Any]]) -> Table:
    """Money released, total and average per PHB, by how the budget is managed."""
    released = _released(facts)
    rows = []
    for code, label in codes.BUDGET_MANAGEMENT.items():
        amounts = [f["released"]["amount_pence"] for f in released
                   if f["released"]["management"] == code]
        rows.append([label, len(amounts), sum(amounts),
                     round(sum(amounts) / len(amounts)) if amounts else None])
    amounts = [f["released"]["amount_pence"] for f in released]
    rows.append(["All", len(amounts), sum(amounts),
                 round(sum(amounts) / len(amounts)) if amounts else None])
    return Table("spend-management", "Spend by how the budget is managed",
                 [Column("Budget management"), Column("PHBs", "count"),
                  Column("Total released", "pence", of=1),
                  Column("Average per PHB", "pence", of=1)],
                 rows, chart=(0, 2), note="PHBs whose money has been released; the amounts "
                 "recorded at release.", total=len(released),
                 groups=[[(r, 1) for r in range(len(rows) - 1)]])  # "All" is their total


def spend_by_category(facts: list[dict[str, Any]]) -> Table:
    """The agreed cost of released PHBs' items, total and average per PHB, by category."""
    labels = codes.CATEGORIES
    released = _released(facts)
    rows = []
    for code, label in labels.items():
        per_phb = [sum(i["cost_pence"] for i in f["items"] if i["category"] == code)
                   for f in released if any(i["category"] == code for i in f["items"])]
        rows.append([label, len(per_phb), sum(per_phb),
                     round(sum(per_phb) / len(per_phb)) if per_phb else None])
    return Table("spend-category", "Spend by category",
                 [Column("Category"), Column("PHBs", "count"),
                  Column("Total agreed", "pence", of=1),
                  Column("Average per PHB", "pence", of=1)], rows, chart=(0, 2),
                 note="The agreed cost of the items in PHBs whose money has been released.",
                 total=len(released))


def _between(stamp: str | None, start: date, end: date) -> bool:
    return stamp is not None and start <= _day(stamp) <= end


def money(facts: list[dict[str, Any]], start: date, end: date) -> Table:
    """The money of the period, reconciled: what was approved at final sign-off in it and how
    much of that was released by the end date; what was released, reported unspent,
    recovered and written off in it; and what was still to recover at the end date."""
    approved = [f for f in facts if f.get("approved_pence") is not None
                and _between(f.get("signed_off_at"), start, end)]
    released_of = [sum(r["amount_pence"] for r in f.get("releases", [])
                       if _day(r["on"]) <= end) for f in approved]
    approved_pence = sum(f["approved_pence"] for f in approved)
    # Each entry with the referral it belongs to: a row's figures are about that many people.
    releases = [{**r, "of": f["reference"]} for f in facts for r in f.get("releases", [])
                if _between(r["on"], start, end)]
    unspent = [{**u, "of": f["reference"]} for f in facts for u in f.get("unspent", [])]

    def settled(state: str) -> list[dict[str, Any]]:
        return [u for u in unspent if u["state"] == state
                and _between(u.get("settled_at"), start, end)]

    def people(*entries: list[dict[str, Any]]) -> list[int]:
        return [len({e["of"] for e in group}) for group in entries]

    still = [u for u in unspent if _day(u["reported_at"]) <= end and (
        u["state"] == "to_recover" or _day(u.get("settled_at") or u["reported_at"]) > end)]
    reported = [u for u in unspent if _between(u["reported_at"], start, end)]
    rows: list[list[Any]] = [
        ["Approved at final sign-off", len(approved), approved_pence],
        ["  of which released by the end date", sum(1 for r in released_of if r),
         sum(released_of)],
        ["  of which not yet released", sum(1 for f, r in zip(approved, released_of, strict=True)
                                            if f["approved_pence"] > r),
         approved_pence - sum(released_of)],
        ["Released (any PHB)", len(releases), sum(r["amount_pence"] for r in releases)],
        ["Reported unspent", len(reported), sum(u["amount_pence"] for u in reported)],
        *[[label, len(group), sum(u["amount_pence"] for u in group)]
          for label, group in (("Recovered", settled("recovered")),
                               ("Written off", settled("written_off")))],
        ["Still to recover at the end date", len(still), sum(u["amount_pence"] for u in still)],
    ]
    partly = [f for f, r in zip(approved, released_of, strict=True) if r]
    owed = [f for f, r in zip(approved, released_of, strict=True) if f["approved_pence"] > r]
    return Table("money", "Money approved, released and unspent",
                 [Column("What"), Column("Entries", "count"), Column("Amount", "pence", of=1)],
                 rows, people=[len(approved), len(partly), len(owed), *people(
                     releases, reported, settled("recovered"), settled("written_off"), still)],
                 # Released by the end date and not yet released add up to what was approved.
                 groups=[[(1, 2), (2, 2)]],
                 chart=(0, 2), note="Approved is fixed at final sign-off; released is never "
                 "more than approved, so what was approved in these dates is what of it was "
                 "released by the end date and what is not yet released. Released, unspent, "
                 "recovered and written off count the entries dated in these dates, whichever "
                 "PHB they belong to.", total=len(approved))


def reqol(facts: list[dict[str, Any]]) -> Table:
    """ReQoL-10 totals (0–40, higher is better) at referral, 6-week review and closure: the
    mean, the mean change from the same people's baseline, and at closure the share whose
    change passed the reliable-change threshold."""
    reviewed = [f for f in facts if f.get("reqol_review") is not None]
    closed = [f for f in facts if f.get("reqol_closure") is not None]
    rows = [
        ["Baseline (referral)", len(facts), _mean([f["reqol_baseline"] for f in facts]),
         None, None],
        ["6-week review", len(reviewed), _mean([f["reqol_review"] for f in reviewed]),
         _mean([f["reqol_review"] - f["reqol_baseline"] for f in reviewed]), None],
        ["Closure", len(closed), _mean([f["reqol_closure"] for f in closed]),
         _mean([f["reqol_closure"] - f["reqol_baseline"] for f in closed]),
         _share(sum(1 for f in closed if f.get("reliable_improvement")), len(closed))],
    ]
    return Table("reqol", "ReQoL-10 outcome scores",
                 [Column("When"), Column("People", "count"),
                  Column("Mean total", "score", of=1),
                  Column("Mean change from baseline", "score", of=1),
                  Column("Reliable improvement", "share", of=1)], rows, chart=(0, 2),
                 note="Totals of the ten items (0 to 40, higher is better). Changes compare "
                      "each person with their own baseline.", total=len(facts))


def equality(facts: list[dict[str, Any]], population: dict[str, Any]) -> Table:
    """PHB holders (money released) by ethnic group, as a share of those whose ethnicity is
    stated, beside the population's shares from configuration."""
    holders = _released(facts)
    stated = [f for f in holders if f["ethnicity"] != "Z"]
    shares = population["shares"]
    rows = []
    for code, (label, letters) in codes.ETHNIC_GROUPS.items():
        n = sum(1 for f in stated if f["ethnicity"] in letters)
        share = _share(n, len(stated))
        rows.append([label, n, share, shares[code],
                     None if share is None else share - shares[code]])
    rows.append(["Not stated", len(holders) - len(stated), None, None, None])
    return Table("equality", "Ethnicity of PHB holders against the population",
                 [Column("Ethnic group"), Column("PHB holders", "count"),
                  Column("Share of holders", "share", of=1), Column("Share of population", "share"),
                  Column("Difference", "points", of=1)], rows, chart=(0, 2),
                 note=f"Shares of holders whose ethnicity is stated. Population: "
                      f"{population['area']} ({population['source']}).", total=len(holders),
                 # The holders add up to those the spend report counts; shares are of those
                 # whose ethnicity is stated.
                 groups=[[(r, 1) for r in range(len(rows))]], among=len(stated))


def financial_quarters(start: date, end: date) -> list[tuple[str, date, date]]:
    """The UK financial-year quarters (April to June is Q1) overlapping start..end."""
    quarters = []
    month = ((start.month - 1) // 3) * 3 + 1  # first month of start's calendar quarter
    first = date(start.year, month, 1)
    while first <= end:
        following = date(first.year + (first.month + 3 > 12), (first.month + 2) % 12 + 1, 1)
        fy = first.year if first.month >= 4 else first.year - 1
        number = ((first.month - 4) % 12) // 3 + 1
        quarters.append((f"Q{number} {fy}/{(fy + 1) % 100:02d}", first,
                         following - timedelta(days=1)))
        first = following
    return quarters


def nhse_quarterly(facts: list[dict[str, Any]], start: date, end: date) -> Table:
    """NHS England's quarterly PHB return for mental health: per quarter and cohort (section
    117 aftercare, other mental health), PHBs new in the quarter and PHBs in place at the
    quarter's end, by how the budget is managed."""
    released = _released(facts)
    rows = []
    for quarter, first, last in financial_quarters(start, end):
        for cohort, is_117 in (("Section 117 aftercare", True), ("Other mental health", False)):
            group = [f for f in released if bool(f["section_117"]) == is_117]
            new = [f for f in group if first <= _day(f["released"]["at"]) <= last]
            in_place = [f for f in group if _day(f["released"]["at"]) <= last
                        and not (f.get("ended_at") and _day(f["ended_at"]) <= last)]
            for measure, chosen in (("New in the quarter", new),
                                    ("In place at the quarter's end", in_place)):
                by = [sum(1 for f in chosen if f["released"]["management"] == code)
                      for code in codes.BUDGET_MANAGEMENT]
                rows.append([quarter, cohort, measure, *by, len(chosen)])
    return Table("nhse-quarterly", "NHS England quarterly return",
                 [Column("Quarter"), Column("Cohort"), Column("Measure"),
                  *[Column(label, "count") for label in codes.BUDGET_MANAGEMENT.values()],
                  Column("Total", "count")],
                 rows, chart=None,
                 note="Financial-year quarters that overlap the dates chosen, counting every "
                      "PHB whose money was released, whenever its referral was submitted. A "
                      "PHB leaves at closure or withdrawal.", total=len(released),
                 # In each row the ways of managing the budget add up to its total.
                 groups=[[(r, c) for c in range(3, 3 + len(codes.BUDGET_MANAGEMENT))]
                         for r in range(len(rows))])


def all_reports(facts: list[dict[str, Any]], start: date, end: date,
                population: dict[str, Any], tiers: dict[str, str]) -> list[Table]:
    """Every report, in the page's order. `facts` holds every referral active from the first
    day of the first financial quarter the range overlaps to `end` (`Referrals.active_between`);
    all but the money and the quarterly return keep to those submitted from `start`. `tiers`
    labels the sign-off tiers (from the configured thresholds: `codes.tier_labels`)."""
    in_range = [f for f in facts if start <= _day(f["submitted_at"]) <= end]
    return [counts(in_range, "status", codes.STATUSES), counts(in_range, "tier", tiers),
            counts(in_range, "borough", codes.BOROUGHS),
            categories(in_range), sign_off_times(in_range, tiers), money(facts, start, end),
            spend_by_management(in_range),
            spend_by_category(in_range), reqol(in_range), equality(in_range, population),
            nhse_quarterly(facts, start, end)]


def check_population(data: dict[str, Any], source: str) -> dict[str, Any]:
    """The population's shares by broad ethnic group, checked: each group named, adding to 1."""
    shares = data["shares"]
    if set(shares) != set(codes.ETHNIC_GROUPS) or abs(sum(shares.values()) - 1) > 0.011:
        raise ValueError(f"{source}: shares must name each broad ethnic group and add up to 1")
    return data
