"""Shared fixtures: every storage test runs on SQLite and on a real PostgreSQL server.

The suite runs in parallel under pytest-xdist (``make test``) and in one process without
``-n``. Each process (an xdist worker, or the one plain session) starts its own throwaway
server (``tests/pgserver.py``) when its first PostgreSQL test needs it, and migrates one
template database named after the worker; each test gets a copy of the template, dropped
after the test; the template is dropped and the server stopped when the worker ends. A
worker that dies leaves a record of its server under the run's base temp dir, and the xdist
controller stops that server at the end of the run (``pytest_sessionfinish``).
``ITPTRACE_TEST_PG_URL`` points every worker at one existing server instead: the per-worker
template and the per-process database names keep workers (and runs) apart there.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from itptrace.access import Actor, local_issuer
from itptrace.api import problems, routes_verify
from itptrace.api.bounds import Bounds
from itptrace.auth import service as auth
from itptrace.bootstrap import build_node
from itptrace.codes import lifecycle
from itptrace.codes.service import ensure_signing_key
from itptrace.config import Settings
from itptrace.context import Context
from itptrace.gs1.element import CodePayload
from itptrace.registry.service import init_party
from itptrace.repository import migrate
from itptrace.sim.scenario import run_supply_chain
from itptrace.sim.service_driver import ServiceDriver
from itptrace.sim.world import World
from tests.pgserver import running_server, stop_recorded

SERVER_RECORD = "pg-server.datadir"


class PgServer:
    """This worker's PostgreSQL server: databases made from its migrated template."""

    def __init__(self, admin_url: str, template: str):
        self.admin_url = admin_url
        self.template = template
        self._numbers = itertools.count()

    def run(self, sql: str) -> None:
        with psycopg.connect(self.admin_url + "/postgres", autocommit=True) as conn:
            conn.execute(sql)

    def create(self, *, blank: bool = False, copy_of: str | None = None) -> str:
        """A new database (a copy of the template, of ``copy_of``, or ``blank``): its URL."""
        name = f"t{os.getpid()}_{next(self._numbers)}"
        source = None if blank else (copy_of or self.url(self.template)).rsplit("/", 1)[1]
        self.run(f"CREATE DATABASE {name}" + (f" TEMPLATE {source}" if source else ""))
        return self.url(name)

    def drop(self, url: str) -> None:
        """Drop a database, ending any connection still open to it."""
        self.run(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")

    def url(self, name: str) -> str:
        return f"{self.admin_url}/{name}"


@pytest.fixture(scope="session")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    """This worker's server, with a migrated template database to copy per test."""
    given = os.environ.get("ITPTRACE_TEST_PG_URL")
    with _server(given, tmp_path_factory.getbasetemp() / SERVER_RECORD) as admin:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")  # gw0, gw1, ... under xdist
        server = PgServer(admin, f"itptrace_template_{worker}_{os.getpid()}")
        server.run(f"DROP DATABASE IF EXISTS {server.template}")
        server.run(f"CREATE DATABASE {server.template}")
        url = server.url(server.template).replace("postgresql://", "postgresql+psycopg://")
        engine = create_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield server
        server.drop(server.url(server.template))


def _server(given: str | None, record: Path) -> contextlib.AbstractContextManager[str]:
    return contextlib.nullcontext(given) if given else running_server(record)


@pytest.hookimpl(optionalhook=True)  # an xdist hook: unknown when xdist is not loaded
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``-n`` (``--dist load``, the default): every test is scheduled on its own, as
    ``load`` does, except that an e2e module's tests on one database go to one worker
    together, so that module's node (a server process and a chain registered over HTTP) is
    set up once per database instead of on every worker. (``--dist loadgroup`` would do this
    with marks, but pytest 9.2 ignores the group xdist 3.8 writes into the node id:
    pytest-dev/pytest-xdist#1386.) Any other ``--dist`` is left to xdist."""
    if config.getoption("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class E2EModulesTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path, _, test = nodeid.partition("::")
            if not path.startswith("tests/e2e/"):
                return nodeid
            ids = test.rpartition("[")[2].rstrip("]").split("-")
            return f"{path}[{next((i for i in ids if i in ('sqlite', 'postgresql')), '')}]"

    return E2EModulesTogether(config, log)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """In the xdist controller: stop the server of any worker that died before its end."""
    if hasattr(session.config, "workerinput"):
        return
    factory: pytest.TempPathFactory = session.config._tmp_path_factory  # type: ignore[attr-defined]
    for record in factory.getbasetemp().glob(f"*/{SERVER_RECORD}"):
        stop_recorded(record)


class Databases:
    """Databases of either kind for one test; the PostgreSQL ones are dropped after it."""

    def __init__(self, request: pytest.FixtureRequest, tmp_path: Path):
        self._request, self._tmp_path = request, tmp_path
        self._made: list[str] = []
        self._server: PgServer | None = None

    def new(self, kind: str, *, blank: bool = False) -> str:
        """The URL of a new database: migrated (PostgreSQL, from the template) or ``blank``;
        a SQLite file is always new and empty (``build_context`` migrates it)."""
        if kind == "sqlite":
            name = "itptrace" if not self._made else f"itptrace-{len(self._made)}"
            self._made.append(name)
            return f"sqlite:///{self._tmp_path / name}.db"
        if self._server is None:
            self._server = self._request.getfixturevalue("pg")
        url = self._server.create(blank=blank)
        self._made.append(url)
        return url

    def drop_all(self) -> None:
        for url in self._made:
            if self._server is not None and url.startswith("postgresql"):
                self._server.drop(url)


@pytest.fixture
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Databases]:
    made = Databases(request, tmp_path)
    yield made
    made.drop_all()


# For a test of SQLite's own storage choices: ``database_url`` (and so ``ctx``) is SQLite
# only, and the test id says so.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, databases: Databases) -> str:
    return databases.new(request.param)


def make_settings(database_url: str, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "key_dir": tmp_path / "keys",
        "clock": "2026-01-05T08:00:00+00:00",
        "country": "KE",
        "issuer_code": "KET01",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def new_node(database_url: str, tmp_path: Path) -> Context:
    """A migrated node with its Party recorded and a signing key (keys under ``tmp_path``)."""
    context = build_node(make_settings(database_url, tmp_path), migrate=True)
    init_party(context)
    ensure_signing_key(context, local_issuer())
    return context


@pytest.fixture
def ctx(database_url: str, tmp_path: Path) -> Iterator[Context]:
    """A migrated node with its Party recorded and a signing key, on either database."""
    context = new_node(database_url, tmp_path)
    yield context
    context.db.dispose()


@pytest.fixture
def issuer() -> Actor:
    return local_issuer()


@pytest.fixture
def run(ctx: Context) -> World:
    """The demo's supply chain (``sim.scenario``), run in-process on ``ctx``."""
    return run_supply_chain(ServiceDriver(ctx), lambda _text: None)


@pytest.fixture
def codes(ctx: Context, run: World) -> dict[str, CodePayload]:
    """The printed codes of the chain's unit code request, by UI."""
    return {p.ui: p for p in lifecycle.request_codes(ctx, local_issuer(), 1)}


@pytest.fixture
def verify_api(ctx: Context) -> tuple[TestClient, dict[str, dict[str, str]]]:
    """The verify routes on ``ctx`` with an inspector's ("insp") and an authority's ("auth")
    token headers."""
    app = FastAPI()
    app.state.ctx = ctx
    app.state.bounds = Bounds(ctx.settings)
    app.include_router(routes_verify.router)
    problems.install(app)
    headers = {}
    for name, role in (("insp", "inspector"), ("auth", "authority")):
        auth.add_user(ctx, local_issuer(), name=name, role=role, operator_id=None)
        token = auth.create_token(ctx, local_issuer(), user=name).token
        headers[name] = {"Authorization": f"Bearer {token}"}
    return TestClient(app), headers
