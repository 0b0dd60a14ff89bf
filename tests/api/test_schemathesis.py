"""Schemathesis against the OpenAPI schema, in process (ASGI), with a bounded number of examples.

Every operation gets generated requests (valid and invalid) with a coordinator's key; every
response must be documented and match its schema, and no request may cause a server error.
The positive-data-acceptance check is left out: a schema-valid import or round request may still
be refused (422 naming row and field) because its *content* breaks the domain rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.settings import sqlite_url
from tests.api.conftest import make_api

EXAMPLES = 6


def _runner(op: Any, headers: dict[str, str]) -> Any:
    @given(case=op.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

    return run


def test_api_conforms_to_its_schema(tmp_path: Path) -> None:
    for api in make_api(sqlite_url(tmp_path / "matcher.db")):
        api.import_pilot()
        api.round()
        headers = {"X-API-Key": api.keys["coordinator"]}
        schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
        failures: list[str] = []
        n_ops = 0
        for result in schema.get_all_operations():
            op = result.ok()
            n_ops += 1

            try:
                _runner(op, headers)()
            except Exception as exc:  # collect every operation's failure, then report all
                failures.append(f"{op.method.upper()} {op.path}: {exc}")
        assert n_ops >= 15
        assert not failures, "\n\n".join(failures)
