"""Fresh copies of one seeded database, one per run of a Hypothesis state machine.

Seeding a chain costs seconds; copying the seeded database costs milliseconds (SQLite's
backup API, PostgreSQL's ``CREATE DATABASE ... TEMPLATE``), so each machine run starts
from the same registered chain at a small cost.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from tests.conftest import Databases, PgServer

T = TypeVar("T")


@dataclass
class Copies:
    """``fresh(run)``: the URL of a new copy for run ``run``; ``drop(run)`` removes it."""

    copy: Callable[[int], str]
    remove: Callable[[str], None]
    made: dict[int, str] = field(default_factory=dict)

    def fresh(self, run: int) -> str:
        self.made[run] = self.copy(run)
        return self.made[run]

    def drop(self, run: int) -> None:
        self.remove(self.made.pop(run))


@contextmanager
def seeded_copies(
    request: pytest.FixtureRequest, tmp: Path, databases: Databases, seed: Callable[[str], T]
) -> Iterator[tuple[T, Copies]]:
    """``seed(url)`` run once on the database ``request.param`` names ("sqlite" or
    "postgresql"), and the copies of it; copies left at the end are removed."""
    if request.param == "sqlite":
        source = tmp / "seed.db"
        made = seed(f"sqlite:///{source}")

        def copy_sqlite(run: int) -> str:
            src, dst = sqlite3.connect(source), sqlite3.connect(tmp / f"run{run}.db")
            src.backup(dst)
            src.close()
            dst.close()
            return f"sqlite:///{tmp / f'run{run}.db'}"

        copies = Copies(copy_sqlite, lambda url: Path(url.removeprefix("sqlite:///")).unlink())
    else:
        pg: PgServer = request.getfixturevalue("pg")
        template = databases.new("postgresql")  # dropped after the test
        made = seed(template)
        copies = Copies(lambda _run: pg.create(copy_of=template), pg.drop)
    try:
        yield made, copies
    finally:
        for run in list(copies.made):
            copies.drop(run)
