"""AWS clients, created on first use and cached, so importing the app stays cheap.

Endpoints come from the standard `AWS_ENDPOINT_URL` variable: unset on AWS, pointed at the
local moto server by `make run`.
"""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        config=Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5,
                      read_timeout=10),
    )


def reset() -> None:
    """Forget cached clients (tests and the local stack change endpoints)."""
    client.cache_clear()


class LazyClient:
    """A boto3 client made on first use: building the adapters costs nothing until one of
    them calls AWS (the form's first page never does)."""

    def __init__(self, service: str) -> None:
        self.service = service

    def __getattr__(self, name: str) -> Any:
        return getattr(client(self.service), name)
