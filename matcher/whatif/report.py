"""What-if reports: JSON (machine-readable), Markdown, and self-contained HTML with PNG plots.

`build_report` gathers everything into one JSON-able dict; `write_report` renders and writes
it all or nothing (a temporary folder moved into place at the end).
"""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from matcher.atomic import check_replaceable, replace_dir, staging_dir
from matcher.csvout import safe_frame
from matcher.i18n import N_, _, current_language
from matcher.round import Round, utilisation_frame, versions
from matcher.whatif import plots as P
from matcher.whatif import words as W
from matcher.whatif.diff import Diff, _records
from matcher.whatif.engine import Baseline, Outcome
from matcher.whatif.marginal import display_names
from matcher.whatif.sections import sections

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Rows of long tables shown in Markdown/HTML (the CSVs hold all of them).
SHOW_ROWS = 50
MORE_ROWS = N_("... and {k} more rows in the CSV files")


def slug(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-")
    return s[:80] or "scenario"


def build_report(
    base: Baseline,
    scenarios: list[tuple[Outcome, Diff]],
    sweeps: dict[str, list[tuple[Outcome, Diff]]],
    marginal: dict[str, Any] | None = None,
    decisions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    inst = base.round.instance

    def scenario_json(o: Outcome, d: Diff, full: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"name": o.name, "edits": o.edits, "notes": o.notes,
                               "summary": o.summary,
                               "reuse": {k: o.stats[k] for k in ("reused_pairs", "rescored_pairs",
                                                                 "full_rescore")}}
        if o.sweep is not None:
            out["sweep"], out["x"] = o.sweep, o.x
        if full:
            out["diff"] = d.to_json()
        else:
            out["diff"] = {"empty": d.is_empty, "totals": d.totals, "moves": len(d.moves)}
        return out

    report: dict[str, Any] = {
        "source": inst.source,
        "input_hash": inst.content_hash,
        "policy_hash": base.policy.hash,
        "versions": versions(),
        "protected_data": base.protected is not None,
        "baseline": base.outcome.summary,
        "scenarios": [scenario_json(o, d, True) for o, d in scenarios],
        "sweeps": [{"name": name, "points": [scenario_json(o, d, False) for o, d in pts]}
                   for name, pts in sweeps.items()],
        "plots": plot_notes(base, scenarios),
        "names": name_map(base.round),
    }
    if marginal is not None:
        report["marginal"] = {"note": marginal["note"], "note_parts": marginal["note_parts"],
                              "seats": _records(marginal["seats"]),
                              "guidance": _records(marginal["guidance"])}
    if decisions is not None:
        report["decisions"] = {k: v for k, v in decisions.items() if k != "each"}
        report["decisions"]["each"] = _records(decisions["each"])
    return report


# -- plots (drawn by matcher.whatif.plots from plain tables) ---------------------------------
def _org_use(rnd: Round) -> pd.DataFrame:
    """Per organisation (by name): guidance and seats used and available."""
    u = utilisation_frame(rnd)
    u = u[u["level"] == "organisation"]
    orgs = rnd.instance.organisations
    names = pd.Series(display_names(orgs, "organisation_id"), index=orgs["organisation_id"].to_numpy())
    return pd.DataFrame({"organisation": names.reindex(u["id"].to_numpy()).to_numpy(),
                         "guidance_used": u["guidance_used"].to_numpy(),
                         "guidance_capacity": u["guidance_capacity"].astype(float).to_numpy(),
                         "seats_used": u["seats_used"].to_numpy(),
                         "seats": u["seats"].to_numpy()})


def name_map(rnd: Round) -> dict[str, str]:
    """Organisation and option ids -> their names (the id where a row has no name)."""
    inst = rnd.instance
    return {**dict(zip(inst.options["option_id"], display_names(inst.options, "option_id"),
                       strict=True)),
            **dict(zip(inst.organisations["organisation_id"],
                       display_names(inst.organisations, "organisation_id"), strict=True))}


def point_label(x: str | None, names: dict[str, str]) -> str:
    """A sweep point's label with the row's name for its id ("IDID +1" -> "i-did +1")."""
    head, _sep, tail = (x or "").partition(" ")
    return " ".join(p for p in (names.get(head, head), tail) if p)


def _rounds(base: Baseline, scenarios: list[tuple[Outcome, Diff]]) -> list[tuple[str, Round]]:
    return [(_("baseline"), base.round)] + [(o.name, o.round) for o, _d in scenarios]


def plot_utilisation(base: Baseline, scenarios: list[tuple[Outcome, Diff]]) -> Figure:
    """Guidance and seats used (% of capacity) per organisation, baseline vs scenarios."""
    return P.utilisation_figure([(n, _org_use(r)) for n, r in _rounds(base, scenarios)])


def plot_scores(base: Baseline, scenarios: list[tuple[Outcome, Diff]]) -> Figure:
    return P.scores_figure([(n, r.edges.score_at(r.chosen)) for n, r in _rounds(base, scenarios)])


def plot_sweep(name: str, points: list[tuple[Outcome, Diff]], names: dict[str, str]) -> Figure:
    return P.sweep_figure(name, [point_label(o.x, names) for o, _d in points],
                          [int(d.totals["matched"]["change"]) for _o, d in points],
                          [float(d.totals["objective"]["change"]) for _o, d in points])


def plot_marginal(marginal: dict[str, Any]) -> Figure:
    return P.marginal_figure(marginal["guidance"], "organisation", _(W.GUIDANCE_MARGINAL_TITLE))


def plot_marginal_seats(marginal: dict[str, Any]) -> Figure:
    return P.marginal_figure(marginal["seats"], "option", _(W.SEAT_MARGINAL_TITLE))


def plot_notes(base: Baseline, scenarios: list[tuple[Outcome, Diff]]) -> dict[str, dict[str, Any]]:
    """What each plot leaves out, for the words under it: rounds (by name) and rows."""
    names = [o.name for o, _d in scenarios]
    n_org = base.round.instance.n_organisations
    return {
        "utilisation": {"rounds_left_out": names[P.MAX_ROUNDS - 1:],
                        "rows": n_org, "rows_shown": min(n_org, P.TOP_N)},
        "scores": {"rounds_left_out": names[P.MAX_SCORE_ROUNDS - 1:]},
    }


# -- rendering ---------------------------------------------------------------------------------
def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def md_table(rows: list[dict[str, Any]], limit: int = SHOW_ROWS) -> str:
    if not rows:
        return "_(" + _("none") + ")_\n"
    cols = list(rows[0])
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows[:limit]:
        out.append("| " + " | ".join(_cell(r[c]).replace("|", "\\|") for c in cols) + " |")
    if len(rows) > limit:
        out.append("\n_" + _(MORE_ROWS).format(k=len(rows) - limit) + "_")
    return "\n".join(out) + "\n"


def html_table(rows: list[dict[str, Any]], limit: int = SHOW_ROWS) -> str:
    if not rows:
        return "<p><em>(" + html.escape(_("none")) + ")</em></p>"
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(r[c]))}</td>" for c in cols) + "</tr>"
                   for r in rows[:limit])
    more = f"<p><em>{html.escape(_(MORE_ROWS).format(k=len(rows) - limit))}</em></p>" \
        if len(rows) > limit else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def _sections(report: dict[str, Any]) -> list[tuple[str, int, Any]]:
    """(title, heading level, body): body is text, table rows, or ('plot', name, caption);
    level 0 is a paragraph without a heading (matcher.whatif.sections)."""
    return sections(report, plot_caption)


def report_sections(report: dict[str, Any]) -> list[tuple[str, int, Any]]:
    """The report's sections, for a layout of one's own (the web pages')."""
    return _sections(report)


def plot_caption(report: dict[str, Any], key: str) -> str:
    """The words under a plot: how to read it, and what it leaves out (rounds by name)."""
    note = report.get("plots", {}).get(key, {})
    read = W.UTILISATION_READ if key == "utilisation" else W.SCORES_READ
    words = [_(read)]
    if note.get("rows", 0) > note.get("rows_shown", 0):
        words.append(_(W.ROWS_SHOWN).format(shown=note["rows_shown"], rows=note["rows"]))
    if note.get("rounds_left_out"):
        limit = P.MAX_ROUNDS if key == "utilisation" else P.MAX_SCORE_ROUNDS
        words.append(_(W.ROUNDS_LEFT_OUT).format(
            max=limit, names=", ".join(note["rounds_left_out"])))
    return " ".join(words)


def render_markdown(report: dict[str, Any], plot_files: dict[str, str]) -> str:
    lines = []
    for title, level, body in _sections(report):
        if level:
            lines.append("#" * level + " " + title + "\n")
        if isinstance(body, str):
            lines.append(body + "\n")
        elif isinstance(body, tuple):
            if body[1] in plot_files:
                lines.append(f"![{title}]({plot_files[body[1]]})\n")
                lines.append(body[2] + "\n")
        else:
            lines.append(md_table(body))
    return "\n".join(lines)


CSS = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
       "table{border-collapse:collapse;font-size:13px;margin:.5em 0;display:block;"
       "max-width:100%;overflow-x:auto}"
       "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}th{background:#f0f0f0}"
       "img{max-width:100%}figure{margin:1em 0}figcaption{font-size:14px;max-width:60em}")


def render_html(report: dict[str, Any], plots: dict[str, bytes]) -> str:
    parts = [f"<!DOCTYPE html><html lang=\"{current_language()}\"><head><meta charset=\"utf-8\">",
             f"<title>{html.escape(_('What-if report'))}</title>",
             f"<style>{CSS}</style></head><body>"]
    for title, level, body in _sections(report):
        if level:
            parts.append(f"<h{level}>{html.escape(title)}</h{level}>")
        if isinstance(body, str):
            text = html.escape(body)
            text = re.sub(r"`([^`]*)`", r"<code>\1</code>", text)
            text = re.sub(r"\*\*([^*]*)\*\*", r"<strong>\1</strong>", text)
            parts.append(f"<p>{text}</p>")
        elif isinstance(body, tuple):
            if body[1] in plots:
                data = base64.b64encode(plots[body[1]]).decode("ascii")
                parts.append(f"<figure><img alt=\"{html.escape(title)}\" "
                             f"src=\"data:image/png;base64,{data}\">"
                             f"<figcaption>{html.escape(body[2])}</figcaption></figure>")
        else:
            parts.append(html_table(body))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def make_figures(base: Baseline, scenarios: list[tuple[Outcome, Diff]],
                 sweeps: dict[str, list[tuple[Outcome, Diff]]],
                 marginal: dict[str, Any] | None) -> dict[str, Figure]:
    """Every plot of the report, by name (the figures are drawn, not yet saved)."""
    figs = {"utilisation": plot_utilisation(base, scenarios),
            "scores": plot_scores(base, scenarios)}
    names = name_map(base.round)
    for name, pts in sweeps.items():
        if pts:
            figs[f"sweep-{slug(name)}"] = plot_sweep(name, pts, names)
    if marginal is not None:
        figs["marginal"] = plot_marginal(marginal)
        figs["marginal-seats"] = plot_marginal_seats(marginal)
    return figs


def make_plots(base: Baseline, scenarios: list[tuple[Outcome, Diff]],
               sweeps: dict[str, list[tuple[Outcome, Diff]]],
               marginal: dict[str, Any] | None) -> dict[str, bytes]:
    """Every plot of the report as PNG bytes, by name."""
    return {k: P.to_png(f) for k, f in make_figures(base, scenarios, sweeps, marginal).items()}


#: What a what-if report folder holds besides report.json (scenarios/: its tables).
REPORT_FILES = ("report.md", "report.html", "plots", "scenarios", "marginal_seats.csv",
                "marginal_guidance.csv", "decisions_price.csv")


def check_out_dir(out_dir: Path, force: bool = False) -> None:
    """A report folder may be replaced only if it is empty or holds an earlier report and
    nothing else (any folder with `force`)."""
    check_replaceable(out_dir, "report.json", "an earlier what-if report", REPORT_FILES, force)


def write_report(
    out_dir: Path,
    report: dict[str, Any],
    plots: dict[str, bytes],
    tables: dict[str, pd.DataFrame],
    run: dict[str, Any] | None = None,
    force: bool = False,
) -> None:
    """Write report.json/.md/.html, plots/*.png and CSV tables into `out_dir`, all or nothing.

    An existing `out_dir` is replaced only when it is empty or holds an earlier what-if report
    and nothing else, or with `force`.
    """
    out_dir = Path(out_dir)
    check_out_dir(out_dir, force)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = staging_dir(out_dir)
    try:
        (tmp / "plots").mkdir()
        plot_files = {}
        for name, data in plots.items():
            (tmp / "plots" / f"{name}.png").write_bytes(data)
            plot_files[name] = f"plots/{name}.png"
        for rel, df in tables.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            safe_frame(df).to_csv(path, index=False, lineterminator="\n")
        full = dict(report)
        if run is not None:
            full["run"] = run
        (tmp / "report.json").write_text(json.dumps(full, indent=2, default=_json_default) + "\n",
                                         encoding="utf-8")
        (tmp / "report.md").write_text(render_markdown(report, plot_files), encoding="utf-8")
        (tmp / "report.html").write_text(render_html(report, plots), encoding="utf-8")
        replace_dir(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if v is pd.NA:
        return None
    raise TypeError(f"not JSON-serialisable: {type(v)}")


def report_tables(scenarios: list[tuple[Outcome, Diff]],
                  marginal: dict[str, Any] | None,
                  decisions: dict[str, Any] | None) -> dict[str, pd.DataFrame]:
    tables: dict[str, pd.DataFrame] = {}
    for o, d in scenarios:
        s = slug(o.name)
        tables[f"scenarios/{s}/moves.csv"] = d.moves
        tables[f"scenarios/{s}/utilisation_changes.csv"] = d.utilisation
        tables[f"scenarios/{s}/assignments.csv"] = o.round.assignments
        if d.groups is not None:
            tables[f"scenarios/{s}/groups.csv"] = d.groups
    if marginal is not None:
        tables["marginal_seats.csv"] = marginal["seats"]
        tables["marginal_guidance.csv"] = marginal["guidance"]
    if decisions is not None:
        tables["decisions_price.csv"] = decisions["each"]
    return tables
