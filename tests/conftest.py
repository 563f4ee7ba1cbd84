"""Shared fixtures: every storage test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine

from itptrace.access import Actor, local_issuer
from itptrace.bootstrap import build_node
from itptrace.codes.service import ensure_signing_key
from itptrace.config import Settings
from itptrace.context import Context
from itptrace.registry.service import init_party
from itptrace.repository import migrate
from tests.pgserver import running_server

TEMPLATE = "itptrace_template"
_numbers = itertools.count()


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A server for the whole session, with a migrated template database to copy per test."""
    given = os.environ.get("ITPTRACE_TEST_PG_URL")
    if given:
        url_context = None
        admin = given
    else:
        url_context = running_server()
        admin = url_context.__enter__()
    with psycopg.connect(admin + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        conn.execute(f"CREATE DATABASE {TEMPLATE}")
    engine = create_engine(f"{admin.replace('postgresql://', 'postgresql+psycopg://')}/{TEMPLATE}")
    migrate.upgrade(engine)
    engine.dispose()
    yield admin
    if url_context is not None:
        url_context.__exit__(None, None, None)


def fresh_pg_database(admin_url: str) -> str:
    name = f"t{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(admin_url + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    return f"{admin_url}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'itptrace.db'}"
    admin: str = request.getfixturevalue("pg_admin_url")
    return fresh_pg_database(admin)


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


@pytest.fixture
def ctx(database_url: str, tmp_path: Path) -> Iterator[Context]:
    """A migrated node with its Party recorded and a signing key, on either database."""
    context = build_node(make_settings(database_url, tmp_path), migrate=True)
    init_party(context)
    ensure_signing_key(context, local_issuer())
    yield context
    context.db.dispose()


@pytest.fixture
def issuer() -> Actor:
    return local_issuer()
