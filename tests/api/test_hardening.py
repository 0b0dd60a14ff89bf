"""The service's side of issue #33 (docs/security.md): ids that start like a formula are refused
at import, like in files."""

from __future__ import annotations

import csv

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
