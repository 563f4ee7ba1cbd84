"""The replay of custody behind an operator's reads, on histories written out by hand.

Each history is a list of (message type, reporter, consignee) steps with sequence numbers
1, 2, ...; see :mod:`itptrace.queries.scope` for the rules.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from itptrace.queries.scope import Moment, Move, moment, replay


def moves(*steps: tuple[str, str, str | None], recalled: int | None = None) -> list[Move]:
    """Moves of a UI's history from (message type, reporter, consignee) steps."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        Move(n, kind, by, at + timedelta(hours=n), to, n == recalled)
        for n, (kind, by, to) in enumerate(steps, start=1)
    ]


def test_an_arrival_no_dispatch_announced_gives_the_arriving_operator_no_span() -> None:
    history = moves(("EUA", "A", None), ("ERP", "B", None), ("EDP", "A", "C"), ("ERP", "B", None))
    sight = replay(history, "B")
    assert (sight.seqs, sight.current, sight.visible) == (frozenset(), False, False)
    assert replay(history, "A").current and replay(history, "C").current


def test_a_recalled_dispatch_names_no_consignee() -> None:
    history = moves(("EUA", "A", None), ("EDP", "A", "B"), ("ERP", "B", None), recalled=2)
    assert not replay(history, "B").visible
    # A holds its goods throughout: it sees its recalled dispatch and the arrival B claimed.
    assert replay(history, "A").seqs == {1, 2, 3}


def test_a_dispatch_by_someone_other_than_the_holder_names_no_consignee() -> None:
    history = moves(("EUA", "A", None), ("EDP", "B", "B"), ("ERP", "B", None))
    assert not replay(history, "B").visible


def test_contents_are_read_as_they_were_when_they_left_the_readers_custody() -> None:
    history = moves(("EPA", "A", None), ("EDP", "A", "B"), ("ERP", "B", None))
    a, b = replay(history, "A"), replay(history, "B")
    assert moment(a, None) == Moment(after_seq=3) and moment(b, None) == Moment()
    assert moment(b, history[0].event_time) == Moment(nothing=True)
    assert moment(a, history[1].event_time) == Moment(history[1].event_time)
