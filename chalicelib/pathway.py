"""Referral statuses and the transitions allowed between them (no I/O).

Every status change in the table is a conditional write from one of the allowed previous
statuses, so two clicks or two approvers can never both win.
"""

from __future__ import annotations

from typing import Literal

Status = Literal["submitted", "awaiting_sign_off", "needs_attention"]

STATUS_LABELS: dict[str, str] = {
    "submitted": "Submitted",
    "awaiting_sign_off": "Waiting for sign-off",
    "needs_attention": "Needs attention from a PHB advisor",
}

# to-status -> the statuses it may be reached from
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    "awaiting_sign_off": ("submitted",),
    "needs_attention": ("submitted", "awaiting_sign_off"),
}


def allowed_from(status: str) -> tuple[str, ...]:
    return ALLOWED_FROM[status]
