"""``itptrace epcis hash|validate``, run in-process through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from itptrace.cli import epcis
from itptrace.epcis.event_hash import document_hash_ids
from tests.unit.test_epcis_parse import (
    INVALID_FOLDERS,
    VALID_FOLDERS,
    load_sample,
    named_sample,
    object_event,
    sample_cases,
)

root = typer.Typer()
root.add_typer(epcis.app, name="epcis")


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(root, ["epcis", *args], input=stdin)


@pytest.mark.parametrize("path", sample_cases(VALID_FOLDERS))
def test_hash_prints_one_hash_id_per_event_in_document_order(path: Path | None) -> None:
    expected = document_hash_ids(load_sample(path))
    result = run("hash", str(path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == expected


@pytest.mark.parametrize("path", sample_cases(VALID_FOLDERS))
def test_validate_accepts_every_valid_sample(path: Path | None) -> None:
    events = len(document_hash_ids(load_sample(path)))
    result = run("validate", str(path))
    assert (result.exit_code, result.stdout) == (0, f"valid: {events} events\n")


@pytest.mark.parametrize("path", sample_cases(INVALID_FOLDERS))
def test_validate_lists_every_issue_of_an_invalid_sample_on_stderr(path: Path | None) -> None:
    load_sample(path)
    result = run("validate", str(path))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("error: ") for line in lines)
    assert result.stdout == ""


def test_validate_names_the_event_and_field_of_each_problem(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(object_event(action="ADDED", bizStep="stamping")))
    result = run("validate", str(path))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: event 0 (ObjectEvent) field 'action': 'ADDED' is not one of ADD, OBSERVE, DELETE",
        "error: event 0 (ObjectEvent) field 'bizStep': 'stamping' is not a CBV 2.0 bizStep "
        "(a non-standard value must be a full URI)",
    ]


def test_json_output_gives_the_verdict_and_the_hash_ids() -> None:
    sample = named_sample("Capture/Documents/ObjectEvent.json")
    text = json.dumps(sample)
    verdict = json.loads(run("validate", "--json", "-", stdin=text).stdout)
    assert verdict == {"valid": True, "kind": "capture", "events": 2}
    hashes = json.loads(run("hash", "--json", "-", stdin=text).stdout)
    assert [h["hash_id"] for h in hashes] == document_hash_ids(sample)
    assert [h["index"] for h in hashes] == [0, 1]


def test_json_output_of_a_refusal_lists_the_issues_and_exits_1() -> None:
    result = run("validate", "--json", "-", stdin=json.dumps(object_event(action="ADDED")))
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["issues"] == [
        {
            "event_index": 0,
            "event_type": "ObjectEvent",
            "field": "action",
            "message": "'ADDED' is not one of ADD, OBSERVE, DELETE",
        }
    ]


@pytest.mark.parametrize("command", ["hash", "validate"])
def test_an_unreadable_or_non_json_file_is_one_line_and_exit_1(
    command: str, tmp_path: Path
) -> None:
    not_json = tmp_path / "notes.txt"
    not_json.write_text("shipped 12 cartons")
    for path, words in ((tmp_path / "absent.json", "cannot read"), (not_json, "is not JSON")):
        result = run(command, str(path))
        assert result.exit_code == 1
        (line,) = result.stderr.splitlines()
        assert line.startswith("error: ") and words in line
