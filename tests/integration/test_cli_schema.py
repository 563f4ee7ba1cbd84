"""Concurrent migrations of one database are serialised: both succeed, the schema is at head once.

On SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text

from itptrace.repository import migrate
from itptrace.repository.db import make_engine

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with nothing in it (for SQLite: a file that does not exist yet)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'node.db'}"
    admin: str = request.getfixturevalue("pg_admin_url")
    name = f"blank{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{admin}/{name}"


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
