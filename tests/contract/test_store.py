"""One set of promises, kept by both stores: the DynamoDB adapter (on moto) and the in-memory
one the use-case tests run on. Each test runs against each (as in Chalice's todo-app sample),
so a use case proven on the fake holds on DynamoDB."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.dates import iso, now_iso
from chalicelib.domain.errors import (
    BadPageToken,
    IdempotencyConflict,
    NotFound,
    TransitionRefused,
)
from chalicelib.domain.ports import Store
from chalicelib.domain.records import Link, NewReferral, View

TABLE = "phb-contract"


def new(answers: str = '{"a": 1}', borough: str = "newham", nhs: str = "9434765919",
        total: int = 12000, referrer: str = "sam@nhs.net", last_name: str = "") -> NewReferral:
    return NewReferral(answers=answers, total_pence=total, referrer_email=referrer,
                       borough=borough, nhs_number=nhs, last_name=last_name)


def named(first: str, last: str) -> dict[str, str]:
    """What `new` takes for a referral of the person called `first last`."""
    return {"answers": json.dumps({"person": {"first_name": first, "last_name": last}}),
            "last_name": last}


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    if request.param == "memory":
        from chalicelib.adapters.memory import MemoryStore

        yield MemoryStore()
        return
    import boto3

    from chalicelib.adapters.dynamo import DynamoStore, table_definition
    from tests.conftest import SESSION

    SESSION.ensure()
    client = boto3.client("dynamodb", region_name="eu-west-2")
    client.create_table(**table_definition(TABLE))
    try:
        yield DynamoStore(client, TABLE)
    finally:
        client.delete_table(TableName=TABLE)


def created(store: Store, count: int, **changes: Any) -> list[str]:
    """`count` referrals, oldest first (each a few milliseconds after the last)."""
    references = []
    for _ in range(count):
        references.append(store.referrals.create(new(**changes), "sam@nhs.net").reference)
        time.sleep(0.003)  # created_at has millisecond resolution
    return references


def link(id_hash: str = "h" * 64, valid_for: int = 60, **fields: str) -> Link:
    return Link(id_hash=id_hash, action=fields.pop("action", "sign-off"),
                recipient="jo@nhs.net", valid_until=int(time.time()) + valid_for,
                created_at=now_iso(), **fields)


class TestReferrals:
    def test_a_referral_is_stored_with_its_first_event(self, store: Store) -> None:
        made = store.referrals.create(new(), "sam@nhs.net")
        assert (made.status, made.replayed) == ("submitted", False)
        held = store.referrals.get(made.reference)
        assert (held.status, held.answers, held.total_pence, held.referrer_email) == (
            "submitted", '{"a": 1}', 12000, "sam@nhs.net")
        assert held.created_at == held.updated_at and held.tier is None
        assert [(e.what, e.who) for e in store.referrals.history(made.reference)] == [
            ("submitted", "sam@nhs.net")]

    def test_a_typed_reference_is_found_forgiving_case_and_spacing(self, store: Store) -> None:
        reference = store.referrals.create(new(), "sam@nhs.net").reference
        found = store.referrals.find(reference.lower().replace("-", " "))
        assert found is not None and found.reference == reference
        assert store.referrals.find("PHB-2222-2222") is None
        assert store.referrals.find("nonsense") is None
        with pytest.raises(NotFound):
            store.referrals.get("PHB-2222-2222")

    def test_one_referral_per_idempotency_key(self, store: Store) -> None:
        assert store.referrals.replay_of("k") is None
        first = store.referrals.create(new(), "sam@nhs.net", idempotency_key="k")
        assert store.referrals.replay_of("k") == first.reference
        again = store.referrals.create(new(), "sam@nhs.net", idempotency_key="k")
        assert (again.reference, again.replayed) == (first.reference, True)
        with pytest.raises(IdempotencyConflict) as clash:
            store.referrals.create(new(answers='{"b": 2}'), "sam@nhs.net", idempotency_key="k")
        assert clash.value.reference == first.reference

    def test_a_change_happens_only_from_an_allowed_status(self, store: Store) -> None:
        reference = store.referrals.create(new(), "sam@nhs.net").reference
        store.referrals.change(reference, "awaiting_sign_off", ("submitted",), "system",
                               "intake_recorded", {"tier": "manager"},
                               fields={"tier": "manager", "approvers": ["manager", "panel"],
                                       "step": "manager", "flags": [{"code": "x"}],
                                       "progress": {"q": 1}})
        held = store.referrals.get(reference)
        assert (held.status, held.tier, held.approvers, held.step, held.flags,
                held.recorded) == ("awaiting_sign_off", "manager", ("manager", "panel"),
                                   "manager", [{"code": "x"}], {"q": 1})
        assert held.updated_at >= held.created_at
        with pytest.raises(TransitionRefused):
            store.referrals.change(reference, "approved", ("submitted",), "jo", "approved")
        with pytest.raises(TransitionRefused):  # the step is not the one asked for
            store.referrals.change(reference, "approved", ("awaiting_sign_off",), "jo",
                                   "approved", when={"step": "panel"})
        assert store.referrals.get(reference) == held
        assert [e.what for e in store.referrals.history(reference)] == [
            "submitted", "intake_recorded"]

    def test_a_link_is_used_up_with_the_change_once(self, store: Store) -> None:
        reference = store.referrals.create(new(), "sam@nhs.net").reference
        one_time = link(reference=reference, step="manager")
        store.links.put(one_time, kept_seconds=60)
        store.referrals.change(reference, "awaiting_sign_off", ("submitted",), "jo", "a",
                               using_link=one_time)
        assert store.links.get(one_time.id_hash).used_at  # type: ignore[union-attr]
        with pytest.raises(TransitionRefused):
            store.referrals.change(reference, "awaiting_sign_off", ("awaiting_sign_off",), "jo",
                                   "b", using_link=one_time)
        expired = link("e" * 64, valid_for=-1)
        store.links.put(expired, kept_seconds=60)
        with pytest.raises(TransitionRefused):
            store.referrals.change(reference, "awaiting_sign_off", ("awaiting_sign_off",), "jo",
                                   "c", using_link=expired)
        assert [e.what for e in store.referrals.history(reference)] == ["submitted", "a"]

    def test_events_and_emails_are_kept_in_order_each_email_once(self, store: Store) -> None:
        reference = store.referrals.create(new(), "sam@nhs.net").reference
        store.referrals.add_event(reference, "note_added", "ann@x.org", {"note": "hi"})
        assert not store.referrals.email_already_sent(reference, "ack")
        store.referrals.record_email(reference, "ack", "sam@nhs.net", "Received", "m-1")
        store.referrals.record_email(reference, "ack", "sam@nhs.net", "Received", "m-2")
        store.referrals.record_email(reference, "reminder:manager:t:jo@nhs.net", "jo@nhs.net",
                                     "Reminder", "m-3")
        assert store.referrals.email_already_sent(reference, "ack")
        assert [(e.kind, e.to) for e in store.referrals.emails_sent(reference)] == [
            ("ack", "sam@nhs.net"), ("reminder", "jo@nhs.net")]
        history = store.referrals.history(reference)
        assert [e.what for e in history] == ["submitted", "note_added", "email_sent:ack",
                                             "email_sent:reminder:manager:t:jo@nhs.net"]
        assert history[1].detail == {"note": "hi"}

    def test_waits_keep_their_token_due_time_and_reminders(self, store: Store) -> None:
        referrals = store.referrals
        reference = referrals.create(new(), "sam@nhs.net").reference
        referrals.save_task_token(reference, "manager", "t-1")
        referrals.save_task_token(reference, "manager", "t-2")
        referrals.save_task_token(reference, "information", "t-3")
        assert referrals.task_token(reference, "manager") == "t-2"
        assert referrals.task_tokens(reference) == {"manager": "t-2", "information": "t-3"}
        assert referrals.task_token(reference, "panel") is None
        seen = referrals.get(reference)
        assert referrals.mark_waiting(seen, "manager", "2020-01-01T00:00:00.000Z")
        # Waiting again (after a reminder) keeps the first due time.
        assert referrals.mark_waiting(seen, "manager", "2030-01-01T00:00:00.000Z")
        waiting = referrals.get(reference)
        assert (waiting.waiting_step, waiting.due_at) == ("manager",
                                                          "2020-01-01T00:00:00.000Z")
        overdue = referrals.page(View("overdue"), 10, now="2021-01-01T00:00:00.000Z")
        assert [r.reference for r in overdue.rows] == [reference]
        assert referrals.page(View("overdue"), 10, now="2019-01-01T00:00:00.000Z").rows == []
        assert [referrals.count_reminder(reference, "manager") for _ in range(3)] == [1, 2, 3]
        referrals.reset_reminders(reference, "manager")
        assert referrals.count_reminder(reference, "manager") == 1
        # A status change ends the wait; marking from what was seen before is refused.
        time.sleep(0.003)  # updated_at has millisecond resolution
        referrals.change(reference, "withdrawn", ("submitted",), "sam", "withdrawn")
        assert referrals.get(reference).waiting_step is None
        assert not referrals.mark_waiting(seen, "manager", "2020-01-01T00:00:00.000Z")
        assert referrals.page(View("overdue"), 10, now="2021-01-01T00:00:00.000Z").rows == []


class TestViews:
    def test_each_view_lists_newest_first(self, store: Store) -> None:
        referrals = store.referrals
        east, west, flagged = (created(store, 1, borough=b)[0]
                               for b in ("newham", "tower_hamlets", "newham"))
        referrals.change(flagged, "awaiting_sign_off", ("submitted",), "system", "intake",
                         fields={"tier": "referrer", "flags": [{"code": "household_items"}]})
        referrals.change(west, "awaiting_sign_off", ("submitted",), "system", "intake",
                         fields={"tier": "manager", "flags": []})

        def listed(view: View) -> list[str]:
            return [row.reference for row in referrals.page(view, 10).rows]

        assert listed(View("all")) == [flagged, west, east]
        assert listed(View("status", "submitted")) == [east]
        assert listed(View("status", "awaiting_sign_off")) == [flagged, west]
        assert listed(View("borough", "newham")) == [flagged, east]
        assert listed(View("tier", "manager")) == [west]
        assert listed(View("flagged")) == [flagged]
        row = referrals.page(View("flagged"), 10).rows[0]
        assert (row.status, row.tier, row.flagged, row.total_pence) == (
            "awaiting_sign_off", "referrer", True, 12000)

    @pytest.mark.parametrize("view", [View("all"), View("status", "submitted")])
    def test_pages_follow_on_to_the_end(self, store: Store, view: View) -> None:
        references = created(store, 7)
        seen: list[str] = []
        after = None
        for _ in range(5):
            page = store.referrals.page(view, 3, after)
            assert len(page.rows) <= 3
            seen += [row.reference for row in page.rows]
            after = page.next_page
            if after is None:
                break
        assert seen == references[::-1]

    @pytest.mark.parametrize("token", ["nope", "%%", "eyJ4IjogMX0="])
    def test_a_page_token_that_is_not_ours_is_refused(self, store: Store, token: str) -> None:
        created(store, 2)
        with pytest.raises(BadPageToken):
            store.referrals.page(View("all"), 1, token)

    def test_active_between_reads_the_referrals_active_in_the_range(
            self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        # A clock the test sets: each referral submitted and ended on days of its choosing.
        clock = ["2026-01-10"]

        def now() -> str:
            return f"{clock[0]}T09:00:00.000Z"

        for module in ("chalicelib.adapters.memory", "chalicelib.adapters.dynamo.referrals",
                       "chalicelib.adapters.dynamo.queries"):
            monkeypatch.setattr(f"{module}.now_iso", now)
        referrals = store.referrals

        def on(day: str, count: int = 1) -> list[str]:
            clock[0] = day
            return created(store, count)

        def end(reference: str, day: str, status: str = "withdrawn",
                ledger: dict[str, Any] | None = None) -> None:
            clock[0] = day
            referrals.change(reference, status, ("submitted", status), "jo@nhs.net", status,
                             fields={"ledger": ledger} if ledger else None)

        ended_in_march, = on("2026-01-10")
        still_open, = on("2026-02-10")
        to_recover, = on("2026-01-12")
        ended_in_april, = on("2026-04-02")
        later, = on("2026-05-01")
        end(ended_in_march, "2026-03-05")
        end(ended_in_april, "2026-04-20", "rejected")
        unspent = {"id": "u1", "amount_pence": 500, "reported_at": "2026-01-20T09:00:00.000Z",
                   "state": "to_recover"}
        end(to_recover, "2026-01-20", "closed", {"unspent": [unspent]})
        clock[0] = "2026-06-15"

        def active(since: str, until: str) -> list[str]:
            return [r.reference for r in referrals.active_between(since, until)]

        # Oldest first; money still to recover keeps a closed referral in every later range.
        assert active("2026-04-01", "2026-04-30") == [to_recover, still_open, ended_in_april]
        # Ended on the first day counts; the day after it does not (the same month's
        # partition holds it: it is read and left out).
        assert active("2026-03-05", "2026-03-31") == [ended_in_march, to_recover, still_open]
        assert active("2026-03-06", "2026-03-31") == [to_recover, still_open]
        assert active("2025-12-01", "2026-01-11") == [ended_in_march]
        assert active("2026-05-01", "2026-05-01") == [to_recover, still_open, later]
        assert active("2026-07-01", "2026-07-31") == [to_recover, still_open, later]

        # Settled, the money no longer keeps it: it ended the day it was settled.
        clock[0] = "2026-06-20"
        referrals.record(referrals.get(to_recover), "jo@nhs.net", "unspent_settled",
                         fields={"ledger": {"unspent": [{**unspent, "state": "recovered",
                                                          "settled_at": now()}]}})
        assert active("2026-06-20", "2026-06-30") == [to_recover, still_open, later]
        assert active("2026-06-21", "2026-06-30") == [still_open, later]
        # A later change to an ended referral moves its end to that day.
        clock[0] = "2026-07-03"
        referrals.record(referrals.get(ended_in_march), "jo@nhs.net", "note_added")
        assert active("2026-07-01", "2026-07-31") == [ended_in_march, still_open, later]


class TestReferrersOwn:
    def test_a_referrer_sees_only_their_own_newest_first_whatever_the_case(
            self, store: Store) -> None:
        referrals = store.referrals
        mine = created(store, 2, referrer="Priya.Shah@NHS.net")
        created(store, 1, referrer="sam@nhs.net")
        created(store, 1, referrer="priya.shah+team@nhs.net")  # another address
        mine += created(store, 1, referrer="priya.shah@nhs.net")
        page = referrals.for_referrer("PRIYA.SHAH@nhs.net", 10)
        assert [r.reference for r in page.referrals] == mine[::-1]
        assert page.next_page is None
        # Each as stored now, not as the index saw it.
        referrals.change(mine[0], "withdrawn", ("submitted",), "priya.shah@nhs.net",
                         "withdrawn")
        assert referrals.for_referrer("priya.shah@nhs.net", 10).referrals[-1].status == \
            "withdrawn"
        assert referrals.for_referrer("nobody@nhs.net", 10).referrals == []

    def test_pages_follow_on_and_another_referrers_token_is_refused(self, store: Store) -> None:
        referrals = store.referrals
        mine = created(store, 5, referrer="priya.shah@nhs.net")
        theirs = created(store, 3, referrer="sam@nhs.net")
        seen: list[str] = []
        after = None
        for _ in range(5):
            page = referrals.for_referrer("priya.shah@nhs.net", 2, after)
            assert len(page.referrals) <= 2
            seen += [r.reference for r in page.referrals]
            after = page.next_page
            if after is None:
                break
        assert seen == mine[::-1]
        their_token = referrals.for_referrer("sam@nhs.net", 1).next_page
        assert their_token is not None and theirs
        with pytest.raises(BadPageToken):
            referrals.for_referrer("priya.shah@nhs.net", 2, their_token)
        with pytest.raises(BadPageToken):
            referrals.for_referrer("priya.shah@nhs.net", 2, "nope")

    def test_a_corrected_address_moves_the_referral_and_retention_removes_it(
            self, store: Store) -> None:
        referrals = store.referrals
        [moved, kept] = created(store, 2, referrer="priya.shah@nhs.net")
        referrals.record(referrals.get(moved), "ann@example.org", "address_corrected",
                         fields={"referrer_email": "p.shah@elft.nhs.uk"})
        assert [r.reference for r in referrals.for_referrer("P.Shah@elft.nhs.uk", 10).referrals
                ] == [moved]
        assert [r.reference for r in referrals.for_referrer("priya.shah@nhs.net", 10).referrals
                ] == [kept]
        assert referrals.remove_personal_data(referrals.get(kept), {}, "retention job",
                                              "removed")
        assert referrals.for_referrer("priya.shah@nhs.net", 10).referrals == []


class TestDeliveries:
    def test_an_email_is_found_by_its_message_id_and_its_status_only_rises(
            self, store: Store) -> None:
        referrals = store.referrals
        reference, other = created(store, 2)
        referrals.record_email(reference, "ack", "sam@nhs.net", "Received", "m-1")
        referrals.record_email(reference, "sign_off_request:manager:t:jo@nhs.net",
                               "jo@nhs.net", "Please sign off", "m-2")
        found = referrals.email_by_message_id(reference, "m-2")
        assert found is not None
        assert (found.kind, found.step, found.to, found.status) == (
            "sign_off_request", "manager", "jo@nhs.net", "sent")
        assert referrals.email_by_message_id(reference, "m-3") is None
        assert referrals.email_by_message_id(other, "m-2") is None

        key = found.key
        assert referrals.record_delivery(reference, key, "delivered", "2026-12-01T10:00:00.000Z")
        assert not referrals.record_delivery(reference, key, "delivered", "2026-12-01T10:00:01Z")
        assert referrals.record_delivery(reference, key, "bounced", "2026-12-01T10:05:00.000Z",
                                         "permanent")
        # A late or repeated event never lowers it; an unknown status or email is refused.
        assert not referrals.record_delivery(reference, key, "delivered", "2026-12-01T11:00Z")
        assert not referrals.record_delivery(reference, key, "complained", "2026-12-01T11:00Z")
        assert not referrals.record_delivery(reference, key, "opened", "2026-12-01T11:00Z")
        assert not referrals.record_delivery(reference, "nope", "bounced", "2026-12-01T11:00Z")
        email = referrals.email_by_message_id(reference, "m-2")
        assert email is not None
        assert (email.status, email.status_at, email.bounce_type) == (
            "bounced", "2026-12-01T10:05:00.000Z", "permanent")
        # Only what did not arrive is in the history; deliveries stay on the email's record.
        events = [e for e in referrals.history(reference) if not e.what.startswith("email_sent")]
        assert [(e.what, e.detail) for e in events] == [
            ("submitted", {}), ("email_bounced", {"email": "sign_off_request", "to": "jo@nhs.net",
                                                  "step": "manager",
                                                  "bounce_type": "permanent"})]

    def test_a_referral_is_flagged_once_per_undelivered_email(self, store: Store) -> None:
        referrals = store.referrals
        reference, other = created(store, 2)
        seen = referrals.get(reference)
        detail = {"step": "manager", "to": "jo@nhs.net"}
        assert referrals.flag_undelivered(reference, "sign_off_request:manager:t:jo@nhs.net",
                                          detail)
        assert not referrals.flag_undelivered(reference,
                                              "sign_off_request:manager:t:jo@nhs.net", detail)
        assert referrals.flag_undelivered(reference, "reminder:manager:t2:jo@nhs.net", detail)
        assert [r.reference for r in referrals.page(View("flagged"), 10).rows] == [reference]
        assert [e.what for e in referrals.history(reference)] == [
            "submitted", "flagged_undelivered", "flagged_undelivered"]
        # Nothing else about the referral changes: the workflow's conditional writes still
        # apply to what it saw.
        assert referrals.get(reference) == seen
        referrals.record(seen, "system", "noted")
        assert referrals.get(other).status == "submitted"


class TestDataProtection:
    def test_one_persons_referrals_and_their_removal(self, store: Store) -> None:
        referrals = store.referrals
        mine = created(store, 2)
        theirs = created(store, 1, nhs="9434765870")
        assert referrals.references_for_person("943 476 5919") == mine
        ended = mine[0]
        referrals.add_event(ended, "note_added", "ann@example.org", {"note": "Alex said hi"})
        referrals.record_email(ended, "withdrawn:-:final:sam@nhs.net", "sam@nhs.net", "S", "m")
        referrals.record_delivery(ended, "withdrawn:-:final:sam@nhs.net", "bounced",
                                  now_iso(), "permanent")
        referrals.flag_undelivered(ended, "withdrawn:-:final:sam@nhs.net",
                                   {"to": "sam@nhs.net"})
        referrals.save_task_token(ended, "manager", "t")
        referrals.change(ended, "withdrawn", ("submitted",), "sam@nhs.net", "withdrawn",
                         {"reason": "moved"})
        future = iso(datetime.now(UTC).replace(year=2100))
        # Every referral counts by its last change, open ones too (`mine[1]` is submitted).
        assert sorted(referrals.inactive_before(future)) == sorted([*mine, *theirs])
        assert referrals.inactive_before("2000-01-01") == []
        seen = referrals.get(ended)
        assert referrals.remove_personal_data(seen, {"borough": "newham"}, "retention job",
                                              "removed")
        gone = referrals.get(ended)
        assert (gone.answers, gone.referrer_email, gone.facts, gone.status) == (
            "", "", {"borough": "newham"}, "withdrawn")
        history = referrals.history(ended)
        assert all("@" not in e.who and "@" not in e.what and e.detail in ({}, {
            "retention": "ended before the retention period"}) for e in history), history
        assert history[-1].what == "personal_data_removed"
        assert [(e.to, e.status, "@" in e.key) for e in referrals.emails_sent(ended)] == [
            ("removed", "bounced", False)]
        assert referrals.task_tokens(ended) == {}
        assert referrals.references_for_person("9434765919") == mine[1:]
        assert referrals.references_for_person("9434765870") == theirs
        assert ended not in referrals.inactive_before(future)
        # Done once: a second removal from what was seen before changes nothing.
        assert not referrals.remove_personal_data(seen, {}, "retention job", "removed")


class TestNames:
    def test_a_last_name_finds_its_peoples_referrals_whatever_the_case_until_retention(
            self, store: Store) -> None:
        referrals = store.referrals
        okafors = created(store, 2, **named("Ada", "Okafor"))
        created(store, 1, **named("Ada", "Okaforo"))
        created(store, 1, **named("Okafor", "Bell"))
        found = referrals.for_last_name("  OKAFOR ", 50)
        assert [r.reference for r in found] == okafors[::-1]
        assert [r.reference for r in referrals.for_last_name("okafor", 1)] == okafors[-1:]
        assert referrals.for_last_name("Okaf", 50) == []
        assert referrals.remove_personal_data(referrals.get(okafors[0]), {}, "retention job",
                                              "removed")
        assert [r.reference for r in referrals.for_last_name("Okafor", 50)] == okafors[1:]

    def test_each_row_names_the_person_until_retention_removes_it(self, store: Store) -> None:
        referrals = store.referrals
        first, second = created(store, 2, **named("Ada", "Okafor"))
        referrals.change(second, "awaiting_sign_off", ("submitted",), "system", "intake")
        for view in (View("all"), View("status", "submitted"), View("borough", "newham")):
            assert [r.person_name for r in referrals.page(view, 25).rows if
                    r.reference == first] == ["Ada Okafor"], view
        rows = referrals.in_statuses(("submitted", "awaiting_sign_off"))
        assert sorted(r.person_name for r in referrals.named(rows)) == ["Ada Okafor"] * 2
        assert referrals.remove_personal_data(referrals.get(first), {}, "retention job",
                                              "removed")
        assert [(r.reference, r.person_name) for r in referrals.named(rows)
                if r.reference == first] == [(first, "")]


class TestLinksSessionsDrafts:
    def test_a_link_is_kept_by_its_hash_and_used_once(self, store: Store) -> None:
        one_time = link(action="sign-in")
        store.links.put(one_time, kept_seconds=60)
        assert store.links.get(one_time.id_hash) == one_time
        assert store.links.get("x" * 64) is None
        assert store.links.use(one_time.id_hash, int(time.time()))
        assert not store.links.use(one_time.id_hash, int(time.time()))
        assert store.links.get(one_time.id_hash).used_at  # type: ignore[union-attr]
        expired = link("e" * 64, valid_for=-1)
        store.links.put(expired, kept_seconds=60)
        assert not store.links.use(expired.id_hash, int(time.time()))
        assert not store.links.use("x" * 64, int(time.time()))

    def test_a_session_lives_until_it_expires_or_ends(self, store: Store) -> None:
        now = int(time.time())
        store.sessions.start("s1", "ann@example.org", now + 60)
        store.sessions.start("s2", "ann@example.org", now - 1)
        assert store.sessions.is_live("s1", now)
        assert not store.sessions.is_live("s2", now)
        assert not store.sessions.is_live("s3", now)
        store.sessions.end("s1")
        assert not store.sessions.is_live("s1", now)

    def test_a_draft_keeps_what_was_typed(self, store: Store) -> None:
        assert store.drafts.load("d1") is None
        store.drafts.save("d1", {"person.first_name": "Alex"})
        store.drafts.save("d1", {"person.first_name": "Alex", "person.last_name": "Morgan"})
        assert store.drafts.load("d1") == {"person.first_name": "Alex",
                                           "person.last_name": "Morgan"}


class TestRecordsAndSchedule:
    def test_a_record_writes_fields_and_an_event_without_a_status_change(
            self, store: Store) -> None:
        referrals = store.referrals
        reference = referrals.create(new(), "sam@nhs.net").reference
        seen = referrals.get(reference)
        referrals.mark_waiting(seen, "manager", "2030-01-01T00:00:00.000Z")
        waiting = referrals.get(reference)
        time.sleep(0.003)
        referrals.record(waiting, "ann@x.org", "funds_released",
                         {"amount_pence": 100}, fields={"ledger": {"releases": [1]}})
        after = referrals.get(reference)
        assert (after.status, after.ledger, after.waiting_step) == (
            "submitted", {"releases": [1]}, "manager")
        assert after.updated_at > waiting.updated_at
        assert referrals.history(reference)[-1].detail == {"amount_pence": 100}
        with pytest.raises(TransitionRefused):  # changed since it was seen
            referrals.record(waiting, "ann@x.org", "again", fields={"ledger": {}})
        assert referrals.get(reference).ledger == {"releases": [1]}

    def test_releases_due_by_a_date_are_listed_until_none_is_due(self, store: Store) -> None:
        referrals = store.referrals
        early, late, never = created(store, 3)
        for reference, due in ((early, "2027-01-01"), (late, "2027-03-01")):
            referrals.record(referrals.get(reference), "ann", "scheduled",
                             fields={"next_release_due": due})
        assert referrals.releases_due("2026-12-31") == []
        assert referrals.releases_due("2027-01-01") == [early]
        assert referrals.releases_due("2027-06-30") == [early, late]
        referrals.record(referrals.get(early), "ann", "released",
                         fields={"next_release_due": None})
        assert referrals.get(early).next_release_due is None
        assert referrals.releases_due("2027-06-30") == [late]
        assert never not in referrals.releases_due("2099-01-01")


class TestCaps:
    def test_an_address_is_sent_up_to_its_cap_then_held_back_and_shown(
            self, store: Store) -> None:
        now = int(time.time())
        taken = [store.caps.take("sign_in", "Jo@Example.org", 3, 900, now + i)
                 for i in range(5)]
        assert taken == [True, True, True, False, False]
        # The same mailbox however it is typed, with or without a +tag: one count.
        assert not store.caps.take("sign_in", "jo@EXAMPLE.org", 3, 900, now + 6)
        assert not store.caps.take("sign_in", "Jo+Flood7@example.org", 3, 900, now + 6)
        held = store.caps.held_back(now)
        assert [(h.kind, h.count) for h in held] == [("sign_in", 4)]
        assert held[0].last_at.startswith(iso(datetime.fromtimestamp(now + 6, UTC))[:19])

    def test_the_window_slides_and_kinds_and_addresses_are_counted_apart(
            self, store: Store) -> None:
        now = int(time.time())
        assert store.caps.take("sign_in", "jo@example.org", 2, 900, now)
        assert store.caps.take("sign_in", "jo@example.org", 2, 900, now + 600)
        assert not store.caps.take("sign_in", "jo@example.org", 2, 900, now + 899)
        # The first left the window 900 s after it was sent: one more may go, not two.
        assert store.caps.take("sign_in", "jo@example.org", 2, 900, now + 900)
        assert not store.caps.take("sign_in", "jo@example.org", 2, 900, now + 901)
        assert store.caps.take("acknowledgement", "jo@example.org", 2, 3600, now + 901)
        assert store.caps.take("sign_in", "sam@example.org", 2, 900, now + 901)
        assert store.caps.held_back(now + 902) == []
        assert {h.kind for h in store.caps.held_back(now)} == {"sign_in"}

    def test_many_at_once_never_send_more_than_the_cap(self, store: Store) -> None:
        from concurrent.futures import ThreadPoolExecutor

        now = int(time.time())
        with ThreadPoolExecutor(max_workers=8) as pool:
            taken = list(pool.map(
                lambda _: store.caps.take("sign_in", "jo@example.org", 3, 900, now), range(12)))
        assert 1 <= taken.count(True) <= 3
        assert store.caps.held_back(now)[0].count == taken.count(False)


class TestAssignments:
    def test_a_case_is_assigned_to_one_advisor_at_a_time_and_listed_under_them(
            self, store: Store) -> None:
        first, second, third = created(store, 3)
        referrals = store.referrals
        before = referrals.get(first)
        referrals.assign(before, "Amara.Okoye@example.org", "ben.hughes@example.org")
        referrals.assign(referrals.get(second), "amara.okoye@example.org",
                         "amara.okoye@example.org")
        assert [r.reference for r in referrals.assigned_to("AMARA.OKOYE@example.org", 10)] == [
            second, first]
        assert referrals.get(first).assigned_to == "Amara.Okoye@example.org"
        # Assigning changes nothing else: not where it is, nor since when.
        assert referrals.get(first).updated_at == before.updated_at
        assert [(e.what, e.who, e.detail) for e in referrals.history(first)][-1] == (
            "assigned", "ben.hughes@example.org", {"to": "Amara.Okoye@example.org"})
        # Assigned again, it moves: one advisor at a time.
        referrals.assign(referrals.get(first), "ben.hughes@example.org", "ben.hughes@example.org")
        assert [r.reference for r in referrals.assigned_to("amara.okoye@example.org", 10)] == [
            second]
        assert [r.reference for r in referrals.assigned_to("ben.hughes@example.org", 10)] == [
            first]
        assert referrals.assigned_to("nobody@example.org", 10) == []
        assert third not in [r.reference for r in referrals.assigned_to(
            "amara.okoye@example.org", 1)]
