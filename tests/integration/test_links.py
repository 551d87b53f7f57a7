"""Action links: opaque, single use, bound to one referral, step, action and recipient, with an
expiry. GET never acts; a bad link gets a clear page and a 4xx and changes nothing."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from chalicelib.actions import pages
from chalicelib.adapters import aws
from chalicelib.config import get_settings
from chalicelib.domain.identifiers import sha256
from chalicelib.domain.ports import Referrals
from devstack.polling import wait_for
from tests.conftest import services
from tests.factories import make_referral
from tests.pathway_helpers import body, link_path, post_form, wait_for_email

REFERRER = "sam.okafor@nhs.net"
MANAGER = "jo.patel@nhs.net"


def store() -> Referrals:
    return services().store.referrals


def history(reference: str) -> list[str]:
    return [e.what for e in store().history(reference)]


def submitted(api: Any, total: int = 30000) -> tuple[str, str]:
    """A referral waiting for its first sign-off, and that step's link. Returned once the step
    waits with its task token: the email goes out a moment before, while the execution is
    still writing the referral's history."""
    reference = api(make_referral(total_pence=total)).json_body["reference"]
    to, step = (MANAGER, "manager") if total >= 25000 else (REFERRER, "referrer")
    path = link_path(wait_for_email(to, "sign off"), "sign-off")
    wait_for(lambda: store().task_token(reference, step))
    return reference, path


def test_the_link_carries_a_random_id_not_the_task_token(api: Any) -> None:
    reference, path = submitted(api)
    link_id = path.rsplit("/", 1)[1]
    assert len(link_id) >= 40
    # The email goes out a moment before the state machine's waiting task keeps its token.
    token = wait_for(lambda: store().task_token(reference, "manager"))
    assert token not in path
    # Only the id's hash is stored.
    links = services().store.links
    assert links.get(link_id) is None
    stored_link = links.get(sha256(link_id))
    assert stored_link is not None and stored_link.recipient == MANAGER


def test_get_shows_what_to_decide_and_never_acts(api: Any, client: Any) -> None:
    reference, path = submitted(api)
    before = history(reference)
    for _ in range(3):
        page = client.http.get(path)
        assert page.status_code == 200
    text = body(page)
    for shown in ("Gym membership", "£300.00", "Free park exercise groups",
                  "Go to the gym twice a week", "Approve the request"):
        assert shown in text
    assert history(reference) == before
    assert store().get(reference).status == "awaiting_sign_off"
    assert post_form(client, path, {"decision": "approved"}).status_code == 200


def test_a_used_link_cannot_be_replayed(api: Any, client: Any) -> None:
    reference, path = submitted(api, total=12000)
    assert post_form(client, path, {"decision": "approved"}).status_code == 200
    wait_for_email(REFERRER, "agreement")  # the pathway has moved on to the agreement
    before = history(reference)
    replay = post_form(client, path, {"decision": "rejected", "reason": "changed my mind"})
    assert replay.status_code == 409
    assert "already been used" in body(replay)
    assert client.http.get(path).status_code == 409
    assert history(reference) == before and store().get(reference).status == "approved"


def test_an_expired_link_changes_nothing(api: Any, client: Any) -> None:
    reference, path = submitted(api)
    link_id = path.rsplit("/", 1)[1]
    aws.client("dynamodb").update_item(
        TableName=get_settings().table_name,
        Key={"pk": {"S": f"LINK#{sha256(link_id)}"}, "sk": {"S": "LINK"}},
        UpdateExpression="SET valid_until = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    for response in (client.http.get(path), post_form(client, path, {"decision": "approved"})):
        assert response.status_code == 410
        assert "expired" in body(response)
    assert store().get(reference).status == "awaiting_sign_off"


def test_links_expire_after_the_configured_days(api: Any) -> None:
    _, path = submitted(api)
    link = services().store.links.get(sha256(path.rsplit("/", 1)[1]))
    assert link is not None
    days = (link.valid_until - time.time()) / 86400
    assert 6.9 < days <= 7


@pytest.mark.parametrize("mangle", [
    lambda p: p[:-1] + ("A" if p[-1] != "A" else "B"),  # one character changed
    lambda p: p[:-5],                                     # cut short
    lambda p: p + "x",
    lambda p: p.replace("/sign-off/", "/agreement/"),     # used for another action
    lambda p: p.replace("/sign-off/", "/nonsense/"),
    lambda p: p.rsplit("/", 1)[0] + "/%3Cscript%3E",
])
def test_a_tampered_or_misused_link_is_refused(api: Any, client: Any, mangle: Any) -> None:
    reference, path = submitted(api)
    before = history(reference)
    bad = mangle(path)
    for response in (client.http.get(bad), post_form(client, bad, {"decision": "approved"})):
        assert response.status_code == 404
        assert "This link is not valid" in body(response)
        assert "Traceback" not in body(response)
    assert history(reference) == before
    assert store().get(reference).status == "awaiting_sign_off"


def test_a_link_for_someone_no_longer_asked_is_refused(
    api: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = api(make_referral(total_pence=60000)).json_body["reference"]
    post_form(client, link_path(wait_for_email(MANAGER, "sign off"), "sign-off"),
              {"decision": "approved"})
    path = link_path(wait_for_email("phb-panel@example.org", "sign off"), "sign-off")
    monkeypatch.setenv("PHB_PANEL_EMAILS", "someone.else@example.org")
    get_settings.cache_clear()
    response = post_form(client, path, {"decision": "approved"})
    assert response.status_code == 403
    assert store().get(reference).step == "panel"


def test_two_approvers_racing_on_one_step_exactly_one_wins(
    api: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHB_PANEL_EMAILS", "ann@example.org,bob@example.org")
    get_settings.cache_clear()
    reference = api(make_referral(total_pence=60000)).json_body["reference"]
    post_form(client, link_path(wait_for_email(MANAGER, "sign off"), "sign-off"),
              {"decision": "approved"})
    paths = [link_path(wait_for_email(who, "sign off"), "sign-off")
             for who in ("ann@example.org", "bob@example.org")]
    results: dict[str, Any] = {}
    decisions = [b"decision=approved", b"decision=rejected&reason=No"]

    def click(index: int) -> None:
        # The route's handler itself, on two threads at once (chalice.test.Client swaps
        # os.environ per request, so it cannot be shared between threads).
        _, _, action, link_id = paths[index].split("/")
        results[paths[index]] = pages.act(services(), action, link_id, decisions[index])

    threads = [threading.Thread(target=click, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(r.status_code for r in results.values())
    assert codes == [200, 409]
    loser = next(r for r in results.values() if r.status_code == 409)
    assert "already" in loser.body
    decided = [e for e in store().history(reference)
               if e.what in ("approved", "rejected") and e.detail.get("step") == "panel"]
    assert len(decided) == 1


def test_two_clicks_on_the_same_link_act_once(api: Any, client: Any) -> None:
    reference, path = submitted(api)
    first = post_form(client, path, {"decision": "approved"})
    second = post_form(client, path, {"decision": "approved"})
    assert (first.status_code, second.status_code) == (200, 409)
    assert [e.what for e in store().history(reference)].count("approved") == 1
