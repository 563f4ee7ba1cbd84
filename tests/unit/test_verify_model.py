"""The verification rules, the reason catalogue and the Bloom filter, without a database."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from itptrace.codes.offline import Reason
from itptrace.verify.bloom import BloomFilter, false_positive_rate, size_for
from itptrace.verify.model import (
    CATALOGUE,
    Finding,
    Place,
    Policy,
    ReasonCode,
    ScanInput,
    Sighting,
    Verdict,
    VerifyError,
    distance_km,
    verdict_of,
)
from itptrace.verify.rules import Authentication, Facts, IssuedCode, Recorded, judge

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
NAIROBI = (-1.2864, 36.8172)
MOMBASA = (-4.0435, 39.6682)
UI = "KET01abcdefghiJKLMNOPQ"
ISSUED = IssuedCode("unit", "issued", "06009876543219", "KE")
IN_A_CARTON = Recorded("active", "CARTON", frozenset({"KE"}))


def scan(
    country: str = "KE",
    at: datetime = NOW,
    position: tuple[float, float] | None = None,
    **extra: str,
) -> ScanInput:
    lat, lon = position if position else (None, None)
    return ScanInput(UI, Place(country, None, lat, lon), at, str(uuid.uuid4()), **extra)


def facts(
    s: ScanInput | None = None,
    reason: Reason = Reason.VALID,
    issued: IssuedCode | None = ISSUED,
    recorded: Recorded | None = IN_A_CARTON,
    sightings: tuple[Sighting, ...] = (),
    brand: str | None = "Savanna Gold",
) -> Facts:
    auth = Authentication(reason, "detail", UI, "06009876543219")
    return Facts(s or scan(), auth, issued, recorded, brand, sightings)


def codes(found: list[Finding]) -> list[ReasonCode]:
    return [f.code for f in found]


def test_every_reason_has_a_verdict_and_a_title() -> None:
    assert set(CATALOGUE) == set(ReasonCode)
    assert all(title and title[0].isupper() for _verdict, title in CATALOGUE.values())


def test_the_worst_reason_decides_the_verdict() -> None:
    assert verdict_of([]) is Verdict.AUTHENTIC
    found = [Finding(ReasonCode.CUSTODY_MISMATCH, ""), Finding(ReasonCode.STOLEN, "")]
    assert verdict_of(found) is Verdict.ILLICIT
    assert verdict_of([*found, Finding(ReasonCode.BAD_SIGNATURE, "")]) is Verdict.COUNTERFEIT


def test_a_genuine_pack_on_its_market_is_authentic() -> None:
    assert judge(facts()) == []


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (Reason.BAD_SIGNATURE, ReasonCode.BAD_SIGNATURE),
        (Reason.UNKNOWN_KEY, ReasonCode.UNKNOWN_KEY),
        (Reason.UNKNOWN_ISSUER, ReasonCode.UNKNOWN_ISSUER),
        (Reason.MALFORMED, ReasonCode.MALFORMED),
    ],
)
def test_a_code_that_fails_authentication_gets_only_that_reason(
    reason: Reason, expected: ReasonCode
) -> None:
    assert codes(judge(facts(reason=reason))) == [expected]


def test_a_code_never_issued_is_counterfeit() -> None:
    found = judge(facts(issued=None, recorded=None))
    assert codes(found) == [ReasonCode.NEVER_ISSUED]
    assert verdict_of(found) is Verdict.COUNTERFEIT


@pytest.mark.parametrize(
    ("state", "deactivation", "expected"),
    [
        ("deactivated", "stolen", ReasonCode.STOLEN),
        ("deactivated", "recalled", ReasonCode.RECALLED),
        ("deactivated", "damaged", ReasonCode.DEACTIVATED),
        ("cancelled", None, ReasonCode.CANCELLED),
    ],
)
def test_a_code_the_issuer_took_back_is_illicit(
    state: str, deactivation: str | None, expected: ReasonCode
) -> None:
    issued = IssuedCode("unit", state, "06009876543219", "KE", deactivation)
    found = judge(facts(issued=issued))
    assert codes(found) == [expected]
    assert verdict_of(found) is Verdict.ILLICIT


def test_an_issued_code_never_applied_is_illicit_and_expired_when_past_its_date() -> None:
    assert codes(judge(facts(recorded=None))) == [ReasonCode.NEVER_APPLIED]
    expired = IssuedCode("unit", "expired", "06009876543219", "KE")
    assert codes(judge(facts(issued=expired, recorded=None))) == [ReasonCode.EXPIRED]


def test_a_pack_its_holder_reported_lost_is_illicit() -> None:
    recorded = Recorded("deactivated", None, frozenset({"KE"}), deactivation_reason="lost")
    assert codes(judge(facts(recorded=recorded))) == [ReasonCode.LOST]


def test_a_pack_outside_its_market_without_a_record_is_diverted() -> None:
    found = codes(judge(facts(scan("TZ"))))
    assert ReasonCode.DIVERTED in found
    assert ReasonCode.CUSTODY_MISMATCH in found


def test_an_export_record_explains_a_pack_abroad() -> None:
    recorded = Recorded(
        "in_transit",
        None,
        frozenset({"KE", "UG"}),
        explained=frozenset({"UG"}),
        destination_kind="export",
        destination_country="UG",
        dispatched_at=NOW - timedelta(days=3),
    )
    assert judge(facts(scan("UG"), recorded=recorded)) == []
    back_home = codes(judge(facts(scan("KE"), recorded=recorded)))
    assert back_home == [ReasonCode.SEEN_AFTER_EXPORT]
    on_its_way = codes(judge(facts(scan("KE", NOW - timedelta(days=2)), recorded=recorded)))
    assert on_its_way == []


def test_a_pack_sold_in_one_country_and_seen_in_another_is_suspicious() -> None:
    recorded = Recorded("retail", None, frozenset({"KE"}), facility_country="KE")
    found = judge(
        facts(scan("UG"), issued=IssuedCode("unit", "issued", None, None), recorded=recorded)
    )
    assert codes(found) == [ReasonCode.SEEN_AFTER_RETAIL_ELSEWHERE]


def test_the_product_seen_must_be_the_product_issued() -> None:
    assert judge(facts(scan(observed_brand="  savanna   GOLD "))) == []
    assert judge(facts(scan(observed_gtin="6009876543219"))) == []
    found = judge(facts(scan(observed_brand="Marlboro")))
    assert codes(found) == [ReasonCode.PRODUCT_MISMATCH]
    assert verdict_of(found) is Verdict.COUNTERFEIT


def test_nairobi_to_mombasa_is_about_440_km() -> None:
    assert 430 < distance_km(*NAIROBI, *MOMBASA) < 450


def sighting(
    at: datetime, country: str = "KE", position: tuple[float, float] | None = None
) -> Sighting:
    lat, lon = position if position else (None, None)
    return Sighting(str(uuid.uuid4()), at, country, lat, lon)


def test_a_sighting_too_far_away_too_soon_means_a_clone() -> None:
    here = scan(position=MOMBASA)
    near_in_time = sighting(NOW - timedelta(hours=2), position=NAIROBI)
    assert codes(judge(facts(here, sightings=(near_in_time,)))) == [ReasonCode.IMPOSSIBLE_TRAVEL]
    a_day_before = sighting(NOW - timedelta(hours=24), position=NAIROBI)
    assert judge(facts(here, sightings=(a_day_before,))) == []


def test_the_same_shop_twice_in_a_minute_is_no_travel() -> None:
    here = scan(position=NAIROBI)
    moments_ago = sighting(NOW - timedelta(minutes=1), position=(NAIROBI[0] + 0.005, NAIROBI[1]))
    assert judge(facts(here, sightings=(moments_ago,))) == []


def test_two_countries_within_hours_without_positions_mean_a_clone() -> None:
    policy = Policy()
    recent = sighting(NOW - policy.country_change_min / 2, country="UG")
    older = sighting(NOW - policy.country_change_min * 2, country="UG")
    assert ReasonCode.IMPOSSIBLE_TRAVEL in codes(judge(facts(sightings=(recent,))))
    assert ReasonCode.IMPOSSIBLE_TRAVEL not in codes(judge(facts(sightings=(older,))))


def test_more_sightings_than_plausible_mean_a_clone() -> None:
    policy = Policy(max_sightings=3)
    many = tuple(sighting(NOW - timedelta(days=d)) for d in (1, 2, 3))
    assert codes(judge(facts(sightings=many), policy)) == [ReasonCode.TOO_MANY_SIGHTINGS]
    assert judge(facts(sightings=many[:2]), policy) == []


def test_a_scan_needs_a_uuid_an_aware_time_and_a_real_country() -> None:
    with pytest.raises(VerifyError):
        ScanInput(UI, Place("KE"), NOW, "not-a-uuid")
    with pytest.raises(VerifyError):
        ScanInput(UI, Place("KE"), NOW.replace(tzinfo=None), str(uuid.uuid4()))
    with pytest.raises(VerifyError):
        Place("KE", lat=1.0)
    with pytest.raises(VerifyError):
        Place("KE", lat=91.0, lon=0.0)
    with pytest.raises(Exception, match="unknown country"):
        Place("XX")


def test_a_bloom_filter_has_no_false_negatives_and_keeps_its_rate() -> None:
    rng = random.Random(5)
    members = [f"KET01{rng.getrandbits(64):016x}" for _ in range(5_000)]
    bloom = BloomFilter.build(members, 0.001, b"salt")
    assert all(ui in bloom for ui in members)
    others = [f"KET01{rng.getrandbits(64):016x}x" for _ in range(100_000)]
    measured = sum(ui in bloom for ui in others) / len(others)
    assert bloom.false_positive_rate <= 0.001
    assert measured <= 0.002  # the expected 0.1 %, with room for chance
    bits, hashes = size_for(5_000, 0.001)
    assert (bits, hashes) == (bloom.bits, bloom.hashes) and hashes == 10
    assert false_positive_rate(bits, hashes, 0) == 0.0


def test_a_scanned_stamp_is_compared_with_the_application_time_when_none_was_reported() -> None:
    applied = Recorded("active", None, frozenset({"KE"}), applied_at=NOW)
    auth = Authentication(Reason.VALID, "detail", UI, "06009876543219", NOW.strftime("%y%m%d%H"))
    assert judge(Facts(scan(), auth, ISSUED, applied)) == []
    late = Authentication(Reason.VALID, "detail", UI, "06009876543219", "26020300")
    assert codes(judge(Facts(scan(), late, ISSUED, applied))) == [ReasonCode.STAMP_MISMATCH]


def test_a_note_never_makes_a_verdict_worse() -> None:
    assert verdict_of([Finding(ReasonCode.TAG_NOT_CHECKED, "")]) is Verdict.AUTHENTIC


def test_an_eu_profile_code_scanned_bare_is_not_missing_a_tag() -> None:
    eu = IssuedCode("unit", "issued", "06009876543219", "KE", profile="eu")
    assert judge(facts(reason=Reason.NO_TAG, issued=eu)) == []
    assert codes(judge(facts(reason=Reason.NO_TAG))) == [ReasonCode.TAG_MISSING]
