"""The assurance pack (`docs/assurance/`) stays true to the code.

A hazard log whose controls name tests that were renamed or deleted proves nothing, and a DPIA
citing a module or a setting that no longer exists misleads whoever signs it. So every
`tests/<path>.py::<test>` the pack names must be a test function in that file (a method as
`Class::test`), found by reading the file with `ast` (importing the tests would run their
imports, and be slow); every hazard must have at least one control and every control at least
one test; each risk must be the one the DCB0129 matrix gives; and every repository path and
`PHB_*` setting the pack names must exist. Reading a few Markdown files and parsing the named
test files takes a fraction of a second.
"""

from __future__ import annotations

import ast
import re
from dataclasses import fields
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "docs" / "assurance"
FILES = ("README.md", "hazard-log.md", "safety-case.md", "dpia.md", "dspt.md", "data-flow.md")

# `tests/unit/test_rules.py::test_x` or `tests/contract/test_store.py::TestReferrals::test_y`.
TEST_REF = re.compile(
    r"\b(tests/[A-Za-z0-9_/]+\.py)::([A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)?)")
# A repository path in backticks: a module, template, infra file or document the pack cites.
PATH_REF = re.compile(
    r"`((?:chalicelib|infra|templates|devstack|docs|tests|\.chalice|scripts)/[^`\s:*]*"
    r"|app\.py|Makefile|README\.md)`")
SETTING_REF = re.compile(r"\bPHB_[A-Z0-9_]+\b")

HAZARD = re.compile(r"^## (H-\d{2}): (.+)$", re.MULTILINE)
RISK = re.compile(r"\*\*(Initial|Residual) risk\.\*\* Severity (\w+) × likelihood "
                  r"([A-Za-z ]+?) = \*\*(\d)\*\*")
CONTROL_ROW = re.compile(r"^\| (C\d+) \|(.+)\|(.+)\|\s*$", re.MULTILINE)
# The safety case's summary: | H-01 | title | initial | residual |
SUMMARY_ROW = re.compile(r"^\| (H-\d{2}) \| (.+?) \| (\d) \| (\d) \|\s*$", re.MULTILINE)

# NHS Digital's clinical risk matrix (DCB0129 / DCB0160 implementation guidance): the risk
# rating, 1 (acceptable) to 5 (unacceptable), for each likelihood and severity.
SEVERITIES = ("Minor", "Significant", "Considerable", "Major", "Catastrophic")
MATRIX = {
    "Very high": (3, 4, 4, 5, 5),
    "High": (2, 3, 3, 4, 5),
    "Medium": (2, 2, 3, 3, 4),
    "Low": (1, 2, 2, 3, 4),
    "Very low": (1, 1, 2, 2, 3),
}


def pack_text(name: str) -> str:
    return (PACK / name).read_text(encoding="utf-8")


@cache
def defined_tests(path: str) -> frozenset[str]:
    """The test functions a file defines: `test_x`, and `Class::test_y` for methods."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.update(f"{node.name}::{item.name}" for item in node.body
                         if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef))
    return frozenset(name for name in names if name.split("::")[-1].startswith("test_"))


def missing_tests(text: str) -> list[str]:
    """Each `file::test` named in `text` that is not a test in that file, with why."""
    missing = []
    for path, name in TEST_REF.findall(text):
        if not (ROOT / path).is_file():
            missing.append(f"{path}::{name} (no such file)")
        elif name not in defined_tests(path):
            missing.append(f"{path}::{name} (no such test in the file)")
    return sorted(set(missing))


@cache
def hazards() -> dict[str, str]:
    """Each hazard's ID and its section of the hazard log."""
    text = pack_text("hazard-log.md")
    starts = list(HAZARD.finditer(text))
    return {match.group(1): text[match.start():(starts[i + 1].start() if i + 1 < len(starts)
                                                 else len(text))]
            for i, match in enumerate(starts)}


def test_the_pack_has_each_document() -> None:
    assert [name for name in FILES if not (PACK / name).is_file()] == []


def test_every_test_the_pack_names_exists() -> None:
    named = [ref for name in FILES for ref in TEST_REF.findall(pack_text(name))]
    # A pattern that stopped matching would pass with nothing to check.
    assert len(set(named)) >= 60, len(set(named))
    assert [f"{name}: {ref}" for name in FILES for ref in missing_tests(pack_text(name))] == []


def test_the_check_would_see_a_missing_test() -> None:
    text = ("`tests/unit/test_rules.py::test_sign_off_tier_boundaries` "
            "`tests/unit/test_rules.py::test_that_was_never_written` "
            "`tests/contract/test_store.py::TestReferrals::test_one_referral_per_idempotency_key` "
            "`tests/contract/test_store.py::TestReferrals::test_nothing` "
            "`tests/unit/test_nowhere.py::test_x`")
    assert missing_tests(text) == [
        "tests/contract/test_store.py::TestReferrals::test_nothing (no such test in the file)",
        "tests/unit/test_nowhere.py::test_x (no such file)",
        "tests/unit/test_rules.py::test_that_was_never_written (no such test in the file)",
    ]


def test_hazards_are_numbered_in_order() -> None:
    ids = list(hazards())
    assert len(ids) >= 12
    assert ids == [f"H-{n:02d}" for n in range(1, len(ids) + 1)]


@pytest.mark.parametrize("hazard", list(hazards()))
def test_every_hazard_has_controls_each_proved_by_a_test(hazard: str) -> None:
    section = hazards()[hazard]
    for heading in ("**Hazard.**", "**Cause.**", "**Effect on the person.**"):
        assert heading in section, f"{hazard} has no {heading}"
    controls = CONTROL_ROW.findall(section)
    assert controls, f"{hazard} has no controls"
    for control, where, proved_by in controls:
        assert where.strip(), f"{hazard} {control} says no control"
        assert TEST_REF.search(proved_by), f"{hazard} {control} names no test"


@pytest.mark.parametrize("hazard", list(hazards()))
def test_each_risk_is_the_matrixs_and_controls_do_not_raise_it(hazard: str) -> None:
    risks = {when: (severity, likelihood, int(rating))
             for when, severity, likelihood, rating in RISK.findall(hazards()[hazard])}
    assert set(risks) == {"Initial", "Residual"}, f"{hazard} needs an initial and a residual risk"
    for when, (severity, likelihood, rating) in risks.items():
        assert severity in SEVERITIES and likelihood in MATRIX, (hazard, when)
        assert MATRIX[likelihood][SEVERITIES.index(severity)] == rating, (
            f"{hazard}: {when.lower()} risk of {severity} × {likelihood} is "
            f"{MATRIX[likelihood][SEVERITIES.index(severity)]}, not {rating}")
    assert risks["Residual"][2] <= risks["Initial"][2], hazard


def logged_summary() -> dict[str, tuple[str, int, int]]:
    """Each hazard's title, initial and residual risk, as the hazard log gives them."""
    summary = {}
    for match in HAZARD.finditer(pack_text("hazard-log.md")):
        hazard, title = match.groups()
        risks = {when: int(rating) for when, _, _, rating in RISK.findall(hazards()[hazard])}
        summary[hazard] = (title, risks.get("Initial", 0), risks.get("Residual", 0))
    return summary


def test_the_safety_case_summarises_the_hazard_log_as_it_is() -> None:
    summarised = {hazard: (title, int(initial), int(residual)) for hazard, title, initial, residual
                  in SUMMARY_ROW.findall(pack_text("safety-case.md"))}
    assert summarised == logged_summary()
    # No document names a hazard the log does not have.
    for name in FILES:
        unknown = set(re.findall(r"\bH-\d{2}\b", pack_text(name))) - set(hazards())
        assert unknown == set(), f"{name} names hazards not in the log: {sorted(unknown)}"


def test_every_path_and_setting_the_pack_names_exists() -> None:
    from chalicelib.config import Settings

    settings = {"PHB_" + field.name.upper() for field in fields(Settings)}
    for name in FILES:
        text = pack_text(name)
        paths = {path.rstrip("/") for path in PATH_REF.findall(text)}
        assert [path for path in sorted(paths) if not (ROOT / path).exists()] == [], name
        assert sorted(set(SETTING_REF.findall(text)) - settings) == [], name
