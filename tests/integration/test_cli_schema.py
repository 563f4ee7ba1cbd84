"""Migrations only where asked: ``init``, ``db upgrade`` and ``serve --migrate``.

Every other command on a missing, empty or older database stops with one line naming the
command to run and creates nothing; concurrent migrations of one database are serialised.
On SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import text
from typer.testing import CliRunner

from itptrace.cli.main import app
from itptrace.repository import migrate
from itptrace.repository.db import make_engine
from tests.conftest import Databases, PgServer

REPO = Path(__file__).resolve().parents[2]
OLDER = "0009"
# Commands that read or write the node: none of them may migrate or create a database.
COMMANDS = [
    ("trace", "KET01X"),
    ("where", "KET01X"),
    ("registry", "list"),
    ("keys", "export"),
    ("keys", "rotate"),
    ("ledger", "fsck"),
    ("ledger", "adopt"),
    ("verify", "scan", "KET01X", "--country", "KE"),
    ("audit",),
    ("serve", "--no-worker"),
]
# A few of them on an older schema of both databases (each case migrates a database).
SOME_COMMANDS = [COMMANDS[0], COMMANDS[3], COMMANDS[7], COMMANDS[9]]


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path, databases: Databases) -> str:
    """A database with nothing in it (for SQLite: a file that does not exist yet)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'node.db'}"
    return databases.new("postgresql", blank=True)


def env_for(url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "ITPTRACE_DATABASE_URL": url,
        "ITPTRACE_KEY_DIR": str(tmp_path / "keys"),
        "ITPTRACE_COUNTRY": "KE",
        "ITPTRACE_ISSUER_CODE": "KET01",
        "ITPTRACE_CLOCK": "2026-01-05T08:00:00Z",
        "COLUMNS": "300",
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        return migrate.current_revision(engine)
    finally:
        engine.dispose()


def at(url: str, target: str) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine, target)
    engine.dispose()


@pytest.fixture
def no_serving(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """``uvicorn.run`` replaced: the calls it would have served, in order."""
    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: served.append(app))
    return served


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_command_in_an_empty_directory_names_init_and_creates_no_database(
    command: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_serving: list[Any],
) -> None:
    monkeypatch.chdir(tmp_path)
    env = env_for("sqlite:///./itptrace.db", tmp_path)
    del env["ITPTRACE_DATABASE_URL"]  # the default: ./itptrace.db
    monkeypatch.delenv("ITPTRACE_DATABASE_URL", raising=False)
    code, output = run(env, *command)
    assert code == 1
    assert output.strip() == (
        "error: there is no itptrace database at itptrace.db: run `itptrace init` to create it"
    )
    assert list(tmp_path.iterdir()) == [] and no_serving == []


def test_a_command_on_a_database_without_a_schema_names_init(
    blank_url: str, tmp_path: Path
) -> None:
    if blank_url.startswith("sqlite"):
        Path(blank_url.removeprefix("sqlite:///")).touch()  # an empty file
    code, output = run(env_for(blank_url, tmp_path), "trace", "KET01X")
    assert code == 1 and len(output.strip().splitlines()) == 1
    assert output.startswith("error: the database ")
    assert output.strip().endswith("has no itptrace schema: run `itptrace init` to create it")
    assert revision(blank_url) is None


def test_a_command_on_a_database_that_cannot_be_opened_says_so_in_one_line(
    pg: PgServer, tmp_path: Path
) -> None:
    url = pg.url(f"nosuch{uuid.uuid4().hex[:8]}")
    code, output = run(env_for(url, tmp_path), "trace", "KET01X")
    assert code == 1 and len(output.strip().splitlines()) == 1, output
    assert output.startswith("error: cannot open the database postgresql") and "nosuch" in output


@pytest.mark.parametrize("command", SOME_COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_command_on_an_older_schema_names_db_upgrade_and_changes_nothing(
    command: tuple[str, ...], blank_url: str, tmp_path: Path, no_serving: list[Any]
) -> None:
    at(blank_url, OLDER)
    code, output = run(env_for(blank_url, tmp_path), *command)
    assert code == 1 and len(output.strip().splitlines()) == 1, output
    assert output.startswith("error: the database ")
    assert output.strip().endswith(
        f"is at schema {OLDER} and this itptrace needs {migrate.head()}: run `itptrace db upgrade`"
    )
    assert revision(blank_url) == OLDER and no_serving == []


def test_db_upgrade_brings_an_older_schema_to_head_once(blank_url: str, tmp_path: Path) -> None:
    at(blank_url, OLDER)
    env = env_for(blank_url, tmp_path)
    assert run(env, "db", "status") == (
        0,
        f"database schema {OLDER}, newest {migrate.head()}: run `itptrace db upgrade`\n",
    )
    assert run(env, "db", "upgrade") == (
        0,
        f"database schema upgraded from {OLDER} to {migrate.head()}\n",
    )
    assert run(env, "db", "upgrade") == (0, f"database schema already at {migrate.head()}\n")
    assert revision(blank_url) == migrate.head()
    code, output = run(env, "registry", "list")
    assert code == 0, output


def test_init_creates_the_schema_of_a_fresh_database(blank_url: str, tmp_path: Path) -> None:
    env = env_for(blank_url, tmp_path)
    assert run(env, "db", "status") == (
        0,
        f"database schema none, newest {migrate.head()}: no schema: run `itptrace init`\n",
    )
    code, output = run(env, "init", "--quiet")
    assert (code, output) == (0, "")
    assert revision(blank_url) == migrate.head()
    assert run(env, "trace", "KET01X")[1].startswith("error: ")
    assert "itptrace init" not in run(env, "trace", "KET01X")[1]


def test_serve_with_migrate_upgrades_an_older_schema_before_serving(
    blank_url: str, tmp_path: Path, no_serving: list[Any]
) -> None:
    at(blank_url, OLDER)
    code, output = run(env_for(blank_url, tmp_path), "serve", "--migrate", "--no-worker")
    assert code == 0, output
    assert revision(blank_url) == migrate.head() and len(no_serving) == 1


MIGRATE_WHEN_TOLD = """
import sys, time
from pathlib import Path
from itptrace.repository import migrate
from itptrace.repository.db import make_engine

url, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
engine = make_engine(url)
ready.touch()
while not go.exists():
    time.sleep(0.002)
migrate.upgrade(engine)
print(migrate.current_revision(engine))
"""


def test_two_processes_migrating_one_fresh_database_at_once_both_succeed(
    blank_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO}"}
    go = tmp_path / "go"
    readies = [tmp_path / f"ready{n}" for n in range(2)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE_WHEN_TOLD, blank_url, str(ready), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for ready in readies
    ]
    deadline = time.monotonic() + 120
    while not all(r.exists() for r in readies) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    results = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], results
    assert [out.strip() for out, _ in results] == [migrate.head()] * 2
    engine = make_engine(blank_url)
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    assert versions == [(migrate.head(),)]
