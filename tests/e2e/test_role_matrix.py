"""Every route x every caller over real HTTP, against a table written out by hand.

Callers: no token, one user per staff role, ``operator`` (the importer, not tobacco
industry) and ``industry`` (the manufacturer, a tobacco-industry operator). Each route has
a probe: a request that the allowed callers can complete (2xx). The table says who is
allowed *for that probe*, scoping included (e.g. only the maker reads its own code
request). Anyone else must get 401 (no token) or 403; an unexpected 2xx fails the test,
and so does a refusal of an allowed caller.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from itptrace.access import local_issuer
from itptrace.capture.epcis_map import from_trace_event
from itptrace.capture.model import MessageType, TraceEvent
from itptrace.epcis.serialize import to_jsonld
from itptrace.gs1.checkdigit import gs1_check_digit
from itptrace.sim.world import World
from tests.e2e.conftest import Node, native, ok

CALLERS = (
    "none",
    "issuer_admin",
    "authority",
    "inspector",
    "auditor",
    "gsp_peer",
    "operator",
    "industry",
)
EVERYONE = frozenset(CALLERS)
REGISTRY_READERS = frozenset(
    {"issuer_admin", "authority", "inspector", "auditor", "operator", "industry"}
)
ISSUER = frozenset({"issuer_admin"})
MAKER_OR_ISSUER = frozenset({"issuer_admin", "industry"})
ALLOWED: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/health"): EVERYONE,
    ("GET", "/ping"): EVERYONE,
    ("GET", "/issuer/keys"): EVERYONE,
    ("POST", "/operators"): ISSUER,
    ("GET", "/operators"): REGISTRY_READERS,
    ("GET", "/operators/{operator_id}"): REGISTRY_READERS,
    ("POST", "/operators/{operator_id}/deactivation"): ISSUER,
    ("POST", "/facilities"): ISSUER,
    ("GET", "/facilities"): REGISTRY_READERS,
    ("GET", "/facilities/{facility_id}"): REGISTRY_READERS,
    ("POST", "/facilities/{facility_id}/deactivation"): ISSUER,
    ("POST", "/machines"): ISSUER,
    ("GET", "/machines"): REGISTRY_READERS,
    ("GET", "/machines/{machine_id}"): REGISTRY_READERS,
    ("POST", "/machines/{machine_id}/deactivation"): ISSUER,
    ("POST", "/products"): ISSUER,
    ("GET", "/products"): REGISTRY_READERS,
    ("GET", "/products/{gtin}"): REGISTRY_READERS,
    ("POST", "/products/{gtin}/deactivation"): ISSUER,
    # the probes concern the manufacturer's own facility, request and codes
    ("POST", "/issuer/requests"): MAKER_OR_ISSUER,
    ("GET", "/issuer/requests/{request_id}"): MAKER_OR_ISSUER,
    ("GET", "/issuer/requests/{request_id}/codes"): MAKER_OR_ISSUER,
    ("POST", "/issuer/deactivations"): MAKER_OR_ISSUER,
    # a queued report is accepted from any reporter; its events are checked when it runs
    ("POST", "/capture"): frozenset({"issuer_admin", "operator", "industry"}),
    ("GET", "/capture/{job_id}"): MAKER_OR_ISSUER,
    # The issuer reports in an operator's name only where the node allows it (off by default,
    # ITPTRACE_CAPTURE_ON_BEHALF); a queued /capture of it is accepted, its job then refused.
    ("POST", "/events"): frozenset({"industry"}),
    ("POST", "/messages"): frozenset({"industry"}),
    ("GET", "/events"): frozenset({"authority", "operator", "industry"}),
    ("GET", "/uis/{ui}/trace"): frozenset({"authority", "operator", "industry"}),
    ("GET", "/uis/{ui}/where"): frozenset({"authority", "inspector", "operator", "industry"}),
    # the 8.4.1 report of a pack goes to the operator the pack's codes were issued to
    ("GET", "/uis/{ui}/report"): frozenset({"authority", "inspector", "industry"}),
    ("GET", "/aggregates/{aui}/contents"): frozenset({"authority", "operator", "industry"}),
    ("GET", "/refused"): frozenset(
        {"issuer_admin", "authority", "auditor", "operator", "industry"}
    ),
    ("GET", "/audit"): frozenset({"authority", "auditor"}),
    # the ledger: readers are auditors and authorities; checkpoints are a node operation
    ("GET", "/ledger/checkpoint"): frozenset({"authority", "auditor"}),
    ("POST", "/ledger/checkpoint"): frozenset({"issuer_admin", "authority"}),
    ("GET", "/ledger/proof/inclusion"): frozenset({"authority", "auditor"}),
    ("GET", "/ledger/proof/consistency"): frozenset({"authority", "auditor"}),
    ("GET", "/ledger/entries"): frozenset({"authority", "auditor"}),
    ("GET", "/ledger/key"): EVERYONE,
    # verification in the field; alerts are the authorities' work
    ("POST", "/verify"): frozenset({"authority", "inspector"}),
    ("POST", "/verify/image"): frozenset({"authority", "inspector"}),
    ("GET", "/verify/offline-bundle"): frozenset({"authority", "inspector"}),
    ("GET", "/alerts"): frozenset({"authority"}),
    ("GET", "/alerts/custody"): frozenset({"authority"}),
    ("GET", "/alerts/{alert_id}"): frozenset({"authority"}),
    ("POST", "/alerts/{alert_id}/status"): frozenset({"authority"}),
}
QUERIES = {
    "/ledger/proof/inclusion": {"seq": 0},
    "/ledger/proof/consistency": {"from": 1, "to": 1},
    "/ledger/entries": {"start": 0, "end": 1},
}
Probe = Callable[[], dict[str, Any]]
# GTINs of the products made for deactivation probes: apart from the ones ``Probes.body``
# registers, and never twice in a module (each test makes its own ``Probes``)
SPARE_GTINS = itertools.count(500_000)


def fresh_gtin(n: int) -> str:
    body = f"0700000{n:06d}"
    return body + gs1_check_digit(body)


def fresh(
    admin: httpx.Client, path: str, key: str, body: Callable[[int], dict[str, Any]]
) -> Iterator[str]:
    """One new record per caller, made by the issuer, for the deactivation probes."""
    return iter([ok(admin.post(path, json=body(i)), 201)[key] for i in range(len(CALLERS))])


class Probes:
    """For each route, a request the allowed callers complete; fresh data where needed."""

    def __init__(self, node: Node, chain: World):
        self.chain = chain
        self.n = itertools.count(1)
        now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
        with node.client("issuer_admin") as admin:
            place = {"operator_id": chain.importer, "type": "warehouse", "address": "A"}
            product = {"brand": "B", "description": "D", "category": "cigars", "pack_size": 5}
            # each deactivation probe takes a target of its own, by its path parameter
            self.fresh = {
                "operator_id": fresh(
                    admin,
                    "/operators",
                    "id",
                    lambda i: {
                        "name": f"Op{i}",
                        "country": "KE",
                        "roles": ["retailer"],
                        "tobacco_industry": False,
                    },
                ),
                "facility_id": fresh(
                    admin,
                    "/facilities",
                    "id",
                    lambda i: {**place, "name": f"F{i}", "country": "KE"},
                ),
                "machine_id": fresh(
                    admin,
                    "/machines",
                    "id",
                    lambda i: {"facility_id": chain.plant, "name": f"M{i}", "capacity_per_hour": 1},
                ),
                "gtin": fresh(
                    admin,
                    "/products",
                    "gtin",
                    lambda i: {
                        **product,
                        "gtin": fresh_gtin(next(SPARE_GTINS)),
                        "operator_id": chain.maker,
                    },
                ),
            }
        with node.client(chain.maker_user) as maker:
            self.job = ok(maker.post("/capture", json=native(self.order(now))), 202)["id"]
        with node.client("authority") as customs:
            ok(customs.post("/ledger/checkpoint"), 201)
            forged = {
                "scan": "(01)06009876543219(235)KET01zzzzzzzzzZZZZZZZZ",
                "country": "KE",
                "scan_id": str(uuid.uuid4()),
            }
            ok(customs.post("/verify", json=forged), 200)
            self.alert = ok(customs.get("/alerts"), 200)[0]["id"]
        self.image = pack_photo(node, chain.unit_request)
        self.spare = iter(chain.spare_boxes)
        self.now = now

    def order(self, at: datetime) -> TraceEvent:
        c = self.chain
        return c.msg.transaction(
            MessageType.EPO,
            c.maker,
            [c.packs[0]],
            at,
            number=f"PO-{next(self.n)}",
            amount="10.00",
            currency="KES",
            seller=c.maker,
            buyer=c.importer,
        )

    def body(self, method: str, path: str) -> Any:
        """The request body of a probe, made fresh (new names, codes, message codes)."""
        c, n = self.chain, next(self.n)
        if method != "POST" or path.endswith("/deactivation"):
            return None
        return {
            "/operators": lambda: {
                "name": f"Op {n}",
                "country": "KE",
                "roles": ["retailer"],
                "tobacco_industry": False,
            },
            "/facilities": lambda: {
                "operator_id": c.importer,
                "name": f"F{n}",
                "type": "warehouse",
                "address": "A",
                "country": "KE",
            },
            "/machines": lambda: {"facility_id": c.plant, "name": f"M{n}", "capacity_per_hour": 1},
            "/products": lambda: {
                "gtin": fresh_gtin(n),
                "operator_id": c.maker,
                "brand": "B",
                "description": "D",
                "category": "cigars",
                "pack_size": 5,
            },
            "/issuer/requests": lambda: {
                "kind": "aggregate",
                "operator_id": c.maker,
                "facility_id": c.plant,
                "quantity": 2,
            },
            "/issuer/deactivations": lambda: {"codes": [next(self.spare)], "reason": "damaged"},
            "/capture": lambda: native(self.order(self.now)),
            "/messages": lambda: native(self.order(self.now)),
            "/events": lambda: to_jsonld([from_trace_event(self.order(self.now))], kind="event"),
            "/ledger/checkpoint": lambda: None,
            "/verify": lambda: {"scan": c.packs[0], "country": "KE", "scan_id": str(uuid.uuid4())},
            "/verify/image": lambda: None,
            "/alerts/{alert_id}/status": lambda: {"status": "investigating", "note": "probe"},
        }[path]()

    def request(self, method: str, path: str) -> dict[str, Any]:
        c = self.chain
        ids: dict[str, object] = {
            "operator_id": c.importer,
            "facility_id": c.depot,
            "machine_id": c.machine,
            "gtin": c.gtin,
            "request_id": c.unit_request,
            "job_id": self.job,
            "ui": c.packs[0],
            "aui": c.pallet,
            "alert_id": self.alert,
        }
        if path.endswith("/deactivation"):
            target = path[path.index("{") + 1 : path.index("}")]
            ids[target] = next(self.fresh[target])
        url = path.format(**ids)
        if path == "/verify/image":
            params = {"scan_id": str(uuid.uuid4()), "country": "KE"}
            headers = {"Content-Type": "image/png"}
            return {
                "method": method,
                "url": url,
                "content": self.image,
                "params": params,
                "headers": headers,
            }
        body = self.body(method, path)
        query = {"params": QUERIES[path]} if path in QUERIES else {}
        return {
            "method": method,
            "url": url,
            **query,
            **({"json": body} if body is not None else {}),
        }


def pack_photo(node: Node, request_id: int) -> bytes:
    """A PNG of a genuine pack's Data Matrix, as an inspector's phone would send it."""
    import tempfile
    from pathlib import Path

    from itptrace.codes.lifecycle import request_codes
    from itptrace.gs1.datamatrix import render_png

    batch = next(iter(request_codes(node.ctx, local_issuer(), request_id)))
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "pack.png"
        render_png(batch, target)
        return target.read_bytes()


@pytest.fixture(scope="module")
def callers(node: Node, chain: World) -> dict[str, httpx.Client]:
    users = {"operator": chain.importer_user, "industry": chain.maker_user}
    return {c: node.client(None if c == "none" else users.get(c, c)) for c in CALLERS}


def test_the_table_names_every_route_of_the_api(node: Node) -> None:
    schema = httpx.get(node.url + "/openapi.json").json()
    routes = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    assert routes == set(ALLOWED)


def test_every_caller_reaches_exactly_the_routes_the_table_allows(
    node: Node, chain: World, callers: dict[str, httpx.Client]
) -> None:
    probes = Probes(node, chain)
    wrong = []
    for (method, path), allowed in ALLOWED.items():
        for caller in CALLERS:
            response = callers[caller].request(**probes.request(method, path))
            expected = "2xx" if caller in allowed else ("401" if caller == "none" else "403")
            got = (
                f"{response.status_code // 100}xx"
                if response.is_success
                else str(response.status_code)
            )
            if got != expected:
                wrong.append(
                    f"{method} {path} as {caller}: {response.status_code} "
                    f"(expected {expected}) {response.text[:200]}"
                )
    assert wrong == []


def test_a_tobacco_industry_token_never_reaches_issuer_admin_key_audit_or_authority_routes(
    node: Node, chain: World, callers: dict[str, httpx.Client]
) -> None:
    industry = callers["industry"]
    probes = Probes(node, chain)
    for method, path in [
        ("POST", "/operators"),
        ("POST", "/facilities"),
        ("POST", "/facilities/{facility_id}/deactivation"),
        ("POST", "/operators/{operator_id}/deactivation"),
        ("POST", "/machines"),
        ("POST", "/machines/{machine_id}/deactivation"),
        ("POST", "/products"),
        ("POST", "/products/{gtin}/deactivation"),
        ("GET", "/audit"),
    ]:
        refused = industry.request(**probes.request(method, path))
        assert refused.status_code == 403, (method, path, refused.text)
        assert refused.json()["type"].endswith("/industry_refused")
    # codes requested for another operator, or signed by hand, are refused as well
    other = {
        "kind": "aggregate",
        "operator_id": chain.importer,
        "facility_id": chain.depot,
        "quantity": 1,
    }
    assert industry.post("/issuer/requests", json=other).status_code == 403
