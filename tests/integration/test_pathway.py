"""The whole pathway with moto executing the real state machine, driven through the links in
the emails as each person would."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import aws
from chalicelib.config import get_settings
from chalicelib.store import ReferralStore
from tests.conftest import wait_for, wait_for_execution
from tests.factories import make_referral
from tests.pathway_helpers import body, link_path, post_form, reqol, wait_for_email

REFERRER = "sam.okafor@nhs.net"
MANAGER = "jo.patel@nhs.net"
PANEL = "phb-panel@example.org"
ADVISORS = "phb-advisors@example.org"


@pytest.fixture(autouse=True)
def quick_pathway(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reviews due at once and closure a second after review, so a test walks the pathway."""
    monkeypatch.setenv("PHB_REVIEW_AFTER_SECONDS", "0")
    monkeypatch.setenv("PHB_CLOSURE_AT_MOST_SECONDS_AFTER_REVIEW", "1")
    get_settings.cache_clear()


def store() -> ReferralStore:
    return ReferralStore(aws.client("dynamodb"), get_settings().table_name)


def status(reference: str) -> str:
    return store().get(reference).status


def wait_for_status(reference: str, wanted: str) -> None:
    wait_for(lambda: status(reference) == wanted)


def sign_off(client: Any, address: str, decision: str = "approved", count: int = 1,
             **extra: str) -> Any:
    email = wait_for_email(address, "sign off", count)
    path = link_path(email, "sign-off")
    page = client.http.get(path)
    assert page.status_code == 200, body(page)
    return post_form(client, path, {"decision": decision, **extra})


def accept_agreement(client: Any, address: str) -> Any:
    path = link_path(wait_for_email(address, "agreement"), "agreement")
    return post_form(client, path, {"name": "Alex Morgan", "accept": "yes",
                                    "choice": "accept"})


def release(client: Any) -> Any:
    path = link_path(wait_for_email(ADVISORS, "release the money"), "release")
    return post_form(client, path, {"management": "direct_payment", "amount": "120.00",
                                    "released": "yes"})


def test_fast_track_referral_from_submission_to_closure(api: Any, client: Any) -> None:
    reference = api(make_referral(total_pence=12000)).json_body["reference"]
    done = sign_off(client, REFERRER)
    assert done.status_code == 200, body(done)
    wait_for_status(reference, "approved")

    # The person has no email address: the referrer gets the agreement to share.
    agreement = accept_agreement(client, REFERRER)
    assert agreement.status_code == 200, body(agreement)
    wait_for_status(reference, "agreement_accepted")

    assert release(client).status_code == 200
    wait_for_status(reference, "funds_released")

    review_path = link_path(wait_for_email(REFERRER, "6-week review"), "review")
    review = post_form(client, review_path, {"bought": "yes", "goals.0.progress": "progressing",
                                             "receipts": "yes", **reqol(score="3")})
    assert review.status_code == 200, body(review)
    wait_for_status(reference, "reviewed")

    closure_path = link_path(wait_for_email(REFERRER, "time to close"), "closure")
    closed = post_form(client, closure_path, {"achieved": "yes", "unspent": "0",
                                              **reqol(score="4")})
    assert closed.status_code == 200, body(closed)
    wait_for_email(REFERRER, "is closed")
    assert wait_for_execution(reference)["status"] == "SUCCEEDED"
    stored = store().get(reference)
    assert stored.status == "closed"
    outcome = stored.recorded["closure"]["reqol10"]
    assert outcome == {"baseline_total": 20, "final_total": 40, "change": 20,
                       "reliable_improvement": True, "reliable_deterioration": False}
