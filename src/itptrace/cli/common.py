"""What every CLI command shares: the node context, one-line errors, JSON output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from datetime import datetime
from enum import Enum
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from itptrace.bootstrap import build_node
from itptrace.config import SettingsError
from itptrace.context import Context
from itptrace.errors import DomainError

P = ParamSpec("P")
R = TypeVar("R")

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on one line to stderr; the caller raises the returned Exit."""
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn refusals into a one-line message and exit status 1, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except DomainError as exc:
            raise fail(exc.message) from None
        except (SettingsError, ValueError, OSError) as exc:
            raise fail(str(exc)) from None

    return wrapper


def node(*, migrate: bool = False) -> Context:
    """The node this command works on, from ITPTRACE_* settings.

    Only ``init``, ``db upgrade`` and ``serve --migrate`` pass ``migrate``; any other
    command on a missing, empty or older database stops with one line naming the command
    to run, and creates nothing.
    """
    return build_node(migrate=migrate)


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(_plain(value), indent=2, sort_keys=True) + "\n")
