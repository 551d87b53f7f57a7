"""A function must know which stage it is: without PHB_STAGE, with an unknown one, or with a
local one inside AWS Lambda, it serves nothing (a plain 503 and a log line saying why), has no
outbox and signs no one in with the development key.

Each case imports the app in a fresh process (its routes are chosen at import, as on a cold
start) and asks through chalice.test.Client, with nothing but the case's variables set: no
moto, no AWS (the endpoint is a closed local port).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent

# Runs in the fresh process: import the app, make the requests a person (and an attacker who
# read the development key in this repository) would, and write down what came back.
CHILD = r"""
import json, sys
from chalice.test import Client

import app
from chalicelib.staff import sessions

forged = sessions.encode_session(sessions.new_session("amara.nwosu@example.org"),
                                 sessions.DEVELOPMENT_SECRET.encode())
answers = {}
# project_dir has no .chalice/config.json: the client adds no stage variables of its own.
with Client(app.app, project_dir=sys.argv[1]) as client:
    for name, method, path, headers, body in [
        ("page", "GET", "/referral", {}, None),
        ("api", "POST", "/api/referrals", {"Content-Type": "application/json"}, b"{}"),
        ("outbox", "GET", "/dev/outbox", {}, None),
        ("sign_in", "GET", "/staff/sign-in", {}, None),
        ("forged", "GET", "/staff", {"Cookie": f"phb_staff={forged}"}, None),
    ]:
        response = client.http.request(method, path, headers=headers, body=body or b"")
        answers[name] = {"status": response.status_code,
                         "type": response.headers.get("Content-Type", ""),
                         "cookie": response.headers.get("Set-Cookie", ""),
                         "body": response.body.decode("utf-8", "replace")}
try:
    app.pathway({"task": "releases_due"}, None)
    task = "ran"
except Exception as exc:
    task = f"{type(exc).__name__}: {exc}"
with open(sys.argv[1] + "/report.json", "w") as report:
    json.dump({"routes": sorted(app.app.routes), "answers": answers, "task": task}, report)
"""

NO_AWS = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "testing",
          "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "eu-west-2",
          "AWS_MAX_ATTEMPTS": "1"}
ALL_STAGES = "local, test, dev, prod"
REFUSED = {
    "unset": ({}, ALL_STAGES),
    "unknown": ({"PHB_STAGE": "staging"}, ALL_STAGES),
    # What `chalice deploy --stage local` would make: the local stage inside Lambda.
    "local-in-lambda": ({"PHB_STAGE": "local",
                         "AWS_LAMBDA_FUNCTION_NAME": "phb-pathway-dev-APIHandler"}, "dev, prod"),
}


def run_app(tmp: Path, environ: dict[str, str]) -> tuple[dict[str, Any], str]:
    """What the app answered in a fresh process with only `environ` set, and its log."""
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp)], cwd=tmp, capture_output=True, text=True,
        timeout=120,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT),
             **NO_AWS, **environ})
    assert result.returncode == 0, result.stderr
    # Chalice logs to stdout: the report is a file of its own.
    return json.loads((tmp / "report.json").read_text()), result.stderr


@pytest.fixture(scope="module", params=list(REFUSED))
def refused(request: Any, tmp_path_factory: Any) -> tuple[dict[str, Any], str, str]:
    environ, allowed = REFUSED[request.param]
    report, log = run_app(tmp_path_factory.mktemp(request.param), environ)
    return report, log, allowed


def assert_plain_unavailable_page(answer: dict[str, Any]) -> None:
    assert answer["status"] == 503
    assert answer["type"].startswith("text/html")
    assert "<h1>Sorry, the service is unavailable</h1>" in answer["body"]
    assert "Traceback" not in answer["body"] and "PHB_STAGE" not in answer["body"]
    assert not answer["cookie"]


def test_a_function_without_a_known_stage_serves_nothing_and_logs_why(
        refused: tuple[dict[str, Any], str, str]) -> None:
    report, log, allowed = refused
    answers = report["answers"]
    assert_plain_unavailable_page(answers["page"])
    assert answers["api"]["status"] == 503 and answers["api"]["type"] == "application/json"
    [error] = json.loads(answers["api"]["body"])["errors"]
    assert "not set up correctly" in error["message"]
    # The outbox (every email, staff sign-in links included) is not even a route.
    assert not [route for route in report["routes"] if route.startswith("/dev")]
    assert answers["outbox"]["status"] in (403, 404)
    assert "<h1>" not in answers["outbox"]["body"]
    # The workflow's tasks refuse too, naming the variable.
    assert report["task"].startswith("RuntimeError") and "PHB_STAGE" in report["task"]
    assert allowed in report["task"]
    # The log says what is wrong and what would be right, at the cold start.
    [reason] = [line for line in log.splitlines() if line.startswith("Refusing to serve")]
    assert "PHB_STAGE" in reason and reason.endswith(f"must be one of {allowed}")


def test_a_function_without_a_known_stage_never_signs_staff_in(
        refused: tuple[dict[str, Any], str, str]) -> None:
    answers = refused[0]["answers"]
    # No sign-in form to ask for a link, and a cookie signed with the development key (it is
    # in this repository for anyone to read) is not a session: both are the plain 503.
    assert_plain_unavailable_page(answers["sign_in"])
    assert_plain_unavailable_page(answers["forged"])


def test_a_deployed_stage_without_a_session_secret_never_uses_the_development_key(
        tmp_path: Path) -> None:
    # The address, as a custom domain gives it (chalice.test.Client's requests carry no API
    # Gateway id to take one from).
    report, _ = run_app(tmp_path, {"PHB_STAGE": "dev",
                                   "PHB_PUBLIC_BASE_URL": "https://phb.example.org"})
    answers = report["answers"]
    # The rest of the service works (the refusal is for an unknown stage, not for dev) ...
    assert answers["page"]["status"] == 200
    assert not [route for route in report["routes"] if route.startswith("/dev")]
    # ... but staff sign-in is switched off rather than signed with the development key.
    for name in ("sign_in", "forged"):
        answer = answers[name]
        assert answer["status"] == 503, name
        assert "Sign-in is not configured" in answer["body"], name
        assert not answer["cookie"], name


def test_every_stage_of_the_chalice_config_names_itself() -> None:
    """`chalice package --stage X` sets PHB_STAGE from .chalice/config.json: each stage must
    say its own name, or its functions would refuse to serve (or serve as another stage)."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    stages = {name: stage.get("environment_variables", {}).get("PHB_STAGE")
              for name, stage in config["stages"].items()}
    assert stages == {name: name for name in stages}
    assert {"dev", "prod"} <= set(stages)
