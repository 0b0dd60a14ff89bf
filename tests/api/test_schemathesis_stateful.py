"""Schemathesis' stateful test of the shortlist endpoints: sequences of calls that follow the
schema's OpenAPI links (issue -> read back, latest, feedback on the first candidate, close;
feedback -> confirm / reject), with a coordinator's key, in process. Every response must be
documented and match its schema, and no sequence may cause a server error. Budgeted: a few
bounded scenarios (well under a minute)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.settings import sqlite_url
from tests.api.conftest import Api, make_api


def _workflows(api: Api) -> list[str]:
    """Run the state machine against the app; the calls made (method, path, status)."""
    headers = {"X-API-Key": api.keys["coordinator"]}
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app).include(
        path_regex="shortlist")
    calls: list[str] = []

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers}

        def before_call(self, case: Any) -> None:
            if case.path == "/v1/options/{option_id}/shortlist" and case.method == "POST":
                case.path_parameters = {"option_id": "TCK-KEUKEN"}  # one that exists

        def validate_response(self, response: Any, case: Any, **kw: Any) -> None:
            calls.append(f"{case.method} {case.path} {response.status_code}")
            case.validate_response(response, excluded_checks=[positive_data_acceptance],
                                   headers=headers)

    Workflow.run(settings=settings(max_examples=12, stateful_step_count=5, deadline=None,
                                   derandomize=True, database=None,
                                   suppress_health_check=list(HealthCheck)))
    return calls


def test_shortlist_workflows_conform_to_the_schema(tmp_path: Path) -> None:
    for api in make_api(sqlite_url(tmp_path / "matcher.db")):
        api.import_pilot()
        calls = _workflows(api)
        issued = [c for c in calls if c.startswith("POST /v1/options/") and c.endswith("201")]
        followed = [c for c in calls if c.startswith(("GET /v1/shortlists/{",
                                                      "POST /v1/shortlists/{"))
                    and c.endswith((" 200", " 201"))]  # a link took an issued id
        assert issued and followed, calls
