"""Inspector verification, pure: what a scan says, the verdicts, the reason catalogue, policy.

A verification weighs everything known about a scanned code and answers with one of four
verdicts, each backed by named reasons (``ReasonCode``):

* ``authentic``: the issuer signed it, it is on the market it was made for and nothing
  about its sightings is impossible;
* ``suspicious``: something needs a closer look (a sighting that cannot be reconciled with
  another, a container recorded elsewhere, a code that cannot be read or checked);
* ``illicit``: a genuine code on a pack that must not be on sale here or now (deactivated,
  stolen, recalled, never applied, diverted from its market, seen after export);
* ``counterfeit``: the code, or the pack under it, is not what the issuer made (bad
  signature, never issued, another product's code).

The worst reason decides. Settings are constants here (the lead may move them to Settings).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from itptrace.countries import checked_country
from itptrace.errors import DomainError

MAX_TRAVEL_KMH = 120.0  # faster than this between two sightings: the code is cloned
SAME_PLACE_KM = 2.0  # closer than this counts as the same place (GPS noise, one market)
COUNTRY_CHANGE_MIN = timedelta(hours=4)  # two countries sooner than this, without positions
MAX_SIGHTINGS = 6  # more authenticated sightings than this within the window: cloned
SIGHTING_WINDOW = timedelta(days=30)
EXIT_GRACE = timedelta(hours=48)  # an exported pack may still be scanned on its way out
CLOCK_SKEW = timedelta(minutes=5)  # a scan time later than now by more is refused
BUNDLE_VALIDITY = timedelta(days=7)
BUNDLE_FALSE_POSITIVE_RATE = 0.001  # of the offline list of deactivated codes, at most
MAX_SCAN_TEXT = 1024


class VerifyError(DomainError):
    """A verification request the node refuses (bad input, unreadable image, bad bundle)."""

    code = "verify_refused"


class Verdict(StrEnum):
    AUTHENTIC = "authentic"
    SUSPICIOUS = "suspicious"
    ILLICIT = "illicit"
    COUNTERFEIT = "counterfeit"

    @property
    def rank(self) -> int:
        return list(Verdict).index(self)


class ReasonCode(StrEnum):
    MALFORMED = "malformed"
    BAD_GTIN = "bad_gtin"
    UNKNOWN_ISSUER = "unknown_issuer"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    NEVER_ISSUED = "never_issued"
    GTIN_MISMATCH = "gtin_mismatch"
    PRODUCT_MISMATCH = "product_mismatch"
    NEVER_APPLIED = "never_applied"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    DEACTIVATED = "deactivated"
    DESTROYED = "destroyed"
    RECALLED = "recalled"
    STOLEN = "stolen"
    LOST = "lost"
    DIVERTED = "diverted"
    SEEN_AFTER_EXPORT = "seen_after_export"
    SEEN_AFTER_RETAIL_ELSEWHERE = "seen_after_retail_elsewhere"
    IMPOSSIBLE_TRAVEL = "impossible_travel"
    TOO_MANY_SIGHTINGS = "too_many_sightings"
    CUSTODY_MISMATCH = "custody_mismatch"
    NOT_VERIFIABLE_OFFLINE = "not_verifiable_offline"
    TAG_MISSING = "tag_missing"
    TAG_NOT_CHECKED = "tag_not_checked"
    STAMP_MISMATCH = "stamp_mismatch"
    KEY_REVOKED = "key_revoked"
    KEY_EXPIRED = "key_expired"


_A, _S, _I, _C = Verdict.AUTHENTIC, Verdict.SUSPICIOUS, Verdict.ILLICIT, Verdict.COUNTERFEIT
#: Every reason, the verdict it leads to and its fixed title (docs and API problem titles).
#: A reason that leads to ``authentic`` is a note: it never makes the verdict worse.
CATALOGUE: dict[ReasonCode, tuple[Verdict, str]] = {
    ReasonCode.MALFORMED: (_S, "The scan cannot be read as a pack code"),
    ReasonCode.BAD_GTIN: (_S, "The GTIN's check digit is wrong"),
    ReasonCode.UNKNOWN_ISSUER: (_S, "Issued by another issuer: enquire through the GSP"),
    ReasonCode.UNKNOWN_KEY: (_C, "Signed with a key the issuer never published"),
    ReasonCode.BAD_SIGNATURE: (_C, "The tag is not the issuer's signature"),
    ReasonCode.NEVER_ISSUED: (_C, "The issuer never issued this UI"),
    ReasonCode.GTIN_MISMATCH: (_C, "The printed GTIN is not the one the UI was issued for"),
    ReasonCode.PRODUCT_MISMATCH: (_C, "The pack is not the product the UI was issued for"),
    ReasonCode.NEVER_APPLIED: (_I, "Issued, but never reported as applied to a pack"),
    ReasonCode.EXPIRED: (_I, "Expired unused"),
    ReasonCode.CANCELLED: (_I, "Its code request was cancelled"),
    ReasonCode.DEACTIVATED: (_I, "Deactivated"),
    ReasonCode.DESTROYED: (_I, "Deactivated: the pack was destroyed"),
    ReasonCode.RECALLED: (_I, "Deactivated: the pack was recalled"),
    ReasonCode.STOLEN: (_I, "Deactivated: reported stolen"),
    ReasonCode.LOST: (_I, "Deactivated: reported lost"),
    ReasonCode.DIVERTED: (_I, "Outside its intended market with no record that explains it"),
    ReasonCode.SEEN_AFTER_EXPORT: (_I, "Seen after it was exported elsewhere"),
    ReasonCode.SEEN_AFTER_RETAIL_ELSEWHERE: (_S, "Seen after delivery to retail elsewhere"),
    ReasonCode.IMPOSSIBLE_TRAVEL: (_S, "Seen where it could not have travelled to: cloned"),
    ReasonCode.TOO_MANY_SIGHTINGS: (_S, "Seen more often than plausible: cloned"),
    ReasonCode.CUSTODY_MISMATCH: (_S, "Its container is recorded elsewhere"),
    ReasonCode.NOT_VERIFIABLE_OFFLINE: (_S, "No tag to check offline: verify online"),
    ReasonCode.TAG_MISSING: (_S, "Issued with a tag, scanned without it"),
    ReasonCode.TAG_NOT_CHECKED: (_A, "Typed by the inspector: its tag was not checked"),
    ReasonCode.STAMP_MISMATCH: (_S, "Its time stamp is not the recorded application's"),
    ReasonCode.KEY_REVOKED: (_S, "Signed with a key the issuer revoked"),
    ReasonCode.KEY_EXPIRED: (_S, "Signed with a key outside its validity window"),
}
#: Deactivation reasons (codes.model.DeactivationReason and IDA reasons) and their reason.
DEACTIVATION_REASON_CODES = {
    "stolen": ReasonCode.STOLEN,
    "lost": ReasonCode.LOST,
    "recalled": ReasonCode.RECALLED,
    "destroyed": ReasonCode.DESTROYED,
}


@dataclass(frozen=True)
class Finding:
    """One reason for a verdict: its code, a sentence for the inspector and the evidence."""

    code: ReasonCode
    message: str
    evidence: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def verdict(self) -> Verdict:
        return CATALOGUE[self.code][0]


def verdict_of(findings: list[Finding] | tuple[Finding, ...]) -> Verdict:
    """The worst verdict among the findings; ``authentic`` when there are none."""
    return max((f.verdict for f in findings), key=lambda v: v.rank, default=Verdict.AUTHENTIC)


def deactivation_finding(reason: str | None, detail: str) -> Finding:
    code = DEACTIVATION_REASON_CODES.get(reason or "", ReasonCode.DEACTIVATED)
    return Finding(code, f"{CATALOGUE[code][1]} ({reason or 'no reason given'}){detail}")


@dataclass(frozen=True)
class Place:
    """Where a scan was made: a country, and optionally a place name and a position."""

    country: str
    name: str | None = None
    lat: float | None = None
    lon: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "country", checked_country(self.country))
        if (self.lat is None) != (self.lon is None):
            raise VerifyError("give both latitude and longitude, or neither", subject="lat")
        if (
            self.lat is not None
            and self.lon is not None
            and not (-90 <= self.lat <= 90 and -180 <= self.lon <= 180)
        ):
            raise VerifyError("latitude or longitude out of range", subject="lat")
        if self.name is not None and len(self.name) > 200:
            raise VerifyError("place name longer than 200 characters", subject="place")

    @property
    def has_position(self) -> bool:
        return self.lat is not None and self.lon is not None


@dataclass(frozen=True)
class ScanInput:
    """One scan as the inspector's device sends it; ``scan_id`` is a client-chosen UUID that
    makes resubmission harmless. ``observed_*`` are what the inspector sees on the pack."""

    text: str
    place: Place
    scanned_at: datetime
    scan_id: str
    observed_gtin: str | None = None
    observed_brand: str | None = None
    source: str = "online"  # online, image, offline, or typed: the inspector typed it in

    def __post_init__(self) -> None:
        try:
            canonical = str(uuid.UUID(self.scan_id))
        except (ValueError, AttributeError, TypeError):
            raise VerifyError(
                f"scan id {self.scan_id!r} is not a UUID", subject="scan_id"
            ) from None
        object.__setattr__(self, "scan_id", canonical)
        if self.scanned_at.tzinfo is None:
            raise VerifyError("scan time has no UTC offset", subject="scanned_at")
        if not self.text or len(self.text) > MAX_SCAN_TEXT or "\x00" in self.text:
            raise VerifyError(
                f"scan text must be 1 to {MAX_SCAN_TEXT} characters without NUL", subject="text"
            )


@dataclass(frozen=True)
class Sighting:
    """An earlier authenticated scan of the same UI."""

    scan_id: str
    at: datetime
    country: str
    lat: float | None = None
    lon: float | None = None


def distance_km(a_lat: float, a_lon: float, b_lat: float, b_lon: float) -> float:
    """Great-circle distance (haversine, mean Earth radius 6,371 km)."""
    p1, p2 = math.radians(a_lat), math.radians(b_lat)
    dp, dl = p2 - p1, math.radians(b_lon - a_lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class Policy:
    """The thresholds of the rules; defaults are the constants above."""

    max_travel_kmh: float = MAX_TRAVEL_KMH
    same_place_km: float = SAME_PLACE_KM
    country_change_min: timedelta = COUNTRY_CHANGE_MIN
    max_sightings: int = MAX_SIGHTINGS
    sighting_window: timedelta = SIGHTING_WINDOW
    exit_grace: timedelta = EXIT_GRACE


@dataclass(frozen=True)
class PackFacts:
    """What an inspector needs to know about the pack (Art. 8.4.1 (a), (b), (c), (f), (g))."""

    ui: str
    kind: str
    gtin: str | None = None
    brand: str | None = None
    description: str | None = None
    manufacturer_id: str | None = None
    manufacturer: str | None = None
    facility_id: str | None = None
    facility: str | None = None
    facility_country: str | None = None
    machine_id: str | None = None
    manufactured_at: str | None = None
    production_stamp: str | None = None
    intended_market: str | None = None
    status: str | None = None
    custodian_id: str | None = None
    custodian: str | None = None
    location_facility_id: str | None = None


@dataclass(frozen=True)
class Verification:
    """The answer to one scan. ``repeated`` is true when the scan id was already stored and
    this is the stored answer; ``alerts`` are the ids of alerts the scan raised."""

    scan_id: str
    verdict: Verdict
    reasons: tuple[Finding, ...]
    ui: str | None
    facts: PackFacts | None
    scanned_at: datetime
    place: Place
    source: str
    alerts: tuple[int, ...] = ()
    repeated: bool = False
