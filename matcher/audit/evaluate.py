"""Judging the score by what happened: `matcher evaluate ROUND_DIR... --outcomes outcomes.csv`.

The rounds' own outputs say which pairs were proposed and with which score (``assignments.csv``)
and score components (``edges.csv``); ``outcomes.csv`` says what happened to each pair:

- ``started``: the person started (``in_work_3m`` and ``in_work_6m`` imply it);
- ``dropped_out``: the person left the placement (``reason`` says why);
- ``in_work_3m`` / ``in_work_6m``: still in work 3 / 6 months after starting.

Rates, each with a Wilson 95% interval (:func:`matcher.audit.metrics.rate_interval`):

- placement: started / proposed;
- retention at 3 and 6 months: in work / started, among the placements *due*: started at least 91
  (182) days before the evaluation date (``--as-of``, default the last date in the file), so a
  recent start does not count as a failure it has not had time to become.

"Is a higher score a better chance?" is answered twice: by score band (quintiles of the proposed
scores) and by the AUC, the probability that a proposal that led to the outcome had a higher
score than one that did not (ties count half; 0.5 means the score tells nothing), with the
Hanley-McNeil 95% interval. Each score component gets its own AUC. Then per option, per
organisation and (with ``--protected``) per protected group: equal chances of outcomes, not only
of proposals; groups under ``MIN_GROUP`` are reported as insufficient data. Protected attributes
are read here, in the audit package, and nowhere that scores or solves.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from matcher.audit.metrics import INSUFFICIENT, MIN_GROUP, RATE_METHOD, group_rates, min_max_ratio
from matcher.audit.metrics import rate_interval as wilson
from matcher.audit.protected import ATTRIBUTES, load_protected
from matcher.csvio import ROW, check_choice, check_ids, read_table
from matcher.errors import InputError, Problem, Problems
from matcher.scoring.components import COMPONENTS

log = logging.getLogger(__name__)

OUTCOMES_FILE = "outcomes.csv"
EVENTS = ("started", "dropped_out", "in_work_3m", "in_work_6m")
OUTCOME_COLUMNS = ("candidate_id", "option_id", "event", "date", "reason")
#: Days after the start at which a placement is due for its 3- and 6-month retention.
DUE_DAYS = {"in_work_3m": 91, "in_work_6m": 182}
BANDS = 5
EVALUATION_FILES = ("evaluation.json", "evaluation.md", "evaluation.html", "score_bands.png")


# -- reading ----------------------------------------------------------------------------------
def _check_dates(df: pd.DataFrame, problems: Problems, file: str) -> None:
    for row, value in zip(df[ROW].tolist(), df["date"].tolist(), strict=True):
        try:
            if len(value) != 10:
                raise ValueError(value)
            dt.date.fromisoformat(value)
        except ValueError:
            problems.add(file, int(row), "date", f"expected a date YYYY-MM-DD, got {value!r}",
                         kind="bad date", code="bad_value",
                         params={"what": "expected a date YYYY-MM-DD", "value": repr(value)})


def load_outcomes(path: Path) -> pd.DataFrame:
    """outcomes.csv as a frame (candidate_id, option_id, event, date, reason, _row); every bad
    row, unknown column or repeated (candidate, option, event) is an error naming its row."""
    problems = Problems()
    df = read_table(Path(path), problems, OUTCOME_COLUMNS[:4])
    problems.raise_if_errors()
    assert df is not None
    f = Path(path).name
    for col in df.columns:
        if col not in (ROW, *OUTCOME_COLUMNS):
            problems.add(f, 1, col, f"unknown column (expected {', '.join(OUTCOME_COLUMNS)})")
    if "reason" not in df.columns:
        df["reason"] = ""
    for col in ("candidate_id", "option_id"):
        empty = df[col] == ""
        for row in df.loc[empty, ROW].tolist():
            problems.add(f, int(row), col, "id is empty", kind="id is empty")
    df["event"] = check_choice(df, "event", EVENTS, problems, f)
    _check_dates(df, problems, f)
    key = df["candidate_id"] + "\x00" + df["option_id"] + "\x00" + df["event"]
    dup = key.duplicated(keep="first")
    for row, k in zip(df.loc[dup, ROW].tolist(), key[dup].tolist(), strict=True):
        first = int(df.loc[key == k, ROW].iloc[0])
        problems.add(f, int(row), "event", f"the same event for the same candidate and option "
                                          f"as row {first}", kind="duplicate event")
    problems.raise_if_errors()
    return df[[ROW, *OUTCOME_COLUMNS]].reset_index(drop=True)


def read_proposals(round_dir: Path) -> pd.DataFrame:
    """The pairs a written round proposed: candidate_id, option_id, organisation_id, score and
    (from edges.csv, when the round wrote it) the score components."""
    round_dir = Path(round_dir)
    problems = Problems()
    a = read_table(round_dir / "assignments.csv", problems,
                   ("candidate_id", "option_id", "organisation_id", "score"), allow_empty=True,
                   output=True)
    problems.raise_if_errors()
    assert a is not None
    out = a[["candidate_id", "option_id", "organisation_id"]].copy()
    out["score"] = pd.to_numeric(a["score"], errors="coerce")
    edges_path = round_dir / "edges.csv"
    if edges_path.is_file():
        e = read_table(edges_path, problems, ("candidate_id", "option_id", *COMPONENTS),
                       output=True)
        problems.raise_if_errors()
        assert e is not None
        e = e[["candidate_id", "option_id", *COMPONENTS]].drop_duplicates(
            ["candidate_id", "option_id"])
        out = out.merge(e, on=["candidate_id", "option_id"], how="left")
        for c in COMPONENTS:
            out[c] = pd.to_numeric(out[c], errors="coerce")
    if out["score"].isna().any():
        raise InputError([Problem("assignments.csv", None, "score",
                                  f"{round_dir}: a score that is not a number")])
    out["round"] = round_dir.name
    return out


def evaluate_cli_date(value: str | None) -> str | None:
    """--as-of as an ISO date, or an InputError naming it."""
    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError(value)
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise InputError([Problem("--as-of", None, None,
                                  f"expected a date YYYY-MM-DD, got {value!r}")]) from None


# -- what happened to each proposal -------------------------------------------------------------
@dataclass(frozen=True)
class Judged:
    """Proposals with what happened: started, dropped_out, in_work_3m/6m (bool), due_3m/6m."""

    pairs: pd.DataFrame
    as_of: str


def judge(proposals: pd.DataFrame, outcomes: pd.DataFrame, as_of: str | None = None) -> Judged:
    """What happened to each proposed pair (a pair proposed in several rounds counts once per
    round: each proposal is judged)."""
    as_of = as_of or (max(outcomes["date"]) if len(outcomes) else dt.date.today().isoformat())
    wide = outcomes.pivot_table(index=["candidate_id", "option_id"], columns="event",
                                values="date", aggfunc="min")
    for ev in EVENTS:
        if ev not in wide.columns:
            wide[ev] = np.nan
    p = proposals.merge(wide[list(EVENTS)].add_prefix("date_").reset_index(),
                        on=["candidate_id", "option_id"], how="left")
    has = {ev: p[f"date_{ev}"].notna().to_numpy() for ev in EVENTS}
    started = has["started"] | has["in_work_3m"] | has["in_work_6m"]
    start = pd.Series(np.where(has["started"], p["date_started"],
                               np.where(has["in_work_3m"], p["date_in_work_3m"],
                                        p["date_in_work_6m"])), dtype=object)
    p["started"] = started
    p["dropped_out"] = has["dropped_out"]
    end = dt.date.fromisoformat(as_of)
    for ev, days in DUE_DAYS.items():
        cut = (end - dt.timedelta(days=days)).isoformat()
        p[ev] = has[ev] | (has["in_work_6m"] if ev == "in_work_3m" else False)
        # due: started long enough ago, or known either way already
        begun = start.where(pd.Series(started), "9999").astype(str).to_numpy()
        p[f"due_{ev[-2:]}"] = started & ((begun <= cut) | p[ev].to_numpy(bool))
    return Judged(p, as_of)


def auc(score: np.ndarray, outcome: np.ndarray) -> dict[str, Any]:
    """P(score of a positive > score of a negative), ties half; Hanley-McNeil 95% interval.
    None values when either side is empty."""
    score, outcome = np.asarray(score, float), np.asarray(outcome, bool)
    ok = np.isfinite(score)
    score, outcome = score[ok], outcome[ok]
    n1, n0 = int(outcome.sum()), int((~outcome).sum())
    if n1 == 0 or n0 == 0:
        return {"auc": None, "ci": [None, None], "positives": n1, "negatives": n0}
    ranks = pd.Series(score).rank(method="average").to_numpy()
    a = (ranks[outcome].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    var = (a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0)
    half = 1.959964 * np.sqrt(max(var, 0.0))
    return {"auc": round(float(a), 6), "ci": [round(float(max(0.0, a - half)), 6),
                                              round(float(min(1.0, a + half)), 6)],
            "positives": n1, "negatives": n0}


def _rate(k: int, n: int) -> dict[str, Any]:
    lo, hi = wilson(k, n)
    return {"n": int(n), "k": int(k), "rate": None if n == 0 else round(k / n, 6),
            "ci": [None if n == 0 else round(lo, 6), None if n == 0 else round(hi, 6)]}


def _rates(p: pd.DataFrame) -> dict[str, Any]:
    started = p["started"].to_numpy(bool)
    return {"proposed": len(p),
            "placement": _rate(int(started.sum()), len(p)),
            "retention_3m": _rate(int(p.loc[p["due_3m"], "in_work_3m"].sum()),
                                  int(p["due_3m"].sum())),
            "retention_6m": _rate(int(p.loc[p["due_6m"], "in_work_6m"].sum()),
                                  int(p["due_6m"].sum())),
            "dropped_out": int(p["dropped_out"].sum())}


def _bands(p: pd.DataFrame) -> list[dict[str, Any]]:
    """Rates per score band (quintiles of the proposed scores; fewer when scores repeat)."""
    if p.empty:
        return []
    edges = np.unique(np.quantile(p["score"], np.linspace(0, 1, BANDS + 1)))
    band = np.clip(np.searchsorted(edges, p["score"], side="right") - 1, 0, max(len(edges) - 2, 0))
    out = []
    for b in range(max(len(edges) - 1, 1)):
        part = p[band == b]
        lo, hi = edges[b], edges[min(b + 1, len(edges) - 1)]
        out.append({"band": f"{lo:.3f}-{hi:.3f}", "low": round(float(lo), 6),
                    "high": round(float(hi), 6)} | _rates(part))
    return out


def _by(p: pd.DataFrame, col: str) -> list[dict[str, Any]]:
    return [{col: str(key)} | _rates(part) for key, part in p.groupby(col, sort=True)]


def _scores(p: pd.DataFrame) -> dict[str, Any]:
    columns = ["score", *[c for c in COMPONENTS if c in p.columns]]
    due6 = p["due_6m"].to_numpy(bool)
    return {c: {"placement": auc(p[c].to_numpy(), p["started"].to_numpy(bool)),
                "retention_6m": auc(p.loc[due6, c].to_numpy(), p.loc[due6, "in_work_6m"]
                                    .to_numpy(bool))} for c in columns}


def _groups(p: pd.DataFrame, protected: pd.DataFrame) -> dict[str, Any]:
    """Per protected attribute: placement and 6-month retention per group, with the lowest over
    the highest rate among the groups of at least MIN_GROUP."""
    out: dict[str, Any] = {}
    for attr in protected.columns:
        labels = p[attr].fillna("").to_numpy(dtype=object)
        per: dict[str, Any] = {}
        for name, outcome, mask in (
                ("placement", p["started"].to_numpy(bool), None),
                ("retention_6m", p["in_work_6m"].to_numpy(bool), p["due_6m"].to_numpy(bool))):
            rates = group_rates(labels, outcome, mask)
            ratio = min_max_ratio(rates)
            per[name] = {
                "groups": [{"group": str(rates.groups[i]), "n": int(rates.size[i]),
                            "k": int(rates.placed[i]),
                            "rate": None if rates.size[i] == 0 else round(float(rates.rate[i]), 6),
                            "ci": [round(float(rates.ci_low[i]), 6),
                                   round(float(rates.ci_high[i]), 6)]
                            if rates.size[i] else [None, None],
                            "status": "ok" if rates.size[i] >= MIN_GROUP else INSUFFICIENT}
                           for i in range(len(rates.groups))],
                "ratio": None if ratio.value is None or not np.isfinite(ratio.value)
                else round(float(ratio.value), 6),
                "ratio_ci": [None if x is None or not np.isfinite(x) else round(float(x), 6)
                             for x in (ratio.ci_low, ratio.ci_high)],
                "verdict": ratio.verdict}
        out[attr] = per
    return out


def evaluate(round_dirs: list[Path], outcomes_path: Path, protected_path: Path | None = None,
             as_of: str | None = None) -> dict[str, Any]:
    """The evaluation (the content of evaluation.json)."""
    if not round_dirs:
        raise InputError([Problem("ROUND_DIR", None, None, "give at least one round folder")])
    outcomes = load_outcomes(outcomes_path)
    proposals = pd.concat([read_proposals(d) for d in round_dirs], ignore_index=True)
    unknown = ~outcomes.set_index(["candidate_id", "option_id"]).index.isin(
        proposals.set_index(["candidate_id", "option_id"]).index)
    judged = judge(proposals, outcomes, as_of)
    p = judged.pairs
    report: dict[str, Any] = {
        "rounds": [str(d) for d in round_dirs], "outcomes_file": str(outcomes_path),
        "as_of": judged.as_of, "rate_interval": RATE_METHOD,
        "auc_interval": "Hanley-McNeil, 95%",
        "outcomes_not_proposed": int(unknown.sum()),
        "overall": _rates(p), "score_bands": _bands(p), "scores": _scores(p),
        "options": _by(p, "option_id"), "organisations": _by(p, "organisation_id"),
    }
    if protected_path is not None:
        known = _protected_ids(protected_path, p["candidate_id"])
        attrs, _hash = load_protected(protected_path, known)
        attrs.index = known
        p = p.join(attrs, on="candidate_id")
        report["protected_groups"] = _groups(p, attrs)
        report["min_group"] = MIN_GROUP
    return report


def _protected_ids(path: Path, proposed: pd.Series) -> np.ndarray:
    """Every candidate id the protected file or the rounds name (the file may list people no
    round proposed)."""
    problems = Problems()
    df = read_table(Path(path), problems, ("candidate_id",))
    problems.raise_if_errors()
    assert df is not None
    check_ids(df, "candidate_id", problems, Path(path).name)
    problems.raise_if_errors()
    return np.asarray(sorted(set(df["candidate_id"]) | set(proposed)), dtype=object)


# -- the report -------------------------------------------------------------------------------
def _pct(r: dict[str, Any]) -> str:
    if r["rate"] is None:
        return "-"
    return f"{100 * r['rate']:.1f}% ({100 * r['ci'][0]:.0f}-{100 * r['ci'][1]:.0f}%) of {r['n']}"


def _rate_rows(rows: list[dict[str, Any]], key: str) -> list[str]:
    lines = [f"| {key} | proposed | placed | in work at 3 months | in work at 6 months | "
             "dropped out |", "|---|---|---|---|---|---|"]
    lines += [f"| {r[key]} | {r['proposed']} | {_pct(r['placement'])} | "
              f"{_pct(r['retention_3m'])} | {_pct(r['retention_6m'])} | {r['dropped_out']} |"
              for r in rows]
    return lines


def _auc_text(a: dict[str, Any]) -> str:
    if a["auc"] is None:
        return "-"
    return f"{a['auc']:.3f} ({a['ci'][0]:.3f}-{a['ci'][1]:.3f})"


def evaluation_markdown(report: dict[str, Any]) -> str:
    o = report["overall"]
    lines = ["# Evaluation: the score against what happened", "",
             f"Rounds: {', '.join(report['rounds'])}; outcomes as of {report['as_of']}. "
             f"Rates with a {report['rate_interval']} 95% interval; retention counts the "
             "placements started long enough before that date.", "",
             f"{o['proposed']} proposals: placed {_pct(o['placement'])}; in work at 6 months "
             f"{_pct(o['retention_6m'])}. Outcomes for pairs no round proposed: "
             f"{report['outcomes_not_proposed']} (not counted).", "",
             "## Is a higher score a better chance?", "",
             "AUC: the chance that a proposal that led to the outcome had the higher score "
             "(0.5: the score tells nothing; 95% interval).", "",
             "| score | placement AUC | 6-month retention AUC |", "|---|---|---|"]
    lines += [f"| {name} | {_auc_text(v['placement'])} | {_auc_text(v['retention_6m'])} |"
              for name, v in report["scores"].items()]
    lines += ["", "### By score band (quintiles)", "", *_rate_rows(report["score_bands"], "band"),
              "", "## Per option", "", *_rate_rows(report["options"], "option_id"),
              "", "## Per organisation", "",
              *_rate_rows(report["organisations"], "organisation_id")]
    for attr, per in report.get("protected_groups", {}).items():
        lines += ["", f"## Equal chances of outcomes: {attr}", ""]
        for name, m in per.items():
            lines += [f"{name}: lowest over highest rate {m['ratio'] if m['ratio'] is not None else '-'} "
                      f"({m['verdict']})", "", "| group | n | rate | status |", "|---|---|---|---|"]
            lines += [f"| {g['group']} | {g['n']} | {_pct(g)} | {g['status']} |"
                      for g in m["groups"]]
            lines.append("")
    return "\n".join(lines) + "\n"


def bands_png(report: dict[str, Any]) -> bytes:
    """Placement and 6-month retention by score band, with their intervals."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bands = report["score_bands"]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    x = np.arange(len(bands))
    for i, (name, label) in enumerate((("placement", "placed"),
                                       ("retention_6m", "in work at 6 months"))):
        rate = np.array([np.nan if b[name]["rate"] is None else b[name]["rate"] for b in bands])
        lo = np.array([np.nan if b[name]["ci"][0] is None else b[name]["ci"][0] for b in bands])
        hi = np.array([np.nan if b[name]["ci"][1] is None else b[name]["ci"][1] for b in bands])
        ax.errorbar(x + (i - 0.5) * 0.15, rate, yerr=[rate - lo, hi - rate], fmt="o", capsize=4,
                    label=label)
    ax.set_xticks(x, [b["band"] for b in bands], rotation=20)
    ax.set_xlabel("score band")
    ax.set_ylabel("rate (95% interval)")
    ax.set_ylim(0, 1)
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def evaluation_html(markdown: str) -> str:
    """The Markdown report as a plain HTML page (tables as tables), with the band plot."""
    parts = ["<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             "<title>Evaluation</title></head><body>"]
    table: list[list[str]] = []

    def flush() -> None:
        if table:
            head, *rows = table
            parts.append("<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head)
                         + "</tr>" + "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>"
                                                              for c in r) + "</tr>" for r in rows)
                         + "</table>")
            table.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if not all(set(c) <= {"-"} for c in cells):
                table.append(cells)
            continue
        flush()
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            parts.append(f"<h{level}>{html.escape(line.lstrip('#').strip())}</h{level}>")
            if level == 3:
                parts.append('<img alt="rates by score band" src="score_bands.png">')
        elif line.strip():
            parts.append(f"<p>{html.escape(line)}</p>")
    flush()
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def evaluation_files(report: dict[str, Any]) -> dict[str, bytes]:
    md = evaluation_markdown(report)
    return {"evaluation.json": (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode(),
            "evaluation.md": md.encode(), "evaluation.html": evaluation_html(md).encode(),
            "score_bands.png": bands_png(report)}


__all__ = ["ATTRIBUTES", "EVALUATION_FILES", "EVENTS", "OUTCOMES_FILE", "auc", "evaluate",
           "evaluate_cli_date",
           "evaluation_files", "evaluation_markdown", "judge", "load_outcomes", "read_proposals"]
