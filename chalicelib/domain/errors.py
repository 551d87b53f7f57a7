"""Errors the domain speaks: a field a person must fix, and what the store refuses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """An error about one field, named by its dotted path (`person.nhs_number`), with a message
    a person can act on. Shared by the API, the form, the action pages and the console."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


def errors_by_field(errors: list[FieldError]) -> dict[str, str]:
    """`{field: message}`, for pages that show each error beside its field."""
    return {error.field: error.message for error in errors}


class NotFound(Exception):
    """No referral has that reference."""


class TransitionRefused(Exception):
    """The referral was not in a status this change may start from (someone else won)."""


class IdempotencyConflict(Exception):
    """The idempotency key was used before with a different body."""

    def __init__(self, reference: str) -> None:
        super().__init__(reference)
        self.reference = reference  # the referral the key was first used for


class BadPageToken(Exception):
    """A worklist page link that this service did not make (or made for another view)."""
