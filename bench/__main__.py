"""`make bench`: measure, print the table, write docs/PERFORMANCE.md.

Usage: python -m bench [--quick] [--no-package] [--output PATH]
(`python -m bench.reports` measures the reports' range alone and prints its section.)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def _step(name: str) -> float:
    print(f"bench: {name} ...", file=sys.stderr, flush=True)
    return time.perf_counter()


def _done(started: float) -> None:
    print(f"bench:   {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="fewer runs, to try a change quickly (not for the record)")
    parser.add_argument("--no-package", action="store_true",
                        help="reuse out/deployment.zip instead of running `make package`")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the report (default docs/PERFORMANCE.md; with --quick "
                             "build/PERFORMANCE-quick.md)")
    args = parser.parse_args(argv)

    from bench import journeys
    from bench.inprocess import prepare_environment

    # Before the app is imported: the local stack's variables, and the quick pathway timings.
    prepare_environment(journeys.TIMINGS)
    # moto logs a stopped execution's abandoned Map iteration as an error: not ours to show.
    logging.getLogger("moto").setLevel(logging.CRITICAL)

    from bench import ROOT, coldstart, cost, intake, report, reports, scale, size
    from bench.awscalls import CallCounter

    results = report.Results(started=datetime.now(UTC), quick=args.quick, load_before=_load())
    began = time.perf_counter()

    step = _step("cold start (fresh processes)")
    results.cold = coldstart.measure(runs=15 if args.quick else 21)
    _done(step)

    step = _step("journeys: every AWS call of two whole referrals")
    counter = CallCounter()
    results.journeys, results.pages, problems = journeys.measure(counter)
    results.problems.extend(problems)
    _done(step)

    step = _step("intake overhead (POST /api/referrals vs bare calls)")
    results.intake = intake.measure(runs=40 if args.quick else 200,
                                    warmup=3 if args.quick else 6)
    _done(step)

    step = _step("scale: the worklist query at 1,000 and 50,000 referrals")
    results.scale = scale.measure()
    _done(step)

    step = _step("scale: the reports' range at 1,000 and 50,000 referrals")
    results.reports = reports.measure()
    _done(step)

    step = _step("size: make package, and the form's first page")
    results.size = size.measure(package=not args.no_package)
    if results.size.zip_bytes is None or "failed" in results.size.package_note:
        results.problems.append(results.size.package_note)
    _done(step)

    results.costs = [cost.per_thousand(j, results.cold.app_median) for j in results.journeys]
    results.runtime_s = time.perf_counter() - began
    results.load_after = _load()

    print(report.table(results))
    output = args.output or (report.DOC if not args.quick
                             else ROOT / "build" / "PERFORMANCE-quick.md")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report.markdown(results), encoding="utf-8")
    print(f"\nwrote {output} ({results.runtime_s / 60:.1f} minutes)", flush=True)
    if args.quick:
        print("(--quick: fewer runs than the targets ask for; not for the record)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
