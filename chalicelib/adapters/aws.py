"""AWS clients, created on first use and cached, so importing the app stays cheap.

Endpoints come from the standard `AWS_ENDPOINT_URL` variable: unset on AWS, pointed at the
local moto server by `make run`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

# Called with each client made here. Empty on AWS; the local stack (devstack/) adds the fault
# switch and SES's mailbox simulator, which hook into the app's own clients only, never the
# clients tests use to look at what the app did.
CLIENT_HOOKS: list[Callable[[Any], None]] = []


@cache
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    made = boto3.client(
        service,
        config=Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5,
                      read_timeout=10),
    )
    for hook in CLIENT_HOOKS:
        hook(made)
    return made


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
