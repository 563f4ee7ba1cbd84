"""Bounded work: every limit of issue 12, item 7 holds, and the node answers meanwhile.

Each test serves a node over real HTTP on loopback (uvicorn in a thread: one event loop,
as ``itptrace serve`` runs it), sends the hostile request, and while it is handled asks
``/health``, which must answer within a second every time.
"""

from __future__ import annotations

import dataclasses
import io
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import insert, select
from typer.testing import CliRunner

from itptrace import bounded_json
from itptrace.access import Actor, Role, local_authority, local_issuer
from itptrace.api import routes_verify
from itptrace.api.app import create_app
from itptrace.auth import audit
from itptrace.auth import service as auth
from itptrace.capture import jobs as capture_jobs
from itptrace.capture.model import MessageType
from itptrace.capture.native import message_to_json
from itptrace.cli.main import app as cli_app
from itptrace.codes import service as issuer
from itptrace.context import Context
from itptrace.jobs import service as job_queue
from itptrace.jobs.worker import run_next
from itptrace.queries import refused as refused_queries
from itptrace.registry import service as registry
from itptrace.repository.schema import refused_events
from itptrace.sim.messages import Messages
from itptrace.sim.world import World
from tests.conftest import PgServer, new_node
from tests.integration.chain import build_world

DEEP = "[" * 400 + "]" * 400
HEALTH_SECONDS = 1.0


@dataclass
class Served:
    url: str
    app: FastAPI
    ctx: Context

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@dataclass
class Site:
    ctx: Context
    world: World
    maker_token: str
    importer_token: str
    authority_token: str
    inspector_token: str


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """One node per database with a supply chain and a token per kind of caller."""
    workdir = tmp_path_factory.mktemp("bounds")
    url = f"sqlite:///{workdir / 'itptrace.db'}"
    pg: PgServer | None = None
    if request.param == "postgresql":
        pg = request.getfixturevalue("pg")
        url = pg.create()
    ctx = new_node(url, workdir)
    world = build_world(ctx)
    admin = local_issuer()

    def token(name: str, role: str, operator_id: str | None = None) -> str:
        auth.add_user(ctx, admin, name=name, role=role, operator_id=operator_id)
        return auth.create_token(ctx, admin, user=name).token

    yield Site(
        ctx,
        world,
        token("maker", "operator", world.maker),
        token("importer", "operator", world.importer),
        token("authority", "authority"),
        token("inspector", "inspector"),
    )
    ctx.db.dispose()
    if pg is not None:
        pg.drop(url)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(ctx: Context, **settings: Any) -> Iterator[Served]:
    """``create_app`` over ``ctx`` with ``settings`` changed, served on a loopback port."""
    node = dataclasses.replace(ctx, settings=ctx.settings.model_copy(update=settings))
    app = create_app(node, start_worker=False)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="bounds-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield Served(f"http://127.0.0.1:{port}", app, node)
    finally:
        server.should_exit = True
        thread.join(20)


def while_answering(served: Served, hostile: Callable[[], httpx.Response]) -> httpx.Response:
    """Run ``hostile`` while asking ``/health`` again and again: every answer in 1 s."""
    probes: list[float] = []
    with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=served.url, timeout=10) as probe:
        # A first answer before the hostile request: the connection, the thread pool and
        # the database pool are warm, so what is measured is the node under the attack.
        assert probe.get("/health").status_code == 200
        future = pool.submit(hostile)
        time.sleep(0.05)
        while not probes or not future.done():
            started = time.monotonic()
            assert probe.get("/health").status_code == 200
            probes.append(time.monotonic() - started)
            time.sleep(0.05)
        response = future.result()
    assert max(probes) < HEALTH_SECONDS, f"/health took {max(probes):.2f} s"
    return response


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text[:1000]
    body: dict[str, Any] = response.json()
    assert body["type"].endswith("/" + code), body
    return body


# --- 1. JSON nesting depth --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/messages", "/capture", "/events"])
def test_json_nested_400_deep_is_refused_400_at_every_api_door_while_the_node_answers(
    site: Site, path: str
) -> None:
    with serving(site.ctx) as served, served.client(site.maker_token) as maker:
        body = DEEP if path != "/events" else '{"type": "ObjectEvent", "x": ' + DEEP + "}"
        response = while_answering(
            served,
            lambda: maker.post(path, content=body, headers={"Content-Type": "application/json"}),
        )
    found = problem(response, 400, "json_too_deep")
    assert "400 deep" in found["detail"] or "401 deep" in found["detail"]


def test_a_megabyte_of_nesting_is_measured_off_the_event_loop_and_refused(site: Site) -> None:
    deep = "[" * 3_000_000 + "]" * 3_000_000
    with serving(site.ctx) as served, served.client(site.maker_token) as maker:
        response = while_answering(
            served,
            lambda: maker.post(
                "/messages", content=deep, headers={"Content-Type": "application/json"}
            ),
        )
    problem(response, 400, "json_too_deep")


def test_a_queued_report_nested_too_deep_fails_at_once_without_being_tried_again(
    site: Site,
) -> None:
    maker = Actor("maker", Role.OPERATOR, operator_id=site.world.maker, tobacco_industry=True)
    job = job_queue.enqueue(site.ctx, maker, capture_jobs.KIND, DEEP, lane="bounds")
    assert run_next(site.ctx, site.ctx.jobs) == job.id
    failed = capture_jobs.get_job(site.ctx, local_issuer(), job.id)
    assert failed.status == "failed"
    assert [e.code for e in failed.errors] == ["json_too_deep"]
    assert job_queue.get_job(site.ctx, local_issuer(), capture_jobs.KIND, job.id).attempts == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 0),
        ('"[[["', 0),
        ("[[1], {}]", 2),
        ('{"a": [{"b": "[[{{"}]}', 3),
        ('["\\\\", ["\\"[", "\\\\\\"]"]]', 2),
        ("[" * 65 + "]" * 65, 65),
    ],
)
def test_the_depth_counts_brackets_outside_strings_only(text: str, expected: int) -> None:
    json.loads(text)  # every case is valid JSON
    assert bounded_json.depth(text) == expected
    if expected > bounded_json.MAX_DEPTH:
        with pytest.raises(bounded_json.JsonTooDeep):
            bounded_json.loads(text)
    else:
        assert bounded_json.loads(text) == json.loads(text)


@pytest.mark.parametrize(
    "command", [["epcis", "validate"], ["epcis", "hash"], ["capture"], ["capture", "--partial"]]
)
def test_the_cli_refuses_a_file_nested_too_deep_in_one_line_with_a_non_zero_exit(
    site: Site, tmp_path: Path, command: list[str]
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text(DEEP)
    settings = site.ctx.settings
    env = {
        "ITPTRACE_DATABASE_URL": settings.database_url,
        "ITPTRACE_KEY_DIR": str(settings.key_dir),
        "ITPTRACE_COUNTRY": settings.country,
        "ITPTRACE_ISSUER_CODE": settings.issuer_code,
    }
    result = CliRunner().invoke(cli_app, [*command, str(deep)], env=env)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output[:2000]
    assert "400 deep" in lines[0] and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# --- 2. Photos ---------------------------------------------------------------------------


def _png(width: int, height: int, *, noise: bool = False) -> bytes:
    image = Image.effect_noise((width, height), 80) if noise else Image.new("1", (width, height), 1)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _scan_query() -> dict[str, str]:
    return {"scan_id": str(uuid.uuid4()), "country": "KE"}


def test_a_small_png_declaring_13300_by_13300_pixels_is_refused_before_decoding(
    site: Site,
) -> None:
    bomb = _png(13_300, 13_300)
    assert len(bomb) < 100_000  # small on the wire, 177 Mpx decoded
    with serving(site.ctx) as served, served.client(site.inspector_token) as inspector:
        started = time.monotonic()
        response = while_answering(
            served,
            lambda: inspector.post(
                "/verify/image",
                params=_scan_query(),
                content=bomb,
                headers={"Content-Type": "image/png"},
            ),
        )
        elapsed = time.monotonic() - started
    found = problem(response, 422, "image_too_large")
    assert "13300 x 13300" in found["detail"]
    assert elapsed < 5


def test_a_multipart_body_of_80000_parts_is_refused_off_the_event_loop(site: Site) -> None:
    boundary = "XX"
    parts = b"".join(
        b'--XX\r\nContent-Disposition: form-data; name="f%d"\r\n\r\nx\r\n' % i
        for i in range(80_000)
    )
    body = parts + b"--XX--\r\n"
    assert len(body) > 4 * 1024 * 1024
    with serving(site.ctx) as served, served.client(site.inspector_token) as inspector:
        response = while_answering(
            served,
            lambda: inspector.post(
                "/verify/image",
                content=body,
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            ),
        )
    problem(response, 422, "too_many_form_parts")


def test_a_photo_finding_every_decoder_busy_is_answered_503_with_retry_after(
    site: Site,
) -> None:
    with serving(site.ctx, image_decode_concurrency=1) as served:
        slots = served.app.state.bounds.decodes
        assert slots.acquire(blocking=False)  # the one slot, taken by another decode
        try:
            with served.client(site.inspector_token) as inspector:
                response = while_answering(
                    served,
                    lambda: inspector.post(
                        "/verify/image",
                        params=_scan_query(),
                        content=_png(200, 200),
                        headers={"Content-Type": "image/png"},
                    ),
                )
        finally:
            slots.release()
    problem(response, 503, "busy")
    assert response.headers["Retry-After"] == "1"


def test_a_photo_not_decoded_within_its_time_budget_is_answered_503(site: Site) -> None:
    slow = _png(1500, 1500, noise=True)
    with (
        serving(site.ctx, image_decode_seconds=0.01) as served,
        served.client(site.inspector_token) as inspector,
    ):
        response = while_answering(
            served,
            lambda: inspector.post(
                "/verify/image",
                params=_scan_query(),
                content=slow,
                headers={"Content-Type": "image/png"},
            ),
        )
        # The decode that ran past its budget still ends, and gives its slot back.
        slots = served.app.state.bounds.decodes
        assert slots.acquire(timeout=60)
        slots.release()
    problem(response, 503, "image_decode_timeout")


def test_a_decode_that_never_started_gives_its_slot_back() -> None:
    slots = threading.BoundedSemaphore(1)
    assert slots.acquire(blocking=False)
    slot = routes_verify._Slot(slots)
    slot.abandon()  # the request stopped waiting before a thread took the decode
    assert slots.acquire(blocking=False)
    assert routes_verify._decode(slot, b"", None, 0.0) == ""  # type: ignore[arg-type]


# --- 3. Stored refusals and refusal answers ----------------------------------------------


def test_a_refused_application_of_20000_unknown_codes_is_stored_and_answered_bounded(
    site: Site,
) -> None:
    world, msg = site.world, Messages(prefix="BND")
    unknown = [f"KET01X{n:09d}ZZZZZZZZ" for n in range(20_000)]
    event = msg.apply(world.maker, world.plant, world.machine, unknown, site.ctx.clock.now())
    body = json.dumps(message_to_json(event), default=str)
    with serving(site.ctx) as served, served.client(site.maker_token) as maker:
        response = while_answering(
            served,
            lambda: maker.post(
                "/messages", content=body, headers={"Content-Type": "application/json"}
            ),
        )
    assert response.status_code == 422, response.text[:500]
    assert len(response.content) < 100_000
    answer = response.json()
    assert len(answer["errors"]) == site.ctx.settings.refusal_problems
    assert "20000 problems" in answer["detail"] and "first 100" in answer["detail"]
    stored = [
        r
        for r in refused_queries.list_refused(site.ctx, local_authority(), limit=1000)
        if r.event_id == event.event_id
    ]
    assert len(stored) == 1
    problems, payload = stored[0].problems, stored[0].payload
    assert len(problems) == 101 and problems[-1]["code"] == "more_problems"
    assert "20000 in all" in problems[-1]["message"]
    assert payload["summary"] is True and payload["bytes"] > len(body) // 2
    assert len(json.dumps(payload)) <= site.ctx.settings.refusal_payload_bytes
    assert len(json.dumps(problems)) < 100_000


def _large_refusals(ctx: Context, count: int, weight: int) -> list[int]:
    """``count`` stored refusals of ``weight`` bytes of payload each; their ids."""
    payload = json.dumps({"blob": "x" * weight})
    rows = [
        {
            "received_at": ctx.clock.now(),
            "originator_id": None,
            "event_id": f"HEAVY-{n}",
            "message_type": "EUA",
            "problems": json.dumps([{"code": "unknown_ui", "message": "unknown"}]),
            "payload": payload,
        }
        for n in range(count)
    ]
    with ctx.db.transaction() as conn:
        for row in rows:
            conn.execute(insert(refused_events).values(row))
        ids = conn.execute(
            select(refused_events.c.id)
            .where(refused_events.c.event_id.like("HEAVY-%"))
            .order_by(refused_events.c.id)
        ).scalars()
        return [int(i) for i in ids][-count:]


def test_a_page_of_refusals_is_capped_in_bytes_and_links_to_the_next_page(site: Site) -> None:
    ids = _large_refusals(site.ctx, 12, 500_000)  # 6 MB of payloads
    seen: list[int] = []
    url: str | None = f"/refused?limit=1000&after={ids[0] - 1}"
    with serving(site.ctx) as served, served.client(site.authority_token) as authority:
        while url is not None:
            response = authority.get(url)
            assert response.status_code == 200, response.text[:300]
            assert len(response.content) <= refused_queries.MAX_PAGE_BYTES
            seen += [row["id"] for row in response.json()]
            link = response.headers.get("Link")
            url = link[1 : link.index(">")] if link else None
            assert len(seen) <= len(ids) + 1, "the pages end"
    assert seen == ids, "every refusal once, in order, over more than one page"


def test_a_page_of_refusals_holds_its_first_refusal_however_large(site: Site) -> None:
    ids = _large_refusals(site.ctx, 2, 2_000)
    page = refused_queries.refused_page(site.ctx, local_authority(), after=ids[0] - 1, max_bytes=1)
    assert [r.id for r in page.refusals] == ids[:1] and page.next_after == ids[0]
    rest = refused_queries.refused_page(site.ctx, local_authority(), after=ids[0])
    assert [r.id for r in rest.refusals] == ids[1:] and rest.next_after is None


def test_bad_invoices_grow_the_stored_refusals_by_less_than_they_weigh(site: Site) -> None:
    world, msg = site.world, Messages(prefix="INV")
    invoices = [
        msg.transaction(
            MessageType.EIV,
            world.maker,
            [f"KET01Q{n:04d}{i:06d}ZZZZZZZZ" for i in range(1000)],
            site.ctx.clock.now(),
            number=f"N{n}",
            amount="10",
            currency="KES",
            seller=world.maker,
            buyer=world.importer,
        )
        for n in range(10)
    ]
    body = json.dumps({"messages": [message_to_json(e) for e in invoices]}, default=str)
    with serving(site.ctx) as served, served.client(site.maker_token) as maker:
        response = while_answering(
            served,
            lambda: maker.post(
                "/messages", content=body, headers={"Content-Type": "application/json"}
            ),
        )
    assert response.status_code == 422, response.text[:500]
    ids = {e.event_id for e in invoices}
    stored, after = [], 0
    while True:  # every page: refusals of other tests on this node come first
        page = refused_queries.refused_page(site.ctx, local_authority(), limit=1000, after=after)
        stored += [r for r in page.refusals if r.event_id in ids]
        if page.next_after is None:
            break
        after = page.next_after
    assert len(stored) == len(invoices)
    weight = sum(len(json.dumps(r.problems)) + len(json.dumps(r.payload)) for r in stored)
    assert weight < len(body)


def test_a_queued_report_of_300_refused_events_keeps_its_first_problems_and_the_count(
    site: Site,
) -> None:
    world, msg = site.world, Messages(prefix="JOB")
    now = site.ctx.clock.now()
    events = [
        msg.apply(world.maker, world.plant, world.machine, [f"KET01J{n:09d}ZZ"], now)
        for n in range(300)
    ]
    maker = Actor("maker", Role.OPERATOR, operator_id=world.maker, tobacco_industry=True)
    body = json.dumps({"messages": [message_to_json(e) for e in events]}, default=str)
    job = capture_jobs.submit(site.ctx, maker, body)
    assert run_next(site.ctx, site.ctx.jobs) == job.id
    failed = capture_jobs.get_job(site.ctx, local_issuer(), job.id)
    assert failed.status == "failed" and failed.error_count == 300
    assert len(failed.errors) == site.ctx.settings.refusal_problems


# --- 4. Quotas and anonymous refusals ----------------------------------------------------


def test_an_operator_past_its_requests_a_second_is_answered_429_and_others_are_not(
    site: Site,
) -> None:
    with (
        serving(site.ctx, quota_requests_per_second=2) as served,
        served.client(site.maker_token) as maker,
        served.client(site.importer_token) as importer,
    ):

        def flood() -> httpx.Response:
            answers = [maker.get("/capture/999999") for _ in range(12)]
            return next(a for a in answers if a.status_code == 429)

        limited = while_answering(served, flood)
        other = importer.get("/capture/999999")
    problem(limited, 429, "too_many_requests")
    assert 1 <= int(limited.headers["Retry-After"]) <= 2
    assert other.status_code == 404


def test_an_operator_past_its_bytes_a_day_is_answered_429_until_the_next_day(
    site: Site,
) -> None:
    body = json.dumps({"messages": [], "padding": "x" * 6000})
    headers = {"Content-Type": "application/json"}
    with (
        serving(site.ctx, quota_bytes_per_day=10_000) as served,
        served.client(site.importer_token) as importer,
    ):
        first = importer.post("/messages", content=body, headers=headers)
        second = while_answering(
            served, lambda: importer.post("/messages", content=body, headers=headers)
        )
    assert first.status_code != 429
    found = problem(second, 429, "too_many_requests")
    assert "of its 10000 bytes today" in found["detail"]
    assert 0 < int(second.headers["Retry-After"]) <= 86_400


def test_anonymous_refusals_are_rate_limited_and_aggregated_without_the_callers_text(
    site: Site,
) -> None:
    def endpoint_records() -> list[audit.AuditRow]:
        rows = audit.list_audit(site.ctx, local_authority(), limit=1000)
        return [r for r in rows if r.user is None and r.status == 401]

    before = len(endpoint_records())
    with (
        serving(site.ctx, anonymous_refusals_per_second=2) as served,
        served.client() as anonymous,
    ):

        def flood() -> httpx.Response:
            answers = [
                anonymous.get("/events", params={"MATCH_epc": "secret-probe-text"})
                for _ in range(30)
            ]
            assert answers[0].status_code == 401
            return next(a for a in answers if a.status_code == 429)

        limited = while_answering(served, flood)
    problem(limited, 429, "too_many_requests")
    records = endpoint_records()[before:]
    # The first refusal is recorded at once, the rest of the minute in one record when the
    # app stops: two records for thirty requests.
    assert 1 <= len(records) <= 2
    assert sum(int(r.params.get("refusals", 0)) for r in records) >= 4
    assert "secret-probe-text" not in json.dumps([r.params for r in records], default=str)


# --- 5. Code requests --------------------------------------------------------------------


def test_a_code_request_beyond_its_machines_capacity_for_the_configured_hours_is_refused(
    site: Site,
) -> None:
    world = site.world
    line = registry.add_machine(
        site.ctx, local_issuer(), facility_id=world.plant, name="Slow", capacity_per_hour=10
    )
    request = {
        "kind": "unit",
        "operator_id": world.maker,
        "facility_id": world.plant,
        "machine_id": line.id,
        "gtin": world.gtin,
        "intended_market": "KE",
        "quantity": 241,
    }
    with serving(site.ctx) as served, served.client(site.maker_token) as maker:
        refused = while_answering(served, lambda: maker.post("/issuer/requests", json=request))
        accepted = maker.post("/issuer/requests", json={**request, "quantity": 240})
    found = problem(refused, 422, "quantity_above_capacity")
    assert "at most 24 hours of it (240 codes)" in found["detail"]
    assert accepted.status_code == 201, accepted.text[:500]
    shorter = dataclasses.replace(
        site.ctx, settings=site.ctx.settings.model_copy(update={"request_capacity_hours": 1})
    )
    with pytest.raises(issuer.IssuerError) as raised:
        issuer.request_unit_codes(
            shorter,
            local_issuer(),
            issuer.UnitRequest(world.maker, world.plant, line.id, world.gtin, "KE", 11),
        )
    assert raised.value.code == "quantity_above_capacity"
