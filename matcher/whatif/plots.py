"""The what-if report's plots, readable at any size.

Every plot is built from plain tables (so tests can draw them for 3 and for 60 organisations
without solving a round), has a fixed width, shows at most ``TOP_N`` rows with "and K more"
for the rest, puts names (not ids) on horizontal bars, keeps its legend outside the bars, and
says which rounds it leaves out. Axes are in people or in percent. Figures use matplotlib's
constrained layout, so labels are never clipped (`labels_fit` checks it; tests/test_plots.py).
"""

from __future__ import annotations

import io
import itertools
import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from matcher.i18n import _
from matcher.whatif import words as W

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Rows (organisations, scenarios, sweep points) drawn at most; the rest are counted.
TOP_N = 25
#: Rounds drawn side by side at most in the utilisation plot (baseline included).
MAX_ROUNDS = 5
#: Rounds drawn at most in the score plot.
MAX_SCORE_ROUNDS = 12
WIDTH_IN = 9.0
DPI = 100
LABEL_CHARS = 38


def _pyplot() -> Any:
    """matplotlib.pyplot with the Agg backend, imported on first use (about half a second)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot

    return matplotlib.pyplot


def short(label: str, chars: int = LABEL_CHARS) -> str:
    """A label cut to `chars` characters (with an ellipsis)."""
    label = str(label)
    return label if len(label) <= chars else label[:chars - 1].rstrip() + "\u2026"


def _figure(rows: float, per_row: float = 0.32, extra: float = 1.9, ncols: int = 1) -> Any:
    plt = _pyplot()
    height = min(max(rows, 1) * per_row + extra, 14.0)
    return plt.subplots(1, ncols, figsize=(WIDTH_IN, height), layout="constrained",
                        squeeze=False)


def _more(shown: int, total: int, what: str) -> str:
    return _(W.AND_MORE).format(k=total - shown, what=what) if total > shown else ""


def _title(fig: Figure, title: str, note: str = "") -> None:
    """The figure's title, with a note (what is left out) wrapped under it."""
    lines = textwrap.wrap(title, 90) + textwrap.wrap(note, 110)
    fig.suptitle("\n".join(lines), fontsize=11 if not note else 10)


def _left_out(names: list[str], show: int = 6) -> str:
    """'Not shown: a, b, c (and K more)' for rounds left out of a plot; '' for none."""
    if not names:
        return ""
    text = ", ".join(short(n, 30) for n in names[:show])
    return _(W.LEFT_OUT).format(names=text + _more(show, len(names), _(W.ROUNDS)))


def to_png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    _pyplot().close(fig)
    return buf.getvalue()


def labels_fit(fig: Figure) -> list[str]:
    """Texts of `fig` that stick out of the figure or overlap a neighbouring tick label
    (empty when everything fits)."""
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    box = fig.bbox
    bad = []
    undrawn = _undrawn_ticks(fig)
    for t in fig.findobj(Text):
        if not t.get_visible() or not t.get_text().strip() or id(t) in undrawn:
            continue
        e = t.get_window_extent(renderer)
        if e.x0 < box.x0 - 1 or e.y0 < box.y0 - 1 or e.x1 > box.x1 + 1 or e.y1 > box.y1 + 1:
            bad.append(f"outside: {t.get_text()!r}")
    tops: list[Any] = [getattr(fig, "_suptitle", None), getattr(fig, "_supxlabel", None),
                       *fig.legends]
    blocks = [a.get_window_extent(renderer) for a in tops if a is not None and a.get_visible()]
    blocks += [ax.get_tightbbox(renderer) for ax in fig.axes]
    for a, b in itertools.combinations(blocks, 2):
        if a is not None and b is not None and a.overlaps(b):
            bad.append("title, note, legend or plot overlap")
    for ax in fig.axes:
        ticks = [t for t in ax.get_yticklabels() if t.get_visible() and t.get_text()]
        ext = sorted((t.get_window_extent(renderer) for t in ticks), key=lambda b: b.y0)
        for a, b in itertools.pairwise(ext):
            if b.y0 < a.y1 - 1:
                bad.append(f"overlapping tick labels in {ax.get_title()!r}")
                break
    return bad


def _undrawn_ticks(fig: Figure) -> set[int]:
    """Tick labels matplotlib keeps but does not draw (their tick lies outside the axis)."""
    out = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            eps = (hi - lo) * 1e-9
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not lo - eps <= tick.get_loc() <= hi + eps:
                    out |= {id(tick.label1), id(tick.label2)}
    return out


# -- utilisation ------------------------------------------------------------------------------
def utilisation_figure(rounds: list[tuple[str, pd.DataFrame]]) -> Figure:
    """Guidance and seats used (% of capacity) per organisation, baseline and scenarios.

    `rounds`: (name, table) with columns organisation (name), guidance_used, guidance_capacity,
    seats_used, seats; the first is the baseline. Organisations: the TOP_N whose use changes
    most across rounds, then the fullest."""
    shown_rounds = rounds[:MAX_ROUNDS]
    left_out = [n for n, _r in rounds[MAX_ROUNDS:]]
    base = rounds[0][1].set_index("organisation")
    pct = {n: _percent(t.set_index("organisation").reindex(base.index)) for n, t in shown_rounds}
    g0 = pct[rounds[0][0]]
    change = sum((abs(p - g0).fillna(0).sum(axis=1) for p in pct.values()),
                 start=pd.Series(0.0, index=base.index))
    order = pd.DataFrame({"change": change, "full": g0.fillna(0).sum(axis=1),
                          "name": base.index}).sort_values(["change", "full", "name"],
                                                           ascending=[False, False, True])
    names = list(order.index[:TOP_N])
    fig, axes = _figure(len(names) * max(1, len(shown_rounds) * 0.45), ncols=2)
    height = 0.8 / len(shown_rounds)
    y = np.arange(len(names))[::-1]
    for k, (n, _t) in enumerate(shown_rounds):
        p = pct[n].reindex(names)
        offset = (len(shown_rounds) - 1) / 2 * height - k * height
        for ax, col in zip(axes[0], ("guidance", "seats"), strict=True):
            ax.barh(y + offset, p[col].fillna(0).to_numpy(), height, label=short(n, 30))
    for ax, what in zip(axes[0], (_(W.GUIDANCE_USED_PCT), _(W.SEATS_USED_PCT)), strict=True):
        ax.set_yticks(y, [short(s) for s in names], fontsize=8)
        ax.set_xlim(0, 105)
        ax.set_xticks([0, 25, 50, 75, 100])
        ax.set_xlabel(what)
        ax.axvline(100, color="grey", lw=0.5)
    axes[0][1].tick_params(labelleft=False)
    _title(fig, _(W.UTILISATION_TITLE) + _more(len(names), len(base), _(W.ORGANISATIONS)),
           _left_out(left_out))
    if len(shown_rounds) > 1:
        fig.legend(*axes[0][0].get_legend_handles_labels(), loc="outside lower center",
                   ncols=min(len(shown_rounds), 3), fontsize=8)
    return fig


def _percent(t: pd.DataFrame) -> pd.DataFrame:
    g = t["guidance_used"] / t["guidance_capacity"].where(t["guidance_capacity"] > 0)
    s = t["seats_used"] / t["seats"].where(t["seats"] > 0)
    return pd.DataFrame({"guidance": g.astype(float) * 100, "seats": s.astype(float) * 100})


# -- scores -----------------------------------------------------------------------------------
def scores_figure(rounds: list[tuple[str, np.ndarray]]) -> Figure:
    """Scores of the chosen matches, one box per round (no line hides another)."""
    shown = rounds[:MAX_SCORE_ROUNDS]
    left_out = [n for n, _r in rounds[MAX_SCORE_ROUNDS:]]
    fig, axes = _figure(len(shown), per_row=0.45, extra=1.6)
    ax = axes[0][0]
    data = [np.asarray(s, dtype=float) for _, s in shown][::-1]
    labels = [_(W.ROUND_PEOPLE).format(name=short(n, 30), n=len(s)) for n, s in shown][::-1]
    ax.boxplot([d if len(d) else np.array([np.nan]) for d in data], orientation="horizontal",
               tick_labels=labels, widths=0.6, showmeans=True)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel(_(W.SCORE_AXIS))
    _title(fig, _(W.SCORES_TITLE), _left_out(left_out))
    return fig


# -- sweeps -----------------------------------------------------------------------------------
def sweep_figure(name: str, x: list[str], people: list[int], objective: list[float]) -> Figure:
    """A sweep: people placed (and objective) against the swept value; a sweep over rows
    (`organisations.*...`, labels not numbers) as ranked horizontal bars with names."""
    numeric = all(_is_number(v) for v in x) and len(x) > 0
    if numeric:
        fig, axes = _figure(8, per_row=0.4, extra=1.0, ncols=2)
        xs = [float(v) for v in x]
        axes[0][0].plot(xs, people, marker="o")
        axes[0][0].set_ylabel(_(W.PEOPLE_CHANGE))
        axes[0][1].plot(xs, objective, marker="s", color="tab:orange")
        axes[0][1].set_ylabel(_(W.OBJECTIVE_CHANGE))
        for ax in axes[0]:
            ax.set_xlabel(_(W.SWEPT_VALUE))
            ax.axhline(0, color="grey", lw=0.5)
        _title(fig, _(W.SWEEP_TITLE).format(name=short(name, 60)))
        return fig
    order = sorted(range(len(x)), key=lambda i: (-people[i], -objective[i], x[i]))
    top = order[:TOP_N]
    fig, axes = _figure(len(top))
    ax = axes[0][0]
    y = np.arange(len(top))[::-1]
    ax.barh(y, [people[i] for i in top], 0.6)
    ax.set_yticks(y, [short(x[i]) for i in top], fontsize=8)
    ax.set_xlabel(_(W.PEOPLE_CHANGE))
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.axvline(0, color="grey", lw=0.5)
    _title(fig, _(W.SWEEP_TITLE).format(name=short(name, 60)) + _more(len(top), len(x),
                                                                     _(W.POINTS)))
    return fig


def _is_number(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


# -- marginal values --------------------------------------------------------------------------
def marginal_figure(table: pd.DataFrame, label_col: str, title: str) -> Figure:
    """Re-solved +1 in people placed, names on horizontal bars, the TOP_N best; rows that were
    not re-solved are not drawn (counted in the title), rows within the solver's tolerance are
    drawn grey."""
    done = table[table["value"] == "exact"]
    done = done.assign(_p=done["people"].astype(float), _o=done["objective"].astype(float))
    top = done.sort_values(["_p", "_o"], ascending=False, kind="stable").head(TOP_N)
    fig, axes = _figure(len(top))
    ax = axes[0][0]
    y = np.arange(len(top))[::-1]
    within = (top["reading"] != "").to_numpy()
    colours = np.where(within, "lightgrey", "tab:blue")
    people = top["people"].astype(float).fillna(0).to_numpy()
    ax.barh(y, people, 0.6, color=colours)
    for yy, p, o, w in zip(y, people, top["objective"].to_numpy(), within, strict=True):
        ax.annotate(_(W.OBJECTIVE_LABEL).format(o=o) + (" *" if w else ""), (max(p, 0), yy),
                    xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
    ax.set_yticks(y, [short(s) for s in top[label_col]], fontsize=8)
    ax.set_xlabel(_(W.PEOPLE_PLUS_ONE))
    ax.set_xlim(min(0.0, float(people.min(initial=0))), max(1.0, float(people.max(initial=0))) * 1.3)
    ax.xaxis.get_major_locator().set_params(integer=True)
    not_done = len(table) - len(done)
    notes = []
    if within.any():
        notes.append(_(W.GREY_TOLERANCE))
    if not_done:
        notes.append(_(W.NOT_RESOLVED_LEFT_OUT).format(k=not_done))
    _title(fig, title + _more(len(top), len(done), _(W.RESOLVED)), " ".join(notes))
    return fig
