"""The what-if report as a planner gets it: its plots drawn from real rounds with 3 and with 60
organisations fit (every label inside the image, nothing overlapping), show names, and the
words under them name every scenario a plot leaves out."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from matcher.i18n import language
from matcher.policy import default_policy
from matcher.whatif import Scenario, Sweep, diff_outcome, run_baseline, run_scenario, run_sweep
from matcher.whatif import plots as P
from matcher.whatif.report import build_report, make_figures, render_html, render_markdown


def org_name(k: int) -> str:
    return f"Organisation number {k} with a fairly long name, Utrecht"


def region(n_org: int, seed: int = 1) -> dict[str, pd.DataFrame]:
    """A small region around Utrecht with `n_org` named organisations (string tables); guidance
    does not bind, so the round is a quick min-cost flow."""
    rng = np.random.default_rng(seed)
    n_opt, n_c = n_org + 10, 2 * n_org + 30
    sectors = ["hospitality", "textile", "retail"]
    orgs = pd.DataFrame({"organisation_id": [f"G{i}" for i in range(n_org)],
                         "name": [org_name(i) for i in range(n_org)], "kind": "employer",
                         "guidance_capacity": rng.integers(40, 60, n_org)})
    opts = pd.DataFrame({
        "option_id": [f"O{i}" for i in range(n_opt)],
        "organisation_id": [f"G{i % n_org}" for i in range(n_opt)],
        "name": [f"Option {i}" for i in range(n_opt)],
        "kind": "place", "sector": rng.choice(sectors, n_opt), "capacity": rng.integers(1, 4, n_opt),
        "hours_min": rng.choice([4, 8, 16], n_opt), "hours_max": 32,
        "min_dutch_level": rng.choice(["A0", "A2"], n_opt),
        "skills": [f"s{rng.integers(0, 4)}:1" for _ in range(n_opt)],
        "lat": np.round(rng.uniform(52.05, 52.12, n_opt), 4),
        "lon": np.round(rng.uniform(5.05, 5.15, n_opt), 4),
    })
    cands = pd.DataFrame({
        "candidate_id": [f"C{i:03d}" for i in range(n_c)],
        "skills": [f"s{rng.integers(0, 4)}:{rng.integers(1, 4)}" for _ in range(n_c)],
        "sectors": [";".join(rng.choice(sectors, 2, replace=False)) for _ in range(n_c)],
        "hours_available": rng.choice([8, 16, 24], n_c),
        "dutch_level": rng.choice(["A1", "A2", "B1"], n_c),
        "guidance_need": rng.integers(0, 4, n_c),
        "max_travel_km": rng.choice([10, 20], n_c),
        "lat": np.round(rng.uniform(52.05, 52.12, n_c), 4),
        "lon": np.round(rng.uniform(5.05, 5.15, n_c), 4),
    })
    return {"organisations": orgs.astype(str), "options": opts.astype(str),
            "candidates": cands.astype(str)}


#: Scenarios per size: 3 organisations get 2 (all fit), 60 get 7 (more than a plot holds).
SCENARIOS = {3: 2, 60: 7}


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def study(request: pytest.FixtureRequest) -> dict:
    n = request.param
    base = run_baseline(region(n), default_policy(), f"region of {n}")
    done = []
    for k in range(SCENARIOS[n]):
        o = run_scenario(base, Scenario(f"scenario {k}: Option {k} gets 2 more seats",
                                        (f"options.O{k}.capacity=+2",)))
        done.append((o, diff_outcome(base, o)))
    sweep = Sweep("one more seat, each option in turn", "options.*.capacity", ["+1"])
    swept = {sweep.name: [(o, diff_outcome(base, o)) for o in run_sweep(base, sweep)]}
    with language("en"):
        report = build_report(base, done, swept)
        figs = make_figures(base, done, swept, None)
        md = render_markdown(report, {k: f"plots/{k}.png" for k in figs})
    return {"n": n, "report": report, "figures": figs, "md": md, "scenarios": done}


def test_every_report_plot_fits(study: dict) -> None:
    figs = study["figures"]
    assert {"utilisation", "scores"} <= set(figs)
    for name, fig in figs.items():
        assert P.labels_fit(fig) == [], name
        w, h = Image.open(io.BytesIO(P.to_png(fig))).size
        assert w == P.WIDTH_IN * P.DPI, name
        assert 250 <= h <= 1400, (name, h)


def test_bars_carry_names_not_ids(study: dict) -> None:
    for name, fig in study["figures"].items():
        if name == "scores":
            continue
        ticks = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels() if t.get_text()]
        assert ticks, name
        assert all(t.startswith(("Organisation number", "Option ")) for t in ticks), \
            (name, ticks[:3])


def test_the_words_under_a_plot_name_every_scenario_it_leaves_out(study: dict) -> None:
    names = [o.name for o, _d in study["scenarios"]]
    drawn = P.MAX_ROUNDS - 1  # the baseline takes one place
    left_out = names[drawn:]
    util = study["figures"]["utilisation"]
    labels = [t.get_text() for t in util.legends[0].get_texts()] if util.legends else []
    md = study["md"]
    caption = md.split("![Utilisation](plots/utilisation.png)")[1].split("\n## ")[0]
    for n in left_out:
        assert n in caption
        assert P.short(n, 30) not in labels
    for n in names[:drawn]:
        assert n not in caption
        assert P.short(n, 30) in labels
    if study["n"] > P.TOP_N:
        assert f"{P.TOP_N} of the {study['n']} organisations" in caption
    else:
        assert "Not in this plot" not in caption and "organisations:" not in caption
    html = render_html(study["report"], {k: P.to_png(f) for k, f in study["figures"].items()})
    assert html.count("<figcaption>") == len(study["figures"])
