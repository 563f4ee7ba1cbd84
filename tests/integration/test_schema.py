"""The migrated database matches the schema the code uses, on both databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text, update
from sqlalchemy.exc import IntegrityError

from itptrace.access import local_issuer
from itptrace.bootstrap import build_context
from itptrace.capture import jobs as capture_jobs
from itptrace.codes import lifecycle
from itptrace.context import Context
from itptrace.jobs import service as jobs
from itptrace.jobs import store as jobs_store
from itptrace.repository import migrate, schema
from itptrace.repository.db import make_engine
from itptrace.repository.schema import metadata
from tests.conftest import SQLITE_ONLY, Databases, make_settings
from tests.integration.chain import build_chain


def test_migrations_create_exactly_the_declared_schema(ctx: Context) -> None:
    with ctx.db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


def test_upgrading_an_up_to_date_database_changes_nothing(ctx: Context) -> None:
    assert migrate.is_current(ctx.db.engine)
    migrate.upgrade(ctx.db.engine)
    assert migrate.is_current(ctx.db.engine)


@SQLITE_ONLY  # PostgreSQL always logs ahead and checks references: see the next test
def test_sqlite_runs_with_wal_full_sync_and_foreign_keys(ctx: Context) -> None:
    assert ctx.db.dialect == "sqlite"
    with ctx.db.engine.connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "wal_autocheckpoint")
        }
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "wal_autocheckpoint": 10000,
    }


def test_a_reference_to_a_missing_row_is_refused(ctx: Context) -> None:
    with pytest.raises(IntegrityError), ctx.db.transaction() as conn:
        conn.execute(text("INSERT INTO unit_uis (ui, request_id) VALUES ('KET01X', 999999)"))


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, databases: Databases) -> str:
    """An empty database, not migrated at all (dropped after the test)."""
    return databases.new(request.param, blank=True)


def test_indexing_event_items_by_event_keeps_every_row_and_the_append_only_guard(
    blank_url: str,
) -> None:
    engine = make_engine(blank_url)
    migrate.upgrade(engine, "0007")
    rows = [("UI-A", 1, "item"), ("UI-B", 1, "item"), ("UI-A", 2, "parent")]
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO event_items (ui, event_seq, role) VALUES (:u, :s, :r)"),
            [{"u": u, "s": s, "r": r} for u, s, r in rows],
        )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT ui, event_seq, role FROM event_items")).all()
    assert sorted(tuple(r) for r in stored) == sorted(rows)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("DELETE FROM event_items"))
    engine.dispose()


def test_the_items_of_an_event_and_the_events_of_a_ui_are_both_indexed(ctx: Context) -> None:
    found = inspect(ctx.db.engine)
    assert found.get_pk_constraint("event_items")["constrained_columns"] == ["ui", "event_seq"]
    indexes = {i["name"]: i["column_names"] for i in found.get_indexes("event_items")}
    assert indexes["ix_event_items_event"] == ["event_seq"]


def test_moving_current_stays_and_items_keeps_every_link_and_the_append_only_guard(
    blank_url: str,
) -> None:
    engine = make_engine(blank_url)
    migrate.upgrade(engine, "0008")
    event = (
        "INSERT INTO events (seq, event_id, message_type, originator_id, event_time,"
        " recorded_at, item_count, flags, fingerprint, source, details, parent) VALUES"
        " (:s, :e, :t, 'OP1', '2026-01-05 08:00:00', '2026-01-05 08:00:00', 2, '', 'f',"
        " 'native', '{}', :p)"
    )
    state = (
        "INSERT INTO ui_state (ui, kind, status, parent, created_seq, last_seq)"
        " VALUES (:u, 'unit', 'active', :p, 1, :l)"
    )
    stay = (
        "INSERT INTO containment (child, parent, from_seq, from_time, to_seq, to_time) VALUES"
        " (:c, 'BOX', 2, '2026-01-05 08:00:00', :to, :tt)"
    )
    with engine.begin() as conn:
        conn.execute(text(event), [{"s": 1, "e": "A", "t": "EUA", "p": None},
                                   {"s": 2, "e": "B", "t": "EPA", "p": "BOX"},
                                   {"s": 3, "e": "C", "t": "EUD", "p": "BOX"}])  # fmt: skip
        conn.execute(
            text("INSERT INTO event_items (ui, event_seq, role) VALUES (:u, :s, :r)"),
            [{"u": "P1", "s": 1, "r": "item"}, {"u": "P2", "s": 1, "r": "item"},
             {"u": "P1", "s": 2, "r": "item"}, {"u": "P2", "s": 2, "r": "item"},
             {"u": "BOX", "s": 2, "r": "parent"}, {"u": "P2", "s": 3, "r": "item"}],
        )  # fmt: skip
        conn.execute(text(state), [{"u": "P1", "p": "BOX", "l": 2}, {"u": "P2", "p": None, "l": 3}])
        conn.execute(text(stay), [{"c": "P1", "to": None, "tt": None},
                                  {"c": "P2", "to": 3, "tt": "2026-01-05 09:00:00"}])  # fmt: skip
    migrate.upgrade(engine)
    with engine.connect() as conn:
        uis = dict(conn.execute(text("SELECT seq, uis FROM events")).all())
        since = dict(conn.execute(text("SELECT ui, parent_since_seq FROM ui_state")).all())
        stays = conn.execute(text("SELECT child, from_seq, to_seq FROM containment")).all()
        links = conn.execute(text("SELECT count(*) FROM event_items")).scalar_one()
    assert uis == {1: '["P1", "P2"]', 2: '["P1", "P2"]', 3: '["P2"]'}
    assert since == {"P1": 2, "P2": None}
    assert [tuple(s) for s in stays] == [("P2", 2, 3)]
    assert links == 6
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE events SET uis = '[]'"))
    engine.dispose()


def test_issued_codes_are_keyed_indexed_by_request_and_append_only_without_rowid_on_sqlite(
    ctx: Context,
) -> None:
    """On SQLite the codes live in their key's B-tree (migration 0010); PostgreSQL keeps a
    heap with its primary-key index. Both index the request and refuse edits."""
    build_chain(ctx)  # issues unit and aggregated codes
    with ctx.db.engine.connect() as conn:
        for table, key in (("unit_uis", "ui"), ("aggregate_uis", "aui")):
            found = inspect(conn)
            assert found.get_pk_constraint(table)["constrained_columns"] == [key], table
            indexes = {i["name"]: i["column_names"] for i in found.get_indexes(table)}
            # keyset pages of a request's codes read (request, code) in order (migration 0012)
            assert indexes[f"ix_{table.removesuffix('_uis')}_uis_request"] == ["request_id", key]
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() > 0
            if ctx.db.dialect == "sqlite":
                sql = conn.execute(
                    text("SELECT sql FROM sqlite_master WHERE name = :t"), {"t": table}
                ).scalar_one()
                assert sql.rstrip().endswith("WITHOUT ROWID"), table
            else:
                kind = conn.execute(
                    text("SELECT relkind FROM pg_class WHERE relname = :t"), {"t": table}
                ).scalar_one()
                assert kind == "r", table  # an ordinary (heap) table
    for statement in ("DELETE FROM unit_uis", "UPDATE aggregate_uis SET tag = 'x'"):
        with pytest.raises(IntegrityError, match="append-only"), ctx.db.engine.begin() as conn:
            conn.execute(text(statement))


def test_capture_jobs_move_to_the_job_queue_with_their_ids_and_back(blank_url: str) -> None:
    engine = make_engine(blank_url)
    migrate.upgrade(engine, "0010")
    job = (
        "INSERT INTO capture_jobs (id, status, user_name, role, operator_id, tobacco_industry,"
        " received_at, started_at, finished_at, attempts, document, result) VALUES"
        " (:id, :status, 'maker', 'operator', 'OP1', :industry, '2026-01-05 08:00:00',"
        " :started, NULL, :attempts, :document, :result)"
    )
    done = json.dumps({"accepted": 2, "duplicates": 0, "error_count": 0, "errors": [], "flags": []})
    with engine.begin() as conn:
        conn.execute(text(job), [
            {"id": 1, "status": "queued", "industry": True, "started": None, "attempts": 0,
             "document": '{"messages": []}', "result": None},
            {"id": 2, "status": "running", "industry": True, "started": "2026-01-05 08:01:00",
             "attempts": 1, "document": "[]", "result": None},
            {"id": 7, "status": "running", "industry": False, "started": "2026-01-05 08:02:00",
             "attempts": 3, "document": "[]", "result": None},
            {"id": 9, "status": "done", "industry": False, "started": "2026-01-05 08:03:00",
             "attempts": 1, "document": "[1]", "result": done},
        ])  # fmt: skip
    migrate.upgrade(engine)
    with engine.begin() as conn:
        rows = {r.id: r for r in conn.execute(select(schema.jobs).order_by(schema.jobs.c.id))}
        assert list(rows) == [1, 2, 7, 9]
        assert {(r.kind, r.lane, r.user_name, r.operator_id) for r in rows.values()} == {
            ("capture", "capture:OP1", "maker", "OP1")
        }
        assert [r.state for r in rows.values()] == ["queued", "running", "running", "done"]
        assert [r.payload for r in rows.values()] == ['{"messages": []}', "[]", "[]", "[1]"]
        assert [r.max_attempts for r in rows.values()] == [3, 3, 4, 3]  # one more try for 7
        assert rows[2].lease_until == rows[2].started_at and rows[1].lease_until is None
        assert capture_jobs.view(jobs.job_of(rows[9])).accepted == 2
        copy = {k: v for k, v in rows[9]._asdict().items() if k != "id"}
        new = jobs_store.insert_job(conn, {**copy, "kind": "gsp_outbox"})
        assert new == 10  # ids go on after the copied ones
        conn.execute(
            update(schema.jobs)
            .where(schema.jobs.c.id == 1)
            .values(state="failed", problems=json.dumps([
                {"code": "user_disabled", "message": "user maker is disabled", "subject": "maker"}
            ]))
        )  # fmt: skip
    migrate.downgrade(engine, "0010")
    with engine.connect() as conn:
        back = conn.execute(text("SELECT id, status, result FROM capture_jobs ORDER BY id")).all()
    assert [(r.id, r.status) for r in back] == [(1, "failed"), (2, "running"), (7, "running"),
                                                (9, "done")]  # fmt: skip
    assert json.loads(back[0].result)["errors"] == [
        {"code": "user_disabled", "message": "user maker is disabled", "subject": "maker",
         "event_id": None}
    ]  # fmt: skip
    assert json.loads(back[0].result)["error_count"] == 1 and back[3].result == done


def _requests_at_0010(engine: Engine) -> None:
    """Three requests as an 0010 node stored them: deactivated codes, one cancellation."""
    at = "'2026-01-05 08:00:00'"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO operators (id, name, country, roles, tobacco_industry, active,"
                " created_at) VALUES ('KET01E000001', 'Nyota', 'KE', 'manufacturer', true,"
                f" true, {at})"
            )
        )
        conn.execute(
            text(
                "INSERT INTO facilities (id, operator_id, name, type, address, country, active,"
                f" created_at) VALUES ('KET01F000001', 'KET01E000001', 'P', 'manufacturing', 'N',"
                f" 'KE', true, {at})"
            )
        )
        request = (
            "INSERT INTO code_requests (id, kind, operator_id, facility_id, quantity, profile,"
            f" requested_by, requested_at, expires_at) VALUES (:id, :kind, 'KET01E000001',"
            f" 'KET01F000001', :q, 'eu', 'local-issuer', {at}, '2026-07-05 08:00:00')"
        )
        conn.execute(text(request), [{"id": 1, "kind": "unit", "q": 3},
                                     {"id": 2, "kind": "aggregate", "q": 2},
                                     {"id": 3, "kind": "unit", "q": 2}])  # fmt: skip
        conn.execute(
            text("INSERT INTO unit_uis (ui, request_id) VALUES (:ui, :r)"),
            [{"ui": ui, "r": r} for ui, r in (("U1", 1), ("U2", 1), ("U3", 1), ("U4", 3),
                                              ("U5", 3))],
        )  # fmt: skip
        conn.execute(
            text("INSERT INTO aggregate_uis (aui, request_id) VALUES (:ui, 2)"),
            [{"ui": "A1"}, {"ui": "A2"}],
        )
        conn.execute(
            text(
                "INSERT INTO ui_deactivations (ui, kind, reason, detail, deactivated_at,"
                f" deactivated_by) VALUES (:ui, :kind, 'stolen', '', {at}, 'local-issuer')"
            ),
            [{"ui": "U2", "kind": "unit"}, {"ui": "A1", "kind": "aggregate"},
             {"ui": "A2", "kind": "aggregate"}],
        )  # fmt: skip
        conn.execute(
            text(
                "INSERT INTO request_cancellations (request_id, cancelled_at, cancelled_by, reason)"
                f" VALUES (3, {at}, 'local-issuer', 'wrong market')"
            )
        )


ISSUED_TABLES = ("code_requests", "unit_uis", "aggregate_uis", "ui_deactivations",
                 "request_cancellations")  # fmt: skip


def _issued_rows(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {
            table: sorted(tuple(r) for r in conn.execute(text(f"SELECT * FROM {table}")))
            for table in ISSUED_TABLES
        }


def _request_indexes(engine: Engine) -> dict[str, list[str | None]]:
    found = inspect(engine)
    return {
        table: next(
            i["column_names"]
            for i in found.get_indexes(table)
            if i["name"] == f"ix_{table.removesuffix('_uis')}_uis_request"
        )
        for table in ("unit_uis", "aggregate_uis")
    }


def test_migration_0012_counts_deactivations_indexes_codes_by_request_and_keeps_every_row(
    blank_url: str, tmp_path: Path
) -> None:
    engine = make_engine(blank_url)
    migrate.upgrade(engine, "0010")
    _requests_at_0010(engine)
    before = _issued_rows(engine)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        counts = dict(
            conn.execute(text("SELECT request_id, deactivated FROM code_request_counts")).all()
        )
    assert counts == {1: 1, 2: 2, 3: 0}
    assert _issued_rows(engine) == before
    assert _request_indexes(engine) == {"unit_uis": ["request_id", "ui"],
                                        "aggregate_uis": ["request_id", "aui"]}  # fmt: skip
    node = build_context(make_settings(blank_url, tmp_path))
    states = {r: lifecycle.get_request(node, local_issuer(), r).counts for r in (1, 2, 3)}
    node.db.dispose()
    assert {r: {s.value: n for s, n in c.items() if n} for r, c in states.items()} == {
        1: {"issued": 2, "deactivated": 1},
        2: {"deactivated": 2},
        3: {"cancelled": 2},
    }
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE code_requests SET quantity = 9"))
    migrate.downgrade(engine, "0010")  # the counts go, every issued row stays
    assert "code_request_counts" not in inspect(engine).get_table_names()
    assert _issued_rows(engine) == before
    assert _request_indexes(engine) == {"unit_uis": ["request_id"], "aggregate_uis": ["request_id"]}
    engine.dispose()
