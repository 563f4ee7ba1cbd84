"""``itptrace users``, ``itptrace tokens`` and ``itptrace audit``."""

from __future__ import annotations

from typing import Annotated

import typer

from itptrace.auth import audit as audit_trail
from itptrace.auth import service
from itptrace.cli.common import as_authority, as_issuer, console, handles_errors, node, print_json
from itptrace.clock import parse_instant

users_app = typer.Typer(help="People and systems that may call the node's API.")
tokens_app = typer.Typer(help="API tokens (shown once, stored only as hashes).")

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@users_app.command("add")
@handles_errors
def add(
    name: str,
    role: Annotated[
        str, typer.Option(help="issuer_admin, authority, inspector, auditor, operator, gsp_peer")
    ],
    operator: Annotated[
        str | None, typer.Option(help="economic operator id (operator users)")
    ] = None,
) -> None:
    """Create a user with one role."""
    user = service.add_user(node(), as_issuer(), name=name, role=role, operator_id=operator)
    console.print(
        f"user {user.name} ({user.role.value}{', ' + user.operator_id if user.operator_id else ''})"
    )


@users_app.command("list")
@handles_errors
def list_users(as_json: Json = False) -> None:
    """List users."""
    rows = service.list_users(node(), as_issuer())
    if as_json:
        print_json(rows)
        return
    for u in rows:
        state = "active" if u.active else "disabled"
        console.print(f"{u.name}\t{u.role.value}\t{u.operator_id or '-'}\t{state}")


@users_app.command("disable")
@handles_errors
def disable(name: str) -> None:
    """Disable a user and with it every token of theirs."""
    service.disable_user(node(), as_issuer(), name)
    console.print(f"user {name} disabled")


@tokens_app.command("create")
@handles_errors
def create(
    user: Annotated[str, typer.Option(help="user name")],
    days: Annotated[int, typer.Option(help="lifetime in days")] = 90,
) -> None:
    """Create an API token; it is printed once and cannot be shown again."""
    issued = service.create_token(node(), as_issuer(), user=user, days=days)
    typer.echo(issued.token)
    err = console.__class__(stderr=True)
    err.print(f"token {issued.id} for {issued.user}, expires {issued.expires_at:%Y-%m-%d}")


@tokens_app.command("list")
@handles_errors
def list_tokens(
    user: Annotated[str | None, typer.Option(help="only this user's tokens")] = None,
    as_json: Json = False,
) -> None:
    """List API tokens: id, user, state and dates (never the secret, shown once at creation)."""
    ctx = node()
    rows = service.list_tokens(ctx, as_issuer(), user)
    now = ctx.clock.now()
    if as_json:
        print_json([{**row.__dict__, "state": row.state(now)} for row in rows])
        return
    if not rows:
        console.print("no tokens" + (f" for {user}" if user else ""))
    for row in rows:  # tab-separated as written (rich would turn the tabs into spaces)
        typer.echo(
            f"{row.id}\t{row.user}\t{row.state(now)}\tcreated {row.created_at:%Y-%m-%d}"
            f"\texpires {row.expires_at:%Y-%m-%d}"
            + (f"\trevoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "")
        )


@tokens_app.command("revoke")
@handles_errors
def revoke(token_id: str) -> None:
    """Revoke a token by its id (the part after itp_)."""
    service.revoke_token(node(), as_issuer(), token_id)
    console.print(f"token {token_id} revoked")


@handles_errors
def audit(
    user: Annotated[str | None, typer.Option()] = None,
    endpoint: Annotated[str | None, typer.Option()] = None,
    since: Annotated[str | None, typer.Option(help="ISO 8601 instant")] = None,
    until: Annotated[str | None, typer.Option(help="ISO 8601 instant")] = None,
    limit: Annotated[int, typer.Option()] = 100,
    as_json: Json = False,
) -> None:
    """The audit trail: who read which pack-level data, and every denied request."""
    rows = audit_trail.list_audit(
        node(),
        as_authority(),
        user=user,
        endpoint=endpoint,
        since=parse_instant(since) if since else None,
        until=parse_instant(until) if until else None,
        limit=limit,
    )
    if as_json:
        print_json(rows)
        return
    for r in rows:
        console.print(
            f"{r.seq}\t{r.at:%Y-%m-%d %H:%M:%S}\t{r.user or '-'}\t{r.role or '-'}\t"
            f"{r.method} {r.endpoint}\t{r.outcome} {r.status}\t{r.result_count} results\t"
            f"{r.purpose or ''}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
    app.command("audit")(audit)
