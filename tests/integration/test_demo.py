"""``itptrace demo`` (what ``make demo`` runs) works end to end."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from itptrace.cli.main import app


def test_the_demo_issues_renders_and_verifies_and_accepts_no_forgery(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["demo", "--workdir", str(tmp_path / "demo")], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "issued 10000 signed unit UIs" in result.output
    assert "decoded back identical" in result.output
    assert "10000/10000 genuine codes valid" in result.output
    assert " 0/" in result.output and "forged codes accepted" in result.output
    assert (tmp_path / "demo" / "pack.png").stat().st_size > 0
    assert "100% complete" in result.output and "14/14 proofs verify" in result.output
    assert "which it never held: 404" in result.output
    assert "events accepted over HTTP" in result.output and "POST /capture as" in result.output
    for verdict in (
        "AUTHENTIC",
        "ILLICIT (diverted",
        "SUSPICIOUS (impossible_travel",
        "COUNTERFEIT",
    ):
        assert verdict in result.output
