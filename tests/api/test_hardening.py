"""The service's side of issue #33 (docs/security.md): ids that start like a formula are refused
at import, like in files."""

from __future__ import annotations

import csv

import pytest

from tests.api.conftest import PILOT, Api


def pilot_rows() -> dict[str, list[dict[str, str]]]:
    tables = {}
    for t in ("organisations", "options", "candidates"):
        with (PILOT / f"{t}.csv").open(encoding="utf-8", newline="") as fh:
            tables[t] = list(csv.DictReader(fh))
    return tables


def test_a_json_import_with_a_formula_id_is_refused(sqlite_api: Api) -> None:
    rows = pilot_rows()
    rows["candidates"][2]["candidate_id"] = "=1+1"
    r = sqlite_api.post("/v1/imports", json=rows)
    assert r.status_code == 422, r.text
    assert "starts like a spreadsheet formula" in r.text and "candidate_id" in r.text


@pytest.mark.parametrize("body", [
    '{"kind": "scenario", "policy": {"weights": {"skills": 1e999}}}',
    '{"kind": "scenario", "policy": {"weights": {"skills": 1e308}}}',
    '{"kind": "official", "policy": {"objective": {"match_bonus": -1e999}}}',
])
def test_a_round_with_an_absurd_policy_number_is_refused(api: Api, body: str) -> None:
    """422 naming the key, nothing stored (PostgreSQL once answered 500, SQLite stored a
    'done' round)."""
    api.import_pilot()
    who = "planner" if "scenario" in body else "coordinator"
    r = api.client.post("/v1/rounds", content=body,
                        headers={**api.h(who), "content-type": "application/json"})
    assert r.status_code == 422, r.text
    field = r.json()["problems"][0]["field"]
    assert field in ("weights.skills", "objective.match_bonus")
    assert api.get("/v1/rounds").json()["total"] == 0
