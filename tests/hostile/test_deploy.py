"""`make deploy` never shows the session secret: not in what it prints, not on any command line
(`ps` shows those to everyone on the machine), and it still reaches CloudFormation.

The recipe runs for real with a stub `aws` first on PATH that records each call (and the
parameters file it is given) and succeeds; `MAKE=true` skips the package step, which
tests/test_package.py builds and checks.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SECRET = "kn0wn-Session-Secret-for-this-test-only-5f3a9c"

STUB = """#!{python}
import json, os, sys
call = {{"argv": sys.argv[1:]}}
for arg in sys.argv[1:]:
    if arg.startswith("file://"):
        path = arg[len("file://"):]
        call["file"] = {{"path": path, "mode": os.stat(path).st_mode & 0o777,
                         "content": json.load(open(path))}}
with open({calls!r}, "a") as calls:
    calls.write(json.dumps(call) + "\\n")
"""


def make_deploy(tmp_path: Path, params: str) -> tuple[subprocess.CompletedProcess[str],
                                                      list[dict[str, Any]]]:
    """`make deploy PARAMS=...` with the stub aws; what it printed, and the aws calls."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls.jsonl"
    bin_dir.mkdir()
    aws = bin_dir / "aws"
    aws.write_text(STUB.format(python=sys.executable, calls=str(calls)), encoding="utf-8")
    aws.chmod(aws.stat().st_mode | stat.S_IXUSR)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    # As DEPLOY.md says to run it: PARAMS in make's environment, never on its command line
    # (which `ps` shows to anyone on the machine).
    env["PARAMS"] = params
    result = subprocess.run(
        ["make", "--no-print-directory", "deploy", "MAKE=true", "STAGE=dev",
         "BUCKET=yourcharity-phb-artefacts"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    recorded = ([json.loads(line) for line in calls.read_text(encoding="utf-8").splitlines()]
                if calls.exists() else [])
    return result, recorded


def test_make_deploy_hands_the_secret_to_cloudformation_without_showing_it(
        tmp_path: Path) -> None:
    result, calls = make_deploy(
        tmp_path, f'SenderEmail=phb@example.org HelpPhone="020 7946 0000" SessionSecret={SECRET}')
    assert result.returncode == 0, result.stdout + result.stderr
    printed = result.stdout + result.stderr
    assert SECRET not in printed
    # What it prints instead says what is set.
    assert ("Stack parameters: SenderEmail=phb@example.org HelpPhone='020 7946 0000' "
            "SessionSecret=(hidden)") in printed
    assert not [call for call in calls if SECRET in " ".join(call["argv"])]
    [deploy] = [call for call in calls if call["argv"][:2] == ["cloudformation", "deploy"]]
    assert "--stack-name" in deploy["argv"] and "phb-pathway-dev" in deploy["argv"]
    assert deploy["file"]["content"] == [
        "SenderEmail=phb@example.org", "HelpPhone=020 7946 0000", f"SessionSecret={SECRET}"]
    # Only this user could read it, and it is gone afterwards.
    assert deploy["file"]["mode"] == 0o600
    assert not Path(deploy["file"]["path"]).exists()
    assert calls[-1]["argv"][:2] == ["cloudformation", "describe-stacks"]


def test_a_mistyped_parameter_stops_make_deploy_before_anything_is_built(
        tmp_path: Path) -> None:
    # `aws cloudformation deploy` would silently ignore an unknown name: the stack would keep
    # its old secret (or, new, fail asking for one) with nothing said about the typo.
    result, calls = make_deploy(tmp_path, f"SesionSecret={SECRET}")
    assert result.returncode != 0
    assert SECRET not in result.stdout + result.stderr
    assert "did you mean SessionSecret?" in result.stderr
    assert [call["argv"] for call in calls] == [["--version"]]
    assert "true --no-print-directory package" not in result.stdout


@pytest.mark.parametrize(("staff", "said"), [
    ('"Jo Adeyemi jo.adeyemi@example.org"', "is not a name and the person's own address"),
    ('"Jo Adeyemi <jo.adeyemi@example>"', "its address must be an email address"),
    ('"Jo <jo@exämple.org>"', "write each address in its ASCII form: jo@xn--exmple-cua.org"),
])
def test_a_staff_list_the_functions_would_refuse_stops_make_deploy(
        tmp_path: Path, staff: str, said: str) -> None:
    """Checked in full before anything is built (the functions check only each address's
    shape when they start, to keep cold starts cheap)."""
    result, calls = make_deploy(tmp_path, f"StaffEmails={staff} SessionSecret={SECRET}")
    assert result.returncode != 0
    assert said in result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert [call["argv"] for call in calls] == [["--version"]]
