"""``itptrace serve``: run the national node's HTTP API (and its job worker)."""

from __future__ import annotations

import errno
import socket
from typing import TYPE_CHECKING, Annotated

import typer

from itptrace.cli.common import fail, handles_errors, node

if TYPE_CHECKING:
    from fastapi import FastAPI

HEALTHCHECK_SECONDS = 30


def _check_port(host: str, port: int) -> None:
    """Refuse a busy port with one line, before uvicorn prints its own ``[Errno 98]`` text.

    The probe binds as uvicorn does (SO_REUSEADDR, so a port in TIME_WAIT still counts as
    free) and lets go; a server taking the port in the moment between gets uvicorn's message.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise fail(
                    f"port {port} is in use on {host}: stop the other server or choose "
                    "another --port"
                ) from None
            raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def worker_app() -> FastAPI:
    """The app of one ``--workers`` process (uvicorn calls it, ``factory=True``).

    Each process builds its own node from the ITPTRACE_* settings it inherits, so nothing
    is shared through imports; the supervising process has brought the schema up to date
    and runs the capture worker and checkpoints (``itptrace.api.app.Background``).
    """
    from itptrace.api.app import create_app
    from itptrace.bootstrap import build_node

    ctx = build_node()
    return create_app(ctx, start_worker=False, worker_in_supervisor=True)


@handles_errors
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
    worker: Annotated[
        bool, typer.Option("--worker/--no-worker", help="run queued jobs (capture)")
    ] = True,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="HTTP processes (one capture worker in all)")
    ] = 1,
    migrate: Annotated[
        bool,
        typer.Option(
            "--migrate",
            help="bring the database schema up to date first (safe with several node "
            "processes starting at once); without it an older schema refuses to start",
        ),
    ] = False,
) -> None:
    """Serve the API on HOST:PORT until interrupted (Ctrl-C or SIGTERM stop it cleanly)."""
    import uvicorn

    from itptrace.api.app import Background, create_app

    _check_port(host, port)
    ctx = node(migrate=migrate)
    if workers == 1:
        app = create_app(ctx, start_worker=worker)
        uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)
        return
    # Several processes: uvicorn's supervisor spawns each from the import string (nothing
    # inherited but the environment) and restarts one that dies or stops answering its
    # health check; a spawned process imports the whole CLI first, which takes seconds on a
    # loaded machine, hence 30 s rather than uvicorn's 5 (else it kills them as they start).
    # Only request handling runs per process; the one capture worker and the periodic
    # checkpoints run here, beside the supervisor, for as long as it runs (see Background
    # for why never one per process).
    background = Background(ctx, enabled=worker)
    background.start()
    try:
        uvicorn.run(
            "itptrace.cli.serve:worker_app",
            factory=True,
            workers=workers,
            timeout_worker_healthcheck=HEALTHCHECK_SECONDS,
            host=host,
            port=port,
            log_level="info",
            server_header=False,
        )
    finally:
        background.stop()
        ctx.db.dispose()


if __name__ == "__main__":  # ``python -m itptrace.cli.serve``, as the end-to-end tests run it
    typer.run(serve)
