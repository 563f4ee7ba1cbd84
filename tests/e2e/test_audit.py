"""Every read of pack-level data and every refused request leaves exactly one audit record.

The requests below are counted as they are made (100 %: none may be missing or doubled),
sequentially and from concurrent clients; requests that read no pack-level data and are
not refused must leave none. The trail is read back over HTTP by the auditor.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from itptrace.access import local_authority
from itptrace.ledger import service as ledger
from itptrace.ledger.fsck import fsck
from itptrace.sim.world import World
from tests.e2e.conftest import Node, ok


def audit_after(node: Node, seq: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with node.client("auditor") as auditor:
        while True:
            page = ok(auditor.get("/audit", params={"after": seq, "limit": 1000}))
            if not page:
                return rows
            rows.extend(page)
            seq = page[-1]["seq"]


def last_seq(node: Node) -> int:
    rows = audit_after(node, 0)
    return rows[-1]["seq"] if rows else 0


def requests_to_audit(node: Node, chain: World) -> list[tuple[str | None, str, str, int]]:
    """(user, method, url, expected status) of requests that must each leave one record."""
    pack, pallet = chain.packs[2], chain.pallet
    return [
        ("authority", "GET", f"/uis/{pack}/trace", 200),
        ("authority", "GET", f"/uis/{pack}/where", 200),
        ("authority", "GET", f"/uis/{pack}/report", 200),
        ("authority", "GET", f"/aggregates/{pallet}/contents", 200),
        ("authority", "GET", "/events?EQ_bizStep=shipping", 200),
        ("authority", "GET", "/refused", 200),
        ("authority", "GET", "/uis/NOSUCHPACK/trace", 404),
        ("authority", "GET", "/events?NOT_A_PARAMETER=1", 400),
        (chain.maker_user, "GET", f"/issuer/requests/{chain.unit_request}/codes?limit=5", 200),
        (chain.importer_user, "GET", f"/uis/{pack}/where", 200),
        (chain.importer_user, "GET", f"/uis/{pack}/report", 403),
        ("inspector", "GET", f"/uis/{pack}/trace", 403),
        ("gsp_peer", "GET", "/operators", 403),
        ("authority", "POST", "/operators", 403),
        (None, "GET", f"/uis/{pack}/trace", 401),
        (None, "GET", "/operators", 401),
        (None, "POST", "/capture", 401),
    ]


def not_audited(chain: World) -> list[tuple[str | None, str, str, int]]:
    return [
        (None, "GET", "/health", 200),
        (None, "GET", "/issuer/keys", 200),
        ("authority", "GET", "/operators", 200),
        ("authority", "GET", f"/products/{chain.gtin}", 200),
        ("auditor", "GET", "/audit?limit=1", 200),
        ("authority", "GET", "/nowhere", 404),
    ]


def send(node: Node, user: str | None, method: str, url: str, purpose: str) -> int:
    with node.client(user, purpose=purpose) as client:
        body = {"json": {"name": "x"}} if method == "POST" else {}
        return client.request(method, url, **body).status_code


def test_each_audited_request_leaves_exactly_one_record_and_others_none(
    node: Node, chain: World
) -> None:
    start = last_seq(node)
    audited = requests_to_audit(node, chain)
    plan = audited + not_audited(chain)
    for i, (user, method, url, status) in enumerate(plan):
        assert send(node, user, method, url, f"case {i}") == status, (user, method, url)
    rows = audit_after(node, start)
    assert len(rows) == len(audited)
    for row, (user, method, url, status) in zip(rows, audited, strict=True):
        assert (row["user"], row["method"], row["status"]) == (user, "API", status)
        assert row["endpoint"] == _operation(method, url)
        assert row["outcome"] == (
            "ok" if status < 400 else "denied" if status in (401, 403) else "error"
        )
    trace = rows[0]
    assert trace["endpoint"] == "query.trace"
    assert trace["params"] == {"subject": chain.packs[2]}
    assert (trace["role"], trace["purpose"], trace["result_count"]) == ("authority", "case 0", 6)
    assert rows[8]["result_count"] == 5 and rows[8]["operator_id"] == chain.maker


def test_concurrent_requests_are_audited_exactly_once_each(node: Node, chain: World) -> None:
    start = last_seq(node)
    audited = requests_to_audit(node, chain) * 6
    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(lambda r: send(node, r[0], r[1], r[2], "concurrent"), audited))
    assert statuses == [status for *_rest, status in audited]
    rows = audit_after(node, start)
    named = [r for r in rows if r["user"] is not None]
    assert sorted((r["user"], r["endpoint"], r["status"]) for r in named) == sorted(
        (u, _operation(m, url), s) for u, m, url, s in audited if u is not None
    )
    # Requests without a token are aggregated (api/bounds.py): at most one record per
    # operation while they keep coming, counting the refusals it stands for.
    anonymous = {_operation(m, url) for u, m, url, _s in audited if u is None}
    assert len(rows) - len(named) <= len(anonymous)


def test_concurrent_audited_reads_leave_one_record_and_one_ledger_leaf_each_and_it_verifies(
    node: Node, chain: World
) -> None:
    start, size = last_seq(node), ledger.tree_head(node.ctx).size
    urls = [f"/uis/{pack}/{op}" for pack in chain.packs[:24] for op in ("trace", "where")]
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda url: send(node, "authority", "GET", url, "n"), urls))
    assert statuses == [200] * len(urls)
    rows = audit_after(node, start)
    assert sorted(r["params"]["subject"] + r["endpoint"] for r in rows) == sorted(
        url.split("/")[2] + "query." + url.split("/")[3] for url in urls
    )
    leaves = ledger.entries(node.ctx, local_authority(), size, ledger.tree_head(node.ctx).size)
    audit_leaves = sorted(int(leaf.ref) for leaf in leaves if leaf.kind == "audit")
    assert audit_leaves == [r["seq"] for r in rows]
    report = fsck(node.ctx, local_authority())
    assert report.ok, report.problems[:5]
    assert report.leaves_checked == ledger.tree_head(node.ctx).size


def _operation(method: str, url: str) -> str:
    """The service operation (permission) an audited request of this test exercises."""
    path = httpx.URL(url).path
    parts = path.strip("/").split("/")
    if parts[0] == "uis":
        return f"query.{parts[2]}"
    return {
        "aggregates": "query.contents",
        "events": "query.events",
        "refused": "refused.read",
        "issuer": "issuer.codes",
        "operators": "registry.write" if method == "POST" else "registry.read",
        "capture": "capture.report",
    }[parts[0]]
