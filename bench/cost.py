"""Cost per 1,000 referrals from the counts of one journey, at the list prices in
bench/prices-eu-west-2.json, and what the stack costs when nobody uses it."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.journeys import Journey

PRICES = Path(__file__).with_name("prices-eu-west-2.json")
CHALICE_CONFIG = Path(__file__).resolve().parent.parent / ".chalice" / "config.json"
LOG_BYTES_PER_INVOCATION = 500  # START, END and REPORT lines plus a line or two of the app's


def prices() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(PRICES.read_text(encoding="utf-8"))
    return loaded


def memory_mb(stage: str = "prod") -> dict[str, int]:
    """Each function's configured memory (`.chalice/config.json`)."""
    config = json.loads(CHALICE_CONFIG.read_text(encoding="utf-8"))
    default = int(config.get("lambda_memory_size", 128))
    functions = config["stages"][stage].get("lambda_functions", {})
    return {name: int(functions.get(name, {}).get("lambda_memory_size", default))
            for name in ("api_handler", "pathway", "retention", "reconcile")}


def _billed_seconds(durations: list[float], scale: float = 1.0, extra: float = 0.0) -> float:
    return sum(math.ceil((d * scale + extra) * 1000) for d in durations) / 1000


@dataclass
class Cost:
    journey: str
    lines: dict[str, float] = field(default_factory=dict)  # service -> $ per 1,000 referrals
    quantities: dict[str, str] = field(default_factory=dict)  # service -> what was counted
    upper: float = 0.0  # every invocation cold and 4x slower

    @property
    def total(self) -> float:
        return sum(self.lines.values())


def per_thousand(journey: Journey, cold_start_s: float) -> Cost:
    p = prices()
    memory = memory_mb()
    api_gb, pathway_gb = memory["api_handler"] / 1024, memory["pathway"] / 1024
    http_s = [seconds for _, _, _, seconds in journey.http]
    invocations = len(http_s) + len(journey.pathway_s)

    def lambda_cost(scale: float, extra: float) -> float:
        gb_s = (_billed_seconds(http_s, scale, extra) * api_gb
                + _billed_seconds(journey.pathway_s, scale, extra) * pathway_gb)
        return float(invocations * p["lambda"]["requests_per_million"] / 1e6
                     + gb_s * p["lambda"]["gb_second_x86"])

    gb_s = (_billed_seconds(http_s) * api_gb + _billed_seconds(journey.pathway_s) * pathway_gb)
    tally = journey.tally
    cost = Cost(journey.name)
    cost.lines["Lambda"] = 1000 * lambda_cost(1.0, 0.0)
    cost.quantities["Lambda"] = (
        f"{invocations} invocations ({len(http_s)} HTTP at {memory['api_handler']} MB, "
        f"{len(journey.pathway_s)} pathway at {memory['pathway']} MB), {gb_s:.3f} GB-s")
    cost.lines["Step Functions"] = (
        journey.transitions * p["stepfunctions"]["standard_transitions_per_thousand"])
    cost.quantities["Step Functions"] = f"{journey.transitions} state transitions"
    cost.lines["DynamoDB"] = 1000 * (
        tally.wru * p["dynamodb"]["write_request_units_per_million"] / 1e6
        + tally.rru * p["dynamodb"]["read_request_units_per_million"] / 1e6)
    cost.quantities["DynamoDB"] = f"{tally.wru:g} WRU, {tally.rru:g} RRU"
    cost.lines["SES"] = tally.ses_recipients * p["ses"]["outbound_messages_per_thousand"]
    cost.quantities["SES"] = f"{tally.ses_recipients} emails"
    cost.lines["API Gateway"] = (
        1000 * len(http_s) * p["apigateway"]["rest_requests_per_million"] / 1e6)
    cost.quantities["API Gateway"] = f"{len(http_s)} REST requests"
    log_gb = invocations * LOG_BYTES_PER_INVOCATION / 1e9
    cost.lines["CloudWatch Logs"] = 1000 * log_gb * p["cloudwatch_logs"]["ingestion_gb"]
    cost.quantities["CloudWatch Logs"] = (
        f"~{invocations * LOG_BYTES_PER_INVOCATION / 1000:.0f} KB ingested (estimated, "
        f"{LOG_BYTES_PER_INVOCATION} B per invocation)")
    cost.upper = cost.total - cost.lines["Lambda"] + 1000 * lambda_cost(4.0, cold_start_s)
    return cost


# What each resource in the template costs when nothing happens.
IDLE = {
    "AWS::Serverless::Function": "$0: billed per request and GB-second only",
    "AWS::Lambda::Function": "$0: billed per request and GB-second only",
    "AWS::Lambda::Permission": "$0",
    "AWS::Serverless::Api": "$0: billed per request (no cache cluster)",
    "AWS::ApiGateway::RestApi": "$0: billed per request (no cache cluster)",
    "AWS::ApiGateway::DomainName": "$0 (a regional custom domain has no hourly charge)",
    "AWS::ApiGateway::BasePathMapping": "$0",
    "AWS::StepFunctions::StateMachine": "$0: Standard bills per transition; a waiting "
                                        "execution costs nothing",
    "AWS::SES::ConfigurationSet": "$0",
    "AWS::SES::ConfigurationSetEventDestination": "$0: an event only when an email is sent "
                                                  "(to the default bus: AWS service events "
                                                  "are free)",
    "AWS::IAM::Role": "$0",
    "AWS::DynamoDB::Table": "storage and PITR per GB-month only (on-demand: no request, "
                            "no provisioned capacity)",
    "AWS::Logs::LogGroup": "log storage per GB-month only (retention set)",
    "AWS::SNS::Topic": "$0: billed per message sent (1,000 emails a month free)",
    "AWS::SNS::TopicPolicy": "$0",
    "AWS::Events::Rule": "$0: rules matching AWS services' own events are free",
    "AWS::SSM::Parameter": "$0: a standard parameter, read once per Lambda container "
                           "(standard throughput is free)",
}


def scheduled_per_month(memory_mb: int, seconds: float = 1.0, runs: int = 31,
                        queries: int = 4) -> float:
    """What a daily run costs in a month with nobody using the service, at most: `runs`
    invocations of `seconds` each at `memory_mb`, and `queries` index queries each (the
    retention run queries once per status; the monthly releases due, once)."""
    p = prices()
    compute = runs * (p["lambda"]["requests_per_million"] / 1e6
                      + seconds * memory_mb / 1024 * p["lambda"]["gb_second_x86"])
    reads = runs * queries * 0.5 * p["dynamodb"]["read_request_units_per_million"] / 1e6
    return float(compute + reads)


# The reconciler's idle run: one query per status that expects a running execution (7) and one
# of those needing attention, one ListExecutions (Step Functions does not bill API calls),
# every 15 minutes.
RECONCILE_RUNS = 31 * 24 * 4
RECONCILE_QUERIES = 8


def scheduled_runs_per_month() -> float:
    """Every scheduled run when idle: retention and the monthly releases due (daily), and
    the reconciler (every 15 minutes)."""
    from chalicelib.domain.codes import STATUSES

    memory = memory_mb()
    return (scheduled_per_month(memory.get("retention", 128), queries=len(STATUSES))
            + scheduled_per_month(memory.get("pathway", 128), queries=1)
            + scheduled_per_month(memory.get("reconcile", 128), seconds=0.5,
                                  runs=RECONCILE_RUNS, queries=RECONCILE_QUERIES))
ALWAYS_ON_MARKERS = ("ProvisionedConcurrencyConfig", "CacheClusterEnabled\": true",
                     "ProvisionedThroughput", "\"NatGateway", "AWS::EC2::", "AWS::RDS::",
                     "AWS::ElastiCache::", "AWS::KMS::Key")


def idle(resources: list[tuple[str, str]], template_text: str) -> tuple[list[tuple[str, str, str]],
                                                                       list[str]]:
    """Each resource with its idle cost, and anything found that would cost when idle."""
    rows = [(name, kind, IDLE.get(kind, "unknown: check")) for name, kind in resources]
    found = [marker for marker in ALWAYS_ON_MARKERS if marker in template_text]
    found += [f"{name} ({kind})" for name, kind, note in rows if note == "unknown: check"]
    return rows, found


def storage_per_thousand_month(bytes_per_referral: float) -> float:
    p = prices()["dynamodb"]
    gb = 1000 * bytes_per_referral / 1e9
    return float(gb * (p["storage_gb_month"] + p["pitr_gb_month"]))
