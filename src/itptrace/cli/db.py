"""``itptrace db ...``: the database schema, migrated only when asked."""

from __future__ import annotations

import typer

from itptrace.bootstrap import schema_revision
from itptrace.cli.common import console, handles_errors, node

app = typer.Typer(help="The node's database schema (only `init` and `db upgrade` change it).")


@app.command("upgrade")
@handles_errors
def upgrade() -> None:
    """Bring the database schema up to date: a no-op when it is, the whole schema when the
    database is empty. Safe while other processes do the same (one migrates at a time)."""
    before, _ = schema_revision()
    ctx = node(migrate=True)
    ctx.db.dispose()
    after, _ = schema_revision(ctx.settings)
    if before == after:
        console.print(f"database schema already at {after}")
    else:
        console.print(f"database schema upgraded from {before or 'nothing'} to {after}")


@app.command("status")
@handles_errors
def status() -> None:
    """Print the database's schema and the newest one this itptrace knows; changes nothing."""
    found, head = schema_revision()
    if found is None:
        advice = "no schema: run `itptrace init`"
    elif found == head:
        advice = "up to date"
    else:
        advice = "run `itptrace db upgrade`"
    console.print(f"database schema {found or 'none'}, newest {head}: {advice}")
