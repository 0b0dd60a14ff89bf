"""The web app's downloads (proposal.xlsx, proposal.csv) neutralise text cells that a
spreadsheet would run as a formula (issue #33), through the same writers as the CLI's."""

from __future__ import annotations

import io

import openpyxl

from tests.web.conftest import PILOT, Web
from tests.web.test_web_coordinator import TABLES, start_round, upload


def test_downloads_neutralise_a_name_that_starts_like_a_formula(web: Web) -> None:
    """Names are free text a coordinator types (ids are refused at input): in the page's
    downloads such a cell is text, never a formula (a quote in front in the CSV, Excel's
    quote prefix in the workbook), and reads back as it was typed."""
    orgs = (PILOT / "organisations.csv").read_text(encoding="utf-8").splitlines()
    head, rows = orgs[0], orgs[1:]
    at = head.split(",").index("name")
    cells = [r.split(",") for r in rows]
    for c in cells:
        c[at] = "=1+" + c[at]
    files = [(f"{t}.csv", (PILOT / f"{t}.csv").read_bytes()) for t in TABLES
             if t != "organisations" and (PILOT / f"{t}.csv").exists()]
    data = "\n".join([head, *(",".join(c) for c in cells)]) + "\n"
    r = upload(web, [("organisations.csv", data.encode()), *files])
    assert r.status_code == 201, r.text
    rid = start_round(web)
    c = web.as_("coordinator")
    x = c.get(f"/rounds/{rid}/proposal.xlsx")
    ws = openpyxl.load_workbook(io.BytesIO(x.content)).active
    col = [cell.value for cell in ws[1]].index("organisatie")
    named = [row[col] for row in ws.iter_rows(min_row=2) if row[col].value]
    assert named and all(cell.data_type == "s" and cell.value.startswith("=1+")
                         and cell.quotePrefix for cell in named)
    lines = c.get(f"/rounds/{rid}/proposal.csv").content.decode("utf-8-sig").splitlines()
    col = lines[0].split(";").index("organisatie")
    names = [line.split(";")[col] for line in lines[1:] if line.split(";")[col]]
    assert names and all(n.startswith("'=1+") for n in names)
