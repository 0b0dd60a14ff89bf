"""The rate of guaranteed routes per group (a chain round: a programme now and a reserved
follow-on place), beside the placement rates: does every group get the guarantee as often?"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from matcher.audit.metrics import group_rates
from matcher.i18n import _


def route_rates(protected: pd.DataFrame, routed: np.ndarray, placed: np.ndarray
                ) -> dict[str, Any]:
    """Per attribute: each group's people, guaranteed routes and their rate, over everyone and
    over the people placed."""
    from matcher.audit.report import _groups_json  # the same rows as the placement tables

    routed = np.asarray(routed, dtype=bool)
    return {a: {"all": _groups_json(group_rates(protected[a].to_numpy(dtype=object), routed)),
                "among_placed": _groups_json(group_rates(protected[a].to_numpy(dtype=object),
                                                         routed, mask=placed))}
            for a in protected.columns}


def route_markdown(routes: dict[str, Any]) -> list[str]:
    """audit.md's section on guaranteed routes."""
    from matcher.audit import words as W

    out = ["## " + _("Guaranteed routes per group"), "",
           _("The share of each group that got a programme with a guaranteed follow-on place."),
           ""]
    head = [_("group"), _("people"), _("guaranteed routes"), _("rate"), _("95% interval")]
    for attribute, entry in routes.items():
        out += [f"### {W.attribute(attribute)}", "", "| " + " | ".join(head) + " |",
                "|---|---:|---:|---:|---|"]
        out += [f"| {W.group(g['group'])} | {g['size']} | {g['placed']} | {_pct(g['rate'])} | "
                f"{_pct(g['ci'][0])} - {_pct(g['ci'][1])} |" for g in entry["all"]]
        out.append("")
    return out


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.0f}%"
