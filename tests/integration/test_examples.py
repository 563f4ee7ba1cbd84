"""The README's example commands run as written against the files in ``examples/``.

``examples/document.jsonld`` needs no node: ``itptrace epcis validate`` and ``hash`` run on
it exactly as the README writes them. ``examples/report.json`` names the codes and ids of
the node that made it, so it is checked to be the world builder's report to the letter but
for those, then captured, with this node's codes and ids in their place, by the README's
own ``itptrace capture`` line.
"""

from __future__ import annotations

import json
import shlex
from datetime import timedelta
from pathlib import Path
from typing import Any

from examples.generate import example_events, example_world, report
from typer.testing import CliRunner

from itptrace.cli.main import app
from itptrace.context import Context

ROOT = Path(__file__).resolve().parents[2]


def readme_commands(naming: str) -> list[list[str]]:
    """The README's ``itptrace`` lines that name ``naming``, as argument lists."""
    lines = (ROOT / "README.md").read_text().splitlines()
    found = [
        shlex.split(line.split("#")[0])[1:]
        for line in lines
        if line.startswith("itptrace ") and naming in line
    ]
    assert found, f"the README names no command on {naming}: this test would check nothing"
    return found


def run(args: list[str], env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200", **(env or {})})
    assert result.exit_code == 0, result.output
    return result.output


def test_the_readme_epcis_commands_run_as_written_on_the_example_document(
    monkeypatch: Any,
) -> None:
    monkeypatch.chdir(ROOT)
    outputs = {args[1]: run(args) for args in readme_commands("examples/document.jsonld")}
    assert outputs["validate"].strip() == "valid: 6 events"
    hashes = outputs["hash"].split()
    assert len(hashes) == 6 and all(h.startswith("ni:///sha-256;") for h in hashes)


def correspond(example: Any, fresh: Any, names: dict[str, str]) -> None:
    """``example`` and ``fresh`` are alike but for identifiers of the node; each example
    identifier always stands for the same fresh one (collected in ``names``)."""
    if isinstance(example, dict):
        assert isinstance(fresh, dict) and example.keys() == fresh.keys()
        for key in example:
            correspond(example[key], fresh[key], names)
    elif isinstance(example, list):
        assert isinstance(fresh, list) and len(example) == len(fresh)
        for a, b in zip(example, fresh, strict=True):
            correspond(a, b, names)
    elif isinstance(example, str) and example != fresh:
        assert example.startswith("KET01") and isinstance(fresh, str), (example, fresh)
        assert names.setdefault(example, fresh) == fresh, example
    else:
        assert example == fresh


def test_the_example_report_is_the_world_builders_and_captures_as_the_readme_says(
    ctx: Context, database_url: str, tmp_path: Path
) -> None:
    world = example_world(ctx)
    fresh = report(example_events(world, ctx.clock.now() - timedelta(hours=2)))
    example = json.loads((ROOT / "examples" / "report.json").read_text())
    names: dict[str, str] = {}
    correspond(example, fresh, names)
    assert len(names) == 20 + 4 + 4  # the packs, the boxes; operator, plant, depot, line
    ours = tmp_path / "report.json"
    ours.write_text(json.dumps(fresh))

    [args] = readme_commands("examples/report.json")
    args = [str(ours) if a == "examples/report.json" else a for a in args]
    args = [world.maker if a.endswith("...") else a for a in args]
    env = {
        "ITPTRACE_DATABASE_URL": database_url,
        "ITPTRACE_KEY_DIR": str(ctx.settings.key_dir),
        "ITPTRACE_COUNTRY": "KE",
        "ITPTRACE_ISSUER_CODE": "KET01",
        "ITPTRACE_CLOCK": ctx.settings.clock,
        "ITPTRACE_CAPTURE_ON_BEHALF": "true",  # as the README's line says it needs
    }
    assert run(args, env).startswith("6 accepted, 0 duplicates, 0 problems")
