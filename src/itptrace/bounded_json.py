"""JSON from outside the node, read with a nesting-depth limit: the one loader every door uses.

The standard parser recurses once per nesting level, and so does much code after it (shape
checks, the EPCIS canonicaliser, pydantic): a body of a few hundred ``[`` is enough to end a
request with a RecursionError, or a job with one tried again and again. ``check_depth``
measures the nesting of the raw text before anything parses it, at the speed of a few byte
scans (no Python loop over the text): escapes are cut out, the brackets outside strings
kept, and the deepest running count of them is the depth. ``loads`` checks, then parses.
A document deeper than ``MAX_DEPTH`` is refused with ``json_too_deep``; no genuine report
comes near it (an EPCIS document with sensor data nests about ten deep).

The measure is exact for valid JSON. For text that is not JSON the number means little,
but then the parser refuses the text anyway.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from itptrace.errors import DomainError

MAX_DEPTH = 64
_STRUCTURE = b'[]{}"'
_OTHER_BYTES = bytes(b for b in range(256) if b not in _STRUCTURE)


class JsonTooDeep(DomainError):
    """A JSON input nests objects and arrays deeper than the node reads."""

    code = "json_too_deep"


def depth(data: bytes | str) -> int:
    """How deeply the objects and arrays of a JSON text nest (0 for a bare scalar)."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    # Escapes first: an escaped backslash, then an escaped quote, neither ends a string.
    # Backslashes only occur inside strings in JSON, and never inside a UTF-8 sequence.
    raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    codes = np.frombuffer(raw.translate(None, _OTHER_BYTES), dtype=np.uint8)
    if not codes.size:
        return 0
    quote = codes == ord('"')
    # A bracket after an even number of quotes is outside every string.
    outside = (np.cumsum(quote, dtype=np.int64) % 2 == 0) & ~quote
    brackets = codes[outside]
    if not brackets.size:
        return 0
    steps = np.where((brackets == ord("[")) | (brackets == ord("{")), 1, -1).astype(np.int32)
    return max(int(np.cumsum(steps).max()), 0)


def check_depth(data: bytes | str, limit: int = MAX_DEPTH, *, what: str = "the JSON") -> None:
    """Refuse ``data`` (``JsonTooDeep``) when it nests deeper than ``limit``."""
    found = depth(data)
    if found > limit:
        raise JsonTooDeep(
            f"{what} nests objects and arrays {found} deep; at most {limit} levels are read",
            subject="document",
        )


def loads(data: bytes | str, limit: int = MAX_DEPTH, *, what: str = "the JSON") -> Any:
    """``json.loads`` after ``check_depth``: ``JsonTooDeep``, or the parser's own errors
    (``json.JSONDecodeError``, ``UnicodeDecodeError``) for text that is not JSON."""
    check_depth(data, limit, what=what)
    return json.loads(data)
