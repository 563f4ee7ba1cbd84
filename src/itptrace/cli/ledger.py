"""``itptrace ledger ...``: checkpoints, proofs, offline verification, fsck, the public key."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from itptrace import bounded_json
from itptrace.cli.common import (
    as_auditor,
    as_issuer,
    console,
    fail,
    handles_errors,
    node,
    print_json,
)
from itptrace.ledger import audit as auditing
from itptrace.ledger import service as ledger
from itptrace.ledger.fsck import fsck as run_fsck
from itptrace.ledger.remote import audit_remote

app = typer.Typer(help="The tamper-evident ledger (RFC 9162 Merkle log) of stored records.")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _verifier_keys(path: Path) -> list[str]:
    """The verifier keys of an ``export-key`` file."""
    data: Any = bounded_json.loads(path.read_text(), what=str(path))
    if not isinstance(data, dict) or data.get("format") != ledger.KEY_FORMAT:
        raise ValueError(f"{path} is not an exported ledger key ({ledger.KEY_FORMAT})")
    keys = data.get("keys")
    if not isinstance(keys, list) or not all(
        isinstance(k, dict) and isinstance(k.get("vkey"), str) for k in keys
    ):
        raise ValueError(f"{path} lists no keys with a 'vkey'")
    return [k["vkey"] for k in keys]


@app.command("checkpoint")
@handles_errors
def checkpoint(
    out: Annotated[Path | None, typer.Option(help="also write the note to this file")] = None,
) -> None:
    """Sign a checkpoint of the ledger as it is now and print the signed note."""
    made = ledger.make_checkpoint(node(), as_issuer())
    if out is not None:
        out.write_text(made.note)
    sys.stdout.write(made.note)


@app.command("prove")
@handles_errors
def prove(
    seq: Annotated[int, typer.Option("--seq", help="leaf sequence number")],
    size: Annotated[
        int | None, typer.Option("--size", help="tree size (default: the latest checkpoint)")
    ] = None,
) -> None:
    """Print the inclusion proof of one leaf as JSON (hashes in standard base64)."""
    proof = auditing.prove(node(), as_auditor(), seq, size)
    print_json(
        {
            "seq": proof.seq,
            "kind": proof.kind,
            "ref": proof.ref,
            "leaf_hash": _b64(proof.leaf_hash),
            "tree_size": proof.size,
            "path": [_b64(h) for h in proof.path],
            "checkpoint": proof.checkpoint,
        }
    )


@app.command("verify")
@handles_errors
def verify(
    checkpoint: Annotated[
        Path, typer.Option("--checkpoint", help="an earlier signed checkpoint you kept")
    ],
    seq: Annotated[int | None, typer.Option("--seq", help="also prove this leaf")] = None,
    key: Annotated[
        Path | None,
        typer.Option("--key", help="exported ledger key (JSON); default: the node's own keys"),
    ] = None,
    node_url: Annotated[
        str | None, typer.Option("--node", help="audit a running node over HTTP at this URL")
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", envvar="ITPTRACE_TOKEN", help="auditor's API token")
    ] = None,
) -> None:
    """Check the node's latest checkpoint against an older one, and optionally one leaf.

    Signatures are checked with the given public key only; consistency and inclusion are
    checked with the RFC 9162 verifiers over proofs the node computes.
    """
    if node_url is not None:
        if key is None or token is None:
            raise ValueError("auditing a node over HTTP needs --key and --token")
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=node_url, headers=headers, timeout=30) as client:
            remote = audit_remote(client, checkpoint.read_text(), _verifier_keys(key), seq)
        console.print(
            f"ok: {remote.origin} checkpoint of {remote.size} leaves verifies and "
            f"extends the checkpoint of {remote.old_size} leaves"
            + (f"; leaf {remote.leaf} is included" if remote.leaf is not None else ""),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return
    ctx = node()
    vkeys = _verifier_keys(key) if key is not None else ledger.verifier_keys(ctx)
    result = auditing.audit(ctx, checkpoint.read_text(), vkeys, seq)
    console.print(
        f"ok: {result.origin} checkpoint of {result.size} leaves verifies and extends the "
        f"checkpoint of {result.old_size} leaves",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if result.leaf is not None:
        console.print(
            f"ok: leaf {result.leaf.seq} ({result.leaf.kind} {result.leaf.ref}) matches its "
            f"record and is included",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


@app.command("fsck")
@handles_errors
def fsck() -> None:
    """Recompute every leaf from the stored records and check nodes, roots and checkpoints."""
    report = run_fsck(node(), as_issuer())
    for problem in report.problems:
        console.print(str(problem), markup=False, highlight=False, soft_wrap=True)
    summary = (
        f"{report.leaves_checked} leaves, {report.nodes_checked} nodes, "
        f"{report.checkpoints_checked} checkpoints checked"
    )
    if not report.ok:
        raise fail(f"{len(report.problems)} problem(s) found; {summary}")
    console.print(f"ok: {summary}", markup=False, highlight=False, soft_wrap=True)


@app.command("export-key")
@handles_errors
def export_key() -> None:
    """Print the ledger's public key(s) as JSON, for verifying checkpoints offline."""
    print_json(ledger.export_ledger_key(node()))
