"""The supply-chain scenario over real HTTP, with one token per party.

The issuer registers the chain; the manufacturer (a tobacco-industry operator) requests its
codes, reports production as native messages, and invoices and dispatches as a queued EPCIS
document; the importer reports the arrival as one EPCIS event; the authority asks every
question; an operator reading another operator's data is refused.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from itptrace.capture.epcis_map import from_trace_event
from itptrace.capture.model import MessageType
from itptrace.epcis.serialize import to_jsonld
from itptrace.sim.world import World, production
from tests.e2e.conftest import Node, native, ok, register_chain


def wait_for_job(client: httpx.Client, location: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = ok(client.get(location))
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"capture job {location} did not finish in {timeout} s")


def report_over_http(node: Node, chain: World) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    m = chain.msg
    made = native(*production(chain, t0))
    with node.client(chain.maker_user) as maker, node.client(chain.importer_user) as importer:
        accepted = ok(maker.post("/messages", json=made), 201)["accepted"]
        assert len(accepted) == 1 + 4 + 2 + 1
        assert ok(maker.post("/messages", json=made), 200)["duplicates"] == [
            a["event_id"] for a in accepted
        ]

        t1 = t0 + timedelta(minutes=30)
        invoice = m.transaction(
            MessageType.EIV,
            chain.maker,
            [chain.pallet],
            t1,
            number="INV-1",
            amount="1000.00",
            currency="KES",
            seller=chain.maker,
            buyer=chain.importer,
        )
        dispatch = m.dispatch(chain.maker, chain.plant, [chain.pallet], t1, to=chain.depot)
        document = to_jsonld([from_trace_event(e) for e in (invoice, dispatch)], kind="capture")
        queued = maker.post("/capture", json=document)
        assert queued.status_code == 202, queued.text
        location = queued.headers["Location"]
        assert location == f"/capture/{queued.json()['id']}"
        job = wait_for_job(maker, location)
        assert (job["status"], job["accepted"], job["errors"]) == ("done", 2, [])

        arrival = m.arrive(chain.importer, chain.depot, [chain.pallet], t0 + timedelta(hours=1))
        event = to_jsonld([from_trace_event(arrival)], kind="event")
        assert ok(importer.post("/events", json=event), 201)["accepted"][0]["event_id"] == (
            arrival.event_id
        )
        again = importer.post("/events", json=event)
        assert again.status_code == 409
        assert again.json()["type"].endswith("/duplicate_event_id")


def test_the_supply_chain_runs_end_to_end_over_http(node: Node) -> None:
    with node.client("issuer_admin") as admin:
        chain = register_chain(node, "flow", "06009876543226")
        assert {o["id"] for o in ok(admin.get("/operators"))} >= {chain.maker, chain.importer}
    report_over_http(node, chain)
    pack = chain.packs[0]
    with node.client("authority", purpose="e2e flow") as authority:
        trace = ok(authority.get(f"/uis/{pack}/trace"))
        assert [e["message_type"] for e in trace] == [
            "EUA",
            "EPA",
            "EPA",
            "EPA",
            "EIV",
            "EDP",
            "ERP",
        ]
        assert trace[-1]["via"] == chain.pallet
        where = ok(authority.get(f"/uis/{pack}/where"))
        assert (where["facility_id"], where["custodian_id"], where["top"]) == (
            chain.depot,
            chain.importer,
            chain.pallet,
        )
        report = ok(authority.get(f"/uis/{pack}/report"))
        present = {item["key"] for item in report["items"] if item["present"]}
        assert {"a", "b", "c", "d", "f", "g", "h", "j"} <= present
        tree = ok(authority.get(f"/aggregates/{chain.pallet}/contents"))
        assert tree["units"] == 40 and len(tree["children"]) == 2
        before = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        assert (
            ok(authority.get(f"/aggregates/{chain.pallet}/contents", params={"at": before}))[
                "children"
            ]
            == []
        )
        shipped = ok(authority.get("/events", params={"EQ_bizStep": "shipping"}))
        found = shipped["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        assert len(found) == 1 and found[0]["bizStep"] == "shipping"


def test_an_operator_reads_its_own_packs_and_is_refused_another_operators(
    node: Node, chain: World
) -> None:
    pack = chain.packs[1]
    with node.client("issuer_admin") as admin:
        outsider = ok(
            admin.post(
                "/operators",
                json={
                    "name": "Other Ltd",
                    "country": "KE",
                    "roles": ["wholesaler"],
                    "tobacco_industry": False,
                },
            ),
            201,
        )["id"]
    node.add_token("outsider", "operator", outsider)
    with node.client(chain.maker_user) as maker, node.client(chain.importer_user) as importer:
        assert ok(maker.get(f"/uis/{pack}/report"))["ui"] == pack
        assert ok(importer.get(f"/uis/{pack}/where"))["custodian_id"] == chain.importer
        assert importer.get(f"/uis/{pack}/report").status_code == 403
        assert importer.get(f"/issuer/requests/{chain.unit_request}/codes").status_code == 403
    with node.client("outsider") as other:
        # Outside its custody an operator is answered as for a UI nobody reported.
        for path in ("trace", "where", "report"):
            refused = other.get(f"/uis/{pack}/{path}")
            unknown = other.get(f"/uis/KET01nEvErIsSuEdX/{path}")
            assert refused.status_code == unknown.status_code == 404, path
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["type"] == unknown.json()["type"], path
        assert other.get(f"/aggregates/{chain.pallet}/contents").status_code == 404
        assert (
            ok(other.get("/events"))["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []
        )


def test_a_request_answers_with_its_counts_and_its_codes_page_by_key_over_http(
    node: Node, chain: World
) -> None:
    codes_path = f"/issuer/requests/{chain.unit_request}/codes"
    with node.client(chain.maker_user) as maker:
        request = ok(maker.get(f"/issuer/requests/{chain.unit_request}"))
        assert (request["quantity"], request["cancelled_at"]) == (40, None)
        assert request["counts"] == {"issued": 40, "expired": 0, "cancelled": 0, "deactivated": 0}
        listed: list[str] = []
        url: str | None = f"{codes_path}?limit=15"
        while url is not None:
            response = maker.get(url)
            page = ok(response)
            listed += [c["code"] for c in page["codes"]]
            assert page["next"] == (listed[-1] if len(listed) < 40 else None)
            link = response.links.get("next")
            url = link["url"] if link else None
            assert (url is None) == (page["next"] is None)
        assert listed == chain.packs
        csv_page = maker.get(codes_path, params={"limit": 15, "format": "csv"})
        assert len(csv_page.text.splitlines()) == 1 + 15
        assert f"after={chain.packs[14]}" in csv_page.links["next"]["url"]
        assert (
            ok(maker.get(codes_path, params={"offset": 0, "limit": 1}))["codes"][0]["code"]
            == (chain.packs[0])
        )
        refused = maker.get(codes_path, params={"offset": 15})
        assert (refused.status_code, refused.headers["content-type"]) == (
            400,
            "application/problem+json",
        )
        problem = refused.json()
        assert problem["type"].endswith("/offset_paging_refused")
        assert problem["subject"] == "offset" and "after=" in problem["detail"]
    with node.client("inspector") as reader:
        assert ok(reader.get(f"/machines/{chain.machine}"))["facility_id"] == chain.plant
        missing = reader.get("/machines/KET01MNOPE00")
        assert missing.status_code == 404 and missing.json()["subject"] == "KET01MNOPE00"
