"""The participation chain: routes from a programme to a guaranteed follow-on place, Dutch that
grows on the way (``language_gain``), weekly hours shared by part-timers (``capacity_hours``) and
minimum cohorts (``min_participants``).

- :mod:`matcher.chain.data`: the optional columns of options.csv, routes.csv and the
  ``next_option_id`` of decisions.csv, parsed and validated (every problem named by file, row
  and column), and the per-option arrays the model reads;
- :mod:`matcher.chain.model`: the exact chain model (SciPy's ``milp``, i.e. HiGHS) over pairs and
  route edges.

A data folder without any of these inputs never reaches the chain model: its round is solved,
and written, exactly as before.
"""
