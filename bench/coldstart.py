"""Cold start: a fresh Python process that imports `app` and serves the form's first page the
way Lambda does (`app.app(event, context)` with an API Gateway proxy event for GET /referral),
against a fresh `python -c "import boto3"`, interleaved, wall time of each whole process."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from bench import ROOT

# What the Lambda runtime does on a cold start, less the runtime's own bootstrap: import the
# handler's module, then call the handler once. Prints what it timed inside the process.
APP_CHILD = r"""
import time
started = time.perf_counter()
import app
imported = time.perf_counter()

class Context:
    aws_request_id = "bench-cold-start"
    function_name = "phb-pathway-dev"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-2:123456789012:function:phb-pathway-dev"
    log_group_name = "/aws/lambda/phb-pathway-dev"
    log_stream_name = "bench"

    @staticmethod
    def get_remaining_time_in_millis():
        return 30000

event = {
    "resource": "/referral", "path": "/referral", "httpMethod": "GET",
    "headers": {"Host": "abc123defg.execute-api.eu-west-2.amazonaws.com", "Accept": "text/html"},
    "multiValueHeaders": {"Host": ["abc123defg.execute-api.eu-west-2.amazonaws.com"],
                          "Accept": ["text/html"]},
    "queryStringParameters": None, "multiValueQueryStringParameters": None,
    "pathParameters": None, "stageVariables": None,
    "requestContext": {"resourcePath": "/referral", "httpMethod": "GET", "path": "/api/referral",
                       "stage": "api", "apiId": "abc123defg", "requestId": "bench",
                       "accountId": "123456789012",
                       "identity": {"sourceIp": "192.0.2.1"}},
    "body": None, "isBase64Encoded": False,
}
response = app.app(event, Context())
handled = time.perf_counter()
import json, sys
assert response["statusCode"] == 200, response
watched = ("chalicelib.domain.referral", "chalicelib.intake.submission",
           "chalicelib.domain.funding", "email_validator", "pydantic", "jinja2", "boto3",
           "botocore")
print(json.dumps({"import_s": imported - started, "handler_s": handled - imported,
                  "body_bytes": len(response["body"]), "boto3_loaded": "boto3" in sys.modules,
                  "loaded": [name for name in watched if name in sys.modules]}))
"""
BOTO3_CHILD = "import boto3"
# The first request's parts, one at a time, for finding what a cold start spends: importing
# the page's modules, settings and the Jinja2 environment, then the first call of the handler
# (templates compiled on first use, then rendered) against a second call (rendering only).
BREAKDOWN_CHILD = APP_CHILD.replace(
    "response = app.app(event, Context())\nhandled = time.perf_counter()",
    "import chalicelib.intake.pages\npages = time.perf_counter()\n"
    "from chalicelib.config import get_settings\n"
    "from chalicelib.web.render import environment\n"
    "get_settings(); environment()\nready = time.perf_counter()\n"
    "response = app.app(event, Context())\nfirst = time.perf_counter()\n"
    "app.app(event, Context())\nhandled = time.perf_counter()",
).replace(
    '"body_bytes": len(response["body"])',
    '"pages_import_s": pages - imported, "settings_and_jinja_s": ready - pages, '
    '"first_call_s": first - ready, "second_call_s": handled - first, '
    '"body_bytes": len(response["body"])',
)
assert "first_call_s" in BREAKDOWN_CHILD and "second = " not in BREAKDOWN_CHILD


def child_environment() -> dict[str, str]:
    """The dev stage with fake credentials and no endpoint: nothing can reach AWS."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "PHB_", "PYTHON", "MOTO_"))}
    env.update({
        "PHB_STAGE": "dev",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-2",
        "AWS_REGION": "eu-west-2",
        "PHB_TABLE_NAME": "phb-pathway-dev",
        # As the template sets it for a stack without a custom domain: the address comes
        # from the request.
        "PHB_API_GATEWAY_DOMAIN": "execute-api.eu-west-2.amazonaws.com",
    })
    return env


def _run(code: str, env: dict[str, str], extra: tuple[str, ...] = ()) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, *extra, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"cold start child failed:\n{done.stderr[-2000:]}")
    return elapsed, done.stdout + done.stderr


@dataclass
class ColdStart:
    runs: int
    app_s: list[float]
    boto3_s: list[float]
    inside: list[dict[str, Any]]  # seconds by step, and the modules `loaded`
    top_imports: list[tuple[str, float]]  # (module, cumulative seconds) of the app's import
    breakdown: dict[str, float]  # medians: the first request's parts

    @property
    def app_median(self) -> float:
        return statistics.median(self.app_s)

    @property
    def boto3_median(self) -> float:
        return statistics.median(self.boto3_s)

    @property
    def ratio(self) -> float:
        return self.app_median / self.boto3_median

    def inside_median(self, name: str) -> float:
        return float(statistics.median(run[name] for run in self.inside))


WATCHED = ("chalice", "jinja2", "chalicelib.web.responses", "chalicelib.intake.pages",
           "chalicelib.intake.form", "chalicelib.domain.referral", "chalicelib.domain.funding",
           "chalicelib.config", "chalicelib.bootstrap", "pydantic", "email_validator",
           "chalicelib.intake.submission", "chalicelib.adapters.dynamo", "importlib.metadata",
           "boto3")


def _top_imports(env: dict[str, str]) -> list[tuple[str, float]]:
    """Cumulative import time of the app's heavier modules, from one run with -X importtime
    (a module appears where it is first imported; nested times are included in its parents)."""
    _, output = _run(APP_CHILD, env, ("-X", "importtime"))
    found: dict[str, float] = {}
    for line in output.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line[len("import time:"):].split("|")
        name = parts[2].strip()
        if name in WATCHED:
            try:
                found[name] = int(parts[1].strip()) / 1e6
            except ValueError:
                continue
    return sorted(found.items(), key=lambda row: row[1], reverse=True)


def measure(runs: int = 21) -> ColdStart:
    # The deployed zip carries the templates compiled to Python (make package does this); build
    # them the same way so the measured first page is the one Lambda serves.
    subprocess.run([sys.executable, str(ROOT / "infra" / "compile_templates.py"),
                    str(ROOT / "vendor" / "compiled_templates")], check=True, cwd=ROOT,
                   capture_output=True)
    env = child_environment()
    for _ in range(2):  # warm the file cache for both
        _run(APP_CHILD, env)
        _run(BOTO3_CHILD, env)
    app_s, boto3_s, inside = [], [], []
    for index in range(runs):
        order = (APP_CHILD, BOTO3_CHILD) if index % 2 == 0 else (BOTO3_CHILD, APP_CHILD)
        for code in order:
            elapsed, output = _run(code, env)
            if code is APP_CHILD:
                app_s.append(elapsed)
                inside.append(json.loads(output.strip().splitlines()[-1]))
            else:
                boto3_s.append(elapsed)
    parts = [json.loads(_run(BREAKDOWN_CHILD, env)[1].strip().splitlines()[-1])
             for _ in range(5)]
    breakdown = {name: statistics.median(p[name] for p in parts)
                 for name in ("import_s", "pages_import_s", "settings_and_jinja_s",
                              "first_call_s", "second_call_s")}
    return ColdStart(runs, app_s, boto3_s, inside, _top_imports(env), breakdown)
