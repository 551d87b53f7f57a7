"""One-time action links: the way a person acts on a step from an email.

A link carries an opaque random id, never the Step Functions task token. Only the id's SHA-256
is stored, bound to one referral, one step, one action and one recipient, with an expiry.
Using a link is part of the same transaction as the status change it makes, so a link works
once and two people racing on one step cannot both win.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from chalicelib.store import ReferralStore, now_iso, sha256

# What a link lets its recipient do, by the path it is served under.
ACTIONS = ("sign-off", "answer", "agreement", "release", "review", "closure", "withdraw",
           "outcome")


@dataclass(frozen=True)
class Link:
    id_hash: str
    reference: str
    step: str
    action: str
    recipient: str
    valid_until: int
    used_at: str | None

    @property
    def expired(self) -> bool:
        return self.valid_until <= int(time.time())


class LinkProblem(Exception):
    """Why a link cannot be used; `status` is the HTTP status the page is served with."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.message = message


def issue(store: ReferralStore, reference: str, step: str, action: str, recipient: str,
          valid_days: int) -> str:
    """A new link; returns the id to put in the URL (stored only hashed)."""
    if action not in ACTIONS:
        raise ValueError(action)
    link_id = secrets.token_urlsafe(32)
    store.put_link(
        sha256(link_id),
        {"reference": reference, "step": step, "action": action, "recipient": recipient.lower(),
         "created_at": now_iso()},
        valid_until=int(time.time()) + valid_days * 24 * 3600,
    )
    return link_id


def look_up(store: ReferralStore, action: str, link_id: str) -> Link:
    """The link behind an id from a URL, or LinkProblem saying plainly why it cannot be used."""
    unknown = LinkProblem(
        404, "This link is not valid",
        "Check you copied the whole link from the email. If it still does not work, contact the "
        "PHB team.")
    if not (20 <= len(link_id) <= 100) or not link_id.replace("-", "").replace("_", "").isalnum():
        raise unknown
    item = store.get_link(sha256(link_id))
    if item is None or item["action"] != action:
        raise unknown
    link = Link(
        id_hash=sha256(link_id), reference=item["reference"], step=item["step"],
        action=item["action"], recipient=item["recipient"], valid_until=int(item["valid_until"]),
        used_at=item.get("used_at"),
    )
    if link.used_at:
        raise LinkProblem(
            409, "This link has already been used",
            "Each link works once. What it was for has been done: you do not need to do "
            "anything else.")
    if link.expired:
        raise LinkProblem(
            410, "This link has expired",
            "Links work for a limited time. Contact the PHB team, quoting the reference in the "
            "email, and they will send a new one.")
    return link


def use_item(store: ReferralStore, link: Link) -> dict[str, Any]:
    """The transaction item that uses the link up (fails if used or expired meanwhile)."""
    return store.use_link_item(link.id_hash, int(time.time()))
