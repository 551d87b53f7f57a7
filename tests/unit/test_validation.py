"""The referral contract's validator: each rule names the field with a message a clinician can
act on, every bad field at once; no AWS involved."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.config import Settings
from chalicelib.domain.referral import Referral
from chalicelib.domain.validation import label_for, message_for, validate_referral
from tests.factories import make_referral, with_change
from tests.validation_cases import CASES, IDS

SETTINGS = Settings(stage="test")


@pytest.mark.parametrize("path, value, field, words", CASES, ids=IDS)
def test_each_rule_names_the_field(path: str, value: Any, field: str, words: str) -> None:
    errors = validate_referral(with_change(make_referral(), path, value), SETTINGS)
    assert isinstance(errors, list)
    by_field = {e.field: e.message for e in errors}
    assert field in by_field, by_field
    assert words.lower() in by_field[field].lower(), by_field[field]


def test_a_valid_referral_is_the_contract_model() -> None:
    referral = validate_referral(make_referral(total_pence=30000), SETTINGS)
    assert isinstance(referral, Referral)
    assert referral.total_pence == 30000


def test_raw_json_is_validated_the_same_way() -> None:
    import json

    bad = json.dumps(with_change(make_referral(), "person.postcode", "E8"))
    errors = validate_referral(bad, SETTINGS)
    assert isinstance(errors, list) and [e.field for e in errors] == ["person.postcode"]


@pytest.mark.parametrize("path, label", [
    ("items.1.cost_pence", "the cost of item 2"), ("goals.0.target_date",
                                                   "the target date for goal 1"),
    ("reqol10_baseline.items.9", "ReQoL-10 question 10 score"), ("nonsense.field",
                                                                "nonsense.field")])
def test_error_labels_name_the_row_people_see(path: str, label: str) -> None:
    assert label_for(path) == label


def test_an_unknown_error_still_names_its_field() -> None:
    assert message_for("person.postcode", "something_new", {}, "is odd") == \
        "The person's postcode: is odd"
