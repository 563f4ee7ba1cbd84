"""A real node over real HTTP: one server process per test module, on both databases.

``database_url`` is overridden here with module scope (same parameters as the suite's):
each module gets a fresh SQLite file or PostgreSQL database and one ``itptrace serve``
process on a free loopback port. Users and tokens are made through the auth services
before (or while) the server runs; everything else goes through HTTP with ``httpx``.
Under pytest-xdist the tests of one module on one database go to one worker, so each
module's node is set up once per database (the scheduler in ``tests/conftest.py``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from itptrace.access import local_issuer
from itptrace.auth import service as auth
from itptrace.bootstrap import build_node
from itptrace.capture.model import TraceEvent
from itptrace.capture.native import message_to_json
from itptrace.codes.service import ensure_signing_key
from itptrace.config import Settings
from itptrace.context import Context
from itptrace.registry.service import init_party
from itptrace.sim.http_driver import HttpDriver
from itptrace.sim.world import World, issue, register
from itptrace.sim.world import journey as build_journey
from itptrace.sim.worlds import KENYA
from tests.conftest import PgServer, make_settings

STAFF = ("issuer_admin", "authority", "inspector", "auditor", "gsp_peer")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'itptrace.db'}"
        return
    pg: PgServer = request.getfixturevalue("pg")
    url = pg.create()
    yield url
    pg.drop(url)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Node:
    """A running ``itptrace serve`` process and the means to talk to it."""

    settings: Settings
    workdir: Path
    ctx: Context
    tokens: dict[str, str] = field(default_factory=dict)
    url: str = ""
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self, *, worker: bool = True) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "ITPTRACE_DATABASE_URL": self.settings.database_url,
            "ITPTRACE_KEY_DIR": str(self.settings.key_dir),
            "ITPTRACE_COUNTRY": self.settings.country,
            "ITPTRACE_ISSUER_CODE": self.settings.issuer_code,
            "ITPTRACE_CLOCK": "system",
            "ITPTRACE_ANONYMOUS_REFUSALS_PER_SECOND": str(
                self.settings.anonymous_refusals_per_second
            ),
        }
        self.starts += 1
        log = (self.workdir / f"server-{self.starts}.log").open("wb")
        command = [sys.executable, "-m", "itptrace.cli.serve", "--port", str(port)]
        command.append("--worker" if worker else "--no-worker")
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited at start:\n{self.log()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"the server did not answer /health in 60 s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()  # SIGTERM: uvicorn shuts down, the worker stops cleanly
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def log(self) -> str:
        path = self.workdir / f"server-{self.starts}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def add_token(self, name: str, role: str, operator_id: str | None = None) -> str:
        """A new user with one role, and a token for it (made through the auth service)."""
        auth.add_user(self.ctx, local_issuer(), name=name, role=role, operator_id=operator_id)
        token = auth.create_token(self.ctx, local_issuer(), user=name).token
        self.tokens[name] = token
        return token

    def client(self, who: str | None = None, *, purpose: str | None = None) -> httpx.Client:
        """An HTTP client carrying the token of ``who`` (a user name), or none."""
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        if purpose:
            headers["X-Purpose"] = purpose
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


@pytest.fixture(scope="module")
def node(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """A migrated node with a Party, a signing key and staff users, served over HTTP."""
    workdir = tmp_path_factory.mktemp("node")
    # The role matrix sends dozens of tokenless requests at once: the per-address limit on
    # them (tests/security/test_bounds.py tests it) is lifted here so that each gets its 401.
    settings = make_settings(
        database_url, workdir, clock="system", anonymous_refusals_per_second=10_000
    )
    ctx = build_node(settings, migrate=True)
    init_party(ctx)
    ensure_signing_key(ctx, local_issuer())
    served = Node(settings, workdir, ctx)
    for role in STAFF:
        served.add_token(role, role)
    served.start()
    yield served
    served.stop()
    ctx.db.dispose()


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON body of a response that must have ``status`` (else the problem is shown)."""
    assert response.status_code == status, f"{response.status_code}: {response.text[:2000]}"
    return response.json()


def native(*events: TraceEvent) -> dict[str, Any]:
    """Events as a native report ``{"messages": [...]}``."""
    return {"messages": [message_to_json(e) for e in events]}


def register_chain(
    node: Node, name: str, gtin: str, *, packs: int = 40, boxes: int = 20, journey: bool = False
) -> World:
    """The ``KENYA`` world registered over HTTP with ``gtin``; codes issued: ``packs`` unit
    codes and ``boxes`` boxes (4 cartons, 2 cases, a pallet, the rest spare). Users
    ``<name>-maker`` and ``<name>-importer`` get operator tokens. With ``journey``, the
    production, the pallet's dispatch to the depot and its arrival are reported too."""
    description = replace(KENYA.accounts(name), product=replace(KENYA.product, gtin=gtin))
    with node.client() as http:
        driver = HttpDriver(http, node.tokens["issuer_admin"], node.add_token)
        world = register(driver, description)
        issue(driver, world, packs=packs, cartons=4, cases=2, spare=boxes - 7)
        if journey:
            at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
            build_journey(driver, world, at)
    return world


@pytest.fixture(scope="module")
def chain(node: Node) -> World:
    """The registered chain with its journey reported (packs applied, pallet received)."""
    return register_chain(node, "chain", "06009876543219", journey=True)
