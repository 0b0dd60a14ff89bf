"""A person's route in an explanation: the programme, its length, the guaranteed place, when
it starts and what the programme does for the person's Dutch (plain data; the words are
:func:`matcher.explain_words.route_line`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from matcher.chain.model import ChainSolution
from matcher.chain.report import next_start
from matcher.levels import CEFR
from matcher.model import Instance


def route_of(inst: Instance, sol: ChainSolution, c: int, date: str | None) -> dict[str, Any] | None:
    """The person's guaranteed route, or None when they have none."""
    r = sol.routes
    hit = np.flatnonzero(sol.chosen_routes & (r.cand == c))
    if not len(hit):
        return None
    i = int(hit[0])
    opts = inst.options
    p, q = int(r.prog[i]), int(r.place[i])
    weeks = int(opts["duration_weeks"].iat[p]) if "duration_weeks" in opts else 0
    orgs = inst.organisations.set_index("organisation_id")["name"]

    def name(o: int) -> str:
        n = str(opts["name"].iat[o]) if "name" in opts else ""
        return n or str(opts["option_id"].iat[o])

    return {"programme": name(p), "programme_id": str(opts["option_id"].iat[p]),
            "weeks": weeks, "place": name(q), "place_id": str(opts["option_id"].iat[q]),
            "organisation": str(orgs.get(opts["organisation_id"].iat[q], "")),
            "start": str(next_start(inst, np.array([p]), date)[0]),
            "dutch_level": str(inst.candidates["dutch_level"].iat[c]),
            "exit_level": CEFR[int(r.exit_level[i])],
            "place_asks": str(opts["min_dutch_level"].iat[q])}
