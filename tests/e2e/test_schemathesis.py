"""Schemathesis over the live server's ``/openapi.json``, with an authority token.

Every operation gets bounded generated requests (schema-valid ones, then schema-breaking
ones); no answer may be a server error, and every answer must match the documented status
codes, media types and response schemas.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from itptrace.sim.world import World
from tests.e2e.conftest import Node

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MODES = {
    schemathesis.GenerationMode.POSITIVE: 20,
    schemathesis.GenerationMode.NEGATIVE: 10,
}


def operations(node: Node) -> list[Any]:
    schema = schemathesis.openapi.from_url(node.url + "/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


def exercise(node: Node, operation: Any, mode: schemathesis.GenerationMode) -> None:
    """Run the bounded generated cases of one operation; raise on the first failure."""
    headers = {"Authorization": f"Bearer {node.tokens['authority']}"}

    @settings(
        max_examples=MODES[mode],
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(base_url=node.url, headers=headers, timeout=30)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


@pytest.mark.parametrize("mode", list(MODES), ids=lambda m: m.value)
def test_no_generated_request_gets_a_server_error_or_an_undocumented_answer(
    node: Node, chain: World, mode: schemathesis.GenerationMode
) -> None:
    failures: list[str] = []
    found, exercised = operations(node), []
    assert {"POST /capture", "GET /uis/{ui}/trace"} <= {o.label for o in found}
    for operation in found:
        try:
            exercise(node, operation, mode)
        except Unsatisfiable:  # no parameters and no body: nothing to break
            assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
            continue
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}"[:3000])
        exercised.append(operation.label)
    assert failures == [], "\n\n".join(failures)
    assert exercised, "no operation could be exercised: nothing was checked"
