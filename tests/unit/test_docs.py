"""The README and docs/ say what the code does, and point only at what the repository holds.

The ledger, EPCIS and error documents have their own tests: test_docs_ledger.py,
test_docs_epcis.py and test_docs_errors.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
from pydantic import TypeAdapter

from itptrace.config import Settings
from tests.unit.markdown import ROOT, code_spans, documents, links, only_code, section, table_with

README = ROOT / "README.md"


def readme() -> str:
    return README.read_text()


def settings_table() -> list[dict[str, str]]:
    return table_with(section(readme(), "## Using it"), "variable", "default", "meaning")


def test_the_readme_shows_the_two_setup_commands() -> None:
    assert "make demo" in readme() and "make test" in readme()


def test_every_cli_command_named_in_the_readme_exists() -> None:
    from typer.main import get_command

    from itptrace.cli.main import app

    root = get_command(app)
    named = re.findall(r"^itptrace ([a-z-]+(?: [a-z-]+)?)", readme(), flags=re.MULTILINE)
    assert named, "the README names no itptrace command: this test would check nothing"
    for line in named:
        words = line.split()
        command = root.commands.get(words[0])  # type: ignore[attr-defined]
        assert command is not None, f"README names unknown command itptrace {words[0]}"
        if len(words) > 1 and hasattr(command, "commands") and not words[1].startswith("-"):
            assert words[1] in command.commands, f"README names unknown command itptrace {line}"


def test_the_readme_settings_table_lists_every_setting_and_no_other() -> None:
    documented = [only_code(row["variable"]) for row in settings_table()]
    expected = ["ITPTRACE_" + name.upper() for name in Settings.model_fields]
    assert sorted(documented) == sorted(expected)
    assert len(documented) == len(set(documented)), "a setting is listed twice"


def test_the_readme_gives_each_setting_its_real_default_and_a_meaning() -> None:
    for row in settings_table():
        name = only_code(row["variable"]).removeprefix("ITPTRACE_").lower()
        field = Settings.model_fields[name]
        # The documented text, read as the variable would be: it must give the default.
        text = only_code(row["default"])
        text = "" if text == '""' else text  # an empty string is written as ""
        value: Any = TypeAdapter(field.annotation).validate_python(text)
        assert value == field.default, f"{row['variable']}: README says {row['default']}"
        assert len(row["meaning"]) > 10, f"{row['variable']} has no meaning in the README"


def cli_environment_variables() -> set[str]:
    """The ``envvar`` of every option of every ``itptrace`` command."""
    from typer.main import get_command

    from itptrace.cli.main import app

    found: set[str] = set()
    pending: list[click.Command] = [get_command(app)]
    while pending:
        command = pending.pop()
        pending.extend(getattr(command, "commands", {}).values())
        for param in command.params:
            names = param.envvar if isinstance(param.envvar, list | tuple) else [param.envvar]
            found.update(name for name in names if name)
    return found


def test_every_itptrace_variable_the_docs_name_is_a_setting_or_a_cli_option() -> None:
    settings = {"ITPTRACE_" + name.upper() for name in Settings.model_fields}
    known = settings | cli_environment_variables()
    for path in documents():
        named = set(re.findall(r"\bITPTRACE_[A-Z][A-Z0-9_]*\b", path.read_text()))
        assert named <= known, f"{path.name} names unknown variables {sorted(named - known)}"


def test_the_readme_layout_table_names_every_package_and_no_other() -> None:
    table = table_with(section(readme(), "## Layout"), "package", "what")
    documented = sorted(only_code(row["package"]).rstrip("/") for row in table)
    packages = sorted(p.parent.name for p in (ROOT / "src" / "itptrace").glob("*/__init__.py"))
    assert documented == packages


@pytest.mark.parametrize("path", documents(), ids=lambda p: p.name)
def test_no_markdown_link_leaves_the_repository(path: Path) -> None:
    for target in links(path.read_text()):
        parts = urlsplit(target)
        if parts.scheme in ("http", "https"):
            # Public standards and specifications may be cited by address.
            assert parts.scheme == "https" and parts.netloc, f"{path.name}: {target}"
            continue
        assert not parts.scheme and not parts.netloc, f"{path.name} links {target}"
        if not parts.path:  # a link to a heading of the same page
            continue
        resolved = (path.parent / parts.path).resolve()
        assert resolved.is_relative_to(ROOT), f"{path.name} links outside the repository: {target}"
        assert resolved.exists(), f"{path.name} links a missing file: {target}"


@pytest.mark.parametrize("path", documents(), ids=lambda p: p.name)
def test_every_repository_path_the_docs_name_in_code_exists(path: Path) -> None:
    for span in code_spans(path.read_text()):
        if span.startswith("../"):
            raise AssertionError(f"{path.name} names a path outside the repository: {span}")
        if re.fullmatch(r"(src|docs|tests|bench)/[\w./-]+", span):
            assert (ROOT / span).exists(), f"{path.name} names a missing path: {span}"


def test_the_readme_links_the_architecture_summary_in_the_repository() -> None:
    assert "docs/architecture.md" in links(readme())
    assert "../shared" not in readme()
