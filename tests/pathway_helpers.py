"""Acting as the people on the pathway: find a link in the outbox, open it, act on it."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from devstack.outbox import SentEmail, sent_emails
from tests.conftest import wait_for

LINK = re.compile(r"http://testserver(/act/([a-z-]+)/([A-Za-z0-9_-]+))")


def links_in(email: SentEmail) -> list[tuple[str, str]]:
    """(action, path) of each action link in an email."""
    return [(m.group(2), m.group(1)) for m in LINK.finditer(email.text)]


REFERENCE = re.compile(r"PHB-[A-Z0-9]{4}-[A-Z0-9]{4}")


def emails_to(address: str, subject_words: str = "") -> list[SentEmail]:
    """This test's emails to `address`: an earlier test's execution, still finishing, can
    send one about a referral this test's table does not hold."""
    return [e for e in sent_emails() if e.to == address and subject_words in e.subject
            and _of_this_test(e)]


def _of_this_test(email: SentEmail) -> bool:
    from tests.conftest import services

    found = REFERENCE.search(email.subject)
    return found is None or services().store.referrals.find(found.group(0)) is not None


def wait_for_email(address: str, subject_words: str, count: int = 1,
                   timeout: float = 20.0) -> SentEmail:
    """The newest email to `address` whose subject has `subject_words`, once there are `count`."""
    found = wait_for(lambda: len(emails_to(address, subject_words)) >= count, timeout)
    assert found
    return emails_to(address, subject_words)[-1]


def link_path(email: SentEmail, action: str) -> str:
    paths = [path for found, path in links_in(email) if found == action]
    assert paths, (action, email.text)
    return paths[0]


def post_form(client: Any, path: str, fields: dict[str, str]) -> Any:
    return client.http.post(path, body=urlencode(fields),
                            headers={"Content-Type": "application/x-www-form-urlencoded"})


def reqol(prefix: str = "reqol10", score: str = "3") -> dict[str, str]:
    return {**{f"{prefix}.items.{i}": score for i in range(10)},
            f"{prefix}.physical_health": score}


def body(response: Any) -> str:
    return response.body.decode() if isinstance(response.body, bytes) else str(response.body)
