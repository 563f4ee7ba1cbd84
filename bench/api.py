"""HTTP API throughput and latency against the same operations called in-process.

Three operations: single-event capture (``POST /messages`` with one native message, an
order on a pallet), ``GET /uis/{ui}/trace`` and ``GET /uis/{ui}/where`` on random packs of
the demo supply chain. Each runs for a fixed time at 1, 8 and 32 concurrent clients over
loopback against a real ``itptrace serve`` process (one uvicorn worker). The baseline,
measured in the same run on the same database: the same service calls made in-process,
one after another. The ratio (HTTP / in-process) is what HTTP, authentication and the
audit record of every pack-level read cost, and what concurrency wins back.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import psycopg  # noqa: E402
from tests.pgserver import PostgresUnavailable, running_server  # noqa: E402

from _common import report, scratch  # noqa: E402
from itptrace.access import Actor, Role, local_authority, local_issuer  # noqa: E402
from itptrace.auth import service as auth  # noqa: E402
from itptrace.bootstrap import build_node  # noqa: E402
from itptrace.capture import jobs  # noqa: E402
from itptrace.capture.model import MessageType, TraceEvent  # noqa: E402
from itptrace.capture.native import message_to_json  # noqa: E402
from itptrace.codes.service import ensure_signing_key  # noqa: E402
from itptrace.config import Settings  # noqa: E402
from itptrace.context import Context  # noqa: E402
from itptrace.queries import service as queries  # noqa: E402
from itptrace.registry.service import init_party  # noqa: E402
from itptrace.sim.messages import Messages  # noqa: E402
from itptrace.sim.scenario import ChainRun, run_supply_chain  # noqa: E402

CLIENTS = (1, 8, 32)
OPERATIONS = ("capture", "trace", "where")


def order(run: ChainRun, msg: Messages, ctx: Context) -> TraceEvent:
    """A fresh single event: an order on the (emptied) pallet, from the manufacturer."""
    return msg.transaction(
        MessageType.EPO,
        run.maker,
        [run.pallet],
        ctx.clock.now() - timedelta(minutes=1),
        number=f"PO-{msg.prefix}",
        amount="10.00",
        currency="KES",
        seller=run.maker,
        buyer=run.importer,
    )


def figures(latencies: list[float], seconds: float) -> dict[str, float]:
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "rps": round(len(latencies) / seconds, 1),
        "p50_ms": round(cuts[49] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
    }


def in_process(calls: Callable[[], Any], seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    end = time.perf_counter() + seconds
    while (start := time.perf_counter()) < end:
        calls()
        latencies.append(time.perf_counter() - start)
    return figures(latencies, seconds)


async def over_http(
    url: str, clients: int, seconds: float, request: Callable[[httpx.AsyncClient], Any]
) -> dict[str, float]:
    """Figures of ``clients`` concurrent loops of ``request`` for ``seconds``."""
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        await request(client)  # connection and first-request warm-up, not counted
        end = time.perf_counter() + seconds

        async def one_client() -> None:
            while (start := time.perf_counter()) < end:
                response = await request(client)
                if response.status_code >= 300:
                    raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
                latencies.append(time.perf_counter() - start)

        await asyncio.gather(*(one_client() for _ in range(clients)))
    return figures(latencies, seconds)


def start_server(settings: Settings, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    env = {
        **os.environ,
        "ITPTRACE_DATABASE_URL": settings.database_url,
        "ITPTRACE_KEY_DIR": str(settings.key_dir),
        "ITPTRACE_COUNTRY": settings.country,
        "ITPTRACE_ISSUER_CODE": settings.issuer_code,
    }
    log = (workdir / "server.log").open("wb")
    command = [sys.executable, "-m", "itptrace.cli.serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/health").status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not start: see " + str(workdir / "server.log"))


Cells = dict[str, dict[str, Any]]


def measure(database_url: str, workdir: Path, seconds: float) -> tuple[Cells, Cells]:
    """(in-process figures per operation, HTTP figures per operation and client count)."""
    settings = Settings(
        database_url=database_url, key_dir=workdir / "keys", country="KE", issuer_code="KET01"
    )
    ctx = build_node(settings, migrate=True)
    init_party(ctx)
    ensure_signing_key(ctx, local_issuer())
    run = run_supply_chain(ctx, lambda _line: None)
    maker = Actor("bench-maker", Role.OPERATOR, run.maker, tobacco_industry=True)
    tokens = {}
    for name, role, operator in (("bench-maker", "operator", run.maker),
                                 ("bench-authority", "authority", None)):  # fmt: skip
        auth.add_user(ctx, local_issuer(), name=name, role=role, operator_id=operator)
        tokens[name] = auth.create_token(ctx, local_issuer(), user=name).token
    authority, rng, counter = local_authority(), random.Random(7), iter(range(10**9))

    def message(prefix: str) -> dict[str, Any]:
        event = order(run, Messages(f"{prefix}{next(counter)}"), ctx)
        return {"messages": [message_to_json(event)]}

    local: Cells = {
        "capture": in_process(lambda: jobs.capture_document(ctx, maker, message("L")), seconds),
        "trace": in_process(lambda: queries.trace(ctx, authority, rng.choice(run.packs)), seconds),
        "where": in_process(lambda: queries.where(ctx, authority, rng.choice(run.packs)), seconds),
    }
    process, url = start_server(settings, workdir)
    as_maker = {"Authorization": f"Bearer {tokens['bench-maker']}"}
    as_authority = {"Authorization": f"Bearer {tokens['bench-authority']}", "X-Purpose": "bench"}
    requests: dict[str, Callable[[httpx.AsyncClient], Any]] = {
        "capture": lambda c: c.post("/messages", json=message("H"), headers=as_maker),
        "trace": lambda c: c.get(f"/uis/{rng.choice(run.packs)}/trace", headers=as_authority),
        "where": lambda c: c.get(f"/uis/{rng.choice(run.packs)}/where", headers=as_authority),
    }
    remote: Cells = {op: {} for op in OPERATIONS}
    try:
        for op in OPERATIONS:
            print(f"[{ctx.db.dialect}] {op:8} in-process : {local[op]}")
            for clients in CLIENTS:
                cell = asyncio.run(over_http(url, clients, seconds, requests[op]))
                remote[op][str(clients)] = cell
                ratio = cell["rps"] / local[op]["rps"]
                print(f"[{ctx.db.dialect}] {op:8} {clients:2} clients : {cell} (ratio {ratio:.2f})")
    finally:
        process.terminate()
        process.wait(30)
        ctx.db.dispose()
    return local, remote


def on_postgres(workdir: Path, seconds: float) -> tuple[Cells, Cells] | None:
    """The same on a throwaway PostgreSQL server (fsync off: compare shapes, not absolutes)."""
    try:
        with running_server() as admin:
            with psycopg.connect(admin + "/postgres", autocommit=True) as conn:
                conn.execute("CREATE DATABASE bench")
            return measure(f"{admin}/bench", workdir / "pg", seconds)
    except PostgresUnavailable as exc:
        print(f"[postgresql] not measured: {exc}".splitlines()[0])
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1 s per cell instead of 5 s")
    parser.add_argument("--postgres", action="store_true", help="also on a PostgreSQL server")
    args = parser.parse_args()
    seconds = 1.0 if args.quick else 5.0
    workdir = scratch("itptrace-bench-api-")
    (workdir / "sqlite").mkdir()
    local, remote = measure(f"sqlite:///{workdir / 'sqlite' / 'bench.db'}", workdir / "sqlite",
                            seconds)  # fmt: skip
    pg = on_postgres(workdir, seconds) if args.postgres else None
    report(
        "api_trace_8_clients",
        remote["trace"]["8"]["rps"],
        "requests/s",
        local["trace"]["rps"],
        seconds_per_cell=seconds,
        database="sqlite",
        http=remote,
        in_process=local,
        postgres={"http": pg[1], "in_process": pg[0]} if pg else None,
    )


if __name__ == "__main__":
    main()
