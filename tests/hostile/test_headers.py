"""The security headers are on every response of every route (enumerated from the app), and
on Chalice's own answers (405, 415): before this, no response had Strict-Transport-Security or
Permissions-Policy."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.web.security import SECURITY_HEADERS

SAMPLES = {"action": "sign-off", "link_id": "x" * 43, "reference": "PHB-AAAA-AAAA",
           "section": "person", "name": "app.css", "message_id": "m-1"}


def every_route() -> list[tuple[str, str]]:
    import app

    return sorted((path, method) for path, methods in app.app.routes.items()
                  for method in methods)


def concrete(path: str) -> str:
    for name, value in SAMPLES.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"no sample for a parameter of {path}"
    return path


def assert_secure(answer: Any, context: str) -> None:
    headers = {name.lower(): value for name, value in answer.headers.items()}
    for name in SECURITY_HEADERS:
        assert name.lower() in headers, (context, name)
    hsts = headers["strict-transport-security"]
    max_age = int(hsts.split("max-age=", 1)[1].split(";", 1)[0])
    assert max_age >= 365 * 24 * 3600 and "includesubdomains" in hsts.lower(), hsts
    assert "camera=()" in headers["permissions-policy"]
    assert "geolocation=()" in headers["permissions-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(("route", "method"), every_route())
def test_every_route_answers_with_the_security_headers(
        memory_client: Any, route: str, method: str) -> None:
    answer = memory_client.http.request(
        method, concrete(route), body=b"",
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_secure(answer, f"{method} {route} -> {answer.status_code}")


def test_chalices_own_answers_carry_them_too(memory_client: Any) -> None:
    not_allowed = memory_client.http.request("PUT", "/referral/start", body=b"")
    assert not_allowed.status_code == 405
    assert_secure(not_allowed, "405")
    wrong_type = memory_client.http.post("/referral/start", body=b"{}",
                                         headers={"Content-Type": "application/json"})
    assert wrong_type.status_code == 415
    assert_secure(wrong_type, "415")
    refused = memory_client.http.post("/referral/start", body=b"", headers={
        "Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403
    assert_secure(refused, "403")
