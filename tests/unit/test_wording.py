"""Traces and 8.4.1 report items in plain words (``queries.wording``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from itptrace.queries.report import ReportItem
from itptrace.queries.wording import Glossary, report_lines, when


def test_a_time_is_printed_with_utc_or_its_own_offset() -> None:
    assert when(datetime(2026, 1, 5, 6, 30, tzinfo=UTC)) == "2026-01-05 06:30 UTC"
    nairobi = timezone(timedelta(hours=3))
    assert when(datetime(2026, 1, 5, 9, 30, tzinfo=nairobi)) == "2026-01-05 09:30 +03:00"
    assert when(datetime(2026, 1, 5, 6, 30)) == "2026-01-05 06:30 UTC"


def test_a_code_is_followed_by_its_meaning_only_the_first_time() -> None:
    glossary = Glossary({"KET01E1": "manufacturer Nyota"})
    assert glossary.term("EDP") == "EDP (dispatch)"
    assert glossary.term("EDP") == "EDP"
    assert glossary.term("late_report").startswith("late_report (Flag: reported after")
    assert glossary.term("KET01E1") == "KET01E1 (manufacturer Nyota)"
    assert glossary.term("NYT-1") == "NYT-1"


def test_a_report_item_reads_as_a_labelled_line_and_its_list_as_indented_lines() -> None:
    made = ReportItem(
        "a",
        "date and location of manufacture",
        {"date": "2026-01-05T06:00:00+00:00", "facility": "Industrial Area, Nairobi"},
        ("NYT-0",),
    )
    assert report_lines(made, Glossary()) == [
        "  (a) date and location of manufacture: 2026-01-05 06:00 UTC, Industrial Area, Nairobi",
        "      source: NYT-0",
    ]
    buyers = ReportItem(
        "i", "known subsequent purchasers", ["KET01E2", "KET01E3"], (), {"invoice I-1": "confirmed"}
    )
    assert report_lines(buyers, Glossary()) == [
        "  (i) known subsequent purchasers:",
        "      KET01E2",
        "      KET01E3",
        "      invoice I-1: confirmed by seller and buyer",
    ]
    missing = ReportItem("c", "machine used", None, ())
    assert report_lines(missing, Glossary()) == ["  (c) machine used: MISSING"]
