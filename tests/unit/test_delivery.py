"""What became of an email: which status replaces which, what stops a step, and which
undelivered requests the case page lists at the top."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from chalicelib.domain import delivery
from chalicelib.domain.records import EmailRecord


@dataclass(frozen=True)
class Waiting:
    """A referral waiting for its manager's sign-off (what `outcome_if_done` reads)."""

    status: str = "awaiting_sign_off"
    step: str | None = "manager"
    approvers: tuple[str, ...] = ("manager", "panel")
    recorded: dict[str, Any] = field(default_factory=dict)


def email(to: str, at: str, status: str = "sent", kind: str = "sign_off_request",
          step: str = "manager", bounce_type: str | None = None,
          status_at: str | None = None) -> EmailRecord:
    return EmailRecord(kind, to, "subject", at, key=f"{kind}:{step}:{at}:{to}",
                       status=status, bounce_type=bounce_type, status_at=status_at)


@pytest.mark.parametrize(("status", "replaced"), [
    ("delayed", ("sent",)),
    ("delivered", ("sent", "delayed")),
    ("bounced", ("sent", "delayed", "delivered")),
    ("complained", ("sent", "delayed", "delivered")),
    ("sent", ()),
    ("opened", ()),
])
def test_a_status_replaces_only_weaker_ones(status: str, replaced: tuple[str, ...]) -> None:
    assert delivery.replaces(status) == replaced


def test_a_permanent_bounce_a_complaint_or_a_reject_stops_the_step() -> None:
    assert delivery.stops_the_step("bounced", "permanent")
    assert delivery.stops_the_step("complained", None)
    assert delivery.stops_the_step("rejected", None)
    assert not delivery.stops_the_step("bounced", "transient")
    assert not delivery.stops_the_step("delivered", None)


def test_an_undelivered_request_is_listed_until_sent_to_another_address() -> None:
    bounced = email("bounce.priya@nhs.net", "2026-12-01T10:00:00.000Z", "bounced",
                    bounce_type="permanent", status_at="2026-12-01T10:00:05.000Z")
    same_again = email("Bounce.Priya@nhs.net", "2026-12-01T11:00:00.000Z", kind="reminder")
    advisors_told = email("phb-advisors@example.org", "2026-12-01T10:00:06.000Z",
                          kind="undelivered")
    corrected = email("priya.shah@nhs.net", "2026-12-01T12:00:00.000Z")

    assert delivery.undelivered_requests([bounced], Waiting()) == [bounced]
    # A reminder to the same address corrects nothing; a request to another address does.
    # Neither does telling the advisors about it.
    assert delivery.undelivered_requests([bounced, same_again, advisors_told], Waiting()) == [
        bounced]
    assert delivery.undelivered_requests([bounced, same_again, corrected], Waiting()) == []


def test_an_undelivered_email_counts_only_while_its_step_waits() -> None:
    bounced = email("bounce.priya@nhs.net", "2026-12-01T10:00:00.000Z", "bounced",
                    bounce_type="permanent")
    acknowledgement = EmailRecord("acknowledgement", "sam@nhs.net", "s", "2026-12-01T09:00Z",
                                  key="acknowledgement", status="bounced",
                                  bounce_type="permanent")

    assert delivery.undelivered_requests([bounced], Waiting(step="panel")) == []
    assert delivery.undelivered_requests([bounced], Waiting(status="withdrawn")) == []
    assert delivery.undelivered_requests([acknowledgement], Waiting()) == []


def test_another_panel_members_email_sent_with_it_is_no_correction() -> None:
    first = email("bounce.a@example.org", "2026-12-01T10:00:00.000Z", "bounced", step="panel",
                  bounce_type="permanent", status_at="2026-12-01T10:00:05.000Z")
    second = email("b@example.org", "2026-12-01T10:00:00.100Z", step="panel")

    assert delivery.undelivered_requests([first, second], Waiting(step="panel")) == [first]
