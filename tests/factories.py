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
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last: Any = int(parts[-1]) if parts[-1].isdigit() else parts[-1]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return result
