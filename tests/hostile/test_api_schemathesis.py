"""Generated requests against the JSON API, as schemathesis reads it from the app's own
`/openapi.json` on the local stack (moto server + Chalice's local server on a real port).

Both operations, through schemathesis's coverage phase (each boundary and each way to break
each field, body and header in turn; undeclared methods; an unsupported Content-Type) and its
fuzzing with positive and negative data (wrong types, unknown fields, missing fields, a bad
Idempotency-Key or none, odd references); then bytes schemathesis never sends (cut-short and
corrupted JSON, nesting deeper than the parser goes, NaN, other encodings). Every response
must pass every schemathesis check that applies: no server error, a documented status code,
Content-Type and headers, the documented schema. And every 4xx of a documented operation must
be `{"errors": [{"field": ..., "message": ...}]}` (`#/components/schemas/Errors`), which
schemathesis itself does not check for its Content-Type probes.

Random data almost never passes the business rules no JSON Schema can say (NHS number
checksum, age, dates relative to today, NHS email domains), so valid referrals are also sent
on purpose: new ones, replays with the same Idempotency-Key, a clash with another body. Each
accepted referral starts a state machine execution in this process; there are a dozen.

Every request is counted; the last test asserts at least MIN_REQUESTS were generated.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import make_referral, unique_person, with_change

MIN_REQUESTS = 1000
FUZZ_EXAMPLES = 250  # per operation: positive and negative data, as hypothesis mixes them
NEGATIVE_EXAMPLES = 300  # per operation: negative data only
RAW_EXAMPLES = 150  # bodies that are not JSON at all, or barely

# Every request sent, by (operation, how it was generated, status code); ("wire", "", status)
# counts every response the HTTP session received.
SENT: Counter[tuple[str, str, int]] = Counter()

CONFIG: dict[str, Any] = {
    "generation": {"mode": "all"},
    "phases": {
        # Undeclared methods must be answered 405. Chalice's local server is Python's
        # http.server, which has no handler for TRACE or QUERY and answers 501 itself before
        # the app is reached; API Gateway, where the app is deployed, has no such methods either.
        "coverage": {"unexpected-methods": ["get", "put", "post", "delete", "patch", "options"]},
    },
    "checks": {
        # Schema-valid data may still break a rule the schema cannot express (NHS number
        # checksum, age, dates, NHS email domains) and is then answered with the documented 422
        # naming the field: never 400, 413 or 415, and never 5xx.
        "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409", "422"]},
    },
}
NEGATIVE_CONFIG: dict[str, Any] = {
    **CONFIG,
    "generation": {"mode": "negative"},
    "phases": {"examples": {"enabled": False}, "coverage": {"enabled": False}},
}
HYPOTHESIS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much,
                              HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
}


@pytest.fixture(scope="module")
def session(local_stack: Any) -> Iterator[requests.Session]:
    """One HTTP session for every request, counting each response it receives."""

    def count(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        SENT[("wire", "", response.status_code)] += 1

    with requests.Session() as http:
        http.hooks["response"].append(count)
        yield http


def _load(url: str, config: dict[str, Any]) -> Any:
    return schemathesis.openapi.from_url(
        f"{url}/openapi.json", config=schemathesis.Config.from_dict(config), timeout=10
    )


@pytest.fixture(scope="module")
def api_schema(local_stack: Any) -> Any:
    return _load(local_stack.url, CONFIG)


@pytest.fixture(scope="module")
def negative_api_schema(local_stack: Any) -> Any:
    return _load(local_stack.url, NEGATIVE_CONFIG)


schema = schemathesis.pytest.from_fixture("api_schema")
negative_schema = schemathesis.pytest.from_fixture("negative_api_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32 renames the test per operation through `item._nodeid`, which pytest 9.2
    no longer has; give it one to read (reports keep pytest's own node id)."""
    request.node._nodeid = request.node.nodeid


def rejection_carries_the_documented_errors(ctx: Any, response: Any, case: Any) -> None:
    """Every 4xx of a documented operation is JSON matching #/components/schemas/Errors.

    schemathesis skips its response checks for its own Content-Type and method probes; this
    check does not, so Chalice's own {"Code": ..., "Message": ...} 415 would fail it. Undeclared
    methods are the router's 405, outside any operation of the document."""
    if case.method.upper() != case.operation.method.upper():
        return
    if not 400 <= response.status_code < 500:
        return
    content_type = (response.headers.get("content-type") or [""])[0]
    assert content_type.split(";")[0].strip() == "application/json", content_type
    errors = case.operation.schema.raw_schema["components"]["schemas"]["Errors"]
    try:
        jsonschema.Draft202012Validator(errors).validate(response.json())
    except (ValueError, jsonschema.ValidationError) as exc:
        raise AssertionError(f"{response.status_code} without the documented Errors body: "
                             f"{getattr(exc, 'message', exc)}\n{response.text[:300]}") from None


CHECKS = {"additional_checks": [rejection_carries_the_documented_errors]}


def _record(case: Any, response: Any) -> None:
    meta = case.meta
    how = f"{meta.phase.name.value}/{meta.generation.mode.value}" if meta else "explicit"
    if case.method.upper() == "POST" and case.operation.path == "/api/referrals":
        how += " key" if "Idempotency-Key" in (case.headers or {}) else " no-key"
    SENT[(f"{case.method.upper()} {case.operation.path}", how, response.status_code)] += 1


@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, **HYPOTHESIS)
def test_generated_requests_get_documented_answers(case: Any, session: requests.Session) -> None:
    """Examples, coverage and fuzzing phases, positive and negative data."""
    response = case.call_and_validate(session=session, timeout=30, **CHECKS)
    _record(case, response)


@negative_schema.parametrize()
@settings(max_examples=NEGATIVE_EXAMPLES, **HYPOTHESIS)
def test_fuzzed_invalid_requests_get_the_documented_error(
    case: Any, session: requests.Session
) -> None:
    """Fuzzing with negative data only: malformed bodies, wrong types, unknown fields, bad
    headers and path parameters."""
    response = case.call_and_validate(session=session, timeout=30, **CHECKS)
    _record(case, response)
    if case.operation.path == "/api/referrals":
        assert 400 <= response.status_code < 500


VALID = json.dumps(make_referral()).encode()


def _splice(at: int, junk: bytes) -> bytes:
    return VALID[:at] + junk + VALID[at:]


raw_bodies = st.one_of(
    st.binary(max_size=300),
    st.integers(0, len(VALID) - 1).map(lambda at: VALID[:at]),  # cut short
    st.builds(_splice, st.integers(0, len(VALID)), st.binary(min_size=1, max_size=6)),
    st.integers(1, 40_000).map(lambda n: b"[" * n + b"]" * n),  # nested deeper than the parser
    st.integers(1, 20_000).map(lambda n: b'{"referrer": ' + b'{"a": ' * n + b"1" + b"}" * n
                               + b"}"),
    st.sampled_from([
        b"", b" ", b"\x00", b"NaN", b"-Infinity", b'{"items": [{"cost_pence": 1e999}]}',
        b'{"items": [{"cost_pence": ' + b"9" * 5000 + b"}]}", b"\xef\xbb\xbf{}",
        "{}".encode("utf-16"), "{}".encode("utf-32"), b'{"a": 1, "a": 2}', b'"\\ud800"',
        b'{"how_phb_helps": "\\udfff"}', b"{'referrer': 1}", b"{\"referrer\": 1,}",
        b"\xff\xfe\xfd", b"[]" * 10, b"{}" + b" " * 70_000,
    ]),
)
json_content_types = st.sampled_from([
    "application/json", "application/json; charset=utf-8", "APPLICATION/JSON",
    "application/json;charset=latin-1", None,
])


@settings(max_examples=RAW_EXAMPLES, **HYPOTHESIS)
@given(body=raw_bodies, content_type=json_content_types)
def test_malformed_json_bodies_get_the_documented_error(
    api_schema: Any, local_stack: Any, session: requests.Session, body: bytes,
    content_type: str | None,
) -> None:
    """Bytes that schemathesis never sends (it sends only JSON it can serialise): cut-short and
    corrupted referrals, arbitrary bytes, nesting deeper than the JSON parser goes, NaN,
    huge numbers, other encodings. Every answer is documented and checked as schemathesis
    checks it."""
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = session.post(f"{local_stack.url}/api/referrals", data=body, headers=headers,
                            timeout=30)
    case = api_schema["/api/referrals"]["POST"].Case(body={})
    case.validate_response(response, **CHECKS)
    SENT[("POST /api/referrals", "raw/hypothesis no-key", response.status_code)] += 1
    assert response.status_code in (201, 400, 413, 422), response.text


def _post(operation: Any, session: requests.Session, body: Any,
          key: str | None = None) -> Any:
    case = operation.Case(body=body, headers={"Idempotency-Key": key} if key else {})
    response = case.call_and_validate(session=session, timeout=30, **CHECKS)
    _record(case, response)
    return response


def test_valid_referrals_replays_and_clashes_get_documented_answers(
    api_schema: Any, session: requests.Session
) -> None:
    create = api_schema["/api/referrals"]["POST"]
    status = api_schema["/api/referrals/{reference}"]["GET"]
    for n, total in enumerate([100, 24999, 25000, 50000, 50001, 99999]):
        # Each a person of their own: one person's referrals count together for sign-off.
        referral = make_referral(total_pence=total, person=unique_person())
        if n % 2:
            referral = with_change(referral, "person.email", None)
        first = _post(create, session, referral, key=f"hostile-{n}")
        assert first.status_code == 201, first.text
        replay = _post(create, session, referral, key=f"hostile-{n}")
        # The same referral again, with its status as it is now (its workflow may have moved
        # it on since the first answer).
        again = replay.json()
        assert (replay.status_code, again["reference"], again["warnings"]) == (
            201, first.json()["reference"], first.json()["warnings"])
        assert again["status"] in ("submitted", "awaiting_sign_off")
        assert replay.headers["idempotent-replayed"] == ["true"]  # lower-cased, listed
        clash = _post(create, session, make_referral(total_pence=total + 1), key=f"hostile-{n}")
        assert clash.status_code == 409, clash.text
        # No key: a new referral (for someone else: the same person's would count together).
        email = referral["person"].get("email")
        other = with_change(referral, "person", unique_person(email=email))
        assert _post(create, session, other).status_code == 201
        reference = first.json()["reference"]
        for typed in (reference, reference.lower(), reference.replace("-", " ")):  # %20
            case = status.Case(path_parameters={"reference": typed})
            response = case.call_and_validate(session=session, timeout=30, **CHECKS)
            _record(case, response)
            assert response.status_code == 200, response.text
    too_big = _post(create, session, make_referral(how_phb_helps="x" * (65 * 1024)))
    assert too_big.status_code == 413, too_big.text


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
    "application/xml", "application/jsonp", "*/*", "", "application/json, text/plain",
])
def test_a_body_that_is_not_json_is_415_with_the_documented_error(
    api_schema: Any, session: requests.Session, content_type: str
) -> None:
    case = api_schema["/api/referrals"]["POST"].Case(
        body=make_referral(), headers={"Content-Type": content_type})
    response = case.call_and_validate(session=session, timeout=30, **CHECKS)
    _record(case, response)
    assert response.status_code == 415, response.text
    assert response.json()["errors"][0]["field"] == "Content-Type"


GENERATING_TESTS = {
    "test_generated_requests_get_documented_answers",
    "test_fuzzed_invalid_requests_get_the_documented_error",
    "test_malformed_json_bodies_get_the_documented_error",
}


def test_at_least_1000_generated_requests(request: pytest.FixtureRequest) -> None:
    if not {item.name for item in request.session.items} >= GENERATING_TESTS:
        pytest.skip("counts the requests of the tests above; run the whole module")
    by_how: Counter[str] = Counter()
    by_status: Counter[int] = Counter()
    for (operation, how, code), n in SENT.items():
        if operation != "wire":
            by_how[f"{operation} {how}"] += n
            by_status[code] += n
    generated = sum(n for how, n in by_how.items() if "explicit" not in how)
    on_the_wire = sum(n for (operation, _, _), n in SENT.items() if operation == "wire")
    print(f"\n{on_the_wire} requests, {generated} of them generated:",
          json.dumps(dict(sorted(by_how.items())), indent=1),
          "\nstatus codes:", dict(sorted(by_status.items())))
    assert on_the_wire >= sum(by_how.values())  # each one recorded was really sent
    assert generated >= MIN_REQUESTS, by_how
    assert by_status.keys() <= {200, 201, 400, 404, 405, 409, 413, 415, 422}, by_status
