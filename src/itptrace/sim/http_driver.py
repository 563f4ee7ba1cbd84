"""The world builder's HTTP door: the same steps as requests to a served node.

The registry is written with an issuer administrator's token; every operator account gets
a token of its own from ``mint`` (the caller decides how: the auth service beside the
node, or an operator's own system), and codes are requested, listed and reports sent with
it. Only ``httpx`` talks to the node: nothing here calls a service.

A report of ``queue_from`` events or more goes to ``POST /capture`` as a queued job and is
polled until done, as an operator's system would send a production batch; the others go to
``POST /messages``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from itptrace.capture.model import TraceEvent
from itptrace.capture.native import message_to_json
from itptrace.sim.world import OperatorSpec, ProductSpec, Refused, SiteSpec, World

Mint = Callable[[str, str, str | None], str]
"""Makes a user (name, role, operator id) and returns a bearer token of theirs."""


def answer(response: httpx.Response) -> Any:
    """The JSON body of a successful response; a refusal raises ``Refused`` with its text."""
    if response.status_code >= 400:
        raise Refused(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:300]}"
        )
    return response.json()


class HttpDriver:
    """Builds a world through the API of the node ``http`` points at."""

    def __init__(
        self,
        http: httpx.Client,
        admin_token: str,
        mint: Mint,
        *,
        queue_from: int | None = None,
        say: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.http, self.mint, self.queue_from = http, mint, queue_from
        self.say, self.clock = say or (lambda _line: None), clock
        self.admin = {"Authorization": f"Bearer {admin_token}"}
        self.tokens: dict[str, dict[str, str]] = {}  # operator account -> its headers
        self.jobs = 0

    def now(self) -> datetime:
        return self.clock()

    def _post(self, path: str, body: object, headers: dict[str, str] | None = None) -> Any:
        return answer(self.http.post(path, json=body, headers=headers or self.admin))

    def add_operator(self, spec: OperatorSpec) -> str:
        body = {
            "name": spec.name,
            "country": spec.country,
            "roles": list(spec.roles),
            "tobacco_industry": spec.tobacco_industry,
        }
        return str(self._post("/operators", body)["id"])

    def add_facility(self, operator_id: str, spec: SiteSpec) -> str:
        body = {"operator_id": operator_id, "name": spec.name, "type": spec.type,
                "address": spec.address, "country": spec.country}  # fmt: skip
        return str(self._post("/facilities", body)["id"])

    def add_machine(self, facility_id: str, name: str, capacity_per_hour: int) -> str:
        body = {"facility_id": facility_id, "name": name, "capacity_per_hour": capacity_per_hour}
        return str(self._post("/machines", body)["id"])

    def add_product(self, operator_id: str, spec: ProductSpec) -> str:
        body = {"gtin": spec.gtin, "operator_id": operator_id, "brand": spec.brand,
                "description": spec.description, "category": spec.category,
                "pack_size": spec.pack_size}  # fmt: skip
        return str(self._post("/products", body)["gtin"])

    def add_account(self, user: str, operator_id: str, tobacco_industry: bool) -> None:
        # The industry flag is the operator's, recorded in the registry: the token follows it.
        self.tokens[user] = {"Authorization": f"Bearer {self.mint(user, 'operator', operator_id)}"}

    def request_units(self, user: str, world: World, quantity: int) -> tuple[int, list[str]]:
        d = world.description
        body = {"kind": "unit", "operator_id": world.maker, "facility_id": world.plant,
                "machine_id": world.machine, "gtin": world.gtin, "intended_market": d.market,
                "quantity": quantity, "route": d.route,
                "importer_id": world.importer_of_record}  # fmt: skip
        return self._request(user, body)

    def request_boxes(self, user: str, world: World, quantity: int) -> tuple[int, list[str]]:
        body = {"kind": "aggregate", "operator_id": world.maker, "facility_id": world.plant,
                "quantity": quantity}  # fmt: skip
        return self._request(user, body)

    def _request(self, user: str, body: dict[str, Any]) -> tuple[int, list[str]]:
        request_id = int(self._post("/issuer/requests", body, self.tokens[user])["request_id"])
        codes: list[str] = []
        params: dict[str, str] = {}
        while True:
            path = f"/issuer/requests/{request_id}/codes"
            page = answer(self.http.get(path, params=params, headers=self.tokens[user]))
            codes += [c["code"] for c in page["codes"]]
            if page["next"] is None:
                return request_id, codes
            params = {"after": page["next"]}

    def report(self, user: str, events: Sequence[TraceEvent]) -> int:
        body = {"messages": [message_to_json(e) for e in events]}
        headers = self.tokens[user]
        if self.queue_from is None or len(events) < self.queue_from:
            return len(self._post("/messages", body, headers)["accepted"])
        job = self._post("/capture", body, headers)
        self.jobs += 1
        deadline = time.monotonic() + 60
        while job["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.1)
            job = answer(self.http.get(f"/capture/{job['id']}", headers=headers))
        if job["status"] != "done":
            raise Refused(f"capture job {job['id']} ended {job['status']}: {job['errors']}")
        self.say(
            f"  POST /capture as {user}: job {job['id']} {job['status']}, "
            f"{job['accepted']} events accepted"
        )
        return int(job["accepted"])
