"""``itptrace demo`` (what ``make demo`` runs) works end to end, and reads as a story."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from itptrace.capture.model import MESSAGE_NAMES
from itptrace.cli.main import app

# A time as the story prints it: minutes, then its zone (UTC or an offset).
MINUTE = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}"
ZONED = re.compile(rf"{MINUTE}(?= (UTC|[+-]\d{{2}}:\d{{2}}))")
ANY_TIME = re.compile(rf"{MINUTE}|\d{{4}}-\d{{2}}-\d{{2}}T\d{{2}}:\d{{2}}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    workdir = tmp_path_factory.mktemp("demo") / "demo"
    result = CliRunner().invoke(app, ["demo", "--workdir", str(workdir)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output, workdir


def _report_lines(output: str) -> list[str]:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Article 8.4.1 report"))
    end = next(i for i, line in enumerate(lines) if line.startswith("latest signed ledger"))
    return lines[start + 1 : end]


def test_the_demo_issues_renders_and_verifies_and_accepts_no_forgery(
    demo: tuple[str, Path],
) -> None:
    output, workdir = demo
    assert "issued 10000 signed unit UIs" in output
    assert "decoded back identical" in output
    assert "10000/10000 genuine codes valid" in output
    assert " 0/" in output and "forged codes accepted" in output
    assert (workdir / "pack.png").stat().st_size > 0
    assert "100% complete" in output and "14/14 proofs verify" in output
    assert "which it never held: 404" in output
    assert "events accepted over HTTP" in output and "POST /capture as" in output
    for verdict in (
        "AUTHENTIC",
        "ILLICIT (diverted",
        "SUSPICIOUS (impossible_travel",
        "COUNTERFEIT",
    ):
        assert verdict in output


def test_every_time_the_story_prints_carries_its_time_zone(demo: tuple[str, Path]) -> None:
    output, _ = demo
    times = ANY_TIME.findall(output)
    assert len(times) > 20  # the journey, the trace and the report all give times
    assert len(ZONED.findall(output)) == len(times), [
        line for line in output.splitlines() if ANY_TIME.search(line) and not ZONED.search(line)
    ]


def test_every_message_code_is_explained_the_first_time_the_trace_shows_it(
    demo: tuple[str, Path],
) -> None:
    output, _ = demo
    trace = output[output.index("\ntrace of pack") :]
    shown = [code for code in MESSAGE_NAMES if re.search(rf"\b{code}\b", trace)]
    assert {"EUA", "EPA", "EUD", "EDP", "ERP", "EIV", "EPO", "EPR"} <= set(shown)
    for code in shown:
        first = re.search(rf"\b{code}\b.*", trace)
        assert first is not None
        assert first.group(0).startswith(f"{code} ({MESSAGE_NAMES[code]})"), first.group(0)


def test_the_operators_and_facilities_of_the_trace_are_named_the_first_time(
    demo: tuple[str, Path],
) -> None:
    output, _ = demo
    assert "(manufacturer Nyota Tobacco Ltd) at KET01" in output
    assert "(Nairobi plant, Industrial Area, Nairobi)" in output
    assert "(importer Lake Victoria Distributors)" in output


def test_the_8_4_1_report_is_printed_as_labelled_lines_without_json(
    demo: tuple[str, Path],
) -> None:
    output, _ = demo
    lines = _report_lines(output)
    assert lines and not any(mark in line for line in lines for mark in '{}[]"')
    made = next(line for line in lines if line.startswith("  (a) "))
    assert re.fullmatch(
        rf"  \(a\) date and location of manufacture: {MINUTE} UTC, Industrial Area, Nairobi, KE",
        made,
    )
    for key in "abcdefghij":
        assert any(line.startswith(f"  ({key}) ") for line in lines)
    shipping = lines.index("  (h) warehousing and shipping:")
    moves = lines[shipping + 1 : shipping + 5]
    assert all(re.match(rf"      (EDP|ERP), {MINUTE} UTC, KET01", line) for line in moves)
    assert "      invoice INV-2026-0107: declared by the seller only" in lines
