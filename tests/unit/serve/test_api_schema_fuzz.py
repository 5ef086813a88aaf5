"""Property-based tests against the API's own OpenAPI schema (schemathesis): requests generated
from the schema, valid and invalid, never cause a server error, and every answer matches the
schema (status codes, content types, bodies). Bounded: a few examples per operation."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode, checks

from tests.unit.serve.conftest import make_served

# Which operator's key each endpoint gets: one whose role may call it, so the generated inputs
# reach the code behind the permission check.
ROLE_FOR_PATH = (
    ("/api/v1/search", "investigator"),
    ("/api/v1/verify", "investigator"),
    ("/api/v1/searches", "reviewer"),
    ("/api/v1/audit", "auditor"),
)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory, photos):
    served = make_served(tmp_path_factory.mktemp("fuzz"), photos)
    served.ingest(["hopper"])
    served.search("hopper")
    yield served
    served.client.__exit__(None, None, None)


def _property(operation, mode: GenerationMode, api_key: str):
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=5,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def holds(case):
        case.call_and_validate(headers={"X-API-Key": api_key}, checks=CHECKS)

    return holds


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_generated_requests_never_cause_a_server_error(fuzzed, mode):
    """Every operation, with inputs that fit the schema and with inputs that break it."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    unbreakable = []
    for operation in operations:
        path = operation.path
        role = next((r for prefix, r in ROLE_FOR_PATH if path.startswith(prefix)), "admin")
        try:
            _property(operation, mode, fuzzed.keys[role])()
        except Unsatisfiable:
            # No input can break a schema without parameters (e.g. GET /health).
            assert mode == GenerationMode.NEGATIVE
            unbreakable.append(operation.label)
    assert len(unbreakable) <= 5, unbreakable
