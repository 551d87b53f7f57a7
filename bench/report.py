"""The table and docs/PERFORMANCE.md."""

from __future__ import annotations

import platform
import statistics
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path

from bench import ROOT
from bench.coldstart import ColdStart
from bench.cost import (
    LOG_BYTES_PER_INVOCATION,
    Cost,
    idle,
    memory_mb,
    prices,
    scheduled_runs_per_month,
    storage_per_thousand_month,
)
from bench.intake import Intake
from bench.journeys import Journey
from bench.reports import ReportsScale
from bench.reports import section as reports_section
from bench.scale import PAGE, SEARCH_SIZE, Scale
from bench.size import Size

DOC = ROOT / "docs" / "PERFORMANCE.md"


@dataclass
class Row:
    figure: str
    measured: str
    target: str
    result: str  # met, missed, listed


@dataclass
class Results:
    started: datetime
    quick: bool = False
    runtime_s: float = 0.0
    load_before: str = ""
    load_after: str = ""
    cold: ColdStart | None = None
    intake: Intake | None = None
    journeys: list[Journey] = field(default_factory=list)
    pages: Journey | None = None
    costs: list[Cost] = field(default_factory=list)
    scale: Scale | None = None
    reports: ReportsScale | None = None
    size: Size | None = None
    problems: list[str] = field(default_factory=list)


# The cold start's target: the app's first page in at most this share of `import boto3`'s time.
COLD_START_RATIO = 0.7

def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if abs(seconds) >= 0.01 else f"{seconds * 1000:.1f} ms"


def kb(count: float) -> str:
    return f"{count / 1024:.1f} KB"


def met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def machine() -> list[str]:
    cpus = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")]
    memory = next((line.split(":", 1)[1].strip() for line in
                   Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), "?")
    kib = int(memory.split()[0]) if memory[0].isdigit() else 0

    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return [
        f"CPU: {len(cpus)} x {cpus[0] if cpus else '?'} (/proc/cpuinfo)",
        f"Memory: {kib / 1024 / 1024:.1f} GiB (/proc/meminfo MemTotal)",
        f"OS: {platform.platform()}",
        f"Python {platform.python_version()}; boto3 {version('boto3')}, botocore "
        f"{version('botocore')}, moto {version('moto')}, chalice {version('chalice')}, "
        f"pydantic {version('pydantic')}, jinja2 {version('jinja2')}",
    ]


def calls_line(journey: Journey) -> str:
    services: dict[str, int] = {}
    for (service, _), count in journey.tally.calls.items():
        services[service] = services.get(service, 0) + count
    parts = ", ".join(f"{name} {count}" for name, count in sorted(services.items(),
                                                                   key=lambda i: -i[1]))
    return f"{journey.tally.total} calls ({parts}), {journey.transitions} transitions"


def _speed_rows(r: Results) -> list[Row]:
    out: list[Row] = []
    if r.cold:
        c = r.cold
        out.append(Row("cold start: fresh process, import `app` + GET /referral via "
                       "`app.app(event, context)`",
                       f"{ms(c.app_median)} vs `import boto3` {ms(c.boto3_median)} "
                       f"(medians of {c.runs} each): ratio **{c.ratio:.2f}**",
                       f"ratio ≤ {COLD_START_RATIO}", met(c.ratio <= COLD_START_RATIO)))
    if r.intake:
        i = r.intake
        out.append(Row("intake overhead: POST /api/referrals vs its bare TransactWriteItems + "
                       "StartExecution",
                       f"{ms(i.api_median)} vs {ms(i.bare_median)} (medians of {i.runs} each): "
                       f"ratio **{i.ratio:.2f}**", "ratio ≤ 1.5", met(i.ratio <= 1.5)))
    return out


def _cost_rows(r: Results) -> list[Row]:
    out = [Row(f"AWS calls per referral, {journey.name}", calls_line(journey), "listed",
               "listed") for journey in r.journeys]
    if r.costs:
        worst = max(r.costs, key=lambda c: c.total)
        measured = "; ".join(f"${c.total:.2f} {c.journey.split(':')[0]}" for c in r.costs)
        out.append(Row("cost per 1,000 referrals (eu-west-2 list prices)", measured,
                       "≤ $2.00", met(worst.total <= 2.0)))
    if r.size:
        template = (ROOT / "out" / "sam.json")
        text = template.read_text(encoding="utf-8") if template.exists() else ""
        _, always_on = idle(r.size.resources, text)
        scheduled = scheduled_runs_per_month()
        out.append(Row("cost when idle", "$0 in requests and compute, but for the scheduled "
                       "runs: retention and release reminders daily, the reconciler every 15 "
                       f"minutes (at most ${scheduled:.4f} a month, inside Lambda's free "
                       "tier); DynamoDB storage + PITR and CloudWatch log storage" + (
                           f" (also found: {', '.join(always_on)})" if always_on else ""),
                       "$0 when idle", met(not always_on)))
    return out


def _scale_rows(r: Results) -> list[Row]:
    if not r.scale:
        return []
    small, large = r.scale.first(1_000), r.scale.first(50_000)
    out = [
        Row(f"worklist first page ({PAGE}, newest first): DynamoDB items read",
            f"{small.items_read} at 1,000 stored, {large.items_read} at 50,000 "
            f"({large.scanned_count} index entries + {large.keys_fetched} items by key)",
            "equal at both sizes", met(small.items_read == large.items_read)),
        Row("worklist first page: items read against the page size",
            f"{large.items_read} for a page of {PAGE}",
            f"≤ 2 × page size + 5 = {2 * PAGE + 5}", met(large.items_read <= 2 * PAGE + 5)),
    ]
    if r.scale.searches:
        labels = list(dict.fromkeys(s.label for s in r.scale.searches))
        searched = [(a, b) for label in labels for a, b in [
            [s for s in r.scale.searches if s.label == label]]]
        bounded = all(a.items_read == b.items_read or (
            "common" in a.label and b.items_read <= 2 * SEARCH_SIZE) for a, b in searched)
        calls = sorted({op for s in r.scale.searches for op in s.operations})
        out.append(Row(
            "finding a referral: DynamoDB items read",
            "; ".join(f"{a.label} {a.items_read} / {b.items_read}" for a, b in searched)
            + f" (at 1,000 / 50,000 stored); calls: {', '.join(calls)}",
            f"equal at both sizes (a common name: ≤ 2 × {SEARCH_SIZE}); no Scan",
            met(bounded and "Scan" not in calls and "scan" not in calls)))
    if r.scale.views:
        views = sorted({v.status for v in r.scale.views}, key=[
            v.status for v in r.scale.views].index)
        pairs = [(r.scale.view(1_000, v), r.scale.view(50_000, v)) for v in views]
        out.append(Row(
            "worklist first page, the other views: DynamoDB items read",
            "; ".join(f"{v} {a.items_read} / {b.items_read}" for v, (a, b)
                      in zip(views, pairs, strict=True)) + " (at 1,000 / 50,000 stored)",
            "equal at both sizes", met(all(a.items_read == b.items_read for a, b in pairs))))
    return out


def _size_rows(r: Results) -> list[Row]:
    out: list[Row] = []
    if r.journeys or r.pages:
        scans = sum(j.tally.count("dynamodb", "Scan") for j in [*r.journeys, *(
            [r.pages] if r.pages else [])])
        out.append(Row("Scan calls on any request path (journeys + page views)", str(scans),
                       "0", met(scans == 0)))
    if not r.size:
        return out
    s = r.size
    if s.zip_bytes is not None:
        out.append(Row("deployment zip (`make package`)", f"{s.zip_bytes / 1e6:.2f} MB",
                       "≤ 5 MB", met(s.zip_bytes <= 5e6)))
    else:
        out.append(Row("deployment zip (`make package`)", s.package_note, "≤ 5 MB",
                       "**missed**"))
    served = ("" if compression_on() else
              "; API Gateway compression is not configured, so served raw today")
    out.append(Row("form's first page + its CSS, gzipped",
                   f"{kb(s.first_page_gzip)} (raw {kb(s.first_page_raw)}{served})",
                   "≤ 40 KB", met(s.first_page_gzip <= 40 * 1024)))
    return out


def rows(r: Results) -> list[Row]:
    """Every figure against its target, in the table's order."""
    return [*_speed_rows(r), *_cost_rows(r), *_scale_rows(r), *_size_rows(r)]


def table(r: Results) -> str:
    lines = ["| figure | measured | target | result |", "|---|---|---|---|"]
    lines += [f"| {row.figure} | {row.measured} | {row.target} | {row.result} |"
              for row in rows(r)]
    return "\n".join(lines)


def _calls_table(journeys: list[Journey]) -> list[str]:
    keys = sorted({key for j in journeys for key in j.tally.calls})
    head = "| service | operation | " + " | ".join(j.name.split(":")[0] for j in journeys) + " |"
    lines = [head, "|---|---|" + "---|" * len(journeys)]
    for service, operation in keys:
        counts = " | ".join(str(j.tally.calls.get((service, operation), 0)) for j in journeys)
        lines.append(f"| {service} | {operation} | {counts} |")
    lines.append("| **all** | | " + " | ".join(f"**{j.tally.total}**" for j in journeys) + " |")
    lines.append("| Step Functions | state transitions (StateEntered events) | "
                 + " | ".join(str(j.transitions) for j in journeys) + " |")
    lines.append("| DynamoDB | write request units (estimated) | "
                 + " | ".join(f"{j.tally.wru:g}" for j in journeys) + " |")
    lines.append("| DynamoDB | read request units (estimated) | "
                 + " | ".join(f"{j.tally.rru:g}" for j in journeys) + " |")
    lines.append("| API Gateway | requests (pages, form posts, static files) | "
                 + " | ".join(str(j.api_requests) for j in journeys) + " |")
    lines.append("| Lambda | pathway task invocations | "
                 + " | ".join(str(len(j.pathway_s)) for j in journeys) + " |")
    return lines


def _cost_table(costs: list[Cost]) -> list[str]:
    services = list(costs[0].lines)
    lines = ["| service | " + " | ".join(c.journey.split(":")[0] for c in costs) + " |",
             "|---|" + "---|" * len(costs)]
    for service in services:
        cells = " | ".join(f"${c.lines[service]:.4f} ({c.quantities[service]} per referral)"
                           for c in costs)
        lines.append(f"| {service} | {cells} |")
    lines.append("| **total per 1,000 referrals** | "
                 + " | ".join(f"**${c.total:.2f}**" for c in costs) + " |")
    lines.append("| upper bound: every Lambda invocation a cold start and 4x slower | "
                 + " | ".join(f"${c.upper:.2f}" for c in costs) + " |")
    return lines


def _durations(journeys: list[Journey]) -> list[str]:
    lines = []
    for j in journeys:
        http = [s for _, _, _, s in j.http]
        lines.append(
            f"- {j.name}: {len(http)} HTTP requests, median {ms(statistics.median(http))}, "
            f"total {ms(sum(http))}; {len(j.pathway_s)} pathway invocations, median "
            f"{ms(statistics.median(j.pathway_s))}, total {ms(sum(j.pathway_s))}; "
            f"execution {j.outcome}; whole journey {j.wall_s:.1f} s wall time")
    return lines


def _cold_section(r: Results) -> list[str]:
    if not (r.cold):
        return []
    out: list[str] = []
    c = r.cold
    out += [
        "## Cold start",
        "",
        f"Each run is a fresh `python -c` process with `PHB_STAGE=dev`, fake credentials and "
        "no endpoint, which imports `app` and calls `app.app(event, context)` with an API "
        "Gateway proxy event for `GET /referral`, as the Lambda runtime does; the baseline "
        f"is a fresh `python -c \"import boto3\"`. {c.runs} runs of each, alternating, after "
        "two discarded warm-ups of each (so both read from a warm file cache). Wall time "
        "of the whole process, interpreter start-up included.",
        "",
        f"- app: median {ms(c.app_median)} (min {ms(min(c.app_s))}, max "
        f"{ms(max(c.app_s))}); inside the process: `import app` "
        f"{ms(c.inside_median('import_s'))}, then the first request "
        f"{ms(c.inside_median('handler_s'))} (lazy imports of the page's modules, "
        "Jinja2 compiling the templates, rendering)",
        f"- `import boto3`: median {ms(c.boto3_median)} (min {ms(min(c.boto3_s))}, max "
        f"{ms(max(c.boto3_s))})",
        f"- boto3 loaded by the app's first page: "
        f"{'yes' if any(x.get('boto3_loaded') for x in c.inside) else 'no'}",
        "",
        "Cumulative import time of the heavier modules (one run with `-X importtime`, "
        "which inflates times; a module is listed where it is first imported, so nested "
        "ones are inside their parent's figure):",
        "",
        "| module | cumulative import |",
        "|---|---|",
        *[f"| `{name}` | {ms(seconds)} |" for name, seconds in c.top_imports],
        "",
    ]
    return out


def _intake_section(r: Results) -> list[str]:
    if not (r.intake):
        return []
    out: list[str] = []
    i = r.intake
    out += [
        "## Intake overhead",
        "",
        "`POST /api/referrals` with a valid fast-track referral through "
        "`chalice.test.Client`, against the calls intake has to make and nothing else: "
        "`TransactWriteItems` with the referral item (its index keys included) and its "
        "`submitted` event (the same shape as the DynamoDB adapter's `create`), then "
        "`StartExecution`, on the same boto3 "
        "clients. No `Idempotency-Key` is sent (a key adds one `GetItem` and a third "
        "transaction item). Both run against moto with the real state machine; after each "
        "timed call the benchmark waits, untimed, until that execution waits for sign-off "
        "and stops it, then empties the table, so no background work overlaps a timed call "
        "and every call meets the same near-empty table (moto deep-copies the whole table "
        "for each item of a TransactWriteItems, which would otherwise grow both sides "
        "alike and hide the app's share); moto's parse of the ASL is cached meanwhile, "
        "to keep this part short.",
        "",
        f"- API: median {ms(i.api_median)}; bare calls: median {ms(i.bare_median)}; "
        f"{i.runs} of each, alternating which goes first, after warm-ups",
        f"- the difference, {ms(i.api_median - i.bare_median)}, is the app's own work: "
        "Chalice routing, JSON parsing, pydantic validation of the referral and the "
        "funding rules, and serialising the stored answers",
        *([f"- {i.unsettled} executions did not reach the sign-off wait in time"]
          if i.unsettled else []),
        "",
    ]
    return out


def _journeys_section(r: Results) -> list[str]:
    if not (r.journeys):
        return []
    out: list[str] = []
    out += [
        "## AWS calls per referral",
        "",
        "Two complete referrals, submitted through the API and driven to closure through "
        "the links in the emails as `tests/integration/test_pathway.py` does (review due "
        "at once, closure a second after review): each person opens the link (GET) and "
        "submits its form (POST); on a person's first page their browser also fetches the "
        "layout's CSS and icon, which the app serves (cached a day after that). Every AWS "
        "call is counted with a `before-call` hook on boto3's default session, including "
        "the Lambda `Invoke` calls moto's Step Functions engine makes; the benchmark's own "
        "polling is not counted. State transitions are the execution history's "
        "`*StateEntered` events, which is how AWS bills them.",
        "",
        *_calls_table(r.journeys),
        "",
        *_durations(r.journeys),
        "",
    ]
    return out


def _pages_section(r: Results) -> list[str]:
    if not (r.pages):
        return []
    out: list[str] = []
    out += [
        "Page views on their own (not part of either journey): "
        + ", ".join(f"{m} {path} → {status}" for m, path, status, _ in r.pages.http)
        + f": {r.pages.tally.total} AWS calls ("
        + ", ".join(f"{s} {o} {n}" for (s, o), n in sorted(r.pages.tally.calls.items()))
        + f"), {r.pages.tally.count('dynamodb', 'Scan')} of them Scan.",
        "",
    ]
    return out


def _costs_section(r: Results) -> list[str]:
    if not (r.costs):
        return []
    p = prices()
    out: list[str] = []
    out += [
        "## Cost per 1,000 referrals",
        "",
        f"Counts of one journey x 1,000 x the {p['region']} list prices in "
        f"`bench/prices-eu-west-2.json` ({p['currency']}, {p['source']}; "
        f"prices as of {p['prices_as_of']}; no free tier). Lambda GB-seconds use the "
        "memory in `.chalice/config.json` (api_handler for HTTP requests, pathway for "
        "the tasks) and each invocation's duration as measured in process here, rounded "
        "up to the millisecond. DynamoDB request units are estimated from item sizes "
        "(1 WRU per KB written, 1 RRU per 4 KB read strongly consistent, transactions "
        "2x). SES bills each email. Not included: data transfer out (pages are small), "
        "KMS requests of the table's AWS-managed key (cached by DynamoDB; cents per "
        "month).",
        "",
        *_cost_table(r.costs),
        "",
        "Durations here are measured on this machine with AWS calls answered in-process by "
        "moto. On Lambda, a 512 MB function gets about a third of a vCPU, AWS calls take "
        "a few milliseconds each over the network, and the first request after an idle "
        "spell pays the cold start (billed since August 2025): the upper-bound row "
        "assumes every invocation is a cold start (the cold start measured above) and runs "
        "4x slower.",
        "",
    ]
    return out


def _idle_section(r: Results) -> list[str]:
    if not (r.size and r.size.resources):
        return []
    p = prices()
    out: list[str] = []
    template = ROOT / "out" / "sam.json"
    text = template.read_text(encoding="utf-8") if template.exists() else ""
    resource_rows, always_on = idle(r.size.resources, text)
    out += [
        "## Cost when idle",
        "",
        "What each resource in `out/sam.json` (from `make package`) costs when nobody "
        "uses the service:",
        "",
        "| resource | type | idle cost |",
        "|---|---|---|",
        *[f"| {name} | `{kind}` | {note} |" for name, kind, note in resource_rows],
        "",
        ("Nothing in the template costs money just by existing, beyond stored data and the "
         "scheduled runs: retention (31 invocations a month of at most 1 s at "
         f"{memory_mb().get('retention', 128)} MB and one index query per status each), the "
         "monthly releases due (31 of the pathway function, one index query each) and the "
         "reconciler (every 15 minutes: 2,976 invocations a month of at most 0.5 s at "
         f"{memory_mb().get('reconcile', 128)} MB, 8 index queries and one ListExecutions "
         "each, reading index entries of open referrals only, never the table), at most "
         f"${scheduled_runs_per_month():.4f} a month at list prices, inside "
         "Lambda's always-free tier. "
         if not always_on else f"Found always-on cost: {', '.join(always_on)}. ")
        + "Storage is the only figure that grows with time:",
        "",
    ]
    for journey in r.journeys:
        monthly = storage_per_thousand_month(journey.stored_bytes)
        out.append(
            f"- {journey.name}: {kb(journey.stored_bytes)} stored per referral (items, "
            f"index entries and DynamoDB's 100 bytes per item): 1,000 such referrals cost "
            f"${monthly:.4f} a month in DynamoDB storage and PITR "
            f"(${p['dynamodb']['storage_gb_month']} + ${p['dynamodb']['pitr_gb_month']} "
            "per GB-month)")
    out += [
        "- CloudWatch Logs keep what the functions log (estimated at "
        f"{LOG_BYTES_PER_INVOCATION} bytes per invocation, so about "
        + ", ".join(f"{(len(j.http) + len(j.pathway_s)) * LOG_BYTES_PER_INVOCATION / 1000:.0f}"
                    " KB" for j in r.journeys)
        + f" per referral) at ${p['cloudwatch_logs']['storage_gb_month']} per GB-month "
        "until the log groups' retention removes it",
        "",
    ]
    return out


def _scale_section(r: Results) -> list[str]:
    if not (r.scale):
        return []
    out: list[str] = []
    s = r.scale
    out += [
        "## Scale: the staff worklist query",
        "",
        f"`referrals.page(View(\"status\", status), {PAGE})` (the DynamoDB adapter, "
        "`chalicelib/adapters/dynamo/queries.py`) queries index `gsi1` "
        "(`gsi1pk = STATUS#<status>`, `gsi1sk = <created_at>#<reference>`) newest first "
        "with `Limit`, then fetches the page's referrals by key (one `BatchGetItem`): each "
        "row names the person, and a name is personal data no index copies (retention "
        "removes it from the referral alone). So a page reads its index entries and its "
        "items, twice the page size, the same at any table size. "
        "Referral-shaped items with a realistic `answers` attribute "
        f"({kb(s.item_bytes)} each) and a mix of statuses were loaded with "
        f"`BatchWriteItem` under moto ({s.load_s:.0f} s for 50,000). moto answers an index "
        "query by walking every item, so its timings say nothing about DynamoDB: items "
        "read are counted instead (the query's ScannedCount plus the items fetched by "
        "key), and read units estimated from sizes.",
        "",
        "| stored | status | referrals in it | returned | index entries read | items by key "
        "| items read | est. RRU | newest first | next key |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for page in s.pages:
        out.append(f"| {page.stored:,} | {page.status} | {page.in_status:,} | "
                   f"{page.returned} | {page.scanned_count} | {page.keys_fetched} | "
                   f"{page.items_read} | {page.rru:g} | {page.newest_first} | "
                   f"{page.next_key} |")
    for page in s.second_pages:
        out.append(f"| {page.stored:,} | {page.status} (page 2) | {page.in_status:,} | "
                   f"{page.returned} | {page.scanned_count} | {page.keys_fetched} | "
                   f"{page.items_read} | {page.rru:g} | {page.newest_first} | "
                   f"{page.next_key} |")
    out.append("")
    if s.views:
        out += [
            "The worklist's other views (`referrals.page(View(view, value), 25)`) each "
            "query their own "
            "sparse, KEYS_ONLY index (`gsi2` all, `gsi3` borough, `gsi4` tier, `gsi5` "
            "flagged, `gsi6` waiting) newest first, then fetch the page's referrals with "
            "one `BatchGetItem`: a page reads its 25 index entries and 25 items, the same "
            "at any table size. KEYS_ONLY keeps the indexes from being rewritten at every "
            "status change (the workflow writes far more often than advisors read). "
            "Overdue filters the waiting index by due time, so it also reads the waiting "
            "referrals not yet overdue: bounded by how many can be waiting at once (a wait "
            "ends in expiry after its reminders), not by the table. The load marks one "
            "referral in ten flagged and, as waiting, those in a waiting status submitted "
            "in the last nine days.",
            "",
            "| stored | view | referrals in it | returned | index entries read | items by "
            "key | items read | est. RRU | newest first | next key |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for page in s.views:
            out.append(f"| {page.stored:,} | {page.status} | {page.in_status:,} | "
                       f"{page.returned} | {page.scanned_count} | {page.keys_fetched} | "
                       f"{page.items_read} | {page.rru:g} | {page.newest_first} | "
                       f"{page.next_key} |")
        out.append("")
    if s.searches:
        out += [
            "Finding a referral (the worklist's search, `chalicelib/staff/worklist.py`): by "
            "the person's NHS number, one query of the person index (`gsi7`, "
            "`PERSON#<hash of the number>`) and each referral by key; by last name, one query "
            "of the same index's `SURNAME#<hash of the name>` partition (each referral's "
            "`SURNAME` item, written at submission), then the referrals by key, checked "
            "against the name they hold; by the referrer's address, one query of the "
            "referrer index (`gsi9`) and the referrals by key. The load gives every referral "
            "an NHS number of its own, one of 40 referrers and a last name of its own but for "
            "one in 50, a Morgan; the people searched for are among the first 1,000 loaded. "
            f"A search lists at most {SEARCH_SIZE}, newest first, so even a common name reads "
            "a bounded amount.",
            "",
            "| stored | search | found | index entries read | items by key | items read "
            "| calls |",
            "|---|---|---|---|---|---|---|",
        ]
        for found in s.searches:
            out.append(f"| {found.stored:,} | {found.label} | {found.found} | "
                       f"{found.index_entries} | {found.items_fetched} | {found.items_read} | "
                       f"{', '.join(found.operations)} |")
        out.append("")
    return out


def _size_section(r: Results) -> list[str]:
    if not (r.size):
        return []
    out: list[str] = []
    z = r.size
    out += [
        "## Size",
        "",
        f"- Deployment zip: {z.package_note}; "
        + (f"{z.zip_bytes:,} bytes ({z.zip_files} files, {z.zip_unpacked_bytes / 1e6:.1f} "
           "MB unpacked). Largest parts, compressed: "
           + ", ".join(f"`{name}` {kb(size)}" for name, size in z.zip_largest)
           if z.zip_bytes is not None else "no zip"),
        f"- `GET /referral`: {z.page_bytes:,} bytes, {z.page_gzip:,} gzipped",
        *[f"- `{path}`: {raw:,} bytes, {gz:,} gzipped" for path, raw, gz in z.css],
        f"- Together: {kb(z.first_page_raw)} raw, {kb(z.first_page_gzip)} gzipped "
        "(gzip level 6, each response on its own).",
        "",
    ]
    return out


def markdown(r: Results) -> str:
    """The whole of docs/PERFORMANCE.md for this run."""
    out = [
        "# Performance",
        "",
        f"Measured {r.started.strftime('%Y-%m-%d %H:%M UTC')} by `make bench` "
        f"(`.venv/bin/python -m bench`), which wrote this file; it took "
        f"{r.runtime_s / 60:.1f} minutes. Every figure comes from that one run: medians and "
        "ratios were measured side by side, interleaved. Nothing here is a pass/fail test; "
        "each figure is shown against its target.",
        *(["", "**This was a `--quick` run: fewer runs than the targets ask for; not for the "
            "record.**"] if r.quick else []),
        "",
        table(r),
        "",
        "## Machine",
        "",
        *[f"- {line}" for line in machine()],
        f"- Load average before / after the run: {r.load_before} / {r.load_after} "
        "(other work on the machine makes timings noisier; the ratios compare runs "
        "interleaved under the same load)",
        "",
        "## How to reproduce",
        "",
        "```sh",
        f"make bench                         # everything ({r.runtime_s / 60:.1f} minutes "
        "this time)",
        ".venv/bin/python -m bench --quick  # fewer runs, to try a change (not for the record)",
        ".venv/bin/python -m bench --no-package  # reuse out/deployment.zip",
        "```",
        "",
        "No AWS account and no network are used (except by `make package`, which lets Chalice "
        "fetch Lambda wheels from PyPI). AWS is moto, in process, executing the real state "
        "machine (`infra/pathway.asl.json`) with the pathway Lambda routed to the app's own "
        "function, as in the tests. The code is in `bench/`.",
        "",
    ]
    for section in (_cold_section, _intake_section, _journeys_section, _pages_section,
                    _costs_section, _idle_section, _scale_section, _size_section):
        out += section(r)
        if section is _scale_section:
            out += reports_section(r.reports)
    notes = compression_note()
    if notes:
        out += [notes, ""]
    out += findings(r)
    if r.problems:
        out += ["## Problems seen during the run", "", *[f"- {p}" for p in r.problems], ""]
    return "\n".join(out).rstrip() + "\n"


def cold_start_causes(c: ColdStart) -> list[str]:
    """Why the first page costs what it does, from what this run measured."""
    b = c.breakdown
    imports = dict(c.top_imports)
    loaded: set[str] = set(c.inside[0].get("loaded", [])) if c.inside else set()
    compile_s = b["first_call_s"] - b["second_call_s"]
    out = [
        f"- **Cold start** (ratio {c.ratio:.2f}: {ms(c.app_median)} against "
        f"{ms(c.boto3_median)}; to meet {COLD_START_RATIO} the app's process must take at "
        f"most {ms(COLD_START_RATIO * c.boto3_median)}, "
        f"{ms(c.app_median - COLD_START_RATIO * c.boto3_median)} less). "
        f"Measured inside the process (medians of 5): `import app` {ms(b['import_s'])}; "
        f"importing `chalicelib.intake.pages` {ms(b['pages_import_s'])}; settings and the Jinja2 "
        f"environment {ms(b['settings_and_jinja_s'])}; the first call of the handler "
        f"{ms(b['first_call_s'])} against {ms(b['second_call_s'])} for a second call, so "
        f"{ms(compile_s)} is Jinja2 compiling templates. Modules loaded by the first page: "
        + ", ".join(f"`{m}`" for m in sorted(loaded)) + ". Causes and fixes, largest first:",
    ]
    causes: list[tuple[float, str]] = []
    causes.append((compile_s,
                   f"Jinja2 compiles the page's templates, mostly the NHS.UK frontend macros "
                   f"(header, footer, button, icon), on the first request of every new Lambda "
                   f"environment ({ms(compile_s)}). Fix: compile them when packaging "
                   "(`Environment.compile_templates(target, zip=None)` into a directory that "
                   "`make package` ships) and put a `jinja2.ModuleLoader` for that directory "
                   "ahead of the other loaders in `chalicelib/web/render.py`; or a "
                   "`jinja2.BytecodeCache` keyed by template name (Jinja checks each entry "
                   "against the source's checksum) filled at package time. Either is a build "
                   "step plus a loader change, not an import-time change, so it is not made "
                   "here."))
    heavy = [m for m in ("chalicelib.domain.referral", "email_validator",
                         "chalicelib.intake.submission")
             if m in loaded]
    if heavy:
        causes.append((imports.get("chalicelib.domain.referral", 0.0),
                       "The start page imports " + ", ".join(f"`{m}`" for m in heavy)
                       + " (the pydantic referral models, `email_validator`, intake) though "
                       "it needs only the section titles. Fix: in `chalicelib/intake/pages.py` "
                       "import them inside the functions that use them, and keep `form.py`'s "
                       "module level free of `chalicelib.domain.referral`."))
    if "pydantic" in loaded:
        config_s = imports.get("chalicelib.config", 0.0)
        causes.append((config_s * 0.5,
                       f"`chalicelib/config.py` defines `Settings` and the funding-rule models "
                       f"with pydantic, so every cold start imports pydantic and builds their "
                       f"validators (`chalicelib.config` {ms(config_s)} cumulative under "
                       f"-X importtime, which inflates; pydantic's plugin loader alone imports "
                       f"`importlib.metadata`, {ms(imports.get('importlib.metadata', 0.0))}, "
                       "and scans every installed package's entry points). An import-time-only "
                       "change there saves little (tried: `PYDANTIC_DISABLE_PLUGINS=__all__` "
                       "saved 10-30 ms of config's import here, within the noise), so none was "
                       "made. Worth doing if still short: set `PYDANTIC_DISABLE_PLUGINS=__all__` "
                       "in the functions' environment, and make `Settings` a plain dataclass "
                       "with hand-written checks so pydantic loads only for pages that "
                       "validate a referral."))
    causes.sort(key=lambda cause: cause[0], reverse=True)
    out += [f"  {number}. {text}" for number, (_, text) in enumerate(causes, 1)]
    return out


def compression_on() -> bool:
    template = ROOT / "out" / "sam.json"
    text = template.read_text(encoding="utf-8").lower() if template.exists() else ""
    return "minimumcompressionsize" in text or "minimum-compression-size" in text


def compression_note() -> str:
    if not (ROOT / "out" / "sam.json").exists():
        return ""
    if compression_on():
        return "API Gateway compresses responses (a minimum compression size is set)."
    return ("Note: the REST API in `out/sam.json` sets no minimum compression size, so API "
            "Gateway sends pages and CSS uncompressed today: a browser's first visit downloads "
            "the raw size above. Setting `minimum_compression_size` (e.g. 1024) for each stage "
            "in `.chalice/config.json` turns on gzip and makes the gzipped figure what people "
            "get.")


def findings(r: Results) -> list[str]:
    """What missed its target, why, and what would fix it."""
    out = ["## Targets missed: causes and fixes", ""]
    missed = False
    if r.cold and r.cold.ratio > COLD_START_RATIO:
        missed = True
        out += cold_start_causes(r.cold)
    if r.intake and r.intake.ratio > 1.5:
        missed = True
        out += [f"- **Intake overhead** (ratio {r.intake.ratio:.2f}): the app's own work per "
                "request is the difference; profile `api.create_referral` "
                "(validation and funding rules) to find it."]
    if r.costs and max(c.total for c in r.costs) > 2.0:
        missed = True
        worst = max(r.costs, key=lambda c: c.total)
        top = max(worst.lines.items(), key=lambda i: i[1])
        out += [f"- **Cost** (${worst.total:.2f} per 1,000): the largest part is {top[0]} "
                f"(${top[1]:.2f})."]
    if r.scale:
        large = r.scale.first(50_000)
        if large.items_read > 2 * PAGE + 5:
            missed = True
            out += [
                f"- **Worklist items read** ({large.items_read} for a page of {PAGE}). It is "
                "more than the page's index entries and its referrals: check the page still "
                "stops at its size and fetches each referral once.",
            ]
    if not missed:
        out.append("None.")
    out.append("")
    return out
