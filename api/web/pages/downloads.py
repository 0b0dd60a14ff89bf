"""A round's proposal to download: one Excel workbook, or CSV in Dutch Excel's dialect
(``;``, decimal comma, byte-order mark), with the names of options and organisations beside
their ids. Text cells a spreadsheet would run as a formula are neutralised (matcher.csvout)."""

from __future__ import annotations

import tempfile
from pathlib import Path as FilePath
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from sqlalchemy import select

from api.limits import MAX_ID
from api.models import RoundAssignment, RoundUnmatched
from api.web.names import load_names
from api.web.pages.rounds import reason_words, round_or_404
from api.web.session import PageError, ReaderUser
from matcher.csvout import write_csv
from matcher.i18n import _
from matcher.round import CSV_DIALECTS
from matcher.xlsxio import workbook_bytes

router = APIRouter(tags=["pages"])
RoundId = Annotated[int, Path(ge=1, le=MAX_ID)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def proposal_frame(request: Request, round_id: int) -> pd.DataFrame:
    """One row per person: the proposal (names and ids) or why there is none."""
    if round_or_404(request, round_id)["status"] != "done":
        raise PageError(409, _("This round has not finished yet."))
    names = load_names(request.app.state.db)
    with request.app.state.db.session() as s:
        rows = [{"candidate_id": a.candidate_id, "status": _("proposal"),
                 "option_id": a.option_id, "option": names.option_only(a.option_id),
                 "organisation_id": a.organisation_id,
                 "organisation": names.organisations.get(a.organisation_id, a.organisation_id),
                 "score": float(a.score), "locked": _("yes") if a.locked else _("no"),
                 "why_none": ""}
                for a in s.scalars(select(RoundAssignment)
                                   .where(RoundAssignment.round_id == round_id))]
        rows += [{"candidate_id": u.candidate_id, "status": _("no place"), "option_id": "",
                  "option": "", "organisation_id": "", "organisation": "", "score": float("nan"),
                  "locked": "", "why_none": reason_words(u.reason, u.detail)}
                 for u in s.scalars(select(RoundUnmatched)
                                    .where(RoundUnmatched.round_id == round_id))]
    headers = {"candidate_id": _("person"), "status": _("status"), "option_id": _("option id"),
               "option": _("option"), "organisation_id": _("organisation id"),
               "organisation": _("organisation"), "score": _("score"),
               "locked": _("locked by a coordinator"), "why_none": _("why no place")}
    df = pd.DataFrame(rows, columns=list(headers)).sort_values("candidate_id", kind="stable")
    return df.rename(columns=headers).reset_index(drop=True)


def _download(data: bytes, media: str, filename: str) -> Response:
    return Response(data, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/rounds/{round_id}/proposal.xlsx")
def proposal_xlsx(request: Request, round_id: RoundId, user: ReaderUser) -> Response:
    df = proposal_frame(request, round_id)
    book = workbook_bytes({_("proposal"): df.astype(object).where(df.notna(), "")})
    return _download(book, XLSX, f"round-{round_id}-proposal.xlsx")


@router.get("/rounds/{round_id}/proposal.csv")
def proposal_csv(request: Request, round_id: RoundId, user: ReaderUser) -> Response:
    df = proposal_frame(request, round_id)
    with tempfile.TemporaryDirectory(prefix="matcher-download-") as tmp:
        path = FilePath(tmp) / "proposal.csv"
        write_csv(df, path, **CSV_DIALECTS["excel-nl"])
        data = path.read_bytes()
    return _download(data, "text/csv; charset=utf-8", f"round-{round_id}-proposal.csv")
