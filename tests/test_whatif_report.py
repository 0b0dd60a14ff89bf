"""The what-if report as a planner gets it: its plots drawn from real rounds with 3 and with 60
organisations fit (every label inside the image, nothing overlapping), show names, and the
words under them name every scenario a plot leaves out."""

from __future__ import annotations

import io
import itertools
import re

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
    caption = md.split("(plots/utilisation.png)")[1].split("\n## ")[0]
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


def _tables(md: str) -> list[list[str]]:
    """The header cells of every Markdown table."""
    lines = md.splitlines()
    return [[c.strip() for c in line.strip("|").split("|")]
            for line, nxt in itertools.pairwise(lines) if nxt.startswith("|---")]


def test_report_in_dutch_and_english_with_words_and_intervals(study: dict) -> None:
    """Headers in words (no snake_case), names not ids, rounded figures, rates with their
    interval, a plain paragraph first; the same figures in nl and en."""
    if study["n"] != 3:
        pytest.skip("one size is enough for the words")
    md = {}
    for lang in ("nl", "en"):
        with language(lang):
            md[lang] = render_markdown(study["report"], {k: f"plots/{k}.png"
                                                         for k in study["figures"]})
    assert md["nl"].startswith("# Wat-als-rapport\n\nNu krijgen ")
    assert md["en"].startswith("# What-if report\n\nNow ")
    assert "## Overzicht" in md["nl"] and "## Overview" in md["en"]
    for text in md.values():
        for header in _tables(text):
            assert not any("_" in h for h in header), header
        assert "G0" not in text and "O1 " not in text  # names, not ids
        assert not re.search(r"\d\.\d{3,}", "".join(_table_cells(text)))  # rounded
    assert "mensen geplaatst" in md["nl"] and "people placed" in md["en"]
    digits = [re.sub(r"\D", "", t) for t in md.values()]
    assert digits[0] == digits[1]


def _table_cells(md: str) -> list[str]:
    return [line for line in md.splitlines() if line.startswith("| ")]


def test_group_rates_carry_their_interval_and_small_groups_are_marked() -> None:
    from matcher.whatif.sections import groups

    rows = [{"attribute": "gender", "group": "female", "candidates_before": 4, "placed_before": 4,
             "candidates_after": 4, "placed_after": 0},
            {"attribute": "gender", "group": "male", "candidates_before": 40,
             "placed_before": 20, "candidates_after": 40, "placed_after": 20}]
    with language("en"):
        (_title, _level, table), _words = groups(rows)
    assert table[0]["placed before"] == "100% (51-100%)"  # Wilson, also at n of n
    assert table[0]["placed after"] == "0% (0-49%)"
    assert table[0]["note"].startswith("small group")
    assert table[1]["note"] == ""


def test_cli_report_follows_the_language_and_its_data_files_do_not(tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from matcher.cli import app

    runner = CliRunner()
    out = {}
    for lang in ("nl", "en"):
        out[lang] = tmp_path / lang
        result = runner.invoke(app, ["--lang", lang, "whatif", "--set",
                                     "options.TCK-BEDIENING.min_dutch_level=A0",
                                     "--no-marginal", "--out", str(out[lang])])
        assert result.exit_code == 0, result.output
    assert '<html lang="nl">' in (out["nl"] / "report.html").read_text()
    assert '<html lang="en">' in (out["en"] / "report.html").read_text()
    assert "Wat-als-rapport" in (out["nl"] / "report.md").read_text()
    assert "## Scenario: command line" in (out["en"] / "report.md").read_text()
    csvs = sorted(p.relative_to(out["nl"]) for p in out["nl"].rglob("*.csv"))
    assert csvs and csvs == sorted(p.relative_to(out["en"]) for p in out["en"].rglob("*.csv"))
    for rel in csvs:
        assert (out["nl"] / rel).read_bytes() == (out["en"] / rel).read_bytes(), rel
    reports = [json.loads((out[lang] / "report.json").read_text()) for lang in ("nl", "en")]
    for r in reports:
        r.pop("run")
    assert reports[0] == reports[1]


def test_the_engines_notes_are_said_in_the_readers_language() -> None:
    """The marginal values' note (how the estimates were made) and the decisions' note come
    from the engine as messages and values: the report says them in Dutch or English, and
    report.json keeps the English text beside the parts."""
    from matcher.whatif import marginal_values
    from matcher.whatif.report import report_sections
    from matcher.whatif.sections import decisions

    base = run_baseline(region(3), default_policy(), source="test")
    report = build_report(base, [], {}, marginal_values(base, top=2))
    assert report["marginal"]["note"].startswith("LP relaxation")
    assert report["marginal"]["note_parts"][0][0].startswith("LP relaxation")
    words = {}
    for lang in ("nl", "en"):
        with language(lang):
            words[lang] = " ".join(str(t) for _, _, t in report_sections(report)
                                   if isinstance(t, str))
    assert "LP-relaxatie" in words["nl"] and "warme herberekeningen" in words["nl"]
    assert "LP relaxation" not in words["nl"]
    assert "LP relaxation" in words["en"] and "warm re-solves" in words["en"]
    dd = {"together": {"objective_lost": 1.0, "placements_lost": 0, "unplaced_because": []},
          "unconstrained": {"matched": 3}, "each": [], "note": "60 decisions; ...",
          "note_parts": [["{n} decisions; priced one by one: the first {max_each} by id.",
                          {"n": 60, "max_each": 50}]]}
    with language("nl"):
        text = decisions(dd, str)[0][2]
    assert "60 beslissingen; één voor één geprijsd: de eerste 50 op id." in text
