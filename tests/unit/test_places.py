"""The postcode sector table and how a postcode fits the borough chosen: no AWS involved."""

from __future__ import annotations

import json

import pytest

from chalicelib.config import POSTCODE_SECTORS_FILE, load_postcode_sectors
from chalicelib.domain.codes import BOROUGHS
from chalicelib.domain.places import OUTSIDE, load_table, place_of
from devstack.example import make_referral

TABLE = load_postcode_sectors()


@pytest.mark.parametrize("postcode, borough, fit", [
    ("E8 1DY", "city_and_hackney", "fits"),       # Dalston: the example's
    ("EC2V 7HH", "city_and_hackney", "fits"),     # the City of London
    ("E1 6AN", "tower_hamlets", "fits"),
    ("E14 5AB", "tower_hamlets", "fits"),
    ("E13 9PJ", "newham", "fits"),
    ("E2 7QA", "city_and_hackney", "shared"),     # Hackney and Tower Hamlets meet in E2
    ("N4 2DA", "city_and_hackney", "shared"),     # and Hackney, Haringey and Islington in N4
    ("E20 1EJ", "newham", "shared"),
    ("E8 9ZZ", "city_and_hackney", "unknown"),    # a district of Hackney's, a sector unlisted
    ("E1 6AN", "newham", "another_borough"),
    ("E8 1DY", "tower_hamlets", "another_borough"),
    ("SW1A 1AA", "city_and_hackney", "outside"),
    ("SW1A 1AA", "newham", "outside"),
    ("N1 9GU", "city_and_hackney", "outside"),    # King's Cross: Camden and Islington
    ("E17 4PP", "newham", "outside"),
])
def test_a_postcode_fits_is_shared_unknown_or_elsewhere(postcode: str, borough: str,
                                                        fit: str) -> None:
    assert place_of(postcode, borough, TABLE).fit == fit


def test_only_a_postcode_clearly_elsewhere_is_refused_and_the_rest_in_doubt_flagged() -> None:
    outside = place_of("SW1A 1AA", "newham", TABLE)
    assert outside.refusal() and "not in Newham" in (outside.refusal() or "")
    assert outside.doubt() is None
    other = place_of("E1 6AN", "newham", TABLE)
    assert other.refusal() == ("E1 6AN is in Tower Hamlets, not Newham: check the postcode "
                               "and the borough")
    shared = place_of("E2 7QA", "city_and_hackney", TABLE)
    assert shared.refusal() is None
    assert "shared by Tower Hamlets and City & Hackney" in (shared.doubt() or "")
    assert place_of("E8 9ZZ", "city_and_hackney", TABLE).doubt()
    assert place_of("E8 1DY", "city_and_hackney", TABLE).doubt() is None


def test_the_table_names_only_known_boroughs_and_says_where_it_came_from() -> None:
    data = json.loads(POSTCODE_SECTORS_FILE.read_text(encoding="utf-8"))
    assert data["source"] and data["about"]
    for sector, boroughs in data["sectors"].items():
        outward, digit = sector.split(" ")
        assert outward[:1] in "ENW" or outward.startswith("EC"), sector
        assert digit.isdigit() and len(digit) == 1, sector
        assert set(boroughs) <= {*BOROUGHS, OUTSIDE} and len(set(boroughs)) == len(boroughs)
    covered = {b for boroughs in data["sectors"].values() for b in boroughs}
    assert covered >= set(BOROUGHS)
    with pytest.raises(ValueError, match="boroughs must be"):
        load_table({"sectors": {"E8 1": ["hackney"]}})


def test_the_example_referral_fits_its_borough() -> None:
    person = make_referral()["person"]
    assert place_of(person["postcode"], person["borough"], TABLE).fit == "fits"
