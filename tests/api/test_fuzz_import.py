"""Fuzzing the import endpoint (issue #33): hypothesis over CSV uploads (the loader's mutated
files: cells, encodings, separators, truncation) and JSON rows (any JSON value in any field,
unknown and internal field names). Every request is stored whole (201) or refused whole (422
with problems naming a table, or a request field); never a 500, never half an import; the audit
chain verifies after all of them.

Budget (marker `fuzz`, with tests/test_fuzz_load.py): at most one minute of CI together.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.audit import verify
from api.settings import sqlite_url
from tests.api.conftest import Api, make_api
from tests.test_fuzz_load import CELL, FUZZ, SCALE, TABLES, csv_file, pilot_rows

pytestmark = pytest.mark.fuzz
IMPORT_TABLES = [t for t in TABLES if t in ("organisations", "options", "candidates",
                                            "protected", "decisions")]


@pytest.fixture
def fuzz_api(tmp_path: Path) -> Iterator[Api]:
    yield from make_api(sqlite_url(tmp_path / "m.db"), in_process_worker=False)


def _state(api: Api) -> tuple[int, ...]:
    return tuple(api.get(f"/v1/{t}").json()["total"] for t in ("imports", "organisations",
                                                               "options", "candidates"))


def _check(api: Api, r: Any, before: tuple[int, ...]) -> None:
    assert r.status_code in (201, 422), (r.status_code, r.text[:500])
    body = r.json()
    if r.status_code == 201:
        assert _state(api)[0] == before[0] + 1
        return
    assert _state(api) == before, "a refused import changed the data"
    problems = body.get("problems")
    if problems is None:  # FastAPI's own validation of the request: names the field
        assert all(e["loc"] for e in body["detail"]), body
        return
    assert problems, body
    for p in problems:
        assert p["table"] in (*IMPORT_TABLES, "decisions", "import") or p["table"].endswith(
            ".csv"), p
        assert p["message"].strip()


def test_csv_uploads_are_stored_or_refused_whole(fuzz_api: Api) -> None:
    api = fuzz_api
    api.import_pilot()

    @settings(FUZZ, max_examples=30 * SCALE)
    @given(st.lists(st.sampled_from(IMPORT_TABLES), min_size=1, max_size=3, unique=True).flatmap(
        lambda ts: st.fixed_dictionaries({t: csv_file(t) for t in ts})),
        st.sampled_from(["merge", "replace"]))
    def run(files: dict[str, bytes], mode: str) -> None:
        before = _state(api)
        r = api.post("/v1/imports/csv", data={"mode": mode},
                     files={t: (f"{t}.csv", b, "text/csv") for t, b in files.items()})
        _check(api, r, before)

    run()
    assert verify(api.app.state.db).ok


JSON_VALUE = st.one_of(CELL, st.integers(-2**70, 2**70), st.floats(), st.booleans(), st.none(),
                       st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3),
                                                                            st.integers(), max_size=1))


@st.composite
def json_rows(draw: st.DrawFn, table: str) -> list[dict[str, Any]]:
    header, *rows = pilot_rows(table)
    out = [dict(zip(header, r, strict=False)) for r in rows[:draw(st.integers(0, 4))]]
    for row in out:
        for _ in range(draw(st.integers(0, 3))):
            field = draw(st.sampled_from([*header, "_row", "org", "unknown", ""]))
            row[field] = draw(JSON_VALUE)
    return out


def test_json_imports_are_stored_or_refused_whole(fuzz_api: Api) -> None:
    api = fuzz_api
    api.import_pilot()

    @settings(FUZZ, max_examples=30 * SCALE)
    @given(st.lists(st.sampled_from(IMPORT_TABLES), min_size=1, max_size=3, unique=True).flatmap(
        lambda ts: st.fixed_dictionaries({t: json_rows(t) for t in ts})))
    def run(tables: dict[str, list[dict[str, Any]]]) -> None:
        before = _state(api)
        # Encoded here, not by the client: json.dumps writes NaN and Infinity as a careless
        # client would (httpx refuses them), and the server must refuse or store them whole.
        body = json.dumps(tables).encode()
        headers = {**api.h("coordinator"), "Content-Type": "application/json"}
        _check(api, api.client.post("/v1/imports", content=body, headers=headers), before)

    run()
    assert verify(api.app.state.db).ok
