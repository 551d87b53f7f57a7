"""Valid referrals to start from; each test changes only what it is about."""

from __future__ import annotations

import copy
from typing import Any

from devstack.example import NHS_NUMBER, make_items, make_referral

__all__ = ["NHS_NUMBER", "POSTCODES", "another_person", "in_borough", "make_items",
           "make_referral", "unique_person", "with_change"]

# A postcode of each borough alone (chalicelib/postcode_sectors.json): a person said to live in
# a borough lives at one of its postcodes, or the referral is refused.
POSTCODES = {"city_and_hackney": "E8 1DY", "tower_hamlets": "E1 6AN", "newham": "E13 9PJ"}

# Valid NHS numbers (starting with 9: never a real person's) for other people than the example's.
OTHER_NHS_NUMBERS = ("9434765900", "9434765927", "9434765935", "9434765943", "9434765951",
                     "9434765978", "9434765986", "9434765994")


def in_borough(borough: str, **changes: Any) -> dict[str, Any]:
    """The example's person living in `borough`, at one of its postcodes."""
    return {**make_referral()["person"], "borough": borough, "postcode": POSTCODES[borough],
            **changes}


def another_person(n: int, **changes: Any) -> dict[str, Any]:
    """The example's person as someone else: another NHS number and name (the `n`th), living
    in the borough given (at one of its postcodes), if one is."""
    place = {"postcode": POSTCODES[changes["borough"]]} if "borough" in changes else {}
    return {**make_referral()["person"], "nhs_number": OTHER_NHS_NUMBERS[n],
            "first_name": f"Person{n}", **place, **changes}


def unique_person(**changes: Any) -> dict[str, Any]:
    """The example's person with an NHS number of their own (a random valid one in the 999
    range kept for testing), for tests that send many referrals to one stack."""
    import secrets

    from chalicelib.domain.identifiers import nhs_number_is_valid

    while True:
        number = "999" + "".join(secrets.choice("0123456789") for _ in range(7))
        if nhs_number_is_valid(number):
            return {**make_referral()["person"], "nhs_number": number, **changes}


def with_change(referral: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy with the value at a dotted path replaced (or removed, for `...`)."""
    result = copy.deepcopy(referral)
    target: Any = result
    parts = path.split(".")
    def key(part: str) -> Any:
        return int(part) if part.isascii() and part.isdigit() else part

    for part in parts[:-1]:
        target = target[key(part)]
    last = key(parts[-1])
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return result
