"""POST /api/referrals through chalice.test.Client, on moto: the JSON contract in DOMAIN.md."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from typing import Any

import pytest

from chalicelib.adapters import aws
from chalicelib.config import get_settings
from chalicelib.domain.dates import add_months
from chalicelib.domain.ports import Referrals
from tests.conftest import execution_status, services, wait_for_acknowledgement
from tests.factories import make_referral, with_change


def stored_items() -> list[dict[str, Any]]:
    table = get_settings().table_name
    return aws.client("dynamodb").scan(TableName=table)["Items"]


def referrals() -> Referrals:
    return services().store.referrals


def errors_of(response: Any) -> dict[str, str]:
    return {e["field"]: e["message"] for e in response.json_body["errors"]}


# --- accepted ---------------------------------------------------------------------------------


def test_valid_referral_is_stored_and_its_workflow_started(api: Any) -> None:
    response = api(make_referral())
    assert response.status_code == 201
    reference = response.json_body["reference"]
    assert re.fullmatch(r"PHB-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}", reference)
    assert response.json_body["status"] == "submitted"
    assert response.headers["Location"] == f"/api/referrals/{reference}"
    assert response.json_body["warnings"] == []

    stored = referrals().get(reference)
    assert json.loads(stored.answers)["person"]["nhs_number"] == "9434765919"
    assert next(e.what for e in referrals().history(reference)) == "submitted"
    wait_for_acknowledgement(reference)
    assert execution_status(reference) == "RUNNING"  # now waiting for sign-off


def test_status_url_gives_the_status_without_personal_data(api: Any, client: Any) -> None:
    reference = api(make_referral()).json_body["reference"]
    wait_for_acknowledgement(reference)
    response = client.http.get(f"/api/referrals/{reference}")
    assert response.status_code == 200
    assert response.json_body == {"reference": reference, "status": "awaiting_sign_off"}
    assert client.http.get("/api/referrals/PHB-2222-2222").status_code == 404


def test_values_are_normalised_when_stored(api: Any) -> None:
    referral = with_change(make_referral(), "person.postcode", " e81dy ")
    referral = with_change(referral, "person.nhs_number", "943-476-5919")
    referral = with_change(referral, "referrer.name", "  Sam Okafor  ")
    reference = api(referral).json_body["reference"]
    answers = json.loads(referrals().get(reference).answers)
    assert answers["person"]["postcode"] == "E8 1DY"
    assert answers["person"]["nhs_number"] == "9434765919"
    assert answers["referrer"]["name"] == "Sam Okafor"


@pytest.mark.parametrize("email", ["a.b@nhs.net", "a.b@elft.nhs.uk", "a.b@NHS.NET",
                                   "a@nelft.nhs.uk"])
def test_nhs_email_domains_and_subdomains_are_allowed(api: Any, email: str) -> None:
    response = api(with_change(make_referral(), "referrer.email", email))
    assert response.status_code == 201, response.json_body


def test_a_goal_more_than_3_months_away_is_accepted_with_a_warning(api: Any) -> None:
    far = (TODAY + timedelta(days=120)).isoformat()
    response = api(with_change(make_referral(), "goals.0.target_date", far))
    assert response.status_code == 201
    assert [w["field"] for w in response.json_body["warnings"]] == ["goals.0.target_date"]
    assert "more than 3 months" in response.json_body["warnings"][0]["message"]


def test_the_location_keeps_the_stage_path_of_an_api_gateway_url(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHB_PUBLIC_BASE_URL",
                       "https://abc123.execute-api.eu-west-2.amazonaws.com/api")
    get_settings.cache_clear()
    response = api(make_referral())
    get_settings.cache_clear()
    assert response.headers["Location"] == f"/api/api/referrals/{response.json_body['reference']}"


def test_markup_in_free_text_is_stored_as_typed(api: Any) -> None:
    text = '<script>alert("x")</script> & <b>bold</b>'
    reference = api(with_change(make_referral(), "how_phb_helps", text)).json_body["reference"]
    assert json.loads(referrals().get(reference).answers)["how_phb_helps"] == text


# --- validation through the API (each rule's cases: tests/unit/test_validation.py) ----------

TODAY = date.today()


def test_a_refused_referral_names_the_field_and_stores_nothing(api: Any) -> None:
    response = api(with_change(make_referral(), "person.nhs_number", "9434765918"))
    assert response.status_code == 422
    assert "not a valid NHS number" in errors_of(response)["person.nhs_number"]
    assert stored_items() == []


def test_the_edges_of_each_date_rule_are_accepted(api: Any) -> None:
    eighteen_today = TODAY.replace(year=TODAY.year - 18) if (TODAY.month, TODAY.day) != (2, 29) \
        else date(TODAY.year - 18, 3, 1)
    for path, value in [("goals.0.target_date", TODAY.isoformat()),
                        ("goals.0.target_date", add_months(TODAY, 6).isoformat()),
                        ("person.date_of_birth", eighteen_today.isoformat())]:
        response = api(with_change(make_referral(), path, value))
        assert response.status_code == 201, (path, value, response.json_body)
    over = api(with_change(make_referral(), "goals.0.target_date",
                           (add_months(TODAY, 6) + timedelta(days=1)).isoformat()))
    assert "within 6 months" in errors_of(over)["goals.0.target_date"]
    young = api(with_change(make_referral(), "person.date_of_birth",
                            (eighteen_today + timedelta(days=1)).isoformat()))
    assert "under 18" in errors_of(young)["person.date_of_birth"]


def test_referrer_email_domains_come_from_configuration(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PHB_ALLOWED_REFERRER_DOMAINS", "charity.org.uk")
    get_settings.cache_clear()
    nhs = api(make_referral())
    ours = api(with_change(make_referral(), "referrer.email", "sam@charity.org.uk"))
    get_settings.cache_clear()
    assert "charity.org.uk" in errors_of(nhs)["referrer.email"]
    assert ours.status_code == 201, ours.json_body


def test_too_many_goals_and_items(api: Any) -> None:
    referral = make_referral()
    referral["goals"] = referral["goals"] * 4
    referral["items"] = referral["items"] * 11
    errors = errors_of(api(referral))
    assert "no more than 3" in errors["goals"]
    assert "no more than 10" in errors["items"]


def test_monthly_items_need_1_to_12_months(api: Any) -> None:
    base = make_referral()
    base["items"][0].update(recurrence="monthly", cost_pence=1000)
    for months, ok in [(0, False), (1, True), (12, True), (13, False)]:
        response = api(with_change(base, "items.0.months", months))
        assert (response.status_code == 201) is ok, (months, response.json_body)


def test_every_bad_field_is_named_at_once(api: Any) -> None:
    referral = with_change(make_referral(), "person.nhs_number", "123")
    referral = with_change(referral, "person.postcode", "nowhere")
    referral = with_change(referral, "items.0.cost_pence", -5)
    assert set(errors_of(api(referral))) == {
        "person.nhs_number", "person.postcode", "items.0.cost_pence"}


def test_approving_manager_is_needed_from_250_pounds(api: Any) -> None:
    referral = make_referral(total_pence=25000)
    del referral["approving_manager"]
    response = api(referral)
    assert response.status_code == 422
    assert "approving manager" in errors_of(response)["approving_manager"]
    assert api(make_referral(total_pence=24999)).status_code == 201
    assert stored_items() != []


def test_a_missing_approving_manager_is_named_with_the_other_bad_fields(api: Any) -> None:
    referral = with_change(make_referral(total_pence=30000), "person.postcode", "nowhere")
    del referral["approving_manager"]
    assert set(errors_of(api(referral))) == {"person.postcode", "approving_manager"}
    same = with_change(make_referral(total_pence=30000), "person.postcode", "nowhere")
    same["approving_manager"]["email"] = same["referrer"]["email"].upper()
    assert set(errors_of(api(same))) == {"person.postcode", "approving_manager.email"}
    assert stored_items() == []


def test_approving_manager_must_not_be_the_referrer(api: Any) -> None:
    referral = make_referral(total_pence=30000)
    referral["approving_manager"]["email"] = referral["referrer"]["email"]
    assert "someone other than you" in errors_of(api(referral))["approving_manager.email"]


def test_thresholds_come_from_configuration(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHB_REFERRER_SIGNOFF_BELOW_PENCE", "40000")
    monkeypatch.setenv("PHB_MANAGER_SIGNOFF_UP_TO_PENCE", "80000")
    get_settings.cache_clear()
    referral = make_referral(total_pence=30000)
    del referral["approving_manager"]
    response = api(referral)
    get_settings.cache_clear()
    assert response.status_code == 201


# --- malformed requests -------------------------------------------------------------------------


def test_malformed_json_is_400(api: Any) -> None:
    response = api(None, raw=b'{"referrer": ')
    assert response.status_code == 400
    assert "not valid JSON" in response.json_body["errors"][0]["message"]


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"42", b"null"])
def test_a_body_that_is_not_an_object_is_refused(api: Any, body: bytes) -> None:
    response = api(None, raw=body)
    assert response.status_code == 422
    assert response.json_body["errors"][0]["message"] == "The request body must be a JSON object"


def test_body_over_64_kb_is_413(api: Any) -> None:
    referral = make_referral(how_phb_helps="x" * (65 * 1024))
    response = api(referral)
    assert response.status_code == 413
    assert stored_items() == []


def test_non_json_content_type_is_refused(client: Any) -> None:
    response = client.http.post("/api/referrals", headers={"Content-Type": "text/plain"},
                                body="hello")
    assert response.status_code == 415


# --- idempotency --------------------------------------------------------------------------------


def test_same_idempotency_key_and_body_returns_the_same_referral(api: Any) -> None:
    referral = make_referral()
    first = api(referral, headers={"Idempotency-Key": "abc-123"})
    second = api(referral, headers={"Idempotency-Key": "abc-123"})
    assert first.status_code == second.status_code == 201
    assert first.json_body["reference"] == second.json_body["reference"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    referral_items = [i for i in stored_items() if i["sk"]["S"] == "REFERRAL"]
    assert len(referral_items) == 1


def test_same_idempotency_key_with_another_body_is_409(api: Any) -> None:
    api(make_referral(), headers={"Idempotency-Key": "abc-123"})
    response = api(make_referral(total_pence=999), headers={"Idempotency-Key": "abc-123"})
    assert response.status_code == 409
    assert errors_of(response)["Idempotency-Key"]
    assert len([i for i in stored_items() if i["sk"]["S"] == "REFERRAL"]) == 1


def test_without_a_key_each_post_is_a_new_referral(api: Any) -> None:
    referral = make_referral()
    assert api(referral).json_body["reference"] != api(referral).json_body["reference"]


def test_malformed_idempotency_key_is_400(api: Any) -> None:
    response = api(make_referral(), headers={"Idempotency-Key": "x" * 300})
    assert response.status_code == 400


# --- OpenAPI ------------------------------------------------------------------------------------


def test_openapi_document_is_generated_from_the_models(client: Any) -> None:
    document = client.http.get("/openapi.json").json_body
    assert document["openapi"].startswith("3.1")
    referral = document["components"]["schemas"]["Referral"]
    assert referral["additionalProperties"] is False
    assert set(referral["required"]) >= {"referrer", "person", "goals", "items"}
    person = document["components"]["schemas"]["Person"]
    assert set(person["properties"]["borough"]["enum"]) == {
        "city_and_hackney", "tower_hamlets", "newham"}
    post = document["paths"]["/api/referrals"]["post"]
    assert set(post["responses"]) >= {"201", "400", "409", "413", "422"}


# --- the postcode and the borough ---------------------------------------------------------------


@pytest.mark.parametrize("postcode, borough, words", [
    ("SW1A 1AA", "city_and_hackney", "SW1A 1AA is not in City & Hackney: it is outside North "
                                     "East London"),
    ("sw1a1aa", "newham", "SW1A 1AA is not in Newham"),
    ("E1 6AN", "newham", "E1 6AN is in Tower Hamlets, not Newham"),
])
def test_a_postcode_clearly_outside_the_borough_is_refused(api: Any, postcode: str,
                                                           borough: str, words: str) -> None:
    referral = with_change(make_referral(), "person", {**make_referral()["person"],
                                                        "postcode": postcode,
                                                        "borough": borough})
    response = api(referral)
    assert response.status_code == 422
    assert words in errors_of(response)["person.postcode"]
    assert stored_items() == []


def test_the_postcode_is_refused_beside_the_other_errors(api: Any) -> None:
    referral = with_change(make_referral(), "person.postcode", "SW1A 1AA")
    referral = with_change(referral, "person.nhs_number", "943 476 5918")
    assert set(errors_of(api(referral))) == {"person.postcode", "person.nhs_number"}
