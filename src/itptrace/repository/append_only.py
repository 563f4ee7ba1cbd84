"""Database-level append-only guards: triggers that refuse UPDATE, DELETE (and TRUNCATE).

The service layer never rewrites history, but a guard in the database also stops an
operator with a SQL prompt, a buggy migration or another program sharing the database.
The triggers raise an integrity error (SQLSTATE class 23 on PostgreSQL, SQLITE_CONSTRAINT
on SQLite), so both drivers surface it as ``sqlalchemy.exc.IntegrityError`` and the
statement changes no row.

Use from a migration::

    for statement in append_only_ddl(op.get_bind().dialect.name, "my_table"):
        op.execute(statement)

The DDL is deliberately plain text and stable: migrations that already ran used it, so
change it only by adding a new function and a new migration.
"""

from __future__ import annotations

import re

# One shared PostgreSQL function; each guarded table gets triggers calling it.
PG_FUNCTION = "itptrace_refuse_change"

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def _checked(table: str) -> str:
    # Table names are spliced into DDL; accept only plain lower-case identifiers.
    if not _NAME.match(table):
        raise ValueError(f"not a plain table name: {table!r}")
    return table


def append_only_ddl(dialect: str, table: str) -> list[str]:
    """Statements that make ``table`` refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL).

    ``dialect`` is the SQLAlchemy dialect name, ``"sqlite"`` or ``"postgresql"``.
    Running the statements twice is harmless on PostgreSQL (``OR REPLACE``) but not on
    SQLite; migrations run them once.
    """
    table = _checked(table)
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END"
            for verb in ("UPDATE", "DELETE")
        ]
    if dialect == "postgresql":
        return [
            f"CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP "
            "USING ERRCODE = 'restrict_violation'; "
            "END $$",
            # Statement-level, so even an UPDATE or DELETE matching no row is refused.
            f"CREATE OR REPLACE TRIGGER {table}_append_only "
            f"BEFORE UPDATE OR DELETE OR TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {PG_FUNCTION}()",
        ]
    raise ValueError(f"unsupported dialect {dialect!r}")


def drop_append_only_ddl(dialect: str, table: str) -> list[str]:
    """Statements that remove the guards of :func:`append_only_ddl` from ``table``.

    For downgrades (and for tests that must simulate tampering by someone with DBA
    rights). The shared PostgreSQL function is left in place: other tables use it.
    """
    table = _checked(table)
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table}_no_{verb}" for verb in ("update", "delete")]
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"]
    raise ValueError(f"unsupported dialect {dialect!r}")
