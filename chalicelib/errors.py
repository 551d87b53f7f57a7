"""An error about one field, named by its dotted path (`person.nhs_number`), with a message a
person can act on. Shared by the API, the form and the action pages; no heavy imports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}
