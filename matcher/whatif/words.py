"""The words of the what-if plots and report, in one place, marked for the gettext catalogues
(`matcher.i18n`; translate with ``_()`` where they are used)."""

from __future__ import annotations

from typing import Any

from matcher.i18n import N_, _

#: A note of the engine's (how the estimates were made...), kept as its messages and their
#: values so the report can say it in the reader's language: [[msgid, {name: value}], ...].
Note = list[list[Any]]


def note_text(parts: Note, translate: bool = True) -> str:
    """A note's sentences, translated (the report) or in the code's English (report.json)."""
    return " ".join((_(m) if translate else m).format(**a) for m, a in parts)


# -- the engine's notes (matcher.whatif.marginal, matcher.whatif.decisions) -------------------
NOTE_LP = N_("LP relaxation {lp:.4f} ({status}), the round's answer {answer:.4f}.")
NOTE_NO_LP = N_("No LP ({pairs:,} pairs > {max_pairs:,}): guidance estimated by the solver's "
                "multipliers, seats by the best person waiting.")
NOTE_EVERY = N_("Every option and organisation re-solved ({n} warm re-solves).")
NOTE_PICKED = N_("Re-solved: the top {top} of each by estimate and every other whose estimate's "
                 "upper bound reaches the {top}th ({n} warm re-solves).")
NOTE_LEFT = N_("{left} more could and are left as estimates.")
NOTE_DECISIONS = N_("{n} decisions; priced one by one: the first {max_each} by id.")

AND_MORE = N_(" (and {k} more {what})")
ORGANISATIONS = N_("organisations")
POINTS = N_("points")
ROUNDS = N_("rounds")
RESOLVED = N_("re-solved")
LEFT_OUT = N_("Not shown (see the tables): {names}.")

UTILISATION_TITLE = N_("Use of guidance and seats per organisation")
GUIDANCE_USED_PCT = N_("guidance used (percent of capacity)")
SEATS_USED_PCT = N_("seats used (percent of seats)")

SCORES_TITLE = N_("Scores of the chosen matches")
SCORE_AXIS = N_("score of the chosen match (0 to 1; box: middle half, line: median, "
                "triangle: mean)")
ROUND_PEOPLE = N_("{name} ({n} people)")

SWEEP_TITLE = N_("Sweep: {name}")
SWEPT_VALUE = N_("swept value")
PEOPLE_CHANGE = N_("change in people placed")
OBJECTIVE_CHANGE = N_("change in objective")

GUIDANCE_MARGINAL_TITLE = N_("Where one more guidance unit helps most")
SEAT_MARGINAL_TITLE = N_("Where one more seat helps most")
PEOPLE_PLUS_ONE = N_("people placed by the +1 (re-solved)")
OBJECTIVE_LABEL = N_("objective {o:+.2f}")
GREY_TOLERANCE = N_("Grey bars (*): the change is within the solver's tolerance.")
NOT_RESOLVED_LEFT_OUT = N_("{k} not re-solved (estimates only) are not drawn.")

# -- the words under the plots in the report --------------------------------------------------
UTILISATION_READ = N_("Each bar shows how much of an organisation's job-coach time (left) and "
                      "seats (right) is used, as a percentage. One colour per round.")
SCORES_READ = N_("How well the chosen matches fit, per round: 1 is a perfect fit. The box holds "
                 "the middle half of the people, the line in it is the middle person.")
SWEEP_READ = N_("How many more (or fewer) people get a place at each point of the sweep, "
                "compared with the baseline.")
MARGINAL_READ = N_("How many more people get a place when this one unit is added, found by "
                   "solving the round again with it.")
ROWS_SHOWN = N_("The plot shows {shown} of the {rows} organisations: those whose use changes "
                "most.")
ROUNDS_LEFT_OUT = N_("Not in this plot (at most {max} rounds fit): {names}. Their figures are in "
                     "the overview table.")
