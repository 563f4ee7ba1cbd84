"""SQL for the issuer: product codes, requests, issued codes, cancellations, deactivations."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, func, insert, select, update

from itptrace.repository.schema import (
    aggregate_uis,
    code_request_counts,
    code_requests,
    product_codes,
    request_cancellations,
    ui_deactivations,
    unit_uis,
)


def issued_unit_count(conn: Connection) -> int:
    """Every unit UI ever issued; expired and cancelled ones count, as they are never reused."""
    total = conn.execute(
        select(func.coalesce(func.sum(code_requests.c.quantity), 0)).where(
            code_requests.c.kind == "unit"
        )
    ).scalar_one()
    return int(total)


def find_product_code(conn: Connection, combination: dict[str, str]) -> str | None:
    query = select(product_codes.c.code).where(
        *(product_codes.c[name] == value for name, value in combination.items())
    )
    found: str | None = conn.execute(query).scalar()
    return found


def insert_product_code(
    conn: Connection, code: str, combination: dict[str, str], now: datetime
) -> None:
    conn.execute(insert(product_codes).values(code=code, created_at=now, **combination))


def get_product_code(conn: Connection, code: str) -> Row[Any] | None:
    return conn.execute(select(product_codes).where(product_codes.c.code == code)).first()


def insert_request(conn: Connection, values: dict[str, Any]) -> int:
    """The request row and its counts row (nothing deactivated yet); returns the request id."""
    result = conn.execute(insert(code_requests).values(**values).returning(code_requests.c.id))
    request_id = int(result.scalar_one())
    conn.execute(insert(code_request_counts).values(request_id=request_id, deactivated=0))
    return request_id


def get_request(conn: Connection, request_id: int) -> Row[Any] | None:
    return conn.execute(select(code_requests).where(code_requests.c.id == request_id)).first()


def get_request_with_counts(conn: Connection, request_id: int) -> Row[Any] | None:
    """The request row, when it was cancelled (or None) and how many of its codes are
    deactivated: three primary-key reads in one statement, whatever the request's size."""
    counts, cancelled = code_request_counts, request_cancellations
    query = (
        select(
            code_requests,
            cancelled.c.cancelled_at,
            func.coalesce(counts.c.deactivated, 0).label("deactivated"),
        )
        .outerjoin(cancelled, cancelled.c.request_id == code_requests.c.id)
        .outerjoin(counts, counts.c.request_id == code_requests.c.id)
        .where(code_requests.c.id == request_id)
    )
    return conn.execute(query).first()


def add_deactivated(conn: Connection, per_request: Mapping[int, int]) -> None:
    """Raise the deactivated count of each request by the codes just deactivated in it."""
    counts = code_request_counts
    raise_count = (
        update(counts)
        .where(counts.c.request_id == bindparam("rid"))
        .values(deactivated=counts.c.deactivated + bindparam("n"))
    )
    conn.execute(raise_count, [{"rid": rid, "n": n} for rid, n in sorted(per_request.items())])


def insert_codes(
    conn: Connection, kind: str, request_id: int, codes: Sequence[tuple[str, str | None]]
) -> None:
    """Bulk insert of (code, tag) pairs with one executemany call."""
    table, key = (unit_uis, "ui") if kind == "unit" else (aggregate_uis, "aui")
    conn.execute(
        insert(table), [{key: code, "request_id": request_id, "tag": tag} for code, tag in codes]
    )


def existing_codes(conn: Connection, kind: str, codes: Sequence[str]) -> set[str]:
    table, key = (unit_uis, "ui") if kind == "unit" else (aggregate_uis, "aui")
    column = table.c[key]
    found: set[str] = set()
    for start in range(0, len(codes), 500):
        chunk = codes[start : start + 500]
        found.update(conn.execute(select(column).where(column.in_(chunk))).scalars())
    return found


def request_codes_after(
    conn: Connection, kind: str, request_id: int, after: str | None, limit: int
) -> list[Row[Any]]:
    """At most ``limit`` (code, tag) rows of a request in code order, after the code
    ``after`` (from the first when None): one seek in the (request, code) index."""
    table, key = (unit_uis, "ui") if kind == "unit" else (aggregate_uis, "aui")
    column = table.c[key]
    query = select(column.label("code"), table.c.tag).where(table.c.request_id == request_id)
    if after is not None:
        query = query.where(column > after)
    return list(conn.execute(query.order_by(column).limit(limit)))


def get_cancellation(conn: Connection, request_id: int) -> Row[Any] | None:
    query = select(request_cancellations).where(request_cancellations.c.request_id == request_id)
    return conn.execute(query).first()


def insert_cancellation(
    conn: Connection, request_id: int, by: str, reason: str, now: datetime
) -> None:
    conn.execute(
        insert(request_cancellations).values(
            request_id=request_id, cancelled_at=now, cancelled_by=by, reason=reason
        )
    )


def find_code(conn: Connection, code: str) -> tuple[str, Row[Any]] | None:
    """The kind ('unit' or 'aggregate') and the issuance row of a code, joined to its request."""
    for kind, query in _find_code_queries():
        row = conn.execute(query, {"code": code}).first()
        if row is not None:
            return kind, row
    return None


@functools.cache
def _find_code_queries() -> tuple[tuple[str, Select[Any]], ...]:
    """Per kind, one statement (built once) reading the code, its request, whether the
    request was cancelled and the code's deactivation reason, by the bound ``code``."""
    queries = []
    for kind, table, key in (("unit", unit_uis, "ui"), ("aggregate", aggregate_uis, "aui")):
        query = (
            select(
                table.c[key].label("code"),
                table.c.tag,
                code_requests,
                request_cancellations.c.request_id.label("cancelled_request"),
                ui_deactivations.c.ui.label("deactivated_ui"),
                ui_deactivations.c.reason.label("deactivation_reason"),
            )
            .join(code_requests, code_requests.c.id == table.c.request_id)
            .outerjoin(
                request_cancellations, request_cancellations.c.request_id == code_requests.c.id
            )
            .outerjoin(ui_deactivations, ui_deactivations.c.ui == table.c[key])
            .where(table.c[key] == bindparam("code"))
        )
        queries.append((kind, query))
    return tuple(queries)


def insert_deactivations(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    conn.execute(insert(ui_deactivations), list(rows))
