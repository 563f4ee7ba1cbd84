"""``itptrace epcis``: check EPCIS 2.0 JSON-LD documents and print their event hash IDs.

Both commands read a capture document, a query document or one bare event
(``-`` reads standard input) and need no node: they work offline.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from itptrace import bounded_json
from itptrace.cli.common import console, err_console, fail, handles_errors, print_json
from itptrace.epcis import EpcisDocument, EpcisValidationError, parse_document

app = typer.Typer(
    help="Validate EPCIS 2.0 JSON-LD documents and print their CBV 2.0 event hash IDs."
)

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Document = Annotated[
    Path,
    typer.Argument(help="EPCIS 2.0 JSON-LD: capture or query document, or one event (- = stdin)."),
]


def _load(path: Path) -> Any:
    """The JSON in ``path``; an unreadable file or non-JSON text ends the command."""
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise fail(f"{path} is not UTF-8 text") from None
    try:
        return bounded_json.loads(text, what=str(path))
    except json.JSONDecodeError as exc:
        raise fail(f"{path} is not JSON: {exc}") from None


def _parse(path: Path, as_json: bool) -> EpcisDocument:
    """The parsed document, or every issue reported and exit status 1."""
    try:
        return parse_document(_load(path))
    except EpcisValidationError as exc:
        if as_json:
            print_json({"valid": False, "issues": [asdict(issue) for issue in exc.issues]})
        else:
            for issue in exc.issues:
                err_console.print(f"error: {issue}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


@app.command("validate")
@handles_errors
def validate(file: Document, as_json: Json = False) -> None:
    """Check a document against EPCIS 2.0 and CBV 2.0; list every problem found."""
    document = _parse(file, as_json)
    if as_json:
        print_json({"valid": True, "kind": document.kind, "events": len(document.events)})
    else:
        console.print(f"valid: {len(document.events)} events", markup=False, highlight=False)


@app.command("hash")
@handles_errors
def hash_ids(file: Document, as_json: Json = False) -> None:
    """Print the CBV 2.0 event hash ID of each event, one a line, in document order."""
    document = _parse(file, as_json)
    if as_json:
        print_json(
            [
                {"index": i, "type": e.type, "event_id": e.event_id, "hash_id": e.hash_id}
                for i, e in enumerate(document.events)
            ]
        )
        return
    for event in document.events:
        console.print(event.hash_id, markup=False, highlight=False, soft_wrap=True)
