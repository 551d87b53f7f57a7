"""Assigning a case to a PHB advisor: one person on the staff list has it, recorded in its
history, and it is listed in their "Assigned to me" view."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalicelib.domain.errors import FieldError
from chalicelib.staff.sessions import StaffSession, staff_member

if TYPE_CHECKING:
    from chalicelib.bootstrap import Services
    from chalicelib.domain.records import StoredReferral


def assign(svc: Services, session: StaffSession, stored: StoredReferral,
           step: str | None) -> list[FieldError]:
    """Assign the case to the advisor chosen (the one signed in, unless another is chosen)."""
    chosen = session.form.get("assign_to", "").strip() or session.email
    member = staff_member(chosen, svc.settings)
    if member is None:
        return [FieldError("assign_to", "Choose someone on the staff list")]
    svc.store.referrals.assign(stored, member.email, session.email)
    return []
