"""One typed settings object, read from ``ITPTRACE_*`` environment variables.

Settings are validated when the node starts (``load_settings``), never at import time, so
a wrong value stops the program with one clear message instead of failing later.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ISSUER_CODE_PATTERN = re.compile(r"^[A-Z0-9]{3,6}$")


class SettingsError(ValueError):
    """A setting has a wrong value; the message names the variable."""


class Settings(BaseSettings):
    """Everything a node needs to know about its environment."""

    model_config = SettingsConfigDict(env_prefix="ITPTRACE_", extra="ignore", frozen=True)

    database_url: str = "sqlite:///./itptrace.db"
    key_dir: Path = Path("./keys")
    # "system" for the wall clock, or an ISO 8601 instant to freeze time (tests, demos).
    clock: str = "system"
    country: str = "ZZ"
    issuer_code: str = "ZZT01"
    default_profile: Literal["signed", "eu"] = "signed"
    serial_length: int = Field(default=9, ge=4, le=20)
    code_expiry_days: int = Field(default=183, ge=1)
    # How long a retired key's tags still verify after its codes' expiry: the shelf life of
    # a pack (offline and online verification refuse its tags afterwards).
    retired_key_verify_days: int = Field(default=1095, ge=0)
    # The issuer's code profile by operator id or product GTIN (a GTIN wins), as
    # "OP-1=eu,05012345678900=signed"; anyone else gets default_profile. Operators never
    # choose it.
    profile_policy: str = Field(default="", max_length=10_000)
    # An inspector device's trust store: the bundle keys pinned on it (itptrace verify pin)
    # and the newest offline bundle it has accepted.
    trust_dir: Path = Path("./trust")
    cancel_window_working_days: int = Field(default=1, ge=0)
    max_request_quantity: int = Field(default=2_000_000, ge=1)
    # EU 2018/574 Art. 9: the chance of guessing a valid serial stays below 1 in 10,000.
    guess_probability_limit: float = Field(default=1e-4, gt=0, le=1)
    # Seconds between automatic signed ledger checkpoints while serving (0: on demand only).
    checkpoint_interval: float = Field(default=600, ge=0)
    # Whether authority queries of pack-level data must state a purpose (X-Purpose header).
    require_purpose: bool = False
    # Who the CLI acts as in the audit trail ("cli:<name>"); empty: the operating-system login.
    cli_user: str = Field(default="", max_length=90, pattern=r"^[^\x00-\x1f\x7f]*$")
    # Bounded work (api/bounds.py): what one caller may cost the node.
    # Requests a second and request-body bytes a UTC day per operator (429 past them).
    quota_requests_per_second: float = Field(default=50, gt=0)
    quota_bytes_per_day: int = Field(default=8 * 1024**3, ge=1)
    # Requests without a valid token answered 401 per client address and second (429 past).
    anonymous_refusals_per_second: float = Field(default=5, gt=0)
    # Photos (/verify/image): the largest decoded size, decodes at once, seconds each.
    image_max_pixels: int = Field(default=25_000_000, ge=1)
    image_decode_concurrency: int = Field(default=2, ge=1, le=64)
    image_decode_seconds: float = Field(default=10, gt=0)
    # Problems kept with a stored refusal and listed in a refusal's answer; the largest
    # payload a stored refusal keeps whole (a summary of a larger one is kept instead).
    refusal_problems: int = Field(default=100, ge=1, le=10_000)
    refusal_payload_bytes: int = Field(default=16 * 1024, ge=1024)
    # A code request covers at most this many hours of its machine's declared capacity.
    request_capacity_hours: float = Field(default=24, gt=0)
    # An arrival of goods neither in transit to the reporter nor held by it: "refuse" it, or
    # "flag" it (accept the event, leave custody where it was). The authorities are alerted.
    unexpected_arrival: Literal["refuse", "flag"] = "refuse"
    # Whether the issuer's staff may report events in an operator's name (audited).
    capture_on_behalf: bool = False

    @field_validator("issuer_code")
    @classmethod
    def _issuer_code_shape(cls, value: str) -> str:
        if not ISSUER_CODE_PATTERN.match(value):
            raise ValueError("must be 3 to 6 characters from A-Z and 0-9")
        return value

    @field_validator("profile_policy")
    @classmethod
    def _profile_policy_shape(cls, value: str) -> str:
        for item in filter(None, (part.strip() for part in value.split(","))):
            subject, _, profile = item.partition("=")
            if not subject.strip() or profile.strip() not in ("signed", "eu"):
                raise ValueError(
                    f"{item!r} is not <operator id or GTIN>=signed|eu (items separated by commas)"
                )
        return value

    @property
    def profile_policies(self) -> dict[str, str]:
        """``profile_policy`` as a table: operator id or GTIN to profile."""
        pairs = (item.partition("=") for item in self.profile_policy.split(",") if item.strip())
        return {subject.strip(): profile.strip() for subject, _, profile in pairs}

    @field_validator("country")
    @classmethod
    def _country_shape(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{2}", value):
            raise ValueError("must be an ISO 3166-1 alpha-2 code such as KE or FR")
        return value


def load_settings(**overrides: object) -> Settings:
    """Read the environment (plus explicit overrides) and validate it.

    Raises SettingsError naming the first wrong ``ITPTRACE_*`` variable.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "ITPTRACE_" + str(first["loc"][0]).upper() if first["loc"] else "ITPTRACE_*"
        raise SettingsError(f"{name}: {first['msg']}") from None
