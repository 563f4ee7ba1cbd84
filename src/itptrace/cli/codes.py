"""``itptrace issue``, ``itptrace code ...`` and ``itptrace keys ...``."""

from __future__ import annotations

import contextlib
import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from itptrace.cli.common import (
    as_issuer,
    console,
    err_console,
    fail,
    handles_errors,
    node,
    print_json,
)
from itptrace.codes import keyring, lifecycle
from itptrace.codes import service as issuer
from itptrace.codes.model import Profile
from itptrace.codes.offline import PublicKeySet, verify_offline
from itptrace.gs1 import datamatrix
from itptrace.gs1.element import CodePayload, parse_scan, to_element_string

code_app = typer.Typer(help="Render, decode, verify and deactivate codes.")
keys_app = typer.Typer(help="The issuer's signing keys.")

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def code_text(payload: CodePayload) -> str:
    """How a code is written to files: the GS1 element string, or the bare aggregated UI."""
    return to_element_string(payload) if payload.gtin else payload.ui


def write_codes(path: Path, payloads: list[CodePayload]) -> None:
    if path.suffix == ".csv":
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["code", "gtin", "key_id", "tag", "element_string"])
            for p in payloads:
                writer.writerow([p.ui, p.gtin or "", p.key_id or "", p.tag or "", code_text(p)])
    elif path.suffix == ".json":
        path.write_text(json.dumps([p.__dict__ for p in payloads], indent=1))
    else:
        path.write_text("".join(code_text(p) + "\n" for p in payloads))


def issue(
    operator: Annotated[str, typer.Option(help="requesting operator id")],
    facility: Annotated[str, typer.Option(help="facility id")],
    count: Annotated[int, typer.Option(help="how many codes")],
    out: Annotated[Path, typer.Option(help="file for the codes (.txt, .csv or .json)")],
    machine: Annotated[str | None, typer.Option(help="machine id (unit UIs)")] = None,
    product: Annotated[str | None, typer.Option(help="product GTIN (unit UIs)")] = None,
    market: Annotated[str | None, typer.Option(help="intended market, ISO 3166-1 alpha-2")] = None,
    route: Annotated[str, typer.Option(help="intended shipment route")] = "",
    importer: Annotated[str | None, typer.Option(help="importer operator id")] = None,
    aggregate: Annotated[bool, typer.Option("--aggregate", help="aggregated UIs")] = False,
    profile: Annotated[Profile | None, typer.Option(help="signed (default) or eu")] = None,
    as_json: Json = False,
) -> None:
    """Issue unit-level (default) or aggregated UIs and write them to a file."""
    ctx = node()
    show_bar = count >= 50_000 and err_console.is_terminal
    with Progress(console=err_console, transient=True, disable=not show_bar) as bar:
        task = bar.add_task("issuing", total=count)

        def advance(done: int) -> None:
            bar.advance(task, done)

        if aggregate:
            batch = issuer.request_aggregate_codes(
                ctx,
                as_issuer(),
                issuer.AggregateRequest(operator, facility, count, profile),
                advance,
            )
        else:
            if not (machine and product and market):
                raise fail("unit UIs need --machine, --product and --market")
            request = issuer.UnitRequest(
                operator, facility, machine, product, market, count, route, importer, profile
            )
            batch = issuer.request_unit_codes(ctx, as_issuer(), request, advance)
    # Reading and writing a large request's codes takes as long again as issuing them.
    with (
        err_console.status(f"writing {batch.quantity} codes to {out}", spinner="dots")
        if show_bar
        else contextlib.nullcontext()
    ):
        write_codes(out, list(lifecycle.request_codes(ctx, as_issuer(), batch.request_id)))
    if as_json:
        print_json(batch)
    else:
        console.print(f"request {batch.request_id}: {batch.quantity} {batch.kind} UIs -> {out}")


@code_app.command("render")
@handles_errors
def render(
    code: str,
    out: Annotated[Path, typer.Option(help=".png or .svg")],
    module_px: Annotated[int, typer.Option(help="pixels per module")] = 8,
) -> None:
    """Draw a code as a GS1 Data Matrix (ECC200, FNC1 first)."""
    payload = parse_scan(code)
    if out.suffix == ".svg":
        out.write_text(datamatrix.render_svg(payload, module_px=module_px))
    else:
        datamatrix.render_png(payload, out, module_px=module_px)
    rows, cols = datamatrix.symbol_size(payload)
    console.print(f"{out}: Data Matrix {rows}x{cols} modules")


@code_app.command("decode")
@handles_errors
def decode(image: Path, as_json: Json = False) -> None:
    """Read every Data Matrix in an image and print its element string."""
    texts = datamatrix.decode_image(image)
    if not texts:
        raise fail(f"no Data Matrix found in {image}")
    payloads = [parse_scan(text) for text in texts]
    if as_json:
        print_json(payloads)
        return
    for payload in payloads:
        typer.echo(code_text(payload))  # plain: a terminal's width must never wrap a code


@code_app.command("verify")
@handles_errors
def verify(
    code: str,
    keys: Annotated[Path, typer.Option(help="public keys JSON (itptrace keys export)")],
    as_json: Json = False,
) -> None:
    """Verify a code offline (no database, no network); exit 1 when it is not valid."""
    verdict = verify_offline(code, PublicKeySet.load(keys), datetime.now(UTC))
    if as_json:
        print_json({"valid": verdict.valid, "reason": verdict.reason, "detail": verdict.detail})
    else:
        word = "valid" if verdict.valid else "INVALID"
        console.print(f"{word}: {verdict.reason.value} ({verdict.detail})", markup=False)
    if not verdict.valid:
        raise typer.Exit(1)


@code_app.command("show")
@handles_errors
def show(code: str) -> None:
    """The issuance record and state of a code."""
    print_json(lifecycle.lookup_code(node(), parse_scan(code).ui))


@code_app.command("request")
@handles_errors
def show_request(request_id: int) -> None:
    """A code request and how many of its codes are issued, expired, cancelled, deactivated."""
    print_json(lifecycle.get_request(node(), as_issuer(), request_id))


@code_app.command("list")
@handles_errors
def list_codes(
    request_id: int,
    after: Annotated[
        str | None, typer.Option(help="start after this code (the 'next' of the last page)")
    ] = None,
    limit: Annotated[int, typer.Option(help="codes per page")] = 1000,
) -> None:
    """One page of a request's codes in code order; the next page's --after goes to stderr."""
    page = lifecycle.code_page(node(), as_issuer(), request_id, after=after, limit=limit)
    for payload in page.codes:
        typer.echo(code_text(payload))
    if page.next_after is not None:
        err_console.print(f"next: --after {page.next_after}", markup=False, highlight=False)


@code_app.command("deactivate")
@handles_errors
def deactivate(
    codes: list[str],
    reason: Annotated[str, typer.Option(help="destroyed, stolen, lost, ...")],
    detail: Annotated[str, typer.Option()] = "",
) -> None:
    """Deactivate codes with a reason (history is kept)."""
    uis = [parse_scan(code).ui for code in codes]
    count = lifecycle.deactivate_codes(node(), as_issuer(), uis, reason, detail)
    console.print(f"{count} code(s) deactivated ({reason})")


@code_app.command("cancel-request")
@handles_errors
def cancel_request(request_id: int, reason: Annotated[str, typer.Option()] = "cancelled") -> None:
    """Cancel a code request within the cancellation window."""
    lifecycle.cancel_request(node(), as_issuer(), request_id, reason)
    console.print(f"request {request_id} cancelled")


@keys_app.command("export")
@handles_errors
def export(
    out: Annotated[Path | None, typer.Option(help="file; stdout if omitted")] = None,
) -> None:
    """Write the issuer's public keys and UI layout as JSON, for inspectors and the GSP."""
    text = json.dumps(lifecycle.export_public_keys(node()), indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text)
        console.print(f"public keys written to {out}")


@keys_app.command("rotate")
@handles_errors
def rotate(
    archive: Annotated[
        Path | None,
        typer.Option(help="first write the current private key to this new file (0600)"),
    ] = None,
) -> None:
    """Make a new signing key; the old one is retired and its private key file removed
    (its tags still verify for the shelf life of its codes)."""
    ctx = node()
    old = ctx.keys.active_kid()
    if archive is not None and old is not None:
        keyring.archive_key(ctx, as_issuer(), old, archive)
        console.print(f"private key {old} archived to {archive}", markup=False)
    info = issuer.rotate_key(ctx, as_issuer())
    retired = f"; key {old} retired, its private key removed from the node" if old else ""
    console.print(f"new active key {info.kid}{retired}", markup=False)


@keys_app.command("revoke")
@handles_errors
def revoke(
    kid: Annotated[str, typer.Argument(help="the key id to revoke")],
    reason: Annotated[str, typer.Option(help="why (e.g. compromised)")],
) -> None:
    """Revoke a signing key: its tags are refused online and in every later offline bundle."""
    ctx = node()
    info = keyring.revoke_key(ctx, as_issuer(), kid, reason)
    console.print(
        f"key {info.kid} revoked; make offline bundles again so devices learn it"
        + ("" if ctx.keys.active_kid() else "; run 'itptrace keys rotate' for a new key"),
        markup=False,
    )


@keys_app.command("archive")
@handles_errors
def archive_key(
    kid: Annotated[str, typer.Argument(help="the active key's id")],
    out: Annotated[Path, typer.Option(help="a new file for the private key (0600)")],
) -> None:
    """Write the active private key to a file for safekeeping off the node."""
    path = keyring.archive_key(node(), as_issuer(), kid, out)
    console.print(f"private key {kid} archived to {path}", markup=False)
