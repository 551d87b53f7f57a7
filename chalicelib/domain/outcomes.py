"""Outcome measures: the ReQoL-10 change between referral and closure, the answers about each
goal, and what the answers raise for an advisor to follow up."""

from __future__ import annotations

from typing import Any

from chalicelib.domain.codes import FOLLOW_UPS
from chalicelib.domain.money import format_pence


def reqol_change(baseline: list[int], final: list[int], reliable: int) -> dict[str, Any]:
    """The totals (0–40, higher is better), their change, and whether the change passes the
    configured reliable-change threshold either way."""
    change = sum(final) - sum(baseline)
    return {"baseline_total": sum(baseline), "final_total": sum(final), "change": change,
            "reliable_improvement": change >= reliable,
            "reliable_deterioration": change <= -reliable}


def goal_answers(recorded: dict[str, Any] | None, key: str, goals: int) -> list[str | None]:
    """What a review (`key` "progress") or a closure (`key` "achieved") answered for each of
    `goals` goals, None where it said nothing. Reads every shape stored: a list of
    {"goal", key} (per goal), a review's older list of codes, a closure's older single
    `achieved` (then for every goal)."""
    if not recorded:
        return [None] * goals
    answers = recorded.get("goals")
    if isinstance(answers, list):
        found = [a.get(key) if isinstance(a, dict) else a for a in answers]
        return [str(a) if a else None for a in found[:goals]] + [None] * (goals - len(found))
    single = recorded.get(key)
    return [str(single) if single else None] * goals


def overall_achieved(answers: list[str]) -> str:
    """One closure answer for the goals together ("yes" only when every goal was achieved,
    "no" only when none was, else "partly"): what a closure recorded before it asked per goal,
    and what the pages that show one answer read."""
    if answers and all(a == "yes" for a in answers):
        return "yes"
    if answers and all(a == "no" for a in answers):
        return "no"
    return "partly"


def follow_ups(step: str, answered: dict[str, Any]) -> list[dict[str, Any]]:
    """The flags a review's or a closure's answers raise for a PHB advisor to follow up (as
    intake's flags are stored: code, reason, item): what was not bought, receipts not held,
    money unspent."""
    codes: list[str] = []
    if step == "review":
        codes += {"no": ["review_not_bought"], "partly": ["review_partly_bought"]}.get(
            str(answered.get("bought")), [])
        if answered.get("receipts") == "no":
            codes.append("review_no_receipts")
    unspent = int(answered.get("unspent_pence") or 0)
    if unspent > 0:
        codes.append(f"{step}_unspent")
    return [{"code": code, "reason": FOLLOW_UPS[code].format(amount=format_pence(unspent)),
             "item": None} for code in codes]
