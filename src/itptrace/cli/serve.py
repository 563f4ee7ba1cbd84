"""``itptrace serve``: run the national node's HTTP API (and its capture worker)."""

from __future__ import annotations

from typing import Annotated

import typer

from itptrace.cli.common import handles_errors, node


@handles_errors
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
    worker: Annotated[
        bool, typer.Option("--worker/--no-worker", help="process queued capture jobs")
    ] = True,
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

    from itptrace.api.app import create_app

    app = create_app(node(migrate=migrate), start_worker=worker)
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)


if __name__ == "__main__":  # ``python -m itptrace.cli.serve``, as the end-to-end tests run it
    typer.run(serve)
