"""One-time links: the way a person acts on a step from an email, and the way staff and
referrers sign in.

A link carries an opaque random id, never the Step Functions task token. Only the id's SHA-256
is stored, bound to one action and one recipient (as typed: who they are is compared ignoring
case) and, for an action link, one referral and step, with an expiry. An action link is used
up in the same transaction as the status change it makes, so it works once and two people
racing on one step cannot both win.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from chalicelib.domain.dates import now_iso
from chalicelib.domain.identifiers import sha256
from chalicelib.domain.pathway import LINK_ACTIONS
from chalicelib.domain.policy import ACTION_LINK_KEPT_SECONDS, SIGN_IN_LINK_KEPT_SECONDS
from chalicelib.domain.ports import Links
from chalicelib.domain.records import Link

SIGN_IN = "sign-in"
# A referrer's sign-in to their own referrals (/my-referrals): its own action, so a staff link
# never signs a referrer in, nor the other way round.
REFERRER_SIGN_IN = "referrer-sign-in"
SIGN_IN_ACTIONS = (SIGN_IN, REFERRER_SIGN_IN)


class LinkProblem(Exception):
    """Why a link cannot be used; `status` is the HTTP status the page is served with."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.message = message


@dataclass(frozen=True)
class Wording:
    """What a person is told about a link that cannot be used."""

    unknown: tuple[str, str]
    used: tuple[str, str]
    expired: tuple[str, str]


ACTION_WORDING = Wording(
    unknown=("This link is not valid",
             "Check you copied the whole link from the email. If it still does not work, "
             "contact the PHB team."),
    used=("This link has already been used",
          "Each link works once. What it was for has been done: you do not need to do "
          "anything else."),
    expired=("This link has expired",
             "Links work for a limited time. Contact the PHB team, quoting the reference in "
             "the email, and they will send a new one."),
)


def issue(links: Links, action: str, recipient: str, valid_seconds: int, reference: str = "",
          step: str = "") -> str:
    """A new link; returns the id to put in the URL (stored only hashed)."""
    if action not in (*LINK_ACTIONS, *SIGN_IN_ACTIONS):
        raise ValueError(action)
    link_id = secrets.token_urlsafe(32)
    links.put(Link(id_hash=sha256(link_id), action=action, recipient=recipient,
                   valid_until=int(time.time()) + valid_seconds, created_at=now_iso(),
                   reference=reference, step=step),
              kept_seconds=SIGN_IN_LINK_KEPT_SECONDS if action in SIGN_IN_ACTIONS
              else ACTION_LINK_KEPT_SECONDS)
    return link_id


def look_up(links: Links, action: str, link_id: str,
            wording: Wording = ACTION_WORDING) -> Link:
    """The link behind an id from a URL, or LinkProblem saying plainly why it cannot be used."""
    unknown = LinkProblem(404, *wording.unknown)
    if not (20 <= len(link_id) <= 100) or not link_id.replace("-", "").replace("_", "").isalnum():
        raise unknown
    link = links.get(sha256(link_id))
    if link is None or link.action != action:
        raise unknown
    if link.used_at:
        raise LinkProblem(409, *wording.used)
    if link.expired:
        raise LinkProblem(410, *wording.expired)
    return link
