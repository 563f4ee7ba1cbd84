"""The device's queue of scans made offline, waiting to be uploaded (JSON lines, fsynced).

``queue.jsonl`` in the bundle directory holds one scan a line, appended and flushed to disk
before the inspector sees the offline verdict. Uploading marks each scan done in
``queue.done`` as soon as the node has stored it; ``compact`` then drops done scans from
the queue. A crash at any point loses nothing: a scan not yet marked done is uploaded again
and the node, keyed by scan id, neither stores nor counts it twice. A lock file keeps
appends and compaction apart.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from itptrace.clock import parse_instant
from itptrace.verify.model import Place, ScanInput

QUEUE, DONE, LOCK = "queue.jsonl", "queue.done", "queue.lock"


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    with (directory / LOCK).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _append(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def scan_to_json(scan: ScanInput) -> dict[str, Any]:
    return {
        "scan_id": scan.scan_id,
        "text": scan.text,
        "country": scan.place.country,
        "place": scan.place.name,
        "lat": scan.place.lat,
        "lon": scan.place.lon,
        "scanned_at": scan.scanned_at.isoformat(),
        "observed_gtin": scan.observed_gtin,
        "observed_brand": scan.observed_brand,
    }


def scan_from_json(data: dict[str, Any], source: str = "offline") -> ScanInput:
    return ScanInput(
        text=str(data["text"]),
        place=Place(data["country"], data.get("place"), data.get("lat"), data.get("lon")),
        scanned_at=parse_instant(str(data["scanned_at"])),
        scan_id=str(data["scan_id"]),
        observed_gtin=data.get("observed_gtin"),
        observed_brand=data.get("observed_brand"),
        source=source,
    )


def enqueue(directory: Path, scan: ScanInput, offline_verdict: str) -> None:
    """Keep a scan made offline until it is uploaded (on disk before this returns)."""
    line = json.dumps({**scan_to_json(scan), "offline_verdict": offline_verdict})
    with _locked(directory):
        _append(directory / QUEUE, line)


def _done(directory: Path) -> set[str]:
    path = directory / DONE
    if not path.exists():
        return set()
    return {line.strip() for line in path.read_text().splitlines() if line.strip()}


def pending(directory: Path) -> list[ScanInput]:
    """Scans not yet uploaded, oldest first, each scan id once."""
    path = directory / QUEUE
    if not path.exists():
        return []
    done, found = _done(directory), dict[str, ScanInput]()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            scan = scan_from_json(json.loads(line))
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path} line {number} is damaged: {exc}") from None
        if scan.scan_id not in done:
            found.setdefault(scan.scan_id, scan)
    return list(found.values())


def mark_done(directory: Path, scan_id: str) -> None:
    _append(directory / DONE, scan_id)


def compact(directory: Path) -> None:
    """Drop uploaded scans from the queue (atomically), then forget the done list."""
    with _locked(directory):
        done = _done(directory)
        path = directory / QUEUE
        if path.exists() and done:
            keep = [
                line
                for line in path.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line).get("scan_id") not in done
            ]
            temporary = path.with_suffix(".tmp")
            with temporary.open("w", encoding="utf-8") as handle:
                handle.write("".join(line + "\n" for line in keep))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        (directory / DONE).unlink(missing_ok=True)
