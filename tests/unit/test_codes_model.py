"""Identifier formats, serials and the guessing-probability rule."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from itptrace.codes.model import (
    SERIAL_ALPHABET,
    IssuerError,
    UiLayout,
    add_working_days,
    aggregate_ui,
    check_application_timestamp,
    check_guess_limit,
    code_space,
    guess_probability,
    random_serials,
    unit_ui,
)
from itptrace.gs1.element import is_iso646_invariant


def test_serials_have_the_requested_length_and_only_alphanumeric_characters() -> None:
    serials = random_serials(5_000, 9)
    assert len(serials) == 5_000
    assert all(len(s) == 9 and set(s) <= set(SERIAL_ALPHABET) for s in serials)


def test_serial_characters_are_spread_evenly_over_the_62_symbol_alphabet() -> None:
    counts = Counter("".join(random_serials(20_000, 9)))
    expected = 20_000 * 9 / 62
    assert set(counts) == set(SERIAL_ALPHABET)
    # 180,000 draws: each count is within 10 % of the mean unless the draw is biased.
    assert all(abs(c - expected) < expected * 0.1 for c in counts.values())


def test_a_million_serials_of_nine_characters_do_not_repeat_in_practice() -> None:
    serials = random_serials(200_000, 9)
    assert len(set(serials)) == len(serials)


def test_the_code_space_of_nine_characters_is_62_to_the_ninth() -> None:
    assert code_space(9) == 62**9 == 13_537_086_546_263_552


def test_guess_probability_is_issued_codes_over_the_code_space() -> None:
    assert guess_probability(62**3, 6) == pytest.approx(1 / 62**3)


def test_a_request_that_keeps_the_guess_probability_under_the_limit_is_allowed() -> None:
    check_guess_limit(already_issued=0, requested=23, serial_length=3, limit=1e-4)


def test_a_request_that_would_exceed_the_guess_probability_limit_is_refused() -> None:
    # 62**3 = 238,328 serials; 1/10,000 of that is 23.8 codes.
    with pytest.raises(IssuerError, match="at most 3 more"):
        check_guess_limit(already_issued=20, requested=4, serial_length=3, limit=1e-4)


def test_a_unit_ui_is_issuer_code_serial_and_product_code_within_50_characters() -> None:
    ui = unit_ui("KET01", "aB3dE6gH9", "9TZKUVUT")
    assert ui == "KET01aB3dE6gH99TZKUVUT"
    assert len(ui) + 8 <= 50 and is_iso646_invariant(ui)


def test_a_unit_ui_too_long_for_its_time_stamp_is_refused() -> None:
    with pytest.raises(IssuerError, match="exceed 50"):
        unit_ui("KET01", "x" * 30, "9TZKUVUT")


def test_an_aggregated_ui_ends_with_the_facility_identifier() -> None:
    assert aggregate_ui("KET01", "aB3dE6gH9", "KET01FDQE3EK").endswith("KET01FDQE3EK")


def test_the_layout_splits_a_unit_ui_into_issuer_serial_and_product_code() -> None:
    layout = UiLayout("KET01", 9)
    assert layout.split_unit("KET01aB3dE6gH99TZKUVUT") == ("KET01", "aB3dE6gH9", "9TZKUVUT")


@pytest.mark.parametrize(
    "ui",
    [
        "KET01aB3dE6gH99TZKUVU",
        "KEX01aB3dE6gH99TZKUVUT",
        "KET01aB3dE6g-99TZKUVUT",
        "KET01aB3dE6gH99TZKUVUt",
    ],
)
def test_the_layout_rejects_uis_of_another_shape(ui: str) -> None:
    assert UiLayout("KET01", 9).split_unit(ui) is None


def test_an_application_time_stamp_is_a_real_date_and_hour() -> None:
    assert check_application_timestamp("26112906") == datetime(2026, 11, 29, 6)
    with pytest.raises(IssuerError):
        check_application_timestamp("26113125")


def test_working_days_skip_the_weekend() -> None:
    friday = datetime(2026, 1, 9, 17, tzinfo=UTC)
    assert add_working_days(friday, 1) == datetime(2026, 1, 12, 17, tzinfo=UTC)
