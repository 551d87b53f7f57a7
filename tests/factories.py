"""Valid referrals to start from; each test changes only what it is about."""

from __future__ import annotations

import copy
from typing import Any

from devstack.example import NHS_NUMBER, make_items, make_referral

__all__ = ["NHS_NUMBER", "make_items", "make_referral", "with_change"]


def with_change(referral: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy with the value at a dotted path replaced (or removed, for `...`)."""
    result = copy.deepcopy(referral)
    target: Any = result
    parts = path.split(".")
    def key(part: str) -> Any:
        return int(part) if part.isascii() and part.isdigit() else part

    for part in parts[:-1]:
        target = target[key(part)]
    last = key(parts[-1])
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return result
