"""Where a postcode lies: whether it fits the borough chosen for the person.

The table (`chalicelib/postcode_sectors.json`, loaded by `config.py`) maps postcode sectors
(`E8 1`) to the boroughs they lie in, `outside` standing for a borough outside the service's
three. Eligibility is living in City & Hackney, Tower Hamlets or Newham, and a sector on a
boundary cannot say which side a street is on: so only a postcode clearly elsewhere is refused,
and one the table cannot place for sure is flagged for a PHB advisor (DOMAIN.md, Places).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from chalicelib.domain.codes import BOROUGHS

OUTSIDE = "outside"
# fits: the sector lies in the borough chosen, and only there. shared: in it and elsewhere.
# unknown: a district of these boroughs, but a sector the table does not list. another_borough:
# only in other boroughs of the service. outside: not in North East London's three boroughs.
Fit = Literal["fits", "shared", "unknown", "another_borough", "outside"]


@dataclass(frozen=True)
class SectorTable:
    """Postcode sectors and the boroughs each lies in."""

    sectors: dict[str, tuple[str, ...]]
    districts: frozenset[str]  # the outward codes of the sectors: a postcode of one is near


def load_table(data: dict[str, Any]) -> SectorTable:
    """The table from its JSON; a borough it does not know is refused (a typo in the file
    would otherwise refuse every postcode of the sector)."""
    known = {*BOROUGHS, OUTSIDE}
    sectors: dict[str, tuple[str, ...]] = {}
    for sector, boroughs in data["sectors"].items():
        if not boroughs or not set(boroughs) <= known:
            raise ValueError(f"postcode sector {sector!r}: boroughs must be from {sorted(known)}")
        sectors[sector] = tuple(boroughs)
    return SectorTable(sectors, frozenset(sector.split(" ", 1)[0] for sector in sectors))


@dataclass(frozen=True)
class Place:
    """How a normalised postcode (`E8 1DY`) fits a borough, and the boroughs its sector is in."""

    postcode: str
    borough: str
    fit: Fit
    boroughs: tuple[str, ...] = ()

    def refusal(self) -> str | None:
        """Why the postcode cannot be taken for the borough (the end of a sentence about the
        person's postcode), or None."""
        chosen = BOROUGHS[self.borough]
        if self.fit == "outside":
            return (f"{self.postcode} is not in {chosen}: it is outside North East London, and "
                    "PHBs in this service are for people living in City & Hackney, Tower "
                    "Hamlets or Newham")
        if self.fit == "another_borough":
            return (f"{self.postcode} is in {_names(self.boroughs)}, not {chosen}: check the "
                    "postcode and the borough")
        return None

    def doubt(self) -> str | None:
        """Why a PHB advisor should check the borough, or None."""
        chosen = BOROUGHS[self.borough]
        if self.fit == "shared":
            return (f"The postcode {self.postcode} is in a sector shared by "
                    f"{_names(self.boroughs)}: check the person lives in {chosen}")
        if self.fit == "unknown":
            return (f"The postcode {self.postcode} is in a sector the service's table does not "
                    f"list: check the person lives in {chosen}")
        return None


def _names(boroughs: tuple[str, ...]) -> str:
    names = [BOROUGHS.get(b, "a borough outside North East London") for b in boroughs]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def place_of(postcode: str, borough: str, table: SectorTable) -> Place:
    """How `postcode` (normalised, like `E8 1DY`) fits `borough`."""
    outward, inward = postcode.split(" ", 1)
    boroughs = table.sectors.get(f"{outward} {inward[:1]}")
    if boroughs is None:
        fit: Fit = "unknown" if outward in table.districts else "outside"
        return Place(postcode, borough, fit)
    if borough not in boroughs:
        ours = tuple(b for b in boroughs if b != OUTSIDE)
        return Place(postcode, borough, "another_borough" if ours else "outside", ours)
    return Place(postcode, borough, "fits" if len(boroughs) == 1 else "shared", boroughs)
