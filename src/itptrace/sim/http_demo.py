"""The demo over HTTP: a real node process, separate tokens, a refused read, the audit.

The node is started as ``python -m itptrace.cli.serve`` on a free loopback port against the
demo's database. The supply-chain scenario is built through it with the world builder's
HTTP driver: the registry as an issuer administrator, then codes and reports as the
manufacturer, the importer and the retailer, each with their own token. An authority then
reads a pack and an auditor the audit trail, and the server is stopped at the end.
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

import httpx

from itptrace.access import local_issuer
from itptrace.auth import service as auth
from itptrace.context import Context
from itptrace.sim.http_driver import HttpDriver, Mint, answer
from itptrace.sim.world import World

Say = Callable[[str], None]


@dataclass
class HttpSummary:
    jobs: int = 0
    tokens: int = 0
    refused_read_status: int = 0
    traced_events: int = 0
    report_completeness: float = 0.0
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
        "ITPTRACE_CLOCK": ctx.settings.clock,
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


def mint(ctx: Context) -> Mint:
    """Tokens made beside the node through the auth service, for the demo's users."""

    def token(name: str, role: str, operator: str | None) -> str:
        auth.add_user(ctx, local_issuer(), name=name, role=role, operator_id=operator)
        return auth.create_token(ctx, local_issuer(), user=name).token

    return token


def bearer(ctx: Context, name: str, role: str, operator: str | None = None) -> dict[str, str]:
    """A new user of ``role`` and the header carrying a fresh token of theirs."""
    return {"Authorization": f"Bearer {mint(ctx)(name, role, operator)}"}


def http_driver(ctx: Context, http: httpx.Client, say: Say, queue_from: int = 20) -> HttpDriver:
    """The world builder's HTTP door to the demo's node, with an issuer administrator."""
    admin = mint(ctx)("demo-admin", "issuer_admin", None)
    return HttpDriver(http, admin, mint(ctx), queue_from=queue_from, say=say)


def show_access(
    ctx: Context, http: httpx.Client, run: World, driver: HttpDriver, say: Say
) -> HttpSummary:
    """A refused cross-operator read, the authority's trace, and the audit trail summary."""
    summary = HttpSummary(jobs=driver.jobs, tokens=len(driver.tokens))
    customs = bearer(ctx, "kra-customs", "authority")
    auditor = bearer(ctx, "oag-auditor", "auditor")
    retailer = driver.tokens[run.retailer_user]
    kept_by_retailer, left_at_depot = run.packs[0], run.packs[-1]
    refused = http.get(f"/uis/{left_at_depot}/trace", headers=retailer)
    summary.refused_read_status = refused.status_code
    say(
        f"retailer reading the trace of pack {left_at_depot}, which it never held: "
        f"{refused.status_code} {refused.json().get('title', '')}"
    )
    purpose = {**customs, "X-Purpose": "case KE-2026-0117"}
    trace = answer(http.get(f"/uis/{kept_by_retailer}/trace", headers=purpose))
    report = answer(http.get(f"/uis/{kept_by_retailer}/report", headers=purpose))
    summary.traced_events, summary.report_completeness = len(trace), report["completeness"]
    say(
        f"customs (purpose: case KE-2026-0117) read pack {kept_by_retailer} over HTTP: "
        f"{len(trace)} trace events, 8.4.1 report {report['completeness']:.0%} complete"
    )
    rows = answer(http.get("/audit", headers=auditor, params={"limit": 1000}))
    summary.audit_records = len(rows)
    by_outcome = Counter(r["outcome"] for r in rows)
    by_user = Counter(r["user"] or "(no token)" for r in rows)
    say(f"audit trail: {len(rows)} records; by outcome {dict(by_outcome)}; by user {dict(by_user)}")
    return summary
