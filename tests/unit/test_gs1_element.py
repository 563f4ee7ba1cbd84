"""The pack code as a GS1 element string, and the reading of every scan form."""

from __future__ import annotations

import base64
import random
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itptrace.gs1.checkdigit import gs1_check_digit
from itptrace.gs1.element import (
    GS,
    GS1_CSET82,
    ISO646_INVARIANT,
    CodePayload,
    ScanFormatError,
    is_iso646_invariant,
    parse_scan,
    to_element_string,
    to_raw,
)

GTIN = "05012345678900"
UI = "ZZT01ABCDE9xK3PROD0001"
KEY = "a1b2c3d4"
TAG = base64.urlsafe_b64encode(random.Random(7).randbytes(64)).rstrip(b"=").decode()
STAMP = "26112906"
FULL = CodePayload(GTIN, UI, KEY, TAG, STAMP)
EU = CodePayload(GTIN, UI)

ALNUM = string.ascii_letters + string.digits


def test_the_test_tag_looks_like_an_ed25519_signature() -> None:
    assert len(TAG) == 86
    assert len(base64.urlsafe_b64decode(TAG + "==")) == 64


def test_the_element_string_lists_the_ais_in_order_with_the_unique_identifier_last() -> None:
    assert to_element_string(FULL) == f"(01){GTIN}(8008){STAMP}(91){KEY}(92){TAG}(235){UI}"


def test_the_eu_profile_element_string_holds_only_the_gtin_and_the_unique_identifier() -> None:
    assert to_element_string(EU) == f"(01){GTIN}(235){UI}"


def test_the_raw_form_separates_variable_fields_but_not_the_fixed_gtin_or_the_last_field() -> None:
    assert to_raw(FULL) == f"01{GTIN}8008{STAMP}{GS}91{KEY}{GS}92{TAG}{GS}235{UI}"
    assert to_raw(EU) == f"01{GTIN}235{UI}"


@pytest.mark.parametrize(
    "payload",
    [
        CodePayload(GTIN, UI, timestamp=STAMP),
        CodePayload(GTIN, UI, key_id=KEY),
        CodePayload(GTIN, UI, tag=TAG),
        CodePayload(GTIN, UI, KEY, TAG),
    ],
)
def test_the_unique_identifier_is_last_whatever_optional_fields_are_present(
    payload: CodePayload,
) -> None:
    assert to_element_string(payload).endswith(f"(235){UI}")
    assert to_raw(payload).endswith(f"{GS}235{UI}")
    assert not to_raw(payload).endswith(GS)


def test_a_code_without_a_gtin_has_no_gs1_form() -> None:
    bare = CodePayload(None, UI)
    with pytest.raises(ValueError, match="GTIN"):
        to_element_string(bare)
    with pytest.raises(ValueError, match="GTIN"):
        to_raw(bare)


def test_a_shorter_gtin_is_stored_as_fourteen_digits() -> None:
    assert CodePayload("4006381333931", UI).gtin == "04006381333931"
    assert CodePayload("96385074", UI) == CodePayload("00000096385074", UI)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"gtin": "4006381333932"}, "check digit is wrong: expected 1"),
        ({"gtin": "12345"}, "8, 12, 13 or 14 digits"),
        ({"ui": ""}, "1 to 28 characters"),
        ({"ui": "A" * 29}, "1 to 28 characters"),
        ({"ui": "ZZT01#BCD"}, "ISO 646 invariant"),
        ({"ui": "ZZT01ÄBCD"}, "ISO 646 invariant"),
        ({"ui": "ZZT01 BCD"}, "space"),
        ({"key_id": ""}, "key id"),
        ({"key_id": "k" * 33}, "key id"),
        ({"key_id": "a1b2/c3d4"}, "key id"),
        ({"tag": TAG[:-1]}, "86 base64url"),
        ({"tag": TAG[:-1] + "+"}, "86 base64url"),
        ({"tag": TAG[:-1] + "B"}, "canonical"),
        ({"timestamp": "2611290"}, "YYMMDDhh"),
        ({"timestamp": "2611290a"}, "YYMMDDhh"),
        ({"timestamp": "26131206"}, "not a real date"),
        ({"timestamp": "27022906"}, "not a real date"),  # 2027 is not a leap year
        ({"timestamp": "26112924"}, "not a real date"),
    ],
)
def test_a_payload_that_breaks_a_field_rule_cannot_be_built(
    fields: dict[str, str], message: str
) -> None:
    values = {"gtin": GTIN, "ui": UI, "key_id": KEY, "tag": TAG, "timestamp": STAMP} | fields
    with pytest.raises(ValueError, match=message):
        CodePayload(**values)


def test_a_leap_day_timestamp_is_accepted() -> None:
    assert CodePayload(GTIN, UI, timestamp="28022923").timestamp == "28022923"


def test_the_iso646_invariant_set_is_the_82_gs1_characters_plus_space() -> None:
    assert len(ISO646_INVARIANT) == 83
    only_in_iso646 = ISO646_INVARIANT - GS1_CSET82
    assert only_in_iso646 == {" "}
    assert not set("#$@[\\]^`{|}~") & ISO646_INVARIANT
    assert is_iso646_invariant("ZZT01 abc-9_%")
    assert not is_iso646_invariant("ZZT01#")
    assert not is_iso646_invariant("caf\u00e9")


@pytest.mark.parametrize(
    "scan",
    [
        to_element_string(FULL),
        to_raw(FULL),
        *(f"{prefix}{to_raw(FULL)}" for prefix in ("]d2", "]C1", "]Q3", "]J1")),
        to_raw(FULL).replace(GS, "<GS>"),
        to_raw(FULL).replace(GS, "{GS}"),
        f"  ]d2{to_raw(FULL)}\r\n",
        f"{GS}{to_raw(FULL)}",  # some scanners send FNC1-in-first-position as a GS too
        f"(01) {GTIN} (8008) {STAMP} (91) {KEY} (92) {TAG} (235) {UI}",
        f"(235){UI}(92){TAG}(91){KEY}(8008){STAMP}(01){GTIN}",
        f"01{GTIN}{GS}8008{STAMP}{GS}91{KEY}{GS}92{TAG}{GS}235{UI}{GS}",
    ],
)
def test_every_accepted_scan_form_of_a_signed_code_reads_back_the_same_payload(scan: str) -> None:
    assert parse_scan(scan) == FULL


@pytest.mark.parametrize(
    "scan", [f"01{GTIN}235{UI}", f"]d201{GTIN}235{UI}", f"(01){GTIN}(235){UI}"]
)
def test_an_eu_profile_code_reads_back_in_every_form(scan: str) -> None:
    assert parse_scan(scan) == EU


@pytest.mark.parametrize("scan", [UI, f" {UI}\n", f"]Q1{UI}", f"]d1{UI}"])
def test_a_bare_unique_identifier_is_read_without_a_gtin(scan: str) -> None:
    assert parse_scan(scan) == CodePayload(gtin=None, ui=UI)


@pytest.mark.parametrize(
    ("scan", "message"),
    [
        ("", "empty scan"),
        ("   \n", "empty scan"),
        (f"(01){GTIN[:-1]}1(235){UI}", r"AI \(01\) GTIN check digit is wrong: expected 0"),
        (f"01{GTIN[:-1]}1235{UI}", r"AI \(01\) GTIN check digit is wrong: expected 0"),
        (f"(01){GTIN}(10)LOT1(235){UI}", r"unexpected AI \(10\) in a pack code"),
        (f"]d201{GTIN}10LOT1{GS}235{UI}", r"unexpected AI \(10\) in a pack code"),
        (f"(01){GTIN}(9999)x(235){UI}", r"unknown AI \(9999\)"),
        (f"(01){GTIN}", r"missing AI \(235\) unique identifier"),
        (f"]d201{GTIN}", r"missing AI \(235\) unique identifier"),
        (f"(235){UI}", r"missing AI \(01\) GTIN"),
        (f"]d2235{UI}", r"missing AI \(01\) GTIN"),
        (f"01{GTIN}235{UI}{GS}235{UI}", r"AI \(235\) appears more than once"),
        (f"(01){GTIN}(01){GTIN}(235){UI}", r"AI \(01\) appears more than once"),
        (f"(01){GTIN}1(235){UI}", r"AI \(01\) GTIN must be 14 digits"),
        (f"(01){GTIN}(8008){STAMP}00(235){UI}", r"timestamp \(AI 8008\) must be YYMMDDhh"),
        (f"01{GTIN}800826133106{GS}235{UI}", r"malformed AI \(8008\) value"),
        (f"(01){GTIN}(92)short(235){UI}", r"tag \(AI 92\) must be 86"),
        (f"(01){GTIN}(235)", r"unique identifier must be 1 to 28"),
        (f"01{GTIN}235{'A' * 29}", "not a GS1 element string"),
        ("(ABC)DEF", "not a GS1 element string"),
        (f"{UI}#", "characters outside the ISO 646 invariant set"),
        (f"(01){GTIN}(235)ZZT01\u00e9", "characters outside the ISO 646 invariant set"),
        (f"(01){GTIN}(235)ZZT{GS}01", "outside the ISO 646 invariant set"),
        ("]x", "malformed symbology identifier"),
        (f"]{UI}", "malformed symbology identifier"),
        ("ZZT01 ABC", "must not contain a space"),
        ("A" * 29, "1 to 28 characters"),
        ("x" * 5000, "longer than 1024"),
    ],
)
def test_a_malformed_scan_is_refused_with_a_specific_message(scan: str, message: str) -> None:
    with pytest.raises(ScanFormatError, match=message) as caught:
        parse_scan(scan)
    assert "\n" not in str(caught.value)


def test_a_scan_format_error_is_a_value_error() -> None:
    assert issubclass(ScanFormatError, ValueError)


def test_parentheses_in_a_unique_identifier_survive_both_forms() -> None:
    odd = CodePayload(GTIN, "ZZT(A)1)(")
    assert parse_scan(to_element_string(odd)) == odd
    assert parse_scan(to_raw(odd)) == odd


@pytest.mark.parametrize("ui", ["ZZT(12)1", "ZZT(8008)1", "ZZT<GS>1"])
def test_a_unique_identifier_that_a_scan_form_would_misread_cannot_be_built(ui: str) -> None:
    with pytest.raises(ValueError, match="must not contain"):
        CodePayload(GTIN, ui)


def _readable_ui(ui: str) -> bool:
    try:
        CodePayload(None, ui)
    except ValueError:
        return False
    return True


def _gtin(draw_digits: str) -> str:
    return draw_digits + gs1_check_digit(draw_digits)


payloads = st.builds(
    CodePayload,
    gtin=st.text("0123456789", min_size=13, max_size=13).map(_gtin),
    ui=st.text(sorted(GS1_CSET82), min_size=1, max_size=28).filter(_readable_ui),
    key_id=st.none() | st.text(ALNUM + "-_", min_size=1, max_size=32),
    tag=st.none()
    | st.binary(min_size=64, max_size=64).map(
        lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    ),
    timestamp=st.none()
    | st.datetimes().map(lambda d: d.strftime("%y%m%d%H")).filter(lambda s: len(s) == 8),
)


@given(payloads, st.sampled_from(["", "]d2", "]C1", "]Q3", "]J1"]), st.sampled_from([GS, "<GS>"]))
def test_any_payload_survives_the_bracketed_and_raw_round_trips(
    payload: CodePayload, prefix: str, separator: str
) -> None:
    assert parse_scan(to_element_string(payload)) == payload
    assert parse_scan(prefix + to_raw(payload).replace(GS, separator)) == payload


def _assert_only_scan_format_errors(text: str) -> None:
    try:
        parse_scan(text)
    except ScanFormatError as exc:
        assert str(exc)
        assert "\n" not in str(exc)


@settings(max_examples=400)
@given(st.text())
def test_parse_scan_raises_nothing_but_scan_format_error_for_any_text(text: str) -> None:
    _assert_only_scan_format_errors(text)


@settings(max_examples=400)
@given(st.text(alphabet="0123456789()<>{}GS]dCQJ Az-_" + GS))
def test_parse_scan_raises_nothing_but_scan_format_error_for_gs1_like_text(text: str) -> None:
    _assert_only_scan_format_errors(text)


@settings(max_examples=300)
@given(payloads, st.data())
def test_parse_scan_raises_nothing_but_scan_format_error_for_a_damaged_code(
    payload: CodePayload, data: st.DataObject
) -> None:
    raw = to_raw(payload)
    cut = data.draw(st.integers(0, len(raw)))
    junk = data.draw(st.text(alphabet="0123456789()A" + GS, max_size=3))
    _assert_only_scan_format_errors(raw[:cut] + junk + raw[cut + 1 :])
