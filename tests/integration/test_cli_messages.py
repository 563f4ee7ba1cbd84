"""Messages for people: what the CLI says when the input is wrong, in the project's words,
naming the input and the fix, and never Python's own text. In-process, on both databases."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from itptrace.cli.common import explain
from itptrace.cli.main import app
from itptrace.queries.wording import when
from itptrace.sim.messages import Messages
from tests.integration.test_cli import REPORTED_AT, Cli, capture_file, chain, cli, packs

__all__ = ["chain", "cli", "packs"]  # fixtures shared with test_cli

PYTHON_TEXTS = ("[Errno", "codec can't decode", "invalid literal", "isoformat", "out of range")


def assert_ours(output: str) -> None:
    """One line, ``error: ...``, with none of Python's own phrases."""
    assert output.startswith("error: ") and output.count("\n") == 1, output
    assert not any(text in output for text in PYTHON_TEXTS), output


def test_a_missing_file_is_named_with_the_fix(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "x.json"
    output = cli("capture", str(missing), expect=1)
    assert_ours(output)
    assert f"{missing}: no such file or directory; check the path" in output


def test_a_file_that_is_not_utf8_is_named_with_the_fix(cli: Cli, tmp_path: Path) -> None:
    latin = tmp_path / "report.json"
    latin.write_bytes('{"messages": ["Müller"]}'.encode("latin-1"))
    output = cli("capture", str(latin), expect=1)
    assert_ours(output)
    assert f"{latin}: the input is not UTF-8 text" in output and "save it as UTF-8" in output


@pytest.mark.parametrize("at", ["yesterday", "0000-01-01T00:00:00Z"])
def test_a_time_that_is_not_an_instant_says_how_to_write_one(cli: Cli, at: str) -> None:
    output = cli("contents", "KET01NOSUCH", "--at", at, expect=1)
    assert_ours(output)
    assert f"time {at!r} is not an ISO 8601 instant: write it like 2026-01-05T08:00:00Z" in output


def test_a_page_size_that_is_not_a_number_says_so(cli: Cli) -> None:
    output = cli("events", "query", "perPage=abc", expect=1)
    assert_ours(output)
    assert "perPage must be a whole number from 1 to 1000" in output


def test_python_texts_of_other_inputs_are_put_in_our_words() -> None:
    assert explain(ValueError("invalid literal for int() with base 10: 'abc'")) == (
        "'abc' is not a whole number; give digits, e.g. 42"
    )
    assert explain(PermissionError(13, "Permission denied", "k.json")) == (
        "k.json: permission denied; check the file's owner and mode"
    )
    assert explain(IsADirectoryError(21, "Is a directory", "keys")) == (
        "keys is a directory; give a file"
    )


def test_completeness_over_a_sample_of_no_packs_is_refused(cli: Cli) -> None:
    output = cli("completeness", "--sample", "0", expect=2)
    assert "ZeroDivisionError" not in output and "--sample" in output


def test_an_empty_report_is_refused(cli: Cli, tmp_path: Path) -> None:
    for text in ("[]", '{"messages": []}'):
        empty = tmp_path / "empty.json"
        empty.write_text(text)
        output = cli("capture", str(empty), expect=1)
        assert_ours(output)
        assert f"{empty} holds no messages or events: a report needs at least one" in output


def test_a_refused_message_that_could_not_be_read_prints_no_none(cli: Cli, tmp_path: Path) -> None:
    malformed = tmp_path / "malformed.json"
    malformed.write_text(json.dumps({"messages": [{"message_type": "EUA"}]}))
    cli("capture", str(malformed), expect=1)
    output = cli("refused")
    assert "None" not in output
    assert "(no message code) (unreadable message)" in output


def test_tokens_list_shows_ids_users_and_states_but_never_a_secret(cli: Cli) -> None:
    cli("users", "add", "wanjiru", "--role", "inspector")
    first = cli("tokens", "create", "--user", "wanjiru").splitlines()[0]
    cli("tokens", "create", "--user", "wanjiru")
    token_id = first.split("_")[1]
    cli("tokens", "revoke", token_id)
    listed = cli("tokens", "list")
    lines = sorted(listed.splitlines(), key=lambda line: not line.startswith(token_id))
    assert len(lines) == 2
    assert lines[0].startswith(f"{token_id}\twanjiru\trevoked\tcreated 2026-01-05")
    assert "\twanjiru\tlive\t" in lines[1]
    assert first not in listed and first.split("_")[-1] not in listed
    rows = json.loads(cli("tokens", "list", "--json"))
    assert {row["state"] for row in rows} == {"revoked", "live"}
    assert not any("secret" in key for row in rows for key in row)


def test_a_trace_piped_to_a_file_keeps_its_cells_whole(
    cli: Cli, chain: dict[str, str], packs: list[str], tmp_path: Path
) -> None:
    m = Messages(prefix="CLI-A-LONG-MESSAGE-CODE")
    applied = m.apply(chain["operator"], chain["facility"], chain["machine"], packs, REPORTED_AT)
    cli.env["ITPTRACE_CAPTURE_ON_BEHALF"] = "true"  # the console reports for the operator
    cli("capture", str(capture_file(tmp_path, "applied.json", applied)))
    narrow = Cli({**cli.env, "COLUMNS": "80"})
    output = narrow("trace", packs[0])
    assert when(REPORTED_AT) in output and applied.event_id in output
    assert "…" not in output


def test_trace_and_report_tables_give_times_with_their_zone_explain_codes_and_print_no_json(
    cli: Cli, chain: dict[str, str], packs: list[str], tmp_path: Path
) -> None:
    m = Messages(prefix="CLI-W")
    applied = m.apply(chain["operator"], chain["facility"], chain["machine"], packs, REPORTED_AT)
    cli.env["ITPTRACE_CAPTURE_ON_BEHALF"] = "true"  # the console reports for the operator
    cli("capture", str(capture_file(tmp_path, "applied.json", applied)))
    traced = cli("trace", packs[0])
    assert f"{when(REPORTED_AT)}" in traced and when(REPORTED_AT).endswith(" UTC")
    assert "EUA (application of unit-level UIs on unit packets)" in traced
    reported = cli("report", packs[0])
    assert f"{when(REPORTED_AT)}" in reported
    assert "{" not in reported and "}" not in reported and '"' not in reported
    as_json = json.loads(cli("report", packs[0], "--json"))
    assert as_json["items"][0]["value"]["date"] == REPORTED_AT.isoformat()


def test_init_without_a_country_says_the_setting_is_missing(tmp_path: Path) -> None:
    env = {
        "ITPTRACE_DATABASE_URL": f"sqlite:///{tmp_path / 'node.sqlite'}",
        "ITPTRACE_KEY_DIR": str(tmp_path / "keys"),
    }
    result = CliRunner().invoke(app, ["init"], env={**env, "ITPTRACE_COUNTRY": None})
    assert result.exit_code == 1
    assert_ours(result.output)
    assert "ITPTRACE_COUNTRY is not set" in result.output and "ZZ" not in result.output
    assert not (tmp_path / "node.sqlite").exists()


def test_a_latitude_that_is_not_a_number_is_refused_as_such(
    verify_api: tuple[TestClient, dict[str, dict[str, str]]],
) -> None:
    client, headers = verify_api
    scan_id = uuid.uuid4()
    body = f'{{"scan": "x", "scan_id": "{scan_id}", "country": "KE", "lat": NaN}}'
    answer = client.post(
        "/verify",
        content=body,
        headers={**headers["insp"], "Content-Type": "application/json"},
    )
    assert answer.status_code in (400, 422)
    assert "finite number" in answer.text and "less than or equal" not in answer.text


def _command_paths() -> list[list[str]]:
    import typer.main

    paths: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():  # a group's commands
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


def test_every_help_is_readable_at_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    import typer.rich_utils

    # A terminal of 80 columns (read from TERMINAL_WIDTH when typer is first imported).
    monkeypatch.setattr(typer.rich_utils, "MAX_WIDTH", 80)
    runner = CliRunner()
    paths = _command_paths()
    for path in paths:
        result = runner.invoke(
            app, [*path, "--help"], env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"}
        )
        assert result.exit_code == 0, (path, result.output)
        assert "…" not in result.output, (path, result.output)
        assert max(len(line) for line in result.output.splitlines()) <= 80, path
    assert len(paths) > 40  # every command and group was looked at
