"""Traces and 8.4.1 reports in plain words, for people: the demo's story and the CLI tables.

Every time carries its zone (``2026-01-05 06:30 UTC``), every message code and flag is
followed by its meaning the first time it appears (from ``capture.model.MESSAGE_NAMES``
and ``capture.catalogue.CATALOGUE``), and a report item's value reads as labelled text,
lists as indented lines, never as JSON. The ``--json`` outputs do not use this module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from itptrace.capture.catalogue import CATALOGUE
from itptrace.capture.model import MESSAGE_NAMES
from itptrace.queries.report import ReportItem
from itptrace.queries.service import TraceEntry

_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
# Keys whose value says what it is; any other key is printed as its label.
_BARE = frozenset(
    {"date", "time", "facility", "country", "id", "name", "brand", "description", "event"}
)
MARKS = {
    "confirmed": "confirmed by seller and buyer",
    "disputed": "declared by seller and buyer, not alike",
    "declared_by_seller": "declared by the seller only",
    "declared_by_buyer": "declared by the buyer only",
}


def when(moment: datetime) -> str:
    """``2026-01-05 06:30 UTC``, or the moment's own offset (``2026-01-05 09:30 +03:00``);
    a time without a zone is taken as UTC, as the node stores it."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    offset = moment.utcoffset()
    if not offset:
        return f"{moment:%Y-%m-%d %H:%M} UTC"
    text = moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M} {text[:3]}:{text[3:]}"


class Glossary:
    """Explains each code the first time it is shown: ``EDP (dispatch)``, then ``EDP``.

    ``names`` adds the reader's own codes (an operator's or a facility's id and its name).
    """

    def __init__(self, names: Mapping[str, str] | None = None) -> None:
        self.names = dict(names or {})
        self.seen: set[str] = set()

    def meaning(self, code: str) -> str | None:
        return MESSAGE_NAMES.get(code) or CATALOGUE.get(code) or self.names.get(code)

    def term(self, code: str) -> str:
        meaning = self.meaning(code)
        if meaning is None or code in self.seen:
            return code
        self.seen.add(code)
        return f"{code} ({meaning.rstrip('.')})"


def trace_line(entry: TraceEntry, glossary: Glossary) -> str:
    """One event of a trace: when, what, which message, by whom, where, inside what."""
    recalled = " (recalled)" if entry.recalled else ""
    via = f" (in {entry.via})" if entry.via else ""
    flags = f" [{', '.join(glossary.term(f) for f in entry.flags)}]" if entry.flags else ""
    where = glossary.term(entry.facility_id) if entry.facility_id else "-"
    return (
        f"{when(entry.event_time)} {glossary.term(entry.message_type)}{recalled} "
        f"{entry.event_id} by {glossary.term(entry.originator_id)} at {where}{via}{flags}"
    )


def _scalar(value: Any, glossary: Glossary) -> str:
    if isinstance(value, datetime):
        return when(value)
    if isinstance(value, str) and _ISO_TIME.match(value):
        try:
            return when(datetime.fromisoformat(value))
        except ValueError:
            return value
    if isinstance(value, str):
        return glossary.term(value)
    return str(value)


def _mapping(value: Mapping[str, Any], glossary: Glossary) -> str:
    parts = []
    for key, part in value.items():
        if part in (None, "", [], {}):
            continue
        text = value_text(part, glossary)
        parts.append(text if key in _BARE else f"{key.replace('_', ' ')} {text}")
    return ", ".join(parts)


def value_text(value: Any, glossary: Glossary) -> str:
    """A value on one line: a mapping as ``label value`` parts, a list joined by ``; ``."""
    if isinstance(value, Mapping):
        return _mapping(value, glossary)
    if isinstance(value, list | tuple):
        return "; ".join(value_text(v, glossary) for v in value)
    return _scalar(value, glossary)


def value_lines(value: Any, glossary: Glossary) -> tuple[str, list[str]]:
    """A report value as the text after its title and the lines under it (one per entry
    of a list)."""
    if isinstance(value, list | tuple):
        return "", [value_text(v, glossary) for v in value]
    return value_text(value, glossary), []


def item_text(item: ReportItem, glossary: Glossary) -> tuple[str, list[str]]:
    """A report item's value: the text after its title and the lines under it (its list
    entries, then each transaction's mark)."""
    if not item.present:
        return "MISSING", []
    head, rest = value_lines(item.value, glossary)
    return head, rest + [f"{deal}: {MARKS.get(mark, mark)}" for deal, mark in item.marks.items()]


def report_lines(item: ReportItem, glossary: Glossary, indent: str = "  ") -> list[str]:
    """``(a) date and location of manufacture: 2026-01-05 06:00 UTC, Industrial Area,
    Nairobi``, then its list entries, transaction marks and sources as indented lines."""
    head, rest = item_text(item, glossary)
    title = f"{indent}({item.key}) {item.title}:"
    lines = [f"{title} {head}" if head else title]
    lines += [f"{indent}    {line}" for line in rest]
    if item.sources:
        lines.append(f"{indent}    source: {', '.join(item.sources)}")
    return lines
