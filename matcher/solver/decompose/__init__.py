"""Solve a large problem by parts (regions or connected components) with a valid global bound.

A *part* owns a set of organisations (a label per organisation: its region, or its connected
component) with all their options, seats and guidance budgets. Candidates near a border have
pairs into several parts. `solve_decomposed` first joins regions into parts of at most
``solver.decompose.part_pairs`` pairs (`merge_labels`: those sharing the most candidates
first), then works in four steps, and a fifth when the policy asks for it:

1. *First pass*: each part with its *home* candidates (those whose highest-weight pair lies in
   it, or whose lock does), solved by the pure function `solve_part` (the usual
   `matcher.solver.solve`). The parts share no candidate, so the union of their answers is
   feasible; a refill over every free pair then lets people take a seat across a border.
2. *Coordination* (``solver.decompose.sweeps`` sweeps): from the parts' guidance multipliers
   ``lam`` (one per organisation) and option prices ``v``, each sweep prices every part's
   options exactly, given what its border candidates are worth in the other parts
   (`price_part`: one min-cost flow per part), and moves each multiplier by the sign of its
   budget's excess. Every sweep gives a valid bound of the whole problem (`dual_bound`); the
   lowest is reported.
   (Optional, ``solver.decompose.auction_iterations``: Lagrangian iterations over the whole
   problem by auctions, for a bound that does not depend on the borders and a repaired answer;
   after this coordination, or with ``solver.decompose.auction_last`` after the last one.)
3. *Border passes* (``solver.decompose.rounds`` - 1 of them): every part with every candidate
   that has a pair into it, each pair's weight lowered by what the candidate is worth outside
   the part at the coordinated prices, so a border candidate goes where it adds most;
   warm-started from the coordinated multipliers and the best assignment so far. A candidate
   chosen in two parts keeps its best pair, then the freed seats are refilled. The better of
   the passes' assignments is the answer. Each pass is followed by a coordination
   (``solver.decompose.pass_sweeps`` sweeps).
4. *Whole-problem class-quota flow* (``solver.decompose.quota_core`` best pairs per person,
   plus the answer; `matcher.solver.quota_flow`): people move across borders in chains while
   every organisation keeps the answer's mix of needs; kept when better.
5. *Slack polish* (``solver.decompose.slack_max_pairs`` > 0; `slack_polish`): CP-SAT windows
   (`matcher.solver.polish`) over the pairs into organisations whose budget the answer leaves
   partly unused, which gather guidance left over in ones and twos into room for more people.
   It only keeps improvements; the bound is unchanged.

Bound. For multipliers ``lam >= 0`` and option prices ``v >= 0``, every feasible assignment is
worth at most

    locked value + sum over free candidates c of max(0, max over c's pairs e of w'(e) - v[opt e])
                 + sum over options o of seats_left[o] * v[o] + sum over g of lam[g] * budget_left[g]

with ``w'(e) = weight - lam[org] * need`` (Lagrangian relaxation of the budgets, then weak LP
duality of the seat and one-option-per-person limits). It is computed over *all* pairs, in
integers, so it is valid whatever the parts were. With the exact prices of the whole problem's
flow at ``lam`` it equals the Lagrangian bound at ``lam`` (`option_prices`); a part's price step
is the exact minimisation over its prices with the other parts' fixed.

Dispatch. The work on a part is a pure function of a small task object (`PartTask` ->
`PartAnswer`, `PriceTask` -> `PriceAnswer`) handed to a ``map``-like callable
(`solve_decomposed(..., mapper=...)`); the default is the built-in sequential ``map``, and a
Ray or Dask map can replace it (tasks, answers and functions are picklable; tasks are generated
lazily, one part's arrays at a time). A mapper that also offers ``submit(fn, task)`` (a
``Future``; `matcher.parallel.ProcessMapper` does) gets step 4's flow (`QuotaTask` -> `quota_part`) as soon
as nothing before step 4 can change its input (after the first pass, or the last border pass,
when the round runs no whole-problem iterations or runs them last), so it runs beside the
coordination and those iterations. Only whole-array NumPy passes over
the full problem (bounds, each candidate's best two parts, the refill) run in the calling
process, in chunks of candidates. Everything is integer arithmetic and counts, never the
clock: the same input gives the same answer and bound.

Modules, one per concern: `parts` (labels per organisation, merging regions, cutting the problem
into parts), `bound` (option prices and the bound), `tasks` (the pure functions a worker runs on
one part), `passes` (steps 1 and 3: every part solved and the answers joined), `coordinate`
(step 2), `whole` (step 2b), and `steps` (`solve_decomposed`: one function per step over a typed
state, `steps.Round` and `steps.State`).
"""


from __future__ import annotations

from matcher.solver.decompose.bound import (
    BestTwo,
    _usable,
    best_two,
    dual_bound,
    option_prices,
    priced_weight,
)
from matcher.solver.decompose.coordinate import Prices, coordinate, sign_step
from matcher.solver.decompose.parts import (
    CHUNK_EDGES,
    Part,
    component_labels,
    first_homes,
    iter_parts,
    layout,
    locked_part,
    merge_labels,
    organisation_regions,
    split,
)
from matcher.solver.decompose.passes import PassAnswer, keep_one_per_candidate, solve_parts
from matcher.solver.decompose.steps import solve_decomposed
from matcher.solver.decompose.tasks import (
    PartAnswer,
    PartTask,
    PriceAnswer,
    PriceTask,
    QuotaTask,
    part_prices,
    price_part,
    process_peak_mb,
    quota_part,
    quota_task,
    solve_part,
)
from matcher.solver.decompose.whole import WholeRun, auction_core, whole_lagrangian

__all__ = [
    "CHUNK_EDGES",
    "BestTwo",
    "Part",
    "PartAnswer",
    "PartTask",
    "PassAnswer",
    "PriceAnswer",
    "PriceTask",
    "Prices",
    "QuotaTask",
    "WholeRun",
    "_usable",
    "auction_core",
    "best_two",
    "component_labels",
    "coordinate",
    "dual_bound",
    "first_homes",
    "iter_parts",
    "keep_one_per_candidate",
    "layout",
    "locked_part",
    "merge_labels",
    "option_prices",
    "organisation_regions",
    "part_prices",
    "price_part",
    "priced_weight",
    "process_peak_mb",
    "quota_part",
    "quota_task",
    "sign_step",
    "solve_decomposed",
    "solve_part",
    "solve_parts",
    "split",
    "whole_lagrangian",
]
