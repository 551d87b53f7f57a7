"""The store on one DynamoDB table: `DynamoStore` holds an adapter per aggregate, each
implementing its Protocol in `chalicelib/domain/ports.py`. The table's layout is in `items.py`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.adapters.dynamo.caps import DynamoCaps
from chalicelib.adapters.dynamo.items import table_definition
from chalicelib.adapters.dynamo.links import DynamoLinks
from chalicelib.adapters.dynamo.referrals import DynamoReferrals
from chalicelib.adapters.dynamo.sessions import DynamoDrafts, DynamoSessions


@dataclass(frozen=True)
class DynamoStore:
    client: Any
    table: str
    referrals: DynamoReferrals = field(init=False)
    links: DynamoLinks = field(init=False)
    sessions: DynamoSessions = field(init=False)
    drafts: DynamoDrafts = field(init=False)
    caps: DynamoCaps = field(init=False)

    def __post_init__(self) -> None:
        for name, kind in (("referrals", DynamoReferrals), ("links", DynamoLinks),
                           ("sessions", DynamoSessions), ("drafts", DynamoDrafts),
                           ("caps", DynamoCaps)):
            object.__setattr__(self, name, kind(self.client, self.table))


__all__ = ["DynamoStore", "table_definition"]
