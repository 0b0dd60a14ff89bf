"""The what-if plots at any size: drawn for 3 and for 60 organisations (and rounds, and sweep
points), each image has a bounded size and every label fits inside it without overlapping."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from matcher.whatif import plots as P

SIZES = (3, 60)


def names(n: int) -> list[str]:
    return [f"Organisation number {k} with a fairly long name, Utrecht" for k in range(n)]


def use_table(n: int, rng: np.random.Generator) -> pd.DataFrame:
    cap = rng.integers(1, 20, n)
    seats = rng.integers(1, 30, n)
    return pd.DataFrame({"organisation": names(n), "guidance_used": rng.integers(0, cap + 1),
                         "guidance_capacity": cap.astype(float),
                         "seats_used": rng.integers(0, seats + 1), "seats": seats})


def marginal_table(n: int, rng: np.random.Generator) -> pd.DataFrame:
    value = np.where(np.arange(n) < max(2, n // 2), "exact", "estimate")
    return pd.DataFrame({"organisation": names(n),
                         "people": pd.array(np.where(value == "exact", rng.integers(0, 3, n), 0),
                                            dtype="Int64"),
                         "objective": np.where(value == "exact", rng.uniform(0, 2, n), np.nan),
                         "value": value,
                         "reading": np.where(rng.random(n) < 0.3, "within the solver's tolerance",
                                             "")})


def figures(n: int) -> dict[str, object]:
    rng = np.random.default_rng(n)
    rounds = [(f"scenario {k}: more coaches", use_table(n, rng)) for k in range(min(n, 8))]
    scores = [(f"scenario {k}", rng.uniform(0, 1, 40)) for k in range(n)]
    people = [int(v) for v in rng.integers(0, 3, n)]
    objective = [float(v) for v in rng.uniform(0, 2, n)]
    return {
        "utilisation": P.utilisation_figure(rounds),
        "scores": P.scores_figure(scores),
        "sweep rows": P.sweep_figure("each organisation +1", names(n), people, objective),
        "sweep numbers": P.sweep_figure("coaches", [f"+{k}" for k in range(n)], people,
                                        objective),
        "marginal": P.marginal_figure(marginal_table(n, rng), "organisation", "one more coach"),
    }


@pytest.mark.parametrize("n", SIZES)
def test_every_plot_fits_at_any_size(n: int) -> None:
    for name, fig in figures(n).items():
        assert P.labels_fit(fig) == [], name  # type: ignore[arg-type]
        png = P.to_png(fig)  # type: ignore[arg-type]
        w, h = Image.open(io.BytesIO(png)).size
        assert w == P.WIDTH_IN * P.DPI, name
        assert 250 <= h <= 1400, (name, h)


def test_large_plots_say_what_they_leave_out() -> None:
    figs = figures(60)
    util = figs["utilisation"]
    assert "and 35 more organisations" in util._suptitle.get_text()  # type: ignore[attr-defined]
    assert "Not shown" in util._suptitle.get_text()  # type: ignore[attr-defined]
    assert "scenario 5" in util._suptitle.get_text()  # type: ignore[attr-defined]
    assert "Not shown" in figs["scores"]._suptitle.get_text()  # type: ignore[attr-defined]
    marg = figs["marginal"]
    assert "and 5 more re-solved" in marg._suptitle.get_text()  # type: ignore[attr-defined]
    assert "30 not re-solved" in marg._suptitle.get_text()  # type: ignore[attr-defined]
    # not re-solved rows are not drawn as zero bars
    bars = [p for p in marg.axes[0].patches]  # type: ignore[attr-defined]
    assert len(bars) == P.TOP_N


def test_small_plots_show_everything() -> None:
    figs = figures(3)
    for fig in figs.values():
        title = fig._suptitle.get_text() if fig._suptitle else ""  # type: ignore[attr-defined]
        assert "more " not in title.replace("one more", "")
    assert len(figs["utilisation"].axes[0].get_yticklabels()) == 3  # type: ignore[attr-defined]
