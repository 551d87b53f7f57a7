"""`make backfill`: the one-off backfill of a deployed stack's older referrals, run once after
upgrading from a version before the referrer index, the `ACTIVITY` items and the `SURNAME`
items (what it writes, and why it is safe to run again or alongside live traffic:
chalicelib/adapters/dynamo/backfill.py).

    python -m infra.backfill --stack phb-pathway-prod --region eu-west-2
    python -m infra.backfill --table <the stack's TableName output> --region eu-west-2
    python -m infra.backfill --stack phb-pathway-prod --after <token>   # resume after a page

It uses the AWS credentials of whoever runs it (the aws CLI's: a profile, or the environment),
which need dynamodb:Query, BatchGetItem, PutItem, UpdateItem and ConditionCheckItem on the
table and its indexes, and cloudformation:DescribeStacks for `--stack`. After each page it
prints the counts so far to stderr, with a token to resume after that page; at the end, the
counts to stdout. Nothing it prints holds personal data.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import boto3

from chalicelib.adapters.dynamo.backfill import Counts, backfill, resume_token, start_after


def table_of(cloudformation: Any, stack: str) -> str:
    """The table of a stack: its `TableName` output (CloudFormation names the table)."""
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    for output in outputs:
        if output["OutputKey"] == "TableName":
            return str(output["OutputValue"])
    raise SystemExit(f"ERROR: the stack {stack} has no TableName output: is it PHB Pathway's?")


def main(argv: list[str] | None = None) -> int:
    """Run the backfill as the command line asks; 0 once every referral has been read."""
    parser = argparse.ArgumentParser(
        prog="python -m infra.backfill",
        description="Give a deployed stack's older referrals what this version's reads need.")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="the stack's name, e.g. phb-pathway-prod")
    where.add_argument("--table", help="the table's name (the stack's TableName output)")
    parser.add_argument("--region", help="the stack's region (default: the aws CLI's)")
    parser.add_argument("--after", help="resume after this page (a token a run printed)")
    args = parser.parse_args(argv)
    try:
        after = start_after(args.after) if args.after else None
    except ValueError as exc:
        parser.error(f"--after: {exc}")
    session = boto3.session.Session(region_name=args.region)
    if not session.region_name:
        parser.error("--region: none given and the aws CLI has none configured")
    table = args.table or table_of(session.client("cloudformation"), args.stack)
    print(f"Backfilling {table} in {session.region_name}", flush=True)

    def progress(counts: Counts, last: dict[str, Any] | None) -> None:
        resume = f"; to resume after this page: --after {resume_token(last)}" if last else ""
        print(f"{counts.referrals} referrals read, {counts.written} writes{resume}",
              file=sys.stderr, flush=True)

    counts = backfill(session.client("dynamodb"), table, after, progress)
    print("\n".join(counts.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
