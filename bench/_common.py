"""Shared bits of the benchmark scripts: argument parsing, timing and the JSON last line."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any


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
