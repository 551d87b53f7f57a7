"""The state machine against Step Functions' own rules: asl-validator (npm, pinned in
package-lock.json, installed by `make asl-check`) on infra/pathway.asl.json and on the
definition as CloudFormation hands it to Step Functions, its function's ARN substituted. moto
executes the file in the tests, but accepts definitions Step Functions refuses."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
ASL = ROOT / "infra" / "pathway.asl.json"
VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    if not VALIDATOR.exists():
        pytest.fail("asl-validator is not installed: `make asl-check` installs it (npm ci)")
    return subprocess.run([str(VALIDATOR), "--json-path", str(path)], capture_output=True,
                          text=True, timeout=60, check=False)


def test_the_asl_file_keeps_step_functions_rules() -> None:
    result = validate(ASL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout


def test_the_definition_as_deployed_keeps_them_too(translated: dict[str, Any],
                                                   tmp_path: Path) -> None:
    from infra.rehearsal import WITHOUT_CUSTOM_DOMAIN, Deployment, deployed_definition, resolve

    resolved = resolve(translated, Deployment(WITHOUT_CUSTOM_DOMAIN))
    definition = deployed_definition(resolved, "PathwayStateMachine")
    pathway = resolved["Resources"]["Pathway"]
    arn = f"arn:aws:lambda:eu-west-2:123456789012:function:{pathway['PhysicalName']}"
    assert arn in json.dumps(definition) and "${" not in json.dumps(definition)
    path = tmp_path / "deployed.asl.json"
    path.write_text(json.dumps(definition), encoding="utf-8")
    result = validate(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_definition_breaking_them_is_refused(tmp_path: Path) -> None:
    definition = json.loads(ASL.read_text(encoding="utf-8"))
    first = definition["StartAt"]
    definition["States"][first]["Next"] = "NoSuchState"
    definition["States"][first].pop("End", None)
    path = tmp_path / "broken.asl.json"
    path.write_text(json.dumps(definition), encoding="utf-8")
    result = validate(path)
    assert result.returncode != 0
    assert "NoSuchState" in result.stdout + result.stderr
