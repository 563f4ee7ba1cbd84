"""Users and API tokens: who may call the node, with which single role.

A user has one role; an ``operator`` user is bound to one economic operator. A user bound to
an operator flagged ``tobacco_industry`` can only ever be an ``operator`` user (Art. 8.12):
the industry never administers the node, issues codes or reads the audit trail.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from itptrace.access import Actor, Permission, Role, authorize
from itptrace.auth import store
from itptrace.auth.model import (
    IssuedToken,
    TokenInfo,
    Unauthenticated,
    User,
    new_token,
    secret_matches,
    split_token,
)
from itptrace.context import Context
from itptrace.errors import Conflict, DomainError, NotFound
from itptrace.registry import service as registry
from itptrace.registry.model import parse_enum, require_text


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add_user(
    ctx: Context, actor: Actor, *, name: str, role: str, operator_id: str | None = None
) -> User:
    authorize(actor, Permission.USERS_MANAGE)
    parsed = parse_enum(Role, role, "role")
    if (parsed is Role.OPERATOR) != bool(operator_id):
        raise DomainError(
            "an operator user needs --operator, and only operator users have one", code="bad_user"
        )
    if operator_id:
        registry.require_operator(ctx, operator_id)
    user = User(
        "U" + secrets.token_hex(6),
        require_text(name, "user name", max_length=100),
        parsed,
        operator_id,
        True,
    )
    with ctx.db.transaction() as conn:
        if store.get_user(conn, user.name) is not None:
            raise Conflict(f"user {user.name} already exists", subject=user.name)
        store.insert_user(
            conn,
            {
                "id": user.id,
                "name": user.name,
                "role": user.role.value,
                "operator_id": operator_id,
                "active": True,
                "created_at": ctx.clock.now(),
            },
        )
    return user


def list_users(ctx: Context, actor: Actor) -> list[User]:
    authorize(actor, Permission.USERS_MANAGE)
    with ctx.db.transaction() as conn:
        rows = store.list_users(conn)
    return [User(r.id, r.name, Role(r.role), r.operator_id, r.active) for r in rows]


def disable_user(ctx: Context, actor: Actor, name: str) -> None:
    """Disable a user; every token of that user stops working at once."""
    authorize(actor, Permission.USERS_MANAGE)
    with ctx.db.transaction() as conn:
        if store.disable_user(conn, name, ctx.clock.now()) == 0:
            raise NotFound(f"no active user {name}", subject=name)


def create_token(ctx: Context, actor: Actor, *, user: str, days: int = 90) -> IssuedToken:
    authorize(actor, Permission.USERS_MANAGE)
    if not 1 <= days <= 730:
        raise DomainError("a token lives between 1 and 730 days", code="bad_token_lifetime")
    token_id, text, secret_hash = new_token()
    now = ctx.clock.now()
    expires = now + timedelta(days=days)
    with ctx.db.transaction() as conn:
        row = store.get_user(conn, user)
        if row is None or not row.active:
            raise NotFound(f"no active user {user}", subject=user)
        store.insert_token(
            conn,
            {
                "id": token_id,
                "user_id": row.id,
                "secret_hash": secret_hash,
                "created_at": now,
                "expires_at": expires,
            },
        )
    return IssuedToken(token_id, user, text, expires)


def list_tokens(ctx: Context, actor: Actor, user: str | None = None) -> list[TokenInfo]:
    """Every API token (of ``user``): id, user, dates; never a secret."""
    authorize(actor, Permission.USERS_MANAGE)
    with ctx.db.transaction() as conn:
        rows = store.list_tokens(conn, user)
    return [
        TokenInfo(
            r.id,
            r.name,
            _aware(r.created_at),
            _aware(r.expires_at),
            _aware(r.revoked_at) if r.revoked_at is not None else None,
        )
        for r in rows
    ]


def revoke_token(ctx: Context, actor: Actor, token_id: str) -> None:
    authorize(actor, Permission.USERS_MANAGE)
    with ctx.db.transaction() as conn:
        if store.revoke_token(conn, token_id, ctx.clock.now()) == 0:
            raise NotFound(f"no live token {token_id}", subject=token_id)


def authenticate(ctx: Context, token: str) -> Actor:
    """The actor behind a bearer token; Unauthenticated for anything not currently valid."""
    parts = split_token(token)
    if parts is None:
        raise Unauthenticated("the bearer token is malformed")
    with ctx.db.reading() as conn:
        row = store.token_with_user(conn, parts[0])
    # One message for every failure, so a caller learns nothing about which tokens exist.
    refused = Unauthenticated("the bearer token is unknown, expired or revoked")
    if row is None or not secret_matches(parts[1], row.secret_hash):
        raise refused
    if row.revoked_at is not None or _aware(row.expires_at) <= ctx.clock.now() or not row.active:
        raise refused
    if row.operator_id and row.tobacco_industry is None:  # its operator row is gone
        raise refused
    return Actor(row.name, Role(row.role), row.operator_id, bool(row.tobacco_industry))


def recheck(ctx: Context, actor: Actor, token_id: str | None) -> Actor:
    """``actor`` as it stands now, for work it asked for earlier (a queued job, say).

    A user of that name must still be active, and the token it came with (if any) its own,
    neither revoked nor expired; the user's current role and operator count, not those
    recorded. Without a token and without such a user, ``actor`` is one of the node's own
    principals (the local console) and stands as it is. Each refusal says why.
    """
    with ctx.db.transaction() as conn:
        user = store.get_user(conn, actor.name)
        token = store.get_token(conn, token_id) if token_id else None
    if user is None:
        if token_id is None:
            return actor
        raise Unauthenticated(
            f"user {actor.name} no longer exists", subject=actor.name, code="user_unknown"
        )
    if not user.active:
        raise Unauthenticated(
            f"user {actor.name} is disabled", subject=actor.name, code="user_disabled"
        )
    if token_id is not None:
        if token is None or token.user_id != user.id:
            raise Unauthenticated(
                f"token {token_id} is not {actor.name}'s", subject=token_id, code="token_unknown"
            )
        if token.revoked_at is not None:
            raise Unauthenticated(
                f"token {token_id} of {actor.name} was revoked",
                subject=token_id,
                code="token_revoked",
            )
        if _aware(token.expires_at) <= ctx.clock.now():
            raise Unauthenticated(
                f"token {token_id} of {actor.name} expired", subject=token_id, code="token_expired"
            )
    industry = False
    if user.operator_id:
        industry = registry.get_operator(ctx, user.operator_id).tobacco_industry
    return Actor(user.name, Role(user.role), user.operator_id, industry)


def token_id(token: str) -> str | None:
    """The id of a bearer token (its public part), or None if it is malformed."""
    parts = split_token(token)
    return parts[0] if parts else None
