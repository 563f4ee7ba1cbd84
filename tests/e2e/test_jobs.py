"""Queued capture survives the server: a job accepted before a stop completes after restart.

The server is restarted with its worker off, so documents queue up; then stopped (SIGTERM)
and started again with the worker on, which resumes the queue in order. A job that was
running when the server died (claimed but not finished) is run again, and its events are
stored once. A job whose submitter's token is revoked before it runs fails and captures
nothing. Accepting a 100,000-pack document is one insert, answered in under a second.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from itptrace.access import local_issuer
from itptrace.auth import service as auth
from itptrace.jobs import service as jobs
from itptrace.jobs import store as jobs_store
from itptrace.sim.world import World
from tests.e2e.conftest import Node, native, ok


def wait_done(client: httpx.Client, job_id: int, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = ok(client.get(f"/capture/{job_id}"))
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still pending after {timeout} s")


def events_of(node: Node, ui: str) -> list[dict[str, Any]]:
    with node.client("authority") as authority:
        found = ok(authority.get("/events", params={"MATCH_anyEPC": ui, "perPage": 1000}))
    events: list[dict[str, Any]] = found["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return events


def new_packs(node: Node, chain: World, quantity: int) -> list[str]:
    """Fresh unit UIs of the manufacturer, requested over HTTP."""
    unit = {
        "kind": "unit",
        "operator_id": chain.maker,
        "facility_id": chain.plant,
        "machine_id": chain.machine,
        "gtin": chain.gtin,
        "intended_market": "KE",
        "quantity": quantity,
    }
    with node.client(chain.maker_user) as maker:
        request = ok(maker.post("/issuer/requests", json=unit), 201)["request_id"]
        return [c["code"] for c in ok(maker.get(f"/issuer/requests/{request}/codes"))["codes"]]


def test_jobs_queued_before_a_restart_complete_after_it_in_order_and_once(
    node: Node, chain: World
) -> None:
    node.stop()
    node.start(worker=False)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    packs, box, m = new_packs(node, chain, 3), chain.spare_boxes[0], chain.msg
    applied = m.apply(chain.maker, chain.plant, chain.machine, packs, t0)
    packed = m.aggregate(chain.maker, chain.plant, box, packs, t0)
    with node.client(chain.maker_user) as maker:  # the second job needs the first one done
        first = ok(maker.post("/capture", json=native(applied)), 202)["id"]
        second = ok(maker.post("/capture", json=native(packed)), 202)["id"]
        assert ok(maker.get(f"/capture/{first}"))["status"] == "queued"
    node.stop()
    node.start(worker=True)
    with node.client(chain.maker_user) as maker:
        done = [wait_done(maker, job) for job in (first, second)]
    assert [(j["status"], j["accepted"]) for j in done] == [("done", 1), ("done", 1)]
    assert done[0]["finished_at"] <= done[1]["started_at"]
    assert [e["bizStep"] for e in events_of(node, packs[0])] == ["commissioning", "packing"]


def test_a_job_interrupted_while_running_is_run_again_and_stored_once(
    node: Node, chain: World
) -> None:
    node.stop()
    node.start(worker=False)
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    pack = new_packs(node, chain, 1)[0]
    applied = chain.msg.apply(chain.maker, chain.plant, chain.machine, [pack], at)
    with node.client(chain.maker_user) as maker:
        job = ok(maker.post("/capture", json=native(applied)), 202)["id"]
    # what a server that died mid-job leaves behind: the job claimed, its lease run out
    claimed = jobs.claim(node.ctx, ["capture"], lease=timedelta(0))
    assert claimed is not None and claimed.job.id == job
    node.stop()
    node.start(worker=True)
    with node.client(chain.maker_user) as maker:
        finished = wait_done(maker, job)
        assert (finished["status"], finished["accepted"]) == ("done", 1)
        again = ok(maker.post("/capture", json=native(applied)), 202)["id"]
        repeat = wait_done(maker, again)
    assert (repeat["status"], repeat["accepted"], repeat["duplicates"]) == ("done", 0, 1)
    assert len(events_of(node, pack)) == 1
    with node.ctx.db.transaction() as conn:
        assert jobs_store.get_job(conn, job).attempts == 2  # type: ignore[union-attr]


def test_a_job_whose_token_was_revoked_before_it_ran_fails_and_captures_nothing(
    node: Node, chain: World
) -> None:
    node.stop()
    node.start(worker=False)
    token = node.add_token("revoked-maker", "operator", chain.maker)
    pack = new_packs(node, chain, 1)[0]
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    applied = chain.msg.apply(chain.maker, chain.plant, chain.machine, [pack], at)
    with node.client("revoked-maker") as maker:
        job = ok(maker.post("/capture", json=native(applied)), 202)["id"]
    token_id = auth.token_id(token)
    assert token_id is not None
    auth.revoke_token(node.ctx, local_issuer(), token_id)
    node.stop()
    node.start(worker=True)
    with node.client("issuer_admin") as admin:
        failed = wait_done(admin, job)
    assert (failed["status"], failed["accepted"], failed["error_count"]) == ("failed", 0, 1)
    assert [e["code"] for e in failed["errors"]] == ["token_revoked"]
    assert events_of(node, pack) == []


def test_a_job_with_refused_events_fails_and_lists_them(node: Node, chain: World) -> None:
    at = datetime.now(UTC) - timedelta(minutes=5)
    bad = chain.msg.arrive(chain.importer, chain.depot, ["NOSUCHPACK"], at)
    with node.client(chain.importer_user) as importer:
        job = wait_done(importer, ok(importer.post("/capture", json=native(bad)), 202)["id"])
    assert job["status"] == "failed"
    assert [(e["code"], e["event_id"]) for e in job["errors"]] == [("ui_not_applied", bad.event_id)]


def test_accepting_a_100000_pack_document_takes_under_a_second(node: Node, chain: World) -> None:
    node.stop()
    node.start(worker=False)  # only the acceptance is measured; nothing is captured
    packs = [f"KET01{i:09d}ABCDEFGH" for i in range(100_000)]
    at = datetime.now(UTC) - timedelta(minutes=5)
    document = native(chain.msg.apply(chain.maker, chain.plant, chain.machine, packs, at))
    with node.client(chain.maker_user) as maker:
        maker.get("/health")  # connection set up outside the measurement
        started = time.perf_counter()
        accepted = maker.post("/capture", json=document)
        elapsed = time.perf_counter() - started
    assert accepted.status_code == 202
    assert elapsed < 1.0, f"accepting took {elapsed:.2f} s"
