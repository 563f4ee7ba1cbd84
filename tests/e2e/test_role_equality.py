"""One role table, two doors: the service layer and HTTP give the same allow/deny answer.

``test_role_matrix.ALLOWED`` is the hand-written table; ``test_role_matrix`` checks it over
HTTP. Here each operation is called in-process through the services, as each caller, with
the same data, and a refusal (``Forbidden``) must come exactly where the table denies. Any
other outcome (an answer, a validation or not-found refusal) means the right was granted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from itptrace.access import Actor, Door, Role
from itptrace.auth import audit as audit_trail
from itptrace.capture.custody_alerts import list_custody_alerts
from itptrace.codes import lifecycle
from itptrace.context import Context
from itptrace.errors import DomainError, Forbidden
from itptrace.ledger import audit as ledger_audit
from itptrace.ledger import service as ledger
from itptrace.queries import events, refused, report
from itptrace.queries import service as queries
from itptrace.registry import service as registry
from itptrace.sim.world import World
from itptrace.verify import alerts, exchange
from itptrace.verify.model import Place, ScanInput
from itptrace.verify.service import verify
from tests.e2e.conftest import Node
from tests.e2e.test_role_matrix import ALLOWED, CALLERS

Call = Callable[[Context, Actor], Any]


def operations(chain: World) -> dict[tuple[str, str], Call]:
    """The service call behind each route, with the role matrix's probe data."""
    pack, pallet, now = chain.packs[0], chain.pallet, datetime.now(UTC)
    scan = ScanInput(pack, Place("KE", None, None, None), now, str(uuid.uuid4()))
    return {
        ("GET", "/operators"): lambda c, a: registry.list_operators(c, a),
        ("GET", "/machines/{machine_id}"): lambda c, a: registry.get_machine(c, a, chain.machine),
        ("POST", "/operators/{operator_id}/deactivation"): lambda c, a: (
            registry.deactivate_operator(c, a, "KET01ENOSUCH0")
        ),
        ("GET", "/issuer/requests/{request_id}"): lambda c, a: lifecycle.get_request(
            c, a, chain.unit_request
        ),
        ("GET", "/issuer/requests/{request_id}/codes"): lambda c, a: lifecycle.code_page(
            c, a, chain.unit_request, limit=1
        ),
        ("GET", "/events"): lambda c, a: events.query_events(c, a, {"perPage": "1"}),
        ("GET", "/uis/{ui}/trace"): lambda c, a: queries.trace(c, a, pack),
        ("GET", "/uis/{ui}/where"): lambda c, a: queries.where(c, a, pack),
        ("GET", "/uis/{ui}/report"): lambda c, a: report.report(c, a, pack),
        ("GET", "/aggregates/{aui}/contents"): lambda c, a: queries.contents(c, a, pallet),
        ("GET", "/refused"): lambda c, a: refused.list_refused(c, a, limit=1),
        ("GET", "/audit"): lambda c, a: audit_trail.list_audit(c, a, limit=1),
        ("GET", "/ledger/checkpoint"): lambda c, a: ledger.read_checkpoint(c, a),
        ("GET", "/ledger/proof/inclusion"): lambda c, a: ledger_audit.prove(c, a, 0),
        ("GET", "/ledger/proof/consistency"): lambda c, a: ledger.prove_consistency(c, a, 1, 1),
        ("GET", "/ledger/entries"): lambda c, a: ledger.entries(c, a, 0, 1),
        ("POST", "/verify"): lambda c, a: verify(c, a, scan),
        ("GET", "/verify/offline-bundle"): lambda c, a: exchange.offline_bundle(c, a),
        ("GET", "/alerts"): lambda c, a: alerts.list_alerts(c, a, limit=1),
        ("GET", "/alerts/custody"): lambda c, a: list_custody_alerts(c, a, limit=1),
    }


def actor_of(caller: str, chain: World) -> Actor:
    if caller == "operator":
        return Actor(chain.importer_user, Role.OPERATOR, chain.importer, door=Door.API)
    if caller == "industry":
        return Actor(chain.maker_user, Role.OPERATOR, chain.maker, True, door=Door.API)
    return Actor(caller, Role(caller), door=Door.API)


def test_every_operation_answers_the_same_through_the_services_as_the_table_says(
    node: Node, chain: World
) -> None:
    with node.client("authority") as customs:
        customs.post("/ledger/checkpoint")  # so that the checkpoint read has one to read
    wrong = []
    for route, call in operations(chain).items():
        for caller in CALLERS:
            if caller == "none":
                continue  # no principal: only the HTTP door can be called without one
            try:
                call(node.ctx, actor_of(caller, chain))
                got = "allowed"
            except Forbidden as refusal:
                got = f"denied ({refusal.message})"
            except DomainError:
                got = "allowed"  # the right was granted; the request itself was refused
            expected = "allowed" if caller in ALLOWED[route] else "denied"
            if got.split(" ")[0] != expected:
                wrong.append(f"{route} as {caller}: {got}, the table says {expected}")
    assert wrong == []
