"""SQL for users, tokens and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

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
    query = (
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
        .where(api_tokens.c.id == token_id)
    )
    return conn.execute(query).first()


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
    result = conn.execute(insert(audit_log).values(**values).returning(audit_log.c.seq))
    return int(result.scalar_one())


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
