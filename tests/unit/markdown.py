"""Just enough Markdown reading for the tests that keep the documentation honest."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"

_FENCE = re.compile(r"^```.*?^```[^\n]*$", flags=re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
# [text](target "optional title"); the text may wrap onto the next line.
_INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE_LINK = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", flags=re.MULTILINE)


def documents() -> list[Path]:
    """README.md and every Markdown file under docs/."""
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def without_code_blocks(text: str) -> str:
    """The text with fenced code blocks removed (their brackets are code, not links)."""
    return _FENCE.sub("", text)


def links(text: str) -> list[str]:
    """Targets of the inline and reference links outside code blocks and code spans."""
    prose = _CODE_SPAN.sub("", without_code_blocks(text))
    return _INLINE_LINK.findall(prose) + _REFERENCE_LINK.findall(prose)


def code_spans(text: str) -> list[str]:
    """The contents of every `code span`, in order."""
    return _CODE_SPAN.findall(text)


def section(text: str, heading: str) -> str:
    """The body of the section whose heading line is ``heading`` (up to the next heading)."""
    lines = text.splitlines()
    for start, line in enumerate(lines):
        if line.strip() == heading:
            level = len(heading) - len(heading.lstrip("#"))
            end = next(
                (
                    i
                    for i in range(start + 1, len(lines))
                    if re.match(rf"^#{{1,{level}}} ", lines[i])
                ),
                len(lines),
            )
            return "\n".join(lines[start + 1 : end])
    raise AssertionError(f"no section {heading!r}")


def tables(text: str) -> list[list[dict[str, str]]]:
    """Every pipe table of ``text`` as rows keyed by the header cells."""
    found: list[list[dict[str, str]]] = []
    lines = without_code_blocks(text).splitlines()
    i = 0
    while i + 1 < len(lines):
        if lines[i].startswith("|") and re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", lines[i + 1].strip()):
            header = _cells(lines[i])
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(dict(zip(header, _cells(lines[i]), strict=True)))
                i += 1
            found.append(rows)
        else:
            i += 1
    return found


def table_with(text: str, *header: str) -> list[dict[str, str]]:
    """The one table of ``text`` whose header starts with the cells ``header``."""
    matching = [t for t in tables(text) if t and list(t[0])[: len(header)] == list(header)]
    assert len(matching) == 1, f"expected one table headed {header}, found {len(matching)}"
    return matching[0]


def _cells(line: str) -> list[str]:
    # A pipe inside a code span (`a|b`) would split a cell: the documents avoid it.
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def only_code(cell: str) -> str:
    """The one code span a cell consists of (``| `x` |`` gives ``x``)."""
    match = re.fullmatch(r"`([^`]+)`", cell)
    assert match, f"expected a single `code` cell, got {cell!r}"
    return match.group(1)
