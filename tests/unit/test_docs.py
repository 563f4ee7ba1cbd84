"""The documentation says what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from itptrace.capture.catalogue import CATALOGUE

ROOT = Path(__file__).resolve().parents[2]


def test_the_error_catalogue_document_lists_exactly_the_catalogued_codes() -> None:
    text = (ROOT / "docs" / "errors.md").read_text()
    documented = re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE)
    assert documented == list(CATALOGUE)


def test_the_readme_shows_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


def test_every_cli_command_named_in_the_readme_exists() -> None:
    from typer.main import get_command

    from itptrace.cli.main import app

    root = get_command(app)
    readme = (ROOT / "README.md").read_text()
    named = re.findall(r"^itptrace ([a-z-]+(?: [a-z-]+)?)", readme, flags=re.MULTILINE)
    assert named, "the README names no itptrace command: this test would check nothing"
    for line in named:
        words = line.split()
        command = root.commands.get(words[0])  # type: ignore[attr-defined]
        assert command is not None, f"README names unknown command itptrace {words[0]}"
        if len(words) > 1 and hasattr(command, "commands") and not words[1].startswith("-"):
            assert words[1] in command.commands, f"README names unknown command itptrace {line}"
