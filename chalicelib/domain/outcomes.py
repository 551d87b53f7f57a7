"""Outcome measures: the ReQoL-10 change between referral and closure."""

from __future__ import annotations

from typing import Any


def reqol_change(baseline: list[int], final: list[int], reliable: int) -> dict[str, Any]:
    """The totals (0–40, higher is better), their change, and whether the change passes the
    configured reliable-change threshold either way."""
    change = sum(final) - sum(baseline)
    return {"baseline_total": sum(baseline), "final_total": sum(final), "change": change,
            "reliable_improvement": change >= reliable,
            "reliable_deterioration": change <= -reliable}
