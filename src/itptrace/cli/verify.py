"""``itptrace verify scan|export-offline|bundle-key|pin|sync`` and ``itptrace alerts ...``.

``alerts list|show|set-status`` concern the alerts raised by verifications; ``alerts
custody`` lists the custody alerts capture raised (arrivals of goods never dispatched to
the reporter), which have ids of their own and no status.

``verify scan`` verifies a scanned code (``--typed`` for one typed in by hand, whose tag is
not checked; ``--image`` for a photo of one) against the node, or with ``--offline DIR``
against an offline bundle alone (no database, no network; the scan is queued in DIR for
``verify sync``). It exits 0 for an authentic pack, 3 for any other verdict and 1 when the
verification itself is refused.

Offline trust is provisioned out of band: on the node, ``verify bundle-key --out FILE``
writes the node's bundle public key; on the device, ``verify pin FILE`` pins it in the
device's trust store (``ITPTRACE_TRUST_DIR``). A device verifies offline only from bundles
signed by a pinned key, never older than the newest it has accepted.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from itptrace.capture.custody_alerts import list_custody_alerts
from itptrace.cli.common import as_authority, console, handles_errors, node, print_json
from itptrace.clock import clock_from_setting, parse_instant
from itptrace.config import load_settings
from itptrace.verify import alerts as alerting
from itptrace.verify import exchange, queue
from itptrace.verify.bundle import BundleError, verify_offline_bundle
from itptrace.verify.model import Place, ScanInput, Verdict, VerifyError
from itptrace.verify.service import decode_photo, verify
from itptrace.verify.trust import DeviceTrust

app = typer.Typer(help="Verify codes as an inspector: online, offline or from a photo.")
alerts_app = typer.Typer(
    help="Alerts raised by verifications and custody alerts raised by capture, for the authorities."
)
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
NOT_AUTHENTIC = 3  # 1 is a refusal, 2 a usage error (click)


def _scan_text(code: str | None, image: Path | None) -> str:
    if (code is None) == (image is None):
        raise VerifyError("give either a code or --image, not both or neither")
    if image is None:
        return str(code)
    # The same cap as ``/verify/image``: a photo's header is read before it is decoded.
    return decode_photo(image, max_pixels=load_settings().image_max_pixels)


def _say_verdict(verdict: Verdict, lines: list[str]) -> None:
    console.print(f"{verdict.value.upper()}", markup=False, highlight=False)
    for line in lines:
        console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)


@app.command("scan")
@handles_errors
def scan(
    code: Annotated[str | None, typer.Argument(help="the scanned or typed code")] = None,
    country: Annotated[str, typer.Option(help="where it is scanned, ISO 3166-1 alpha-2")] = "",
    image: Annotated[Path | None, typer.Option(help="a photo of the code instead")] = None,
    offline: Annotated[Path | None, typer.Option(help="verify from this bundle only")] = None,
    typed: Annotated[
        bool, typer.Option("--typed", help="the code was typed in: check state, not the tag")
    ] = False,
    place: Annotated[str | None, typer.Option(help="place name")] = None,
    lat: Annotated[float | None, typer.Option(help="latitude")] = None,
    lon: Annotated[float | None, typer.Option(help="longitude")] = None,
    gtin: Annotated[str | None, typer.Option(help="GTIN printed on the pack")] = None,
    brand: Annotated[str | None, typer.Option(help="brand seen on the pack")] = None,
    scan_id: Annotated[str | None, typer.Option(help="scan UUID (default: a new one)")] = None,
    at: Annotated[str | None, typer.Option(help="scan time, ISO 8601 (default: now)")] = None,
    as_json: Json = False,
) -> None:
    """Verify one code; exit 0 if authentic, 3 for any other verdict."""
    if not country:
        raise VerifyError("--country is required (ISO 3166-1 alpha-2, e.g. KE)")
    text = _scan_text(code, image)
    if typed and image is not None:
        raise VerifyError("--typed is for a code typed in by hand, not a photo")
    where = Place(country, place, lat, lon)
    ident = scan_id or str(uuid.uuid4())
    if offline is not None:
        now = parse_instant(at) if at else datetime.now(UTC)
        trust = DeviceTrust(load_settings().trust_dir)
        check = verify_offline_bundle(text, offline, now, trust)
        scan_input = ScanInput(text, where, now, ident, gtin, brand, source="offline")
        queue.enqueue(offline, scan_input, check.verdict.value)
        if as_json:
            print_json({"scan_id": scan_input.scan_id, "offline": True, **check.__dict__})
        else:
            lines = [f"[{r.code.value}] {r.message}" for r in check.reasons]
            lines.append(f"queued as {scan_input.scan_id} for upload (verify sync)")
            _say_verdict(check.verdict, lines)
        verdict = check.verdict
    else:
        ctx = node()
        when = parse_instant(at) if at else ctx.clock.now()
        source = "image" if image is not None else "typed" if typed else "online"
        result = verify(
            ctx, as_authority(), ScanInput(text, where, when, ident, gtin, brand, source)
        )
        if as_json:
            print_json(result)
        else:
            lines = [f"[{r.code.value}] {r.message}" for r in result.reasons]
            facts = result.facts
            if facts is not None:
                lines.append(
                    f"{facts.brand or facts.gtin} by {facts.manufacturer or facts.manufacturer_id}"
                    f", made {facts.manufactured_at or 'unknown'} at {facts.facility}, "
                    f"for {facts.intended_market or '-'}, held by {facts.custodian or '-'}"
                )
            lines += [f"alert {a} raised" for a in result.alerts]
            _say_verdict(result.verdict, lines)
        verdict = result.verdict
    if verdict is not Verdict.AUTHENTIC:
        raise typer.Exit(NOT_AUTHENTIC)


@app.command("export-offline")
@handles_errors
def export_offline(
    out: Annotated[Path, typer.Option(help="directory for the bundle")],
    as_json: Json = False,
) -> None:
    """Write a signed offline bundle: public keys, code patterns, revoked UIs (Bloom filter)."""
    ctx = node()
    path = exchange.export_offline_bundle(ctx, as_authority(), out)
    manifest = json.loads((path / "bundle.json").read_text())
    summary = {
        "directory": str(path),
        "valid_until": manifest["valid_until"],
        "revoked_entries": manifest["revoked"]["entries"],
        "false_positive_rate": manifest["revoked"]["false_positive_rate"],
        "bundle_key_id": exchange.bundle_key_id(ctx),
    }
    if as_json:
        print_json(summary)
    else:
        console.print(
            f"bundle written to {path}: {summary['revoked_entries']} revoked UIs, "
            f"false-positive rate {summary['false_positive_rate']:.2g}, valid until "
            f"{summary['valid_until']}, signed by bundle key {summary['bundle_key_id']} "
            "(devices must have it pinned: verify bundle-key, then verify pin)",
            markup=False,
        )


@app.command("bundle-key")
@handles_errors
def bundle_key(
    out: Annotated[Path, typer.Option(help="file for the bundle public key")],
) -> None:
    """Write the node's bundle public key, to pin on inspector devices (verify pin)."""
    document = exchange.bundle_key_document(node(), as_authority())
    out.write_text(json.dumps(document, indent=1) + "\n")
    console.print(
        f"bundle key {document['kid']} written to {out}: carry it to each device yourself "
        "(not with a bundle) and run 'itptrace verify pin' there",
        markup=False,
    )


@app.command("pin")
@handles_errors
def pin(
    key_file: Annotated[Path, typer.Argument(help="the node's bundle key file")],
) -> None:
    """Pin a node's bundle key on this device: offline bundles are trusted by it alone."""
    try:
        document = json.loads(key_file.read_text())
    except ValueError:
        raise BundleError(f"{key_file} is not a bundle key file (not JSON)") from None
    except OSError:
        raise BundleError(f"cannot read the bundle key file {key_file}") from None
    settings = load_settings()
    try:
        now = clock_from_setting(settings.clock).now()
        kid = DeviceTrust(settings.trust_dir).pin(document, now)
    except ValueError as exc:
        raise BundleError(f"{key_file}: {exc}") from None
    except OSError as exc:
        raise BundleError(
            f"cannot write the trust store {settings.trust_dir} ({exc.strerror}): check "
            "ITPTRACE_TRUST_DIR"
        ) from None
    console.print(f"bundle key {kid} pinned in {settings.trust_dir}", markup=False)


@app.command("sync")
@handles_errors
def sync(
    bundle: Annotated[Path, typer.Option(help="the bundle directory holding queued scans")],
    as_json: Json = False,
) -> None:
    """Upload the scans queued offline; each is stored once, whatever happens."""
    result = exchange.sync_offline_scans(node(), as_authority(), bundle)
    if as_json:
        print_json(result)
    else:
        verdicts = [v.verdict.value for v in result.verifications]
        counts = ", ".join(f"{verdicts.count(v)} {v}" for v in sorted(set(verdicts)))
        console.print(
            f"{result.uploaded} uploaded, {result.repeated} already stored, "
            f"{len(result.failed)} refused" + (f" ({counts})" if counts else ""),
            markup=False,
        )
    for failure in result.failed:
        console.print(f"refused: {failure}", markup=False)
    if result.failed:
        raise typer.Exit(1)


@alerts_app.command("list")
@handles_errors
def list_alerts(
    status: Annotated[str | None, typer.Option(help="open, investigating or closed")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="alert type")] = None,
    limit: Annotated[int, typer.Option(help="at most this many")] = 100,
    after: Annotated[int, typer.Option(help="only alerts after this id")] = 0,
    as_json: Json = False,
) -> None:
    """Alerts, oldest first."""
    found = alerting.list_alerts(
        node(), as_authority(), status=status, type_=type_, limit=limit, after=after
    )
    if as_json:
        print_json(found)
        return
    for a in found:
        console.print(
            f"{a.id}\t{a.status.value}\t{a.severity}\t{a.type}\t{a.ui or '-'}\t"
            f"{a.raised_at.isoformat()}",
            markup=False,
        )


@alerts_app.command("custody")
@handles_errors
def list_custody(
    limit: Annotated[int, typer.Option(help="at most this many")] = 100,
    after: Annotated[int, typer.Option(help="only alerts after this id")] = 0,
    as_json: Json = False,
) -> None:
    """Custody alerts (arrivals of goods never dispatched to the reporter), oldest first."""
    found = list_custody_alerts(node(), as_authority(), after=after, limit=limit)
    if as_json:
        print_json(found)
        return
    for a in found:
        holders = ",".join(f"{h or '-'}:{len(uis)}" for h, uis in sorted(a.holders.items()))
        console.print(
            f"{a.id}\t{a.outcome}\t{a.reporter_id}\t{a.facility_id or '-'}\t{holders}\t"
            f"{a.event_id}\t{a.raised_at.isoformat()}",
            markup=False,
        )


@alerts_app.command("show")
@handles_errors
def show_alert(alert_id: int) -> None:
    """One alert with its evidence."""
    print_json(alerting.get_alert(node(), as_authority(), alert_id))


@alerts_app.command("set-status")
@handles_errors
def set_status(
    alert_id: int,
    status: Annotated[str, typer.Argument(help="open, investigating or closed")],
    note: Annotated[str, typer.Option(help="why")] = "",
) -> None:
    """Change an alert's status (the change is recorded with who and when)."""
    alert = alerting.set_alert_status(node(), as_authority(), alert_id, status, note)
    console.print(f"alert {alert.id} is {alert.status.value}", markup=False)
