"""The verification rules, pure: from the facts gathered about one scan to its findings.

``judge`` reads a ``Facts`` (what the code says, what the issuer and the repository
recorded, earlier sightings) and returns every finding that applies, in catalogue order of
checking: authenticity first (a code that is not the issuer's needs no further reasons),
then the code's state, then the pack's product, market, movements, custody and sightings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itptrace.codes.model import IssuerError, check_application_timestamp
from itptrace.codes.offline import Reason
from itptrace.gs1.checkdigit import normalize_gtin
from itptrace.verify.model import (
    Finding,
    Policy,
    ReasonCode,
    ScanInput,
    Sighting,
    deactivation_finding,
    distance_km,
)

MOVEMENT_KINDS = frozenset({"export", "transit", "duty_free", "free_zone"})
# An application reported without a stamp of its own is compared with its event time; the
# printed stamp is local time, so it may differ from UTC by the widest zone offset and an hour.
STAMP_TOLERANCE = timedelta(hours=15)
TYPED = "typed"  # the ScanInput source of a code the inspector typed in


@dataclass(frozen=True)
class Authentication:
    """The code's own evidence: the offline check's reason, the UI and GTIN it carries."""

    reason: Reason
    detail: str
    ui: str | None
    gtin: str | None
    timestamp: str | None = None  # the scanned (8008) application time stamp, if any


@dataclass(frozen=True)
class IssuedCode:
    """What the issuer recorded (``codes.lifecycle.CodeRecord``, reduced)."""

    kind: str
    state: str  # issued, expired, cancelled, deactivated
    gtin: str | None
    intended_market: str | None
    deactivation_reason: str | None = None
    profile: str = "signed"  # signed: printed with a tag; eu: the plain string, no tag


@dataclass(frozen=True)
class Recorded:
    """What the repository recorded about the pack and its outermost container.

    ``located`` are the countries of the container's facility, destination facility and
    destination; ``explained`` the destination countries of its export, transit,
    duty-free and free-zone dispatches; ``dispatched_at`` the time of its last dispatch.
    """

    status: str
    parent: str | None
    located: frozenset[str]
    explained: frozenset[str] = frozenset()
    facility_country: str | None = None
    destination_kind: str | None = None
    destination_country: str | None = None
    dispatched_at: datetime | None = None
    deactivation_reason: str | None = None
    applied_at: datetime | None = None  # the application's event time
    application_stamp: str | None = None  # the YYMMDDhh stamp the application reported


@dataclass(frozen=True)
class Facts:
    scan: ScanInput
    auth: Authentication
    issued: IssuedCode | None
    recorded: Recorded | None
    brand: str | None = None
    sightings: tuple[Sighting, ...] = ()


AUTH_FAILURES = {
    Reason.MALFORMED: ReasonCode.MALFORMED,
    Reason.BAD_GTIN: ReasonCode.BAD_GTIN,
    Reason.UNKNOWN_ISSUER: ReasonCode.UNKNOWN_ISSUER,
    Reason.UNKNOWN_KEY: ReasonCode.UNKNOWN_KEY,
    Reason.BAD_SIGNATURE: ReasonCode.BAD_SIGNATURE,
}


#: Reasons that leave the code's state to be judged: its tag is absent or proves nothing.
UNPROVEN = (Reason.NO_TAG, Reason.KEY_REVOKED, Reason.KEY_EXPIRED)
KEY_FINDINGS = {
    Reason.KEY_REVOKED: ReasonCode.KEY_REVOKED,
    Reason.KEY_EXPIRED: ReasonCode.KEY_EXPIRED,
}


def is_authenticated(facts: Facts) -> bool:
    """True when the code is the issuer's: signature valid, absent or unproven, and issued."""
    if facts.issued is None:
        return False
    # An aggregated UI does not fit the unit layout; it counts when the issuer issued it.
    return facts.auth.reason in (Reason.VALID, *UNPROVEN) or (
        facts.auth.reason is Reason.MALFORMED and facts.issued.kind == "aggregate"
    )


def judge(facts: Facts, policy: Policy | None = None) -> list[Finding]:
    """Every finding about one scan; an empty list means the pack is authentic."""
    policy = policy or Policy()
    if not is_authenticated(facts):
        failure = AUTH_FAILURES.get(facts.auth.reason)
        if failure is not None:
            return [Finding(failure, facts.auth.detail)]
        return [Finding(ReasonCode.NEVER_ISSUED, f"UI {facts.auth.ui} was never issued")]
    assert facts.issued is not None
    findings = _tag(facts)
    findings += _state(facts.issued, facts.recorded)
    findings += _product(facts)
    if facts.recorded is not None:
        findings += _stamp(facts.auth.timestamp, facts.recorded)
        findings += _movements(facts.scan, facts.issued, facts.recorded, policy)
    findings += _sightings(facts.scan, facts.sightings, policy)
    return findings


def _tag(facts: Facts) -> list[Finding]:
    """What the tag, or its absence, says of a code the issuer did issue."""
    auth, issued = facts.auth, facts.issued
    assert issued is not None
    key = KEY_FINDINGS.get(auth.reason)
    if key is not None:
        return [Finding(key, auth.detail)]
    if auth.reason is not Reason.NO_TAG or issued.kind != "unit" or issued.profile != "signed":
        return []
    if facts.scan.source == TYPED:
        return [Finding(ReasonCode.TAG_NOT_CHECKED, "typed in: state checked, tag not checked")]
    return [
        Finding(
            ReasonCode.TAG_MISSING,
            "issued under the signed profile, but the scan carries no tag: a copied UI, or "
            "a damaged code (type it in to check its state)",
        )
    ]


def _stamp(scan_stamp: str | None, rec: Recorded) -> list[Finding]:
    """The scanned (8008) stamp against the recorded application's."""
    if scan_stamp is None or (rec.application_stamp is None and rec.applied_at is None):
        return []
    if rec.application_stamp is not None:
        matches = scan_stamp == rec.application_stamp
        recorded = rec.application_stamp
    else:
        assert rec.applied_at is not None
        try:
            printed = check_application_timestamp(scan_stamp).replace(tzinfo=UTC)
        except IssuerError:
            printed = None
        matches = printed is not None and abs(printed - rec.applied_at) <= STAMP_TOLERANCE
        recorded = rec.applied_at.isoformat()
    if matches:
        return []
    return [
        Finding(
            ReasonCode.STAMP_MISMATCH,
            f"the code's time stamp {scan_stamp} is not that of its recorded application "
            f"({recorded}): a reprinted or copied code",
            {"scanned": scan_stamp, "recorded": recorded},
        )
    ]


def _state(issued: IssuedCode, recorded: Recorded | None) -> list[Finding]:
    if issued.state == "deactivated":
        return [deactivation_finding(issued.deactivation_reason, " by the issuer")]
    if issued.state == "cancelled":
        return [Finding(ReasonCode.CANCELLED, "the code's request was cancelled by the issuer")]
    if recorded is None:
        if issued.state == "expired":
            return [Finding(ReasonCode.EXPIRED, "the code expired without being applied")]
        return [Finding(ReasonCode.NEVER_APPLIED, "no application of this code was reported")]
    if recorded.status == "deactivated":
        return [deactivation_finding(recorded.deactivation_reason, " by its holder")]
    return []


def _product(facts: Facts) -> list[Finding]:
    issued, scan = facts.issued, facts.scan
    assert issued is not None
    found: list[Finding] = []
    if facts.auth.gtin and issued.gtin and facts.auth.gtin != issued.gtin:
        found.append(
            Finding(
                ReasonCode.GTIN_MISMATCH,
                f"printed GTIN {facts.auth.gtin}, issued for {issued.gtin}",
                {"printed": facts.auth.gtin, "issued": issued.gtin},
            )
        )
    if scan.observed_gtin and issued.gtin:
        try:
            seen = normalize_gtin(scan.observed_gtin)
        except ValueError:
            seen = scan.observed_gtin
        if seen != issued.gtin:
            found.append(
                Finding(
                    ReasonCode.PRODUCT_MISMATCH,
                    f"the pack shows GTIN {seen}; the code belongs to {issued.gtin}",
                    {"observed_gtin": seen, "issued_gtin": issued.gtin},
                )
            )
    if scan.observed_brand and facts.brand and _norm(scan.observed_brand) != _norm(facts.brand):
        found.append(
            Finding(
                ReasonCode.PRODUCT_MISMATCH,
                f"the pack shows brand {scan.observed_brand!r}; the code belongs to "
                f"{facts.brand!r}",
                {"observed_brand": scan.observed_brand, "issued_brand": facts.brand},
            )
        )
    return found


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def _movements(scan: ScanInput, issued: IssuedCode, rec: Recorded, policy: Policy) -> list[Finding]:
    here = scan.place.country
    found: list[Finding] = []
    explained = rec.located | rec.explained | {issued.intended_market or here}
    if issued.intended_market and here not in explained:
        found.append(
            Finding(
                ReasonCode.DIVERTED,
                f"made for {issued.intended_market}, scanned in {here}, and no export, transit "
                f"or duty-free record leads to {here}",
                {"intended_market": issued.intended_market, "recorded_in": sorted(rec.located)},
            )
        )
    exported = rec.status == "in_transit" and rec.destination_kind in ("export", "transit")
    if (
        exported
        and rec.destination_country
        and here != rec.destination_country
        and rec.dispatched_at is not None
        and scan.scanned_at > rec.dispatched_at + policy.exit_grace
    ):
        found.append(
            Finding(
                ReasonCode.SEEN_AFTER_EXPORT,
                f"dispatched for {rec.destination_kind} to {rec.destination_country} on "
                f"{rec.dispatched_at.date()}, scanned in {here}",
                {"destination_country": rec.destination_country},
            )
        )
    if rec.status == "retail" and rec.facility_country and here != rec.facility_country:
        found.append(
            Finding(
                ReasonCode.SEEN_AFTER_RETAIL_ELSEWHERE,
                f"delivered to retail in {rec.facility_country}, scanned in {here}",
                {"retail_country": rec.facility_country},
            )
        )
    if rec.parent is not None and rec.located and here not in rec.located:
        found.append(
            Finding(
                ReasonCode.CUSTODY_MISMATCH,
                f"recorded inside {rec.parent}, which is recorded in "
                f"{', '.join(sorted(rec.located))}",
                {"container": rec.parent, "recorded_in": sorted(rec.located)},
            )
        )
    return found


def travel_conflict(scan: ScanInput, other: Sighting, policy: Policy) -> dict[str, object] | None:
    """Why ``scan`` and ``other`` cannot both be the same pack, or None when they can."""
    hours = abs((scan.scanned_at - other.at).total_seconds()) / 3600
    place = scan.place
    if place.lat is not None and place.lon is not None and other.lat is not None:
        assert other.lon is not None
        km = distance_km(place.lat, place.lon, other.lat, other.lon)
        if km <= policy.same_place_km:
            return None
        speed = km / hours if hours > 0 else float("inf")
        if speed <= policy.max_travel_kmh:
            return None
        return {"scan_id": other.scan_id, "km": round(km, 1), "hours": round(hours, 2)}
    if other.country != place.country and hours * 3600 < policy.country_change_min.total_seconds():
        return {"scan_id": other.scan_id, "countries": [other.country, place.country]}
    return None


def _sightings(scan: ScanInput, sightings: tuple[Sighting, ...], policy: Policy) -> list[Finding]:
    others = [s for s in sightings if s.scan_id != scan.scan_id]
    found: list[Finding] = []
    conflicts = [c for s in others if (c := travel_conflict(scan, s, policy)) is not None]
    if conflicts:
        found.append(
            Finding(
                ReasonCode.IMPOSSIBLE_TRAVEL,
                f"also seen {len(conflicts)} time(s) where it could not have travelled to or "
                f"from at {policy.max_travel_kmh:g} km/h",
                {"conflicts": conflicts[:20]},
            )
        )
    recent = [s for s in others if abs(s.at - scan.scanned_at) <= policy.sighting_window]
    if len(recent) + 1 > policy.max_sightings:
        found.append(
            Finding(
                ReasonCode.TOO_MANY_SIGHTINGS,
                f"seen {len(recent) + 1} times within {policy.sighting_window.days} days "
                f"(at most {policy.max_sightings} are plausible)",
                {"sightings": len(recent) + 1},
            )
        )
    return found
