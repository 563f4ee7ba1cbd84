"""Custody only from possession, over the in-memory fake: who may write about an item.

An operator writes about an item it holds, one on its way to it, or one it held before;
about anything else it is told only ``not_in_your_custody`` (the full reason is kept for
the authorities), and an arrival moves custody only along a dispatch.
"""

from __future__ import annotations

from itptrace.capture.model import MessageType, TraceEvent
from itptrace.capture.rules import Policy
from tests.capture_fakes import (
    DEPOT,
    IMPORTER,
    MAKER,
    PLANT,
    RIVAL,
    RIVAL_PLANT,
    FakeRepository,
    application,
    arrival,
    deactivation,
    dispatch,
    message,
    transaction,
    transloading,
)


def shown(report: object) -> list[tuple[str, str | None]]:
    return [(p.shown().code, p.subject) for p in report.problems]  # type: ignore[attr-defined]


def test_a_seller_invoices_goods_it_delivered_and_no_longer_holds() -> None:
    repo = FakeRepository()
    packs = repo.packs(2)
    repo.delivered(packs)
    assert repo.send(transaction(packs, by=MAKER)).ok


def test_a_former_holder_of_a_carton_may_invoice_the_packs_that_were_in_it() -> None:
    repo = FakeRepository()
    packs = repo.packs(2)
    carton = repo.carton(packs)
    repo.delivered([carton])
    assert repo.send(transaction(packs, by=IMPORTER, seller=IMPORTER, buyer=MAKER)).ok


def test_an_operator_is_told_only_that_anothers_goods_are_not_in_its_custody() -> None:
    repo = FakeRepository()
    (rivals,) = repo.issue(operator=RIVAL, facility=RIVAL_PLANT)
    repo.accept(application([rivals], by=RIVAL, facility=RIVAL_PLANT))
    report = repo.send(deactivation([rivals], by=IMPORTER))
    assert shown(report) == [("not_in_your_custody", rivals)]
    assert RIVAL not in report.problems[0].shown().message
    assert RIVAL in report.problems[0].message  # the reason the authorities read


def test_the_consignee_may_report_the_trans_loading_of_goods_on_their_way_to_it() -> None:
    repo = FakeRepository()
    packs = repo.packs(1)
    repo.shipped(packs, to=DEPOT)
    assert repo.send(transloading(packs, by=IMPORTER)).ok


def test_a_former_holder_may_not_trans_load_goods_now_travelling_between_others() -> None:
    repo = FakeRepository()
    packs = repo.packs(1)
    repo.delivered(packs)  # held by the importer now
    repo.accept(dispatch(packs, by=IMPORTER, facility=DEPOT, to=PLANT))
    repo.accept(arrival(packs, by=MAKER, facility=PLANT))
    repo.accept(dispatch(packs, to=DEPOT))
    assert repo.send(transloading(packs, by=MAKER)).ok  # the sender still holds them
    report = repo.send(transloading(packs, by=RIVAL))
    assert [p.code for p in report.problems] == ["not_in_your_custody"]


def test_with_the_flag_policy_an_arrival_of_anothers_goods_is_kept_but_moves_nothing() -> None:
    repo = FakeRepository()
    packs = repo.packs(2)
    report = repo.check(
        arrival(packs, by=IMPORTER, facility=DEPOT), policy=Policy(unexpected_arrival="flag")
    )
    assert report.ok and report.view.changed == {}
    (event,) = report.events
    assert report.flags(event) == ["arrival_not_dispatched"] * 2
    assert report.checked[0][2]["not_moved"] == sorted(packs)


def test_a_former_holder_reporting_an_arrival_hears_why_it_is_refused() -> None:
    repo = FakeRepository()
    packs = repo.packs(1)
    repo.delivered(packs)
    report = repo.send(arrival(packs, by=MAKER, facility=PLANT))
    assert [(p.code, p.private) for p in report.problems] == [("arrival_not_dispatched", False)]
    assert IMPORTER not in report.problems[0].message


def other(uis: list[str], *, by: str = IMPORTER) -> TraceEvent:
    """An EPCIS event no tobacco rule applies to (an inspection, say)."""
    return message(MessageType.OTHER, uis, by=by, facility=DEPOT)


def test_an_event_no_tobacco_rule_applies_to_names_only_items_of_its_reporter() -> None:
    repo = FakeRepository()
    packs = repo.packs(2)
    assert shown(repo.send(other(packs[:1]))) == [("not_in_your_custody", packs[0])]
    repo.delivered(packs)
    assert repo.send(other(packs)).ok


def test_an_event_naming_an_identifier_never_issued_is_refused() -> None:
    repo = FakeRepository()
    packs = repo.packs(1)
    repo.delivered(packs)
    report = repo.send(other([*packs, "urn:epc:id:sgtin:0614141.107346.2017"]))
    assert [(p.code, p.subject) for p in report.problems] == [
        ("ui_unknown", "urn:epc:id:sgtin:0614141.107346.2017")
    ]
