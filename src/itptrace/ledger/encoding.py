"""The leaf data of the ledger: one deterministic byte string per stored record.

Pure and stdlib-only. A leaf's data is never stored; it is recomputed from the record it
stands for (``fsck`` does exactly that), so the encoding must give the same bytes for the
same record on any machine, any database and any Python version::

    b"itptrace-leaf/1\\n" || kind || b"\\n" || canonical JSON of the record's fields

Canonical JSON here means: object keys sorted, no whitespace, UTF-8 (non-ASCII characters
written as themselves, not ``\\u`` escapes), and only these values: ``None``, ``bool``,
``int``, ``str``, lists/tuples and string-keyed mappings of them, enums (their value) and
datetimes (RFC 3339 in UTC with exactly six fractional digits and ``Z``, e.g.
``2026-01-05T08:00:00.000000Z``). A naive datetime is taken as UTC, because SQLite hands
back timezone-aware columns as naive UTC values. Floats and bytes are refused: they have
no single obvious spelling. The exact format is documented in docs/ledger.md.

Each kind lists its fields explicitly (see ``itptrace.ledger.sources``) so that adding a
column to a table does not change the leaves of records stored before.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any

LEAF_FORMAT = b"itptrace-leaf/1\n"

_KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def canonical_value(value: Any) -> Any:
    """The JSON-ready form of ``value``; raises ``TypeError`` for anything not listed above."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Enum):
        return canonical_value(value.value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, list | tuple):
        return [canonical_value(item) for item in value]
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("mapping keys in a ledger record must be strings")
        return {key: canonical_value(item) for key, item in value.items()}
    raise TypeError(f"a ledger record cannot hold a {type(value).__name__} value")


def rfc3339(value: datetime) -> str:
    """``value`` in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (a naive value is taken as UTC)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(fields: Mapping[str, Any]) -> bytes:
    """Sorted keys, no whitespace, UTF-8; the same bytes for equal records."""
    text = json.dumps(
        canonical_value(fields),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return text.encode("utf-8")


def encode_record(kind: str, fields: Mapping[str, Any]) -> bytes:
    """The leaf data of one record of ``kind`` (a lower-case word of at most 32 characters)."""
    if not _KIND.match(kind):
        raise ValueError(f"not a ledger record kind: {kind!r}")
    return LEAF_FORMAT + kind.encode("ascii") + b"\n" + canonical_json(fields)


def encode_flat_record(kind: str, fields: Mapping[str, str | int | None]) -> bytes:
    """:func:`encode_record` of a record already in canonical form: only strings, integers
    (not bools) and None, dates already written by :func:`rfc3339`. Same bytes, less work."""
    # A capture encodes one record per accepted event, so the per-call overhead counts: the
    # kind line is made once per kind, the value types are checked in one set operation,
    # and the JSON encoder (the one json.dumps would build from these options) is reused.
    head = _kind_line(kind)
    if not _FLAT_TYPES.issuperset(map(type, fields.values())):
        wrong = next(v for v in fields.values() if type(v) not in _FLAT_TYPES)
        raise TypeError(f"a flat ledger record cannot hold a {type(wrong).__name__} value")
    return head + _FLAT_JSON.encode(fields).encode("utf-8")


_FLAT_TYPES = frozenset({str, int, type(None)})
_FLAT_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@functools.lru_cache(maxsize=64)
def _kind_line(kind: str) -> bytes:
    """The format and kind lines that start every leaf of ``kind``."""
    if not _KIND.match(kind):
        raise ValueError(f"not a ledger record kind: {kind!r}")
    return LEAF_FORMAT + kind.encode("ascii") + b"\n"


def decode_record(data: bytes) -> tuple[str, dict[str, Any]]:
    """Split leaf data back into its kind and fields (for display and audit tools)."""
    if not data.startswith(LEAF_FORMAT):
        raise ValueError("not itptrace leaf data (format line missing)")
    kind, separator, body = data[len(LEAF_FORMAT) :].partition(b"\n")
    if not separator or not _KIND.match(kind.decode("ascii", "replace")):
        raise ValueError("leaf data has no valid kind line")
    fields = json.loads(body.decode("utf-8"))
    if not isinstance(fields, dict):
        raise ValueError("leaf data fields are not a JSON object")
    return kind.decode("ascii"), fields


def code_line(code: str, tag: str | None) -> str:
    """One code's contribution to :func:`codes_digest`: ``code TAB tag LF``."""
    return f"{code}\t{tag or ''}\n"


def codes_digest(codes_and_tags: Iterable[tuple[str, str | None]]) -> str:
    """SHA-256 (hex) over the codes of one request and their tags, sorted by code.

    Each pair contributes :func:`code_line` in UTF-8, a missing tag as the empty string
    (tags are either absent, profile ``eu``, or 86 characters, never empty). Editing,
    adding or removing any stored code or tag changes the digest.
    """
    return lines_digest([code_line(code, tag) for code, tag in codes_and_tags])


def lines_digest(lines: list[str]) -> str:
    """:func:`codes_digest` from ready-made :func:`code_line` strings (sorted here, in place).

    Sorting whole lines sorts by code: codes are unique and contain no tab, and a tab sorts
    before every printable character, so a code that is a prefix of another sorts first.
    Python orders strings by code point, which for these ASCII codes is byte order.
    """
    lines.sort()
    text = "".join(lines)
    # Exactly one tab and one newline per line, or the split into codes is ambiguous.
    if text.count("\t") != len(lines) or text.count("\n") != len(lines):
        raise ValueError("a code or tag with a tab or newline cannot be digested")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
