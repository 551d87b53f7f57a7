"""The seam between the use cases and the outside world: what the store, the mailer and the
workflow engine must do, as Protocols.

`chalicelib/bootstrap.py` builds the real adapters (DynamoDB, SES, Step Functions) once per
Lambda container; tests pass the in-memory ones (`chalicelib/adapters/memory.py`), which pass the
same contract tests (`tests/contract/`). Callers speak the domain: references, steps, links;
never keys, transaction items or page tokens they could read.
"""

from __future__ import annotations

from typing import Any, Protocol

from chalicelib.domain.records import (
    Created,
    Email,
    EmailRecord,
    Event,
    HeldBack,
    Link,
    NewReferral,
    ReferralPage,
    StoredReferral,
    View,
    WorklistPage,
    WorklistRow,
)


class Referrals(Protocol):
    """Referrals, their append-only history, the emails sent and the steps waiting."""

    def create(self, new: NewReferral, actor: str, idempotency_key: str | None = None
               ) -> Created:
        """Store a new referral with its `submitted` event, once per idempotency key (a replay
        returns the first; another body with the key raises IdempotencyConflict)."""
        ...

    def replay_of(self, idempotency_key: str) -> str | None:
        """The referral an idempotency key was used for, if it was."""
        ...

    def get(self, reference: str) -> StoredReferral:
        """The referral, read consistently; NotFound if there is none."""
        ...

    def find(self, typed_reference: str) -> StoredReferral | None:
        """The referral a person's typed reference names, forgiving case and spacing."""
        ...

    def change(self, reference: str, to: str, from_statuses: tuple[str, ...], actor: str,
               what: str, detail: dict[str, Any] | None = None,
               fields: dict[str, Any] | None = None, when: dict[str, str] | None = None,
               using_link: Link | None = None) -> None:
        """Change status only from an allowed one, with its history event, atomically.

        `fields` are written with it (`tier` and `flags` also file it in the worklist's tier
        and flagged views), `when` must hold for the change to happen, and `using_link` is used
        up in the same transaction (it must be unused and unexpired). TransitionRefused if any
        condition fails. The referral leaves the waiting (overdue) view."""
        ...

    def record(self, seen: StoredReferral, actor: str, what: str,
               detail: dict[str, Any] | None = None, fields: dict[str, Any] | None = None) -> None:
        """Write `fields` (None removes one) and an event without changing the status, only
        if the referral is unchanged since `seen`: TransitionRefused if it changed."""
        ...

    def add_event(self, reference: str, what: str, who: str,
                  detail: dict[str, Any] | None = None) -> None: ...

    def history(self, reference: str) -> list[Event]:
        """Every event, oldest first."""
        ...

    def email_already_sent(self, reference: str, key: str) -> bool: ...

    def record_email(self, reference: str, key: str, to: str, subject: str,
                     message_id: str) -> None:
        """Remember an email was sent, with its event; once per key."""
        ...

    def emails_sent(self, reference: str) -> list[EmailRecord]:
        """Each email recorded, oldest first."""
        ...

    def email_by_message_id(self, reference: str, message_id: str) -> EmailRecord | None:
        """The referral's email SES sent as `message_id`, if it has one (the referral's own
        email records only: no scan)."""
        ...

    def record_delivery(self, reference: str, key: str, status: str, at: str,
                        bounce_type: str | None = None) -> bool:
        """Record what became of an email (`chalicelib/domain/delivery.py`): only over a
        status it may replace, with a history event for those kept in the history; False
        when the email has that status already or a stronger one (a repeated event)."""
        ...

    def flag_undelivered(self, reference: str, key: str, detail: dict[str, Any]) -> bool:
        """Flag the referral for the advisors because the email recorded under `key` did not
        reach whoever a step waits on: filed in the flagged view, with a history event, once
        per email (False after the first). The status and the referral's other fields stay
        as they are: the step still waits."""
        ...

    def save_task_token(self, reference: str, step: str, token: str) -> None: ...

    def task_token(self, reference: str, step: str) -> str | None: ...

    def task_tokens(self, reference: str) -> dict[str, str]: ...

    def mark_waiting(self, seen: StoredReferral, step: str, due_at: str) -> bool:
        """File the referral in the waiting view (its first reminder due at `due_at`) if it is
        unchanged since `seen`; False if it changed meanwhile."""
        ...

    def count_reminder(self, reference: str, step: str) -> int:
        """One more reminder for the step; the count so far."""
        ...

    def reset_reminders(self, reference: str, step: str) -> None: ...

    def page(self, view: View, size: int, after: str | None = None,
             now: str | None = None) -> WorklistPage:
        """One page of a worklist view, newest first; `after` is a page's `next_page`
        (BadPageToken when it is not one of this view's). Overdue means a first reminder due
        before `now`. Index queries only: never a scan."""
        ...

    def active_between(self, since: str, until: str) -> list[StoredReferral]:
        """Every referral active in the range (both YYYY-MM-DD, inclusive): submitted on or
        before `until` and not ended before `since` (`chalicelib.domain.facts.ended_on`), oldest
        first. What it reads grows with the referrals active in the range, not with the table:
        index queries only, never a scan."""
        ...

    def releases_due(self, by: str) -> list[str]:
        """References with a monthly release due on or before `by` (YYYY-MM-DD)."""
        ...

    def references_for_person(self, nhs_number: str) -> list[str]: ...

    def for_last_name(self, last_name: str, size: int) -> list[StoredReferral]:
        """The referrals of people with this last name (ignoring case and spacing), newest
        first, at most `size`, as stored now. An index query, never a scan; referrals whose
        personal data was removed are not found."""
        ...

    def named(self, rows: list[WorklistRow]) -> list[WorklistRow]:
        """The rows with each person's name, read by key with the referrals (one batch for a
        page); a name is never copied into an index."""
        ...

    def assign(self, seen: StoredReferral, to: str, actor: str) -> None:
        """Assign the case to the PHB advisor `to` (one at a time: a new one replaces the
        last), recorded in its history as done by `actor`. Nothing else about it changes."""
        ...

    def assigned_to(self, email: str, size: int) -> list[StoredReferral]:
        """The cases assigned to `email` (ignoring case), newest first, at most `size`. An index
        query, never a scan."""
        ...

    def for_referrer(self, email: str, size: int, after: str | None = None) -> ReferralPage:
        """One page of the referrals whose referrer is `email` (ignoring case), newest first,
        each as stored now; `after` is a page's `next_page` (BadPageToken when it is not one of
        this referrer's). An index query: never a scan. Referrals whose personal data was
        removed are not listed."""
        ...

    def in_statuses(self, statuses: tuple[str, ...]) -> list[WorklistRow]:
        """Every referral in these statuses (the reconciler's open referrals): one query of
        the status index per status, never a scan."""
        ...

    def inactive_before(self, before: str) -> list[str]:
        """References last changed before `before`, whatever their status (ended, open or
        needing attention), still holding personal data: the retention job's candidates."""
        ...

    def remove_personal_data(self, seen: StoredReferral, facts: dict[str, Any], actor: str,
                             removed: str) -> bool:
        """Replace the referral's personal data by its anonymous facts, and remove it from its
        history, email records and waits, if it is unchanged since `seen`; False if not."""
        ...


class Links(Protocol):
    """One-time links, by the SHA-256 of their id: action links and staff sign-in alike."""

    def put(self, link: Link, kept_seconds: int) -> None:
        """Store a new link, kept `kept_seconds` after it stops working (then removed)."""
        ...

    def get(self, id_hash: str) -> Link | None: ...

    def use(self, id_hash: str, now: int) -> bool:
        """Mark the link used if it exists, is unused and unexpired; False if not."""
        ...


class Sessions(Protocol):
    """Signed-in staff sessions, by the SHA-256 of their CSRF token."""

    def start(self, id_hash: str, email: str, expires: int) -> None: ...

    def is_live(self, id_hash: str, now: int) -> bool: ...

    def end(self, id_hash: str) -> None: ...


class Drafts(Protocol):
    """Referral forms in progress, by the random id in their cookie."""

    def save(self, draft_id: str, values: dict[str, str]) -> None: ...

    def load(self, draft_id: str) -> dict[str, str] | None: ...


class Caps(Protocol):
    """How many emails of a kind each address was sent lately: a cap per address holds across
    every Lambda instance, so a flood of requests cannot flood a mailbox."""

    def take(self, kind: str, address: str, limit: int, window_seconds: int, now: int) -> bool:
        """Count one more email of `kind` to `address`'s mailbox (ignoring case and a `+tag`)
        and return True;
        unless `limit` were counted in the `window_seconds` before `now`: then record it as
        held back and return False."""
        ...

    def held_back(self, since: int) -> list[HeldBack]:
        """The emails held back at or after `since`, per kind and address, newest first."""
        ...


class Store(Protocol):
    """The aggregates, each behind its own small interface."""

    @property
    def referrals(self) -> Referrals: ...

    @property
    def links(self) -> Links: ...

    @property
    def sessions(self) -> Sessions: ...

    @property
    def drafts(self) -> Drafts: ...

    @property
    def caps(self) -> Caps: ...


class Mailer(Protocol):
    def send(self, email: Email) -> str:
        """Send the email; the message id. Errors propagate, so the workflow retries."""
        ...


class Background(Protocol):
    def start(self, task: str, payload: dict[str, Any]) -> None:
        """Have the pathway function run `task` with `payload` soon, not waiting for it: a
        request answers in the same time whatever the task then finds to do."""
        ...


class Workflow(Protocol):
    def start(self, reference: str, attempt: int = 1) -> bool:
        """Start the referral's execution, named by its reference (and, resumed, its attempt
        number: it then starts where the referral is). Starting twice is harmless: a running
        execution of that name is the one started; False if one has finished."""
        ...

    def status(self, reference: str, attempt: int = 1) -> str | None:
        """How that execution stands (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED), or
        None if it was never started."""
        ...

    def running(self) -> set[str]:
        """The names of every execution running now."""
        ...

    def stop(self, reference: str, attempt: int = 1) -> None:
        """Stop that execution if it is running (a resumed attempt replaces it)."""
        ...

    def complete(self, token: str, outcome: str) -> bool:
        """Tell a waiting task its step is done; False if that wait had already ended."""
        ...
