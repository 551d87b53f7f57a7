"""No DynamoDB Scan anywhere in the code Lambda runs: every list, report, export and the
retention job is an index query, so its cost does not grow with the whole table. (The tests
and the benchmarks also count the Scan calls made while serving pages: see
tests/http/test_staff_console.py and bench/journeys.py.)"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCAN = re.compile(r"""\.scan\(|["']scan["']|["']Scan["']|parallel_scan""")


def test_no_code_that_lambda_runs_calls_scan() -> None:
    files = [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]
    assert len(files) > 20
    found = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
             for path in files
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if SCAN.search(line)]
    assert found == []


def test_the_check_would_see_a_scan() -> None:
    for line in ('client.scan(TableName="t")', 'get_paginator("scan")', "op = 'Scan'"):
        assert SCAN.search(line), line
