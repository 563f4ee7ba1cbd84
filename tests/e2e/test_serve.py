"""``itptrace serve`` as a process: ``--workers 2`` on loopback, and a busy port.

With ``--workers 2`` uvicorn's supervisor spawns two processes that each build their own
node; the capture worker runs once, in the supervisor, and still processes queued jobs.
SIGTERM stops the whole tree. Each test bounds its waits and kills what it started.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from itptrace.access import local_issuer
from itptrace.auth import service as auth
from itptrace.bootstrap import build_context
from tests.conftest import make_settings
from tests.e2e.conftest import ok


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    """``itptrace serve ARGS`` in a session of its own, so its whole tree can be ended."""
    command = [sys.executable, "-m", "itptrace.cli.serve", *args]
    with log.open("wb") as out:
        return subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    settings = make_settings(database_url, tmp_path, clock="system")
    ctx = build_context(settings)
    auth.add_user(ctx, local_issuer(), name="admin", role="issuer_admin")
    token = auth.create_token(ctx, local_issuer(), user="admin").token
    ctx.db.dispose()
    yield {
        **os.environ,
        "ITPTRACE_DATABASE_URL": database_url,
        "ITPTRACE_KEY_DIR": str(settings.key_dir),
        "ITPTRACE_COUNTRY": "KE",
        "ITPTRACE_ISSUER_CODE": "KET01",
        "ITPTRACE_CLOCK": "system",
        "TEST_TOKEN": token,
    }


def test_two_worker_processes_answer_and_stop_together(env: dict[str, str], tmp_path: Path) -> None:
    port, log = _free_port(), tmp_path / "serve.log"
    url = f"http://127.0.0.1:{port}"
    server = _serve(env, log, "--port", str(port), "--workers", "2")
    try:
        deadline = time.monotonic() + 120  # two spawned processes import the app: seconds
        started: set[str] = set()
        while len(started) < 2:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"no two workers in 120 s:\n{log.read_text()}"
            started = set(re.findall(r"Started server process \[(\d+)\]", log.read_text()))
            time.sleep(0.2)
        assert str(server.pid) not in started  # the supervisor serves no request itself
        with httpx.Client(base_url=url, timeout=30) as client:
            assert ok(client.get("/ping")) == {"status": "ok"}
            assert ok(client.get("/health"))["worker"] == "supervisor"
            # The one capture worker, in the supervisor, takes jobs queued through any worker.
            admin = {"Authorization": f"Bearer {env['TEST_TOKEN']}"}
            job = ok(client.post("/capture", json={"messages": []}, headers=admin), 202)
            while (status := ok(client.get(f"/capture/{job['id']}", headers=admin)))["status"] in (
                "queued",
                "running",
            ):
                assert time.monotonic() < deadline, status
                time.sleep(0.2)
            assert status["status"] == "done", status
        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0, log.read_text()
        end = time.monotonic() + 30
        while _group_alive(server.pid) and time.monotonic() < end:
            time.sleep(0.1)
        assert not _group_alive(server.pid), "a worker process outlived its supervisor"
    finally:
        if _group_alive(server.pid):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(30)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_busy_port_is_one_line(workers: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "ITPTRACE_DATABASE_URL": f"sqlite:///{tmp_path / 'n.db'}"}
        command = [sys.executable, "-m", "itptrace.cli.serve", "--port", str(port)]
        done = subprocess.run(
            [*command, "--workers", workers], env=env, capture_output=True, text=True, timeout=120
        )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"error: port {port} is in use on 127.0.0.1: stop the other server or choose another --port"
    )
    assert "Errno" not in done.stdout + done.stderr
    assert not (tmp_path / "n.db").exists()  # refused before anything was opened
