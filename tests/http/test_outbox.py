"""The local outbox: every email sent, readable and clickable (local stage only)."""

from __future__ import annotations

from typing import Any

from tests.conftest import wait_for, wait_for_acknowledgement
from tests.factories import make_referral


def test_outbox_lists_each_email_with_working_links(api: Any, client: Any) -> None:
    reference = api(make_referral()).json_body["reference"]
    wait_for_acknowledgement(reference)

    email = wait_for(lambda: client.http.get("/dev/outbox.json").json_body)[0]
    assert set(email) >= {"to", "subject", "text", "html", "sent_at"}
    assert email["to"] == "sam.okafor@nhs.net" and reference in email["subject"]
    assert email["sent_at"].startswith("20")

    page = client.http.get("/dev/outbox").body.decode()
    assert email["subject"] in page
    status_link = f"http://testserver/referrals/{reference}"
    assert f'<a href="{status_link}">{status_link}</a>' in page
    assert f'href="/dev/outbox/{email["id"]}"' in page

    rendered = client.http.get(f"/dev/outbox/{email['id']}")
    assert rendered.body.decode() == email["html"]
    assert "script-src" not in rendered.headers["Content-Security-Policy"]
    status_page = client.http.get("/referrals/" + reference)
    assert status_page.status_code == 200
    assert "Waiting for sign-off" in status_page.body.decode()


def test_an_unknown_email_is_a_clear_404(client: Any) -> None:
    response = client.http.get("/dev/outbox/nope")
    assert response.status_code == 404
    assert "Email not found" in response.body.decode()
