"""Over HTTP: an EPCIS event captured in a document is served as captured, and one bad stored
row never fails a page of ``GET /events``."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from itptrace.capture import store
from itptrace.epcis.event_hash import document_context, event_hash_id
from itptrace.epcis.vocab import STANDARD_CONTEXT
from itptrace.sim.world import World
from tests.e2e.conftest import Node, ok

EXAMPLE = "https://example.org/epcis/"


def _wait_done(client: httpx.Client, job_id: int) -> Any:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = ok(client.get(f"/capture/{job_id}"))
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still pending")


def _inspection(chain: World, at: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """An inspection of the first pack at the importer's depot, with a user extension whose
    prefix only the document's @context defines; the document and its one event."""
    event = {
        "type": "ObjectEvent",
        "eventID": "urn:uuid:0b6a1c52-7a4e-4d8e-a1f0-5c2d7f3e9a01",
        "eventTime": at.strftime("%Y-%m-%dT%H:%M:%S.250+00:00"),
        "eventTimeZoneOffset": "+00:00",
        "epcList": [f"https://id.gs1.org/01/{chain.gtin}/235/{chain.packs[0]}"],
        "action": "OBSERVE",
        "bizStep": "inspecting",
        "disposition": "active",
        "readPoint": {"id": f"urn:itptrace:facility:{chain.depot}"},
        "example:inspection": {"example:seal": "intact"},
    }
    document = {
        "@context": [STANDARD_CONTEXT, {"example": EXAMPLE}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-01-05T08:00:00Z",
        "epcisBody": {"eventList": [event]},
    }
    return document, event


def _events(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get("/events", params={"perPage": 1000, **params})
    assert response.status_code == 200, response.text[:2000]
    body: dict[str, Any] = response.json()
    return body


def _listed(document: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return found


def test_a_non_tobacco_event_captured_in_a_document_is_served_as_captured_to_every_reader(
    node: Node, chain: World
) -> None:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    document, event = _inspection(chain, at)
    with node.client(chain.importer_user) as importer:
        job = _wait_done(importer, ok(importer.post("/capture", json=document), 202)["id"])
        assert (job["status"], job["accepted"]) == ("done", 1), job
        mine = _events(importer)
    with node.client("authority") as authority:
        served = _events(authority)
        inspected = _listed(_events(authority, EQ_bizStep="inspecting"))
    for page in (served, mine):
        assert event["eventID"] in [e.get("eventID") for e in _listed(page)]
    (back,) = inspected
    assert back["example:inspection"] == event["example:inspection"]
    assert (back["eventTime"], back["eventTimeZoneOffset"]) == (event["eventTime"], "+00:00")
    assert "recordTime" in back
    captured_hash = event_hash_id(event, document_context(document))
    assert event_hash_id(back, document_context(served)) == captured_hash


def test_a_stored_row_that_cannot_be_read_back_fails_no_page_and_is_named_in_it(
    node: Node, chain: World
) -> None:
    # What the node stored before this fix: the event without its document's @context
    # (served now, as well as it can be), a row whose details are not JSON, and one whose
    # original is no EPCIS event (both left out of the events and named in the page).
    _document, event = _inspection(chain, datetime.now(UTC) - timedelta(minutes=10))
    legacy = {"message_type": "OTHER", "original": {**event, "eventID": "urn:uuid:legacy"}}
    not_epcis = {"message_type": "OTHER", "original": {"type": "ObjectEvent"}}
    with node.ctx.db.transaction() as conn:
        seq = store.next_seq(conn)
        rows = [(seq, "urn:uuid:legacy", json.dumps(legacy)), (seq + 1, "broken", "{not json"),
                (seq + 2, "not-epcis", json.dumps(not_epcis))]  # fmt: skip
        store.insert_events(conn, [_row(*row) for row in rows])
    with node.client("authority") as authority:
        page = _events(authority)
        assert "urn:uuid:legacy" in [e.get("eventID") for e in _listed(page)]
        skipped = {(u["seq"], u["eventID"]) for u in page["itp:unreadableEvents"]}
        assert skipped == {(seq + 1, "broken"), (seq + 2, "not-epcis")}
        assert _listed(_events(authority, EQ_bizStep="shipping"))  # other pages still work
    with node.client(chain.importer_user) as importer:
        assert _listed(_events(importer))  # an operator's pages too


def _row(seq: int, event_id: str, details: str) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "seq": seq, "event_id": event_id, "message_type": "OTHER", "originator_id": "X",
        "event_time": now, "recorded_at": now, "facility_id": None, "parent": None,
        "item_count": 0, "flags": "", "fingerprint": "0" * 64, "source": "epcis",
        "details": details, "uis": "[]", "event_type": "ObjectEvent", "action": "OBSERVE",
        "biz_step": "inspecting",
    }  # fmt: skip


def test_an_empty_filter_value_is_refused_with_a_problem_not_taken_as_no_filter(
    node: Node, chain: World
) -> None:
    with node.client("authority") as authority:
        for name in ("EQ_bizStep", "EQ_action", "MATCH_epc", "GE_eventTime"):
            response = authority.get("/events", params={name: ""})
            assert response.status_code == 400, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["type"].endswith("/query_parameter_invalid")
            assert name in response.json()["detail"]
