"""The ``itptrace`` command: one typer app, one module per capability."""

from __future__ import annotations

from typing import Annotated

import typer

from itptrace.cli import auth, capture, codes, db, demo, epcis, ledger, registry
from itptrace.cli import verify as verify_cli
from itptrace.cli.common import Statement, as_issuer, console, fail, handles_errors, node
from itptrace.cli.serve import serve
from itptrace.codes.service import ensure_signing_key
from itptrace.config import load_settings
from itptrace.registry.service import init_party

# The default of ITPTRACE_COUNTRY, a user-assigned ISO 3166 code: no Party has it.
UNSET_COUNTRY = "ZZ"

app = typer.Typer(
    help="itptrace: independent tracking and tracing of tobacco products (ITP Article 8).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain click help: rich's option panels cut option names and choices at 80 columns
    # (``--tobacco-indust…``); click's wraps them whole.
    rich_markup_mode=None,
)
app.add_typer(db.app, name="db")
app.add_typer(registry.app, name="registry")
app.add_typer(codes.code_app, name="code")
app.add_typer(codes.keys_app, name="keys")
app.add_typer(epcis.app, name="epcis")
app.add_typer(ledger.app, name="ledger")
app.add_typer(verify_cli.app, name="verify")
app.add_typer(verify_cli.alerts_app, name="alerts")
app.command("serve")(serve)
app.command("issue")(handles_errors(codes.issue))
app.command("demo")(demo.demo)
capture.register(app)
auth.register(app)


@app.callback()
def stating(
    context: typer.Context,
    purpose: Annotated[
        str | None,
        typer.Option("--purpose", help="Why the data is needed (kept in the audit trail)."),
    ] = None,
    case: Annotated[
        str | None,
        typer.Option("--case", help="The case reference the command serves (audit trail)."),
    ] = None,
) -> None:
    """itptrace: independent tracking and tracing of tobacco products (ITP Article 8)."""
    context.obj = Statement(purpose, case)


@app.command("init")
@handles_errors
def init(
    quiet: Annotated[bool, typer.Option("--quiet", help="Print nothing on success.")] = False,
) -> None:
    """Create or upgrade the database, record the Party and make the first signing key."""
    if load_settings().country == UNSET_COUNTRY:
        raise fail(
            "ITPTRACE_COUNTRY is not set: set it to your Party's ISO 3166-1 alpha-2 code "
            "(e.g. export ITPTRACE_COUNTRY=KE) and run itptrace init again"
        )
    ctx = node(migrate=True)
    party = init_party(ctx)
    key = ensure_signing_key(ctx, as_issuer())
    if not quiet:
        console.print(
            f"node ready: Party {party.country}, issuer code {party.issuer_code}, "
            f"signing key {key.kid}, database {ctx.db.engine.url.render_as_string()}"
        )


def main() -> None:
    app()
