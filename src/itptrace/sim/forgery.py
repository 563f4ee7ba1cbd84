"""Forged codes for demos and tests: what a counterfeiter could print without the key.

Forgeries are written as element-string text, not built as payload objects, because many
of them are deliberately malformed and a payload object refuses to hold those.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from itptrace.codes.model import SERIAL_ALPHABET
from itptrace.gs1.element import CodePayload

_REPLACEMENTS = SERIAL_ALPHABET + "-_"


def element_text(gtin: str, ui: str, key_id: str | None, tag: str | None) -> str:
    """The bracketed element string, with no checks at all (forgeries need that)."""
    signed = f"(91){key_id}(92){tag}" if key_id is not None and tag is not None else ""
    return f"(01){gtin}{signed}(235){ui}"


def single_character_changes(text: str) -> Iterator[str]:
    """Every string that differs from ``text`` in exactly one position."""
    for index, original in enumerate(text):
        for char in _REPLACEMENTS:
            if char != original:
                yield text[:index] + char + text[index + 1 :]


def forged_variants(payload: CodePayload, rng: random.Random) -> Iterator[tuple[str, str]]:
    """(kind, scan text) pairs, each a plausible forgery of a genuine payload."""
    gtin, ui, kid, tag = payload.gtin or "", payload.ui, payload.key_id, payload.tag
    assert tag is not None and kid is not None, "forgeries start from a signed code"
    for changed in single_character_changes(gtin):
        yield "changed gtin", element_text(changed, ui, kid, tag)
    for changed in single_character_changes(ui):
        yield "changed ui", element_text(gtin, changed, kid, tag)
    for changed in single_character_changes(kid):
        yield "changed key id", element_text(gtin, ui, changed, tag)
    for changed in single_character_changes(tag):
        yield "changed tag", element_text(gtin, ui, kid, changed)
    serial = "".join(rng.choice(SERIAL_ALPHABET) for _ in range(9))
    yield "guessed serial", element_text(gtin, ui[:5] + serial + ui[14:], kid, tag)
    yield "no tag", element_text(gtin, ui, None, None)


def copied_tag(genuine: CodePayload, other: CodePayload) -> str:
    """A genuine tag pasted next to a different UI."""
    return element_text(other.gtin or "", other.ui, genuine.key_id, genuine.tag)
