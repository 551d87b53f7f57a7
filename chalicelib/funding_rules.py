"""The funding rules' shape (`funding_rules.json`): exclusions flagged for a PHB advisor, and
the smartphone and data catalogue caps. Loaded when a referral is checked, not at start-up."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Exclusion(BaseModel):
    """One funding exclusion: a request that matches it is flagged for a PHB advisor."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    reason: str
    categories: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


class CatalogueCap(BaseModel):
    """The streamlined smartphone and data pathway: the most one item of a kind may cost."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str
    label: str
    keywords: tuple[str, ...]
    max_pence: int = Field(gt=0)
    recurrence: Literal["one_off", "monthly"]
    max_months: int = Field(default=1, ge=1, le=12)


class FundingRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    exclusions: tuple[Exclusion, ...]
    smartphone_data_catalogue: tuple[CatalogueCap, ...]


@lru_cache(maxsize=4)
def load(path: str) -> FundingRules:
    return FundingRules.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
