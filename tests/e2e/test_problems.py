"""Bad requests get RFC 9457 problem+json with a 4xx status, never a 5xx or a stack trace."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from itptrace.capture.epcis_map import from_trace_event
from itptrace.epcis.serialize import to_jsonld
from itptrace.sim.world import World
from tests.e2e.conftest import Node, native

MIB = 1024 * 1024
OPERATOR = {"name": "Acme", "country": "KE", "roles": ["retailer"], "tobacco_industry": False}


def problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The problem body, checked for status, media type, type URI and the required members."""
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == f"https://itptrace.org/problems/{code}"
    assert body["status"] == status and body["title"] and body["detail"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body


@pytest.fixture(scope="module")
def admin(node: Node) -> Iterator[httpx.Client]:
    with node.client("issuer_admin") as client:
        yield client


def raw_post(node: Node, path: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """Send only the head of a POST (the body announced is never sent) and read the answer."""
    url = httpx.URL(node.url)
    head = [f"POST {path} HTTP/1.1", f"Host: {url.host}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((url.host, url.port or 80), timeout=10) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


def test_malformed_json_is_a_400_problem(node: Node, admin: httpx.Client) -> None:
    for path in ("/operators", "/messages", "/capture", "/events"):
        sent = admin.post(path, content=b'{"name": ', headers={"content-type": "application/json"})
        problem(sent, 400, "malformed_json")


def test_a_body_that_is_not_json_is_a_415_problem(node: Node, admin: httpx.Client) -> None:
    for path, kind in [
        ("/operators", "text/plain"),
        ("/capture", "application/xml"),
        ("/messages", "application/x-www-form-urlencoded"),
    ]:
        problem(
            admin.post(path, content=b"a=b", headers={"content-type": kind}),
            415,
            "unsupported_media_type",
        )


def test_a_declared_oversize_body_is_refused_before_it_is_read(node: Node) -> None:
    token = node.tokens["issuer_admin"]
    for path, length in [("/operators", MIB + 1), ("/capture", 64 * MIB + 1)]:
        status, body = raw_post(
            node,
            path,
            {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Content-Length": str(length),
            },
        )
        assert (status, body["type"]) == (413, "https://itptrace.org/problems/payload_too_large")


def test_an_oversize_body_without_length_is_cut_off_at_the_limit(
    node: Node, admin: httpx.Client
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(17):
            yield b"x" * (64 * 1024)
        yield b'"}'

    sent = admin.post("/operators", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in sent.request.headers
    problem(sent, 413, "payload_too_large")


def test_reports_may_be_larger_than_other_bodies(node: Node, chain: World) -> None:
    messages = native(
        chain.msg.arrive(
            chain.importer,
            chain.depot,
            [f"X{i:089d}" for i in range(30_000)],
            datetime.now(UTC) - timedelta(minutes=5),
        )
    )
    assert len(json.dumps(messages)) > 2 * MIB
    with node.client(chain.importer_user) as importer:
        refused = problem(importer.post("/messages", json=messages), 422, "ui_not_applied")
    # The answer stays small: the first ITPTRACE_REFUSAL_PROBLEMS problems and the total.
    assert len(refused["errors"]) == 100
    assert "30000 problems" in refused["detail"]


def test_unknown_and_missing_fields_are_422_problems_naming_the_field(
    node: Node, admin: httpx.Client
) -> None:
    unknown = problem(
        admin.post("/operators", json={**OPERATOR, "colour": "red"}), 422, "validation_failed"
    )
    assert unknown["subject"] == "colour"
    assert unknown["errors"][0]["code"] == "unknown_field"
    missing = {k: v for k, v in OPERATOR.items() if k != "country"}
    assert (
        problem(admin.post("/operators", json=missing), 422, "validation_failed")["subject"]
        == "country"
    )
    deep = {"kind": "aggregate", "operator_id": "X", "facility_id": "Y", "quantity": 0}
    assert (
        problem(admin.post("/issuer/requests", json=deep), 422, "validation_failed")["subject"]
        == "aggregate.quantity"
    )


def test_service_refusals_keep_their_code_and_subject(node: Node, admin: httpx.Client) -> None:
    bad = {**OPERATOR, "roles": ["smuggler"]}
    problem(admin.post("/operators", json=bad), 422, "registry_invalid")
    gone = problem(admin.get("/facilities/KET01FNOSUCH"), 404, "not_found")
    assert gone["subject"] == "KET01FNOSUCH"
    with node.client("authority") as authority:
        problem(
            authority.get("/events", params={"perPage": "many"}), 400, "query_parameter_invalid"
        )


def test_a_refused_report_lists_every_failing_event(node: Node, chain: World) -> None:
    at = datetime.now(UTC) - timedelta(minutes=5)
    m = chain.msg
    report = native(
        m.arrive(chain.importer, chain.depot, ["NOSUCHUI1"], at),
        m.arrive(chain.importer, chain.depot, ["NOSUCHUI2"], at),
    )
    with node.client(chain.importer_user) as importer:
        refused = problem(importer.post("/messages", json=report), 422, "ui_not_applied")
        assert {e["event_id"] for e in refused["errors"]} == {
            msg["message_code"] for msg in report["messages"]
        }
        assert {e["subject"] for e in refused["errors"]} == {"NOSUCHUI1", "NOSUCHUI2"}
        problem(
            importer.get("/events", params={"NOT_A_PARAMETER": "1"}), 400, "query_parameter_invalid"
        )


def test_authentication_routing_and_method_errors_are_problems(node: Node) -> None:
    anonymous = httpx.get(node.url + "/operators")
    problem(anonymous, 401, "unauthenticated")
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    forged = httpx.get(node.url + "/operators", headers={"Authorization": "Bearer itp_x_y"})
    problem(forged, 401, "unauthenticated")
    problem(httpx.get(node.url + "/no/such/route"), 404, "not_found")
    wrong = httpx.delete(node.url + "/health")
    problem(wrong, 405, "method_not_allowed")
    assert "GET" in wrong.headers["allow"]


def test_nul_characters_are_refused_wherever_they_hide(node: Node, chain: World) -> None:
    with node.client("authority") as authority:
        problem(authority.get("/events", params={"MATCH_epc": "A\x00B"}), 400, "bad_request")
        problem(authority.get("/uis/A%00B/where"), 400, "bad_request")
    arrival = chain.msg.arrive(chain.importer, chain.depot, [chain.pallet], datetime.now(UTC))
    event = to_jsonld([from_trace_event(arrival)], kind="event")
    event["eventID"] = "urn:itptrace:message:A\x00B"
    with node.client(chain.importer_user) as importer:
        refused = problem(importer.post("/events", json=event), 422, "malformed")
        assert refused["subject"] == "$.eventID"
        queued = problem(importer.post("/capture", json={"messages": [event]}), 422, "malformed")
        assert queued["subject"] == "$.messages.0.eventID"
