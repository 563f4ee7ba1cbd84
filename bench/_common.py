"""Shared bits of the benchmark scripts: argument parsing, timing and the JSON last line."""

from __future__ import annotations

import argparse
import atexit
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from itptrace.context import Context
from itptrace.sim.service_driver import ServiceDriver
from itptrace.sim.world import Description, World, register
from itptrace.sim.worlds import KENYA


def scratch(prefix: str) -> Path:
    """A fresh temporary folder, removed when the script ends (a 10M run fills gigabytes)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def bench_node(workdir: Path, clock: str = "system") -> Context:
    """A fresh SQLite node in ``workdir`` with its Party recorded and a signing key."""
    from itptrace.access import local_issuer
    from itptrace.bootstrap import build_node
    from itptrace.codes import service as issuer
    from itptrace.config import Settings
    from itptrace.registry import service as registry

    ctx = build_node(
        Settings(
            database_url=f"sqlite:///{workdir / 'bench.db'}",
            key_dir=workdir / "keys",
            clock=clock,
            country="KE",
            issuer_code="KET01",
        ),
        migrate=True,
    )
    registry.init_party(ctx)
    issuer.ensure_signing_key(ctx, local_issuer())
    return ctx


def bench_world(ctx: Context, description: Description = KENYA) -> tuple[ServiceDriver, World]:
    """``description`` registered on ``ctx`` through the world builder's service driver."""
    driver = ServiceDriver(ctx)
    # A line fast enough for a million codes in one request within the capacity bound.
    description = replace(description, capacity_per_hour=max(description.capacity_per_hour, 10**5))
    return driver, register(driver, description)


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a smaller run, under a minute")
    return parser.parse_args()


def timed(work: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def report(name: str, value: float, unit: str, baseline: float, **extra: Any) -> None:
    """Print the figures; the last line is one JSON object, as every bench script does."""
    figures = {
        "name": name,
        "value": round(value, 1),
        "unit": unit,
        "baseline": round(baseline, 1),
        "ratio": round(value / baseline, 3) if baseline else None,
        **extra,
    }
    print(json.dumps(figures))
