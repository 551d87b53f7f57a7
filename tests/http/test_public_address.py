"""The address links start with, in a stack deployed without a custom domain: the web function
takes it from each request's API Gateway context (the API's id and stage), never from the Host
header, and the pathway function reads it from the SSM parameter the template writes. With a
custom domain (or PublicBaseUrl) that address wins, as the other tests' `http://testserver`
shows for every link they follow.

The web function is called here as Lambda calls it, with API Gateway's own event, because
chalice.test.Client's events carry no API id or stage.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib import config
from chalicelib.config import Settings, get_settings
from devstack.outbox import sent_emails
from tests.conftest import services, wait_for_acknowledgement
from tests.factories import make_referral

API_ID = "a1b2c3d4e5"
API_ADDRESS = f"https://{API_ID}.execute-api.eu-west-2.amazonaws.com/api"
# Whoever sends a request chooses its Host header (and API Gateway's `domainName` with it).
FORGED_HOST = "phb-pathway.example.net"
STAFF = "amara.nwosu@example.org"  # on the test stage's staff list


@pytest.fixture
def no_configured_address(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings as the template gives a stack with neither DomainName nor PublicBaseUrl."""
    monkeypatch.setenv("PHB_PUBLIC_BASE_URL", "")
    monkeypatch.setenv("PHB_API_GATEWAY_DOMAIN", "execute-api.eu-west-2.amazonaws.com")
    config.forget_api_address()
    get_settings.cache_clear()
    yield
    config.forget_api_address()
    get_settings.cache_clear()


def through_api_gateway(method: str, route: str, headers: dict[str, str],
                        body: str = "") -> dict[str, Any]:
    """What the web function answers to API Gateway's proxy event for a request to the stage
    address (`/api/...`) carrying these headers, as Lambda calls it."""
    import app as application

    event = {
        "resource": route, "path": route, "httpMethod": method,
        "headers": {"Host": FORGED_HOST, **headers},
        "multiValueQueryStringParameters": None, "pathParameters": None,
        "stageVariables": None, "isBase64Encoded": False, "body": body or None,
        "requestContext": {
            "resourcePath": route, "httpMethod": method, "path": f"/api{route}",
            "stage": "api", "apiId": API_ID, "domainName": FORGED_HOST,
            "domainPrefix": FORGED_HOST.split(".")[0], "identity": {"sourceIp": "192.0.2.1"},
        },
    }
    answer: dict[str, Any] = application.app(event, None)
    if answer.get("isBase64Encoded"):
        answer["body"] = base64.b64decode(answer["body"]).decode()
    return answer


def test_the_web_function_links_to_the_api_it_was_reached_through_never_the_host(
        memory: Any, no_configured_address: None) -> None:
    page = through_api_gateway("GET", "/referral", {})
    assert page["statusCode"] == 200
    # The stage path API Gateway strips from the request is put back on every link.
    assert 'action="/api/referral/start"' in page["body"]
    assert re.findall(r'(?:href|action)="/(?!api/)', page["body"]) == []

    # The sign-in link's hand-off runs in this process here, as the emails the web function
    # sends itself do (an address corrected, an amendment); on AWS the pathway function sends
    # it, with the address from the parameter (the last test).
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    asked = through_api_gateway("POST", "/staff/sign-in", {**form, "Sec-Fetch-Site": "same-origin"},
                                urlencode({"email": STAFF}))
    assert asked["statusCode"] == 200
    [email] = memory.mailer.sent
    links = re.findall(r"https?://[^\s\"<>]+", email.text)
    assert links and all(link.startswith(f"{API_ADDRESS}/staff/sign-in/") for link in links)
    assert FORGED_HOST not in email.text and FORGED_HOST not in email.html

    # A browser sending no Sec-Fetch-Site must name the API's own origin, not the Host's.
    forged = through_api_gateway("POST", "/staff/sign-in",
                                 {**form, "Origin": f"https://{FORGED_HOST}"},
                                 urlencode({"email": STAFF}))
    assert forged["statusCode"] == 403
    ours = through_api_gateway("POST", "/staff/sign-in",
                               {**form, "Origin": f"https://{API_ID}.execute-api.eu-west-2."
                                                  "amazonaws.com"},
                               urlencode({"email": STAFF}))
    assert ours["statusCode"] == 200


def test_only_an_api_id_and_stage_as_api_gateway_writes_them_make_an_address() -> None:
    deployed = Settings(stage="dev", api_gateway_domain="execute-api.eu-west-2.amazonaws.com")
    config.forget_api_address()
    try:
        for context in ({"apiId": f"{FORGED_HOST}/", "stage": "api"},
                        {"apiId": API_ID, "stage": "api/../x"},
                        {"domainName": f"{API_ID}.execute-api.eu-west-2.amazonaws.com"}):
            config.learn_api_address(deployed, context)
            with pytest.raises(RuntimeError, match="no public address"):
                deployed.base_url  # noqa: B018 (the property is what is tested)
        config.learn_api_address(deployed, {"apiId": API_ID, "stage": "api"})
        assert deployed.base_url == API_ADDRESS and deployed.base_path == "/api"
    finally:
        config.forget_api_address()


def test_a_configured_address_wins_over_the_request(memory: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHB_PUBLIC_BASE_URL", "https://phb.example.org")
    monkeypatch.setenv("PHB_API_GATEWAY_DOMAIN", "execute-api.eu-west-2.amazonaws.com")
    get_settings.cache_clear()
    try:
        page = through_api_gateway("GET", "/referral", {})
        # Served at the custom domain's root: no stage path on the links.
        assert 'action="/referral/start"' in page["body"]
        assert get_settings().base_url == "https://phb.example.org"
    finally:
        config.forget_api_address()
        get_settings.cache_clear()


def test_the_pathway_function_links_to_the_address_in_the_templates_parameter(
        api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    from devstack.stack import STACK_NAME

    # The parameter the template makes for this stack, which the function may read.
    name = f"/phb-pathway/{STACK_NAME}/api-address"
    boto3.client("ssm", region_name="eu-west-2").put_parameter(
        Name=name, Value=API_ADDRESS, Type="String", Overwrite=True)
    monkeypatch.setenv("PHB_PUBLIC_BASE_URL", "")
    monkeypatch.setenv("PHB_API_ADDRESS_PARAMETER", name)
    config.read_parameter.cache_clear()
    get_settings.cache_clear()
    try:
        # Stored and started as intake does, outside any request: only the pathway function
        # has the parameter's name (the web function learns its address from its requests).
        from chalicelib.domain.validation import validate_referral
        from chalicelib.intake.submission import submit

        referral = validate_referral(make_referral(), get_settings())
        assert not isinstance(referral, list), referral
        reference = submit(services(), referral, None).reference
        wait_for_acknowledgement(reference)
        [acknowledgement] = [e for e in sent_emails()
                             if reference in e.subject and e.kind == "acknowledgement"]
        # Its withdraw, amend, status and sign-in links: every one at the API's address.
        links = re.findall(r"https?://[^\s\"<>]+", acknowledgement.text)
        assert len(links) >= 3 and all(link.startswith(f"{API_ADDRESS}/") for link in links)
    finally:
        config.read_parameter.cache_clear()
        get_settings.cache_clear()
