"""``itptrace ledger ...``: checkpoints, proofs, offline verification, fsck, the public key."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from itptrace import bounded_json
from itptrace.capture.rebuild import rebuild
from itptrace.cli.common import (
    as_auditor,
    as_issuer,
    console,
    fail,
    handles_errors,
    node,
    print_json,
    read_text,
)
from itptrace.ledger import audit as auditing
from itptrace.ledger import service as ledger
from itptrace.ledger.fsck import fsck as run_fsck
from itptrace.ledger.remote import audit_remote
from itptrace.verify.adopt import adopt_unledgered

app = typer.Typer(help="The tamper-evident ledger (RFC 9162 Merkle log) of stored records.")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _verifier_keys(path: Path) -> list[str]:
    """The verifier keys of an ``export-key`` file."""
    try:
        data: Any = bounded_json.loads(read_text(path), what=str(path))
    except json.JSONDecodeError:
        raise ValueError(
            f"{path} is not JSON: give the file `itptrace ledger export-key` wrote"
        ) from None
    if not isinstance(data, dict) or data.get("format") != ledger.KEY_FORMAT:
        raise ValueError(f"{path} is not an exported ledger key ({ledger.KEY_FORMAT})")
    keys = data.get("keys")
    if not isinstance(keys, list) or not all(
        isinstance(k, dict) and isinstance(k.get("vkey"), str) for k in keys
    ):
        raise ValueError(f"{path} lists no keys with a 'vkey'")
    return [k["vkey"] for k in keys]


def _say(line: str) -> None:
    console.print(line, markup=False, highlight=False, soft_wrap=True)


def _what_was_checked(
    old_size: int,
    size: int,
    consistency: int,
    leaf: str | None,
    inclusion: int,
    remote: bool = False,
) -> list[str]:
    """The lines of ``ledger verify`` after its verdict: exactly what it checked."""
    lines = [
        f"  tree size: {size} leaves (the node's latest checkpoint); kept checkpoint: "
        f"{old_size} leaves; both signatures verified with the given key(s)"
    ]
    if old_size == 0:
        lines.append("  consistency: the kept tree is empty, a prefix of every tree; no proof")
    elif old_size == size:
        lines.append("  consistency: same size and same root as the kept checkpoint; no proof")
    else:
        lines.append(
            f"  consistency: proof from {old_size} to {size} leaves of {consistency} hash(es) "
            "verified (RFC 9162 section 2.1.4.2)"
        )
    if leaf is None:
        lines.append(
            "  records checked: none (add --seq N to recompute leaf N from its stored "
            "record and prove its inclusion)"
        )
    else:
        how = (
            "its leaf hash as the node sent it (the record is not read over HTTP)"
            if remote
            else "recomputed from its stored record"
        )
        lines.append(
            f"  records checked: 1, {leaf}, {how}; inclusion proof of {inclusion} "
            "hash(es) verified (RFC 9162 section 2.1.3.2)"
        )
    return lines


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
            remote = audit_remote(client, read_text(checkpoint), _verifier_keys(key), seq)
        _say(
            f"ok: {remote.origin} checkpoint of {remote.size} leaves verifies and "
            f"extends the checkpoint of {remote.old_size} leaves"
            + (f"; leaf {remote.leaf} is included" if remote.leaf is not None else "")
        )
        leaf = None if remote.leaf is None else f"leaf {remote.leaf}"
        for line in _what_was_checked(
            remote.old_size,
            remote.size,
            remote.consistency_hashes,
            leaf,
            remote.inclusion_hashes,
            remote=True,
        ):
            _say(line)
        return
    ctx = node()
    vkeys = _verifier_keys(key) if key is not None else ledger.verifier_keys(ctx)
    result = auditing.audit(ctx, read_text(checkpoint), vkeys, seq)
    _say(
        f"ok: {result.origin} checkpoint of {result.size} leaves verifies and extends the "
        f"checkpoint of {result.old_size} leaves"
    )
    if result.leaf is not None:
        _say(
            f"ok: leaf {result.leaf.seq} ({result.leaf.kind} {result.leaf.ref}) matches its "
            f"record and is included"
        )
    leaf = None
    if result.leaf is not None:
        leaf = f"leaf {result.leaf.seq} ({result.leaf.kind} {result.leaf.ref})"
    for line in _what_was_checked(
        result.old_size, result.size, result.consistency_hashes, leaf, result.inclusion_hashes
    ):
        _say(line)


@app.command("fsck")
@handles_errors
def fsck(
    deep: Annotated[
        bool,
        typer.Option(
            "--deep",
            help="also rebuild the current state (ui_state, stays, children) from the "
            "ledgered events and report every difference",
        ),
    ] = False,
) -> None:
    """Recompute every leaf from its record, look every record up for its leaf, and check
    nodes, roots and checkpoints."""
    ctx = node()
    report = run_fsck(ctx, as_issuer())
    found = [str(problem) for problem in report.problems]
    summary = (
        f"{report.leaves_checked} leaves, {report.records_checked} records, "
        f"{report.nodes_checked} nodes, {report.checkpoints_checked} checkpoints checked"
    )
    if deep:
        rebuilt = rebuild(ctx, as_issuer())
        found += rebuilt.differences
        summary += (
            f"; {rebuilt.events_replayed} ledgered events replayed, "
            f"{rebuilt.states_compared} states and {rebuilt.stays_compared} stays compared"
        )
    for line in found:
        _say(line)
    if found:
        raise fail(f"{len(found)} problem(s) found; {summary}")
    _say(f"ok: {summary}")


@app.command("adopt")
@handles_errors
def adopt() -> None:
    """Once, after upgrading a node from before scans and alerts were ledgered: append a
    leaf, in record order, for every scan, alert and alert status change without one.

    Run `itptrace ledger fsck` first: a record inserted behind the node's back would be
    adopted too. Running it again adopts nothing.
    """
    adopted = adopt_unledgered(node(), as_issuer())
    counts = ", ".join(f"{count} {kind}" for kind, count in adopted.counts.items())
    _say(f"ok: adopted {adopted.total} record(s) into the ledger ({counts})")


@app.command("export-key")
@handles_errors
def export_key() -> None:
    """Print the ledger's public key(s) as JSON, for verifying checkpoints offline."""
    print_json(ledger.export_ledger_key(node()))
