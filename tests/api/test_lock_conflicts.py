"""A round whose locks no assignment can keep is refused with 422 before any solving, naming
the locks and what would have to change (issue 27, item 4)."""

from __future__ import annotations

from conftest import PILOT, Api


def test_locks_over_guidance_are_refused_before_a_round(api: Api) -> None:
    api.import_pilot()
    # The pilot locks P-007 (guidance need 1) to COMPASS-CATERING; COMPASS now guides nobody.
    lines = (PILOT / "organisations.csv").read_text().splitlines()
    header = lines[0].split(",")
    col = header.index("guidance_capacity")
    rows = [line.split(",") for line in lines[1:]]
    for row in rows:
        if row[0] == "COMPASS":
            row[col] = "0"
    body = "\n".join([lines[0], *(",".join(r) for r in rows)]) + "\n"
    r = api.post("/v1/imports/csv", files={"organisations": ("organisations.csv", body.encode(),
                                                             "text/csv")})
    assert r.status_code == 201, r.text
    before = api.all_items("/v1/rounds")
    r = api.post("/v1/rounds", json={})
    assert r.status_code == 422, r.text
    [problem] = r.json()["problems"]
    assert problem["table"] == "decisions" and problem["field"] == "option_id"
    assert problem["message"].startswith(
        "1 locks at COMPASS need 1 guidance units, COMPASS has 0: raise its guidance_capacity "
        "to 1 (organisations.csv) or undo")
    assert "P-007 -> COMPASS-CATERING (1)" in problem["message"]
    assert api.all_items("/v1/rounds") == before  # nothing half-written
