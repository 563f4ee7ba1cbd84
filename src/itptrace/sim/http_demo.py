"""The demo's HTTP phase: a real node process, separate tokens, a refused read, the audit.

The node is started as ``python -m itptrace.cli.serve`` on a free loopback port against the
demo's database; the manufacturer, the importer, an authority and an auditor each call it
with their own token, and the server is stopped at the end.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from itptrace.access import local_issuer
from itptrace.auth import service as auth
from itptrace.capture.native import message_to_json
from itptrace.context import Context
from itptrace.sim.messages import Messages
from itptrace.sim.scenario import ChainRun

Say = Callable[[str], None]


@dataclass
class HttpSummary:
    accepted: int = 0
    refused_read_status: int = 0
    traced_events: int = 0
    audit_records: int = 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_node(ctx: Context) -> Iterator[str]:
    """Start ``itptrace serve`` on this node's settings; yield its URL; stop it."""
    port = _free_port()
    env = {
        **os.environ,
        "ITPTRACE_DATABASE_URL": ctx.settings.database_url,
        "ITPTRACE_KEY_DIR": str(ctx.settings.key_dir),
        "ITPTRACE_COUNTRY": ctx.settings.country,
        "ITPTRACE_ISSUER_CODE": ctx.settings.issuer_code,
    }
    command = [sys.executable, "-m", "itptrace.cli.serve", "--port", str(port)]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the node did not start")
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def _token(ctx: Context, name: str, role: str, operator: str | None = None) -> dict[str, str]:
    auth.add_user(ctx, local_issuer(), name=name, role=role, operator_id=operator)
    return {"Authorization": f"Bearer {auth.create_token(ctx, local_issuer(), user=name).token}"}


def _ok(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:300]}"
        )
    return response.json()


def run_http_demo(ctx: Context, run: ChainRun, say: Say) -> HttpSummary:
    summary = HttpSummary()
    maker = _token(ctx, "nyota-edi", "operator", run.maker)
    importer = _token(ctx, "lake-edi", "operator", run.importer)
    customs = _token(ctx, "kra-customs", "authority")
    auditor = _token(ctx, "oag-auditor", "auditor")
    with running_node(ctx) as url, httpx.Client(base_url=url, timeout=60) as http:
        say(f"node serving at {url}; tokens for manufacturer, importer, customs and an auditor")
        batch = _ok(
            http.post(
                "/issuer/requests",
                headers=maker,
                json={
                    "kind": "unit",
                    "operator_id": run.maker,
                    "facility_id": run.plant,
                    "machine_id": run.machine,
                    "gtin": run.gtin,
                    "intended_market": "KE",
                    "quantity": 11,
                },
            )
        )
        box = _ok(
            http.post(
                "/issuer/requests",
                headers=maker,
                json={
                    "kind": "aggregate",
                    "operator_id": run.maker,
                    "facility_id": run.plant,
                    "quantity": 1,
                },
            )
        )
        packs = [
            c["code"]
            for c in _ok(http.get(f"/issuer/requests/{batch['request_id']}/codes", headers=maker))[
                "codes"
            ]
        ]
        carton = _ok(http.get(f"/issuer/requests/{box['request_id']}/codes", headers=maker))[
            "codes"
        ][0]["code"]
        m, now = Messages(prefix="HTTP"), datetime.now().astimezone().replace(microsecond=0)
        sent = [
            m.apply(run.maker, run.plant, run.machine, packs, now),
            m.aggregate(run.maker, run.plant, carton, packs[:10], now),
            m.dispatch(run.maker, run.plant, [carton], now, to=run.depot),
        ]
        result = _ok(http.post("/messages", headers=maker, json=[message_to_json(e) for e in sent]))
        arrival = m.arrive(run.importer, run.depot, [carton], now)
        result2 = _ok(http.post("/messages", headers=importer, json=[message_to_json(arrival)]))
        summary.accepted = len(result["accepted"]) + len(result2["accepted"])
        say(
            f"over HTTP: manufacturer requested 11 packs and a carton, reported application, "
            f"packing and dispatch; importer reported arrival ({summary.accepted} events accepted)"
        )
        refused = http.get(f"/uis/{packs[10]}/trace", headers=importer)
        summary.refused_read_status = refused.status_code
        say(
            f"importer reading the trace of a pack it never held: {refused.status_code} "
            f"{refused.json().get('title', '')}"
        )
        trace = _ok(
            http.get(
                f"/uis/{packs[0]}/trace", headers={**customs, "X-Purpose": "case KE-2026-0117"}
            )
        )
        summary.traced_events = len(trace)
        say(f"customs traced pack {packs[0]} (purpose: case KE-2026-0117): {len(trace)} events")
        rows = _ok(http.get("/audit", headers=auditor, params={"limit": 1000}))
        summary.audit_records = len(rows)
        by_outcome = Counter(r["outcome"] for r in rows)
        by_user = Counter(r["user"] or "(no token)" for r in rows)
        say(
            f"audit trail: {len(rows)} records; by outcome {dict(by_outcome)}; "
            f"by user {dict(by_user)}"
        )
    say("node stopped")
    return summary
