"""The key store reads its ring file again only when the file has changed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from itptrace.keys.store import KeyStore

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    reads: list[Path] = []
    original = Path.read_text

    def spy(self: Path, *args: object, **kwargs: object) -> str:
        reads.append(self)
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", spy)
    return reads


def test_an_unchanged_ring_is_parsed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    KeyStore(tmp_path).generate(NOW)
    store = KeyStore(tmp_path)
    reads = count_reads(monkeypatch)
    for _ in range(5):
        store.keys()
        store.active_kid()
    assert len(reads) == 1


def test_a_key_made_by_another_store_on_the_same_directory_is_seen_at_once(
    tmp_path: Path,
) -> None:
    ours, theirs = KeyStore(tmp_path), KeyStore(tmp_path)
    first = ours.generate(NOW)
    before = ours.stamp()
    assert ours.active_kid() == first.kid
    second = theirs.generate(NOW)  # the same instant: the stamp still changes
    assert ours.stamp() != before
    assert ours.active_kid() == second.kid
    assert [k.status for k in ours.keys()] == ["retired", "active"]


def test_a_directory_without_a_ring_has_no_stamp_and_no_keys(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "none")
    assert store.stamp() is None and store.keys() == [] and store.active_kid() is None
