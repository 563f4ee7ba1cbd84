"""``itptrace capture``, ``trace``, ``report``, ``where``, ``contents``, ``refused``."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from itptrace import bounded_json
from itptrace.capture.service import capture_document
from itptrace.cli.common import (
    as_authority,
    as_issuer,
    console,
    err_console,
    handles_errors,
    node,
    print_json,
    read_text,
)
from itptrace.clock import parse_instant
from itptrace.queries import completeness as completeness_queries
from itptrace.queries import refused as refused_queries
from itptrace.queries import report as report_queries
from itptrace.queries import service as queries
from itptrace.queries import wording
from itptrace.queries.service import Node
from itptrace.queries.wording import Glossary

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def read_json(path: Path) -> Any:
    try:
        return bounded_json.loads(read_text(path), what=str(path))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None


@handles_errors
def capture(
    file: Path,
    on_behalf: Annotated[
        str | None, typer.Option("--as", help="originator for EPCIS events")
    ] = None,
    partial: Annotated[
        bool, typer.Option("--partial", help="accept the good events of a report")
    ] = False,
    as_json: Json = False,
) -> None:
    """Capture a report (native JSON messages or an EPCIS 2.0 JSON-LD document)."""
    document = read_json(file)
    with console.status(f"capturing {file.name}", spinner="dots"):
        result = capture_document(
            node(), as_issuer(), document, originator=on_behalf, all_or_nothing=not partial
        )
    if not (result.accepted or result.duplicates or result.problems):
        raise ValueError(
            f"{file} holds no messages or events: a report needs at least one (a native "
            "message, a list of them, or an EPCIS document with events in its eventList)"
        )
    if as_json:
        print_json(
            {
                "accepted": result.accepted,
                "duplicates": result.duplicates,
                "problems": result.problems,
            }
        )
    else:
        console.print(
            f"{len(result.accepted)} accepted, {len(result.duplicates)} duplicates, "
            f"{sum(not p.flag_only for p in result.problems)} problems"
        )
        for p in result.problems:
            err_console.print(
                f"{'flag' if p.flag_only else 'error'}: [{p.code}] {p.event_id or '-'}: "
                f"{p.message}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    if not result.ok:
        raise typer.Exit(1)


@handles_errors
def trace(ui: str, as_json: Json = False) -> None:
    """The chronological history of a pack, including its containers' events."""
    entries = queries.trace(node(), as_authority(), ui)
    if as_json:
        print_json(entries)
        return
    table = Table(title=f"trace of {ui}")
    for name in ("time", "event", "message", "originator", "facility", "via", "flags"):
        table.add_column(name)
    glossary = Glossary()
    for e in entries:
        table.add_row(
            wording.when(e.event_time),
            glossary.term(e.message_type) + (" (recalled)" if e.recalled else ""),
            e.event_id,
            e.originator_id,
            e.facility_id or "",
            e.via or "",
            ", ".join(glossary.term(flag) for flag in e.flags),
        )
    console.print(table)


@handles_errors
def report(ui: str, as_json: Json = False) -> None:
    """The Article 8.4.1 report of a unit pack, items (a) to (j) with their sources."""
    result = report_queries.report(node(), as_authority(), ui)
    if as_json:
        print_json(
            {
                "ui": result.ui,
                "completeness": result.completeness,
                "missing": result.missing,
                "items": result.items,
            }
        )
        return
    table = Table(title=f"Article 8.4.1 report of {ui}: {result.completeness:.0%} complete")
    for name in ("item", "what", "value", "source"):
        table.add_column(name, overflow="fold")
    glossary = Glossary()
    for item in result.items:
        head, rest = wording.item_text(item, glossary)
        value = "\n".join([head, *rest] if head else rest)
        table.add_row(f"({item.key})", item.title, value, ", ".join(item.sources))
    console.print(table)


@handles_errors
def where(ui: str, as_json: Json = False) -> None:
    """Current status, location and custodian of a UI."""
    found = queries.where(node(), as_authority(), ui)
    if as_json:
        print_json(found)
    else:
        for name, value in found.__dict__.items():
            console.print(f"{name}: {value if value is not None else '-'}")


def _tree(node_: Node) -> dict[str, Any]:
    return {
        "ui": node_.ui,
        "units": node_.unit_count,
        "children": [_tree(c) for c in node_.children],
    }


@handles_errors
def contents(
    aggregate: str,
    at: Annotated[str | None, typer.Option(help="ISO 8601 instant; default now")] = None,
    as_json: Json = False,
) -> None:
    """The tree inside a container down to unit packs, now or at a past time."""
    when: datetime | None = parse_instant(at) if at else None
    tree = queries.contents(node(), as_authority(), aggregate, when)
    if as_json:
        print_json(_tree(tree))
        return
    console.print(
        f"{aggregate}: {tree.unit_count} unit packs, {len(tree.children)} direct children"
    )
    for child in tree.children:
        console.print(f"  {child.ui}: {child.unit_count} unit packs")


@handles_errors
def refused(
    operator: Annotated[str | None, typer.Option(help="only this originator")] = None,
    limit: Annotated[int, typer.Option()] = 100,
    as_json: Json = False,
) -> None:
    """Refused reports with their reasons."""
    rows = refused_queries.list_refused(node(), as_issuer(), originator=operator, limit=limit)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        reasons = "; ".join(f"[{p['code']}] {p['message']}" for p in r.problems)
        # A message that could not even be read has no message code or type.
        what = r.event_id or "(no message code)"
        kind = r.message_type or "unreadable message"
        console.print(
            f"{r.received_at.isoformat()} {what} ({kind}) from {r.originator_id or '-'}: {reasons}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


@handles_errors
def completeness(
    sample: Annotated[
        int, typer.Option(min=1, help="how many recent packs of each manufacturer to check")
    ] = 50,
    as_json: Json = False,
) -> None:
    """Per manufacturer: which Article 8.4.1 items its packs lack."""
    rows = completeness_queries.completeness_by_operator(node(), as_authority(), sample)
    if as_json:
        print_json(rows)
        return
    for row in rows:
        weak = ", ".join(f"({k}) {row.item_share[k]:.0%}" for k in row.weakest) or "none"
        console.print(
            f"{row.operator_id}: {row.completeness:.0%} complete over "
            f"{row.packs_checked} packs; incomplete items: {weak}"
        )


events_app = typer.Typer(help="Stored events, queried with EPCIS 2.0 parameters.")


@events_app.command("query")
@handles_errors
def query(
    param: Annotated[
        list[str] | None,
        typer.Argument(
            help="NAME=VALUE pairs, e.g. EQ_bizStep=shipping GE_eventTime=2026-01-05T00:00Z"
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Query stored events (EQ_bizStep, MATCH_epc, GE_eventTime, perPage, nextPageToken, ...)."""
    from itptrace.queries.events import query_events

    params: dict[str, str] = {}
    for pair in param or []:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"query parameter {pair!r} must look like NAME=VALUE")
        params[name] = value
    ctx = node()
    page = query_events(ctx, as_authority(), params)
    if as_json:
        document = page.document(ctx.clock.now())
        print_json({"document": document, "nextPageToken": page.next_page_token})
        return
    for event in page.events:
        console.print(
            f"{event.event_time.isoformat()} {event.type} {event.action or ''} "
            f"{event.biz_step or ''} {event.event_id}",
            markup=False,
            highlight=False,
        )
    for row in page.unreadable:
        console.print(
            f"unreadable: event {row['eventID']} (seq {row['seq']}) cannot be read back "
            "as EPCIS 2.0",
            markup=False,
            highlight=False,
        )
    if page.next_page_token:
        console.print(f"more: nextPageToken={page.next_page_token}")


def register(app: typer.Typer) -> None:
    for command in (capture, trace, report, where, contents, refused, completeness):
        app.command(command.__name__)(command)
    app.add_typer(events_app, name="events")
