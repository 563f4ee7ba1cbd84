"""The ``itptrace`` command, run in-process against SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from itptrace.capture.model import TraceEvent
from itptrace.capture.native import message_to_json
from itptrace.cli.main import app
from itptrace.sim.messages import Messages


class Cli:
    """Runs commands with ITPTRACE_* settings pointing at a test database."""

    def __init__(self, env: dict[str, str]):
        self.runner = CliRunner()
        self.env = env

    def __call__(self, *args: str, expect: int = 0) -> str:
        result = self.runner.invoke(app, list(args), env=self.env)
        assert result.exit_code == expect, result.output
        return result.output

    def json(self, *args: str) -> dict[str, object]:
        data: dict[str, object] = json.loads(self(*args, "--json"))
        return data


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Cli:
    run = Cli(
        {
            "ITPTRACE_DATABASE_URL": database_url,
            "ITPTRACE_KEY_DIR": str(tmp_path / "keys"),
            "ITPTRACE_COUNTRY": "KE",
            "ITPTRACE_ISSUER_CODE": "KET01",
            "ITPTRACE_CLOCK": "2026-01-05T08:00:00Z",
            "COLUMNS": "200",
        }
    )
    run("init")
    return run


@pytest.fixture
def chain(cli: Cli) -> dict[str, str]:
    maker = cli.json(
        "registry",
        "add-operator",
        "--name",
        "Nyota",
        "--country",
        "KE",
        "--role",
        "manufacturer",
        "--tobacco-industry",
    )
    plant = cli.json(
        "registry",
        "add-facility",
        "--operator",
        str(maker["id"]),
        "--name",
        "Plant",
        "--type",
        "manufacturing",
        "--address",
        "Nairobi",
        "--country",
        "KE",
    )
    line = cli.json(
        "registry",
        "add-machine",
        "--facility",
        str(plant["id"]),
        "--name",
        "L1",
        "--capacity",
        "1000",
    )
    cli(
        "registry",
        "add-product",
        "--gtin",
        "06009876543219",
        "--operator",
        str(maker["id"]),
        "--brand",
        "Savanna",
        "--description",
        "KS 20",
        "--category",
        "cigarettes",
        "--pack-size",
        "20",
    )
    return {"operator": str(maker["id"]), "facility": str(plant["id"]), "machine": str(line["id"])}


def issue_args(chain: dict[str, str], out: Path, count: str = "50") -> list[str]:
    return [
        "issue",
        "--operator",
        chain["operator"],
        "--facility",
        chain["facility"],
        "--machine",
        chain["machine"],
        "--product",
        "06009876543219",
        "--market",
        "KE",
        "--count",
        count,
        "--out",
        str(out),
    ]


def test_issued_codes_are_written_and_verify_offline_from_the_exported_keys(
    cli: Cli, chain: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "codes.txt"
    cli(*issue_args(chain, out))
    lines = out.read_text().splitlines()
    assert len(lines) == 50 and all(line.startswith("(01)06009876543219(91)") for line in lines)
    keys = tmp_path / "public-keys.json"
    cli("keys", "export", "--out", str(keys))
    assert "valid: valid" in cli("code", "verify", lines[0], "--keys", str(keys))
    forged = lines[0][:-3] + ("AAA" if not lines[0].endswith("AAA") else "BBB")
    output = cli("code", "verify", forged, "--keys", str(keys), expect=1)
    assert "INVALID" in output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--product": "06009876543210"}, "check digit"),
        ({"--facility": "KET01FNOPE00"}, "unknown facility"),
        ({"--machine": "KET01MNOPE00"}, "unknown machine"),
        ({"--count": "0"}, "quantity must be between 1 and"),
        ({"--count": "2000001"}, "quantity must be between 1 and"),
        ({"--market": "XQ"}, "unknown country"),
    ],
)
def test_bad_issue_input_gets_a_one_line_error_and_stores_nothing(
    cli: Cli, chain: dict[str, str], tmp_path: Path, change: dict[str, str], message: str
) -> None:
    args = issue_args(chain, tmp_path / "codes.txt")
    for option, value in change.items():
        args[args.index(option) + 1] = value
    output = cli(*args, expect=1)
    assert output.startswith("error: ") and message in output and output.count("\n") == 1
    assert not (tmp_path / "codes.txt").exists()
    # Nothing of the refused request was stored: the next good one is request 1.
    assert "request 1:" in cli(*issue_args(chain, tmp_path / "ok.txt", count="1"))


def test_a_machine_at_another_facility_is_refused(
    cli: Cli, chain: dict[str, str], tmp_path: Path
) -> None:
    other = cli.json(
        "registry",
        "add-facility",
        "--operator",
        chain["operator"],
        "--name",
        "P2",
        "--type",
        "warehouse",
        "--address",
        "Mombasa",
        "--country",
        "KE",
    )
    args = issue_args(chain, tmp_path / "c.txt")
    args[args.index("--facility") + 1] = str(other["id"])
    assert "is not at facility" in cli(*args, expect=1)


def test_registry_input_errors_name_the_bad_value(cli: Cli) -> None:
    output = cli(
        "registry", "add-operator", "--name", "X", "--country", "XQ", "--role", "importer", expect=1
    )
    assert (
        output.strip()
        == "error: unknown country 'XQ': expected an ISO 3166-1 alpha-2 code such as KE"
    )
    output = cli(
        "registry", "add-operator", "--name", "X", "--country", "KE", "--role", "smuggler", expect=1
    )
    assert "unknown operator role 'smuggler'" in output
    assert json.loads(cli("registry", "list", "--json"))["operators"] == []


def test_a_rendered_data_matrix_decodes_back_to_the_same_code(
    cli: Cli, chain: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "codes.txt"
    cli(*issue_args(chain, out, count="1"))
    code = out.read_text().strip()
    png = tmp_path / "pack.png"
    rendered = re.search(
        r"Data Matrix (\d+)x(\d+) modules", cli("code", "render", code, "--out", str(png))
    )
    assert rendered is not None and 36 <= int(rendered[1]) == int(rendered[2]) <= 48
    assert cli("code", "decode", str(png)).strip() == code
    svg = tmp_path / "pack.svg"
    cli("code", "render", code, "--out", str(svg))
    assert svg.read_text().lstrip().startswith(("<svg", "<?xml"))


def test_keys_rotate_and_both_keys_are_exported(cli: Cli, tmp_path: Path) -> None:
    cli("keys", "rotate")
    exported = json.loads(cli("keys", "export"))
    assert [k["status"] for k in exported["keys"]] == ["retired", "active"]
    assert exported["issuer_code"] == "KET01"


def test_a_rotation_archives_the_old_key_on_demand_and_a_key_can_be_revoked(
    cli: Cli, tmp_path: Path
) -> None:
    archive = tmp_path / "vault" / "old.pem"
    assert "removed from the node" in cli("keys", "rotate", "--archive", str(archive))
    assert archive.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    old, _new = (k["kid"] for k in json.loads(cli("keys", "export"))["keys"])
    assert f"key {old} revoked" in cli("keys", "revoke", old, "--reason", "laptop stolen")
    exported = json.loads(cli("keys", "export"))
    assert [k["status"] for k in exported["keys"]] == ["revoked", "active"]
    assert exported["revoked_keys"] == [old]
    assert "already revoked" in cli("keys", "revoke", old, "--reason", "again", expect=1)
    assert "has left the key directory" in cli(
        "keys", "archive", old, "--out", str(tmp_path / "x.pem"), expect=1
    )


def test_codes_can_be_shown_deactivated_and_their_request_cancelled(
    cli: Cli, chain: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "codes.txt"
    cli(*issue_args(chain, out, count="2"))
    first, second = out.read_text().split()
    cli("code", "deactivate", first, "--reason", "destroyed")
    assert json.loads(cli("code", "show", first))["state"] == "deactivated"
    assert "unknown deactivation reason" in cli(
        "code", "deactivate", second, "--reason", "x", expect=1
    )
    cli("code", "cancel-request", "1")
    assert json.loads(cli("code", "show", second))["state"] == "cancelled"


def test_a_request_shows_its_counts_and_lists_its_codes_a_page_at_a_time_by_key(
    cli: Cli, chain: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "codes.txt"
    cli(*issue_args(chain, out, count="5"))
    written = out.read_text().split()
    cli("code", "deactivate", written[0], "--reason", "destroyed")
    counts = json.loads(cli("code", "request", "1"))["counts"]
    assert counts == {"issued": 4, "expired": 0, "cancelled": 0, "deactivated": 1}
    listed: list[str] = []
    after: list[str] = []
    while True:
        result = cli.runner.invoke(app, ["code", "list", "1", "--limit", "2", *after], env=cli.env)
        assert result.exit_code == 0, result.output
        listed += result.stdout.split()
        found = re.search(r"next: --after (\S+)", result.stderr)
        if found is None:
            break
        after = ["--after", found[1]]
    assert listed == written
    assert "unknown code request 9" in cli("code", "list", "9", expect=1)


def test_a_deactivated_machine_issues_no_more_codes_and_is_not_deactivated_twice(
    cli: Cli, chain: dict[str, str], tmp_path: Path
) -> None:
    machine = chain["machine"]
    done = cli("registry", "deactivate-machine", machine)
    assert done == f"machine {machine} deactivated\n"
    listed = json.loads(cli("registry", "list", "--json"))
    assert [m["active"] for m in listed["machines"]] == [False]
    assert f"machine {machine} is deactivated" in cli(
        *issue_args(chain, tmp_path / "codes.txt"), expect=1
    )
    again = cli("registry", "deactivate-machine", machine, expect=1)
    assert again == f"error: machine {machine} is already deactivated\n"


def test_deactivating_an_operator_reports_what_it_took_with_it(
    cli: Cli, chain: dict[str, str]
) -> None:
    operator = chain["operator"]
    assert cli("registry", "deactivate-operator", operator).strip() == (
        f"operator {operator} deactivated with 1 facility(ies) and 1 machine(s)"
    )
    listed = json.loads(cli("registry", "list", "--json"))
    assert [o["active"] for o in listed["operators"]] == [False]
    assert [f["active"] for f in listed["facilities"]] == [False]
    assert "unknown product 04012345678901" in cli(
        "registry", "deactivate-product", "04012345678901", expect=1
    )


def capture_file(tmp_path: Path, name: str, *events: TraceEvent) -> Path:
    """A native report of ``events`` written to ``name``, for ``itptrace capture``."""
    path = tmp_path / name
    path.write_text(json.dumps({"messages": [message_to_json(e) for e in events]}))
    return path


@pytest.fixture
def packs(cli: Cli, chain: dict[str, str], tmp_path: Path) -> list[str]:
    """Three issued unit UIs of the chain's machine."""
    out = tmp_path / "packs.json"
    cli(*issue_args(chain, out, count="3"))
    return [str(code["ui"]) for code in json.loads(out.read_text())]


REPORTED_AT = datetime(2026, 1, 5, 7, 30, tzinfo=UTC)  # half an hour before the CLI's clock


@pytest.fixture
def on_behalf(cli: Cli) -> Cli:
    """The CLI of a node whose issuer's staff may report in an operator's name."""
    cli.env["ITPTRACE_CAPTURE_ON_BEHALF"] = "true"
    return cli


def test_the_console_reports_in_an_operators_name_only_where_the_node_allows_it(
    cli: Cli, chain: dict[str, str], packs: list[str], tmp_path: Path
) -> None:
    m = Messages(prefix="CLI")
    applied = m.apply(chain["operator"], chain["facility"], chain["machine"], packs, REPORTED_AT)
    report = capture_file(tmp_path, "applied.json", applied)
    assert "ITPTRACE_CAPTURE_ON_BEHALF" in cli("capture", str(report), expect=1)


def test_a_captured_report_prints_its_counts_and_a_repeat_is_a_duplicate(
    on_behalf: Cli, chain: dict[str, str], packs: list[str], tmp_path: Path
) -> None:
    cli = on_behalf
    m = Messages(prefix="CLI")
    applied = m.apply(chain["operator"], chain["facility"], chain["machine"], packs, REPORTED_AT)
    report = capture_file(tmp_path, "applied.json", applied)
    assert cli("capture", str(report)) == "1 accepted, 0 duplicates, 0 problems\n"
    again = cli.json("capture", str(report))
    assert (again["accepted"], again["duplicates"], again["problems"]) == (
        [],
        [applied.event_id],
        [],
    )


def test_a_refused_event_refuses_the_report_and_exits_1_unless_partial(
    on_behalf: Cli, chain: dict[str, str], packs: list[str], tmp_path: Path
) -> None:
    cli = on_behalf
    m, maker = Messages(prefix="CLI"), chain["operator"]
    good = m.apply(maker, chain["facility"], chain["machine"], packs[:1], REPORTED_AT)
    bad = m.apply(maker, chain["facility"], chain["machine"], ["KET01NOSUCHPACK"], REPORTED_AT)
    report = capture_file(tmp_path, "mixed.json", good, bad)
    output = cli("capture", str(report), expect=1)
    assert output.startswith("0 accepted, 0 duplicates, 1 problems\n")
    assert f"error: [ui_unknown] {bad.event_id}: " in output
    partial = json.loads(cli("capture", str(report), "--partial", "--json", expect=1))
    assert [a["event_id"] for a in partial["accepted"]] == [good.event_id]
    assert [(p["code"], p["event_id"]) for p in partial["problems"]] == [
        ("ui_unknown", bad.event_id)
    ]


def test_an_unreadable_report_is_a_one_line_error_and_a_malformed_one_a_problem(
    cli: Cli, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    output = cli("capture", str(broken), expect=1)
    assert output.startswith(f"error: {broken} is not valid JSON") and output.count("\n") == 1
    malformed = tmp_path / "malformed.json"
    malformed.write_text(json.dumps({"messages": [{"message_type": "EUA"}]}))
    output = cli("capture", str(malformed), expect=1)
    assert output.startswith("0 accepted, 0 duplicates, 3 problems\n")
    assert "error: [malformed] -: message 0 field 'originator': Field required" in output
