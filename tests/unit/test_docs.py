"""The README and docs/ say what the code does, and point only at what the repository holds.

The ledger, EPCIS and error documents have their own tests: test_docs_ledger.py,
test_docs_epcis.py and test_docs_errors.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.unit.markdown import ROOT, code_spans, documents, links

README = ROOT / "README.md"


def readme() -> str:
    return README.read_text()


def test_the_readme_shows_the_two_setup_commands() -> None:
    assert "make demo" in readme() and "make test" in readme()


def test_every_cli_command_named_in_the_readme_exists() -> None:
    from typer.main import get_command

    from itptrace.cli.main import app

    root = get_command(app)
    for line in re.findall(r"^itptrace ([a-z-]+(?: [a-z-]+)?)", readme(), flags=re.MULTILINE):
        words = line.split()
        command = root.commands.get(words[0])  # type: ignore[attr-defined]
        assert command is not None, f"README names unknown command itptrace {words[0]}"
        if len(words) > 1 and hasattr(command, "commands") and not words[1].startswith("-"):
            assert words[1] in command.commands, f"README names unknown command itptrace {line}"


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


def test_the_error_catalogue_document_lists_exactly_the_catalogued_codes() -> None:
    from itptrace.capture.catalogue import CATALOGUE

    text = (ROOT / "docs" / "errors.md").read_text()
    documented = re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.MULTILINE)
    assert documented == list(CATALOGUE)
