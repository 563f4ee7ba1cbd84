"""An auditor checks a running node's ledger from outside, over real HTTP."""

from __future__ import annotations

import pytest

from itptrace.ledger import service as ledger
from itptrace.ledger.model import LedgerError
from itptrace.ledger.remote import audit_remote
from itptrace.sim.scenario import run_supply_chain
from itptrace.sim.service_driver import ServiceDriver
from tests.e2e.conftest import Node


def test_an_auditor_verifies_growth_and_inclusion_against_a_kept_checkpoint(node: Node) -> None:
    with node.client("authority") as customs, node.client("auditor") as auditor:
        run_supply_chain(ServiceDriver(node.ctx), lambda _line: None)
        first = customs.post("/ledger/checkpoint")
        assert first.status_code == 201
        kept = first.json()["note"]
        vkeys = ledger.verifier_keys(node.ctx)  # the ledger key exists from the first checkpoint
        assert auditor.get("/ledger/key").status_code == 200
        entries = customs.get("/ledger/entries", params={"start": 0, "end": 5})
        assert entries.status_code == 200 and len(entries.json()) == 5
        denied = auditor.get("/uis/KET01nothing/trace")  # a denied read: one more audit leaf
        assert denied.status_code == 403
        second = customs.post("/ledger/checkpoint")
        assert second.status_code == 201 and second.json()["size"] > first.json()["size"]
        result = audit_remote(auditor, kept, vkeys, seq=3)
        assert (result.old_size, result.size, result.leaf) == (
            first.json()["size"],
            second.json()["size"],
            3,
        )
        forged = kept.replace(kept.split("\n")[2], "A" * 43 + "=")
        with pytest.raises(Exception):  # noqa: B017 - a forged note fails its signature check
            audit_remote(auditor, forged, vkeys)
        with pytest.raises(LedgerError):
            audit_remote(auditor, kept, vkeys, seq=second.json()["size"] + 10)
