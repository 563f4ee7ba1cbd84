"""A throwaway PostgreSQL server for the test suite, from the Debian binaries.

``initdb`` refuses to run as root, and CI runs as root: the server then runs as the
``postgres`` system user in a temp dir that user owns. It listens on a free loopback port
and a private socket directory, with fsync off (test data is disposable), and is removed
when the session ends. Under pytest-xdist each worker starts its own (``tests/conftest.py``);
``record`` names a file holding the data directory while the server runs, so that the xdist
controller can stop the server of a worker that died (``stop_recorded``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    pass


def _bin_dir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if not candidates:
        raise PostgresUnavailable(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: "
            "install the Debian 'postgresql' package (.ci/run does)"
        )
    return Path(candidates[0]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _stop(bindir: Path, data: Path) -> None:
    subprocess.run(
        _as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
        capture_output=True,
    )


def stop_recorded(record: Path) -> None:
    """Stop the server whose data directory ``record`` names (if it still runs), remove it."""
    data = Path(record.read_text())
    if (data / "postmaster.pid").exists():
        _stop(_bin_dir(), data)
    shutil.rmtree(data.parent, ignore_errors=True)
    record.unlink()


@contextlib.contextmanager
def running_server(record: Path | None = None) -> Iterator[str]:
    """Start a server and yield its admin URL (``postgresql://postgres@127.0.0.1:PORT``)."""
    bindir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="itptrace-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    os.chmod(root, 0o700)
    log = root / "server.log"
    if record is not None:
        record.write_text(str(data))
    try:
        subprocess.run(
            _as_server_user(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ]
            ),
            check=True,
            capture_output=True,
        )
        for attempt in range(3):  # the free port may be taken before the server binds it
            port = _free_port()
            try:
                _start(bindir, data, root, port, log)
                break
            except subprocess.CalledProcessError:
                if attempt == 2 or "could not bind" not in log.read_text(errors="replace"):
                    raise
        yield f"postgresql://postgres@127.0.0.1:{port}"
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode(errors="replace").strip()
        server_log = log.read_text(errors="replace") if log.exists() else ""
        raise PostgresUnavailable(f"PostgreSQL did not start: {detail}\n{server_log}") from None
    finally:
        if data.exists():
            _stop(bindir, data)
        shutil.rmtree(root, ignore_errors=True)
        if record is not None:
            record.unlink(missing_ok=True)


def _start(bindir: Path, data: Path, root: Path, port: int, log: Path) -> None:
    options = (
        f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        _as_server_user(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
