"""The words of the what-if plots and report, in one place, marked for the gettext catalogues
(`matcher.i18n`; translate with ``_()`` where they are used)."""

from __future__ import annotations

from matcher.i18n import N_

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
