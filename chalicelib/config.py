"""Settings, read once from the environment that `.chalice/config.json` sets per stage.

A missing or malformed setting stops the function at its first use with a message that names
the variable, rather than failing later half-way through a referral.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

RULES_FILE = Path(__file__).with_name("funding_rules.json")


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


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    stage: Literal["local", "test", "dev", "prod"] = "local"
    table_name: str = "phb-pathway"
    state_machine_arn: str = ""
    sender_email: str = "phb-pathway@example.org"
    ses_configuration_set: str = ""
    public_base_url: str = "http://127.0.0.1:8000"
    allowed_referrer_domains: tuple[str, ...] = ("nhs.net", "nhs.uk")
    # Sign-off thresholds in pence: below the first the referrer signs off; up to and including
    # the second the approving manager; above it the manager and then the Oversight Panel.
    referrer_signoff_below_pence: int = Field(default=25000, gt=0)
    manager_signoff_up_to_pence: int = Field(default=50000, gt=0)
    # Who signs off above the manager's limit, and who decides flagged requests and releases
    # money: each address gets its own action link.
    panel_emails: tuple[str, ...] = ("phb-panel@example.org",)
    advisor_emails: tuple[str, ...] = ("phb-advisors@example.org",)
    link_valid_days: int = Field(default=7, ge=1, le=60)
    # Waiting for a person: a reminder after each period with no answer, escalation to the
    # advisors after this many reminders, and expiry one period after that.
    reminder_after_seconds: int = Field(default=3 * 24 * 3600, ge=1)
    reminders_before_escalation: int = Field(default=2, ge=0, le=10)
    # The 6-week review comes this long after the money is released.
    review_after_seconds: int = Field(default=42 * 24 * 3600, ge=0)
    # Closure is asked for at the goal's target date; a stage may ask sooner (local: minutes).
    closure_at_most_seconds_after_review: int = Field(default=0, ge=0)
    reqol_reliable_change: int = Field(default=5, ge=1, le=40)
    agreement_version: str = "2026-11"
    help_email: str = "phb@example.org"
    help_phone: str = "020 3869 9728"
    service_name: str = "PHB Pathway"
    funding_rules_file: str = str(RULES_FILE)

    @field_validator("allowed_referrer_domains", mode="before")
    @classmethod
    def _split_domains(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(d.strip().lower().lstrip("@.") for d in value.split(",") if d.strip())
        return value

    @field_validator("panel_emails", "advisor_emails", mode="before")
    @classmethod
    def _split_addresses(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(a.strip().lower() for a in value.split(",") if a.strip())
        return value

    @property
    def is_local(self) -> bool:
        return self.stage in ("local", "test")

    @property
    def base_path(self) -> str:
        """The path the app is served under, from the public URL (e.g. `/api` when reached
        at an API Gateway stage URL); every link and redirect starts with it."""
        return urlsplit(self.public_base_url).path.rstrip("/")

    @property
    def funding_rules(self) -> FundingRules:
        return _load_rules(self.funding_rules_file)


ENV_PREFIX = "PHB_"


def settings_from_environ(environ: dict[str, str] | os._Environ[str]) -> Settings:
    """Build settings from `PHB_*` variables (e.g. `PHB_TABLE_NAME`)."""
    values = {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in environ.items()
        if key.startswith(ENV_PREFIX) and value != ""
    }
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{ENV_PREFIX}{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise RuntimeError(f"Invalid configuration: {problems}") from None
    if settings.manager_signoff_up_to_pence < settings.referrer_signoff_below_pence:
        raise RuntimeError(
            "Invalid configuration: PHB_MANAGER_SIGNOFF_UP_TO_PENCE must not be below "
            "PHB_REFERRER_SIGNOFF_BELOW_PENCE"
        )
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return settings_from_environ(os.environ)


@lru_cache(maxsize=4)
def _load_rules(path: str) -> FundingRules:
    return FundingRules.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
