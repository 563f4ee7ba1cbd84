"""Users, API tokens and audit entries (pure).

A token is ``itp_<id>_<secret>``: the id finds the row, the secret is never stored, only
its SHA-256, compared in constant time. The secret carries 256 bits from the CSPRNG.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from itptrace.access import Actor, Role
from itptrace.errors import DomainError

TOKEN_PATTERN = re.compile(r"^itp_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$")


class Unauthenticated(DomainError):
    """No valid credentials: a missing, unknown, expired or revoked token, or a disabled user."""

    code = "unauthenticated"


@dataclass(frozen=True)
class User:
    id: str
    name: str
    role: Role
    operator_id: str | None
    active: bool


@dataclass(frozen=True)
class TokenInfo:
    """A stored token as its administrators see it: never its secret nor its hash."""

    id: str
    user: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "live"


@dataclass(frozen=True)
class IssuedToken:
    """A new token; ``token`` is shown once and never stored."""

    id: str
    user: str
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class AuditEntry:
    actor: Actor | None
    purpose: str | None
    method: str
    endpoint: str
    params: dict[str, Any]
    result_count: int
    outcome: str  # ok, denied or error
    status: int


@dataclass(frozen=True)
class AuditRow:
    seq: int
    at: datetime
    user: str | None
    role: str | None
    operator_id: str | None
    purpose: str | None
    method: str
    endpoint: str
    params: dict[str, Any]
    result_count: int
    outcome: str
    status: int


def new_token() -> tuple[str, str, str]:
    """(id, full token text, hash of the secret)."""
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return token_id, f"itp_{token_id}_{secret}", hash_secret(secret)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str] | None:
    match = TOKEN_PATTERN.match(token.strip())
    return (match[1], match[2]) if match else None


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
