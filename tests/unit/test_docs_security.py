"""docs/security.md names tests that exist, in the files it says, for every threat it lists."""

from __future__ import annotations

import re
from pathlib import Path

from tests.unit.markdown import DOCS

TESTS = Path(__file__).resolve().parents[1]
THREATS = (
    "## 1. A hostile operator",
    "## 2. A stolen inspector device, or a forged offline bundle",
    "## 3. A compromised database file",
    "## 4. A flooding or malformed client",
)
# A named test, optionally followed by the file it lives in when not under tests/security/.
NAMED = re.compile(r"`(test_[a-z0-9_]+)`(?: \((tests/[\w/]+\.py)\))?")


def defined_in(path: Path) -> set[str]:
    return set(re.findall(r"^(?:async )?def (test_[a-z0-9_]+)\(", path.read_text(), re.M))


def test_every_test_the_security_page_names_exists_where_it_says() -> None:
    text = (DOCS / "security.md").read_text()
    security = set().union(*(defined_in(p) for p in (TESTS / "security").glob("test_*.py")))
    named = NAMED.findall(text)
    assert len(named) >= 40
    missing = [
        name
        for name, where in named
        if name not in (defined_in(TESTS.parent / where) if where else security)
    ]
    assert missing == []


def test_the_security_page_covers_each_threat_with_named_tests() -> None:
    text = (DOCS / "security.md").read_text()
    for heading, following in zip(
        THREATS, (*THREATS[1:], "## What is not promised yet"), strict=True
    ):
        start, end = text.index(heading), text.index(following)
        assert NAMED.search(text[start:end]), f"{heading} names no test"
