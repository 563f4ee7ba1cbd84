"""SQL for users, tokens and the audit log."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Insert, Row, Select, bindparam, func, insert, select, update

from itptrace.repository.schema import api_tokens, audit_log, operators, users


def insert_user(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(users).values(**values))


def get_user(conn: Connection, name: str) -> Row[Any] | None:
    return conn.execute(select(users).where(users.c.name == name)).first()


def list_users(conn: Connection) -> list[Row[Any]]:
    return list(conn.execute(select(users).order_by(users.c.name)))


def disable_user(conn: Connection, name: str, now: datetime) -> int:
    result = conn.execute(
        update(users)
        .where(users.c.name == name, users.c.active.is_(True))
        .values(active=False, disabled_at=now)
    )
    return result.rowcount


def insert_token(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(api_tokens).values(**values))


def token_with_user(conn: Connection, token_id: str) -> Any:
    """A token, its user and (for an operator user) the operator's industry flag: one query,
    as every authenticated request runs it."""
    return conn.execute(_token_query(), {"token_id": token_id}).first()


@functools.lru_cache(maxsize=1)
def _token_query() -> Select[Any]:
    """Built once (an immutable statement): every authenticated request runs it."""
    return (
        select(
            api_tokens.c.secret_hash,
            api_tokens.c.expires_at,
            api_tokens.c.revoked_at,
            users.c.name,
            users.c.role,
            users.c.operator_id,
            users.c.active,
            operators.c.tobacco_industry,
        )
        .join(users, users.c.id == api_tokens.c.user_id)
        .outerjoin(operators, operators.c.id == users.c.operator_id)
        .where(api_tokens.c.id == bindparam("token_id"))
    )


def list_tokens(conn: Connection, user: str | None) -> list[Row[Any]]:
    """Every token (of ``user``), oldest first, with its user's name; no secret hashes."""
    t = api_tokens.c
    query = (
        select(t.id, users.c.name, t.created_at, t.expires_at, t.revoked_at)
        .join(users, users.c.id == t.user_id)
        .order_by(t.created_at, t.id)
    )
    if user is not None:
        query = query.where(users.c.name == user)
    return list(conn.execute(query))


def get_token(conn: Connection, token_id: str) -> Row[Any] | None:
    return conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()


def revoke_token(conn: Connection, token_id: str, now: datetime) -> int:
    result = conn.execute(
        update(api_tokens)
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount


def insert_audit(conn: Connection, values: dict[str, Any]) -> int:
    return int(conn.execute(_insert_audit(), values).scalar_one())


@functools.lru_cache(maxsize=1)
def _insert_audit() -> Insert:
    return insert(audit_log).returning(audit_log.c.seq)


def insert_audits(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Store many audit records with one statement; their sequence numbers, in order."""
    if len(rows) == 1:
        return [insert_audit(conn, rows[0])]
    if conn.dialect.name == "sqlite":
        # SQLite's RETURNING has no defined order, so SQLAlchemy would insert the rows one
        # by one. The numbers are given here instead: a write transaction on SQLite holds the
        # database's write lock (or fails), so nobody else numbers a record meanwhile.
        last = conn.execute(select(func.max(audit_log.c.seq))).scalar() or 0
        seqs = list(range(int(last) + 1, int(last) + 1 + len(rows)))
        conn.execute(
            insert(audit_log), [{**row, "seq": seq} for row, seq in zip(rows, seqs, strict=True)]
        )
        return seqs
    query = insert(audit_log).returning(audit_log.c.seq, sort_by_parameter_order=True)
    return [int(seq) for seq in conn.execute(query, rows).scalars()]


def audit_rows(conn: Connection, filters: dict[str, Any], limit: int, after: int) -> list[Row[Any]]:
    query = select(audit_log).where(audit_log.c.seq > after)
    if filters.get("user"):
        query = query.where(audit_log.c.user_name == filters["user"])
    if filters.get("endpoint"):
        query = query.where(audit_log.c.endpoint == filters["endpoint"])
    if filters.get("since"):
        query = query.where(audit_log.c.at >= filters["since"])
    if filters.get("until"):
        query = query.where(audit_log.c.at < filters["until"])
    return list(conn.execute(query.order_by(audit_log.c.seq).limit(limit)))


def audit_row(conn: Connection, seq: int) -> Row[Any] | None:
    return conn.execute(select(audit_log).where(audit_log.c.seq == seq)).first()
