"""The advisor's first worklist view, "Needs my action": what waits on a PHB advisor now, and
nothing that waits on someone else."""

from __future__ import annotations

from chalicelib.actions import commands
from chalicelib.bootstrap import Services
from chalicelib.staff.worklist import needs_action, where_it_is
from chalicelib.workflow import recovery
from tests.factories import another_person
from tests.usecases.drive import submit
from tests.usecases.test_money import accepted
from tests.usecases.test_pathway import AIR_FRYER, REFERRER


def test_needs_my_action_lists_what_waits_on_an_advisor_and_nothing_else(
        memory: Services) -> None:
    referrals = memory.store.referrals
    waiting_on_referrer = submit(memory, total_pence=12000, person=another_person(0))
    flagged = submit(memory, items=[AIR_FRYER], person=another_person(1))
    commands.decide(memory, referrals.get(flagged), "referrer", REFERRER, "approved")
    to_release = accepted(memory, person=another_person(2))
    stuck = submit(memory, total_pence=12000, person=another_person(3))
    recovery.mark(memory, stuck, "ServiceError", "The pathway did not start.")

    rows = needs_action(memory).rows
    assert [row.reference for row in rows] == [stuck, to_release, flagged]
    assert waiting_on_referrer not in [row.reference for row in rows]
    assert [row.person_name for row in rows] == ["Person3 Morgan", "Person2 Morgan",
                                                 "Person1 Morgan"]
    words = {row.reference: where_it_is(row) for row in rows}
    assert words[flagged].startswith("Waiting for a PHB advisor's decision since ")
    assert words[to_release].startswith(
        "Waiting for a PHB advisor to record that the money was released since ")
    assert words[stuck] == "Needs attention from a PHB advisor"
