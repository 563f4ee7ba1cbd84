"""GS1 mod-10 check digits for GTINs and SSCCs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from itptrace.gs1.checkdigit import (
    gs1_check_digit,
    is_valid_gtin,
    is_valid_sscc,
    normalize_gtin,
)

# Published examples; each check digit is worked out by hand in the tests below.
EAN13 = "4006381333931"
EAN8 = "96385074"
UPC_A = "036000291452"
GTIN14 = "10012345678902"
SSCC = "106141411234567897"

digit_strings = st.text(alphabet="0123456789", min_size=1, max_size=30)


def test_the_check_digit_of_an_ean13_follows_the_weighted_sum_worked_by_hand() -> None:
    # Body 400638133393 read from the right with weights 3,1,3,1...:
    # 3*3 + 9 + 3*3 + 3 + 3*3 + 1 + 8*3 + 3 + 6*3 + 0 + 0*3 + 4 = 89; 90 - 89 = 1.
    assert gs1_check_digit("400638133393") == "1"
    assert is_valid_gtin(EAN13)


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("9638507", "4"),  # EAN-8: 7*3 + 0 + 5*3 + 8 + 3*3 + 6 + 9*3 = 86
        ("03600029145", "2"),  # UPC-A: 5*3 + 4 + 1*3 + 9 + 2*3 + 0 + 0 + 0 + 6*3 + 3 + 0 = 58
        ("1001234567890", "2"),  # GTIN-14: sum 88
        ("10614141123456789", "7"),  # SSCC: sum 143
        ("0", "0"),
        ("5", "5"),  # 5*3 = 15; 20 - 15 = 5
    ],
)
def test_known_check_digits_are_computed(body: str, check: str) -> None:
    assert gs1_check_digit(body) == check


@pytest.mark.parametrize("gtin", [EAN8, UPC_A, EAN13, GTIN14, "0" + EAN13])
def test_valid_gtins_of_every_length_are_accepted(gtin: str) -> None:
    assert is_valid_gtin(gtin)


@pytest.mark.parametrize("valid", [EAN8, UPC_A, EAN13, GTIN14])
def test_every_single_digit_change_of_a_valid_gtin_is_rejected(valid: str) -> None:
    for position, original in enumerate(valid):
        for replacement in "0123456789":
            if replacement == original:
                continue
            changed = valid[:position] + replacement + valid[position + 1 :]
            assert not is_valid_gtin(changed), changed


def test_every_single_digit_change_of_a_valid_sscc_is_rejected() -> None:
    assert is_valid_sscc(SSCC)
    for position, original in enumerate(SSCC):
        for replacement in "0123456789":
            if replacement != original:
                assert not is_valid_sscc(SSCC[:position] + replacement + SSCC[position + 1 :])


@pytest.mark.parametrize(
    "gtin",
    [
        "",
        "400638133393",  # 12 digits, but not a valid UPC-A
        "40063813339311",  # 14 digits, wrong check digit
        "1234567",  # 7 digits
        "123456789",  # 9 digits
        "400638133393a",
        " 4006381333931",
        "4006381333931\n",
        "４００６３８１３３３９３１",  # fullwidth digits are digits to str.isdigit, not to GS1
        "٤٠٠٦٣٨١٣٣٣٩٣١",  # Arabic-Indic digits
    ],
)
def test_a_gtin_that_is_not_8_12_13_or_14_ascii_digits_with_a_good_check_digit_is_rejected(
    gtin: str,
) -> None:
    assert not is_valid_gtin(gtin)


@pytest.mark.parametrize("body", ["", "12a4", "１２３", "12 3", "²"])
def test_a_check_digit_is_refused_for_a_body_that_is_not_ascii_digits(body: str) -> None:
    with pytest.raises(ValueError, match="digits"):
        gs1_check_digit(body)


@pytest.mark.parametrize(
    ("gtin", "fourteen"),
    [
        (EAN8, "00000096385074"),
        (UPC_A, "00036000291452"),
        (EAN13, "04006381333931"),
        (GTIN14, GTIN14),
    ],
)
def test_a_gtin_is_normalized_to_fourteen_digits(gtin: str, fourteen: str) -> None:
    assert normalize_gtin(gtin) == fourteen


@pytest.mark.parametrize("gtin", ["", "123", "123456789", "400638133393x", "400638133393155"])
def test_normalizing_a_gtin_of_the_wrong_length_says_which_lengths_are_allowed(gtin: str) -> None:
    with pytest.raises(ValueError, match=r"^GTIN must be 8, 12, 13 or 14 digits$"):
        normalize_gtin(gtin)


def test_normalizing_a_gtin_with_a_wrong_check_digit_names_the_expected_digit() -> None:
    with pytest.raises(ValueError, match=r"^GTIN check digit is wrong: expected 1$"):
        normalize_gtin("4006381333934")


@pytest.mark.parametrize(
    "sscc", [SSCC[:-1], SSCC + "0", "00" + EAN13 + "123", "10614141123456789X", ""]
)
def test_an_sscc_must_be_18_digits_with_a_good_check_digit(sscc: str) -> None:
    assert not is_valid_sscc(sscc)


@given(digit_strings)
def test_a_body_with_its_check_digit_appended_always_validates_at_gtin_lengths(body: str) -> None:
    key = body + gs1_check_digit(body)
    assert is_valid_gtin(key) == (len(key) in {8, 12, 13, 14})
    assert is_valid_sscc(key) == (len(key) == 18)


@given(digit_strings)
def test_leading_zeros_never_change_the_check_digit(body: str) -> None:
    assert gs1_check_digit("000" + body) == gs1_check_digit(body)


@given(digit_strings.filter(lambda s: len(s) in {7, 11, 12, 13}))
def test_normalizing_keeps_a_valid_gtin_valid_and_fourteen_digits_long(body: str) -> None:
    normal = normalize_gtin(body + gs1_check_digit(body))
    assert len(normal) == 14
    assert is_valid_gtin(normal)
    assert normal.endswith(body + gs1_check_digit(body))
