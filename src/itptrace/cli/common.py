"""What every CLI command shares: the node context, one-line errors, JSON output."""

from __future__ import annotations

import functools
import getpass
import json
import re
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, is_dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click
import typer
from rich.console import Console

from itptrace.access import Actor, Door, Role
from itptrace.bootstrap import build_node
from itptrace.config import SettingsError, load_settings
from itptrace.context import Context
from itptrace.errors import DomainError

P = ParamSpec("P")
R = TypeVar("R")


def _wide_when_piped(stream: Any) -> int | None:
    """No width limit when the output is not a terminal: rich would otherwise cut table
    cells to 80 columns (``2026-12-0…``) in a file or a pipe."""
    try:
        return None if stream.isatty() else 100_000
    except (AttributeError, ValueError):
        return 100_000


console = Console(width=_wide_when_piped(sys.stdout))
err_console = Console(stderr=True, width=_wide_when_piped(sys.stderr))

_NOT_A_NUMBER = re.compile(r"invalid literal for int\(\) with base 10: (.*)$")
_NOT_A_DECIMAL = re.compile(r"could not convert string to float: (.*)$")


def explain(exc: Exception) -> str:
    """A refusal in the project's words, naming the input and the fix, for exceptions that
    would otherwise reach the user as Python's own text (``[Errno 2] ...``)."""
    if isinstance(exc, OSError):
        where = exc.filename if exc.filename is not None else "the file"
        if isinstance(exc, FileNotFoundError):
            return f"{where}: no such file or directory; check the path"
        if isinstance(exc, IsADirectoryError):
            return f"{where} is a directory; give a file"
        if isinstance(exc, PermissionError):
            return f"{where}: permission denied; check the file's owner and mode"
        reason = (exc.strerror or "cannot be used").lower()
        return f"{where}: {reason}"
    if isinstance(exc, UnicodeDecodeError):
        return (
            f"the input is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at position "
            f"{exc.start}); save it as UTF-8"
        )
    text = str(exc)
    for pattern, kind in ((_NOT_A_NUMBER, "a whole number"), (_NOT_A_DECIMAL, "a number")):
        found = pattern.match(text)
        if found:
            return f"{found.group(1)} is not {kind}; give digits, e.g. 42"
    return text


def read_text(path: Path) -> str:
    """The UTF-8 text of ``path`` (``-``: standard input); a refusal naming the file and the
    fix when it cannot be read."""
    try:
        return sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: {explain(exc)}") from None
    except OSError as exc:
        raise ValueError(explain(exc)) from None


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
            raise fail(explain(exc)) from None

    return wrapper


def _console_name() -> str:
    """``cli:`` and ITPTRACE_CLI_USER, or the operating-system login when it is not set."""
    named = load_settings().cli_user.strip()
    if not named:
        try:
            named = getpass.getuser()
        except (KeyError, OSError):
            named = "unknown"
    return f"cli:{named[:90]}"


def _stated() -> tuple[str | None, str | None]:
    """The --purpose and --case given before the command (``itptrace --purpose ... trace``)."""
    context = click.get_current_context(silent=True)
    found = context.find_root().obj if context is not None else None
    if isinstance(found, Statement):
        return found.purpose, found.case_ref
    return None, None


@dataclass(frozen=True)
class Statement:
    purpose: str | None = None
    case_ref: str | None = None


def as_issuer() -> Actor:
    """The issuer's staff at the node's console, named by ITPTRACE_CLI_USER or the login."""
    return Actor(_console_name(), Role.ISSUER_ADMIN, door=Door.CLI).stating(*_stated())


def as_auditor() -> Actor:
    """An auditor at the node's console (ledger proofs)."""
    return Actor(_console_name(), Role.AUDITOR, door=Door.CLI).stating(*_stated())


def as_authority() -> Actor:
    """The competent authority at the node's console; its reads are audited as the API's."""
    return Actor(_console_name(), Role.AUTHORITY, door=Door.CLI).stating(*_stated())


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
