"""Offline verification with only the public key set: genuine codes pass, forgeries fail."""

from __future__ import annotations

import random

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from itptrace.codes.model import UiLayout, random_serials, signed_message, unit_ui
from itptrace.codes.offline import PublicKeySet, Reason, verify_offline
from itptrace.gs1.checkdigit import gs1_check_digit
from itptrace.gs1.element import CodePayload, to_element_string
from itptrace.keys.signing import (
    b64url_decode_strict,
    b64url_encode,
    key_id_for,
    make_tag,
    public_raw,
)
from itptrace.sim.forgery import copied_tag, element_text, forged_variants

KEY = Ed25519PrivateKey.generate()
KID = key_id_for(public_raw(KEY))
KEYSET = PublicKeySet(country="KE", layout=UiLayout("KET01", 9), keys={KID: public_raw(KEY)})


def _gtin(rng: random.Random) -> str:
    body = "0" + "".join(rng.choice("0123456789") for _ in range(12))
    return body + gs1_check_digit(body)


def genuine_codes(count: int, seed: int = 1) -> list[CodePayload]:
    rng = random.Random(seed)
    codes = []
    for serial in random_serials(count, 9):
        gtin = _gtin(rng)
        ui = unit_ui("KET01", serial, "9TZKUVUT")
        tag = make_tag(KEY, signed_message(ui, gtin))
        codes.append(CodePayload(gtin=gtin, ui=ui, key_id=KID, tag=tag))
    return codes


def test_a_genuine_signed_code_is_valid_offline() -> None:
    code = genuine_codes(1)[0]
    verdict = verify_offline(to_element_string(code), KEYSET)
    assert verdict.valid and verdict.reason is Reason.VALID


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not a code at all!", Reason.MALFORMED),
        ("(01)06009876543210(235)KET01aB3dE6gH99TZKUVUT", Reason.MALFORMED),
        ("(01)06009876543219(235)KEX01aB3dE6gH99TZKUVUT", Reason.UNKNOWN_ISSUER),
        ("(01)06009876543219(235)KET01aB3dE6gH99TZKUVUT", Reason.NO_TAG),
        ("KET01aB3dE6gH99TZKUVUT", Reason.NO_TAG),
    ],
)
def test_each_kind_of_bad_code_gets_its_own_reason(text: str, reason: Reason) -> None:
    verdict = verify_offline(text, KEYSET)
    assert not verdict.valid and verdict.reason is reason


def test_a_code_signed_by_an_unpublished_key_is_refused_as_unknown_key() -> None:
    other = Ed25519PrivateKey.generate()
    ui = unit_ui("KET01", "aB3dE6gH9", "9TZKUVUT")
    text = element_text(
        "06009876543219",
        ui,
        key_id_for(public_raw(other)),
        make_tag(other, signed_message(ui, "06009876543219")),
    )
    assert verify_offline(text, KEYSET).reason is Reason.UNKNOWN_KEY


def test_a_non_canonical_spelling_of_a_valid_tag_is_refused() -> None:
    code = genuine_codes(1)[0]
    assert code.tag is not None
    raw = b64url_decode_strict(code.tag)
    assert raw is not None and b64url_encode(raw) == code.tag
    # The last of 86 characters carries 4 unused bits; flipping one keeps the bytes equal.
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = code.tag[:-1] + last[last.index(code.tag[-1]) ^ 1]
    assert b64url_decode_strict(twin) is None
    text = element_text(code.gtin or "", code.ui, code.key_id, twin)
    assert not verify_offline(text, KEYSET).valid


def test_over_100000_mutated_or_random_codes_are_all_rejected_offline() -> None:
    rng = random.Random(2026)
    codes = genuine_codes(13)
    forgeries = [text for code in codes for _, text in forged_variants(code, rng)]
    forgeries += [copied_tag(codes[i], codes[i + 1]) for i in range(len(codes) - 1)]
    forgeries += [
        element_text(
            _gtin(rng), unit_ui("KET01", s, "9TZKUVUT"), KID, b64url_encode(rng.randbytes(64))
        )
        for s in random_serials(2_000, 9)
    ]
    assert len(forgeries) >= 100_000
    accepted = [text for text in forgeries if verify_offline(text, KEYSET).valid]
    assert accepted == []
    assert all(verify_offline(to_element_string(code), KEYSET).valid for code in codes)


def test_a_damaged_public_key_file_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="not an itptrace public key set"):
        PublicKeySet.from_json({"format": "something else"})
